/* Finding, loading and checking plugins (dlopen; plugins are never unloaded). */
#ifndef ZB_PLUGIN_LOADER_H
#define ZB_PLUGIN_LOADER_H

#include <limits.h>

#include "zbench_plugin.h"

typedef struct zb_plugin {
    char path[PATH_MAX];
    const zb_plugin_api *api;
} zb_plugin;

typedef struct zb_plugin_entry_info {
    char name[64];
    char path[PATH_MAX];
} zb_plugin_entry_info;

/* The plugin directories: $ZBENCH_PLUGIN_PATH (colon-separated), else
 * plugins/ next to the zbench binary. Returns how many were written. */
int zb_plugin_dirs(char dirs[][PATH_MAX], int max);

/* The libzb_<name>.so files in the plugin directories (first wins). */
int zb_plugin_scan(zb_plugin_entry_info *out, int max);

/* Loads `name_or_path`: a path when it contains '/' or ends in ".so",
 * otherwise a name looked up in the plugin directories. Every failure is
 * one line naming the file and the problem (missing file, missing entry
 * symbol, ABI mismatch, NULL functions). */
zb_status zb_plugin_load(const char *name_or_path, zb_plugin *p, zb_error *err);

/* The plugin zbench uses by default: cuda_graph, then cuda_fused, when the
 * plugin exists and finds a GPU; cpu_ref otherwise. Returns its name, or
 * NULL (with err) when not even cpu_ref loads. */
const char *zb_default_plugin(zb_plugin *out, zb_error *err);

/* The session dtype used when the user names none: a GPU plugin's 16-bit
 * format (bf16 where it offers it, else f16), otherwise f32 where offered,
 * otherwise the first the plugin lists. */
zb_dtype zb_plugin_default_dtype(const zb_plugin_api *api);

#endif
