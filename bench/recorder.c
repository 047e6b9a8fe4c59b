/*
 * The SQLite run record (interface in recorder.h, schema in docs/SCHEMA.md).
 *
 * Locking: every write runs as one BEGIN IMMEDIATE transaction (or one
 * autocommit statement). Taking the write lock up front matters: a deferred
 * transaction that first reads and then writes cannot wait for a concurrent
 * writer (SQLite answers SQLITE_BUSY at once to avoid a deadlock), whereas
 * BEGIN IMMEDIATE waits in the busy handler like any other lock.
 *
 * Errors: every failure is formatted as "<file>: <what>: <sqlite message>"
 * right after the failing call, before a ROLLBACK can replace the message.
 */
#include "recorder.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "zb_util.h"

/* ISO-8601 UTC with milliseconds ("2024-05-01T12:34:56.789Z"): sorts as
 * text, parses in pandas and Datasette, and is computed by SQLite so every
 * row uses one clock. */
#define ZB_NOW_SQL "strftime('%Y-%m-%dT%H:%M:%fZ','now')"

struct zb_db {
    sqlite3 *h;
    char *path;        /* as given, for messages */
    int busy_ms;       /* current busy timeout, for messages */
    char *device_text; /* backs the strings zb_db_find_device returns */
};

/* ------------------------------------------------------------------ schema */

/* Version 1: the first schema. Runs are the parent of every other row;
 * ON DELETE CASCADE lets a user delete a run with one statement (when their
 * connection enables foreign keys, as zbench's does). */
static const char k_schema_v1[] =
    "CREATE TABLE runs ("
    " id INTEGER PRIMARY KEY,"
    " sweep_id TEXT NOT NULL, tag TEXT NOT NULL, command_line TEXT NOT NULL,"
    " plugin TEXT NOT NULL, plugin_path TEXT NOT NULL, plugin_abi INTEGER NOT NULL,"
    " model TEXT NOT NULL, model_source TEXT NOT NULL, layout TEXT NOT NULL, dtype TEXT NOT NULL,"
    " n_params INTEGER NOT NULL,"
    " batch INTEGER NOT NULL, seq INTEGER NOT NULL, gen INTEGER NOT NULL, depth INTEGER NOT NULL,"
    " reps INTEGER NOT NULL, warmup INTEGER NOT NULL, capacity INTEGER NOT NULL, seed INTEGER NOT NULL,"
    " host TEXT NOT NULL, cpu TEXT NOT NULL, gpu TEXT NOT NULL,"
    " driver_version TEXT NOT NULL, runtime_version TEXT NOT NULL, gpu_memory_bytes INTEGER NOT NULL,"
    " zbench_version TEXT NOT NULL, git_commit TEXT NOT NULL,"
    " started_at TEXT NOT NULL, ended_at TEXT,"
    " status TEXT NOT NULL DEFAULT 'running'"
    "  CHECK (status IN ('running','ok','failed','oom','interrupted','crashed')),"
    " error TEXT,"
    " pid INTEGER NOT NULL);"
    "CREATE INDEX runs_sweep_id ON runs(sweep_id);"
    "CREATE INDEX runs_started_at ON runs(started_at);"
    "CREATE TABLE results ("
    " run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " phase TEXT NOT NULL, rep INTEGER NOT NULL, tokens INTEGER NOT NULL,"
    " wall_ms REAL NOT NULL, device_ms REAL, tokens_per_s REAL);"
    "CREATE INDEX results_run_id ON results(run_id, phase);"
    "CREATE TABLE samples ("
    " run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " rep INTEGER NOT NULL, position INTEGER NOT NULL, latency_ms REAL NOT NULL,"
    " device_ms REAL, memory_bytes INTEGER, device_bytes INTEGER);"
    "CREATE INDEX samples_run_id ON samples(run_id, rep, position);"
    "CREATE TABLE stats ("
    " run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " phase TEXT NOT NULL, metric TEXT NOT NULL, value REAL);"
    "CREATE INDEX stats_run_id ON stats(run_id, phase, metric);"
    "CREATE TABLE memory ("
    " run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " category TEXT NOT NULL, measured_bytes INTEGER NOT NULL, predicted_bytes INTEGER,"
    " rel_diff REAL, warning INTEGER NOT NULL CHECK (warning IN (0, 1)));"
    "CREATE INDEX memory_run_id ON memory(run_id, category);"
    "CREATE TABLE devices ("
    " id INTEGER PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, host TEXT NOT NULL,"
    " measured_at TEXT NOT NULL, copy_gbps REAL, gemm_tflops REAL, method TEXT NOT NULL);"
    "CREATE INDEX devices_name ON devices(name, measured_at);"
    /* Scalar subqueries rather than joins: a run missing a statistic still
     * gets its row, with NULL in that column. */
    "CREATE VIEW v_summary AS SELECT"
    " r.id, r.started_at, r.status, r.tag, r.plugin, r.model, r.layout, r.dtype,"
    " r.batch, r.seq, r.gen, r.depth, r.gpu,"
    " (SELECT max(value) FROM stats s WHERE s.run_id = r.id AND s.phase = 'prefill' AND s.metric = 'median')"
    "  AS prefill_median_ms,"
    " (SELECT max(value) FROM stats s WHERE s.run_id = r.id AND s.phase = 'prefill' AND s.metric = 'tokens_per_s')"
    "  AS prefill_tokens_per_s,"
    " (SELECT max(value) FROM stats s WHERE s.run_id = r.id AND s.phase = 'decode' AND s.metric = 'median')"
    "  AS decode_median_ms,"
    " (SELECT max(value) FROM stats s WHERE s.run_id = r.id AND s.phase = 'decode' AND s.metric = 'p99')"
    "  AS decode_p99_ms,"
    " (SELECT max(value) FROM stats s WHERE s.run_id = r.id AND s.phase = 'decode' AND s.metric = 'tokens_per_s')"
    "  AS decode_tokens_per_s,"
    " (SELECT max(value) FROM stats s WHERE s.run_id = r.id AND s.phase = 'prefill' AND s.metric = 'pct_of_floor')"
    "  AS prefill_pct_of_floor,"
    " (SELECT max(value) FROM stats s WHERE s.run_id = r.id AND s.phase = 'decode' AND s.metric = 'pct_of_floor')"
    "  AS decode_pct_of_floor,"
    " (SELECT sum(measured_bytes) FROM memory m WHERE m.run_id = r.id AND m.category IN ('kv', 'state'))"
    "  AS kv_state_bytes,"
    " r.sweep_id"
    " FROM runs r;"
    "CREATE VIEW v_memory_vs_length AS SELECT"
    " r.id AS run_id, r.status, r.model, r.layout, r.plugin, r.dtype, r.batch,"
    " s.rep, s.position, s.memory_bytes, s.device_bytes,"
    " (SELECT max(measured_bytes) FROM memory m WHERE m.run_id = r.id AND m.category = 'weights')"
    "  AS weights_bytes"
    " FROM samples s JOIN runs r ON r.id = s.run_id;"
    "CREATE VIEW v_latency_vs_length AS SELECT"
    " r.id AS run_id, r.status, r.model, r.layout, r.plugin, r.dtype, r.batch,"
    " s.rep, s.position, s.latency_ms, s.device_ms"
    " FROM samples s JOIN runs r ON r.id = s.run_id;";

