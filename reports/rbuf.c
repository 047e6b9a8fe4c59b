#include "rbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int reserve(zb_buf *b, size_t extra)
{
    if (b->oom) return 0;
    if (b->len + extra + 1 <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2) {
            b->oom = 1;
            return 0;
        }
        cap *= 2;
    }
    char *s = realloc(b->s, cap);
    if (!s) {
        b->oom = 1;
        return 0;
    }
    b->s = s;
    b->cap = cap;
    return 1;
}

void zb_buf_put(zb_buf *b, const char *s, size_t n)
{
    if (!reserve(b, n)) return;
    if (n) memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void zb_buf_puts(zb_buf *b, const char *s)
{
    zb_buf_put(b, s, strlen(s));
}

void zb_buf_printf(zb_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need < 0) {
        b->oom = 1; /* an encoding error: treat as a failed append */
        return;
    }
    if (!reserve(b, (size_t)need)) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)need;
}

const char *zb_buf_str(const zb_buf *b)
{
    return b->s ? b->s : "";
}

void zb_buf_free(zb_buf *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

/* ------------------------------------------------------------------ arena */

#define ARENA_BLOCK 65536

struct zb_arena_block {
    zb_arena_block *next;
    size_t used, size;
    max_align_t data[]; /* aligned for any object */
};

void *zb_arena_alloc(zb_arena *a, size_t n)
{
    const size_t align = sizeof(max_align_t);
    n = (n + align - 1) / align * align;
    if (n == 0) n = align;
    zb_arena_block *blk = a->head;
    if (!blk || blk->size - blk->used < n) {
        /* large requests get a block of their own, placed behind the
         * current one so its free space is not lost */
        size_t size = n > ARENA_BLOCK / 4 ? n : ARENA_BLOCK;
        zb_arena_block *nb = malloc(sizeof *nb + size);
        if (!nb) {
            a->oom = 1;
            return NULL;
        }
        nb->used = 0;
        nb->size = size;
        if (blk && size != ARENA_BLOCK) {
            nb->next = blk->next;
            blk->next = nb;
        } else {
            nb->next = blk;
            a->head = nb;
        }
        blk = nb;
    }
    void *p = (char *)blk->data + blk->used;
    blk->used += n;
    memset(p, 0, n);
    return p;
}

char *zb_arena_strdup(zb_arena *a, const char *s)
{
    if (!s) s = "";
    size_t n = strlen(s) + 1;
    char *p = zb_arena_alloc(a, n);
    if (p) memcpy(p, s, n);
    return p;
}

char *zb_arena_printf(zb_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need < 0) {
        a->oom = 1;
        return NULL;
    }
    char *p = zb_arena_alloc(a, (size_t)need + 1);
    if (!p) return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)need + 1, fmt, ap);
    va_end(ap);
    return p;
}

void zb_arena_free(zb_arena *a)
{
    while (a->head) {
        zb_arena_block *next = a->head->next;
        free(a->head);
        a->head = next;
    }
    a->oom = 0;
}

int zb_grow(void **array, int *cap, int need, size_t size)
{
    if (need <= *cap) return 1;
    int n = *cap ? *cap : 8;
    while (n < need) {
        if (n > INT32_MAX / 2) return 0;
        n *= 2;
    }
    if ((size_t)n > SIZE_MAX / size) return 0;
    void *p = realloc(*array, (size_t)n * size);
    if (!p) return 0;
    *array = p;
    *cap = n;
    return 1;
}
