#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double zb_quantile_sorted(const double *sorted, int n, double q)
{
    if (n == 1) return sorted[0];
    double pos = q * (n - 1);
    int lo = (int)floor(pos);
    if (lo >= n - 1) return sorted[n - 1];
    double frac = pos - lo;
    return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

void zb_summarize(const double *x, int n, zb_summary *out)
{
    memset(out, 0, sizeof *out);
    out->n = n;
    if (n < 1) return;
    double *s = malloc(sizeof *s * (size_t)n);
    if (!s) return;
    memcpy(s, x, sizeof *s * (size_t)n);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    /* two passes for the variance: stable for the small spreads of timings */
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += s[i];
    out->mean = sum / n;
    double ss = 0.0;
    for (int i = 0; i < n; i++) ss += (s[i] - out->mean) * (s[i] - out->mean);
    out->stddev = n > 1 ? sqrt(ss / (n - 1)) : 0.0;
    out->min = s[0];
    out->max = s[n - 1];
    out->median = zb_quantile_sorted(s, n, 0.5);
    out->p90 = zb_quantile_sorted(s, n, 0.9);
    out->p99 = zb_quantile_sorted(s, n, 0.99);
    free(s);
}

double zb_cv(const double *x, int n)
{
    zb_summary s;
    zb_summarize(x, n, &s);
    return s.mean != 0.0 ? s.stddev / s.mean : 0.0;
}