/* Version 2: GPU activity of traced runs (`zbench --trace`). `kernels`
 * holds one row per kernel, copy or set, written in batches while the run
 * goes on (bench/trace_store.c, its own connection), so unlike results
 * they may exist for a run still 'running'; `trace` one row per run that
 * asked for tracing, written with the run's final status: whether it was
 * traced, what was lost, and the overhead against an untraced twin. The
 * views sum activity time and leave warm-up repetitions (rep < 0) out, as
 * the run's statistics do. */
static const char k_schema_v2[] =
    "CREATE TABLE kernels ("
    " id INTEGER PRIMARY KEY,"
    " run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " kind TEXT NOT NULL CHECK (kind IN ('kernel','memcpy','memset')),"
    " phase TEXT NOT NULL CHECK (phase IN ('prefill','decode','depth','other')),"
    " rep INTEGER, step INTEGER, layer INTEGER, part TEXT,"
    " name TEXT NOT NULL, class TEXT NOT NULL,"
    " start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL,"
    " device INTEGER, stream INTEGER, correlation_id INTEGER,"
    " grid_x INTEGER, grid_y INTEGER, grid_z INTEGER, block_x INTEGER, block_y INTEGER, block_z INTEGER,"
    " registers INTEGER, static_smem INTEGER, dynamic_smem INTEGER,"
    " bytes INTEGER, copy_kind TEXT, graph_id INTEGER, graph_node_id INTEGER);"
    "CREATE INDEX kernels_run_id ON kernels(run_id, phase, step);"
    "CREATE TABLE trace ("
    " run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,"
    " status TEXT NOT NULL CHECK (status IN ('traced','untraced','baseline')), note TEXT,"
    " records INTEGER NOT NULL, dropped INTEGER NOT NULL, lost INTEGER NOT NULL, unattributed INTEGER NOT NULL,"
    " batch_size INTEGER, batches INTEGER, profile_first INTEGER, profile_last INTEGER,"
    " prefill_median_ms REAL, decode_median_ms REAL,"
    " baseline_run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,"
    " baseline_prefill_median_ms REAL, baseline_decode_median_ms REAL,"
    " prefill_overhead_pct REAL, decode_overhead_pct REAL);"
    "CREATE VIEW v_kernel_top AS"
    " WITH k AS (SELECT run_id, phase, kind, name, class, end_ns - start_ns AS ns, bytes FROM kernels"
    "            WHERE rep IS NULL OR rep >= 0),"
    " ph AS (SELECT run_id, phase, sum(ns) AS phase_ns FROM k GROUP BY run_id, phase),"
    " g AS (SELECT run_id, phase, kind, name, class, count(*) AS n, sum(ns) AS total_ns,"
    "       sum(bytes) AS total_bytes, count(bytes) AS n_bytes FROM k GROUP BY run_id, phase, kind, name, class)"
    " SELECT g.run_id, g.phase,"
    "  rank() OVER (PARTITION BY g.run_id, g.phase ORDER BY g.total_ns DESC) AS rank,"
    "  g.name, g.kind, g.class, g.n AS count, g.total_ns / 1e6 AS total_ms, g.total_ns / 1e3 / g.n AS mean_us,"
    "  CASE WHEN ph.phase_ns > 0 THEN 100.0 * g.total_ns / ph.phase_ns END AS pct_of_phase,"
    "  CASE WHEN g.n_bytes = g.n AND g.total_ns > 0 THEN 1.0 * g.total_bytes / g.total_ns END AS gb_per_s"
    " FROM g JOIN ph ON ph.run_id = g.run_id AND ph.phase = g.phase;"
    "CREATE VIEW v_kernel_class AS"
    " WITH k AS (SELECT run_id, phase, class, end_ns - start_ns AS ns FROM kernels WHERE rep IS NULL OR rep >= 0),"
    " ph AS (SELECT run_id, phase, sum(ns) AS phase_ns FROM k GROUP BY run_id, phase),"
    " c AS (SELECT run_id, phase, class, count(*) AS n, sum(ns) AS total_ns FROM k GROUP BY run_id, phase, class)"
    " SELECT c.run_id, r.layout, r.model, r.plugin, c.phase, c.class, c.n AS count, c.total_ns / 1e6 AS total_ms,"
    "  CASE WHEN ph.phase_ns > 0 THEN 100.0 * c.total_ns / ph.phase_ns END AS pct_of_phase"
    " FROM c JOIN ph ON ph.run_id = c.run_id AND ph.phase = c.phase JOIN runs r ON r.id = c.run_id;"
    "CREATE VIEW v_kernel_layer AS"
    " SELECT run_id, phase, layer, part, count(*) AS count, sum(end_ns - start_ns) / 1e6 AS total_ms"
    " FROM kernels WHERE (rep IS NULL OR rep >= 0) AND layer IS NOT NULL"
    " GROUP BY run_id, phase, layer, part;";

/* Version 3: v_kernel_charged. Under programmatic dependent launch a
 * kernel starts (and its recorded duration begins) while the one ahead of
 * it still runs, so durations on one stream overlap and their sum exceeds
 * the time the phase took. Each activity is charged only the time from the
 * latest end before its own end (within one repetition and step), never
 * before its own start: the charges of a step add up to its busy span, and
 * show which kernels the step waits on. */
