/* The report's charts as data: for each series, its measured points and,
 * where the model description is known, the analytic line they should lie
 * on (bench/analytic.c, evaluated by series_model.c). One colour per
 * series; dash types tell the quantities of a chart apart. */
#include "report_charts.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "rformat.h"

enum { DASH_SOLID = 1, DASH_LONG = 2, DASH_SHORT = 3, DASH_DOT = 4 };
enum { PT_CIRCLE = 7, PT_SQUARE = 5, PT_TRIANGLE = 9, PT_DIAMOND = 13, PT_STAR = 3 };
#define GRID_PER_OCTAVE 8
#define GRID_MAX 512

/* ------------------------------------------------------------- helpers */

/* Integer lengths from lo to hi, about GRID_PER_OCTAVE per octave: the
 * analytic lines are drawn through these, smooth on a log axis. */
static int length_grid(double lo, double hi, double *x, int max)
{
    lo = fmax(1, floor(lo));
    hi = fmax(lo, ceil(hi));
    int n = 0;
    for (double v = lo; n < max - 1 && v < hi; v = fmax(v + 1, round(v * exp2(1.0 / GRID_PER_OCTAVE)))) x[n++] = v;
    x[n++] = hi;
    return n;
}

static zb_rpoint *points(zb_arena *a, int n)
{
    return zb_arena_alloc(a, sizeof(zb_rpoint) * (size_t)(n > 0 ? n : 1));
}

/* A series of chart c for zamba/transformer series s: its identity in the
 * CSV columns, "LABEL: WHAT" as its legend entry. */
static zb_chart_series *add(zb_chart *c, zb_arena *a, const zb_series *s, int color, const char *what,
                            const char *quantity, const char *source, zb_style style, int dash, int point)
{
    const char *title = zb_arena_printf(a, "%s: %s", s->label, what);
    if (!title) return NULL;
    zb_chart_series *cs = zb_chart_add(c, title, style, color, dash, point);
    if (!cs) return NULL;
    cs->model = s->model, cs->plugin = s->plugin, cs->device = s->device, cs->dtype = s->dtype;
    cs->batch = s->batch, cs->quantity = quantity, cs->source = source;
    return cs;
}

typedef double (*analytic_fn)(const zb_series *s, double x);

/* An analytic line of f over [lo, hi]; 0 when memory runs out. Points
 * where f is NaN stay in the data; the drawing and the CSV skip them. */
static int analytic_line(zb_chart *c, zb_arena *a, const zb_series *s, int color, const char *what,
                         const char *quantity, int dash, analytic_fn f, double lo, double hi)
{
    double x[GRID_MAX];
    int n = length_grid(lo, hi, x, GRID_MAX);
    zb_chart_series *cs = add(c, a, s, color, what, quantity, "analytic", ZB_STYLE_LINE, dash, 0);
    zb_rpoint *p = points(a, n);
    if (!cs || !p) return 0;
    for (int i = 0; i < n; i++) p[i] = (zb_rpoint){x[i], f(s, x[i])};
    cs->pts = p, cs->n = n;
    return 1;
}

/* One point per distinct x over the series' runs: the median of the runs'
 * values there (runs of one series at one length repeat one measurement).
 * fx and fy return NaN for a run that has no such value. */
typedef double (*run_fn)(const zb_series *s, const zb_rrun *r);

static zb_rpoint *per_length(zb_arena *a, const zb_series *s, run_fn fx, run_fn fy, int *n_out)
{
    *n_out = 0;
    zb_rpoint *all = points(a, s->n_runs);
    double *ys = zb_arena_alloc(a, sizeof *ys * (size_t)(s->n_runs ? s->n_runs : 1));
    if (!all || !ys) return NULL;
    int n = 0;
    for (int i = 0; i < s->n_runs; i++) {
        double x = fx(s, s->runs[i]), y = fy(s, s->runs[i]);
        if (isfinite(x) && isfinite(y)) all[n++] = (zb_rpoint){x, y};
    }
    *n_out = zb_median_per_x(all, n, ys);
    return all;
}

static int measured(zb_chart *c, zb_arena *a, const zb_series *s, int color, const char *what,
                    const char *quantity, zb_style style, int point, zb_rpoint *p, int n)
{
    if (n == 0) return 1;
    zb_chart_series *cs = add(c, a, s, color, what, quantity, "measured", style, DASH_SOLID, point);
    if (!cs) return 0;
    cs->pts = p, cs->n = n;
    return 1;
}

