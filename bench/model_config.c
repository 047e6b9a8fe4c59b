/* config.json -> zb_model_desc, for Zamba, Llama and Mistral checkpoints
 * written by transformers 4.x or 5.x. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "zb_util.h"

#define CONFIG_MAX_BYTES (4u << 20)

typedef struct cfg {
    const cJSON *root;
    const char *label;
    zb_error *err;
    int failed;
} cfg;

static const cJSON *item(const cfg *c, const char *key)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(c->root, key);
    return cJSON_IsNull(j) ? NULL : j;
}

/* Integer field in [lo, hi]; absent -> dflt, or an error when dflt < lo. */
static int get_int(cfg *c, const char *key, int dflt, int lo, int hi)
{
    if (c->failed) return dflt;
    const cJSON *j = item(c, key);
    if (!j) {
        if (dflt < lo) {
            zb_fail(c->err, ZB_ERR_INVALID, "%s: missing field '%s'", c->label, key);
            c->failed = 1;
        }
        return dflt;
    }
    double v = cJSON_IsNumber(j) ? j->valuedouble : NAN;
    if (!(v >= lo && v <= hi) || v != floor(v)) {
        zb_fail(c->err, ZB_ERR_INVALID, "%s: field '%s' must be an integer in [%d, %d]", c->label, key, lo, hi);
        c->failed = 1;
        return dflt;
    }
    return (int)v;
}

static double get_num(cfg *c, const cJSON *j, const char *key, double dflt, double lo, double hi)
{
    if (c->failed || !j) return dflt;
    double v = cJSON_IsNumber(j) ? j->valuedouble : NAN;
    if (!(v >= lo && v <= hi)) {
        zb_fail(c->err, ZB_ERR_INVALID, "%s: field '%s' must be a number in [%g, %g]", c->label, key, lo, hi);
        c->failed = 1;
        return dflt;
    }
    return v;
}

static int get_bool(cfg *c, const char *key, int dflt)
{
    if (c->failed) return dflt;
    const cJSON *j = item(c, key);
    if (!j) return dflt;
    if (!cJSON_IsBool(j)) {
        zb_fail(c->err, ZB_ERR_INVALID, "%s: field '%s' must be true or false", c->label, key);
        c->failed = 1;
        return dflt;
    }
    return cJSON_IsTrue(j);
}

static zb_act get_act(cfg *c, const char *key, zb_act dflt)
{
    if (c->failed) return dflt;
    const cJSON *j = item(c, key);
    if (!j) return dflt;
    const char *s = cJSON_IsString(j) ? j->valuestring : "";
    if (!strcmp(s, "silu") || !strcmp(s, "swish")) return ZB_ACT_SILU;
    if (!strcmp(s, "gelu")) return ZB_ACT_GELU;
    if (!strcmp(s, "gelu_new") || !strcmp(s, "gelu_pytorch_tanh") || !strcmp(s, "gelu_fast"))
        return ZB_ACT_GELU_TANH;
    if (!strcmp(s, "relu")) return ZB_ACT_RELU;
    zb_fail(c->err, ZB_ERR_INVALID, "%s: field '%s': unsupported activation '%.40s'", c->label, key, s);
    c->failed = 1;
    return dflt;
}

static zb_dtype get_dtype(cfg *c)
{
    /* transformers 5 writes "dtype", 4.x "torch_dtype" */
    const cJSON *j = item(c, "dtype");
    if (!j) j = item(c, "torch_dtype");
    if (!j || c->failed) return ZB_DTYPE_F32;
    const char *s = cJSON_IsString(j) ? j->valuestring : "";
    if (!strcmp(s, "float32")) return ZB_DTYPE_F32;
    if (!strcmp(s, "bfloat16")) return ZB_DTYPE_BF16;
    if (!strcmp(s, "float16")) return ZB_DTYPE_F16;
    zb_fail(c->err, ZB_ERR_INVALID, "%s: field 'dtype': unsupported '%.40s' (float32, bfloat16, float16)", c->label, s);
    c->failed = 1;
    return ZB_DTYPE_F32;
}

