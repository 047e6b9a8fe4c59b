#include "compare.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rformat.h"
#include "zb_util.h"

static int same_config(const zb_rrun *a, const zb_rrun *b, int cross_plugin)
{
    if (!cross_plugin && (strcmp(a->plugin, b->plugin) != 0 || strcmp(a->dtype, b->dtype) != 0)) return 0;
    return !strcmp(a->model, b->model) && a->batch == b->batch && a->seq == b->seq && a->gen == b->gen &&
           a->depth == b->depth;
}

/* The repetitions of every ok run of `set` in r's configuration, pooled
 * (runs of one configuration repeat one measurement). */
static int pool(const zb_rset *set, const zb_rrun *r, int cross_plugin, int decode, double **out, int *n,
                int *runs, const zb_rrun **first)
{
    *out = NULL, *n = 0, *runs = 0, *first = NULL;
    int cap = 0;
    for (int i = 0; i < set->n; i++) {
        const zb_rrun *u = &set->runs[i];
        if (!u->ok || !same_config(u, r, cross_plugin)) continue;
        const zb_rphase *p = decode ? &u->dec : &u->pre;
        if (!*first) *first = u;
        (*runs)++;
        if (!zb_grow((void **)out, &cap, *n + p->n_reps + 1, sizeof **out)) return 0;
        for (int k = 0; k < p->n_reps; k++)
            if (isfinite(p->reps[k])) (*out)[(*n)++] = p->reps[k];
    }
    return 1;
}

static double median_copy(const double *v, int n)
{
    double *c = malloc(sizeof *c * (size_t)(n ? n : 1));
    if (!c) return NAN;
    memcpy(c, v, sizeof *c * (size_t)n);
    double m = zb_median_inplace(c, n);
    free(c);
    return m;
}

/* Whether an earlier ok run of the baseline has r's configuration. */
static int seen_before(const zb_rset *set, int upto, const zb_rrun *r, int cross_plugin)
{
    for (int i = 0; i < upto; i++)
        if (set->runs[i].ok && same_config(&set->runs[i], r, cross_plugin)) return 1;
    return 0;
}

static zb_status add_row(zb_cmp *c, const zb_rset *base, const zb_rset *cand, const zb_rrun *r, int decode,
                         zb_error *err)
{
    double *xb = NULL, *xc = NULL;
    int nb, nc, rb, rc;
    const zb_rrun *fb, *fc;
    if (!pool(base, r, c->cross_plugin, decode, &xb, &nb, &rb, &fb) ||
        !pool(cand, r, c->cross_plugin, decode, &xc, &nc, &rc, &fc)) {
        free(xb);
        free(xc);
        return zb_fail(err, ZB_ERR_OOM, "out of memory comparing");
    }
    zb_status st = ZB_OK;
    if (nb > 0 && nc > 0) {
        if (!zb_grow((void **)&c->rows, &c->cap, c->n + 1, sizeof *c->rows)) {
            st = zb_fail(err, ZB_ERR_OOM, "out of memory comparing");
        } else {
            zb_cmp_row *w = &c->rows[c->n++];
            memset(w, 0, sizeof *w);
            w->plugin = fb->plugin, w->cand_plugin = fc->plugin;
            w->model = r->model, w->dtype = fb->dtype, w->cand_dtype = fc->dtype;
            w->batch = r->batch, w->seq = r->seq, w->gen = r->gen, w->depth = r->depth;
            w->phase = decode ? "decode" : "prefill";
            w->runs_base = rb, w->runs_cand = rc, w->n_base = nb, w->n_cand = nc;
            w->base_median = median_copy(xb, nb);
            w->cand_median = median_copy(xc, nc);
            w->speedup = w->cand_median > 0 ? w->base_median / w->cand_median : NAN;
            w->change_pct = w->base_median > 0 ? 100.0 * (w->cand_median - w->base_median) / w->base_median : NAN;
            if (!zb_mann_whitney(xb, nb, xc, nc, &w->test)) st = zb_fail(err, ZB_ERR_OOM, "out of memory comparing");
            /* with few repetitions even a total separation is not evidence
             * at alpha: say so rather than call it noise */
            if (w->test.p_min > c->alpha) w->verdict = ZB_CMP_TOO_FEW;
            else if (!(w->test.p < c->alpha)) w->verdict = ZB_CMP_SAME;
            else w->verdict = w->cand_median > w->base_median ? ZB_CMP_SLOWER : ZB_CMP_FASTER;
        }
    }
    free(xb);
    free(xc);
    return st;
}

