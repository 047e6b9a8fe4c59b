/*
 * Is a difference between two sets of repetitions beyond their noise? The
 * two-sided Mann-Whitney U test (Wilcoxon rank-sum) over the
 * per-repetition values.
 *
 * Why a rank test: timing repetitions are few (5 by default), skewed and
 * prone to outliers (a page fault, a clock boost); the rank test assumes
 * no distribution and one slow repetition moves it by one rank, not by its
 * size.
 *
 * The p-value is exact when there are no ties and both samples have at
 * most ZB_MWU_EXACT_MAX values: the null distribution of U is counted
 * with the recurrence N(u; m, n) = N(u - n; m - 1, n) + N(u; m, n - 1),
 * and p = min(1, 2 * min(P(U <= u), P(U >= u))). Otherwise it is the
 * normal approximation with the ties correction of the variance,
 *     sigma^2 = m n / 12 * ((N + 1) - sum(t^3 - t) / (N (N - 1))),
 * and a continuity correction of 1/2: z = (|U - m n / 2| - 1/2) / sigma.
 */
#ifndef ZB_STATS_TEST_H
#define ZB_STATS_TEST_H

#define ZB_MWU_EXACT_MAX 50

typedef struct zb_mwu {
    double u;     /* U of the first sample: pairs (x, y) with x > y, ties counting 1/2 */
    double p;     /* two-sided p-value; 1 when either sample is empty */
    double z;     /* normal approximation's z (0 when exact) */
    int exact;    /* p from the exact distribution */
    int ties;     /* values shared between or within the samples */
    double p_min; /* the smallest p these sample sizes can give (no ties) */
} zb_mwu;

/* Fails (returns 0) only when memory runs out. */
int zb_mann_whitney(const double *x, int m, const double *y, int n, zb_mwu *out);

#endif
