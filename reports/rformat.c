#include "rformat.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void zb_esc_html(zb_buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '&': zb_buf_puts(b, "&amp;"); break;
        case '<': zb_buf_puts(b, "&lt;"); break;
        case '>': zb_buf_puts(b, "&gt;"); break;
        case '"': zb_buf_puts(b, "&quot;"); break;
        case '\'': zb_buf_puts(b, "&#39;"); break;
        default:
            if (*p >= 0x20 || *p == '\t' || *p == '\n') zb_buf_put(b, (const char *)p, 1);
        }
    }
}

void zb_esc_md(zb_buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '|': zb_buf_puts(b, "\\|"); break;
        case '<': zb_buf_puts(b, "&lt;"); break;
        case '>': zb_buf_puts(b, "&gt;"); break;
        case '&': zb_buf_puts(b, "&amp;"); break;
        case '\n':
        case '\r':
        case '\t': zb_buf_puts(b, " "); break;
        default:
            if (*p >= 0x20) zb_buf_put(b, (const char *)p, 1);
        }
    }
}

void zb_esc_csv(zb_buf *b, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        zb_buf_puts(b, s);
        return;
    }
    zb_buf_puts(b, "\"");
    for (const char *p = s; *p; p++) {
        if (*p == '"') zb_buf_puts(b, "\"\"");
        else zb_buf_put(b, p, 1);
    }
    zb_buf_puts(b, "\"");
}

void zb_esc_gp(zb_buf *b, const char *s)
{
    zb_buf_puts(b, "'");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\'') zb_buf_puts(b, "''");
        else if (*p < 0x20 || *p == 0x7f) zb_buf_puts(b, "?"); /* a newline would end the command */
        else zb_buf_put(b, (const char *)p, 1);
    }
    zb_buf_puts(b, "'");
}

const char *zb_fmt_num(char *buf, size_t n, double v)
{
    double a = fabs(v);
    if (isnan(v)) snprintf(buf, n, "-");
    else if (isinf(v)) snprintf(buf, n, v > 0 ? "inf" : "-inf");
    else if (a >= 1e9) snprintf(buf, n, "%.3g", v);
    else if (a >= 100 || a == 0) snprintf(buf, n, "%.0f", v);
    else if (a >= 10) snprintf(buf, n, "%.1f", v);
    else if (a >= 1) snprintf(buf, n, "%.2f", v);
    else snprintf(buf, n, "%.3g", v);
    return buf;
}

const char *zb_fmt_count(char *buf, size_t n, int64_t v)
{
    char digits[32];
    /* the magnitude as unsigned, so INT64_MIN does not overflow */
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    snprintf(digits, sizeof digits, "%llu", (unsigned long long)m);
    char out[48];
    size_t len = strlen(digits), o = 0;
    if (v < 0) out[o++] = '-';
    for (size_t i = 0; i < len; i++) {
        if (i > 0 && (len - i) % 3 == 0) out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
    snprintf(buf, n, "%s", out);
    return buf;
}

double zb_bytes_unit(double max_bytes, const char **name)
{
    static const char *const names[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double div = 1;
    int u = 0;
    while (u < 4 && fabs(max_bytes) >= div * 1024) {
        div *= 1024;
        u++;
    }
    *name = names[u];
    return div;
}

const char *zb_fmt_bytes(char *buf, size_t n, double bytes)
{
    if (isnan(bytes)) {
        snprintf(buf, n, "-");
        return buf;
    }
    const char *unit;
    double div = zb_bytes_unit(bytes, &unit);
    if (div == 1) snprintf(buf, n, "%.0f B", bytes);
    else snprintf(buf, n, "%.*f %s", fabs(bytes / div) >= 100 ? 0 : fabs(bytes / div) >= 10 ? 1 : 2, bytes / div,
                  unit);
    return buf;
}

const char *zb_fmt_pct(char *buf, size_t n, double pct)
{
    if (isnan(pct)) snprintf(buf, n, "-");
    else snprintf(buf, n, "%+.1f%%", pct);
    return buf;
}
