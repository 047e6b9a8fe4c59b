/*
 * Prefill attention on Hopper's warpgroup tensor-core instructions (wgmma,
 * sm_90a): head dims 257..464 (Zamba's 464) and 97..128 (Llama, Mistral),
 * 16-byte rows. Same contract, masks, key range and schedule as
 * attention_prefill.cu's kernels (see the notes there); this file only
 * changes how the two products are made and how the tiles are laid out in
 * shared memory.
 *
 * STATUS: zbk_attention's choice on compute capability 9.0 since
 * 2026-12-07 (attention_prefill.cu's prefill(); variant 6 forces the
 * mma.sync kernels, variant 5 these, variant 10 the two-stage head-dim-128
 * kernel of before the pipelined one). First run on the H100 that day: every
 * prefill case they accept matches the CPU reference (test_attention
 * --variant 5), compute-sanitizer memcheck clean, and zbench cuda_fused
 * prefill 16384 went from 590 to 541 ms (llama2-7b) and 998 to 991 ms
 * (zamba-7b) in the same call (docs/PERF.md, "Hopper wgmma kernels"). The
 * first head-dim-464 version (no-swizzle layout, each 8-lane copy phase
 * taking the same chunk of 8 rows) had been 1.5x slower than the split
 * kernel: the copies set its time (L2 at 90% of its throughput, half of
 * its sectors excessive), hence the swizzled tiles below.
 *
 * Why. The mma.sync split kernel keeps each operand's trip through
 * registers: every m16n8k16 needs its fragments loaded by ldmatrix, and
 * with 8 warps per SM (the 464-wide O accumulator allows no more) the
 * schedulers find an eligible warp 31% of the time; under ncu its tensor
 * pipes are 36% busy at T 16384. wgmma reads the operands of S = Q K^T and
 * the B operand (V) of P V straight from shared memory, one instruction per
 * 64 x N x 16 step, asynchronously.
 *
 * Block: 64 query rows of one (sequence, head), two warpgroups (256
 * threads), one block per SM.
 *  - warpgroup 0 makes S for all 64 keys of a tile (m64n64k16, 29 k-steps,
 *    A = Q and B = K from shared memory), runs the online softmax in
 *    registers, writes P (16-bit) and the rescale factors to shared memory;
 *  - both then add P V to their part of O: warpgroup 0 columns 0..255
 *    (m64n256k16), warpgroup 1 columns 256..463 (m64n208k16), A = P and
 *    B = V from shared memory. The split falls on a 64-column boundary
 *    because V is stored in 64-column swizzle atoms (below).
 *  K and V are single-buffered as in the split kernel: V(j) loads while S(j)
 *  is made, K(j+1) while P V(j) is; two barriers per tile.
 *
 * Shared-memory layout. Q, K and V use wgmma's 128-byte swizzle: a tile of
 * 64 rows x 512 columns (464 used) is cut into atoms of 8 rows x 64 columns
 * (1024 bytes); atom (row group rg, column atom ca) sits at (ca * 8 + rg) *
 * 1024, row r % 8 of it at (r % 8) * 128, and its 16-byte chunk c % 8 at
 * position (c % 8) ^ (r % 8). The swizzle is what lets both sides of a copy
 * run at full width: 8 lanes copy one row's 128 contiguous bytes from
 * global memory (full 32-byte sectors; the first version had 8 lanes read
 * the same chunk of 8 rows, which doubled the L2 sectors and left L2 at 90%
 * of its throughput) and store them to 8 different bank groups.
 *  - Q and K enter S as K-major operands (the head dim is the reduction):
 *    stride between 8-row groups (SBO) 1024; a k-step of 16 columns
 *    advances the start address by 32 bytes inside an atom.
 *  - V enters P V as an MN-major operand (the key is the reduction, the
 *    columns are contiguous): atoms 8192 bytes apart along the columns
 *    (LBO), 8-key groups 1024 apart (SBO).
 *  - P (64 x 64, written by warpgroup 0's threads) uses the no-swizzle
 *    layout: 8-row x 16-byte core matrices of 128 contiguous bytes, core
 *    (rg, kc) at (rg * 8 + kc) * 128 (LBO 128 along the keys, SBO 1024);
 *    a warp's stores of one column pair fill one core matrix.
 *
 * Ordering: cp.async and st.shared write through the generic proxy and
 * wgmma reads through the async proxy, so every writer executes
 * fence.proxy.async before the barrier that publishes the data. The
 * accumulator registers are fenced (an empty asm that "modifies" them)
 * after wgmma.wait_group, so that no read of them moves above the wait.
 */
