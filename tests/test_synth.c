/*
 * The synthetic weight generator (zb_synth_*), the dtype rounding helpers
 * (bf16 and f16, round to nearest even), and the built-in presets.
 */
#include "test_util.h"

#include "model.h"
#include "zb_ref.h"

static float bits_to_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint32_t f32_to_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static zb_synth synth(uint64_t seed, uint64_t key, float offset, float scale)
{
    zb_synth s = {seed, key, offset, scale};
    return s;
}

/* ------------------------------------------------------------ generator */

/* A pure function of (seed, key, i): the same bits whatever the order or
 * the number of calls, which is what lets a GPU plugin regenerate weights. */
static void test_synth_deterministic(void **state)
{
    (void)state;
    enum { N = 4096 };
    static float fwd[N];
    zb_synth s = synth(42, zb_synth_key(3, ZB_W_Q), 0.25f, 0.5f);
    for (int i = 0; i < N; i++) fwd[i] = zb_synth_value(&s, (uint64_t)i);
    for (int i = N - 1; i >= 0; i--) TU_ASSERT_SAME_BITS(zb_synth_value(&s, (uint64_t)i), fwd[i]);
    zb_synth copy = synth(42, zb_synth_key(3, ZB_W_Q), 0.25f, 0.5f);
    TU_ASSERT_SAME_BITS(zb_synth_value(&copy, 1234), fwd[1234]);
    /* far indices are fine too (64-bit counters) */
    float far = zb_synth_value(&s, (uint64_t)1 << 40);
    TU_ASSERT_SAME_BITS(zb_synth_value(&s, (uint64_t)1 << 40), far);
    /* the mixer is splitmix64's finaliser: its published first output for
     * a zero seed (state advanced once by the golden gamma) */
    assert_true(zb_mix64(0x9e3779b97f4a7c15ull) == 0xe220a8397b1dcdafull);
    assert_true(zb_mix64(0) == 0);
    /* (seed 0, key 0, index 0) hashes to 0: the bottom of the range, -1 */
    TU_ASSERT_SAME_BITS(zb_synth_unit(0, 0, 0), -1.0f);
}

/* u has 24 significant bits in [-1, 1): with scales where offset + scale*u
 * is exact, the interval is half-open exactly as documented. */
static void test_synth_range_exact(void **state)
{
    (void)state;
    const struct {
        float offset, scale;
    } cases[] = {{0.0f, 1.0f}, {0.0f, 0.25f}, {0.5f, 0.5f}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        zb_synth s = synth(7, zb_synth_key(0, ZB_W_UP), cases[c].offset, cases[c].scale);
        float lo = cases[c].offset - cases[c].scale, hi = cases[c].offset + cases[c].scale;
        float mn = INFINITY, mx = -INFINITY;
        for (uint64_t i = 0; i < 200000; i++) {
            float v = zb_synth_value(&s, i);
            if (!(v >= lo && v < hi)) fail_msg("value %.9g at %llu outside [%g, %g)", v, (unsigned long long)i, lo, hi);
            mn = fminf(mn, v), mx = fmaxf(mx, v);
        }
        /* and it reaches both ends */
        assert_true(mn < lo + 1e-3f * cases[c].scale);
        assert_true(mx > hi - 1e-3f * cases[c].scale);
    }
}

/* With the roles' real parameters float rounding may land on the upper
 * bound itself, never past either bound. */
static void test_synth_range_roles(void **state)
{
    (void)state;
    const struct {
        float offset, scale;
    } cases[] = {{1.0f, 0.1f}, {-4.6f, 2.3f}, {1.386f, 1.386f}, {0.0f, 0.2165f}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        zb_synth s = synth(99, zb_synth_key(5, ZB_W_DT_BIAS), cases[c].offset, cases[c].scale);
        float lo = cases[c].offset - cases[c].scale, hi = cases[c].offset + cases[c].scale;
        for (uint64_t i = 0; i < 100000; i++) {
            float v = zb_synth_value(&s, i);
            if (!(v >= lo && v <= hi)) fail_msg("value %.9g outside [%g, %g]", v, lo, hi);
        }
    }
}

