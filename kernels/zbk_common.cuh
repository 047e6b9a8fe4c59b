/*
 * Device helpers shared by the kernels/ .cu files (CUDA C++ only, never included from
 * C). Everything here is header-only and stateless.
 *
 *  - zbk_h2f / zbk_f2h: the engine's 16-bit float (zbk_half, fp16 or with
 *    -DZB_HALF_BF16 bf16) to f32 and back, round to nearest even (host and
 *    device: the GPU tests' references round through the same functions).
 *  - zbk_half_lo / zbk_half_hi: the two halves of a 32-bit word as f32.
 *  - zbk_pack_half2: two f32 -> one word of two halves, round to nearest.
 *  - ZBK_MMA_HALF: the operand types of mma.sync for zbk_half.
 *  - zbk_act: the activations of zb_ref_act, in fp32.
 *  - zbk_warp_sum / zbk_block_sum: fp32 reductions.
 *  - zbk_grid_1d: a grid size for grid-stride loops.
 *  - ZBK_LAUNCHED(): the cudaError_t a zbk_* function returns after a
 *    launch (cudaGetLastError, which also clears a launch error).
 *  - zbk_launch_dependent / zbk_launch_pdl, zbk_pdl_trigger / zbk_pdl_wait
 *    / zbk_pdl_begin: programmatic dependent launch (below).
 */
#ifndef ZBK_COMMON_CUH
#define ZBK_COMMON_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "zb_kernels.h"

#define ZBK_LAUNCHED() cudaGetLastError()

/* Programmatic dependent launch (sm_90). Every kernel of a decode step is
 * launched as a programmatic dependent of the one before it. A kernel calls
 * zbk_pdl_trigger() once the next one may be scheduled; that one's blocks
 * then become resident before this grid ends and do whatever does not
 * depend on it (a GEMV prefetches weights, which no kernel writes) until
 * zbk_pdl_wait() returns, i.e. until the previous grid has finished and its
 * writes are visible. Both are no-ops for kernels launched without
 * cudaLaunchAttributeProgrammaticStreamSerialization. */
__device__ __forceinline__ void zbk_pdl_trigger() { asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory"); }
__device__ __forceinline__ void zbk_pdl_wait() { asm volatile("griddepcontrol.wait;\n" ::: "memory"); }

/* Launches kernel with cfg (its own attributes, e.g. a cluster size, kept)
 * as a programmatic dependent of the stream's previous kernel. Where the
 * attribute is refused (an old driver, say), the error is cleared and the
 * kernel launched plainly: griddepcontrol.wait is then a no-op and stream
 * order alone keeps the previous kernel first. */
template <typename... Params, typename... Args>
cudaError_t zbk_launch_dependent(cudaLaunchConfig_t cfg, void (*kernel)(Params...), Args... args)
{
    constexpr unsigned kMaxAttrs = 4;
    const unsigned n = cfg.numAttrs;
    if (n >= kMaxAttrs) return cudaErrorInvalidValue;
    cudaLaunchAttribute attr[kMaxAttrs];
    for (unsigned i = 0; i < n; i++) attr[i] = cfg.attrs[i];
    attr[n].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[n].val.programmaticStreamSerializationAllowed = 1;
    cfg.attrs = attr;
    cfg.numAttrs = n + 1;
    cudaError_t e = cudaLaunchKernelEx(&cfg, kernel, args...);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        cfg.numAttrs = n;
        e = cudaLaunchKernelEx(&cfg, kernel, args...);
    }
    return e != cudaSuccess ? e : cudaGetLastError();
}

/* kernel<<<grid, block, smem, stream>>>(args...) as a programmatic dependent
 * of the stream's previous kernel. The decode GEMV is launched this way
 * (it triggers at once and prefetches weights before its wait), and so are
 * the small kernels of a decode step (norms, RoPE, attention, activation,
 * argmax), which begin with zbk_pdl_wait() then zbk_pdl_trigger(): their
 * blocks are resident before the kernel ahead of them ends, so the step
 * loses no launch latency there, and the projection after them may
 * prefetch its weights while they run. They trigger only after their wait,
 * so at most one grid waits ahead of the one that runs (no chain of idle
 * blocks holding SM slots). */
template <typename... Params, typename... Args>
cudaError_t zbk_launch_pdl(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream,
                           Args... args)
{
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = grid;
    cfg.blockDim = block;
    cfg.dynamicSmemBytes = smem;
    cfg.stream = stream;
    return zbk_launch_dependent(cfg, kernel, args...);
}

/* The first statement of a kernel launched by zbk_launch_pdl. */
__device__ __forceinline__ void zbk_pdl_begin()
{
    zbk_pdl_wait();
    zbk_pdl_trigger();
}

