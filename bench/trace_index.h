/*
 * The bounded in-memory indexes behind trace ingestion (trace_store.c):
 *
 *  - a window of recent correlation ids and the phase and layer ids they
 *    were made under. CUPTI's correlation ids grow with every
 *    API call, so a direct-mapped array indexed by the id's low bits keeps
 *    the most recent `size` of them in constant memory; an entry is
 *    overwritten by the id `size` later (counted as evicted), long after
 *    its kernels have normally been seen;
 *  - graph node id -> layer id, for kernels replayed from CUDA graphs
 *    (a few entries per captured layer launch, so it simply grows);
 *  - interned kernel names with their class, so rows point at one copy of
 *    each distinct name.
 */
#ifndef ZB_TRACE_INDEX_H
#define ZB_TRACE_INDEX_H

#include <stddef.h>
#include <stdint.h>

typedef struct zb_corr_entry {
    uint32_t corr;  /* the correlation id held, valid when used */
    uint32_t used;
    uint64_t phase; /* phase and layer ids (trace_api.h; 0: none) */
    uint64_t layer;
} zb_corr_entry;

typedef struct zb_corr_window {
    zb_corr_entry *e;
    uint32_t mask;    /* size - 1, size a power of two */
    uint64_t evicted; /* live entries overwritten by a later id */
} zb_corr_window;

/* size: a power of two >= 1. Returns 0, or -1 out of memory. */
int zb_corr_init(zb_corr_window *w, uint32_t size);
void zb_corr_free(zb_corr_window *w);
/* Notes that API call `corr` was made under phase id `phase` and layer id
 * `layer` (0: none). */
void zb_corr_note(zb_corr_window *w, uint32_t corr, uint64_t phase, uint64_t layer);
/* The entry of `corr`, or NULL when never noted or evicted. */
const zb_corr_entry *zb_corr_find(const zb_corr_window *w, uint32_t corr);

/* Open addressing on nonzero 64-bit keys (CUPTI graph node ids). */
typedef struct zb_node_map {
    uint64_t *keys, *vals;
    size_t cap, n;
} zb_node_map;

/* Returns 0, or -1 out of memory (the map is then unchanged). */
int zb_node_put(zb_node_map *m, uint64_t key, uint64_t val);
/* 1 and *val when found, else 0. */
int zb_node_get(const zb_node_map *m, uint64_t key, uint64_t *val);
void zb_node_free(zb_node_map *m);

typedef struct zb_name {
    char *text;
    const char *cls; /* a static string: the name's class */
} zb_name;

typedef struct zb_name_table {
    zb_name **slots;
    size_t cap, n;
} zb_name_table;

/* The interned copy of `text`, or NULL out of memory; classify(text) runs
 * once, when the name is first seen. */
const zb_name *zb_name_intern(zb_name_table *t, const char *text, const char *(*classify)(const char *));
void zb_name_free(zb_name_table *t);

#endif
