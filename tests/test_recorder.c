/*
 * Tests of the SQLite run record (bench/recorder.c): schema and migrations,
 * a run's life read back through SQL, atomicity of run_end, two processes
 * writing at once, a writer killed with SIGKILL, unwritable files, locks
 * held past the busy timeout, device calibrations, and the example queries
 * of docs/SCHEMA.md. Every test works in its own temporary directory.
 *
 * Run from the repository root (docs/SCHEMA.md is read from there).
 */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "recorder.h"
#include "zb_util.h"

/* cmocka's assert_float_equal compares as float; these values are doubles */
#define assert_near(a, b, eps)                                                                       \
    do {                                                                                             \
        double a_ = (a), b_ = (b);                                                                   \
        if (!(fabs(a_ - b_) <= (eps))) fail_msg("%s = %.17g, expected %.17g", #a, a_, b_);          \
    } while (0)

typedef struct fixture {
    char dir[64];
    char db[128];
} fixture;

/* ------------------------------------------------------------ temp files */

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f) return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/zb_recorder_XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->db, sizeof f->db, "%s/runs.db", f->dir);
    *state = f;
    return 0;
}

/* The directory holds only files (and at most one level of directories
 * that tests make read-only), so a two-level removal is enough. */
static void remove_tree(const char *dir, int depth)
{
    chmod(dir, 0700);
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char p[512];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            if (unlink(p) != 0 && depth > 0) remove_tree(p, depth - 1);
        }
        closedir(d);
    }
    rmdir(dir);
}

static int teardown(void **state)
{
    fixture *f = *state;
    remove_tree(f->dir, 1);
    free(f);
    return 0;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* -------------------------------------------- raw SQL, to read back rows */

static sqlite3 *raw_open(const char *path)
{
    sqlite3 *h = NULL;
    int rc = sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) fail_msg("raw open %s: %s", path, sqlite3_errmsg(h));
    return h;
}

static void raw_exec(sqlite3 *h, const char *sql)
{
    if (sqlite3_exec(h, sql, NULL, NULL, NULL) != SQLITE_OK) fail_msg("%s: %s", sql, sqlite3_errmsg(h));
}

static void raw_close(sqlite3 *h)
{
    assert_int_equal(sqlite3_close(h), SQLITE_OK);
}

/* Prepares a printf-formatted one-row query and steps to its row. */
static sqlite3_stmt *query_row(sqlite3 *h, const char *fmt, va_list ap)
{
    char sql[1024];
    vsnprintf(sql, sizeof sql, fmt, ap);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) fail_msg("%s: %s", sql, sqlite3_errmsg(h));
    if (sqlite3_step(st) != SQLITE_ROW) fail_msg("%s: no row (%s)", sql, sqlite3_errmsg(h));
    return st;
}