/* Applies f to every y of a curve, into a new array. */
static zb_rpoint *map_y(zb_arena *a, const zb_rpoint *in, int n, const zb_series *s, double (*f)(const zb_series *,
                                                                                                  zb_rpoint))
{
    zb_rpoint *p = points(a, n);
    if (!p) return NULL;
    for (int i = 0; i < n; i++) p[i] = (zb_rpoint){in[i].x, f(s, in[i])};
    return p;
}

/* ------------------------------------------------------ run quantities */

static double nan_if_neg(int64_t v) { return v < 0 ? NAN : (double)v; }
static double run_capacity(const zb_series *s, const zb_rrun *r) { (void)s; return (double)r->capacity; }
static double run_kv(const zb_series *s, const zb_rrun *r) { (void)s; return nan_if_neg(r->mem_measured[ZB_MEM_KV]); }
static double run_state(const zb_series *s, const zb_rrun *r)
{
    (void)s;
    return nan_if_neg(r->mem_measured[ZB_MEM_STATE]);
}
static double run_total(const zb_series *s, const zb_rrun *r)
{
    (void)s;
    return nan_if_neg(r->mem_measured[ZB_MEM_WEIGHTS]) + nan_if_neg(r->mem_measured[ZB_MEM_KV]) +
           nan_if_neg(r->mem_measured[ZB_MEM_STATE]);
}
static double run_seq(const zb_series *s, const zb_rrun *r)
{
    /* prefill at the series' smallest depth only: after a deeper cache it
     * is another curve */
    int min_depth = r->depth;
    for (int i = 0; i < s->n_runs; i++)
        if (s->runs[i]->depth < min_depth) min_depth = s->runs[i]->depth;
    return r->depth == min_depth ? (double)r->seq : NAN;
}
static double run_prefill_ms(const zb_series *s, const zb_rrun *r) { (void)s; return r->pre.median; }
static double run_prefill_tok_s(const zb_series *s, const zb_rrun *r) { (void)s; return r->pre.tok_s; }
static double run_prefill_pct(const zb_series *s, const zb_rrun *r) { (void)s; return r->pre.pct_of_floor; }
static double run_decode_ctx(const zb_series *s, const zb_rrun *r)
{
    (void)s;
    return r->gen > 0 ? (double)zb_run_decode_context(r) : NAN;
}
static double run_decode_pct(const zb_series *s, const zb_rrun *r) { (void)s; return r->dec.pct_of_floor; }

/* --------------------------------------------------- analytic functions */

static double an_total(const zb_series *s, double x) { return zb_series_total_bytes(s, x); }
static double an_kv(const zb_series *s, double x) { return zb_series_kv_bytes(s, x); }
static double an_state(const zb_series *s, double x) { (void)x; return zb_series_state_bytes(s); }
static double an_in_use(const zb_series *s, double x) { return zb_series_kv_bytes(s, x) + zb_series_state_bytes(s); }
static double an_decode_floor(const zb_series *s, double x) { return zb_series_decode_floor_ms(s, x); }
static double an_decode_ceiling(const zb_series *s, double x)
{
    return s->batch * 1e3 / zb_series_decode_floor_ms(s, x);
}
static double an_prefill_floor(const zb_series *s, double x) { return zb_series_prefill_floor_ms(s, x, 0); }
static double an_prefill_ceiling(const zb_series *s, double x)
{
    return s->batch * x * 1e3 / zb_series_prefill_floor_ms(s, x, 0);
}
static double to_tok_s(const zb_series *s, zb_rpoint p) { return p.y > 0 ? s->batch * 1e3 / p.y : NAN; }

/* The x range of a curve; lo and hi stay as they are when it is empty. */
static void x_range(const zb_rpoint *p, int n, double *lo, double *hi)
{
    if (n == 0) return;
    *lo = p[0].x, *hi = p[n - 1].x;
}

/* Bytes shown in the unit that suits the largest value. */
static void bytes_axis(zb_chart *c, zb_arena *a, const char *what)
{
    double max = 0;
    for (int i = 0; i < c->n; i++)
        for (int k = 0; k < c->s[i].n; k++)
            if (isfinite(c->s[i].pts[k].y) && c->s[i].pts[k].y > max) max = c->s[i].pts[k].y;
    for (int i = 0; i < c->nh; i++) max = fmax(max, c->h[i].y);
    const char *unit;
    c->yscale = zb_bytes_unit(max, &unit);
    c->ylabel = zb_arena_printf(a, "%s (%s, log scale)", what, unit);
}

