/* The report's content: what it says, in which order. Rendering to HTML
 * and markdown is doc.c's; the charts were built by report_charts.c. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "analytic.h"
#include "gnuplot.h"
#include "options.h"
#include "report.h"
#include "report_crossover.h"
#include "rformat.h"
#include "zb_util.h"
#include "zb_version.h"

/* Distinct values of one text field over the ok runs, "a, b, c". */
static const char *distinct(const zb_rset *set, zb_arena *a, const char *(*field)(const zb_rrun *))
{
    zb_buf b = {0};
    for (int i = 0; i < set->n; i++) {
        const char *v = field(&set->runs[i]);
        int seen = 0;
        for (int j = 0; j < i && !seen; j++) seen = !strcmp(field(&set->runs[j]), v);
        if (!seen) zb_buf_printf(&b, "%s%s", b.len ? ", " : "", *v ? v : "(none)");
    }
    const char *out = zb_arena_strdup(a, b.oom ? "?" : zb_buf_str(&b));
    zb_buf_free(&b);
    return out;
}
static const char *f_plugin(const zb_rrun *r) { return r->plugin; }
static const char *f_model(const zb_rrun *r) { return r->model; }
static const char *f_device(const zb_rrun *r) { return r->device; }

static void chart(const zb_report_ctx *c, zb_doc *d, int which)
{
    const zb_chart *ch = &c->charts[which];
    zb_doc_chart(d, ch->name, ch->title, c->chart_svg[which], c->chart_note[which]);
}

/* ------------------------------------------------------------ crossover */

static void crossover_item(zb_doc *d, const char *lead, const zb_crossover *x, const char *a, const char *b,
                           const char *what, const char *unit, int analytic)
{
    zb_buf t = {0};
    zb_cross_sentence(&t, x, a, b, what, unit, analytic);
    zb_doc_item(d, lead, "%s", t.oom ? "(out of memory)" : zb_buf_str(&t));
    zb_buf_free(&t);
}

static void section_crossover(const zb_report_ctx *c, zb_doc *d)
{
    const zb_series_set *ss = c->ss;
    zb_doc_heading(d, 1, "Crossover: where Zamba pulls ahead");
    int pairs = 0, zambas = 0, transformers = 0;
    for (int i = 0; i < ss->n; i++) {
        zambas += ss->v[i].is_zamba;
        transformers += !ss->v[i].is_zamba;
    }
    for (int i = 0; i < ss->n; i++)
        for (int j = 0; j < ss->n; j++) {
            const zb_series *z = &ss->v[i], *t = &ss->v[j];
            if (!zb_cross_pair(z, t)) continue;
            pairs++;
            char h[512];
            snprintf(h, sizeof h, "%s against %s (%s on %s, %s, batch %d)", z->model, t->model, z->plugin, z->device,
                     z->dtype, z->batch);
            zb_doc_heading(d, 2, h);
            zb_crossover x;
            zb_crossover_curves(z->lat, z->n_lat, t->lat, t->n_lat, &x);
            crossover_item(d, "Decode latency, measured:", &x, z->model, t->model, "decode latency",
                           "tokens of context", 0);
            zb_cross_analytic_latency(z, t, ZB_MAX_CONTEXT, &x);
            if (x.kind != ZB_CROSS_DISJOINT)
                crossover_item(d, "Decode latency, bandwidth floor:", &x, z->model, t->model, "decode latency floor",
                               "tokens of context", 1);
            int nz, nt;
            zb_rpoint *mz = zb_series_memory_curve(&d->arena, z, &nz);
            zb_rpoint *mt = zb_series_memory_curve(&d->arena, t, &nt);
            if (mz && mt) {
                zb_crossover_curves(mz, nz, mt, nt, &x);
                crossover_item(d, "Memory, measured:", &x, z->model, t->model,
                               "memory (weights + KV cache + SSM state)", "tokens", 0);
            }
            zb_cross_analytic_memory(z, t, ZB_MAX_CONTEXT, &x);
            if (x.kind != ZB_CROSS_DISJOINT)
                crossover_item(d, "Memory, analytic:", &x, z->model, t->model,
                               "memory (weights + KV cache + SSM state)", "tokens", 1);
        }
    if (pairs) return;
    if (!zambas || !transformers)
        zb_doc_para(d, NULL,
                    "No crossover to report: the selection has %s. Select runs of both layouts (for example "
                    "--model zamba-7b,llama2-7b,mistral-7b in one sweep).",
                    !zambas && !transformers ? "no ok runs"
                    : !zambas               ? "no Zamba runs"
                                            : "no transformer runs");
    else
        zb_doc_para(d, NULL,
                    "No crossover to report: no Zamba and transformer runs share plugin, device, dtype and batch.");
}

/* --------------------------------------------------------------- memory */

