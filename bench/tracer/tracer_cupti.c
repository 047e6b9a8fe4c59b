/*
 * libzb_tracer.so: zbench's CUPTI tracer (interface in bench/trace_api.h).
 *
 *  - Activity API: kernels (CONCURRENT_KERNEL, so tracing does not
 *    serialise them), copies and sets, into buffers of buffer_bytes that
 *    CUPTI fills and hands back (buffer_completed), decoded and delivered
 *    to the sink there, then freed: memory stays bounded by the buffers
 *    in flight, whatever the run's length. CUPTI's dropped-record count is
 *    read at each completed buffer.
 *  - Callback API, on while collecting: at the entry of every runtime or
 *    driver call that launches work (kernels, copies, sets, graph
 *    launches; the set is built from CUPTI's callback names at start), a
 *    correlation note with the current phase and layer ids; always:
 *    graph node creation and cloning, for kernels replayed from graphs.
 *
 * CUPTI's buffer callbacks carry no context: the active tracer is the one
 * process-wide pointer below, set by start and cleared by stop, which is
 * also why one tracer runs at a time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cupti.h>

#include "tracer_core.h"
#include "tracer_records.h"

#define ZBT_BUFFER_DEFAULT (4u << 20)
#define ZBT_QUEUE_NOTES 65536
#define ZBT_CHUNK_RECORDS 1024

#if defined(__GNUC__)
#define ZBT_EXPORT __attribute__((visibility("default")))
#else
#define ZBT_EXPORT
#endif

struct zb_tracer {
    zbt_core core;
    zbt_names names; /* under core.deliver_mu */
    CUpti_SubscriberHandle sub;
    size_t buffer_bytes;
    int collecting;
    unsigned char launch_rt[CUPTI_RUNTIME_TRACE_CBID_SIZE];
    unsigned char launch_drv[CUPTI_DRIVER_TRACE_CBID_SIZE];
};

static zb_tracer *_Atomic g_active;

static const CUpti_ActivityKind k_kinds[] = {
    CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL,
    CUPTI_ACTIVITY_KIND_MEMCPY,
    CUPTI_ACTIVITY_KIND_MEMSET,
};
#define N_KINDS (sizeof k_kinds / sizeof k_kinds[0])

/* "cuptiX failed: CUPTI_ERROR_...: (CUPTI's description)" */
static int fail(char *msg, size_t len, const char *what, CUptiResult r)
{
    const char *s = NULL;
    if (cuptiGetResultString(r, &s) != CUPTI_SUCCESS || !s) s = "unknown CUPTI error";
    snprintf(msg, len, "%s failed: %s (CUPTI error %d)", what, s, (int)r);
    return -1;
}

/* --------------------------------------------------------- the callbacks */

static void CUPTIAPI buffer_requested(uint8_t **buffer, size_t *size, size_t *max_records)
{
    zb_tracer *t = g_active;
    size_t bytes = t ? t->buffer_bytes : ZBT_BUFFER_DEFAULT;
    void *p = NULL;
    /* CUPTI wants 8-byte alignment; without a buffer it drops records and
     * counts them, which the completed buffers report */
    if (posix_memalign(&p, 8, bytes) != 0) p = NULL;
    *buffer = p;
    *size = p ? bytes : 0;
    *max_records = 0;
}

static void CUPTIAPI buffer_completed(CUcontext ctx, uint32_t stream, uint8_t *buffer, size_t size, size_t valid)
{
    (void)size;
    zb_tracer *t = g_active;
    if (t && valid > 0) {
        zbt_core_deliver_begin(&t->core);
        CUpti_Activity *rec = NULL;
        zb_trace_record out;
        for (;;) {
            CUptiResult r = cuptiActivityGetNextRecord(buffer, valid, &rec);
            if (r == CUPTI_ERROR_MAX_LIMIT_REACHED) break;
            if (r != CUPTI_SUCCESS) { /* the rest of the buffer cannot be read */
                zbt_core_add_lost(&t->core, 1);
                break;
            }
            int d = zbt_decode(rec, &t->names, &out);
            if (d > 0) zbt_core_emit(&t->core, &out);
            else if (d < 0) zbt_core_add_lost(&t->core, 1);
        }
        zbt_core_deliver_end(&t->core);
    }
    if (t) {
        size_t dropped = 0;
        if (cuptiActivityGetNumDroppedRecords(ctx, stream, &dropped) == CUPTI_SUCCESS && dropped > 0)
            zbt_core_add_lost(&t->core, dropped);
    }
    free(buffer);
}

static void graph_note(zb_tracer *t, CUpti_CallbackId cbid, const CUpti_ResourceData *rd)
{
    const CUpti_GraphData *g = rd ? (const CUpti_GraphData *)rd->resourceDescriptor : NULL;
    if (!g) return;
    uint64_t node = 0, orig = 0;
    if (cuptiGetGraphNodeId(g->node, &node) != CUPTI_SUCCESS) {
        zbt_core_add_lost(&t->core, 1);
        return;
    }
    if (cbid == CUPTI_CBID_RESOURCE_GRAPHNODE_CREATED) {
        zbt_note n = {ZB_TRACE_GRAPH_NODE, 0, node, zbt_core_current_layer(&t->core)};
        zbt_core_note(&t->core, &n);
    } else if (cuptiGetGraphNodeId(g->originalNode, &orig) == CUPTI_SUCCESS) {
        zbt_note n = {ZB_TRACE_GRAPH_CLONE, 0, node, orig};
        zbt_core_note(&t->core, &n);
    } else {
        zbt_core_add_lost(&t->core, 1);
    }
}

