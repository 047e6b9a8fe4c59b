/* zbench run: the sweep. Every combination of plugin x model x batch x seq
 * x gen x depth is one run, recorded in SQLite as it starts and completed
 * when it ends; runs sharing a plugin and model reuse the loaded weights,
 * unless each runs isolated in its own process (bench/isolate.h). */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "analytic.h"
#include "calibrate.h"
#include "commands.h"
#include "env_info.h"
#include "isolate.h"
#include "model.h"
#include "options.h"
#include "output.h"
#include "plugin_loader.h"
#include "recorder.h"
#include "signals.h"
#include "stats.h"
#include "trace_run.h"
#include "trace_summary.h"
#include "workload.h"
#include "zb_util.h"
#include "zb_version.h"

#define MEMORY_TOLERANCE 0.01 /* measured vs predicted, beyond which we warn */

typedef struct target {
    zb_plugin plugin;
    zb_device_info dev;
    zb_dtype dtype;
    zb_ceilings ceil;
    int have_ceil;
} target;

typedef struct sweep {
    const zb_run_opts *o;
    zb_db *db;
    zb_output out;
    zb_env env;
    char sweep_id[64];
    char cmdline[4096];
    int total, index;
    int not_ok, interrupted;
    int tty;
    /* isolation (bench/isolate.h): the parent's arguments for its children,
     * or, in a child, the one configuration it runs */
    int isolate, db_lost, child_interrupted, argc;
    char **argv;
    zb_child_spec child;
    zb_trace_run tr;                /* NVTX ranges, --trace, --profile-steps */
    zb_trace_summary_run *traced;   /* the runs to summarise at the end */
    int n_traced, cap_traced;
} sweep;

static zb_dtype pick_dtype(const zb_plugin_api *api, int requested)
{
    if (requested >= 0) return (zb_dtype)requested;
    return zb_plugin_default_dtype(api);
}

/* ------------------------------------------------------------ progress */

typedef struct progress_ctx {
    sweep *sw;
    const char *label;
    int reps;
} progress_ctx;

static void progress(void *p, int rep, int step, int steps)
{
    progress_ctx *c = p;
    if (c->sw->o->quiet || !c->sw->tty) return;
    fprintf(stderr, "\r\033[K[%d/%d] %s  %s %d/%d  step %d/%d", c->sw->index, c->sw->total, c->label,
            rep < 0 ? "warm-up" : "rep", rep < 0 ? 0 : rep + 1, c->reps, step, steps);
    fflush(stderr);
}

static void progress_line(sweep *sw, const char *fmt, const char *label, const char *what)
{
    if (sw->o->quiet) return;
    if (sw->tty) fputs("\r\033[K", stderr);
    fprintf(stderr, fmt, sw->index, sw->total, label, what);
}

/* --------------------------------------------------------- statistics */

typedef struct phase_stats {
    zb_summary s;
    double cv, tok_s, floor_ms, device_median;
} phase_stats;

static void stats_prefill(const zb_workload_result *r, const zb_workload *w, phase_stats *p)
{
    zb_summarize(r->prefill_ms, r->reps_done, &p->s);
    p->cv = zb_cv(r->prefill_ms, r->reps_done);
    p->tok_s = p->s.median > 0 ? (double)w->batch * w->seq / (p->s.median / 1e3) : 0.0;
    zb_summary dev;
    zb_summarize(r->prefill_dev_ms, r->reps_done, &dev);
    p->device_median = dev.min >= 0 ? dev.median : -1.0;
}

static void stats_decode(const zb_workload_result *r, const zb_workload *w, phase_stats *p)
{
    const int n = r->reps_done * w->gen;
    memset(&p->s, 0, sizeof p->s);
    p->cv = 0, p->tok_s = 0, p->device_median = -1;
    if (n == 0) return;
    zb_summarize(r->decode_ms, n, &p->s);
    /* the spread between repetitions: per-repetition mean step time */
    double *rep_mean = malloc(sizeof *rep_mean * (size_t)r->reps_done);
    for (int i = 0; rep_mean && i < r->reps_done; i++) {
        double sum = 0;
        for (int k = 0; k < w->gen; k++) sum += r->decode_ms[(size_t)i * w->gen + k];
        rep_mean[i] = sum / w->gen;
    }
    p->cv = rep_mean ? zb_cv(rep_mean, r->reps_done) : 0.0;
    free(rep_mean);
    p->tok_s = p->s.median > 0 ? (double)w->batch / (p->s.median / 1e3) : 0.0;
    zb_summary dev;
    zb_summarize(r->decode_dev_ms, n, &dev);
    p->device_median = dev.min >= 0 ? dev.median : -1.0;
}

