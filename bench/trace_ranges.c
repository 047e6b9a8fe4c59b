#include "trace_ranges.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#ifdef ZB_HAVE_CUDA_HEADERS
#include <nvtx3/nvToolsExt.h>
#endif

static const char *const k_names[ZB_RANGE_KINDS] = {"run", "depth", "prefill", "decode step", "profile"};

#ifdef ZB_HAVE_CUDA_HEADERS

void zb_ranges_init(zb_ranges *r, int on)
{
    memset(r, 0, sizeof *r);
    if (!on) return;
    /* NULL unless a tool is attached: then every push below is skipped */
    nvtxDomainHandle_t d = nvtxDomainCreateA("zbench");
    r->domain = d;
    if (!d) return;
    for (int k = 0; k < ZB_RANGE_KINDS; k++) r->names[k] = nvtxDomainRegisterStringA(d, k_names[k]);
}

void zb_ranges_free(zb_ranges *r)
{
    /* The domain is not destroyed: the plugins' sessions may hold the same
     * "zbench" domain, and tools key domains by name. */
    memset(r->names, 0, sizeof r->names);
    r->domain = NULL;
}

void zb_ranges_push(zb_ranges *r, zb_range_kind kind, int step)
{
    if (!r->domain) return;
    nvtxEventAttributes_t a;
    memset(&a, 0, sizeof a);
    a.version = NVTX_VERSION;
    a.size = NVTX_EVENT_ATTRIB_STRUCT_SIZE;
    char text[32];
    if (kind == ZB_RANGE_DECODE_STEP) {
        /* one string per step would be registered once and used once:
         * formatting it each time costs less */
        snprintf(text, sizeof text, "decode step %d", step);
        a.messageType = NVTX_MESSAGE_TYPE_ASCII;
        a.message.ascii = text;
    } else {
        a.messageType = NVTX_MESSAGE_TYPE_REGISTERED;
        a.message.registered = (nvtxStringHandle_t)r->names[kind];
    }
    nvtxDomainRangePushEx((nvtxDomainHandle_t)r->domain, &a);
}

void zb_ranges_pop(zb_ranges *r)
{
    if (r->domain) nvtxDomainRangePop((nvtxDomainHandle_t)r->domain);
}

#else /* no CUDA headers: no NVTX */

void zb_ranges_init(zb_ranges *r, int on)
{
    (void)on;
    (void)k_names;
    memset(r, 0, sizeof *r);
}

void zb_ranges_free(zb_ranges *r)
{
    (void)r;
}

void zb_ranges_push(zb_ranges *r, zb_range_kind kind, int step)
{
    (void)r, (void)kind, (void)step;
}

void zb_ranges_pop(zb_ranges *r)
{
    (void)r;
}

#endif

/* The driver library the plugin loaded; RTLD_NOLOAD, so a process without
 * CUDA (cpu_ref) never loads it because of us. */
static void look_up_profiler(zb_ranges *r)
{
    r->profiler_looked_up = 1;
    void *cuda = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    if (!cuda) return;
    /* POSIX: a function pointer goes through a data pointer this way */
    void *start = dlsym(cuda, "cuProfilerStart"), *stop = dlsym(cuda, "cuProfilerStop");
    if (start && stop) {
        memcpy(&r->profiler_start, &start, sizeof start);
        memcpy(&r->profiler_stop, &stop, sizeof stop);
    }
    /* the handle stays open: the pointers must outlive this call (and the
     * plugin keeps the library loaded anyway) */
}

int zb_profiler_switch(zb_ranges *r, int on, char *msg, size_t len)
{
    if (!r->profiler_looked_up) look_up_profiler(r);
    if (!r->profiler_start) {
        snprintf(msg, len, "cuProfiler%s: no CUDA driver library is loaded in this process", on ? "Start" : "Stop");
        return -1;
    }
    int rc = on ? r->profiler_start() : r->profiler_stop();
    if (rc != 0) {
        snprintf(msg, len, "cuProfiler%s failed with CUresult %d", on ? "Start" : "Stop", rc);
        return -1;
    }
    return 0;
}
