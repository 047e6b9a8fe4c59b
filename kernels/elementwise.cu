/*
 * Elementwise and per-row kernels: embedding gather, RMSNorm (plain, with a
 * fused residual add, and over Zamba's concat(hidden, embeddings)), the gated
 * activation of the MLP, and greedy argmax.
 *
 * All are memory-bound. Each has a vectorised path (16-byte loads, or 8 for
 * 16-bit quads) taken when the widths and pointers allow it, and a scalar path
 * for odd widths or misaligned views, so any shape is correct.
 */
#include <cuda_bf16.h>

#include <climits>

#include "zb_kernels.h"
#include "zbk_common.cuh"

namespace {

inline bool aligned(const void *p, unsigned bytes) { return ((uintptr_t)p & (bytes - 1)) == 0; }

/* ------------------------------------------------------------------ embed */

/* One block row per token; 8 columns per thread when vectorised. */
template <bool VEC>
__global__ void embed_kernel(const int32_t *__restrict__ tokens, int rows, const zbk_half *__restrict__ table,
                             int hidden, float *__restrict__ resid, zbk_half *__restrict__ emb)
{
    zbk_pdl_begin();
    for (int r = blockIdx.y; r < rows; r += gridDim.y) {
        const zbk_half *src = table + (int64_t)tokens[r] * hidden;
        float *dr = resid + (int64_t)r * hidden;
        if (VEC) {
            const int n8 = hidden / 8;
            for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n8; i += gridDim.x * blockDim.x) {
                const uint4 v = __ldg(reinterpret_cast<const uint4 *>(src) + i);
                float4 *d = reinterpret_cast<float4 *>(dr) + 2 * i;
                d[0] = make_float4(zbk_half_lo(v.x), zbk_half_hi(v.x), zbk_half_lo(v.y), zbk_half_hi(v.y));
                d[1] = make_float4(zbk_half_lo(v.z), zbk_half_hi(v.z), zbk_half_lo(v.w), zbk_half_hi(v.w));
                if (emb) reinterpret_cast<uint4 *>(emb + (int64_t)r * hidden)[i] = v;
            }
        } else {
            for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < hidden; i += gridDim.x * blockDim.x) {
                const zbk_half v = src[i];
                dr[i] = zbk_h2f(v);
                if (emb) emb[(int64_t)r * hidden + i] = v;
            }
        }
    }
}

/* ---------------------------------------------------------------- rmsnorm */

/* Row sources of the norm kernel: the value at column i (or 4 columns from
 * i, i % 4 == 0, for the vectorised path) of row r, as f32. */
struct SrcAdd { /* x + add, add optional (both fp32) */
    const float *x, *add;
    int dim;
    __device__ float at(int64_t r, int i) const
    {
        const int64_t j = r * dim + i;
        return add ? x[j] + add[j] : x[j];
    }
    __device__ float4 at4(int64_t r, int i) const
    {
        const int64_t j = r * dim + i;
        float4 v = *reinterpret_cast<const float4 *>(x + j);
        if (add) {
            const float4 a = *reinterpret_cast<const float4 *>(add + j);
            v.x += a.x, v.y += a.y, v.z += a.z, v.w += a.w;
        }
        return v;
    }
};

struct SrcConcat { /* concat(h fp32 [hidden], emb 16-bit [hidden]) */
    const float *h;
    const zbk_half *emb;
    int hidden;
    __device__ float at(int64_t r, int i) const
    {
        return i < hidden ? h[r * hidden + i] : zbk_h2f(emb[r * hidden + (i - hidden)]);
    }
    __device__ float4 at4(int64_t r, int i) const
    {
        if (i < hidden) return *reinterpret_cast<const float4 *>(h + r * hidden + i);
        const uint2 v = *reinterpret_cast<const uint2 *>(emb + r * hidden + (i - hidden));
        return make_float4(zbk_half_lo(v.x), zbk_half_hi(v.x), zbk_half_lo(v.y), zbk_half_hi(v.y));
    }
};

