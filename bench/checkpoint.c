/* Hugging Face checkpoint directories: safetensors shards -> weight table.
 * Tensor names are those transformers writes for ZambaForCausalLM,
 * LlamaForCausalLM and MistralForCausalLM. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model.h"
#include "shard_index.h"
#include "zb_util.h"

static const char *attn_suffix(zb_role r, int zamba)
{
    switch (r) {
    case ZB_W_ATTN_NORM: return "input_layernorm.weight";
    case ZB_W_Q: return "self_attn.q_proj.weight";
    case ZB_W_K: return "self_attn.k_proj.weight";
    case ZB_W_V: return "self_attn.v_proj.weight";
    case ZB_W_O: return "self_attn.o_proj.weight";
    case ZB_W_Q_BIAS: return "self_attn.q_proj.bias";
    case ZB_W_K_BIAS: return "self_attn.k_proj.bias";
    case ZB_W_V_BIAS: return "self_attn.v_proj.bias";
    case ZB_W_O_BIAS: return "self_attn.o_proj.bias";
    case ZB_W_FFN_NORM: return zamba ? "pre_ff_layernorm.weight" : "post_attention_layernorm.weight";
    case ZB_W_GATE: return zamba ? "feed_forward.gate_proj.weight" : "mlp.gate_proj.weight";
    case ZB_W_UP: return zamba ? "feed_forward.up_proj.weight" : "mlp.up_proj.weight";
    case ZB_W_DOWN: return zamba ? "feed_forward.down_proj.weight" : "mlp.down_proj.weight";
    case ZB_W_GATE_BIAS: return "mlp.gate_proj.bias";
    case ZB_W_UP_BIAS: return "mlp.up_proj.bias";
    case ZB_W_DOWN_BIAS: return "mlp.down_proj.bias";
    default: return NULL;
    }
}

static const char *mamba_suffix(zb_role r)
{
    switch (r) {
    case ZB_W_MAMBA_NORM: return "input_layernorm.weight";
    case ZB_W_IN_PROJ: return "mamba.in_proj.weight";
    case ZB_W_IN_PROJ_BIAS: return "mamba.in_proj.bias";
    case ZB_W_CONV_W: return "mamba.conv1d.weight";
    case ZB_W_CONV_B: return "mamba.conv1d.bias";
    case ZB_W_X_PROJ: return "mamba.x_proj_weight";
    case ZB_W_DT_PROJ: return "mamba.dt_proj_weight";
    case ZB_W_DT_BIAS: return "mamba.dt_proj_bias";
    case ZB_W_A_LOG: return "mamba.A_log";
    case ZB_W_D: return "mamba.D";
    case ZB_W_OUT_PROJ: return "mamba.out_proj.weight";
    case ZB_W_OUT_PROJ_BIAS: return "mamba.out_proj.bias";
    default: return NULL;
    }
}

/* The checkpoint name of a spec; for zamba's shared block, the copy stored
 * at hybrid layer `at` (transformers saves it once, at the first). */
static int hf_name(const zb_model_desc *d, const zb_weight_spec *s, int at, char *buf, size_t n)
{
    const int zamba = d->layout == ZB_LAYOUT_ZAMBA;
    switch (s->role) {
    case ZB_W_EMBED: return snprintf(buf, n, "model.embed_tokens.weight") > 0;
    case ZB_W_LM_HEAD: return snprintf(buf, n, "lm_head.weight") > 0;
    case ZB_W_FINAL_NORM: return snprintf(buf, n, zamba ? "model.final_layernorm.weight" : "model.norm.weight") > 0;
    case ZB_W_HYBRID_LINEAR: return snprintf(buf, n, "model.layers.%d.linear.weight", s->layer) > 0;
    default: break;
    }
    if (mamba_suffix(s->role)) {
        const char *mid = d->layer_kind[s->layer] == ZB_LAYER_HYBRID ? "mamba_decoder." : "";
        return snprintf(buf, n, "model.layers.%d.%s%s", s->layer, mid, mamba_suffix(s->role)) > 0;
    }
    if (zamba) return snprintf(buf, n, "model.layers.%d.shared_transf.%s", at, attn_suffix(s->role, 1)) > 0;
    return snprintf(buf, n, "model.layers.%d.%s", s->layer, attn_suffix(s->role, 0)) > 0;
}

/* The shape stored on disk: conv1d keeps PyTorch's [d_inner][1][d_conv]. */
static void disk_shape(const zb_weight_spec *s, int *ndim, int64_t *shape)
{
    if (s->role == ZB_W_CONV_W) {
        *ndim = 3;
        shape[0] = s->shape[0], shape[1] = 1, shape[2] = s->shape[1];
        return;
    }
    *ndim = s->ndim;
    for (int i = 0; i < s->ndim; i++) shape[i] = s->shape[i];
}

