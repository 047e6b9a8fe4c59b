/*
 * zbk_rope_store_kv and zbk_attention against a host reference.
 *
 * The reference mirrors reference/ref_attention.c's inner loop (scores in
 * double, rounded to float, times the scale; float exp of score - max;
 * double sums) on the values the device sees: inputs rounded to bf16, q and
 * k rotated with zb_ref_rope (the engine's inv_freq table is built with the
 * same zb_rope_inv_freq) and rounded to bf16 as the caches store them.
 *
 * Every case draws fresh random inputs, poisons the outputs and the whole
 * cache with NaN bit patterns first (so a kernel that reads a slot outside
 * the visible key range, or leaves an output unwritten, fails), fills the
 * cache slots of the positions before pos0 as an earlier call would have,
 * then checks q_out and every cache slot after zbk_rope_store_kv, and the
 * attention output (rel L2 <= 1e-2; bf16 P and output rounding give a few
 * 1e-3).
 *
 * --bench: median times with L2 flushed, prefill T = 2048 / 16384 and decode
 * at contexts 2048 / 16384 for (32 heads, hd 128) and (16 heads, hd 464).
 */
#include <thread>

#include "gpu_test_util.h"
#include "zb_kernels.h"

extern "C" {
#include "zb_ref.h"
}

#include "attention_common.cuh"

namespace {

const float kTheta = 10000.f;

struct Case {
    const char *name;
    int B, T, pos0, nh, nkv, hd, W, slots;
    bool rope;
};

template <typename F> void parallel_for(int n, F f)
{
    const int nt = std::max(1, std::min(n, (int)std::thread::hardware_concurrency()));
    std::vector<std::thread> th;
    for (int w = 0; w < nt; w++)
        th.emplace_back([&, w] {
            for (int i = w; i < n; i += nt) f(i);
        });
    for (auto &t : th) t.join();
}

/* q [B][T][nh][hd]; K, V [B][npos][nkv][hd] by position; out [B][T][nh][hd]. */
void ref_attention(const Case &c, float scale, const std::vector<float> &q, const std::vector<float> &K,
                   const std::vector<float> &V, std::vector<float> &out)
{
    const int npos = c.pos0 + c.T, hd = c.hd, group = c.nh / c.nkv;
    out.assign((size_t)c.B * c.T * c.nh * hd, 0.f);
    parallel_for(c.B * c.T, [&](int bt) {
        const int b = bt / c.T, t = bt % c.T, p = c.pos0 + t;
        const int window = c.W > 0 ? c.W : p + 1;
        const int first = p - window + 1 > 0 ? p - window + 1 : 0;
        std::vector<float> sc(npos);
        for (int h = 0; h < c.nh; h++) {
            const int kvh = h / group;
            const float *qh = &q[(((size_t)b * c.T + t) * c.nh + h) * hd];
            float mx = -INFINITY;
            for (int j = first; j <= p; j++) {
                const float *kj = &K[(((size_t)b * npos + j) * c.nkv + kvh) * hd];
                double s = 0.0;
                for (int i = 0; i < hd; i++) s += (double)qh[i] * kj[i];
                sc[j] = (float)s * scale;
                mx = std::max(mx, sc[j]);
            }
            double sum = 0.0;
            for (int j = first; j <= p; j++) {
                sc[j] = expf(sc[j] - mx);
                sum += sc[j];
            }
            float *oh = &out[(((size_t)b * c.T + t) * c.nh + h) * hd];
            for (int i = 0; i < hd; i++) {
                double acc = 0.0;
                for (int j = first; j <= p; j++) acc += (double)sc[j] * V[(((size_t)b * npos + j) * c.nkv + kvh) * hd + i];
                oh[i] = (float)(acc / sum);
            }
        }
    });
}

double scale_of(int hd) { return 1.0 / std::sqrt((double)hd); }

/* variant -1: zbk_attention; -2: decode with the position in device memory
 * (as the engine runs every decode step: RoPE/KV store and attention read
 * it, the split planned for the longest context the cache allows, so most
 * chunks of a short context have nothing to do); otherwise
 * zbk_attention_prefill_variant; with refused_ok, a case the variant
 * refuses (cudaErrorInvalidValue, before any launch) is skipped. */
const int kDevicePos = -2;

void run_case(const Case &c, uint64_t seed, int variant = -1, bool refused_ok = false)
{
    Rng rng(seed);
    const int B = c.B, T = c.T, nh = c.nh, nkv = c.nkv, hd = c.hd, npos = c.pos0 + T;
    const int width = (nh + 2 * nkv) * hd;
    const float scale = (float)scale_of(hd);

    std::vector<float> qkv((size_t)B * T * width);
    rng.fill(qkv, -1.5f, 1.5f);
    round_half(qkv);
    /* keys and values by position: before pos0 drawn as already stored, the
     * chunk's from qkv (k rotated on the host) */
    std::vector<float> K((size_t)B * npos * nkv * hd), V(K.size()), qr((size_t)B * T * nh * hd);
    for (int b = 0; b < B; b++)
        for (int j = 0; j < c.pos0; j++)
            for (int e = 0; e < nkv * hd; e++) {
                K[((size_t)b * npos + j) * nkv * hd + e] = rng.uniform(-1.5f, 1.5f);
                V[((size_t)b * npos + j) * nkv * hd + e] = rng.uniform(-1.f, 1.5f);
            }
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *row = &qkv[((size_t)b * T + t) * width];
            const int p = c.pos0 + t;
            for (int h = 0; h < nh; h++) {
                float *d = &qr[(((size_t)b * T + t) * nh + h) * hd];
                std::copy(row + h * hd, row + (h + 1) * hd, d);
                if (c.rope) zb_ref_rope(d, hd, p, kTheta, ZB_DTYPE_BF16);
            }
            for (int h = 0; h < nkv; h++) {
                float *dk = &K[(((size_t)b * npos + p) * nkv + h) * hd];
                std::copy(row + (nh + h) * hd, row + (nh + h + 1) * hd, dk);
                if (c.rope) zb_ref_rope(dk, hd, p, kTheta, ZB_DTYPE_BF16);
                std::copy(row + (nh + nkv + h) * hd, row + (nh + nkv + h + 1) * hd,
                          &V[(((size_t)b * npos + p) * nkv + h) * hd]);
            }
        }
    round_half(K);
    round_half(V);
    round_half(qr);

