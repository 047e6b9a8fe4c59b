#include "report_crossover.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rformat.h"

static const char *count(char *buf, size_t n, double v)
{
    return zb_fmt_count(buf, n, (int64_t)llround(v));
}

void zb_cross_sentence(zb_buf *out, const zb_crossover *c, const char *a, const char *b, const char *what,
                       const char *unit, int analytic)
{
    char lo[32], hi[32], at[32], est[32], until[32];
    count(lo, sizeof lo, c->lo);
    count(hi, sizeof hi, c->hi);
    const char *range = analytic ? "modelled" : "measured";
    switch (c->kind) {
    case ZB_CROSS_DISJOINT:
        zb_buf_printf(out, "%s and %s have no %s lengths in common: no %s crossover to report.", a, b, range, what);
        break;
    case ZB_CROSS_ALWAYS:
        zb_buf_printf(out, "%s beats %s in %s over the whole %s range (%s to %s %s).", a, b, what, range, lo, hi,
                      unit);
        break;
    case ZB_CROSS_FROM:
        count(at, sizeof at, c->at);
        zb_buf_printf(out, "%s beats %s in %s from %s %s on (%s range %s to %s", a, b, what, at, unit, range, lo, hi);
        /* measured curves cross somewhere between two measured lengths */
        if (!analytic) zb_buf_printf(out, "; the curves cross near %s", count(est, sizeof est, c->estimate));
        zb_buf_puts(out, ").");
        break;
    case ZB_CROSS_NEVER:
        zb_buf_printf(out, "%s does not beat %s in %s within the %s range (%s to %s %s)", a, b, what, range, lo, hi,
                      unit);
        if (!isnan(c->lower_until))
            zb_buf_printf(out, "; it is ahead only up to %s %s", count(until, sizeof until, c->lower_until), unit);
        zb_buf_puts(out, ".");
        break;
    }
}

int zb_cross_pair(const zb_series *z, const zb_series *t)
{
    return z->is_zamba && !t->is_zamba && !strcmp(z->plugin, t->plugin) && !strcmp(z->device, t->device) &&
           !strcmp(z->dtype, t->dtype) && z->batch == t->batch;
}

zb_rpoint *zb_series_memory_curve(zb_arena *arena, const zb_series *s, int *n_out)
{
    *n_out = 0;
    zb_rpoint *all = zb_arena_alloc(arena, sizeof *all * (size_t)(s->n_runs ? s->n_runs : 1));
    double *ys = zb_arena_alloc(arena, sizeof *ys * (size_t)(s->n_runs ? s->n_runs : 1));
    if (!all || !ys) return NULL;
    int n = 0;
    for (int i = 0; i < s->n_runs; i++) {
        const int64_t *m = s->runs[i]->mem_measured;
        if (m[ZB_MEM_WEIGHTS] < 0 || m[ZB_MEM_KV] < 0 || m[ZB_MEM_STATE] < 0) continue;
        all[n++] = (zb_rpoint){(double)s->runs[i]->capacity,
                               (double)m[ZB_MEM_WEIGHTS] + (double)m[ZB_MEM_KV] + (double)m[ZB_MEM_STATE]};
    }
    *n_out = zb_median_per_x(all, n, ys); /* one point per capacity */
    return all;
}

static double latency_fn(const void *s, double x) { return zb_series_decode_floor_ms(s, x); }
static double memory_fn(const void *s, double x) { return zb_series_total_bytes(s, x); }

void zb_cross_analytic_latency(const zb_series *z, const zb_series *t, double hi, zb_crossover *out)
{
    if (!z->have_desc || !t->have_desc || !(z->copy_gbps > 0) || !(t->copy_gbps > 0)) {
        memset(out, 0, sizeof *out);
        out->kind = ZB_CROSS_DISJOINT;
        out->at = out->prev = out->estimate = out->lower_until = NAN;
        return;
    }
    /* a decode step at context x: x >= 1 (the step reads x - 1 cached tokens) */
    zb_crossover_fn(latency_fn, z, latency_fn, t, 1, hi, out);
}

void zb_cross_analytic_memory(const zb_series *z, const zb_series *t, double hi, zb_crossover *out)
{
    if (!z->have_desc || !t->have_desc) {
        memset(out, 0, sizeof *out);
        out->kind = ZB_CROSS_DISJOINT;
        out->at = out->prev = out->estimate = out->lower_until = NAN;
        return;
    }
    zb_crossover_fn(memory_fn, z, memory_fn, t, 1, hi, out);
}
