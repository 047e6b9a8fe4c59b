#include "chart.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rformat.h"

/* Okabe and Ito's colour-blind safe palette: the charts compare models by
 * colour, so no two may look alike to a reader with a colour deficiency. */
static const char *const k_palette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                        "#E69F00", "#56B4E9", "#000000", "#F0E442"};
#define PALETTE_N ((int)(sizeof k_palette / sizeof k_palette[0]))

void zb_chart_init(zb_chart *c, const char *name, const char *title, const char *xlabel, const char *ylabel,
                   const char *xcol, const char *ycol, int logx, int logy)
{
    memset(c, 0, sizeof *c);
    c->name = name, c->title = title, c->xlabel = xlabel, c->ylabel = ylabel;
    c->xcol = xcol, c->ycol = ycol, c->logx = logx, c->logy = logy;
    c->yscale = 1;
}

zb_chart_series *zb_chart_add(zb_chart *c, const char *title, zb_style style, int color, int dash, int point)
{
    if (!zb_grow((void **)&c->s, &c->cap, c->n + 1, sizeof *c->s)) return NULL;
    zb_chart_series *s = &c->s[c->n++];
    memset(s, 0, sizeof *s);
    s->title = title, s->style = style, s->color = color, s->dash = dash, s->point = point;
    s->model = s->plugin = s->device = s->dtype = s->quantity = s->source = "";
    return s;
}

int zb_chart_hline_add(zb_chart *c, double y, const char *title, const char *device, const char *quantity)
{
    if (!zb_grow((void **)&c->h, &c->caph, c->nh + 1, sizeof *c->h)) return 0;
    c->h[c->nh++] = (zb_chart_hline){y, title, device, quantity};
    return 1;
}

void zb_chart_free(zb_chart *c)
{
    free(c->s);
    free(c->h);
    c->s = NULL, c->h = NULL;
    c->n = c->nh = c->cap = c->caph = 0;
}

static int plottable(const zb_chart *c, zb_rpoint p)
{
    if (!isfinite(p.x) || !isfinite(p.y)) return 0;
    return (!c->logx || p.x > 0) && (!c->logy || p.y > 0);
}

static int series_points(const zb_chart *c, const zb_chart_series *s)
{
    int n = 0;
    for (int i = 0; i < s->n; i++) n += plottable(c, s->pts[i]);
    return n;
}

int zb_chart_drawable(const zb_chart *c)
{
    if (c->bars) {
        for (int i = 0; i < c->n_bars * c->n_stack; i++)
            if (c->value[i] > 0) return 1;
        return 0;
    }
    for (int i = 0; i < c->n; i++)
        if (series_points(c, &c->s[i]) > 0) return 1;
    return 0;
}

/* ----------------------------------------------------------------- gnuplot */

static void gp_header(const zb_chart *c, zb_buf *o, int key_entries)
{
    /* the legend sits under the plot, one entry a line: give it room */
    int height = 460 + 18 * key_entries;
    zb_buf_printf(o, "# %s: written by zbench report; render with: gnuplot %s.gp\n", c->name, c->name);
    zb_buf_printf(o, "set terminal svg size 960,%d dynamic noenhanced font 'sans,12' background '#ffffff'\n", height);
    zb_buf_printf(o, "set output '%s.svg'\n", c->name); /* name is ours: [a-z_] only */
    zb_buf_puts(o, "set encoding utf8\nset title ");
    zb_esc_gp(o, c->title);
    zb_buf_puts(o, "\nset xlabel ");
    zb_esc_gp(o, c->xlabel);
    zb_buf_puts(o, "\nset ylabel ");
    zb_esc_gp(o, c->ylabel);
    zb_buf_puts(o, "\nset grid xtics ytics mxtics mytics lc rgb '#dddddd' lw 1\n");
    zb_buf_puts(o, "set key outside below left Left reverse samplen 3 spacing 1.1\n");
    /* room on the right for the last x tic label (1048576 is wide) */
    zb_buf_puts(o, "set border 3\nset tics nomirror\nset rmargin 6\n");
    for (int i = 0; i < PALETTE_N; i++)
        zb_buf_printf(o, "set linetype %d lc rgb '%s' lw 2 pt %d\n", i + 1, k_palette[i], 7);
}

