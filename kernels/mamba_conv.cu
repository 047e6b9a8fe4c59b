/*
 * zbk_conv1d_prefill: Mamba's causal depthwise conv + act over T tokens.
 *
 * Sequence e of one channel = (conv_state[0..K), x_0, x_1, ..., x_{T-1})
 * (e[-K..-1] is the state); u_t = act(b + sum_k w[k] e[t-K+1+k]), and the
 * new state is e[T-K .. T-1]. Memory-bound: x read once (the x half of xz),
 * u written once.
 *
 * Each thread owns CW channels (8 when rows allow 16-byte accesses) of one
 * sequence over a chunk of TT tokens, keeping the K-1 previous inputs in
 * registers as a sliding window; only the first K-1 tokens of a chunk are
 * read twice (by the chunk before it too). Tokens go in groups of 4, the
 * next group's loads issued before the current group is computed, so
 * loads stay in flight during the arithmetic. SiLU takes the MUFU path
 * (mamba_act<true>); the first version inlined zbk_act's switch (erff,
 * tanhf, IEEE division) per element, 7.7k instructions of code, and moved
 * 0.5-1.4 TB/s; the other activations now run out of line.
 *
 * The state update needs no second pass: only the thread of chunk 0 reads
 * the old state (for tokens t < K-1), and that same thread writes the new
 * one at the end, reading the last K inputs from xz (which nobody writes)
 * or, when T < K, from the old state it alone has read. So no other thread
 * ever sees a half-updated state.
 */
#include <cuda_bf16.h>

#include "mamba_common.cuh"
#include "zb_kernels.h"

namespace {

constexpr int kThreads = 128;

struct ConvArgs {
    const zbk_half *xz;
    const float *w, *b;
    zbk_half *state, *u;
    int batch, T, Di, TT;
    zb_act act;
};

__device__ __forceinline__ void unpack8(const uint4 q, float (&v)[8])
{
    v[0] = zbk_half_lo(q.x), v[1] = zbk_half_hi(q.x), v[2] = zbk_half_lo(q.y), v[3] = zbk_half_hi(q.y);
    v[4] = zbk_half_lo(q.z), v[5] = zbk_half_hi(q.z), v[6] = zbk_half_lo(q.w), v[7] = zbk_half_hi(q.w);
}

/* CW consecutive 16-bit channels at p, as floats. */
template <int CW>
__device__ __forceinline__ void load_row(const zbk_half *__restrict__ p, float (&v)[CW])
{
    if constexpr (CW == 8) {
        unpack8(__ldg(reinterpret_cast<const uint4 *>(p)), v);
    } else {
#pragma unroll
        for (int i = 0; i < CW; i++) v[i] = zbk_h2f(p[i]);
    }
}

template <int CW>
__device__ __forceinline__ void load_raw(const zbk_half *__restrict__ p, uint4 &q, zbk_half &s)
{
    if constexpr (CW == 8)
        q = __ldg(reinterpret_cast<const uint4 *>(p));
    else
        s = p[0];
}

template <int K, int CW, bool SILU>
__global__ void __launch_bounds__(kThreads, 4) conv_prefill_kernel(ConvArgs a)
{
    const int c0 = (blockIdx.x * kThreads + threadIdx.x) * CW;
    if (c0 >= a.Di) return;
    const int b = blockIdx.z, t0 = blockIdx.y * a.TT;
    const int t1 = min(a.T, t0 + a.TT);
    const int64_t ld = 2 * (int64_t)a.Di; /* row stride of xz */
    const zbk_half *xrow = a.xz + (int64_t)b * a.T * ld + c0;
    zbk_half *urow = a.u + (int64_t)b * a.T * a.Di + c0;
    zbk_half *st = a.state + ((int64_t)b * a.Di + c0) * K;

    /* taps of the CW channels: CW*K consecutive floats */
    float wf[CW * K], bias[CW];
    const float *wp = a.w + (int64_t)c0 * K;
    if constexpr (CW == 8) {
#pragma unroll
        for (int j = 0; j < 2 * K; j++) {
            const float4 q = __ldg(reinterpret_cast<const float4 *>(wp) + j);
            wf[4 * j] = q.x, wf[4 * j + 1] = q.y, wf[4 * j + 2] = q.z, wf[4 * j + 3] = q.w;
        }
    } else {
#pragma unroll
        for (int j = 0; j < CW * K; j++) wf[j] = __ldg(wp + j);
    }
#pragma unroll
    for (int i = 0; i < CW; i++) bias[i] = a.b ? __ldg(a.b + c0 + i) : 0.0f;

    /* win[k] = e[t-K+1+k] for the next token t; fill the K-1 oldest */
    float win[K][CW];
#pragma unroll
    for (int k = 0; k < K - 1; k++) {
        const int tau = t0 - (K - 1) + k;
        if (tau >= 0) {
            float v[CW];
            load_row<CW>(xrow + tau * ld, v);
#pragma unroll
            for (int i = 0; i < CW; i++) win[k][i] = v[i];
        } else {
#pragma unroll
            for (int i = 0; i < CW; i++) win[k][i] = zbk_h2f(st[i * K + K + tau]);
        }
    }

    /* Tokens in groups of 4, the next group's loads issued before this
     * group is computed, so loads stay in flight during the arithmetic. */
    constexpr int G = 4;
    uint4 cur[G], nxt[G];
    zbk_half cs[G], ns[G];
#pragma unroll
    for (int j = 0; j < G; j++)
        if (t0 + j < t1) load_raw<CW>(xrow + (t0 + j) * ld, cur[j], cs[j]);
    for (int tb = t0; tb < t1; tb += G) {
#pragma unroll
        for (int j = 0; j < G; j++)
            if (tb + G + j < t1) load_raw<CW>(xrow + (tb + G + j) * ld, nxt[j], ns[j]);
#pragma unroll
        for (int j = 0; j < G; j++) {
            if (tb + j >= t1) break;
            if constexpr (CW == 8)
                unpack8(cur[j], win[K - 1]);
            else
                win[K - 1][0] = zbk_h2f(cs[j]);
            float out[CW];
#pragma unroll
            for (int i = 0; i < CW; i++) {
                float e[K];
#pragma unroll
                for (int k = 0; k < K; k++) e[k] = win[k][i];
                out[i] = mamba_act<SILU>(a.act, mamba_conv_sum<K>(bias[i], wf + i * K, e));
            }
            zbk_half *dst = urow + (int64_t)(tb + j) * a.Di;
            if constexpr (CW == 8) {
                uint4 o;
                o.x = zbk_pack_half2(out[0], out[1]);
                o.y = zbk_pack_half2(out[2], out[3]);
                o.z = zbk_pack_half2(out[4], out[5]);
                o.w = zbk_pack_half2(out[6], out[7]);
                *reinterpret_cast<uint4 *>(dst) = o;
            } else {
                dst[0] = zbk_f2h(out[0]);
            }
#pragma unroll
            for (int k = 0; k < K - 1; k++)
#pragma unroll
                for (int i = 0; i < CW; i++) win[k][i] = win[k + 1][i];
        }
#pragma unroll
        for (int j = 0; j < G; j++) cur[j] = nxt[j], cs[j] = ns[j];
    }

    if (blockIdx.y == 0) {
        /* new state: e[T-K+k]; entries before token 0 come from the old
         * state, shifted left by T (read before being overwritten: k rises
         * and T + k > k) */
#pragma unroll
        for (int k = 0; k < K; k++) {
            const int tau = a.T - K + k;
#pragma unroll
            for (int i = 0; i < CW; i++) {
                const zbk_half v = tau >= 0 ? xrow[(int64_t)tau * ld + i] : st[i * K + K + tau];
                st[i * K + k] = v;
            }
        }
    }
}

template <int K>
cudaError_t launch_k(const ConvArgs &a, bool vec, cudaStream_t stream)
{
    const int cw = vec ? 8 : 1;
    const int groups = (a.Di + cw - 1) / cw;
    dim3 grid((groups + kThreads - 1) / kThreads, (a.T + a.TT - 1) / a.TT, a.batch);
    const bool silu = a.act == ZB_ACT_SILU;
    if (vec && silu)
        conv_prefill_kernel<K, 8, true><<<grid, kThreads, 0, stream>>>(a);
    else if (vec)
        conv_prefill_kernel<K, 8, false><<<grid, kThreads, 0, stream>>>(a);
    else if (silu)
        conv_prefill_kernel<K, 1, true><<<grid, kThreads, 0, stream>>>(a);
    else
        conv_prefill_kernel<K, 1, false><<<grid, kThreads, 0, stream>>>(a);
    return cudaGetLastError();
}

} // namespace