static int64_t q_int(sqlite3 *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = query_row(h, fmt, ap);
    va_end(ap);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static double q_double(sqlite3 *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = query_row(h, fmt, ap);
    va_end(ap);
    double v = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* The value's SQLite type: SQLITE_NULL, SQLITE_INTEGER... */
static int q_type(sqlite3 *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = query_row(h, fmt, ap);
    va_end(ap);
    int t = sqlite3_column_type(st, 0);
    sqlite3_finalize(st);
    return t;
}

/* Text copied into buf ("(null)" for NULL). */
static const char *q_text(char *buf, size_t n, sqlite3 *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = query_row(h, fmt, ap);
    va_end(ap);
    const unsigned char *t = sqlite3_column_text(st, 0);
    snprintf(buf, n, "%s", t ? (const char *)t : "(null)");
    sqlite3_finalize(st);
    return buf;
}

/* ------------------------------------------------------------ run helpers */

static zb_run_info test_info(const char *tag, int batch)
{
    zb_run_info i = {0};
    i.sweep_id = "sweep-1";
    i.tag = tag;
    i.command_line = "zbench run --model zamba-tiny";
    i.plugin = "cpu_ref";
    i.plugin_path = "build/plugins/libzb_cpu_ref.so";
    i.plugin_abi = 1;
    i.model = "zamba-tiny";
    i.model_source = "preset";
    i.layout = "zamba";
    i.dtype = "bf16";
    i.n_params = 123456789;
    i.batch = batch;
    i.seq = 128;
    i.gen = 64;
    i.depth = 0;
    i.reps = 3;
    i.warmup = 1;
    i.capacity = 192;
    i.seed = 42;
    i.host = "testhost";
    i.cpu = "Test CPU";
    i.gpu = "Test GPU";
    i.driver_version = "";
    i.runtime_version = "";
    i.gpu_memory_bytes = 80ull << 30;
    i.zbench_version = "0.1.0";
    i.git_commit = "abcdef123456";
    return i;
}

static zb_db *open_ok(const char *path)
{
    zb_db *db = NULL;
    zb_error err = {{0}};
    zb_status s = zb_db_open(path, &db, &err);
    if (s != ZB_OK) fail_msg("zb_db_open: %s", err.msg);
    return db;
}

static int64_t begin_ok(zb_db *db, const char *tag, int batch)
{
    zb_run_info info = test_info(tag, batch);
    int64_t id = 0;
    zb_error err = {{0}};
    if (zb_db_run_begin(db, &info, &id, &err) != ZB_OK) fail_msg("run_begin: %s", err.msg);
    assert_true(id > 0);
    return id;
}

static const zb_result k_results[] = {
    {"prefill", 0, 128, 50.0, 40.0},
    {"prefill", 1, 128, 64.0, -1.0},
    {"decode", 0, 64, 320.0, 300.0},
};
static const zb_sample k_samples[] = {
    {0, 129, 5.0, 4.5, 1000, 5000},
    {0, 130, 5.5, -1.0, -1, -1},
};
static const zb_stat k_stats[] = {
    {"prefill", "median", 57.0},    {"prefill", "tokens_per_s", 8982.0}, {"prefill", "pct_of_floor", 61.5},
    {"decode", "median", 5.0},      {"decode", "p99", 5.9},              {"decode", "tokens_per_s", 800.0},
    {"decode", "pct_of_floor", 42.0},
};
/* weights exact, kv 10% over, state without a prediction, workspace 0.5%
 * under (inside the 1% tolerance) */
static const zb_memory_row k_memory[] = {
    {"weights", 1000, 1000},
    {"kv", 1100, 1000},
    {"state", 500, -1},
    {"workspace", 995, 1000},
};
#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

static zb_status end_full(zb_db *db, int64_t id, const char *status, zb_error *err)
{
    return zb_db_run_end(db, id, status, NULL, k_results, N_OF(k_results), k_samples, N_OF(k_samples), k_stats,
                         N_OF(k_stats), k_memory, N_OF(k_memory), err);
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" */
static int is_iso_utc_ms(const char *s)
{
    const char *pattern = "dddd-dd-ddTdd:dd:dd.dddZ";
    if (strlen(s) != strlen(pattern)) return 0;
    for (size_t i = 0; pattern[i]; i++) {
        if (pattern[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != pattern[i]) return 0;
    }
    return 1;
}

/* ----------------------------------------------------------------- schema */

static void test_fresh_schema(void **state)
{
    fixture *f = *state;
    zb_db *db = open_ok(f->db);
    assert_int_equal(zb_db_schema_version(db), ZB_SCHEMA_VERSION);
    zb_db_close(db);

    sqlite3 *h = raw_open(f->db);
    char buf[64];
    assert_int_equal(q_int(h, "PRAGMA user_version"), ZB_SCHEMA_VERSION);
    assert_string_equal(q_text(buf, sizeof buf, h, "PRAGMA journal_mode"), "wal");
    const char *tables[] = {"runs", "results", "samples", "stats", "memory", "devices", "kernels", "trace"};
    for (int i = 0; i < N_OF(tables); i++)
        assert_int_equal(q_int(h, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='%s'", tables[i]), 1);
    const char *views[] = {"v_summary",      "v_memory_vs_length", "v_latency_vs_length", "v_kernel_top",
                           "v_kernel_class", "v_kernel_layer",     "v_kernel_charged"};
    for (int i = 0; i < N_OF(views); i++)
        assert_int_equal(q_int(h, "SELECT count(*) FROM sqlite_master WHERE type='view' AND name='%s'", views[i]), 1);
    /* each child table: a foreign key to runs and an index led by run_id */
    for (int i = 1; i <= 6; i++) {
        if (i == 5) continue; /* devices: no run */
        assert_int_equal(q_int(h, "SELECT count(*) FROM pragma_foreign_key_list('%s') WHERE \"table\"='runs'",
                               tables[i]), 1);
        assert_int_equal(q_int(h,
                               "SELECT count(*) FROM pragma_index_list('%s') AS il, pragma_index_info(il.name) AS ii"
                               " WHERE ii.name = 'run_id' AND ii.seqno = 0",
                               tables[i]), 1);
    }
    /* trace: one row per run (run_id is the key) and a second reference,
     * to the untraced twin, that outlives the twin's deletion */
    assert_int_equal(q_int(h, "SELECT count(*) FROM pragma_table_info('trace') WHERE name = 'run_id' AND pk = 1"), 1);
    assert_int_equal(q_int(h, "SELECT count(*) FROM pragma_foreign_key_list('trace') WHERE \"table\"='runs'"), 2);
    raw_close(h);
}

static void test_reopen_is_idempotent(void **state)
{
    fixture *f = *state;
    zb_db *db = open_ok(f->db);
    int64_t id = begin_ok(db, "first", 1);
    zb_db_close(db);
    sqlite3 *h = raw_open(f->db);
    int64_t objects = q_int(h, "SELECT count(*) FROM sqlite_master");
    raw_close(h);

    for (int i = 0; i < 2; i++) {
        db = open_ok(f->db);
        assert_int_equal(zb_db_schema_version(db), ZB_SCHEMA_VERSION);
        zb_db_close(db);
    }
    h = raw_open(f->db);
    assert_int_equal(q_int(h, "SELECT count(*) FROM sqlite_master"), objects);
    assert_int_equal(q_int(h, "SELECT count(*) FROM runs WHERE id = %lld", (long long)id), 1);
    assert_int_equal(q_int(h, "PRAGMA user_version"), ZB_SCHEMA_VERSION);
    raw_close(h);
}

static void test_newer_schema_refused_untouched(void **state)
{
    fixture *f = *state;
    sqlite3 *h = raw_open(f->db);
    raw_exec(h, "CREATE TABLE future(x); INSERT INTO future VALUES (7); PRAGMA user_version = 99;");
    raw_close(h);
    char *before = NULL, *after = NULL;
    size_t n_before = 0, n_after = 0;
    zb_error err = {{0}};
    assert_int_equal(zb_read_file(f->db, 1 << 20, &before, &n_before, &err), ZB_OK);

    zb_db *db = NULL;
    assert_int_not_equal(zb_db_open(f->db, &db, &err), ZB_OK);
    assert_null(db);
    assert_non_null(strstr(err.msg, f->db));
    assert_non_null(strstr(err.msg, "99"));
    char known[64];
    snprintf(known, sizeof known, "version %d this zbench knows", ZB_SCHEMA_VERSION);
    assert_non_null(strstr(err.msg, known));
    assert_null(strchr(err.msg, '\n'));

    assert_int_equal(zb_read_file(f->db, 1 << 20, &after, &n_after, &err), ZB_OK);
    assert_int_equal(n_before, n_after);
    assert_memory_equal(before, after, n_before);
    free(before);
    free(after);
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", f->db);
    assert_false(file_exists(wal)); /* not even switched to WAL */
    h = raw_open(f->db);
    assert_int_equal(q_int(h, "PRAGMA user_version"), 99);
    assert_int_equal(q_int(h, "SELECT count(*) FROM sqlite_master"), 1);
    raw_close(h);
}

static void test_migrates_existing_version0(void **state)
{
    fixture *f = *state;
    sqlite3 *h = raw_open(f->db);
    raw_exec(h, "CREATE TABLE notes(x); INSERT INTO notes VALUES ('kept');");
    assert_int_equal(q_int(h, "PRAGMA user_version"), 0);
    raw_close(h);

    zb_db *db = open_ok(f->db);
    assert_int_equal(zb_db_schema_version(db), ZB_SCHEMA_VERSION);
    begin_ok(db, "after-migration", 1);
    zb_db_close(db);

    h = raw_open(f->db);
    char buf[64];
    assert_int_equal(q_int(h, "PRAGMA user_version"), ZB_SCHEMA_VERSION);
    assert_string_equal(q_text(buf, sizeof buf, h, "SELECT x FROM notes"), "kept");
    assert_int_equal(q_int(h, "SELECT count(*) FROM sqlite_master WHERE name IN ('runs', 'v_summary')"), 2);
    raw_close(h);
}

/* An older file, made here: a finished run (tag) in today's schema, then
 * `downgrade` (SQL removing what later versions added) run on it. Returns
 * the run's id. */
static int64_t older_file_with_run(const char *path, const char *tag, const char *downgrade)
{
    zb_db *db = open_ok(path);
    const int64_t id = begin_ok(db, tag, 1);
    zb_error err = {{0}};
    assert_int_equal(end_full(db, id, "ok", &err), ZB_OK);
    zb_db_close(db);
    sqlite3 *h = raw_open(path);
    raw_exec(h, downgrade);
    raw_close(h);
    return id;
}

/* Opening the file migrates it to the current version. */
static void open_migrates(const char *path)
{
    zb_db *db = open_ok(path);
    assert_int_equal(zb_db_schema_version(db), ZB_SCHEMA_VERSION);
    zb_db_close(db);
}

/* A version 1 file (made here by removing what versions 2 and 3 added)
 * gains the trace tables and views, and keeps its runs. */
static void test_migrates_version1_to_2(void **state)
{
    fixture *f = *state;
    const int64_t id =
        older_file_with_run(f->db, "made-by-v1",
                            "DROP VIEW v_kernel_charged; DROP VIEW v_kernel_top; DROP VIEW v_kernel_class;"
                            " DROP VIEW v_kernel_layer; DROP TABLE kernels; DROP TABLE trace; PRAGMA user_version = 1;");
    open_migrates(f->db);
    sqlite3 *h = raw_open(f->db);
    assert_int_equal(q_int(h, "SELECT count(*) FROM sqlite_master WHERE name IN ('kernels', 'trace',"
                              " 'v_kernel_top', 'v_kernel_class', 'v_kernel_layer', 'v_kernel_charged')"), 6);
    assert_int_equal(q_int(h, "SELECT count(*) FROM runs WHERE id = %lld AND status = 'ok'", (long long)id), 1);
    assert_int_equal(q_int(h, "SELECT count(*) FROM results WHERE run_id = %lld", (long long)id), N_OF(k_results));
    raw_close(h);
}

/* A version 2 file (a traced run, then what version 3 added removed)
 * gains v_kernel_charged and keeps its kernel rows. */
static void test_migrates_version2_to_3(void **state)
{
    fixture *f = *state;
    const int64_t id = older_file_with_run(f->db, "made-by-v2", "DROP VIEW v_kernel_charged; PRAGMA user_version = 2;");
    sqlite3 *h = raw_open(f->db);
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO kernels (run_id, kind, phase, rep, step, name, class, start_ns, end_ns)"
             " VALUES (%lld, 'kernel', 'decode', 0, 0, 'k', 'other', 0, 10)",
             (long long)id);
    raw_exec(h, sql);
    raw_close(h);

    open_migrates(f->db);
    h = raw_open(f->db);
    assert_int_equal(q_int(h, "SELECT count(*) FROM sqlite_master WHERE type = 'view' AND name = 'v_kernel_charged'"),
                     1);
    assert_int_equal(q_int(h, "SELECT count FROM v_kernel_charged WHERE run_id = %lld", (long long)id), 1);
    raw_close(h);
}

/* The trace row lands with the run's final status; the overheads come
 * from the medians; what is unknown is NULL, never 0. */
static void test_trace_row(void **state)
{
    fixture *f = *state;
    zb_db *db = open_ok(f->db);
    zb_error err = {{0}};
    int64_t twin = begin_ok(db, "twin", 1);
    zb_trace_info base = {.status = "baseline", .note = "untraced twin", .prefill_median_ms = 2.0,
                          .decode_median_ms = 0.5, .baseline_prefill_median_ms = -1, .baseline_decode_median_ms = -1};
    assert_int_equal(zb_db_run_end_trace(db, twin, "ok", NULL, NULL, 0, NULL, 0, NULL, 0, NULL, 0, &base, &err), ZB_OK);
    int64_t id = begin_ok(db, "traced", 1);
    zb_trace_info t = {.status = "traced", .records = 1234, .dropped = 3, .lost = 2, .unattributed = 1,
                       .batch_size = 4096, .batches = 1, .profile_first = 2, .profile_last = 5,
                       .prefill_median_ms = 2.2, .decode_median_ms = 0.55, .baseline_run_id = twin,
                       .baseline_prefill_median_ms = 2.0, .baseline_decode_median_ms = 0.5};
    assert_int_equal(zb_db_run_end_trace(db, id, "ok", NULL, NULL, 0, NULL, 0, NULL, 0, NULL, 0, &t, &err), ZB_OK);
    /* a bad status rolls the trace row back with the rest */
    int64_t bad = begin_ok(db, "bad", 1);
    zb_trace_info wrong = t;
    wrong.status = "maybe";
    assert_int_not_equal(zb_db_run_end_trace(db, bad, "ok", NULL, NULL, 0, NULL, 0, NULL, 0, NULL, 0, &wrong, &err),
                         ZB_OK);
    zb_db_close(db);

    sqlite3 *h = raw_open(f->db);
    char buf[128];
    assert_string_equal(q_text(buf, sizeof buf, h, "SELECT status FROM trace WHERE run_id = %lld", (long long)twin),
                        "baseline");
    assert_string_equal(q_text(buf, sizeof buf, h, "SELECT note FROM trace WHERE run_id = %lld", (long long)twin),
                        "untraced twin");
    assert_int_equal(q_type(h, "SELECT batch_size FROM trace WHERE run_id = %lld", (long long)twin), SQLITE_NULL);
    assert_int_equal(q_type(h, "SELECT decode_overhead_pct FROM trace WHERE run_id = %lld", (long long)twin),
                     SQLITE_NULL);
    assert_int_equal(q_type(h, "SELECT profile_first FROM trace WHERE run_id = %lld", (long long)twin), SQLITE_NULL);
    assert_int_equal(q_int(h, "SELECT records FROM trace WHERE run_id = %lld", (long long)id), 1234);
    assert_int_equal(q_int(h, "SELECT dropped + 10 * lost + 100 * unattributed FROM trace WHERE run_id = %lld",
                           (long long)id), 123);
    assert_int_equal(q_int(h, "SELECT profile_last FROM trace WHERE run_id = %lld", (long long)id), 5);
    assert_int_equal(q_int(h, "SELECT baseline_run_id FROM trace WHERE run_id = %lld", (long long)id), twin);
    assert_true(fabs(q_double(h, "SELECT decode_overhead_pct FROM trace WHERE run_id = %lld", (long long)id) - 10.0)
                < 1e-9);
    assert_true(fabs(q_double(h, "SELECT prefill_overhead_pct FROM trace WHERE run_id = %lld", (long long)id) - 10.0)
                < 1e-9);
    assert_int_equal(q_int(h, "SELECT count(*) FROM trace WHERE run_id = %lld", (long long)bad), 0);
    assert_string_equal(q_text(buf, sizeof buf, h, "SELECT status FROM runs WHERE id = %lld", (long long)bad),
                        "running");
    /* deleting the twin keeps the traced run's row, without its twin */
    raw_exec(h, "PRAGMA foreign_keys = ON");
    raw_exec(h, "DELETE FROM runs WHERE tag = 'twin'");
    assert_int_equal(q_type(h, "SELECT baseline_run_id FROM trace WHERE run_id = %lld", (long long)id), SQLITE_NULL);
    raw_close(h);
}

/* A migration failing half-way leaves nothing of itself: here the file
 * already has an unrelated 'runs' table, so CREATE TABLE runs fails. */
static void test_failed_migration_rolls_back(void **state)
{
    fixture *f = *state;
    sqlite3 *h = raw_open(f->db);
    raw_exec(h, "CREATE TABLE runs(x);");
    raw_close(h);

    zb_db *db = NULL;
    zb_error err = {{0}};
    assert_int_not_equal(zb_db_open(f->db, &db, &err), ZB_OK);
    assert_null(db);
    assert_non_null(strstr(err.msg, f->db));
    assert_non_null(strstr(err.msg, "version 0 to 1"));
    assert_non_null(strstr(err.msg, "already exists"));

    h = raw_open(f->db);
    assert_int_equal(q_int(h, "PRAGMA user_version"), 0);
    assert_int_equal(q_int(h, "SELECT count(*) FROM sqlite_master"), 1);
    assert_int_equal(q_int(h, "SELECT count(*) FROM pragma_table_info('runs')"), 1);
    raw_close(h);
}

/* ------------------------------------------------------------------- runs */

static void test_run_lifecycle(void **state)
{
    fixture *f = *state;
    zb_db *db = open_ok(f->db);
    int64_t id = begin_ok(db, "life", 4);
    zb_error err = {{0}};
    static const zb_sample early[] = {{0, 128, 6.0, 5.0, 900, 4000}};
    assert_int_equal(zb_db_add_samples(db, id, early, 1, &err), ZB_OK);

    sqlite3 *h = raw_open(f->db);
    char buf[256], started[64], ended[64];
    assert_string_equal(q_text(buf, sizeof buf, h, "SELECT status FROM runs WHERE id=%lld", (long long)id), "running");
    assert_int_equal(q_type(h, "SELECT ended_at FROM runs WHERE id=%lld", (long long)id), SQLITE_NULL);

    if (zb_db_run_end(db, id, "ok", "a note", k_results, N_OF(k_results), k_samples, N_OF(k_samples), k_stats,
                      N_OF(k_stats), k_memory, N_OF(k_memory), &err) != ZB_OK)
        fail_msg("run_end: %s", err.msg);
    zb_db_close(db);

    /* runs */
    assert_string_equal(q_text(buf, sizeof buf, h, "SELECT status FROM runs WHERE id=%lld", (long long)id), "ok");
    assert_string_equal(q_text(buf, sizeof buf, h, "SELECT error FROM runs WHERE id=%lld", (long long)id), "a note");
    assert_string_equal(q_text(buf, sizeof buf, h, "SELECT model||'/'||layout||'/'||dtype||'/'||tag FROM runs"),
                        "zamba-tiny/zamba/bf16/life");
    assert_int_equal(q_int(h, "SELECT batch*1000+reps*100+warmup*10+depth FROM runs"), 4310);
    assert_int_equal(q_int(h, "SELECT n_params FROM runs"), 123456789);
    assert_int_equal(q_int(h, "SELECT seed FROM runs"), 42);
    assert_int_equal(q_int(h, "SELECT gpu_memory_bytes FROM runs"), (int64_t)(80ull << 30));
    assert_int_equal(q_int(h, "SELECT pid FROM runs"), (int64_t)getpid());
    q_text(started, sizeof started, h, "SELECT started_at FROM runs");
    q_text(ended, sizeof ended, h, "SELECT ended_at FROM runs");
    assert_true(is_iso_utc_ms(started));
    assert_true(is_iso_utc_ms(ended));
    assert_true(strcmp(started, ended) <= 0);

    /* results: tokens/s = tokens * batch / seconds; unknown device time NULL */
    assert_int_equal(q_int(h, "SELECT count(*) FROM results WHERE run_id=%lld", (long long)id), 3);
    assert_near(q_double(h, "SELECT tokens_per_s FROM results WHERE phase='prefill' AND rep=0"),
                       128.0 * 4 / 0.050, 1e-6);
    assert_near(q_double(h, "SELECT device_ms FROM results WHERE phase='prefill' AND rep=0"), 40.0, 0);
    assert_int_equal(q_type(h, "SELECT device_ms FROM results WHERE phase='prefill' AND rep=1"), SQLITE_NULL);
    assert_near(q_double(h, "SELECT tokens_per_s FROM results WHERE phase='decode'"), 64.0 * 4 / 0.320, 1e-6);

    /* samples: the early flush plus run_end's, negatives as NULL */
    assert_int_equal(q_int(h, "SELECT count(*) FROM samples WHERE run_id=%lld", (long long)id), 3);
    assert_int_equal(q_int(h, "SELECT memory_bytes FROM samples WHERE position=128"), 900);
    assert_int_equal(q_int(h, "SELECT count(*) FROM samples WHERE position=130 AND device_ms IS NULL"
                              " AND memory_bytes IS NULL AND device_bytes IS NULL AND latency_ms=5.5"), 1);

    /* stats */
    assert_int_equal(q_int(h, "SELECT count(*) FROM stats WHERE run_id=%lld", (long long)id), N_OF(k_stats));
    assert_near(q_double(h, "SELECT value FROM stats WHERE phase='decode' AND metric='p99'"), 5.9, 0);

    /* memory: rel_diff and the 1% warning */
    assert_near(q_double(h, "SELECT rel_diff FROM memory WHERE category='kv'"), 0.1, 1e-12);
    assert_int_equal(q_int(h, "SELECT warning FROM memory WHERE category='kv'"), 1);
    assert_near(q_double(h, "SELECT rel_diff FROM memory WHERE category='weights'"), 0.0, 0);
    assert_int_equal(q_int(h, "SELECT warning FROM memory WHERE category='weights'"), 0);
    assert_near(q_double(h, "SELECT rel_diff FROM memory WHERE category='workspace'"), -0.005, 1e-12);
    assert_int_equal(q_int(h, "SELECT warning FROM memory WHERE category='workspace'"), 0);
    assert_int_equal(q_int(h, "SELECT count(*) FROM memory WHERE category='state' AND predicted_bytes IS NULL"
                              " AND rel_diff IS NULL AND warning=0"), 1);

    /* the views */
    assert_int_equal(q_int(h, "SELECT count(*) FROM v_summary"), 1);
    assert_near(q_double(h, "SELECT prefill_median_ms FROM v_summary"), 57.0, 0);
    assert_near(q_double(h, "SELECT prefill_tokens_per_s FROM v_summary"), 8982.0, 0);
    assert_near(q_double(h, "SELECT decode_median_ms FROM v_summary"), 5.0, 0);
    assert_near(q_double(h, "SELECT decode_p99_ms FROM v_summary"), 5.9, 0);
    assert_near(q_double(h, "SELECT decode_tokens_per_s FROM v_summary"), 800.0, 0);
    assert_near(q_double(h, "SELECT prefill_pct_of_floor FROM v_summary"), 61.5, 0);
    assert_near(q_double(h, "SELECT decode_pct_of_floor FROM v_summary"), 42.0, 0);
    assert_int_equal(q_int(h, "SELECT kv_state_bytes FROM v_summary"), 1600);
    assert_string_equal(q_text(buf, sizeof buf, h, "SELECT status||' '||gpu||' '||batch FROM v_summary"),
                        "ok Test GPU 4");
    assert_int_equal(q_int(h, "SELECT count(*) FROM v_memory_vs_length WHERE weights_bytes=1000 AND status='ok'"), 3);
    assert_int_equal(q_int(h, "SELECT device_bytes FROM v_memory_vs_length WHERE position=129"), 5000);
    assert_near(q_double(h, "SELECT latency_ms FROM v_latency_vs_length WHERE position=129 AND batch=4"), 5.0,
                       0);
    raw_close(h);
}

/* An unknown status violates the CHECK constraint, after the rows went in:
 * the whole run_end must roll back, leaving the run visibly 'running'. */
static void test_run_end_bad_status_rolls_back(void **state)
{
    fixture *f = *state;
    zb_db *db = open_ok(f->db);
    int64_t id = begin_ok(db, "bad", 2);
    zb_error err = {{0}};
    static const zb_sample flushed[] = {{0, 1, 1.0, -1, -1, -1}};
    assert_int_equal(zb_db_add_samples(db, id, flushed, 1, &err), ZB_OK);

    assert_int_not_equal(end_full(db, id, "exploded", &err), ZB_OK);
    assert_non_null(strstr(err.msg, f->db));
    assert_non_null(strstr(err.msg, "CHECK"));

    sqlite3 *h = raw_open(f->db);
    char buf[64];
    assert_string_equal(q_text(buf, sizeof buf, h, "SELECT status FROM runs WHERE id=%lld", (long long)id), "running");
    assert_int_equal(q_type(h, "SELECT ended_at FROM runs WHERE id=%lld", (long long)id), SQLITE_NULL);
    assert_int_equal(q_int(h, "SELECT count(*) FROM results"), 0);
    assert_int_equal(q_int(h, "SELECT count(*) FROM samples"), 1); /* only the earlier flush */
    assert_int_equal(q_int(h, "SELECT count(*) FROM stats"), 0);
    assert_int_equal(q_int(h, "SELECT count(*) FROM memory"), 0);

    /* the connection is usable again and the run can still end properly */
    if (end_full(db, id, "failed", &err) != ZB_OK) fail_msg("run_end after rollback: %s", err.msg);
    assert_string_equal(q_text(buf, sizeof buf, h, "SELECT status FROM runs WHERE id=%lld", (long long)id), "failed");
    assert_int_equal(q_int(h, "SELECT count(*) FROM results"), N_OF(k_results));
    raw_close(h);
    zb_db_close(db);
}

static void test_run_misuse(void **state)
{
    fixture *f = *state;
    zb_db *db = open_ok(f->db);
    int64_t id = begin_ok(db, "misuse", 1);
    zb_error err = {{0}};
    assert_int_equal(end_full(db, id, "running", &err), ZB_ERR_INVALID);
    assert_int_equal(end_full(db, id, NULL, &err), ZB_ERR_INVALID);
    assert_int_equal(zb_db_run_end(db, id, "ok", NULL, NULL, 2, NULL, 0, NULL, 0, NULL, 0, &err), ZB_ERR_INVALID);
    assert_int_equal(zb_db_add_samples(db, id, k_samples, -1, &err), ZB_ERR_INVALID);

    assert_int_not_equal(end_full(db, id + 100, "ok", &err), ZB_OK);
    assert_non_null(strstr(err.msg, "no run"));
    assert_int_not_equal(zb_db_add_samples(db, id + 100, k_samples, 1, &err), ZB_OK);

    assert_int_equal(end_full(db, id, "oom", &err), ZB_OK);
    assert_int_not_equal(end_full(db, id, "ok", &err), ZB_OK);
    assert_non_null(strstr(err.msg, "already ended"));
    assert_int_not_equal(zb_db_add_samples(db, id, k_samples, 1, &err), ZB_OK);

    /* a NULL text field violates NOT NULL and inserts nothing */
    zb_run_info info = test_info("null", 1);
    info.gpu = NULL;
    int64_t bad = 0;
    assert_int_not_equal(zb_db_run_begin(db, &info, &bad, &err), ZB_OK);
    assert_non_null(strstr(err.msg, "runs.gpu"));
    zb_db_close(db);

    sqlite3 *h = raw_open(f->db);
    char buf[64];
    assert_int_equal(q_int(h, "SELECT count(*) FROM runs"), 1);
    assert_string_equal(q_text(buf, sizeof buf, h, "SELECT status FROM runs"), "oom");
    assert_int_equal(q_int(h, "SELECT count(*) FROM samples"), N_OF(k_samples));
    raw_close(h);
}

/* --------------------------------------------------------------- processes */

#define RUNS_PER_WRITER 50

/* Child body: returns the exit code. No cmocka here, only stderr. */
static int writer_child(const char *path, int go_fd, int idx)
{
    char c;
    while (read(go_fd, &c, 1) > 0) {
    } /* wait for the parent to close the pipe: both start together */
    zb_db *db = NULL;
    zb_error err = {{0}};
    if (zb_db_open(path, &db, &err) != ZB_OK) {
        fprintf(stderr, "writer %d: %s\n", idx, err.msg);
        return 1;
    }
    char tag[32];
    for (int i = 0; i < RUNS_PER_WRITER; i++) {
        snprintf(tag, sizeof tag, "writer%d-%d", idx, i);
        zb_run_info info = test_info(tag, 1);
        int64_t id = 0;
        if (zb_db_run_begin(db, &info, &id, &err) != ZB_OK || end_full(db, id, "ok", &err) != ZB_OK) {
            fprintf(stderr, "writer %d run %d: %s\n", idx, i, err.msg);
            zb_db_close(db);
            return 1;
        }
    }
    zb_db_close(db);
    return 0;
}

static void test_concurrent_writers(void **state)
{
    fixture *f = *state;
    int go[2];
    assert_int_equal(pipe(go), 0);
    pid_t pids[2];
    for (int i = 0; i < 2; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(go[1]);
            _exit(writer_child(f->db, go[0], i));
        }
    }
    close(go[0]);
    close(go[1]); /* brand-new file: both children also race to create the schema */
    int ws[2] = {0, 0};
    pid_t reaped[2];
    for (int i = 0; i < 2; i++) reaped[i] = waitpid(pids[i], &ws[i], 0); /* both, before any assert */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(reaped[i], pids[i]);
        assert_true(WIFEXITED(ws[i]));
        assert_int_equal(WEXITSTATUS(ws[i]), 0);
    }
    sqlite3 *h = raw_open(f->db);
    assert_int_equal(q_int(h, "SELECT count(*) FROM runs WHERE status='ok'"), 2 * RUNS_PER_WRITER);
    assert_int_equal(q_int(h, "SELECT count(DISTINCT tag) FROM runs"), 2 * RUNS_PER_WRITER);
    assert_int_equal(q_int(h, "SELECT count(DISTINCT pid) FROM runs"), 2);
    assert_int_equal(q_int(h, "SELECT count(*) FROM results"), 2 * RUNS_PER_WRITER * N_OF(k_results));
    assert_int_equal(q_int(h, "SELECT count(*) FROM memory"), 2 * RUNS_PER_WRITER * N_OF(k_memory));
    raw_close(h);
}

/* Child: begins a run, flushes samples, reports the run id and hangs. */
static int doomed_child(const char *path, int report_fd)
{
    zb_db *db = NULL;
    zb_error err = {{0}};
    int64_t id = 0;
    if (zb_db_open(path, &db, &err) != ZB_OK) goto fail;
    zb_run_info info = test_info("doomed", 1);
    if (zb_db_run_begin(db, &info, &id, &err) != ZB_OK) goto fail;
    if (zb_db_add_samples(db, id, k_samples, N_OF(k_samples), &err) != ZB_OK) goto fail;
    if (write(report_fd, &id, sizeof id) != (ssize_t)sizeof id) return 1;
    for (;;) pause();
fail:
    fprintf(stderr, "doomed child: %s\n", err.msg);
    return 1;
}

static void test_killed_writer_leaves_valid_db(void **state)
{
    fixture *f = *state;
    int rep[2];
    assert_int_equal(pipe(rep), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(rep[0]);
        _exit(doomed_child(f->db, rep[1]));
    }
    close(rep[1]);
    int64_t id = 0;
    ssize_t got = read(rep[0], &id, sizeof id);
    close(rep[0]);
    assert_int_equal(kill(pid, SIGKILL), 0);
    int ws = 0;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_int_equal(got, (ssize_t)sizeof id);
    assert_true(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);

    zb_db *db = open_ok(f->db); /* recovers the WAL the child left behind */
    int64_t next = begin_ok(db, "after-kill", 1);
    assert_true(next > id);
    zb_db_close(db);
    sqlite3 *h = raw_open(f->db);
    char buf[64];
    assert_string_equal(q_text(buf, sizeof buf, h, "PRAGMA integrity_check"), "ok");
    assert_int_equal(q_int(h, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
    assert_string_equal(q_text(buf, sizeof buf, h, "SELECT status FROM runs WHERE id=%lld", (long long)id), "running");
    assert_int_equal(q_type(h, "SELECT ended_at FROM runs WHERE id=%lld", (long long)id), SQLITE_NULL);
    assert_int_equal(q_int(h, "SELECT count(*) FROM samples WHERE run_id=%lld", (long long)id), N_OF(k_samples));
    raw_close(h);
}

/* ------------------------------------------------------- unwritable files */

static void expect_open_fails_naming(const char *path, const char *also)
{
    zb_db *db = NULL;
    zb_error err = {{0}};
    assert_int_not_equal(zb_db_open(path, &db, &err), ZB_OK);
    assert_null(db);
    assert_non_null(strstr(err.msg, path));
    if (also) assert_non_null(strstr(err.msg, also));
    assert_null(strchr(err.msg, '\n'));
}

static void test_readonly_file(void **state)
{
    fixture *f = *state;
    /* root ignores file modes: it would open a 0444 file read-write, so the
     * assertions below cannot hold there. tests/cli/recorder_faults.sh
     * covers the case as root too, running zbench as user nobody. */
    if (geteuid() == 0) {
        print_message("skipping read-only file checks: running as root, which ignores file modes "
                      "(tests/cli/recorder_faults.sh checks them as user nobody)\n");
        skip();
    }
    zb_db *db = open_ok(f->db);
    zb_db_close(db);
    assert_int_equal(chmod(f->db, 0444), 0);
    expect_open_fails_naming(f->db, "read-only");

    /* a new file in a read-only directory cannot even be created */
    char sub[96], path[128];
    snprintf(sub, sizeof sub, "%s/ro", f->dir);
    assert_int_equal(mkdir(sub, 0555), 0);
    snprintf(path, sizeof path, "%s/new.db", sub);
    expect_open_fails_naming(path, NULL);
}

static void test_missing_directory(void **state)
{
    fixture *f = *state;
    char path[160];
    snprintf(path, sizeof path, "%s/no/such/dir/runs.db", f->dir);
    expect_open_fails_naming(path, "cannot open");
}

static void test_not_a_database(void **state)
{
    fixture *f = *state;
    FILE *fp = fopen(f->db, "wb");
    assert_non_null(fp);
    for (int i = 0; i < 200; i++) fputs("this is not an SQLite file. ", fp);
    assert_int_equal(fclose(fp), 0);
    expect_open_fails_naming(f->db, "not a database");
}

/* Another connection holds the write lock (BEGIN EXCLUSIVE) past the busy
 * timeout: open fails, and so does a write on an already open handle. */
static void test_lock_held_past_timeout(void **state)
{
    fixture *f = *state;
    zb_db *db = open_ok(f->db);
    zb_error err = {{0}};
    sqlite3 *locker = raw_open(f->db);
    raw_exec(locker, "BEGIN EXCLUSIVE");

    zb_db *db2 = NULL;
    double t0 = now_ms();
    assert_int_not_equal(zb_db_open_timeout(f->db, 200, &db2, &err), ZB_OK);
    double waited = now_ms() - t0;
    assert_null(db2);
    assert_non_null(strstr(err.msg, f->db));
    assert_non_null(strstr(err.msg, "locked"));
    assert_non_null(strstr(err.msg, "200 ms"));
    assert_true(waited >= 150.0); /* it did wait, roughly the timeout */
    assert_true(waited < 5000.0);

    assert_int_equal(zb_db_set_busy_timeout(db, 50, &err), ZB_OK);
    assert_int_equal(zb_db_set_busy_timeout(db, -1, &err), ZB_ERR_INVALID);
    zb_run_info info = test_info("blocked", 1);
    int64_t id = 0;
    assert_int_not_equal(zb_db_run_begin(db, &info, &id, &err), ZB_OK);
    assert_non_null(strstr(err.msg, "busy"));
    assert_non_null(strstr(err.msg, f->db));

    raw_exec(locker, "ROLLBACK");
    raw_close(locker);
    if (zb_db_run_begin(db, &info, &id, &err) != ZB_OK) fail_msg("run_begin after unlock: %s", err.msg);
    zb_db_close(db);
}

/* A run whose completion the database refused is marked failed with the
 * reason and none of its rows; a run already ended is left alone. */
static void test_run_fail_and_status(void **state)
{
    fixture *f = *state;
    zb_db *db = open_ok(f->db);
    zb_error err = {{0}};
    char status[32];
    int64_t a = begin_ok(db, "lost", 1), b = begin_ok(db, "done", 2);
    assert_int_equal(zb_db_run_status(db, a, status, sizeof status, &err), ZB_OK);
    assert_string_equal(status, "running");
    if (zb_db_run_fail(db, a, "results not recorded: disk full", &err) != ZB_OK) fail_msg("run_fail: %s", err.msg);
    assert_int_equal(zb_db_run_status(db, a, status, sizeof status, &err), ZB_OK);
    assert_string_equal(status, "failed");
    if (zb_db_run_end(db, b, "ok", NULL, k_results, 3, NULL, 0, NULL, 0, NULL, 0, &err) != ZB_OK)
        fail_msg("run_end: %s", err.msg);
    assert_int_equal(zb_db_run_fail(db, b, "too late", &err), ZB_ERR_INVALID);
    assert_non_null(strstr(err.msg, "already ended"));
    assert_int_equal(zb_db_run_status(db, 999, status, sizeof status, &err), ZB_ERR_INVALID);
    assert_non_null(strstr(err.msg, "no run 999"));
    zb_db_close(db);

    sqlite3 *h = raw_open(f->db);
    char text[128];
    assert_string_equal(q_text(text, sizeof text, h, "SELECT error FROM runs WHERE id = %lld", (long long)a),
                        "results not recorded: disk full");
    assert_int_equal(q_int(h, "SELECT count(*) FROM results WHERE run_id = %lld", (long long)a), 0);
    assert_int_equal(q_type(h, "SELECT ended_at FROM runs WHERE id = %lld", (long long)a), SQLITE_TEXT);
    assert_string_equal(q_text(text, sizeof text, h, "SELECT status FROM runs WHERE id = %lld", (long long)b), "ok");
    assert_int_equal(q_int(h, "SELECT count(*) FROM results WHERE run_id = %lld", (long long)b), 3);
    raw_close(h);
}

/* ZBENCH_DB_BUSY_TIMEOUT_MS replaces the 10 s default, and a bad value is
 * refused naming the variable. */
static void test_busy_timeout_from_environment(void **state)
{
    fixture *f = *state;
    zb_db *db = open_ok(f->db);
    zb_db_close(db);
    zb_error err = {{0}};
    sqlite3 *locker = raw_open(f->db);
    raw_exec(locker, "BEGIN IMMEDIATE");
    assert_int_equal(setenv("ZBENCH_DB_BUSY_TIMEOUT_MS", "120", 1), 0);
    double t0 = now_ms();
    assert_int_not_equal(zb_db_open(f->db, &db, &err), ZB_OK);
    double waited = now_ms() - t0;
    assert_null(db);
    assert_non_null(strstr(err.msg, "120 ms"));
    assert_true(waited >= 90.0 && waited < 5000.0);
    const char *bad[] = {"-1", "12x", "3600001", "1e3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(setenv("ZBENCH_DB_BUSY_TIMEOUT_MS", bad[i], 1), 0);
        assert_int_equal(zb_db_open(f->db, &db, &err), ZB_ERR_INVALID);
        assert_null(db);
        assert_non_null(strstr(err.msg, "ZBENCH_DB_BUSY_TIMEOUT_MS"));
        assert_non_null(strstr(err.msg, bad[i]));
    }
    assert_int_equal(unsetenv("ZBENCH_DB_BUSY_TIMEOUT_MS"), 0);
    raw_exec(locker, "ROLLBACK");
    raw_close(locker);
    db = open_ok(f->db);
    zb_db_close(db);
}

/* ---------------------------------------------------------------- devices */

static void test_devices(void **state)
{
    fixture *f = *state;
    zb_db *db = open_ok(f->db);
    zb_error err = {{0}};
    zb_device_calib out;
    int found = -1;
    assert_int_equal(zb_db_find_device(db, "H100", &out, &found, &err), ZB_OK);
    assert_int_equal(found, 0);

    zb_device_calib a1 = {"H100", "gpu", "node1", 2900.0, 700.0, "cudaMemcpy 1 GiB; cublasLt bf16 8192^3"};
    zb_device_calib other = {"EPYC", "cpu", "node1", 150.0, 2.5, "memcpy; fp32 FMA loop"};
    zb_device_calib a2 = {"H100", "gpu", "node2", 2950.5, 712.25, "second calibration"};
    assert_int_equal(zb_db_save_device(db, &a1, &err), ZB_OK);
    assert_int_equal(zb_db_save_device(db, &other, &err), ZB_OK);
    assert_int_equal(zb_db_save_device(db, &a2, &err), ZB_OK);

    assert_int_equal(zb_db_find_device(db, "H100", &out, &found, &err), ZB_OK);
    assert_int_equal(found, 1);
    assert_string_equal(out.name, "H100");
    assert_string_equal(out.kind, "gpu");
    assert_string_equal(out.host, "node2");
    assert_string_equal(out.method, "second calibration");
    assert_near(out.copy_gbps, 2950.5, 0);
    assert_near(out.gemm_tflops, 712.25, 0);

    assert_int_equal(zb_db_find_device(db, "EPYC", &out, &found, &err), ZB_OK);
    assert_int_equal(found, 1);
    assert_string_equal(out.kind, "cpu");
    assert_near(out.copy_gbps, 150.0, 0);
    zb_db_close(db);

    sqlite3 *h = raw_open(f->db);
    char buf[64];
    assert_int_equal(q_int(h, "SELECT count(*) FROM devices"), 3);
    assert_true(is_iso_utc_ms(q_text(buf, sizeof buf, h, "SELECT max(measured_at) FROM devices")));
    raw_close(h);
}

/* ------------------------------------------------------------ SCHEMA.md */

/* Runs every ```sql block of docs/SCHEMA.md against a filled database, so
 * the documented queries cannot drift from the schema. */
static int run_doc_block(sqlite3 *h, const char *sql)
{
    const char *tail = sql;
    while (*tail) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(h, tail, -1, &st, &tail) != SQLITE_OK) {
            print_error("SCHEMA.md query failed: %s\n%s\n", sqlite3_errmsg(h), sql);
            return 0;
        }
        if (!st) continue; /* whitespace or a comment */
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) {
            print_error("SCHEMA.md query failed: %s\n%s\n", sqlite3_errmsg(h), sql);
            return 0;
        }
    }
    return 1;
}

static void test_schema_doc_queries(void **state)
{
    fixture *f = *state;
    char *doc = NULL;
    zb_error err = {{0}};
    if (zb_read_file("docs/SCHEMA.md", 1 << 20, &doc, NULL, &err) != ZB_OK)
        fail_msg("%s (run the tests from the repository root)", err.msg);
    zb_db *db = open_ok(f->db);
    int64_t id = begin_ok(db, "doc", 2);
    assert_int_equal(end_full(db, id, "ok", &err), ZB_OK);
    zb_device_calib c = {"H100", "gpu", "node1", 2900.0, 700.0, "test"};
    assert_int_equal(zb_db_save_device(db, &c, &err), ZB_OK);
    zb_db_close(db);

    sqlite3 *h = raw_open(f->db);
    int blocks = 0, ok = 1;
    for (char *p = strstr(doc, "\n```sql\n"); p; p = strstr(p, "\n```sql\n")) {
        char *body = p + strlen("\n```sql\n");
        char *end = strstr(body, "\n```");
        assert_non_null(end);
        *end = '\0';
        ok &= run_doc_block(h, body);
        blocks++;
        p = end + 1;
    }
    raw_close(h);
    free(doc);
    assert_true(ok);
    assert_true(blocks >= 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fresh_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_is_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused_untouched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrates_existing_version0, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrates_version1_to_2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrates_version2_to_3, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trace_row, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_migration_rolls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_end_bad_status_rolls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_misuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_writer_leaves_valid_db, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readonly_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_held_past_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_fail_and_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_timeout_from_environment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_devices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_doc_queries, setup, teardown),
    };
    return cmocka_run_group_tests_name("recorder", tests, NULL, NULL);
}
