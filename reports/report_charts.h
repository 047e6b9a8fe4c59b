/*
 * The report's charts, as data (chart.h): which measured points and which
 * analytic lines each one shows. Drawing is someone else's job.
 */
#ifndef ZB_REPORT_CHARTS_H
#define ZB_REPORT_CHARTS_H

#include "chart.h"
#include "kernels.h"
#include "series.h"

enum {
    ZB_CHART_MEMORY,
    ZB_CHART_MEMORY_IN_USE,
    ZB_CHART_MEMORY_7B,
    ZB_CHART_DECODE_LATENCY,
    ZB_CHART_DECODE_THROUGHPUT,
    ZB_CHART_PREFILL_TIME,
    ZB_CHART_PREFILL_THROUGHPUT,
    ZB_CHART_PCT_OF_FLOOR,
    ZB_CHART_KERNELS,
    ZB_CHART_N
};

/* Fills charts[ZB_CHART_N]; strings and points come from arena. Returns 0
 * when memory runs out. */
int zb_report_charts(const zb_series_set *ss, const zb_kernel_data *k, zb_arena *arena, zb_chart *charts);

/* The x range the analytic memory lines cover: the measured capacities,
 * widened to show where each GPU layout stops fitting. */
void zb_memory_range(const zb_series_set *ss, double *lo, double *hi);

/* The 7B presets every report shows by the analytic model. */
#define ZB_N_7B 3
extern const char *const zb_7b_presets[ZB_N_7B];

/* The GPUs of the selection (name, memory), at most max; when there is
 * none, one 80 GiB device for reference and *reference = 1. */
int zb_report_gpus(const zb_series_set *ss, const char **name, int64_t *bytes, int max, int *reference);

#endif
