/*
 * Series: the ok runs of one (plugin, device, model, dtype, batch), the
 * unit every chart draws as one colour and every crossover compares. Each
 * series carries its model description when it can be recovered (a preset
 * name, or a checkpoint directory or config file that still exists), from
 * which the analytic lines come, and the device ceilings its runs' floors
 * were computed with.
 */
#ifndef ZB_SERIES_H
#define ZB_SERIES_H

#include "report_data.h"

typedef struct zb_series {
    const char *plugin, *device, *model, *model_source, *layout, *dtype;
    int batch, is_gpu, is_zamba;
    int64_t gpu_memory_bytes; /* 0 for CPU runs */
    int64_t n_params;
    char label[192];          /* "zamba-7b, cuda_fused, NVIDIA H100 (bf16, batch 1)" */
    const zb_rrun **runs;     /* ok runs, by (seq, gen, depth, id) */
    int n_runs;

    /* the analytic model */
    int have_desc;
    zb_model_desc desc;
    zb_dtype dt;
    char desc_note[256];      /* why there is no description */
    double weights_bytes;     /* measured (largest over the runs); else parameters x dtype size */
    double copy_gbps, gemm_tflops; /* ceilings; 0 when unknown */

    /* measured curves */
    zb_rpoint *lat;           /* decode step ms vs context: median over runs of the per-position medians */
    int n_lat;
    zb_rpoint *use;           /* KV + state bytes in use vs context */
    int n_use;
} zb_series;

typedef struct zb_series_set {
    zb_series *v;
    int n;
    int multi_device, multi_plugin; /* whether labels must name them */
} zb_series_set;

/* Groups the ok runs of `set` into series, resolves their models and
 * ceilings (the devices table of `db` when the runs' floors do not give
 * them) and builds the measured curves. Memory comes from set's arena. */
zb_status zb_series_build(zb_rdb *db, zb_rset *set, zb_series_set *out, zb_error *err);
void zb_series_free(zb_series_set *ss);

/* Fills a series' analytic side (description, weights, ceilings) from its
 * identity and runs; zb_series_build calls it. db may be NULL (no devices
 * table lookup). */
void zb_series_resolve(zb_rdb *db, zb_series *s);

/* A series of a preset with no runs: the analytic model alone, for
 * `dtype` and `batch` on a device of gpu_bytes (0: a CPU). have_desc is 0
 * when the name is not a preset. */
void zb_series_from_preset(zb_series *s, const char *name, const char *dtype, int batch, int64_t gpu_bytes);

/* The cached tokens zbench run computed a run's decode floor at: the mean
 * step of its generation sees depth + seq + (gen - 1) / 2. */
int64_t zb_run_decode_context(const zb_rrun *r);

/* ------------------------------------------------- analytic evaluation */
/* Each needs have_desc; the results are per the whole batch. */
double zb_series_kv_bytes(const zb_series *s, double context);     /* allocated for `context` tokens */
double zb_series_state_bytes(const zb_series *s);
double zb_series_total_bytes(const zb_series *s, double context);  /* weights + KV + state */
/* Roofline floors; NaN without the ceiling. */
double zb_series_decode_floor_ms(const zb_series *s, double context);
double zb_series_prefill_floor_ms(const zb_series *s, double seq, double depth);

/* The longest context that fits in the device's memory. */
typedef enum zb_fit_kind {
    ZB_FIT_NA_CPU,        /* no device memory to compare with */
    ZB_FIT_NA_MODEL,      /* no model description */
    ZB_FIT_NONE,          /* weights and state alone do not fit */
    ZB_FIT_TOKENS,        /* fits up to `tokens` */
    ZB_FIT_WINDOW,        /* KV stops growing at the window and fits: unbounded by KV */
    ZB_FIT_NO_KV          /* no attention at all: unbounded */
} zb_fit_kind;

typedef struct zb_fit {
    zb_fit_kind kind;
    int64_t tokens;       /* ZB_FIT_TOKENS */
    int64_t window;       /* ZB_FIT_WINDOW */
    double kv_per_token;  /* bytes, whole batch */
    double fixed_bytes;   /* weights + state */
} zb_fit;

void zb_series_fit(const zb_series *s, zb_fit *out);

#endif