static int add_stats(zb_stat *out, const char *phase, const phase_stats *p)
{
    const struct {
        const char *m;
        double v;
    } rows[] = {
        {"mean", p->s.mean},     {"median", p->s.median}, {"p90", p->s.p90},       {"p99", p->s.p99},
        {"min", p->s.min},       {"max", p->s.max},       {"stddev", p->s.stddev}, {"cv", p->cv},
        {"tokens_per_s", p->tok_s},
    };
    int n = 0;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) out[n++] = (zb_stat){phase, rows[i].m, rows[i].v};
    if (p->device_median >= 0) out[n++] = (zb_stat){phase, "device_median", p->device_median};
    if (p->floor_ms > 0) {
        out[n++] = (zb_stat){phase, "floor_ms", p->floor_ms};
        out[n++] = (zb_stat){phase, "pct_of_floor", 100.0 * p->floor_ms / p->s.median};
    }
    return n;
}

/* --------------------------------------------------------------- graphs */

/* The plugin's zb.graph_stats.v1 counters (since its session was created),
 * when it has them. */
static int graph_stats_now(const zb_plugin_api *api, zb_session *s, zb_graph_stats *out)
{
    const zb_ext_graph_stats *ext = api->get_extension ? api->get_extension(ZB_EXT_GRAPH_STATS) : NULL;
    zb_error e = {{0}};
    return ext && s && ext->get(s, out, &e) == ZB_OK;
}

/* Stats rows (phase "graph") for what a run did: counts over the run, and
 * the graphs held and decode graph size at its end. */
static int add_graph_stats(zb_stat *out, const zb_graph_stats *a, const zb_graph_stats *b)
{
    const struct {
        const char *m;
        double v;
    } rows[] = {
        {"captures", (double)(b->captures - a->captures)}, {"capture_ms", b->capture_ms - a->capture_ms},
        {"replays", (double)(b->replays - a->replays)},    {"eager", (double)(b->eager - a->eager)},
        {"graphs", (double)b->graphs},                     {"decode_nodes", (double)b->decode_nodes},
    };
    int n = 0;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) out[n++] = (zb_stat){"graph", rows[i].m, rows[i].v};
    return n;
}

/* -------------------------------------------------------------- memory */

static int memory_rows(const zb_memory_report *m, const zb_model *model, zb_dtype dtype, int batch, int64_t capacity,
                       zb_memory_row *rows, const char *label, int quiet)
{
    const zb_model_desc *d = &model->desc;
    int n = 0;
    rows[n++] = (zb_memory_row){"weights", (int64_t)m->weights_bytes, model->n_params * (int64_t)zb_dtype_size(dtype)};
    rows[n++] = (zb_memory_row){"kv", (int64_t)m->kv_bytes, zb_predict_kv_bytes(d, dtype, batch, capacity)};
    rows[n++] = (zb_memory_row){"state", (int64_t)m->state_bytes, zb_predict_state_bytes(d, dtype, batch)};
    rows[n++] = (zb_memory_row){"workspace", (int64_t)m->workspace_bytes, -1};
    if (m->device_total_bytes) rows[n++] = (zb_memory_row){"device_total", (int64_t)m->device_total_bytes, -1};
    if (m->device_peak_bytes) rows[n++] = (zb_memory_row){"device_peak", (int64_t)m->device_peak_bytes, -1};
    for (int i = 0; i < n && !quiet; i++) {
        const zb_memory_row *r = &rows[i];
        if (r->predicted <= 0) continue;
        double diff = ((double)r->measured - (double)r->predicted) / (double)r->predicted;
        if (fabs(diff) > MEMORY_TOLERANCE)
            fprintf(stderr, "zbench: warning: %s: %s measured %lld B, predicted %lld B (%+.1f%%)\n", label,
                    r->category, (long long)r->measured, (long long)r->predicted, 100.0 * diff);
    }
    return n;
}

/* ------------------------------------------------------------- one run */

typedef struct session_slot {
    zb_session *s;
} session_slot;

static zb_status open_session(const target *t, const zb_model *m, session_slot *slot, int batch, int64_t capacity,
                              int nvtx, zb_error *err)
{
    const zb_plugin_api *api = t->plugin.api;
    if (slot->s) {
        const zb_ext_resize *rz = api->get_extension ? api->get_extension(ZB_EXT_RESIZE) : NULL;
        if (rz) {
            zb_status st = rz->resize(slot->s, batch, (int32_t)capacity, err);
            if (st != ZB_OK) {
                api->destroy(slot->s);
                slot->s = NULL;
            }
            return st;
        }
        api->destroy(slot->s); /* no resize: reload for the new shape */
        slot->s = NULL;
    }
    zb_session_opts so = {batch, (int32_t)capacity, t->dtype, 0, nvtx ? ZB_OPT_NVTX : 0u};
    return api->create(&m->desc, &m->weights, &so, &slot->s, err);
}

static const char *status_of(zb_status st)
{
    return st == ZB_ERR_OOM ? "oom" : "failed";
}

