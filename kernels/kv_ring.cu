// Copies KV entries between two rings of different sizes, for sliding-window
// prefill: the session's cache keeps exactly `window` slots per sequence,
// but a chunk of T > 1 tokens needs window + T - 1 keys present at once, so
// the engine attends through a larger staging ring in its workspace.
#include <cuda_bf16.h>

#include "zb_kernels.h"

namespace {

// One block per (position, sequence); 16-byte copies when kv_dim allows.
__global__ void ring_copy(const zbk_half *__restrict__ src, int src_slots, zbk_half *__restrict__ dst, int dst_slots,
                          int kv_dim, long long pos_from)
{
    const long long p = pos_from + blockIdx.x;
    const size_t b = blockIdx.y;
    const zbk_half *s = src + (b * src_slots + (size_t)(p % src_slots)) * kv_dim;
    zbk_half *d = dst + (b * dst_slots + (size_t)(p % dst_slots)) * kv_dim;
    if (kv_dim % 8 == 0) {
        const uint4 *s4 = reinterpret_cast<const uint4 *>(s);
        uint4 *d4 = reinterpret_cast<uint4 *>(d);
        for (int i = threadIdx.x; i < kv_dim / 8; i += blockDim.x) d4[i] = s4[i];
    } else {
        for (int i = threadIdx.x; i < kv_dim; i += blockDim.x) d[i] = s[i];
    }
}

} // namespace

extern "C" cudaError_t zbk_kv_ring_copy(const zbk_half *src, int src_slots, zbk_half *dst, int dst_slots, int batch,
                                        int kv_dim, long long pos_from, int n, cudaStream_t stream)
{
    if (n <= 0) return cudaSuccess;
    // a ring holds only its last `slots` positions: copying more would
    // overwrite entries within the same call
    if (n > src_slots || n > dst_slots || batch < 1 || kv_dim < 1 || pos_from < 0) return cudaErrorInvalidValue;
    dim3 grid((unsigned)n, (unsigned)batch);
    ring_copy<<<grid, 128, 0, stream>>>(src, src_slots, dst, dst_slots, kv_dim, pos_from);
    return cudaGetLastError();
}