extern "C" cudaError_t zbk_conv1d_prefill(const zbk_half *xz, int batch, int T, int d_inner, int d_conv,
                                          const float *conv_w, const float *conv_b, zb_act act,
                                          zbk_half *conv_state, zbk_half *u, cudaStream_t stream)
{
    if (batch < 1 || T < 1 || d_inner < 1 || d_conv < 1 || d_conv > MAMBA_MAX_CONV || !xz || !conv_w ||
        !conv_state || !u)
        return cudaErrorInvalidValue;
    if (batch > 65535) return cudaErrorInvalidValue;
    ConvArgs a{xz, conv_w, conv_b, conv_state, u, batch, T, d_inner, 64, act};
    /* 16-byte rows need 8 | d_inner and aligned bases */
    const bool vec = d_inner % 8 == 0 && ((uintptr_t)xz & 15) == 0 && ((uintptr_t)u & 15) == 0 &&
                     ((uintptr_t)conv_w & 15) == 0;
    /* Tokens per thread: the fewest (down to 8) that still leaves enough
     * threads in flight to cover memory latency (~128K threads). */
    const int64_t groups = vec ? d_inner / 8 : d_inner;
    int tt = 8;
    while (tt < 64 && groups * batch * ((T + tt - 1) / tt) > 131072) tt *= 2;
    a.TT = tt;
    if ((T + tt - 1) / tt > 65535) a.TT = ((T + 65534) / 65535 + 7) & ~7;
    switch (d_conv) {
    case 1: return launch_k<1>(a, vec, stream);
    case 2: return launch_k<2>(a, vec, stream);
    case 3: return launch_k<3>(a, vec, stream);
    case 4: return launch_k<4>(a, vec, stream);
    case 5: return launch_k<5>(a, vec, stream);
    case 6: return launch_k<6>(a, vec, stream);
    case 7: return launch_k<7>(a, vec, stream);
    default: return launch_k<8>(a, vec, stream);
    }
}
