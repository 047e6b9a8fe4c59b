/*
 * Attention for one new token per sequence (T == 1): flash-decoding, plus
 * the scalar generic kernel that backs every shape the fast paths skip.
 *
 * Decode reads the whole visible KV range once and does 4 flops per 16-bit
 * pair read: it is memory-bound, so the design is about bytes in flight.
 *  - Split-KV: the visible keys [max(0, p - window + 1), p] are cut into
 *    nch chunks of ch keys (64..512); block (chunk, KV head [, head
 *    subgroup], sequence) computes for its chunk the max m, the sum l of
 *    exp2(s - m) and the unnormalised sum of exp2(s - m) v, for all query
 *    heads of its KV head (GQA: K/V bytes are read once for the group).
 *    nch targets 512 blocks in all (one wave at 4 resident blocks of 128
 *    threads per SM on the 132 SMs of an H100: a partial second wave cost
 *    ~30%) so that short contexts still spread over the machine; chunks
 *    are 64 to 4096 / (heads per block) keys.
 *  - A combine kernel merges the chunks of each (sequence, head):
 *    M = max m_c, out = sum_c 2^(m_c - M) o_c / sum_c 2^(m_c - M) l_c.
 *    One chunk writes the normalised output directly (no second launch).
 *  - Inside a block a key row is read by LPK lanes with 16-byte loads
 *    (hd 128: 16 lanes, 2 keys per warp; hd 464: 32 lanes, 2 loads each),
 *    up to 8 loads per thread issued before their first use. Phase 1 makes
 *    the scores (q pre-scaled by scale*log2 e in shared memory, shuffle sums
 *    over the LPK lanes) into shared memory and their max; phase 2 reads V
 *    the same way (its first loads issued before the barrier between the
 *    phases) and accumulates exp2(s - m) v and exp2(s - m) in registers,
 *    reduced across key lanes (shuffles) and warps (shared memory).
 * Fast path: hd % 8 == 0, hd <= 512, 16-byte aligned q/kc/vc; otherwise the
 * generic kernel.
 *
 * Position in device memory (pos_dev, what a captured graph needs): the
 * chunk length and count are planned on the host for the longest context
 * the call may see (max_pos); each block reads the position, and blocks
 * whose chunk starts past the step's keys return at once; the combine
 * merges only the chunks that ran. The engine uses this form for every
 * decode step, so cuda_fused and cuda_graph run identical launches.
 *
 * Scratch (zbk_attention_scratch_bytes): (m, l) pairs [batch][nh][nch]
 * followed by partial outputs [batch][nh][nch][hd], fp32, for the largest
 * nch any context up to max_kv can get.
 */
#include <cuda_bf16.h>

#include <math.h>

#include <algorithm>

#include "attention_common.cuh"
#include "zbk_common.cuh"

