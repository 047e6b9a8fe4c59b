#include "tracer_core.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- stacks */

int zbt_stack_push(zbt_stack *s, uint64_t id)
{
    if (s->depth >= ZBT_STACK_MAX) {
        s->depth++;
        return 1;
    }
    s->v[s->depth++] = id;
    return 0;
}

int zbt_stack_pop(zbt_stack *s)
{
    if (s->depth == 0) return 1;
    s->depth--;
    return 0;
}

uint64_t zbt_stack_top(const zbt_stack *s)
{
    if (s->depth == 0) return 0;
    return s->v[(s->depth < ZBT_STACK_MAX ? s->depth : ZBT_STACK_MAX) - 1];
}

/* -------------------------------------------------------------- notes */

void zbt_note_record(const zbt_note *n, zb_trace_record *out)
{
    memset(out, 0, sizeof *out);
    out->kind = (zb_trace_kind)n->kind;
    switch (n->kind) {
    case ZB_TRACE_CORRELATION:
        out->correlation_id = n->corr;
        out->phase_id = n->a;
        out->layer_id = n->b;
        break;
    case ZB_TRACE_GRAPH_NODE:
        out->graph_node_id = n->a;
        out->layer_id = n->b;
        break;
    case ZB_TRACE_GRAPH_CLONE:
        out->graph_node_id = n->a;
        out->orig_node_id = n->b;
        break;
    default: break;
    }
}

/* ------------------------------------------------------------ the core */

int zbt_core_init(zbt_core *c, zb_trace_sink_fn sink, void *sink_ctx, size_t queue_cap, size_t chunk_cap)
{
    memset(c, 0, sizeof *c);
    if (queue_cap == 0 || chunk_cap == 0) return -1;
    c->sink = sink;
    c->sink_ctx = sink_ctx;
    c->owner = pthread_self();
    c->queue = malloc(queue_cap * sizeof *c->queue);
    c->taken = malloc(queue_cap * sizeof *c->taken);
    c->chunk = malloc(chunk_cap * sizeof *c->chunk);
    if (!c->queue || !c->taken || !c->chunk) {
        free(c->queue);
        free(c->taken);
        free(c->chunk);
        return -1;
    }
    if (pthread_mutex_init(&c->queue_mu, NULL) != 0) {
        free(c->queue);
        free(c->taken);
        free(c->chunk);
        return -1;
    }
    if (pthread_mutex_init(&c->deliver_mu, NULL) != 0) {
        pthread_mutex_destroy(&c->queue_mu);
        free(c->queue);
        free(c->taken);
        free(c->chunk);
        return -1;
    }
    c->queue_cap = queue_cap;
    c->chunk_cap = chunk_cap;
    atomic_init(&c->lost, 0);
    return 0;
}

void zbt_core_free(zbt_core *c)
{
    pthread_mutex_destroy(&c->queue_mu);
    pthread_mutex_destroy(&c->deliver_mu);
    free(c->queue);
    free(c->taken);
    free(c->chunk);
    memset(c, 0, sizeof *c);
}

void zbt_core_add_lost(zbt_core *c, uint64_t n)
{
    atomic_fetch_add(&c->lost, n);
}

uint64_t zbt_core_lost(zbt_core *c)
{
    return atomic_load(&c->lost);
}

/* An overflowing stack loses the attribution of what runs under its
 * deeper ids: counted with the lost records, as a trace fault. */
void zbt_core_push_phase(zbt_core *c, uint64_t id)
{
    if (zbt_stack_push(&c->phase, id)) zbt_core_add_lost(c, 1);
}

void zbt_core_pop_phase(zbt_core *c)
{
    if (zbt_stack_pop(&c->phase)) zbt_core_add_lost(c, 1);
}

void zbt_core_push_layer(zbt_core *c, int32_t layer, int32_t part)
{
    if (zbt_stack_push(&c->layer, zb_trace_layer_id(layer, part))) zbt_core_add_lost(c, 1);
}

void zbt_core_pop_layer(zbt_core *c)
{
    if (zbt_stack_pop(&c->layer)) zbt_core_add_lost(c, 1);
}

uint64_t zbt_core_current_layer(const zbt_core *c)
{
    return pthread_equal(pthread_self(), c->owner) ? zbt_stack_top(&c->layer) : 0;
}

void zbt_core_note_launch(zbt_core *c, uint32_t corr)
{
    zbt_note n = {ZB_TRACE_CORRELATION, corr, 0, 0};
    /* the stacks belong to the owner thread: another thread's launches
     * (none in zbench today) are noted as outside any phase */
    if (pthread_equal(pthread_self(), c->owner)) {
        n.a = zbt_stack_top(&c->phase);
        n.b = zbt_stack_top(&c->layer);
    }
    zbt_core_note(c, &n);
}

void zbt_core_note(zbt_core *c, const zbt_note *n)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        pthread_mutex_lock(&c->queue_mu);
        if (c->queue_n < c->queue_cap) {
            c->queue[c->queue_n++] = *n;
            pthread_mutex_unlock(&c->queue_mu);
            return;
        }
        pthread_mutex_unlock(&c->queue_mu);
        /* full: deliver from this thread, which bounds the queue */
        zbt_core_deliver_begin(c);
        zbt_core_deliver_end(c);
    }
    zbt_core_add_lost(c, 1); /* other threads keep filling it: cannot happen with one launching thread */
}

/* ------------------------------------------------------------ delivery */

static void send_chunk(zbt_core *c)
{
    if (c->chunk_n == 0) return;
    c->sink(c->sink_ctx, c->chunk, c->chunk_n);
    c->chunk_n = 0;
}

void zbt_core_emit(zbt_core *c, const zb_trace_record *r)
{
    c->chunk[c->chunk_n++] = *r;
    if (c->chunk_n == c->chunk_cap) send_chunk(c);
}

void zbt_core_deliver_begin(zbt_core *c)
{
    pthread_mutex_lock(&c->deliver_mu);
    /* take the queue by swapping the arrays: the launching thread waits
     * only for the swap, never for the sink */
    pthread_mutex_lock(&c->queue_mu);
    zbt_note *notes = c->queue;
    size_t n = c->queue_n;
    c->queue = c->taken;
    c->queue_n = 0;
    c->taken = notes;
    pthread_mutex_unlock(&c->queue_mu);
    zb_trace_record r;
    for (size_t i = 0; i < n; i++) {
        zbt_note_record(&notes[i], &r);
        zbt_core_emit(c, &r);
    }
}

void zbt_core_deliver_end(zbt_core *c)
{
    send_chunk(c);
    pthread_mutex_unlock(&c->deliver_mu);
}
