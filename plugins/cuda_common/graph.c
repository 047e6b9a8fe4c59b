/*
 * The cuda_graph variant of the engine: the same launches as cuda_fused,
 * captured once into CUDA graphs and replayed.
 *
 * Decode: one graph per (batch, capacity), i.e. per runtime allocation.
 * The step reads its position from device memory and advances it itself
 * (forward.c), so a graph captured at one position replays at every other.
 * The first decode step after the runtime was (re)built runs eagerly: it
 * is the warm-up that lets zb_linear choose and cache its GEMM plans on the
 * host, so that the capture (the second step) plans and allocates nothing.
 *
 * Prefill: one graph per (chunk length T, start position, logits or not),
 * so a prompt of the same length from a reset session (what every
 * repetition of a benchmark does) replays its chunks. A key is run eagerly
 * the first time it is seen and captured the second; at most
 * ZBE_PREFILL_GRAPHS are kept, the least recently used dropped first.
 *
 * A resize moves every buffer: `invalidate` destroys all graphs, and the
 * next steps warm up and capture again. A reset keeps every address, so the
 * graphs survive it. The state (graphs and counters) is allocated on first
 * use and freed by the engine at destroy.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "engine.h"

#define ZBE_PREFILL_GRAPHS 8

typedef struct prefill_graph {
    int used;               /* the slot holds a key */
    int T, pos0, logits;    /* the key */
    cudaGraphExec_t exec;   /* NULL until its second use */
    uint64_t last_use;
} prefill_graph;

typedef struct graph_state {
    cudaGraphExec_t decode; /* NULL until captured */
    int decode_warm;        /* an eager decode step ran on the current runtime */
    prefill_graph prefill[ZBE_PREFILL_GRAPHS];
    uint64_t clock;
    zb_graph_stats stats;   /* counters; `graphs` is counted when asked */
} graph_state;

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static graph_state *state_of(zb_session *s, zb_error *err)
{
    if (!s->variant_state) {
        s->variant_state = calloc(1, sizeof(graph_state));
        if (!s->variant_state) zbe_fail(err, ZB_ERR_OOM, "out of host memory for the graph state");
    }
    return s->variant_state;
}

static void exec_destroy(cudaGraphExec_t *e)
{
    if (!*e) return;
    (void)cudaGraphExecDestroy(*e);
    *e = NULL;
}

/* What a capture records: a decode step, or one prefill chunk. */
typedef struct issue_args {
    int decode;
    int T, pos0, logits;
} issue_args;

static zb_status issue(zb_session *s, const issue_args *a, zb_error *err)
{
    return a->decode ? zbe_decode_step(s, err) : zbe_prefill_chunk(s, a->T, a->pos0, a->logits, err);
}

/* Captures what `a` issues on s->stream (nothing runs) and instantiates it;
 * its node count goes to *nodes when given. */
static zb_status capture(zb_session *s, graph_state *g, const issue_args *a, cudaGraphExec_t *out, int64_t *nodes,
                         zb_error *err)
{
    const double t0 = now_ms();
    cudaGraph_t graph = NULL;
    /* thread-local: another thread's unrelated CUDA calls may go on */
    ZBE_CUDA(cudaStreamBeginCapture(s->stream, cudaStreamCaptureModeThreadLocal));
    const zb_status st = issue(s, a, err);
    /* the capture always ends, or the stream would stay in capture mode */
    const cudaError_t e = cudaStreamEndCapture(s->stream, &graph);
    if (st != ZB_OK || e != cudaSuccess) {
        if (graph) (void)cudaGraphDestroy(graph);
        (void)cudaGetLastError();
        if (st != ZB_OK) return st;
        return zbe_cuda_fail(err, e, "cudaStreamEndCapture", __FILE__, __LINE__);
    }
    size_t n = 0;
    cudaError_t ie = cudaGraphGetNodes(graph, NULL, &n);
    if (ie == cudaSuccess) ie = cudaGraphInstantiate(out, graph, 0);
    (void)cudaGraphDestroy(graph);
    if (ie != cudaSuccess) {
        *out = NULL;
        return zbe_cuda_fail(err, ie, "cudaGraphInstantiate", __FILE__, __LINE__);
    }
    if (nodes) *nodes = (int64_t)n;
    g->stats.captures++;
    g->stats.capture_ms += now_ms() - t0;
    return ZB_OK;
}

