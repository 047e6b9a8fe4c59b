/*
 * Trace ingestion (interface and rules in trace_store.h).
 *
 * Life of an activity record: it becomes a row holding an interned name;
 * if its correlation id is known the row is attributed and joins the
 * batch, else it waits in `pending` and is retried at the end of every
 * sink call (the tracer delivers a launch's correlation record before the
 * activity records of the buffer it completes in, so waiting is the
 * exception). The batch is written, in one transaction, whenever it
 * reaches `batch` rows. Everything is under one mutex: the sink may run on
 * a CUPTI thread while the driver ends the run.
 */
#include "trace_store.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "recorder.h"
#include "trace_class.h"
#include "trace_index.h"
#include "zb_util.h"

typedef struct trace_row {
    zb_trace_kind kind;
    int attributed; /* 0: its correlation was never seen */
    int phase;      /* ZB_TRACE_PHASE_*, 0 when none ('other') */
    int rep, step;  /* valid with a phase */
    int32_t layer;  /* -1: none */
    int32_t part;   /* ZB_PART_*, -1: none */
    const zb_name *name;
    uint64_t start, end;
    uint32_t corr, device, stream;
    int32_t grid[3], block[3], regs, static_smem, dynamic_smem;
    uint64_t bytes;
    char copy_kind[8];
    uint32_t graph_id;
    uint64_t graph_node;
} trace_row;

typedef struct row_list {
    trace_row *v;
    size_t n, cap;
} row_list;

struct zb_trace_store {
    sqlite3 *h;
    sqlite3_stmt *ins;
    char *path;
    int64_t run_id;
    int in_run;     /* between begin_run and end_run */
    int64_t stray;  /* activities that came outside any run */
    int batch, pending_max;
    pthread_mutex_t mu;
    row_list rows, pending;
    zb_corr_window corr;
    zb_node_map nodes;
    zb_name_table names;
    zb_trace_counts c; /* of the current run */
    int failed;
    zb_error first; /* the run's first failure, reported by end_run */
};

static const char k_insert[] =
    "INSERT INTO kernels (run_id, kind, phase, rep, step, layer, part, name, class, start_ns, end_ns, device,"
    " stream, correlation_id, grid_x, grid_y, grid_z, block_x, block_y, block_z, registers, static_smem,"
    " dynamic_smem, bytes, copy_kind, graph_id, graph_node_id)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

/* ------------------------------------------------------------- failures */

/* Keeps the first failure only: later ones are usually its consequences. */
static void store_fail(zb_trace_store *s, const char *fmt, ...) ZB_PRINTF(2, 3);
static void store_fail(zb_trace_store *s, const char *fmt, ...)
{
    if (s->failed) return;
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    zb_fail(&s->first, ZB_ERR_INVALID, "%s: trace of run %lld: %s", s->path, (long long)s->run_id, what);
    s->failed = 1;
}

static void store_fail_sql(zb_trace_store *s, const char *what)
{
    store_fail(s, "%s: %s", what, sqlite3_errmsg(s->h));
}

/* ------------------------------------------------------------- the rows */

static const char *phase_text(int phase)
{
    switch (phase) {
    case ZB_TRACE_PHASE_PREFILL: return "prefill";
    case ZB_TRACE_PHASE_DECODE: return "decode";
    case ZB_TRACE_PHASE_DEPTH: return "depth";
    default: return "other";
    }
}

static const char *part_text(int32_t part)
{
    switch (part) {
    case ZB_PART_MAMBA: return "mamba";
    case ZB_PART_ATTENTION: return "attention";
    case ZB_PART_MLP: return "mlp";
    case ZB_PART_EMBED: return "embed";
    case ZB_PART_LOGITS: return "logits";
    default: return NULL;
    }
}

static const char *class_memcpy(const char *name)
{
    (void)name;
    return "memcpy";
}

static const char *class_memset(const char *name)
{
    (void)name;
    return "memset";
}

