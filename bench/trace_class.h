/*
 * Kernel classes for the trace summaries, from the demangled name alone
 * (docs/SCHEMA.md lists the rules): gemm, scan, conv, attention, norm or
 * other; copies and sets are classed by their kind (memcpy, memset).
 */
#ifndef ZB_TRACE_CLASS_H
#define ZB_TRACE_CLASS_H

#include <stddef.h>

/* A static string; never NULL. */
const char *zb_kernel_class(const char *demangled_name);

/* The name to show in a summary: no return type, no parameter list, no
 * "(anonymous namespace)::", cut to len - 1 bytes ("..." marks a cut). */
void zb_kernel_short_name(const char *demangled_name, char *out, size_t len);

#endif
