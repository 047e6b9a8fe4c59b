/*
 * The runs a report or comparison covers, read from the database into
 * memory: each run's parameters, its statistics, its memory rows, its
 * repetitions and its samples along the generation (median over the
 * repetitions at each position). Runs of every status are loaded so the
 * report can list those that did not end ok; everything else uses only
 * the ok ones.
 */
#ifndef ZB_REPORT_DATA_H
#define ZB_REPORT_DATA_H

#include <stdint.h>

#include "rbuf.h"
#include "rdb.h"
#include "selection.h"

typedef struct zb_rpoint {
    double x, y;
} zb_rpoint;

/* One phase of one run. Values are NaN when the run has no such row. */
typedef struct zb_rphase {
    double median, tok_s, pct_of_floor, floor_ms, cv;
    /* per repetition: prefill ms; decode ms per token (the repetition's
     * time over its steps), the unit comparisons test */
    double *reps;
    int n_reps;
} zb_rphase;

enum { ZB_MEM_WEIGHTS, ZB_MEM_KV, ZB_MEM_STATE, ZB_MEM_WORKSPACE, ZB_MEM_DEVICE_TOTAL, ZB_MEM_DEVICE_PEAK, ZB_MEM_N };
extern const char *const zb_mem_category[ZB_MEM_N];

typedef struct zb_rrun {
    int64_t id;
    const char *sweep_id, *tag, *plugin, *model, *model_source, *layout, *dtype;
    const char *device; /* the GPU's name, or the CPU's for CPU runs (as calibrations name it) */
    const char *git_commit, *status, *error, *started_at;
    int is_gpu, ok;
    int batch, seq, gen, depth;
    int64_t capacity, gpu_memory_bytes, n_params;
    zb_rphase pre, dec;
    int64_t mem_measured[ZB_MEM_N], mem_predicted[ZB_MEM_N]; /* -1: no row / no prediction */
    zb_rpoint *lat; /* (context, median step ms over repetitions), by context */
    int n_lat;
    zb_rpoint *use; /* (context, median KV + state bytes in use) */
    int n_use;
} zb_rrun;

typedef struct zb_rset {
    const char *path;
    zb_rrun *runs; /* selected runs of every status, by id */
    int n, n_ok;
    zb_arena arena; /* every string and array of the set */
} zb_rset;

/* Loads the runs `sel` matches. n == 0 is not an error here: callers
 * decide what an empty selection means. */
zb_status zb_rset_load(zb_rdb *db, const zb_selection *sel, zb_rset *set, zb_error *err);
void zb_rset_free(zb_rset *set);

/* The run with that id, or NULL. */
zb_rrun *zb_rset_find(zb_rset *set, int64_t id);

/* Median of n values (sorted in place); NaN when n == 0. */
double zb_median_inplace(double *v, int n);

/* Sorts p[0..n) by x (then y) and collapses the points of each x into one,
 * at the median of their y, in place (runs of one series at one length
 * repeat one measurement); ys is scratch for n values. Returns the number
 * of points left. */
int zb_median_per_x(zb_rpoint *p, int n, double *ys);

#endif