#ifdef ZB_HALF_BF16
/* a bf16 is the top half of an f32: one integer op each way but rounding */
#define ZBK_MMA_HALF "bf16.bf16"
#define ZBK_CUDA_HALF CUDA_R_16BF
__host__ __device__ __forceinline__ float zbk_h2f(zbk_half h) { return zb_bf16_to_f32(h); }
__host__ __device__ __forceinline__ zbk_half zbk_f2h(float f) { return zb_f32_to_bf16(f); }
__device__ __forceinline__ float zbk_half_lo(uint32_t w) { return __uint_as_float(w << 16); }
__device__ __forceinline__ float zbk_half_hi(uint32_t w) { return __uint_as_float(w & 0xffff0000u); }
#else
#define ZBK_MMA_HALF "f16.f16"
#define ZBK_CUDA_HALF CUDA_R_16F
__host__ __device__ __forceinline__ float zbk_h2f(zbk_half h) { return __half2float(__ushort_as_half(h)); }
__host__ __device__ __forceinline__ zbk_half zbk_f2h(float f) { return __half_as_ushort(__float2half_rn(f)); }
__device__ __forceinline__ float zbk_half_lo(uint32_t w) { return zbk_h2f((zbk_half)(w & 0xffffu)); }
__device__ __forceinline__ float zbk_half_hi(uint32_t w) { return zbk_h2f((zbk_half)(w >> 16)); }
#endif

/* One cvt for the pair (the prefill attention packs P with it in its inner
 * loop); round to nearest even like zbk_f2h, lo in the low half. */
__device__ __forceinline__ uint32_t zbk_pack_half2(float lo, float hi)
{
#ifdef ZB_HALF_BF16
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
#else
    __half2 v = __floats2half2_rn(lo, hi);
#endif
    return *reinterpret_cast<uint32_t *>(&v);
}

/* A 16-byte asynchronous global -> shared copy of which only the first
 * src_bytes (0..16) are read, the rest of the 16 zero-filled. */
__device__ __forceinline__ void zbk_cp_async16(uint32_t dst, const void *src, int src_bytes)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(src_bytes)
                 : "memory");
}

/* Tensor-core pieces (mma.sync m16n8k16, 16-bit in, f32 accumulate). With
 * g = lane / 4 and c = lane % 4 a thread holds A rows g and g + 8, columns
 * 2c, 2c+1 (+8); B column g, rows 2c, 2c+1 (+8); C rows g, g + 8, columns
 * 2c, 2c+1. ldmatrix (x4) delivers an A tile from row-major shared memory:
 * lanes 0-15 name rows 0-15 at column 0, lanes 16-31 the same rows at
 * column 8. volatile: the same shared address holds a different tile on
 * each use, so loads must not be merged or hoisted. */
__device__ __forceinline__ void zbk_ldsm_x4(uint32_t (&r)[4], uint32_t addr)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}

/* c += a * b, one m16n8k16 tile of zbk_half operands. */
__device__ __forceinline__ void zbk_mma_16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1)
{
    asm("mma.sync.aligned.m16n8k16.row.col.f32." ZBK_MMA_HALF ".f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/* Same formulas as zb_ref_act (reference/ref_ops.c), with the accurate
 * library functions (expf, erff, tanhf), not the fast intrinsics: the
 * kernels using them are memory-bound, so accuracy costs nothing. */
__device__ __forceinline__ float zbk_act(zb_act a, float x)
{
    switch (a) {
    case ZB_ACT_SILU: return x / (1.0f + expf(-x));
    case ZB_ACT_GELU: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case ZB_ACT_GELU_TANH: {
        const float k = 0.79788456080286536f; /* sqrt(2/pi) */
        return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
    }
    case ZB_ACT_RELU: return x > 0.0f ? x : 0.0f;
    }
    return x;
}

__device__ __forceinline__ float zbk_warp_sum(float v)
{
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
    return v;
}

/* Sum over the block (blockDim.x a multiple of 32, at most 1024); every
 * thread gets the total. `scratch` holds 32 floats of shared memory; the
 * function may be called again with the same scratch (it syncs first). */
__device__ __forceinline__ float zbk_block_sum(float v, float *scratch)
{
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = zbk_warp_sum(v);
    __syncthreads(); /* scratch may still be read by a previous call */
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < nw ? scratch[lane] : 0.0f;
    return zbk_warp_sum(v);
}

/* Blocks for a grid-stride loop over n items with `threads` per block:
 * enough to fill the device several times over, never more than needed. */
static inline unsigned zbk_grid_1d(int64_t n, int threads)
{
    int64_t blocks = (n + threads - 1) / threads;
    const int64_t cap = 132 * 32; /* ~32 blocks per SM of an H100; loops cover the rest */
    if (blocks > cap) blocks = cap;
    return (unsigned)(blocks < 1 ? 1 : blocks);
}

#endif /* ZBK_COMMON_CUH */