/* One block per row, w * (x * inv) rounded to 16-bit, the reference's order
 * of operations; inv = 1 / sqrtf(mean + eps), IEEE-rounded rather than
 * rsqrtf, so the only difference from the double-precision reference is
 * the fp32 sum.
 *
 * Register path (16-byte aligned rows of up to 8 x 4 x 1024 floats): each
 * thread loads its IPT float4 of the row and of w at once, before the
 * reduction, and writes from registers: one trip to memory, not a pass to
 * sum and a pass to scale. In decode a row is the whole launch (one block
 * on a 132-SM GPU), so the time is latency: up to 1024 threads then, one
 * float4 each (the first version, 256 threads looping twice over the row,
 * took 6.2 us for 3712 floats on the H100). Otherwise the scalar loop. */
template <typename Src, int IPT>
__global__ void __launch_bounds__(1024) rmsnorm_reg_kernel(Src src, const float *__restrict__ w, int dim, float eps,
                                                           zbk_half *__restrict__ out)
{
    __shared__ float scratch[32];
    zbk_pdl_begin(); /* the projection after the norm may start streaming its weights */
    const int64_t r = blockIdx.x;
    float4 v[IPT], g[IPT];
    float ss = 0.0f;
#pragma unroll
    for (int j = 0; j < IPT; j++) {
        const int i = (threadIdx.x + j * blockDim.x) * 4;
        if (i < dim) {
            v[j] = src.at4(r, i);
            g[j] = *reinterpret_cast<const float4 *>(w + i);
            ss += v[j].x * v[j].x + v[j].y * v[j].y + v[j].z * v[j].z + v[j].w * v[j].w;
        }
    }
    ss = zbk_block_sum(ss, scratch);
    const float inv = 1.0f / sqrtf(ss / (float)dim + eps);
    zbk_half *o = out + r * dim;
#pragma unroll
    for (int j = 0; j < IPT; j++) {
        const int i = (threadIdx.x + j * blockDim.x) * 4;
        if (i < dim) {
            uint2 p;
            p.x = zbk_pack_half2(g[j].x * (v[j].x * inv), g[j].y * (v[j].y * inv));
            p.y = zbk_pack_half2(g[j].z * (v[j].z * inv), g[j].w * (v[j].w * inv));
            *reinterpret_cast<uint2 *>(o + i) = p;
        }
    }
}

template <typename Src>
__global__ void __launch_bounds__(256) rmsnorm_kernel(Src src, const float *__restrict__ w, int dim, float eps,
                                                      zbk_half *__restrict__ out)
{
    __shared__ float scratch[32];
    zbk_pdl_begin();
    const int64_t r = blockIdx.x;
    float ss = 0.0f;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        const float v = src.at(r, i);
        ss += v * v;
    }
    ss = zbk_block_sum(ss, scratch);
    const float inv = 1.0f / sqrtf(ss / (float)dim + eps);
    zbk_half *o = out + r * dim;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) o[i] = zbk_f2h(w[i] * (src.at(r, i) * inv));
}

template <typename Src>
cudaError_t launch_rmsnorm(const Src &src, bool vec, const float *w, int rows, int dim, float eps, zbk_half *out,
                           cudaStream_t stream)
{
    const int n4 = dim / 4;
    if (vec && n4 <= 8 * 1024) {
        /* few rows (decode): wide blocks, latency is all; many rows
         * (prefill): 256 threads, the GPU is full anyway */
        const int cap = rows <= 256 ? 1024 : 256;
        int ipt = 1;
        while ((n4 + ipt - 1) / ipt > cap) ipt *= 2;
        int threads = ((n4 + ipt - 1) / ipt + 31) / 32 * 32;
        threads = threads < 32 ? 32 : threads;
        switch (ipt) {
        case 1: return zbk_launch_pdl(rmsnorm_reg_kernel<Src, 1>, rows, threads, 0, stream, src, w, dim, eps, out);
        case 2: return zbk_launch_pdl(rmsnorm_reg_kernel<Src, 2>, rows, threads, 0, stream, src, w, dim, eps, out);
        case 4: return zbk_launch_pdl(rmsnorm_reg_kernel<Src, 4>, rows, threads, 0, stream, src, w, dim, eps, out);
        default: return zbk_launch_pdl(rmsnorm_reg_kernel<Src, 8>, rows, threads, 0, stream, src, w, dim, eps, out);
        }
    }
    return zbk_launch_pdl(rmsnorm_kernel<Src>, rows, 256, 0, stream, src, w, dim, eps, out);
}