/* The row of an activity record, its name interned; -1 out of memory. */
static int make_row(zb_trace_store *s, const zb_trace_record *r, trace_row *row)
{
    memset(row, 0, sizeof *row);
    row->kind = r->kind;
    row->layer = row->part = -1;
    char text[64];
    if (r->kind == ZB_TRACE_KERNEL) {
        row->name = zb_name_intern(&s->names, r->name && *r->name ? r->name : "(unnamed kernel)", zb_kernel_class);
    } else if (r->kind == ZB_TRACE_MEMCPY) {
        snprintf(row->copy_kind, sizeof row->copy_kind, "%s", r->copy_kind ? r->copy_kind : "?");
        snprintf(text, sizeof text, "memcpy %s", row->copy_kind);
        row->name = zb_name_intern(&s->names, text, class_memcpy);
    } else {
        row->name = zb_name_intern(&s->names, "memset", class_memset);
    }
    if (!row->name) return -1;
    row->start = r->start_ns, row->end = r->end_ns;
    row->corr = r->correlation_id, row->device = r->device_id, row->stream = r->stream_id;
    memcpy(row->grid, r->grid, sizeof row->grid);
    memcpy(row->block, r->block, sizeof row->block);
    row->regs = r->registers, row->static_smem = r->static_smem, row->dynamic_smem = r->dynamic_smem;
    row->bytes = r->bytes;
    row->graph_id = r->graph_id, row->graph_node = r->graph_node_id;
    return 0;
}

/* Attributes a row from what is known of its correlation id; 0 when the
 * id was never seen (yet). A graph-launched kernel takes its layer from
 * the node it ran as, since the whole graph shares its launch's ids. */
static int resolve(const zb_trace_store *s, trace_row *row)
{
    const zb_corr_entry *e = zb_corr_find(&s->corr, row->corr);
    if (!e) return 0;
    row->attributed = 1;
    row->phase = e->phase ? zb_trace_phase_of(e->phase) : 0;
    if (row->phase) {
        row->rep = zb_trace_rep_of(e->phase);
        row->step = zb_trace_step_of(e->phase);
    }
    uint64_t layer = e->layer, from_node;
    if (row->graph_node && zb_node_get(&s->nodes, row->graph_node, &from_node)) layer = from_node;
    if (layer) {
        row->layer = zb_trace_layer_of(layer);
        row->part = zb_trace_part_of(layer);
    }
    return 1;
}

/* --------------------------------------------------------------- writing */

static void bind_opt_int(sqlite3_stmt *st, int i, int64_t v, int known, int *rc)
{
    if (*rc != SQLITE_OK) return;
    *rc = known ? sqlite3_bind_int64(st, i, v) : sqlite3_bind_null(st, i);
}