namespace {

using namespace zbattn;

constexpr int kThreads = 128;
/* 512 blocks: one wave at 4 resident blocks per SM on 132 SMs, 16 KB of
 * loads in flight per block. (1024 blocks at 7 a SM ran a partial second
 * wave: 65% of copy bandwidth at context 16384 against 82-87% now.) */
constexpr int kChMin = 64, kChMaxAll = 512, kTargetBlocks = 512;

/* Longest chunk for GT heads a block: the score buffer stays at 16 KB. */
int ch_max(int gt) { return 4096 / gt; }

int ceil_div(int a, int b) { return (a + b - 1) / b; }

/* Chunk length and count for `blocks_per_chunk` blocks of work per chunk
 * index (sequences x KV head groups) over L keys. */
void plan_chunks(int blocks_per_chunk, int L, int chmax, int *ch, int *nch)
{
    int n = ceil_div(kTargetBlocks, blocks_per_chunk);
    n = std::min(n, ceil_div(L, kChMin));
    n = std::max(n, ceil_div(L, chmax));
    n = std::max(n, 1);
    int c = ceil_div(L, n);
    c = (c + 15) / 16 * 16; /* whole passes of the key loops; stays <= chmax */
    *ch = c;
    *nch = ceil_div(L, c);
}

/* The most chunks any call with batch sequences and L <= max_kv can get
 * (blocks_per_chunk >= batch). */
int max_chunks(int batch, int max_kv)
{
    const int n =
        std::max(std::min(ceil_div(kTargetBlocks, batch), ceil_div(max_kv, kChMin)), ceil_div(max_kv, kChMaxAll));
    return std::max(n, 1);
}

struct DecodeParams {
    const zbk_half *q, *kc, *vc;
    zbk_half *out;
    float2 *pml;
    float *po;
    int nh, nkv, hd, slots, G, nsub, klo, L, ch, nch, lpk_log2;
    float sl2;
    const int32_t *pos_dev; /* when set: klo and L come from *pos_dev, window, max_pos */
    int window, max_pos;
};

__device__ __forceinline__ void unpack8(const uint4 &v, float (&f)[8])
{
    f[0] = zbk_half_lo(v.x);
    f[1] = zbk_half_hi(v.x);
    f[2] = zbk_half_lo(v.y);
    f[3] = zbk_half_hi(v.y);
    f[4] = zbk_half_lo(v.z);
    f[5] = zbk_half_hi(v.z);
    f[6] = zbk_half_lo(v.w);
    f[7] = zbk_half_hi(v.w);
}

/* At least 4 resident blocks per SM (the one-wave plan above); wider head
 * groups issue fewer passes at once to stay within 128 registers. */
template <int GT, int CPL> __global__ void __launch_bounds__(kThreads, 4) decode_chunk_kernel(DecodeParams p)
{
    /* key passes whose loads are issued together: 8 x 16 bytes per thread
     * for one head, fewer where each key costs more registers of math */
    constexpr int U0 = 8 / (CPL * (GT >= 4 ? GT / 2 : 1)), U = U0 > 2 ? U0 : 2;
    extern __shared__ __align__(16) float sm[];
    zbk_pdl_begin(); /* q, the cache and the position come from the kernels before */
    int klo = p.klo, L = p.L;
    if (p.pos_dev) {
        const int pos = *p.pos_dev;
        /* past the planned range the chunks would not cover every key: fail
         * loudly rather than attend to part of the context */
        if (pos < 0 || pos > p.max_pos) __trap();
        klo = first_key(pos, p.window);
        L = pos - klo + 1;
        if ((int)blockIdx.x * p.ch >= L) return; /* a chunk past this step's keys */
    }
    const int hd = p.hd, R = hd >> 3;
    float *qs = sm;                 /* [GT][hd], pre-scaled */
    float *sc = qs + GT * hd;       /* [GT][ch] scores (log2 domain) */
    float *ored = sc + GT * p.ch;   /* [4 warps][GT][hd] */
    float *wmax = ored + 4 * GT * hd; /* [4 warps][GT] score max */
    float *wsum = wmax + 4 * GT;      /* [4 warps][GT] sum of exp2 */

    const int c = (int)blockIdx.x, gs = (int)blockIdx.y, b = (int)blockIdx.z;
    const int kvh = gs / p.nsub, h0 = kvh * p.G + (gs - kvh * p.nsub) * GT;
    const int tid = (int)threadIdx.x, warp = tid >> 5, lane = tid & 31;

    for (int i = tid; i < GT * hd; i += kThreads) {
        const int g = i / hd;
        qs[i] = zbk_h2f(p.q[((size_t)b * p.nh + h0 + g) * hd + (i - g * hd)]) * p.sl2;
    }
    const int k0 = c * p.ch;              /* chunk start, relative to klo */
    const int n = min(p.ch, L - k0);      /* keys in this chunk (>= 1) */
    const int slot0 = (klo + k0) % p.slots;
    const size_t rs = (size_t)p.nkv * hd;
    const zbk_half *kb = p.kc + (size_t)b * p.slots * rs + (size_t)kvh * hd;
    const zbk_half *vb = p.vc + (size_t)b * p.slots * rs + (size_t)kvh * hd;
    const int LPK = 1 << p.lpk_log2, KPW = 32 >> p.lpk_log2;
    const int c0 = lane & (LPK - 1), kl = lane >> p.lpk_log2;
    __syncthreads();

    const int stride = 4 * KPW * U;
    /* 16-byte pieces of U key passes (keys base + u * 4 * KPW + kl) of K or
     * V, all issued before any is used; zeros past the chunk's end */
    auto load = [&](uint4 (&r)[U][CPL], const zbk_half *src, int base) {
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int j = base + u * 4 * KPW + kl;
            int slot = slot0 + j;
            if (slot >= p.slots) slot -= p.slots;
#pragma unroll
            for (int i = 0; i < CPL; i++) {
                const int cc = c0 + i * LPK;
                if (j < n && cc < R)
                    r[u][i] = __ldg(reinterpret_cast<const uint4 *>(src + (size_t)slot * rs + cc * 8));
                else
                    r[u][i] = make_uint4(0, 0, 0, 0);
            }
        }
    };