static void gp_series(const zb_chart *c, zb_buf *o)
{
    int entries = 0;
    for (int i = 0; i < c->n; i++) entries += series_points(c, &c->s[i]) > 0;
    gp_header(c, o, entries + c->nh);
    if (c->logx) zb_buf_puts(o, "set logscale x 2\nset format x '%.0f'\n");
    if (c->logy) zb_buf_puts(o, "set logscale y 10\nset format y '%g'\n");
    /* one data block per series: the script is self-contained */
    for (int i = 0; i < c->n; i++) {
        if (!series_points(c, &c->s[i])) continue;
        zb_buf_printf(o, "$s%d << EOD\n", i);
        for (int k = 0; k < c->s[i].n; k++) {
            zb_rpoint p = c->s[i].pts[k];
            if (plottable(c, p)) zb_buf_printf(o, "%.17g %.17g\n", p.x, p.y / c->yscale);
        }
        zb_buf_puts(o, "EOD\n");
    }
    zb_buf_puts(o, "plot");
    int first = 1;
    for (int i = 0; i < c->n; i++) {
        const zb_chart_series *s = &c->s[i];
        if (!series_points(c, s)) continue;
        const char *with = s->style == ZB_STYLE_LINE ? "lines" : s->style == ZB_STYLE_POINTS ? "points" : "linespoints";
        zb_buf_printf(o, "%s \\\n  $s%d using 1:2 with %s lt %d dt %d", first ? "" : ",", i, with,
                      s->color % PALETTE_N + 1, s->dash > 0 ? s->dash : 1);
        if (s->style != ZB_STYLE_LINE) zb_buf_printf(o, " pt %d ps 0.9", s->point > 0 ? s->point : 7);
        if (s->style == ZB_STYLE_POINTS) zb_buf_puts(o, " lw 1.5");
        zb_buf_puts(o, " title ");
        zb_esc_gp(o, s->title);
        first = 0;
    }
    for (int i = 0; i < c->nh; i++) {
        zb_buf_printf(o, "%s \\\n  %.17g with lines lc rgb '#444444' dt 4 lw 1.5 title ", first ? "" : ",",
                      c->h[i].y / c->yscale);
        zb_esc_gp(o, c->h[i].title);
        first = 0;
    }
    zb_buf_puts(o, "\n");
}

/* A label inside a gnuplot data block is a double-quoted field with no
 * escapes: a double quote in it becomes a single one. */
static void gp_datablock_label(zb_buf *o, const char *s)
{
    zb_buf_puts(o, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        zb_buf_put(o, *p == '"' ? "'" : *p < 0x20 ? "?" : (const char *)p, 1);
    zb_buf_puts(o, "\"");
}

static void gp_bars(const zb_chart *c, zb_buf *o)
{
    gp_header(c, o, c->n_stack);
    zb_buf_puts(o, "set style data histograms\nset style histogram rowstacked\n"
                   "set style fill solid 0.85 border -1\nset boxwidth 0.6 relative\n"
                   "set xtics rotate by -25 left\nset yrange [0:*]\n");
    zb_buf_puts(o, "$bars << EOD\n");
    for (int b = 0; b < c->n_bars; b++) {
        gp_datablock_label(o, c->bar_label[b]);
        for (int k = 0; k < c->n_stack; k++) zb_buf_printf(o, " %.17g", c->value[b * c->n_stack + k] / c->yscale);
        zb_buf_puts(o, "\n");
    }
    zb_buf_puts(o, "EOD\nplot");
    for (int k = 0; k < c->n_stack; k++) {
        zb_buf_printf(o, "%s \\\n  $bars using %d%s lc rgb '%s' title ", k ? "," : "", k + 2,
                      k == 0 ? ":xtic(1)" : "", k_palette[k % PALETTE_N]);
        zb_esc_gp(o, c->stack_name[k]);
    }
    zb_buf_puts(o, "\n");
}

void zb_chart_gp(const zb_chart *c, zb_buf *out)
{
    if (c->bars) gp_bars(c, out);
    else gp_series(c, out);
}

/* --------------------------------------------------------------------- CSV */

static void csv_fields(zb_buf *o, const char *const *f, int n)
{
    for (int i = 0; i < n; i++) {
        if (i) zb_buf_puts(o, ",");
        zb_esc_csv(o, f[i]);
    }
}

void zb_chart_csv(const zb_chart *c, zb_buf *out)
{
    char num[64], num2[64], bt[32];
    if (c->bars) {
        const int cols = c->value2 ? 7 : 6;
        const char *head[] = {"model", "plugin", "device", "phase", "class", c->ycol, c->value2_col};
        csv_fields(out, head, cols);
        zb_buf_puts(out, "\n");
        for (int b = 0; b < c->n_bars; b++)
            for (int k = 0; k < c->n_stack; k++) {
                snprintf(num, sizeof num, "%.9g", c->value[b * c->n_stack + k]);
                snprintf(num2, sizeof num2, "%.9g", c->value2 ? c->value2[b * c->n_stack + k] : 0.0);
                const char *row[] = {c->bar_model[b], c->bar_plugin[b], c->bar_device[b], c->bar_phase[b],
                                     c->stack_name[k], num, num2};
                csv_fields(out, row, cols);
                zb_buf_puts(out, "\n");
            }
        return;
    }
    const char *head[] = {"model", "plugin", "device", "dtype", "batch", "quantity", "source", c->xcol, c->ycol};
    csv_fields(out, head, 9);
    zb_buf_puts(out, "\n");
    for (int i = 0; i < c->n; i++) {
        const zb_chart_series *s = &c->s[i];
        snprintf(bt, sizeof bt, "%d", s->batch);
        for (int k = 0; k < s->n; k++) {
            if (!isfinite(s->pts[k].y)) continue;
            snprintf(num, sizeof num, "%.10g", s->pts[k].x);
            snprintf(num2, sizeof num2, "%.10g", s->pts[k].y);
            const char *row[] = {s->model, s->plugin, s->device, s->dtype, bt, s->quantity, s->source, num, num2};
            csv_fields(out, row, 9);
            zb_buf_puts(out, "\n");
        }
    }
    for (int i = 0; i < c->nh; i++) {
        snprintf(num2, sizeof num2, "%.10g", c->h[i].y);
        const char *row[] = {"", "", c->h[i].device, "", "", c->h[i].quantity, "device", "", num2};
        csv_fields(out, row, 9);
        zb_buf_puts(out, "\n");
    }
}
