/* Command-line options of `zbench run`, with llama-bench-style lists:
 * "512,1024", "512-16384*2" (multiply), "1024-8192+1024" (step). */
#ifndef ZB_OPTIONS_H
#define ZB_OPTIONS_H

#include <stdint.h>
#include <stdio.h>

#include "zbench_plugin.h"

#define ZB_MAX_CONTEXT (1 << 20) /* tokens per sequence zbench indexes */
#define ZB_MAX_LIST 4096         /* values one list may expand to */

typedef struct zb_int_list {
    int64_t v[ZB_MAX_LIST];
    int n;
} zb_int_list;

typedef struct zb_str_list {
    char *v[64];
    int n;
} zb_str_list;

typedef enum zb_output_fmt { ZB_OUT_MD, ZB_OUT_CSV, ZB_OUT_JSON, ZB_OUT_JSONL } zb_output_fmt;

typedef struct zb_run_opts {
    zb_str_list plugins, models; /* empty: defaults decided by the device */
    const char *model_config;    /* --model-config: shape from a config.json, synthetic weights */
    zb_int_list seqs, gens, batches, depths;
    int reps, warmup;
    uint64_t seed;
    const char *db_path, *tag;
    zb_output_fmt output;
    int quiet;
    double delay_s;
    int nvtx;
    int trace;            /* --trace on: GPU activity into the kernels table */
    int trace_overhead;   /* --trace-overhead: an untraced twin before each traced run */
    int profile_first, profile_last; /* --profile-steps A:B (decode steps, 1-based); 0: all */
    int dtype; /* -1: the plugin's best; else a zb_dtype */
    int isolate; /* each run in a child process: -1 when the sweep has more than one run, else 0/1 */
    char *owned[16]; /* copies backing the name lists */
    int n_owned;
} zb_run_opts;

/* Expands one list option's text into values within [min, max]. */
zb_status zb_parse_int_list(const char *opt, const char *text, int64_t min, int64_t max, zb_int_list *out,
                            zb_error *err);

/* Parses `argv` (argv[0] is the command name). Returns ZB_OK, or
 * ZB_ERR_INVALID with a one-line message; *help is set for --help. */
zb_status zb_parse_run_opts(int argc, char **argv, zb_run_opts *o, int *help, zb_error *err);
/* "A:B" or "A" (1 <= A <= B): decode steps, 1-based. */
zb_status zb_parse_steps(const char *opt, const char *text, int *first, int *last, zb_error *err);
void zb_run_opts_free(zb_run_opts *o);
void zb_run_usage(FILE *f);

#endif
