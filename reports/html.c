/* The report as one self-contained HTML page: styles inline, charts as
 * inline SVG, nothing fetched from anywhere (a report is opened from a CI
 * artifact or a laptop without network as often as not). */
#include <string.h>

#include "doc.h"
#include "rformat.h"

static const char k_style[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1100px;"
    "padding:0 1em;color:#1a1a1a;background:#fff;line-height:1.45}"
    "h1{font-size:1.7em;border-bottom:2px solid #0072B2;padding-bottom:.2em}"
    "h2{font-size:1.3em;margin-top:2em;border-bottom:1px solid #ddd}"
    "h3{font-size:1.1em}"
    "table{border-collapse:collapse;margin:1em 0;font-size:.88em}"
    "th,td{border:1px solid #ccc;padding:.25em .55em}"
    "th{background:#f2f5f8;text-align:left}"
    "td.r{text-align:right;font-variant-numeric:tabular-nums}"
    "tr:nth-child(even) td{background:#fafafa}"
    "figure{margin:1em 0}figure svg{width:100%;height:auto;border:1px solid #eee}"
    "figcaption{font-size:.85em;color:#555}"
    ".missing{padding:1em;background:#fff8e6;border:1px solid #f0d890}";

static void table_html(const zb_table *t, zb_buf *o)
{
    zb_buf_puts(o, "<table>\n<thead><tr>");
    for (int c = 0; c < t->ncols; c++) {
        zb_buf_puts(o, "<th>");
        zb_esc_html(o, t->head[c]);
        zb_buf_puts(o, "</th>");
    }
    zb_buf_puts(o, "</tr></thead>\n<tbody>\n");
    for (int r = 0; r < t->nrows; r++) {
        zb_buf_puts(o, "<tr>");
        for (int c = 0; c < t->ncols; c++) {
            zb_buf_puts(o, t->align[c] == 'r' ? "<td class=\"r\">" : "<td>");
            zb_esc_html(o, t->cells[(size_t)r * t->ncols + c]);
            zb_buf_puts(o, "</td>");
        }
        zb_buf_puts(o, "</tr>\n");
    }
    zb_buf_puts(o, "</tbody></table>\n");
}

static void text_html(const zb_block *b, zb_buf *o)
{
    if (b->lead) {
        zb_buf_puts(o, "<strong>");
        zb_esc_html(o, b->lead);
        zb_buf_puts(o, "</strong> ");
    }
    zb_esc_html(o, b->text);
}

static void chart_html(const zb_block *b, zb_buf *o)
{
    zb_buf_puts(o, "<figure id=\"");
    zb_esc_html(o, b->name);
    zb_buf_puts(o, "\">\n");
    if (b->svg) {
        zb_buf_puts(o, b->svg); /* gnuplot's markup, its text already escaped by gnuplot */
    } else {
        zb_buf_puts(o, "<div class=\"missing\">");
        zb_esc_html(o, b->text);
        zb_buf_puts(o, ": ");
        zb_esc_html(o, b->note ? b->note : "not drawn");
        zb_buf_puts(o, "</div>");
    }
    zb_buf_puts(o, "\n<figcaption>");
    zb_esc_html(o, b->text);
    zb_buf_puts(o, " &middot; data: <a href=\"");
    zb_esc_html(o, b->name);
    zb_buf_puts(o, ".csv\">");
    zb_esc_html(o, b->name);
    zb_buf_puts(o, ".csv</a> &middot; script: ");
    zb_esc_html(o, b->name);
    zb_buf_puts(o, ".gp</figcaption>\n</figure>\n");
}

void zb_doc_html(const zb_doc *d, zb_buf *o)
{
    zb_buf_puts(o, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
    zb_esc_html(o, d->title);
    zb_buf_printf(o, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>", k_style);
    zb_esc_html(o, d->title);
    zb_buf_puts(o, "</h1>\n");
    for (int i = 0; i < d->n; i++) {
        const zb_block *b = &d->b[i];
        switch (b->kind) {
        case ZB_BLK_HEADING: {
            int lv = b->level < 1 ? 2 : b->level > 3 ? 3 : b->level + 1; /* h1 is the title */
            zb_buf_printf(o, "<h%d>", lv);
            zb_esc_html(o, b->text);
            zb_buf_printf(o, "</h%d>\n", lv);
            break;
        }
        case ZB_BLK_PARA:
            zb_buf_puts(o, "<p>");
            text_html(b, o);
            zb_buf_puts(o, "</p>\n");
            break;
        case ZB_BLK_ITEM:
            if (i == 0 || d->b[i - 1].kind != ZB_BLK_ITEM) zb_buf_puts(o, "<ul>\n");
            zb_buf_puts(o, "<li>");
            text_html(b, o);
            zb_buf_puts(o, "</li>\n");
            if (i + 1 == d->n || d->b[i + 1].kind != ZB_BLK_ITEM) zb_buf_puts(o, "</ul>\n");
            break;
        case ZB_BLK_TABLE: table_html(b->table, o); break;
        case ZB_BLK_CHART: chart_html(b, o); break;
        }
    }
    zb_buf_puts(o, "</body>\n</html>\n");
}