    /* phase 1: scores, and their max (kept by the lanes that store them) */
    float mloc[GT];
#pragma unroll
    for (int g = 0; g < GT; g++) mloc[g] = -INFINITY;
    for (int base = warp * KPW; base < n; base += stride) {
        uint4 kr[U][CPL];
        load(kr, kb, base);
#pragma unroll
        for (int u = 0; u < U; u++) {
            float acc[GT];
#pragma unroll
            for (int g = 0; g < GT; g++) acc[g] = 0.f;
#pragma unroll
            for (int i = 0; i < CPL; i++) {
                const int cc = c0 + i * LPK;
                if (cc < R) {
                    float kf[8];
                    unpack8(kr[u][i], kf);
#pragma unroll
                    for (int g = 0; g < GT; g++) {
                        const float4 qa = *reinterpret_cast<const float4 *>(qs + g * hd + cc * 8);
                        const float4 qb = *reinterpret_cast<const float4 *>(qs + g * hd + cc * 8 + 4);
                        acc[g] += qa.x * kf[0] + qa.y * kf[1] + qa.z * kf[2] + qa.w * kf[3] + qb.x * kf[4] +
                                  qb.y * kf[5] + qb.z * kf[6] + qb.w * kf[7];
                    }
                }
            }
            for (int off = LPK >> 1; off > 0; off >>= 1)
#pragma unroll
                for (int g = 0; g < GT; g++) acc[g] += __shfl_xor_sync(0xffffffffu, acc[g], off);
            const int j = base + u * 4 * KPW + kl;
            if (c0 == 0 && j < n)
#pragma unroll
                for (int g = 0; g < GT; g++) {
                    sc[g * p.ch + j] = acc[g];
                    mloc[g] = fmaxf(mloc[g], acc[g]);
                }
        }
    }
#pragma unroll
    for (int g = 0; g < GT; g++) {
#pragma unroll
        for (int off = 16; off > 0; off >>= 1) mloc[g] = fmaxf(mloc[g], __shfl_xor_sync(0xffffffffu, mloc[g], off));
        if (lane == 0) wmax[warp * GT + g] = mloc[g];
    }
    /* the first V pieces do not depend on the scores: their loads overlap
     * the barrier */
    uint4 vr[U][CPL];
    load(vr, vb, warp * KPW);
    __syncthreads();
    float mrow[GT], lsum[GT];
#pragma unroll
    for (int g = 0; g < GT; g++) {
        mrow[g] = fmaxf(fmaxf(wmax[g], wmax[GT + g]), fmaxf(wmax[2 * GT + g], wmax[3 * GT + g]));
        lsum[g] = 0.f;
    }

