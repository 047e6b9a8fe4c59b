/*
 * Shared helpers of the GPU kernel tests and micro-benchmarks (CUDA C++).
 *
 * Every test binary: exits 0 with "SKIP: ..." when there is no CUDA device;
 * checks each kernel against reference/ on fresh random inputs (never zeros)
 * with outputs poisoned first; with --bench also times each kernel with CUDA
 * events after warm-up, L2 flushed before every timed launch, and prints
 * the median with GB/s or TFLOP/s and % of the ceiling.
 */
#ifndef ZB_GPU_TEST_UTIL_H
#define ZB_GPU_TEST_UTIL_H

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "zb_kernels.h"
#include "zbench_plugin.h"
#include "zbk_common.cuh"

/* Measured on the H100 of the GPU machine (see docs/PERF.md). */
#define ZB_CEIL_COPY_GBPS 2990.0
#define ZB_CEIL_BF16_TFLOPS 778.0

#define CUDA_CHECK(call)                                                                                   \
    do {                                                                                                   \
        cudaError_t e_ = (call);                                                                           \
        if (e_ != cudaSuccess) {                                                                           \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_));  \
            exit(1);                                                                                       \
        }                                                                                                  \
    } while (0)

#define TEST_CHECK(cond, ...)                                                                              \
    do {                                                                                                   \
        if (!(cond)) {                                                                                     \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);                       \
            fprintf(stderr, __VA_ARGS__);                                                                  \
            fprintf(stderr, "\n");                                                                         \
            exit(1);                                                                                       \
        }                                                                                                  \
    } while (0)

/* Returns false (after printing SKIP) when no device can run the tests. */
static inline bool gpu_available(const char *test)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
        printf("SKIP %s: no CUDA device\n", test);
        return false;
    }
    return true;
}

/* Whether the command line holds `a` (an exact argument). */
static inline bool has_arg(int argc, char **argv, const char *a)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], a)) return true;
    return false;
}

static inline bool want_bench(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--bench")) return true;
    return false;
}

/* Fresh, seeded uniform values in [lo, hi). A different seed per call site
 * keeps every check on new data. */
struct Rng {
    uint64_t s;
    explicit Rng(uint64_t seed) : s(seed * 0x9e3779b97f4a7c15ull + 1) {}
    float uniform(float lo, float hi)
    {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        return lo + (hi - lo) * (float)((s >> 40) * (1.0 / 16777216.0));
    }
    void fill(std::vector<float> &v, float lo, float hi)
    {
        for (auto &x : v) x = uniform(lo, hi);
    }
};

/* Writes v as element i of buf in dtype t (f32, f16 or bf16; 16-bit ones
 * rounded to nearest even): checkpoint tensors, and expected device bits. */
static inline void put_as(std::vector<uint8_t> &buf, int64_t i, zb_dtype t, float v)
{
    if (t == ZB_DTYPE_F32) {
        memcpy(&buf[(size_t)i * 4], &v, 4);
        return;
    }
    const uint16_t u = t == ZB_DTYPE_BF16 ? zb_f32_to_bf16(v) : __half_as_ushort(__float2half_rn(v));
    memcpy(&buf[(size_t)i * 2], &u, 2);
}

/* Host-side helpers for the engine's 16-bit format (zbk_half: fp16, or bf16
 * when built with ZB_HALF=bf16), through the kernels' own conversions. */
static inline std::vector<uint16_t> to_half(const std::vector<float> &v)
{
    std::vector<uint16_t> out(v.size());
    for (size_t i = 0; i < v.size(); i++) out[i] = zbk_f2h(v[i]);
    return out;
}
static inline std::vector<float> from_half(const std::vector<uint16_t> &v)
{
    std::vector<float> out(v.size());
    for (size_t i = 0; i < v.size(); i++) out[i] = zbk_h2f(v[i]);
    return out;
}
/* Rounds in place to zbk_half, so the CPU reference sees the device's inputs. */
static inline void round_half(std::vector<float> &v)
{
    for (auto &x : v) x = zbk_h2f(zbk_f2h(x));
}

