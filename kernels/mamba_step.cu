/*
 * zbk_mamba_step: one decode step of the Mamba mixer (after in_proj) for
 * every sequence. Runs 76 times per generated token, so it is built around
 * its bytes: per layer x_proj (nh x P x Dh 16-bit, 3.9 MB for Zamba-7B) and
 * dt_proj (Di x R 16-bit, 3.4 MB), the fp32 SSM state (0.95 MB per sequence,
 * read and written) and A_log (0.48 MB). Everything else is small.
 *
 * Two kernels:
 *
 *  1. xproj_kernel: conv step + act for a slice of channels, then the
 *     x_proj GEMV of that slice. Clusters of 8 blocks split one head's
 *     channels (the reduction axis) eight ways; each block also takes 32
 *     of the P output rows, so Zamba-7B gets 2 heads x 9 row slices x 8 =
 *     144 blocks, ~30 KB of weights each, all loads issued up front. The 8
 *     partial sums of a row are added in fixed order through distributed
 *     shared memory (no atomics, no extra pass, same bits every run), and
 *     the (dt_raw, B, C) vectors go to `scratch`. The conv is recomputed by
 *     the 9 row slices of a channel slice (cheap, from L2) but written by
 *     none of them: see kernel 2.
 *
 *     Before its wait it also asks L2 for the conv's rolling state and
 *     weights, so the conv after in_proj finds them there, not in DRAM.
 *
 *  2. scan_step_kernel: 32 lanes a channel, or 16 when d_state <= 16 (a
 *     warp updates two channels at once; with 32, lanes 16-31 idled), 4
 *     channels per warp either way: dt_proj
 *     row dot over dt_raw, + bias, softplus; state update and output with
 *     D skip and gate; the conv step again (same function, same bits as
 *     kernel 1), which here also writes the rolling conv state. It is
 *     launched with programmatic dependent launch: kernel 1 lets it start
 *     at once, and everything that does not depend on kernel 1 happens
 *     before it waits: dt_proj rows, A_log, D, the SSM state and the conv
 *     step (kernel 1 only reads the conv state) all stream in while kernel
 *     1 runs. After the wait, one pass copies the block's (dt_raw, B, C)
 *     into shared memory; the rest reads only registers and shared memory.
 *     (A first version loaded par, conv inputs and z per channel after the
 *     wait: four dependent trips to memory per channel, 4 channels in a
 *     row per warp, 20 us per step.)
 *     Writing the conv state only after the wait is what makes the
 *     recompute in kernel 1 race-free: every kernel-1 block reads the old
 *     state, and kernel 2 writes only when kernel 1 has finished.
 *
 * Batches beyond 8 take more blocks (grid z / y), 8 sequences per block.
 */
#include <cooperative_groups.h>
#include <cuda_bf16.h>

#include "mamba_common.cuh"
#include "zb_kernels.h"

namespace cg = cooperative_groups;