static const char *fit_text(zb_arena *a, const zb_fit *f)
{
    char n[32];
    switch (f->kind) {
    case ZB_FIT_NA_CPU: return "- (CPU: no device memory)";
    case ZB_FIT_NA_MODEL: return "- (model shape unknown)";
    case ZB_FIT_NONE: return "nothing: weights and state alone exceed it";
    case ZB_FIT_TOKENS: return zb_arena_printf(a, "%s tokens", zb_fmt_count(n, sizeof n, f->tokens));
    case ZB_FIT_WINDOW:
        return zb_arena_printf(a, "unbounded (the KV cache stops at the %s-token window)",
                               zb_fmt_count(n, sizeof n, f->window));
    case ZB_FIT_NO_KV: return "unbounded (no KV cache)";
    }
    return "?";
}

static void series_memory_table(const zb_report_ctx *c, zb_doc *d)
{
    zb_table *t = zb_table_new(d, "series|KV cache per token|SSM state|weights|device memory|longest context that fits",
                               "lrrrrl");
    for (int k = 0; k < c->ss->n; k++) {
        const zb_series *s = &c->ss->v[k];
        char kv[32] = "-", st[32] = "-", w[32], dm[32] = "-";
        zb_fit fit;
        zb_series_fit(s, &fit);
        if (s->have_desc) {
            zb_fmt_bytes(kv, sizeof kv, (double)zb_kv_bytes_per_token(&s->desc, s->dt) * s->batch);
            zb_fmt_bytes(st, sizeof st, zb_series_state_bytes(s));
        }
        zb_fmt_bytes(w, sizeof w, s->weights_bytes);
        if (s->is_gpu && s->gpu_memory_bytes > 0) zb_fmt_bytes(dm, sizeof dm, (double)s->gpu_memory_bytes);
        const char *row[] = {s->label, kv, st, w, dm, fit_text(&d->arena, &fit)};
        zb_table_row(d, t, row);
    }
    zb_doc_table(d, t);
}

/* The three 7B layouts by the analytic model alone (bf16, batch 1), so the
 * comparison the suite exists for is in every report, measured or not. */
static void section_7b(const zb_report_ctx *c, zb_doc *d)
{
    const char *dev_name[8];
    int64_t dev_bytes[8];
    int reference;
    const int nd = zb_report_gpus(c->ss, dev_name, dev_bytes, 8, &reference);

    zb_doc_heading(d, 2, "The 7B layouts by the analytic model (bf16, batch 1)");
    chart(c, d, ZB_CHART_MEMORY_7B);
    zb_buf heads = {0};
    zb_buf_puts(&heads, "model|KV cache per token|SSM state|weights|total at 4,096|total at 32,768|total at 131,072");
    for (int j = 0; j < nd; j++) zb_buf_printf(&heads, "|fits in %s", dev_name[j]);
    char aligns[ZB_TABLE_MAX_COLS + 1] = "lrrrrrr";
    for (int j = 0; j < nd && 7 + j < ZB_TABLE_MAX_COLS; j++) aligns[7 + j] = 'r';
    aligns[7 + nd < ZB_TABLE_MAX_COLS ? 7 + nd : ZB_TABLE_MAX_COLS] = '\0';
    zb_table *t = zb_table_new(d, heads.oom ? "model" : zb_buf_str(&heads), aligns);
    zb_buf_free(&heads);
    zb_series s7[ZB_N_7B];
    for (int i = 0; i < ZB_N_7B; i++) {
        zb_series_from_preset(&s7[i], zb_7b_presets[i], "bf16", 1, dev_bytes[0]);
        const zb_series *s = &s7[i];
        if (!s->have_desc) continue;
        char cell[ZB_TABLE_MAX_COLS][64];
        const char *row[ZB_TABLE_MAX_COLS];
        int n = 0;
        snprintf(cell[n], 64, "%s", s->model), n++;
        zb_fmt_bytes(cell[n++], 64, (double)zb_kv_bytes_per_token(&s->desc, s->dt));
        zb_fmt_bytes(cell[n++], 64, zb_series_state_bytes(s));
        zb_fmt_bytes(cell[n++], 64, s->weights_bytes);
        zb_fmt_bytes(cell[n++], 64, zb_series_total_bytes(s, 4096));
        zb_fmt_bytes(cell[n++], 64, zb_series_total_bytes(s, 32768));
        zb_fmt_bytes(cell[n++], 64, zb_series_total_bytes(s, 131072));
        for (int j = 0; j < nd && n < ZB_TABLE_MAX_COLS; j++) {
            zb_series sd = *s;
            sd.gpu_memory_bytes = dev_bytes[j];
            zb_fit fit;
            zb_series_fit(&sd, &fit);
            snprintf(cell[n++], 64, "%s", fit_text(&d->arena, &fit));
        }
        for (int k = 0; k < n; k++) row[k] = cell[k];
        zb_table_row(d, t, row);
    }
    zb_doc_table(d, t);
    if (reference)
        zb_doc_para(d, NULL, "No GPU runs are selected: an 80 GiB device stands in for reference.");
    for (int i = 1; i < ZB_N_7B; i++) {
        if (!s7[0].have_desc || !s7[i].have_desc) continue;
        zb_crossover x;
        zb_cross_analytic_memory(&s7[0], &s7[i], ZB_MAX_CONTEXT, &x);
        crossover_item(d, "Analytic:", &x, s7[0].model, s7[i].model, "memory (weights + KV cache + SSM state)",
                       "tokens", 1);
    }
}