template <typename T> struct DevBuf {
    T *p = nullptr;
    size_t n = 0;
    explicit DevBuf(size_t count) : n(count) { CUDA_CHECK(cudaMalloc(&p, std::max<size_t>(1, n) * sizeof(T))); }
    DevBuf(const std::vector<T> &host) : DevBuf(host.size()) { upload(host); }
    ~DevBuf() { cudaFree(p); }
    DevBuf(const DevBuf &) = delete;
    DevBuf &operator=(const DevBuf &) = delete;
    void upload(const std::vector<T> &host) { CUDA_CHECK(cudaMemcpy(p, host.data(), n * sizeof(T), cudaMemcpyHostToDevice)); }
    std::vector<T> download() const
    {
        std::vector<T> host(n);
        CUDA_CHECK(cudaMemcpy(host.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost));
        return host;
    }
    /* Fills every byte with 0xff: f16, bf16 and f32 NaNs, so unwritten outputs fail. */
    void poison() { CUDA_CHECK(cudaMemset(p, 0xff, n * sizeof(T))); }
};

/* ||out - ref|| / ||ref||; NaN anywhere gives NaN (which fails any bound). */
static inline double rel_err(const float *out, const float *ref, size_t n)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)out[i] - ref[i];
        num += d * d;
        den += (double)ref[i] * ref[i];
    }
    return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

/* Reads every 16 bytes of the flush buffer; the sum keeps it from being elided. */
static __global__ void l2_flush_read(const uint4 *p, size_t n, unsigned *sink)
{
    unsigned acc = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        acc ^= p[i].x ^ p[i].w;
    if (acc == 0x9e3779b9u) *sink = acc;
}

/* Evicts L2 by READING a buffer twice its size, so the next launch starts
 * cold without inheriting dirty lines: a write-based flush leaves ~L2-size
 * of dirty data whose write-back lands inside the next timed kernel and
 * understates memory-bound kernels by several microseconds. */
struct L2Flush {
    DevBuf<uint8_t> buf;
    DevBuf<unsigned> sink;
    L2Flush() : buf(l2_bytes() * 2), sink(1)
    {
        CUDA_CHECK(cudaMemset(buf.p, 0x5a, buf.n));
        CUDA_CHECK(cudaDeviceSynchronize()); /* the dirty lines drain here, untimed */
    }
    static size_t l2_bytes()
    {
        int dev = 0, l2 = 0;
        CUDA_CHECK(cudaGetDevice(&dev));
        CUDA_CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev));
        return l2 > 0 ? (size_t)l2 : (size_t)64 << 20;
    }
    void operator()(cudaStream_t s = 0)
    {
        l2_flush_read<<<264, 512, 0, s>>>((const uint4 *)buf.p, buf.n / 16, sink.p);
        CUDA_CHECK(cudaGetLastError());
    }
};

/* Median device time (ms) of fn over `reps` launches after `warmup`, L2
 * flushed before each (outside the timed interval). */
template <typename F> static inline double time_median_ms(F fn, int warmup = 3, int reps = 20)
{
    L2Flush flush;
    cudaEvent_t a, b;
    CUDA_CHECK(cudaEventCreate(&a));
    CUDA_CHECK(cudaEventCreate(&b));
    for (int i = 0; i < warmup; i++) fn();
    std::vector<float> t;
    for (int i = 0; i < reps; i++) {
        flush();
        CUDA_CHECK(cudaEventRecord(a));
        fn();
        CUDA_CHECK(cudaEventRecord(b));
        CUDA_CHECK(cudaEventSynchronize(b));
        float ms;
        CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
        t.push_back(ms);
    }
    CUDA_CHECK(cudaEventDestroy(a));
    CUDA_CHECK(cudaEventDestroy(b));
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

/* One line of the kernel table: bytes or flops may be 0 when not relevant. */
static inline void bench_line(const char *kernel, const char *shape, double ms, double bytes, double flops)
{
    double gbps = bytes / (ms * 1e-3) / 1e9, tflops = flops / (ms * 1e-3) / 1e12;
    double pct = std::max(bytes > 0 ? 100.0 * gbps / ZB_CEIL_COPY_GBPS : 0.0,
                          flops > 0 ? 100.0 * tflops / ZB_CEIL_BF16_TFLOPS : 0.0);
    printf("BENCH %-24s %-34s %10.2f us %8.1f GB/s %7.1f TFLOP/s %6.1f %%ceil\n", kernel, shape, ms * 1e3, gbps,
           tflops, pct);
}

#endif
