/*
 * Internals shared by the attention kernels (attention_rope.cu,
 * attention_prefill.cu, attention_decode.cu). CUDA C++ only; stateless.
 *
 * Tensor-core fragments follow the PTX ISA layout of
 * mma.sync.m16n8k16.row.col (16-bit in, f32 accumulate): with g = lane / 4 and
 * c = lane % 4, a thread holds A rows g and g + 8, columns 2c, 2c+1 (+8);
 * B columns (n) g, rows (k) 2c, 2c+1 (+8); C rows g, g + 8, columns 2c, 2c+1.
 * ldmatrix delivers exactly these pieces from row-major shared memory
 * (plain for Q, K and P, .trans for V, which is [key][dim] and enters the
 * product P V with the key as the reduction index).
 */
#ifndef ZB_ATTENTION_COMMON_CUH
#define ZB_ATTENTION_COMMON_CUH

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "zb_kernels.h"
#include "zbk_common.cuh"

namespace zbattn {

__device__ __forceinline__ uint32_t smem_addr(const void *p)
{
    return (uint32_t)__cvta_generic_to_shared(p);
}

/* Asynchronous global -> shared copies. src_bytes 0 writes zeros without
 * reading: rows outside a query block's key range are zero-filled, never read,
 * because their cache slots may hold anything (NaN bit patterns included, and
 * 0 * NaN would poison P V). src must still be a valid address. */
__device__ __forceinline__ void cp_async16(uint32_t dst, const void *src, int src_bytes)
{
    zbk_cp_async16(dst, src, src_bytes);
}
__device__ __forceinline__ void cp_async4(uint32_t dst, const void *src, int src_bytes)
{
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(dst), "l"(src), "r"(src_bytes)
                 : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N> __device__ __forceinline__ void cp_async_wait()
{
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

/* volatile: the same shared address holds a different tile on every loop
 * iteration, so these must not be merged or hoisted by the compiler. */
__device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], uint32_t addr) { zbk_ldsm_x4(r, addr); }
__device__ __forceinline__ void ldsm_x4_trans(uint32_t (&r)[4], uint32_t addr)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}
__device__ __forceinline__ void ldsm_x2_trans(uint32_t &r0, uint32_t &r1, uint32_t addr)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];\n"
                 : "=r"(r0), "=r"(r1)
                 : "r"(addr));
}

/* c += a * b, one m16n8k16 tile of zbk_half operands. */
__device__ __forceinline__ void mma_half(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1)
{
    zbk_mma_16816(c, a, b0, b1);
}

/* 2^x with the hardware approximation (2 ulp); exp2(-inf) = 0. The softmax
 * works in the log2 domain (scores pre-multiplied by scale * log2(e)). */
__device__ __forceinline__ float fast_exp2(float x)
{
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
}

constexpr float kLog2e = 1.4426950408889634f;

/* The key positions a call needs, and (host) the cache precondition.
 * Query p sees keys max(0, p - window + 1)..p: first_key also serves the
 * decode kernels that read p from device memory. Every key of the call must
 * still be in the ring at once: the chunk's own keys were all written before
 * the kernel runs, so the newest (pos0 + T - 1) must not have overwritten the
 * oldest one the first query needs. */
__host__ __device__ static inline int first_key(int pos0, int window)
{
    return window > 0 && pos0 - window + 1 > 0 ? pos0 - window + 1 : 0;
}
static inline bool keys_fit(const zbk_attention_args *a)
{
    return (int64_t)a->pos0 + a->T - 1 - first_key(a->pos0, a->window) < (int64_t)a->slots;
}

/* Launchers (host), defined in attention_decode.cu. */
cudaError_t decode_launch(const zbk_attention_args *a, cudaStream_t stream);
/* The scalar path for any even head_dim and any T (correct, not fast). */
cudaError_t generic_launch(const zbk_attention_args *a, cudaStream_t stream);

} // namespace zbattn

/* Tuning hook for tests/gpu/test_attention.cu only (not part of the engine's
 * interface): runs the prefill (T > 1) with a forced kernel variant.
 * variant 0 = what zbk_attention picks; 1 = 16-row-per-warp, 8-warp row
 * kernel (head_dim <= 128); 2 = the split-head-dim kernel with S on all 8
 * warps (head_dim <= 464); 3 = the scalar generic path; 4 = the split kernel
 * with S on 4 warps (head_dim <= 464, the mma.sync choice for 257..464);
 * 5 = the wgmma kernels of attention_wgmma.cu (head_dim 97..128 and
 * 257..464, compute capability 9.0: zbk_attention's choice there; for
 * 97..128 the pipelined kernel, with tensor copies where it can);
 * 6 = what zbk_attention picks where there is no wgmma kernel (the
 * mma.sync kernels, so a CC 9.0 device checks them too); 7 and 8 = 5 and
 * 6 with every head in one group of the grid's order (attention_order.h),
 * the order before groups, kept to compare; 9 = the head-dim-464 wgmma
 * kernel on pairs of blocks sharing K and V (attention_wgmma_pair.cu:
 * head dims 449..464, no window); for head dims 97..128 the wgmma kernels
 * one by one: 10 = two stages, the softmax of a tile between its two
 * products (zbk_attention's choice until 2026-12-07, kept to compare),
 * 11 = pipelined (the softmax of tile j+1 beside P V of tile j), cp.async
 * copies, 12 = the same with tensor copies (no window, no ring wrap).
 * Returns cudaErrorInvalidValue where a variant cannot run
 * (cudaErrorNoKernelImageForDevice for 5, 7 and 9-12 off compute capability 9.0). */
extern "C" cudaError_t zbk_attention_prefill_variant(const zbk_attention_args *a, int variant,
                                                     cudaStream_t stream);

#endif
