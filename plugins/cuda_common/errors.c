/* The failure messages behind check.h: one line, naming the call and where
 * it was made, never printed (the driver decides what to show). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

/* Keeps a call's text short enough that the reason and location still fit. */
static const char *short_call(const char *call, char *buf, size_t len)
{
    if (strlen(call) < len) return call;
    snprintf(buf, len, "%.*s...", (int)len - 4, call);
    return buf;
}

zb_status zbe_cuda_fail(zb_error *err, cudaError_t e, const char *call, const char *file, int line)
{
    char tmp[200];
    snprintf(err->msg, sizeof err->msg, "%s failed: %s (%s) at %s:%d", short_call(call, tmp, sizeof tmp),
             cudaGetErrorString(e), cudaGetErrorName(e), file, line);
    /* clear a non-sticky error so it is not reported again by the next call */
    (void)cudaGetLastError();
    return e == cudaErrorMemoryAllocation ? ZB_ERR_OOM : ZB_ERR_DEVICE;
}

static const char *cublas_reason(cublasStatus_t e)
{
    switch (e) {
    case CUBLAS_STATUS_SUCCESS: return "success";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED: return "allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE: return "invalid value";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "architecture mismatch";
    case CUBLAS_STATUS_MAPPING_ERROR: return "mapping error";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "execution failed";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "internal error";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "not supported";
    default: return "unknown status";
    }
}

zb_status zbe_cublas_fail(zb_error *err, cublasStatus_t e, const char *call, const char *file, int line)
{
    char tmp[200];
    snprintf(err->msg, sizeof err->msg, "%s failed: cuBLAS status %d (%s) at %s:%d",
             short_call(call, tmp, sizeof tmp), (int)e, cublas_reason(e), file, line);
    return e == CUBLAS_STATUS_ALLOC_FAILED ? ZB_ERR_OOM : ZB_ERR_DEVICE;
}

zb_status zbe_append_site(zb_error *err, zb_status code, const char *file, int line)
{
    size_t used = strnlen(err->msg, sizeof err->msg);
    if (used + 1 < sizeof err->msg) snprintf(err->msg + used, sizeof err->msg - used, " (at %s:%d)", file, line);
    return code;
}

zb_status zbe_fail(zb_error *err, zb_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}
