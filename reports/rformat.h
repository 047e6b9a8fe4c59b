/*
 * Text for reports: escaping for each output language, and numbers written
 * for people. Every string that comes from a database (model names, tags,
 * device names, error messages) passes through one of the escapers, since
 * the database is input like any other.
 */
#ifndef ZB_RFORMAT_H
#define ZB_RFORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "rbuf.h"

/* HTML text and attribute values: & < > " ' escaped, control characters
 * other than tab and newline dropped. */
void zb_esc_html(zb_buf *b, const char *s);
/* A markdown table cell or paragraph: | escaped, newlines as spaces, < > &
 * as entities (GitHub renders raw HTML in markdown). */
void zb_esc_md(zb_buf *b, const char *s);
/* One CSV field (RFC 4180): quoted when it holds a comma, quote or line
 * break, quotes doubled. */
void zb_esc_csv(zb_buf *b, const char *s);
/* A gnuplot single-quoted string, quotes included: ' doubled (gnuplot's
 * only escape inside single quotes), control characters replaced by '?'. */
void zb_esc_gp(zb_buf *b, const char *s);

/* Numbers. Each writes into buf (size n) and returns buf; NaN writes "-". */
/* About three significant digits, no exponent below 1e9: 0.0123, 1.23, 12.3, 123, 1234. */
const char *zb_fmt_num(char *buf, size_t n, double v);
/* An integer with thousands separators: 1,048,576. */
const char *zb_fmt_count(char *buf, size_t n, int64_t v);
/* Bytes in binary units: 512 B, 96.0 KiB, 1.50 GiB. */
const char *zb_fmt_bytes(char *buf, size_t n, double bytes);
/* A signed percentage: +12.3%, -4.0%. */
const char *zb_fmt_pct(char *buf, size_t n, double pct);

/* A binary unit for an axis whose largest value is max_bytes: its divisor
 * and name ("B", "KiB", "MiB", "GiB", "TiB"). */
double zb_bytes_unit(double max_bytes, const char **name);

#endif
