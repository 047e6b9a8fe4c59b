/*
 * zb.calibrate.v1 for the CUDA plugins: the device's two ceilings, measured
 * the way METHOD-style roofline work wants them: a large device-to-device
 * copy (bytes read + written per second) and a large 16-bit matrix product
 * through the same cuBLASLt path the engine uses, on non-zero synthetic
 * data (zeros can run faster than real data), after warm-up, median of
 * several timed repetitions with CUDA events.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "engine.h"

#define CALIB_COPY_BYTES ((size_t)1 << 30) /* far beyond any L2 */
#define CALIB_GEMM_N 8192                  /* fills the chip; 1.1e12 FLOP per product */
#define CALIB_WARMUP 2
#define CALIB_REPS 10

typedef struct calib {
    cudaStream_t stream;
    cudaEvent_t start, stop;
    void *src, *dst;   /* copy buffers */
    zbk_half *x, *w, *y; /* GEMM operands */
    zb_blas *blas;
} calib;

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

static zb_status gemm_once(calib *c, zb_error *err)
{
    zb_linear_args a = {0};
    a.x = c->x, a.ldx = CALIB_GEMM_N;
    a.w = c->w, a.ldw = CALIB_GEMM_N;
    a.y = c->y, a.ldy = CALIB_GEMM_N, a.y_dtype = ZBK_HALF_DTYPE;
    a.rows = a.in = a.out = CALIB_GEMM_N;
    a.batch = 1;
    ZBE_LIB(zb_linear(c->blas, &a, c->stream, err));
    return ZB_OK;
}

/* Median milliseconds of `what` (0: copy, 1: GEMM). */
static zb_status time_median(calib *c, int what, float *ms, zb_error *err)
{
    float t[CALIB_REPS];
    for (int i = -CALIB_WARMUP; i < CALIB_REPS; i++) {
        ZBE_CUDA(cudaEventRecord(c->start, c->stream));
        if (what == 0) ZBE_CUDA(cudaMemcpyAsync(c->dst, c->src, CALIB_COPY_BYTES, cudaMemcpyDeviceToDevice, c->stream));
        else ZBE_TRY(gemm_once(c, err));
        ZBE_CUDA(cudaEventRecord(c->stop, c->stream));
        ZBE_CUDA(cudaEventSynchronize(c->stop));
        if (i >= 0) ZBE_CUDA(cudaEventElapsedTime(&t[i], c->start, c->stop));
    }
    qsort(t, CALIB_REPS, sizeof t[0], cmp_float);
    *ms = t[CALIB_REPS / 2];
    return ZB_OK;
}

static zb_status measure(calib *c, int32_t device, double *copy_gbps, double *gemm_tflops, zb_error *err)
{
    const size_t n = (size_t)CALIB_GEMM_N * CALIB_GEMM_N;
    ZBE_CUDA(cudaSetDevice(device));
    ZBE_CUDA(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
    ZBE_CUDA(cudaEventCreate(&c->start));
    ZBE_CUDA(cudaEventCreate(&c->stop));
    ZBE_CUDA(cudaMalloc(&c->src, CALIB_COPY_BYTES));
    ZBE_CUDA(cudaMalloc(&c->dst, CALIB_COPY_BYTES));
    ZBE_CUDA(cudaMemsetAsync(c->src, 0x5a, CALIB_COPY_BYTES, c->stream));
    ZBE_CUDA(cudaMalloc((void **)&c->x, n * sizeof(zbk_half)));
    ZBE_CUDA(cudaMalloc((void **)&c->w, n * sizeof(zbk_half)));
    ZBE_CUDA(cudaMalloc((void **)&c->y, n * sizeof(zbk_half)));
    /* uniform values in [-1, 1): the products stay finite and non-trivial */
    zb_synth sx = {0x63616c6962ull, 1, 0.0f, 1.0f}, sw = {0x63616c6962ull, 2, 0.0f, 1.0f};
    ZBE_CUDA(zbk_synth(c->x, ZBK_HALF_DTYPE, sx, ZBK_HALF_DTYPE, CALIB_GEMM_N, CALIB_GEMM_N, ZBK_ROWS_AS_IS,
                       c->stream));
    ZBE_CUDA(zbk_synth(c->w, ZBK_HALF_DTYPE, sw, ZBK_HALF_DTYPE, CALIB_GEMM_N, CALIB_GEMM_N, ZBK_ROWS_AS_IS,
                       c->stream));
    ZBE_LIB(zb_blas_create(&c->blas, ZBE_BLAS_WORKSPACE, err));
    float copy_ms, gemm_ms;
    ZBE_TRY(time_median(c, 0, &copy_ms, err));
    ZBE_TRY(time_median(c, 1, &gemm_ms, err));
    *copy_gbps = 2.0 * (double)CALIB_COPY_BYTES / (copy_ms * 1e-3) / 1e9;
    *gemm_tflops = 2.0 * (double)CALIB_GEMM_N * CALIB_GEMM_N * CALIB_GEMM_N / (gemm_ms * 1e-3) / 1e12;
    return ZB_OK;
}

static void release(calib *c)
{
    if (c->blas) zb_blas_destroy(c->blas);
    cudaFree(c->src), cudaFree(c->dst);
    cudaFree(c->x), cudaFree(c->w), cudaFree(c->y);
    if (c->start) cudaEventDestroy(c->start);
    if (c->stop) cudaEventDestroy(c->stop);
    if (c->stream) cudaStreamDestroy(c->stream);
}

zb_status zbe_calibrate(int32_t device, double *copy_gbps, double *gemm_tflops, char *method, size_t method_len,
                        zb_error *err)
{
    calib c;
    memset(&c, 0, sizeof c);
    zb_status st = measure(&c, device, copy_gbps, gemm_tflops, err);
    release(&c);
    if (st == ZB_OK)
        snprintf(method, method_len,
                 "cuda: %zu MiB device-to-device copy (read+write) and a %dx%dx%d %s GEMM (cuBLASLt, fp32 "
                 "accumulate, uniform data); CUDA events, median of %d after %d warm-up",
                 CALIB_COPY_BYTES >> 20, CALIB_GEMM_N, CALIB_GEMM_N, CALIB_GEMM_N, zb_dtype_name(ZBK_HALF_DTYPE),
                 CALIB_REPS, CALIB_WARMUP);
    return st;
}
