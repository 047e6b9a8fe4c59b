/*
 * Attention for one new token per sequence (T == 1): flash-decoding, plus
 * the scalar generic kernel that backs every shape the fast paths skip.
 *
 * Decode reads the whole visible KV range once and does 4 flops per 16-bit
 * pair read: it is memory-bound, so the design is about bytes in flight.
 *  - Split-KV: the visible keys [max(0, p - window + 1), p] are cut into
 *    nch chunks of ch keys; block (chunk, KV head [, head
 *    subgroup], sequence) computes for its chunk the max m, the sum l of
 *    exp2(s - m) and the unnormalised sum of exp2(s - m) v, for all query
 *    heads of its KV head (GQA: K/V bytes are read once for the group).
 *    nch targets 512 blocks in all (one wave at 4 resident blocks of 128
 *    threads per SM on the 132 SMs of an H100: a partial second wave cost
 *    ~30%) so that short contexts still spread over the machine; chunks
 *    are 64 to 4096 / (heads per block) keys.
 *  - One launch: the last block of a (sequence, head group) to finish
 *    (an arrival counter per group, atomicInc wrapping it back to 0 for
 *    the next call) merges its chunks, always in chunk order:
 *    M = max m_c, out = sum_c 2^(m_c - M) o_c / sum_c 2^(m_c - M) l_c.
 *    A lone chunk writes the normalised output directly. (A separate
 *    combine kernel cost its launch and a full drain at every layer.)
 *    The merge is a chain of round trips to L2 at the very end of the
 *    call, so each thread loads 16 chunks' partials of 4 columns at once,
 *    its first batch before the chunk weights are made (hd 464 at context
 *    2048: 35.0 -> 31.8 us; one load at a time cost 4 round trips a column).
 *  - Inside a block a key row is read by LPK lanes with 16-byte loads
 *    (hd 128: 16 lanes, 2 keys per warp; hd 464: 32 lanes, 2 loads each).
 *    A single pass: each key lane group keeps a running max, sum and
 *    output columns (online softmax; q pre-scaled by scale*log2 e in
 *    shared memory, scores summed over the LPK lanes by shuffles), and K
 *    and V of the next passes are loaded while this pass is used, so a
 *    warp always has loads in flight (the two-phase form before it, scores
 *    then V, waited for memory four to six times a chunk). The key groups
 *    are merged by shuffles, the 4 warps through shared memory.
 *  - Before its wait for the kernel ahead (RoPE/KV store), a block loads
 *    its first key passes into registers and asks L2 for the 16 KB after
 *    them: every key but the newest was stored by earlier kernels. Only
 *    the newest key is read after the wait.
 * Fast path: hd % 8 == 0, hd <= 512, 16-byte aligned q/kc/vc; otherwise the
 * generic kernel.
 *
 * Position in device memory (pos_dev, what a captured graph needs): the
 * chunk length and count are planned on the host for the longest context
 * the call may see (max_pos); each block reads the position, and blocks
 * whose chunk starts past the step's keys return at once; the merge
 * counts and reads only the chunks that ran. The engine uses this form for every
 * decode step, so cuda_fused and cuda_graph run identical launches.
 *
 * Scratch (zbk_attention_scratch_bytes): the arrival counters [batch][nh]
 * (zero between calls; zbk_attention_scratch_zero_bytes), then (m, l)
 * pairs [batch][nh][nch] and partial outputs [batch][nh][nch][hd], fp32,
 * for the largest nch any context up to max_kv can get.
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

/* Longest chunk for GT heads a block. It bounded the two-phase kernel's
 * score buffer (16 KB); the single-pass kernel keeps the same plan, which
 * is the one measured, and the merge weights ([GT][nch] floats) stay small. */
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
    unsigned *count; /* [batch][nkv * nsub] arrivals of a call's chunks; 0 between calls */
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

/* Key passes a warp keeps in flight: K and V of U passes for the keys in
 * use and as many for the next ones, 8 16-byte loads per thread for one
 * head, fewer where each key costs more registers of math. */
__host__ __device__ constexpr int split_passes(int GT, int CPL)
{
    const int weight = CPL * (GT >= 4 ? GT / 2 : 1); /* registers of math a key costs, relative */
    return weight >= 4 ? 1 : 4 / weight;
}

/* Bytes of K and V a block asks L2 for before its wait (the first keys of
 * its chunk): 8 MB over a 512-block wave, about what the copy engine moves
 * during the RoPE/KV-store kernel ahead, so it lands before it is read. */
