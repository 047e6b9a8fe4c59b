/*
 * What the prefill attention kernels share (attention_prefill.cu's mma.sync
 * kernels, attention_wgmma.cu's Hopper kernel): their parameters, the
 * per-block key range and masks, the 16-byte tile copy. CUDA C++ only.
 */
#ifndef ZB_ATTENTION_PREFILL_CUH
#define ZB_ATTENTION_PREFILL_CUH

#include <algorithm>

#include "attention_common.cuh"
#include "attention_order.h"

namespace zbattn {

struct PrefillParams {
    const zbk_half *q, *kc, *vc;
    zbk_half *out;
    int T, pos0, nh, nkv, hd, slots, window;
    float sl2; /* scale * log2(e) */
    int vec16; /* 16-byte copies allowed */
    /* The grid's order (attention_order.h; set by launch_prefill): groups
     * of head_group of the nbh = batch * nh (sequence, head) pairs, nrb
     * row blocks each. */
    int head_group, nrb, nbh;
};

/* Copies 16 bytes (8 columns starting at col) of a row into shared memory,
 * zeros where the row is invalid or past hd. */
template <bool VEC>
__device__ __forceinline__ void copy_chunk(uint32_t dst, const zbk_half *row, int col, bool rv, int hd)
{
    if (VEC) {
        const bool v = rv && col < hd;
        cp_async16(dst, v ? row + col : row, v ? 16 : 0);
    } else {
#pragma unroll
        for (int w = 0; w < 4; w++) {
            const int c = col + 2 * w;
            const bool v = rv && c < hd;
            cp_async4(dst + 4 * w, v ? row + c : row, v ? 4 : 0);
        }
    }
}

/* Per-block geometry shared by the prefill kernels. */
struct BlockGeom {
    int b, h, kvh, t0, P0, P1, klo, jstart, ntiles, kslot0;
    const zbk_half *kbase, *vbase;
    size_t rowstride;
};

/* The geometry of the block of (sequence, head) pair bh whose query rows
 * start at t0. */
template <int BM, int BN> __device__ __forceinline__ BlockGeom block_geom_at(const PrefillParams &p, int bh, int t0)
{
    BlockGeom g;
    g.b = bh / p.nh;
    g.h = bh - g.b * p.nh;
    g.kvh = g.h / (p.nh / p.nkv);
    g.t0 = t0;
    g.P0 = p.pos0 + g.t0;
    g.P1 = p.pos0 + min(g.t0 + BM, p.T) - 1;
    g.klo = p.window > 0 ? max(0, g.P0 - p.window + 1) : 0;
    g.jstart = g.klo / BN * BN;
    g.ntiles = (g.P1 - g.jstart) / BN + 1;
    g.kslot0 = g.klo % p.slots;
    g.rowstride = (size_t)p.nkv * p.hd;
    const size_t base = (size_t)g.b * p.slots * g.rowstride + (size_t)g.kvh * p.hd;
    g.kbase = p.kc + base;
    g.vbase = p.vc + base;
    return g;
}

/* This block's geometry in attention_order.h's grid. */
template <int BM, int BN> __device__ __forceinline__ BlockGeom block_geom(const PrefillParams &p)
{
    int bh, rank;
    zb_attention_block((int)blockIdx.x, p.head_group, p.nrb, p.nbh, &bh, &rank);
    return block_geom_at<BM, BN>(p, bh, (p.nrb - 1 - rank) * BM);
}

/* Does key tile j0 need a mask for query rows P0..P1? */
template <int BN> __device__ __forceinline__ bool tile_needs_mask(int j0, int P0, int P1, int window)
{
    return j0 + BN - 1 > P0 || (window > 0 && j0 < P1 - window + 1);
}

__device__ __forceinline__ bool key_masked(int key, int qpos, int window)
{
    return key > qpos || (window > 0 && key <= qpos - window);
}

/* zb_attention_head_group for this launch, with the device's L2 size. */
inline cudaError_t choose_head_group(const zbk_attention_args *a, int *group)
{
    int dev = 0, l2 = 0;
    cudaError_t e = cudaGetDevice(&dev);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev);
    if (e != cudaSuccess) return e;
    const int64_t keys = std::min<int64_t>((int64_t)a->pos0 + a->T, a->slots);
    *group = zb_attention_head_group(l2, keys, a->hd, a->nh, a->nkv, a->batch * a->nh);
    return cudaSuccess;
}

/* The grid order's fields of p for row blocks of bm: p.nrb and p.nbh, and
 * p.head_group (< 1: choose_head_group's choice; more than the pairs: one
 * group). cudaErrorInvalidValue where nrb x nbh blocks overflow an int. */
