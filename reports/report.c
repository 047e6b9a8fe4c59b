/* zbench report, start to end: read the selection, build series, charts
 * and the document, draw what gnuplot can draw, write every file. */
#include "report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gnuplot.h"
#include "rfile.h"
#include "zb_util.h"

#define SVG_MAX_BYTES (64u << 20)

/* The ids of the loaded runs, for zb_sel_check. */
static zb_status check_selection(const zb_report_opts *o, const zb_rset *set, zb_error *err)
{
    int64_t *ids = malloc(sizeof *ids * (size_t)(set->n ? set->n : 1));
    if (!ids) return zb_fail(err, ZB_ERR_OOM, "out of memory");
    for (int i = 0; i < set->n; i++) ids[i] = set->runs[i].id;
    zb_status st = zb_sel_check(o->sel, ids, set->n, NULL, o->db_path, err);
    free(ids);
    return st;
}

static zb_status write_buf(const char *dir, const char *name, const zb_buf *b, zb_error *err)
{
    char path[4096];
    if (b->oom) return zb_fail(err, ZB_ERR_OOM, "out of memory writing %s", name);
    zb_status st = zb_join_path(path, sizeof path, dir, name, err);
    if (st == ZB_OK) st = zb_write_whole(path, zb_buf_str(b), b->len, err);
    return st;
}

/* Draws chart c with gnuplot into dir/NAME.svg and returns its markup ready
 * to inline (in arena), or NULL with *why saying what went wrong. */
static const char *draw(const char *dir, const zb_chart *c, const zb_buf *script, zb_arena *arena, char *why,
                        size_t why_n)
{
    zb_error e = {{0}};
    char name[128], path[4096];
    snprintf(name, sizeof name, "%s.svg", c->name);
    if (zb_join_path(path, sizeof path, dir, name, &e) != ZB_OK ||
        zb_gnuplot_run(dir, zb_buf_str(script), c->name, &e) != ZB_OK) {
        snprintf(why, why_n, "%s", e.msg);
        return NULL;
    }
    char *svg = NULL;
    size_t len = 0;
    if (zb_read_file(path, SVG_MAX_BYTES, &svg, &len, &e) != ZB_OK) {
        snprintf(why, why_n, "gnuplot wrote no picture for %.60s: %.400s", c->name, e.msg);
        return NULL;
    }
    char *inl = zb_svg_inline(svg, c->name);
    free(svg);
    if (!inl) {
        snprintf(why, why_n, "%.400s: not an SVG picture (or out of memory)", path);
        return NULL;
    }
    const char *kept = zb_arena_strdup(arena, inl);
    free(inl);
    if (!kept) snprintf(why, why_n, "out of memory keeping %.400s", path);
    return kept;
}

/* CSV and script of every chart; pictures when gnuplot is there. */
static zb_status charts_out(const zb_report_opts *o, const zb_chart *charts, int have_gnuplot, zb_arena *arena,
                            const char **svg, const char **note, zb_report_summary *sum, zb_error *err)
{
    for (int i = 0; i < ZB_CHART_N; i++) {
        const zb_chart *c = &charts[i];
        char name[128], path[4096];
        svg[i] = NULL;
        note[i] = NULL;
        /* a picture or script from an earlier report must not pass for
         * this one's */
        for (int k = 0; k < 2; k++) {
            snprintf(name, sizeof name, "%s.%s", c->name, k ? "gp" : "svg");
            if (zb_join_path(path, sizeof path, o->out_dir, name, err) != ZB_OK) return ZB_ERR_INVALID;
            if (unlink(path) != 0 && errno != ENOENT)
                return zb_fail(err, ZB_ERR_INTERNAL, "%s: cannot remove the old file: %s", path, strerror(errno));
        }

        zb_buf csv = {0};
        zb_chart_csv(c, &csv);
        snprintf(name, sizeof name, "%s.csv", c->name);
        zb_status st = write_buf(o->out_dir, name, &csv, err);
        zb_buf_free(&csv);
        if (st != ZB_OK) return st;
        sum->csv_files++;
        sum->charts++;

        if (!zb_chart_drawable(c)) {
            note[i] = "no data to draw in the selected runs";
            continue;
        }
        zb_buf gp = {0};
        zb_chart_gp(c, &gp);
        snprintf(name, sizeof name, "%s.gp", c->name);
        st = write_buf(o->out_dir, name, &gp, err);
        if (st != ZB_OK) {
            zb_buf_free(&gp);
            return st;
        }
        if (!have_gnuplot) {
            note[i] = "gnuplot is not installed (Debian package " ZB_GNUPLOT_PACKAGE ")";
        } else {
            char why[512] = "";
            svg[i] = draw(o->out_dir, c, &gp, arena, why, sizeof why);
            if (svg[i]) {
                sum->charts_drawn++;
            } else {
                note[i] = zb_arena_strdup(arena, why);
                if (!sum->chart_failures++) snprintf(sum->first_failure, sizeof sum->first_failure, "%s", why);
            }
        }
        zb_buf_free(&gp);
    }
    return ZB_OK;
}