constexpr int kPrefetchBytes = 16 * 1024;

/* One block: GT query heads of one KV head over one chunk of keys, in a
 * single pass (online softmax per key lane group: K and V of the next
 * passes are loaded while this pass's scores and sums are made), then the
 * block's (max, sum, unnormalised output) as a partial; the last block of
 * a (sequence, head group) to finish merges every chunk's partial. At
 * least 4 resident blocks per SM (the one-wave plan above). */
template <int GT, int CPL> __global__ void __launch_bounds__(kThreads, 4) decode_split_kernel(DecodeParams p)
{
    constexpr int U = split_passes(GT, CPL);
    extern __shared__ __align__(16) float sm[];
    const int c = (int)blockIdx.x, gs = (int)blockIdx.y, b = (int)blockIdx.z;
    const int tid = (int)threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int hd = p.hd, R = hd >> 3;
    const int kvh = gs / p.nsub, h0 = kvh * p.G + (gs - kvh * p.nsub) * GT;
    int klo = p.klo, L = p.L;
    if (p.pos_dev) {
        /* Written by a kernel at least two launches back, so final before
         * this grid starts (the kernel ahead waited for it): read before
         * the wait. */
        const int pos = *p.pos_dev;
        /* past the planned range the chunks would not cover every key: fail
         * loudly rather than attend to part of the context */
        if (pos < 0 || pos > p.max_pos) __trap();
        klo = first_key(pos, p.window);
        L = pos - klo + 1;
        if (c * p.ch >= L) return; /* a chunk past this step's keys */
    }
    const int nrun = (L + p.ch - 1) / p.ch; /* chunks with keys this call */
    const int k0 = c * p.ch;                 /* chunk start, relative to klo */
    const int n = min(p.ch, L - k0);         /* keys in this chunk (>= 1) */
    const int slot0 = (klo + k0) % p.slots;
    const size_t rs = (size_t)p.nkv * hd;
    const zbk_half *kb = p.kc + (size_t)b * p.slots * rs + (size_t)kvh * hd;
    const zbk_half *vb = p.vc + (size_t)b * p.slots * rs + (size_t)kvh * hd;

    const int LPK = 1 << p.lpk_log2, KPW = 32 >> p.lpk_log2;
    const int c0 = lane & (LPK - 1), kl = lane >> p.lpk_log2;
    const int stride = 4 * KPW * U;
    /* key j of the chunk (relative to its start) in the K or V ring */
    auto key_row = [&](const zbk_half *src, int j) {
        int slot = slot0 + j;
        if (slot >= p.slots) slot -= p.slots;
        return src + (size_t)slot * rs;
    };
    /* 16-byte pieces of U key passes (keys base + u * 4 * KPW + kl) of K or
     * V, all issued before any is used; zeros from key lim on. cg: L2 only,
     * for the loads made before the wait (below). */
    auto load = [&](uint4 (&r)[U][CPL], const zbk_half *src, int base, int lim, bool cg) {
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int j = base + u * 4 * KPW + kl;
            const zbk_half *row = key_row(src, j);
#pragma unroll
            for (int i = 0; i < CPL; i++) {
                const int cc = c0 + i * LPK;
                const uint4 *a = reinterpret_cast<const uint4 *>(row + cc * 8);
                if (j < lim && cc < R)
                    r[u][i] = cg ? __ldcg(a) : __ldg(a);
                else
                    r[u][i] = make_uint4(0, 0, 0, 0);
            }
        }
    };

    /* Before the wait, every key but the newest (the kernel ahead stores
     * it) was stored by an earlier kernel: the first passes go into
     * registers now, the rows after them into L2. These loads skip L1, so
     * no line they touch (a row may share one with the newest key's) can
     * be stale in L1 when the newest key is read after the wait. */
    const int old_keys = min(n, L - 1 - k0); /* keys of this chunk before the newest */
    uint4 kr[U][CPL], vr[U][CPL];
    load(kr, kb, warp * KPW, old_keys, true);
    load(vr, vb, warp * KPW, old_keys, true);
    {
        const int rowb = hd * 2;
        const int npf = max(0, min(old_keys - stride, kPrefetchBytes / (2 * rowb)));
        for (int i = tid; i < 2 * npf; i += kThreads) {
            const zbk_half *row = key_row((i & 1) ? vb : kb, stride + (i >> 1));
            asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(row), "r"(rowb) : "memory");
        }
    }
    zbk_pdl_wait(); /* q and the newest key come from the kernel ahead */
    zbk_pdl_trigger();

    float *qs = sm;                    /* [GT][hd], pre-scaled */
    float *ored = qs + GT * hd;        /* [4 warps][GT][hd] */
    float *wmax = ored + 4 * GT * hd;  /* [4 warps][GT] score max */
    float *wsum = wmax + 4 * GT;       /* [4 warps][GT] sum of exp2 */
    float *wts = wsum + 4 * GT;        /* [GT][nch]: the merge's chunk weights, then [GT] 1 / sum */
    for (int i = tid; i < GT * hd; i += kThreads) {
        const int g = i / hd;
        qs[i] = zbk_h2f(p.q[((size_t)b * p.nh + h0 + g) * hd + (i - g * hd)]) * p.sl2;
    }
    if (old_keys < n) { /* the newest key is in this chunk: if in the first passes, its lanes load it now */
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int j = warp * KPW + u * 4 * KPW + kl;
            if (j == n - 1) {
                const zbk_half *krow = key_row(kb, j), *vrow = key_row(vb, j);
#pragma unroll
                for (int i = 0; i < CPL; i++) {
                    const int cc = c0 + i * LPK;
                    if (cc < R) {
                        kr[u][i] = __ldg(reinterpret_cast<const uint4 *>(krow + cc * 8));
                        vr[u][i] = __ldg(reinterpret_cast<const uint4 *>(vrow + cc * 8));
                    }
                }
            }
        }
    }
    __syncthreads();

    /* Each key lane group (the LPK lanes that read one key) keeps its own
     * running max m, sum l and output columns; all its lanes hold the same
     * m and l. */
    float m[GT], l[GT], o[CPL][GT][8];