static void bind_opt_text(sqlite3_stmt *st, int i, const char *v, int *rc)
{
    if (*rc != SQLITE_OK) return;
    *rc = v ? sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

static int bind_row(zb_trace_store *s, const trace_row *r)
{
    static const char *const kinds[] = {"?", "kernel", "memcpy", "memset"};
    sqlite3_stmt *st = s->ins;
    const int phased = r->phase != 0;
    const int kernel = r->kind == ZB_TRACE_KERNEL;
    int rc = SQLITE_OK, i = 1;
    bind_opt_int(st, i++, s->run_id, 1, &rc);
    bind_opt_text(st, i++, kinds[r->kind <= ZB_TRACE_MEMSET ? r->kind : 0], &rc);
    bind_opt_text(st, i++, phase_text(r->phase), &rc);
    bind_opt_int(st, i++, r->rep, phased, &rc);
    bind_opt_int(st, i++, r->step, phased, &rc);
    bind_opt_int(st, i++, r->layer, r->layer >= 0, &rc);
    bind_opt_text(st, i++, part_text(r->part), &rc);
    bind_opt_text(st, i++, r->name->text, &rc);
    bind_opt_text(st, i++, r->name->cls, &rc);
    bind_opt_int(st, i++, (int64_t)r->start, 1, &rc);
    bind_opt_int(st, i++, (int64_t)r->end, 1, &rc);
    bind_opt_int(st, i++, r->device, 1, &rc);
    bind_opt_int(st, i++, r->stream, 1, &rc);
    bind_opt_int(st, i++, r->corr, 1, &rc);
    for (int d = 0; d < 3; d++) bind_opt_int(st, i++, r->grid[d], kernel, &rc);
    for (int d = 0; d < 3; d++) bind_opt_int(st, i++, r->block[d], kernel, &rc);
    bind_opt_int(st, i++, r->regs, kernel, &rc);
    bind_opt_int(st, i++, r->static_smem, kernel, &rc);
    bind_opt_int(st, i++, r->dynamic_smem, kernel, &rc);
    bind_opt_int(st, i++, (int64_t)r->bytes, !kernel, &rc);
    bind_opt_text(st, i++, r->kind == ZB_TRACE_MEMCPY ? r->copy_kind : NULL, &rc);
    bind_opt_int(st, i++, r->graph_id, r->graph_id != 0, &rc);
    bind_opt_int(st, i++, (int64_t)r->graph_node, r->graph_node != 0, &rc);
    return rc;
}

static void rollback(zb_trace_store *s)
{
    /* some errors (disk full, I/O) have rolled back already */
    if (!sqlite3_get_autocommit(s->h)) (void)sqlite3_exec(s->h, "ROLLBACK", NULL, NULL, NULL);
}

/* One transaction for the held rows; on failure they are counted lost
 * and the store stops writing. */
static void write_rows(zb_trace_store *s)
{
    row_list *l = &s->rows;
    if (l->n == 0) return;
    if (s->failed) {
        s->c.lost += (int64_t)l->n;
        l->n = 0;
        return;
    }
    /* IMMEDIATE: take the write lock now, waiting for other zbench
     * processes in the busy handler rather than failing mid-transaction */
    int ok = sqlite3_exec(s->h, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
    if (!ok) store_fail_sql(s, "taking the write lock for kernel rows");
    int64_t unattributed = 0;
    for (size_t i = 0; ok && i < l->n; i++) {
        if (bind_row(s, &l->v[i]) != SQLITE_OK) {
            store_fail_sql(s, "binding a kernel row");
            ok = 0;
        } else if (sqlite3_step(s->ins) != SQLITE_DONE) {
            store_fail_sql(s, "inserting a kernel row");
            ok = 0;
        }
        /* reset reports the step's error again, already recorded */
        (void)sqlite3_reset(s->ins);
        unattributed += !l->v[i].attributed;
    }
    if (ok && sqlite3_exec(s->h, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        store_fail_sql(s, "committing kernel rows");
        ok = 0;
    }
    if (ok) {
        s->c.records += (int64_t)l->n;
        s->c.unattributed += unattributed;
        s->c.batches++;
    } else {
        rollback(s);
        s->c.lost += (int64_t)l->n;
    }
    l->n = 0;
}

static int list_push(row_list *l, const trace_row *r)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        trace_row *v = realloc(l->v, cap * sizeof *v);
        if (!v) return -1;
        l->v = v, l->cap = cap;
    }
    l->v[l->n++] = *r;
    return 0;
}

static void note_held(zb_trace_store *s)
{
    int64_t held = (int64_t)(s->rows.n + s->pending.n);
    if (held > s->c.held_max) s->c.held_max = held;
}

/* Adds a row to the batch, writing the batch when it is full. */
static void emit(zb_trace_store *s, const trace_row *r)
{
    if (list_push(&s->rows, r) != 0) {
        store_fail(s, "out of memory holding kernel rows");
        s->c.lost++;
        return;
    }
    note_held(s);
    if (s->rows.n >= (size_t)s->batch) write_rows(s);
}

/* Retries the waiting rows; then, beyond `keep` of them, writes the oldest
 * as they are (unattributed). */
static void settle_pending(zb_trace_store *s, size_t keep)
{
    row_list *p = &s->pending;
    size_t kept = 0;
    for (size_t i = 0; i < p->n; i++) {
        trace_row r = p->v[i];
        if (resolve(s, &r)) emit(s, &r);
        else p->v[kept++] = r;
    }
    p->n = kept;
    if (p->n <= keep) return;
    size_t out = p->n - keep;
    for (size_t i = 0; i < out; i++) emit(s, &p->v[i]);
    memmove(p->v, p->v + out, keep * sizeof *p->v);
    p->n = keep;
}

static void add_activity(zb_trace_store *s, const zb_trace_record *r)
{
    trace_row row;
    if (make_row(s, r, &row) != 0) {
        store_fail(s, "out of memory interning a kernel name");
        s->c.lost++;
        return;
    }
    /* no correlation id (device-side launches): nothing will ever say */
    if (row.corr == 0 || resolve(s, &row)) {
        emit(s, &row);
        return;
    }
    if (list_push(&s->pending, &row) != 0) {
        store_fail(s, "out of memory holding kernel rows");
        s->c.lost++;
        return;
    }
    note_held(s);
    if (s->pending.n >= (size_t)s->pending_max) settle_pending(s, (size_t)s->pending_max / 2);
}

static void add_record(zb_trace_store *s, const zb_trace_record *r)
{
    uint64_t layer;
    switch (r->kind) {
    case ZB_TRACE_CORRELATION: zb_corr_note(&s->corr, r->correlation_id, r->phase_id, r->layer_id); break;
    case ZB_TRACE_GRAPH_NODE:
        if (zb_node_put(&s->nodes, r->graph_node_id, r->layer_id) != 0) store_fail(s, "out of memory for graph nodes");
        break;
    case ZB_TRACE_GRAPH_CLONE:
        if (zb_node_get(&s->nodes, r->orig_node_id, &layer) && zb_node_put(&s->nodes, r->graph_node_id, layer) != 0)
            store_fail(s, "out of memory for graph nodes");
        break;
    case ZB_TRACE_KERNEL:
    case ZB_TRACE_MEMCPY:
    case ZB_TRACE_MEMSET:
        if (!s->in_run) s->stray++;
        else if (s->failed) s->c.lost++;
        else add_activity(s, r);
        break;
    default: break; /* a newer tracer's kind: nothing to attribute with it */
    }
}

void zb_trace_store_sink(void *ctx, const zb_trace_record *records, size_t n)
{
    zb_trace_store *s = ctx;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < n; i++) add_record(s, &records[i]);
    if (s->pending.n) settle_pending(s, s->pending.n);
    pthread_mutex_unlock(&s->mu);
}

