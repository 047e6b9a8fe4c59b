/*
 * Causal (optionally sliding-window) attention over the KV cache for T > 1
 * (prefill, chunked prefill), and zbk_attention's dispatch.
 *
 * Flash-attention forward (FlashAttention-2 scheme): a block owns a tile of
 * query rows of one (sequence, head), walks the key tiles its rows can see,
 * computes S = Q K^T on 16-bit tensor cores (mma.sync m16n8k16, f32
 * accumulate), keeps a running row max m and sum l in fp32, rescales the
 * output accumulator by exp(m_old - m_new) and adds P V with P rounded to
 * 16-bit. The T x T score matrix never exists. Scores are taken in the log2
 * domain (one FFMA + ex2 per score).
 *
 * Key tiles are aligned to multiples of BN in position space, from the
 * first key any row of the block needs (max(0, P0 - window + 1)) to the
 * block's last query position; only tiles that cut the causal diagonal or
 * the window edge are masked. A key row's cache slot is pos % slots,
 * computed incrementally (the precondition below bounds it to one wrap).
 * Rows outside the block's key range, and query rows past T, are
 * zero-filled in shared memory, never read: those cache slots may hold
 * stale or never-written data.
 *
 * PRECONDITION (checked, cudaErrorInvalidValue otherwise): every key of the
 * call is in the cache at once, i.e. (pos0 + T - 1) - max(0, pos0 - window
 * + 1) < slots. The chunk's own keys are all stored (zbk_rope_store_kv)
 * before this runs, so in a ring of `slots` entries the newest key must not
 * have replaced the oldest one the chunk's first query sees. With
 * slots == window a chunk therefore cannot start past the window (that needs
 * slots >= window + T - 1); T > slots never fits.
 *
 * Kernels. On compute capability 9.0, head dims 97..128 and 257..464 with
 * 16-byte rows go to the Hopper wgmma kernels of attention_wgmma.cu (same
 * contract; see that file), head dims 449..464 without a window to their
 * block-pair form (attention_wgmma_pair.cu: K and V fetched once for two
 * query blocks, 15-22% faster on the H100; the forced variant 14 splits
 * the head dim across a pair of blocks instead, attention_wgmma_dsplit.cu,
 * kept to compare), head dims 97..128 without a
 * window or ring wrap to the pipelined kernel with tensor copies (12-16%
 * faster than with cp.async, which the others get); elsewhere, and under the
 * forced variant 6 (so that an H100 still checks what other devices run),
 * to these mma.sync ones:
 *  - rows kernel (head_dim <= 128): each warp owns 16*MT query rows
 *    outright, so S, P and O stay in registers (P is re-packed from the S
 *    accumulators as the A operand of P V, no shared-memory round trip).
 *    Default for head_dim 128: 4 warps x 32 rows (BM 128), BN 64, K/V
 *    double-buffered with cp.async so the next tile loads during this one's
 *    math; one barrier per tile. Q is re-read from shared memory per k-step
 *    (keeping it in registers as well would exceed 255 registers).
 *  - split kernel (head_dim 129..512; Zamba's 464): the O accumulator of a
 *    warp owning 16 rows x 464 columns would need 232 registers, so a block
 *    of 8 warps takes 64 query rows and splits the head dim of O: warp
 *    (wm, wn) owns rows 32 wm..32 wm+31 and a quarter of the columns (58
 *    column tiles of 8 split 15/15/14/14: 120 accumulator registers). S is
 *    made either by all 8 warps in 32 x 16 blocks, or (G4, the default for
 *    hd 257..464) by warps 0-3 in 32 x 32 blocks, which needs a third less
 *    shared-memory traffic for the same tensor work per SM sub-partition
 *    (measured on the H100 at T 16384: 227 vs 214 TFLOP/s; equal at 2048).
 *    Partial row maxima are exchanged through shared memory, P goes to
 *    shared memory as 16-bit and is read back with ldmatrix (and with G4 the
 *    rescale factors too). Q, K, V tiles of 64 x 464 take 181 KB, so K and V
 *    are single-buffered: V(j) loads during S(j), K(j+1) during softmax +
 *    P V(j) (the FlashAttention-2 overlap); three barriers per tile.
 *  - head_dim > 512, and the forced variant 3: the scalar generic kernel
 *    of attention_decode.cu.
 * head_dim that is not a multiple of 16 is zero-padded to the kernel's
 * width in shared memory (zero columns add nothing to Q K^T; padded O
 * columns are not stored); rows of hd % 8 != 0 or unaligned buffers are
 * copied with 4-byte cp.async instead of 16-byte.
 *
 * Scheduling: attention_order.h. Row blocks heaviest (longest causal work)
 * first, so the light ones fill the tail; heads taken in groups whose K
 * and V fit half of L2 together (one head per group for Zamba's head dim
 * 464 at T 16384, three for Llama's 128, all of them at short lengths).
 * Variants 7 and 8 force one group.
 */
