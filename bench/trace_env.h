/*
 * What `--trace on` needs from its surroundings: whether a profiler
 * already owns CUPTI, and the tracer library.
 *
 * Nsight Compute and CUPTI activity tracing cannot share a process, and
 * Nsight Systems does its own CUDA tracing through CUPTI; all of them
 * inject themselves into the target through the CUDA driver's injection
 * hook. zbench therefore does not start CUPTI when one of these variables,
 * which the tools set in the process they launch, is present:
 *   NSYS_PROFILING_SESSION_ID           `nsys profile`
 *   NV_NSIGHT_INJECTION_TRANSPORT_TYPE  `ncu` (with NV_TPS_LAUNCH_TOKEN)
 *   NV_TPS_LAUNCH_TOKEN                 `ncu`
 *   CUDA_INJECTION64_PATH               the driver's injection hook itself,
 *                                       which every such tool uses: any
 *                                       other injected tool is assumed to
 *                                       hold CUPTI too
 * These are heuristics; the authority is CUPTI itself, whose refusal to
 * subscribe (CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED, which it also
 * returns under Nsight Systems, Nsight Compute and cuda-gdb) the tracer
 * reports in one line, the run going on untraced. ZBENCH_TRACE_FORCE=1
 * skips these variables and leaves the decision to CUPTI.
 */
#ifndef ZB_TRACE_ENV_H
#define ZB_TRACE_ENV_H

#include <stddef.h>

#include "trace_api.h"

/* One line naming the profiler and the variable that gave it away, or 0
 * (buf untouched) when none is seen. */
int zb_trace_detect_profiler(char *buf, size_t len);

typedef struct zb_tracer_lib {
    void *handle;
    const zb_tracer_api *api; /* NULL until loaded */
    char path[4096];
} zb_tracer_lib;

/* Loads the tracer: $ZBENCH_TRACER, else ZB_TRACER_LIBRARY next to the
 * zbench binary. 0, or -1 with one line in msg (missing file, missing
 * entry symbol, version mismatch). The library stays loaded for the
 * process (CUPTI may still hold its callbacks). */
int zb_tracer_lib_load(zb_tracer_lib *lib, char *msg, size_t len);

#endif
