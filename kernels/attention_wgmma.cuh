/*
 * The wgmma building blocks of attention_wgmma.cu's kernels (sm_90a only):
 * the swizzled shared-memory layout and its descriptors, the wgmma and
 * fence wrappers, the tile copy, and the head-dim-464 kernels' three steps
 * of a key tile (S and the softmax on warpgroup 0, P V on both, the
 * output), so that the one-block kernel and the block-pair kernel
 * (attention_wgmma_pair.cu) differ only in how K and V reach shared memory.
 * The layout and ordering rules are described at the top of
 * attention_wgmma.cu.
 */
#ifndef ZB_ATTENTION_WGMMA_CUH
#define ZB_ATTENTION_WGMMA_CUH

#include <cuda.h> /* CUtensorMap and its enums; the encoder comes through the runtime's entry-point query */
#include <cudaTypedefs.h>
#include <math.h>

#include "attention_prefill.cuh"

namespace zbattn {

constexpr int kDP = 464;                       /* widest head dim */
constexpr int kBM = 64, kBN = 64, kThreads = 256;
constexpr int kChunks = kDP / 8;               /* 16-byte chunks of a row: 58 */
constexpr int kKSteps = kDP / 16;              /* k-steps of Q K^T: 29 */
constexpr int kCols0 = 256;                    /* O columns of warpgroup 0 */
constexpr int kNT0 = kCols0 / 8, kNT1 = (kDP - kCols0) / 8; /* n8 tiles: 32, 26 */
constexpr uint32_t kTileBytes = 64u * 512 * 2; /* Q, K or V: 8 x 8 atoms of 1024 bytes */
constexpr uint32_t kPBytes = kBM * kBN * 2;
constexpr size_t kSmem = 3 * (size_t)kTileBytes + kPBytes + 2 * kBM * sizeof(float);

/* Byte offset of chunk c of row r in a swizzled tile of R rows. */
template <int R> __device__ __forceinline__ uint32_t sw_off(int r, int c)
{
    return (uint32_t)((((c >> 3) * (R / 8) + (r >> 3)) * 1024) + (r & 7) * 128 + (((c & 7) ^ (r & 7)) * 16));
}

/* Shared-memory matrix descriptor: start address, leading and stride byte
 * offsets (16-byte units), base offset 0, swizzle mode (0 none, 1 128-byte). */
__device__ __forceinline__ uint64_t smem_desc(uint32_t addr, uint32_t lbo, uint32_t sbo, bool sw128)
{
    return (uint64_t)((addr >> 4) & 0x3FFFu) | ((uint64_t)((lbo >> 4) & 0x3FFFu) << 16) |
           ((uint64_t)((sbo >> 4) & 0x3FFFu) << 32) | ((uint64_t)(sw128 ? 1 : 0) << 62);
}

__device__ __forceinline__ void fence_proxy_async()
{
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_wait_all() { asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory"); }
/* All but the latest committed group complete (groups complete in order). */
__device__ __forceinline__ void wgmma_wait_but_one()
{
    asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory");
}
template <int N> __device__ __forceinline__ void reg_fence(float (&r)[N])
{
#pragma unroll
    for (int i = 0; i < N; i++) asm volatile("" : "+f"(r[i])::"memory");
}
/* The same for a register A operand: it stays live (its registers are not
 * reused) until the wait that retires the wgmma reading it. */
template <int N, int M> __device__ __forceinline__ void reg_fence(uint32_t (&r)[N][M])
{
#pragma unroll
    for (int i = 0; i < N; i++)
#pragma unroll
        for (int j = 0; j < M; j++) asm volatile("" : "+r"(r[i][j])::"memory");
}

/* ------------------------ tensor copies, transaction barriers, clusters */

__device__ __forceinline__ int cluster_rank()
{
    uint32_t r;
    asm volatile("mov.u32 %0, %%cluster_ctarank;\n" : "=r"(r));
    return (int)r;
}

/* Every thread of both blocks; release/acquire at cluster scope. */
__device__ __forceinline__ void cluster_sync()
{
    asm volatile("barrier.cluster.arrive.release.aligned;\nbarrier.cluster.wait.acquire.aligned;\n" ::: "memory");
}

__device__ __forceinline__ void mbar_init(uint32_t bar, uint32_t count)
{
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}

/* One arrival that also expects `bytes` of copies in the current phase. */
__device__ __forceinline__ void mbar_expect_tx(uint32_t bar, uint32_t bytes)
{
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}

/* Until phase `parity` of the barrier completes. Cluster: acquire at
 * cluster scope, for a phase completed by the other block of a cluster
 * (its st.async bytes or remote arrivals). */
template <bool Cluster = false> __device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity)
{
#define ZB_MBAR_TRY_WAIT(sem)                                                                                       \
    asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity" sem ".shared::cta.b64 p, [%1], %2;\n"               \
                 "selp.u32 %0, 1, 0, p;\n}\n"                                                                       \
                 : "=r"(done)                                                                                       \
                 : "r"(bar), "r"(parity)                                                                            \
                 : "memory")
    uint32_t done;
    do {
        if constexpr (Cluster) ZB_MBAR_TRY_WAIT(".acquire.cluster");
        else ZB_MBAR_TRY_WAIT("");
    } while (!done);
#undef ZB_MBAR_TRY_WAIT
}

/* Box {64 columns, 1 head, the map's box of keys, 1 sequence} of map tm
 * at (col, kvh, key, b) into shared offset dst of both blocks of the
 * cluster, completing its bytes on the barrier at offset bar of each. */
__device__ __forceinline__ void slab_multicast(uint32_t dst, const CUtensorMap *tm, int col, int kvh, int key, int b,
                                               uint32_t bar)
{
    const uint16_t both = 3;
    asm volatile("cp.async.bulk.tensor.4d.shared::cluster.global.mbarrier::complete_tx::bytes.multicast::cluster"
                 " [%0], [%1, {%2, %3, %4, %5}], [%6], %7;\n" ::"r"(dst),
                 "l"(reinterpret_cast<uint64_t>(tm)), "r"(col), "r"(kvh), "r"(key), "r"(b), "r"(bar), "h"(both)
                 : "memory");
}

/* The same box into this block's shared memory only. */
__device__ __forceinline__ void box_copy(uint32_t dst, const CUtensorMap *tm, int col, int kvh, int key, int b,
                                         uint32_t bar)
{
    asm volatile("cp.async.bulk.tensor.4d.shared::cluster.global.mbarrier::complete_tx::bytes"
                 " [%0], [%1, {%2, %3, %4, %5}], [%6];\n" ::"r"(dst),
                 "l"(reinterpret_cast<uint64_t>(tm)), "r"(col), "r"(kvh), "r"(key), "r"(b), "r"(bar)
                 : "memory");
}

/* A tensor map of 16-bit rows seen as {columns, heads, rows, batch} (dims,
 * byte strides of the last three) at base, in boxes of {64 columns, 1,
 * box_rows, 1} in the 128-byte swizzle, i.e. one column atom of the layout
 * above; whatever lies outside dims arrives as zeros. The encoder comes
 * through the runtime's driver entry-point query. */
inline cudaError_t map_rows_16bit(CUtensorMap *tm, const void *base, const cuuint64_t (&dims)[4],
                                  const cuuint64_t (&strides)[3], int box_rows)
{
    void *fn = nullptr;
    cudaDriverEntryPointQueryResult found;
    cudaError_t e = cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &found);
    if (e != cudaSuccess) return e;
    if (found != cudaDriverEntryPointSuccess || !fn) return cudaErrorNotSupported;
    const auto encode = reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(fn);
    const cuuint32_t box[4] = {64, 1, (cuuint32_t)box_rows, 1}, step[4] = {1, 1, 1, 1};
    const CUresult r = encode(tm, CU_TENSOR_MAP_DATA_TYPE_UINT16, 4, const_cast<void *>(base), dims, strides, box, step,
                              CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                              CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    return r == CUDA_SUCCESS ? cudaSuccess : cudaErrorInvalidValue;
}

/* The tensor maps of the caches kc and vc: [batch][slots][nkv][hd] 16-bit,
 * each seen as {hd, nkv, pos0 + T keys, batch} so that the keys the call
 * does not hold read as zeros (a stale slot may hold NaN bit patterns, and
 * 0 x NaN would poison P V); boxes of box_keys keys. The caller guarantees
 * no ring wrap (pos0 + T <= slots) and 16-byte rows. */
inline cudaError_t cache_maps(CUtensorMap *tk, CUtensorMap *tv, const zbk_attention_args *a, int box_keys)
{
    const cuuint64_t row = (cuuint64_t)a->hd * 2;
    const cuuint64_t dims[4] = {(cuuint64_t)a->hd, (cuuint64_t)a->nkv, (cuuint64_t)a->pos0 + (cuuint64_t)a->T,
                                (cuuint64_t)a->batch};
    const cuuint64_t strides[3] = {row, row * (cuuint64_t)a->nkv, row * (cuuint64_t)a->nkv * (cuuint64_t)a->slots};
    const cudaError_t e = map_rows_16bit(tk, a->kc, dims, strides, box_keys);
    return e != cudaSuccess ? e : map_rows_16bit(tv, a->vc, dims, strides, box_keys);
}

/* The accumulator operands of the wgmma wrappers below: d[i] .. d[i + 7]
 * (d[i] .. d[i + 31]) read and written, and the asm names of the first 128
 * operands in blocks of 32, so that each wrapper states only its shape. */
#define ZB_WG_ACC8(d, i)                                                                                         \
    "+f"(d[(i)]), "+f"(d[(i) + 1]), "+f"(d[(i) + 2]), "+f"(d[(i) + 3]), "+f"(d[(i) + 4]), "+f"(d[(i) + 5]),     \
        "+f"(d[(i) + 6]), "+f"(d[(i) + 7])
#define ZB_WG_ACC32(d, i) ZB_WG_ACC8(d, i), ZB_WG_ACC8(d, (i) + 8), ZB_WG_ACC8(d, (i) + 16), ZB_WG_ACC8(d, (i) + 24)
#define ZB_WG_R0 \
    "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, " \
    "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"
#define ZB_WG_R32 \
    "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, " \
    "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
#define ZB_WG_R64 \
    "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, " \
    "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95"
#define ZB_WG_R96 \
    "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, " \
    "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127"

/* S (+)= Q K^T for 64 rows x 64 keys, one k-step of 16; both operands K-major. */
__device__ __forceinline__ void wgmma_s(float (&d)[32], uint64_t da, uint64_t db, int acc)
{
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n64k16.f32." ZBK_MMA_HALF " {" ZB_WG_R0
                 "}, %32, %33, p, 1, 1, 0, 0;\n}\n"
                 : ZB_WG_ACC32(d, 0)
                 : "l"(da), "l"(db), "r"(acc));
}


/* O += P V for 64 rows x 256 columns (warpgroup 0), one k-step of 16 keys;
 * V enters MN-major (keys are its rows, columns contiguous): imm-trans-b 1. */
__device__ __forceinline__ void wgmma_o256(float (&d)[128], uint64_t da, uint64_t db)
{
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %130, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n256k16.f32." ZBK_MMA_HALF " {" ZB_WG_R0 ", " ZB_WG_R32 ", " ZB_WG_R64
                 ", " ZB_WG_R96
                 "}, %128, %129, p, 1, 1, 0, 1;\n}\n"
                 : ZB_WG_ACC32(d, 0), ZB_WG_ACC32(d, 32), ZB_WG_ACC32(d, 64), ZB_WG_ACC32(d, 96)
                 : "l"(da), "l"(db), "r"(1));
}

/* The same for 64 rows x 208 columns (warpgroup 1: columns 256..463). */
__device__ __forceinline__ void wgmma_o208(float (&d)[128], uint64_t da, uint64_t db)
{
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %106, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n208k16.f32." ZBK_MMA_HALF " {" ZB_WG_R0 ", " ZB_WG_R32 ", " ZB_WG_R64
                 ", %96, %97, %98, %99, %100, %101, %102, %103"
                 "}, %104, %105, p, 1, 1, 0, 1;\n}\n"
                 : ZB_WG_ACC32(d, 0), ZB_WG_ACC32(d, 32), ZB_WG_ACC32(d, 64), ZB_WG_ACC8(d, 96)
                 : "l"(da), "l"(db), "r"(1));
}


/* Row sources for load_tile: query rows of the block (zeros past T), and
 * key rows j0.. of the cache ring (zeros outside klo..P1, never read). */
__device__ __forceinline__ auto q_row_src(const PrefillParams &p, const BlockGeom &g)
{
    return [=](int r, bool &rv) -> const zbk_half * {
        const int t = g.t0 + r;
        rv = t < p.T;
        return p.q + (rv ? ((size_t)g.b * p.T + t) * p.nh * p.hd + (size_t)g.h * p.hd : 0);
    };
}
__device__ __forceinline__ auto kv_row_src(const PrefillParams &p, const BlockGeom &g, const zbk_half *base, int j0)
{
    const int klo = g.klo, P1 = g.P1, kslot0 = g.kslot0, slots = p.slots;
    const size_t stride = g.rowstride;
    return [=](int r, bool &rv) -> const zbk_half * {
        const int j = j0 + r;
        rv = j >= klo && j <= P1;
        int slot = kslot0 + (j - klo);
        if (slot >= slots) slot -= slots;
        return base + (rv ? (size_t)slot * stride : 0);
    };
}

/* Online softmax: folds this tile's per-lane row max mx (reduced here over
 * the quad that shares the row) into the running max m; returns the factor
 * that rescales the old sums and sets mb, the new max in the log2 domain
 * (0 while the row has seen nothing, so exp2(-inf) stays 0). */
__device__ __forceinline__ float online_max(float &m, float mx, float sl2, float &mb)
{
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
    const float mnew = fmaxf(m, mx);
    mb = mnew == -INFINITY ? 0.f : mnew * sl2;
    const float alpha = fast_exp2(m * sl2 - mb);
    m = mnew;
    return alpha;
}

/* A tile of R rows into the swizzled layout at dst, rows padded to CP
 * 16-byte chunks (whole swizzle atoms), of which the first NCH are copied.
 * Thread t copies chunk t % CP of rows t / CP + (256 / CP) i: consecutive
 * lanes take consecutive chunks of one row, so each 8-lane phase copies one
 * row's 128 contiguous bytes (full 32-byte sectors) and stores them to 8
 * different bank groups (the swizzle). Chunks past NCH (the head dim 464's
 * columns 464..511) are never read and not written. row_src(r, valid)
 * gives row r's source. */
template <int R, int CP, int NCH, typename RowSrc>
__device__ __forceinline__ void load_tile(uint32_t dst, int hd, RowSrc row_src)
{
    static_assert(kThreads % CP == 0 && R % (kThreads / CP) == 0, "whole rows per pass");
    const int t = (int)threadIdx.x, c = t % CP, r0 = t / CP;
    if (c >= NCH) return;
#pragma unroll
    for (int i = 0; i < R / (kThreads / CP); i++) {
        const int r = r0 + (kThreads / CP) * i;
        bool rv;
        const zbk_half *src = row_src(r, rv);
        copy_chunk<true>(dst + sw_off<R>(r, c), src, c * 8, rv, hd);
    }
}

/* Scores as the S accumulators hold them: s[4 n + 2 hr + e] is row
 * r0 + 8 hr of the block and key j0 + 8 n + 2 (lane % 4) + e. */

/* -inf for the scores whose key the row (query position P0 + its row)
 * may not see. */
template <int NS>
__device__ __forceinline__ void mask_scores(float (&s)[NS], int j0, int P0, int r0, int lane, int window)
{
#pragma unroll
    for (int i = 0; i < NS; i++) {
        const int qpos = P0 + r0 + 8 * ((i >> 1) & 1);
        const int key = j0 + 8 * (i >> 2) + 2 * (lane & 3) + (i & 1);
        if (key_masked(key, qpos, window)) s[i] = -INFINITY;
    }
}

/* This lane's largest score of row r0 + 8 hr. */
template <int NS> __device__ __forceinline__ float lane_row_max(const float (&s)[NS], int hr)
{
    float mx = -INFINITY;
#pragma unroll
    for (int n = 0; n < NS / 4; n++) mx = fmaxf(mx, fmaxf(s[4 * n + 2 * hr], s[4 * n + 2 * hr + 1]));
    return mx;
}

/* The online softmax of one tile of (masked) scores as the S accumulators
 * hold them, NS / 4 n8 tiles of keys: exponentiated in place against the
 * new running max m, their row sums folded into l; alpha[hr] rescales what
 * O holds so far. */
template <int NS>
__device__ __forceinline__ void softmax_tile(float (&s)[NS], float (&m)[2], float (&l)[2], float (&alpha)[2], float sl2)
{
#pragma unroll
    for (int hr = 0; hr < 2; hr++) {
        float mb;
        alpha[hr] = online_max(m[hr], lane_row_max(s, hr), sl2, mb);
        float rs = 0.f;
#pragma unroll
        for (int n = 0; n < NS / 4; n++) {
            const float p0 = fast_exp2(fmaf(s[4 * n + 2 * hr], sl2, -mb));
            const float p1 = fast_exp2(fmaf(s[4 * n + 2 * hr + 1], sl2, -mb));
            s[4 * n + 2 * hr] = p0;
            s[4 * n + 2 * hr + 1] = p1;
            rs += p0 + p1;
        }
        l[hr] = l[hr] * alpha[hr] + rs;
    }
}

/* O (accumulator layout: o[4 n + 2 hr + e] in row r0 + 8 hr) times its
 * row's rescale factor alpha[hr]. */
template <int N> __device__ __forceinline__ void rescale_rows(float (&o)[N], const float (&alpha)[2])
{
#pragma unroll
    for (int i = 0; i < N; i++) o[i] *= alpha[(i >> 1) & 1];
}

/* P as the A operand of P V from registers: keys 16 kk.. are S's n8 tiles
 * 2 kk and 2 kk + 1. */
template <int KK> __device__ __forceinline__ void pack_p(const float (&s)[8 * KK], uint32_t (&pa)[KK][4])
{
#pragma unroll
    for (int kk = 0; kk < KK; kk++)
#pragma unroll
        for (int q = 0; q < 4; q++) pa[kk][q] = zbk_pack_half2(s[8 * kk + 2 * q], s[8 * kk + 2 * q + 1]);
}

/* o / l into the output rows t0 + r0 and t0 + r0 + 8 of (sequence b, head
 * h), NT n8 tiles of columns from col0 (those past the head dim not
 * stored); the quad that shares a row adds its partial sums first. */
template <int NT>
__device__ __forceinline__ void store_rows(const PrefillParams &p, int b, int h, int t0, int col0,
                                           const float (&o)[4 * NT], const float (&l)[2], int r0, int lane)
{
#pragma unroll
    for (int hr = 0; hr < 2; hr++) {
        float lt = l[hr];
        lt += __shfl_xor_sync(0xffffffffu, lt, 1);
        lt += __shfl_xor_sync(0xffffffffu, lt, 2);
        const float inv = lt > 0.f ? 1.f / lt : 0.f;
        const int t = t0 + r0 + 8 * hr;
        if (t >= p.T) continue;
        zbk_half *dst = p.out + ((size_t)b * p.T + t) * p.nh * p.hd + (size_t)h * p.hd;
#pragma unroll
        for (int n = 0; n < NT; n++) {
            const int col = col0 + 8 * n + 2 * (lane & 3);
            if (col < p.hd)
                *reinterpret_cast<uint32_t *>(dst + col) =
                    zbk_pack_half2(o[4 * n + 2 * hr] * inv, o[4 * n + 2 * hr + 1] * inv);
        }
    }
}

/* ------------------------------------------- one key tile, head dim 464 */

/* Warpgroup 0: S = Q K^T for the block's 64 rows and the 64 keys from j0
 * (29 k-steps, both operands swizzled in shared memory), the mask, the
 * online softmax; writes P (16-bit, no-swizzle core matrices) and each
 * row's rescale factor alpha, and rescales its own O. Rows P0..P1. */
__device__ __forceinline__ void wide_s_softmax(const PrefillParams &p, uint32_t sQ, uint32_t sK, uint32_t sP,
                                               float *alph, float (&o)[4 * kNT0], float (&m)[2], float (&l)[2],
                                               int j0, int P0, int P1, int r0, int lane)
{
    float s[32];
#pragma unroll
    for (int i = 0; i < 32; i++) s[i] = 0.f;
    wgmma_fence();
#pragma unroll
    for (int ks = 0; ks < kKSteps; ks++) {
        const uint32_t at = (uint32_t)((ks >> 2) * 8192 + (ks & 3) * 32);
        wgmma_s(s, smem_desc(sQ + at, 16, 1024, true), smem_desc(sK + at, 16, 1024, true), ks > 0);
    }
    wgmma_commit();
    wgmma_wait_all();
    reg_fence(s);

    if (tile_needs_mask<kBN>(j0, P0, P1, p.window)) mask_scores(s, j0, P0, r0, lane, p.window);
#pragma unroll
    for (int hr = 0; hr < 2; hr++) {
        float mb;
        const float alpha = online_max(m[hr], lane_row_max(s, hr), p.sl2, mb);
        const int r = r0 + 8 * hr;
        float rs = 0.f;
#pragma unroll
        for (int n = 0; n < 8; n++) {
            const float p0 = fast_exp2(fmaf(s[4 * n + 2 * hr], p.sl2, -mb));
            const float p1 = fast_exp2(fmaf(s[4 * n + 2 * hr + 1], p.sl2, -mb));
            rs += p0 + p1;
            const uint32_t at = sP + (uint32_t)(((r >> 3) * 8 + n) * 128 + (r & 7) * 16 + (lane & 3) * 4);
            asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(at), "r"(zbk_pack_half2(p0, p1)) : "memory");
        }
        l[hr] = l[hr] * alpha + rs; /* this lane's keys; summed over the quad at the end */
        if ((lane & 3) == 0) alph[r] = alpha;
#pragma unroll
        for (int n = 0; n < kNT0; n++) {
            o[4 * n + 2 * hr] *= alpha;
            o[4 * n + 2 * hr + 1] *= alpha;
        }
    }
    fence_proxy_async(); /* P is read by wgmma next */
}