    /* cache images: NaN bits in never-written slots; positions before pos0
     * that an earlier call left in the ring */
    const size_t cache_n = (size_t)B * c.slots * nkv * hd;
    std::vector<uint16_t> kimg(cache_n, 0xffff), vimg(cache_n, 0xffff);
    auto put = [&](std::vector<uint16_t> &img, const std::vector<float> &src, int b, int j) {
        for (int e = 0; e < nkv * hd; e++)
            img[((size_t)b * c.slots + j % c.slots) * nkv * hd + e] =
                zbk_f2h(src[((size_t)b * npos + j) * nkv * hd + e]);
    };
    for (int b = 0; b < B; b++)
        for (int j = std::max(0, c.pos0 - c.slots); j < c.pos0; j++) {
            put(kimg, K, b, j);
            put(vimg, V, b, j);
        }
    DevBuf<uint16_t> d_qkv(to_half(qkv)), d_q((size_t)B * T * nh * hd), d_out((size_t)B * T * nh * hd);
    DevBuf<uint16_t> d_k(kimg), d_v(vimg);
    std::vector<float> inv(hd / 2);
    for (int i = 0; i < hd / 2; i++) inv[i] = zb_rope_inv_freq(kTheta, i, hd, ZB_DTYPE_BF16);
    DevBuf<float> d_inv(inv);
    d_q.poison();
    d_out.poison();

    const bool dev_pos = variant == kDevicePos;
    /* the largest position the plan must allow: the ring's when there is no
     * window, else far past this one */
    const int max_pos = c.W > 0 ? c.pos0 + 4 * c.slots : c.slots - 1;
    DevBuf<int32_t> d_pos(std::vector<int32_t>{c.pos0});
    /* a wrong host position must not matter when the device has it */
    CUDA_CHECK(zbk_rope_store_kv(d_qkv.p, B, T, dev_pos ? c.pos0 + 7 : c.pos0, dev_pos ? d_pos.p : nullptr, nh, nkv,
                                 hd, c.rope ? d_inv.p : nullptr, d_q.p, d_k.p, d_v.p, c.slots, 0));
    CUDA_CHECK(cudaDeviceSynchronize());

