/*
 * zbench report: the selected runs of a database as one self-contained
 * HTML page (DIR/index.html, charts inline), a markdown page of the same
 * tables and sentences (DIR/report.md), and per chart its numbers
 * (DIR/NAME.csv), its gnuplot script (DIR/NAME.gp) and picture
 * (DIR/NAME.svg). Without gnuplot everything but the pictures is written.
 */
#ifndef ZB_REPORT_H
#define ZB_REPORT_H

#include "chart.h"
#include "doc.h"
#include "kernels.h"
#include "report_charts.h"
#include "selection.h"
#include "series.h"

typedef struct zb_report_opts {
    const char *db_path;
    const char *out_dir;
    const zb_selection *sel;
} zb_report_opts;

typedef struct zb_report_summary {
    int runs, runs_ok;
    int charts, charts_drawn, csv_files;
    int gnuplot_missing;
    int chart_failures;        /* charts gnuplot failed to draw (each noted in the report) */
    char first_failure[512];   /* the first such failure, one line */
} zb_report_summary;

/* ZB_ERR_INVALID: bad input (an unreadable database, a selection matching
 * nothing, run ids not found); other codes: the output could not be
 * written. A chart gnuplot fails to draw is counted, not returned. */
zb_status zb_report_run(const zb_report_opts *o, zb_report_summary *sum, zb_error *err);

/* What the document is made from (report_doc.c). */
typedef struct zb_report_ctx {
    const char *db_path;
    const zb_selection *sel;
    const zb_rset *set;
    const zb_series_set *ss;
    const zb_kernel_data *kd;
    const zb_chart *charts;        /* ZB_CHART_N */
    const char *const *chart_svg;  /* inline SVG per chart, NULL when not drawn */
    const char *const *chart_note; /* why a chart was not drawn */
    int gnuplot_missing;
} zb_report_ctx;

/* Fills d (its title and blocks); memory comes from d's arena. */
void zb_report_doc(const zb_report_ctx *c, zb_doc *d);

#endif