#include <cuda_bf16.h>

#include <limits.h>
#include <math.h>

#include "attention_prefill.cuh"

namespace {

using namespace zbattn;

/* Tile copies: a row of DP/8 16-byte chunks is taken by LPR lanes (a power
 * of two, each lane CPL chunks), a warp takes 32/LPR rows per pass; the
 * row's validity and source address are worked out once per row. */
template <int DP> struct RowSplit {
    static constexpr int CPR = DP / 8;
    static constexpr int LPR = CPR >= 32 ? 32 : CPR > 8 ? 16 : CPR > 4 ? 8 : CPR > 2 ? 4 : 2;
    static constexpr int RPP = 32 / LPR, CPL = (CPR + LPR - 1) / LPR;
};

/* ROWS query rows t0.. of head h into Qs (pitch DP + 8). */
template <int DP, int ROWS, int NW, bool VEC>
__device__ __forceinline__ void load_q(uint32_t sQ, const PrefillParams &p, int b, int h, int t0)
{
    using S = RowSplit<DP>;
    static_assert(ROWS % (NW * S::RPP) == 0, "rows per pass");
    const int warp = (int)threadIdx.x >> 5, lane = (int)threadIdx.x & 31;
    const int lr = lane / S::LPR, lc = lane % S::LPR;
#pragma unroll
    for (int pass = 0; pass < ROWS / (NW * S::RPP); pass++) {
        const int r = (pass * NW + warp) * S::RPP + lr;
        const int t = t0 + r;
        const bool rv = t < p.T;
        const zbk_half *row = p.q + (rv ? ((size_t)b * p.T + t) * p.nh * p.hd + (size_t)h * p.hd : 0);
#pragma unroll
        for (int i = 0; i < S::CPL; i++) {
            const int c = lc + i * S::LPR;
            if (S::CPL * S::LPR == S::CPR || c < S::CPR)
                copy_chunk<VEC>(sQ + (uint32_t)(r * (DP + 8) + c * 8) * 2, row, c * 8, rv, p.hd);
        }
    }
}

/* Key rows j0..j0+ROWS-1 of K (and/or V) into shared memory. Valid rows are
 * klo..P1; slot(j) = (kslot0 + j - klo) mod slots with j - klo < slots. */
template <int DP, int ROWS, int NW, bool VEC, bool DO_K, bool DO_V>
__device__ __forceinline__ void load_kv(uint32_t sK, uint32_t sV, const zbk_half *kbase, const zbk_half *vbase,
                                        size_t rowstride, int j0, int klo, int P1, int kslot0, int slots, int hd)
{
    using S = RowSplit<DP>;
    static_assert(ROWS % (NW * S::RPP) == 0, "rows per pass");
    const int warp = (int)threadIdx.x >> 5, lane = (int)threadIdx.x & 31;
    const int lr = lane / S::LPR, lc = lane % S::LPR;
#pragma unroll
    for (int pass = 0; pass < ROWS / (NW * S::RPP); pass++) {
        const int r = (pass * NW + warp) * S::RPP + lr;
        const int j = j0 + r;
        const bool rv = j >= klo && j <= P1;
        int slot = kslot0 + (j - klo);
        if (slot >= slots) slot -= slots;
        const size_t off = rv ? (size_t)slot * rowstride : 0;
#pragma unroll
        for (int i = 0; i < S::CPL; i++) {
            const int c = lc + i * S::LPR;
            if (S::CPL * S::LPR == S::CPR || c < S::CPR) {
                const uint32_t so = (uint32_t)(r * (DP + 8) + c * 8) * 2;
                if (DO_K) copy_chunk<VEC>(sK + so, kbase + off, c * 8, rv, hd);
                if (DO_V) copy_chunk<VEC>(sV + so, vbase + off, c * 8, rv, hd);
            }
        }
    }
}

/* ------------------------------------------------------------ rows kernel */

template <int DP, int MT, int NW, int BN> struct RowsCfg {
    static constexpr int BM = 16 * MT * NW, PITCH = DP + 8, NTHR = 32 * NW;
    static constexpr size_t SMEM = (size_t)(BM + 4 * BN) * PITCH * 2; /* Q + 2 x (K, V) */
};

template <int DP, int MT, int NW, int BN, bool VEC>
__global__ void __launch_bounds__(32 * NW, NW == 4 ? 2 : 1) attn_rows_kernel(PrefillParams p)
{
    using C = RowsCfg<DP, MT, NW, BN>;
    constexpr int BM = C::BM, PITCH = C::PITCH;
    constexpr int KS = DP / 16;  /* k-steps of Q K^T */
    constexpr int NTS = BN / 8;  /* n-tiles of S */
    constexpr int NTO = DP / 8;  /* n-tiles of O */
    extern __shared__ __align__(16) unsigned char smem[];
    const uint32_t sQ = smem_addr(smem);
    const uint32_t sK0 = sQ + BM * PITCH * 2;
    const uint32_t sV0 = sK0 + 2 * BN * PITCH * 2;

    const int warp = (int)threadIdx.x >> 5, lane = (int)threadIdx.x & 31;
    const BlockGeom g = block_geom<BM, BN>(p);

    load_q<DP, BM, NW, VEC>(sQ, p, g.b, g.h, g.t0);
    load_kv<DP, BN, NW, VEC, true, true>(sK0, sV0, g.kbase, g.vbase, g.rowstride, g.jstart, g.klo, g.P1,
                                           g.kslot0, p.slots, p.hd);
    cp_async_commit();

    float o[MT][NTO][4];
    float m[MT][2], l[MT][2];
#pragma unroll
    for (int mt = 0; mt < MT; mt++) {
#pragma unroll
        for (int n = 0; n < NTO; n++) o[mt][n][0] = o[mt][n][1] = o[mt][n][2] = o[mt][n][3] = 0.f;
        m[mt][0] = m[mt][1] = -INFINITY;
        l[mt][0] = l[mt][1] = 0.f;
    }

    /* per-lane ldmatrix offsets (bytes) */
    const int wrow = warp * 16 * MT;
    const uint32_t qoff = (uint32_t)((wrow + (lane & 15)) * PITCH + (lane >> 4) * 8) * 2;
    const uint32_t koff = (uint32_t)(((lane & 7) + ((lane >> 4) << 3)) * PITCH + ((lane >> 3) & 1) * 8) * 2;
    const uint32_t voff = (uint32_t)(((lane & 7) + ((lane >> 3) & 1) * 8) * PITCH + (lane >> 4) * 8) * 2;

    for (int it = 0; it < g.ntiles; it++) {
        cp_async_wait<0>();
        __syncthreads(); /* tile it landed; every warp is done with tile it-1's buffers */
        if (it + 1 < g.ntiles) {
            const uint32_t nb = (uint32_t)((it + 1) & 1) * BN * PITCH * 2;
            load_kv<DP, BN, NW, VEC, true, true>(sK0 + nb, sV0 + nb, g.kbase, g.vbase, g.rowstride,
                                                   g.jstart + (it + 1) * BN, g.klo, g.P1, g.kslot0, p.slots, p.hd);
        }
        cp_async_commit();
        const uint32_t cb = (uint32_t)(it & 1) * BN * PITCH * 2;
        const uint32_t sK = sK0 + cb, sV = sV0 + cb;

        /* S = Q K^T */
        float s[MT][NTS][4];
#pragma unroll
        for (int mt = 0; mt < MT; mt++)
#pragma unroll
            for (int n = 0; n < NTS; n++) s[mt][n][0] = s[mt][n][1] = s[mt][n][2] = s[mt][n][3] = 0.f;
#pragma unroll
        for (int ks = 0; ks < KS; ks++) {
            uint32_t a[MT][4];
#pragma unroll
            for (int mt = 0; mt < MT; mt++) ldsm_x4(a[mt], sQ + qoff + (uint32_t)(mt * 16 * PITCH + ks * 16) * 2);
#pragma unroll
            for (int np = 0; np < NTS / 2; np++) {
                uint32_t bk[4];
                ldsm_x4(bk, sK + koff + (uint32_t)(np * 16 * PITCH + ks * 16) * 2);
#pragma unroll
                for (int mt = 0; mt < MT; mt++) {
                    mma_half(s[mt][2 * np], a[mt], bk[0], bk[1]);
                    mma_half(s[mt][2 * np + 1], a[mt], bk[2], bk[3]);
                }
            }
        }

        const int j0 = g.jstart + it * BN;
        if (tile_needs_mask<BN>(j0, g.P0, g.P1, p.window)) {
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
#pragma unroll
                for (int n = 0; n < NTS; n++)
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        const int qpos = g.P0 + wrow + mt * 16 + (lane >> 2) + (e >> 1) * 8;
                        const int key = j0 + n * 8 + (lane & 3) * 2 + (e & 1);
                        if (key_masked(key, qpos, p.window)) s[mt][n][e] = -INFINITY;
                    }
        }

        /* online softmax; rows g and g+8 of each m-tile, a row spread over 4 lanes */
#pragma unroll
        for (int mt = 0; mt < MT; mt++)
#pragma unroll
            for (int hr = 0; hr < 2; hr++) {
                float mx = -INFINITY;
#pragma unroll
                for (int n = 0; n < NTS; n++) mx = fmaxf(mx, fmaxf(s[mt][n][2 * hr], s[mt][n][2 * hr + 1]));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
                const float mnew = fmaxf(m[mt][hr], mx);
                /* a row with nothing visible yet keeps exp2(-inf) = 0 everywhere */
                const float mb = mnew == -INFINITY ? 0.f : mnew * p.sl2;
                const float alpha = fast_exp2(m[mt][hr] * p.sl2 - mb);
                m[mt][hr] = mnew;
                float rs = 0.f;
#pragma unroll
                for (int n = 0; n < NTS; n++) {
                    const float p0 = fast_exp2(fmaf(s[mt][n][2 * hr], p.sl2, -mb));
                    const float p1 = fast_exp2(fmaf(s[mt][n][2 * hr + 1], p.sl2, -mb));
                    s[mt][n][2 * hr] = p0;
                    s[mt][n][2 * hr + 1] = p1;
                    rs += p0 + p1;
                }
                l[mt][hr] = l[mt][hr] * alpha + rs; /* this lane's columns; summed over the quad at the end */
#pragma unroll
                for (int n = 0; n < NTO; n++) {
                    o[mt][n][2 * hr] *= alpha;
                    o[mt][n][2 * hr + 1] *= alpha;
                }
            }

        /* O += P V, P straight from the S accumulators */
#pragma unroll
        for (int kk = 0; kk < BN / 16; kk++) {
            uint32_t pa[MT][4];
#pragma unroll
            for (int mt = 0; mt < MT; mt++) {
                pa[mt][0] = zbk_pack_half2(s[mt][2 * kk][0], s[mt][2 * kk][1]);
                pa[mt][1] = zbk_pack_half2(s[mt][2 * kk][2], s[mt][2 * kk][3]);
                pa[mt][2] = zbk_pack_half2(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
                pa[mt][3] = zbk_pack_half2(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
            }
#pragma unroll
            for (int dp = 0; dp < DP / 16; dp++) {
                uint32_t bv[4];
                ldsm_x4_trans(bv, sV + voff + (uint32_t)(kk * 16 * PITCH + dp * 16) * 2);
#pragma unroll
                for (int mt = 0; mt < MT; mt++) {
                    mma_half(o[mt][2 * dp], pa[mt], bv[0], bv[1]);
                    mma_half(o[mt][2 * dp + 1], pa[mt], bv[2], bv[3]);
                }
            }
        }
    }
    cp_async_wait<0>(); /* nothing may be left in flight at exit (the last group is empty) */

#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int hr = 0; hr < 2; hr++) {
            float lt = l[mt][hr];
            lt += __shfl_xor_sync(0xffffffffu, lt, 1);
            lt += __shfl_xor_sync(0xffffffffu, lt, 2);
            const float inv = lt > 0.f ? 1.f / lt : 0.f;
            const int t = g.t0 + wrow + mt * 16 + (lane >> 2) + hr * 8;
            if (t < p.T) {
                zbk_half *dst = p.out + ((size_t)g.b * p.T + t) * p.nh * p.hd + (size_t)g.h * p.hd;
#pragma unroll
                for (int n = 0; n < NTO; n++) {
                    const int col = n * 8 + (lane & 3) * 2;
                    if (col < p.hd)
                        *reinterpret_cast<uint32_t *>(dst + col) =
                            zbk_pack_half2(o[mt][n][2 * hr] * inv, o[mt][n][2 * hr + 1] * inv);
                }
            }
        }
}

/* ----------------------------------------------------------- split kernel */

template <int DP> struct SplitCfg {
    static constexpr int BM = 64, BN = 64, NTHR = 256, PITCH = DP + 8, PP = BN + 8;
    static constexpr int NT = DP / 8, NTW = (NT + 3) / 4;
    /* Q, K, V tiles; P; row-max / row-sum slices [4][BM]; alpha [BM] */
    static constexpr size_t SMEM = (size_t)(BM + 2 * BN) * PITCH * 2 + (size_t)BM * PP * 2 + 5 * BM * 4;
};

/* G4 false: all 8 warps make S, warp (wm, wn) the 32 x 16 block (rows 32 wm,
 * keys 16 wn): 3 ldmatrix per 4 mma, Q re-read by 4 warps.
 * G4 true: warps 0-3 make S in 32 x 32 blocks (rows 32 (w / 2), keys
 * 32 (w % 2)): 4 ldmatrix per 8 mma, a third less shared-memory traffic for
 * Q K^T, same tensor work per SM sub-partition (warp w runs on sub-partition
 * w % 4); warps 4-7 wait. Their rows differ from the P V ownership, so the
 * rescale factors go through shared memory. */
template <int DP, bool VEC, bool G4>
__global__ void __launch_bounds__(256, 1) attn_split_kernel(PrefillParams p)
{
    using C = SplitCfg<DP>;
    constexpr int BM = C::BM, BN = C::BN, PITCH = C::PITCH, PP = C::PP, NW = 8;
    constexpr int NT = C::NT, NTW = C::NTW, KS = DP / 16;
    constexpr int NS = G4 ? 4 : 2;   /* S n-tiles per GEMM1 warp (8 NS keys) */
    constexpr int NSL = G4 ? 2 : 4;  /* key slices of a tile */
    extern __shared__ __align__(16) unsigned char smem[];
    const uint32_t sQ = smem_addr(smem);
    const uint32_t sK = sQ + BM * PITCH * 2;
    const uint32_t sV = sK + BN * PITCH * 2;
    const uint32_t sP = sV + BN * PITCH * 2;
    float *red = reinterpret_cast<float *>(smem + (size_t)(BM + 2 * BN) * PITCH * 2 + (size_t)BM * PP * 2);
    float *alph = red + 4 * BM;

    const int warp = (int)threadIdx.x >> 5, lane = (int)threadIdx.x & 31;
    /* P V ownership: rows 32 wm.., column tiles of quarter wn */
    const int wm = warp >> 2, wn = warp & 3;
    /* Q K^T ownership: rows 32 g1m.., keys 8 NS g1k.. */
    const bool g1 = !G4 || warp < 4;
    const int g1m = G4 ? (warp & 3) >> 1 : wm, g1k = G4 ? warp & 1 : wn;
    /* this warp's O column tiles: NT split 4 ways, the first NT % 4 one larger */
    const int nt_cnt = NT / 4 + (wn < NT % 4 ? 1 : 0);
    const int nt_beg = wn * (NT / 4) + min(wn, NT % 4);
    const BlockGeom g = block_geom<BM, BN>(p);

    load_q<DP, BM, NW, VEC>(sQ, p, g.b, g.h, g.t0);
    load_kv<DP, BN, NW, VEC, true, false>(sK, 0, g.kbase, g.vbase, g.rowstride, g.jstart, g.klo, g.P1, g.kslot0,
                                            p.slots, p.hd);
    cp_async_commit();

    float o[2][NTW][4];
    float m[2][2], l[2][2];
#pragma unroll
    for (int mt = 0; mt < 2; mt++) {
#pragma unroll
        for (int n = 0; n < NTW; n++) o[mt][n][0] = o[mt][n][1] = o[mt][n][2] = o[mt][n][3] = 0.f;
        m[mt][0] = m[mt][1] = -INFINITY;
        l[mt][0] = l[mt][1] = 0.f;
    }

    const int wrow = wm * 32, grow = g1m * 32;
    const uint32_t qoff = (uint32_t)((grow + (lane & 15)) * PITCH + (lane >> 4) * 8) * 2;
    const uint32_t koff =
        (uint32_t)((g1k * 8 * NS + (lane & 7) + ((lane >> 4) << 3)) * PITCH + ((lane >> 3) & 1) * 8) * 2;
    const uint32_t poff = (uint32_t)((wrow + (lane & 15)) * PP + (lane >> 4) * 8) * 2;
    const uint32_t voff = (uint32_t)(((lane & 7) + ((lane >> 3) & 1) * 8) * PITCH + nt_beg * 8 + (lane >> 4) * 8) * 2;
    const uint32_t voff2 = (uint32_t)(((lane & 7) + ((lane >> 3) & 1) * 8) * PITCH + nt_beg * 8) * 2;

    for (int it = 0; it < g.ntiles; it++) {
        const int j0 = g.jstart + it * BN;
        cp_async_wait<0>();
        __syncthreads(); /* K(it) landed; all warps are past P V(it-1): V and P are free */
        load_kv<DP, BN, NW, VEC, false, true>(0, sV, g.kbase, g.vbase, g.rowstride, j0, g.klo, g.P1, g.kslot0,
                                                p.slots, p.hd);
        cp_async_commit();

        /* S: rows grow.., keys 8 NS g1k.. of the tile */
        float s[2][NS][4];
        if (g1) {
#pragma unroll
            for (int mt = 0; mt < 2; mt++)
#pragma unroll
                for (int n = 0; n < NS; n++) s[mt][n][0] = s[mt][n][1] = s[mt][n][2] = s[mt][n][3] = 0.f;
#pragma unroll 8
            for (int ks = 0; ks < KS; ks++) {
                uint32_t a0[4], a1[4];
                ldsm_x4(a0, sQ + qoff + (uint32_t)(ks * 16) * 2);
                ldsm_x4(a1, sQ + qoff + (uint32_t)(16 * PITCH + ks * 16) * 2);
#pragma unroll
                for (int np = 0; np < NS / 2; np++) {
                    uint32_t bk[4];
                    ldsm_x4(bk, sK + koff + (uint32_t)(np * 16 * PITCH + ks * 16) * 2);
                    mma_half(s[0][2 * np], a0, bk[0], bk[1]);
                    mma_half(s[0][2 * np + 1], a0, bk[2], bk[3]);
                    mma_half(s[1][2 * np], a1, bk[0], bk[1]);
                    mma_half(s[1][2 * np + 1], a1, bk[2], bk[3]);
                }
            }
            if (tile_needs_mask<BN>(j0, g.P0, g.P1, p.window)) {
#pragma unroll
                for (int mt = 0; mt < 2; mt++)
#pragma unroll
                    for (int n = 0; n < NS; n++)
#pragma unroll
                        for (int e = 0; e < 4; e++) {
                            const int qpos = g.P0 + grow + mt * 16 + (lane >> 2) + (e >> 1) * 8;
                            const int key = j0 + g1k * 8 * NS + n * 8 + (lane & 3) * 2 + (e & 1);
                            if (key_masked(key, qpos, p.window)) s[mt][n][e] = -INFINITY;
                        }
            }
            /* partial row max over this warp's keys -> red[g1k][row] */
#pragma unroll
            for (int mt = 0; mt < 2; mt++)
#pragma unroll
                for (int hr = 0; hr < 2; hr++) {
                    float mx = -INFINITY;
#pragma unroll
                    for (int n = 0; n < NS; n++) mx = fmaxf(mx, fmaxf(s[mt][n][2 * hr], s[mt][n][2 * hr + 1]));
                    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
                    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
                    if ((lane & 3) == 0) red[g1k * BM + grow + mt * 16 + (lane >> 2) + hr * 8] = mx;
                }
        }
        __syncthreads(); /* red complete; every warp is done reading K(it) */
        if (it + 1 < g.ntiles)
            load_kv<DP, BN, NW, VEC, true, false>(sK, 0, g.kbase, g.vbase, g.rowstride, j0 + BN, g.klo, g.P1,
                                                    g.kslot0, p.slots, p.hd);
        cp_async_commit();

        if (g1) {
#pragma unroll
            for (int mt = 0; mt < 2; mt++)
#pragma unroll
                for (int hr = 0; hr < 2; hr++) {
                    const int row = grow + mt * 16 + (lane >> 2) + hr * 8;
                    float mx = red[row];
#pragma unroll
                    for (int sl = 1; sl < NSL; sl++) mx = fmaxf(mx, red[sl * BM + row]);
                    const float mnew = fmaxf(m[mt][hr], mx);
                    const float mb = mnew == -INFINITY ? 0.f : mnew * p.sl2;
                    const float alpha = fast_exp2(m[mt][hr] * p.sl2 - mb);
                    m[mt][hr] = mnew;
                    float rs = 0.f;
#pragma unroll
                    for (int n = 0; n < NS; n++) {
                        const float p0 = fast_exp2(fmaf(s[mt][n][2 * hr], p.sl2, -mb));
                        const float p1 = fast_exp2(fmaf(s[mt][n][2 * hr + 1], p.sl2, -mb));
                        rs += p0 + p1;
                        const int key = g1k * 8 * NS + n * 8 + (lane & 3) * 2;
                        asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(sP + (uint32_t)(row * PP + key) * 2),
                                     "r"(zbk_pack_half2(p0, p1))
                                     : "memory");
                    }
                    l[mt][hr] = l[mt][hr] * alpha + rs;
                    if (G4) {
                        if (g1k == 0 && (lane & 3) == 0) alph[row] = alpha;
                    } else {
#pragma unroll
                        for (int n = 0; n < NTW; n++) {
                            o[mt][n][2 * hr] *= alpha;
                            o[mt][n][2 * hr + 1] *= alpha;
                        }
                    }
                }
        }
        cp_async_wait<1>();
        __syncthreads(); /* V(it) landed (K(it+1) may still fly); P (and alpha) complete */
        if (G4) {
#pragma unroll
            for (int mt = 0; mt < 2; mt++)
#pragma unroll
                for (int hr = 0; hr < 2; hr++) {
                    const float alpha = alph[wrow + mt * 16 + (lane >> 2) + hr * 8];
#pragma unroll
                    for (int n = 0; n < NTW; n++) {
                        o[mt][n][2 * hr] *= alpha;
                        o[mt][n][2 * hr + 1] *= alpha;
                    }
                }
        }

        /* O[rows, my columns] += P[rows, 64 keys] V[64 keys, my columns] */
#pragma unroll
        for (int kk = 0; kk < BN / 16; kk++) {
            uint32_t pa0[4], pa1[4];
            ldsm_x4(pa0, sP + poff + (uint32_t)(kk * 16) * 2);
            ldsm_x4(pa1, sP + poff + (uint32_t)(16 * PP + kk * 16) * 2);
#pragma unroll
            for (int i = 0; i < NTW; i += 2) {
                if (i + 1 < nt_cnt) {
                    uint32_t bv[4];
                    ldsm_x4_trans(bv, sV + voff + (uint32_t)(kk * 16 * PITCH + i * 8) * 2);
                    mma_half(o[0][i], pa0, bv[0], bv[1]);
                    mma_half(o[1][i], pa1, bv[0], bv[1]);
                    if (i + 1 < NTW) {
                        mma_half(o[0][i + 1], pa0, bv[2], bv[3]);
                        mma_half(o[1][i + 1], pa1, bv[2], bv[3]);
                    }
                } else if (i < nt_cnt) {
                    uint32_t b0, b1;
                    ldsm_x2_trans(b0, b1, sV + voff2 + (uint32_t)(kk * 16 * PITCH + i * 8) * 2);
                    mma_half(o[0][i], pa0, b0, b1);
                    mma_half(o[1][i], pa1, b0, b1);
                }
            }
        }
    }
    cp_async_wait<0>();