namespace {

constexpr int kSplit = 8;     /* cluster size: blocks splitting a head's channels */
constexpr int kRPW = 4;       /* x_proj rows per warp */
constexpr int kWarps1 = 8;
constexpr int kRows = kRPW * kWarps1; /* x_proj rows per block */
constexpr int kBG = 8;        /* sequences per block */
constexpr int kCPW = 4;       /* channels per warp in kernel 2 */
constexpr int kWarps2 = 8;

struct StepP {
    const zbk_half *xz;
    const float *conv_w, *conv_b;
    zbk_half *conv_state;
    const zbk_half *x_proj, *dt_proj;
    const float *dt_bias, *A_log, *D;
    float *ssm_state;
    zbk_half *y;
    float *par; /* [batch][nh][P]: dt_raw, B, C */
    int batch, Di, K, N, nh, R, P, Dh;
    int cps;    /* 8-channel chunks per cluster rank */
    int par_smem; /* kernel 2 stages its heads' par in shared memory */
    zb_act act;
    int vec1, vec2; /* 16-byte weight rows for x_proj / dt_proj */
};

/* act() inlined: these kernels have no large unrolled bodies, and a call
 * (mamba_act_rt's out-of-line path) would make ptxas save registers around
 * it. Same formulas as the prefill kernels, hence the same values. */
__device__ __forceinline__ float act_inl(zb_act act, float x)
{
    return act == ZB_ACT_SILU ? mamba_silu(x) : zbk_act(act, x);
}

/* The inputs of one channel's conv step, loaded together so that several
 * channels' loads are in flight at once. */
struct ConvIn {
    zbk_half raw[MAMBA_MAX_CONV]; /* the new window: state[1..K-1], x */
    float w[MAMBA_MAX_CONV], bias;
};

__device__ __forceinline__ void conv_load(const StepP &p, int b, int c, ConvIn &in)
{
    const int K = p.K;
    const zbk_half *st = p.conv_state + ((int64_t)b * p.Di + c) * K;
    const zbk_half x = p.xz[(int64_t)b * 2 * p.Di + c];
#pragma unroll
    for (int k = 0; k < MAMBA_MAX_CONV; k++) {
        if (k < K) {
            in.raw[k] = k + 1 < K ? st[k + 1] : x;
            in.w[k] = p.conv_w[(int64_t)c * K + k];
        }
    }
    in.bias = p.conv_b ? p.conv_b[c] : 0.0f;
}

/* u after this step's input, rounded to 16-bit as the prefill path stores
 * it; the same sum and activation as zbk_conv1d_prefill (same bits). */
__device__ __forceinline__ float conv_u(const StepP &p, const ConvIn &in)
{
    float e[MAMBA_MAX_CONV];
#pragma unroll
    for (int k = 0; k < MAMBA_MAX_CONV; k++) e[k] = k < p.K ? zbk_h2f(in.raw[k]) : 0.0f;
    return mamba_round_half(act_inl(p.act, mamba_conv_sum_rt(in.bias, in.w, e, p.K)));
}

__device__ __forceinline__ float dot8(const uint4 w, const float *u)
{
    float acc = zbk_half_lo(w.x) * u[0];
    acc = fmaf(zbk_half_hi(w.x), u[1], acc);
    acc = fmaf(zbk_half_lo(w.y), u[2], acc);
    acc = fmaf(zbk_half_hi(w.y), u[3], acc);
    acc = fmaf(zbk_half_lo(w.z), u[4], acc);
    acc = fmaf(zbk_half_hi(w.z), u[5], acc);
    acc = fmaf(zbk_half_lo(w.w), u[6], acc);
    acc = fmaf(zbk_half_hi(w.w), u[7], acc);
    return acc;
}

/* 8 16-bit at p (elements e with e < n only, the rest 0) as one uint4. */
__device__ __forceinline__ uint4 load8(const zbk_half *p, int n, bool vec)
{
    if (vec) return __ldg(reinterpret_cast<const uint4 *>(p));
    uint32_t h[8];
#pragma unroll
    for (int e = 0; e < 8; e++) h[e] = e < n ? p[e] : 0u;
    return make_uint4(h[0] | h[1] << 16, h[2] | h[3] << 16, h[4] | h[5] << 16, h[6] | h[7] << 16);
}

/* ------------------------------------------------------------ kernel 1 */

template <int NB, int CPL>
__global__ void __launch_bounds__(kWarps1 * 32, 2) xproj_kernel(const StepP p)
{
    extern __shared__ __align__(16) float sm1[];
    cg::cluster_group cluster = cg::this_cluster();
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int ks = (int)cluster.block_rank(); /* channel slice */
    const int p0 = (blockIdx.x / kSplit) * kRows, p1 = min(p0 + kRows, p.P);
    const int h = blockIdx.y, b0 = blockIdx.z * kBG, nb = min(NB, p.batch - b0);
    const int nchunk = (p.Dh + 7) / 8;
    const int q0 = ks * p.cps, q1 = min(q0 + p.cps, nchunk);
    const int ch0 = 8 * q0, ch1 = min(8 * q1, p.Dh); /* channels of the head */
    const int ldu = 8 * p.cps;
    float *us = sm1;                /* [NB][ldu] */
    float *part = sm1 + NB * ldu;   /* [kRows][NB] */


    float acc[kRPW * NB];
#pragma unroll
    for (int i = 0; i < kRPW * NB; i++) acc[i] = 0.0f;

    for (int qb = q0; qb < q1 || qb == q0; qb += 32 * CPL) {
        /* weights first, so they are in flight during the conv */
        uint4 wv[kRPW][CPL];
#pragma unroll
        for (int r = 0; r < kRPW; r++) {
            const int row = p0 + warp + kWarps1 * r;
#pragma unroll
            for (int j = 0; j < CPL; j++) {
                const int q = qb + lane + 32 * j;
                wv[r][j] = make_uint4(0, 0, 0, 0);
                if (row < p1 && q < q1)
                    wv[r][j] = load8(p.x_proj + ((int64_t)h * p.P + row) * p.Dh + 8 * q, p.Dh - 8 * q, p.vec1);
            }
        }
        if (qb == q0) {
            /* The conv's rolling state and weights into L2 (no kernel of
             * this step writes them before the conv: kernel 2 writes the
             * state after its wait), so that the conv after the wait
             * finds them there instead of in DRAM. */
            const int64_t c0 = (int64_t)h * p.Dh + ch0; /* the slice's first channel in the layer */
            const int nc = ch1 - ch0;
            /* one range a thread: each sequence's states, the weights, the bias */
            for (int i = tid; i < nb + 2; i += kWarps1 * 32) {
                const void *lo = nullptr;
                int bytes = 0;
                if (i < nb) {
                    lo = p.conv_state + ((int64_t)(b0 + i) * p.Di + c0) * p.K;
                    bytes = nc * p.K * (int)sizeof(zbk_half);
                } else if (i == nb) {
                    lo = p.conv_w + c0 * p.K;
                    bytes = nc * p.K * (int)sizeof(float);
                } else if (p.conv_b) {
                    lo = p.conv_b + c0;
                    bytes = nc * (int)sizeof(float);
                }
                for (int o = 0; o < bytes; o += 128)
                    asm volatile("prefetch.global.L2 [%0];" ::"l"(static_cast<const char *>(lo) + o));
            }
            /* Launched as a programmatic dependent of in_proj: the first
             * x_proj loads above are in flight; xz is in_proj's output. */
            zbk_pdl_wait();
            /* Only now may kernel 2 start its prologue: it reads xz and the
             * states, which are final once in_proj (and everything before
             * it) has finished. Triggering before this wait let kernel 2
             * read xz while in_proj still wrote it (test_mamba caught it). */
            zbk_pdl_trigger();
            /* conv + act of this block's channels, all its sequences;
             * chunk tails past the head's end are zero. Two items' loads
             * are issued before any is used. */
            constexpr int UNR = 2;
            const int nitem = nb * ldu;
            for (int i0 = tid; i0 < nitem; i0 += UNR * kWarps1 * 32) {
                ConvIn in[UNR];
#pragma unroll
                for (int j = 0; j < UNR; j++) {
                    const int i = i0 + j * kWarps1 * 32, bb = i / ldu, ci = i % ldu;
                    if (i < nitem && ch0 + ci < ch1) conv_load(p, b0 + bb, h * p.Dh + ch0 + ci, in[j]);
                }
#pragma unroll
                for (int j = 0; j < UNR; j++) {
                    const int i = i0 + j * kWarps1 * 32, bb = i / ldu, ci = i % ldu;
                    if (i < nitem) us[bb * ldu + ci] = ch0 + ci < ch1 ? conv_u(p, in[j]) : 0.0f;
                }
            }
            __syncthreads();
        }
#pragma unroll
        for (int j = 0; j < CPL; j++) {
            const int q = qb + lane + 32 * j;
            if (q >= q1) continue;
#pragma unroll
            for (int bb = 0; bb < NB; bb++) {
                if (bb >= nb) continue;
                const float4 *up = reinterpret_cast<const float4 *>(us + bb * ldu + 8 * (q - q0));
                const float4 ua = up[0], ub = up[1];
                const float uv[8] = {ua.x, ua.y, ua.z, ua.w, ub.x, ub.y, ub.z, ub.w};
#pragma unroll
                for (int r = 0; r < kRPW; r++) acc[r * NB + bb] += dot8(wv[r][j], uv);
            }
        }
        if (q1 <= q0) break;
    }

    /* lane l ends with the row sum of value (l / (32 / M)), M = kRPW*NB */
    constexpr int M = kRPW * NB, G = 32 / M;
    mamba_transpose_reduce<M, 16>(acc, lane);
    if (lane % G == 0) {
        const int v = lane / G, r = v / NB, bb = v % NB;
        part[(warp + kWarps1 * r) * NB + bb] = acc[0];
    }
    cluster.sync();

    /* rank ks adds up rows ks, ks+8, ... over the 8 ranks, in rank order */
    for (int i = tid; i < (kRows / kSplit) * NB; i += kWarps1 * 32) {
        const int row = ks + kSplit * (i / NB), bb = i % NB;
        if (p0 + row < p1 && bb < nb) {
            float sum = 0.0f;
#pragma unroll
            for (int r = 0; r < kSplit; r++) sum += cluster.map_shared_rank(part, r)[row * NB + bb];
            p.par[((int64_t)(b0 + bb) * p.nh + h) * p.P + p0 + row] = sum;
        }
    }
    cluster.sync(); /* keep this block's shared memory alive for the others */
}

/* ------------------------------------------------------------ kernel 2 */

/* SUB lanes update one channel's states (32, or 16 when d_state <= 16, so
 * that a warp takes two channels at once and no lane idles); NP passes of
 * 32 / SUB channels per warp. */
template <int NB, int NPL, int SUB, int NP>
__global__ void __launch_bounds__(kWarps2 * 32, 2) scan_step_kernel(const StepP p)
{
    constexpr int CPP = 32 / SUB;         /* channels a warp updates at once */
    constexpr int CPW = NP * CPP;         /* channels per warp */
    constexpr int KQ = 256 / (8 * SUB);   /* dt_proj pieces a lane keeps (dt_rank <= 256) */
    static_assert(CPW * NB <= 32, "one conv item per lane");
    extern __shared__ __align__(16) float sm2[]; /* par of the block's heads */
    zbk_pdl_trigger(); /* out_proj may start streaming its weights */
    const int tid = threadIdx.x, lane = tid & 31, sl = lane & (SUB - 1), half = lane / SUB;
    const int wg = blockIdx.x * kWarps2 + (tid >> 5);
    const int b0 = blockIdx.y * kBG, nb = min(NB, p.batch - b0);
    const int N = p.N, R = p.R, Di = p.Di, P = p.P;
    const int nch8 = (R + 7) / 8;
    constexpr int G = SUB / NB; /* lane half*SUB + b*G holds sequence b's scalars */
    const int hb = sl / G;
    const bool holder = sl % G == 0 && hb < nb;
    /* the channel this lane's group updates in pass i */
    auto chan = [&](int i) { return (wg * NP + i) * CPP + half; };

    /* Prologue, independent of kernel 1 (it neither writes these nor
     * anything they are computed from): dt_proj rows, A, D, dt bias, the
     * SSM state, and the conv step itself (kernel 1 only reads the conv
     * state; the new one is written after the wait). */
    uint4 wq[NP][KQ];
    float A2[NP][NPL], s[NP][NB][NPL], dtb[NP], Dc[NP];
#pragma unroll
    for (int i = 0; i < NP; i++) {
        const int c = chan(i);
        const bool ok = c < Di;
#pragma unroll
        for (int k = 0; k < KQ; k++) {
            const int q = sl + SUB * k;
            wq[i][k] = make_uint4(0, 0, 0, 0);
            if (ok && q < nch8) wq[i][k] = load8(p.dt_proj + (int64_t)c * R + 8 * q, R - 8 * q, p.vec2);
        }
        dtb[i] = ok ? p.dt_bias[c] : 0.0f;
        Dc[i] = ok ? p.D[c] : 0.0f;
#pragma unroll
        for (int j = 0; j < NPL; j++) {
            const int n = sl + SUB * j;
            const bool okn = ok && n < N;
            A2[i][j] = okn ? -expf(p.A_log[(int64_t)c * N + n]) * MAMBA_LOG2E : 0.0f;
#pragma unroll
            for (int bb = 0; bb < NB; bb++)
                s[i][bb][j] = okn && bb < nb ? p.ssm_state[((int64_t)(b0 + bb) * Di + c) * N + n] : 0.0f;
        }
    }
    /* conv step: one (channel, sequence) item per lane, all in parallel;
     * lane L takes the warp's channel L % CPW of sequence L / CPW */
    const int ci = lane % CPW, cbb = lane / CPW, cc = wg * CPW + ci;
    const bool citem = cbb < nb && cc < Di;
    float cu = 0.0f, cg_ = 0.0f;
    ConvIn cin;
    if (citem) {
        conv_load(p, b0 + cbb, cc, cin);
        cg_ = act_inl(p.act, zbk_h2f(p.xz[(int64_t)(b0 + cbb) * 2 * Di + Di + cc]));
        cu = conv_u(p, cin);
    }

    zbk_pdl_wait(); /* kernel 1 done: par written, conv state free */

    /* the (dt_raw, B, C) vectors of the block's heads, into shared memory
     * in one pass (or read in place when they would not fit) */
    const int cb0 = blockIdx.x * kWarps2 * CPW, cb1 = min(cb0 + kWarps2 * CPW, Di);
    const int h_lo = cb0 / p.Dh, nhb = (cb1 - 1) / p.Dh - h_lo + 1;
    if (p.par_smem) {
        for (int i = tid; i < nhb * nb * P; i += kWarps2 * 32) {
            const int hh = i / (nb * P), bb = (i / P) % nb, q = i % P;
            sm2[(hh * NB + bb) * P + q] = p.par[((int64_t)(b0 + bb) * p.nh + h_lo + hh) * P + q];
        }
        __syncthreads();
    }
    auto par_of = [&](int bb, int h) -> const float * {
        return p.par_smem ? sm2 + ((h - h_lo) * NB + bb) * P : p.par + ((int64_t)(b0 + bb) * p.nh + h) * P;
    };

#pragma unroll
    for (int i = 0; i < NP; i++) {
        if ((wg * NP + i) * CPP >= Di) break; /* warp-uniform: the pass's first channel */
        const int c = chan(i), h = min(c, Di - 1) / p.Dh;
        /* dt_proj row . dt_raw of each sequence */
        float dacc[NB];
#pragma unroll
        for (int bb = 0; bb < NB; bb++) {
            dacc[bb] = 0.0f;
            if (bb >= nb) continue;
            const float *pr = par_of(bb, h);
#pragma unroll
            for (int k = 0; k < KQ; k++) {
                const int q = sl + SUB * k;
                if (q < nch8) {
                    float v[8];
#pragma unroll
                    for (int e = 0; e < 8; e++) v[e] = 8 * q + e < R ? pr[8 * q + e] : 0.0f;
                    dacc[bb] += dot8(wq[i][k], v);
                }
            }
            for (int q = sl + SUB * KQ; q < nch8; q += SUB) { /* dt_rank > 256 */
                const uint4 w = c < Di ? load8(p.dt_proj + (int64_t)c * R + 8 * q, R - 8 * q, p.vec2)
                                       : make_uint4(0, 0, 0, 0);
                float v[8];
#pragma unroll
                for (int e = 0; e < 8; e++) v[e] = 8 * q + e < R ? pr[8 * q + e] : 0.0f;
                dacc[bb] += dot8(w, v);
            }
        }
        mamba_transpose_reduce<NB, SUB / 2>(dacc, lane); /* lane half*SUB + b*G: sequence b */
        /* this lane's u and act(z) of sequence hb, from the conv lane */
        const int src = (hb % NB) * CPW + i * CPP + half;
        const float uu = __shfl_sync(0xffffffffu, cu, src);
        const float gz = __shfl_sync(0xffffffffu, cg_, src);
        const float delta = mamba_softplus(dacc[0] + dtb[i]);
        const float du = delta * uu;

        float yacc[NB];
#pragma unroll
        for (int bb = 0; bb < NB; bb++) {
            yacc[bb] = 0.0f;
            if (bb >= nb) continue;
            const float dl = __shfl_sync(0xffffffffu, delta, half * SUB + bb * G);
            const float dub = __shfl_sync(0xffffffffu, du, half * SUB + bb * G);
            const float *bc = par_of(bb, h) + R;
#pragma unroll
            for (int j = 0; j < NPL; j++) {
                const int n = sl + SUB * j;
                if (n < N) {
                    const float a = mamba_ex2(A2[i][j] * dl);
                    s[i][bb][j] = fmaf(a, s[i][bb][j], dub * bc[n]);
                    yacc[bb] = fmaf(s[i][bb][j], bc[N + n], yacc[bb]);
                }
            }
        }
        mamba_transpose_reduce<NB, SUB / 2>(yacc, lane);
        if (holder && c < Di) p.y[(int64_t)(b0 + hb) * Di + c] = zbk_f2h((yacc[0] + Dc[i] * uu) * gz);
    }

    /* the rolled conv window, by the lane that computed it */
    if (citem) {
        zbk_half *st = p.conv_state + ((int64_t)(b0 + cbb) * Di + cc) * p.K;
#pragma unroll
        for (int k = 0; k < MAMBA_MAX_CONV; k++)
            if (k < p.K) st[k] = cin.raw[k];
    }

#pragma unroll
    for (int i = 0; i < NP; i++) {
        const int c = chan(i);
        if (c >= Di) continue;
#pragma unroll
        for (int j = 0; j < NPL; j++) {
            const int n = sl + SUB * j;
            if (n >= N) continue;
#pragma unroll
            for (int bb = 0; bb < NB; bb++)
                if (bb < nb) p.ssm_state[((int64_t)(b0 + bb) * Di + c) * N + n] = s[i][bb][j];
        }
    }
}

/* ------------------------------------------------------------- launches */

template <int NB, int CPL> cudaError_t launch1(const StepP &p, cudaStream_t stream)
{
    const size_t smem = (size_t)(NB * 8 * p.cps + kRows * NB) * sizeof(float);
    if (smem > 48 * 1024) {
        cudaError_t e = cudaFuncSetAttribute(xproj_kernel<NB, CPL>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             (int)smem);
        if (e != cudaSuccess) return e;
    }
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(kSplit * ((p.P + kRows - 1) / kRows), p.nh, (p.batch + kBG - 1) / kBG);
    cfg.blockDim = dim3(kWarps1 * 32);
    cfg.dynamicSmemBytes = smem;
    cfg.stream = stream;
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeClusterDimension;
    attr[0].val.clusterDim.x = kSplit;
    attr[0].val.clusterDim.y = 1;
    attr[0].val.clusterDim.z = 1;
    cfg.attrs = attr;
    cfg.numAttrs = 1;
    /* a programmatic dependent of in_proj (its weight loads start early) */
    return zbk_launch_dependent(cfg, xproj_kernel<NB, CPL>, p);
}

template <int NB> cudaError_t launch1_cpl(const StepP &p, cudaStream_t stream)
{
    if (p.cps <= 32) return launch1<NB, 1>(p, stream);
    if (p.cps <= 64) return launch1<NB, 2>(p, stream);
    return launch1<NB, 4>(p, stream); /* loops for wider heads */
}

/* Heads a block of kernel 2 (span consecutive channels) touches. */
inline int heads_per_block2(const StepP &p, int span)
{
    const int n = (span - 1 + p.Dh - 1) / p.Dh + 1;
    return n < p.nh ? n : p.nh;
}

template <int NB, int NPL, int SUB, int NP> cudaError_t launch2(const StepP &p0, cudaStream_t stream)
{
    constexpr int CPW = NP * (32 / SUB);
    StepP p = p0;
    size_t smem = (size_t)heads_per_block2(p, kWarps2 * CPW) * NB * p.P * sizeof(float);
    p.par_smem = smem <= 48 * 1024;
    if (!p.par_smem) smem = 0;
    cudaLaunchConfig_t cfg = {};
    cfg.dynamicSmemBytes = smem;
    const int warps = (p.Di + CPW - 1) / CPW;
    cfg.gridDim = dim3((warps + kWarps2 - 1) / kWarps2, (p.batch + kBG - 1) / kBG, 1);
    cfg.blockDim = dim3(kWarps2 * 32);
    cfg.stream = stream;
    return zbk_launch_dependent(cfg, scan_step_kernel<NB, NPL, SUB, NP>, p);
}

template <int NB> cudaError_t launch2_npl(const StepP &p, cudaStream_t stream)
{
    /* d_state <= 16 (Zamba): two channels a warp at once, two passes, so
     * that no lane idles and the grid is the same 4 channels a warp */
    if constexpr (NB <= 4)
        if (p.N <= 16) return launch2<NB, 1, 16, 2>(p, stream);
    if (p.N <= 32) return launch2<NB, 1, 32, kCPW>(p, stream);
    if (p.N <= 64) return launch2<NB, 2, 32, kCPW>(p, stream);
    return launch2<NB, 8, 32, kCPW>(p, stream);
}

inline bool al16(const void *q) { return ((uintptr_t)q & 15) == 0; }

} // namespace

