#include "selection.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "rbuf.h"
#include "zb_util.h"

static zb_status add_range(zb_selection *s, int64_t lo, int64_t hi, zb_error *err)
{
    if (!zb_grow((void **)&s->ids, &s->cap_ids, s->n_ids + 1, sizeof *s->ids))
        return zb_fail(err, ZB_ERR_OOM, "out of memory for run ids");
    s->ids[s->n_ids++] = (zb_id_range){lo, hi};
    return ZB_OK;
}

/* One item of a run list. zb_parse_int_list expands a range into its
 * values (at most ZB_MAX_LIST of them), which is right for sweep lengths
 * but not for run ids: "1-100000" is a fair selection. So a plain FIRST-LAST
 * is kept as an interval and everything else goes to the shared parser,
 * which also words the errors as zbench run does. */
static zb_status parse_ids_item(zb_selection *s, const char *item, zb_int_list *tmp, zb_error *err)
{
    const char *dash = strchr(item, '-');
    if (dash && dash != item && !strpbrk(item, "+*")) {
        char first[32], last[32];
        size_t a = (size_t)(dash - item), b = strlen(dash + 1);
        if (a < sizeof first && b < sizeof last && b > 0) {
            memcpy(first, item, a), first[a] = '\0';
            memcpy(last, dash + 1, b + 1);
            zb_int_list *lo = tmp;
            zb_status st = zb_parse_int_list("--runs", first, 1, INT64_MAX, lo, err);
            if (st != ZB_OK) return st;
            int64_t from = lo->v[0];
            st = zb_parse_int_list("--runs", last, 1, INT64_MAX, lo, err);
            if (st != ZB_OK) return st;
            if (from > lo->v[0]) return zb_fail(err, ZB_ERR_INVALID, "--runs: range '%s' runs backwards", item);
            return add_range(s, from, lo->v[0], err);
        }
    }
    zb_status st = zb_parse_int_list("--runs", item, 1, INT64_MAX, tmp, err);
    for (int i = 0; st == ZB_OK && i < tmp->n; i++) st = add_range(s, tmp->v[i], tmp->v[i], err);
    return st;
}

static zb_status parse_ids(zb_selection *s, const char *text, zb_error *err)
{
    if (!*text) return zb_fail(err, ZB_ERR_INVALID, "--runs: empty value");
    zb_int_list *tmp = malloc(sizeof *tmp); /* 32 KiB: not for the stack */
    char *copy = strdup(text);
    zb_status st = ZB_OK;
    if (!tmp || !copy) st = zb_fail(err, ZB_ERR_OOM, "out of memory");
    for (char *item = copy, *next; st == ZB_OK && item; item = next) {
        next = strchr(item, ',');
        if (next) *next++ = '\0';
        if (!*item) st = zb_fail(err, ZB_ERR_INVALID, "--runs: empty item in '%s'", text);
        else st = parse_ids_item(s, item, tmp, err);
    }
    free(tmp);
    free(copy);
    return st;
}

static zb_status set_text(char **field, const char *kind, const char *value, zb_error *err)
{
    if (*field) return zb_fail(err, ZB_ERR_INVALID, "%s: given twice", kind);
    if (!*value && strcmp(kind, "tag") != 0) /* runs may carry the empty tag, nothing else is empty */
        return zb_fail(err, ZB_ERR_INVALID, "%s: empty value", kind);
    *field = strdup(value);
    return *field ? ZB_OK : zb_fail(err, ZB_ERR_OOM, "out of memory");
}

zb_status zb_sel_add(zb_selection *s, const char *kind, const char *value, zb_error *err)
{
    if (!strcmp(kind, "runs")) {
        if (s->runs_text) return zb_fail(err, ZB_ERR_INVALID, "runs: given twice");
        zb_status st = parse_ids(s, value, err);
        if (st != ZB_OK) return st;
        s->runs_text = strdup(value);
        return s->runs_text ? ZB_OK : zb_fail(err, ZB_ERR_OOM, "out of memory");
    }
    if (!strcmp(kind, "tag")) return set_text(&s->tag, kind, value, err);
    if (!strcmp(kind, "sweep")) return set_text(&s->sweep, kind, value, err);
    if (!strcmp(kind, "commit")) return set_text(&s->commit, kind, value, err);
    if (!strcmp(kind, "plugin")) return set_text(&s->plugin, kind, value, err);
    return zb_fail(err, ZB_ERR_INVALID, "unknown selection '%s' (tag, sweep, runs, commit or plugin)", kind);
}

