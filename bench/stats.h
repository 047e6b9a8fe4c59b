/* Summary statistics of timing samples. */
#ifndef ZB_STATS_H
#define ZB_STATS_H

typedef struct zb_summary {
    int n;
    double mean, median, p90, p99, min, max;
    double stddev; /* sample standard deviation (n - 1); 0 when n < 2 */
} zb_summary;

/* Summarises n values (n >= 1); the input is not modified. Percentiles
 * interpolate linearly between order statistics (q * (n - 1)). */
void zb_summarize(const double *x, int n, zb_summary *out);

/* q-quantile (0..1) of values already sorted ascending. */
double zb_quantile_sorted(const double *sorted, int n, double q);

/* Coefficient of variation: stddev / mean (0 when mean is 0). */
double zb_cv(const double *x, int n);

#endif
