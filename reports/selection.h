/*
 * Which runs a report or a comparison covers. Criteria combine with AND:
 *   runs:LIST     run ids, "3,5-9" (a list as zbench run's options take it)
 *   tag:TEXT      runs.tag equal to TEXT
 *   sweep:ID      runs.sweep_id equal to ID
 *   commit:SHA    runs.git_commit starting with SHA (a prefix)
 *   plugin:NAME   runs.plugin equal to NAME
 * An empty selection matches every run.
 */
#ifndef ZB_SELECTION_H
#define ZB_SELECTION_H

#include <stdint.h>

#include "zbench_plugin.h"

typedef struct zb_id_range {
    int64_t lo, hi;
} zb_id_range;

typedef struct zb_selection {
    zb_id_range *ids; /* NULL: any id */
    int n_ids, cap_ids;
    char *runs_text; /* the list as given, for headings; NULL: any id */
    char *tag, *sweep, *commit, *plugin; /* NULL: any */
} zb_selection;

/* The identity of a run that selections look at. */
typedef struct zb_sel_run {
    int64_t id;
    const char *tag, *sweep_id, *git_commit, *plugin;
} zb_sel_run;

/* Adds one criterion: kind is runs, tag, sweep, commit or plugin. A kind
 * given twice is refused (the intersection of two tags is empty anyway). */
zb_status zb_sel_add(zb_selection *s, const char *kind, const char *value, zb_error *err);
/* Parses "KIND:VALUE" (compare's --baseline / --candidate). */
zb_status zb_sel_parse(const char *spec, zb_selection *s, zb_error *err);
int zb_sel_match(const zb_selection *s, const zb_sel_run *r);
/* "tag:nightly, runs:3,5-9" or "all runs", for headings. */
void zb_sel_describe(const zb_selection *s, char *out, size_t n);
/* Which criterion names the plugin: compare then matches configurations
 * across plugins. */
int zb_sel_names_plugin(const zb_selection *s);
void zb_sel_free(zb_selection *s);

/* After a selection was applied to the database at `path`: ZB_OK when it
 * matched runs (ids: theirs, ascending) and every run id or id range it
 * names matched at least one of them; otherwise ZB_ERR_INVALID with one
 * line, `where` (may be NULL) naming the option ("--baseline"...). */
zb_status zb_sel_check(const zb_selection *s, const int64_t *ids, int n, const char *where, const char *path,
                       zb_error *err);

#endif
