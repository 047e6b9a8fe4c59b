/*
 * zbk_selective_scan: Mamba's selective scan over T tokens, fp32 state.
 *
 * Where the time goes. Per token and channel the scan reads u, dt, z and
 * writes y (10 bytes), and per (token, channel, state) it needs one
 * exp(A delta): 1.9e9 exponentials for a Zamba-7B layer at T = 16384. The
 * bytes take ~0.41 ms at 3 TB/s; the exponentials alone take ~0.5 ms on the
 * special-function unit (16 per clock per SM). So the scan is co-bound by
 * that unit, and the design's first rule is: compute each exponential once.
 *
 * That rules out the textbook chunked scan (each chunk scanned from a zero
 * state, chunk states combined, then every output corrected), whose
 * correction term C_t . (prod_{tau<=t} exp(A delta_tau) * s0) costs a second
 * exponential per element (or storing them all). Instead the parallelism
 * comes from the channel x state axes, which Zamba has plenty of (7424 x 16
 * independent recurrences per sequence): each recurrence lives in a register
 * for the whole sequence, and the T axis is streamed through shared memory
 * in chunks (tiles) of kL tokens.
 *
 * Fast path (d_state 8, 16 or 32; head_dim a multiple of 8). A block owns
 * CB = 8 W channels of one head of one sequence (W warps). Four lanes share
 * a channel, each holding N/4 of its states, so a warp covers 8 channels.
 * Per tile:
 *  1. cp.async brings u, z, dt (CB columns) and the head's B, C rows for kL
 *     tokens into a kStages-deep ring, kStages-1 tiles ahead of use.
 *  2. prep (every thread, one (token, channel) pair at a time): delta =
 *     softplus(dt + bias) and delta*u, computed once per pair, not once
 *     per lane of the channel.
 *  3. scan (lane = channel x state group): s = 2^(A log2e delta) s +
 *     delta u B, partial y = sum s C over the lane's states, stored to
 *     shared memory. The kL tokens are one unrolled straight-line block:
 *     no shuffles or branches inside, so the scheduler can issue later
 *     tokens' exponentials while earlier ones are in flight (an earlier
 *     version reduced across lanes every 4 tokens and ran 2.5x slower,
 *     latency-bound at 2 warps per scheduler).
 *  4. output (one token x 8 channels per thread): y = (sum of the 4
 *     partials + D u) * act(z), one 16-byte store.
 * The state is read from ssm_state before the first token and written back
 * after the last: the block is its only user.
 *
 * dt made in the scan (FDT, dt == NULL): the ring carries the head's 16-bit
 * dt_raw rows instead of the f32 dt columns, and prep becomes a small
 * product on the tensor cores: warp w multiplies the tile's kL x dt_rank
 * dt_raw by its 8 channels' dt_proj rows (held in registers as mma B
 * fragments for the whole kernel), kL / 16 x dt_rank / 16 mma.sync, and
 * takes delta and delta*u from the accumulators. It is meant to replace
 * the prefill's dt_proj GEMM, whose f32 output (T x d_inner x 4 bytes,
 * written, then read back here) is most of that GEMM's cost; the
 * arithmetic is the GEMM's (16-bit operands, fp32 sums), only the order of
 * the sums differs. (The engine does not call it yet: see docs/PERF.md,
 * "dt made in the scan".)
 *
 * Generic path (any d_state <= 256, any head_dim, unaligned views): one
 * warp per (sequence, channel), states across lanes, plain loads. Correct
 * for the odd shapes; not tuned.
 */
#include <cuda_bf16.h>

#include "mamba_common.cuh"
#include "zb_kernels.h"