/* gnuplot's messages go to DIR/gnuplot.log; a log with nothing in it is
 * only clutter next to the report. */
static void drop_empty_log(const char *dir)
{
    char path[4096];
    zb_error e;
    struct stat st;
    if (zb_join_path(path, sizeof path, dir, "gnuplot.log", &e) == ZB_OK && stat(path, &st) == 0 &&
        S_ISREG(st.st_mode) && st.st_size == 0)
        (void)unlink(path); /* failing to remove clutter is not worth a failed report */
}

zb_status zb_report_run(const zb_report_opts *o, zb_report_summary *sum, zb_error *err)
{
    memset(sum, 0, sizeof *sum);
    zb_rdb db;
    zb_status st = zb_rdb_open(o->db_path, &db, err);
    if (st != ZB_OK) return st;
    zb_rset set;
    zb_series_set ss = {0};
    zb_kernel_data kd = {0};
    zb_chart charts[ZB_CHART_N];
    zb_doc doc = {0};
    memset(charts, 0, sizeof charts);
    st = zb_rset_load(&db, o->sel, &set, err);
    if (st != ZB_OK) {
        zb_rdb_close(&db);
        return st;
    }
    sum->runs = set.n, sum->runs_ok = set.n_ok;
    st = check_selection(o, &set, err);
    if (st == ZB_OK) st = zb_series_build(&db, &set, &ss, err);
    if (st == ZB_OK) st = zb_kernels_load(&db, &set, &kd, err);
    if (st == ZB_OK && !zb_report_charts(&ss, &kd, &set.arena, charts))
        st = zb_fail(err, ZB_ERR_OOM, "out of memory building the charts");
    if (st == ZB_OK) st = zb_mkdir_p(o->out_dir, err);

    const char *svg[ZB_CHART_N] = {0}, *note[ZB_CHART_N] = {0};
    char version[128];
    int have_gnuplot = st == ZB_OK && zb_gnuplot_available(version, sizeof version);
    sum->gnuplot_missing = !have_gnuplot;
    if (st == ZB_OK) st = charts_out(o, charts, have_gnuplot, &set.arena, svg, note, sum, err);
    if (st == ZB_OK) {
        zb_report_ctx ctx = {o->db_path, o->sel, &set, &ss, &kd, charts, svg, note, !have_gnuplot};
        zb_report_doc(&ctx, &doc);
        zb_buf html = {0}, md = {0};
        zb_doc_html(&doc, &html);
        zb_doc_markdown(&doc, &md);
        if (doc.arena.oom) st = zb_fail(err, ZB_ERR_OOM, "out of memory writing the report");
        if (st == ZB_OK) st = write_buf(o->out_dir, "report.md", &md, err);
        /* index.html last: its presence says the report is complete */
        if (st == ZB_OK) st = write_buf(o->out_dir, "index.html", &html, err);
        zb_buf_free(&html);
        zb_buf_free(&md);
    }
    if (have_gnuplot) drop_empty_log(o->out_dir);
    zb_doc_free(&doc);
    for (int i = 0; i < ZB_CHART_N; i++) zb_chart_free(&charts[i]);
    zb_kernels_free(&kd);
    zb_series_free(&ss);
    zb_rset_free(&set);
    zb_rdb_close(&db);
    return st;
}
