/*
 * Memory for report generation: a growable text buffer and an arena.
 *
 * Both keep a sticky out-of-memory flag instead of failing each call, so
 * the long chains of appends that build a page stay readable and are
 * checked once, where the text is written out.
 */
#ifndef ZB_RBUF_H
#define ZB_RBUF_H

#include <stddef.h>

#include "zb_util.h"

typedef struct zb_buf {
    char *s;   /* NUL-terminated once anything was appended; may be NULL */
    size_t len, cap;
    int oom;
} zb_buf;

void zb_buf_put(zb_buf *b, const char *s, size_t n);
void zb_buf_puts(zb_buf *b, const char *s);
void zb_buf_printf(zb_buf *b, const char *fmt, ...) ZB_PRINTF(2, 3);
/* The text so far ("" when empty). */
const char *zb_buf_str(const zb_buf *b);
void zb_buf_free(zb_buf *b);

typedef struct zb_arena_block zb_arena_block;
typedef struct zb_arena {
    zb_arena_block *head;
    int oom;
} zb_arena;

/* Zeroed memory that lives until zb_arena_free; NULL (and oom set) when
 * malloc fails. */
void *zb_arena_alloc(zb_arena *a, size_t n);
/* A copy of s (NULL copies as ""). */
char *zb_arena_strdup(zb_arena *a, const char *s);
char *zb_arena_printf(zb_arena *a, const char *fmt, ...) ZB_PRINTF(2, 3);
void zb_arena_free(zb_arena *a);

/* Makes room for `need` elements of `size` bytes in a malloc'd array,
 * doubling; returns 0 when memory runs out (the array is left as it was). */
int zb_grow(void **array, int *cap, int need, size_t size);

#endif