zb_status zb_sel_parse(const char *spec, zb_selection *s, zb_error *err)
{
    const char *colon = strchr(spec, ':');
    if (!colon)
        return zb_fail(err, ZB_ERR_INVALID,
                       "'%s': expected KIND:VALUE (tag:TEXT, sweep:ID, runs:LIST, commit:SHA, plugin:NAME)", spec);
    char kind[16];
    size_t n = (size_t)(colon - spec);
    if (n >= sizeof kind) n = sizeof kind - 1; /* too long to be a kind: zb_sel_add names it unknown */
    memcpy(kind, spec, n);
    kind[n] = '\0';
    return zb_sel_add(s, kind, colon + 1, err);
}

int zb_sel_match(const zb_selection *s, const zb_sel_run *r)
{
    if (s->runs_text) {
        int in = 0;
        for (int i = 0; i < s->n_ids && !in; i++) in = r->id >= s->ids[i].lo && r->id <= s->ids[i].hi;
        if (!in) return 0;
    }
    if (s->tag && strcmp(s->tag, r->tag) != 0) return 0;
    if (s->sweep && strcmp(s->sweep, r->sweep_id) != 0) return 0;
    if (s->commit && strncmp(s->commit, r->git_commit, strlen(s->commit)) != 0) return 0;
    if (s->plugin && strcmp(s->plugin, r->plugin) != 0) return 0;
    return 1;
}

void zb_sel_describe(const zb_selection *s, char *out, size_t n)
{
    zb_buf b = {0};
    const struct {
        const char *kind, *value;
    } parts[] = {{"runs", s->runs_text}, {"tag", s->tag}, {"sweep", s->sweep}, {"commit", s->commit},
                 {"plugin", s->plugin}};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (parts[i].value) zb_buf_printf(&b, "%s%s:%s", b.len ? ", " : "", parts[i].kind, parts[i].value);
    snprintf(out, n, "%s", b.len && !b.oom ? zb_buf_str(&b) : "all runs");
    zb_buf_free(&b);
}

int zb_sel_names_plugin(const zb_selection *s)
{
    return s->plugin != NULL;
}

void zb_sel_free(zb_selection *s)
{
    free(s->ids);
    free(s->runs_text);
    free(s->tag);
    free(s->sweep);
    free(s->commit);
    free(s->plugin);
    memset(s, 0, sizeof *s);
}

zb_status zb_sel_check(const zb_selection *s, const int64_t *ids, int n, const char *where, const char *path,
                       zb_error *err)
{
    char desc[512], pre[64] = "";
    zb_sel_describe(s, desc, sizeof desc);
    if (where) snprintf(pre, sizeof pre, "%s: ", where);
    int other = s->tag || s->sweep || s->commit || s->plugin; /* criteria besides the ids */
    /* a named id that matched nothing is a typo more often than not: name it */
    for (int i = 0; s->runs_text && i < s->n_ids; i++) {
        const zb_id_range r = s->ids[i];
        int lo = 0, hi = n; /* first id >= r.lo */
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (ids[mid] < r.lo) lo = mid + 1;
            else hi = mid;
        }
        if (lo < n && ids[lo] <= r.hi) continue;
        if (r.lo == r.hi)
            return zb_fail(err, ZB_ERR_INVALID, "%s%s: no run %lld%s%s", pre, path, (long long)r.lo,
                           other ? " matching " : "", other ? desc : "");
        return zb_fail(err, ZB_ERR_INVALID, "%s%s: no run with an id in %lld-%lld%s%s", pre, path,
                       (long long)r.lo, (long long)r.hi, other ? " matching " : "", other ? desc : "");
    }
    if (n == 0) {
        if (!strcmp(desc, "all runs")) return zb_fail(err, ZB_ERR_INVALID, "%s%s: holds no runs", pre, path);
        return zb_fail(err, ZB_ERR_INVALID, "%s%s: no runs match %s", pre, path, desc);
    }
    return ZB_OK;
}