static void parse_zamba(cfg *c, zb_model_desc *d)
{
    d->layout = ZB_LAYOUT_ZAMBA;
    d->hidden_size = get_int(c, "hidden_size", -1, 1, 1 << 16);
    d->n_layers = get_int(c, "num_hidden_layers", -1, 1, ZB_MAX_LAYERS);
    d->intermediate_size = get_int(c, "intermediate_size", -1, 1, 1 << 20);
    d->n_heads = get_int(c, "num_attention_heads", -1, 1, 4096);
    d->n_kv_heads = get_int(c, "num_key_value_heads", d->n_heads, 1, 4096);
    d->attn_in = get_int(c, "attention_hidden_size", 2 * d->hidden_size, 1, 1 << 17);
    d->head_dim = get_int(c, "attention_head_dim", d->n_heads > 0 ? 2 * d->hidden_size / d->n_heads : 0, 1, 1 << 16);
    d->tie_embeddings = get_bool(c, "tie_word_embeddings", 1);
    d->mlp_act = get_act(c, "hidden_act", ZB_ACT_GELU);
    d->mamba_act = get_act(c, "hidden_mamba_act", ZB_ACT_SILU);
    int expand = get_int(c, "mamba_expand", 2, 1, 64);
    d->d_inner = expand * d->hidden_size;
    d->d_state = get_int(c, "mamba_d_state", 16, 1, 1024);
    d->d_conv = get_int(c, "mamba_d_conv", 4, 1, 64);
    d->n_mamba_heads = get_int(c, "n_mamba_heads", 1, 1, 4096);
    const cJSON *r = item(c, "mamba_dt_rank");
    if (r && cJSON_IsString(r) && !strcmp(r->valuestring, "auto")) d->dt_rank = (d->hidden_size + 15) / 16;
    else d->dt_rank = get_int(c, "mamba_dt_rank", (d->hidden_size + 15) / 16, 1, 1 << 16);
    d->conv_bias = get_bool(c, "mamba_conv_bias", 1);
    d->proj_bias = get_bool(c, "mamba_proj_bias", 0);
    /* the shared block's scores are scaled by 1/sqrt(head_dim / 2) */
    if (d->head_dim > 0) d->attn_scale = (float)(1.0 / sqrt(d->head_dim / 2.0));
    if (c->failed) return;

    const cJSON *types = item(c, "layers_block_type");
    if (!types) {
        int period = get_int(c, "attn_layer_period", 6, 1, 1 << 16);
        int offset = get_int(c, "attn_layer_offset", 4, 0, 1 << 16);
        zb_zamba_schedule(d->n_layers, period, offset, d->layer_kind);
        return;
    }
    if (!cJSON_IsArray(types) || cJSON_GetArraySize(types) != d->n_layers) {
        zb_fail(c->err, ZB_ERR_INVALID, "%s: field 'layers_block_type' must list %d layer types", c->label,
                d->n_layers);
        c->failed = 1;
        return;
    }
    for (int i = 0; i < d->n_layers; i++) {
        const cJSON *t = cJSON_GetArrayItem(types, i);
        const char *s = cJSON_IsString(t) ? t->valuestring : "";
        /* transformers 5 names Mamba layers "linear_attention" */
        if (!strcmp(s, "mamba") || !strcmp(s, "linear_attention")) d->layer_kind[i] = ZB_LAYER_MAMBA;
        else if (!strcmp(s, "hybrid") || !strcmp(s, "attention+mamba")) d->layer_kind[i] = ZB_LAYER_HYBRID;
        else {
            zb_fail(c->err, ZB_ERR_INVALID, "%s: layers_block_type[%d]: unknown type '%.40s'", c->label, i, s);
            c->failed = 1;
            return;
        }
    }
}