#pragma unroll
    for (int g = 0; g < GT; g++) {
        m[g] = -INFINITY;
        l[g] = 0.f;
    }
#pragma unroll
    for (int i = 0; i < CPL; i++)
#pragma unroll
        for (int g = 0; g < GT; g++)
#pragma unroll
            for (int e = 0; e < 8; e++) o[i][g][e] = 0.f;
    for (int base = warp * KPW; base < n; base += stride) {
        uint4 kn[U][CPL], vn[U][CPL]; /* the next passes, in flight meanwhile */
        load(kn, kb, base + stride, n, false);
        load(vn, vb, base + stride, n, false);
        float s[U][GT];
#pragma unroll
        for (int u = 0; u < U; u++) {
#pragma unroll
            for (int g = 0; g < GT; g++) s[u][g] = 0.f;
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
                        s[u][g] += qa.x * kf[0] + qa.y * kf[1] + qa.z * kf[2] + qa.w * kf[3] + qb.x * kf[4] +
                                   qb.y * kf[5] + qb.z * kf[6] + qb.w * kf[7];
                    }
                }
            }
            for (int off = LPK >> 1; off > 0; off >>= 1)
#pragma unroll
                for (int g = 0; g < GT; g++) s[u][g] += __shfl_xor_sync(0xffffffffu, s[u][g], off);
            if (base + u * 4 * KPW + kl >= n)
#pragma unroll
                for (int g = 0; g < GT; g++) s[u][g] = -INFINITY;
        }
#pragma unroll
        for (int g = 0; g < GT; g++) {
            float mx = m[g];
#pragma unroll
            for (int u = 0; u < U; u++) mx = fmaxf(mx, s[u][g]);
            if (mx == -INFINITY) continue; /* no key of this group yet */
            const float alpha = fast_exp2(m[g] - mx); /* 0 on the first keys */
            m[g] = mx;
            l[g] *= alpha;
#pragma unroll
            for (int i = 0; i < CPL; i++)
#pragma unroll
                for (int e = 0; e < 8; e++) o[i][g][e] *= alpha;
#pragma unroll
            for (int u = 0; u < U; u++) {
                const float pg = fast_exp2(s[u][g] - mx);
                l[g] += pg;
#pragma unroll
                for (int i = 0; i < CPL; i++) {
                    float vf[8];
                    unpack8(vr[u][i], vf);
#pragma unroll
                    for (int e = 0; e < 8; e++) o[i][g][e] = fmaf(pg, vf[e], o[i][g][e]);
                }
            }
        }
#pragma unroll
        for (int u = 0; u < U; u++)
#pragma unroll
            for (int i = 0; i < CPL; i++) {
                kr[u][i] = kn[u][i];
                vr[u][i] = vn[u][i];
            }
    }

    /* the key groups of a warp onto their common max, then summed */
