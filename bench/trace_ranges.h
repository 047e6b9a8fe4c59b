/*
 * The driver's own NVTX ranges, in the "zbench" domain the CUDA plugins
 * use too: "run" around a run's repetitions, then "depth", "prefill" and
 * "decode step K" around each plugin call, and "profile" around the decode
 * steps of --profile-steps. With the plugin's ranges inside them, a kernel
 * of layer 13's attention in decode step 5 sits under
 *     run / decode step 5 / decode / layer 13 attention
 * which is what `ncu --nvtx --nvtx-include` selects on (README.md).
 *
 * NVTX3 is header-only: built with ZB_HAVE_CUDA_HEADERS these call into it
 * (no library is linked; without a tool attached every call returns at
 * once), otherwise they do nothing.
 *
 * Also here: cuProfilerStart / cuProfilerStop around the --profile-steps
 * window when CUPTI tracing is not on, so `ncu --profile-from-start off`
 * and `nsys --capture-range=cudaProfilerApi` see only those steps. They
 * are looked up in the CUDA driver library the plugin already loaded
 * (dlopen RTLD_NOLOAD): zbench links no CUDA library.
 */
#ifndef ZB_TRACE_RANGES_H
#define ZB_TRACE_RANGES_H

#include <stddef.h>

typedef enum zb_range_kind {
    ZB_RANGE_RUN = 0,
    ZB_RANGE_DEPTH,
    ZB_RANGE_PREFILL,
    ZB_RANGE_DECODE_STEP, /* "decode step K" */
    ZB_RANGE_PROFILE,
    ZB_RANGE_KINDS
} zb_range_kind;

typedef struct zb_ranges {
    void *domain;                 /* nvtxDomainHandle_t; NULL: off, or no tool attached */
    void *names[ZB_RANGE_KINDS];  /* registered strings (nvtxStringHandle_t) */
    int (*profiler_start)(void);  /* CUresult (*)(void), from libcuda */
    int (*profiler_stop)(void);
    int profiler_looked_up;
} zb_ranges;

/* on: --nvtx. Cheap; call once per sweep. */
void zb_ranges_init(zb_ranges *r, int on);
void zb_ranges_free(zb_ranges *r);
/* step is used by ZB_RANGE_DECODE_STEP only. */
void zb_ranges_push(zb_ranges *r, zb_range_kind kind, int step);
void zb_ranges_pop(zb_ranges *r);

/* cuProfilerStart (on) or cuProfilerStop; 0, or -1 with one line in msg
 * (no CUDA driver loaded in this process, or the call failed). */
int zb_profiler_switch(zb_ranges *r, int on, char *msg, size_t len);

#endif