    /* phase 2: sum_j 2^(s_j - m) v_j, and sum_j 2^(s_j - m) (by one lane a key) */
    float o[CPL][GT][8];
#pragma unroll
    for (int i = 0; i < CPL; i++)
#pragma unroll
        for (int g = 0; g < GT; g++)
#pragma unroll
            for (int e = 0; e < 8; e++) o[i][g][e] = 0.f;
    for (int base = warp * KPW; base < n; base += stride) {
        if (base != warp * KPW) load(vr, vb, base);
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int j = base + u * 4 * KPW + kl;
            float pg[GT];
#pragma unroll
            for (int g = 0; g < GT; g++) {
                pg[g] = j < n ? fast_exp2(sc[g * p.ch + j] - mrow[g]) : 0.f;
                lsum[g] += c0 == 0 ? pg[g] : 0.f;
            }
#pragma unroll
            for (int i = 0; i < CPL; i++) {
                float vf[8];
                unpack8(vr[u][i], vf);
#pragma unroll
                for (int g = 0; g < GT; g++)
#pragma unroll
                    for (int e = 0; e < 8; e++) o[i][g][e] = fmaf(pg[g], vf[e], o[i][g][e]);
            }
        }
    }
#pragma unroll
    for (int g = 0; g < GT; g++) {
#pragma unroll
        for (int off = 16; off > 0; off >>= 1) lsum[g] += __shfl_xor_sync(0xffffffffu, lsum[g], off);
        if (lane == 0) wsum[warp * GT + g] = lsum[g];
    }
    /* key lanes of a warp, then the 4 warps */
    for (int off = LPK; off < 32; off <<= 1)
#pragma unroll
        for (int i = 0; i < CPL; i++)
#pragma unroll
            for (int g = 0; g < GT; g++)
#pragma unroll
                for (int e = 0; e < 8; e++) o[i][g][e] += __shfl_xor_sync(0xffffffffu, o[i][g][e], off);
    if (kl == 0) {
#pragma unroll
        for (int i = 0; i < CPL; i++) {
            const int cc = c0 + i * LPK;
            if (cc < R)
#pragma unroll
                for (int g = 0; g < GT; g++) {
                    float4 *d = reinterpret_cast<float4 *>(ored + (warp * GT + g) * hd + cc * 8);
                    d[0] = make_float4(o[i][g][0], o[i][g][1], o[i][g][2], o[i][g][3]);
                    d[1] = make_float4(o[i][g][4], o[i][g][5], o[i][g][6], o[i][g][7]);
                }
        }
    }
    __syncthreads();
    for (int i = tid; i < GT * hd; i += kThreads) {
        const int g = i / hd, d = i - g * hd;
        const float s = ored[g * hd + d] + ored[(GT + g) * hd + d] + ored[(2 * GT + g) * hd + d] +
                        ored[(3 * GT + g) * hd + d];
        const int h = h0 + g;
        if (p.nch == 1) {
            const float l = wsum[g] + wsum[GT + g] + wsum[2 * GT + g] + wsum[3 * GT + g];
            p.out[((size_t)b * p.nh + h) * hd + d] = zbk_f2h(s / l);
        } else {
            p.po[(((size_t)b * p.nh + h) * p.nch + c) * hd + d] = s;
        }
    }
    if (p.nch > 1 && tid < GT) {
        const int g = tid;
        const float m = fmaxf(fmaxf(wmax[g], wmax[GT + g]), fmaxf(wmax[2 * GT + g], wmax[3 * GT + g]));
        const float l = wsum[g] + wsum[GT + g] + wsum[2 * GT + g] + wsum[3 * GT + g];
        p.pml[((size_t)b * p.nh + h0 + g) * p.nch + c] = make_float2(m, l);
    }
}

