#include "report_data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "zb_util.h"

const char *const zb_mem_category[ZB_MEM_N] = {"weights", "kv", "state", "workspace", "device_total", "device_peak"};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double zb_median_inplace(double *v, int n)
{
    if (n <= 0) return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static int cmp_point(const void *a, const void *b)
{
    const zb_rpoint *x = a, *y = b;
    if (x->x != y->x) return (x->x > y->x) - (x->x < y->x);
    return (x->y > y->y) - (x->y < y->y);
}

int zb_median_per_x(zb_rpoint *p, int n, double *ys)
{
    qsort(p, (size_t)n, sizeof *p, cmp_point);
    int m = 0;
    for (int i = 0; i < n;) {
        int j = i, k = 0;
        while (j < n && p[j].x == p[i].x) ys[k++] = p[j++].y;
        p[m++] = (zb_rpoint){p[i].x, zb_median_inplace(ys, k)};
        i = j;
    }
    return m;
}

zb_rrun *zb_rset_find(zb_rset *set, int64_t id)
{
    int lo = 0, hi = set->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (set->runs[mid].id == id) return &set->runs[mid];
        if (set->runs[mid].id < id) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

static void phase_init(zb_rphase *p)
{
    p->median = p->tok_s = p->pct_of_floor = p->floor_ms = p->cv = NAN;
    p->reps = NULL;
    p->n_reps = 0;
}

/* ------------------------------------------------------------------ runs */

static const char k_runs_sql[] =
    "SELECT id, sweep_id, tag, plugin, model, model_source, layout, dtype, gpu, cpu, git_commit, status,"
    " coalesce(error, ''), started_at, batch, seq, gen, depth, capacity, gpu_memory_bytes, n_params"
    " FROM runs ORDER BY id";

static zb_status load_runs(zb_rdb *db, const zb_selection *sel, zb_rset *set, zb_error *err)
{
    sqlite3_stmt *q = NULL;
    int cap = 0;
    zb_status st = zb_rdb_prepare(db, k_runs_sql, &q, "reading runs", err);
    int r = 0;
    while (st == ZB_OK && (r = zb_rdb_step(db, q, "reading runs", err)) == 1) {
        zb_sel_run key = {sqlite3_column_int64(q, 0), zb_rdb_text(q, 2), zb_rdb_text(q, 1), zb_rdb_text(q, 10),
                          zb_rdb_text(q, 3)};
        if (!zb_sel_match(sel, &key)) continue;
        if (!zb_grow((void **)&set->runs, &cap, set->n + 1, sizeof *set->runs)) {
            st = zb_fail(err, ZB_ERR_OOM, "out of memory for runs");
            break;
        }
        zb_rrun *u = &set->runs[set->n++];
        memset(u, 0, sizeof *u);
        zb_arena *a = &set->arena;
        u->id = key.id;
        u->sweep_id = zb_arena_strdup(a, zb_rdb_text(q, 1));
        u->tag = zb_arena_strdup(a, zb_rdb_text(q, 2));
        u->plugin = zb_arena_strdup(a, zb_rdb_text(q, 3));
        u->model = zb_arena_strdup(a, zb_rdb_text(q, 4));
        u->model_source = zb_arena_strdup(a, zb_rdb_text(q, 5));
        u->layout = zb_arena_strdup(a, zb_rdb_text(q, 6));
        u->dtype = zb_arena_strdup(a, zb_rdb_text(q, 7));
        u->is_gpu = *zb_rdb_text(q, 8) != '\0';
        u->device = zb_arena_strdup(a, zb_rdb_text(q, u->is_gpu ? 8 : 9));
        u->git_commit = zb_arena_strdup(a, zb_rdb_text(q, 10));
        u->status = zb_arena_strdup(a, zb_rdb_text(q, 11));
        u->error = zb_arena_strdup(a, zb_rdb_text(q, 12));
        u->started_at = zb_arena_strdup(a, zb_rdb_text(q, 13));
        u->ok = !strcmp(u->status, "ok");
        u->batch = sqlite3_column_int(q, 14);
        u->seq = sqlite3_column_int(q, 15);
        u->gen = sqlite3_column_int(q, 16);
        u->depth = sqlite3_column_int(q, 17);
        u->capacity = sqlite3_column_int64(q, 18);
        u->gpu_memory_bytes = sqlite3_column_int64(q, 19);
        u->n_params = sqlite3_column_int64(q, 20);
        phase_init(&u->pre);
        phase_init(&u->dec);
        for (int i = 0; i < ZB_MEM_N; i++) u->mem_measured[i] = u->mem_predicted[i] = -1;
        set->n_ok += u->ok;
    }
    if (r < 0) st = ZB_ERR_INVALID;
    zb_rdb_finalize(q);
    if (st == ZB_OK && set->arena.oom) st = zb_fail(err, ZB_ERR_OOM, "out of memory reading runs");
    return st;
}

/* Statements over the child tables, limited to the selected id range. */
static zb_status prepare_range(zb_rdb *db, zb_rset *set, const char *sql, sqlite3_stmt **q, const char *what,
                               zb_error *err)
{
    zb_status st = zb_rdb_prepare(db, sql, q, what, err);
    if (st != ZB_OK) return st;
    if (sqlite3_bind_int64(*q, 1, set->runs[0].id) != SQLITE_OK ||
        sqlite3_bind_int64(*q, 2, set->runs[set->n - 1].id) != SQLITE_OK)
        return zb_fail(err, ZB_ERR_INVALID, "%s: %s: %s", db->path, what, sqlite3_errmsg(db->h));
    return ZB_OK;
}

/* ----------------------------------------------------------------- stats */

static void set_stat(zb_rphase *p, const char *metric, double v)
{
    if (!strcmp(metric, "median")) p->median = v;
    else if (!strcmp(metric, "tokens_per_s")) p->tok_s = v;
    else if (!strcmp(metric, "pct_of_floor")) p->pct_of_floor = v;
    else if (!strcmp(metric, "floor_ms")) p->floor_ms = v;
    else if (!strcmp(metric, "cv")) p->cv = v;
}

static zb_status load_stats(zb_rdb *db, zb_rset *set, zb_error *err)
{
    sqlite3_stmt *q = NULL;
    const char *what = "reading stats";
    zb_status st = prepare_range(db, set, "SELECT run_id, phase, metric, value FROM stats WHERE run_id BETWEEN ? AND ?",
                                 &q, what, err);
    int r = 0;
    while (st == ZB_OK && (r = zb_rdb_step(db, q, what, err)) == 1) {
        zb_rrun *u = zb_rset_find(set, sqlite3_column_int64(q, 0));
        if (!u) continue;
        const char *phase = zb_rdb_text(q, 1);
        zb_rphase *p = !strcmp(phase, "prefill") ? &u->pre : !strcmp(phase, "decode") ? &u->dec : NULL;
        if (p) set_stat(p, zb_rdb_text(q, 2), zb_rdb_real(q, 3));
    }
    if (r < 0) st = ZB_ERR_INVALID;
    zb_rdb_finalize(q);
    return st;
}

/* ---------------------------------------------------------------- memory */

static zb_status load_memory(zb_rdb *db, zb_rset *set, zb_error *err)
{
    sqlite3_stmt *q = NULL;
    const char *what = "reading memory";
    zb_status st = prepare_range(
        db, set, "SELECT run_id, category, measured_bytes, predicted_bytes FROM memory WHERE run_id BETWEEN ? AND ?",
        &q, what, err);
    int r = 0;
    while (st == ZB_OK && (r = zb_rdb_step(db, q, what, err)) == 1) {
        zb_rrun *u = zb_rset_find(set, sqlite3_column_int64(q, 0));
        if (!u) continue;
        const char *cat = zb_rdb_text(q, 1);
        for (int i = 0; i < ZB_MEM_N; i++)
            if (!strcmp(cat, zb_mem_category[i])) {
                u->mem_measured[i] = zb_rdb_int(q, 2, -1);
                u->mem_predicted[i] = zb_rdb_int(q, 3, -1);
            }
    }
    if (r < 0) st = ZB_ERR_INVALID;
    zb_rdb_finalize(q);
    return st;
}

/* --------------------------------------------------------------- results */

/* A growable list of doubles, copied into the arena when complete. */
typedef struct dlist {
    double *v;
    int n, cap;
} dlist;

static int dpush(dlist *l, double v)
{
    if (!zb_grow((void **)&l->v, &l->cap, l->n + 1, sizeof *l->v)) return 0;
    l->v[l->n++] = v;
    return 1;
}

static double *dkeep(zb_arena *a, const dlist *l)
{
    double *p = zb_arena_alloc(a, sizeof *p * (size_t)(l->n ? l->n : 1));
    if (p && l->n) memcpy(p, l->v, sizeof *p * (size_t)l->n);
    return p;
}

static zb_status load_results(zb_rdb *db, zb_rset *set, zb_error *err)
{
    sqlite3_stmt *q = NULL;
    const char *what = "reading results";
    zb_status st = prepare_range(db, set,
                                 "SELECT run_id, phase, tokens, wall_ms FROM results WHERE run_id BETWEEN ? AND ?"
                                 " ORDER BY run_id, phase, rep",
                                 &q, what, err);
    dlist pre = {0}, dec = {0};
    zb_rrun *cur = NULL;
    int r = 0;
    for (;;) {
        zb_rrun *u = NULL;
        if (st == ZB_OK && (r = zb_rdb_step(db, q, what, err)) == 1) u = zb_rset_find(set, sqlite3_column_int64(q, 0));
        else if (st == ZB_OK && r < 0) st = ZB_ERR_INVALID;
        if (cur && (u != cur || st != ZB_OK || r != 1)) { /* the previous run is complete */
            cur->pre.reps = dkeep(&set->arena, &pre), cur->pre.n_reps = pre.n;
            cur->dec.reps = dkeep(&set->arena, &dec), cur->dec.n_reps = dec.n;
            pre.n = dec.n = 0;
            cur = NULL;
        }
        if (st != ZB_OK || r != 1) break;
        if (!u) continue;
        cur = u;
        const char *phase = zb_rdb_text(q, 1);
        double ms = zb_rdb_real(q, 3);
        int tokens = sqlite3_column_int(q, 2);
        int okp = 1;
        if (!strcmp(phase, "prefill")) okp = dpush(&pre, ms);
        else if (!strcmp(phase, "decode") && tokens > 0) okp = dpush(&dec, ms / tokens);
        if (!okp) st = zb_fail(err, ZB_ERR_OOM, "out of memory reading results");
    }
    free(pre.v);
    free(dec.v);
    zb_rdb_finalize(q);
    return st;
}

/* --------------------------------------------------------------- samples */

typedef struct plist {
    zb_rpoint *v;
    int n, cap;
} plist;

static int ppush(plist *l, double x, double y)
{
    if (!zb_grow((void **)&l->v, &l->cap, l->n + 1, sizeof *l->v)) return 0;
    l->v[l->n++] = (zb_rpoint){x, y};
    return 1;
}

static zb_rpoint *pkeep(zb_arena *a, const plist *l)
{
    zb_rpoint *p = zb_arena_alloc(a, sizeof *p * (size_t)(l->n ? l->n : 1));
    if (p && l->n) memcpy(p, l->v, sizeof *p * (size_t)l->n);
    return p;
}

/* Samples arrive ordered by run and position; each position's repetitions
 * become one point, their median. */
typedef struct sample_acc {
    zb_rrun *run;
    int64_t pos;
    dlist lat, mem;
    plist lat_pts, use_pts;
} sample_acc;

static int close_position(sample_acc *s)
{
    int ok = 1;
    if (s->lat.n) ok &= ppush(&s->lat_pts, (double)s->pos, zb_median_inplace(s->lat.v, s->lat.n));
    if (s->mem.n) ok &= ppush(&s->use_pts, (double)s->pos, zb_median_inplace(s->mem.v, s->mem.n));
    s->lat.n = s->mem.n = 0;
    return ok;
}

static void close_run(sample_acc *s, zb_arena *a)
{
    s->run->lat = pkeep(a, &s->lat_pts), s->run->n_lat = s->lat_pts.n;
    s->run->use = pkeep(a, &s->use_pts), s->run->n_use = s->use_pts.n;
    s->lat_pts.n = s->use_pts.n = 0;
    s->run = NULL;
}

static zb_status load_samples(zb_rdb *db, zb_rset *set, zb_error *err)
{
    sqlite3_stmt *q = NULL;
    const char *what = "reading samples";
    zb_status st = prepare_range(db, set,
                                 "SELECT run_id, position, latency_ms, memory_bytes FROM samples"
                                 " WHERE run_id BETWEEN ? AND ? ORDER BY run_id, position",
                                 &q, what, err);
    sample_acc s = {0};
    int r = 0, ok = 1;
    for (;;) {
        zb_rrun *u = NULL;
        int64_t pos = 0;
        if (st == ZB_OK && (r = zb_rdb_step(db, q, what, err)) == 1) {
            u = zb_rset_find(set, sqlite3_column_int64(q, 0));
            pos = sqlite3_column_int64(q, 1);
        } else if (st == ZB_OK && r < 0) {
            st = ZB_ERR_INVALID;
        }
        int done = st != ZB_OK || r != 1;
        if (s.run && (done || u != s.run || pos != s.pos)) ok &= close_position(&s);
        if (s.run && (done || u != s.run)) close_run(&s, &set->arena);
        if (done) break;
        if (!u) continue;
        s.run = u;
        s.pos = pos;
        double lat = zb_rdb_real(q, 2);
        if (!isnan(lat)) ok &= dpush(&s.lat, lat);
        if (sqlite3_column_type(q, 3) != SQLITE_NULL) ok &= dpush(&s.mem, (double)sqlite3_column_int64(q, 3));
        if (!ok) {
            st = zb_fail(err, ZB_ERR_OOM, "out of memory reading samples");
            break;
        }
    }
    if (st == ZB_OK && !ok) st = zb_fail(err, ZB_ERR_OOM, "out of memory reading samples");
    free(s.lat.v);
    free(s.mem.v);
    free(s.lat_pts.v);
    free(s.use_pts.v);
    zb_rdb_finalize(q);
    return st;
}

/* ------------------------------------------------------------------- set */

zb_status zb_rset_load(zb_rdb *db, const zb_selection *sel, zb_rset *set, zb_error *err)
{
    memset(set, 0, sizeof *set);
    set->path = db->path;
    zb_status st = load_runs(db, sel, set, err);
    if (st == ZB_OK && set->n > 0) st = load_stats(db, set, err);
    if (st == ZB_OK && set->n > 0) st = load_memory(db, set, err);
    if (st == ZB_OK && set->n > 0) st = load_results(db, set, err);
    if (st == ZB_OK && set->n > 0) st = load_samples(db, set, err);
    if (st == ZB_OK && set->arena.oom) st = zb_fail(err, ZB_ERR_OOM, "out of memory reading %s", db->path);
    if (st != ZB_OK) zb_rset_free(set);
    return st;
}

void zb_rset_free(zb_rset *set)
{
    free(set->runs);
    zb_arena_free(&set->arena);
    memset(set, 0, sizeof *set);
}