/* Counts exactly equal values and the correlation of two streams. */
static void compare_streams(const zb_synth *a, const zb_synth *b, int *equal, double *corr)
{
    enum { N = 100000 };
    double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
    *equal = 0;
    for (uint64_t i = 0; i < N; i++) {
        double x = zb_synth_value(a, i), y = zb_synth_value(b, i);
        *equal += x == y;
        sa += x, sb += y, saa += x * x, sbb += y * y, sab += x * y;
    }
    double cov = sab / N - (sa / N) * (sb / N);
    *corr = cov / sqrt((saa / N - (sa / N) * (sa / N)) * (sbb / N - (sb / N) * (sb / N)));
}

static void test_synth_streams_differ(void **state)
{
    (void)state;
    const zb_synth base = synth(1, zb_synth_key(0, ZB_W_Q), 0.0f, 1.0f);
    const zb_synth other[] = {
        synth(2, zb_synth_key(0, ZB_W_Q), 0.0f, 1.0f),              /* seed */
        synth(1, zb_synth_key(1, ZB_W_Q), 0.0f, 1.0f),              /* layer */
        synth(1, zb_synth_key(0, ZB_W_K), 0.0f, 1.0f),              /* role */
        synth(1, zb_synth_key(ZB_LAYER_NONE, ZB_W_Q), 0.0f, 1.0f),  /* shared block */
    };
    for (size_t k = 0; k < sizeof other / sizeof other[0]; k++) {
        int equal;
        double corr;
        compare_streams(&base, &other[k], &equal, &corr);
        /* equal values happen with probability 2^-24 each */
        if (equal > 3 || fabs(corr) > 0.02) fail_msg("stream %zu: %d equal values, correlation %.4f", k, equal, corr);
    }
    /* the stream is not the same one shifted by an index either */
    int equal = 0;
    for (uint64_t i = 0; i < 10000; i++) equal += zb_synth_value(&base, i) == zb_synth_value(&base, i + 1);
    assert_true(equal <= 2);
}

/* Keys: distinct per (layer, role) over a whole 512-layer model. */
static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_synth_keys_distinct(void **state)
{
    (void)state;
    enum { L = ZB_MAX_LAYERS + 1, R = ZB_W_ROLE_COUNT };
    uint64_t *keys = malloc(sizeof *keys * L * R);
    assert_non_null(keys);
    int n = 0;
    for (int l = -1; l < ZB_MAX_LAYERS; l++)
        for (int r = 0; r < R; r++) keys[n++] = zb_synth_key(l, r);
    qsort(keys, (size_t)n, sizeof *keys, cmp_u64);
    for (int i = 1; i < n; i++)
        if (keys[i] == keys[i - 1]) fail_msg("two (layer, role) pairs share key %llx", (unsigned long long)keys[i]);
    free(keys);
}

/* A large sample matches the uniform distribution's moments and fills
 * equal-width bins evenly (tolerances are 5 standard deviations). */
static void test_synth_moments(void **state)
{
    (void)state;
    enum { N = 1 << 20, BINS = 16 };
    const float offset = 0.5f, scale = 2.0f;
    zb_synth s = synth(2024, zb_synth_key(7, ZB_W_GATE), offset, scale);
    double sum = 0, sum2 = 0;
    long bins[BINS] = {0};
    for (uint64_t i = 0; i < N; i++) {
        double v = zb_synth_value(&s, i);
        sum += v;
        sum2 += (v - offset) * (v - offset);
        int b = (int)((v - (offset - scale)) / (2 * scale) * BINS);
        bins[b < 0 ? 0 : b >= BINS ? BINS - 1 : b]++;
    }
    const double var = (double)scale * scale / 3.0;
    TU_ASSERT_NEAR(sum / N, offset, 5 * sqrt(var / N));
    /* Var(u^2) for u uniform on [-s, s] is s^4 (1/5 - 1/9) */
    TU_ASSERT_NEAR(sum2 / N, var, 5 * sqrt(pow(scale, 4) * (1.0 / 5 - 1.0 / 9) / N));
    const double p = 1.0 / BINS, expect = N * p, sd = sqrt(N * p * (1 - p));
    for (int b = 0; b < BINS; b++) TU_ASSERT_NEAR(bins[b], expect, 5 * sd);
}

/* ------------------------------------------------------------------ bf16 */

