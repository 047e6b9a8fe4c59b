/*
 * zbk_rope_store_kv: RoPE on q and k of a fused QKV row, q to q_out, k and v
 * into the ring-buffer caches (see zb_kernels.h).
 *
 * One block per token row. The rotation angles depend on (position, pair)
 * only, not on the head, so the block first computes cos/sin of the hd/2
 * angles once into shared memory (accurate sincosf: pos * inv_freq reaches
 * ~1e4 rad at long contexts, where the fast intrinsics lose digits), then
 * every head of q and k reuses them. The rotation mirrors zb_ref_rope:
 * pairs (i, i + hd/2), angle pos * inv_freq[i] in fp32, products rounded
 * separately (no FMA) as in the reference, the result rounded to 16-bit once.
 *
 * Block size: 128 threads when there are many rows (prefill); in decode a
 * row is the whole launch, so the block takes one thread per work item
 * (up to 1024), and the time is one trip to memory instead of a loop of
 * them (128 threads took 8-10 us per decode step on the H100).
 *
 * Memory-bound: the vector path moves 16 bytes per access (8 pairs of the
 * first half and the 8 matching of the second half per work item) and needs
 * hd % 16 == 0 with 16-byte aligned buffers; anything else takes the scalar
 * path (one pair or one 16-bit pair of v per work item).
 */
#include <cuda_bf16.h>

#include "attention_common.cuh"

namespace {

__device__ __forceinline__ float rot_a(float a, float b, float c, float s)
{
    return __fsub_rn(__fmul_rn(a, c), __fmul_rn(b, s));
}
__device__ __forceinline__ float rot_b(float a, float b, float c, float s)
{
    return __fadd_rn(__fmul_rn(b, c), __fmul_rn(a, s));
}

/* each value rounded to the 16-bit format by zbk_f2h, as the reference rounds it */
__device__ __forceinline__ uint32_t pack2(float lo, float hi)
{
    return (uint32_t)zbk_f2h(lo) | ((uint32_t)zbk_f2h(hi) << 16);
}

template <bool VEC>
__global__ void __launch_bounds__(1024) rope_store_kernel(const zbk_half *__restrict__ qkv, int T, int pos0,
                                                         const int32_t *__restrict__ pos_dev, int nh, int nkv,
                                                         int hd, const float *__restrict__ inv_freq,
                                                         zbk_half *__restrict__ q_out, zbk_half *__restrict__ kc,
                                                         zbk_half *__restrict__ vc, int slots)
{
    extern __shared__ float cs[]; /* [half] cos, then [half] sin */
    const int row = blockIdx.x;   /* b * T + t */
    zbk_pdl_begin();
    if (pos_dev) pos0 = *pos_dev;
    const int b = row / T, t = row - b * T, pos = pos0 + t;
    const int half = hd / 2;
    const bool rope = inv_freq != nullptr;
    if (rope) {
        for (int i = threadIdx.x; i < half; i += blockDim.x) {
            float s, c;
            sincosf((float)pos * inv_freq[i], &s, &c);
            cs[i] = c;
            cs[half + i] = s;
        }
        __syncthreads();
    }
    const size_t width = (size_t)(nh + 2 * nkv) * hd;
    const zbk_half *src = qkv + (size_t)row * width;
    const int slot = pos % slots;
    zbk_half *qdst = q_out + (size_t)row * nh * hd;
    zbk_half *kdst = kc + ((size_t)b * slots + slot) * nkv * hd;
    zbk_half *vdst = vc + ((size_t)b * slots + slot) * nkv * hd;

    if (VEC) {
        const int hv = half / 8;             /* 16-byte items per half head */
        const int nrope = (nh + nkv) * hv;   /* q and k heads */
        const int nv = nkv * hd / 8;         /* v: plain 16-byte copies */
        for (int i = threadIdx.x; i < nrope + nv; i += blockDim.x) {
            if (i < nrope) {
                const int head = i / hv, k = (i - head * hv) * 8;
                const zbk_half *x = src + (size_t)head * hd;
                uint4 a = *reinterpret_cast<const uint4 *>(x + k);
                uint4 bb = *reinterpret_cast<const uint4 *>(x + half + k);
                if (rope) {
                    uint32_t *pa = reinterpret_cast<uint32_t *>(&a), *pb = reinterpret_cast<uint32_t *>(&bb);
#pragma unroll
                    for (int w = 0; w < 4; w++) {
                        const float a0 = zbk_half_lo(pa[w]), a1 = zbk_half_hi(pa[w]);
                        const float b0 = zbk_half_lo(pb[w]), b1 = zbk_half_hi(pb[w]);
                        const float c0 = cs[k + 2 * w], c1 = cs[k + 2 * w + 1];
                        const float s0 = cs[half + k + 2 * w], s1 = cs[half + k + 2 * w + 1];
                        pa[w] = pack2(rot_a(a0, b0, c0, s0), rot_a(a1, b1, c1, s1));
                        pb[w] = pack2(rot_b(a0, b0, c0, s0), rot_b(a1, b1, c1, s1));
                    }
                }
                zbk_half *d = head < nh ? qdst + (size_t)head * hd : kdst + (size_t)(head - nh) * hd;
                *reinterpret_cast<uint4 *>(d + k) = a;
                *reinterpret_cast<uint4 *>(d + half + k) = bb;
            } else {
                const int e = (i - nrope) * 8;
                *reinterpret_cast<uint4 *>(vdst + e) =
                    *reinterpret_cast<const uint4 *>(src + (size_t)(nh + nkv) * hd + e);
            }
        }
    } else {
        const int nrope = (nh + nkv) * half;
        const int nv = nkv * hd / 2; /* hd is even: 16-bit pairs, 4-byte aligned */
        for (int i = threadIdx.x; i < nrope + nv; i += blockDim.x) {
            if (i < nrope) {
                const int head = i / half, k = i - head * half;
                const zbk_half *x = src + (size_t)head * hd;
                uint16_t ra = x[k], rb = x[half + k];
                if (rope) {
                    const float a = zbk_h2f(ra), bv = zbk_h2f(rb);
                    const float c = cs[k], s = cs[half + k];
                    ra = zbk_f2h(rot_a(a, bv, c, s));
                    rb = zbk_f2h(rot_b(a, bv, c, s));
                }
                zbk_half *d = head < nh ? qdst + (size_t)head * hd : kdst + (size_t)(head - nh) * hd;
                d[k] = ra;
                d[half + k] = rb;
            } else {
                const int e = (i - nrope) * 2;
                *reinterpret_cast<uint32_t *>(vdst + e) =
                    *reinterpret_cast<const uint32_t *>(src + (size_t)(nh + nkv) * hd + e);
            }
        }
    }
}

bool aligned16(const void *p) { return ((uintptr_t)p & 15u) == 0; }

} // namespace