    /* l: quad sum, then the key slices of the same rows */
    __syncthreads(); /* red's last readers are done */
    if (g1) {
#pragma unroll
        for (int mt = 0; mt < 2; mt++)
#pragma unroll
            for (int hr = 0; hr < 2; hr++) {
                float lt = l[mt][hr];
                lt += __shfl_xor_sync(0xffffffffu, lt, 1);
                lt += __shfl_xor_sync(0xffffffffu, lt, 2);
                if ((lane & 3) == 0) red[g1k * BM + grow + mt * 16 + (lane >> 2) + hr * 8] = lt;
            }
    }
    __syncthreads();
#pragma unroll
    for (int mt = 0; mt < 2; mt++)
#pragma unroll
        for (int hr = 0; hr < 2; hr++) {
            const int row = wrow + mt * 16 + (lane >> 2) + hr * 8;
            float lt = 0.f;
#pragma unroll
            for (int sl = 0; sl < NSL; sl++) lt += red[sl * BM + row];
            const float inv = lt > 0.f ? 1.f / lt : 0.f;
            const int t = g.t0 + row;
            if (t < p.T) {
                zbk_half *dst = p.out + ((size_t)g.b * p.T + t) * p.nh * p.hd + (size_t)g.h * p.hd;
#pragma unroll
                for (int i = 0; i < NTW; i++) {
                    const int col = (nt_beg + i) * 8 + (lane & 3) * 2;
                    if (i < nt_cnt && col < p.hd)
                        *reinterpret_cast<uint32_t *>(dst + col) =
                            zbk_pack_half2(o[mt][i][2 * hr] * inv, o[mt][i][2 * hr + 1] * inv);
                }
            }
        }
}

