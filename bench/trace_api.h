/*
 * The interface between zbench and its GPU activity tracer, a shared object
 * (ZB_TRACER_LIBRARY, built from bench/tracer/ when the CUDA toolkit is
 * there) that zbench dlopens only for `--trace` with a GPU plugin, so the
 * zbench binary itself never links CUPTI or the CUDA runtime.
 *
 * The tracer decodes CUPTI activity records into the plain zb_trace_record
 * below and hands them, a buffer at a time, to a sink that zbench gives it
 * (bench/trace_store.c writes them to SQLite). Nothing here depends on
 * CUPTI: the synthetic records of tests/test_trace.c go through the same
 * sink as real ones.
 *
 * Attribution. zbench pushes a phase id around each plugin call
 * (zb_trace_phase_id: prefill, decode step k, ...) and the CUDA plugins,
 * through the "zb.trace_layers.v1" extension, a layer id around each layer
 * part (zb_trace_layer_id). Both are plain stacks inside the tracer, read
 * by its CUPTI callback at the entry of every API call that launches GPU
 * work: the tracer then emits a ZB_TRACE_CORRELATION record tying that
 * call's correlation id to the current phase and layer ids. Kernels, copies
 * and sets carry the correlation id of the call that launched them.
 * Kernels replayed from a CUDA graph carry the correlation id of the graph
 * launch (which gives their phase); their layer comes instead from the
 * graph node they ran as: the tracer emits ZB_TRACE_GRAPH_NODE when a node
 * is created (stream capture runs the plugin's layer hooks) and
 * ZB_TRACE_GRAPH_CLONE when instantiation clones it.
 */
#ifndef ZB_TRACE_API_H
#define ZB_TRACE_API_H

#include <stddef.h>
#include <stdint.h>

#define ZB_TRACE_API_VERSION 2u
#define ZB_TRACE_ENTRY_SYMBOL "zb_tracer_entry"
#define ZB_TRACER_LIBRARY "libzb_tracer.so"

/* ---------------------------------------------------------------- records */

typedef enum zb_trace_kind {
    ZB_TRACE_KERNEL = 1,
    ZB_TRACE_MEMCPY = 2,
    ZB_TRACE_MEMSET = 3,
    /* API call correlation_id was made under phase_id and layer_id */
    ZB_TRACE_CORRELATION = 4,
    /* graph node graph_node_id was created while layer_id was current */
    ZB_TRACE_GRAPH_NODE = 5,
    /* graph node graph_node_id is a clone of node orig_node_id */
    ZB_TRACE_GRAPH_CLONE = 6
} zb_trace_kind;

/* One decoded record. Fields that do not apply to a kind are 0; `name` is
 * only valid during the sink call (the sink copies what it keeps). */
typedef struct zb_trace_record {
    zb_trace_kind kind;
    uint64_t start_ns, end_ns;   /* CUPTI timestamps */
    uint32_t correlation_id;     /* of the launching API call; 0 when none */
    uint32_t device_id, stream_id;
    int32_t grid[3], block[3];
    int32_t registers;           /* per thread */
    int32_t static_smem, dynamic_smem; /* bytes */
    uint64_t bytes;              /* memcpy / memset */
    const char *copy_kind;       /* memcpy: "HtoD", "DtoH", "DtoD", ...; else NULL */
    uint32_t graph_id;           /* 0 unless launched from a CUDA graph */
    uint64_t graph_node_id;
    uint64_t orig_node_id;       /* ZB_TRACE_GRAPH_CLONE */
    uint64_t phase_id;           /* ZB_TRACE_CORRELATION; 0: no phase current */
    uint64_t layer_id;           /* ZB_TRACE_CORRELATION, ZB_TRACE_GRAPH_NODE; 0: none */
    const char *name;            /* kernel: demangled name; else NULL */
} zb_trace_record;

/* Receives records in the order the tracer decoded them, possibly from a
 * CUPTI worker thread, never from two threads at once (the tracer
 * serialises its calls). The sink counts what it fails to keep itself. */
typedef void (*zb_trace_sink_fn)(void *ctx, const zb_trace_record *records, size_t n);