#include <cuda_bf16.h>

#include "attention_wgmma.cuh"

#if defined(__CUDA_ARCH__) && !defined(__CUDA_ARCH_FEAT_SM90_ALL)
#error "attention_wgmma.cu must be built for sm_90a (the Makefile's CUDA_ARCH_WGMMA)"
#endif

namespace zbattn {
namespace {

/* S (+)= Q K^T for 64 rows x 128 keys, one k-step of 16 (head-dim-128 kernel). */
__device__ __forceinline__ void wgmma_s128(float (&d)[64], uint64_t da, uint64_t db, int acc)
{
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32." ZBK_MMA_HALF " {" ZB_WG_R0 ", " ZB_WG_R32
                 "}, %64, %65, p, 1, 1, 0, 0;\n}\n"
                 : ZB_WG_ACC32(d, 0), ZB_WG_ACC32(d, 32)
                 : "l"(da), "l"(db), "r"(acc));
}

/* O += P V for 64 rows x 128 columns, one k-step of 16 keys, P from
 * registers (the m16n8k16 A-fragment layout, per warp), V MN-major. */
__device__ __forceinline__ void wgmma_o128(float (&d)[64], const uint32_t (&a)[4], uint64_t db)
{
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32." ZBK_MMA_HALF " {" ZB_WG_R0 ", " ZB_WG_R32
                 "}, {%64, %65, %66, %67}, %68, p, 1, 1, 1;\n}\n"
                 : ZB_WG_ACC32(d, 0), ZB_WG_ACC32(d, 32)
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(1));
}


__global__ void __launch_bounds__(kThreads, 1) attn_wgmma_kernel(const PrefillParams p)
{
    extern __shared__ __align__(1024) unsigned char smem[];
    const uint32_t sQ = smem_addr(smem), sK = sQ + kTileBytes, sV = sK + kTileBytes, sP = sV + kTileBytes;
    float *alph = reinterpret_cast<float *>(smem + 3 * (size_t)kTileBytes + kPBytes); /* [kBM] */
    float *linv = alph + kBM;                                                           /* [kBM] */

    const int warp = (int)threadIdx.x >> 5, lane = (int)threadIdx.x & 31;
    const int wg = warp >> 2;                     /* warpgroup */
    const int r0 = 16 * (warp & 3) + (lane >> 2); /* this thread's rows r0, r0 + 8 */
    const BlockGeom g = block_geom<kBM, kBN>(p);

    auto kv_rows = [&](const zbk_half *base, int j0) { return kv_row_src(p, g, base, j0); };
    load_tile<kBM, 64, kChunks>(sQ, p.hd, q_row_src(p, g));
    load_tile<kBM, 64, kChunks>(sK, p.hd, kv_rows(g.kbase, g.jstart));
    cp_async_commit();

    /* o[4 n + 2 hr + e]: row r0 + 8 hr, column col0 + 8 n + 2 (lane % 4) + e */
    float o[4 * kNT0];
#pragma unroll
    for (int i = 0; i < 4 * kNT0; i++) o[i] = 0.f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};

