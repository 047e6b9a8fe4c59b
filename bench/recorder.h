/*
 * The run record: one SQLite file (the system library) that every zbench
 * run fills. Versioned schema (PRAGMA user_version, forward migrations, a
 * newer schema refused), WAL mode and a busy timeout so several zbench
 * processes can write one file, every return code checked.
 *
 * A run's row is inserted with status 'running' when it starts (its own
 * transaction) and completed when it ends: results, samples, statistics and
 * memory rows go in with the final status in ONE transaction, so a killed
 * process leaves a valid database in which the run is visibly unfinished.
 * Long generations may flush samples earlier with zb_db_add_samples.
 */
#ifndef ZB_RECORDER_H
#define ZB_RECORDER_H

#include <stdint.h>

#include "zbench_plugin.h"

#define ZB_SCHEMA_VERSION 3
#define ZB_DB_BUSY_TIMEOUT_MS 10000
#define ZB_DB_BUSY_TIMEOUT_MAX_MS 3600000

typedef struct zb_db zb_db;

/* Everything that identifies a run: its parameters and environment. Text
 * fields may be "" but not NULL. */
typedef struct zb_run_info {
    const char *sweep_id;     /* groups the runs of one invocation */
    const char *tag;
    const char *command_line;
    const char *plugin, *plugin_path;
    uint32_t plugin_abi;
    const char *model, *model_source, *layout, *dtype;
    int64_t n_params;
    int batch, seq, gen, depth, reps, warmup;
    int64_t capacity;
    uint64_t seed;
    const char *host, *cpu, *gpu, *driver_version, *runtime_version;
    uint64_t gpu_memory_bytes;
    const char *zbench_version, *git_commit;
} zb_run_info;

/* One timed repetition of one phase ('prefill' or 'decode'). */
typedef struct zb_result {
    const char *phase;
    int rep;
    int tokens;         /* tokens processed per sequence in this repetition */
    double wall_ms;     /* host monotonic time */
    double device_ms;   /* device-event time, < 0 when unknown */
} zb_result;

/* One point along a generation: the step that produced token `position`. */
typedef struct zb_sample {
    int rep;
    int64_t position;       /* context length after the step */
    double latency_ms;      /* host time of the step */
    double device_ms;       /* < 0 when unknown */
    int64_t memory_bytes;   /* kv + state in use (measured), < 0 when unknown */
    int64_t device_bytes;   /* device allocation total, < 0 when unknown */
} zb_sample;

/* A summary statistic of a phase: metric is one of mean, median, p90, p99,
 * min, max, stddev, cv, tokens_per_s, floor_ms, pct_of_floor. */
typedef struct zb_stat {
    const char *phase;
    const char *metric;
    double value;
} zb_stat;

/* Measured next to predicted bytes for one category: weights, kv, state,
 * workspace, device_total, device_peak. predicted < 0: no prediction. */
typedef struct zb_memory_row {
    const char *category;
    int64_t measured;
    int64_t predicted;
} zb_memory_row;

/* The `trace` row of a run that asked for tracing (--trace): written by
 * zb_db_run_end_trace with the run's final status. */
typedef struct zb_trace_info {
    const char *status;         /* "traced", "untraced" or "baseline" (the untraced twin) */
    const char *note;           /* one line saying why untraced, or what went wrong; NULL */
    int64_t records;            /* rows the run has in `kernels` */
    int64_t dropped;            /* records CUPTI or the tracer lost */
    int64_t lost;               /* records the store failed to write */
    int64_t unattributed;       /* rows written without their phase and layer */
    int batch_size;             /* rows per transaction; <= 0: none (untraced) */
    int64_t batches;
    int profile_first, profile_last; /* --profile-steps; 0: every step */
    double prefill_median_ms, decode_median_ms;                   /* < 0: unknown */
    int64_t baseline_run_id;    /* the untraced twin (--trace-overhead); <= 0: none */
    double baseline_prefill_median_ms, baseline_decode_median_ms; /* <= 0: none */
} zb_trace_info;

/* Calibration of a device ('zbench calibrate'). */
typedef struct zb_device_calib {
    const char *name;   /* device name as plugins report it */
    const char *kind;   /* "gpu" or "cpu" */
    const char *host;
    double copy_gbps;   /* memory copy bandwidth, bytes read + written */
    double gemm_tflops; /* bf16 GEMM (GPU) or fp32 FMA (CPU) rate */
    const char *method; /* one line: how it was measured */
} zb_device_calib;

/* Opens (creating and migrating when needed) a database. A schema newer
 * than ZB_SCHEMA_VERSION, a read-only or unwritable file, or a lock held
 * past the busy timeout fail here with one line naming the file. The busy
 * timeout is ZB_DB_BUSY_TIMEOUT_MS, or the environment's
 * ZBENCH_DB_BUSY_TIMEOUT_MS (0 to ZB_DB_BUSY_TIMEOUT_MAX_MS). */
zb_status zb_db_open(const char *path, zb_db **out, zb_error *err);
/* zb_db_open waiting at most busy_timeout_ms (>= 0) instead of
 * ZB_DB_BUSY_TIMEOUT_MS for another connection's lock: for tests, and for
 * callers that would rather fail fast than wait. */
zb_status zb_db_open_timeout(const char *path, int busy_timeout_ms, zb_db **out, zb_error *err);
/* Changes how long later calls wait for another connection's lock (ms >= 0). */
zb_status zb_db_set_busy_timeout(zb_db *db, int ms, zb_error *err);
void zb_db_close(zb_db *db);
int zb_db_schema_version(zb_db *db);

zb_status zb_db_run_begin(zb_db *db, const zb_run_info *info, int64_t *run_id, zb_error *err);
/* Samples flushed ahead of the end of a long run (own transaction). */
zb_status zb_db_add_samples(zb_db *db, int64_t run_id, const zb_sample *s, int n, zb_error *err);
/* Completes the run: status is ok, failed, oom, interrupted or crashed;
 * error may be NULL. All rows and the status land together or not at all. */
zb_status zb_db_run_end(zb_db *db, int64_t run_id, const char *status, const char *error, const zb_result *results,
                        int n_results, const zb_sample *samples, int n_samples, const zb_stat *stats, int n_stats,
                        const zb_memory_row *memory, int n_memory, zb_error *err);

/* The run's status (running, ok, failed, ...) into buf. */
zb_status zb_db_run_status(zb_db *db, int64_t run_id, char *buf, size_t n, zb_error *err);

/* After zb_db_run_end failed (a full disk, an I/O error, a lock held past
 * the timeout): marks the run 'failed' with `reason` and none of its rows,
 * if the database still takes that one small write (a full write-ahead log
 * is checkpointed first, which frees its space). Otherwise the run stays
 * 'running', visibly unfinished, and this returns the error. */
zb_status zb_db_run_fail(zb_db *db, int64_t run_id, const char *reason, zb_error *err);

/* zb_db_run_end plus the run's trace row (trace may be NULL: none), in
 * the same transaction. */
zb_status zb_db_run_end_trace(zb_db *db, int64_t run_id, const char *status, const char *error,
                              const zb_result *results, int n_results, const zb_sample *samples, int n_samples,
                              const zb_stat *stats, int n_stats, const zb_memory_row *memory, int n_memory,
                              const zb_trace_info *trace, zb_error *err);

zb_status zb_db_save_device(zb_db *db, const zb_device_calib *c, zb_error *err);
/* The latest calibration of the named device; *found = 0 when none. Text
 * fields of `out` point into storage valid until the next call. */
zb_status zb_db_find_device(zb_db *db, const char *name, zb_device_calib *out, int *found, zb_error *err);

#endif
