/*
 * Device helpers shared by the Mamba kernels (mamba_conv.cu, mamba_scan.cu,
 * mamba_step.cu). Header-only and stateless; CUDA C++ only.
 *
 *  - mamba_ex2 / mamba_lg2: the special-function unit's base-2 exp / log
 *    (one MUFU instruction each, ~2^-22 relative error). The selective scan
 *    is bound by this unit (16 results per clock per SM on sm_90), so every
 *    exponential in the hot loops goes through these.
 *  - mamba_softplus: PyTorch's softplus (x itself above the threshold 20).
 *  - mamba_gate_act: act(z) for the output gate; SiLU with two MUFU ops.
 *  - mamba_conv_out: the causal depthwise conv of one channel, summed in the
 *    same order everywhere (prefill and decode give the same bits).
 *  - cp.async wrappers (programmatic dependent launch: zbk_pdl_* in zbk_common.cuh).
 */
#ifndef MAMBA_COMMON_CUH
#define MAMBA_COMMON_CUH

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "zb_kernels.h"
#include "zbk_common.cuh"

#define MAMBA_LOG2E 1.4426950408889634f
#define MAMBA_LN2 0.69314718055994531f
#define MAMBA_MAX_CONV 8

__device__ __forceinline__ float mamba_ex2(float x)
{
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

__device__ __forceinline__ float mamba_lg2(float x)
{
    float y;
    asm("lg2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

/* softplus(x) = log(1 + e^x), x itself above 20 (PyTorch's threshold).
 * Below -4, 1 + e^x would lose most of e^x's bits before the log, so the
 * series e - e^2/2 + e^3/3 - e^4/4 is used there (truncation < 3e-8
 * relative at x = -4, smaller below). */
__device__ __forceinline__ float mamba_softplus(float x)
{
    const float e = mamba_ex2(x * MAMBA_LOG2E);
    float r = mamba_lg2(1.0f + e) * MAMBA_LN2;
    const float s = e * (1.0f + e * (-0.5f + e * (0.33333333f - 0.25f * e)));
    r = x < -4.0f ? s : r;
    return x > 20.0f ? x : r;
}

/* SiLU on the MUFU path: x / (1 + 2^(-x log2 e)), two special-function
 * ops and ~1e-6 relative error (u and y are stored in 16 bits: 2^-11 in f16, 2^-9 in bf16); for
 * x << 0 the denominator overflows to inf and the quotient to -0, the
 * right limit. */
__device__ __forceinline__ float mamba_silu(float x) { return __fdividef(x, 1.0f + mamba_ex2(-x * MAMBA_LOG2E)); }

/* The other activations, out of line: inlining zbk_act's switch (erff,
 * tanhf, IEEE division) at every call site made the unrolled kernels
 * several times larger than the instruction cache. */
static __device__ __noinline__ float mamba_act_generic(zb_act act, float x) { return zbk_act(act, x); }

/* act() as every Mamba kernel computes it (conv output and gate alike), so
 * prefill and decode agree bit for bit. SILU: the caller has checked. */
template <bool SILU> __device__ __forceinline__ float mamba_act(zb_act act, float x)
{
    if constexpr (SILU)
        return mamba_silu(x);
    else
        return mamba_act_generic(act, x);
}

__device__ __forceinline__ float mamba_act_rt(zb_act act, float x)
{
    return act == ZB_ACT_SILU ? mamba_silu(x) : mamba_act_generic(act, x);
}

/* One output of the causal depthwise conv: b + sum_k w[k] * e[k], where e
 * holds the d_conv inputs of the window, oldest first, the newest being
 * the current token. Summed in tap order from the bias, as the reference
 * does, so every kernel that recomputes u gets the same value. */
template <int K>
__device__ __forceinline__ float mamba_conv_sum(float bias, const float *w, const float *e)
{
    float acc = bias;
#pragma unroll
    for (int k = 0; k < K; k++) acc = fmaf(w[k], e[k], acc);
    return acc;
}

/* The same sum for a run-time K <= MAMBA_MAX_CONV; the unrolled, guarded
 * loop keeps the caller's arrays in registers. */
__device__ __forceinline__ float mamba_conv_sum_rt(float bias, const float (&w)[MAMBA_MAX_CONV],
                                                   const float (&e)[MAMBA_MAX_CONV], int K)
{
    float acc = bias;
#pragma unroll
    for (int k = 0; k < MAMBA_MAX_CONV; k++)
        if (k < K) acc = fmaf(w[k], e[k], acc);
    return acc;
}

/* Rounds to the 16-bit format and back: u is stored in it, and every
 * consumer (x_proj, the scan's delta*u and D*u) must see the stored value. */
__device__ __forceinline__ float mamba_round_half(float x) { return zbk_h2f(zbk_f2h(x)); }

/* ------------------------------------------------------------ cp.async */

__device__ __forceinline__ void mamba_cp_async16(void *smem, const void *gmem)
{
    const unsigned s = (unsigned)__cvta_generic_to_shared(smem);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(gmem) : "memory");
}

__device__ __forceinline__ void mamba_cp_async4(void *smem, const void *gmem)
{
    const unsigned s = (unsigned)__cvta_generic_to_shared(smem);
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(s), "l"(gmem) : "memory");
}

__device__ __forceinline__ void mamba_cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }

template <int N> __device__ __forceinline__ void mamba_cp_async_wait()
{
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

/* Transposing warp reduction over lanes that differ in the bits of `span`
 * (span a power of two <= 16, the group being lanes l .. l + 2*span - 1
 * aligned): M values per lane (M a power of two <= 2*span) become one sum
 * per value index; afterwards lane l holds the total of value index
 * ((l & (2*span-1)) / (2*span/M)) in v[0]. Each exchange halves the values
 * a lane carries, so M values cost M-1 shuffles instead of M*log2(lanes). */
template <int M, int SPAN>
__device__ __forceinline__ void mamba_transpose_reduce(float (&v)[M], int lane)
{
    int m = M;
#pragma unroll
    for (int o = SPAN; o >= 1; o >>= 1) {
        if (m > 1) {
            const int half = m / 2;
            const bool up = (lane & o) != 0;
#pragma unroll
            for (int i = 0; i < M / 2; i++) {
                if (i < half) {
                    const float send = up ? v[i] : v[i + half];
                    const float keep = up ? v[i + half] : v[i];
                    v[i] = keep + __shfl_xor_sync(0xffffffffu, send, o);
                }
            }
            m = half;
        } else {
            v[0] += __shfl_xor_sync(0xffffffffu, v[0], o);
        }
    }
}

#endif /* MAMBA_COMMON_CUH */
