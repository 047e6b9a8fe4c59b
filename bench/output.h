/* What a run prints on stdout: a markdown table (default), csv, json or
 * jsonl; json and jsonl carry every raw sample. */
#ifndef ZB_OUTPUT_H
#define ZB_OUTPUT_H

#include <stdint.h>
#include <stdio.h>

#include "options.h"
#include "stats.h"

#define ZB_CV_FLAG 0.05 /* repetition spread above which a value is flagged */

typedef struct zb_run_report {
    int64_t run_id;
    const char *plugin, *model, *layout, *dtype, *device;
    int batch, seq, gen, depth;
    const char *status; /* ok, failed, oom, interrupted */
    const char *error;  /* NULL when none */
    int reps;           /* completed repetitions */
    zb_summary prefill, decode; /* ms: time to first token; ms per decode step */
    double prefill_tok_s, decode_tok_s;
    double prefill_cv, decode_cv;           /* across repetitions */
    double prefill_floor_ms, decode_floor_ms; /* < 0 when unknown */
    int64_t weights_bytes, kv_bytes, state_bytes, device_total_bytes;
    /* CUDA graphs (zb.graph_stats.v1) over the run; captures < 0: none */
    int64_t graph_captures, graph_replays;
    double graph_capture_ms;
    const double *prefill_ms, *decode_ms; /* raw: [reps], [reps][gen] */
} zb_run_report;

typedef struct zb_output {
    FILE *f;
    zb_output_fmt fmt;
    int rows;
    int flagged; /* some value had a high spread */
} zb_output;

void zb_output_begin(zb_output *o, FILE *f, zb_output_fmt fmt);
void zb_output_run(zb_output *o, const zb_run_report *r);
void zb_output_end(zb_output *o);

#endif