/* -------------------------------------------------------------- gated act */

/* out[r][i] = act(gate) * up, computed in fp32 from the 16-bit inputs and
 * rounded once. 2D grid: x over column chunks, y over rows (strided, so
 * any number of rows fits the 65535 limit of gridDim.y). */
template <bool VEC>
__global__ void gated_act_kernel(const zbk_half *__restrict__ gu, int rows, int inter, zb_act act,
                                 zbk_half *__restrict__ out)
{
    zbk_pdl_begin(); /* the down projection may start streaming its weights */
    for (int r = blockIdx.y; r < rows; r += gridDim.y) {
        const zbk_half *gate = gu + (int64_t)r * 2 * inter, *up = gate + inter;
        zbk_half *o = out + (int64_t)r * inter;
        if (VEC) {
            const int n8 = inter / 8;
            for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n8; i += gridDim.x * blockDim.x) {
                const uint4 g = __ldg(reinterpret_cast<const uint4 *>(gate) + i);
                const uint4 u = __ldg(reinterpret_cast<const uint4 *>(up) + i);
                uint4 p;
                p.x = zbk_pack_half2(zbk_act(act, zbk_half_lo(g.x)) * zbk_half_lo(u.x),
                                      zbk_act(act, zbk_half_hi(g.x)) * zbk_half_hi(u.x));
                p.y = zbk_pack_half2(zbk_act(act, zbk_half_lo(g.y)) * zbk_half_lo(u.y),
                                      zbk_act(act, zbk_half_hi(g.y)) * zbk_half_hi(u.y));
                p.z = zbk_pack_half2(zbk_act(act, zbk_half_lo(g.z)) * zbk_half_lo(u.z),
                                      zbk_act(act, zbk_half_hi(g.z)) * zbk_half_hi(u.z));
                p.w = zbk_pack_half2(zbk_act(act, zbk_half_lo(g.w)) * zbk_half_lo(u.w),
                                      zbk_act(act, zbk_half_hi(g.w)) * zbk_half_hi(u.w));
                reinterpret_cast<uint4 *>(o)[i] = p;
            }
        } else {
            for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < inter; i += gridDim.x * blockDim.x)
                o[i] = zbk_f2h(zbk_act(act, zbk_h2f(gate[i])) * zbk_h2f(up[i]));
        }
    }
}

/* ----------------------------------------------------------------- argmax */

/* (value, index) order of argmax: larger value wins, lower index on ties.
 * NaN never wins (comparisons with it are false), so a row of NaNs gives
 * index 0 like the reference. */
__device__ __forceinline__ void better(float &bv, int &bi, float v, int i)
{
    if (v > bv || (v == bv && i < bi)) bv = v, bi = i;
}