static void CUPTIAPI on_callback(void *userdata, CUpti_CallbackDomain domain, CUpti_CallbackId cbid,
                                 const void *data)
{
    zb_tracer *t = userdata;
    if (domain == CUPTI_CB_DOMAIN_RUNTIME_API || domain == CUPTI_CB_DOMAIN_DRIVER_API) {
        const CUpti_CallbackData *cd = data;
        const int launch = domain == CUPTI_CB_DOMAIN_RUNTIME_API
                               ? cbid < CUPTI_RUNTIME_TRACE_CBID_SIZE && t->launch_rt[cbid]
                               : cbid < CUPTI_DRIVER_TRACE_CBID_SIZE && t->launch_drv[cbid];
        if (launch && cd->callbackSite == CUPTI_API_ENTER) zbt_core_note_launch(&t->core, cd->correlationId);
    } else if (domain == CUPTI_CB_DOMAIN_RESOURCE &&
               (cbid == CUPTI_CBID_RESOURCE_GRAPHNODE_CREATED || cbid == CUPTI_CBID_RESOURCE_GRAPHNODE_CLONED)) {
        graph_note(t, cbid, data);
    }
}

/* ------------------------------------------------------------ the tracer */

static int launches_work(const char *name, int driver)
{
    static const char *const rt[] = {"cudaLaunch", "cudaMemcpy", "cudaMemset", "cudaGraphLaunch"};
    static const char *const drv[] = {"cuLaunch", "cuMemcpy", "cuMemset", "cuGraphLaunch"};
    const char *const *p = driver ? drv : rt;
    for (int i = 0; i < 4; i++)
        if (strncmp(name, p[i], strlen(p[i])) == 0) return 1;
    return 0;
}

/* The callbacks that launch GPU work: a correlation note for every API
 * call would cost more and say nothing more. A call missing here leaves
 * its kernels unattributed, which the trace row counts. */
static int find_launch_calls(zb_tracer *t, char *msg, size_t len)
{
    const char *name;
    int found = 0;
    for (uint32_t id = 1; id < CUPTI_RUNTIME_TRACE_CBID_SIZE; id++)
        if (cuptiGetCallbackName(CUPTI_CB_DOMAIN_RUNTIME_API, id, &name) == CUPTI_SUCCESS && name &&
            launches_work(name, 0)) {
            t->launch_rt[id] = 1;
            found++;
        }
    for (uint32_t id = 1; id < CUPTI_DRIVER_TRACE_CBID_SIZE; id++)
        if (cuptiGetCallbackName(CUPTI_CB_DOMAIN_DRIVER_API, id, &name) == CUPTI_SUCCESS && name &&
            launches_work(name, 1)) {
            t->launch_drv[id] = 1;
            found++;
        }
    if (found == 0) {
        snprintf(msg, len, "CUPTI named no launch call (cuptiGetCallbackName): cannot attribute kernels");
        return -1;
    }
    return 0;
}

/* Whole domains rather than each launch call's callback: a call CUPTI
 * would refuse to enable alone cannot then stop the trace; on_callback
 * returns at once for the calls that launch nothing. */
static int set_api_callbacks(zb_tracer *t, uint32_t on, char *msg, size_t len)
{
    CUptiResult r = cuptiEnableDomain(on, t->sub, CUPTI_CB_DOMAIN_RUNTIME_API);
    if (r != CUPTI_SUCCESS) return fail(msg, len, "cuptiEnableDomain (runtime API)", r);
    r = cuptiEnableDomain(on, t->sub, CUPTI_CB_DOMAIN_DRIVER_API);
    if (r != CUPTI_SUCCESS) return fail(msg, len, "cuptiEnableDomain (driver API)", r);
    return 0;
}

static int tracer_enable(zb_tracer *t, int on, char *msg, size_t len)
{
    if (!t) return snprintf(msg, len, "no tracer"), -1;
    if (on == t->collecting) return 0;
    CUptiResult r;
    /* notes before records when switching on, records off first when
     * switching off: no kernel is recorded without its note */
    if (on && set_api_callbacks(t, 1, msg, len) != 0) return -1;
    for (size_t i = 0; i < N_KINDS; i++) {
        r = on ? cuptiActivityEnable(k_kinds[i]) : cuptiActivityDisable(k_kinds[i]);
        if (r != CUPTI_SUCCESS) return fail(msg, len, on ? "cuptiActivityEnable" : "cuptiActivityDisable", r);
    }
    if (!on && set_api_callbacks(t, 0, msg, len) != 0) return -1;
    t->collecting = on;
    return 0;
}