static void test_bf16_round_to_nearest_even(void **state)
{
    (void)state;
    const struct {
        uint32_t in;
        uint16_t out;
    } cases[] = {
        {0x3f800000, 0x3f80}, /* 1.0 */
        {0x3f807fff, 0x3f80}, /* just below half an ulp: down */
        {0x3f808000, 0x3f80}, /* tie, even below */
        {0x3f808001, 0x3f81}, /* just above the tie: up */
        {0x3f818000, 0x3f82}, /* tie, even above */
        {0xbf808000, 0xbf80}, /* negative tie */
        {0xbf818000, 0xbf82},
        {0xc0200000, 0xc020}, /* -2.5 exact */
        {0x7f7f7fff, 0x7f7f}, /* largest bf16 stays */
        {0x7f7fffff, 0x7f80}, /* FLT_MAX rounds up to infinity */
        {0x7f800000, 0x7f80}, /* +inf */
        {0xff800000, 0xff80}, /* -inf */
        {0x00000000, 0x0000},
        {0x80000000, 0x8000}, /* -0 keeps its sign */
        {0x00008000, 0x0000}, /* subnormal tie to even zero */
        {0x00018000, 0x0002}, /* subnormal tie, even above */
        {0x007fffff, 0x0080}, /* largest subnormal up to the smallest normal */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint16_t got = zb_f32_to_bf16(bits_to_f32(cases[i].in));
        if (got != cases[i].out) fail_msg("bf16(0x%08x) = 0x%04x, expected 0x%04x", cases[i].in, got, cases[i].out);
    }
    TU_ASSERT_SAME_BITS(zb_round_to_dtype(bits_to_f32(0x3f808000), ZB_DTYPE_BF16), 1.0f);
    TU_ASSERT_SAME_BITS(zb_round_to_dtype(bits_to_f32(0x3f818000), ZB_DTYPE_BF16), bits_to_f32(0x3f820000));
}

/* NaN stays NaN, quiet, with its sign, including payloads whose top half
 * alone would read as infinity or whose rounding would carry into the sign. */
static void test_bf16_nan(void **state)
{
    (void)state;
    const uint32_t nans[] = {0x7fc00000, 0x7f800001, 0x7f807fff, 0x7fffffff, 0xffc00000, 0xff800001, 0xffffffff};
    for (size_t i = 0; i < sizeof nans / sizeof nans[0]; i++) {
        uint16_t h = zb_f32_to_bf16(bits_to_f32(nans[i]));
        if (!isnan(zb_bf16_to_f32(h))) fail_msg("bf16(0x%08x) = 0x%04x is not NaN", nans[i], h);
        assert_int_equal(h & 0x8000, (nans[i] >> 16) & 0x8000);
        assert_true(h & 0x0040); /* quiet */
        assert_true(isnan(zb_round_to_dtype(bits_to_f32(nans[i]), ZB_DTYPE_BF16)));
    }
}

/* Every bf16 value survives bf16 -> f32 -> bf16 unchanged (NaNs as NaNs). */
static void test_bf16_round_trip_exhaustive(void **state)
{
    (void)state;
    for (uint32_t h = 0; h <= 0xffff; h++) {
        float f = zb_bf16_to_f32((uint16_t)h);
        assert_int_equal(f32_to_bits(f), h << 16);
        uint16_t back = zb_f32_to_bf16(f);
        if (isnan(f)) assert_true(isnan(zb_bf16_to_f32(back)));
        else if (back != h) fail_msg("0x%04x -> %g -> 0x%04x", h, (double)f, back);
    }
}

/* ------------------------------------------------------------------- f16 */