/* ------------------------------------------------------ correlation ids */

/* A phase id packs (phase, repetition, step):
 *   bits 56..63  phase code (ZB_TRACE_PHASE_*), never 0
 *   bits 32..55  repetition + 1 (0 = a warm-up repetition)
 *   bits  0..31  decode step (1-based), 0 for the prefills
 * so an id is never 0 and sorts by phase, repetition and step. */
#define ZB_TRACE_PHASE_PREFILL 1
#define ZB_TRACE_PHASE_DECODE 2
#define ZB_TRACE_PHASE_DEPTH 3

static inline uint64_t zb_trace_phase_id(int phase, int rep, int step)
{
    uint64_t r = rep < 0 ? 0u : (uint64_t)(rep + 1) & 0xffffffu;
    return ((uint64_t)(phase & 0xff) << 56) | (r << 32) | (uint32_t)step;
}

static inline int zb_trace_phase_of(uint64_t id) { return (int)(id >> 56); }
static inline int zb_trace_rep_of(uint64_t id) { return (int)((id >> 32) & 0xffffffu) - 1; }
static inline int zb_trace_step_of(uint64_t id) { return (int)(uint32_t)id; }

/* A layer id packs (layer + 1) << 8 | part, with the parts of the plugin
 * extension (ZB_PART_* in zbench_plugin.h; layer ZB_LAYER_NONE, -1, packs
 * as 0), plus bit 63 so that no layer id is 0, which means "none". */
static inline uint64_t zb_trace_layer_id(int32_t layer, int32_t part)
{
    return ((uint64_t)(uint32_t)(layer + 1) << 8) | (uint64_t)(uint8_t)part | (1ull << 63);
}

static inline int32_t zb_trace_layer_of(uint64_t id) { return (int32_t)((id >> 8) & 0xffffffffu) - 1; }
static inline int32_t zb_trace_part_of(uint64_t id) { return (int32_t)(id & 0xff); }

/* ------------------------------------------------------------ the tracer */

typedef struct zb_tracer zb_tracer;

typedef struct zb_tracer_config {
    zb_trace_sink_fn sink;
    void *sink_ctx;
    size_t buffer_bytes; /* size of each activity buffer handed to CUPTI; 0: the default */
} zb_tracer_config;

/* Functions that can fail return 0, or write one line (no newline) into
 * msg and return nonzero. One tracer at a time per process (CUPTI's buffer
 * callbacks carry no context). */
typedef struct zb_tracer_api {
    uint32_t version; /* ZB_TRACE_API_VERSION */
    /* Subscribes to CUPTI, collection off. CUPTI's refusal (another tool
     * holds it: CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED, which
     * Nsight Systems, Nsight Compute and cuda-gdb cause) fails here. */
    int (*start)(const zb_tracer_config *cfg, zb_tracer **out, char *msg, size_t len);
    /* Activity collection (kernels, copies, sets, and the correlation
     * callbacks) on or off. Graph node bookkeeping continues either way. */
    int (*enable)(zb_tracer *t, int on, char *msg, size_t len);
    /* The phase id stack, on the thread that calls the plugin (the thread
     * that called start). */
    void (*push_phase)(zb_tracer *t, uint64_t id);
    void (*pop_phase)(zb_tracer *t);
    /* The layer stack: the shape of zb_trace_hooks (ctx is the tracer), so
     * the plugin calls the tracer without a driver hop. Same thread. */
    void (*push_layer)(void *t, int32_t layer, int32_t part);
    void (*pop_layer)(void *t);
    /* Delivers every record of work that has completed (the caller
     * synchronises the device first) to the sink. */
    int (*flush)(zb_tracer *t, char *msg, size_t len);
    /* Records lost so far: CUPTI's dropped count (no buffer space), records
     * the tracer could not decode (out of memory), stack overflows. */
    uint64_t (*dropped)(zb_tracer *t);
    /* Flushes, disables, unsubscribes and frees (t is gone even on error). */
    int (*stop)(zb_tracer *t, char *msg, size_t len);
} zb_tracer_api;

typedef const zb_tracer_api *(*zb_tracer_entry_fn)(void);

#endif