/* ------------------------------------------------------------ memory */

void zb_memory_range(const zb_series_set *ss, double *lo, double *hi)
{
    *lo = INFINITY, *hi = 0;
    for (int k = 0; k < ss->n; k++) {
        const zb_series *s = &ss->v[k];
        for (int i = 0; i < s->n_runs; i++) {
            *lo = fmin(*lo, (double)s->runs[i]->capacity);
            *hi = fmax(*hi, (double)s->runs[i]->capacity);
        }
        zb_fit fit;
        zb_series_fit(s, &fit);
        if (fit.kind == ZB_FIT_TOKENS) *hi = fmax(*hi, 1.5 * (double)fit.tokens);
        if (fit.kind == ZB_FIT_WINDOW) *hi = fmax(*hi, 4.0 * (double)fit.window);
    }
    if (!(*hi > 0)) *lo = 1, *hi = 2;
    /* a margin around the measured lengths, and at most what zbench can run */
    *lo = fmax(1, floor(*lo / 2));
    *hi = fmin(fmax(*hi * 2, *lo + 1), 16.0 * ZB_MAX_CONTEXT);
}

static int chart_memory(const zb_series_set *ss, zb_arena *a, zb_chart *c)
{
    zb_chart_init(c, "memory", "Memory vs sequence length: KV cache, SSM state and total (weights + caches)",
                  "sequence length: tokens the cache holds (log scale)", "memory", "tokens", "bytes", 1, 1);
    double lo, hi;
    zb_memory_range(ss, &lo, &hi);
    for (int k = 0; k < ss->n; k++) {
        const zb_series *s = &ss->v[k];
        if (s->have_desc) {
            if (!analytic_line(c, a, s, k, "total, analytic", "total", DASH_SOLID, an_total, lo, hi)) return 0;
            if (zb_series_kv_bytes(s, 1) > 0 &&
                !analytic_line(c, a, s, k, "KV cache, analytic", "kv", DASH_LONG, an_kv, lo, hi))
                return 0;
            if (zb_series_state_bytes(s) > 0 &&
                !analytic_line(c, a, s, k, "SSM state, analytic", "state", DASH_SHORT, an_state, lo, hi))
                return 0;
        }
        int n;
        zb_rpoint *p = per_length(a, s, run_capacity, run_total, &n);
        if (!p || !measured(c, a, s, k, "total, measured", "total", ZB_STYLE_POINTS, PT_CIRCLE, p, n)) return 0;
        p = per_length(a, s, run_capacity, run_kv, &n);
        /* a transformer's state and a pure Mamba's KV are 0: nothing to show on a log axis */
        if (!p || !measured(c, a, s, k, "KV cache, measured", "kv", ZB_STYLE_POINTS, PT_SQUARE, p, n)) return 0;
        p = per_length(a, s, run_capacity, run_state, &n);
        if (!p) return 0;
        if ((zb_series_state_bytes(s) > 0 || !s->have_desc) &&
            !measured(c, a, s, k, "SSM state, measured", "state", ZB_STYLE_POINTS, PT_TRIANGLE, p, n))
            return 0;
        zb_fit fit;
        zb_series_fit(s, &fit);
        if (fit.kind == ZB_FIT_TOKENS) {
            zb_rpoint *f = points(a, 1);
            char cnt[32];
            const char *what = zb_arena_printf(a, "longest context that fits, %s tokens",
                                               zb_fmt_count(cnt, sizeof cnt, fit.tokens));
            if (!f || !what) return 0;
            f[0] = (zb_rpoint){(double)fit.tokens, (double)s->gpu_memory_bytes};
            zb_chart_series *cs = add(c, a, s, k, what, "fits", "analytic", ZB_STYLE_POINTS, DASH_SOLID, PT_STAR);
            if (!cs) return 0;
            cs->pts = f, cs->n = 1;
        }
    }
    /* each GPU's memory, once */
    for (int k = 0; k < ss->n; k++) {
        const zb_series *s = &ss->v[k];
        if (!s->is_gpu || s->gpu_memory_bytes <= 0) continue;
        int seen = 0;
        for (int j = 0; j < c->nh && !seen; j++) seen = !strcmp(c->h[j].device, s->device);
        if (seen) continue;
        char b[32];
        const char *t = zb_arena_printf(a, "device memory: %s (%s)", s->device,
                                        zb_fmt_bytes(b, sizeof b, (double)s->gpu_memory_bytes));
        if (!t || !zb_chart_hline_add(c, (double)s->gpu_memory_bytes, t, s->device, "device_memory")) return 0;
    }
    bytes_axis(c, a, "memory");
    return 1;
}