    for (int it = 0; it < g.ntiles; it++) {
        const int j0 = g.jstart + it * kBN;
        cp_async_wait<0>();
        fence_proxy_async();
        __syncthreads(); /* K(it) (and Q) landed; P V(it-1) is done: V and P are free */
        load_tile<kBM, 64, kChunks>(sV, p.hd, kv_rows(g.vbase, j0));
        cp_async_commit();
        if (wg == 0) wide_s_softmax(p, sQ, sK, sP, alph, o, m, l, j0, g.P0, g.P1, r0, lane);
        cp_async_wait<0>();
        fence_proxy_async();
        __syncthreads(); /* V(it), P and alpha are in place; K(it) is free */
        if (it + 1 < g.ntiles) load_tile<kBM, 64, kChunks>(sK, p.hd, kv_rows(g.kbase, j0 + kBN));
        cp_async_commit();
        wide_pv(wg, sP, sV, alph, o, r0);
    }
    cp_async_wait<0>(); /* nothing may be left in flight at exit (the last group is empty) */
    wide_store(p, g.b, g.h, g.t0, linv, o, l, wg, r0, lane);
}


/* ----------------------------------------------------- head dim 97..128 */

/* Blocks of 128 query rows of one (sequence, head), two warpgroups of 64
 * rows each, independent but for the tile barrier: each makes its S
 * (m64n128k16, 8 k-steps, Q and K from shared memory), runs the softmax in
 * registers and adds P V with P straight from the S accumulators as the
 * register A operand (m64n128k16, 8 k-steps, V from shared memory). Tiles of
 * 128 keys; same 128-byte swizzle atoms as above (two column atoms per row).
 * Three kernels share the steps below:
 *  - attn_wgmma128_kernel (kept to compare, variant 10): K and V
 *    double-buffered (Q 32 KB + 2 x 64 KB), tile j+1 loading during all of
 *    tile j's work, one barrier per tile; each warpgroup's tensor cores
 *    idle while it runs the softmax;
 *  - attn_wgmma128_pipe_kernel (zbk_attention's choice with a window or a
 *    ring wrap): the softmax of tile j+1 runs while the tensor cores add
 *    P V of tile j (S of tile j+1 is issued first), which needs K(j+1) and
 *    V(j) resident together while tile j+2 loads: three stages (Q 32 KB +
 *    3 x 64 KB = 224 KB). 252 registers, no spills. On the H100
 *    (2026-12-07) 2-5% faster than the two-stage kernel in the kernel
 *    bench (Llama T 16384: 5.05 against 5.25 ms) and 5 ms off llama2-7b's
 *    16384-token prefill in zbench;
 *  - attn_wgmma128_tma_kernel (the choice elsewhere): the same pipeline,
 *    K and V by tensor copies (below). */
constexpr int k128BM = 128, k128BN = 128;
constexpr uint32_t k128Tile = 128u * 128 * 2;
constexpr size_t k128Smem = 5 * (size_t)k128Tile;
constexpr size_t k128PipeSmem = 7 * (size_t)k128Tile;

/* s = Q K^T for the warpgroup's 64 rows and the 128 keys at sK, issued and
 * committed (one group), not waited for. */
__device__ __forceinline__ void issue_s128(float (&s)[64], uint32_t sQ, uint32_t sK, int wg)
{
#pragma unroll
    for (int i = 0; i < 64; i++) s[i] = 0.f;
    wgmma_fence();
#pragma unroll
    for (int ks = 0; ks < 8; ks++) {
        const uint32_t at = (uint32_t)((ks >> 2) * (k128BM / 8) * 1024 + (ks & 3) * 32);
        wgmma_s128(s, smem_desc(sQ + (uint32_t)wg * 8 * 1024 + at, 16, 1024, true), smem_desc(sK + at, 16, 1024, true),
                   ks > 0);
    }
    wgmma_commit();
}

/* o += P V for the 128 keys of V at sV, P in registers; issued and
 * committed (one group), not waited for: pa must stay untouched until then. */
__device__ __forceinline__ void issue_pv128(float (&o)[64], const uint32_t (&pa)[8][4], uint32_t sV)
{
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < 8; kk++)
        wgmma_o128(o, pa[kk], smem_desc(sV + (uint32_t)(2 * kk) * 1024, (k128BN / 8) * 1024, 1024, true));
    wgmma_commit();
}

/* The online softmax of one tile of scores (key j0 first): masked where
 * the tile needs it, exponentiated in place against the new running max m,
 * its row sums folded into l; alpha[hr] rescales what O holds so far. */
__device__ __forceinline__ void softmax128(const PrefillParams &p, const BlockGeom &g, float (&s)[64], float (&m)[2],
                                           float (&l)[2], float (&alpha)[2], int j0, int r0, int lane)
{
    if (tile_needs_mask<k128BN>(j0, g.P0, g.P1, p.window)) mask_scores(s, j0, g.P0, r0, lane, p.window);
    softmax_tile(s, m, l, alpha, p.sl2);
}