__device__ __forceinline__ float block_reduce(float v, bool is_max, float *scratch)
{
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) {
        const float o = __shfl_xor_sync(0xffffffffu, v, off);
        v = is_max ? fmaxf(v, o) : v + o;
    }
    const int warp = (int)threadIdx.x >> 5, lane = (int)threadIdx.x & 31;
    __syncthreads(); /* scratch free from a previous use */
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = scratch[0];
    for (int w = 1; w < (int)blockDim.x / 32; w++) v = is_max ? fmaxf(v, scratch[w]) : v + scratch[w];
    return v;
}

__global__ void __launch_bounds__(kThreads) decode_combine_kernel(const float2 *__restrict__ pml,
                                                                   const float *__restrict__ po, zbk_half *out,
                                                                   int hd, int nch, const int32_t *pos_dev,
                                                                   int window, int ch)
{
    zbk_pdl_begin(); /* the o projection may start streaming its weights */
    extern __shared__ float wsm[]; /* [nch] weights, then 32 scratch */
    float *scratch = wsm + nch;
    const int stride = nch; /* partials are laid out for the planned count */
    if (pos_dev) { /* merge only the chunks that ran */
        const int pos = *pos_dev, L = pos - first_key(pos, window) + 1;
        nch = (L + ch - 1) / ch;
    }
    const size_t bh = blockIdx.x;
    const float2 *ml = pml + bh * stride;
    float mx = -INFINITY;
    for (int c = (int)threadIdx.x; c < nch; c += kThreads) mx = fmaxf(mx, ml[c].x);
    mx = block_reduce(mx, true, scratch);
    float ls = 0.f;
    for (int c = (int)threadIdx.x; c < nch; c += kThreads) {
        const float2 v = ml[c];
        const float w = fast_exp2(v.x - mx);
        wsm[c] = w;
        ls += w * v.y;
    }
    ls = block_reduce(ls, false, scratch); /* its barriers also publish wsm */
    const float inv = 1.f / ls;
    const float *src = po + bh * stride * hd;
    for (int d = (int)threadIdx.x; d < hd; d += kThreads) {
        float acc = 0.f;
        for (int c = 0; c < nch; c++) acc = fmaf(wsm[c], src[(size_t)c * hd + d], acc);
        out[bh * hd + d] = zbk_f2h(acc * inv);
    }
}

/* Any even hd, any T: one block per (query, head, sequence), keys in
 * rounds of 256 with an online softmax; scores by a warp per key. */
