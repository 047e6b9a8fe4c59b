/* The report as GitHub-flavoured markdown: the tables and sentences that
 * paste into an issue or a pull request. Pictures cannot be pasted, so a
 * chart is a line naming its SVG and CSV files. */
#include "doc.h"
#include "rformat.h"

static void table_md(const zb_table *t, zb_buf *o)
{
    zb_buf_puts(o, "|");
    for (int c = 0; c < t->ncols; c++) {
        zb_buf_puts(o, " ");
        zb_esc_md(o, t->head[c]);
        zb_buf_puts(o, " |");
    }
    zb_buf_puts(o, "\n|");
    for (int c = 0; c < t->ncols; c++) zb_buf_puts(o, t->align[c] == 'r' ? "--:|" : "---|");
    zb_buf_puts(o, "\n");
    for (int r = 0; r < t->nrows; r++) {
        zb_buf_puts(o, "|");
        for (int c = 0; c < t->ncols; c++) {
            zb_buf_puts(o, " ");
            zb_esc_md(o, t->cells[(size_t)r * t->ncols + c]);
            zb_buf_puts(o, " |");
        }
        zb_buf_puts(o, "\n");
    }
    zb_buf_puts(o, "\n");
}

static void text_md(const zb_block *b, zb_buf *o)
{
    if (b->lead) {
        zb_buf_puts(o, "**");
        zb_esc_md(o, b->lead);
        zb_buf_puts(o, "** ");
    }
    zb_esc_md(o, b->text);
}

void zb_doc_markdown(const zb_doc *d, zb_buf *o)
{
    zb_buf_puts(o, "# ");
    zb_esc_md(o, d->title);
    zb_buf_puts(o, "\n\n");
    for (int i = 0; i < d->n; i++) {
        const zb_block *b = &d->b[i];
        switch (b->kind) {
        case ZB_BLK_HEADING:
            for (int k = 0; k <= (b->level < 1 ? 1 : b->level > 3 ? 3 : b->level); k++) zb_buf_puts(o, "#");
            zb_buf_puts(o, " ");
            zb_esc_md(o, b->text);
            zb_buf_puts(o, "\n\n");
            break;
        case ZB_BLK_PARA:
            text_md(b, o);
            zb_buf_puts(o, "\n\n");
            break;
        case ZB_BLK_ITEM:
            zb_buf_puts(o, "- ");
            text_md(b, o);
            zb_buf_puts(o, "\n");
            if (i + 1 == d->n || d->b[i + 1].kind != ZB_BLK_ITEM) zb_buf_puts(o, "\n");
            break;
        case ZB_BLK_TABLE: table_md(b->table, o); break;
        case ZB_BLK_CHART:
            zb_buf_puts(o, "*Chart:* ");
            zb_esc_md(o, b->text);
            if (b->svg) zb_buf_printf(o, " (`%s.svg`,", b->name);
            else {
                zb_buf_puts(o, " (not drawn: ");
                zb_esc_md(o, b->note ? b->note : "no data");
                zb_buf_puts(o, ";");
            }
            zb_buf_printf(o, " data `%s.csv`)\n\n", b->name);
            break;
        }
    }
}
