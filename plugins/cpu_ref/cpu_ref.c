/* cpu_ref: the fp32 reference as a plugin. Single-threaded and naive by
 * design: it is the yardstick the fast backends are checked against. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zb_ref.h"
#include "zbench_plugin.h"

struct zb_session {
    zb_ref_model model;
    zb_ref_cache cache;
    zb_session_opts opts;
    int32_t *last_tokens; /* argmax of the previous step, for token feedback */
    float *logits;        /* [batch][vocab] scratch when the caller wants none */
};

static zb_status fail(zb_error *err, zb_status code, const char *msg)
{
    snprintf(err->msg, sizeof err->msg, "%s", msg);
    return code;
}

static zb_status cpu_device_info(int32_t device, zb_device_info *info, zb_error *err)
{
    (void)device, (void)err;
    memset(info, 0, sizeof *info);
    snprintf(info->name, sizeof info->name, "cpu");
    /* the CPU model, when /proc says */
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
            char *v = strchr(line, ':') + 1;
            while (*v == ' ') v++;
            v[strcspn(v, "\n")] = '\0';
            snprintf(info->name, sizeof info->name, "%s", v);
            break;
        }
    if (f) fclose(f);
    return ZB_OK;
}

static void destroy(zb_session *s)
{
    if (!s) return;
    zb_ref_cache_free(&s->cache);
    zb_ref_model_free(&s->model);
    free(s->last_tokens);
    free(s->logits);
    free(s);
}

static zb_status create(const zb_model_desc *desc, const zb_weights *weights, const zb_session_opts *opts,
                        zb_session **out, zb_error *err)
{
    *out = NULL;
    if (opts->dtype != ZB_DTYPE_F32) return fail(err, ZB_ERR_UNSUPPORTED, "cpu_ref computes in f32 only");
    if (opts->batch < 1 || opts->capacity < 1) return fail(err, ZB_ERR_INVALID, "batch and capacity must be >= 1");
    zb_session *s = calloc(1, sizeof *s);
    if (!s) return fail(err, ZB_ERR_OOM, "out of host memory for a session");
    s->opts = *opts;
    zb_status st = zb_ref_model_init(&s->model, desc, weights, err);
    if (st == ZB_OK) st = zb_ref_cache_init(&s->cache, desc, opts->batch, opts->capacity, err);
    if (st == ZB_OK) {
        s->last_tokens = calloc((size_t)opts->batch, sizeof *s->last_tokens);
        s->logits = malloc(sizeof(float) * (size_t)opts->batch * desc->vocab_size);
        if (!s->last_tokens || !s->logits) st = fail(err, ZB_ERR_OOM, "out of host memory for logits");
    }
    if (st != ZB_OK) {
        destroy(s);
        return st;
    }
    *out = s;
    return ZB_OK;
}

/* Runs n tokens of every sequence; tokens is [batch][n]. */
static zb_status step(zb_session *s, const int32_t *tokens, int32_t n, float *logits, int32_t *next,
                      zb_step_timing *timing, zb_error *err)
{
    if (timing) timing->device_ms = -1.0;
    if (n < 1) return fail(err, ZB_ERR_INVALID, "at least one token is needed");
    const int V = s->model.desc.vocab_size;
    float *lg = logits ? logits : s->logits;
    /* validate every sequence first, so an error leaves the state untouched */
    if (s->cache.pos + n > s->cache.capacity) {
        snprintf(err->msg, sizeof err->msg, "%d tokens past position %d exceed the capacity of %d", n, s->cache.pos,
                 s->cache.capacity);
        return ZB_ERR_CAPACITY;
    }
    for (size_t i = 0; i < (size_t)s->opts.batch * n; i++)
        if (tokens[i] < 0 || tokens[i] >= V) {
            snprintf(err->msg, sizeof err->msg, "token %d is outside the vocabulary of %d", tokens[i], V);
            return ZB_ERR_INVALID;
        }
    for (int b = 0; b < s->opts.batch; b++) {
        zb_status st = zb_ref_forward(&s->model, &s->cache, b, tokens + (size_t)b * n, n, lg + (size_t)b * V, err);
        if (st != ZB_OK) return st; /* only out-of-memory gets here */
        s->last_tokens[b] = zb_ref_argmax(lg + (size_t)b * V, V);
        if (next) next[b] = s->last_tokens[b];
    }
    s->cache.pos += n;
    return ZB_OK;
}

