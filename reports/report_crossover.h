/*
 * The crossover section: for every Zamba series and every transformer
 * series measured on the same plugin, device, dtype and batch, from which
 * length Zamba is ahead in decode latency and in memory, measured and by
 * the analytic model, as sentences.
 */
#ifndef ZB_REPORT_CROSSOVER_H
#define ZB_REPORT_CROSSOVER_H

#include "crossover.h"
#include "rbuf.h"
#include "series.h"

/* One sentence about crossover c of curve a (Zamba) against curve b:
 * "A beats B in WHAT from N UNIT on (...)" or "A does not beat B in WHAT
 * within the measured range (...)". `analytic` words the range as the
 * model's rather than the measurements'. */
void zb_cross_sentence(zb_buf *out, const zb_crossover *c, const char *a, const char *b, const char *what,
                       const char *unit, int analytic);

/* Whether two series are compared: a Zamba one and a transformer one on
 * the same plugin, device, dtype and batch. */
int zb_cross_pair(const zb_series *zamba, const zb_series *transformer);

/* The measured curves a crossover compares: decode step latency vs
 * context (the series' own), and memory (weights + KV + state measured)
 * vs capacity, one point per capacity. Memory from arena; NULL on oom. */
zb_rpoint *zb_series_memory_curve(zb_arena *arena, const zb_series *s, int *n);

/* Crossovers of pair (z, t) over the analytic model, on [1, hi]: decode
 * floor (needs both ceilings; kind DISJOINT otherwise) and total memory. */
void zb_cross_analytic_latency(const zb_series *z, const zb_series *t, double hi, zb_crossover *out);
void zb_cross_analytic_memory(const zb_series *z, const zb_series *t, double hi, zb_crossover *out);

#endif