static void shape_str(char *buf, size_t n, int ndim, const int64_t *shape)
{
    size_t at = 0;
    at += (size_t)snprintf(buf + at, n - at, "[");
    for (int i = 0; i < ndim && at < n; i++)
        at += (size_t)snprintf(buf + at, n - at, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (at < n) snprintf(buf + at, n - at, "]");
}

/* Opens the shards: model.safetensors, or those model.safetensors.index.json lists. */
static zb_status open_shards(zb_model *m, const char *dir, zb_error *err)
{
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (stat(path, &st) == 0) {
        m->files = calloc(1, sizeof *m->files);
        if (!m->files) return zb_fail(err, ZB_ERR_OOM, "out of memory");
        zb_status s = st_open(&m->files[0], path, err);
        if (s == ZB_OK) m->n_files = 1;
        return s;
    }
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    char *text;
    size_t len;
    if (stat(path, &st) != 0)
        return zb_fail(err, ZB_ERR_INVALID, "%s: neither model.safetensors nor model.safetensors.index.json", dir);
    zb_status s = zb_read_file(path, ZB_INDEX_MAX_BYTES, &text, &len, err);
    if (s != ZB_OK) return s;
    zb_shard_index ix;
    s = zb_shard_index_parse(text, len, path, &ix, err);
    free(text);
    if (s != ZB_OK) return s;
    m->files = calloc((size_t)ix.n_shards, sizeof *m->files);
    if (!m->files) s = zb_fail(err, ZB_ERR_OOM, "out of memory");
    for (int i = 0; i < ix.n_shards && s == ZB_OK; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, ix.shards[i]);
        s = st_open(&m->files[i], path, err);
        if (s == ZB_OK) m->n_files++;
    }
    /* every tensor the index names must be where it says */
    for (int i = 0; i < ix.n_entries && s == ZB_OK; i++) {
        const zb_shard_entry *e = &ix.entries[i];
        if (!st_find(&m->files[e->shard], e->tensor))
            s = zb_fail(err, ZB_ERR_INVALID, "%s: index places '%.80s' in %s, which lacks it", dir, e->tensor,
                        ix.shards[e->shard]);
    }
    zb_shard_index_free(&ix);
    return s;
}

static const st_tensor *find_any(const zb_model *m, const char *name, const st_file **file)
{
    for (int i = 0; i < m->n_files; i++) {
        const st_tensor *t = st_find(&m->files[i], name);
        if (t) {
            *file = &m->files[i];
            return t;
        }
    }
    return NULL;
}

static zb_status bind_one(zb_model *m, const zb_weight_spec *s, zb_tensor *out, zb_error *err)
{
    const zb_model_desc *d = &m->desc;
    char name[192] = "";
    const st_tensor *t = NULL;
    const st_file *file = NULL;
    if (d->layout == ZB_LAYOUT_ZAMBA && s->layer == ZB_LAYER_NONE && attn_suffix(s->role, 1)) {
        /* the shared block: the first hybrid layer that carries it */
        for (int i = 0; i < d->n_layers && !t; i++)
            if (d->layer_kind[i] == ZB_LAYER_HYBRID) {
                hf_name(d, s, i, name, sizeof name);
                t = find_any(m, name, &file);
            }
        if (!t) snprintf(name, sizeof name, "model.layers.*.shared_transf.%s", attn_suffix(s->role, 1));
    } else {
        hf_name(d, s, 0, name, sizeof name);
        t = find_any(m, name, &file);
    }
    if (!t) return zb_fail(err, ZB_ERR_INVALID, "%s: missing tensor '%s'", m->source, name);
    int ndim;
    int64_t shape[4];
    disk_shape(s, &ndim, shape);
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same) {
        char want[96], got[96];
        shape_str(want, sizeof want, ndim, shape);
        shape_str(got, sizeof got, t->ndim, t->shape);
        return zb_fail(err, ZB_ERR_INVALID, "%s: tensor '%s' has shape %s, the config implies %s", file->path, name, got,
                       want);
    }
    zb_dtype dt;
    if (!st_to_zb_dtype(t->dtype, &dt) || dt == ZB_DTYPE_I32)
        return zb_fail(err, ZB_ERR_INVALID, "%s: tensor '%s' has dtype %s; zbench reads F32, F16 and BF16",
                       file->path, name, st_dtype_name(t->dtype));
    memset(out, 0, sizeof *out);
    out->layer = s->layer;
    out->role = s->role;
    out->dtype = dt;
    out->ndim = s->ndim;
    memcpy(out->shape, s->shape, sizeof out->shape);
    out->data = t->data;
    const size_t esz = zb_dtype_size(dt);
    if ((uintptr_t)t->data % esz != 0) {
        /* the ABI promises element alignment: copy the rare unaligned tensor */
        void *copy = aligned_alloc(16, ((t->end - t->begin) + 15) / 16 * 16);
        void **grown = realloc(m->copies, sizeof *m->copies * (size_t)(m->n_copies + 1));
        if (!copy || !grown) {
            free(copy);
            if (grown) m->copies = grown;
            return zb_fail(err, ZB_ERR_OOM, "out of memory copying '%s'", name);
        }
        m->copies = grown;
        memcpy(copy, t->data, t->end - t->begin);
        m->copies[m->n_copies++] = copy;
        out->data = copy;
    }
    return ZB_OK;
}

zb_status zb_checkpoint_bind(zb_model *m, const char *dir, zb_error *err)
{
    zb_status s = open_shards(m, dir, err);
    if (s != ZB_OK) return s;
    int n = zb_weight_specs(&m->desc, NULL, 0);
    zb_weight_spec *specs = malloc(sizeof *specs * (size_t)n);
    m->tensors = calloc((size_t)n, sizeof *m->tensors);
    if (!specs || !m->tensors) {
        free(specs);
        return zb_fail(err, ZB_ERR_OOM, "out of memory for %d tensors", n);
    }
    zb_weight_specs(&m->desc, specs, n);
    for (int i = 0; i < n && s == ZB_OK; i++) {
        s = bind_one(m, &specs[i], &m->tensors[i], err);
        if (s == ZB_OK) m->n_tensors++;
    }
    free(specs);
    return s;
}
