/*
 * Dense projections: Y = X W^T (+ bias), or Y += X W^T, 16-bit X and W, fp32
 * accumulation, Y 16-bit or f32, batched at element strides.
 *
 * Decode (rows <= 8): a GEMV kernel of our own. Its whole job is to stream
 * W once at the copy bandwidth, so:
 *  - every W element is read by exactly one 16-byte load (ld.global.nc with
 *    L1::no_allocate: W is used once, keep L1 for x), and all `rows` outputs
 *    are formed from that one read;
 *  - the arithmetic goes through the tensor cores (mma.sync m16n8k16,
 *    16-bit x 16-bit -> f32): a warp multiplies a 16-output x 32-k tile of W by
 *    the (up to) 8 rows of x per pair of mma, so rows = 8 costs no more
 *    instructions than rows = 1 and no 16-bit->f32 unpacking is done at all.
 *    The dot product does not care in which order k is visited, so each
 *    thread loads 8 *consecutive* k of a W row with one 16-byte load and the
 *    same 8 k of its x row, and the fragment registers are filled so that A
 *    and B agree on the (permuted) k order (see gemv_kernel);
 *  - a block owns 16*MT outputs and its warps split K; each warp walks U
 *    consecutive k-steps per iteration, so it issues 2*MT*U independent
 *    16-byte W loads before the first mma and reads whole 128-byte lines;
 *  - warps' partial sums meet once in shared memory at the end;
 *  - it is a programmatic dependent of the kernel before it: the first
 *    wave's blocks prefetch 12 MB of W into L2 while that kernel (a norm,
 *    the Mamba step, attention) still runs, and only then wait for x.
 *  x (rows x in 16-bit, at most 8 x 14848 x 2 = 237 KB) is read through L1/L2;
 *  per block it is rows/(16*MT) of the W bytes.
 *
 * Prefill (rows > 8): cuBLASLt (CUBLAS_COMPUTE_32F, 16-bit A/B, 16-bit or f32
 * C/D, bias epilogue, beta = 1 to accumulate). Finding an algorithm
 * (cublasLtMatmulAlgoGetHeuristic) costs far more than a launch, so each
 * zb_blas keeps a small LRU cache of plans (descriptors, layouts and the
 * chosen algorithm) keyed by everything the heuristic looks at: shape,
 * leading dimensions, strides, dtypes, epilogue and pointer alignments.
 * Where cuBLASLt offers nothing (exotic alignment), the GEMV kernel runs
 * over groups of 8 rows instead: slow but correct for any shape.
 *
 * A zb_blas is not thread-safe and its workspace is shared by its calls:
 * use one per stream (or per thread).
 */
#include <cublasLt.h>
#include <cuda_bf16.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "zb_kernels.h"
#include "zbk_common.cuh"

