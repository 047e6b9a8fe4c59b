/*
 * Crossovers: from which length on curve A (Zamba) stays below curve B (a
 * transformer). "Stays": A is lower at that length and at every larger one
 * compared, so a curve that dips below and comes back is not counted as
 * crossing. Lengths are positive; comparisons interpolate linearly in y
 * against log(length), the axis the charts use.
 */
#ifndef ZB_CROSSOVER_H
#define ZB_CROSSOVER_H

#include "report_data.h"

typedef enum zb_cross_kind {
    ZB_CROSS_DISJOINT, /* the measured ranges do not overlap: nothing to compare */
    ZB_CROSS_ALWAYS,   /* A lower over the whole compared range */
    ZB_CROSS_FROM,     /* A lower from `at` on, not at `prev` */
    ZB_CROSS_NEVER     /* A not lower at the end of the range */
} zb_cross_kind;

typedef struct zb_crossover {
    zb_cross_kind kind;
    double lo, hi;      /* the compared range */
    int n;              /* lengths compared */
    double at, prev;    /* FROM: first length of the final run of "A lower", and the length before it */
    double estimate;    /* FROM: where the difference changes sign, interpolated between prev and at */
    double lower_until; /* NEVER: A is lower from lo up to here, then not (NaN: not even at lo) */
} zb_crossover;

/* Measured curves, each sorted by x (x > 0). Compared at every measured x
 * of either curve inside the overlap of their ranges. */
void zb_crossover_curves(const zb_rpoint *a, int na, const zb_rpoint *b, int nb, zb_crossover *out);

/* Analytic curves: functions of an integer length, compared on [lo, hi]
 * (lo >= 1). A geometric grid finds the region, bisection the exact
 * integer; so `at` is the smallest length from which A stays lower,
 * assuming A - B changes sign at most once between grid points. */
typedef double (*zb_length_fn)(const void *ctx, double length);
void zb_crossover_fn(zb_length_fn fa, const void *ca, zb_length_fn fb, const void *cb, double lo, double hi,
                     zb_crossover *out);

/* The value of a sorted curve at x, linear in log x between its points;
 * NaN outside its range. */
double zb_curve_at(const zb_rpoint *c, int n, double x);

#endif