static void section_memory(const zb_report_ctx *c, zb_doc *d)
{
    zb_doc_heading(d, 1, "Memory vs sequence length");
    zb_doc_para(d, NULL,
                "Lines are the analytic model (bench/analytic.c) evaluated for each series' model, dtype and "
                "batch; points are what the plugin reported for each run, at the length its caches were sized "
                "for (depth + seq + gen). Total = weights + KV cache + SSM state. A GPU's memory is the grey "
                "dash-dotted horizontal line, and a star marks the longest context that fits in it.");
    chart(c, d, ZB_CHART_MEMORY);
    series_memory_table(c, d);
    chart(c, d, ZB_CHART_MEMORY_IN_USE);
    section_7b(c, d);
}

/* -------------------------------------------------------------- latency */

static void section_speed(const zb_report_ctx *c, zb_doc *d)
{
    zb_doc_heading(d, 1, "Decode: latency and throughput vs context length");
    zb_doc_para(d, NULL,
                "Each point is the median over repetitions (and over runs that measured the same length) of "
                "one decode step's host time at that context length. Dashed: the bandwidth floor, the time "
                "to move the step's bytes (weights, KV read and written, state) at the calibrated copy rate.");
    chart(c, d, ZB_CHART_DECODE_LATENCY);
    chart(c, d, ZB_CHART_DECODE_THROUGHPUT);
    zb_doc_heading(d, 1, "Prefill: time and throughput vs prompt length");
    zb_doc_para(d, NULL,
                "Median prefill time per run. Dashed: the compute floor, the prefill's FLOPs at the calibrated "
                "dense rate.");
    chart(c, d, ZB_CHART_PREFILL_TIME);
    chart(c, d, ZB_CHART_PREFILL_THROUGHPUT);
    zb_doc_heading(d, 1, "Share of the roofline floor");
    chart(c, d, ZB_CHART_PCT_OF_FLOOR);
    for (int k = 0; k < c->ss->n; k++) {
        const zb_series *s = &c->ss->v[k];
        if (s->have_desc && (!(s->copy_gbps > 0) || !(s->gemm_tflops > 0)))
            zb_doc_item(d, NULL, "%s: no %s calibration for %s, so no %s floor (run zbench calibrate).", s->label,
                        s->copy_gbps > 0 ? "dense-rate" : "bandwidth", s->device,
                        s->copy_gbps > 0 ? "prefill" : "decode");
    }
}

/* -------------------------------------------------------------- kernels */

static void section_kernels(const zb_report_ctx *c, zb_doc *d)
{
    const zb_kernel_data *k = c->kd;
    zb_doc_heading(d, 1, "Kernel time by class");
    if (k->n == 0 || k->n_cls == 0) {
        zb_doc_para(d, NULL, "%s: runs recorded with tracing on show here where their kernel time goes.",
                    k->note[0] ? k->note : "no traced runs");
        return;
    }
    chart(c, d, ZB_CHART_KERNELS);
    zb_buf heads = {0};
    zb_buf_puts(&heads, "model|plugin|phase|runs|kernels|kernel ms");
    char aligns[ZB_TABLE_MAX_COLS + 1] = "lllrrr";
    int ncls = k->n_cls < ZB_TABLE_MAX_COLS - 6 ? k->n_cls : ZB_TABLE_MAX_COLS - 6;
    for (int i = 0; i < ncls; i++) {
        zb_buf_printf(&heads, "|%s %%", k->cls[i]);
        aligns[6 + i] = 'r';
    }
    aligns[6 + ncls] = '\0';
    zb_table *t = zb_table_new(d, heads.oom ? "model" : zb_buf_str(&heads), aligns);
    zb_buf_free(&heads);
    for (int b = 0; b < k->n; b++) {
        const zb_kbar *bar = &k->v[b];
        char cell[ZB_TABLE_MAX_COLS][48];
        const char *row[ZB_TABLE_MAX_COLS];
        double total = zb_kbar_total(k, bar);
        snprintf(cell[3], 48, "%d", bar->runs);
        zb_fmt_count(cell[4], 48, bar->kernels);
        zb_fmt_num(cell[5], 48, total);
        row[0] = bar->model, row[1] = bar->plugin, row[2] = bar->phase;
        for (int i = 3; i < 6; i++) row[i] = cell[i];
        for (int i = 0; i < ncls; i++) {
            snprintf(cell[6 + i], 48, "%.1f", total > 0 ? 100.0 * bar->ms[i] / total : 0.0);
            row[6 + i] = cell[6 + i];
        }
        zb_table_row(d, t, row);
    }
    zb_doc_table(d, t);
}