static zb_status prefill(zb_session *s, const int32_t *tokens, int32_t n, float *logits, int32_t *next,
                         zb_step_timing *timing, zb_error *err)
{
    return step(s, tokens, n, logits, next, timing, err);
}

static zb_status decode(zb_session *s, const int32_t *tokens, float *logits, int32_t *next, zb_step_timing *timing,
                        zb_error *err)
{
    /* tokens == NULL feeds back the previous argmax */
    const int32_t *in = tokens ? tokens : s->last_tokens;
    int32_t *copy = NULL;
    if (!tokens) {
        copy = malloc(sizeof *copy * (size_t)s->opts.batch);
        if (!copy) return fail(err, ZB_ERR_OOM, "out of host memory");
        memcpy(copy, s->last_tokens, sizeof *copy * (size_t)s->opts.batch);
        in = copy;
    }
    zb_status st = step(s, in, 1, logits, next, timing, err);
    free(copy);
    return st;
}

static zb_status reset(zb_session *s, zb_error *err)
{
    (void)err;
    zb_ref_cache_reset(&s->cache);
    memset(s->last_tokens, 0, sizeof *s->last_tokens * (size_t)s->opts.batch);
    return ZB_OK;
}

static zb_status memory(zb_session *s, zb_memory_report *out, zb_error *err)
{
    (void)err;
    memset(out, 0, sizeof *out);
    out->weights_bytes = s->model.weight_bytes;
    out->kv_bytes = s->cache.kv_bytes;
    out->state_bytes = s->cache.state_bytes;
    out->workspace_bytes = sizeof(float) * (size_t)s->opts.batch * s->model.desc.vocab_size;
    out->kv_tokens = s->cache.kv_slots;
    return ZB_OK;
}

/* Keeps the f32 weights, re-allocates the caches for the new shape. */
static zb_status resize(zb_session *s, int32_t batch, int32_t capacity, zb_error *err)
{
    if (batch < 1 || capacity < 1) return fail(err, ZB_ERR_INVALID, "batch and capacity must be >= 1");
    int32_t *tokens = calloc((size_t)batch, sizeof *tokens);
    float *logits = malloc(sizeof(float) * (size_t)batch * s->model.desc.vocab_size);
    zb_ref_cache cache;
    zb_status st = tokens && logits ? zb_ref_cache_init(&cache, &s->model.desc, batch, capacity, err)
                                    : fail(err, ZB_ERR_OOM, "out of host memory for logits");
    if (st != ZB_OK) {
        free(tokens);
        free(logits);
        return st;
    }
    zb_ref_cache_free(&s->cache);
    free(s->last_tokens);
    free(s->logits);
    s->cache = cache;
    s->last_tokens = tokens;
    s->logits = logits;
    s->opts.batch = batch;
    s->opts.capacity = capacity;
    return ZB_OK;
}

static const zb_ext_resize resize_ext = {resize};

static const void *get_extension(const char *name)
{
    return strcmp(name, ZB_EXT_RESIZE) == 0 ? &resize_ext : NULL;
}

static const zb_plugin_api api = {
    .abi_version = ZB_ABI_VERSION,
    .name = "cpu_ref",
    .description = "naive fp32 CPU reference (the executable specification)",
    .dtypes = ZB_DTYPE_BIT(ZB_DTYPE_F32),
    .max_batch = 64,
    .caps = ZB_CAP_TOKEN_FEEDBACK,
    .device_info = cpu_device_info,
    .create = create,
    .prefill = prefill,
    .decode = decode,
    .reset = reset,
    .memory = memory,
    .destroy = destroy,
    .get_extension = get_extension,
};

ZB_EXPORT const zb_plugin_api *zbench_plugin_entry(void) { return &api; }
