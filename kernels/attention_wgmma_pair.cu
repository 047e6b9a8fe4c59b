/*
 * Head-dim-464 prefill attention on pairs of blocks (sm_90a): the wgmma
 * kernel of attention_wgmma.cu, with each K and V tile fetched from L2 once
 * for two query blocks instead of once for each.
 *
 * Why. The one-block kernel moves 2 x 64 keys x 464 x 2 bytes = 119 KB of
 * K and V from L2 into each block for 7.6 MFLOP of tensor work (64 FLOP a
 * byte). At T 16384 its 15.9 ms on the H100 make about 17 bytes a clock
 * per SM, ~3.9 TB/s of L2 reads over the GPU: the copies, not the tensor
 * pipes (~30% busy), set its pace. A block cannot take more query rows,
 * since the 64 x 464 fp32 O accumulator already fills half of the register
 * file. Two blocks can share the copies instead.
 *
 * How. The grid is made of clusters of two blocks (__cluster_dims__):
 * adjacent query blocks 2i and 2i+1 of one (sequence, head), which read
 * the same keys but the last tile. Each K or V tile is 8 slabs of 64
 * columns x 64 keys; each block of the pair issues four of them as tensor
 * copies (cp.async.bulk.tensor) multicast to both blocks, so each block's
 * shared memory receives the whole tile while each fetched only half of it.
 * The tensor maps lay the slabs out in the 128-byte swizzle the wgmma
 * descriptors read (attention_wgmma.cu's layout: slab ca at ca x 8192,
 * 16-byte chunk c of row r at c ^ (r % 8)); the keys the call does not
 * hold (rows from pos0 + T on) and the columns past the head dim lie
 * outside the map and arrive as zeros, as the cp.async path zero-fills
 * them (a stale cache slot may hold NaN bit patterns, and 0 x NaN would
 * poison P V).
 *
 * Synchronisation, per tile it (parity it % 2 on each barrier):
 *  - a transaction barrier per buffer (K, V) in each block: its own thread
 *    0 arrives with the whole tile's byte count, the copies of both blocks
 *    complete bytes on it;
 *  - a cluster barrier before each multicast into a buffer, since the
 *    copies write into the partner's shared memory too: V(it) is issued
 *    once both blocks finished P V(it-1), K(it+1) once both made S(it).
 *  Both blocks walk the pair's key tiles, the lower block's last one fully
 *  masked (P = 0, alpha = 1: no effect), so the barriers stay in step. A
 *  pair's upper block past T (odd row-block counts) runs on zero queries
 *  and stores nothing.
 * Limits: head dims 449..464 (the last slab must start inside the row),
 * no window, every key of the call in the cache without wrapping; the
 * launcher refuses other shapes.
 *
 * STATUS: zbk_attention's choice where it takes the shape on compute
 * capability 9.0 (attention_prefill.cu's prefill(); forced: variant 9)
 * since its first run on the H100 (2026-12-07, 11th session): every
 * prefill case it takes matches the CPU reference, memcheck clean, and
 * against the one-block kernel 305.8 -> 259.4 us at T 2048, 1094.8 ->
 * 888.8 us at 4096, 15.95 -> 12.75 ms at 16384 and 16.95 -> 13.16 ms in
 * zbench's chunks of 4096; zamba-7b's 16384 prefill 975.6 -> 914.3 ms
 * (docs/PERF.md, "Block pairs").
 */
#include "attention_wgmma.cuh"

#if defined(__CUDA_ARCH__) && !defined(__CUDA_ARCH_FEAT_SM90_ALL)
#error "attention_wgmma_pair.cu must be built for sm_90a (the Makefile's CUDA_ARCH_WGMMA)"
#endif

