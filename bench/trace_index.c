#include "trace_index.h"

#include <stdlib.h>
#include <string.h>

#include "zbench_plugin.h" /* zb_mix64 */

/* ------------------------------------------------------ correlation ids */

int zb_corr_init(zb_corr_window *w, uint32_t size)
{
    memset(w, 0, sizeof *w);
    if (size == 0 || (size & (size - 1)) != 0) return -1;
    w->e = calloc(size, sizeof *w->e);
    if (!w->e) return -1;
    w->mask = size - 1;
    return 0;
}

void zb_corr_free(zb_corr_window *w)
{
    free(w->e);
    memset(w, 0, sizeof *w);
}

void zb_corr_note(zb_corr_window *w, uint32_t corr, uint64_t phase, uint64_t layer)
{
    zb_corr_entry *e = &w->e[corr & w->mask];
    if (e->used && e->corr != corr) w->evicted++;
    e->corr = corr;
    e->used = 1;
    e->phase = phase;
    e->layer = layer;
}

const zb_corr_entry *zb_corr_find(const zb_corr_window *w, uint32_t corr)
{
    const zb_corr_entry *e = &w->e[corr & w->mask];
    return e->used && e->corr == corr ? e : NULL;
}

/* -------------------------------------------------------- graph nodes */

static size_t node_slot(const zb_node_map *m, uint64_t key)
{
    size_t i = (size_t)zb_mix64(key) & (m->cap - 1);
    while (m->keys[i] != 0 && m->keys[i] != key) i = (i + 1) & (m->cap - 1);
    return i;
}

static int node_grow(zb_node_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 256;
    zb_node_map g = {calloc(cap, sizeof(uint64_t)), calloc(cap, sizeof(uint64_t)), cap, 0};
    if (!g.keys || !g.vals) {
        free(g.keys);
        free(g.vals);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i]) {
            size_t j = node_slot(&g, m->keys[i]);
            g.keys[j] = m->keys[i];
            g.vals[j] = m->vals[i];
            g.n++;
        }
    free(m->keys);
    free(m->vals);
    *m = g;
    return 0;
}

int zb_node_put(zb_node_map *m, uint64_t key, uint64_t val)
{
    if (key == 0) return 0; /* 0 is "not a graph node" */
    /* at most half full, so probes stay short and always end */
    if ((m->n + 1) * 2 > m->cap && node_grow(m) != 0) return -1;
    size_t i = node_slot(m, key);
    if (m->keys[i] == 0) m->n++;
    m->keys[i] = key;
    m->vals[i] = val;
    return 0;
}

int zb_node_get(const zb_node_map *m, uint64_t key, uint64_t *val)
{
    if (key == 0 || m->cap == 0) return 0;
    size_t i = node_slot(m, key);
    if (m->keys[i] != key) return 0;
    *val = m->vals[i];
    return 1;
}

void zb_node_free(zb_node_map *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

/* -------------------------------------------------------------- names */

static uint64_t hash_text(const char *s)
{
    uint64_t h = 0x6a09e667f3bcc908ull;
    for (; *s; s++) h = zb_mix64(h ^ (uint8_t)*s);
    return h;
}

static size_t name_slot(zb_name **slots, size_t cap, const char *text)
{
    size_t i = (size_t)hash_text(text) & (cap - 1);
    while (slots[i] && strcmp(slots[i]->text, text) != 0) i = (i + 1) & (cap - 1);
    return i;
}

static int name_grow(zb_name_table *t)
{
    size_t cap = t->cap ? t->cap * 2 : 64;
    zb_name **slots = calloc(cap, sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i]) slots[name_slot(slots, cap, t->slots[i]->text)] = t->slots[i];
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return 0;
}

const zb_name *zb_name_intern(zb_name_table *t, const char *text, const char *(*classify)(const char *))
{
    if ((t->n + 1) * 2 > t->cap && name_grow(t) != 0) return NULL;
    size_t i = name_slot(t->slots, t->cap, text);
    if (t->slots[i]) return t->slots[i];
    zb_name *e = malloc(sizeof *e);
    char *copy = strdup(text);
    if (!e || !copy) {
        free(e);
        free(copy);
        return NULL;
    }
    e->text = copy;
    e->cls = classify(text);
    t->slots[i] = e;
    t->n++;
    return e;
}

void zb_name_free(zb_name_table *t)
{
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i]) {
            free(t->slots[i]->text);
            free(t->slots[i]);
        }
    free(t->slots);
    memset(t, 0, sizeof *t);
}