static const char k_schema_v3[] =
    "CREATE VIEW v_kernel_charged AS"
    " WITH k AS (SELECT run_id, phase, kind, name, class, start_ns, end_ns,"
    "            LAG(end_ns) OVER (PARTITION BY run_id, phase, rep, step ORDER BY end_ns, id) AS prev_end"
    "            FROM kernels WHERE rep IS NULL OR rep >= 0),"
    " g AS (SELECT run_id, phase, kind, name, class, count(*) AS n,"
    "       sum(end_ns - max(start_ns, coalesce(prev_end, start_ns))) AS charged_ns,"
    "       sum(end_ns - start_ns) AS busy_ns FROM k GROUP BY run_id, phase, kind, name, class),"
    " ph AS (SELECT run_id, phase, sum(charged_ns) AS phase_ns FROM g GROUP BY run_id, phase)"
    " SELECT g.run_id, g.phase,"
    "  rank() OVER (PARTITION BY g.run_id, g.phase ORDER BY g.charged_ns DESC) AS rank,"
    "  g.name, g.kind, g.class, g.n AS count, g.charged_ns / 1e6 AS charged_ms, g.charged_ns / 1e3 / g.n AS"
    "  charged_us, g.busy_ns / 1e6 AS total_ms,"
    "  CASE WHEN ph.phase_ns > 0 THEN 100.0 * g.charged_ns / ph.phase_ns END AS pct_of_phase"
    " FROM g JOIN ph ON ph.run_id = g.run_id AND ph.phase = g.phase;";

/* Migration i (0-based) brings user_version i to i + 1. A later schema
 * appends its migration here and bumps ZB_SCHEMA_VERSION; existing entries
 * never change, since databases in the field were built by them. */
typedef struct zb_migration {
    const char *about;
    const char *sql;
} zb_migration;

static const zb_migration k_migrations[] = {
    {"runs, results, samples, stats, memory, devices and the v_* views", k_schema_v1},
    {"kernels and trace, v_kernel_top, v_kernel_class and v_kernel_layer", k_schema_v2},
    {"v_kernel_charged", k_schema_v3},
};

_Static_assert(sizeof k_migrations / sizeof k_migrations[0] == ZB_SCHEMA_VERSION,
               "one migration per schema version");

/* ------------------------------------------------------------------ errors */

static zb_status status_of_sqlite(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_NOMEM: return ZB_ERR_OOM;
    case SQLITE_MISUSE:
    case SQLITE_INTERNAL: return ZB_ERR_INTERNAL;
    default: return ZB_ERR_INVALID; /* the file, its lock or the data given */
    }
}

/* "<file>: <what>: <sqlite message>", plus a hint for the failures people
 * will meet: lock time-outs when several zbench processes share a file, and
 * unwritable places (SQLite's own wording names neither cause). */
static zb_status db_err(const zb_db *db, zb_error *err, const char *fmt, ...) ZB_PRINTF(3, 4);
static zb_status db_err(const zb_db *db, zb_error *err, const char *fmt, ...)
{
    int rc = sqlite3_extended_errcode(db->h);
    const char *msg = sqlite3_errmsg(db->h);
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
        return zb_fail(err, ZB_ERR_INVALID,
                       "%s: %s: %s (busy: another connection held the lock past the %d ms timeout)", db->path, what,
                       msg, db->busy_ms);
    const char *hint = "";
    if ((rc & 0xff) == SQLITE_READONLY) hint = " (the file or its directory is not writable)";
    if ((rc & 0xff) == SQLITE_CANTOPEN) hint = " (does the directory exist, and is it writable?)";
    if ((rc & 0xff) == SQLITE_FULL) hint = " (no space left on the device)";
    if ((rc & 0xff) == SQLITE_IOERR) hint = " (a full disk, a file size limit or a failing device)";
    return zb_fail(err, status_of_sqlite(rc), "%s: %s: %s%s", db->path, what, msg, hint);
}

/* ------------------------------------------------------------- statements */

static zb_status prepare(zb_db *db, const char *sql, sqlite3_stmt **st, const char *what, zb_error *err)
{
    *st = NULL;
    if (sqlite3_prepare_v2(db->h, sql, -1, st, NULL) != SQLITE_OK) return db_err(db, err, "%s", what);
    return ZB_OK;
}

/* sqlite3_finalize only repeats the error of the statement's last step,
 * which its caller has already turned into a zb_status. */
static void finalize(sqlite3_stmt *st)
{
    (void)sqlite3_finalize(st);
}

static zb_status db_exec(zb_db *db, const char *sql, const char *what, zb_error *err)
{
    if (sqlite3_exec(db->h, sql, NULL, NULL, NULL) != SQLITE_OK) return db_err(db, err, "%s", what);
    return ZB_OK;
}

/* Runs a statement that returns no rows and resets it for its next use. */
static zb_status step_done(zb_db *db, sqlite3_stmt *st, const char *what, zb_error *err)
{
    if (sqlite3_step(st) != SQLITE_DONE) return db_err(db, err, "%s", what);
    if (sqlite3_reset(st) != SQLITE_OK) return db_err(db, err, "%s", what);
    return ZB_OK;
}

/* Binds parameters 1, 2, 3... in order and keeps the first failure, so a
 * 28-column insert reads as a list and is still checked once at the end. */
typedef struct zb_binder {
    sqlite3_stmt *st;
    int next;
    int rc;
} zb_binder;

static zb_binder binder(sqlite3_stmt *st)
{
    zb_binder b = {st, 1, SQLITE_OK};
    return b;
}

static void bind_text(zb_binder *b, const char *s)
{
    int i = b->next++;
    /* NULL binds NULL: the NOT NULL constraints then name the column */
    if (b->rc == SQLITE_OK) b->rc = s ? sqlite3_bind_text(b->st, i, s, -1, SQLITE_STATIC) : sqlite3_bind_null(b->st, i);
}

static void bind_i64(zb_binder *b, int64_t v)
{
    int i = b->next++;
    if (b->rc == SQLITE_OK) b->rc = sqlite3_bind_int64(b->st, i, (sqlite3_int64)v);
}

static void bind_f64(zb_binder *b, double v)
{
    int i = b->next++;
    if (b->rc == SQLITE_OK) b->rc = sqlite3_bind_double(b->st, i, v);
}