static zb_status replay(zb_session *s, graph_state *g, cudaGraphExec_t exec, zbe_step_range range, zb_error *err)
{
    /* the graph's kernels belong to this step: one range around the launch */
    zbe_nvtx_push_step(&s->nvtx, range);
    const cudaError_t e = cudaGraphLaunch(exec, s->stream);
    zbe_nvtx_pop(&s->nvtx);
    if (e != cudaSuccess) return zbe_cuda_fail(err, e, "cudaGraphLaunch", __FILE__, __LINE__);
    g->stats.replays++;
    return ZB_OK;
}

static zb_status graph_decode(zb_session *s, zb_error *err)
{
    graph_state *g = state_of(s, err);
    if (!g) return ZB_ERR_OOM;
    if (!g->decode) {
        if (!g->decode_warm) {
            ZBE_TRY(zbe_decode_step(s, err));
            g->decode_warm = 1;
            g->stats.eager++;
            return ZB_OK;
        }
        const issue_args a = {.decode = 1};
        ZBE_TRY(capture(s, g, &a, &g->decode, &g->stats.decode_nodes, err));
    }
    return replay(s, g, g->decode, ZBE_RANGE_DECODE, err);
}

/* The slot of a key, or a free / least recently used one (emptied). */
static prefill_graph *prefill_slot(graph_state *g, int T, int pos0, int logits, int *found)
{
    prefill_graph *victim = &g->prefill[0];
    for (int i = 0; i < ZBE_PREFILL_GRAPHS; i++) {
        prefill_graph *p = &g->prefill[i];
        if (p->used && p->T == T && p->pos0 == pos0 && p->logits == logits) {
            *found = 1;
            return p;
        }
        if (!p->used || (victim->used && p->last_use < victim->last_use)) victim = p;
    }
    *found = 0;
    exec_destroy(&victim->exec);
    memset(victim, 0, sizeof *victim);
    return victim;
}

static zb_status graph_prefill(zb_session *s, int T, int pos0, int logits, zb_error *err)
{
    graph_state *g = state_of(s, err);
    if (!g) return ZB_ERR_OOM;
    int found = 0;
    prefill_graph *p = prefill_slot(g, T, pos0, logits, &found);
    p->last_use = ++g->clock;
    if (!found) { /* first sight: run it, remember the key */
        p->used = 1, p->T = T, p->pos0 = pos0, p->logits = logits;
        ZBE_TRY(zbe_prefill_chunk(s, T, pos0, logits, err));
        g->stats.eager++;
        return ZB_OK;
    }
    if (!p->exec) {
        const issue_args a = {.decode = 0, .T = T, .pos0 = pos0, .logits = logits};
        ZBE_TRY(capture(s, g, &a, &p->exec, NULL, err));
    }
    return replay(s, g, p->exec, ZBE_RANGE_PREFILL, err);
}

static void graph_invalidate(zb_session *s)
{
    graph_state *g = s->variant_state;
    if (!g) return;
    exec_destroy(&g->decode);
    g->decode_warm = 0;
    g->stats.decode_nodes = 0;
    for (int i = 0; i < ZBE_PREFILL_GRAPHS; i++) {
        exec_destroy(&g->prefill[i].exec);
        memset(&g->prefill[i], 0, sizeof g->prefill[i]);
    }
}

const zbe_variant zbe_graph_variant = {
    .name = "cuda_graph",
    .issue_decode = graph_decode,
    .issue_prefill = graph_prefill,
    .invalidate = graph_invalidate,
};

zb_status zbe_graph_stats(zb_session *s, zb_graph_stats *out, zb_error *err)
{
    if (!s || !out) return zbe_fail(err, ZB_ERR_INVALID, "graph stats need a session and an output");
    memset(out, 0, sizeof *out);
    if (s->variant != &zbe_graph_variant)
        return zbe_fail(err, ZB_ERR_UNSUPPORTED, "session of %s replays no graphs", s->variant->name);
    const graph_state *g = s->variant_state;
    if (!g) return ZB_OK;
    *out = g->stats;
    out->graphs = g->decode != NULL;
    for (int i = 0; i < ZBE_PREFILL_GRAPHS; i++) out->graphs += g->prefill[i].exec != NULL;
    return ZB_OK;
}
