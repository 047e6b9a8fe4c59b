/*
 * What a sweep does around each run for tracing and profilers:
 *
 *  - NVTX ranges of the driver (trace_ranges.h): "run" around a run,
 *    "depth", "prefill" and "decode step K" around each plugin call,
 *    "profile" around the --profile-steps window (with --nvtx on);
 *  - --trace: the CUPTI tracer (trace_api.h, dlopened) started once, at
 *    the first run that can be traced, writing through one trace store
 *    (trace_store.h); per run, the plugin's layer hooks installed, the
 *    phase ids pushed, collection switched on for the timed repetitions
 *    (or only the --profile-steps window), flushed at the end;
 *  - --profile-steps without CUPTI (under ncu or nsys, or untraced):
 *    cuProfilerStart / cuProfilerStop around the window.
 *
 * Tracing never fails a run: where it cannot trace (a CPU plugin, a
 * profiler attached, no tracer library, CUPTI refusing), zbench says why
 * in one line on stderr, once per reason, and records the run untraced
 * with that reason in its trace row.
 */
#ifndef ZB_TRACE_RUN_H
#define ZB_TRACE_RUN_H

#include <stdint.h>

#include "options.h"
#include "recorder.h"
#include "trace_env.h"
#include "trace_ranges.h"
#include "trace_store.h"
#include "workload.h"
#include "zbench_plugin.h"

typedef struct zb_trace_run {
    const zb_run_opts *o;
    zb_ranges ranges;
    zb_phase_hooks hooks;
    /* the sweep */
    zb_tracer_lib lib;
    zb_tracer *tracer;
    zb_trace_store *store;
    char unavailable[1024]; /* why GPU runs cannot be traced; "" while they can */
    unsigned said;         /* reasons already printed (bits) */
    /* the current run */
    int traced;            /* CUPTI collection is used */
    int collecting;
    int window_open;       /* NVTX "profile" pushed (and cuProfilerStart called) */
    int window_last;       /* the window's last step in this run */
    uint64_t dropped_at_begin;
    const zb_plugin_api *api;
    zb_session *session;   /* hooks installed on it */
    char note[1024];       /* what went wrong with this run's trace */
} zb_trace_run;

void zb_trace_run_init(zb_trace_run *tr, const zb_run_opts *o);

/* Whether a run of this plugin on this device will be traced (--trace
 * on). Starts the tracer at the first such run: call it before the run's
 * session is created. 0 with one line in why otherwise (also printed on
 * stderr the first time that reason comes up). */
int zb_trace_run_available(zb_trace_run *tr, const zb_plugin_api *api, const zb_device_info *dev, char *why,
                           size_t len);

/* Around a run's repetitions. `traced` is what zb_trace_run_available
 * said; s is the run's session (NULL when it could not be created); gen
 * its decode steps. */
void zb_trace_run_begin(zb_trace_run *tr, int64_t run_id, int traced, const zb_plugin_api *api, zb_session *s,
                        int gen);
/* The workload's hooks for this run; NULL when they would do nothing. */
const zb_phase_hooks *zb_trace_run_hooks(zb_trace_run *tr);
/* Ends the run's tracing (the device is idle: plugin calls are
 * synchronous): collection off, records flushed into the store, hooks
 * removed. Fills info's counts and status ("traced" or "untraced"); the
 * caller fills the medians and the baseline. */
void zb_trace_run_end(zb_trace_run *tr, zb_trace_info *info);

/* Stops the tracer and closes the store, at the end of the sweep. */
void zb_trace_run_finish(zb_trace_run *tr);

#endif