const char *const zb_7b_presets[ZB_N_7B] = {"zamba-7b", "llama2-7b", "mistral-7b"};

int zb_report_gpus(const zb_series_set *ss, const char **name, int64_t *bytes, int max, int *reference)
{
    int n = 0;
    for (int k = 0; k < ss->n && n < max; k++) {
        const zb_series *s = &ss->v[k];
        if (!s->is_gpu || s->gpu_memory_bytes <= 0) continue;
        int seen = 0;
        for (int j = 0; j < n && !seen; j++) seen = !strcmp(name[j], s->device);
        if (!seen) name[n] = s->device, bytes[n++] = s->gpu_memory_bytes;
    }
    *reference = n == 0;
    if (n == 0 && max > 0) name[0] = "80 GiB", bytes[0] = (int64_t)80 << 30, n = 1;
    return n;
}

/* The question the suite exists for, whatever was measured: the three 7B
 * layouts' memory by the analytic model, against the selection's GPUs. */
static int chart_memory_7b(const zb_series_set *ss, zb_arena *a, zb_chart *c)
{
    zb_chart_init(c, "memory_7b",
                  "The 7B layouts by the analytic model: weights + KV cache + SSM state (bf16, batch 1)",
                  "sequence length (tokens, log scale)", "memory", "tokens", "bytes", 1, 1);
    const char *dev[8];
    int64_t bytes[8];
    int reference;
    const int nd = zb_report_gpus(ss, dev, bytes, 8, &reference);
    for (int i = 0; i < ZB_N_7B; i++) {
        zb_series s;
        zb_series_from_preset(&s, zb_7b_presets[i], "bf16", 1, bytes[0]);
        if (!s.have_desc) continue;
        if (!analytic_line(c, a, &s, i, "total", "total", DASH_SOLID, an_total, 256, ZB_MAX_CONTEXT) ||
            !analytic_line(c, a, &s, i, "KV cache", "kv", DASH_LONG, an_kv, 256, ZB_MAX_CONTEXT))
            return 0;
        for (int j = 0; j < nd; j++) {
            s.gpu_memory_bytes = bytes[j];
            zb_fit fit;
            zb_series_fit(&s, &fit);
            if (fit.kind != ZB_FIT_TOKENS) continue;
            char cnt[32];
            const char *what = zb_arena_printf(a, "fits %s tokens in %s", zb_fmt_count(cnt, sizeof cnt, fit.tokens),
                                               dev[j]);
            zb_rpoint *f = points(a, 1);
            zb_chart_series *cs = what && f ? add(c, a, &s, i, what, "fits", "analytic", ZB_STYLE_POINTS, DASH_SOLID,
                                                  PT_STAR)
                                            : NULL;
            if (!cs) return 0;
            f[0] = (zb_rpoint){(double)fit.tokens, (double)bytes[j]};
            cs->pts = f, cs->n = 1, cs->device = dev[j];
        }
    }
    for (int j = 0; j < nd; j++) {
        char b[32];
        const char *t = reference ? "an 80 GiB device, for reference"
                                  : zb_arena_printf(a, "%s memory (%s)", dev[j],
                                                    zb_fmt_bytes(b, sizeof b, (double)bytes[j]));
        if (!t || !zb_chart_hline_add(c, (double)bytes[j], t, dev[j], "device_memory")) return 0;
    }
    bytes_axis(c, a, "memory");
    return 1;
}

