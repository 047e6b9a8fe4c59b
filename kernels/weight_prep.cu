/*
 * Weight preparation: conversion of checkpoint tensors already on the
 * device, and synthetic weights generated in place.
 *
 * Both run once per session, so they are written for exactness first and
 * speed second: one flattened grid-stride loop with 64-bit indices (a 7B
 * lm_head or a stacked tensor can pass 2^31 elements), templated on the
 * dtypes so that the inner loop holds no dtype switch.
 *
 * Synthetic values must be bit-identical to the CPU's (zb_ref_materialize
 * and the header's zb_synth_value): zb_synth_value is ZB_HD and already
 * uses explicitly rounded device operations, and the rounding to the
 * source dtype reproduces zb_round_to_dtype: bf16 through the ABI's own
 * zb_f32_to_bf16, f16 through __float2half_rn, whose round-to-nearest-even
 * with overflow to infinity from 65520 and subnormals below 2^-14 is the
 * same function as the host's frexpf/nearbyintf formula.
 */
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "zb_kernels.h"
#include "zbk_common.cuh"

namespace {

/* Source row of destination row r (see zbk_row_order). */
__device__ __forceinline__ int64_t src_row(int64_t r, int64_t rows, zbk_row_order order)
{
    if (order == ZBK_ROWS_DEINTERLEAVE) {
        const int64_t half = rows >> 1;
        return r < half ? 2 * r : 2 * (r - half) + 1;
    }
    return r;
}

/* Element loaders, one per source dtype: exact conversion to f32. */
struct LoadF32 {
    __device__ static float at(const void *p, int64_t i) { return static_cast<const float *>(p)[i]; }
};
struct LoadF16 {
    __device__ static float at(const void *p, int64_t i) { return __half2float(static_cast<const __half *>(p)[i]); }
};
struct LoadBF16 {
    __device__ static float at(const void *p, int64_t i)
    {
        return zb_bf16_to_f32(static_cast<const uint16_t *>(p)[i]);
    }
};

/* Rounding of an f32 to a source dtype's precision (zb_round_to_dtype). */
__device__ __forceinline__ float round_to(float v, zb_dtype t)
{
    if (t == ZB_DTYPE_BF16) return zb_bf16_to_f32(zb_f32_to_bf16(v));
    if (t == ZB_DTYPE_F16) return __half2float(__float2half_rn(v));
    return v;
}

/* Stores v in Dst; true when v is finite and the stored value is not (past
 * the 16-bit format's range: f16 ends at 65504). */
template <typename Dst> __device__ __forceinline__ bool store(void *p, int64_t i, float v);
template <> __device__ __forceinline__ bool store<float>(void *p, int64_t i, float v)
{
    static_cast<float *>(p)[i] = v;
    return false;
}
template <> __device__ __forceinline__ bool store<zbk_half>(void *p, int64_t i, float v)
{
    const zbk_half h = zbk_f2h(v);
    static_cast<zbk_half *>(p)[i] = h;
    return isfinite(v) && !isfinite(zbk_h2f(h));
}

template <typename Load, typename Dst>
__global__ void convert_kernel(void *dst, const void *src, int64_t rows, int64_t cols, zbk_row_order order,
                               unsigned long long *overflow)
{
    const int64_t n = rows * cols;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t r = i / cols, c = i - r * cols;
        if (store<Dst>(dst, i, Load::at(src, src_row(r, rows, order) * cols + c)) && overflow)
            atomicAdd(overflow, 1ull); /* rare: one atomic per out-of-range value */
    }
}

/* A source already in the engine's format is a bit copy: going through f32
 * would quieten NaN payloads. */
__global__ void copy_half_kernel(zbk_half *dst, const zbk_half *src, int64_t rows, int64_t cols, zbk_row_order order)
{
    const int64_t n = rows * cols;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t r = i / cols, c = i - r * cols;
        dst[i] = src[src_row(r, rows, order) * cols + c];
    }
}