static void run_label(char *buf, size_t n, const target *t, const zb_model *m, const zb_workload *w)
{
    snprintf(buf, n, "%s %s b=%d seq=%d gen=%d%s", t->plugin.api->name, m->desc.name, w->batch, w->seq, w->gen,
             w->depth ? " +depth" : "");
}

/* Everything that identifies a run, for its row. */
static zb_run_info run_info_of(const sweep *sw, const target *t, const zb_model *m, const zb_workload *w)
{
    const zb_run_opts *o = sw->o;
    const zb_plugin_api *api = t->plugin.api;
    const int64_t capacity = (int64_t)w->depth + w->seq + w->gen;
    zb_run_info info = {
        .sweep_id = sw->sweep_id, .tag = o->tag, .command_line = sw->cmdline,
        .plugin = api->name, .plugin_path = t->plugin.path, .plugin_abi = api->abi_version,
        .model = m->desc.name, .model_source = m->source,
        .layout = m->desc.layout == ZB_LAYOUT_ZAMBA ? "zamba" : "transformer",
        .dtype = zb_dtype_name(t->dtype), .n_params = m->n_params,
        .batch = w->batch, .seq = w->seq, .gen = w->gen, .depth = w->depth, .reps = w->reps,
        .warmup = w->warmup, .capacity = capacity, .seed = o->seed,
        .host = sw->env.host, .cpu = sw->env.cpu, .gpu = t->dev.is_gpu ? t->dev.name : "",
        .driver_version = t->dev.driver, .runtime_version = t->dev.runtime,
        .gpu_memory_bytes = t->dev.is_gpu ? t->dev.memory_bytes : 0,
        .zbench_version = ZB_VERSION, .git_commit = ZB_GIT_COMMIT,
    };
    return info;
}

/* The database refused a run's completion (a full disk, an I/O error, a
 * lock held past the timeout): its rows are lost. Record at least that it
 * failed and why, if one small write still goes through, and end the sweep,
 * since later runs could not be recorded either. One line on stderr. */
static void record_lost(sweep *sw, int64_t id, const zb_error *why, char *reason, size_t n)
{
    snprintf(reason, n, "results not recorded: %s", why->msg);
    zb_error e = {{0}};
    const int kept = zb_db_run_fail(sw->db, id, reason, &e) == ZB_OK;
    fprintf(stderr, "zbench: %s; run %lld %s, sweep stopped\n", why->msg, (long long)id,
            kept ? "recorded failed" : "left 'running'");
    sw->interrupted = sw->db_lost = 1;
}

/* How a run is traced (--trace); requested = 0: no trace row at all. */
typedef struct run_trace {
    int requested;
    int traced;           /* CUPTI records it */
    int baseline;         /* the untraced twin of --trace-overhead */
    const char *why;      /* untraced: why */
    int64_t baseline_id;  /* the twin of this traced run; <= 0: none */
    double baseline_prefill_ms, baseline_decode_ms;
} run_trace;

/* What the caller of run_one learns: the twin's medians. */
typedef struct run_outcome {
    int64_t id;
    int ok;
    double prefill_ms, decode_ms; /* medians; < 0 unknown */
} run_outcome;

static void keep_traced(sweep *sw, int64_t id, const char *label, double step_bytes)
{
    if (sw->n_traced == sw->cap_traced) {
        int cap = sw->cap_traced ? 2 * sw->cap_traced : 16;
        zb_trace_summary_run *v = realloc(sw->traced, (size_t)cap * sizeof *v);
        if (!v) {
            fprintf(stderr, "zbench: out of memory: run %lld is left out of the trace summaries\n", (long long)id);
            return;
        }
        sw->traced = v, sw->cap_traced = cap;
    }
    zb_trace_summary_run *r = &sw->traced[sw->n_traced++];
    r->run_id = id;
    snprintf(r->label, sizeof r->label, "%s", label);
    r->decode_step_bytes = step_bytes;
}

/* Losses in a trace are said when they happen, never only stored. */
static void warn_trace_losses(int64_t id, const zb_trace_info *ti)
{
    if (ti->dropped || ti->lost || ti->unattributed)
        fprintf(stderr,
                "zbench: --trace: run %lld: %lld records dropped (CUPTI buffers full), %lld lost (not stored),"
                " %lld without phase and layer\n",
                (long long)id, (long long)ti->dropped, (long long)ti->lost, (long long)ti->unattributed);
    if (ti->note) fprintf(stderr, "zbench: --trace: run %lld: %s\n", (long long)id, ti->note);
}

