/*
 * The per-run trace summary zbench prints after a traced sweep: per phase,
 * the top kernels by total time (count, mean, % of the phase, GB/s where
 * the bytes are known) and the time per kernel class, read back from the
 * views v_kernel_top and v_kernel_class, so that what is printed and what
 * the database says cannot differ. Decode steps also get the GB/s achieved
 * over the analytic bytes a step must move (bench/analytic.h).
 */
#ifndef ZB_TRACE_SUMMARY_H
#define ZB_TRACE_SUMMARY_H

#include <stdint.h>
#include <stdio.h>

#include "zbench_plugin.h"

#define ZB_TRACE_SUMMARY_TOP 10

typedef struct zb_trace_summary_run {
    int64_t run_id;
    char label[320];          /* plugin, model, layout and shape */
    double decode_step_bytes; /* analytic bytes of one decode step; <= 0: unknown */
} zb_trace_summary_run;

/* Markdown on f. Reads db_path with its own read-only connection. */
zb_status zb_trace_summary_print(FILE *f, const char *db_path, const zb_trace_summary_run *run, int top_n,
                                 zb_error *err);

#endif