template <bool VEC>
__global__ void __launch_bounds__(512) argmax_kernel(const float *__restrict__ logits, int vocab,
                                                     int32_t *__restrict__ out)
{
    __shared__ float sv[32];
    __shared__ int si[32];
    zbk_pdl_begin();
    const float *x = logits + (int64_t)blockIdx.x * vocab;
    float bv = -INFINITY;
    int bi = INT_MAX;
    if (VEC) {
        for (int i = threadIdx.x * 4; i < vocab; i += blockDim.x * 4) {
            const float4 v = __ldg(reinterpret_cast<const float4 *>(x + i));
            better(bv, bi, v.x, i);
            better(bv, bi, v.y, i + 1);
            better(bv, bi, v.z, i + 2);
            better(bv, bi, v.w, i + 3);
        }
    } else {
        for (int i = threadIdx.x; i < vocab; i += blockDim.x) better(bv, bi, __ldg(x + i), i);
    }
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) {
        const float ov = __shfl_xor_sync(0xffffffffu, bv, off);
        const int oi = __shfl_xor_sync(0xffffffffu, bi, off);
        better(bv, bi, ov, oi);
    }
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) sv[warp] = bv, si[warp] = bi;
    __syncthreads();
    if (warp == 0) {
        const int nw = blockDim.x >> 5;
        bv = lane < nw ? sv[lane] : -INFINITY;
        bi = lane < nw ? si[lane] : INT_MAX;
#pragma unroll
        for (int off = 16; off > 0; off >>= 1) {
            const float ov = __shfl_xor_sync(0xffffffffu, bv, off);
            const int oi = __shfl_xor_sync(0xffffffffu, bi, off);
            better(bv, bi, ov, oi);
        }
        if (lane == 0) out[blockIdx.x] = bi == INT_MAX ? 0 : bi;
    }
}

/* dst[r][g][c] = 16-bit(src[r][g][c]) for c < cols: one thread per 2
 * columns of a (row, group); float2 reads where the strides allow. */
template <bool VEC>
__global__ void f32_cols_to_half_kernel(const float *__restrict__ src, int64_t lds, int64_t ss,
                                        zbk_half *__restrict__ dst, int64_t ldd, int64_t sd, int rows, int groups,
                                        int cols)
{
    zbk_pdl_begin();
    const int half_cols = (cols + 1) / 2;
    for (int r = blockIdx.y; r < rows; r += gridDim.y) {
        for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < groups * half_cols; i += gridDim.x * blockDim.x) {
            const int g = i / half_cols, c = 2 * (i - g * half_cols);
            const float *sp = src + r * lds + g * ss + c;
            zbk_half *dp = dst + r * ldd + g * sd + c;
            if (VEC) {
                const float2 v = *reinterpret_cast<const float2 *>(sp);
                *reinterpret_cast<uint32_t *>(dp) = zbk_pack_half2(v.x, v.y);
            } else {
                dp[0] = zbk_f2h(sp[0]);
                if (c + 1 < cols) dp[1] = zbk_f2h(sp[1]);
            }
        }
    }
}

} // namespace

extern "C" cudaError_t zbk_embed(const int32_t *tokens, int rows, const zbk_half *table, int hidden, float *resid,
                                 zbk_half *emb, cudaStream_t stream)
{
    if (rows < 0 || hidden < 0) return cudaErrorInvalidValue;
    if (rows == 0 || hidden == 0) return cudaSuccess;
    const bool vec = hidden % 8 == 0 && aligned(table, 16) && aligned(resid, 16) && (!emb || aligned(emb, 16));
    const int per = vec ? 8 : 1, threads = 128;
    const int bx = (hidden / per + threads - 1) / threads;
    const dim3 grid(bx, rows < 65535 ? rows : 65535);
    return vec ? zbk_launch_pdl(embed_kernel<true>, grid, threads, 0, stream, tokens, rows, table, hidden, resid, emb)
               : zbk_launch_pdl(embed_kernel<false>, grid, threads, 0, stream, tokens, rows, table, hidden, resid, emb);
}

extern "C" cudaError_t zbk_rmsnorm(const float *x, const float *add, const float *w, int rows, int dim, float eps,
                                   zbk_half *out, cudaStream_t stream)
{
    if (rows < 0 || dim <= 0) return cudaErrorInvalidValue;
    if (rows == 0) return cudaSuccess;
    const bool vec = dim % 4 == 0 && aligned(x, 16) && (!add || aligned(add, 16)) && aligned(w, 16) && aligned(out, 8);
    return launch_rmsnorm(SrcAdd{x, add, dim}, vec, w, rows, dim, eps, out, stream);
}

