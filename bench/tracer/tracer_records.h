/*
 * CUPTI activity records into zb_trace_record (trace_api.h): kernels
 * (with demangled names), copies and sets. The record struct versions
 * follow the CUPTI headers built against (CUPTI returns the layout of the
 * version its client was compiled with).
 */
#ifndef ZBT_TRACER_RECORDS_H
#define ZBT_TRACER_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include <cupti.h>

#include "trace_api.h"

#if CUPTI_API_VERSION >= 130000
typedef CUpti_ActivityKernel10 zbt_kernel_record;
typedef CUpti_ActivityMemcpy6 zbt_memcpy_record;
typedef CUpti_ActivityMemset4 zbt_memset_record;
#elif CUPTI_API_VERSION >= 18 /* CUDA 12.x */
typedef CUpti_ActivityKernel9 zbt_kernel_record;
typedef CUpti_ActivityMemcpy5 zbt_memcpy_record;
typedef CUpti_ActivityMemset4 zbt_memset_record;
#else
#error "the zbench tracer needs CUPTI from CUDA 12 or later"
#endif

/* Demangled kernel names, one copy per distinct mangled name. */
typedef struct zbt_names {
    char **mangled, **demangled;
    size_t cap, n;
} zbt_names;

/* The demangled form of `mangled` (itself when it is not a mangled C++
 * name), valid until zbt_names_free; NULL out of memory. */
const char *zbt_names_get(zbt_names *t, const char *mangled);
void zbt_names_free(zbt_names *t);

/* "HtoD", "DtoH", "DtoD", ...; "?" for an unknown kind. */
const char *zbt_copy_kind(unsigned kind);

/* Decodes one record: 1 decoded into *out, 0 a kind zbench does not keep,
 * -1 out of memory, -2 incomplete (no timestamps: the record was flushed
 * before its work finished). */
int zbt_decode(const CUpti_Activity *rec, zbt_names *names, zb_trace_record *out);

#endif