inline cudaError_t plan_order(const zbk_attention_args *a, int bm, PrefillParams &p)
{
    const int64_t nrb = (a->T + bm - 1) / bm;
    const int64_t nbh = (int64_t)a->batch * a->nh;
    if (nrb * nbh > 0x7fffffff) return cudaErrorInvalidValue;
    if (p.head_group < 1) {
        const cudaError_t e = choose_head_group(a, &p.head_group);
        if (e != cudaSuccess) return e;
    }
    p.head_group = (int)std::min<int64_t>(p.head_group, nbh);
    p.nrb = (int)nrb;
    p.nbh = (int)nbh;
    return cudaSuccess;
}

/* One prefill launch: a one-dimensional grid of (sequence, head) pairs x
 * row blocks of bm in attention_order.h's order (plan_order); the dynamic
 * shared-memory limit raised where a kernel needs more than 48 KB. */
template <typename Kern>
cudaError_t launch_prefill(Kern kern, int bm, int nthr, size_t smem, const zbk_attention_args *a, PrefillParams p,
                           cudaStream_t stream)
{
    if (smem > 48 * 1024) {
        const cudaError_t e = cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
        if (e != cudaSuccess) return e;
    }
    const cudaError_t e = plan_order(a, bm, p);
    if (e != cudaSuccess) return e;
    kern<<<(unsigned)((int64_t)p.nrb * p.nbh), nthr, smem, stream>>>(p);
    return cudaGetLastError();
}

/* The head dims the wgmma kernels take: 97..128 and 257..464 (the wide
 * kernel's width, attention_wgmma.cu's kDP). */
inline bool wgmma_head_dim(int hd) { return (hd > 96 && hd <= 128) || (hd > 256 && hd <= 464); }

/* Which head-dim-128 wgmma kernel (attention_wgmma.cu): Best = tensor
 * copies where the shape allows, else Pipe (the softmax of a tile beside
 * the previous tile's P V, cp.async copies); TwoStage = the kernel of
 * before the pipelined ones, kept to compare. */
enum class Wgmma128 { Best, Pipe, TwoStage };

/* The Hopper (sm_90a wgmma) kernels for wgmma_head_dim with 16-byte rows
 * (attention_wgmma.cu): cudaErrorInvalidValue for other shapes,
 * cudaErrorNoKernelImageForDevice off compute capability 9.0. */
cudaError_t wgmma_prefill_launch(const zbk_attention_args *a, const PrefillParams &p, cudaStream_t stream,
                                 Wgmma128 k128);

/* The pipelined head-dim-128 wgmma kernel with K and V brought by tensor
 * copies: head dims 97..128, 16-byte rows, no window, every key of the
 * call in the cache without wrapping; cudaErrorInvalidValue for other
 * shapes (cudaErrorNotSupported without the driver's tensor-map encoder). */
cudaError_t wgmma128_tma_launch(const zbk_attention_args *a, const PrefillParams &p, cudaStream_t stream);

/* cudaSuccess on compute capability 9.0, where the sm_90a cubins run;
 * cudaErrorNoKernelImageForDevice elsewhere. */
cudaError_t wgmma_device_check();

/* What the wgmma kernels fed by tensor copies take: 16-byte rows, head dims
 * hd_above + 1 .. hd_max, no window, every key of the call in the cache
 * without wrapping (else cudaErrorInvalidValue), on a device that runs
 * them (else wgmma_device_check's answer). */
inline cudaError_t tma_launch_check(const zbk_attention_args *a, const PrefillParams &p, int hd_above, int hd_max)
{
    if (!p.vec16 || a->hd <= hd_above || a->hd > hd_max || a->window > 0 || (int64_t)a->pos0 + a->T > a->slots)
        return cudaErrorInvalidValue;
    return wgmma_device_check();
}

/* The head-dim-464 wgmma kernel on pairs of blocks (a cluster of two
 * adjacent query blocks of one head sharing each K and V tile through
 * multicast tensor-memory copies, attention_wgmma_pair.cu): head dims
 * 449..464, no window, every key of the call in the cache without
 * wrapping; cudaErrorInvalidValue for other shapes. */
cudaError_t wgmma_pair_prefill_launch(const zbk_attention_args *a, const PrefillParams &p, cudaStream_t stream);

/* The head-dim-464 wgmma kernel with the head dim split across a pair of
 * blocks (a cluster of two blocks sharing 128 query rows, each holding 240
 * columns of Q, K, V and O and exchanging partial scores through
 * distributed shared memory, attention_wgmma_dsplit.cu): same shapes as
 * wgmma_pair_prefill_launch. */
cudaError_t wgmma_dsplit_prefill_launch(const zbk_attention_args *a, const PrefillParams &p, cudaStream_t stream);

} // namespace zbattn

#endif