__global__ void __launch_bounds__(kThreads) generic_attn_kernel(const zbk_half *__restrict__ q,
                                                                 const zbk_half *__restrict__ kc,
                                                                 const zbk_half *__restrict__ vc, zbk_half *out, int T,
                                                                 int pos0, const int32_t *pos_dev, int nh, int nkv,
                                                                 int hd, int slots, int window, float sl2)
{
    zbk_pdl_begin();
    if (pos_dev) pos0 = *pos_dev; /* decode (T == 1) at the device's position */
    constexpr int RND = 256;
    extern __shared__ float gsm[];
    float *qs = gsm, *os = qs + hd, *sc = os + hd;
    int *sl = reinterpret_cast<int *>(sc + RND);
    const int t = (int)blockIdx.x, h = (int)blockIdx.y, b = (int)blockIdx.z;
    const int tid = (int)threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int kvh = h / (nh / nkv), p = pos0 + t;
    const int klo = window > 0 ? max(0, p - window + 1) : 0;
    const size_t rs = (size_t)nkv * hd;
    const zbk_half *kb = kc + (size_t)b * slots * rs + (size_t)kvh * hd;
    const zbk_half *vb = vc + (size_t)b * slots * rs + (size_t)kvh * hd;
    const zbk_half *qrow = q + (((size_t)b * T + t) * nh + h) * hd;
    for (int d = tid; d < hd; d += kThreads) {
        qs[d] = zbk_h2f(qrow[d]) * sl2;
        os[d] = 0.f;
    }
    float m = -INFINITY, l = 0.f;
    __syncthreads();
    for (int j0 = klo; j0 <= p; j0 += RND) {
        const int n = min(RND, p - j0 + 1);
        for (int i = warp; i < n; i += kThreads / 32) {
            const int slot = (j0 + i) % slots;
            const zbk_half *kr = kb + (size_t)slot * rs;
            float acc = 0.f;
            for (int d = lane; d < hd; d += 32) acc += qs[d] * zbk_h2f(kr[d]);
#pragma unroll
            for (int off = 16; off > 0; off >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, off);
            if (lane == 0) {
                sc[i] = acc;
                sl[i] = slot;
            }
        }
        __syncthreads();
        float tmx = -INFINITY;
        for (int i = 0; i < n; i++) tmx = fmaxf(tmx, sc[i]);
        const float mnew = fmaxf(m, tmx);
        const float alpha = fast_exp2(m - mnew);
        __syncthreads(); /* everyone has the max before sc turns into probabilities */
        for (int i = tid; i < n; i += kThreads) sc[i] = fast_exp2(sc[i] - mnew);
        __syncthreads();
        float ts = 0.f;
        for (int i = 0; i < n; i++) ts += sc[i];
        l = l * alpha + ts;
        m = mnew;
        for (int d = tid; d < hd; d += kThreads) {
            float acc = os[d] * alpha;
            for (int i = 0; i < n; i++) acc = fmaf(sc[i], zbk_h2f(vb[(size_t)sl[i] * rs + d]), acc);
            os[d] = acc;
        }
        __syncthreads(); /* sc and sl are rewritten next round */
    }
    zbk_half *orow = out + (((size_t)b * T + t) * nh + h) * hd;
    for (int d = tid; d < hd; d += kThreads) orow[d] = zbk_f2h(os[d] / l);
}

bool aligned16(const void *p) { return ((uintptr_t)p & 15u) == 0; }

size_t align16(size_t x) { return (x + 15) & ~(size_t)15; }

template <int GT, int CPL>
cudaError_t launch_chunks(const DecodeParams &p, int batch, size_t smem, cudaStream_t stream)
{
    if (smem > 48 * 1024) {
        const cudaError_t e = cudaFuncSetAttribute(decode_chunk_kernel<GT, CPL>,
                                                   cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
        if (e != cudaSuccess) return e;
    }
    const dim3 grid((unsigned)p.nch, (unsigned)(p.nkv * p.nsub), (unsigned)batch);
    return zbk_launch_pdl(decode_chunk_kernel<GT, CPL>, grid, kThreads, smem, stream, p);
}

} // namespace

