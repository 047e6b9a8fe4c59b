/*
 * Ingestion of GPU activity records (trace_api.h) into the `kernels` table
 * (docs/SCHEMA.md, version 2).
 *
 * One store serves a whole sweep, so what outlives a run (CUDA graph nodes
 * created when a session was set up, long before its kernels run) stays
 * known; zb_trace_store_begin_run / zb_trace_store_end_run bracket the
 * records of each traced run.
 *
 * Records stream in through zb_trace_store_sink, possibly from a CUPTI
 * worker thread. Each activity is attributed to its phase, repetition,
 * decode step, layer and part from the correlation record of the API call
 * that launched it, and rows go to SQLite in batches of `batch` per
 * transaction, so memory stays bounded however long the run. An activity
 * whose correlation has not been seen yet waits (at most `pending_max` of
 * them, then the oldest are written as they are); one that never gets it
 * is written as phase 'other' and counted as unattributed. Activities that
 * arrive outside a run, or that the store fails to write, are counted as
 * lost, never silently: the counts go into the run's `trace` row (written
 * by the recorder with the run's final status).
 *
 * The store has its own connection to the database (the recorder's belongs
 * to the main thread, and SQLite transactions are per connection); the
 * file must already have schema version 2 or later.
 */
#ifndef ZB_TRACE_STORE_H
#define ZB_TRACE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "trace_api.h"
#include "zbench_plugin.h"

#define ZB_TRACE_BATCH_DEFAULT 4096
#define ZB_TRACE_WINDOW_DEFAULT (1u << 20)

typedef struct zb_trace_store zb_trace_store;

typedef struct zb_trace_store_opts {
    int batch;           /* rows per transaction, >= 1; 0: ZB_TRACE_BATCH_DEFAULT */
    uint32_t window;     /* correlation ids remembered, a power of two; 0: ZB_TRACE_WINDOW_DEFAULT */
    int pending_max;     /* rows kept waiting for their correlation; 0: 4 x batch */
    int busy_timeout_ms; /* waiting for other writers' locks; 0: ZB_DB_BUSY_TIMEOUT_MS */
} zb_trace_store_opts;

/* Counts of the current (or just ended) run. */
typedef struct zb_trace_counts {
    int64_t records;      /* rows written to `kernels` */
    int64_t unattributed; /* of which written without their correlation */
    int64_t lost;         /* activities received but not written */
    int64_t batches;      /* transactions that wrote rows */
    int64_t held_max;     /* the most rows held in memory at once */
} zb_trace_counts;

/* opts may be NULL. One-line errors name the file. */
zb_status zb_trace_store_open(const char *db_path, const zb_trace_store_opts *opts, zb_trace_store **out,
                              zb_error *err);
/* The rows of activities from now on belong to run_id (which must exist). */
void zb_trace_store_begin_run(zb_trace_store *s, int64_t run_id);
/* A zb_trace_sink_fn; ctx is the store. Thread-safe. */
void zb_trace_store_sink(void *ctx, const zb_trace_record *records, size_t n);
/* Counts so far (for tests and progress). */
void zb_trace_store_counts(zb_trace_store *s, zb_trace_counts *out);
/* Writes what is held (rows still waiting for their correlation as
 * unattributed) and closes the run: later activities are lost until the
 * next begin_run. Call after the tracer has flushed. counts (may be NULL)
 * gets the run's final numbers even on failure; the failure (the first of
 * the run: later ones are its consequences) comes back as a one-line
 * error. */
zb_status zb_trace_store_end_run(zb_trace_store *s, zb_trace_counts *counts, zb_error *err);
/* Activities that arrived outside any run since the store opened (lost;
 * the tracer flushes before each end_run, so normally 0). */
int64_t zb_trace_store_stray(zb_trace_store *s);
void zb_trace_store_close(zb_trace_store *s);

#endif