static void run_one(sweep *sw, const target *t, const zb_model *m, session_slot *slot, const zb_workload *w,
                    const run_trace *rt, run_outcome *out)
{
    const zb_run_opts *o = sw->o;
    const zb_plugin_api *api = t->plugin.api;
    const int64_t capacity = (int64_t)w->depth + w->seq + w->gen;
    char label[256];
    run_label(label, sizeof label, t, m, w);
    if (rt->baseline || rt->traced)
        snprintf(label + strlen(label), sizeof label - strlen(label), "%s",
                 rt->baseline ? " (untraced twin)" : " (traced)");
    out->id = -1, out->ok = 0, out->prefill_ms = out->decode_ms = -1.0;
    sw->index++;
    if (sw->child.index && sw->index != sw->child.index) return; /* an isolated child runs one configuration */
    progress_line(sw, "[%d/%d] %s: %s\n", label, "starting");

    const zb_run_info info = run_info_of(sw, t, m, w);
    zb_error err = {{0}};
    int64_t id = sw->child.run_id; /* a child completes the row its parent inserted */
    if (!sw->child.index && zb_db_run_begin(sw->db, &info, &id, &err) != ZB_OK) {
        fprintf(stderr, "zbench: %s\n", err.msg);
        sw->not_ok++;
        sw->interrupted = sw->db_lost = 1; /* a database that stops accepting runs ends the sweep */
        return;
    }

    zb_run_report rep = {
        .run_id = id, .plugin = api->name, .model = m->desc.name, .layout = info.layout, .dtype = info.dtype,
        .device = t->dev.name, .batch = w->batch, .seq = w->seq, .gen = w->gen, .depth = w->depth,
        .status = "ok", .prefill_floor_ms = -1, .decode_floor_ms = -1, .graph_captures = -1,
    };
    zb_workload_result r = {0};
    zb_memory_report mem = {0};
    zb_memory_row mrows[8];
    zb_stat stats[48];
    zb_graph_stats g0 = {0}, g1 = {0};
    int have_graphs = 0;
    int n_mem = 0, n_stats = 0;
    char errtext[sizeof err.msg] = "", lost[sizeof err.msg + 32];

    zb_status st = open_session(t, m, slot, w->batch, capacity, o->nvtx, &err);
    if (st == ZB_OK) have_graphs = graph_stats_now(api, slot->s, &g0);
    zb_trace_run_begin(&sw->tr, id, rt->traced, api, st == ZB_OK ? slot->s : NULL, w->gen);
    if (st == ZB_OK) {
        progress_ctx pc = {sw, label, w->reps};
        zb_workload wl = *w;
        wl.hooks = zb_trace_run_hooks(&sw->tr);
        st = zb_workload_run(api, slot->s, &m->desc, &wl, &r, progress, &pc, &err);
    }
    if (st == ZB_OK) st = api->memory(slot->s, &mem, &err);
    if (st == ZB_OK && have_graphs) have_graphs = graph_stats_now(api, slot->s, &g1);
    /* before a failed session goes: the hooks it holds are removed here */
    zb_trace_info ti = {0};
    zb_trace_run_end(&sw->tr, &ti);
    if (st != ZB_OK) {
        rep.status = status_of(st);
        snprintf(errtext, sizeof errtext, "%s", err.msg);
        rep.error = errtext;
        if (slot->s) { /* its state is unknown after an error */
            api->destroy(slot->s);
            slot->s = NULL;
        }
    } else if (r.interrupted) {
        rep.status = "interrupted";
        rep.error = "interrupted by signal";
    }
    if (st == ZB_OK) n_mem = memory_rows(&mem, m, t->dtype, w->batch, capacity, mrows, label, o->quiet);

    phase_stats pre = {{0}, 0, 0, -1, -1}, dec = {{0}, 0, 0, -1, -1};
    rep.reps = r.reps_done;
    if (r.reps_done > 0) {
        stats_prefill(&r, w, &pre);
        stats_decode(&r, w, &dec);
        if (t->have_ceil && t->ceil.gemm_tflops > 0)
            pre.floor_ms = zb_prefill_flops(&m->desc, w->batch, w->seq, w->depth) / (t->ceil.gemm_tflops * 1e12) * 1e3;
        if (t->have_ceil && t->ceil.copy_gbps > 0 && w->gen > 0) {
            /* the average step sees depth + seq + (gen - 1) / 2 cached tokens */
            int64_t ctx = (int64_t)w->depth + w->seq + (w->gen - 1) / 2;
            dec.floor_ms = zb_decode_step_bytes(&m->desc, t->dtype, w->batch, ctx) / (t->ceil.copy_gbps * 1e9) * 1e3;
        }
        n_stats = add_stats(stats, "prefill", &pre);
        if (w->gen > 0) n_stats += add_stats(stats + n_stats, "decode", &dec);
    }
    if (st == ZB_OK && have_graphs) {
        n_stats += add_graph_stats(stats + n_stats, &g0, &g1);
        rep.graph_captures = g1.captures - g0.captures;
        rep.graph_replays = g1.replays - g0.replays;
        rep.graph_capture_ms = g1.capture_ms - g0.capture_ms;
    }
    rep.prefill = pre.s, rep.decode = dec.s;
    rep.prefill_tok_s = pre.tok_s, rep.decode_tok_s = dec.tok_s;
    rep.prefill_cv = pre.cv, rep.decode_cv = dec.cv;
    rep.prefill_floor_ms = pre.floor_ms, rep.decode_floor_ms = dec.floor_ms;
    rep.weights_bytes = (int64_t)mem.weights_bytes, rep.kv_bytes = (int64_t)mem.kv_bytes;
    rep.state_bytes = (int64_t)mem.state_bytes, rep.device_total_bytes = (int64_t)mem.device_total_bytes;
    rep.prefill_ms = r.prefill_ms, rep.decode_ms = r.decode_ms;

    zb_result *results = calloc((size_t)r.reps_done * 2 + 1, sizeof *results);
    int n_res = 0;
    for (int i = 0; results && i < r.reps_done; i++) {
        results[n_res++] = (zb_result){"prefill", i, w->seq, r.prefill_ms[i], r.prefill_dev_ms[i]};
        if (w->gen > 0) {
            double sum = 0, dsum = 0;
            int have_dev = 1;
            for (int k = 0; k < w->gen; k++) {
                sum += r.decode_ms[(size_t)i * w->gen + k];
                double dv = r.decode_dev_ms[(size_t)i * w->gen + k];
                if (dv < 0) have_dev = 0;
                dsum += dv;
            }
            results[n_res++] = (zb_result){"decode", i, w->gen, sum, have_dev ? dsum : -1.0};
        }
    }
    out->prefill_ms = r.reps_done > 0 ? pre.s.median : -1.0;
    out->decode_ms = r.reps_done > 0 && w->gen > 0 ? dec.s.median : -1.0;
    if (rt->requested) {
        if (rt->baseline) {
            ti.status = "baseline";
            ti.note = "untraced twin of the next run (--trace-overhead)";
        } else if (!rt->traced) {
            ti.note = rt->why;
        }
        ti.prefill_median_ms = out->prefill_ms;
        ti.decode_median_ms = out->decode_ms;
        ti.baseline_run_id = rt->baseline_id;
        ti.baseline_prefill_median_ms = rt->baseline_prefill_ms;
        ti.baseline_decode_median_ms = rt->baseline_decode_ms;
    }
    zb_error dberr = {{0}};
    if (zb_db_run_end_trace(sw->db, id, rep.status, rep.error, results, n_res, r.samples, r.n_samples, stats,
                            n_stats, mrows, n_mem, rt->requested ? &ti : NULL, &dberr) != ZB_OK) {
        record_lost(sw, id, &dberr, lost, sizeof lost);
        rep.status = "failed";
        rep.error = lost;
    } else if (rt->traced) {
        warn_trace_losses(id, &ti);
        /* the average context of the decode steps traced */
        int first = o->profile_first > 0 ? o->profile_first : 1;
        int last = o->profile_first > 0 && o->profile_last < w->gen ? o->profile_last : w->gen;
        double step_bytes = w->gen > 0 ? zb_decode_step_bytes(&m->desc, t->dtype, w->batch,
                                                               (int64_t)w->depth + w->seq + (first + last) / 2 - 1)
                                       : -1.0;
        char what[320];
        snprintf(what, sizeof what, "%s %s (%s, %s) b=%d seq=%d gen=%d depth=%d", api->name, m->desc.name,
                 info.layout, info.dtype, w->batch, w->seq, w->gen, w->depth);
        keep_traced(sw, id, what, step_bytes);
    }
    out->id = id;
    out->ok = strcmp(rep.status, "ok") == 0;
    free(results);
    if (strcmp(rep.status, "ok") != 0) sw->not_ok++;
    if (r.interrupted) sw->interrupted = 1;
    char done[128] = "done";
    if (rep.graph_captures >= 0)
        snprintf(done, sizeof done, "done (CUDA graphs: %lld captured in %.1f ms, %lld replays)",
                 (long long)rep.graph_captures, rep.graph_capture_ms, (long long)rep.graph_replays);
    progress_line(sw, "[%d/%d] %s: %s\n", label, rep.error ? rep.error : done);
    zb_output_run(&sw->out, &rep);
    zb_workload_result_free(&r);
}