static void parse_transformer(cfg *c, zb_model_desc *d, int mistral)
{
    d->layout = ZB_LAYOUT_TRANSFORMER;
    d->hidden_size = get_int(c, "hidden_size", -1, 1, 1 << 16);
    d->n_layers = get_int(c, "num_hidden_layers", -1, 1, ZB_MAX_LAYERS);
    d->intermediate_size = get_int(c, "intermediate_size", -1, 1, 1 << 20);
    d->n_heads = get_int(c, "num_attention_heads", -1, 1, 4096);
    d->n_kv_heads = get_int(c, "num_key_value_heads", d->n_heads, 1, 4096);
    d->head_dim = get_int(c, "head_dim", d->n_heads > 0 ? d->hidden_size / d->n_heads : 0, 1, 1 << 16);
    d->attn_in = d->hidden_size;
    d->tie_embeddings = get_bool(c, "tie_word_embeddings", 0);
    d->mlp_act = get_act(c, "hidden_act", ZB_ACT_SILU);
    d->attn_bias = get_bool(c, "attention_bias", 0);
    d->mlp_bias = get_bool(c, "mlp_bias", 0);
    d->rope = 1;
    /* rope_theta sits at top level (4.x) or under rope_parameters (5.x) */
    const cJSON *rp = item(c, "rope_parameters");
    if (!rp) rp = item(c, "rope_scaling");
    const cJSON *theta = item(c, "rope_theta");
    if (rp && cJSON_IsObject(rp)) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(rp, "rope_type");
        if (!t) t = cJSON_GetObjectItemCaseSensitive(rp, "type");
        if (t && !(cJSON_IsString(t) && !strcmp(t->valuestring, "default"))) {
            zb_fail(c->err, ZB_ERR_INVALID, "%s: rope_type '%.40s' is not supported (only 'default')", c->label,
                    cJSON_IsString(t) ? t->valuestring : "?");
            c->failed = 1;
            return;
        }
        if (!theta) theta = cJSON_GetObjectItemCaseSensitive(rp, "rope_theta");
    }
    d->rope_theta = (float)get_num(c, theta, "rope_theta", 10000.0, 1.0, 1e12);
    /* MistralConfig defaults to a 4096-token window; an explicit null means none */
    const cJSON *sw = cJSON_GetObjectItemCaseSensitive(c->root, "sliding_window");
    d->sliding_window = !mistral || cJSON_IsNull(sw) ? 0 : get_int(c, "sliding_window", 4096, 0, 1 << 30);
    for (int i = 0; i < d->n_layers && i < ZB_MAX_LAYERS; i++) d->layer_kind[i] = ZB_LAYER_ATTENTION;
    if (d->head_dim > 0) d->attn_scale = (float)(1.0 / sqrt((double)d->head_dim));
}

zb_status zb_desc_from_json(const char *json, size_t len, const char *label, zb_model_desc *d, zb_error *err)
{
    memset(d, 0, sizeof *d);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) return zb_fail(err, ZB_ERR_INVALID, "%s: not valid JSON", label);
    /* one JSON document: only white space may follow it */
    for (const char *p = end; p && p < json + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            cJSON_Delete(root);
            return zb_fail(err, ZB_ERR_INVALID, "%s: bytes after the JSON object", label);
        }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return zb_fail(err, ZB_ERR_INVALID, "%s: not a JSON object", label);
    }
    cfg c = {root, label, err, 0};
    const cJSON *mt = item(&c, "model_type");
    const char *type = cJSON_IsString(mt) ? mt->valuestring : NULL;
    if (!type) {
        cJSON_Delete(root);
        return zb_fail(err, ZB_ERR_INVALID, "%s: missing field 'model_type'", label);
    }
    if (!strcmp(type, "zamba")) parse_zamba(&c, d);
    else if (!strcmp(type, "llama")) parse_transformer(&c, d, 0);
    else if (!strcmp(type, "mistral")) parse_transformer(&c, d, 1);
    else {
        zb_fail(err, ZB_ERR_INVALID, "%s: unknown model_type '%.40s' (zbench runs zamba, llama, mistral)", label, type);
        c.failed = 1;
    }
    d->vocab_size = get_int(&c, "vocab_size", -1, 1, 1 << 24);
    d->norm_eps = (float)get_num(&c, item(&c, "rms_norm_eps"), "rms_norm_eps", 1e-6, 0.0, 1.0);
    d->max_positions = get_int(&c, "max_position_embeddings", 4096, 1, 1 << 30);
    d->weight_dtype = get_dtype(&c);
    cJSON_Delete(root);
    if (c.failed) return ZB_ERR_INVALID;
    return zb_desc_validate(d, label, err);
}