namespace zbattn {
namespace {

constexpr int kSlabs = 8;                     /* 64-column slabs of a 512-column tile */
constexpr uint32_t kSlabBytes = 64u * 64 * 2; /* 64 keys x 128 bytes */
constexpr uint32_t kTileTx = kSlabs * kSlabBytes;
constexpr size_t kPairSmem = kSmem + 2 * sizeof(uint64_t); /* + the two barriers */
static_assert(kTileTx == kTileBytes, "a tile is its 8 slabs");

__global__ void __cluster_dims__(2, 1, 1) __launch_bounds__(kThreads, 1)
    attn_wgmma_pair_kernel(const PrefillParams p, const __grid_constant__ CUtensorMap tk,
                           const __grid_constant__ CUtensorMap tv)
{
    extern __shared__ __align__(1024) unsigned char smem[];
    const uint32_t sQ = smem_addr(smem), sK = sQ + kTileBytes, sV = sK + kTileBytes, sP = sV + kTileBytes;
    float *alph = reinterpret_cast<float *>(smem + 3 * (size_t)kTileBytes + kPBytes); /* [kBM] */
    float *linv = alph + kBM;                                                           /* [kBM] */
    const uint32_t barK = smem_addr(linv + kBM), barV = barK + 8;

    const int tid = (int)threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int wg = warp >> 2;
    const int r0 = 16 * (warp & 3) + (lane >> 2);
    const int rank = cluster_rank(); /* which four slabs of each tile this block fetches */

    /* this block's row block rb of the pair (rb / 2), attention_order.h */
    int bh, rb;
    zb_attention_pair_block((int)blockIdx.x, p.head_group, p.nrb, p.nbh, &bh, &rb);
    const BlockGeom g = block_geom_at<kBM, kBN>(p, bh, rb * kBM);
    const int ntiles = (p.pos0 + min(((rb | 1) + 1) * kBM, p.T) - 1) / kBN + 1; /* through the pair's last key */

    if (tid == 0) {
        mbar_init(barK, 1);
        mbar_init(barV, 1);
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    cluster_sync(); /* both blocks' barriers exist before either block's copies complete on them */

    load_tile<kBM, 64, kChunks>(sQ, p.hd, q_row_src(p, g));
    cp_async_commit();
    /* this block's four slabs of a tile, multicast; its barrier expects all eight */
    auto issue = [&](const CUtensorMap *tm, uint32_t buf, uint32_t bar, int key) {
        mbar_expect_tx(bar, kTileTx);
#pragma unroll
        for (int s = 0; s < kSlabs / 2; s++) {
            const int slab = rank * (kSlabs / 2) + s;
            slab_multicast(buf + (uint32_t)slab * kSlabBytes, tm, slab * 64, g.kvh, key, g.b, bar);
        }
    };
    if (tid == 0) issue(&tk, sK, barK, 0);

    float o[4 * kNT0];
#pragma unroll
    for (int i = 0; i < 4 * kNT0; i++) o[i] = 0.f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};

    for (int it = 0; it < ntiles; it++) {
        const int j0 = it * kBN;
        const uint32_t parity = (uint32_t)it & 1;
        cp_async_wait<0>();
        fence_proxy_async(); /* Q (generic-proxy copies) is read by wgmma */
        mbar_wait(barK, parity);
        cluster_sync(); /* K(it) and Q in place; both blocks are done with V(it-1) and P */
        if (tid == 0) issue(&tv, sV, barV, j0);
        if (wg == 0) wide_s_softmax(p, sQ, sK, sP, alph, o, m, l, j0, g.P0, g.P1, r0, lane);
        mbar_wait(barV, parity);
        cluster_sync(); /* V(it), P and alpha in place; both blocks are done with K(it) */
        if (tid == 0 && it + 1 < ntiles) issue(&tk, sK, barK, j0 + kBN);
        wide_pv(wg, sP, sV, alph, o, r0);
    }
    cluster_sync(); /* no block leaves while its partner may still use the cluster */
    wide_store(p, g.b, g.h, g.t0, linv, o, l, wg, r0, lane);
}

} // namespace

cudaError_t wgmma_pair_prefill_launch(const zbk_attention_args *a, const PrefillParams &p0, cudaStream_t stream)
{
    cudaError_t e = tma_launch_check(a, p0, kDP - 16, kDP);
    if (e != cudaSuccess) return e;

    CUtensorMap tk, tv;
    if ((e = cache_maps(&tk, &tv, a, kBN)) != cudaSuccess) return e;

    PrefillParams p = p0;
    if ((e = plan_order(a, kBM, p)) != cudaSuccess) return e;
    const int64_t blocks = (int64_t)(p.nrb + 1) / 2 * 2 * p.nbh; /* whole pairs */
    if (blocks > 0x7fffffff) return cudaErrorInvalidValue;
    e = cudaFuncSetAttribute(attn_wgmma_pair_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)kPairSmem);
    if (e != cudaSuccess) return e;
    attn_wgmma_pair_kernel<<<(unsigned)blocks, kThreads, kPairSmem, stream>>>(p, tk, tv);
    return cudaGetLastError();
}

} // namespace zbattn