static int chart_memory_in_use(const zb_series_set *ss, zb_arena *a, zb_chart *c)
{
    zb_chart_init(c, "memory_in_use", "KV cache + SSM state in use along the generation",
                  "context length (tokens, log scale)", "memory", "position", "bytes", 1, 1);
    for (int k = 0; k < ss->n; k++) {
        const zb_series *s = &ss->v[k];
        double lo = 1, hi = 2;
        x_range(s->use, s->n_use, &lo, &hi);
        if (s->n_use && s->have_desc &&
            !analytic_line(c, a, s, k, "KV + state in use, analytic", "kv_state", DASH_LONG, an_in_use, lo, hi))
            return 0;
        if (!measured(c, a, s, k, "KV + state in use, measured", "kv_state", ZB_STYLE_POINTS, PT_CIRCLE, s->use,
                      s->n_use))
            return 0;
    }
    bytes_axis(c, a, "memory in use");
    return 1;
}

/* ------------------------------------------------------------ latency */

static int chart_decode(const zb_series_set *ss, zb_arena *a, zb_chart *lat, zb_chart *thr)
{
    zb_chart_init(lat, "decode_latency", "Decode step latency vs context length (measured over the roofline floor)",
                  "context length (tokens, log scale)", "ms per decode step (log scale)", "position", "ms", 1, 1);
    zb_chart_init(thr, "decode_throughput", "Decode throughput vs context length",
                  "context length (tokens, log scale)", "tokens/s, whole batch (log scale)", "position",
                  "tokens_per_s", 1, 1);
    for (int k = 0; k < ss->n; k++) {
        const zb_series *s = &ss->v[k];
        if (s->n_lat == 0) continue;
        double lo = s->lat[0].x, hi = s->lat[s->n_lat - 1].x;
        if (s->have_desc && s->copy_gbps > 0) {
            if (!analytic_line(lat, a, s, k, "bandwidth floor", "floor", DASH_LONG, an_decode_floor, lo, hi) ||
                !analytic_line(thr, a, s, k, "bandwidth ceiling", "ceiling", DASH_LONG, an_decode_ceiling, lo, hi))
                return 0;
        }
        zb_rpoint *tp = map_y(a, s->lat, s->n_lat, s, to_tok_s);
        if (!tp || !measured(lat, a, s, k, "measured", "step_ms", ZB_STYLE_LINESPOINTS, PT_CIRCLE, s->lat, s->n_lat) ||
            !measured(thr, a, s, k, "measured", "tokens_per_s", ZB_STYLE_LINESPOINTS, PT_CIRCLE, tp, s->n_lat))
            return 0;
    }
    return 1;
}

static int chart_prefill(const zb_series_set *ss, zb_arena *a, zb_chart *tm, zb_chart *thr)
{
    zb_chart_init(tm, "prefill_time", "Prefill time vs prompt length (measured over the roofline floor)",
                  "prompt length (tokens, log scale)", "ms per prefill (log scale)", "seq", "ms", 1, 1);
    zb_chart_init(thr, "prefill_throughput", "Prefill throughput vs prompt length", "prompt length (tokens, log scale)",
                  "tokens/s, whole batch (log scale)", "seq", "tokens_per_s", 1, 1);
    for (int k = 0; k < ss->n; k++) {
        const zb_series *s = &ss->v[k];
        int n, nt;
        zb_rpoint *p = per_length(a, s, run_seq, run_prefill_ms, &n);
        zb_rpoint *t = per_length(a, s, run_seq, run_prefill_tok_s, &nt);
        if (!p || !t) return 0;
        if (n && s->have_desc && s->gemm_tflops > 0) {
            double lo = p[0].x, hi = p[n - 1].x;
            if (!analytic_line(tm, a, s, k, "compute floor", "floor", DASH_LONG, an_prefill_floor, lo, hi) ||
                !analytic_line(thr, a, s, k, "compute ceiling", "ceiling", DASH_LONG, an_prefill_ceiling, lo, hi))
                return 0;
        }
        if (!measured(tm, a, s, k, "measured", "prefill_ms", ZB_STYLE_LINESPOINTS, PT_CIRCLE, p, n) ||
            !measured(thr, a, s, k, "measured", "tokens_per_s", ZB_STYLE_LINESPOINTS, PT_CIRCLE, t, nt))
            return 0;
    }
    return 1;
}

