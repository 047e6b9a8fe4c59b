#include "stats_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct ranked {
    double v;
    int from_x;
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
    double x = ((const ranked *)a)->v, y = ((const ranked *)b)->v;
    return x < y ? -1 : x > y;
}

/* Counts of each U in 0..m*n over all C(m+n, m) orderings, by the
 * recurrence over the sample sizes (additions only, so the counts keep
 * full relative precision as doubles). L[i][u] holds N(u; i, j) for the
 * current j; updating i upwards in place reads N(u - j; i - 1, j) already
 * updated and N(u; i, j - 1) not yet. */
static double *exact_counts(int m, int n)
{
    const int width = m * n + 1;
    double *L = calloc((size_t)(m + 1) * (size_t)width, sizeof *L);
    if (!L) return NULL;
    for (int i = 0; i <= m; i++) L[(size_t)i * width] = 1; /* j = 0: U is 0 */
    for (int j = 1; j <= n; j++)
        for (int i = 1; i <= m; i++)
            for (int u = i * j; u >= j; u--) L[(size_t)i * width + u] += L[(size_t)(i - 1) * width + u - j];
    /* only row m is needed: move it to the front */
    memmove(L, L + (size_t)m * width, sizeof *L * (size_t)width);
    return L;
}

int zb_mann_whitney(const double *x, int m, const double *y, int n, zb_mwu *out)
{
    memset(out, 0, sizeof *out);
    out->p = 1;
    out->p_min = 1;
    if (m <= 0 || n <= 0) return 1;
    const int N = m + n;
    double comb = exp(lgamma(N + 1.0) - lgamma(m + 1.0) - lgamma(n + 1.0));
    out->p_min = fmin(1, 2 / comb);

    ranked *all = malloc(sizeof *all * (size_t)N);
    if (!all) return 0;
    for (int i = 0; i < m; i++) all[i] = (ranked){x[i], 1};
    for (int i = 0; i < n; i++) all[m + i] = (ranked){y[i], 0};
    qsort(all, (size_t)N, sizeof *all, cmp_ranked);
    double rank_x = 0, tie_term = 0;
    for (int i = 0; i < N;) {
        int j = i;
        while (j < N && all[j].v == all[i].v) j++;
        double t = j - i, avg = 0.5 * (i + 1 + j); /* ranks i+1 .. j share their mean */
        for (int k = i; k < j; k++)
            if (all[k].from_x) rank_x += avg;
        if (t > 1) {
            tie_term += t * t * t - t;
            out->ties = 1;
        }
        i = j;
    }
    free(all);
    out->u = rank_x - m * (m + 1) / 2.0;

    if (!out->ties && m <= ZB_MWU_EXACT_MAX && n <= ZB_MWU_EXACT_MAX) {
        double *c = exact_counts(m, n);
        if (!c) return 0;
        int u = (int)llround(out->u);
        double below = 0, above = 0, total = 0;
        for (int k = 0; k <= m * n; k++) {
            total += c[k];
            if (k <= u) below += c[k];
            if (k >= u) above += c[k];
        }
        free(c);
        out->exact = 1;
        out->p = fmin(1, 2 * fmin(below, above) / total);
        return 1;
    }
    double mu = m * (double)n / 2;
    double var = m * (double)n / 12 * ((N + 1) - tie_term / ((double)N * (N - 1)));
    if (!(var > 0)) return 1; /* every value equal: no evidence of any difference */
    double z = (fabs(out->u - mu) - 0.5) / sqrt(var);
    if (z < 0) z = 0;
    out->z = out->u < mu ? -z : z;
    out->p = fmin(1, erfc(z / sqrt(2.0)));
    return 1;
}