/* Both warpgroups, once P, alpha and V are in place: warpgroup 1 rescales
 * its O by alpha (warpgroup 0 did in wide_s_softmax), then O += P V. */
__device__ __forceinline__ void wide_pv(int wg, uint32_t sP, uint32_t sV, const float *alph, float (&o)[4 * kNT0],
                                        int r0)
{
    if (wg == 1) {
#pragma unroll
        for (int hr = 0; hr < 2; hr++) {
            const float alpha = alph[r0 + 8 * hr];
#pragma unroll
            for (int n = 0; n < kNT1; n++) {
                o[4 * n + 2 * hr] *= alpha;
                o[4 * n + 2 * hr + 1] *= alpha;
            }
        }
    }
    /* one whole wgmma sequence per branch: alternating the two shapes
     * inside one loop makes ptxas serialize them */
    if (wg == 0) {
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < kBN / 16; kk++)
            wgmma_o256(o, smem_desc(sP + kk * 256, 128, 1024, false),
                       smem_desc(sV + (uint32_t)(2 * kk) * 1024, 8192, 1024, true));
        wgmma_commit();
        wgmma_wait_all();
    } else {
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < kBN / 16; kk++)
            wgmma_o208(o, smem_desc(sP + kk * 256, 128, 1024, false),
                       smem_desc(sV + (uint32_t)(kCols0 / 64 * 8 + 2 * kk) * 1024, 8192, 1024, true));
        wgmma_commit();
        wgmma_wait_all();
    }
    reg_fence(o);
}