namespace {

constexpr int kL = 32;     /* tokens per tile */
constexpr int kStages = 3; /* tiles in flight: loads run 2 tiles ahead */
constexpr int kMaxRank = 256; /* the largest dt_rank whose dt the scan makes (FDT) */
/* 16-bit row stride of a dt_raw tile: 132 words, so the 8 rows an
 * ldmatrix phase reads start 4 banks apart and cover all 32 banks */
constexpr int kDtrStride = kMaxRank + 8;
static_assert(kL == 32, "FDT's prep covers a tile with two 16-token mma tiles");

struct ScanP {
    const zbk_half *u, *xz;
    const float *dt, *params, *dt_bias, *A_log, *D;
    float *state;
    zbk_half *y;
    int batch, T, Di, N, nh, R, P, Dh;
    zb_act act;
    int bc16; /* B and C rows may be copied 16 bytes at a time */
};

/* FDT's inputs, a parameter of their own: adding them to ScanP changed how
 * the compiler holds ScanP (103 -> 128 registers in the kernel without
 * FDT, whose machine code should not move) */
struct FdtP {
    const zbk_half *dtr, *dt_proj;
    int64_t dtr_ld, dtr_sh;
};

/* Shared-memory layout of the fast path (byte offsets, all 16-aligned).
 * Row strides are padded where a phase reads one row per lane: 16-bit rows
 * of CB + 8 (16 bytes more) and partial-y rows of 32 W + 4 floats put
 * consecutive rows 4 banks apart, so 8 rows cover all 32 banks. */
template <int SPL, int W, bool FDT> struct Lay {
    static constexpr int N = 4 * SPL, CB = 8 * W;
    static constexpr int UR = CB + 8;                       /* 16-bit row stride */
    static constexpr int YS = 32 * W + 4;                   /* partial-y row stride */
    static constexpr int dt_off = 0;                        /* f32 [kL][CB], or FDT: 16-bit [kL][kDtrStride] */
    static constexpr int bc_off = dt_off + (FDT ? kL * kDtrStride * 2 : kL * CB * 4); /* f32  [kL][2N]  */
    static constexpr int u_off = bc_off + kL * 2 * N * 4;   /* 16-bit [kL][UR]  */
    static constexpr int z_off = u_off + kL * UR * 2;       /* 16-bit [kL][UR]  */
    static constexpr int stage = z_off + kL * UR * 2;
    static constexpr int dd_off = kStages * stage;          /* f32x2 [kL][CB]: delta, delta*u */
    static constexpr int yp_off = dd_off + kL * CB * 8;     /* f32 [kL][YS]: partial y per lane */
    static constexpr int bytes = yp_off + kL * YS * 4;
};

template <int SPL> __device__ __forceinline__ void load_bc(const float *p, float (&v)[SPL])
{
    if constexpr (SPL % 4 == 0) {
#pragma unroll
        for (int j = 0; j < SPL; j += 4) {
            const float4 q = *reinterpret_cast<const float4 *>(p + j);
            v[j] = q.x, v[j + 1] = q.y, v[j + 2] = q.z, v[j + 3] = q.w;
        }
    } else if constexpr (SPL % 2 == 0) {
#pragma unroll
        for (int j = 0; j < SPL; j += 2) {
            const float2 q = *reinterpret_cast<const float2 *>(p + j);
            v[j] = q.x, v[j + 1] = q.y;
        }
    } else {
#pragma unroll
        for (int j = 0; j < SPL; j++) v[j] = p[j];
    }
}

template <int SPL, int W, bool SILU, bool FDT>
__global__ void __launch_bounds__(32 * W) scan_fast_kernel(const ScanP p, const FdtP f)
{
    using S = Lay<SPL, W, FDT>;
    constexpr int N = S::N, CB = S::CB, UR = S::UR, YS = S::YS, NT = 32 * W;
    extern __shared__ __align__(16) unsigned char smem[];

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int b = blockIdx.y, c0 = blockIdx.x * CB, h = c0 / p.Dh;
    const int T = p.T, Di = p.Di;
    const int ntiles = (T + kL - 1) / kL;
    const int64_t row0 = (int64_t)b * T; /* first row of this sequence */

    /* Issues the copies of tile k into its ring slot; rows past T get
     * zero B and C (prep gives them delta = 0), so the tail of the last
     * tile leaves the state unchanged: 2^0 s + 0. */
    auto issue = [&](int k) {
        unsigned char *sb = smem + (k % kStages) * S::stage;
        const int tb = k * kL;
        /* per-thread counts are compile-time, so each loop unrolls into a
         * few straight copies (generic strided loops here had bloated the
         * kernel past the instruction cache) */
        constexpr int UCH = CB / 8, DCH = CB / 4, BCH = N / 2;
#pragma unroll
        for (int m = 0; m < (kL * UCH + NT - 1) / NT; m++) {
            const int i = tid + m * NT, r = i / UCH, q = i % UCH;
            if (i < kL * UCH && tb + r < T) {
                const int64_t row = row0 + tb + r;
                mamba_cp_async16(sb + S::u_off + (r * UR + 8 * q) * 2, p.u + row * Di + c0 + 8 * q);
                mamba_cp_async16(sb + S::z_off + (r * UR + 8 * q) * 2, p.xz + row * 2 * Di + Di + c0 + 8 * q);
            }
        }
        if constexpr (FDT) {
            /* a row of dt_raw per warp in turn, a 16-byte piece per lane;
             * a piece reaching past dt_rank is zero-filled there (the
             * columns after dt_rank may hold anything, NaN included) */
#pragma unroll
            for (int r = warp; r < kL; r += W) {
                const int left = p.R - 8 * lane;
                if (left > 0 && tb + r < T) {
                    const uint32_t dst =
                        (uint32_t)__cvta_generic_to_shared(sb + S::dt_off + (r * kDtrStride + 8 * lane) * 2);
                    zbk_cp_async16(dst, f.dtr + (row0 + tb + r) * f.dtr_ld + h * f.dtr_sh + 8 * lane,
                                   left >= 8 ? 16 : 2 * left);
                }
            }
        } else {
#pragma unroll
            for (int m = 0; m < (kL * DCH + NT - 1) / NT; m++) {
                const int i = tid + m * NT, r = i / DCH, q = i % DCH;
                if (i < kL * DCH && tb + r < T)
                    mamba_cp_async16(sb + S::dt_off + (r * CB + 4 * q) * 4, p.dt + (row0 + tb + r) * Di + c0 + 4 * q);
            }
        }
        float *bc = reinterpret_cast<float *>(sb + S::bc_off);
        if (p.bc16) {
#pragma unroll
            for (int m = 0; m < (kL * BCH + NT - 1) / NT; m++) {
                const int i = tid + m * NT, r = i / BCH, q = i % BCH;
                if (i < kL * BCH) {
                    float *dst = bc + r * 2 * N + 4 * q;
                    if (tb + r < T)
                        mamba_cp_async16(dst, p.params + ((row0 + tb + r) * p.nh + h) * p.P + p.R + 4 * q);
                    else
                        *reinterpret_cast<float4 *>(dst) = make_float4(0.f, 0.f, 0.f, 0.f);
                }
            }
        } else {
            for (int i = tid; i < kL * 2 * N; i += NT) {
                const int r = i / (2 * N), q = i % (2 * N);
                if (tb + r < T)
                    mamba_cp_async4(bc + i, p.params + ((row0 + tb + r) * p.nh + h) * p.P + p.R + q);
                else
                    bc[i] = 0.0f;
            }
        }
    };

    /* scan lane: channel cl of the block, states g*SPL .. g*SPL+SPL-1 */
    const int g = lane & 3, cl = warp * 8 + (lane >> 2), c = c0 + cl;
    float s[SPL], A2[SPL];
    {
        const float *st = p.state + ((int64_t)b * Di + c) * N + g * SPL;
        const float *al = p.A_log + (int64_t)c * N + g * SPL;
#pragma unroll
        for (int j = 0; j < SPL; j++) {
            s[j] = st[j];
            A2[j] = -expf(al[j]) * MAMBA_LOG2E; /* exp(A d) = 2^(A log2e d) */
        }
    }
    /* prep thread: always the same channel pc (NT is a multiple of CB) */
    const int pc = tid % CB;
    const float pbias = p.dt_bias[c0 + pc];
    /* FDT's prep: lane (mg, mc) of the mma fragments; its channels are
     * fch, fch + 1 of the block, tokens mg (+8, +16, +24) of the tile */
    const int mg = lane >> 2, mc = lane & 3, fch = 8 * warp + 2 * mc;
    const int nks = (p.R + 15) >> 4; /* 16-wide k steps of dt_rank */
    uint32_t bw[kMaxRank / 16][2];   /* dt_proj rows of the warp's channels, as B fragments */
    float fb0 = 0.0f, fb1 = 0.0f;
    if constexpr (FDT) {
        const zbk_half *wr = f.dt_proj + (int64_t)(c0 + 8 * warp + mg) * p.R;
#pragma unroll
        for (int ks = 0; ks < kMaxRank / 16; ks++)
#pragma unroll
            for (int hh = 0; hh < 2; hh++) {
                const int k = ks * 16 + 8 * hh + 2 * mc;
                const uint32_t lo = k < p.R ? wr[k] : 0u, hi = k + 1 < p.R ? wr[k + 1] : 0u;
                bw[ks][hh] = ks < nks ? lo | hi << 16 : 0u;
            }
        fb0 = p.dt_bias[c0 + fch];
        fb1 = p.dt_bias[c0 + fch + 1];
        /* the k columns from the last 16-byte piece to the next multiple of
         * 16 are read by the mma but never copied: zero them once */
        const int rc = (p.R + 7) >> 3;
        if (rc & 1)
            for (int i = tid; i < kStages * kL; i += NT)
                *reinterpret_cast<uint4 *>(smem + (i / kL) * S::stage + S::dt_off +
                                           ((i % kL) * kDtrStride + 8 * rc) * 2) = make_uint4(0, 0, 0, 0);
    }
    /* output thread: token row orow of a tile, channels 8 oq .. 8 oq + 7
     * (kL * W items, one per thread) */
    const int orow = tid / W, oq = tid % W;
    float oD[8];
#pragma unroll
    for (int m = 0; m < 8; m++) oD[m] = p.D[c0 + 8 * oq + m];

#pragma unroll
    for (int k = 0; k < kStages - 1; k++) {
        if (k < ntiles) issue(k);
        mamba_cp_async_commit();
    }

    float2 *dd = reinterpret_cast<float2 *>(smem + S::dd_off);
    float *yp = reinterpret_cast<float *>(smem + S::yp_off);

    for (int k = 0; k < ntiles; k++) {
        mamba_cp_async_wait<kStages - 2>(); /* this thread's copies of tile k */
        __syncthreads();                    /* everyone's; and tile k-1 is done */
        if (k + kStages - 1 < ntiles) issue(k + kStages - 1);
        mamba_cp_async_commit();

        const unsigned char *sb = smem + (k % kStages) * S::stage;
        const float *dts = reinterpret_cast<const float *>(sb + S::dt_off);
        const float *bcs = reinterpret_cast<const float *>(sb + S::bc_off);
        const zbk_half *us = reinterpret_cast<const zbk_half *>(sb + S::u_off);
        const zbk_half *zs = reinterpret_cast<const zbk_half *>(sb + S::z_off);
        const int nv = min(kL, T - k * kL);

        /* 2. prep: delta and delta*u once per (token, channel) */
        if constexpr (FDT) {
            /* dt = dt_raw dt_proj^T for the tile's 32 tokens and the warp's
             * 8 channels: two m16n8 accumulators */
            float acc[2][4] = {};
            const uint32_t abase = (uint32_t)__cvta_generic_to_shared(sb + S::dt_off) +
                                   ((lane & 15) * kDtrStride + (lane >> 4) * 8) * 2;
#pragma unroll
            for (int ks = 0; ks < kMaxRank / 16; ks++)
                if (ks < nks)
#pragma unroll
                    for (int mt = 0; mt < 2; mt++) {
                        uint32_t a[4];
                        zbk_ldsm_x4(a, abase + (mt * 16 * kDtrStride + ks * 16) * 2);
                        zbk_mma_16816(acc[mt], a, bw[ks][0], bw[ks][1]);
                    }
#pragma unroll
            for (int mt = 0; mt < 2; mt++)
#pragma unroll
                for (int hh = 0; hh < 2; hh++) {
                    const int r = mt * 16 + mg + 8 * hh;
                    float4 d = make_float4(0.f, 0.f, 0.f, 0.f);
                    if (r < nv) {
                        const uint32_t uw = *reinterpret_cast<const uint32_t *>(us + r * UR + fch);
                        const float d0 = mamba_softplus(acc[mt][2 * hh] + fb0);
                        const float d1 = mamba_softplus(acc[mt][2 * hh + 1] + fb1);
                        d = make_float4(d0, d0 * zbk_half_lo(uw), d1, d1 * zbk_half_hi(uw));
                    }
                    *reinterpret_cast<float4 *>(dd + r * CB + fch) = d;
                }
        } else {
#pragma unroll
            for (int m = 0; m < kL * CB / NT; m++) {
                const int i = tid + m * NT, r = i / CB;
                float2 d = make_float2(0.f, 0.f);
                if (r < nv) {
                    const float delta = mamba_softplus(dts[i] + pbias);
                    d = make_float2(delta, delta * zbk_h2f(us[r * UR + pc]));
                }
                dd[i] = d;
            }
        }
        __syncthreads();

        /* 3. scan: all kL tokens unrolled, straight-line (no shuffles, no
         * branches), so the exponentials of later tokens issue while
         * earlier ones are in flight; each lane leaves its partial y */
        float part[kL];
#pragma unroll
        for (int r = 0; r < kL; r++) {
            const float2 d = dd[r * CB + cl];
            float Bv[SPL], Cv[SPL];
            load_bc<SPL>(bcs + r * 2 * N + g * SPL, Bv);
            load_bc<SPL>(bcs + r * 2 * N + N + g * SPL, Cv);
            float acc = 0.0f;
#pragma unroll
            for (int j = 0; j < SPL; j++) {
                const float a = mamba_ex2(A2[j] * d.x);
                s[j] = fmaf(a, s[j], d.y * Bv[j]);
                acc = fmaf(s[j], Cv[j], acc);
            }
            part[r] = acc;
        }
        /* The partials go to shared memory after the last token, not one
         * per token: a shared store between tokens kept the next tokens'
         * shared loads from being issued early (4.8% faster at T 16384,
         * docs/PERF.md). */
#pragma unroll
        for (int r = 0; r < kL; r++) yp[r * YS + tid] = part[r];
        __syncthreads();

        /* 4. output: y = (sum of 4 partials + D u) * act(z), 8 channels of
         * one token per thread, one 16-byte store */
        if (orow < nv) {
            const float4 *pp = reinterpret_cast<const float4 *>(yp + orow * YS + 32 * oq);
            const uint4 uq = *reinterpret_cast<const uint4 *>(us + orow * UR + 8 * oq);
            const uint4 zq = *reinterpret_cast<const uint4 *>(zs + orow * UR + 8 * oq);
            const uint32_t uw[4] = {uq.x, uq.y, uq.z, uq.w}, zw[4] = {zq.x, zq.y, zq.z, zq.w};
            uint32_t ow[4];
#pragma unroll
            for (int m2 = 0; m2 < 4; m2++) {
                float yv[2];
#pragma unroll
                for (int e = 0; e < 2; e++) {
                    const int m = 2 * m2 + e;
                    const float4 q = pp[m];
                    const float uu = e ? zbk_half_hi(uw[m2]) : zbk_half_lo(uw[m2]);
                    const float zz = e ? zbk_half_hi(zw[m2]) : zbk_half_lo(zw[m2]);
                    const float ysum = (q.x + q.y) + (q.z + q.w);
                    yv[e] = fmaf(oD[m], uu, ysum) * mamba_act<SILU>(p.act, zz);
                }
                ow[m2] = zbk_pack_half2(yv[0], yv[1]);
            }
            *reinterpret_cast<uint4 *>(p.y + (row0 + k * kL + orow) * Di + c0 + 8 * oq) =
                make_uint4(ow[0], ow[1], ow[2], ow[3]);
        }
    }
    mamba_cp_async_wait<0>();

    float *st = p.state + ((int64_t)b * Di + c) * N + g * SPL;
#pragma unroll
    for (int j = 0; j < SPL; j++) st[j] = s[j];
}

/* One warp per (sequence, channel); lane holds states lane + 32 j. */
template <int NPL>
__global__ void __launch_bounds__(128) scan_generic_kernel(const ScanP p)
{
    const int lane = threadIdx.x & 31;
    const int64_t wid = (int64_t)blockIdx.x * 4 + (threadIdx.x >> 5);
    if (wid >= (int64_t)p.batch * p.Di) return;
    const int b = (int)(wid / p.Di), c = (int)(wid % p.Di), h = c / p.Dh;
    const int N = p.N, Di = p.Di;
    float s[NPL], A2[NPL];
    float *st = p.state + ((int64_t)b * Di + c) * N;
#pragma unroll
    for (int j = 0; j < NPL; j++) {
        const int n = lane + 32 * j;
        s[j] = n < N ? st[n] : 0.0f;
        A2[j] = n < N ? -expf(p.A_log[(int64_t)c * N + n]) * MAMBA_LOG2E : 0.0f;
    }
    const float bias = p.dt_bias[c], Dc = p.D[c];
    for (int t = 0; t < p.T; t++) {
        const int64_t row = (int64_t)b * p.T + t;
        const float delta = mamba_softplus(p.dt[row * Di + c] + bias);
        const float uu = zbk_h2f(p.u[row * Di + c]);
        const float du = delta * uu;
        const float *bc = p.params + (row * p.nh + h) * p.P + p.R;
        float acc = 0.0f;
#pragma unroll
        for (int j = 0; j < NPL; j++) {
            const int n = lane + 32 * j;
            if (n < N) {
                const float a = mamba_ex2(A2[j] * delta);
                s[j] = fmaf(a, s[j], du * bc[n]);
                acc = fmaf(s[j], bc[N + n], acc);
            }
        }
        acc = zbk_warp_sum(acc);
        if (lane == 0) {
            const float gz = mamba_act_rt(p.act, zbk_h2f(p.xz[row * 2 * Di + Di + c]));
            p.y[row * Di + c] = zbk_f2h((acc + Dc * uu) * gz);
        }
    }
#pragma unroll
    for (int j = 0; j < NPL; j++) {
        const int n = lane + 32 * j;
        if (n < N) st[n] = s[j];
    }
}

template <int SPL, int W, bool SILU, bool FDT>
cudaError_t launch_fast_a(const ScanP &p, const FdtP &f, cudaStream_t stream)
{
    using S = Lay<SPL, W, FDT>;
    cudaError_t e = cudaFuncSetAttribute(scan_fast_kernel<SPL, W, SILU, FDT>,
                                         cudaFuncAttributeMaxDynamicSharedMemorySize, S::bytes);
    if (e != cudaSuccess) return e;
    dim3 grid(p.Di / S::CB, p.batch);
    scan_fast_kernel<SPL, W, SILU, FDT><<<grid, 32 * W, S::bytes, stream>>>(p, f);
    return cudaGetLastError();
}

template <int SPL, int W, bool FDT> cudaError_t launch_fast(const ScanP &p, const FdtP &f, cudaStream_t stream)
{
    return p.act == ZB_ACT_SILU ? launch_fast_a<SPL, W, true, FDT>(p, f, stream)
                                : launch_fast_a<SPL, W, false, FDT>(p, f, stream);
}

template <int SPL, bool FDT> cudaError_t launch_fast_w(const ScanP &p, const FdtP &f, cudaStream_t stream)
{
    const int groups = p.Dh / 8; /* 8-channel warps per head */
    if (groups % 4 == 0) return launch_fast<SPL, 4, FDT>(p, f, stream);
    if (groups % 2 == 0) return launch_fast<SPL, 2, FDT>(p, f, stream);
    return launch_fast<SPL, 1, FDT>(p, f, stream);
}

/* The fast path's shapes; FDT also keeps to d_state <= 16, where two blocks
 * of its larger ring still fit an SM's shared memory. */
bool fast_shape(int N, int Dh) { return (N == 8 || N == 16 || N == 32) && Dh % 8 == 0; }
bool fdt_shape(int Di, int nh, int N, int R)
{
    return nh >= 1 && Di % nh == 0 && fast_shape(N, Di / nh) && N <= 16 && R >= 1 && R <= kMaxRank;
}

inline bool al16(const void *q) { return ((uintptr_t)q & 15) == 0; }

} // namespace