static void bind_null(zb_binder *b)
{
    int i = b->next++;
    if (b->rc == SQLITE_OK) b->rc = sqlite3_bind_null(b->st, i);
}

/* The structs say "< 0 when unknown"; the database says NULL. */
static void bind_i64_known(zb_binder *b, int64_t v)
{
    if (v < 0) bind_null(b);
    else bind_i64(b, v);
}

static void bind_f64_known(zb_binder *b, double v)
{
    if (v < 0) bind_null(b);
    else bind_f64(b, v);
}

static zb_status bind_check(zb_db *db, const zb_binder *b, const char *what, zb_error *err)
{
    if (b->rc != SQLITE_OK) return db_err(db, err, "binding %s", what);
    return ZB_OK;
}

/* ----------------------------------------------------------- transactions */

static zb_status tx_begin(zb_db *db, const char *what, zb_error *err)
{
    return db_exec(db, "BEGIN IMMEDIATE", what, err);
}

static zb_status tx_commit(zb_db *db, const char *what, zb_error *err)
{
    return db_exec(db, "COMMIT", what, err);
}

/* Ends a failed transaction; err already holds the failure worth reporting.
 * Some errors (disk full, I/O, out of memory) roll back by themselves, and
 * then autocommit is on again and there is nothing left to undo. */
static void tx_rollback(zb_db *db, zb_error *err)
{
    if (sqlite3_get_autocommit(db->h)) return;
    if (sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK && err) {
        size_t n = strlen(err->msg);
        snprintf(err->msg + n, sizeof err->msg - n, " (and ROLLBACK failed: %s)", sqlite3_errmsg(db->h));
    }
}

/* ---------------------------------------------------------------- opening */

static zb_status read_pragma_int(zb_db *db, const char *sql, const char *what, int *out, zb_error *err)
{
    sqlite3_stmt *st;
    zb_status s = prepare(db, sql, &st, what, err);
    if (s != ZB_OK) return s;
    if (sqlite3_step(st) == SQLITE_ROW) *out = sqlite3_column_int(st, 0);
    else s = db_err(db, err, "%s", what);
    finalize(st);
    return s;
}

static zb_status db_connect(zb_db *db, zb_error *err)
{
    int rc = sqlite3_open_v2(db->path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) return db_err(db, err, "cannot open");
    if (sqlite3_extended_result_codes(db->h, 1) != SQLITE_OK) return db_err(db, err, "enabling extended codes");
    if (sqlite3_busy_timeout(db->h, db->busy_ms) != SQLITE_OK) return db_err(db, err, "setting the busy timeout");
    /* SQLite quietly falls back to read-only when the file is not writable;
     * a run record that cannot be written is useless, so say so now. */
    if (sqlite3_db_readonly(db->h, "main") != 0)
        return zb_fail(err, ZB_ERR_INVALID, "%s: opened read-only (file not writable), cannot record runs", db->path);
    zb_status s = db_exec(db, "PRAGMA foreign_keys = ON", "enabling foreign keys", err);
    int on = 0;
    if (s == ZB_OK) s = read_pragma_int(db, "PRAGMA foreign_keys", "checking foreign keys", &on, err);
    if (s == ZB_OK && !on)
        return zb_fail(err, ZB_ERR_UNSUPPORTED, "%s: this SQLite library cannot enforce foreign keys", db->path);
    return s;
}

static zb_status refuse_unknown_version(const zb_db *db, int version, zb_error *err)
{
    if (version > ZB_SCHEMA_VERSION)
        return zb_fail(err, ZB_ERR_UNSUPPORTED,
                       "%s: schema version %d is newer than the version %d this zbench knows; use a newer zbench",
                       db->path, version, ZB_SCHEMA_VERSION);
    if (version < 0)
        return zb_fail(err, ZB_ERR_INVALID, "%s: schema version %d was not written by zbench (it knows 0 to %d)",
                       db->path, version, ZB_SCHEMA_VERSION);
    return ZB_OK;
}

/* Read-only, before WAL mode (which rewrites the header) or any migration
 * touches the file: a newer schema must come out of zb_db_open unchanged. */
static zb_status check_version(zb_db *db, zb_error *err)
{
    int version = 0;
    zb_status s = read_pragma_int(db, "PRAGMA user_version", "reading the schema version", &version, err);
    return s != ZB_OK ? s : refuse_unknown_version(db, version, err);
}

/* One attempt at PRAGMA journal_mode = WAL; *busy set when it met a lock. */
static zb_status try_wal(zb_db *db, int *busy, zb_error *err)
{
    sqlite3_stmt *st;
    *busy = 0;
    zb_status s = prepare(db, "PRAGMA journal_mode = WAL", &st, "switching to WAL mode", err);
    if (s != ZB_OK) return s;
    char mode[32] = "";
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const unsigned char *m = sqlite3_column_text(st, 0);
        snprintf(mode, sizeof mode, "%s", m ? (const char *)m : "");
    } else {
        *busy = (rc & 0xff) == SQLITE_BUSY;
        s = db_err(db, err, "switching to WAL mode");
    }
    finalize(st);
    if (s == ZB_OK && strcasecmp(mode, "wal") != 0)
        s = zb_fail(err, ZB_ERR_UNSUPPORTED, "%s: journal mode is '%s', not 'wal' (WAL needs a local file system)",
                    db->path, mode);
    return s;
}

static double monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Turning a rollback-journal file into a WAL file needs an exclusive lock,
 * and SQLite reports SQLITE_BUSY at once, without calling the busy handler,
 * when another connection holds any lock then: typically a second zbench
 * creating the same new file (tests/test_recorder.c's concurrent writers
 * hit it most of the time). So retry here, within the busy timeout. */
static zb_status use_wal(zb_db *db, zb_error *err)
{
    const double deadline = monotonic_ms() + db->busy_ms;
    const struct timespec nap = {0, 5 * 1000 * 1000};
    for (;;) {
        int busy = 0;
        zb_status s = try_wal(db, &busy, err);
        if (!busy || monotonic_ms() >= deadline) return s;
        (void)nanosleep(&nap, NULL); /* cut short by a signal: it only retries sooner */
    }
}