/* ----------------------------------------------------------------- host */

template <int DP, int MT, int NW, bool VEC>
cudaError_t launch_rows(const zbk_attention_args *a, const PrefillParams &p, cudaStream_t s)
{
    using C = RowsCfg<DP, MT, NW, 64>;
    return launch_prefill(attn_rows_kernel<DP, MT, NW, 64, VEC>, C::BM, C::NTHR, C::SMEM, a, p, s);
}

template <int DP, bool VEC, bool G4 = false>
cudaError_t launch_split(const zbk_attention_args *a, const PrefillParams &p, cudaStream_t s)
{
    using C = SplitCfg<DP>;
    return launch_prefill(attn_split_kernel<DP, VEC, G4>, C::BM, C::NTHR, C::SMEM, a, p, s);
}

bool aligned16(const void *p) { return ((uintptr_t)p & 15u) == 0; }

cudaError_t check_args(const zbk_attention_args *a)
{
    if (!a || !a->q || !a->kc || !a->vc || !a->out) return cudaErrorInvalidValue;
    /* a device position is for decode, and is checked against the plan's
     * bound max_pos, as the host position would be */
    if (a->pos_dev) {
        if (a->T != 1 || a->max_pos < 0) return cudaErrorInvalidValue;
        zbk_attention_args bound = *a;
        bound.pos_dev = nullptr;
        bound.pos0 = a->max_pos;
        return check_args(&bound);
    }
    if (a->batch < 1 || a->T < 1 || a->pos0 < 0 || a->nh < 1 || a->nkv < 1 || a->nh % a->nkv || a->hd < 2 ||
        (a->hd & 1) || a->slots < 1 || a->window < 0 || !(a->scale > 0.f))
        return cudaErrorInvalidValue;
    if (!keys_fit(a)) return cudaErrorInvalidValue;
    return cudaSuccess;
}