/* One configuration in a child process (bench/isolate.h): the row is
 * inserted here, the child runs and completes it; if the child dies
 * instead, the row says how. */
static void run_isolated(sweep *sw, const target *t, const zb_model *m, const zb_workload *w)
{
    char label[256], why[160];
    run_label(label, sizeof label, t, m, w);
    sw->index++;
    const zb_run_info info = run_info_of(sw, t, m, w);
    zb_error err = {{0}};
    int64_t id = -1;
    if (zb_db_run_begin(sw->db, &info, &id, &err) != ZB_OK) {
        fprintf(stderr, "zbench: %s\n", err.msg);
        sw->not_ok++;
        sw->interrupted = sw->db_lost = 1;
        return;
    }
    const zb_child_spec spec = {sw->index, id, sw->out.rows};
    zb_child_outcome oc;
    const char *status = "failed";
    int quietly = 0; /* an outcome that needs no warning if the child recorded the run */
    if (zb_isolate_run(sw->argc, sw->argv, &spec, &oc, &err) != ZB_OK) {
        snprintf(why, sizeof why, "%.150s", err.msg);
    } else if (oc.exited && oc.code >= ZB_CHILD_DONE && oc.code < ZB_CHILD_DONE + 8) {
        /* it ran: the row below is complete, printed, and counted here */
        const int bits = oc.code - ZB_CHILD_DONE;
        sw->out.flagged |= (bits & ZB_CHILD_FLAGGED) != 0;
        if (bits & ZB_CHILD_DB_LOST) { /* it said why; the database takes nothing more */
            sw->out.rows++;
            sw->not_ok++;
            sw->interrupted = sw->db_lost = 1;
            return;
        }
        snprintf(why, sizeof why, "its process ended without recording the run");
        quietly = 1;
    } else if (oc.exited && oc.code == 130) {
        /* interrupted; normally recorded so, unless before the run began */
        status = "interrupted";
        snprintf(why, sizeof why, "interrupted by signal");
        sw->interrupted = sw->child_interrupted = quietly = 1;
    } else if (oc.exited) {
        snprintf(why, sizeof why, "its process exited with status %d before recording the run", oc.code);
    } else {
        char sig[96];
        zb_describe_signal(oc.signal, sig, sizeof sig);
        /* our own SIGINT, passed on, may kill a child still starting up */
        const int ours = zb_interrupted() && (oc.signal == SIGINT || oc.signal == SIGTERM);
        status = ours ? "interrupted" : "crashed";
        snprintf(why, sizeof why, "%s %s", ours ? "interrupted by" : "killed by", sig);
        sw->interrupted |= ours;
    }
    /* a row the child completed stands (it also printed it) */
    char now[32] = "";
    zb_error e = {{0}};
    if (zb_db_run_status(sw->db, id, now, sizeof now, &e) == ZB_OK && strcmp(now, "running") != 0) {
        if (!quietly)
            fprintf(stderr, "zbench: run %lld (%s) %s after recording its result\n", (long long)id, label, why);
        sw->out.rows++;
        if (strcmp(now, "ok") != 0) sw->not_ok++;
        return;
    }
    if (zb_db_run_end(sw->db, id, status, why, NULL, 0, NULL, 0, NULL, 0, NULL, 0, &e) != ZB_OK) {
        fprintf(stderr, "zbench: %s\n", e.msg);
        sw->interrupted = sw->db_lost = 1;
    }
    sw->not_ok++;
    progress_line(sw, "[%d/%d] %s: %s\n", label, why);
    zb_run_report rep = {
        .run_id = id, .plugin = info.plugin, .model = info.model, .layout = info.layout, .dtype = info.dtype,
        .device = t->dev.name, .batch = w->batch, .seq = w->seq, .gen = w->gen, .depth = w->depth,
        .status = status, .error = why, .prefill_floor_ms = -1, .decode_floor_ms = -1, .graph_captures = -1,
    };
    zb_output_run(&sw->out, &rep);
}