namespace {

/* ================================================================= GEMV */

struct GemvArgs {
    const zbk_half *x;
    int64_t ldx, sx;
    const zbk_half *w;
    int64_t ldw, sw;
    void *y;
    int64_t ldy, sy;
    const float *bias;
    int rows, in, out;
    int y_f32, accumulate;
    int pf_bytes;  /* bytes at the start of each W row prefetched into L2 before the wait */
    int pf_blocks; /* blocks (linear index) that prefetch: the first wave */
};

/* 16-byte loads. W streams through once: no L1 allocation, and a 256-byte
 * L2 prefetch matches the 256 bytes a warp reads per row per iteration
 * (U = 4). x is re-read by every block: the default caching keeps it in L1. */
__device__ __forceinline__ uint4 ld_stream(const zbk_half *p)
{
    uint4 v;
    asm volatile("ld.global.nc.L1::no_allocate.L2::256B.v4.u32 {%0,%1,%2,%3}, [%4];"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                 : "l"(p));
    return v;
}
__device__ __forceinline__ uint4 ld_cached(const zbk_half *p) { return __ldg(reinterpret_cast<const uint4 *>(p)); }

/* 8 elements from p, those at or past n (n may be <= 0) as zero, with
 * 2-byte loads: for the K tail and for misaligned views. */
__device__ __forceinline__ uint4 ld_partial(const zbk_half *p, int n)
{
    uint32_t h[8];
#pragma unroll
    for (int e = 0; e < 8; e++) h[e] = e < n ? __ldg(reinterpret_cast<const unsigned short *>(p) + e) : 0u;
    return make_uint4(h[0] | h[1] << 16, h[2] | h[3] << 16, h[4] | h[5] << 16, h[6] | h[7] << 16);
}

template <bool VEC> __device__ __forceinline__ uint4 ld_w(const zbk_half *p, int n)
{
    return VEC && n >= 8 ? ld_stream(p) : ld_partial(p, n);
}
template <bool VEC> __device__ __forceinline__ uint4 ld_x(const zbk_half *p, int n)
{
    return VEC && n >= 8 ? ld_cached(p) : ld_partial(p, n);
}

/* d += A B for one m16n8k16 tile; A rows are outputs, B columns are x rows. */
__device__ __forceinline__ void mma_half(float (&d)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                         uint32_t b0, uint32_t b1)
{
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32." ZBK_MMA_HALF ".f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

/*
 * Grid: x = output tiles of 16*MT, y = batch, z = groups of 8 rows.
 * Block: nw warps (blockDim.x = 32 nw) splitting K; dynamic shared memory
 * of nw * MT * 4 * 32 floats for the final reduction.
 *
 * Lane l is (g, c) = (l / 4, l % 4), as in the mma fragment layouts. A
 * k-step is 32 elements of K; in k-step s, lane (g, c) loads k = 32 s + 8 c
 * .. + 7 of W rows o0+g and o0+g+8 (words w0..w3, v0..v3: two 16-bit each)
 * and of x row g (words x0..x3). m16n8k16's A fragment wants, per thread,
 * (row g, logical k 2c..2c+1), (g+8, 2c..), (g, 2c+8..), (g+8, 2c+8..) and
 * B wants (k 2c.., col g), (k 2c+8.., col g); so the first mma takes
 * {w0, v0, w1, v1} x {x0, x1} and the second {w2, v2, w3, v3} x {x2, x3}:
 * logical k slots map to physical k identically in A and B, and the two
 * mma together cover the 32 physical k of the step exactly once.
 * D: lane (g, c) holds outputs o0+g (d0, d1) and o0+g+8 (d2, d3) for x rows
 * 2c and 2c+1.
 */
template <int U, int MT, bool VEC> __global__ void __launch_bounds__(512) gemv_kernel(GemvArgs p)
{
    extern __shared__ float red[];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    const int g = lane >> 2, c = lane & 3;
    const int o0 = blockIdx.x * 16 * MT;
    const int64_t bat = blockIdx.y;
    const int r0 = blockIdx.z * 8;
    const int nrows = min(8, p.rows - r0);

    /* Rows past `out` (last tile) re-read row out-1: harmless, branch-free. */
    const zbk_half *wrow[MT][2];
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int o = min(o0 + mt * 16 + g + 8 * h, p.out - 1);
            wrow[mt][h] = p.w + bat * p.sw + (int64_t)o * p.ldw + 8 * c;
        }
    /* Launched as a programmatic dependent: let the next kernel's blocks
     * be scheduled, prefetch W into L2 while the kernel that wrote x (and,
     * accumulating, y) finishes, then wait for it. This hides the GEMV's
     * ramp-up behind the previous kernel, which in decode is a small
     * latency-bound one (norm, Mamba step, attention, activation) that
     * leaves the memory system idle. Only the first wave's blocks are
     * resident before the wait, so only they prefetch: one bulk copy per
     * row of its first pf_bytes (see launch_gemv for the amount). */
    zbk_pdl_trigger();
    if (VEC) {
        const int64_t lin = blockIdx.x + (int64_t)gridDim.x * (blockIdx.y + (int64_t)gridDim.y * blockIdx.z);
        if (threadIdx.x < 16 * MT && lin < p.pf_blocks && p.pf_bytes > 0) {
            const int o = min(o0 + (int)threadIdx.x, p.out - 1);
            const zbk_half *row = p.w + bat * p.sw + (int64_t)o * p.ldw;
            asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(row), "r"(p.pf_bytes) : "memory");
        }
    } else { /* rows not 16-byte aligned: the first line of each warp's first steps */
        const int ks0 = warp * U;
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int k = (ks0 + u) * 32 + 8 * c;
            if (k < p.in)
#pragma unroll
                for (int mt = 0; mt < MT; mt++)
#pragma unroll
                    for (int h = 0; h < 2; h++) asm volatile("prefetch.global.L2 [%0];" ::"l"(wrow[mt][h] + (k - 8 * c)));
        }
    }
    zbk_pdl_wait();
    const bool has_x = g < nrows;
    const zbk_half *xrow = p.x + bat * p.sx + (int64_t)(r0 + (has_x ? g : 0)) * p.ldx + 8 * c;

    float acc[MT][4];
