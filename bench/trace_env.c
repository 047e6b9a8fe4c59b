#include "trace_env.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zb_util.h"

int zb_trace_detect_profiler(char *buf, size_t len)
{
    static const struct {
        const char *var, *tool;
    } k_vars[] = {
        {"NSYS_PROFILING_SESSION_ID", "Nsight Systems"},
        {"NV_NSIGHT_INJECTION_TRANSPORT_TYPE", "Nsight Compute"},
        {"NV_TPS_LAUNCH_TOKEN", "Nsight Compute"},
    };
    for (size_t i = 0; i < sizeof k_vars / sizeof k_vars[0]; i++) {
        const char *v = getenv(k_vars[i].var);
        if (v && *v) {
            snprintf(buf, len, "%s is attached (%s is set)", k_vars[i].tool, k_vars[i].var);
            return 1;
        }
    }
    const char *inj = getenv("CUDA_INJECTION64_PATH");
    if (inj && *inj) {
        snprintf(buf, len, "a CUDA injection tool is attached (CUDA_INJECTION64_PATH=%s)", zb_basename(inj));
        return 1;
    }
    return 0;
}

/* $ZBENCH_TRACER, else the library next to /proc/self/exe. */
static int tracer_path(char *out, size_t len)
{
    const char *env = getenv("ZBENCH_TRACER");
    if (env && *env) return snprintf(out, len, "%s", env) < (int)len ? 0 : -1;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return -1;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return -1;
    *slash = '\0';
    return snprintf(out, len, "%s/%s", exe, ZB_TRACER_LIBRARY) < (int)len ? 0 : -1;
}

int zb_tracer_lib_load(zb_tracer_lib *lib, char *msg, size_t len)
{
    if (lib->api) return 0;
    if (tracer_path(lib->path, sizeof lib->path) != 0) {
        snprintf(msg, len, "cannot locate %s (set ZBENCH_TRACER to its path)", ZB_TRACER_LIBRARY);
        return -1;
    }
    if (access(lib->path, F_OK) != 0) {
        const char *env = getenv("ZBENCH_TRACER");
        if (env && *env) snprintf(msg, len, "%s (ZBENCH_TRACER) does not exist", lib->path);
        else snprintf(msg, len, "%s does not exist (zbench was built without the CUDA toolkit's CUPTI)", lib->path);
        return -1;
    }
    /* RTLD_LOCAL: CUPTI's symbols stay out of the global namespace; the
     * library is kept loaded for the process (CUPTI keeps our callbacks) */
    lib->handle = dlopen(lib->path, RTLD_NOW | RTLD_LOCAL);
    if (!lib->handle) {
        const char *e = dlerror();
        snprintf(msg, len, "cannot load the tracer: %s", e ? e : lib->path);
        return -1;
    }
    void *sym = dlsym(lib->handle, ZB_TRACE_ENTRY_SYMBOL);
    zb_tracer_entry_fn entry = NULL;
    if (sym) memcpy(&entry, &sym, sizeof sym);
    const zb_tracer_api *api = entry ? entry() : NULL;
    if (!api) {
        snprintf(msg, len, "%s: no %s", lib->path, ZB_TRACE_ENTRY_SYMBOL);
        return -1;
    }
    if (api->version != ZB_TRACE_API_VERSION || !api->start || !api->enable || !api->push_phase ||
        !api->pop_phase || !api->push_layer || !api->pop_layer || !api->flush || !api->dropped || !api->stop) {
        /* the handle stays open: dlclose of a library that may have run
         * code is not worth the risk for one failed load */
        snprintf(msg, len, "%s: tracer interface version %u, zbench needs %u with every function", lib->path,
                 api->version, ZB_TRACE_API_VERSION);
        return -1;
    }
    lib->api = api;
    return 0;
}
