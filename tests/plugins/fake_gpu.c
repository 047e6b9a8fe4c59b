/* A backend that claims to be a GPU plugin without touching a GPU, so the
 * driver's --trace paths for GPU plugins (tracer missing, profiler
 * attached, CUPTI refusing) run anywhere. It offers "zb.trace_layers.v1"
 * and calls the hooks around its two "layers", as the CUDA engine does,
 * and "zb.graph_stats.v1" counting as cuda_graph does: its first decode
 * step is eager, the second a capture, every step after it a replay. */
#include <stdlib.h>
#include <string.h>

#include "zbench_plugin.h"

struct zb_session {
    int batch, vocab, pos;
    zb_trace_hooks hooks;
    int hooked;
    zb_graph_stats graphs;
};

static zb_status info(int32_t device, zb_device_info *i, zb_error *err)
{
    (void)device, (void)err;
    memset(i, 0, sizeof *i);
    strcpy(i->name, "fake gpu");
    i->is_gpu = 1;
    i->memory_bytes = 1u << 30;
    return ZB_OK;
}

static zb_status create(const zb_model_desc *d, const zb_weights *w, const zb_session_opts *o, zb_session **out,
                        zb_error *err)
{
    (void)w, (void)err;
    zb_session *s = calloc(1, sizeof *s);
    if (!s) return ZB_ERR_OOM;
    s->batch = o->batch, s->vocab = d->vocab_size;
    *out = s;
    return ZB_OK;
}

static void layers(zb_session *s)
{
    for (int l = 0; l < 2 && s->hooked; l++) {
        s->hooks.push(s->hooks.ctx, l, ZB_PART_MAMBA);
        s->hooks.pop(s->hooks.ctx);
    }
}

static zb_status prefill(zb_session *s, const int32_t *t, int32_t n, float *logits, int32_t *next,
                         zb_step_timing *tm, zb_error *err)
{
    (void)t, (void)err;
    if (tm) tm->device_ms = -1;
    layers(s);
    s->pos += n;
    for (int b = 0; b < s->batch; b++) {
        for (int v = 0; logits && v < s->vocab; v++) logits[(size_t)b * s->vocab + v] = (float)((v * 5 + s->pos) % 11);
        if (next) next[b] = (s->pos + b) % s->vocab;
    }
    return ZB_OK;
}

static zb_status decode(zb_session *s, const int32_t *t, float *logits, int32_t *next, zb_step_timing *tm,
                        zb_error *err)
{
    zb_graph_stats *g = &s->graphs;
    if (!g->eager) {
        g->eager = 1;
    } else {
        if (!g->captures) g->captures = g->graphs = 1, g->capture_ms = 0.5, g->decode_nodes = 7;
        g->replays++;
    }
    return prefill(s, t, 1, logits, next, tm, err);
}

static zb_status reset(zb_session *s, zb_error *err)
{
    (void)err;
    s->pos = 0;
    return ZB_OK;
}

static zb_status memory(zb_session *s, zb_memory_report *m, zb_error *err)
{
    (void)s, (void)err;
    memset(m, 0, sizeof *m);
    m->kv_tokens = 1;
    return ZB_OK;
}

static void destroy(zb_session *s) { free(s); }

static zb_status set_hooks(zb_session *s, const zb_trace_hooks *h, zb_error *err)
{
    (void)err;
    s->hooked = h != NULL;
    if (h) s->hooks = *h;
    return ZB_OK;
}

static const zb_ext_trace_layers trace_layers = {set_hooks};

static zb_status graph_stats(zb_session *s, zb_graph_stats *out, zb_error *err)
{
    (void)err;
    *out = s->graphs;
    return ZB_OK;
}

static const zb_ext_graph_stats graph_stats_ext = {graph_stats};

static const void *get_extension(const char *name)
{
    if (name && !strcmp(name, ZB_EXT_GRAPH_STATS)) return &graph_stats_ext;
    return name && !strcmp(name, ZB_EXT_TRACE_LAYERS) ? &trace_layers : NULL;
}

static const zb_plugin_api api = {
    ZB_ABI_VERSION, "fake_gpu", "test double: a GPU plugin without a GPU", ZB_DTYPE_BIT(ZB_DTYPE_F32), 8,
    ZB_CAP_GPU, info, create, prefill, decode, reset, memory, destroy, get_extension,
};

ZB_EXPORT const zb_plugin_api *zbench_plugin_entry(void) { return &api; }
