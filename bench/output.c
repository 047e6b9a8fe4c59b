#include "output.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const md_header =
    "| plugin | model | batch | seq | gen | TTFT ms | prefill tok/s | decode ms/tok | p99 ms | decode tok/s | "
    "KV+state MB | % floor pre/dec |\n"
    "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n";
static const char *const csv_header =
    "run_id,status,plugin,model,layout,dtype,device,batch,seq,gen,depth,reps,ttft_ms,prefill_tok_s,"
    "decode_ms_median,decode_ms_p99,decode_tok_s,prefill_cv,decode_cv,prefill_floor_ms,decode_floor_ms,"
    "weights_bytes,kv_bytes,state_bytes,device_total_bytes,error\n";

void zb_output_begin(zb_output *o, FILE *f, zb_output_fmt fmt)
{
    memset(o, 0, sizeof *o);
    o->f = f;
    o->fmt = fmt;
    if (fmt == ZB_OUT_MD) fputs(md_header, f);
    else if (fmt == ZB_OUT_CSV) fputs(csv_header, f);
    else if (fmt == ZB_OUT_JSON) fputs("[\n", f);
    fflush(f);
}

static double pct(double floor_ms, double ms)
{
    return floor_ms > 0 && ms > 0 ? 100.0 * floor_ms / ms : -1.0;
}

static void md_row(zb_output *o, const zb_run_report *r)
{
    FILE *f = o->f;
    fprintf(f, "| %s | %s | %d | %d | %d | ", r->plugin, r->model, r->batch, r->seq, r->gen);
    if (strcmp(r->status, "ok") != 0 && r->reps == 0) {
        fprintf(f, "%s: %s | | | | | | |\n", r->status, r->error ? r->error : "");
        return;
    }
    const char *pf = r->prefill_cv > ZB_CV_FLAG ? "*" : "";
    const char *df = r->decode_cv > ZB_CV_FLAG ? "*" : "";
    o->flagged |= *pf || *df;
    fprintf(f, "%.2f%s | %.0f | ", r->prefill.median, pf, r->prefill_tok_s);
    if (r->gen > 0) fprintf(f, "%.3f%s | %.3f | %.1f | ", r->decode.median, df, r->decode.p99, r->decode_tok_s);
    else fprintf(f, "- | - | - | ");
    fprintf(f, "%.1f | ", (double)(r->kv_bytes + r->state_bytes) / 1e6);
    double pp = pct(r->prefill_floor_ms, r->prefill.median), dp = pct(r->decode_floor_ms, r->decode.median);
    if (pp >= 0) fprintf(f, "%.0f", pp);
    else fputs("-", f);
    fputs(" / ", f);
    if (dp >= 0 && r->gen > 0) fprintf(f, "%.0f", dp);
    else fputs("-", f);
    if (strcmp(r->status, "ok") != 0) fprintf(f, " (%s)", r->status);
    fputs(" |\n", f);
}

