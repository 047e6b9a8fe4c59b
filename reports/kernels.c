#include "kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zb_util.h"

/* The classes tracing assigns, in the order bars stack them: the big
 * matrix work at the bottom, leftovers on top. Other names (a later
 * tracer's) follow in the order they are met, up to ZB_KCLASS_MAX; beyond
 * that they count as "other" rather than being lost. */
static const char *const k_known[] = {"gemm", "attention", "scan", "conv", "norm", "memcpy", "memset", "other"};

static int class_index(zb_kernel_data *k, zb_arena *a, const char *name)
{
    for (int i = 0; i < k->n_cls; i++)
        if (!strcmp(k->cls[i], name)) return i;
    if (k->n_cls < ZB_KCLASS_MAX) {
        k->cls[k->n_cls] = zb_arena_strdup(a, name);
        return k->cls[k->n_cls] ? k->n_cls++ : -1;
    }
    for (int i = 0; i < k->n_cls; i++)
        if (!strcmp(k->cls[i], "other")) return i;
    return k->n_cls - 1;
}

static int same_bar(const zb_kbar *b, const zb_rrun *r, const char *phase)
{
    return !strcmp(b->model, r->model) && !strcmp(b->plugin, r->plugin) && !strcmp(b->device, r->device) &&
           !strcmp(b->phase, phase);
}

static int cmp_bar(const void *pa, const void *pb)
{
    const zb_kbar *a = pa, *b = pb;
    int za = !strcmp(a->layout, "zamba"), zb = !strcmp(b->layout, "zamba");
    if (za != zb) return zb - za;
    int c = strcmp(a->model, b->model);
    if (!c) c = strcmp(a->plugin, b->plugin);
    if (!c) c = strcmp(a->device, b->device);
    if (!c) c = strcmp(a->phase, b->phase);
    return c;
}

double zb_kbar_total(const zb_kernel_data *k, const zb_kbar *b)
{
    double t = 0;
    for (int i = 0; i < k->n_cls; i++) t += b->ms[i];
    return t;
}

zb_status zb_kernels_load(zb_rdb *db, zb_rset *set, zb_kernel_data *out, zb_error *err)
{
    memset(out, 0, sizeof *out);
    zb_status st = zb_rdb_has_table(db, "v_kernel_class", &out->has_view, err);
    if (st != ZB_OK) return st;
    if (!out->has_view) {
        snprintf(out->note, sizeof out->note, "no traced runs (this database has no v_kernel_class)");
        return ZB_OK;
    }
    if (set->n_ok == 0) {
        snprintf(out->note, sizeof out->note, "no traced runs among the selected runs");
        return ZB_OK;
    }
    for (size_t i = 0; i < sizeof k_known / sizeof k_known[0]; i++) out->cls[out->n_cls++] = k_known[i];
    sqlite3_stmt *q = NULL;
    const char *sql = "SELECT run_id, phase, class, count, total_ms FROM v_kernel_class"
                      " WHERE run_id BETWEEN ? AND ? ORDER BY run_id, phase, class";
    if (sqlite3_prepare_v2(db->h, sql, -1, &q, NULL) != SQLITE_OK) {
        /* a view of another shape: say so in the report, do not fail it */
        snprintf(out->note, sizeof out->note, "v_kernel_class cannot be read: %s", sqlite3_errmsg(db->h));
        sqlite3_finalize(q);
        out->n_cls = 0;
        return ZB_OK;
    }
    if (sqlite3_bind_int64(q, 1, set->runs[0].id) != SQLITE_OK ||
        sqlite3_bind_int64(q, 2, set->runs[set->n - 1].id) != SQLITE_OK) {
        st = zb_fail(err, ZB_ERR_INVALID, "%s: reading v_kernel_class: %s", db->path, sqlite3_errmsg(db->h));
        sqlite3_finalize(q);
        return st;
    }
    int cap = 0, r;
    while ((r = zb_rdb_step(db, q, "reading v_kernel_class", err)) == 1) {
        int64_t id = sqlite3_column_int64(q, 0);
        const zb_rrun *u = zb_rset_find(set, id);
        if (!u || !u->ok) continue;
        const char *phase = zb_rdb_text(q, 1);
        int b = 0;
        while (b < out->n && !same_bar(&out->v[b], u, phase)) b++;
        if (b == out->n) {
            if (!zb_grow((void **)&out->v, &cap, out->n + 1, sizeof *out->v)) {
                st = zb_fail(err, ZB_ERR_OOM, "out of memory reading v_kernel_class");
                break;
            }
            zb_kbar *nb = &out->v[out->n++];
            memset(nb, 0, sizeof *nb);
            nb->model = u->model, nb->layout = u->layout, nb->plugin = u->plugin, nb->device = u->device;
            nb->phase = zb_arena_strdup(&set->arena, phase);
        }
        zb_kbar *bar = &out->v[b];
        /* a run has one row per class: count it once per bar */
        if (bar->runs == 0 || bar->last_run != id) bar->runs++;
        bar->last_run = id;
        int c = class_index(out, &set->arena, *zb_rdb_text(q, 2) ? zb_rdb_text(q, 2) : "other");
        double ms = zb_rdb_real(q, 4);
        if (c >= 0 && isfinite(ms)) bar->ms[c] += ms;
        bar->kernels += zb_rdb_int(q, 3, 0);
    }
    if (r < 0) st = ZB_ERR_INVALID;
    sqlite3_finalize(q);
    if (st == ZB_OK && set->arena.oom) st = zb_fail(err, ZB_ERR_OOM, "out of memory reading v_kernel_class");
    if (st != ZB_OK) {
        zb_kernels_free(out);
        return st;
    }
    if (out->n == 0) {
        snprintf(out->note, sizeof out->note, "no traced runs among the selected runs");
        out->n_cls = 0;
        return ZB_OK;
    }
    qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_bar);
    /* classes no bar uses would be empty legend entries: drop them */
    int keep = 0;
    for (int c = 0; c < out->n_cls; c++) {
        int used = 0;
        for (int b = 0; b < out->n && !used; b++) used = out->v[b].ms[c] > 0;
        if (!used) continue;
        out->cls[keep] = out->cls[c];
        for (int b = 0; b < out->n; b++) out->v[b].ms[keep] = out->v[b].ms[c];
        keep++;
    }
    out->n_cls = keep;
    if (keep == 0) snprintf(out->note, sizeof out->note, "the traced runs recorded no kernel time");
    return ZB_OK;
}

void zb_kernels_free(zb_kernel_data *k)
{
    free(k->v);
    k->v = NULL;
    k->n = 0;
    k->n_cls = 0;
}
