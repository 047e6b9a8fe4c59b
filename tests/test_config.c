/*
 * config.json -> zb_model_desc (zb_desc_from_json / zb_desc_from_config) and
 * the Zamba layer schedule. Variants are made by editing a fixture's config
 * with cJSON, so each test changes exactly one thing from a known-good file.
 */
#include "test_util.h"

#include <cjson/cJSON.h>

#include "model.h"

/* ----------------------------------------------------------- helpers */

static cJSON *load_config_json(const char *fixture)
{
    char path[PATH_MAX];
    tu_fixture(path, sizeof path, fixture, "config.json");
    char *text = tu_read_file(path, NULL);
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root) fail_msg("%s is not JSON", path);
    return root;
}

/* Sets root[key] (or root[parent][key] for "parent.key") to the JSON text
 * `value`, or deletes it when value is NULL. */
static void edit(cJSON *root, const char *key, const char *value)
{
    char parent[64] = "";
    const char *dot = strchr(key, '.');
    cJSON *obj = root;
    if (dot) {
        snprintf(parent, sizeof parent, "%.*s", (int)(dot - key), key);
        obj = cJSON_GetObjectItemCaseSensitive(root, parent);
        assert_true(cJSON_IsObject(obj));
        key = dot + 1;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    if (!value) return;
    cJSON *v = cJSON_Parse(value);
    if (!v) fail_msg("bad test value %s", value);
    cJSON_AddItemToObject(obj, key, v);
}

static zb_status parse_root(const cJSON *root, zb_model_desc *d, zb_error *err)
{
    char *text = cJSON_PrintUnformatted(root);
    assert_non_null(text);
    memset(err, 0, sizeof *err);
    zb_status s = zb_desc_from_json(text, strlen(text), "edited/config.json", d, err);
    free(text);
    return s;
}

/* A fixture's config with up to two edits applied; returns the status. */
static zb_status parse_edited(const char *fixture, const char *k1, const char *v1, const char *k2, const char *v2,
                              zb_model_desc *d, zb_error *err)
{
    cJSON *root = load_config_json(fixture);
    if (k1) edit(root, k1, v1);
    if (k2) edit(root, k2, v2);
    zb_status s = parse_root(root, d, err);
    cJSON_Delete(root);
    return s;
}

static void expect_ok(const char *fixture, const char *k1, const char *v1, const char *k2, const char *v2,
                      zb_model_desc *d)
{
    zb_error err;
    if (parse_edited(fixture, k1, v1, k2, v2, d, &err) != ZB_OK)
        fail_msg("%s with %s=%s: %s", fixture, k1 ? k1 : "-", v1 ? v1 : "(deleted)", err.msg);
}

/* Expects refusal with a one-line message naming the label and `frag`. */
static void expect_refused(const char *fixture, const char *k1, const char *v1, const char *k2, const char *v2,
                           const char *frag)
{
    zb_model_desc d;
    zb_error err;
    zb_status s = parse_edited(fixture, k1, v1, k2, v2, &d, &err);
    if (s == ZB_OK) fail_msg("%s with %s=%s accepted", fixture, k1, v1 ? v1 : "(deleted)");
    assert_int_equal(s, ZB_ERR_INVALID);
    TU_ASSERT_CONTAINS(err.msg, "edited/config.json");
    TU_ASSERT_CONTAINS(err.msg, frag);
    assert_null(strchr(err.msg, '\n'));
}

static void load_fixture_desc(const char *fixture, zb_model_desc *d)
{
    char path[PATH_MAX];
    tu_fixture(path, sizeof path, fixture, "config.json");
    zb_error err = {{0}};
    if (zb_desc_from_config(path, d, &err) != ZB_OK) fail_msg("%s", err.msg);
}

/* Checks d->layer_kind against a list of hybrid layer indices. */
static void assert_hybrids(const uint8_t *kinds, int n_layers, const int *hybrid, int n_hybrid)
{
    int next = 0;
    for (int i = 0; i < n_layers; i++) {
        int want = next < n_hybrid && hybrid[next] == i ? ZB_LAYER_HYBRID : ZB_LAYER_MAMBA;
        if (want == ZB_LAYER_HYBRID) next++;
        if (kinds[i] != want) fail_msg("layer %d: kind %d, expected %d", i, kinds[i], want);
    }
    assert_int_equal(next, n_hybrid);
}

/* ------------------------------------------------------------ fixtures */

static void test_zamba_f32_fixture(void **state)
{
    (void)state;
    zb_model_desc d;
    load_fixture_desc("zamba-tiny-f32", &d);
    assert_int_equal(d.layout, ZB_LAYOUT_ZAMBA);
    assert_int_equal(d.vocab_size, 256);
    assert_int_equal(d.hidden_size, 64);
    assert_int_equal(d.n_layers, 9);
    assert_int_equal(d.intermediate_size, 256);
    assert_int_equal(d.n_heads, 4);
    assert_int_equal(d.n_kv_heads, 4);
    assert_int_equal(d.head_dim, 32);
    assert_int_equal(d.attn_in, 128);
    /* Zamba scales by 1/sqrt(head_dim / 2), not 1/sqrt(head_dim) */
    TU_ASSERT_NEAR(d.attn_scale, 1.0 / sqrt(16.0), 1e-7);
    assert_int_equal(d.tie_embeddings, 1);
    assert_int_equal(d.mlp_act, ZB_ACT_GELU);
    assert_int_equal(d.mamba_act, ZB_ACT_SILU);
    assert_int_equal(d.d_inner, 128);
    assert_int_equal(d.d_state, 16);
    assert_int_equal(d.d_conv, 4);
    assert_int_equal(d.dt_rank, 8);
    assert_int_equal(d.n_mamba_heads, 2);
    assert_int_equal(d.conv_bias, 1);
    assert_int_equal(d.proj_bias, 0);
    assert_int_equal(d.rope, 0);
    assert_int_equal(d.sliding_window, 0);
    TU_ASSERT_NEAR(d.norm_eps, 1e-5, 1e-12);
    assert_int_equal(d.max_positions, 4096);
    assert_int_equal(d.weight_dtype, ZB_DTYPE_F32);
    const int hybrid[] = {2, 7};
    assert_hybrids(d.layer_kind, d.n_layers, hybrid, 2);
}

static void test_zamba_bf16_fixture(void **state)
{
    (void)state;
    zb_model_desc d;
    load_fixture_desc("zamba-tiny-bf16", &d);
    assert_int_equal(d.layout, ZB_LAYOUT_ZAMBA);
    assert_int_equal(d.hidden_size, 96);
    assert_int_equal(d.n_layers, 14);
    assert_int_equal(d.intermediate_size, 384);
    assert_int_equal(d.head_dim, 48);
    assert_int_equal(d.attn_in, 192);
    TU_ASSERT_NEAR(d.attn_scale, 1.0 / sqrt(24.0), 1e-7);
    assert_int_equal(d.d_inner, 192);
    assert_int_equal(d.dt_rank, 6);
    assert_int_equal(d.weight_dtype, ZB_DTYPE_BF16);
    const int hybrid[] = {2, 7, 13};
    assert_hybrids(d.layer_kind, d.n_layers, hybrid, 3);
}

static void check_transformer_common(const zb_model_desc *d)
{
    assert_int_equal(d->layout, ZB_LAYOUT_TRANSFORMER);
    assert_int_equal(d->vocab_size, 256);
    assert_int_equal(d->hidden_size, 64);
    assert_int_equal(d->n_layers, 3);
    assert_int_equal(d->n_heads, 4);
    assert_int_equal(d->n_kv_heads, 2);
    assert_int_equal(d->head_dim, 16);
    assert_int_equal(d->attn_in, 64);
    TU_ASSERT_NEAR(d->attn_scale, 1.0 / sqrt(16.0), 1e-7); /* 1/sqrt(head_dim) */
    assert_int_equal(d->tie_embeddings, 0);
    assert_int_equal(d->mlp_act, ZB_ACT_SILU);
    assert_int_equal(d->attn_bias, 0);
    assert_int_equal(d->mlp_bias, 0);
    assert_int_equal(d->rope, 1);
    TU_ASSERT_NEAR(d->rope_theta, 10000.0, 0.0);
    assert_int_equal(d->weight_dtype, ZB_DTYPE_BF16);
    for (int i = 0; i < d->n_layers; i++) assert_int_equal(d->layer_kind[i], ZB_LAYER_ATTENTION);
    assert_int_equal(d->layer_kind[d->n_layers], 0);
}

static void test_llama_fixture(void **state)
{
    (void)state;
    zb_model_desc d;
    load_fixture_desc("llama-tiny-bf16", &d);
    check_transformer_common(&d);
    assert_int_equal(d.intermediate_size, 172);
    assert_int_equal(d.sliding_window, 0);
}

static void test_mistral_fixture(void **state)
{
    (void)state;
    zb_model_desc d;
    load_fixture_desc("mistral-tiny-swa-bf16", &d);
    check_transformer_common(&d);
    assert_int_equal(d.intermediate_size, 160);
    assert_int_equal(d.sliding_window, 16);
}

/* ---------------------------------------------------------- variations */

/* head_dim that differs between the two conventions, so a swapped formula
 * shows: zamba 1/sqrt(64/2), llama 1/sqrt(64) */
static void test_attn_scale_by_layout(void **state)
{
    (void)state;
    zb_model_desc d;
    expect_ok("zamba-tiny-f32", "attention_head_dim", "64", NULL, NULL, &d);
    TU_ASSERT_NEAR(d.attn_scale, 1.0 / sqrt(32.0), 1e-7);
    expect_ok("llama-tiny-bf16", "head_dim", "32", NULL, NULL, &d);
    TU_ASSERT_NEAR(d.attn_scale, 1.0 / sqrt(32.0), 1e-7);
    /* head_dim absent: zamba derives 2*hidden/heads, llama hidden/heads */
    expect_ok("zamba-tiny-f32", "attention_head_dim", NULL, NULL, NULL, &d);
    assert_int_equal(d.head_dim, 32);
    expect_ok("llama-tiny-bf16", "head_dim", NULL, NULL, NULL, &d);
    assert_int_equal(d.head_dim, 16);
}

static void test_rope_theta_sources(void **state)
{
    (void)state;
    zb_model_desc d;
    /* transformers 5: under rope_parameters */
    expect_ok("llama-tiny-bf16", "rope_parameters.rope_theta", "500000.0", NULL, NULL, &d);
    TU_ASSERT_NEAR(d.rope_theta, 500000.0, 0.0);
    /* transformers 4: top level, rope_scaling null */
    expect_ok("llama-tiny-bf16", "rope_parameters", NULL, "rope_theta", "1000000.0", &d);
    TU_ASSERT_NEAR(d.rope_theta, 1000000.0, 0.0);
    expect_ok("llama-tiny-bf16", "rope_parameters", NULL, "rope_scaling", "null", &d);
    TU_ASSERT_NEAR(d.rope_theta, 10000.0, 0.0); /* the default */
    expect_ok("mistral-tiny-swa-bf16", "rope_parameters", "{\"rope_type\":\"default\",\"rope_theta\":250.0}", NULL,
              NULL, &d);
    TU_ASSERT_NEAR(d.rope_theta, 250.0, 0.0);
    expect_refused("llama-tiny-bf16", "rope_parameters.rope_theta", "0.5", NULL, NULL, "rope_theta");
    expect_refused("llama-tiny-bf16", "rope_parameters.rope_theta", "\"big\"", NULL, NULL, "rope_theta");
}

static void test_rope_type_unsupported(void **state)
{
    (void)state;
    expect_refused("llama-tiny-bf16", "rope_parameters.rope_type", "\"llama3\"", NULL, NULL, "llama3");
    expect_refused("llama-tiny-bf16", "rope_parameters", NULL, "rope_scaling",
                   "{\"rope_type\":\"llama3\",\"factor\":8.0}", "llama3");
    expect_refused("llama-tiny-bf16", "rope_parameters", NULL, "rope_scaling", "{\"type\":\"linear\",\"factor\":2.0}",
                   "linear");
    expect_refused("mistral-tiny-swa-bf16", "rope_parameters.rope_type", "\"yarn\"", NULL, NULL, "yarn");
}

static void test_sliding_window(void **state)
{
    (void)state;
    zb_model_desc d;
    expect_ok("mistral-tiny-swa-bf16", "sliding_window", "null", NULL, NULL, &d);
    assert_int_equal(d.sliding_window, 0);
    expect_ok("mistral-tiny-swa-bf16", "sliding_window", "4096", NULL, NULL, &d);
    assert_int_equal(d.sliding_window, 4096);
    /* Llama has no sliding window, whatever a config says */
    expect_ok("llama-tiny-bf16", "sliding_window", "16", NULL, NULL, &d);
    assert_int_equal(d.sliding_window, 0);
    expect_refused("mistral-tiny-swa-bf16", "sliding_window", "-1", NULL, NULL, "sliding_window");
}

static void test_tie_embeddings(void **state)
{
    (void)state;
    zb_model_desc d;
    expect_ok("zamba-tiny-f32", "tie_word_embeddings", NULL, NULL, NULL, &d);
    assert_int_equal(d.tie_embeddings, 1); /* ZambaConfig's default */
    expect_ok("zamba-tiny-f32", "tie_word_embeddings", "false", NULL, NULL, &d);
    assert_int_equal(d.tie_embeddings, 0);
    expect_ok("llama-tiny-bf16", "tie_word_embeddings", NULL, NULL, NULL, &d);
    assert_int_equal(d.tie_embeddings, 0); /* LlamaConfig's default */
    expect_ok("llama-tiny-bf16", "tie_word_embeddings", "true", NULL, NULL, &d);
    assert_int_equal(d.tie_embeddings, 1);
    expect_refused("llama-tiny-bf16", "tie_word_embeddings", "1", NULL, NULL, "tie_word_embeddings");
}

static void test_dtype_fields(void **state)
{
    (void)state;
    zb_model_desc d;
    /* transformers 4 writes torch_dtype */
    expect_ok("llama-tiny-bf16", "dtype", NULL, "torch_dtype", "\"float16\"", &d);
    assert_int_equal(d.weight_dtype, ZB_DTYPE_F16);
    expect_ok("llama-tiny-bf16", "dtype", NULL, "torch_dtype", "\"float32\"", &d);
    assert_int_equal(d.weight_dtype, ZB_DTYPE_F32);
    /* both present: the newer "dtype" wins */
    expect_ok("llama-tiny-bf16", "torch_dtype", "\"float32\"", NULL, NULL, &d);
    assert_int_equal(d.weight_dtype, ZB_DTYPE_BF16);
    expect_ok("llama-tiny-bf16", "dtype", NULL, NULL, NULL, &d);
    assert_int_equal(d.weight_dtype, ZB_DTYPE_F32);
    expect_refused("llama-tiny-bf16", "dtype", "\"int8\"", NULL, NULL, "int8");
}

static void test_missing_fields(void **state)
{
    (void)state;
    static const char *const required[] = {"hidden_size", "num_hidden_layers", "intermediate_size",
                                           "num_attention_heads", "vocab_size"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        char frag[96];
        snprintf(frag, sizeof frag, "missing field '%s'", required[i]);
        expect_refused("llama-tiny-bf16", required[i], NULL, NULL, NULL, frag);
        /* null counts as absent */
        expect_refused("zamba-tiny-f32", required[i], "null", NULL, NULL, frag);
    }
    expect_refused("llama-tiny-bf16", "model_type", NULL, NULL, NULL, "missing field 'model_type'");
}

static void test_absurd_values(void **state)
{
    (void)state;
    expect_refused("llama-tiny-bf16", "hidden_size", "0", NULL, NULL, "'hidden_size'");
    expect_refused("llama-tiny-bf16", "hidden_size", "-64", NULL, NULL, "'hidden_size'");
    expect_refused("llama-tiny-bf16", "hidden_size", "64.5", NULL, NULL, "'hidden_size'");
    expect_refused("llama-tiny-bf16", "hidden_size", "\"64\"", NULL, NULL, "'hidden_size'");
    expect_refused("llama-tiny-bf16", "num_hidden_layers", "-3", NULL, NULL, "'num_hidden_layers'");
    expect_refused("llama-tiny-bf16", "num_hidden_layers", "0", NULL, NULL, "'num_hidden_layers'");
    expect_refused("llama-tiny-bf16", "num_hidden_layers", "1000000000", NULL, NULL, "'num_hidden_layers'");
    expect_refused("llama-tiny-bf16", "num_hidden_layers", "1e300", NULL, NULL, "'num_hidden_layers'");
    expect_refused("llama-tiny-bf16", "vocab_size", "0", NULL, NULL, "'vocab_size'");
    expect_refused("llama-tiny-bf16", "num_attention_heads", "0", NULL, NULL, "'num_attention_heads'");
    expect_refused("llama-tiny-bf16", "rms_norm_eps", "-1", NULL, NULL, "'rms_norm_eps'");
    expect_refused("zamba-tiny-f32", "mamba_d_state", "100000", NULL, NULL, "'mamba_d_state'");
    /* odd head dimension: rotary pairs need an even one */
    expect_refused("llama-tiny-bf16", "head_dim", "15", NULL, NULL, "head dimension 15");
    /* the largest layer count zbench takes, just past it */
    zb_model_desc d;
    char n[16];
    snprintf(n, sizeof n, "%d", ZB_MAX_LAYERS);
    expect_ok("llama-tiny-bf16", "num_hidden_layers", n, NULL, NULL, &d);
    assert_int_equal(d.n_layers, ZB_MAX_LAYERS);
    snprintf(n, sizeof n, "%d", ZB_MAX_LAYERS + 1);
    expect_refused("llama-tiny-bf16", "num_hidden_layers", n, NULL, NULL, "'num_hidden_layers'");
}

static void test_unknown_model_type(void **state)
{
    (void)state;
    expect_refused("llama-tiny-bf16", "model_type", "\"gpt2\"", NULL, NULL, "unknown model_type 'gpt2'");
    expect_refused("zamba-tiny-f32", "model_type", "\"zamba2\"", NULL, NULL, "'zamba2'");
    expect_refused("llama-tiny-bf16", "model_type", "42", NULL, NULL, "model_type");
}

static void test_zamba_attention_width(void **state)
{
    (void)state;
    expect_refused("zamba-tiny-f32", "attention_hidden_size", "64", NULL, NULL, "attention_hidden_size 64");
    expect_refused("zamba-tiny-f32", "attention_hidden_size", "256", NULL, NULL, "2 x hidden_size");
    zb_model_desc d;
    expect_ok("zamba-tiny-f32", "attention_hidden_size", NULL, NULL, NULL, &d); /* defaults to 2 x hidden */
    assert_int_equal(d.attn_in, 128);
}

static void test_heads_not_multiple_of_kv(void **state)
{
    (void)state;
    expect_refused("llama-tiny-bf16", "num_key_value_heads", "3", NULL, NULL,
                   "num_attention_heads 4 is not a multiple of num_key_value_heads 3");
    expect_refused("zamba-tiny-f32", "num_key_value_heads", "3", NULL, NULL, "not a multiple");
    zb_model_desc d;
    expect_ok("llama-tiny-bf16", "num_key_value_heads", NULL, NULL, NULL, &d);
    assert_int_equal(d.n_kv_heads, 4); /* absent: multi-head attention */
}

static void test_invalid_documents(void **state)
{
    (void)state;
    zb_model_desc d;
    zb_error err = {{0}};
    const char *bad = "{\"model_type\": \"llama\",";
    assert_int_equal(zb_desc_from_json(bad, strlen(bad), "lbl", &d, &err), ZB_ERR_INVALID);
    TU_ASSERT_CONTAINS(err.msg, "lbl");
    TU_ASSERT_CONTAINS(err.msg, "not valid JSON");
    const char *arr = "[{\"model_type\": \"llama\"}]";
    assert_int_equal(zb_desc_from_json(arr, strlen(arr), "lbl", &d, &err), ZB_ERR_INVALID);
    TU_ASSERT_CONTAINS(err.msg, "not a JSON object");
    /* the length is honoured: an exact-size copy with no terminator parses
     * (ASan would see a read past it), and a cut one does not */
    char path[PATH_MAX];
    size_t len;
    tu_fixture(path, sizeof path, "llama-tiny-bf16", "config.json");
    char *text = tu_read_file(path, &len);
    char *exact = malloc(len);
    assert_non_null(exact);
    memcpy(exact, text, len);
    if (zb_desc_from_json(exact, len, "lbl", &d, &err) != ZB_OK) fail_msg("%s", err.msg);
    assert_int_equal(zb_desc_from_json(exact, len - 10, "lbl", &d, &err), ZB_ERR_INVALID);
    TU_ASSERT_CONTAINS(err.msg, "not valid JSON");
    free(exact);
    free(text);
    assert_int_equal(zb_desc_from_config("/nonexistent/dir/config.json", &d, &err), ZB_ERR_INVALID);
    TU_ASSERT_CONTAINS(err.msg, "/nonexistent/dir/config.json");
}

static void test_layers_block_type(void **state)
{
    (void)state;
    zb_model_desc d;
    /* transformers 4 spells the kinds mamba / hybrid */
    expect_ok("zamba-tiny-f32", "layers_block_type",
              "[\"mamba\",\"mamba\",\"hybrid\",\"mamba\",\"hybrid\",\"mamba\",\"mamba\",\"mamba\",\"mamba\"]", NULL,
              NULL, &d);
    const int hybrid[] = {2, 4};
    assert_hybrids(d.layer_kind, d.n_layers, hybrid, 2);
    expect_refused("zamba-tiny-f32", "layers_block_type", "[\"mamba\",\"mamba\",\"hybrid\"]", NULL, NULL,
                   "layers_block_type");
    expect_refused("zamba-tiny-f32", "layers_block_type",
                   "[\"mamba\",\"mamba\",\"hybrid\",\"mamba\",\"attention\",\"mamba\",\"mamba\",\"mamba\",\"mamba\"]",
                   NULL, NULL, "layers_block_type[4]");
    expect_refused("zamba-tiny-f32", "layers_block_type", "\"hybrid\"", NULL, NULL, "layers_block_type");
    /* absent: Hugging Face's schedule from period and offset */
    expect_ok("zamba-tiny-bf16", "layers_block_type", NULL, NULL, NULL, &d);
    const int sched[] = {2, 7, 13};
    assert_hybrids(d.layer_kind, d.n_layers, sched, 3);
    expect_ok("zamba-tiny-bf16", "layers_block_type", NULL, "attn_layer_period", "3", &d);
    /* offset 4 >= period 3: (i - 3) % 3 never equals it, only layer 2 is hybrid */
    const int only2[] = {2};
    assert_hybrids(d.layer_kind, d.n_layers, only2, 1);
}

static void test_dt_rank_auto(void **state)
{
    (void)state;
    zb_model_desc d;
    expect_ok("zamba-tiny-f32", "mamba_dt_rank", "\"auto\"", NULL, NULL, &d);
    assert_int_equal(d.dt_rank, 4); /* ceil(64 / 16) */
    expect_ok("zamba-tiny-bf16", "mamba_dt_rank", NULL, NULL, NULL, &d);
    assert_int_equal(d.dt_rank, 6); /* ceil(96 / 16) */
    expect_ok("zamba-tiny-bf16", "hidden_size", "100", "attention_hidden_size", "200", &d);
    assert_int_equal(d.d_inner, 200);
}

/* ------------------------------------------------------------ schedule */

static void test_schedule_zamba_7b(void **state)
{
    (void)state;
    uint8_t kinds[ZB_MAX_LAYERS];
    memset(kinds, 0xee, sizeof kinds);
    zb_zamba_schedule(76, 6, 4, kinds);
    /* by hand: layer 2, then 3 + i for i % 6 == 4, i.e. 7, 13, ..., 73 */
    const int hybrid[] = {2, 7, 13, 19, 25, 31, 37, 43, 49, 55, 61, 67, 73};
    assert_hybrids(kinds, 76, hybrid, 13);
    assert_int_equal(kinds[76], 0xee); /* nothing written past the model */
    int count = 0;
    for (int i = 0; i < 76; i++) count += kinds[i] == ZB_LAYER_HYBRID;
    assert_int_equal(count, 13);
}

static void test_schedule_small(void **state)
{
    (void)state;
    uint8_t kinds[8];
    memset(kinds, 0xee, sizeof kinds);
    zb_zamba_schedule(3, 6, 4, kinds);
    const int h2[] = {2};
    assert_hybrids(kinds, 3, h2, 1);
    assert_int_equal(kinds[3], 0xee);
    zb_zamba_schedule(8, 2, 0, kinds);
    const int h[] = {2, 3, 5, 7};
    assert_hybrids(kinds, 8, h, 4);
}

/* The fixtures list their layer kinds explicitly; Hugging Face derived them
 * from the period and offset they also record. */
static void check_fixture_schedule(const char *fixture)
{
    cJSON *root = load_config_json(fixture);
    int period = cJSON_GetObjectItemCaseSensitive(root, "attn_layer_period")->valueint;
    int offset = cJSON_GetObjectItemCaseSensitive(root, "attn_layer_offset")->valueint;
    cJSON_Delete(root);
    zb_model_desc d;
    load_fixture_desc(fixture, &d);
    uint8_t kinds[ZB_MAX_LAYERS] = {0};
    zb_zamba_schedule(d.n_layers, period, offset, kinds);
    for (int i = 0; i < d.n_layers; i++)
        if (kinds[i] != d.layer_kind[i])
            fail_msg("%s layer %d: schedule says %d, layers_block_type %d", fixture, i, kinds[i], d.layer_kind[i]);
}

static void test_schedule_matches_fixtures(void **state)
{
    (void)state;
    check_fixture_schedule("zamba-tiny-f32");
    check_fixture_schedule("zamba-tiny-bf16");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zamba_f32_fixture),
        cmocka_unit_test(test_zamba_bf16_fixture),
        cmocka_unit_test(test_llama_fixture),
        cmocka_unit_test(test_mistral_fixture),
        cmocka_unit_test(test_attn_scale_by_layout),
        cmocka_unit_test(test_rope_theta_sources),
        cmocka_unit_test(test_rope_type_unsupported),
        cmocka_unit_test(test_sliding_window),
        cmocka_unit_test(test_tie_embeddings),
        cmocka_unit_test(test_dtype_fields),
        cmocka_unit_test(test_missing_fields),
        cmocka_unit_test(test_absurd_values),
        cmocka_unit_test(test_unknown_model_type),
        cmocka_unit_test(test_zamba_attention_width),
        cmocka_unit_test(test_heads_not_multiple_of_kv),
        cmocka_unit_test(test_invalid_documents),
        cmocka_unit_test(test_layers_block_type),
        cmocka_unit_test(test_dt_rank_auto),
        cmocka_unit_test(test_schedule_zamba_7b),
        cmocka_unit_test(test_schedule_small),
        cmocka_unit_test(test_schedule_matches_fixtures),
    };
    return cmocka_run_group_tests_name("config.json and layer schedule", tests, NULL, NULL) ? 1 : 0;
}