/* o / l into the output rows r0 and r0 + 8 of the block (the quad that
 * shares a row adds its partial sums first). */
__device__ __forceinline__ void store128(const PrefillParams &p, const BlockGeom &g, const float (&o)[64],
                                         const float (&l)[2], int r0, int lane)
{
    store_rows<16>(p, g.b, g.h, g.t0, 0, o, l, r0, lane);
}

/* K and V of key tile it into the stage at st (K, then V a tile later). */
__device__ __forceinline__ void load_kv128(const PrefillParams &p, const BlockGeom &g, uint32_t st, int it)
{
    const int j0 = g.jstart + it * k128BN;
    load_tile<k128BM, 16, 16>(st, p.hd, kv_row_src(p, g, g.kbase, j0));
    load_tile<k128BM, 16, 16>(st + k128Tile, p.hd, kv_row_src(p, g, g.vbase, j0));
}

__global__ void __launch_bounds__(kThreads, 1) attn_wgmma128_kernel(const PrefillParams p)
{
    extern __shared__ __align__(1024) unsigned char smem[];
    const uint32_t sQ = smem_addr(smem), sKV = sQ + k128Tile; /* buffer b: K at sKV + 2 b tile, V after it */

    const int warp = (int)threadIdx.x >> 5, lane = (int)threadIdx.x & 31;
    const int wg = warp >> 2;
    const int r0 = 64 * wg + 16 * (warp & 3) + (lane >> 2); /* this thread's rows r0, r0 + 8 */
    const BlockGeom g = block_geom<k128BM, k128BN>(p);

    load_tile<k128BM, 16, 16>(sQ, p.hd, q_row_src(p, g));
    load_kv128(p, g, sKV, 0);
    cp_async_commit();

    /* o[4 n + 2 hr + e]: row r0 + 8 hr, column 8 n + 2 (lane % 4) + e */
    float o[64];
#pragma unroll
    for (int i = 0; i < 64; i++) o[i] = 0.f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};

    for (int it = 0; it < g.ntiles; it++) {
        const int j0 = g.jstart + it * k128BN;
        cp_async_wait<0>();
        fence_proxy_async();
        __syncthreads(); /* tile it landed; both warpgroups are done with tile it-1's buffer */
        if (it + 1 < g.ntiles) load_kv128(p, g, sKV + (uint32_t)((it + 1) & 1) * 2 * k128Tile, it + 1);
        cp_async_commit();
        const uint32_t sK = sKV + (uint32_t)(it & 1) * 2 * k128Tile, sV = sK + k128Tile;

        float s[64], alpha[2];
        issue_s128(s, sQ, sK, wg);
        wgmma_wait_all();
        reg_fence(s);
        softmax128(p, g, s, m, l, alpha, j0, r0, lane);
        rescale_rows(o, alpha);
        uint32_t pa[8][4];
        pack_p(s, pa);
        issue_pv128(o, pa, sV);
        wgmma_wait_all();
        reg_fence(o);
    }
    cp_async_wait<0>();
    store128(p, g, o, l, r0, lane);
}

/* The pipelined kernels' tile loop, once Q and tile 0 are in shared
 * memory. stage(it): where tile it's K lies (V a tile after it);
 * wait_next(it): until tile it+1 has landed and every thread is done with
 * iteration it-1, whose stage tile it+2 reuses; load(it): issue tile it's
 * copies (while the tensor cores work). Iteration it holds P(it) in pa and
 * O scaled to tile it's max. The last tile's P V is peeled off the loop:
 * with the S issue under a condition inside it, ptxas could not tell which
 * group the first wait retires and serialized every wgmma (C7514). */
