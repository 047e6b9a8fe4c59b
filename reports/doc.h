/*
 * A report as a list of blocks (headings, paragraphs, list items, tables,
 * charts), built once and rendered twice: as a self-contained HTML page
 * (html.c) and as markdown that pastes into an issue (markdown.c). Text in
 * blocks is plain; each renderer escapes it for its language. Everything
 * lives in the document's arena.
 */
#ifndef ZB_DOC_H
#define ZB_DOC_H

#include "rbuf.h"

#define ZB_TABLE_MAX_COLS 24

typedef struct zb_table {
    int ncols, nrows, cap;
    const char *head[ZB_TABLE_MAX_COLS];
    char align[ZB_TABLE_MAX_COLS]; /* 'l' or 'r' */
    const char **cells;            /* nrows * ncols */
} zb_table;

typedef enum zb_block_kind { ZB_BLK_HEADING, ZB_BLK_PARA, ZB_BLK_ITEM, ZB_BLK_TABLE, ZB_BLK_CHART } zb_block_kind;

typedef struct zb_block {
    zb_block_kind kind;
    int level;          /* headings: 1..3 */
    const char *lead;   /* paragraphs and items: bold opening words, may be NULL */
    const char *text;
    const zb_table *table;
    /* charts */
    const char *name;   /* file stem */
    const char *svg;    /* inline-ready SVG markup, NULL when not drawn */
    const char *note;   /* why it was not drawn */
} zb_block;

typedef struct zb_doc {
    const char *title;
    zb_block *b;
    int n, cap;
    zb_arena arena;
} zb_doc;

/* heads: column names separated by '|'; aligns: one 'l' or 'r' per column. */
zb_table *zb_table_new(zb_doc *d, const char *heads, const char *aligns);
/* One row of ncols cells (copied). */
void zb_table_row(zb_doc *d, zb_table *t, const char *const *cells);

void zb_doc_heading(zb_doc *d, int level, const char *text);
void zb_doc_para(zb_doc *d, const char *lead, const char *fmt, ...) ZB_PRINTF(3, 4);
void zb_doc_item(zb_doc *d, const char *lead, const char *fmt, ...) ZB_PRINTF(3, 4);
void zb_doc_table(zb_doc *d, const zb_table *t);
void zb_doc_chart(zb_doc *d, const char *name, const char *title, const char *svg, const char *note);
void zb_doc_free(zb_doc *d);

/* Renderers. */
void zb_doc_html(const zb_doc *d, zb_buf *out);
void zb_doc_markdown(const zb_doc *d, zb_buf *out);

#endif
