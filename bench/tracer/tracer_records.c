#include "tracer_records.h"

#include <stdlib.h>
#include <string.h>

#include "zbench_plugin.h" /* zb_mix64 */

/* libstdc++'s demangler (C linkage; the tracer links libstdc++). */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

/* -------------------------------------------------------------- names */

static uint64_t hash_text(const char *s)
{
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (; *s; s++) h = zb_mix64(h ^ (uint8_t)*s);
    return h;
}

static size_t slot_of(char **keys, size_t cap, const char *s)
{
    size_t i = (size_t)hash_text(s) & (cap - 1);
    while (keys[i] && strcmp(keys[i], s) != 0) i = (i + 1) & (cap - 1);
    return i;
}

static int grow(zbt_names *t)
{
    size_t cap = t->cap ? t->cap * 2 : 64;
    char **k = calloc(cap, sizeof *k), **v = calloc(cap, sizeof *v);
    if (!k || !v) {
        free(k);
        free(v);
        return -1;
    }
    for (size_t i = 0; i < t->cap; i++)
        if (t->mangled[i]) {
            size_t j = slot_of(k, cap, t->mangled[i]);
            k[j] = t->mangled[i];
            v[j] = t->demangled[i];
        }
    free(t->mangled);
    free(t->demangled);
    t->mangled = k, t->demangled = v, t->cap = cap;
    return 0;
}

/* CUPTI shares one name string among a kernel's records, but the cache is
 * keyed by content, not address: an unloaded module's strings may be
 * reused for other names. */
const char *zbt_names_get(zbt_names *t, const char *mangled)
{
    if ((t->n + 1) * 2 > t->cap && grow(t) != 0) return NULL;
    size_t i = slot_of(t->mangled, t->cap, mangled);
    if (t->mangled[i]) return t->demangled[i];
    int status = -1;
    char *d = __cxa_demangle(mangled, NULL, NULL, &status);
    if (status != 0) { /* not a mangled name (extern "C" kernels, cuBLAS's nvjet_*) */
        free(d);
        d = strdup(mangled);
    }
    char *k = strdup(mangled);
    if (!d || !k) {
        free(d);
        free(k);
        return NULL;
    }
    t->mangled[i] = k;
    t->demangled[i] = d;
    t->n++;
    return d;
}

void zbt_names_free(zbt_names *t)
{
    for (size_t i = 0; i < t->cap; i++) {
        free(t->mangled[i]);
        free(t->demangled[i]);
    }
    free(t->mangled);
    free(t->demangled);
    memset(t, 0, sizeof *t);
}

/* ------------------------------------------------------------- records */

const char *zbt_copy_kind(unsigned kind)
{
    switch (kind) {
    case CUPTI_ACTIVITY_MEMCPY_KIND_HTOD: return "HtoD";
    case CUPTI_ACTIVITY_MEMCPY_KIND_DTOH: return "DtoH";
    case CUPTI_ACTIVITY_MEMCPY_KIND_HTOA: return "HtoA";
    case CUPTI_ACTIVITY_MEMCPY_KIND_ATOH: return "AtoH";
    case CUPTI_ACTIVITY_MEMCPY_KIND_ATOA: return "AtoA";
    case CUPTI_ACTIVITY_MEMCPY_KIND_ATOD: return "AtoD";
    case CUPTI_ACTIVITY_MEMCPY_KIND_DTOA: return "DtoA";
    case CUPTI_ACTIVITY_MEMCPY_KIND_DTOD: return "DtoD";
    case CUPTI_ACTIVITY_MEMCPY_KIND_HTOH: return "HtoH";
    case CUPTI_ACTIVITY_MEMCPY_KIND_PTOP: return "PtoP";
    default: return "?";
    }
}

int zbt_decode(const CUpti_Activity *rec, zbt_names *names, zb_trace_record *out)
{
    memset(out, 0, sizeof *out);
    switch (rec->kind) {
    case CUPTI_ACTIVITY_KIND_KERNEL:
    case CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL: {
        const zbt_kernel_record *k = (const zbt_kernel_record *)(const void *)rec;
        out->kind = ZB_TRACE_KERNEL;
        out->start_ns = k->start, out->end_ns = k->end;
        out->correlation_id = k->correlationId;
        out->device_id = k->deviceId, out->stream_id = k->streamId;
        out->grid[0] = k->gridX, out->grid[1] = k->gridY, out->grid[2] = k->gridZ;
        out->block[0] = k->blockX, out->block[1] = k->blockY, out->block[2] = k->blockZ;
        out->registers = k->registersPerThread;
        out->static_smem = k->staticSharedMemory, out->dynamic_smem = k->dynamicSharedMemory;
        out->graph_id = k->graphId, out->graph_node_id = k->graphNodeId;
        out->name = zbt_names_get(names, k->name ? k->name : "(unnamed kernel)");
        if (!out->name) return -1;
        break;
    }
    case CUPTI_ACTIVITY_KIND_MEMCPY: {
        const zbt_memcpy_record *m = (const zbt_memcpy_record *)(const void *)rec;
        out->kind = ZB_TRACE_MEMCPY;
        out->start_ns = m->start, out->end_ns = m->end;
        out->correlation_id = m->correlationId;
        out->device_id = m->deviceId, out->stream_id = m->streamId;
        out->bytes = m->bytes;
        out->copy_kind = zbt_copy_kind(m->copyKind);
        out->graph_id = m->graphId, out->graph_node_id = m->graphNodeId;
        break;
    }
    case CUPTI_ACTIVITY_KIND_MEMSET: {
        const zbt_memset_record *m = (const zbt_memset_record *)(const void *)rec;
        out->kind = ZB_TRACE_MEMSET;
        out->start_ns = m->start, out->end_ns = m->end;
        out->correlation_id = m->correlationId;
        out->device_id = m->deviceId, out->stream_id = m->streamId;
        out->bytes = m->bytes;
        out->graph_id = m->graphId, out->graph_node_id = m->graphNodeId;
        break;
    }
    default: return 0;
    }
    if (out->start_ns == 0 || out->end_ns < out->start_ns) return -2;
    return 1;
}