template <typename Stage, typename WaitNext, typename Load>
__device__ __forceinline__ void pipe128_tiles(const PrefillParams &p, const BlockGeom &g, uint32_t sQ, int wg, int r0,
                                              int lane, Stage stage, WaitNext wait_next, Load load)
{
    float o[64], s[64], alpha[2];
#pragma unroll
    for (int i = 0; i < 64; i++) o[i] = 0.f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
    uint32_t pa[8][4];
    issue_s128(s, sQ, stage(0), wg);
    wgmma_wait_all();
    reg_fence(s);
    softmax128(p, g, s, m, l, alpha, g.jstart, r0, lane); /* O is zero: alpha unused */
    pack_p(s, pa);

    for (int it = 0; it + 1 < g.ntiles; it++) {
        wait_next(it);
        issue_s128(s, sQ, stage(it + 1), wg);
        issue_pv128(o, pa, stage(it) + k128Tile);
        if (it + 2 < g.ntiles) load(it + 2);
        wgmma_wait_but_one(); /* S(it+1) done; P V(it) may still run */
        reg_fence(s);
        softmax128(p, g, s, m, l, alpha, g.jstart + (it + 1) * k128BN, r0, lane);
        wgmma_wait_all();
        reg_fence(o);
        reg_fence(pa);
        rescale_rows(o, alpha);
        pack_p(s, pa);
    }
    issue_pv128(o, pa, stage(g.ntiles - 1) + k128Tile);
    wgmma_wait_all();
    reg_fence(o);
    store128(p, g, o, l, r0, lane);
}

/* The threads' rows: warpgroup wg takes rows 64 wg.., each thread rows r0
 * and r0 + 8 of them. */
__device__ __forceinline__ int rows128(int tid) { return 64 * (tid >> 7) + 16 * ((tid >> 5) & 3) + ((tid & 31) >> 2); }

__global__ void __launch_bounds__(kThreads, 1) attn_wgmma128_pipe_kernel(const PrefillParams p)
{
    extern __shared__ __align__(1024) unsigned char smem[];
    const uint32_t sQ = smem_addr(smem);
    auto stage = [&](int it) { return sQ + k128Tile + (uint32_t)(it % 3) * 2 * k128Tile; };
    const int tid = (int)threadIdx.x;
    const BlockGeom g = block_geom<k128BM, k128BN>(p);

    load_tile<k128BM, 16, 16>(sQ, p.hd, q_row_src(p, g));
    load_kv128(p, g, stage(0), 0);
    cp_async_commit();
    if (g.ntiles > 1) load_kv128(p, g, stage(1), 1);
    cp_async_commit();
    cp_async_wait<1>(); /* Q and tile 0 */
    fence_proxy_async();
    __syncthreads();
    pipe128_tiles(
        p, g, sQ, tid >> 7, rows128(tid), tid & 31, stage,
        [&](int) {
            cp_async_wait<0>();
            fence_proxy_async();
            __syncthreads();
        },
        [&](int it) {
            load_kv128(p, g, stage(it), it);
            cp_async_commit();
        });
}

/* attn_wgmma128_tma_kernel (zbk_attention's choice where it applies: no
 * window, no ring wrap, pos0 + T <= slots): the pipelined kernel with K and
 * V brought by tensor copies. Thread 0 issues each tile's four column
 * atoms (K and V, 64 columns x 128 keys each) on the stage's transaction
 * barrier, where the cp.async path has every thread compute and issue 16
 * copies a tile (with their address arithmetic, an estimated fifth of the
 * kernel's instructions; under the H100's power cap in zbench, fewer
 * instructions is what buys speed). 186 registers. On the H100
 * (2026-12-07) 11-16% faster than the cp.async pipelined kernel (Llama T
 * 16384: 4.33 against 5.05 ms; in chunks of 8192: 4.49 against 5.07 ms),
 * and ~30 ms off llama2-7b's 16384-token prefill in zbench (0.52 -> 0.49
 * s). A cluster form, two adjacent row blocks
 * sharing each tile by multicast as attention_wgmma_pair.cu does, was
 * correct but slower (5.47 ms at T 16384): the head-dim-128 kernel is not
 * bound by L2, and the cluster barrier a tile cost more than the halved
 * copies saved. */
constexpr size_t k128TmaSmem = k128PipeSmem + 3 * sizeof(uint64_t); /* + a barrier per stage */

