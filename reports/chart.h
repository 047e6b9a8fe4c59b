/*
 * A chart as data: titled series of (x, y) points with a style, horizontal
 * reference lines, or stacked bars. From it come the gnuplot script that
 * draws it (SVG) and the CSV that holds its numbers, so the picture and the
 * table can never disagree.
 */
#ifndef ZB_CHART_H
#define ZB_CHART_H

#include "rbuf.h"
#include "report_data.h"

typedef enum zb_style { ZB_STYLE_LINE, ZB_STYLE_POINTS, ZB_STYLE_LINESPOINTS } zb_style;

typedef struct zb_chart_series {
    const char *title;  /* the legend entry */
    zb_style style;
    int color;          /* 0-based palette index: one per model series */
    int dash;           /* gnuplot dash type, 1 solid */
    int point;          /* gnuplot point type */
    /* CSV columns */
    const char *model, *plugin, *device, *dtype, *quantity, *source;
    int batch;
    zb_rpoint *pts;
    int n;
} zb_chart_series;

typedef struct zb_chart_hline {
    double y;
    const char *title;
    const char *device, *quantity; /* CSV columns */
} zb_chart_hline;

typedef struct zb_chart {
    const char *name;           /* file stem: NAME.csv, NAME.gp, NAME.svg */
    const char *title;
    const char *xlabel, *ylabel;
    const char *xcol, *ycol;    /* CSV column names, with units */
    int logx, logy;
    double yscale;              /* the picture shows y / yscale (bytes in MiB...); the CSV raw y */
    zb_chart_series *s;
    int n, cap;
    zb_chart_hline *h;
    int nh, caph;
    /* stacked bars instead of series: value[bar * n_stack + k] */
    int bars;
    const char **bar_label;
    const char **stack_name;
    int n_bars, n_stack;
    double *value;
    double *value2;             /* optional second CSV column of each stack (e.g. ms next to %), or NULL */
    const char *value2_col;
    const char **bar_model, **bar_plugin, **bar_device, **bar_phase; /* CSV columns of each bar */
} zb_chart;

void zb_chart_init(zb_chart *c, const char *name, const char *title, const char *xlabel, const char *ylabel,
                   const char *xcol, const char *ycol, int logx, int logy);
/* A series with no points yet (pts from the caller's arena); NULL on oom. */
zb_chart_series *zb_chart_add(zb_chart *c, const char *title, zb_style style, int color, int dash, int point);
int zb_chart_hline_add(zb_chart *c, double y, const char *title, const char *device, const char *quantity);
void zb_chart_free(zb_chart *c);

/* Whether anything can be drawn (on log axes only positive values can). */
int zb_chart_drawable(const zb_chart *c);
/* The gnuplot script: SVG terminal, output NAME.svg in the current
 * directory, data inline so the script renders anywhere. */
void zb_chart_gp(const zb_chart *c, zb_buf *out);
void zb_chart_csv(const zb_chart *c, zb_buf *out);

#endif