static void test_f16_rounding(void **state)
{
    (void)state;
    const struct {
        float in, out;
    } cases[] = {
        {1.0f, 1.0f},
        {65504.0f, 65504.0f},                                 /* largest half */
        {65519.0f, 65504.0f},                                 /* below the midpoint to 65536 */
        {65520.0f, INFINITY},                                 /* the midpoint: even is 2^16, too big */
        {-65520.0f, -INFINITY},
        {1e10f, INFINITY},
        {1.0f + 0x1p-11f, 1.0f},                                 /* tie, even below */
        {1.0f + 0x3p-11f, 1.0f + 0x1p-9f},                          /* tie, even above */
        {1.0f + 0x1p-11f + 0x1p-20f, 1.0f + 0x1p-10f},              /* above the tie */
        {2049.0f, 2048.0f},                                   /* spacing 2 there: tie to even */
        {0.1f, 0.0999755859375f},                             /* 1638.4 quanta of 2^-14 */
        {0x1p-14f, 0x1p-14f},                                 /* smallest normal */
        {0x1p-14f - 0x1p-25f, 0x1p-14f},                      /* 1023.5 subnormal quanta: to 1024 */
        {0x1p-24f, 0x1p-24f},                                 /* smallest subnormal */
        {0x3p-25f, 0x1p-23f},                                 /* 1.5 quanta: even is 2 */
        {0x1p-25f, 0.0f},                                     /* half a quantum: even is 0 */
        {0x1p-25f + 0x1p-35f, 0x1p-24f},                      /* a bit more: up */
        {-0x1p-26f, -0.0f},                                   /* underflow keeps the sign */
        {0x5p-24f, 0x5p-24f},                                 /* a subnormal exactly */
        {INFINITY, INFINITY},
        {-0.0f, -0.0f},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        float got = zb_round_to_dtype(cases[i].in, ZB_DTYPE_F16);
        if (f32_to_bits(got) != f32_to_bits(cases[i].out))
            fail_msg("f16(%.10g) = %.10g, expected %.10g", (double)cases[i].in, (double)got, (double)cases[i].out);
    }
    assert_true(isnan(zb_round_to_dtype(NAN, ZB_DTYPE_F16)));
    /* f32 is left alone */
    TU_ASSERT_SAME_BITS(zb_round_to_dtype(1.0f + 0x1p-20f, ZB_DTYPE_F32), 1.0f + 0x1p-20f);
}

/* Every f16 value is a fixed point of the rounding (checked through the
 * reference's own half decoder, which reads F16 checkpoints). */
static void test_f16_fixed_points(void **state)
{
    (void)state;
    static uint16_t halves[1 << 16];
    static float decoded[1 << 16];
    for (uint32_t h = 0; h <= 0xffff; h++) halves[h] = (uint16_t)h;
    zb_tensor t = {ZB_LAYER_NONE, ZB_W_EMBED, ZB_DTYPE_F16, 1, {1 << 16}, halves, {0, 0, 0, 0}};
    zb_ref_materialize(&t, decoded);
    TU_ASSERT_SAME_BITS(decoded[0x3c00], 1.0f);
    TU_ASSERT_SAME_BITS(decoded[0x7bff], 65504.0f);
    TU_ASSERT_SAME_BITS(decoded[0x0001], 0x1p-24f);
    TU_ASSERT_SAME_BITS(decoded[0xfc00], -INFINITY);
    for (uint32_t h = 0; h <= 0xffff; h++) {
        float f = decoded[h];
        float r = zb_round_to_dtype(f, ZB_DTYPE_F16);
        if (isnan(f)) assert_true(isnan(r));
        else if (f32_to_bits(r) != f32_to_bits(f))
            fail_msg("half 0x%04x = %.10g rounds to %.10g", h, (double)f, (double)r);
    }
}

/* The reference materialises synthetic tensors as the generator's values
 * rounded to the declared dtype. */
static void test_materialize_synthetic(void **state)
{
    (void)state;
    enum { N = 1000 };
    float out[N];
    zb_tensor t = {2, ZB_W_UP, ZB_DTYPE_BF16, 2, {10, 100}, NULL, synth(5, zb_synth_key(2, ZB_W_UP), 0.0f, 0.3f)};
    zb_ref_materialize(&t, out);
    int changed = 0;
    for (int i = 0; i < N; i++) {
        float v = zb_synth_value(&t.synth, (uint64_t)i);
        TU_ASSERT_SAME_BITS(out[i], zb_round_to_dtype(v, ZB_DTYPE_BF16));
        changed += out[i] != v;
    }
    assert_true(changed > N / 2); /* bf16 rounding really happened */
    t.dtype = ZB_DTYPE_F32;
    zb_ref_materialize(&t, out);
    for (int i = 0; i < N; i++) TU_ASSERT_SAME_BITS(out[i], zb_synth_value(&t.synth, (uint64_t)i));
}

/* --------------------------------------------------------------- presets */