#pragma unroll
    for (int g = 0; g < GT; g++) {
        float mw = m[g];
        for (int off = LPK; off < 32; off <<= 1) mw = fmaxf(mw, __shfl_xor_sync(0xffffffffu, mw, off));
        const float f = m[g] == -INFINITY ? 0.f : fast_exp2(m[g] - mw);
        l[g] *= f;
#pragma unroll
        for (int i = 0; i < CPL; i++)
#pragma unroll
            for (int e = 0; e < 8; e++) o[i][g][e] *= f;
        for (int off = LPK; off < 32; off <<= 1) {
            l[g] += __shfl_xor_sync(0xffffffffu, l[g], off);
#pragma unroll
            for (int i = 0; i < CPL; i++)
#pragma unroll
                for (int e = 0; e < 8; e++) o[i][g][e] += __shfl_xor_sync(0xffffffffu, o[i][g][e], off);
        }
        if (lane == 0) {
            wmax[warp * GT + g] = mw;
            wsum[warp * GT + g] = l[g];
        }
    }
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

    /* the 4 warps onto the block's max (a warp without keys weighs 0) */
    for (int i = tid; i < GT * hd; i += kThreads) {
        const int g = i / hd, d = i - g * hd;
        float mb = -INFINITY, s = 0.f, lb = 0.f;
#pragma unroll
        for (int w = 0; w < 4; w++) mb = fmaxf(mb, wmax[w * GT + g]);
#pragma unroll
        for (int w = 0; w < 4; w++) {
            const float f = wmax[w * GT + g] == -INFINITY ? 0.f : fast_exp2(wmax[w * GT + g] - mb);
            s = fmaf(f, ored[(w * GT + g) * hd + d], s);
            lb = fmaf(f, wsum[w * GT + g], lb);
        }
        const int h = h0 + g;
        if (nrun == 1)
            p.out[((size_t)b * p.nh + h) * hd + d] = zbk_f2h(s / lb);
        else {
            p.po[(((size_t)b * p.nh + h) * p.nch + c) * hd + d] = s;
            if (d == 0) p.pml[((size_t)b * p.nh + h) * p.nch + c] = make_float2(mb, lb);
        }
    }
    if (nrun == 1) return;

    /* The last block of this (sequence, head group) to get here merges
     * the chunks, always in chunk order (same bits whichever is last). The
     * counter wraps to 0 on that arrival, ready for the next call. */
    __threadfence();
    __syncthreads();
    __shared__ int last;
    if (tid == 0) last = atomicInc(&p.count[(size_t)b * gridDim.y + gs], (unsigned)(nrun - 1)) == (unsigned)(nrun - 1);
    __syncthreads();
    if (!last) return;
    __threadfence();
    /* Items of 4 output columns, the partials of 16 chunks loaded at once
     * (the merge is a chain of L2 round trips at the end of the call); a
     * thread's first batch is issued before the chunk weights are made. */
    constexpr int MB = 16;
    const int hq = hd >> 2, nq = GT * hq;
    float4 mv[MB];
    auto load_batch = [&](int item, int kb0) {
        const int g = item / hq, d4 = item - g * hq;
        const float4 *src = reinterpret_cast<const float4 *>(p.po + ((size_t)b * p.nh + h0 + g) * p.nch * hd) + d4;
#pragma unroll
        for (int k = 0; k < MB; k++)
            mv[k] = kb0 + k < nrun ? __ldcg(src + (size_t)(kb0 + k) * hq) : make_float4(0.f, 0.f, 0.f, 0.f);
    };
    if (tid < nq) load_batch(tid, 0);
    for (int g = warp; g < GT; g += 4) {
        const float2 *ml = p.pml + ((size_t)b * p.nh + h0 + g) * p.nch;
        float mx = -INFINITY;
        for (int k = lane; k < nrun; k += 32) mx = fmaxf(mx, __ldcg(&ml[k]).x);
#pragma unroll
        for (int off = 16; off > 0; off >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
        float ls = 0.f;
        for (int k = lane; k < nrun; k += 32) {
            const float2 v = __ldcg(&ml[k]);
            const float w = fast_exp2(v.x - mx);
            wts[g * p.nch + k] = w;
            ls = fmaf(w, v.y, ls);
        }
#pragma unroll
        for (int off = 16; off > 0; off >>= 1) ls += __shfl_xor_sync(0xffffffffu, ls, off);
        if (lane == 0) wts[GT * p.nch + g] = 1.f / ls;
    }
    __syncthreads();
    for (int i = tid; i < nq; i += kThreads) {
        const int g = i / hq, d4 = i - g * hq;
        float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
        for (int kb0 = 0; kb0 < nrun; kb0 += MB) {
            if (kb0 > 0 || i != tid) load_batch(i, kb0);
#pragma unroll
            for (int k = 0; k < MB; k++) { /* in chunk order; past nrun a weight and partial of 0 change nothing */
                const float w = kb0 + k < nrun ? wts[g * p.nch + kb0 + k] : 0.f;
                acc.x = fmaf(w, mv[k].x, acc.x);
                acc.y = fmaf(w, mv[k].y, acc.y);
                acc.z = fmaf(w, mv[k].z, acc.z);
                acc.w = fmaf(w, mv[k].w, acc.w);
            }
        }
        const float sc = wts[GT * p.nch + g];
        zbk_half *o4 = p.out + ((size_t)b * p.nh + h0 + g) * hd + 4 * d4;
        o4[0] = zbk_f2h(acc.x * sc);
        o4[1] = zbk_f2h(acc.y * sc);
        o4[2] = zbk_f2h(acc.z * sc);
        o4[3] = zbk_f2h(acc.w * sc);
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

/* The arrival counters at the front of the scratch: one per (sequence,
 * head), enough for any head grouping. */
size_t counter_bytes(int batch, int nh) { return align16((size_t)batch * nh * sizeof(unsigned)); }

template <int GT, int CPL>
cudaError_t launch_split(const DecodeParams &p, int batch, size_t smem, cudaStream_t stream)
{
    if (smem > 48 * 1024) {
        const cudaError_t e = cudaFuncSetAttribute(decode_split_kernel<GT, CPL>,
                                                   cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
        if (e != cudaSuccess) return e;
    }
    const dim3 grid((unsigned)p.nch, (unsigned)(p.nkv * p.nsub), (unsigned)batch);
    return zbk_launch_pdl(decode_split_kernel<GT, CPL>, grid, kThreads, smem, stream, p);
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
    p.count = nullptr;
    p.pml = nullptr;
    p.po = nullptr;
    if (p.nch > 1) {
        const size_t nml = (size_t)a->batch * a->nh * p.nch;
        const size_t cnt = counter_bytes(a->batch, a->nh);
        const size_t need = cnt + align16(nml * sizeof(float2)) + nml * hd * sizeof(float);
        const uintptr_t base = ((uintptr_t)a->partial + 15) & ~(uintptr_t)15;
        if (!a->partial || need + (base - (uintptr_t)a->partial) > a->partial_bytes) return cudaErrorInvalidValue;
        p.count = reinterpret_cast<unsigned *>(base);
        p.pml = reinterpret_cast<float2 *>(base + cnt);
        p.po = reinterpret_cast<float *>(base + cnt + align16(nml * sizeof(float2)));
    }
    const size_t smem = (size_t)(5 * GT * hd + 8 * GT + GT * p.nch + GT) * sizeof(float);
    if (CPL == 1) {
        switch (GT) {
        case 8: return launch_split<8, 1>(p, a->batch, smem, stream);
        case 4: return launch_split<4, 1>(p, a->batch, smem, stream);
        case 2: return launch_split<2, 1>(p, a->batch, smem, stream);
        default: return launch_split<1, 1>(p, a->batch, smem, stream);
        }
    }
    switch (GT) {
    case 4: return launch_split<4, 2>(p, a->batch, smem, stream);
    case 2: return launch_split<2, 2>(p, a->batch, smem, stream);
    default: return launch_split<1, 2>(p, a->batch, smem, stream);
    }
}

} // namespace zbattn

extern "C" size_t zbk_attention_scratch_bytes(int batch, int nh, int hd, int max_kv)
{
    if (batch < 1 || nh < 1 || hd < 1 || max_kv < 1) return 0;
    const size_t nml = (size_t)batch * nh * max_chunks(batch, max_kv);
    return counter_bytes(batch, nh) + align16(nml * sizeof(float2)) + nml * hd * sizeof(float) +
           16; /* + 16: aligning the base */
}

extern "C" size_t zbk_attention_scratch_zero_bytes(int batch, int nh)
{
    if (batch < 1 || nh < 1) return 0;
    return counter_bytes(batch, nh) + 16; /* + 16: aligning the base */
}
