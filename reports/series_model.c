/* The analytic side of a series: its model description recovered from the
 * run record, the weights it holds, the device ceilings, and the analytic
 * predictions (bench/analytic.h) evaluated for the charts. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analytic.h"
#include "model.h"
#include "report_data.h"
#include "series.h"
#include "zb_util.h"

/* runs.model_source is a preset name, a checkpoint directory or the config
 * file given with --model-config. Only the shape is needed, so a checkpoint
 * whose weights have since been deleted still has its lines, as long as
 * its config.json is there. */
static void resolve_desc(zb_series *s)
{
    const zb_preset *p = zb_preset_find(s->model_source);
    if (p) {
        p->fill(&s->desc);
        snprintf(s->desc.name, sizeof s->desc.name, "%s", p->name);
        s->have_desc = 1;
        return;
    }
    struct stat st;
    if (stat(s->model_source, &st) != 0) {
        snprintf(s->desc_note, sizeof s->desc_note, "%.80s: model source '%.120s' is gone (%s)", s->model,
                 s->model_source, strerror(errno));
        return;
    }
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, S_ISDIR(st.st_mode) ? "%s/config.json" : "%s", s->model_source);
    zb_error err = {{0}};
    if (n < 0 || (size_t)n >= sizeof path) {
        snprintf(s->desc_note, sizeof s->desc_note, "%.80s: model source path too long", s->model);
        return;
    }
    if (zb_desc_from_config(path, &s->desc, &err) != ZB_OK) {
        snprintf(s->desc_note, sizeof s->desc_note, "%.80s: %.160s", s->model, err.msg);
        return;
    }
    s->have_desc = 1;
}

/* The decode step that produced position p read p - 1 cached tokens, and
 * zbench run computes a repetition's floor at depth + seq + (gen - 1) / 2
 * cached tokens: these invert that, so the analytic lines pass exactly
 * through the floors the runs recorded. */