static void tracer_free(zb_tracer *t)
{
    zbt_names_free(&t->names);
    zbt_core_free(&t->core);
    free(t);
}

static int tracer_start(const zb_tracer_config *cfg, zb_tracer **out, char *msg, size_t len)
{
    *out = NULL;
    if (!cfg || !cfg->sink) return snprintf(msg, len, "tracer start without a sink"), -1;
    if (g_active) return snprintf(msg, len, "a tracer is already running in this process"), -1;
    zb_tracer *t = calloc(1, sizeof *t);
    if (!t) return snprintf(msg, len, "out of memory for the tracer"), -1;
    if (zbt_core_init(&t->core, cfg->sink, cfg->sink_ctx, ZBT_QUEUE_NOTES, ZBT_CHUNK_RECORDS) != 0) {
        free(t);
        return snprintf(msg, len, "out of memory for the tracer"), -1;
    }
    t->buffer_bytes = cfg->buffer_bytes ? cfg->buffer_bytes : ZBT_BUFFER_DEFAULT;
    CUptiResult r = cuptiSubscribe(&t->sub, on_callback, t);
    if (r != CUPTI_SUCCESS) {
        if (r == CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED)
            snprintf(msg, len,
                     "CUPTI refused to subscribe (CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED): another tool"
                     " (Nsight Systems, Nsight Compute, cuda-gdb, ...) holds it");
        else
            fail(msg, len, "cuptiSubscribe", r);
        tracer_free(t);
        return -1;
    }
    int rc = find_launch_calls(t, msg, len);
    if (rc == 0 && (r = cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed)) != CUPTI_SUCCESS)
        rc = fail(msg, len, "cuptiActivityRegisterCallbacks", r);
    if (rc == 0 &&
        ((r = cuptiEnableCallback(1, t->sub, CUPTI_CB_DOMAIN_RESOURCE, CUPTI_CBID_RESOURCE_GRAPHNODE_CREATED)) !=
             CUPTI_SUCCESS ||
         (r = cuptiEnableCallback(1, t->sub, CUPTI_CB_DOMAIN_RESOURCE, CUPTI_CBID_RESOURCE_GRAPHNODE_CLONED)) !=
             CUPTI_SUCCESS))
        rc = fail(msg, len, "cuptiEnableCallback (graph nodes)", r);
    if (rc != 0) {
        (void)cuptiUnsubscribe(t->sub);
        tracer_free(t);
        return -1;
    }
    g_active = t;
    *out = t;
    return 0;
}

static void tracer_push_phase(zb_tracer *t, uint64_t id)
{
    zbt_core_push_phase(&t->core, id);
}

static void tracer_pop_phase(zb_tracer *t)
{
    zbt_core_pop_phase(&t->core);
}

static void tracer_push_layer(void *t, int32_t layer, int32_t part)
{
    zbt_core_push_layer(&((zb_tracer *)t)->core, layer, part);
}

static void tracer_pop_layer(void *t)
{
    zbt_core_pop_layer(&((zb_tracer *)t)->core);
}

static int tracer_flush(zb_tracer *t, char *msg, size_t len)
{
    /* complete buffers first, then the forced flush returns the partly
     * filled ones; neither holds the delivery lock, which the buffer
     * callback takes (possibly on this thread) */
    CUptiResult r = cuptiActivityFlushAll(0);
    if (r == CUPTI_SUCCESS) r = cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
    /* notes made after the last buffer (graph nodes of a capture) */
    zbt_core_deliver_begin(&t->core);
    zbt_core_deliver_end(&t->core);
    return r == CUPTI_SUCCESS ? 0 : fail(msg, len, "cuptiActivityFlushAll", r);
}

static uint64_t tracer_dropped(zb_tracer *t)
{
    return zbt_core_lost(&t->core);
}

static int tracer_stop(zb_tracer *t, char *msg, size_t len)
{
    if (!t) return 0;
    int rc = tracer_enable(t, 0, msg, len);
    char m2[256];
    if (tracer_flush(t, rc ? m2 : msg, rc ? sizeof m2 : len) != 0) rc = -1;
    CUptiResult r = cuptiEnableDomain(0, t->sub, CUPTI_CB_DOMAIN_RESOURCE);
    if (r != CUPTI_SUCCESS && rc == 0) rc = fail(msg, len, "cuptiEnableDomain", r);
    r = cuptiUnsubscribe(t->sub);
    if (r != CUPTI_SUCCESS && rc == 0) rc = fail(msg, len, "cuptiUnsubscribe", r);
    g_active = NULL;
    tracer_free(t);
    return rc;
}

static const zb_tracer_api k_api = {
    .version = ZB_TRACE_API_VERSION,
    .start = tracer_start,
    .enable = tracer_enable,
    .push_phase = tracer_push_phase,
    .pop_phase = tracer_pop_phase,
    .push_layer = tracer_push_layer,
    .pop_layer = tracer_pop_layer,
    .flush = tracer_flush,
    .dropped = tracer_dropped,
    .stop = tracer_stop,
};

ZBT_EXPORT const zb_tracer_api *zb_tracer_entry(void)
{
    return &k_api;
}