/* A run with its trace: decided before the session is made (the tracer
 * must see the session's set-up, where a CUDA graph may be captured), and
 * with --trace-overhead an untraced twin first, whose medians the traced
 * run's trace row compares against. */
static void run_traced(sweep *sw, const target *t, const zb_model *m, session_slot *slot, const zb_workload *w)
{
    run_trace rt = {0};
    rt.baseline_prefill_ms = rt.baseline_decode_ms = -1.0;
    run_outcome out;
    char why[1024] = "";
    if (!sw->o->trace) {
        run_one(sw, t, m, slot, w, &rt, &out);
        return;
    }
    rt.requested = 1;
    rt.traced = zb_trace_run_available(&sw->tr, t->plugin.api, &t->dev, why, sizeof why);
    rt.why = why;
    if (rt.traced && sw->o->trace_overhead) {
        run_trace twin = rt;
        twin.traced = 0, twin.baseline = 1;
        run_one(sw, t, m, slot, w, &twin, &out);
        if (sw->interrupted || zb_interrupted()) return;
        if (out.ok) {
            rt.baseline_id = out.id;
            rt.baseline_prefill_ms = out.prefill_ms;
            rt.baseline_decode_ms = out.decode_ms;
        }
    }
    run_one(sw, t, m, slot, w, &rt, &out);
}