int64_t zb_run_decode_context(const zb_rrun *r)
{
    return (int64_t)r->depth + r->seq + (r->gen - 1) / 2;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median_of(double *v, int n)
{
    if (n == 0) return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Ceilings from the runs' own floors (the calibration each run used), so
 * the lines agree with the recorded % of floor even after a recalibration;
 * the devices table's latest entry only when no run has a floor. */
static void resolve_ceilings(zb_rdb *db, zb_series *s)
{
    double *bw = malloc(sizeof *bw * (size_t)(s->n_runs ? s->n_runs : 1));
    double *fl = malloc(sizeof *fl * (size_t)(s->n_runs ? s->n_runs : 1));
    int nb = 0, nf = 0;
    for (int i = 0; bw && fl && i < s->n_runs; i++) {
        const zb_rrun *r = s->runs[i];
        if (r->dec.floor_ms > 0 && r->gen > 0)
            bw[nb++] = zb_decode_step_bytes(&s->desc, s->dt, r->batch, zb_run_decode_context(r)) /
                       (r->dec.floor_ms * 1e-3) / 1e9;
        if (r->pre.floor_ms > 0)
            fl[nf++] = zb_prefill_flops(&s->desc, r->batch, r->seq, r->depth) / (r->pre.floor_ms * 1e-3) / 1e12;
    }
    s->copy_gbps = median_of(bw, nb);
    s->gemm_tflops = median_of(fl, nf);
    free(bw);
    free(fl);
    if ((s->copy_gbps > 0 && s->gemm_tflops > 0) || !db) return;
    sqlite3_stmt *q = NULL;
    zb_error err = {{0}};
    /* a missing calibration only costs the floor lines: errors here are
     * not worth failing a report for */
    if (zb_rdb_prepare(db,
                       "SELECT copy_gbps, gemm_tflops FROM devices WHERE name = ?"
                       " ORDER BY measured_at DESC, id DESC LIMIT 1",
                       &q, "reading devices", &err) == ZB_OK &&
        zb_rdb_bind_text(db, q, 1, s->device, &err) == ZB_OK && zb_rdb_step(db, q, "reading devices", &err) == 1) {
        double c = zb_rdb_real(q, 0), g = zb_rdb_real(q, 1);
        if (!(s->copy_gbps > 0) && c > 0) s->copy_gbps = c;
        if (!(s->gemm_tflops > 0) && g > 0) s->gemm_tflops = g;
    }
    zb_rdb_finalize(q);
}

void zb_series_resolve(zb_rdb *db, zb_series *s)
{
    int have_dt = zb_parse_dtype(s->dtype, &s->dt);
    s->weights_bytes = 0;
    for (int i = 0; i < s->n_runs; i++)
        if ((double)s->runs[i]->mem_measured[ZB_MEM_WEIGHTS] > s->weights_bytes)
            s->weights_bytes = (double)s->runs[i]->mem_measured[ZB_MEM_WEIGHTS];
    if (!(s->weights_bytes > 0) && have_dt) s->weights_bytes = (double)s->n_params * (double)zb_dtype_size(s->dt);
    if (!have_dt) {
        snprintf(s->desc_note, sizeof s->desc_note, "%.80s: unknown dtype '%.16s'", s->model, s->dtype);
        return;
    }
    resolve_desc(s);
    if (s->have_desc) resolve_ceilings(db, s);
}

/* ------------------------------------------------------------ evaluation */

double zb_series_kv_bytes(const zb_series *s, double context)
{
    return (double)zb_predict_kv_bytes(&s->desc, s->dt, s->batch, (int64_t)llround(context));
}

double zb_series_state_bytes(const zb_series *s)
{
    return (double)zb_predict_state_bytes(&s->desc, s->dt, s->batch);
}

double zb_series_total_bytes(const zb_series *s, double context)
{
    return s->weights_bytes + zb_series_kv_bytes(s, context) + zb_series_state_bytes(s);
}

double zb_series_decode_floor_ms(const zb_series *s, double context)
{
    if (!(s->copy_gbps > 0)) return NAN;
    int64_t cached = (int64_t)llround(context) - 1; /* the step producing `context` saw one fewer */
    if (cached < 0) cached = 0;
    return zb_decode_step_bytes(&s->desc, s->dt, s->batch, cached) / (s->copy_gbps * 1e9) * 1e3;
}

double zb_series_prefill_floor_ms(const zb_series *s, double seq, double depth)
{
    if (!(s->gemm_tflops > 0)) return NAN;
    return zb_prefill_flops(&s->desc, s->batch, (int64_t)llround(seq), (int64_t)llround(depth)) /
           (s->gemm_tflops * 1e12) * 1e3;
}

void zb_series_fit(const zb_series *s, zb_fit *out)
{
    memset(out, 0, sizeof *out);
    if (!s->is_gpu || s->gpu_memory_bytes <= 0) {
        out->kind = ZB_FIT_NA_CPU;
        return;
    }
    if (!s->have_desc) {
        out->kind = ZB_FIT_NA_MODEL;
        return;
    }
    out->kv_per_token = (double)zb_kv_bytes_per_token(&s->desc, s->dt) * s->batch;
    out->fixed_bytes = s->weights_bytes + zb_series_state_bytes(s);
    double avail = (double)s->gpu_memory_bytes - out->fixed_bytes;
    if (out->kv_per_token <= 0) {
        out->kind = avail >= 0 ? ZB_FIT_NO_KV : ZB_FIT_NONE;
        return;
    }
    if (avail < out->kv_per_token) {
        out->kind = ZB_FIT_NONE;
        return;
    }
    double tokens = floor(avail / out->kv_per_token);
    if (s->desc.sliding_window > 0 && tokens >= s->desc.sliding_window) {
        out->kind = ZB_FIT_WINDOW; /* the cache never holds more than the window */
        out->window = s->desc.sliding_window;
        return;
    }
    out->kind = ZB_FIT_TOKENS;
    out->tokens = (int64_t)tokens;
}

void zb_series_from_preset(zb_series *s, const char *name, const char *dtype, int batch, int64_t gpu_bytes)
{
    memset(s, 0, sizeof *s);
    s->model = s->model_source = name;
    s->plugin = "analytic", s->device = "", s->dtype = dtype, s->layout = "";
    s->batch = batch;
    s->is_gpu = gpu_bytes > 0;
    s->gpu_memory_bytes = gpu_bytes;
    snprintf(s->label, sizeof s->label, "%s", name);
    const zb_preset *p = zb_preset_find(name);
    if (!p) {
        snprintf(s->desc_note, sizeof s->desc_note, "%.80s: not a preset", name);
        return;
    }
    zb_model_desc desc;
    p->fill(&desc);
    zb_param_counts pc;
    zb_count_params(&desc, &pc);
    s->n_params = pc.stored;
    s->is_zamba = desc.layout == ZB_LAYOUT_ZAMBA;
    s->layout = s->is_zamba ? "zamba" : "transformer";
    zb_series_resolve(NULL, s);
}
