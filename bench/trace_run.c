#include "trace_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zb_util.h"

/* Reasons printed once per sweep (zb_trace_run.said). */
enum { SAID_CPU = 1u, SAID_UNAVAILABLE = 2u, SAID_NO_LAYERS = 4u, SAID_NO_PROFILER = 8u };

static void say_once(zb_trace_run *tr, unsigned reason, const char *fmt, const char *what)
{
    if (tr->said & reason) return;
    tr->said |= reason;
    fprintf(stderr, fmt, what);
}

/* ------------------------------------------------------------- the hooks */

static int window_set(const zb_trace_run *tr)
{
    return tr->o->profile_first > 0;
}

/* Collection (or the Nsight window) wanted during this plugin call:
 * timed repetitions only, and within them the --profile-steps window. */
static int wanted(const zb_trace_run *tr, zb_phase phase, int rep, int step)
{
    if (rep < 0) return 0;
    if (!window_set(tr)) return 1;
    return phase == ZB_PHASE_DECODE && step >= tr->o->profile_first && step <= tr->window_last;
}

static void set_collecting(zb_trace_run *tr, int on)
{
    if (!tr->traced || tr->collecting == on) return;
    char msg[256];
    if (tr->lib.api->enable(tr->tracer, on, msg, sizeof msg) != 0) {
        /* the run goes on; its trace says it is incomplete */
        if (!tr->note[0]) snprintf(tr->note, sizeof tr->note, "collection switched %s failed: %s", on ? "on" : "off", msg);
        return;
    }
    tr->collecting = on;
}

static void open_window(zb_trace_run *tr)
{
    if (tr->window_open) return;
    tr->window_open = 1;
    zb_ranges_push(&tr->ranges, ZB_RANGE_PROFILE, 0);
    if (tr->traced) return; /* CUPTI's own switch does it */
    char msg[256];
    if (zb_profiler_switch(&tr->ranges, 1, msg, sizeof msg) != 0)
        say_once(tr, SAID_NO_PROFILER, "zbench: --profile-steps: %s; the window is marked by NVTX only\n", msg);
}

static void close_window(zb_trace_run *tr)
{
    if (!tr->window_open) return;
    tr->window_open = 0;
    if (!tr->traced) {
        char msg[256];
        (void)zb_profiler_switch(&tr->ranges, 0, msg, sizeof msg); /* a failure was said when opening */
    }
    zb_ranges_pop(&tr->ranges);
}

static void hook_begin(void *ctx, zb_phase phase, int rep, int step)
{
    zb_trace_run *tr = ctx;
    const int want = wanted(tr, phase, rep, step);
    if (window_set(tr) && want) open_window(tr);
    set_collecting(tr, want);
    zb_ranges_push(&tr->ranges,
                   phase == ZB_PHASE_DECODE    ? ZB_RANGE_DECODE_STEP
                   : phase == ZB_PHASE_PREFILL ? ZB_RANGE_PREFILL
                                               : ZB_RANGE_DEPTH,
                   step);
    if (tr->traced) tr->lib.api->push_phase(tr->tracer, zb_trace_phase_id((int)phase, rep, step));
}

static void hook_end(void *ctx, zb_phase phase, int rep, int step)
{
    zb_trace_run *tr = ctx;
    if (tr->traced) tr->lib.api->pop_phase(tr->tracer);
    zb_ranges_pop(&tr->ranges);
    /* the window closes after its last step, before the next reset */
    if (window_set(tr) && phase == ZB_PHASE_DECODE && rep >= 0 && step >= tr->window_last) {
        set_collecting(tr, 0);
        close_window(tr);
    }
}

/* --------------------------------------------------------------- the sweep */

void zb_trace_run_init(zb_trace_run *tr, const zb_run_opts *o)
{
    memset(tr, 0, sizeof *tr);
    tr->o = o;
    zb_ranges_init(&tr->ranges, o->nvtx);
    tr->hooks = (zb_phase_hooks){tr, hook_begin, hook_end};
}

/* Loads the tracer library, opens the store and subscribes to CUPTI;
 * on failure tr->unavailable says why. */
static void start_tracer(zb_trace_run *tr)
{
    char msg[400];
    /* ZBENCH_TRACE_FORCE=1 skips the guess and lets CUPTI itself decide */
    const char *force = getenv("ZBENCH_TRACE_FORCE");
    if (!(force && !strcmp(force, "1")) && zb_trace_detect_profiler(msg, sizeof msg)) {
        snprintf(tr->unavailable, sizeof tr->unavailable, "%s: zbench leaves CUPTI to it", msg);
        return;
    }
    if (zb_tracer_lib_load(&tr->lib, msg, sizeof msg) != 0) {
        snprintf(tr->unavailable, sizeof tr->unavailable, "%s", msg);
        return;
    }
    zb_error err = {{0}};
    if (zb_trace_store_open(tr->o->db_path, NULL, &tr->store, &err) != ZB_OK) {
        snprintf(tr->unavailable, sizeof tr->unavailable, "%s", err.msg);
        return;
    }
    zb_tracer_config cfg = {zb_trace_store_sink, tr->store, 0};
    if (tr->lib.api->start(&cfg, &tr->tracer, msg, sizeof msg) != 0) {
        snprintf(tr->unavailable, sizeof tr->unavailable, "%s", msg);
        zb_trace_store_close(tr->store);
        tr->store = NULL;
        tr->tracer = NULL;
    }
}

