#include "crossover.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double zb_curve_at(const zb_rpoint *c, int n, double x)
{
    if (n == 0 || x < c[0].x || x > c[n - 1].x) return NAN;
    int lo = 0, hi = n - 1;
    while (hi - lo > 1) { /* c[lo].x <= x <= c[hi].x */
        int mid = (lo + hi) / 2;
        if (c[mid].x <= x) lo = mid;
        else hi = mid;
    }
    if (c[lo].x == x || hi == lo) return c[lo].y;
    if (c[hi].x == x) return c[hi].y;
    double t = (log(x) - log(c[lo].x)) / (log(c[hi].x) - log(c[lo].x));
    return c[lo].y + t * (c[hi].y - c[lo].y);
}

/* The classification shared by both entry points, over n lengths x with
 * d = B - A (A lower where d > 0). */
static void classify(const double *x, const double *d, int n, zb_crossover *out)
{
    out->n = n;
    out->lo = x[0];
    out->hi = x[n - 1];
    int k = n; /* start of the final run of d > 0 */
    while (k > 0 && d[k - 1] > 0) k--;
    if (k == 0) {
        out->kind = ZB_CROSS_ALWAYS;
    } else if (k < n) {
        out->kind = ZB_CROSS_FROM;
        out->at = x[k];
        out->prev = x[k - 1];
        /* d[k-1] <= 0 < d[k]: the zero, linear in log x */
        double t = -d[k - 1] / (d[k] - d[k - 1]);
        out->estimate = exp(log(x[k - 1]) + t * (log(x[k]) - log(x[k - 1])));
    } else {
        out->kind = ZB_CROSS_NEVER;
        int j = 0;
        while (j < n && d[j] > 0) j++;
        out->lower_until = j > 0 ? x[j - 1] : NAN;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void zb_crossover_curves(const zb_rpoint *a, int na, const zb_rpoint *b, int nb, zb_crossover *out)
{
    memset(out, 0, sizeof *out);
    out->kind = ZB_CROSS_DISJOINT;
    out->at = out->prev = out->estimate = out->lower_until = NAN;
    if (na == 0 || nb == 0) return;
    double lo = fmax(a[0].x, b[0].x), hi = fmin(a[na - 1].x, b[nb - 1].x);
    out->lo = lo, out->hi = hi;
    if (lo > hi) return;
    double *x = malloc(sizeof *x * (size_t)(na + nb));
    double *d = malloc(sizeof *d * (size_t)(na + nb));
    if (!x || !d) { /* too little memory for a comparison: say there is none */
        free(x);
        free(d);
        return;
    }
    int n = 0;
    for (int i = 0; i < na; i++)
        if (a[i].x >= lo && a[i].x <= hi) x[n++] = a[i].x;
    for (int i = 0; i < nb; i++)
        if (b[i].x >= lo && b[i].x <= hi) x[n++] = b[i].x;
    qsort(x, (size_t)n, sizeof *x, cmp_double);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (m == 0 || x[i] != x[m - 1]) x[m++] = x[i];
    for (int i = 0; i < m; i++) d[i] = zb_curve_at(b, nb, x[i]) - zb_curve_at(a, na, x[i]);
    classify(x, d, m, out);
    free(x);
    free(d);
}

/* Smallest integer in (lo, hi] where pred holds, given it holds at hi and
 * flips once in between. */
static double bisect_first(zb_length_fn fa, const void *ca, zb_length_fn fb, const void *cb, double lo, double hi,
                           int want_lower)
{
    while (hi - lo > 1) {
        double mid = floor((lo + hi) / 2);
        int lower = fb(cb, mid) - fa(ca, mid) > 0;
        if (lower == want_lower) hi = mid;
        else lo = mid;
    }
    return hi;
}

void zb_crossover_fn(zb_length_fn fa, const void *ca, zb_length_fn fb, const void *cb, double lo, double hi,
                     zb_crossover *out)
{
    memset(out, 0, sizeof *out);
    out->at = out->prev = out->estimate = out->lower_until = NAN;
    lo = fmax(1, floor(lo));
    hi = fmax(lo, floor(hi));
    /* 16 points per octave, on integers, and both ends */
    enum { PER_OCTAVE = 16, MAX_GRID = 64 * PER_OCTAVE + 2 };
    double x[MAX_GRID], d[MAX_GRID];
    int n = 0;
    for (double v = lo; n < MAX_GRID - 1 && v < hi; v = fmax(v + 1, floor(v * exp2(1.0 / PER_OCTAVE)))) x[n++] = v;
    x[n++] = hi;
    for (int i = 0; i < n; i++) d[i] = fb(cb, x[i]) - fa(ca, x[i]);
    classify(x, d, n, out);
    if (out->kind == ZB_CROSS_FROM) {
        out->at = bisect_first(fa, ca, fb, cb, out->prev, out->at, 1);
        out->prev = out->at - 1;
        out->estimate = out->at;
    } else if (out->kind == ZB_CROSS_NEVER && !isnan(out->lower_until) && out->lower_until < hi) {
        /* the last length of the first run of "A lower" */
        int j = 0;
        while (j < n && x[j] <= out->lower_until) j++;
        out->lower_until = bisect_first(fa, ca, fb, cb, out->lower_until, x[j], 0) - 1;
    }
}