    /* q_out and every cache slot */
    {
        const std::vector<float> qo = from_half(d_q.download());
        const double eq = rel_err(qo.data(), qr.data(), qr.size());
        TEST_CHECK(eq < 2e-3, "%s: q_out rel err %g", c.name, eq);
        for (int b = 0; b < B; b++)
            for (int j = c.pos0; j < npos; j++) {
                put(kimg, K, b, j);
                put(vimg, V, b, j);
            }
        const std::vector<uint16_t> kd = d_k.download(), vd = d_v.download();
        double num = 0, den = 0;
        for (size_t i = 0; i < cache_n; i++) {
            for (int w = 0; w < 2; w++) {
                const uint16_t e = w ? vimg[i] : kimg[i], a = w ? vd[i] : kd[i];
                if (e == 0xffff) {
                    TEST_CHECK(a == 0xffff, "%s: cache element %zu written outside the chunk's slots", c.name, i);
                    continue;
                }
                const double d = (double)zbk_h2f(a) - zbk_h2f(e);
                num += d * d;
                den += (double)zbk_h2f(e) * zbk_h2f(e);
            }
        }
        const double ek = std::sqrt(num / den);
        TEST_CHECK(ek < 2e-3, "%s: cache rel err %g", c.name, ek);
    }

    const size_t scratch = zbk_attention_scratch_bytes(B, nh, hd, dev_pos ? std::min(max_pos + 1, c.slots) : npos);
    DevBuf<uint8_t> d_part(scratch);
    d_part.poison(); /* partials of chunks that do not run must not be read */
    CUDA_CHECK(cudaMemset(d_part.p, 0, std::min(scratch, zbk_attention_scratch_zero_bytes(B, nh))));
    zbk_attention_args a;
    memset(&a, 0, sizeof a);
    a.q = d_q.p;
    a.kc = d_k.p;
    a.vc = d_v.p;
    a.out = d_out.p;
    a.batch = B;
    a.T = T;
    a.pos0 = c.pos0;
    a.nh = nh;
    a.nkv = nkv;
    a.hd = hd;
    a.slots = c.slots;
    a.window = c.W;
    a.scale = scale;
    a.partial = d_part.p;
    a.partial_bytes = scratch;
    if (dev_pos) {
        a.pos0 = c.pos0 + 7;
        a.pos_dev = d_pos.p;
        a.max_pos = max_pos;
    }
    if (variant < 0)
        CUDA_CHECK(zbk_attention(&a, 0));
    else {
        const cudaError_t e = zbk_attention_prefill_variant(&a, variant, 0);
        if (refused_ok && e == cudaErrorInvalidValue) {
            printf("skip %-28s variant %d refuses hd=%d\n", c.name, variant, hd);
            return;
        }
        CUDA_CHECK(e);
    }
    CUDA_CHECK(cudaDeviceSynchronize());

    std::vector<float> ref;
    ref_attention(c, scale, qr, K, V, ref);
    const std::vector<float> got = from_half(d_out.download());
    const double err = rel_err(got.data(), ref.data(), ref.size());
    printf("ok   %-28s B=%d T=%-5d pos0=%-5d nh=%-2d nkv=%-2d hd=%-3d W=%-4d slots=%-5d variant=%-2d rel_err=%.2e\n",
           c.name, B, T, c.pos0, nh, nkv, hd, c.W, c.slots, variant, err);
    TEST_CHECK(err < 1e-2, "%s (variant %d): attention rel err %g", c.name, variant, err);
    if (T == 1 && variant < 0) {
        /* decode again on the same scratch: the chunk counters must be back
         * at zero, and the merge order fixed, so the same bits come out */
        const std::vector<uint16_t> first = d_out.download();
        d_out.poison();
        CUDA_CHECK(zbk_attention(&a, 0));
        CUDA_CHECK(cudaDeviceSynchronize());
        TEST_CHECK(d_out.download() == first, "%s: a second decode call on the same scratch differs", c.name);
    }
}

