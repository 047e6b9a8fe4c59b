#include "trace_summary.h"

#include <string.h>

#include <sqlite3.h>

#include "trace_class.h"
#include "zb_util.h"

typedef struct reader {
    sqlite3 *h;
    const char *path;
    zb_error *err;
    int failed;
} reader;

static sqlite3_stmt *query(reader *r, const char *sql, int64_t run_id)
{
    sqlite3_stmt *st = NULL;
    if (r->failed) return NULL;
    if (sqlite3_prepare_v2(r->h, sql, -1, &st, NULL) != SQLITE_OK || sqlite3_bind_int64(st, 1, run_id) != SQLITE_OK) {
        zb_fail(r->err, ZB_ERR_INVALID, "%s: trace summary: %s", r->path, sqlite3_errmsg(r->h));
        r->failed = 1;
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

/* sqlite3_step: 1 for a row, 0 at the end or on error (recorded). */
static int next_row(reader *r, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) return 1;
    if (rc != SQLITE_DONE && !r->failed) {
        zb_fail(r->err, ZB_ERR_INVALID, "%s: trace summary: %s", r->path, sqlite3_errmsg(r->h));
        r->failed = 1;
    }
    return 0;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

static void print_header(reader *r, FILE *f, const zb_trace_summary_run *run)
{
    fprintf(f, "\n### Trace of run %lld: %s\n\n", (long long)run->run_id, run->label);
    sqlite3_stmt *st = query(r,
                             "SELECT status, note, records, dropped, lost, unattributed, baseline_run_id,"
                             " prefill_overhead_pct, decode_overhead_pct FROM trace WHERE run_id = ?",
                             run->run_id);
    if (st && next_row(r, st)) {
        fprintf(f, "%lld GPU activities recorded (%s); %lld dropped, %lld lost, %lld unattributed.",
                (long long)sqlite3_column_int64(st, 2), col_text(st, 0), (long long)sqlite3_column_int64(st, 3),
                (long long)sqlite3_column_int64(st, 4), (long long)sqlite3_column_int64(st, 5));
        if (sqlite3_column_type(st, 1) != SQLITE_NULL) fprintf(f, " Note: %s.", col_text(st, 1));
        if (sqlite3_column_type(st, 6) != SQLITE_NULL) {
            fprintf(f, " Overhead against the untraced run %lld:", (long long)sqlite3_column_int64(st, 6));
            if (sqlite3_column_type(st, 7) != SQLITE_NULL) fprintf(f, " prefill %+.1f%%", sqlite3_column_double(st, 7));
            if (sqlite3_column_type(st, 8) != SQLITE_NULL) fprintf(f, " decode %+.1f%%", sqlite3_column_double(st, 8));
            fputc('.', f);
        }
        fputc('\n', f);
    }
    sqlite3_finalize(st);
}

static void print_top(reader *r, FILE *f, int64_t run_id, const char *phase, int top_n)
{
    /* "charged us": the time a call adds to the phase (v_kernel_charged),
     * which under programmatic launch can be far below its mean duration */
    sqlite3_stmt *st = query(r,
                             "SELECT t.rank, t.name, t.class, t.count, t.total_ms, t.mean_us, c.charged_us,"
                             " t.pct_of_phase, t.gb_per_s FROM v_kernel_top t LEFT JOIN v_kernel_charged c"
                             " ON c.run_id = t.run_id AND c.phase = t.phase AND c.kind = t.kind AND c.name = t.name"
                             " AND c.class = t.class WHERE t.run_id = ?1 AND t.phase = ?2 AND t.rank <= ?3"
                             " ORDER BY t.rank, t.name",
                             run_id);
    if (!st) return;
    if (sqlite3_bind_text(st, 2, phase, -1, SQLITE_STATIC) != SQLITE_OK || sqlite3_bind_int(st, 3, top_n) != SQLITE_OK) {
        zb_fail(r->err, ZB_ERR_INVALID, "%s: trace summary: %s", r->path, sqlite3_errmsg(r->h));
        r->failed = 1;
        sqlite3_finalize(st);
        return;
    }
    fputs("\n| # | kernel | class | count | total ms | mean us | charged us | % of phase | GB/s |\n"
          "|--:|---|---|--:|--:|--:|--:|--:|--:|\n",
          f);
    char name[72];
    while (next_row(r, st)) {
        zb_kernel_short_name(col_text(st, 1), name, sizeof name);
        fprintf(f, "| %d | `%s` | %s | %lld | %.3f | %.2f | %.2f | %.1f | ", sqlite3_column_int(st, 0), name,
                col_text(st, 2), (long long)sqlite3_column_int64(st, 3), sqlite3_column_double(st, 4),
                sqlite3_column_double(st, 5), sqlite3_column_double(st, 6), sqlite3_column_double(st, 7));
        if (sqlite3_column_type(st, 8) != SQLITE_NULL) fprintf(f, "%.1f |\n", sqlite3_column_double(st, 8));
        else fputs("- |\n", f);
    }
    sqlite3_finalize(st);
}

static void print_classes(reader *r, FILE *f, int64_t run_id, const char *phase)
{
    sqlite3_stmt *st = query(r,
                             "SELECT class, total_ms, pct_of_phase FROM v_kernel_class WHERE run_id = ?1 AND phase = ?2"
                             " ORDER BY total_ms DESC, class",
                             run_id);
    if (!st) return;
    if (sqlite3_bind_text(st, 2, phase, -1, SQLITE_STATIC) != SQLITE_OK) {
        zb_fail(r->err, ZB_ERR_INVALID, "%s: trace summary: %s", r->path, sqlite3_errmsg(r->h));
        r->failed = 1;
        sqlite3_finalize(st);
        return;
    }
    fputs("\nby class:", f);
    for (int i = 0; next_row(r, st); i++)
        fprintf(f, "%s %s %.3f ms (%.1f%%)", i ? "," : "", col_text(st, 0), sqlite3_column_double(st, 1),
                sqlite3_column_double(st, 2));
    fputc('\n', f);
    sqlite3_finalize(st);
}

/* One phase: its totals, then its top kernels and classes. Decode totals
 * are per step, prefill (and depth) per repetition. */
static void print_phases(reader *r, FILE *f, const zb_trace_summary_run *run, int top_n)
{
    sqlite3_stmt *st = query(r,
                             "SELECT phase, count(*), sum(end_ns - start_ns),"
                             " count(DISTINCT rep), count(DISTINCT rep * 4294967296 + step)"
                             " FROM kernels WHERE run_id = ? AND (rep IS NULL OR rep >= 0) GROUP BY phase"
                             " ORDER BY CASE phase WHEN 'depth' THEN 0 WHEN 'prefill' THEN 1 WHEN 'decode' THEN 2"
                             " ELSE 3 END",
                             run->run_id);
    if (!st) return;
    int any = 0;
    while (next_row(r, st)) {
        any = 1;
        char phase[16];
        snprintf(phase, sizeof phase, "%s", col_text(st, 0));
        const long long n = sqlite3_column_int64(st, 1);
        const double ms = (double)sqlite3_column_int64(st, 2) / 1e6;
        const long long reps = sqlite3_column_int64(st, 3), steps = sqlite3_column_int64(st, 4);
        if (!strcmp(phase, "decode") && steps > 0) {
            const double per_step = ms / (double)steps;
            fprintf(f, "\n**decode**: %lld activities in %lld steps: %.1f per step, %.4f ms of GPU time per step", n,
                    steps, (double)n / (double)steps, per_step);
            if (run->decode_step_bytes > 0 && per_step > 0)
                fprintf(f, ", %.1f GB/s over the %.2f MB a step must move", run->decode_step_bytes / (per_step * 1e6),
                        run->decode_step_bytes / 1e6);
            fputs("\n", f);
        } else if (strcmp(phase, "other") != 0 && reps > 0) {
            fprintf(f, "\n**%s**: %lld activities in %lld repetitions: %.4f ms of GPU time per repetition\n", phase, n,
                    reps, ms / (double)reps);
        } else {
            fprintf(f, "\n**%s** (between plugin calls: resets): %lld activities, %.4f ms of GPU time\n", phase, n, ms);
        }
        print_top(r, f, run->run_id, phase, top_n);
        print_classes(r, f, run->run_id, phase);
    }
    if (!any && !r->failed) fputs("\nNo GPU activity was recorded for this run.\n", f);
    sqlite3_finalize(st);
}

zb_status zb_trace_summary_print(FILE *f, const char *db_path, const zb_trace_summary_run *run, int top_n,
                                 zb_error *err)
{
    reader r = {NULL, db_path, err, 0};
    if (sqlite3_open_v2(db_path, &r.h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        zb_status st = zb_fail(err, ZB_ERR_INVALID, "%s: trace summary: %s", db_path,
                               r.h ? sqlite3_errmsg(r.h) : "out of memory");
        sqlite3_close(r.h);
        return st;
    }
    if (sqlite3_busy_timeout(r.h, 10000) != SQLITE_OK) {
        zb_fail(err, ZB_ERR_INVALID, "%s: trace summary: %s", db_path, sqlite3_errmsg(r.h));
        r.failed = 1;
    }
    if (!r.failed) print_header(&r, f, run);
    if (!r.failed) print_phases(&r, f, run, top_n);
    /* only unfinalized statements make close fail, a bug here */
    (void)sqlite3_close(r.h);
    return r.failed ? ZB_ERR_INVALID : ZB_OK;
}