#pragma unroll
    for (int mt = 0; mt < MT; mt++) acc[mt][0] = acc[mt][1] = acc[mt][2] = acc[mt][3] = 0.0f;

    const int ksteps = (p.in + 31) >> 5;
    for (int s0 = warp * U; s0 < ksteps; s0 += nw * U) {
        uint4 a[U][MT][2], b[U];
        if ((s0 + U) * 32 <= p.in) {
            /* Whole steps (all but the last iteration): no bounds checks. */
#pragma unroll
            for (int u = 0; u < U; u++) {
                const int k = (s0 + u) * 32;
#pragma unroll
                for (int mt = 0; mt < MT; mt++)
#pragma unroll
                    for (int h = 0; h < 2; h++) a[u][mt][h] = ld_w<VEC>(wrow[mt][h] + k, 8);
                b[u] = has_x ? ld_x<VEC>(xrow + k, 8) : make_uint4(0, 0, 0, 0);
            }
        } else {
#pragma unroll
            for (int u = 0; u < U; u++) {
                const int k = (s0 + u) * 32, n = p.in - k - 8 * c;
#pragma unroll
                for (int mt = 0; mt < MT; mt++)
#pragma unroll
                    for (int h = 0; h < 2; h++) a[u][mt][h] = ld_w<VEC>(wrow[mt][h] + k, n);
                b[u] = has_x ? ld_x<VEC>(xrow + k, n) : make_uint4(0, 0, 0, 0);
            }
        }
#pragma unroll
        for (int u = 0; u < U; u++)
#pragma unroll
            for (int mt = 0; mt < MT; mt++) {
                mma_half(acc[mt], a[u][mt][0].x, a[u][mt][1].x, a[u][mt][0].y, a[u][mt][1].y, b[u].x, b[u].y);
                mma_half(acc[mt], a[u][mt][0].z, a[u][mt][1].z, a[u][mt][0].w, a[u][mt][1].w, b[u].z, b[u].w);
            }
    }

    if (nw > 1) {
#pragma unroll
        for (int mt = 0; mt < MT; mt++)
#pragma unroll
            for (int j = 0; j < 4; j++) red[((warp * MT + mt) * 4 + j) * 32 + lane] = acc[mt][j];
        __syncthreads();
        if (warp != 0) return;
        for (int v = 1; v < nw; v++)
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
#pragma unroll
                for (int j = 0; j < 4; j++) acc[mt][j] += red[((v * MT + mt) * 4 + j) * 32 + lane];
    }

#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int o = o0 + mt * 16 + g + (j >> 1) * 8, n = 2 * c + (j & 1);
            if (o >= p.out || n >= nrows) continue;
            float v = acc[mt][j];
            const int64_t yi = bat * p.sy + (int64_t)(r0 + n) * p.ldy + o;
            if (p.accumulate) {
                static_cast<float *>(p.y)[yi] += v;
            } else {
                if (p.bias) v += p.bias[o];
                if (p.y_f32) static_cast<float *>(p.y)[yi] = v;
                else static_cast<zbk_half *>(p.y)[yi] = zbk_f2h(v);
            }
        }
}

/* Tunings of the GEMV kernel: U k-steps in flight per warp, MT 16-output
 * tiles per warp, and the most warps a block splits K over (16 anyway when
 * the grid would not give every SM a block). Variant 0 is what zb_linear
 * uses; the others exist so the benchmark can compare them. On the H100
 * (2026-11-23, rows 1/4/8) 0 and 2 tie within 1%, MT = 2 and U = 2 lose
 * 3-10%, and re-balancing the K split across warps (7) gains nothing:
 * the kernel is within 0-10% of a plain streaming read of the same bytes. */
struct GemvCfg {
    int u, mt, nw_max;
    int balanced; /* nw in [nw_max/2, nw_max] that splits K most evenly */
};
constexpr GemvCfg kGemvCfgs[] = {{4, 1, 8, 0},  {2, 1, 8, 0}, {8, 1, 8, 0}, {4, 2, 8, 0},
                                 {2, 2, 8, 0},  {4, 1, 4, 0}, {4, 1, 16, 0}, {4, 1, 8, 1}};
constexpr int kGemvVariants = (int)(sizeof(kGemvCfgs) / sizeof(kGemvCfgs[0]));

bool aligned16(const void *p) { return ((uintptr_t)p & 15u) == 0; }

/* Weight bytes a decode GEMV prefetches into L2 before its input is ready:
 * about what the copy bandwidth moves in the 4 us of a short predecessor,
 * and a quarter of the H100's 50 MB L2. */
constexpr int64_t kGemvPrefetchBytes = 12LL << 20;