static zb_status apply_migration(zb_db *db, int from, zb_error *err)
{
    const zb_migration *m = &k_migrations[from];
    if (sqlite3_exec(db->h, m->sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_err(db, err, "migrating schema version %d to %d (%s)", from, from + 1, m->about);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", from + 1);
    return db_exec(db, sql, "setting the schema version", err);
}

/* All pending migrations in one transaction: a failure leaves the file at
 * its old version with none of the new tables. The version is read again
 * under the write lock, since another process may have migrated the file
 * since check_version. Taking the write lock here even when nothing is to
 * be done makes a lock held past the timeout fail at open, not mid-run. */
static zb_status migrate(zb_db *db, zb_error *err)
{
    zb_status s = tx_begin(db, "taking the write lock", err);
    if (s != ZB_OK) return s;
    int version = 0;
    s = read_pragma_int(db, "PRAGMA user_version", "reading the schema version", &version, err);
    if (s == ZB_OK) s = refuse_unknown_version(db, version, err);
    for (int v = version; s == ZB_OK && v < ZB_SCHEMA_VERSION; v++) s = apply_migration(db, v, err);
    if (s == ZB_OK) s = tx_commit(db, "committing the schema", err);
    if (s != ZB_OK) tx_rollback(db, err);
    return s;
}

zb_status zb_db_open_timeout(const char *path, int busy_timeout_ms, zb_db **out, zb_error *err)
{
    *out = NULL;
    if (!path || !*path) return zb_fail(err, ZB_ERR_INVALID, "database path is empty");
    if (busy_timeout_ms < 0) return zb_fail(err, ZB_ERR_INVALID, "%s: negative busy timeout %d", path, busy_timeout_ms);
    zb_db *db = calloc(1, sizeof *db);
    if (!db || !(db->path = strdup(path))) {
        free(db);
        return zb_fail(err, ZB_ERR_OOM, "%s: out of memory opening the database", path);
    }
    db->busy_ms = busy_timeout_ms;
    zb_status s = db_connect(db, err);
    if (s == ZB_OK) s = check_version(db, err);
    if (s == ZB_OK) s = use_wal(db, err);
    /* NORMAL in WAL mode: a power cut may lose the last commits, never
     * consistency; a crashed process loses nothing. */
    if (s == ZB_OK) s = db_exec(db, "PRAGMA synchronous = NORMAL", "setting synchronous mode", err);
    if (s == ZB_OK) s = migrate(db, err);
    if (s != ZB_OK) {
        zb_db_close(db);
        return s;
    }
    *out = db;
    return ZB_OK;
}

zb_status zb_db_open(const char *path, zb_db **out, zb_error *err)
{
    int ms = ZB_DB_BUSY_TIMEOUT_MS;
    const char *env = getenv("ZBENCH_DB_BUSY_TIMEOUT_MS");
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end || v < 0 || v > ZB_DB_BUSY_TIMEOUT_MAX_MS) {
            *out = NULL;
            return zb_fail(err, ZB_ERR_INVALID, "ZBENCH_DB_BUSY_TIMEOUT_MS: '%.40s' is not a number of milliseconds in 0..%d",
                           env, ZB_DB_BUSY_TIMEOUT_MAX_MS);
        }
        ms = (int)v;
    }
    return zb_db_open_timeout(path, ms, out, err);
}

zb_status zb_db_set_busy_timeout(zb_db *db, int ms, zb_error *err)
{
    if (ms < 0) return zb_fail(err, ZB_ERR_INVALID, "%s: negative busy timeout %d", db->path, ms);
    if (sqlite3_busy_timeout(db->h, ms) != SQLITE_OK) return db_err(db, err, "setting the busy timeout");
    db->busy_ms = ms;
    return ZB_OK;
}

void zb_db_close(zb_db *db)
{
    if (!db) return;
    /* sqlite3_close fails only while statements are left unfinalized, a bug
     * here; the interface has nowhere to return it, so it goes to stderr. */
    if (sqlite3_close(db->h) != SQLITE_OK)
        fprintf(stderr, "zbench: %s: closing the database: %s\n", db->path, sqlite3_errmsg(db->h));
    free(db->device_text);
    free(db->path);
    free(db);
}

int zb_db_schema_version(zb_db *db)
{
    int v = -1;
    zb_error ignored;
    if (read_pragma_int(db, "PRAGMA user_version", "reading the schema version", &v, &ignored) != ZB_OK) return -1;
    return v;
}

/* -------------------------------------------------------------------- runs */

static const char k_insert_run[] =
    "INSERT INTO runs (sweep_id, tag, command_line, plugin, plugin_path, plugin_abi, model, model_source,"
    " layout, dtype, n_params, batch, seq, gen, depth, reps, warmup, capacity, seed, host, cpu, gpu,"
    " driver_version, runtime_version, gpu_memory_bytes, zbench_version, git_commit, pid, started_at, status)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?," ZB_NOW_SQL ",'running')";

static void bind_run_info(zb_binder *b, const zb_run_info *in)
{
    bind_text(b, in->sweep_id);
    bind_text(b, in->tag);
    bind_text(b, in->command_line);
    bind_text(b, in->plugin);
    bind_text(b, in->plugin_path);
    bind_i64(b, in->plugin_abi);
    bind_text(b, in->model);
    bind_text(b, in->model_source);
    bind_text(b, in->layout);
    bind_text(b, in->dtype);
    bind_i64(b, in->n_params);
    bind_i64(b, in->batch);
    bind_i64(b, in->seq);
    bind_i64(b, in->gen);
    bind_i64(b, in->depth);
    bind_i64(b, in->reps);
    bind_i64(b, in->warmup);
    bind_i64(b, in->capacity);
    /* SQLite integers are signed: seeds >= 2^63 are stored as their two's
     * complement (docs/SCHEMA.md says how to read them back) */
    bind_i64(b, (int64_t)in->seed);
    bind_text(b, in->host);
    bind_text(b, in->cpu);
    bind_text(b, in->gpu);
    bind_text(b, in->driver_version);
    bind_text(b, in->runtime_version);
    bind_i64(b, (int64_t)in->gpu_memory_bytes);
    bind_text(b, in->zbench_version);
    bind_text(b, in->git_commit);
    bind_i64(b, (int64_t)getpid());
}