static int64_t preset_params(const char *name)
{
    zb_model m;
    zb_error err = {{0}};
    if (zb_model_load(name, NULL, 0, &m, &err) != ZB_OK) fail_msg("%s: %s", name, err.msg);
    int64_t n = m.n_params;
    assert_int_equal(m.synthetic, 1);
    zb_model_free(&m);
    return n;
}

static void test_preset_parameter_counts(void **state)
{
    (void)state;
    const struct {
        const char *name;
        double published;
    } cases[] = {{"zamba-7b", 7.23e9}, {"llama2-7b", 6.74e9}, {"mistral-7b", 7.24e9}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double n = (double)preset_params(cases[i].name);
        if (fabs(n / cases[i].published - 1.0) > 0.005)
            fail_msg("%s: %.4g parameters, published %.4g", cases[i].name, n, cases[i].published);
    }
    /* the two transformers exactly, as Hugging Face counts them */
    assert_int_equal(preset_params("llama2-7b"), 6738415616LL);
    assert_int_equal(preset_params("mistral-7b"), 7241732096LL);
}

static void test_preset_zamba_7b_shape(void **state)
{
    (void)state;
    const zb_preset *p = zb_preset_find("zamba-7b");
    assert_non_null(p);
    zb_model_desc d;
    p->fill(&d);
    assert_int_equal(d.n_layers, 76);
    assert_int_equal(d.head_dim, 464);
    assert_int_equal(d.attn_in, 2 * 3712);
    assert_int_equal(d.dt_rank, 232);
    int hybrids = 0;
    for (int i = 0; i < d.n_layers; i++) hybrids += d.layer_kind[i] == ZB_LAYER_HYBRID;
    assert_int_equal(hybrids, 13);
    TU_ASSERT_NEAR(d.attn_scale, 1.0 / sqrt(232.0), 1e-7);
}

/* Every preset is findable, valid, and its synthetic tensors each draw from
 * their own stream. */
static void test_presets_valid(void **state)
{
    (void)state;
    assert_true(zb_preset_count() >= 7);
    assert_null(zb_preset_at(-1));
    assert_null(zb_preset_at(zb_preset_count()));
    assert_null(zb_preset_find("zamba-8b"));
    const char *expected[] = {"zamba-7b", "llama2-7b", "mistral-7b", "zamba-tiny", "zamba-76l-tiny", "llama2-tiny",
                              "mistral-tiny"};
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) assert_non_null(zb_preset_find(expected[i]));
    for (int i = 0; i < zb_preset_count(); i++) {
        const zb_preset *p = zb_preset_at(i);
        assert_ptr_equal(zb_preset_find(p->name), p);
        zb_model_desc d;
        p->fill(&d);
        zb_error err = {{0}};
        if (zb_desc_validate(&d, p->name, &err) != ZB_OK) fail_msg("%s", err.msg);
        zb_model m;
        if (zb_model_load(p->name, NULL, 9, &m, &err) != ZB_OK) fail_msg("%s", err.msg);
        assert_string_equal(m.desc.name, p->name);
        for (int a = 0; a < m.n_tensors; a++) {
            assert_null(m.tensors[a].data);
            assert_true(m.tensors[a].synth.seed == 9);
            for (int b = a + 1; b < m.n_tensors; b++)
                if (m.tensors[a].synth.key == m.tensors[b].synth.key)
                    fail_msg("%s: tensors %d and %d share a stream", p->name, a, b);
        }
        zb_model_free(&m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_synth_deterministic),
        cmocka_unit_test(test_synth_range_exact),
        cmocka_unit_test(test_synth_range_roles),
        cmocka_unit_test(test_synth_streams_differ),
        cmocka_unit_test(test_synth_keys_distinct),
        cmocka_unit_test(test_synth_moments),
        cmocka_unit_test(test_bf16_round_to_nearest_even),
        cmocka_unit_test(test_bf16_nan),
        cmocka_unit_test(test_bf16_round_trip_exhaustive),
        cmocka_unit_test(test_f16_rounding),
        cmocka_unit_test(test_f16_fixed_points),
        cmocka_unit_test(test_materialize_synthetic),
        cmocka_unit_test(test_preset_parameter_counts),
        cmocka_unit_test(test_preset_zamba_7b_shape),
        cmocka_unit_test(test_presets_valid),
    };
    return cmocka_run_group_tests_name("synthetic weights, dtypes, presets", tests, NULL, NULL) ? 1 : 0;
}