cudaError_t launch_gemv(const zb_linear_args *a, int variant, int sm_count, cudaStream_t stream)
{
    const GemvCfg cfg = kGemvCfgs[variant];
    GemvArgs p;
    p.x = a->x, p.ldx = a->ldx, p.sx = a->batch > 1 ? a->stride_x : 0;
    p.w = a->w, p.ldw = a->ldw, p.sw = a->batch > 1 ? a->stride_w : 0;
    p.y = a->y, p.ldy = a->ldy, p.sy = a->batch > 1 ? a->stride_y : 0;
    p.bias = a->accumulate ? nullptr : a->bias;
    p.rows = a->rows, p.in = a->in, p.out = a->out;
    p.y_f32 = a->y_dtype == ZB_DTYPE_F32, p.accumulate = a->accumulate;

    /* 16-byte loads need every row start 16-byte aligned. */
    const bool vec = aligned16(p.x) && aligned16(p.w) && p.ldx % 8 == 0 && p.ldw % 8 == 0 && p.sx % 8 == 0 &&
                     p.sw % 8 == 0;
    const int mt = vec ? cfg.mt : 1, u = vec ? cfg.u : 4;
    const dim3 grid((unsigned)((a->out + 16 * mt - 1) / (16 * mt)), (unsigned)a->batch, (unsigned)((a->rows + 7) / 8));
    const int64_t blocks = (int64_t)grid.x * grid.y * grid.z;
    const int nw_max = blocks < sm_count ? 16 : cfg.nw_max;
    const int ksteps = (a->in + 31) / 32;
    int nw = ksteps / u;
    nw = nw < 1 ? 1 : nw > nw_max ? nw_max : nw;
    if (cfg.balanced && nw == nw_max) {
        /* The block lasts as long as its busiest warp: ceil(groups / nw)
         * groups of U k-steps. Pick the warp count wasting the least. */
        const int groups = (ksteps + u - 1) / u;
        double best = 0.0;
        for (int n = nw_max; n >= (nw_max + 1) / 2; n--) {
            const double eff = (double)groups / ((double)n * ((groups + n - 1) / n));
            if (eff > best + 1e-9) best = eff, nw = n;
        }
    }
    const size_t smem = (size_t)nw * mt * 4 * 32 * sizeof(float);
    const dim3 block(32 * nw);
    /* Prefetch before the wait: kGemvPrefetchBytes in all, spread over the
     * rows of the first wave (2 blocks of 8 warps per SM at 92 registers).
     * The H100 sweep (docs/PERF.md): 8-16 MB gain 1.5-2.5% of a decode
     * step over the first lines only, 32 MB gains less, and prefetching
     * every block's rows (later waves included) costs 5-8%: those blocks
     * start after the wait, so their prefetch only doubles the requests. */
    const int64_t first = blocks < 2LL * sm_count ? blocks : 2LL * sm_count;
    int64_t per_row = kGemvPrefetchBytes / (first * 16 * mt);
    if (per_row > (int64_t)p.in * 2) per_row = (int64_t)p.in * 2;
    p.pf_bytes = (int)(per_row & ~(int64_t)15);
    p.pf_blocks = (int)first;
    if (!vec) return zbk_launch_pdl(gemv_kernel<4, 1, false>, grid, block, smem, stream, p);
    switch (variant) {
    case 1: return zbk_launch_pdl(gemv_kernel<2, 1, true>, grid, block, smem, stream, p);
    case 2: return zbk_launch_pdl(gemv_kernel<8, 1, true>, grid, block, smem, stream, p);
    case 3: return zbk_launch_pdl(gemv_kernel<4, 2, true>, grid, block, smem, stream, p);
    case 4: return zbk_launch_pdl(gemv_kernel<2, 2, true>, grid, block, smem, stream, p);
    default: return zbk_launch_pdl(gemv_kernel<4, 1, true>, grid, block, smem, stream, p); /* 0, 5, 6, 7 */
    }
}

/* Bias added after a cuBLASLt product that could not take it in its
 * epilogue (y 16-bit is rounded twice then; only used as a fallback). */
__global__ void add_bias_kernel(void *y, int y_f32, int64_t ldy, int64_t sy, int rows, int out, int batch,
                                const float *__restrict__ bias)
{
    const int64_t n = (int64_t)batch * rows * out;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t o = i % out, t = i / out, r = t % rows, b = t / rows;
        const int64_t yi = b * sy + r * ldy + o;
        if (y_f32) static_cast<float *>(y)[yi] += bias[o];
        else {
            zbk_half *p = static_cast<zbk_half *>(y) + yi;
            *p = zbk_f2h(zbk_h2f(*p) + bias[o]);
        }
    }
}

/* ============================================================ cuBLASLt */

/* Everything the heuristic depends on; int64 only, so no padding and the
 * key compares with memcmp. */
struct PlanKey {
    int64_t rows, in, out, batch;
    int64_t ldx, ldw, ldy, sx, sw, sy;
    int64_t y_f32, bias, accumulate;
    int64_t al_x, al_w, al_y, al_bias;
};

struct Plan {
    PlanKey key;
    uint64_t last_use; /* 0: slot empty */
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, lc;
    cublasLtMatmulAlgo_t algo;
    int bias_epilogue; /* bias through the epilogue (else add_bias_kernel) */
    int use_gemv;      /* cuBLASLt had no algorithm: GEMV over row groups */
};

constexpr int kPlanSlots = 64;
constexpr int kMaxCandidates = 16; /* zb_blas_use_candidate: heuristic results a plan may take */

/* Alignment (bytes, at most 256) shared by a pointer and every row/batch
 * step from it: what cuBLASLt may assume for the matrix. */
int64_t alignment(const void *p, int64_t ld, int64_t stride, int64_t es)
{
    uint64_t bits = (uint64_t)(uintptr_t)p | (uint64_t)(ld * es) | (uint64_t)(stride * es) | 256u;
    return (int64_t)(bits & (~bits + 1));
}

void plan_release(Plan *p)
{
    if (p->desc) cublasLtMatmulDescDestroy(p->desc);
    if (p->la) cublasLtMatrixLayoutDestroy(p->la);
    if (p->lb) cublasLtMatrixLayoutDestroy(p->lb);
    if (p->lc) cublasLtMatrixLayoutDestroy(p->lc);
    memset(p, 0, sizeof *p);
}

} // namespace

struct zb_blas {
    cublasLtHandle_t lt;
    void *workspace;
    size_t workspace_bytes;
    int sm_count;
    uint64_t clock; /* LRU stamp source */
    int candidate;  /* which of the heuristic's results a new plan takes: 0 but in benchmarks */
    Plan plans[kPlanSlots];
};