/* Calls the kernels must refuse, with nothing launched. */
void run_refusals()
{
    DevBuf<uint16_t> buf(1 << 21), obuf(1 << 14);
    buf.poison();
    zbk_attention_args a;
    memset(&a, 0, sizeof a);
    a.q = a.kc = a.vc = buf.p;
    a.out = obuf.p;
    a.batch = 1;
    a.nh = 4;
    a.nkv = 2;
    a.hd = 128;
    a.scale = 0.1f;
    /* a ring of window entries cannot hold a 10-token chunk past the window */
    a.T = 10;
    a.pos0 = 5000;
    a.window = 4096;
    a.slots = 4096;
    TEST_CHECK(zbk_attention(&a, 0) == cudaErrorInvalidValue, "ring overflow accepted");
    /* a device position is for decode only, and its bound must fit the ring */
    int32_t *dpos = nullptr;
    CUDA_CHECK(cudaMalloc(&dpos, sizeof(int32_t)));
    a.pos_dev = dpos;
    a.max_pos = 100;
    TEST_CHECK(zbk_attention(&a, 0) == cudaErrorInvalidValue, "device position with T > 1 accepted");
    a.T = 1;
    a.window = 0;
    a.slots = 64;
    TEST_CHECK(zbk_attention(&a, 0) == cudaErrorInvalidValue, "max_pos past the cache accepted");
    a.max_pos = -1;
    TEST_CHECK(zbk_attention(&a, 0) == cudaErrorInvalidValue, "negative max_pos accepted");
    CUDA_CHECK(cudaFree(dpos));
    a.pos_dev = nullptr;
    a.T = 10;
    a.window = 4096;
    a.slots = 4096 + 9; /* window + T - 1 fits */
    TEST_CHECK(zbk_attention_prefill_variant(&a, 3, 0) == cudaSuccess, "window + T - 1 slots refused");
    CUDA_CHECK(cudaDeviceSynchronize());
    /* full attention needs every position */
    a.window = 0;
    a.slots = 5009;
    TEST_CHECK(zbk_attention(&a, 0) == cudaErrorInvalidValue, "cache smaller than the context accepted");
    /* decode with too little scratch */
    a.T = 1;
    a.slots = 8192;
    a.partial = nullptr;
    a.partial_bytes = 0;
    TEST_CHECK(zbk_attention(&a, 0) == cudaErrorInvalidValue, "missing scratch accepted");
    TEST_CHECK(zbk_rope_store_kv(buf.p, 1, 20, 0, nullptr, 4, 2, 128, nullptr, buf.p, buf.p, buf.p, 16, 0) ==
                   cudaErrorInvalidValue,
               "T > slots accepted by rope_store");
    CUDA_CHECK(cudaGetLastError());
    printf("ok   refusals\n");
}

/* ---------------------------------------------------------------- bench */

__global__ void fill_random(uint16_t *p, size_t n, uint64_t seed)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ull ^ seed;
        x ^= x >> 31;
        x *= 0xbf58476d1ce4e5b9ull;
        x ^= x >> 29;
        const float u = (float)(x >> 40) * (1.0f / 16777216.0f) * 3.0f - 1.5f;
        p[i] = zbk_f2h(u);
    }
}

void fill(DevBuf<uint16_t> &b, uint64_t seed)
{
    fill_random<<<1024, 256>>>(b.p, b.n, seed);
    CUDA_CHECK(cudaGetLastError());
}

/* A causal prefill of T tokens timed whole, or as zbench runs it: in
 * launches of chunk queries each (pos0 = 0, chunk, 2 chunk, ...). */
void bench_prefill(const char *label, int T, int nh, int nkv, int hd, int W, int variant, int chunk = 0)
{
    DevBuf<uint16_t> q((size_t)T * nh * hd), k((size_t)T * nkv * hd), v(k.n), out(q.n);
    fill(q, 1);
    fill(k, 2);
    fill(v, 3);
    const int C = chunk > 0 ? chunk : T;
    zbk_attention_args a;
    memset(&a, 0, sizeof a);
    a.kc = k.p;
    a.vc = v.p;
    a.batch = 1;
    a.nh = nh;
    a.nkv = nkv;
    a.hd = hd;
    a.slots = T;
    a.window = W;
    a.scale = (float)scale_of(hd);
    const double ms = time_median_ms([&] {
        for (int p0 = 0; p0 < T; p0 += C) {
            a.q = q.p + (size_t)p0 * nh * hd;
            a.out = out.p + (size_t)p0 * nh * hd;
            a.pos0 = p0;
            a.T = std::min(C, T - p0);
            CUDA_CHECK(zbk_attention_prefill_variant(&a, variant, 0));
        }
    });
    double keys = 0; /* visible (query, key) pairs */
    for (int t = 0; t < T; t++) keys += W > 0 ? std::min(t + 1, W) : t + 1;
    char shape[96];
    if (chunk > 0)
        snprintf(shape, sizeof shape, "T=%d/%d nh=%d/%d hd=%d W=%d v%d", T, chunk, nh, nkv, hd, W, variant);
    else
        snprintf(shape, sizeof shape, "T=%d nh=%d/%d hd=%d W=%d v%d", T, nh, nkv, hd, W, variant);
    /* FLOPs as the brief counts them: 2 * 2 * T * T / 2 * hd * nh (causal half) */
    const double flops = W > 0 ? 4.0 * keys * hd * nh : 2.0 * 2.0 * T * (double)T / 2.0 * hd * nh;
    bench_line(label, shape, ms, 0, flops);
}