__global__ void __launch_bounds__(kThreads, 1)
    attn_wgmma128_tma_kernel(const PrefillParams p, const __grid_constant__ CUtensorMap tk,
                             const __grid_constant__ CUtensorMap tv)
{
    extern __shared__ __align__(1024) unsigned char smem[];
    const uint32_t sQ = smem_addr(smem), bars = sQ + 7 * k128Tile;
    auto stage = [&](int it) { return sQ + k128Tile + (uint32_t)(it % 3) * 2 * k128Tile; };
    auto bar = [&](int it) { return bars + 8u * (uint32_t)(it % 3); };
    auto parity = [&](int it) { return (uint32_t)(it / 3) & 1u; }; /* a stage's barrier completes every third tile */
    const int tid = (int)threadIdx.x;
    const BlockGeom g = block_geom<k128BM, k128BN>(p);

    if (tid == 0) {
        for (int i = 0; i < 3; i++) mbar_init(bar(i), 1);
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads(); /* the barriers exist before any copy completes on them */

    /* tile it's K and V, two column atoms each, on its stage's barrier */
    auto issue = [&](int it) {
        const uint32_t st = stage(it), b = bar(it);
        const int key = g.jstart + it * k128BN;
        mbar_expect_tx(b, 2 * k128Tile);
        for (int ca = 0; ca < 2; ca++) {
            const uint32_t off = (uint32_t)ca * (k128BM / 8) * 1024;
            box_copy(st + off, &tk, 64 * ca, g.kvh, key, g.b, b);
            box_copy(st + k128Tile + off, &tv, 64 * ca, g.kvh, key, g.b, b);
        }
    };
    load_tile<k128BM, 16, 16>(sQ, p.hd, q_row_src(p, g));
    cp_async_commit();
    if (tid == 0) {
        issue(0);
        if (g.ntiles > 1) issue(1);
    }
    cp_async_wait<0>();
    fence_proxy_async();
    __syncthreads(); /* Q */
    mbar_wait(bar(0), parity(0));
    pipe128_tiles(
        p, g, sQ, tid >> 7, rows128(tid), tid & 31, stage,
        [&](int it) {
            mbar_wait(bar(it + 1), parity(it + 1));
            __syncthreads();
        },
        [&](int it) {
            if (tid == 0) issue(it);
        });
}

} // namespace

/* The sm_90a cubins run on compute capability 9.0 only. */
cudaError_t wgmma_device_check()
{
    int dev = 0, major = 0, minor = 0;
    cudaError_t e = cudaGetDevice(&dev);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev);
    if (e != cudaSuccess) return e;
    return major == 9 && minor == 0 ? cudaSuccess : cudaErrorNoKernelImageForDevice;
}

cudaError_t wgmma128_tma_launch(const zbk_attention_args *a, const PrefillParams &p0, cudaStream_t stream)
{
    cudaError_t e = tma_launch_check(a, p0, 96, 128);
    if (e != cudaSuccess) return e;
    CUtensorMap tk, tv;
    if ((e = cache_maps(&tk, &tv, a, k128BN)) != cudaSuccess) return e;
    PrefillParams p = p0;
    if ((e = plan_order(a, k128BM, p)) != cudaSuccess) return e;
    e = cudaFuncSetAttribute(attn_wgmma128_tma_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)k128TmaSmem);
    if (e != cudaSuccess) return e;
    attn_wgmma128_tma_kernel<<<(unsigned)((int64_t)p.nrb * p.nbh), kThreads, k128TmaSmem, stream>>>(p, tk, tv);
    return cudaGetLastError();
}

cudaError_t wgmma_prefill_launch(const zbk_attention_args *a, const PrefillParams &p, cudaStream_t stream,
                                 Wgmma128 k128)
{
    if (!p.vec16 || !wgmma_head_dim(a->hd)) return cudaErrorInvalidValue;
    cudaError_t e = wgmma_device_check();
    if (e != cudaSuccess) return e;
    if (a->hd <= 128) {
        if (k128 == Wgmma128::Best) {
            /* tensor copies where the shape allows them (no window, no ring
             * wrap), else the cp.async form of the same pipeline */
            e = wgmma128_tma_launch(a, p, stream);
            if (e != cudaErrorInvalidValue && e != cudaErrorNotSupported) return e;
        }
        if (k128 != Wgmma128::TwoStage)
            return launch_prefill(attn_wgmma128_pipe_kernel, k128BM, kThreads, k128PipeSmem, a, p, stream);
        return launch_prefill(attn_wgmma128_kernel, k128BM, kThreads, k128Smem, a, p, stream);
    }
    return launch_prefill(attn_wgmma_kernel, kBM, kThreads, kSmem, a, p, stream);
}

} // namespace zbattn