cudaError_t prefill(const zbk_attention_args *a, int variant, cudaStream_t s)
{
    PrefillParams p;
    p.q = a->q;
    p.kc = a->kc;
    p.vc = a->vc;
    p.out = a->out;
    p.T = a->T;
    p.pos0 = a->pos0;
    p.nh = a->nh;
    p.nkv = a->nkv;
    p.hd = a->hd;
    p.slots = a->slots;
    p.window = a->window;
    p.sl2 = a->scale * kLog2e;
    p.vec16 = a->hd % 8 == 0 && aligned16(a->q) && aligned16(a->kc) && aligned16(a->vc);
    p.head_group = 0; /* launch_prefill chooses */
    if (variant == 7 || variant == 8) { /* 5 and 6 in one group of all heads: the order before groups */
        p.head_group = INT_MAX;
        variant -= 2;
    }
    const int hd = a->hd;
    if ((variant == 0 || variant == 6) && !p.vec16) {
        /* rows not 16-byte copyable: the widest kernel of each family with
         * 4-byte copies (one instance each keeps the code size down) */
        if (hd <= 128) return launch_rows<128, 2, 4, false>(a, p, s);
        if (hd <= 512) return launch_split<512, false>(a, p, s);
        return generic_launch(a, s);
    }
    if (variant == 0) {
        /* head dims 449..464 on pairs of blocks where the launcher takes
         * the shape and the device runs it; else the one-block kernels */
        const cudaError_t e = wgmma_pair_prefill_launch(a, p, s);
        if (e != cudaErrorInvalidValue && e != cudaErrorNoKernelImageForDevice && e != cudaErrorNotSupported)
            return e;
    }
    if (variant == 0 && wgmma_head_dim(hd)) {
        /* the wgmma kernels where the device runs them (sm_90a image) */
        const cudaError_t e = wgmma_prefill_launch(a, p, s, Wgmma128::Best);
        if (e != cudaErrorNoKernelImageForDevice) return e;
    }
    switch (variant) {
    case 0:
    case 6:
        if (hd <= 32) return launch_rows<32, 2, 4, true>(a, p, s);
        if (hd <= 64) return launch_rows<64, 2, 4, true>(a, p, s);
        if (hd <= 96) return launch_rows<96, 2, 4, true>(a, p, s);
        if (hd <= 128) return launch_rows<128, 2, 4, true>(a, p, s);
        if (hd <= 256) return launch_split<256, true>(a, p, s);
        if (hd <= 464) return launch_split<464, true, true>(a, p, s); /* S on 4 warps: +6% at T 16384 */
        if (hd <= 512) return launch_split<512, true>(a, p, s);
        return generic_launch(a, s);
    case 1:
        if (hd <= 128 && p.vec16) return launch_rows<128, 1, 8, true>(a, p, s);
        return cudaErrorInvalidValue;
    case 2:
        if (hd <= 128 && p.vec16) return launch_split<128, true>(a, p, s);
        if (hd <= 464 && p.vec16) return launch_split<464, true>(a, p, s);
        return cudaErrorInvalidValue;
    case 3: return generic_launch(a, s);
    case 4:
        if (hd <= 464 && p.vec16) return launch_split<464, true, true>(a, p, s);
        return cudaErrorInvalidValue;
    case 5: return wgmma_prefill_launch(a, p, s, Wgmma128::Best);
    case 10:
    case 11:
        if (hd <= 128) return wgmma_prefill_launch(a, p, s, variant == 10 ? Wgmma128::TwoStage : Wgmma128::Pipe);
        return cudaErrorInvalidValue;
    case 9: return wgmma_pair_prefill_launch(a, p, s);
    case 12: return wgmma128_tma_launch(a, p, s);
    case 14: return wgmma_dsplit_prefill_launch(a, p, s);
    }
    return cudaErrorInvalidValue;
}

} // namespace

extern "C" cudaError_t zbk_attention_prefill_variant(const zbk_attention_args *a, int variant, cudaStream_t stream)
{
    const cudaError_t e = check_args(a);
    if (e != cudaSuccess) return e;
    if (a->T < 2) return cudaErrorInvalidValue;
    return prefill(a, variant, stream);
}

extern "C" cudaError_t zbk_attention(const zbk_attention_args *a, cudaStream_t stream)
{
    const cudaError_t e = check_args(a);
    if (e != cudaSuccess) return e;
    if (a->T == 1) return decode_launch(a, stream);
    return prefill(a, 0, stream);
}