void bench_decode(const char *label, int B, int ctx, int nh, int nkv, int hd)
{
    DevBuf<uint16_t> q((size_t)B * nh * hd), k((size_t)B * ctx * nkv * hd), v(k.n), out(q.n);
    fill(q, 4);
    fill(k, 5);
    fill(v, 6);
    const size_t scratch = zbk_attention_scratch_bytes(B, nh, hd, ctx);
    DevBuf<uint8_t> part(scratch);
    CUDA_CHECK(cudaMemset(part.p, 0, scratch)); /* the chunk counters start at zero */
    zbk_attention_args a;
    memset(&a, 0, sizeof a);
    a.q = q.p;
    a.kc = k.p;
    a.vc = v.p;
    a.out = out.p;
    a.batch = B;
    a.T = 1;
    a.pos0 = ctx - 1;
    a.nh = nh;
    a.nkv = nkv;
    a.hd = hd;
    a.slots = ctx;
    a.scale = (float)scale_of(hd);
    a.partial = part.p;
    a.partial_bytes = scratch;
    const double ms = time_median_ms([&] { CUDA_CHECK(zbk_attention(&a, 0)); }, 5, 50);
    char shape[96];
    snprintf(shape, sizeof shape, "B=%d ctx=%d nh=%d/%d hd=%d", B, ctx, nh, nkv, hd);
    bench_line(label, shape, ms, 2.0 * B * ctx * nkv * hd * 2.0, 0);
}

void bench_rope(int T, int nh, int nkv, int hd)
{
    const size_t width = (size_t)(nh + 2 * nkv) * hd;
    DevBuf<uint16_t> qkv(T * width), q((size_t)T * nh * hd), k((size_t)T * nkv * hd), v(k.n);
    fill(qkv, 7);
    std::vector<float> inv(hd / 2);
    for (int i = 0; i < hd / 2; i++) inv[i] = zb_rope_inv_freq(kTheta, i, hd, ZB_DTYPE_BF16);
    DevBuf<float> d_inv(inv);
    const double ms = time_median_ms(
        [&] { CUDA_CHECK(zbk_rope_store_kv(qkv.p, 1, T, 0, nullptr, nh, nkv, hd, d_inv.p, q.p, k.p, v.p, T, 0)); });
    char shape[96];
    snprintf(shape, sizeof shape, "T=%d nh=%d/%d hd=%d", T, nh, nkv, hd);
    bench_line("rope_store_kv", shape, ms, 2.0 * T * width * 2.0, 0);
}

bool is_sm90();

/* One launch of each prefill shape that matters, for a profiler (and the
 * head-dim-464 one with every head in one group, variant 7, to compare
 * with the one head per group that zbk_attention picks there). */
void profile_once()
{
    struct P {
        int T, nh, hd, variant;
    } ps[] = {{16384, 32, 128, 0}, {16384, 16, 464, 0}, {16384, 16, 464, 7}};
    for (const P &x : ps) {
        if (x.variant == 7 && !is_sm90()) continue;
        DevBuf<uint16_t> q((size_t)x.T * x.nh * x.hd), k(q.n), v(q.n), out(q.n);
        fill(q, 1);
        fill(k, 2);
        fill(v, 3);
        zbk_attention_args a;
        memset(&a, 0, sizeof a);
        a.q = q.p;
        a.kc = k.p;
        a.vc = v.p;
        a.out = out.p;
        a.batch = 1;
        a.T = x.T;
        a.nh = a.nkv = x.nh;
        a.hd = x.hd;
        a.slots = x.T;
        a.scale = (float)scale_of(x.hd);
        CUDA_CHECK(zbk_attention_prefill_variant(&a, x.variant, 0));
        CUDA_CHECK(cudaDeviceSynchronize());
    }
}

/* Does this device run the sm_90a (wgmma) kernel? */
bool is_sm90()
{
    int dev = 0, major = 0, minor = 0;
    CUDA_CHECK(cudaGetDevice(&dev));
    CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
    CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev));
    return major == 9 && minor == 0;
}

