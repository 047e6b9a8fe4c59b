#include "gnuplot.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "rbuf.h"
#include "rformat.h"
#include "zb_util.h"

int zb_gnuplot_available(char *version, size_t n)
{
    if (n) version[0] = '\0';
    FILE *p = popen("gnuplot --version 2>/dev/null", "r");
    if (!p) return 0;
    char line[256] = "";
    if (!fgets(line, sizeof line, p)) line[0] = '\0';
    /* drain, so gnuplot never blocks on a full pipe */
    char rest[256];
    while (fgets(rest, sizeof rest, p)) {
    }
    int status = pclose(p);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 0;
    if (strncmp(line, "gnuplot", 7) != 0) return 0;
    line[strcspn(line, "\r\n")] = '\0';
    if (n) snprintf(version, n, "%s", line);
    return 1;
}

/* A shell word: single-quoted, with ' written as '\'' (the only character
 * single quotes cannot hold). */
static void shell_quote(zb_buf *b, const char *s)
{
    zb_buf_puts(b, "'");
    for (const char *p = s; *p; p++) {
        if (*p == '\'') zb_buf_puts(b, "'\\''");
        else zb_buf_put(b, p, 1);
    }
    zb_buf_puts(b, "'");
}

/* The last non-empty line of dir/gnuplot.log, for the error message. */
static void last_log_line(const char *dir, char *out, size_t n)
{
    out[0] = '\0';
    char path[4096];
    snprintf(path, sizeof path, "%s/gnuplot.log", dir);
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0]) snprintf(out, n, "%s", line);
    }
    fclose(f);
}

zb_status zb_gnuplot_run(const char *dir, const char *script, const char *label, zb_error *err)
{
    zb_buf cmd = {0}, in = {0};
    zb_buf_puts(&cmd, "gnuplot 2>>");
    shell_quote(&cmd, dir);
    zb_buf_puts(&cmd, "/gnuplot.log");
    /* gnuplot's own cd: the script names its output relative to dir */
    zb_buf_puts(&in, "cd ");
    zb_esc_gp(&in, dir);
    zb_buf_puts(&in, "\n");
    zb_buf_puts(&in, script);
    if (cmd.oom || in.oom) {
        zb_buf_free(&cmd);
        zb_buf_free(&in);
        return zb_fail(err, ZB_ERR_OOM, "out of memory running gnuplot");
    }
    /* a gnuplot that dies early must fail the chart, not kill zbench with
     * SIGPIPE while the script is still being written */
    struct sigaction ign = {0}, old;
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    int restore = sigaction(SIGPIPE, &ign, &old) == 0;
    FILE *p = popen(zb_buf_str(&cmd), "w");
    zb_status st = ZB_OK;
    if (!p) {
        st = zb_fail(err, ZB_ERR_INVALID, "cannot start gnuplot for %s", label);
    } else {
        size_t w = fwrite(zb_buf_str(&in), 1, in.len, p);
        int status = pclose(p);
        if (w != in.len || status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            char why[512];
            last_log_line(dir, why, sizeof why);
            st = zb_fail(err, ZB_ERR_INVALID, "gnuplot failed on %s (exit %d)%s%s", label,
                         status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1, why[0] ? ": " : "", why);
        }
    }
    if (restore) (void)sigaction(SIGPIPE, &old, NULL);
    zb_buf_free(&cmd);
    zb_buf_free(&in);
    return st;
}

/* --------------------------------------------------------------- inlining */

static int starts(const char *p, const char *s)
{
    return strncmp(p, s, strlen(s)) == 0;
}

char *zb_svg_inline(const char *svg, const char *prefix)
{
    const char *p = strstr(svg, "<svg");
    if (!p) return NULL;
    zb_buf b = {0};
    char prev = '\0';
    while (*p) {
        /* id='x' / id="x", href='#x' (also xlink:href), url(#x) */
        if ((prev == ' ' || prev == '\t' || prev == '\n') && (starts(p, "id='") || starts(p, "id=\""))) {
            zb_buf_put(&b, p, 4);
            zb_buf_printf(&b, "%s-", prefix);
            p += 4;
        } else if (starts(p, "href='#") || starts(p, "href=\"#")) {
            zb_buf_put(&b, p, 7);
            zb_buf_printf(&b, "%s-", prefix);
            p += 7;
        } else if (starts(p, "url(#")) {
            zb_buf_put(&b, p, 5);
            zb_buf_printf(&b, "%s-", prefix);
            p += 5;
        } else {
            zb_buf_put(&b, p, 1);
            p++;
        }
        prev = p[-1];
    }
    if (b.oom) {
        zb_buf_free(&b);
        return NULL;
    }
    return b.s ? b.s : strdup("");
}