template <typename Dst>
__global__ void synth_kernel(void *dst, zb_synth s, zb_dtype src_dtype, int64_t rows, int64_t cols,
                             zbk_row_order order)
{
    const int64_t n = rows * cols;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t r = i / cols, c = i - r * cols;
        const uint64_t si = (uint64_t)(src_row(r, rows, order) * cols + c);
        (void)store<Dst>(dst, i, round_to(zb_synth_value(&s, si), src_dtype));
    }
}

constexpr int kThreads = 256;

/* One source dtype's conversion to f32 or to zbk_half. */
template <typename Load>
void launch_convert(bool to_f32, unsigned grid, cudaStream_t stream, void *dst, const void *src, int64_t rows,
                    int64_t cols, zbk_row_order order, unsigned long long *overflow)
{
    if (to_f32) convert_kernel<Load, float><<<grid, kThreads, 0, stream>>>(dst, src, rows, cols, order, overflow);
    else convert_kernel<Load, zbk_half><<<grid, kThreads, 0, stream>>>(dst, src, rows, cols, order, overflow);
}

bool valid_shape(int64_t rows, int64_t cols, zbk_row_order order)
{
    if (rows < 0 || cols < 0) return false;
    if (order != ZBK_ROWS_AS_IS && order != ZBK_ROWS_DEINTERLEAVE) return false;
    return order != ZBK_ROWS_DEINTERLEAVE || rows % 2 == 0;
}

} // namespace

extern "C" cudaError_t zbk_convert(void *dst, zb_dtype dst_dtype, const void *src, zb_dtype src_dtype, int64_t rows,
                                   int64_t cols, zbk_row_order order, unsigned long long *overflow,
                                   cudaStream_t stream)
{
    if (!valid_shape(rows, cols, order) || (dst_dtype != ZB_DTYPE_F32 && dst_dtype != ZBK_HALF_DTYPE))
        return cudaErrorInvalidValue;
    if (rows * cols == 0) return cudaSuccess;
    if (!dst || !src) return cudaErrorInvalidValue;
    const unsigned grid = zbk_grid_1d(rows * cols, kThreads);
    const bool to_f32 = dst_dtype == ZB_DTYPE_F32;
    if (!to_f32 && src_dtype == ZBK_HALF_DTYPE) {
        copy_half_kernel<<<grid, kThreads, 0, stream>>>(static_cast<zbk_half *>(dst),
                                                        static_cast<const zbk_half *>(src), rows, cols, order);
        return ZBK_LAUNCHED();
    }
    switch (src_dtype) {
    case ZB_DTYPE_F32: launch_convert<LoadF32>(to_f32, grid, stream, dst, src, rows, cols, order, overflow); break;
    case ZB_DTYPE_F16: launch_convert<LoadF16>(to_f32, grid, stream, dst, src, rows, cols, order, overflow); break;
    case ZB_DTYPE_BF16: launch_convert<LoadBF16>(to_f32, grid, stream, dst, src, rows, cols, order, overflow); break;
    default: return cudaErrorInvalidValue;
    }
    return ZBK_LAUNCHED();
}

extern "C" cudaError_t zbk_synth(void *dst, zb_dtype dst_dtype, zb_synth synth, zb_dtype src_dtype, int64_t rows,
                                 int64_t cols, zbk_row_order order, cudaStream_t stream)
{
    if (!valid_shape(rows, cols, order) || (dst_dtype != ZB_DTYPE_F32 && dst_dtype != ZBK_HALF_DTYPE) ||
        (src_dtype != ZB_DTYPE_F32 && src_dtype != ZB_DTYPE_F16 && src_dtype != ZB_DTYPE_BF16))
        return cudaErrorInvalidValue;
    if (rows * cols == 0) return cudaSuccess;
    if (!dst) return cudaErrorInvalidValue;
    const unsigned grid = zbk_grid_1d(rows * cols, kThreads);
    if (dst_dtype == ZB_DTYPE_F32)
        synth_kernel<float><<<grid, kThreads, 0, stream>>>(dst, synth, src_dtype, rows, cols, order);
    else
        synth_kernel<zbk_half><<<grid, kThreads, 0, stream>>>(dst, synth, src_dtype, rows, cols, order);
    return ZBK_LAUNCHED();
}