/* ----------------------------------------------------------------- runs */

static void section_runs(const zb_report_ctx *c, zb_doc *d)
{
    const zb_rset *set = c->set;
    zb_doc_heading(d, 1, "Runs");
    zb_table *t = zb_table_new(d,
                               "id|status|plugin|model|dtype|batch|seq|gen|depth|prefill ms|prefill tok/s|"
                               "decode ms/token|decode tok/s|% floor prefill|% floor decode|KV + state",
                               "rllllrrrrrrrrrrr");
    for (int i = 0; i < set->n; i++) {
        const zb_rrun *r = &set->runs[i];
        char v[16][40];
        snprintf(v[0], 40, "%lld", (long long)r->id);
        snprintf(v[1], 40, "%d", r->batch);
        snprintf(v[2], 40, "%d", r->seq);
        snprintf(v[3], 40, "%d", r->gen);
        snprintf(v[4], 40, "%d", r->depth);
        zb_fmt_num(v[5], 40, r->pre.median);
        zb_fmt_num(v[6], 40, r->pre.tok_s);
        zb_fmt_num(v[7], 40, r->dec.median);
        zb_fmt_num(v[8], 40, r->dec.tok_s);
        zb_fmt_num(v[9], 40, r->pre.pct_of_floor);
        zb_fmt_num(v[10], 40, r->dec.pct_of_floor);
        if (r->mem_measured[ZB_MEM_KV] >= 0 && r->mem_measured[ZB_MEM_STATE] >= 0)
            zb_fmt_bytes(v[11], 40, (double)r->mem_measured[ZB_MEM_KV] + (double)r->mem_measured[ZB_MEM_STATE]);
        else
            snprintf(v[11], 40, "-");
        const char *row[] = {v[0], r->status, r->plugin, r->model, r->dtype, v[1], v[2], v[3], v[4],
                             v[5], v[6],      v[7],      v[8],     v[9],     v[10], v[11]};
        zb_table_row(d, t, row);
    }
    zb_doc_table(d, t);
    if (set->n_ok < set->n) {
        zb_doc_heading(d, 2, "Runs that did not end ok");
        zb_doc_para(d, NULL, "These runs are listed above and left out of every chart and crossover.");
        for (int i = 0; i < set->n; i++) {
            const zb_rrun *r = &set->runs[i];
            if (r->ok) continue;
            zb_doc_item(d, NULL, "run %lld (%s %s, seq %d, gen %d): %s%s%s", (long long)r->id, r->plugin, r->model,
                        r->seq, r->gen, r->status, *r->error ? ": " : "", r->error);
        }
    }
}

/* ----------------------------------------------------------------- page */

void zb_report_doc(const zb_report_ctx *c, zb_doc *d)
{
    char sel[512];
    zb_sel_describe(c->sel, sel, sizeof sel);
    d->title = zb_arena_printf(&d->arena, "zbench report: %s (%s)", zb_basename(c->db_path), sel);
    const zb_rset *set = c->set;
    char when[32] = "";
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm)) strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
    zb_doc_para(d, NULL,
                "%d runs selected from %s (%d ok). Plugins: %s. Models: %s. Devices: %s. Written by zbench %s at %s.",
                set->n, c->db_path, set->n_ok, distinct(set, &d->arena, f_plugin), distinct(set, &d->arena, f_model),
                distinct(set, &d->arena, f_device), ZB_VERSION, when);
    if (c->gnuplot_missing)
        zb_doc_para(d, "Charts not drawn:",
                    "gnuplot is not installed. Install the Debian package %s (sudo apt-get install %s) and run zbench "
                    "report again; each chart's numbers are in its CSV file and its script in NAME.gp meanwhile.",
                    ZB_GNUPLOT_PACKAGE, ZB_GNUPLOT_PACKAGE);
    if (set->n_ok == 0)
        zb_doc_para(d, "No ok runs:", "none of the selected runs ended ok, so there is nothing to chart.");
    for (int k = 0; k < c->ss->n; k++)
        if (!c->ss->v[k].have_desc)
            zb_doc_item(d, "No analytic lines:", "%s", c->ss->v[k].desc_note[0] ? c->ss->v[k].desc_note
                                                                                  : c->ss->v[k].label);
    section_crossover(c, d);
    section_memory(c, d);
    section_speed(c, d);
    section_kernels(c, d);
    section_runs(c, d);
}