/* After the table: the summary of each traced run, on stdout with the
 * markdown table, on stderr with the machine-readable formats (which
 * must stay parseable). */
static void print_trace_summaries(sweep *sw)
{
    FILE *f = sw->o->output == ZB_OUT_MD ? stdout : stderr;
    if (f == stderr && sw->o->quiet) return;
    for (int i = 0; i < sw->n_traced; i++) {
        zb_error err = {{0}};
        if (zb_trace_summary_print(f, sw->o->db_path, &sw->traced[i], ZB_TRACE_SUMMARY_TOP, &err) != ZB_OK)
            fprintf(stderr, "zbench: %s\n", err.msg);
    }
    fflush(f);
}

/* ----------------------------------------------------------- the sweep */

static int load_targets(const zb_run_opts *o, target *targets, int *n, zb_error *err)
{
    *n = 0;
    if (o->plugins.n == 0) {
        if (!zb_default_plugin(&targets[0].plugin, err)) return 0;
        *n = 1;
    } else {
        for (int i = 0; i < o->plugins.n; i++) {
            if (zb_plugin_load(o->plugins.v[i], &targets[i].plugin, err) != ZB_OK) return 0;
            *n = i + 1;
        }
    }
    for (int i = 0; i < *n; i++) {
        target *t = &targets[i];
        const zb_plugin_api *api = t->plugin.api;
        zb_error e;
        if (api->device_info(0, &t->dev, &e) != ZB_OK) {
            zb_fail(err, ZB_ERR_INVALID, "plugin %s cannot run here: %s", api->name, e.msg);
            return 0;
        }
        t->dtype = pick_dtype(api, o->dtype);
        if (!(api->dtypes & ZB_DTYPE_BIT(t->dtype))) {
            zb_fail(err, ZB_ERR_INVALID, "--dtype %s: plugin %s does not support it", zb_dtype_name(t->dtype),
                    api->name);
            return 0;
        }
    }
    return 1;
}

static int validate(const zb_run_opts *o, const target *targets, int nt, const zb_model *models, int nm, int quiet,
                    zb_error *err)
{
    for (int i = 0; i < nt; i++)
        for (int b = 0; b < o->batches.n; b++)
            if (o->batches.v[b] > targets[i].plugin.api->max_batch) {
                zb_fail(err, ZB_ERR_INVALID, "--batch %lld exceeds plugin %s's maximum of %d",
                        (long long)o->batches.v[b], targets[i].plugin.api->name, targets[i].plugin.api->max_batch);
                return 0;
            }
    int64_t longest = 0;
    for (int s = 0; s < o->seqs.n; s++)
        for (int g = 0; g < o->gens.n; g++)
            for (int d = 0; d < o->depths.n; d++) {
                int64_t cap = o->seqs.v[s] + o->gens.v[g] + o->depths.v[d];
                if (cap > ZB_MAX_CONTEXT) {
                    zb_fail(err, ZB_ERR_INVALID,
                            "capacity depth %lld + seq %lld + gen %lld = %lld tokens exceeds the limit of %d",
                            (long long)o->depths.v[d], (long long)o->seqs.v[s], (long long)o->gens.v[g],
                            (long long)cap, ZB_MAX_CONTEXT);
                    return 0;
                }
                if (cap > longest) longest = cap;
            }
    for (int i = 0; i < nm && !quiet; i++)
        if (models[i].desc.layout == ZB_LAYOUT_TRANSFORMER && longest > models[i].desc.max_positions)
            fprintf(stderr, "zbench: note: %s: %lld tokens exceed max_position_embeddings %d (RoPE extrapolates)\n",
                    models[i].desc.name, (long long)longest, models[i].desc.max_positions);
    return 1;
}