namespace zbattn {

cudaError_t generic_launch(const zbk_attention_args *a, cudaStream_t stream)
{
    if (a->nh > 65535 || a->batch > 65535) return cudaErrorInvalidValue;
    const size_t smem = (size_t)(2 * a->hd + 256) * sizeof(float) + 256 * sizeof(int);
    if (smem > 48 * 1024) {
        const cudaError_t e =
            cudaFuncSetAttribute(generic_attn_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
        if (e != cudaSuccess) return e;
    }
    const dim3 grid((unsigned)a->T, (unsigned)a->nh, (unsigned)a->batch);
    return zbk_launch_pdl(generic_attn_kernel, grid, kThreads, smem, stream, a->q, a->kc, a->vc, a->out, a->T,
                          a->pos0, a->pos_dev, a->nh, a->nkv, a->hd, a->slots, a->window, a->scale * kLog2e);
}

cudaError_t decode_launch(const zbk_attention_args *a, cudaStream_t stream)
{
    const int hd = a->hd, G = a->nh / a->nkv;
    const bool fast = hd % 8 == 0 && hd <= 512 && aligned16(a->q) && aligned16(a->kc) && aligned16(a->vc);
    if (!fast) return generic_launch(a, stream);
    const int CPL = hd <= 256 ? 1 : 2;
    int GT = 1;
    for (int gt = 8; gt > 1; gt >>= 1)
        if (G % gt == 0 && gt * CPL <= 8) {
            GT = gt;
            break;
        }
    DecodeParams p;
    p.q = a->q;
    p.kc = a->kc;
    p.vc = a->vc;
    p.out = a->out;
    p.nh = a->nh;
    p.nkv = a->nkv;
    p.hd = hd;
    p.slots = a->slots;
    p.G = G;
    p.nsub = G / GT;
    /* device position: plan for the longest context (max_pos) */
    const int plan_pos = a->pos_dev ? a->max_pos : a->pos0;
    p.klo = first_key(plan_pos, a->window);
    p.L = plan_pos - p.klo + 1;
    p.pos_dev = a->pos_dev;
    p.window = a->window;
    p.max_pos = a->max_pos;
    p.sl2 = a->scale * kLog2e;
    if ((int64_t)a->nkv * p.nsub > 65535 || a->batch > 65535) return cudaErrorInvalidValue;
    plan_chunks(a->batch * a->nkv * p.nsub, p.L, ch_max(GT), &p.ch, &p.nch);
    const int R = hd / 8;
    int lpk = 1, lg = 0;
    if (CPL == 1)
        while (lpk < R) lpk <<= 1, lg++;
    else
        lg = 5;
    p.lpk_log2 = lg;
    p.pml = nullptr;
    p.po = nullptr;
    if (p.nch > 1) {
        const size_t nml = (size_t)a->batch * a->nh * p.nch;
        const size_t need = align16(nml * sizeof(float2)) + nml * hd * sizeof(float);
        const uintptr_t base = ((uintptr_t)a->partial + 15) & ~(uintptr_t)15;
        if (!a->partial || need + (base - (uintptr_t)a->partial) > a->partial_bytes) return cudaErrorInvalidValue;
        p.pml = reinterpret_cast<float2 *>(base);
        p.po = reinterpret_cast<float *>(base + align16(nml * sizeof(float2)));
    }
    const size_t smem = (size_t)(GT * hd + GT * p.ch + 4 * GT * hd + 8 * GT) * sizeof(float);
    cudaError_t e;
    if (CPL == 1) {
        switch (GT) {
        case 8: e = launch_chunks<8, 1>(p, a->batch, smem, stream); break;
        case 4: e = launch_chunks<4, 1>(p, a->batch, smem, stream); break;
        case 2: e = launch_chunks<2, 1>(p, a->batch, smem, stream); break;
        default: e = launch_chunks<1, 1>(p, a->batch, smem, stream); break;
        }
    } else {
        switch (GT) {
        case 4: e = launch_chunks<4, 2>(p, a->batch, smem, stream); break;
        case 2: e = launch_chunks<2, 2>(p, a->batch, smem, stream); break;
        default: e = launch_chunks<1, 2>(p, a->batch, smem, stream); break;
        }
    }
    if (e != cudaSuccess || p.nch == 1) return e;
    const size_t csmem = (size_t)(p.nch + 32) * sizeof(float);
    return zbk_launch_pdl(decode_combine_kernel, (unsigned)(a->batch * a->nh), kThreads, csmem, stream, p.pml, p.po,
                          a->out, hd, p.nch, a->pos_dev, a->window, p.ch);
}

} // namespace zbattn

extern "C" size_t zbk_attention_scratch_bytes(int batch, int nh, int hd, int max_kv)
{
    if (batch < 1 || nh < 1 || hd < 1 || max_kv < 1) return 0;
    const size_t nml = (size_t)batch * nh * max_chunks(batch, max_kv);
    return align16(nml * sizeof(float2)) + nml * hd * sizeof(float) + 16; /* + 16: aligning the base */
}