/* ----------------------------------------------------------- open, end */

static zb_status check_schema(zb_trace_store *s, zb_error *err)
{
    sqlite3_stmt *st = NULL;
    int version = -1;
    if (sqlite3_prepare_v2(s->h, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    (void)sqlite3_finalize(st);
    if (version < 0)
        return zb_fail(err, ZB_ERR_INVALID, "%s: reading the schema version: %s", s->path, sqlite3_errmsg(s->h));
    if (version < 2)
        return zb_fail(err, ZB_ERR_INVALID, "%s: schema version %d has no kernels table (open it with zbench first)",
                       s->path, version);
    return ZB_OK;
}

static zb_status store_connect(zb_trace_store *s, int busy_ms, zb_error *err)
{
    /* no CREATE: the recorder made (and migrated) the file already */
    if (sqlite3_open_v2(s->path, &s->h, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        return zb_fail(err, ZB_ERR_INVALID, "%s: opening for the trace: %s", s->path,
                       s->h ? sqlite3_errmsg(s->h) : "out of memory");
    if (sqlite3_busy_timeout(s->h, busy_ms) != SQLITE_OK ||
        sqlite3_exec(s->h, "PRAGMA foreign_keys = ON", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(s->h, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK)
        return zb_fail(err, ZB_ERR_INVALID, "%s: configuring the trace connection: %s", s->path,
                       sqlite3_errmsg(s->h));
    zb_status st = check_schema(s, err);
    if (st != ZB_OK) return st;
    if (sqlite3_prepare_v2(s->h, k_insert, -1, &s->ins, NULL) != SQLITE_OK)
        return zb_fail(err, ZB_ERR_INVALID, "%s: preparing the kernel insert: %s", s->path, sqlite3_errmsg(s->h));
    return ZB_OK;
}

zb_status zb_trace_store_open(const char *db_path, const zb_trace_store_opts *opts, zb_trace_store **out,
                              zb_error *err)
{
    *out = NULL;
    zb_trace_store_opts o = opts ? *opts : (zb_trace_store_opts){0};
    if (o.batch <= 0) o.batch = ZB_TRACE_BATCH_DEFAULT;
    if (o.window == 0) o.window = ZB_TRACE_WINDOW_DEFAULT;
    if (o.pending_max <= 0) o.pending_max = 4 * o.batch;
    if (o.busy_timeout_ms <= 0) o.busy_timeout_ms = ZB_DB_BUSY_TIMEOUT_MS;
    if (!db_path || !*db_path) return zb_fail(err, ZB_ERR_INVALID, "trace: database path is empty");
    if ((o.window & (o.window - 1)) != 0)
        return zb_fail(err, ZB_ERR_INVALID, "trace: correlation window %u is not a power of two", o.window);
    zb_trace_store *s = calloc(1, sizeof *s);
    if (!s) return zb_fail(err, ZB_ERR_OOM, "%s: out of memory for the trace store", db_path);
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s);
        return zb_fail(err, ZB_ERR_INTERNAL, "%s: cannot create the trace store's mutex", db_path);
    }
    if (!(s->path = strdup(db_path)) || zb_corr_init(&s->corr, o.window) != 0) {
        zb_trace_store_close(s);
        return zb_fail(err, ZB_ERR_OOM, "%s: out of memory for the trace store", db_path);
    }
    s->batch = o.batch;
    s->pending_max = o.pending_max;
    zb_status st = store_connect(s, o.busy_timeout_ms, err);
    if (st != ZB_OK) {
        zb_trace_store_close(s);
        return st;
    }
    *out = s;
    return ZB_OK;
}

void zb_trace_store_begin_run(zb_trace_store *s, int64_t run_id)
{
    pthread_mutex_lock(&s->mu);
    s->run_id = run_id;
    s->in_run = 1;
    memset(&s->c, 0, sizeof s->c);
    /* a failure of an earlier run (a full disk, a lock time-out) may have
     * passed: this run tries again, and reports its own */
    s->failed = 0;
    memset(&s->first, 0, sizeof s->first);
    pthread_mutex_unlock(&s->mu);
}

void zb_trace_store_counts(zb_trace_store *s, zb_trace_counts *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->c;
    pthread_mutex_unlock(&s->mu);
}

zb_status zb_trace_store_end_run(zb_trace_store *s, zb_trace_counts *counts, zb_error *err)
{
    pthread_mutex_lock(&s->mu);
    zb_status st = ZB_OK;
    if (s->in_run) {
        settle_pending(s, 0);
        write_rows(s);
        s->in_run = 0;
        if (s->failed) {
            st = ZB_ERR_INVALID;
            if (err) *err = s->first;
        }
    }
    if (counts) *counts = s->c;
    pthread_mutex_unlock(&s->mu);
    return st;
}

int64_t zb_trace_store_stray(zb_trace_store *s)
{
    pthread_mutex_lock(&s->mu);
    int64_t n = s->stray;
    pthread_mutex_unlock(&s->mu);
    return n;
}

void zb_trace_store_close(zb_trace_store *s)
{
    if (!s) return;
    (void)sqlite3_finalize(s->ins);
    /* close fails only with statements left unfinalized, a bug here */
    if (s->h && sqlite3_close(s->h) != SQLITE_OK)
        fprintf(stderr, "zbench: %s: closing the trace connection: %s\n", s->path, sqlite3_errmsg(s->h));
    pthread_mutex_destroy(&s->mu);
    zb_corr_free(&s->corr);
    zb_node_free(&s->nodes);
    zb_name_free(&s->names);
    free(s->rows.v);
    free(s->pending.v);
    free(s->path);
    free(s);
}