static int chart_pct(const zb_series_set *ss, zb_arena *a, zb_chart *c)
{
    zb_chart_init(c, "pct_of_floor", "Share of the roofline floor reached, per phase (100% = at the floor)",
                  "prompt length (prefill) or mean context (decode), tokens, log scale", "% of the roofline floor",
                  "tokens", "pct_of_floor", 1, 0);
    for (int k = 0; k < ss->n; k++) {
        const zb_series *s = &ss->v[k];
        int np, nd;
        zb_rpoint *p = per_length(a, s, run_seq, run_prefill_pct, &np);
        zb_rpoint *d = per_length(a, s, run_decode_ctx, run_decode_pct, &nd);
        if (!p || !d || !measured(c, a, s, k, "prefill", "prefill", ZB_STYLE_LINESPOINTS, PT_SQUARE, p, np) ||
            !measured(c, a, s, k, "decode", "decode", ZB_STYLE_LINESPOINTS, PT_CIRCLE, d, nd))
            return 0;
        if (np) c->s[c->n - (nd ? 2 : 1)].dash = DASH_SHORT; /* prefill dotted, decode solid */
    }
    return 1;
}

/* ------------------------------------------------------------ kernels */

static int chart_kernels(const zb_kernel_data *kd, zb_arena *a, zb_chart *c)
{
    zb_chart_init(c, "kernels", "Kernel time by class, per layout and phase (share of the phase's kernel time)",
                  "", "% of the phase's kernel time", "", "pct_of_phase", 0, 0);
    c->bars = 1;
    if (kd->n == 0 || kd->n_cls == 0) return 1;
    c->n_bars = kd->n, c->n_stack = kd->n_cls;
    const size_t nb = (size_t)kd->n, nv = nb * (size_t)kd->n_cls;
    c->value = zb_arena_alloc(a, sizeof *c->value * nv);
    c->value2 = zb_arena_alloc(a, sizeof *c->value2 * nv);
    c->value2_col = "total_ms";
    c->bar_label = zb_arena_alloc(a, sizeof *c->bar_label * nb);
    c->bar_model = zb_arena_alloc(a, sizeof *c->bar_model * nb);
    c->bar_plugin = zb_arena_alloc(a, sizeof *c->bar_plugin * nb);
    c->bar_device = zb_arena_alloc(a, sizeof *c->bar_device * nb);
    c->bar_phase = zb_arena_alloc(a, sizeof *c->bar_phase * nb);
    c->stack_name = zb_arena_alloc(a, sizeof *c->stack_name * (size_t)kd->n_cls);
    if (!c->value || !c->value2 || !c->bar_label || !c->bar_model || !c->bar_plugin || !c->bar_device ||
        !c->bar_phase || !c->stack_name)
        return 0;
    for (int k = 0; k < kd->n_cls; k++) c->stack_name[k] = kd->cls[k];
    for (int b = 0; b < kd->n; b++) {
        const zb_kbar *bar = &kd->v[b];
        double total = zb_kbar_total(kd, bar);
        c->bar_label[b] = zb_arena_printf(a, "%s %s (%s)", bar->model, bar->phase, bar->plugin);
        c->bar_model[b] = bar->model, c->bar_plugin[b] = bar->plugin;
        c->bar_device[b] = bar->device, c->bar_phase[b] = bar->phase;
        for (int k = 0; k < kd->n_cls; k++) {
            c->value[b * kd->n_cls + k] = total > 0 ? 100.0 * bar->ms[k] / total : 0.0;
            c->value2[b * kd->n_cls + k] = bar->ms[k];
        }
    }
    return !a->oom;
}

int zb_report_charts(const zb_series_set *ss, const zb_kernel_data *k, zb_arena *arena, zb_chart *charts)
{
    memset(charts, 0, sizeof *charts * ZB_CHART_N);
    int ok = chart_memory(ss, arena, &charts[ZB_CHART_MEMORY]) &&
             chart_memory_in_use(ss, arena, &charts[ZB_CHART_MEMORY_IN_USE]) &&
             chart_memory_7b(ss, arena, &charts[ZB_CHART_MEMORY_7B]) &&
             chart_decode(ss, arena, &charts[ZB_CHART_DECODE_LATENCY], &charts[ZB_CHART_DECODE_THROUGHPUT]) &&
             chart_prefill(ss, arena, &charts[ZB_CHART_PREFILL_TIME], &charts[ZB_CHART_PREFILL_THROUGHPUT]) &&
             chart_pct(ss, arena, &charts[ZB_CHART_PCT_OF_FLOOR]) &&
             chart_kernels(k, arena, &charts[ZB_CHART_KERNELS]);
    return ok && !arena->oom;
}
