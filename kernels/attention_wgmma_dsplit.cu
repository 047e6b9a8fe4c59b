/*
 * Head-dim-464 prefill attention with the head dim split across a pair of
 * blocks (sm_90a): two blocks of a cluster share 128 query rows, each
 * holding 240 of the head's columns of Q, K, V and O.
 *
 * Why. The block-pair kernel (attention_wgmma_pair.cu) takes as long with
 * its S, softmax and P V removed (docs/PERF.md, 18th session): each block
 * receives 128 KiB of K and V a tile for 64 query rows, and that delivery
 * into shared memory (~21 bytes a clock per SM) sets its pace. The only way
 * to fewer bytes a FLOP is more query rows per K/V byte, and a block cannot
 * hold more rows of a 464-wide fp32 O in registers. Two blocks can, if each
 * keeps half of O's columns: block r of the pair holds columns 240 r ..
 * 240 r + 239 of Q, K and V for all 128 rows (two warpgroups of 64 rows),
 * so it receives 64 KiB a tile for 128 rows, half the bytes a FLOP.
 *
 * The price is S: each block can only make the part of Q K^T over its own
 * columns. The two partial S tiles (64 keys x 128 rows, fp32, 32 KiB) are
 * exchanged every tile through distributed shared memory: each thread
 * stores its 32 accumulators into the partner's receive buffer with
 * st.async, completing bytes on the partner's transaction barrier, then
 * waits on its own barrier for the partner's and adds them. fp32 addition
 * commutes, so both blocks hold the same S bit for bit, make the same
 * softmax, P and row sums, and each adds P V to its columns of O.
 *
 * Per tile it (K and V single-buffered, each block loading its own columns
 * by tensor copies on a transaction barrier per buffer):
 *   wait K(it); S = Q K^T over the block's columns (15 k-steps); block
 *   barrier, then K(it+1) is issued; exchange; mask, online softmax, P into
 *   registers (the A operand); wait V(it); O += P V (4 k-steps of
 *   m64n240k16); block barrier, then V(it+1) is issued.
 * The receive buffer alternates between two halves by tile parity: the
 * partner writes tile it+2's partials only after it received this block's
 * tile it+1 partials, which each thread sends after reading its tile it
 * values.
 *
 * Columns: block 0 copies 0..255 (its k-steps and O stop at 239), block 1
 * copies 240..495, the columns past the head dim arriving as zeros from
 * the tensor maps (so the partial products over them are zero). Rows past
 * T are zero queries and are not stored; keys past the call's last are
 * zeros and masked.
 *
 * Limits: head dims 449..464, 16-byte rows, no window, every key of the
 * call in the cache without wrapping; the launcher refuses other shapes.
 *
 * STATUS: forced variant 14 only; zbk_attention keeps the block pairs
 * (variant 9). On the H100 (2026-12-07, 19th session, docs/PERF.md) it is
 * correct on every case it takes (memcheck clean) and at T 16384 took
 * 12.05 ms against the pairs' 12.92 ms, but 13.11 against 12.81 in
 * zbench's chunks of 8192, and zamba-7b's prefill 16384 was 909 / 916 ms
 * against 904 / 905. A pipelined form (P V of tile it-1 beside the
 * exchange and softmax of tile it, K and V double-buffered, one receive
 * buffer with a hand-back barrier) was correct and no faster (12.65 ms);
 * without the exchange (wrong results, timing only) it took 8.41 ms. So
 * the exchange, 32 KiB a tile each way through distributed shared memory,
 * is what the split now waits for.
 */
#include "attention_wgmma.cuh"

#if defined(__CUDA_ARCH__) && !defined(__CUDA_ARCH_FEAT_SM90_ALL)
#error "attention_wgmma_dsplit.cu must be built for sm_90a (the Makefile's CUDA_ARCH_WGMMA)"
#endif

