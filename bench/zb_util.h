/* Small helpers shared by the driver: error formatting, file reading. */
#ifndef ZB_UTIL_H
#define ZB_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "zbench_plugin.h"

#if defined(__GNUC__)
#define ZB_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ZB_PRINTF(a, b)
#endif

/* Writes a one-line message into err and returns code (for `return zb_fail(...)`). */
zb_status zb_fail(zb_error *err, zb_status code, const char *fmt, ...) ZB_PRINTF(3, 4);

/* Reads a whole file (at most max_bytes) into a NUL-terminated heap buffer. */
zb_status zb_read_file(const char *path, size_t max_bytes, char **out, size_t *len, zb_error *err);

/* The last path component, for messages. */
const char *zb_basename(const char *path);

/* Multiplies non-negative sizes, returning 0 on overflow past limit. */
int zb_mul_ok(uint64_t a, uint64_t b, uint64_t limit, uint64_t *out);

/* "f32", "f16" or "bf16" -> *out; 0 for anything else. */
int zb_parse_dtype(const char *s, zb_dtype *out);

#endif