zb_status zb_compare(const zb_rset *base, const zb_rset *cand, int cross_plugin, double alpha, zb_cmp *out,
                     zb_error *err)
{
    memset(out, 0, sizeof *out);
    out->alpha = alpha;
    out->cross_plugin = cross_plugin;
    for (int i = 0; i < base->n; i++) {
        const zb_rrun *r = &base->runs[i];
        if (!r->ok || seen_before(base, i, r, cross_plugin)) continue;
        int in_cand = 0;
        for (int k = 0; k < cand->n && !in_cand; k++)
            in_cand = cand->runs[k].ok && same_config(&cand->runs[k], r, cross_plugin);
        if (!in_cand) {
            out->only_base++;
            continue;
        }
        zb_status st = add_row(out, base, cand, r, 0, err);
        if (st == ZB_OK && r->gen > 0) st = add_row(out, base, cand, r, 1, err);
        if (st != ZB_OK) {
            zb_cmp_free(out);
            return st;
        }
    }
    for (int k = 0; k < cand->n; k++) {
        const zb_rrun *r = &cand->runs[k];
        if (!r->ok || seen_before(cand, k, r, cross_plugin)) continue;
        int in_base = 0;
        for (int i = 0; i < base->n && !in_base; i++)
            in_base = base->runs[i].ok && same_config(&base->runs[i], r, cross_plugin);
        out->only_cand += !in_base;
    }
    return ZB_OK;
}

int zb_cmp_regressions(const zb_cmp *c, double pct)
{
    int n = 0;
    for (int i = 0; i < c->n; i++) n += c->rows[i].verdict == ZB_CMP_SLOWER && c->rows[i].change_pct > pct;
    return n;
}

static const char *verdict_text(zb_cmp_verdict v)
{
    switch (v) {
    case ZB_CMP_SAME: return "within noise";
    case ZB_CMP_FASTER: return "faster";
    case ZB_CMP_SLOWER: return "**slower**";
    case ZB_CMP_TOO_FEW: return "too few reps to tell";
    }
    return "?";
}

void zb_cmp_markdown(const zb_cmp *c, const char *base_desc, const char *cand_desc, double fail_above, zb_buf *o)
{
    zb_buf_puts(o, "## zbench compare: baseline ");
    zb_esc_md(o, base_desc);
    zb_buf_puts(o, ", candidate ");
    zb_esc_md(o, cand_desc);
    zb_buf_printf(o, "\n\nTimes are medians over every repetition of the matching ok runs (prefill: ms per "
                     "prefill; decode: ms per generated token). A difference counts when the two-sided "
                     "Mann-Whitney test over those repetitions gives p < %g.\n\n",
                  c->alpha);
    zb_buf_puts(o, c->cross_plugin ? "| baseline plugin | candidate plugin |" : "| plugin | dtype |");
    zb_buf_puts(o, " model | batch | seq | gen | depth | phase | baseline ms | candidate ms | speedup | change | p "
                   "| reps | verdict |\n");
    zb_buf_puts(o, "|---|---|---|--:|--:|--:|--:|---|--:|--:|--:|--:|--:|--:|---|\n");
    int counts[4] = {0};
    for (int i = 0; i < c->n; i++) {
        const zb_cmp_row *r = &c->rows[i];
        char b[32], k[32], sp[32], ch[32], p[32];
        counts[r->verdict]++;
        zb_buf_puts(o, "| ");
        if (c->cross_plugin) {
            zb_esc_md(o, r->plugin);
            zb_buf_puts(o, " | ");
            zb_esc_md(o, r->cand_plugin);
        } else {
            zb_esc_md(o, r->plugin);
            zb_buf_puts(o, " | ");
            zb_esc_md(o, r->dtype);
        }
        zb_buf_puts(o, " | ");
        zb_esc_md(o, r->model);
        snprintf(sp, sizeof sp, "%.3fx", r->speedup);
        snprintf(p, sizeof p, "%.3g", r->test.p);
        zb_buf_printf(o, " | %d | %d | %d | %d | %s | %s | %s | %s | %s | %s | %d/%d | %s |\n", r->batch, r->seq,
                      r->gen, r->depth, r->phase, zb_fmt_num(b, sizeof b, r->base_median),
                      zb_fmt_num(k, sizeof k, r->cand_median), sp, zb_fmt_pct(ch, sizeof ch, r->change_pct), p,
                      r->n_base, r->n_cand, verdict_text(r->verdict));
    }
    zb_buf_printf(o, "\n%d comparisons: %d faster, %d slower, %d within noise, %d with too few repetitions to tell",
                  c->n, counts[ZB_CMP_FASTER], counts[ZB_CMP_SLOWER], counts[ZB_CMP_SAME], counts[ZB_CMP_TOO_FEW]);
    if (c->only_base || c->only_cand)
        zb_buf_printf(o, "; configurations only in the baseline: %d, only in the candidate: %d", c->only_base,
                      c->only_cand);
    zb_buf_puts(o, ".\n");
    if (counts[ZB_CMP_TOO_FEW])
        zb_buf_printf(o, "\nWith too few repetitions the test cannot reach p < %g however the times differ: record "
                         "more (zbench run --reps 5 or more on each side).\n",
                      c->alpha);
    if (!isnan(fail_above)) {
        int n = zb_cmp_regressions(c, fail_above);
        zb_buf_printf(o, "\n%s: %d regression%s beyond the noise and above %g%%.\n", n ? "FAIL" : "PASS", n,
                      n == 1 ? "" : "s", fail_above);
    }
}

void zb_cmp_free(zb_cmp *c)
{
    free(c->rows);
    memset(c, 0, sizeof *c);
}