namespace zbattn {
namespace {

constexpr int kDsBM = 128;                          /* query rows of the pair */
constexpr int kDsCols = 240;                        /* head-dim columns of a block */
constexpr int kDsKSteps = kDsCols / 16;             /* 15 */
constexpr int kDsNT = kDsCols / 8;                  /* O's n8 tiles: 30 */
constexpr int kDsSlabs = 4;                         /* 64-column slabs a block copies */
constexpr uint32_t kDsKVSlab = 64u * 128;           /* 64 keys x 128 bytes */
constexpr uint32_t kDsKV = kDsSlabs * kDsKVSlab;    /* K or V tile: 32 KiB */
constexpr uint32_t kDsQSlab = (uint32_t)kDsBM * 128; /* 128 rows x 128 bytes */
constexpr uint32_t kDsQ = kDsSlabs * kDsQSlab;      /* 64 KiB */
constexpr uint32_t kDsX = kThreads * 32 * 4;        /* one tile's partial S: 32 KiB */
/* Q | K | V | receive buffers (2) | barriers Q, K, V, X0, X1 */
constexpr uint32_t kDsOffK = kDsQ, kDsOffV = kDsOffK + kDsKV, kDsOffX = kDsOffV + kDsKV;
constexpr uint32_t kDsOffBar = kDsOffX + 2 * kDsX;
constexpr size_t kDsSmem = kDsOffBar + 5 * sizeof(uint64_t);

/* O += P V for 64 rows x 240 columns, one k-step of 16 keys, P from
 * registers, V MN-major (keys its rows, columns contiguous). */
__device__ __forceinline__ void wgmma_o240(float (&d)[4 * kDsNT], const uint32_t (&a)[4], uint64_t db)
{
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %125, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n240k16.f32." ZBK_MMA_HALF " {" ZB_WG_R0 ", " ZB_WG_R32 ", " ZB_WG_R64
                 ", %96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, "
                 "%112, %113, %114, %115, %116, %117, %118, %119"
                 "}, {%120, %121, %122, %123}, %124, p, 1, 1, 1;\n}\n"
                 : ZB_WG_ACC32(d, 0), ZB_WG_ACC32(d, 32), ZB_WG_ACC32(d, 64), ZB_WG_ACC8(d, 96), ZB_WG_ACC8(d, 104),
                   ZB_WG_ACC8(d, 112)
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(1));
}

/* The shared::cluster address of the partner block's copy of a. */
__device__ __forceinline__ uint32_t peer_addr(uint32_t a, int peer)
{
    uint32_t r;
    asm volatile("mapa.shared::cluster.u32 %0, %1, %2;\n" : "=r"(r) : "r"(a), "r"(peer));
    return r;
}

/* 16 bytes into the partner's shared memory, completing on its barrier. */
__device__ __forceinline__ void st_async16(uint32_t raddr, float x, float y, float z, float w, uint32_t rbar)
{
    asm volatile("st.async.shared::cluster.mbarrier::complete_tx::bytes.v4.b32 [%0], {%1, %2, %3, %4}, [%5];\n" ::"r"(
                     raddr),
                 "r"(__float_as_uint(x)), "r"(__float_as_uint(y)), "r"(__float_as_uint(z)), "r"(__float_as_uint(w)),
                 "r"(rbar)
                 : "memory");
}

__device__ __forceinline__ float4 lds128(uint32_t a)
{
    float4 v;
    asm volatile("ld.shared.v4.f32 {%0, %1, %2, %3}, [%4];\n"
                 : "=f"(v.x), "=f"(v.y), "=f"(v.z), "=f"(v.w)
                 : "r"(a)
                 : "memory");
    return v;
}

__global__ void __cluster_dims__(2, 1, 1) __launch_bounds__(kThreads, 1)
    attn_wgmma_dsplit_kernel(const PrefillParams p, const __grid_constant__ CUtensorMap tq,
                             const __grid_constant__ CUtensorMap tk, const __grid_constant__ CUtensorMap tv)
{
    extern __shared__ __align__(1024) unsigned char smem[];
    const uint32_t sQ = smem_addr(smem), sK = sQ + kDsOffK, sV = sQ + kDsOffV, sX = sQ + kDsOffX;
    const uint32_t barQ = sQ + kDsOffBar, barK = barQ + 8, barV = barQ + 16, barX = barQ + 24; /* X0, X1 */

    const int tid = (int)threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int wg = warp >> 2;
    const int r0 = 64 * wg + 16 * (warp & 3) + (lane >> 2); /* this thread's rows r0, r0 + 8 */
    const int rank = cluster_rank(), peer = rank ^ 1;
    const int col0 = rank * kDsCols;

    int bh, qrank;
    zb_attention_block((int)blockIdx.x >> 1, p.head_group, p.nrb, p.nbh, &bh, &qrank);
    const int t0 = (p.nrb - 1 - qrank) * kDsBM;
    const int b = bh / p.nh, h = bh - b * p.nh, kvh = h / (p.nh / p.nkv);
    const int P0 = p.pos0 + t0, P1 = p.pos0 + min(t0 + kDsBM, p.T) - 1;
    const int ntiles = P1 / kBN + 1; /* keys 0..P1: no window */

    if (tid == 0) {
        mbar_init(barQ, 1);
        mbar_init(barK, 1);
        mbar_init(barV, 1);
        mbar_init(barX, 1);
        mbar_init(barX + 8, 1);
        /* the partner's partials of tiles 0 and 1 (re-armed after each wait) */
        mbar_expect_tx(barX, kDsX);
        if (ntiles > 1) mbar_expect_tx(barX + 8, kDsX);
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    cluster_sync(); /* both blocks' barriers exist (and expect) before any partial is sent */

    auto issue_kv = [&](const CUtensorMap *tm, uint32_t buf, uint32_t bar, int it) {
        mbar_expect_tx(bar, kDsKV);
#pragma unroll
        for (int s = 0; s < kDsSlabs; s++)
            box_copy(buf + (uint32_t)s * kDsKVSlab, tm, col0 + 64 * s, kvh, it * kBN, b, bar);
    };
    if (tid == 0) {
        mbar_expect_tx(barQ, kDsQ);
#pragma unroll
        for (int s = 0; s < kDsSlabs; s++) box_copy(sQ + (uint32_t)s * kDsQSlab, &tq, col0 + 64 * s, h, t0, b, barQ);
        issue_kv(&tk, sK, barK, 0);
        issue_kv(&tv, sV, barV, 0);
    }

    /* o[4 n + 2 hr + e]: row r0 + 8 hr, column col0 + 8 n + 2 (lane % 4) + e */
    float o[4 * kDsNT];
#pragma unroll
    for (int i = 0; i < 4 * kDsNT; i++) o[i] = 0.f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
    const uint32_t xmine = (uint32_t)tid * 16; /* vector v of this thread at v * 4096 + xmine */
    const uint32_t rbar0 = peer_addr(barX, peer), rx0 = peer_addr(sX, peer);

    mbar_wait(barQ, 0);
    for (int it = 0; it < ntiles; it++) {
        const int j0 = it * kBN;
        const uint32_t par = (uint32_t)it & 1;

        /* partial S over this block's columns */
        float s[32];
#pragma unroll
        for (int i = 0; i < 32; i++) s[i] = 0.f;
        mbar_wait(barK, par);
        wgmma_fence();
#pragma unroll
        for (int ks = 0; ks < kDsKSteps; ks++) {
            const uint32_t qa = (uint32_t)((ks >> 2) * kDsQSlab + wg * 8 * 1024 + (ks & 3) * 32);
            const uint32_t ka = (uint32_t)((ks >> 2) * kDsKVSlab + (ks & 3) * 32);
            wgmma_s(s, smem_desc(sQ + qa, 16, 1024, true), smem_desc(sK + ka, 16, 1024, true), ks > 0);
        }
        wgmma_commit();
        wgmma_wait_all();
        reg_fence(s);
        __syncthreads(); /* both warpgroups are done with K(it) */
        if (tid == 0 && it + 1 < ntiles) issue_kv(&tk, sK, barK, it + 1);

        /* exchange: mine to the partner, the partner's from my buffer */
        const uint32_t xo = par * kDsX;
#pragma unroll
        for (int v = 0; v < 8; v++)
            st_async16(rx0 + xo + (uint32_t)v * 4096 + xmine, s[4 * v], s[4 * v + 1], s[4 * v + 2], s[4 * v + 3],
                       rbar0 + 8 * par);
        mbar_wait<true>(barX + 8 * par, ((uint32_t)it >> 1) & 1);
#pragma unroll
        for (int v = 0; v < 8; v++) {
            const float4 q = lds128(sX + xo + (uint32_t)v * 4096 + xmine);
            s[4 * v] += q.x, s[4 * v + 1] += q.y, s[4 * v + 2] += q.z, s[4 * v + 3] += q.w;
        }
        if (tid == 0 && it + 2 < ntiles) mbar_expect_tx(barX + 8 * par, kDsX); /* tile it + 2 */

        /* mask, online softmax, P as the A operand */
        if (j0 + kBN - 1 > P0 + 64 * wg) mask_scores(s, j0, P0, r0, lane, 0);
        float alpha[2];
        softmax_tile(s, m, l, alpha, p.sl2);
        rescale_rows(o, alpha);
        uint32_t pa[4][4];
        pack_p(s, pa);

        mbar_wait(barV, par);
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < 4; kk++)
            wgmma_o240(o, pa[kk], smem_desc(sV + (uint32_t)(2 * kk) * 1024, kDsKVSlab, 1024, true));
        wgmma_commit();
        wgmma_wait_all();
        reg_fence(o);
        reg_fence(pa);
        __syncthreads(); /* both warpgroups are done with V(it) */
        if (tid == 0 && it + 1 < ntiles) issue_kv(&tv, sV, barV, it + 1);
    }

    store_rows<kDsNT>(p, b, h, t0, col0, o, l, r0, lane); /* this block's columns */
    cluster_sync(); /* no block leaves while its partner may still address it */
}

/* The query map: q [batch][T][nh][hd] seen as {hd, nh, T, batch} in boxes
 * of 128 rows, so that rows past T and columns past hd arrive as zeros. */
cudaError_t query_map(CUtensorMap *tq, const zbk_attention_args *a)
{
    const cuuint64_t row = (cuuint64_t)a->hd * 2;
    const cuuint64_t dims[4] = {(cuuint64_t)a->hd, (cuuint64_t)a->nh, (cuuint64_t)a->T, (cuuint64_t)a->batch};
    const cuuint64_t strides[3] = {row, row * (cuuint64_t)a->nh, row * (cuuint64_t)a->nh * (cuuint64_t)a->T};
    return map_rows_16bit(tq, a->q, dims, strides, kDsBM);
}

} // namespace

cudaError_t wgmma_dsplit_prefill_launch(const zbk_attention_args *a, const PrefillParams &p0, cudaStream_t stream)
{
    cudaError_t e = tma_launch_check(a, p0, kDP - 16, kDP);
    if (e != cudaSuccess) return e;

    CUtensorMap tq, tk, tv;
    if ((e = query_map(&tq, a)) != cudaSuccess) return e;
    if ((e = cache_maps(&tk, &tv, a, kBN)) != cudaSuccess) return e;

    PrefillParams p = p0;
    if ((e = plan_order(a, kDsBM, p)) != cudaSuccess) return e;
    const int64_t blocks = 2 * (int64_t)p.nrb * p.nbh;
    if (blocks > 0x7fffffff) return cudaErrorInvalidValue;
    e = cudaFuncSetAttribute(attn_wgmma_dsplit_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)kDsSmem);
    if (e != cudaSuccess) return e;
    attn_wgmma_dsplit_kernel<<<(unsigned)blocks, kThreads, kDsSmem, stream>>>(p, tq, tk, tv);
    return cudaGetLastError();
}

} // namespace zbattn