extern "C" cudaError_t zbk_rope_store_kv(const zbk_half *qkv, int batch, int T, int pos0, const int32_t *pos_dev,
                                         int nh, int nkv, int hd, const float *inv_freq, zbk_half *q_out,
                                         zbk_half *kc, zbk_half *vc, int slots, cudaStream_t stream)
{
    /* T > slots would write two tokens into one slot in one launch (a race);
     * zbk_attention could not use such a chunk anyway (see its precondition). */
    if (!qkv || !q_out || !kc || !vc || batch < 1 || T < 1 || (!pos_dev && pos0 < 0) || nh < 1 || nkv < 1 || hd < 2 ||
        (hd & 1) || slots < 1 || T > slots)
        return cudaErrorInvalidValue;
    if ((int64_t)batch * T > 0x7fffffff) return cudaErrorInvalidValue;
    const int half = hd / 2;
    const bool vec = half % 8 == 0 && aligned16(qkv) && aligned16(q_out) && aligned16(kc) && aligned16(vc);
    const size_t smem = inv_freq ? (size_t)hd * sizeof(float) : 0;
    const dim3 grid((unsigned)(batch * T));
    const int64_t items = vec ? (int64_t)(nh + nkv) * (half / 8) + (int64_t)nkv * hd / 8
                              : (int64_t)(nh + nkv) * half + (int64_t)nkv * hd / 2;
    int threads = 128;
    if ((int64_t)batch * T <= 256) threads = items >= 1024 ? 1024 : (int)((items + 31) / 32 * 32);
    if (threads < 128) threads = 128; /* the cos/sin table wants a few threads too */
    return zbk_launch_pdl(vec ? rope_store_kernel<true> : rope_store_kernel<false>, grid, threads, smem, stream, qkv,
                          T, pos0, pos_dev, nh, nkv, hd, inv_freq, q_out, kc, vc, slots);
}