static void csv_field(FILE *f, const char *s)
{
    /* RFC 4180: quote, doubling inner quotes */
    fputc('"', f);
    for (; s && *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void csv_row(zb_output *o, const zb_run_report *r)
{
    FILE *f = o->f;
    fprintf(f, "%lld,%s,", (long long)r->run_id, r->status);
    csv_field(f, r->plugin), fputc(',', f);
    csv_field(f, r->model), fputc(',', f);
    fprintf(f, "%s,%s,", r->layout, r->dtype);
    csv_field(f, r->device), fputc(',', f);
    fprintf(f, "%d,%d,%d,%d,%d,%.6g,%.6g,%.6g,%.6g,%.6g,%.4g,%.4g,%.6g,%.6g,%lld,%lld,%lld,%lld,", r->batch, r->seq,
            r->gen, r->depth, r->reps, r->prefill.median, r->prefill_tok_s, r->decode.median, r->decode.p99,
            r->decode_tok_s, r->prefill_cv, r->decode_cv, r->prefill_floor_ms, r->decode_floor_ms,
            (long long)r->weights_bytes, (long long)r->kv_bytes, (long long)r->state_bytes,
            (long long)r->device_total_bytes);
    csv_field(f, r->error ? r->error : "");
    fputc('\n', f);
}

static void add_summary(cJSON *obj, const char *name, const zb_summary *s, double cv)
{
    cJSON *j = cJSON_AddObjectToObject(obj, name);
    if (!j) return;
    cJSON_AddNumberToObject(j, "n", s->n);
    cJSON_AddNumberToObject(j, "mean_ms", s->mean);
    cJSON_AddNumberToObject(j, "median_ms", s->median);
    cJSON_AddNumberToObject(j, "p90_ms", s->p90);
    cJSON_AddNumberToObject(j, "p99_ms", s->p99);
    cJSON_AddNumberToObject(j, "min_ms", s->min);
    cJSON_AddNumberToObject(j, "max_ms", s->max);
    cJSON_AddNumberToObject(j, "stddev_ms", s->stddev);
    cJSON_AddNumberToObject(j, "cv_reps", cv);
}

static cJSON *json_run(const zb_run_report *r)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "run_id", (double)r->run_id);
    cJSON_AddStringToObject(o, "status", r->status);
    if (r->error) cJSON_AddStringToObject(o, "error", r->error);
    cJSON_AddStringToObject(o, "plugin", r->plugin);
    cJSON_AddStringToObject(o, "model", r->model);
    cJSON_AddStringToObject(o, "layout", r->layout);
    cJSON_AddStringToObject(o, "dtype", r->dtype);
    cJSON_AddStringToObject(o, "device", r->device);
    cJSON_AddNumberToObject(o, "batch", r->batch);
    cJSON_AddNumberToObject(o, "seq", r->seq);
    cJSON_AddNumberToObject(o, "gen", r->gen);
    cJSON_AddNumberToObject(o, "depth", r->depth);
    cJSON_AddNumberToObject(o, "reps", r->reps);
    add_summary(o, "prefill", &r->prefill, r->prefill_cv);
    cJSON_AddNumberToObject(o, "prefill_tok_s", r->prefill_tok_s);
    add_summary(o, "decode", &r->decode, r->decode_cv);
    cJSON_AddNumberToObject(o, "decode_tok_s", r->decode_tok_s);
    if (r->prefill_floor_ms > 0) cJSON_AddNumberToObject(o, "prefill_floor_ms", r->prefill_floor_ms);
    if (r->decode_floor_ms > 0) cJSON_AddNumberToObject(o, "decode_floor_ms", r->decode_floor_ms);
    cJSON_AddNumberToObject(o, "weights_bytes", (double)r->weights_bytes);
    cJSON_AddNumberToObject(o, "kv_bytes", (double)r->kv_bytes);
    cJSON_AddNumberToObject(o, "state_bytes", (double)r->state_bytes);
    cJSON_AddNumberToObject(o, "device_total_bytes", (double)r->device_total_bytes);
    if (r->graph_captures >= 0) {
        cJSON *g = cJSON_AddObjectToObject(o, "graphs");
        cJSON_AddNumberToObject(g, "captures", (double)r->graph_captures);
        cJSON_AddNumberToObject(g, "replays", (double)r->graph_replays);
        cJSON_AddNumberToObject(g, "capture_ms", r->graph_capture_ms);
    }
    /* every raw sample: prefill per repetition, decode per step per repetition */
    if (r->reps > 0 && r->prefill_ms) cJSON_AddItemToObject(o, "prefill_ms", cJSON_CreateDoubleArray(r->prefill_ms, r->reps));
    cJSON *dec = cJSON_AddArrayToObject(o, "decode_ms");
    for (int i = 0; dec && r->decode_ms && i < r->reps && r->gen > 0; i++)
        cJSON_AddItemToArray(dec, cJSON_CreateDoubleArray(r->decode_ms + (size_t)i * r->gen, r->gen));
    return o;
}

void zb_output_run(zb_output *o, const zb_run_report *r)
{
    switch (o->fmt) {
    case ZB_OUT_MD: md_row(o, r); break;
    case ZB_OUT_CSV: csv_row(o, r); break;
    case ZB_OUT_JSON:
    case ZB_OUT_JSONL: {
        cJSON *j = json_run(r);
        char *text = j ? cJSON_PrintUnformatted(j) : NULL;
        if (text) fprintf(o->f, "%s%s\n", o->fmt == ZB_OUT_JSON && o->rows ? "," : "", text);
        free(text);
        cJSON_Delete(j);
        break;
    }
    }
    o->rows++;
    fflush(o->f);
}

void zb_output_end(zb_output *o)
{
    if (o->fmt == ZB_OUT_JSON) fputs("]\n", o->f);
    if (o->fmt == ZB_OUT_MD && o->flagged)
        fprintf(o->f, "\n\\* coefficient of variation across repetitions above %.0f%%: noisy, rerun or raise --reps\n",
                ZB_CV_FLAG * 100);
    fflush(o->f);
}