int zb_cmd_run(int argc, char **argv)
{
    zb_run_opts o;
    zb_error err = {{0}};
    int help = 0;
    /* first thing: a signal during set-up must not be lost (a shell may have
     * started us with SIGINT ignored) */
    zb_signals_install();
    zb_child_spec child;
    if (zb_isolate_take_child_args(&argc, argv, &child, &err) != ZB_OK ||
        zb_parse_run_opts(argc, argv, &o, &help, &err) != ZB_OK) {
        fprintf(stderr, "zbench: %s\n", err.msg);
        return 2;
    }
    if (help) {
        zb_run_usage(stdout);
        zb_run_opts_free(&o);
        return 0;
    }
    target targets[64];
    zb_model models[64];
    int nt = 0, nm = 0, rc = 2;
    zb_db *db = NULL;
    if (!load_targets(&o, targets, &nt, &err)) goto fail;
    {
        const char *defaults[1] = {targets[0].dev.is_gpu ? "zamba-7b" : "zamba-tiny"};
        int count = o.model_config ? 1 : o.models.n ? o.models.n : 1;
        for (int i = 0; i < count; i++) {
            const char *spec = o.model_config ? "" : o.models.n ? o.models.v[i] : defaults[0];
            if (zb_model_load(spec, o.model_config, o.seed, &models[i], &err) != ZB_OK) goto fail;
            nm = i + 1;
        }
    }
    /* an isolated child leaves the notes to its parent, which gave them once */
    if (!validate(&o, targets, nt, models, nm, o.quiet || child.index, &err)) goto fail;
    if (zb_db_open(o.db_path, &db, &err) != ZB_OK) goto fail;

    sweep sw = {0};
    sw.o = &o;
    sw.db = db;
    sw.tty = isatty(STDERR_FILENO);
    zb_env_read(&sw.env);
    zb_sweep_id(sw.sweep_id, sizeof sw.sweep_id);
    zb_command_line(argc, argv, sw.cmdline, sizeof sw.cmdline);
    sw.total = nt * nm * o.batches.n * o.seqs.n * o.gens.n * o.depths.n;
    sw.child = child;
    sw.argc = argc, sw.argv = argv;
    /* --trace keeps the sweep in this process: CUPTI records the process
     * it runs in, and the untraced twin of --trace-overhead must share it */
    sw.isolate = !child.index && !o.trace && zb_isolate_allowed() && (o.isolate > 0 || (o.isolate < 0 && sw.total > 1));
    if (o.trace && o.isolate > 0 && !o.quiet)
        fprintf(stderr, "zbench: note: --trace runs the sweep in this process; --isolate is ignored\n");
    if (o.trace_overhead) { /* the twins, of GPU runs only */
        int gpu = 0;
        for (int i = 0; i < nt; i++) gpu += targets[i].dev.is_gpu != 0;
        sw.total += gpu * nm * o.batches.n * o.seqs.n * o.gens.n * o.depths.n;
    }
    zb_trace_run_init(&sw.tr, &o);
    for (int i = 0; i < nt; i++) {
        zb_error e = {{0}};
        targets[i].have_ceil = zb_ceilings_for(db, targets[i].plugin.api, &targets[i].dev, sw.env.host,
                                               &targets[i].ceil, &e) == ZB_OK;
        if (!targets[i].have_ceil && !o.quiet && !child.index)
            fprintf(stderr, "zbench: warning: no ceilings for %s, floors omitted: %s\n", targets[i].dev.name, e.msg);
    }
    if (child.index) sw.out = (zb_output){stdout, o.output, child.rows, 0}; /* the parent's table goes on */
    else zb_output_begin(&sw.out, stdout, o.output);
    for (int i = 0; i < nt && !sw.interrupted; i++)
        for (int j = 0; j < nm && !sw.interrupted; j++) {
            session_slot slot = {NULL};
            for (int b = 0; b < o.batches.n && !sw.interrupted; b++)
                for (int s = 0; s < o.seqs.n && !sw.interrupted; s++)
                    for (int g = 0; g < o.gens.n && !sw.interrupted; g++)
                        for (int d = 0; d < o.depths.n && !sw.interrupted; d++) {
                            if (sw.index > 0 && o.delay_s > 0 && !child.index) {
                                struct timespec ts = {(time_t)o.delay_s,
                                                      (long)((o.delay_s - (double)(time_t)o.delay_s) * 1e9)};
                                nanosleep(&ts, NULL);
                            }
                            if (zb_interrupted()) { /* no new run after a signal */
                                sw.interrupted = 1;
                                break;
                            }
                            zb_workload w = {(int)o.batches.v[b], (int)o.seqs.v[s], (int)o.gens.v[g],
                                             (int)o.depths.v[d], o.reps, o.warmup, o.seed, NULL};
                            if (sw.isolate) run_isolated(&sw, &targets[i], &models[j], &w);
                            else run_traced(&sw, &targets[i], &models[j], &slot, &w);
                        }
            if (slot.s) targets[i].plugin.api->destroy(slot.s);
        }
    if (child.index)
        rc = zb_interrupted() ? 130
                              : ZB_CHILD_DONE | (sw.not_ok ? ZB_CHILD_NOT_OK : 0) | (sw.db_lost ? ZB_CHILD_DB_LOST : 0) |
                                    (sw.out.flagged ? ZB_CHILD_FLAGGED : 0);
    else {
        zb_output_end(&sw.out);
        rc = zb_interrupted() || sw.child_interrupted ? 130 : sw.interrupted || sw.not_ok ? 1 : 0;
    }
    zb_trace_run_finish(&sw.tr);
    print_trace_summaries(&sw);
    free(sw.traced);
    goto done;
fail:
    fprintf(stderr, "zbench: %s\n", err.msg);
done:
    if (db) zb_db_close(db);
    for (int i = 0; i < nm; i++) zb_model_free(&models[i]);
    zb_run_opts_free(&o);
    return rc;
}