namespace {

zb_status fail(zb_error *err, zb_status code, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
zb_status fail(zb_error *err, zb_status code, const char *file, int line, const char *fmt, ...)
{
    if (!err) return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    const size_t n = strlen(err->msg);
    if (n + 1 < sizeof err->msg) snprintf(err->msg + n, sizeof err->msg - n, " (%s:%d)", file, line);
    return code;
}

#define FAIL(code, ...) fail(err, code, __FILE__, __LINE__, __VA_ARGS__)
#define CUDA_TRY(name, call)                                                                                     \
    do {                                                                                                       \
        cudaError_t e_ = (call);                                                                               \
        if (e_ != cudaSuccess)                                                                                 \
            return FAIL(e_ == cudaErrorMemoryAllocation ? ZB_ERR_OOM : ZB_ERR_DEVICE, "%s failed: %s", name,    \
                        cudaGetErrorString(e_));                                                               \
    } while (0)
#define LT_TRY(name, call)                                                                                       \
    do {                                                                                                       \
        cublasStatus_t s_ = (call);                                                                            \
        if (s_ != CUBLAS_STATUS_SUCCESS)                                                                       \
            return FAIL(s_ == CUBLAS_STATUS_ALLOC_FAILED ? ZB_ERR_OOM : ZB_ERR_DEVICE, "%s failed: %s", name,  \
                        cublasLtGetStatusName(s_));                                                            \
    } while (0)

zb_status make_layout(cublasLtMatrixLayout_t *l, cudaDataType_t t, int64_t r, int64_t c, int64_t ld, int batch,
                      int64_t stride, zb_error *err)
{
    LT_TRY("cublasLtMatrixLayoutCreate", cublasLtMatrixLayoutCreate(l, t, (uint64_t)r, (uint64_t)c, ld));
    if (batch > 1) {
        const int32_t n = batch;
        LT_TRY("cublasLtMatrixLayoutSetAttribute(BATCH_COUNT)",
               cublasLtMatrixLayoutSetAttribute(*l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &n, sizeof n));
        LT_TRY("cublasLtMatrixLayoutSetAttribute(STRIDED_BATCH_OFFSET)",
               cublasLtMatrixLayoutSetAttribute(*l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride,
                                                sizeof stride));
    }
    return ZB_OK;
}

/* Builds descriptors and asks the heuristic for its first choice (choice
 * number b->candidate under the benchmark hook zb_blas_use_candidate).
 * Row-major Y[rows][out] = X W^T is, seen column-major, D[out x rows] =
 * W^T(k x m, transposed) * X(k x n): m = out, n = rows, k = in, TRANSA = T,
 * TRANSB = N (the "TN" form cuBLASLt is fastest at), all ld as given.
 * Returns ZB_ERR_UNSUPPORTED (err untouched) when no algorithm (or no such
 * choice) exists. */
zb_status plan_build(zb_blas *b, Plan *p, const PlanKey &k, const float *bias, int try_bias_epilogue, zb_error *err)
{
    const cudaDataType_t yt = k.y_f32 ? CUDA_R_32F : ZBK_CUDA_HALF;
    LT_TRY("cublasLtMatmulDescCreate", cublasLtMatmulDescCreate(&p->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    const int32_t opT = CUBLAS_OP_T, opN = CUBLAS_OP_N;
    LT_TRY("cublasLtMatmulDescSetAttribute(TRANSA)",
           cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &opT, sizeof opT));
    LT_TRY("cublasLtMatmulDescSetAttribute(TRANSB)",
           cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &opN, sizeof opN));
    if (try_bias_epilogue) {
        const uint32_t epi = CUBLASLT_EPILOGUE_BIAS;
        const int32_t bt = CUDA_R_32F; /* our biases are fp32 even when Y is 16-bit */
        LT_TRY("cublasLtMatmulDescSetAttribute(EPILOGUE)",
               cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
        LT_TRY("cublasLtMatmulDescSetAttribute(BIAS_DATA_TYPE)",
               cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof bt));
        LT_TRY("cublasLtMatmulDescSetAttribute(BIAS_POINTER)",
               cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
    }
    const int batch = (int)k.batch;
    zb_status s;
    if ((s = make_layout(&p->la, ZBK_CUDA_HALF, k.in, k.out, k.ldw, batch, k.sw, err)) != ZB_OK) return s;
    if ((s = make_layout(&p->lb, ZBK_CUDA_HALF, k.in, k.rows, k.ldx, batch, k.sx, err)) != ZB_OK) return s;
    if ((s = make_layout(&p->lc, yt, k.out, k.rows, k.ldy, batch, k.sy, err)) != ZB_OK) return s;

    cublasLtMatmulPreference_t pref;
    LT_TRY("cublasLtMatmulPreferenceCreate", cublasLtMatmulPreferenceCreate(&pref));
    const uint64_t ws = b->workspace_bytes;
    const uint32_t ax = (uint32_t)k.al_x, aw = (uint32_t)k.al_w, ay = (uint32_t)k.al_y;
    cublasStatus_t st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws,
                                                             sizeof ws);
    if (st == CUBLAS_STATUS_SUCCESS)
        st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &aw, sizeof aw);
    if (st == CUBLAS_STATUS_SUCCESS)
        st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &ax, sizeof ax);
    if (st == CUBLAS_STATUS_SUCCESS)
        st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &ay, sizeof ay);
    if (st == CUBLAS_STATUS_SUCCESS)
        st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &ay, sizeof ay);
    if (st != CUBLAS_STATUS_SUCCESS) {
        cublasLtMatmulPreferenceDestroy(pref);
        return FAIL(ZB_ERR_DEVICE, "cublasLtMatmulPreferenceSetAttribute failed: %s", cublasLtGetStatusName(st));
    }
    cublasLtMatmulHeuristicResult_t res[kMaxCandidates];
    int found = 0;
    st = cublasLtMatmulAlgoGetHeuristic(b->lt, p->desc, p->la, p->lb, p->lc, p->lc, pref, b->candidate + 1, res,
                                        &found);
    cublasLtMatmulPreferenceDestroy(pref);
    /* NOT_SUPPORTED is how the heuristic says "no algorithm for this" */
    if (st == CUBLAS_STATUS_NOT_SUPPORTED || (st == CUBLAS_STATUS_SUCCESS && found <= b->candidate))
        return ZB_ERR_UNSUPPORTED;
    if (st != CUBLAS_STATUS_SUCCESS)
        return FAIL(ZB_ERR_DEVICE, "cublasLtMatmulAlgoGetHeuristic failed: %s", cublasLtGetStatusName(st));
    p->algo = res[b->candidate].algo;
    p->bias_epilogue = try_bias_epilogue;
    return ZB_OK;
}

