#define _GNU_SOURCE
#include "plugin_loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zb_util.h"

int zb_plugin_dirs(char dirs[][PATH_MAX], int max)
{
    int n = 0;
    const char *env = getenv("ZBENCH_PLUGIN_PATH");
    if (env && *env) {
        const char *p = env;
        while (*p && n < max) {
            size_t len = strcspn(p, ":");
            if (len > 0 && len < PATH_MAX) {
                memcpy(dirs[n], p, len);
                dirs[n][len] = '\0';
                n++;
            }
            p += len;
            if (*p == ':') p++;
        }
        return n;
    }
    if (max < 1) return 0;
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) return 0;
    exe[len] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return 0;
    *slash = '\0';
    snprintf(dirs[0], PATH_MAX, "%.*s/plugins", PATH_MAX - 16, exe);
    return 1;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const zb_plugin_entry_info *)a)->name, ((const zb_plugin_entry_info *)b)->name);
}

int zb_plugin_scan(zb_plugin_entry_info *out, int max)
{
    char dirs[16][PATH_MAX];
    int nd = zb_plugin_dirs(dirs, 16), n = 0;
    for (int i = 0; i < nd; i++) {
        DIR *d = opendir(dirs[i]);
        if (!d) continue;
        struct dirent *e;
        while ((e = readdir(d)) && n < max) {
            size_t len = strlen(e->d_name);
            if (len <= 8 || strncmp(e->d_name, "libzb_", 6) || strcmp(e->d_name + len - 3, ".so")) continue;
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)(len - 9), e->d_name + 6);
            int dup = 0;
            for (int j = 0; j < n && !dup; j++) dup = !strcmp(out[j].name, name);
            if (dup) continue;
            snprintf(out[n].name, sizeof out[n].name, "%s", name);
            snprintf(out[n].path, sizeof out[n].path, "%.*s/%s", PATH_MAX - 300, dirs[i], e->d_name);
            n++;
        }
        closedir(d);
    }
    qsort(out, (size_t)n, sizeof *out, cmp_entry);
    return n;
}

static zb_status check_table(const char *path, const zb_plugin_api *api, zb_error *err)
{
    if (!api) return zb_fail(err, ZB_ERR_INVALID, "%s: entry %s returned no table", path, ZB_PLUGIN_ENTRY_SYMBOL);
    if (api->abi_version != ZB_ABI_VERSION)
        return zb_fail(err, ZB_ERR_INVALID, "%s: plugin ABI version %u, zbench expects %u", path, api->abi_version,
                       ZB_ABI_VERSION);
    const struct {
        const char *name;
        int present;
    } required[] = {
        {"name", api->name != NULL},
        {"description", api->description != NULL},
        {"device_info", api->device_info != NULL},
        {"create", api->create != NULL},
        {"prefill", api->prefill != NULL},
        {"decode", api->decode != NULL},
        {"reset", api->reset != NULL},
        {"memory", api->memory != NULL},
        {"destroy", api->destroy != NULL},
    };
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!required[i].present)
            return zb_fail(err, ZB_ERR_INVALID, "%s: plugin table has a NULL '%s'", path, required[i].name);
    if (api->max_batch < 1 || api->dtypes == 0)
        return zb_fail(err, ZB_ERR_INVALID, "%s: plugin declares no dtype or a max batch below 1", path);
    return ZB_OK;
}

static zb_status load_file(const char *path, zb_plugin *p, zb_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0) return zb_fail(err, ZB_ERR_INVALID, "%s: no such plugin file", path);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        return zb_fail(err, ZB_ERR_INVALID, "%s: cannot load: %s", path, e ? e : "unknown error");
    }
    dlerror();
    void *sym = dlsym(h, ZB_PLUGIN_ENTRY_SYMBOL);
    if (!sym) {
        dlclose(h); /* nothing of it was used */
        return zb_fail(err, ZB_ERR_INVALID, "%s: no entry symbol '%s': not a zbench plugin", path,
                       ZB_PLUGIN_ENTRY_SYMBOL);
    }
    zb_plugin_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry); /* object pointer -> function pointer, as POSIX allows */
    const zb_plugin_api *api = entry();
    zb_status s = check_table(path, api, err);
    if (s != ZB_OK) return s; /* keep it mapped: its code ran */
    snprintf(p->path, sizeof p->path, "%s", path);
    p->api = api;
    return ZB_OK;
}

zb_status zb_plugin_load(const char *name_or_path, zb_plugin *p, zb_error *err)
{
    memset(p, 0, sizeof *p);
    size_t len = strlen(name_or_path);
    if (strchr(name_or_path, '/') || (len > 3 && !strcmp(name_or_path + len - 3, ".so")))
        return load_file(name_or_path, p, err);
    zb_plugin_entry_info found[64];
    int n = zb_plugin_scan(found, 64);
    for (int i = 0; i < n; i++)
        if (!strcmp(found[i].name, name_or_path)) return load_file(found[i].path, p, err);
    /* names joined by ", ", cut short (not overflowed) if they do not fit */
    char list[512] = "";
    size_t used = 0;
    for (int i = 0; i < n && used < sizeof list; i++) {
        int w = snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", found[i].name);
        if (w < 0) break;
        used += (size_t)w;
    }
    char dirs[16][PATH_MAX];
    int nd = zb_plugin_dirs(dirs, 16);
    return zb_fail(err, ZB_ERR_INVALID, "plugin '%s' not found in %s; available: %s", name_or_path,
                   nd ? dirs[0] : "(no plugin directory)", n ? list : "none");
}

/* The plugin zbench uses by default: cuda_graph, then cuda_fused, when the
 * plugin exists and finds a GPU; cpu_ref otherwise. */
const char *zb_default_plugin(zb_plugin *out, zb_error *err)
{
    static const char *const order[] = {"cuda_graph", "cuda_fused"};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        zb_device_info info;
        zb_error e;
        if (zb_plugin_load(order[i], out, &e) == ZB_OK && out->api->device_info(0, &info, &e) == ZB_OK)
            return order[i];
    }
    return zb_plugin_load("cpu_ref", out, err) == ZB_OK ? "cpu_ref" : NULL;
}

zb_dtype zb_plugin_default_dtype(const zb_plugin_api *api)
{
    if (api->caps & ZB_CAP_GPU) {
        if (api->dtypes & ZB_DTYPE_BIT(ZB_DTYPE_BF16)) return ZB_DTYPE_BF16;
        if (api->dtypes & ZB_DTYPE_BIT(ZB_DTYPE_F16)) return ZB_DTYPE_F16;
    }
    static const zb_dtype order[] = {ZB_DTYPE_F32, ZB_DTYPE_BF16, ZB_DTYPE_F16};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (api->dtypes & ZB_DTYPE_BIT(order[i])) return order[i];
    return ZB_DTYPE_F32; /* the loader refuses a plugin with no dtype */
}