/* A single INSERT in autocommit mode is its own transaction. */
zb_status zb_db_run_begin(zb_db *db, const zb_run_info *info, int64_t *run_id, zb_error *err)
{
    *run_id = 0;
    if (!info) return zb_fail(err, ZB_ERR_INVALID, "%s: run_begin without run info", db->path);
    sqlite3_stmt *st;
    zb_status s = prepare(db, k_insert_run, &st, "preparing the run insert", err);
    if (s != ZB_OK) return s;
    zb_binder b = binder(st);
    bind_run_info(&b, info);
    s = bind_check(db, &b, "the run", err);
    if (s == ZB_OK) s = step_done(db, st, "inserting the run", err);
    finalize(st);
    if (s == ZB_OK) *run_id = (int64_t)sqlite3_last_insert_rowid(db->h);
    return s;
}

/* Run run_id's status (into status, n bytes) and, when batch is not NULL,
 * its batch; "no run N" when there is none. */
static zb_status lookup_run(zb_db *db, int64_t run_id, char *status, size_t n, int *batch, zb_error *err)
{
    if (n) status[0] = '\0';
    sqlite3_stmt *st;
    zb_status s = prepare(db, "SELECT status, batch FROM runs WHERE id = ?", &st, "looking the run up", err);
    if (s != ZB_OK) return s;
    zb_binder b = binder(st);
    bind_i64(&b, run_id);
    s = bind_check(db, &b, "the run id", err);
    int rc = s == ZB_OK ? sqlite3_step(st) : SQLITE_OK;
    if (rc == SQLITE_ROW) {
        const unsigned char *text = sqlite3_column_text(st, 0);
        snprintf(status, n, "%s", text ? (const char *)text : "");
        if (batch) *batch = sqlite3_column_int(st, 1);
    } else if (rc == SQLITE_DONE) {
        s = zb_fail(err, ZB_ERR_INVALID, "%s: no run %lld", db->path, (long long)run_id);
    } else if (s == ZB_OK) {
        s = db_err(db, err, "looking run %lld up", (long long)run_id);
    }
    finalize(st);
    return s;
}

/* Inside a write transaction: the run exists and has not ended yet (rows
 * added to a finished run would silently change its published numbers).
 * Returns the run's batch, which scales tokens/s. */
static zb_status check_running(zb_db *db, int64_t run_id, int *batch, zb_error *err)
{
    char status[32]; /* the schema's statuses are at most 11 characters */
    zb_status s = lookup_run(db, run_id, status, sizeof status, batch, err);
    if (s == ZB_OK && strcmp(status, "running") != 0)
        s = zb_fail(err, ZB_ERR_INVALID, "%s: run %lld already ended with status '%s'", db->path, (long long)run_id,
                    status[0] ? status : "?");
    return s;
}

static zb_status check_rows(const zb_db *db, const void *rows, int n, const char *what, zb_error *err)
{
    if (n < 0) return zb_fail(err, ZB_ERR_INVALID, "%s: negative count of %s (%d)", db->path, what, n);
    if (n > 0 && !rows) return zb_fail(err, ZB_ERR_INVALID, "%s: %d %s but no array", db->path, n, what);
    return ZB_OK;
}

static zb_status insert_samples(zb_db *db, int64_t run_id, const zb_sample *rows, int n, zb_error *err)
{
    if (n == 0) return ZB_OK;
    sqlite3_stmt *st;
    zb_status s = prepare(db,
                          "INSERT INTO samples (run_id, rep, position, latency_ms, device_ms, memory_bytes,"
                          " device_bytes) VALUES (?,?,?,?,?,?,?)",
                          &st, "preparing the sample insert", err);
    for (int i = 0; s == ZB_OK && i < n; i++) {
        zb_binder b = binder(st);
        bind_i64(&b, run_id);
        bind_i64(&b, rows[i].rep);
        bind_i64(&b, rows[i].position);
        bind_f64(&b, rows[i].latency_ms);
        bind_f64_known(&b, rows[i].device_ms);
        bind_i64_known(&b, rows[i].memory_bytes);
        bind_i64_known(&b, rows[i].device_bytes);
        s = bind_check(db, &b, "a sample", err);
        if (s == ZB_OK) s = step_done(db, st, "inserting a sample", err);
    }
    finalize(st);
    return s;
}

static zb_status insert_results(zb_db *db, int64_t run_id, int batch, const zb_result *rows, int n, zb_error *err)
{
    if (n == 0) return ZB_OK;
    sqlite3_stmt *st;
    zb_status s = prepare(db,
                          "INSERT INTO results (run_id, phase, rep, tokens, wall_ms, device_ms, tokens_per_s)"
                          " VALUES (?,?,?,?,?,?,?)",
                          &st, "preparing the result insert", err);
    for (int i = 0; s == ZB_OK && i < n; i++) {
        const zb_result *r = &rows[i];
        zb_binder b = binder(st);
        bind_i64(&b, run_id);
        bind_text(&b, r->phase);
        bind_i64(&b, r->rep);
        bind_i64(&b, r->tokens);
        bind_f64(&b, r->wall_ms);
        bind_f64_known(&b, r->device_ms);
        /* every sequence of the batch processes `tokens` tokens */
        if (r->wall_ms > 0) bind_f64(&b, (double)r->tokens * batch / (r->wall_ms / 1000.0));
        else bind_null(&b);
        s = bind_check(db, &b, "a result", err);
        if (s == ZB_OK) s = step_done(db, st, "inserting a result", err);
    }
    finalize(st);
    return s;
}

static zb_status insert_stats(zb_db *db, int64_t run_id, const zb_stat *rows, int n, zb_error *err)
{
    if (n == 0) return ZB_OK;
    sqlite3_stmt *st;
    zb_status s = prepare(db, "INSERT INTO stats (run_id, phase, metric, value) VALUES (?,?,?,?)", &st,
                          "preparing the statistic insert", err);
    for (int i = 0; s == ZB_OK && i < n; i++) {
        zb_binder b = binder(st);
        bind_i64(&b, run_id);
        bind_text(&b, rows[i].phase);
        bind_text(&b, rows[i].metric);
        bind_f64(&b, rows[i].value);
        s = bind_check(db, &b, "a statistic", err);
        if (s == ZB_OK) s = step_done(db, st, "inserting a statistic", err);
    }
    finalize(st);
    return s;
}

/* rel_diff = (measured - predicted) / predicted: NULL without a usable
 * prediction. A prediction of 0 bytes cannot be compared relatively, so
 * there any measured bytes at all raise the warning. */
