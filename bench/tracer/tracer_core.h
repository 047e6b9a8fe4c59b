/*
 * The tracer's own bookkeeping, free of CUPTI so tests/tracer/ can run it
 * on a machine without a GPU:
 *
 *  - the phase and layer id stacks that zbench and the plugins push on the
 *    thread that drives the plugin (the "owner", the thread that started
 *    the tracer); CUPTI callbacks on that thread read their tops;
 *  - a bounded queue of notes (correlation, graph node, graph clone) that
 *    those callbacks append on the launching thread, delivered to the sink
 *    ahead of the activity records of each completed CUPTI buffer, or
 *    from the launching thread itself once the queue is full, so memory
 *    stays bounded and a launch's note always reaches the sink before
 *    its kernel does;
 *  - the delivery side: activity records batched into chunks for the
 *    sink, one delivery at a time (a mutex), and the count of records
 *    lost on the way.
 */
#ifndef ZBT_TRACER_CORE_H
#define ZBT_TRACER_CORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "trace_api.h"

#define ZBT_STACK_MAX 64

/* A stack of ids; pushes past ZBT_STACK_MAX are counted as overflows and
 * keep the depth, so pops stay balanced (the top is then the last id that
 * fitted). */
typedef struct zbt_stack {
    uint64_t v[ZBT_STACK_MAX];
    int depth;
} zbt_stack;

/* 1 when the push overflowed. */
int zbt_stack_push(zbt_stack *s, uint64_t id);
/* 1 when there was nothing to pop. */
int zbt_stack_pop(zbt_stack *s);
/* The top id, 0 when empty. */
uint64_t zbt_stack_top(const zbt_stack *s);

/* A note, compactly: ZB_TRACE_CORRELATION (corr, a = phase id, b = layer
 * id), ZB_TRACE_GRAPH_NODE (a = node id, b = layer id) or
 * ZB_TRACE_GRAPH_CLONE (a = node id, b = original node id). */
typedef struct zbt_note {
    uint32_t kind;
    uint32_t corr;
    uint64_t a, b;
} zbt_note;

/* The record a note stands for. */
void zbt_note_record(const zbt_note *n, zb_trace_record *out);

typedef struct zbt_core {
    zb_trace_sink_fn sink;
    void *sink_ctx;
    pthread_t owner;
    zbt_stack phase, layer;
    pthread_mutex_t queue_mu; /* the note queue */
    zbt_note *queue;
    size_t queue_n, queue_cap;
    pthread_mutex_t deliver_mu; /* one delivery at a time; guards what follows */
    zbt_note *taken;           /* notes being delivered */
    zb_trace_record *chunk;
    size_t chunk_n, chunk_cap;
    atomic_uint_fast64_t lost; /* records dropped on the way, stack overflows */
} zbt_core;

/* queue_cap, chunk_cap >= 1. The calling thread becomes the owner. 0, or
 * -1 out of memory (nothing to free then). */
int zbt_core_init(zbt_core *c, zb_trace_sink_fn sink, void *sink_ctx, size_t queue_cap, size_t chunk_cap);
void zbt_core_free(zbt_core *c);

/* The stacks (owner thread). */
void zbt_core_push_phase(zbt_core *c, uint64_t id);
void zbt_core_pop_phase(zbt_core *c);
void zbt_core_push_layer(zbt_core *c, int32_t layer, int32_t part);
void zbt_core_pop_layer(zbt_core *c);
/* The current layer id on the calling thread: 0 off the owner thread. */
uint64_t zbt_core_current_layer(const zbt_core *c);

/* From a CUPTI callback: API call `corr` launches GPU work now; its note
 * carries the current phase and layer ids (none off the owner thread). */
void zbt_core_note_launch(zbt_core *c, uint32_t corr);
/* Appends a note; delivers the queue first when it is full. */
void zbt_core_note(zbt_core *c, const zbt_note *n);

/* Delivery, between zbt_core_deliver_begin and _end: the queued notes go
 * out at begin, then each zbt_core_emit adds one activity record (sent
 * when the chunk is full, or at end). */
void zbt_core_deliver_begin(zbt_core *c);
void zbt_core_emit(zbt_core *c, const zb_trace_record *r);
void zbt_core_deliver_end(zbt_core *c);

void zbt_core_add_lost(zbt_core *c, uint64_t n);
uint64_t zbt_core_lost(zbt_core *c);

#endif