/* Finds or builds the plan of key k (LRU eviction of a full cache). */
zb_status plan_get(zb_blas *b, const PlanKey &k, const float *bias, Plan **out, zb_error *err)
{
    Plan *victim = &b->plans[0];
    for (int i = 0; i < kPlanSlots; i++) {
        Plan *p = &b->plans[i];
        if (p->last_use && !memcmp(&p->key, &k, sizeof k)) {
            p->last_use = ++b->clock;
            *out = p;
            return ZB_OK;
        }
        if (p->last_use < victim->last_use) victim = p;
    }
    plan_release(victim);
    victim->key = k;
    zb_status s = plan_build(b, victim, k, bias, k.bias != 0, err);
    if (s != ZB_OK && k.bias) {
        /* cuBLASLt 13.0 takes an fp32 bias with an f32 D, but its heuristic
         * rejects it with a 16-bit D (INVALID_VALUE, seen on the H100): plan
         * the product alone and add the bias with add_bias_kernel. A real
         * failure shows again in the plan without the epilogue. */
        plan_release(victim);
        victim->key = k;
        s = plan_build(b, victim, k, nullptr, 0, err);
    }
    if (s == ZB_ERR_UNSUPPORTED && b->candidate > 0) {
        /* a benchmark asked for a candidate the heuristic does not have */
        plan_release(victim);
        return FAIL(ZB_ERR_UNSUPPORTED, "cuBLASLt offers no candidate %d for this product", b->candidate);
    }
    if (s == ZB_ERR_UNSUPPORTED) {
        plan_release(victim);
        victim->key = k;
        victim->use_gemv = 1;
        s = ZB_OK;
    }
    if (s != ZB_OK) {
        plan_release(victim);
        return s;
    }
    victim->last_use = ++b->clock;
    *out = victim;
    return ZB_OK;
}

zb_status check_args(const zb_blas *b, const zb_linear_args *a, zb_error *err)
{
    if (!b || !a) return FAIL(ZB_ERR_INVALID, "zb_linear: NULL context or arguments");
    if (a->rows < 0 || a->in <= 0 || a->out <= 0 || a->batch < 1)
        return FAIL(ZB_ERR_INVALID, "zb_linear: bad shape rows=%d in=%d out=%d batch=%d", a->rows, a->in, a->out,
                    a->batch);
    if (a->y_dtype != ZBK_HALF_DTYPE && a->y_dtype != ZB_DTYPE_F32)
        return FAIL(ZB_ERR_INVALID, "zb_linear: y dtype %s is not %s or f32", zb_dtype_name(a->y_dtype),
                    zb_dtype_name(ZBK_HALF_DTYPE));
    if (a->accumulate && a->y_dtype != ZB_DTYPE_F32)
        return FAIL(ZB_ERR_INVALID, "zb_linear: accumulate needs an f32 Y");
    if (a->ldx < a->in || a->ldw < a->in || a->ldy < a->out)
        return FAIL(ZB_ERR_INVALID, "zb_linear: ld too small (ldx=%lld ldw=%lld ldy=%lld for in=%d out=%d)",
                    (long long)a->ldx, (long long)a->ldw, (long long)a->ldy, a->in, a->out);
    if (a->batch > 1 && (a->stride_x < 0 || a->stride_w < 0 || a->stride_y < 0))
        return FAIL(ZB_ERR_INVALID, "zb_linear: negative batch stride");
    if (a->rows > 0 && (!a->x || !a->w || !a->y)) return FAIL(ZB_ERR_INVALID, "zb_linear: NULL matrix pointer");
    if (a->batch > 65535 || a->rows > 8 * 65535)
        return FAIL(ZB_ERR_UNSUPPORTED, "zb_linear: batch %d or rows %d too large", a->batch, a->rows);
    return ZB_OK;
}