static void bind_memory_comparison(zb_binder *b, int64_t measured, int64_t predicted)
{
    if (predicted < 0) {
        bind_null(b); /* predicted_bytes */
        bind_null(b); /* rel_diff */
        bind_i64(b, 0);
    } else if (predicted == 0) {
        bind_i64(b, 0);
        bind_null(b);
        bind_i64(b, measured != 0);
    } else {
        double rel = (double)(measured - predicted) / (double)predicted;
        bind_i64(b, predicted);
        bind_f64(b, rel);
        bind_i64(b, rel > 0.01 || rel < -0.01);
    }
}

static zb_status insert_memory(zb_db *db, int64_t run_id, const zb_memory_row *rows, int n, zb_error *err)
{
    if (n == 0) return ZB_OK;
    sqlite3_stmt *st;
    zb_status s = prepare(db,
                          "INSERT INTO memory (run_id, category, measured_bytes, predicted_bytes, rel_diff, warning)"
                          " VALUES (?,?,?,?,?,?)",
                          &st, "preparing the memory insert", err);
    for (int i = 0; s == ZB_OK && i < n; i++) {
        zb_binder b = binder(st);
        bind_i64(&b, run_id);
        bind_text(&b, rows[i].category);
        bind_i64(&b, rows[i].measured);
        bind_memory_comparison(&b, rows[i].measured, rows[i].predicted);
        s = bind_check(db, &b, "a memory row", err);
        if (s == ZB_OK) s = step_done(db, st, "inserting a memory row", err);
    }
    finalize(st);
    return s;
}

static zb_status finish_run(zb_db *db, int64_t run_id, const char *status, const char *error, zb_error *err)
{
    sqlite3_stmt *st;
    zb_status s = prepare(db, "UPDATE runs SET status = ?, error = ?, ended_at = " ZB_NOW_SQL " WHERE id = ?", &st,
                          "preparing the run update", err);
    if (s != ZB_OK) return s;
    zb_binder b = binder(st);
    bind_text(&b, status);
    bind_text(&b, error);
    bind_i64(&b, run_id);
    s = bind_check(db, &b, "the run status", err);
    if (s == ZB_OK) s = step_done(db, st, "setting the run's final status", err);
    finalize(st);
    return s;
}

zb_status zb_db_add_samples(zb_db *db, int64_t run_id, const zb_sample *s, int n, zb_error *err)
{
    zb_status rc = check_rows(db, s, n, "samples", err);
    if (rc != ZB_OK || n == 0) return rc;
    rc = tx_begin(db, "taking the write lock for samples", err);
    if (rc != ZB_OK) return rc;
    int batch = 0;
    rc = check_running(db, run_id, &batch, err);
    if (rc == ZB_OK) rc = insert_samples(db, run_id, s, n, err);
    if (rc == ZB_OK) rc = tx_commit(db, "committing samples", err);
    if (rc != ZB_OK) tx_rollback(db, err);
    return rc;
}

static zb_status check_end_args(const zb_db *db, const char *status, const zb_result *results, int n_results,
                                const zb_sample *samples, int n_samples, const zb_stat *stats, int n_stats,
                                const zb_memory_row *memory, int n_memory, zb_error *err)
{
    /* other unknown statuses are left to the table's CHECK constraint */
    if (!status || strcmp(status, "running") == 0)
        return zb_fail(err, ZB_ERR_INVALID, "%s: run_end needs a final status, not '%s'", db->path,
                       status ? status : "(null)");
    zb_status s = check_rows(db, results, n_results, "results", err);
    if (s == ZB_OK) s = check_rows(db, samples, n_samples, "samples", err);
    if (s == ZB_OK) s = check_rows(db, stats, n_stats, "statistics", err);
    if (s == ZB_OK) s = check_rows(db, memory, n_memory, "memory rows", err);
    return s;
}

/* overhead of `traced` over `base` in percent; NULL without both */
static void bind_overhead(zb_binder *b, double traced, double base)
{
    if (traced > 0 && base > 0) bind_f64(b, 100.0 * (traced - base) / base);
    else bind_null(b);
}