/* The text after option `name`, or null. */
const char *str_arg(int argc, char **argv, const char *name)
{
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], name)) return argv[i + 1];
    return nullptr;
}

/* The value after option `name`, or -1. */
int int_arg(int argc, char **argv, const char *name)
{
    const char *v = str_arg(argc, argv, name);
    return v ? atoi(v) : -1;
}

} // namespace

/* --bench: the checks, then the timings; --bench-only: timings alone;
 * --decode [--bench | --bench-only]: the decode cases (position on the host,
 * then in device memory), then decode timed at contexts 256 to 16384;
 * --profile: one launch of the two large prefill shapes (for ncu);
 * --small: a few small checks, one per kernel (for compute-sanitizer);
 * --variant V [--case TEXT]: every prefill case (whose name contains TEXT)
 * through variant V, those it refuses skipped (a kernel under development;
 * stops at the first failure); for V = 5 or 7 with --bench, then the
 * large prefill shapes, whole and in zbench's chunks of 4096 and 8192,
 * timed with variants 6 (the mma.sync kernels), 5 (the wgmma kernels) and
 * 8 and 7 (the same with every head in one group); for V = 9 with
 * --bench, Zamba's shapes timed with variants 5 and 9 (V = 14: 9 and 14,
 * whole and in chunks of 8192); for V = 10 with
 * --bench, Llama's and Mistral's timed with variants 10, 11 and 12 (the
 * head-dim-128 wgmma kernels: two stages, pipelined, tensor copies). */