extern "C" int zbk_selective_scan_fuses_dt(int d_inner, int nh, int d_state, int dt_rank)
{
    return fdt_shape(d_inner, nh, d_state, dt_rank);
}

extern "C" cudaError_t zbk_selective_scan(const zbk_scan_args *a, cudaStream_t stream)
{
    if (!a || a->batch < 1 || a->T < 1 || a->nh < 1 || a->d_inner < 1 || a->d_inner % a->nh != 0 ||
        a->d_state < 1 || a->d_state > 256 || a->dt_rank < 0 || a->batch > 65535)
        return cudaErrorInvalidValue;
    if (!a->u || !a->xz || !a->params || !a->dt_bias || !a->A_log || !a->D || !a->ssm_state || !a->y)
        return cudaErrorInvalidValue;
    ScanP p;
    p.u = a->u, p.xz = a->xz, p.dt = a->dt, p.params = a->params, p.dt_bias = a->dt_bias, p.A_log = a->A_log;
    p.D = a->D, p.state = a->ssm_state, p.y = a->y;
    FdtP f;
    f.dtr = a->dtr, f.dt_proj = a->dt_proj, f.dtr_ld = a->dtr_ld, f.dtr_sh = a->dtr_sh;
    p.batch = a->batch, p.T = a->T, p.Di = a->d_inner, p.N = a->d_state, p.nh = a->nh, p.R = a->dt_rank;
    p.P = a->dt_rank + 2 * a->d_state, p.Dh = a->d_inner / a->nh, p.act = a->act;
    p.bc16 = al16(a->params) && p.P % 4 == 0 && p.R % 4 == 0;

    const bool aligned = al16(p.u) && al16(p.xz) && al16(p.y);
    if (!a->dt) { /* dt made here: only on the fast path */
        if (!f.dtr || !f.dt_proj || !fdt_shape(p.Di, p.nh, p.N, p.R) || !aligned || !al16(f.dtr) ||
            f.dtr_ld % 8 != 0 || f.dtr_sh % 8 != 0 || f.dtr_sh < p.R)
            return cudaErrorInvalidValue;
        if (p.N == 16) return launch_fast_w<4, true>(p, f, stream);
        return launch_fast_w<2, true>(p, f, stream);
    }
    if (fast_shape(p.N, p.Dh) && aligned && al16(p.dt)) {
        if (p.N == 16) return launch_fast_w<4, false>(p, f, stream);
        if (p.N == 8) return launch_fast_w<2, false>(p, f, stream);
        return launch_fast_w<8, false>(p, f, stream);
    }
    const int64_t warps = (int64_t)p.batch * p.Di;
    const unsigned blocks = (unsigned)((warps + 3) / 4);
    if (p.N <= 32)
        scan_generic_kernel<1><<<blocks, 128, 0, stream>>>(p);
    else if (p.N <= 64)
        scan_generic_kernel<2><<<blocks, 128, 0, stream>>>(p);
    else if (p.N <= 128)
        scan_generic_kernel<4><<<blocks, 128, 0, stream>>>(p);
    else
        scan_generic_kernel<8><<<blocks, 128, 0, stream>>>(p);
    return cudaGetLastError();
}