static zb_status insert_trace(zb_db *db, int64_t run_id, const zb_trace_info *t, zb_error *err)
{
    if (!t) return ZB_OK;
    sqlite3_stmt *st;
    zb_status s = prepare(db,
                          "INSERT INTO trace (run_id, status, note, records, dropped, lost, unattributed, batch_size,"
                          " batches, profile_first, profile_last, prefill_median_ms, decode_median_ms,"
                          " baseline_run_id, baseline_prefill_median_ms, baseline_decode_median_ms,"
                          " prefill_overhead_pct, decode_overhead_pct)"
                          " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                          &st, "preparing the trace row insert", err);
    if (s != ZB_OK) return s;
    const int traced = t->batch_size > 0, profiled = t->profile_first > 0, based = t->baseline_run_id > 0;
    zb_binder b = binder(st);
    bind_i64(&b, run_id);
    bind_text(&b, t->status);
    if (t->note) bind_text(&b, t->note);
    else bind_null(&b);
    bind_i64(&b, t->records);
    bind_i64(&b, t->dropped);
    bind_i64(&b, t->lost);
    bind_i64(&b, t->unattributed);
    if (traced) {
        bind_i64(&b, t->batch_size);
        bind_i64(&b, t->batches);
    } else {
        bind_null(&b);
        bind_null(&b);
    }
    bind_i64_known(&b, profiled ? t->profile_first : -1);
    bind_i64_known(&b, profiled ? t->profile_last : -1);
    bind_f64_known(&b, t->prefill_median_ms);
    bind_f64_known(&b, t->decode_median_ms);
    bind_i64_known(&b, based ? t->baseline_run_id : -1);
    bind_f64_known(&b, based && t->baseline_prefill_median_ms > 0 ? t->baseline_prefill_median_ms : -1.0);
    bind_f64_known(&b, based && t->baseline_decode_median_ms > 0 ? t->baseline_decode_median_ms : -1.0);
    bind_overhead(&b, t->prefill_median_ms, based ? t->baseline_prefill_median_ms : -1.0);
    bind_overhead(&b, t->decode_median_ms, based ? t->baseline_decode_median_ms : -1.0);
    s = bind_check(db, &b, "the trace row", err);
    if (s == ZB_OK) s = step_done(db, st, "inserting the trace row", err);
    finalize(st);
    return s;
}

/* The rows go in first and the status last, all in one transaction; any
 * failure rolls everything back and the run stays 'running'. */
zb_status zb_db_run_end_trace(zb_db *db, int64_t run_id, const char *status, const char *error,
                              const zb_result *results, int n_results, const zb_sample *samples, int n_samples,
                              const zb_stat *stats, int n_stats, const zb_memory_row *memory, int n_memory,
                              const zb_trace_info *trace, zb_error *err)
{
    zb_status s = check_end_args(db, status, results, n_results, samples, n_samples, stats, n_stats, memory,
                                 n_memory, err);
    if (s != ZB_OK) return s;
    s = tx_begin(db, "taking the write lock to end the run", err);
    if (s != ZB_OK) return s;
    int batch = 0;
    s = check_running(db, run_id, &batch, err);
    if (s == ZB_OK) s = insert_results(db, run_id, batch, results, n_results, err);
    if (s == ZB_OK) s = insert_samples(db, run_id, samples, n_samples, err);
    if (s == ZB_OK) s = insert_stats(db, run_id, stats, n_stats, err);
    if (s == ZB_OK) s = insert_memory(db, run_id, memory, n_memory, err);
    if (s == ZB_OK) s = insert_trace(db, run_id, trace, err);
    if (s == ZB_OK) s = finish_run(db, run_id, status, error, err);
    if (s == ZB_OK) s = tx_commit(db, "committing the run", err);
    if (s != ZB_OK) tx_rollback(db, err);
    return s;
}

zb_status zb_db_run_status(zb_db *db, int64_t run_id, char *buf, size_t n, zb_error *err)
{
    return lookup_run(db, run_id, buf, n, NULL, err);
}

zb_status zb_db_run_fail(zb_db *db, int64_t run_id, const char *reason, zb_error *err)
{
    /* A full disk usually fails in the WAL, which only grows until a
     * checkpoint copies it into the main file. TRUNCATE copies it all and
     * empties it, giving back its space for the one small write below.
     * Best effort: it may itself fail, and the write is the test. */
    (void)sqlite3_wal_checkpoint_v2(db->h, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    return zb_db_run_end(db, run_id, "failed", reason, NULL, 0, NULL, 0, NULL, 0, NULL, 0, err);
}

zb_status zb_db_run_end(zb_db *db, int64_t run_id, const char *status, const char *error, const zb_result *results,
                        int n_results, const zb_sample *samples, int n_samples, const zb_stat *stats, int n_stats,
                        const zb_memory_row *memory, int n_memory, zb_error *err)
{
    return zb_db_run_end_trace(db, run_id, status, error, results, n_results, samples, n_samples, stats, n_stats,
                               memory, n_memory, NULL, err);
}

/* ----------------------------------------------------------------- devices */

zb_status zb_db_save_device(zb_db *db, const zb_device_calib *c, zb_error *err)
{
    if (!c) return zb_fail(err, ZB_ERR_INVALID, "%s: save_device without a calibration", db->path);
    sqlite3_stmt *st;
    zb_status s = prepare(db,
                          "INSERT INTO devices (name, kind, host, copy_gbps, gemm_tflops, method, measured_at)"
                          " VALUES (?,?,?,?,?,?," ZB_NOW_SQL ")",
                          &st, "preparing the device insert", err);
    if (s != ZB_OK) return s;
    zb_binder b = binder(st);
    bind_text(&b, c->name);
    bind_text(&b, c->kind);
    bind_text(&b, c->host);
    bind_f64(&b, c->copy_gbps);
    bind_f64(&b, c->gemm_tflops);
    bind_text(&b, c->method);
    s = bind_check(db, &b, "the device calibration", err);
    if (s == ZB_OK) s = step_done(db, st, "inserting the device calibration", err);
    finalize(st);
    return s;
}

/* Copies the four text columns into one buffer owned by db, which keeps
 * them valid until the next call as the interface promises. */
static zb_status keep_device_text(zb_db *db, sqlite3_stmt *st, zb_device_calib *out, zb_error *err)
{
    const int cols[4] = {0, 1, 2, 5};
    const char *text[4];
    size_t len[4], total = 0;
    for (int i = 0; i < 4; i++) {
        text[i] = (const char *)sqlite3_column_text(st, cols[i]);
        if (!text[i] && sqlite3_errcode(db->h) == SQLITE_NOMEM)
            return zb_fail(err, ZB_ERR_OOM, "%s: out of memory reading a device calibration", db->path);
        if (!text[i]) text[i] = "";
        len[i] = strlen(text[i]) + 1;
        total += len[i];
    }
    char *buf = malloc(total);
    if (!buf) return zb_fail(err, ZB_ERR_OOM, "%s: out of memory reading a device calibration", db->path);
    free(db->device_text);
    db->device_text = buf;
    const char **dst[4] = {&out->name, &out->kind, &out->host, &out->method};
    for (int i = 0; i < 4; i++) {
        memcpy(buf, text[i], len[i]);
        *dst[i] = buf;
        buf += len[i];
    }
    return ZB_OK;
}

zb_status zb_db_find_device(zb_db *db, const char *name, zb_device_calib *out, int *found, zb_error *err)
{
    *found = 0;
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    /* id breaks ties between calibrations saved within one millisecond */
    zb_status s = prepare(db,
                          "SELECT name, kind, host, copy_gbps, gemm_tflops, method FROM devices WHERE name = ?"
                          " ORDER BY measured_at DESC, id DESC LIMIT 1",
                          &st, "preparing the device lookup", err);
    if (s != ZB_OK) return s;
    zb_binder b = binder(st);
    bind_text(&b, name);
    s = bind_check(db, &b, "the device name", err);
    int rc = s == ZB_OK ? sqlite3_step(st) : SQLITE_OK;
    if (rc == SQLITE_ROW) {
        out->copy_gbps = sqlite3_column_double(st, 3);
        out->gemm_tflops = sqlite3_column_double(st, 4);
        s = keep_device_text(db, st, out, err);
        if (s == ZB_OK) *found = 1;
    } else if (rc != SQLITE_DONE && s == ZB_OK) {
        s = db_err(db, err, "looking up device '%s'", name ? name : "(null)");
    }
    finalize(st);
    return s;
}