extern "C" size_t zbk_mamba_step_scratch_bytes(int batch, int d_inner, int nh, int dt_rank, int d_state)
{
    (void)d_inner;
    if (batch < 1 || nh < 1 || dt_rank < 0 || d_state < 1) return 0;
    const size_t bytes = (size_t)batch * nh * (dt_rank + 2 * d_state) * sizeof(float);
    return (bytes + 255) & ~(size_t)255;
}

extern "C" cudaError_t zbk_mamba_step(const zbk_mamba_step_args *a, cudaStream_t stream)
{
    if (!a || a->batch < 1 || a->d_inner < 1 || a->nh < 1 || a->d_inner % a->nh != 0 || a->d_conv < 1 ||
        a->d_conv > MAMBA_MAX_CONV || a->d_state < 1 || a->d_state > 256 || a->dt_rank < 1)
        return cudaErrorInvalidValue;
    if (!a->xz || !a->conv_w || !a->conv_state || !a->x_proj || !a->dt_proj || !a->dt_bias || !a->A_log || !a->D ||
        !a->ssm_state || !a->y || !a->scratch)
        return cudaErrorInvalidValue;
    StepP p;
    p.xz = a->xz, p.conv_w = a->conv_w, p.conv_b = a->conv_b, p.conv_state = a->conv_state;
    p.x_proj = a->x_proj, p.dt_proj = a->dt_proj, p.dt_bias = a->dt_bias, p.A_log = a->A_log, p.D = a->D;
    p.ssm_state = a->ssm_state, p.y = a->y, p.par = static_cast<float *>(a->scratch);
    p.batch = a->batch, p.Di = a->d_inner, p.K = a->d_conv, p.N = a->d_state, p.nh = a->nh, p.R = a->dt_rank;
    p.P = a->dt_rank + 2 * a->d_state, p.Dh = a->d_inner / a->nh, p.act = a->act;
    p.cps = ((p.Dh + 7) / 8 + kSplit - 1) / kSplit;
    p.vec1 = p.Dh % 8 == 0 && al16(p.x_proj);
    p.vec2 = p.R % 8 == 0 && al16(p.dt_proj);
    p.par_smem = 0; /* decided per launch of kernel 2 */

    if (p.nh > 65535 || (p.batch + kBG - 1) / kBG > 65535) return cudaErrorInvalidValue;

    const int nb = p.batch < kBG ? p.batch : kBG;
    cudaError_t e;
    if (nb == 1)
        e = launch1_cpl<1>(p, stream);
    else if (nb == 2)
        e = launch1_cpl<2>(p, stream);
    else if (nb <= 4)
        e = launch1_cpl<4>(p, stream);
    else
        e = launch1_cpl<8>(p, stream);
    if (e != cudaSuccess) return e;
    if (nb == 1) return launch2_npl<1>(p, stream);
    if (nb == 2) return launch2_npl<2>(p, stream);
    if (nb <= 4) return launch2_npl<4>(p, stream);
    return launch2_npl<8>(p, stream);
}