zb_status zb_desc_from_config(const char *path, zb_model_desc *d, zb_error *err)
{
    char *text;
    size_t len;
    zb_status s = zb_read_file(path, CONFIG_MAX_BYTES, &text, &len, err);
    if (s != ZB_OK) return s;
    s = zb_desc_from_json(text, len, path, d, err);
    free(text);
    return s;
}

void zb_zamba_schedule(int n_layers, int period, int offset, uint8_t *kinds)
{
    for (int i = 0; i < n_layers && i < ZB_MAX_LAYERS; i++) {
        int hybrid = i == 2 || (i >= 3 && (i - 3) % period == offset);
        kinds[i] = hybrid ? ZB_LAYER_HYBRID : ZB_LAYER_MAMBA;
    }
}

zb_status zb_desc_validate(const zb_model_desc *d, const char *label, zb_error *err)
{
    if (d->n_layers < 1 || d->n_layers > ZB_MAX_LAYERS)
        return zb_fail(err, ZB_ERR_INVALID, "%s: %d layers, zbench supports 1 to %d", label, d->n_layers,
                       ZB_MAX_LAYERS);
    if (d->n_kv_heads < 1 || d->n_heads % d->n_kv_heads != 0)
        return zb_fail(err, ZB_ERR_INVALID, "%s: num_attention_heads %d is not a multiple of num_key_value_heads %d",
                       label, d->n_heads, d->n_kv_heads);
    if (d->head_dim < 2 || d->head_dim % 2 != 0)
        return zb_fail(err, ZB_ERR_INVALID, "%s: head dimension %d must be even and at least 2", label, d->head_dim);
    /* keep every tensor's element count well inside 64 bits and int32 rows */
    if ((int64_t)d->n_heads * d->head_dim > (1 << 20) || (int64_t)d->vocab_size * d->hidden_size > ((int64_t)1 << 36))
        return zb_fail(err, ZB_ERR_INVALID, "%s: attention or vocabulary sizes are absurdly large", label);
    if (d->layout == ZB_LAYOUT_ZAMBA) {
        if (d->attn_in != 2 * d->hidden_size)
            return zb_fail(err, ZB_ERR_INVALID,
                           "%s: attention_hidden_size %d must be 2 x hidden_size (%d): the shared block reads "
                           "concat(hidden, embeddings)",
                           label, d->attn_in, 2 * d->hidden_size);
        if (d->n_mamba_heads < 1 || d->d_inner % d->n_mamba_heads != 0)
            return zb_fail(err, ZB_ERR_INVALID, "%s: mamba inner size %d is not divisible by n_mamba_heads %d", label,
                           d->d_inner, d->n_mamba_heads);
        if (d->d_inner > (1 << 20) || d->d_state > 1024 || d->dt_rank > d->d_inner)
            return zb_fail(err, ZB_ERR_INVALID, "%s: mamba sizes out of range (d_inner %d, d_state %d, dt_rank %d)",
                           label, d->d_inner, d->d_state, d->dt_rank);
        for (int i = 0; i < d->n_layers; i++)
            if (d->layer_kind[i] != ZB_LAYER_MAMBA && d->layer_kind[i] != ZB_LAYER_HYBRID)
                return zb_fail(err, ZB_ERR_INVALID, "%s: layer %d has no valid zamba type", label, i);
    } else {
        for (int i = 0; i < d->n_layers; i++)
            if (d->layer_kind[i] != ZB_LAYER_ATTENTION)
                return zb_fail(err, ZB_ERR_INVALID, "%s: layer %d has no valid transformer type", label, i);
        if (d->attn_in != d->hidden_size)
            return zb_fail(err, ZB_ERR_INVALID, "%s: attention input %d differs from hidden_size %d", label,
                           d->attn_in, d->hidden_size);
    }
    return ZB_OK;
}
