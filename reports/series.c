/* Grouping runs into series and building their measured curves; the
 * analytic side is series_model.c. */
#include "series.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zb_util.h"

static int same_key(const zb_series *s, const zb_rrun *r)
{
    return !strcmp(s->plugin, r->plugin) && !strcmp(s->device, r->device) && !strcmp(s->model, r->model) &&
           !strcmp(s->model_source, r->model_source) && !strcmp(s->dtype, r->dtype) && s->batch == r->batch;
}

/* Zamba first (it is the subject; the transformers are its references),
 * then by name, so colours and table rows are stable between reports. */
static int cmp_series(const void *a, const void *b)
{
    const zb_series *x = a, *y = b;
    if (x->is_zamba != y->is_zamba) return y->is_zamba - x->is_zamba;
    int c = strcmp(x->model, y->model);
    if (!c) c = strcmp(x->plugin, y->plugin);
    if (!c) c = strcmp(x->device, y->device);
    if (!c) c = strcmp(x->dtype, y->dtype);
    if (!c) c = (x->batch > y->batch) - (x->batch < y->batch);
    if (!c) c = strcmp(x->model_source, y->model_source);
    return c;
}

static int cmp_run(const void *a, const void *b)
{
    const zb_rrun *x = *(const zb_rrun *const *)a, *y = *(const zb_rrun *const *)b;
    if (x->seq != y->seq) return x->seq < y->seq ? -1 : 1;
    if (x->gen != y->gen) return x->gen < y->gen ? -1 : 1;
    if (x->depth != y->depth) return x->depth < y->depth ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* The points of every run, one per x: the median of the runs' values
 * there (runs of one series measured at one context are repetitions of
 * the same measurement). */
static zb_rpoint *merge_curves(zb_arena *a, const zb_series *s, int use, int *n_out)
{
    int total = 0;
    for (int i = 0; i < s->n_runs; i++) total += use ? s->runs[i]->n_use : s->runs[i]->n_lat;
    *n_out = 0;
    double *ys = malloc(sizeof *ys * (size_t)(total ? total : 1));
    zb_rpoint *out = zb_arena_alloc(a, sizeof *out * (size_t)(total ? total : 1));
    if (!ys || !out) {
        free(ys);
        a->oom = 1;
        return NULL;
    }
    int n = 0;
    for (int i = 0; i < s->n_runs; i++) {
        const zb_rrun *r = s->runs[i];
        const zb_rpoint *p = use ? r->use : r->lat;
        for (int k = 0; k < (use ? r->n_use : r->n_lat); k++) out[n++] = p[k];
    }
    *n_out = zb_median_per_x(out, n, ys);
    free(ys);
    return out;
}

static void make_label(zb_series *s, int multi_dtype, int multi_batch)
{
    char extra[64] = "";
    if (multi_dtype && multi_batch) snprintf(extra, sizeof extra, " (%s, batch %d)", s->dtype, s->batch);
    else if (multi_dtype) snprintf(extra, sizeof extra, " (%s)", s->dtype);
    else if (multi_batch) snprintf(extra, sizeof extra, " (batch %d)", s->batch);
    snprintf(s->label, sizeof s->label, "%.60s on %.40s, %.56s%s", s->model, s->plugin, s->device, extra);
}

zb_status zb_series_build(zb_rdb *db, zb_rset *set, zb_series_set *out, zb_error *err)
{
    memset(out, 0, sizeof *out);
    int cap = 0;
    int *which = malloc(sizeof *which * (size_t)(set->n ? set->n : 1));
    if (!which) return zb_fail(err, ZB_ERR_OOM, "out of memory grouping runs");
    for (int i = 0; i < set->n; i++) {
        const zb_rrun *r = &set->runs[i];
        which[i] = -1;
        if (!r->ok) continue;
        int k = 0;
        while (k < out->n && !same_key(&out->v[k], r)) k++;
        if (k == out->n) {
            if (!zb_grow((void **)&out->v, &cap, out->n + 1, sizeof *out->v)) {
                free(which);
                zb_series_free(out);
                return zb_fail(err, ZB_ERR_OOM, "out of memory grouping runs");
            }
            zb_series *s = &out->v[out->n++];
            memset(s, 0, sizeof *s);
            s->plugin = r->plugin, s->device = r->device, s->model = r->model;
            s->model_source = r->model_source, s->layout = r->layout, s->dtype = r->dtype;
            s->batch = r->batch, s->is_gpu = r->is_gpu, s->is_zamba = !strcmp(r->layout, "zamba");
            s->gpu_memory_bytes = r->is_gpu ? r->gpu_memory_bytes : 0;
            s->n_params = r->n_params;
        }
        which[i] = k;
        out->v[k].n_runs++;
    }
    for (int k = 0; k < out->n; k++) {
        out->v[k].runs = zb_arena_alloc(&set->arena, sizeof *out->v[k].runs * (size_t)out->v[k].n_runs);
        out->v[k].n_runs = 0;
    }
    for (int i = 0; i < set->n && !set->arena.oom; i++)
        if (which[i] >= 0) out->v[which[i]].runs[out->v[which[i]].n_runs++] = &set->runs[i];
    free(which);
    if (set->arena.oom) {
        zb_series_free(out);
        return zb_fail(err, ZB_ERR_OOM, "out of memory grouping runs");
    }

    int multi_dtype = 0, multi_batch = 0;
    for (int k = 1; k < out->n; k++) {
        multi_dtype |= strcmp(out->v[k].dtype, out->v[0].dtype) != 0;
        multi_batch |= out->v[k].batch != out->v[0].batch;
        out->multi_device |= strcmp(out->v[k].device, out->v[0].device) != 0;
        out->multi_plugin |= strcmp(out->v[k].plugin, out->v[0].plugin) != 0;
    }
    /* the runs' pointers stay valid: only the series array is sorted */
    if (out->n > 1) qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_series);
    for (int k = 0; k < out->n; k++) {
        zb_series *s = &out->v[k];
        qsort(s->runs, (size_t)s->n_runs, sizeof *s->runs, cmp_run);
        make_label(s, multi_dtype, multi_batch);
        s->lat = merge_curves(&set->arena, s, 0, &s->n_lat);
        s->use = merge_curves(&set->arena, s, 1, &s->n_use);
        zb_series_resolve(db, s);
    }
    if (set->arena.oom) {
        zb_series_free(out);
        return zb_fail(err, ZB_ERR_OOM, "out of memory building series");
    }
    return ZB_OK;
}

void zb_series_free(zb_series_set *ss)
{
    free(ss->v);
    memset(ss, 0, sizeof *ss);
}
