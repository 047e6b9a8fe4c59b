/*
 * Error checks of the CUDA engine. Every CUDA runtime, cuBLAS and kernel
 * call goes through one of these, so a failure becomes a one-line message
 * naming the call and the file:line it came from, and the zb_status
 * propagates up to the API function. They expect a `zb_error *err` in scope
 * and return from the enclosing function (which returns zb_status).
 */
#ifndef ZBE_CHECK_H
#define ZBE_CHECK_H

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "zbench_plugin.h"

/* Fill err with "<call> failed: <reason> (file:line)"; an allocation failure
 * maps to ZB_ERR_OOM, everything else to ZB_ERR_DEVICE. */
zb_status zbe_cuda_fail(zb_error *err, cudaError_t e, const char *call, const char *file, int line);
zb_status zbe_cublas_fail(zb_error *err, cublasStatus_t e, const char *call, const char *file, int line);
zb_status zbe_append_site(zb_error *err, zb_status code, const char *file, int line);
/* printf-style one-line failure; returns code. */
zb_status zbe_fail(zb_error *err, zb_status code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define ZBE_CUDA(call)                                                                                        \
    do {                                                                                                      \
        cudaError_t zbe_e_ = (call);                                                                          \
        if (zbe_e_ != cudaSuccess) return zbe_cuda_fail(err, zbe_e_, #call, __FILE__, __LINE__);              \
    } while (0)

#define ZBE_CUBLAS(call)                                                                                      \
    do {                                                                                                      \
        cublasStatus_t zbe_e_ = (call);                                                                       \
        if (zbe_e_ != CUBLAS_STATUS_SUCCESS) return zbe_cublas_fail(err, zbe_e_, #call, __FILE__, __LINE__);  \
    } while (0)

/* A library call that returns zb_status and fills err itself (zb_linear,
 * zb_blas_create): on failure the call site is appended to its message. */
#define ZBE_LIB(call)                                                                                         \
    do {                                                                                                      \
        zb_status zbe_s_ = (call);                                                                            \
        if (zbe_s_ != ZB_OK) return zbe_append_site(err, zbe_s_, __FILE__, __LINE__);                        \
    } while (0)

/* Propagates a zb_status from a function that already filled err. */
#define ZBE_TRY(expr)                                                                                         \
    do {                                                                                                      \
        zb_status zbe_s_ = (expr);                                                                            \
        if (zbe_s_ != ZB_OK) return zbe_s_;                                                                   \
    } while (0)

#endif /* ZBE_CHECK_H */