int main(int argc, char **argv)
{
    if (!gpu_available("test_attention")) return 0;
    if (has_arg(argc, argv, "--profile")) {
        profile_once();
        return 0;
    }
    const bool bench_only = has_arg(argc, argv, "--bench-only");
    const Case cases[] = {
        /* prefill */
        {"hd16 gqa", 1, 33, 0, 4, 2, 16, 0, 64, true},
        {"hd32 batch3", 3, 130, 0, 4, 4, 32, 0, 130, true},
        {"hd48 chunk", 1, 7, 5, 4, 2, 48, 0, 12, true},
        {"hd72 batch3 chunk", 3, 130, 70, 4, 2, 72, 0, 256, true},
        {"hd128 T1000 gqa", 1, 1000, 0, 8, 2, 128, 0, 1000, true},
        {"hd128 gqa 32/8", 1, 130, 0, 32, 8, 128, 0, 160, true},
        {"hd128 batch3 chunk", 3, 130, 300, 4, 4, 128, 0, 430, true},
        {"hd128 T7 chunk", 1, 7, 1000, 4, 2, 128, 0, 2048, true},
        {"hd128 T33 no rope", 1, 33, 64, 4, 4, 128, 0, 97, false},
        {"hd128 swa W<T", 1, 130, 0, 4, 2, 128, 64, 130, true},
        {"hd128 swa ring", 1, 33, 250, 4, 2, 128, 100, 132, true},
        {"hd128 swa ring batch3", 3, 130, 100, 4, 2, 128, 64, 193, true},
        {"hd128 swa T1000 ring", 1, 1000, 1500, 4, 2, 128, 200, 1199, true},
        {"hd464 T1000", 1, 1000, 0, 2, 2, 464, 0, 1000, false},
        {"hd464 batch3 chunk", 3, 130, 200, 4, 4, 464, 0, 330, false},
        {"hd464 swa gqa", 1, 130, 20, 4, 2, 464, 50, 150, true},
        {"hd464 T7", 1, 7, 33, 16, 16, 464, 0, 40, false},
        {"hd50 4-byte rows", 1, 33, 10, 4, 2, 50, 0, 43, true},
        {"hd200 split256", 1, 130, 0, 4, 2, 200, 0, 130, true},
        {"hd500 split512", 1, 70, 3, 2, 1, 500, 0, 73, true},
        {"hd520 generic", 1, 33, 5, 2, 1, 520, 0, 38, true},
        /* decode */
        {"dec ctx1", 3, 1, 0, 32, 8, 128, 0, 16, true},
        {"dec ctx100", 3, 1, 99, 32, 8, 128, 0, 128, true},
        {"dec ctx5000", 1, 1, 4999, 32, 8, 128, 0, 5000, true},
        {"dec ctx5000 mha", 1, 1, 4999, 4, 4, 128, 0, 5000, true},
        {"dec hd464 ctx5000", 1, 1, 4999, 16, 16, 464, 0, 5000, false},
        {"dec hd464 batch3 ctx100", 3, 1, 99, 4, 4, 464, 0, 100, false},
        {"dec hd16", 3, 1, 99, 4, 2, 16, 0, 100, true},
        {"dec hd48 ctx5000", 1, 1, 4999, 4, 2, 48, 0, 5000, true},
        {"dec hd72", 3, 1, 130, 4, 2, 72, 0, 131, true},
        {"dec swa ring", 3, 1, 1000, 32, 8, 128, 256, 256, true},
        {"dec swa ring hd464", 1, 1, 777, 4, 4, 464, 100, 100, false},
        {"dec hd256 group8", 1, 1, 700, 16, 2, 256, 0, 701, true},
        {"dec hd384 group4", 2, 1, 700, 8, 2, 384, 0, 701, true},
        {"dec group3", 1, 1, 300, 6, 2, 64, 0, 301, true},
        {"dec long chunks", 3, 1, 8191, 32, 32, 128, 0, 8192, true},
        {"dec group8 long", 8, 1, 8191, 32, 4, 128, 0, 8192, true},
        {"dec hd50 generic", 1, 1, 300, 4, 2, 50, 0, 301, true},
        {"dec hd520 generic", 1, 1, 300, 2, 1, 520, 0, 301, true},
        /* short contexts in a long cache: with the position on the device
         * most planned chunks have no keys */
        {"dec ctx1 cap8192", 3, 1, 0, 32, 8, 128, 0, 8192, true},
        {"dec ctx100 cap8192 hd464", 1, 1, 99, 16, 16, 464, 0, 8192, false},
        {"dec ctx3000 cap16384", 2, 1, 2999, 32, 8, 128, 0, 16384, true},
    };
    uint64_t seed = 1;
    const int only = int_arg(argc, argv, "--variant");
    if (only >= 0) {
        if ((only == 5 || only == 7 || only >= 9) && !is_sm90()) {
            printf("SKIP test_attention --variant %d: the wgmma kernels need compute capability 9.0\n", only);
            return 0;
        }
        const char *pick = str_arg(argc, argv, "--case");
        for (const Case &c : cases)
            if (c.T > 1 && (!pick || strstr(c.name, pick))) run_case(c, seed++, only, true);
        printf("test_attention --variant %d: all passed\n", only);
        if ((only == 5 || only == 7) && want_bench(argc, argv))
            for (int T : {2048, 4096, 16384})
                for (int chunk : {0, 4096, 8192}) {
                    if (chunk >= T) continue;
                    for (int v : {6, 8, 5, 7}) {
                        bench_prefill("attn_prefill llama", T, 32, 32, 128, 0, v, chunk);
                        bench_prefill("attn_prefill mistral", T, 32, 8, 128, 4096, v, chunk);
                        bench_prefill("attn_prefill zamba", T, 16, 16, 464, 0, v, chunk);
                    }
                }
        if (only == 10 && want_bench(argc, argv)) /* the head-dim-128 kernels: two-stage, pipelined, tensor copies */
            for (int T : {2048, 4096, 16384})
                for (int chunk : {0, 4096, 8192})
                    if (chunk < T)
                        for (int v : {10, 11, 12}) {
                            bench_prefill("attn_prefill llama", T, 32, 32, 128, 0, v, chunk);
                            if (v < 12) bench_prefill("attn_prefill mistral", T, 32, 8, 128, 4096, v, chunk);
                        }
        if (only == 14 && want_bench(argc, argv)) /* the head-dim split against the block pairs */
            for (int T : {2048, 4096, 16384})
                for (int chunk : {0, 8192})
                    if (chunk < T)
                        for (int v : {9, 14}) bench_prefill("attn_prefill zamba", T, 16, 16, 464, 0, v, chunk);
        if (only == 9 && want_bench(argc, argv)) /* the pair kernel against the one-block one */
            for (int T : {2048, 4096, 16384})
                for (int chunk : {0, 4096})
                    if (chunk < T)
                        for (int v : {5, 9}) bench_prefill("attn_prefill zamba", T, 16, 16, 464, 0, v, chunk);
        return 0;
    }
    if (has_arg(argc, argv, "--decode")) {
        if (!bench_only) {
            for (const Case &c : cases)
                if (c.T == 1) {
                    run_case(c, seed++);
                    run_case(c, seed++, kDevicePos);
                }
            printf("test_attention --decode: all passed\n");
        }
        if (bench_only || want_bench(argc, argv))
            for (int ctx : {256, 512, 1024, 2048, 4096, 8192, 16384}) {
                bench_decode("attn_decode llama", 1, ctx, 32, 32, 128);
                bench_decode("attn_decode zamba", 1, ctx, 16, 16, 464);
            }
        return 0;
    }
    if (has_arg(argc, argv, "--small")) {
        /* one small case per kernel, for compute-sanitizer */
        for (const char *name : {"hd128 batch3 chunk", "hd464 batch3 chunk", "hd50 4-byte rows", "hd500 split512",
                                 "hd128 swa ring", "dec ctx5000", "dec hd464 ctx5000", "dec hd50 generic"})
            for (const Case &c : cases)
                if (!strcmp(c.name, name)) run_case(c, seed++);
        run_case(cases[14], seed++, 4);
        run_case(cases[6], seed++, 1);
        run_case(cases[14], seed++, 6);
        run_case(cases[6], seed++, 6);
        for (const char *name : {"dec ctx100 cap8192 hd464", "dec swa ring", "dec hd50 generic"})
            for (const Case &c : cases)
                if (!strcmp(c.name, name)) run_case(c, seed++, kDevicePos);
        printf("test_attention --small: all passed\n");
        return 0;
    }
    if (!bench_only) {
        for (const Case &c : cases) run_case(c, seed++);
        /* on CC 9.0 the default ran the wgmma kernels where they apply:
         * the mma.sync choice (variant 6) must be right as well */
        for (const Case &c : cases)
            if (c.T > 1) run_case(c, seed++, 6);
        /* and head dim 464 now goes to the block pairs: the one-block
         * wgmma kernels (variant 5) too */
        if (is_sm90())
            for (const Case &c : cases)
                if (c.T > 1) run_case(c, seed++, 5, true);
        /* and the other head-dim-128 wgmma kernels: two stages, the
         * pipelined one with cp.async, the one with tensor copies; and
         * head dim 464 split across a pair of blocks */
        if (is_sm90())
            for (int v : {10, 11, 12, 14})
                for (const Case &c : cases)
                    if (c.T > 1) run_case(c, seed++, v, true);
        /* the forced variants the bench compares must be right too */
        for (const Case &c : cases) {
            if (c.T < 2 || c.T > 200 || c.hd % 8 || c.hd > 464) continue;
            if (c.hd <= 128) {
                run_case(c, seed++, 1);
                run_case(c, seed++, 2);
            }
            run_case(c, seed++, 4);
        }
        run_case(cases[13], seed++, 4);
        run_case(cases[14], seed++, 2);
        run_case(cases[6], seed++, 3);
        run_case(cases[11], seed++, 3);
        /* every decode case again with the position in device memory */
        for (const Case &c : cases)
            if (c.T == 1) run_case(c, seed++, kDevicePos);
        run_refusals();
        printf("test_attention: all passed\n");
    }

    if (!bench_only && !want_bench(argc, argv)) return 0;
    bench_rope(16384, 32, 32, 128);
    for (int T : {2048, 16384}) {
        bench_prefill("attn_prefill llama", T, 32, 32, 128, 0, 0);
        bench_prefill("attn_prefill llama", T, 32, 32, 128, 0, 6);
        bench_prefill("attn_prefill llama", T, 32, 32, 128, 0, 1);
        bench_prefill("attn_prefill llama", T, 32, 32, 128, 0, 2);
        bench_prefill("attn_prefill zamba", T, 16, 16, 464, 0, 0);
        bench_prefill("attn_prefill zamba", T, 16, 16, 464, 0, 6);
        bench_prefill("attn_prefill zamba", T, 16, 16, 464, 0, 2);
    }
    bench_prefill("attn_prefill mistral", 16384, 32, 8, 128, 4096, 0);
    bench_prefill("attn_prefill mistral", 16384, 32, 8, 128, 4096, 6);
    for (int ctx : {2048, 16384}) {
        bench_decode("attn_decode llama", 1, ctx, 32, 32, 128);
        bench_decode("attn_decode zamba", 1, ctx, 16, 16, 464);
    }
    bench_decode("attn_decode llama", 8, 2048, 32, 32, 128);
    bench_decode("attn_decode mistral", 8, 4096, 32, 8, 128);
    bench_decode("attn_decode llama", 1, 256, 32, 32, 128);
    return 0;
}
