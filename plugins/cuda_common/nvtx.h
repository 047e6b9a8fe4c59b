/*
 * NVTX ranges of the engine, in a "zbench" domain: one per layer phase
 * ("layer 12 mamba", "layer 13 attention", "layer 13 mlp") plus the steps
 * around them. Off unless the session asked for ZB_OPT_NVTX; when on but no
 * tool is attached, NVTX's calls return at once. Names are registered once
 * at session creation, so a push costs no formatting.
 *
 * The same push/pop points call the driver's trace hooks when it installed
 * some ("zb.trace_layers.v1", trace_hooks.c), independently of NVTX: that
 * is how `zbench --trace` learns which layer each kernel belongs to. Every
 * push calls the hook, every pop too, so the two stacks stay balanced
 * without bookkeeping; without hooks the cost is one NULL test.
 */
#ifndef ZBE_NVTX_H
#define ZBE_NVTX_H

#include "zbench_plugin.h"

typedef enum zbe_range {
    ZBE_RANGE_MAMBA = 0,
    ZBE_RANGE_ATTENTION = 1,
    ZBE_RANGE_MLP = 2,
    ZBE_RANGES_PER_LAYER = 3
} zbe_range;

typedef enum zbe_step_range {
    ZBE_RANGE_PREFILL = 0,
    ZBE_RANGE_DECODE,
    ZBE_RANGE_EMBED,
    ZBE_RANGE_LOGITS,
    ZBE_STEP_RANGES
} zbe_step_range;

typedef struct zbe_nvtx {
    void *domain;   /* nvtxDomainHandle_t, NULL when off */
    void **names;   /* nvtxStringHandle_t: per-layer ranges, then the step ranges */
    int n_layers;
    zb_trace_hooks hooks; /* the driver's, or all NULL */
} zbe_nvtx;

/* Creates the domain and registers the names; a no-op unless enabled. */
zb_status zbe_nvtx_init(zbe_nvtx *n, const zb_model_desc *d, int enabled, zb_error *err);
void zbe_nvtx_free(zbe_nvtx *n);
void zbe_nvtx_push_layer(const zbe_nvtx *n, int layer, zbe_range r);
void zbe_nvtx_push_step(const zbe_nvtx *n, zbe_step_range r);
void zbe_nvtx_pop(const zbe_nvtx *n);

/* "zb.trace_layers.v1": installs (hooks != NULL) or removes the driver's
 * trace hooks on a session (trace_hooks.c). */
zb_status zbe_set_trace_hooks(zb_session *s, const zb_trace_hooks *hooks, zb_error *err);

#endif /* ZBE_NVTX_H */
