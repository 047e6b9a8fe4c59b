/*
 * Drawing with gnuplot: whether it is installed, running a chart's script
 * (through popen, its exit status checked), and turning the SVG it writes
 * into markup that can sit inline in an HTML page next to other charts.
 */
#ifndef ZB_GNUPLOT_H
#define ZB_GNUPLOT_H

#include <stddef.h>

#include "zbench_plugin.h"

#define ZB_GNUPLOT_PACKAGE "gnuplot-nox"

/* 1 when `gnuplot --version` runs and answers; its first line goes into
 * version. */
int zb_gnuplot_available(char *version, size_t n);

/* Runs `script` in directory dir (the script writes its own output file
 * there); gnuplot's messages are appended to dir/gnuplot.log. A non-zero
 * exit fails with the log's last line. */
zb_status zb_gnuplot_run(const char *dir, const char *script, const char *label, zb_error *err);

/* SVG text made fit to inline: the XML prolog and doctype dropped, and
 * every id (with the references to it) prefixed, because gnuplot names the
 * markers of every chart alike and one page holds many charts. Returns a
 * malloc'd string, NULL when memory runs out. */
char *zb_svg_inline(const char *svg, const char *prefix);

#endif
