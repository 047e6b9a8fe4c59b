#include "doc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static zb_block *add(zb_doc *d, zb_block_kind kind)
{
    if (d->n == d->cap) {
        /* blocks live in the arena: grow by copying (a report has a few
         * hundred at most) */
        int cap = d->cap ? d->cap * 2 : 64;
        zb_block *b = zb_arena_alloc(&d->arena, sizeof *b * (size_t)cap);
        if (!b) return NULL;
        if (d->n) memcpy(b, d->b, sizeof *b * (size_t)d->n);
        d->b = b;
        d->cap = cap;
    }
    zb_block *b = &d->b[d->n++];
    memset(b, 0, sizeof *b);
    b->kind = kind;
    return b;
}

zb_table *zb_table_new(zb_doc *d, const char *heads, const char *aligns)
{
    zb_table *t = zb_arena_alloc(&d->arena, sizeof *t);
    char *copy = zb_arena_strdup(&d->arena, heads);
    if (!t || !copy) return NULL;
    const size_t n_aligns = strlen(aligns);
    for (char *h = copy, *next; h && t->ncols < ZB_TABLE_MAX_COLS; h = next) {
        next = strchr(h, '|');
        if (next) *next++ = '\0';
        t->head[t->ncols] = h;
        t->align[t->ncols] = (size_t)t->ncols < n_aligns && aligns[t->ncols] == 'r' ? 'r' : 'l';
        t->ncols++;
    }
    return t;
}

void zb_table_row(zb_doc *d, zb_table *t, const char *const *cells)
{
    if (!t) return;
    if (t->nrows == t->cap) {
        int cap = t->cap ? t->cap * 2 : 16;
        const char **c = zb_arena_alloc(&d->arena, sizeof *c * (size_t)cap * (size_t)t->ncols);
        if (!c) return;
        if (t->nrows) memcpy(c, t->cells, sizeof *c * (size_t)t->nrows * (size_t)t->ncols);
        t->cells = c;
        t->cap = cap;
    }
    for (int i = 0; i < t->ncols; i++)
        t->cells[(size_t)t->nrows * t->ncols + i] = zb_arena_strdup(&d->arena, cells[i] ? cells[i] : "");
    t->nrows++;
}

void zb_doc_heading(zb_doc *d, int level, const char *text)
{
    zb_block *b = add(d, ZB_BLK_HEADING);
    if (!b) return;
    b->level = level;
    b->text = zb_arena_strdup(&d->arena, text);
}

static void text_block(zb_doc *d, zb_block_kind kind, const char *lead, const char *fmt, va_list ap)
{
    char small[1024];
    va_list cp;
    va_copy(cp, ap);
    int need = vsnprintf(small, sizeof small, fmt, cp);
    va_end(cp);
    zb_block *b = add(d, kind);
    if (!b || need < 0) return;
    if ((size_t)need < sizeof small) {
        b->text = zb_arena_strdup(&d->arena, small);
    } else {
        char *big = zb_arena_alloc(&d->arena, (size_t)need + 1);
        if (big) vsnprintf(big, (size_t)need + 1, fmt, ap);
        b->text = big;
    }
    b->lead = lead ? zb_arena_strdup(&d->arena, lead) : NULL;
}

void zb_doc_para(zb_doc *d, const char *lead, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    text_block(d, ZB_BLK_PARA, lead, fmt, ap);
    va_end(ap);
}

void zb_doc_item(zb_doc *d, const char *lead, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    text_block(d, ZB_BLK_ITEM, lead, fmt, ap);
    va_end(ap);
}

void zb_doc_table(zb_doc *d, const zb_table *t)
{
    if (!t) return;
    zb_block *b = add(d, ZB_BLK_TABLE);
    if (b) b->table = t;
}

void zb_doc_chart(zb_doc *d, const char *name, const char *title, const char *svg, const char *note)
{
    zb_block *b = add(d, ZB_BLK_CHART);
    if (!b) return;
    b->name = zb_arena_strdup(&d->arena, name);
    b->text = zb_arena_strdup(&d->arena, title);
    b->svg = svg; /* already in the arena */
    b->note = note ? zb_arena_strdup(&d->arena, note) : NULL;
}

void zb_doc_free(zb_doc *d)
{
    zb_arena_free(&d->arena);
    d->b = NULL;
    d->n = d->cap = 0;
}