zb_status run_gemv(const zb_linear_args *a, int variant, int sm_count, cudaStream_t stream, zb_error *err)
{
    const cudaError_t e = launch_gemv(a, variant, sm_count, stream);
    if (e != cudaSuccess)
        return FAIL(ZB_ERR_DEVICE, "gemv_kernel launch (rows=%d in=%d out=%d batch=%d) failed: %s", a->rows, a->in,
                    a->out, a->batch, cudaGetErrorString(e));
    return ZB_OK;
}

zb_status run_lt(zb_blas *b, const zb_linear_args *a, cudaStream_t stream, zb_error *err)
{
    const bool f32 = a->y_dtype == ZB_DTYPE_F32;
    const bool bias = a->bias && !a->accumulate;
    const int64_t one = a->batch > 1;
    PlanKey k;
    memset(&k, 0, sizeof k);
    k.rows = a->rows, k.in = a->in, k.out = a->out, k.batch = a->batch;
    k.ldx = a->ldx, k.ldw = a->ldw, k.ldy = a->ldy;
    k.sx = one * a->stride_x, k.sw = one * a->stride_w, k.sy = one * a->stride_y;
    k.y_f32 = f32, k.bias = bias, k.accumulate = a->accumulate != 0;
    k.al_x = alignment(a->x, a->ldx, k.sx, 2);
    k.al_w = alignment(a->w, a->ldw, k.sw, 2);
    k.al_y = alignment(a->y, a->ldy, k.sy, f32 ? 4 : 2);
    k.al_bias = bias ? alignment(a->bias, 0, 0, 4) : 0;

    Plan *p;
    zb_status s = plan_get(b, k, bias ? a->bias : nullptr, &p, err);
    if (s != ZB_OK) return s;
    if (p->use_gemv) return run_gemv(a, 0, b->sm_count, stream, err);
    if (p->bias_epilogue)
        LT_TRY("cublasLtMatmulDescSetAttribute(BIAS_POINTER)",
               cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &a->bias, sizeof a->bias));
    const float alpha = 1.0f, beta = a->accumulate ? 1.0f : 0.0f;
    cublasStatus_t st = cublasLtMatmul(b->lt, p->desc, &alpha, a->w, p->la, a->x, p->lb, &beta, a->y, p->lc, a->y,
                                       p->lc, &p->algo, b->workspace, b->workspace_bytes, stream);
    if (st == CUBLAS_STATUS_NOT_SUPPORTED && p->bias_epilogue) {
        /* The heuristic accepted the fp32-bias epilogue but the launch did
         * not: plan again without it (bias by add_bias_kernel). */
        plan_release(p);
        p->key = k;
        s = plan_build(b, p, k, nullptr, 0, err);
        if (s != ZB_OK) {
            plan_release(p);
            return s == ZB_ERR_UNSUPPORTED ? FAIL(ZB_ERR_DEVICE, "cuBLASLt: no algorithm without bias epilogue") : s;
        }
        p->last_use = ++b->clock;
        st = cublasLtMatmul(b->lt, p->desc, &alpha, a->w, p->la, a->x, p->lb, &beta, a->y, p->lc, a->y, p->lc,
                            &p->algo, b->workspace, b->workspace_bytes, stream);
    }
    if (st != CUBLAS_STATUS_SUCCESS)
        return FAIL(st == CUBLAS_STATUS_ALLOC_FAILED ? ZB_ERR_OOM : ZB_ERR_DEVICE,
                    "cublasLtMatmul (m=%d n=%d k=%d batch=%d) failed: %s", a->out, a->rows, a->in, a->batch,
                    cublasLtGetStatusName(st));
    if (bias && !p->bias_epilogue) {
        const int64_t n = (int64_t)a->batch * a->rows * a->out;
        add_bias_kernel<<<zbk_grid_1d(n, 256), 256, 0, stream>>>(a->y, f32, a->ldy, k.sy, a->rows, a->out, a->batch,
                                                                  a->bias);
        CUDA_TRY("add_bias_kernel launch", cudaGetLastError());
    }
    return ZB_OK;
}

} // namespace

