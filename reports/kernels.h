/*
 * Kernel time by class, from traced runs. Tracing (schema version 2) adds
 * the view v_kernel_class(run_id, layout, model, plugin, phase, class,
 * count, total_ms, pct_of_phase); this reads that view and nothing else
 * of the tracing schema, so a database without it, or a selection without
 * traced runs, simply has nothing to show.
 *
 * Kernel time is summed over the selected runs of one (model, plugin,
 * device, phase): one stacked bar, each class its share of the bar's total.
 */
#ifndef ZB_KERNELS_H
#define ZB_KERNELS_H

#include "report_data.h"

#define ZB_KCLASS_MAX 16

/* One bar: a model's kernel time in one phase on one plugin and device. */
typedef struct zb_kbar {
    const char *model, *layout, *plugin, *device, *phase;
    double ms[ZB_KCLASS_MAX]; /* by class index */
    int64_t kernels;
    int runs;
    int64_t last_run; /* while loading: the run last counted in `runs` */
} zb_kbar;

typedef struct zb_kernel_data {
    int has_view;       /* the database has v_kernel_class */
    char note[512];     /* why there is nothing, when there is nothing */
    const char *cls[ZB_KCLASS_MAX]; /* class names, known ones first in a fixed order */
    int n_cls;
    zb_kbar *v;         /* by layout (zamba first), model, plugin, device, phase */
    int n;
} zb_kernel_data;

/* Only a failing database is an error; a v_kernel_class of another shape
 * is a note. Strings come from set's arena. */
zb_status zb_kernels_load(zb_rdb *db, zb_rset *set, zb_kernel_data *out, zb_error *err);
void zb_kernels_free(zb_kernel_data *k);

/* The bar's total kernel time, ms. */
double zb_kbar_total(const zb_kernel_data *k, const zb_kbar *b);

#endif