int zb_trace_run_available(zb_trace_run *tr, const zb_plugin_api *api, const zb_device_info *dev, char *why,
                           size_t len)
{
    if (!tr->o->trace) {
        snprintf(why, len, "--trace is off");
        return 0;
    }
    if (!(api->caps & ZB_CAP_GPU) || !dev->is_gpu) {
        snprintf(why, len, "plugin %s runs on the CPU; CUPTI traces GPU plugins only", api->name);
        say_once(tr, SAID_CPU, "zbench: --trace: %s: its runs are recorded untraced\n", why);
        return 0;
    }
    if (!tr->tracer && !tr->unavailable[0]) start_tracer(tr);
    if (tr->tracer) return 1;
    snprintf(why, len, "%s", tr->unavailable);
    say_once(tr, SAID_UNAVAILABLE, "zbench: --trace: %s: runs are recorded untraced\n", why);
    return 0;
}

/* ----------------------------------------------------------------- a run */

void zb_trace_run_begin(zb_trace_run *tr, int64_t run_id, int traced, const zb_plugin_api *api, zb_session *s,
                        int gen)
{
    tr->traced = traced && tr->tracer;
    tr->collecting = 0;
    tr->window_open = 0;
    tr->window_last = tr->o->profile_last < gen ? tr->o->profile_last : gen;
    tr->api = api;
    tr->session = NULL;
    tr->note[0] = '\0';
    zb_ranges_push(&tr->ranges, ZB_RANGE_RUN, 0);
    if (!tr->traced) return;
    zb_trace_store_begin_run(tr->store, run_id);
    tr->dropped_at_begin = tr->lib.api->dropped(tr->tracer);
    const zb_ext_trace_layers *ext = api->get_extension ? api->get_extension(ZB_EXT_TRACE_LAYERS) : NULL;
    if (!s) return;
    if (!ext) {
        snprintf(tr->note, sizeof tr->note, "plugin %s has no %s: kernels are attributed to phases, not layers",
                 api->name, ZB_EXT_TRACE_LAYERS);
        say_once(tr, SAID_NO_LAYERS, "zbench: --trace: %s\n", tr->note);
        return;
    }
    zb_trace_hooks hooks = {tr->tracer, tr->lib.api->push_layer, tr->lib.api->pop_layer};
    zb_error err = {{0}};
    if (ext->set_hooks(s, &hooks, &err) != ZB_OK)
        snprintf(tr->note, sizeof tr->note, "plugin %s refused the layer hooks: %s", api->name, err.msg);
    else tr->session = s;
}

const zb_phase_hooks *zb_trace_run_hooks(zb_trace_run *tr)
{
    return tr->traced || tr->ranges.domain || window_set(tr) ? &tr->hooks : NULL;
}

void zb_trace_run_end(zb_trace_run *tr, zb_trace_info *info)
{
    info->status = tr->traced ? "traced" : "untraced";
    info->profile_first = tr->o->profile_first;
    info->profile_last = tr->o->profile_last;
    close_window(tr); /* an interrupted run may leave it open */
    zb_ranges_pop(&tr->ranges);
    if (!tr->traced) return;
    info->note = tr->note; /* filled below when something goes wrong */
    char msg[256];
    set_collecting(tr, 0);
    if (tr->lib.api->flush(tr->tracer, msg, sizeof msg) != 0 && !tr->note[0])
        snprintf(tr->note, sizeof tr->note, "flushing the trace failed: %s", msg);
    if (tr->session) {
        const zb_ext_trace_layers *ext = tr->api->get_extension(ZB_EXT_TRACE_LAYERS);
        zb_error err = {{0}};
        (void)ext->set_hooks(tr->session, NULL, &err); /* removing cannot fail */
        tr->session = NULL;
    }
    zb_trace_counts c;
    zb_error err = {{0}};
    if (zb_trace_store_end_run(tr->store, &c, &err) != ZB_OK && !tr->note[0])
        snprintf(tr->note, sizeof tr->note, "%s", err.msg);
    info->records = c.records;
    info->lost = c.lost;
    info->unattributed = c.unattributed;
    info->batches = c.batches;
    info->batch_size = ZB_TRACE_BATCH_DEFAULT;
    info->dropped = (int64_t)(tr->lib.api->dropped(tr->tracer) - tr->dropped_at_begin);
    if (!tr->note[0]) info->note = NULL;
    tr->traced = 0;
}

void zb_trace_run_finish(zb_trace_run *tr)
{
    if (tr->tracer) {
        char msg[256];
        if (tr->lib.api->stop(tr->tracer, msg, sizeof msg) != 0) fprintf(stderr, "zbench: --trace: %s\n", msg);
        tr->tracer = NULL;
    }
    if (tr->store) {
        int64_t stray = zb_trace_store_stray(tr->store);
        if (stray > 0)
            fprintf(stderr, "zbench: --trace: %lld GPU activities came outside any run and were not recorded\n",
                    (long long)stray);
        zb_trace_store_close(tr->store);
        tr->store = NULL;
    }
    zb_ranges_free(&tr->ranges);
}