/* The output rows t0.. of (sequence b, head h): the row sums reduced over
 * each quad (warpgroup 0 holds them) and shared through linv[kBM]; every
 * thread of the block must call it. */
__device__ __forceinline__ void wide_store(const PrefillParams &p, int b, int h, int t0, float *linv,
                                           const float (&o)[4 * kNT0], const float (&l)[2], int wg, int r0, int lane)
{
    if (wg == 0) {
#pragma unroll
        for (int hr = 0; hr < 2; hr++) {
            float lt = l[hr];
            lt += __shfl_xor_sync(0xffffffffu, lt, 1);
            lt += __shfl_xor_sync(0xffffffffu, lt, 2);
            if ((lane & 3) == 0) linv[r0 + 8 * hr] = lt > 0.f ? 1.f / lt : 0.f;
        }
    }
    __syncthreads();
    const int nt = wg == 0 ? kNT0 : kNT1, col0 = wg == 0 ? 0 : kCols0;
#pragma unroll
    for (int hr = 0; hr < 2; hr++) {
        const int r = r0 + 8 * hr, t = t0 + r;
        if (t >= p.T) continue;
        const float inv = linv[r];
        zbk_half *dst = p.out + ((size_t)b * p.T + t) * p.nh * p.hd + (size_t)h * p.hd;
#pragma unroll
        for (int n = 0; n < kNT0; n++) {
            const int col = col0 + 8 * n + 2 * (lane & 3);
            if (n < nt && col < p.hd)
                *reinterpret_cast<uint32_t *>(dst + col) =
                    zbk_pack_half2(o[4 * n + 2 * hr] * inv, o[4 * n + 2 * hr + 1] * inv);
        }
    }
}

} // namespace zbattn

#endif