extern "C" cudaError_t zbk_concat_rmsnorm(const float *h, const zbk_half *emb, const float *w, int rows, int hidden,
                                          float eps, zbk_half *out, cudaStream_t stream)
{
    if (rows < 0 || hidden <= 0) return cudaErrorInvalidValue;
    if (rows == 0) return cudaSuccess;
    const bool vec = hidden % 4 == 0 && aligned(h, 16) && aligned(emb, 8) && aligned(w, 16) && aligned(out, 8);
    return launch_rmsnorm(SrcConcat{h, emb, hidden}, vec, w, rows, 2 * hidden, eps, out, stream);
}

extern "C" cudaError_t zbk_gated_act(const zbk_half *gu, int rows, int inter, zb_act act, zbk_half *out,
                                     cudaStream_t stream)
{
    if (rows < 0 || inter < 0) return cudaErrorInvalidValue;
    if (act != ZB_ACT_SILU && act != ZB_ACT_GELU && act != ZB_ACT_GELU_TANH && act != ZB_ACT_RELU)
        return cudaErrorInvalidValue;
    if (rows == 0 || inter == 0) return cudaSuccess;
    const bool vec = inter % 8 == 0 && aligned(gu, 16) && aligned(out, 16);
    const int per = vec ? 8 : 1, threads = 256;
    const int bx = (inter / per + threads - 1) / threads;
    const dim3 grid(bx, rows < 65535 ? rows : 65535);
    return vec ? zbk_launch_pdl(gated_act_kernel<true>, grid, threads, 0, stream, gu, rows, inter, act, out)
               : zbk_launch_pdl(gated_act_kernel<false>, grid, threads, 0, stream, gu, rows, inter, act, out);
}

extern "C" cudaError_t zbk_argmax(const float *logits, int batch, int vocab, int32_t *out, cudaStream_t stream)
{
    if (batch < 0 || vocab <= 0) return cudaErrorInvalidValue;
    if (batch == 0) return cudaSuccess;
    const bool vec = vocab % 4 == 0 && aligned(logits, 16);
    return vec ? zbk_launch_pdl(argmax_kernel<true>, batch, 512, 0, stream, logits, vocab, out)
               : zbk_launch_pdl(argmax_kernel<false>, batch, 512, 0, stream, logits, vocab, out);
}

extern "C" cudaError_t zbk_f32_cols_to_half(const float *src, int64_t ld_src, int64_t stride_src, zbk_half *dst,
                                            int64_t ld_dst, int64_t stride_dst, int rows, int groups, int cols,
                                            cudaStream_t stream)
{
    if (rows < 0 || groups < 0 || cols < 0) return cudaErrorInvalidValue;
    if (rows == 0 || groups == 0 || cols == 0) return cudaSuccess;
    /* pairs stay aligned when every row and group start is even and the
     * column count is even */
    const bool vec = cols % 2 == 0 && ld_src % 2 == 0 && stride_src % 2 == 0 && ld_dst % 2 == 0 &&
                     stride_dst % 2 == 0 && aligned(src, 8) && aligned(dst, 4);
    const int threads = 256, work = groups * ((cols + 1) / 2);
    const dim3 grid((work + threads - 1) / threads, rows < 65535 ? rows : 65535);
    return vec ? zbk_launch_pdl(f32_cols_to_half_kernel<true>, grid, threads, 0, stream, src, ld_src, stride_src, dst,
                                ld_dst, stride_dst, rows, groups, cols)
               : zbk_launch_pdl(f32_cols_to_half_kernel<false>, grid, threads, 0, stream, src, ld_src, stride_src,
                                dst, ld_dst, stride_dst, rows, groups, cols);
}