extern "C" zb_status zb_blas_create(zb_blas **out, size_t workspace_bytes, zb_error *err)
{
    if (!out) return FAIL(ZB_ERR_INVALID, "zb_blas_create: NULL output");
    *out = nullptr;
    /* 0 asks for the default: 32 MiB covers cuBLASLt's split-K algorithms on Hopper. */
    if (workspace_bytes == 0) workspace_bytes = (size_t)32 << 20;
    zb_blas *b = static_cast<zb_blas *>(calloc(1, sizeof(zb_blas)));
    if (!b) return FAIL(ZB_ERR_OOM, "zb_blas_create: out of host memory (%zu bytes)", sizeof(zb_blas));
    int dev = 0;
    cudaError_t e = cudaGetDevice(&dev);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&b->sm_count, cudaDevAttrMultiProcessorCount, dev);
    if (e != cudaSuccess) {
        free(b);
        return FAIL(ZB_ERR_DEVICE, "cudaDeviceGetAttribute(MultiProcessorCount) failed: %s", cudaGetErrorString(e));
    }
    e = cudaMalloc(&b->workspace, workspace_bytes);
    if (e != cudaSuccess) {
        free(b);
        return FAIL(e == cudaErrorMemoryAllocation ? ZB_ERR_OOM : ZB_ERR_DEVICE,
                    "cudaMalloc(%zu bytes) for the cuBLASLt workspace failed: %s", workspace_bytes,
                    cudaGetErrorString(e));
    }
    b->workspace_bytes = workspace_bytes;
    /* Zeroed once: cuBLASLt's split-K GEMMs write their partial sums here
     * with TMA stores, which compute-sanitizer's initcheck does not see, and
     * then report the reads of cuBLASLt's own reduction kernel
     * (splitKreduce_kernel, chosen for some f16 shapes in test_dense on the
     * H100) as uninitialised. The same blind spot as the session arena's. */
    e = cudaMemset(b->workspace, 0, workspace_bytes);
    if (e != cudaSuccess) {
        cudaFree(b->workspace);
        free(b);
        return FAIL(ZB_ERR_DEVICE, "cudaMemset of the cuBLASLt workspace failed: %s", cudaGetErrorString(e));
    }
    const cublasStatus_t s = cublasLtCreate(&b->lt);
    if (s != CUBLAS_STATUS_SUCCESS) {
        cudaFree(b->workspace);
        free(b);
        return FAIL(ZB_ERR_DEVICE, "cublasLtCreate failed: %s", cublasLtGetStatusName(s));
    }
    *out = b;
    return ZB_OK;
}

extern "C" void zb_blas_destroy(zb_blas *b)
{
    if (!b) return;
    for (int i = 0; i < kPlanSlots; i++) plan_release(&b->plans[i]);
    cublasLtDestroy(b->lt);
    cudaFree(b->workspace);
    free(b);
}

extern "C" size_t zb_blas_workspace_bytes(const zb_blas *b) { return b ? b->workspace_bytes : 0; }

extern "C" zb_status zb_linear(zb_blas *b, const zb_linear_args *a, cudaStream_t stream, zb_error *err)
{
    zb_status s = check_args(b, a, err);
    if (s != ZB_OK || a->rows == 0) return s;
    if (a->rows <= 8) return run_gemv(a, 0, b->sm_count, stream, err);
    return run_lt(b, a, stream, err);
}

/* Benchmark hook, not part of zb_kernels.h (tests/gpu/test_dense.cu
 * declares it): variant -1 forces cuBLASLt at any rows, 0.. picks a GEMV
 * tuning (kGemvCfgs), whatever the rows. */
extern "C" zb_status zb_linear_variant(zb_blas *b, const zb_linear_args *a, int variant, cudaStream_t stream,
                                       zb_error *err)
{
    zb_status s = check_args(b, a, err);
    if (s != ZB_OK || a->rows == 0) return s;
    if (variant < 0) return run_lt(b, a, stream, err);
    if (variant >= kGemvVariants) return FAIL(ZB_ERR_INVALID, "zb_linear_variant: no variant %d", variant);
    return run_gemv(a, variant, b->sm_count, stream, err);
}

extern "C" int zb_linear_variant_count(void) { return kGemvVariants; }

/* Benchmark hook, not part of zb_kernels.h (tests/gpu/test_dense.cu
 * declares it): plans built from now on take the heuristic's result number
 * `candidate` (0, its first choice, is what zb_linear always uses) instead
 * of the first; the cached plans are dropped. A product whose heuristic
 * offers fewer results then fails with ZB_ERR_UNSUPPORTED. */
extern "C" zb_status zb_blas_use_candidate(zb_blas *b, int candidate, zb_error *err)
{
    if (!b || candidate < 0 || candidate >= kMaxCandidates)
        return FAIL(ZB_ERR_INVALID, "zb_blas_use_candidate: candidate %d outside 0..%d", candidate,
                    kMaxCandidates - 1);
    for (int i = 0; i < kPlanSlots; i++) plan_release(&b->plans[i]);
    b->candidate = candidate;
    return ZB_OK;
}

/* Test hook: how the cached plans run (counts of plans using cuBLASLt with
 * the bias epilogue, cuBLASLt plus add_bias_kernel, cuBLASLt without bias,
 * and the GEMV fallback). */
extern "C" void zb_blas_plan_stats(const zb_blas *b, int counts[4])
{
    counts[0] = counts[1] = counts[2] = counts[3] = 0;
    for (int i = 0; b && i < kPlanSlots; i++) {
        const Plan &p = b->plans[i];
        if (!p.last_use) continue;
        counts[p.use_gemv ? 3 : p.bias_epilogue ? 0 : p.key.bias ? 1 : 2]++;
    }
}
