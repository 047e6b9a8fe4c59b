/*
 * The fp32 reference through the cpu_ref plugin (loaded with zb_plugin_load,
 * as zbench does) on the tiny presets: every way of feeding the same tokens
 * (one prefill, prefill + decode, chunked prefill, batched sequences, after
 * a reset) must give the same logits; errors must leave the state alone;
 * Mistral's ring-buffer KV cache must equal a full cache with the window
 * applied; and the 76-layer Zamba schedule must stay numerically sane.
 */
#include "test_util.h"

#include "model.h"
#include "plugin_loader.h"
#include "verify.h"
#include "zb_ref.h"

#define TOL 1e-5
#define SEED 7
/* long enough to cross mistral-tiny's 32-token window */
#define N_TOK 40

typedef struct ctx {
    const char *preset;
    const zb_plugin_api *api;
    zb_model model;
    int V;
} ctx;

static int ctx_setup(void **state)
{
    ctx *c = calloc(1, sizeof *c);
    if (!c) return -1;
    c->preset = *state;
    tu_default_plugin_path();
    zb_plugin p;
    zb_error err = {{0}};
    if (zb_plugin_load("cpu_ref", &p, &err) != ZB_OK ||
        zb_model_load(c->preset, NULL, SEED, &c->model, &err) != ZB_OK) {
        print_error("setup %s: %s\n", c->preset, err.msg);
        free(c);
        return -1;
    }
    c->api = p.api;
    c->V = c->model.desc.vocab_size;
    *state = c;
    return 0;
}

static int ctx_teardown(void **state)
{
    ctx *c = *state;
    zb_model_free(&c->model);
    free(c);
    return 0;
}

/* ------------------------------------------------------------ helpers */

/* Deterministic pseudo-random token ids; `salt` picks the sequence. */
static void tokens(int32_t *t, int n, int vocab, uint64_t salt)
{
    for (int i = 0; i < n; i++) t[i] = (int32_t)(zb_mix64(salt * 1000003u + (uint64_t)i + 1) % (uint64_t)vocab);
}

static zb_session *open_session(const ctx *c, int batch, int capacity)
{
    zb_session_opts o = {.batch = batch, .capacity = capacity, .dtype = ZB_DTYPE_F32, .device = 0, .flags = 0};
    zb_session *s = NULL;
    zb_error err = {{0}};
    if (c->api->create(&c->model.desc, &c->model.weights, &o, &s, &err) != ZB_OK)
        fail_msg("%s: create: %s", c->preset, err.msg);
    assert_non_null(s);
    return s;
}

static void prefill_ok(const ctx *c, zb_session *s, const int32_t *t, int n, float *logits)
{
    zb_error err = {{0}};
    if (c->api->prefill(s, t, n, logits, NULL, NULL, &err) != ZB_OK) fail_msg("%s: prefill: %s", c->preset, err.msg);
}

static void decode_ok(const ctx *c, zb_session *s, const int32_t *t, float *logits)
{
    zb_error err = {{0}};
    if (c->api->decode(s, t, logits, NULL, NULL, &err) != ZB_OK) fail_msg("%s: decode: %s", c->preset, err.msg);
}

static void assert_close(const ctx *c, const float *got, const float *want, int n, const char *what)
{
    for (int i = 0; i < n; i++)
        if (!isfinite(got[i]) || !isfinite(want[i])) fail_msg("%s %s: non-finite logit at %d", c->preset, what, i);
    double e = zb_rel_err(got, want, n);
    if (!(e < TOL)) fail_msg("%s %s: relative error %.3e", c->preset, what, e);
}

static float *alloc_logits(const ctx *c, int batch)
{
    float *l = calloc((size_t)batch * c->V, sizeof *l);
    assert_non_null(l);
    return l;
}

/* Logits after one prefill of t[0..n) in a fresh batch-1 session. */
static void one_prefill(const ctx *c, const int32_t *t, int n, float *logits)
{
    zb_session *s = open_session(c, 1, n);
    prefill_ok(c, s, t, n, logits);
    c->api->destroy(s);
}

/* ------------------------------------------------------ consistency */

static void test_prefill_vs_decode(void **state)
{
    const ctx *c = *state;
    int32_t t[N_TOK];
    tokens(t, N_TOK, c->V, 1);
    float *full = alloc_logits(c, 1), *step = alloc_logits(c, 1), *ref = alloc_logits(c, 1);
    one_prefill(c, t, N_TOK, full);

    const int K = 9;
    zb_session *s = open_session(c, 1, N_TOK);
    prefill_ok(c, s, t, K, step);
    one_prefill(c, t, K, ref);
    assert_close(c, step, ref, c->V, "prefill of K");
    int32_t next = -1;
    zb_error err = {{0}};
    for (int p = K; p < N_TOK; p++) {
        assert_int_equal(c->api->decode(s, &t[p], step, &next, NULL, &err), ZB_OK);
        assert_int_equal(next, zb_ref_argmax(step, c->V)); /* next_tokens is the greedy argmax */
        if (p == K) {
            one_prefill(c, t, K + 1, ref);
            assert_close(c, step, ref, c->V, "first decode");
        }
    }
    assert_close(c, step, full, c->V, "prefill K + decode vs prefill N");
    c->api->destroy(s);
    free(full), free(step), free(ref);
}

static void test_chunked_prefill(void **state)
{
    const ctx *c = *state;
    int32_t t[N_TOK];
    tokens(t, N_TOK, c->V, 2);
    float *full = alloc_logits(c, 1), *part = alloc_logits(c, 1);
    one_prefill(c, t, N_TOK, full);
    const int chunk[3] = {7, 20, N_TOK - 27};
    zb_session *s = open_session(c, 1, N_TOK);
    for (int i = 0, at = 0; i < 3; at += chunk[i], i++) prefill_ok(c, s, t + at, chunk[i], part);
    assert_close(c, part, full, c->V, "3 chunks vs one prefill");
    c->api->destroy(s);
    free(full), free(part);
}

/* Three different sequences in one batch, each row against its own batch-1
 * session, after the prefill and after every decode. */
static void test_batch_matches_single(void **state)
{
    const ctx *c = *state;
    enum { B = 3, P = N_TOK - 4, D = 4 };
    int32_t t[B][N_TOK];
    for (int b = 0; b < B; b++) tokens(t[b], N_TOK, c->V, 10 + (uint64_t)b);
    int32_t batch_prompt[B * P];
    for (int b = 0; b < B; b++) memcpy(batch_prompt + b * P, t[b], sizeof(int32_t) * P);
    float *lb = alloc_logits(c, B), *l1 = alloc_logits(c, 1);
    float *single[B];
    zb_session *sb = open_session(c, B, N_TOK), *s1[B];
    prefill_ok(c, sb, batch_prompt, P, lb);
    for (int b = 0; b < B; b++) {
        single[b] = alloc_logits(c, 1);
        s1[b] = open_session(c, 1, N_TOK);
        prefill_ok(c, s1[b], t[b], P, single[b]);
        assert_close(c, lb + (size_t)b * c->V, single[b], c->V, "batch row after prefill");
    }
    /* rows really hold different sequences */
    assert_true(zb_rel_err(lb, lb + c->V, c->V) > 1e-3);
    for (int d = 0; d < D; d++) {
        int32_t col[B];
        for (int b = 0; b < B; b++) col[b] = t[b][P + d];
        decode_ok(c, sb, col, lb);
        for (int b = 0; b < B; b++) {
            decode_ok(c, s1[b], &col[b], l1);
            assert_close(c, lb + (size_t)b * c->V, l1, c->V, "batch row after decode");
        }
    }
    for (int b = 0; b < B; b++) c->api->destroy(s1[b]), free(single[b]);
    c->api->destroy(sb);
    free(lb), free(l1);
}

/* After reset the session is as new: the same inputs give the same bits.
 * The capacity fits one run only, so a reset that kept the position would
 * fail with ZB_ERR_CAPACITY instead. */
static void test_reset_rerun(void **state)
{
    const ctx *c = *state;
    enum { P = 12, D = 3 };
    int32_t t[P + D];
    tokens(t, P + D, c->V, 3);
    float *a = alloc_logits(c, 1), *b = alloc_logits(c, 1), *fresh = alloc_logits(c, 1);
    zb_session *s = open_session(c, 1, P + D);
    for (int run = 0; run < 2; run++) {
        float *l = run ? b : a;
        prefill_ok(c, s, t, P, l);
        for (int d = 0; d < D; d++) decode_ok(c, s, &t[P + d], l);
        zb_error err = {{0}};
        assert_int_equal(c->api->reset(s, &err), ZB_OK);
    }
    assert_memory_equal(a, b, sizeof(float) * c->V);
    one_prefill(c, t, P + D, fresh);
    assert_close(c, a, fresh, c->V, "run after reset vs fresh session");
    c->api->destroy(s);
    free(a), free(b), free(fresh);
}

/* decode(NULL) feeds back the previous step's argmax (cpu_ref declares
 * ZB_CAP_TOKEN_FEEDBACK). */
static void test_token_feedback(void **state)
{
    const ctx *c = *state;
    assert_true(c->api->caps & ZB_CAP_TOKEN_FEEDBACK);
    int32_t t[8];
    tokens(t, 8, c->V, 4);
    float *x = alloc_logits(c, 1), *y = alloc_logits(c, 1);
    zb_session *a = open_session(c, 1, 12), *b = open_session(c, 1, 12);
    int32_t next_a, next_b;
    zb_error err = {{0}};
    assert_int_equal(c->api->prefill(a, t, 8, x, &next_a, NULL, &err), ZB_OK);
    assert_int_equal(c->api->prefill(b, t, 8, y, &next_b, NULL, &err), ZB_OK);
    for (int i = 0; i < 3; i++) {
        int32_t explicit_tok = next_b;
        assert_int_equal(c->api->decode(a, NULL, x, &next_a, NULL, &err), ZB_OK);
        assert_int_equal(c->api->decode(b, &explicit_tok, y, &next_b, NULL, &err), ZB_OK);
        assert_memory_equal(x, y, sizeof(float) * c->V);
        assert_int_equal(next_a, next_b);
    }
    c->api->destroy(a), c->api->destroy(b);
    free(x), free(y);
}

/* -------------------------------------------------------------- errors */

/* A refused step must not move the position or touch any cache: the run
 * continues exactly as a run that never saw the bad call. */
static void test_capacity_overflow(void **state)
{
    const ctx *c = *state;
    enum { CAP = 12 };
    int32_t t[CAP];
    tokens(t, CAP, c->V, 5);
    float *got = alloc_logits(c, 1), *want = alloc_logits(c, 1);
    zb_session *s = open_session(c, 1, CAP), *clean = open_session(c, 1, CAP);
    prefill_ok(c, s, t, CAP - 2, got);
    prefill_ok(c, clean, t, CAP - 2, want);
    zb_error err = {{0}};
    assert_int_equal(c->api->prefill(s, t, 3, got, NULL, NULL, &err), ZB_ERR_CAPACITY);
    assert_true(err.msg[0] != '\0');
    for (int p = CAP - 2; p < CAP; p++) {
        decode_ok(c, s, &t[p], got);
        decode_ok(c, clean, &t[p], want);
        assert_memory_equal(got, want, sizeof(float) * c->V);
    }
    memset(&err, 0, sizeof err);
    assert_int_equal(c->api->decode(s, &t[0], got, NULL, NULL, &err), ZB_ERR_CAPACITY);
    TU_ASSERT_CONTAINS(err.msg, "capacity");
    c->api->destroy(s), c->api->destroy(clean);
    free(got), free(want);
}

static void test_out_of_vocab(void **state)
{
    const ctx *c = *state;
    enum { B = 2, P = 6 };
    int32_t t[B * (P + 1)];
    tokens(t, B * (P + 1), c->V, 6);
    float *got = alloc_logits(c, B), *want = alloc_logits(c, B);
    zb_session *s = open_session(c, B, P + 1), *clean = open_session(c, B, P + 1);
    prefill_ok(c, s, t, P, got);
    prefill_ok(c, clean, t, P, want);
    /* the bad token sits in the LAST sequence, after a valid first one, so
     * a plugin that ran sequence 0 before checking would have moved it */
    const int32_t bad[][B] = {{3, c->V}, {-1, 3}, {c->V + 1000, -5}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        zb_error err = {{0}};
        assert_int_equal(c->api->decode(s, bad[i], got, NULL, NULL, &err), ZB_ERR_INVALID);
        TU_ASSERT_CONTAINS(err.msg, "vocabulary");
    }
    int32_t bad_prefill[B] = {1, c->V};
    zb_error err = {{0}};
    assert_int_equal(c->api->prefill(s, bad_prefill, 1, got, NULL, NULL, &err), ZB_ERR_INVALID);
    int32_t next[B] = {t[P], t[2 * P + 1]};
    decode_ok(c, s, next, got);
    decode_ok(c, clean, next, want);
    assert_memory_equal(got, want, sizeof(float) * B * c->V);
    c->api->destroy(s), c->api->destroy(clean);
    free(got), free(want);
}

/* ------------------------------------------------------ sliding window */

/* Runs n tokens one at a time through the reference, writing every
 * position's logits to out [n][V]. */
static void ref_run(const zb_ref_model *m, zb_ref_cache *cache, const int32_t *t, int n, float *out)
{
    zb_error err = {{0}};
    for (int p = 0; p < n; p++) {
        if (zb_ref_forward(m, cache, 0, &t[p], 1, out + (size_t)p * m->desc.vocab_size, &err) != ZB_OK)
            fail_msg("zb_ref_forward: %s", err.msg);
        cache->pos++;
    }
}

/* mistral-tiny over 80 tokens with its 32-token window: the 32-slot ring the
 * reference allocates must give the logits of an 80-slot cache on which the
 * same window is applied (a description copy with no window sizes the
 * cache; the model's own description still applies the window). */
static void test_window_ring_equals_full_cache(void **state)
{
    const ctx *c = *state;
    enum { T = 80 };
    const zb_model_desc *d = &c->model.desc;
    assert_int_equal(d->sliding_window, 32);
    zb_model_desc unwindowed = *d;
    unwindowed.sliding_window = 0;
    zb_ref_model m, m_full;
    zb_ref_cache ring, wide, wide2;
    zb_error err = {{0}};
    assert_int_equal(zb_ref_model_init(&m, d, &c->model.weights, &err), ZB_OK);
    assert_int_equal(zb_ref_model_init(&m_full, &unwindowed, &c->model.weights, &err), ZB_OK);
    assert_int_equal(zb_ref_cache_init(&ring, d, 1, T, &err), ZB_OK);
    assert_int_equal(zb_ref_cache_init(&wide, &unwindowed, 1, T, &err), ZB_OK);
    assert_int_equal(zb_ref_cache_init(&wide2, &unwindowed, 1, T, &err), ZB_OK);
    assert_int_equal(ring.kv_slots, 32);
    assert_int_equal(wide.kv_slots, T);

    int32_t t[T];
    tokens(t, T, c->V, 8);
    float *a = calloc((size_t)T * c->V, sizeof *a), *b = calloc((size_t)T * c->V, sizeof *b);
    float *nowin = calloc((size_t)T * c->V, sizeof *nowin);
    assert_non_null(a), assert_non_null(b), assert_non_null(nowin);
    ref_run(&m, &ring, t, T, a);
    ref_run(&m, &wide, t, T, b);
    ref_run(&m_full, &wide2, t, T, nowin);
    for (int p = 0; p < T; p++) {
        char what[48];
        snprintf(what, sizeof what, "ring vs full cache at %d", p);
        assert_close(c, a + (size_t)p * c->V, b + (size_t)p * c->V, c->V, what);
    }
    /* the window matters past position 31, and only there: without it the
     * same model sees other logits, so the comparison above is not vacuous */
    for (int p = 0; p < 32; p++)
        assert_memory_equal(a + (size_t)p * c->V, nowin + (size_t)p * c->V, sizeof(float) * c->V);
    double diff = zb_rel_err(a + (size_t)(T - 1) * c->V, nowin + (size_t)(T - 1) * c->V, c->V);
    if (!(diff > 1e-3)) fail_msg("window made no difference at position %d (rel %.3e)", T - 1, diff);

    zb_ref_cache_free(&ring), zb_ref_cache_free(&wide), zb_ref_cache_free(&wide2);
    zb_ref_model_free(&m), zb_ref_model_free(&m_full);
    free(a), free(b), free(nowin);
}

/* The same through the plugin: decode across the window boundary equals a
 * full prefill, and the session keeps only the window's KV entries. */
static void test_window_decode_vs_prefill(void **state)
{
    const ctx *c = *state;
    enum { T = 80, K = 20 };
    int32_t t[T];
    tokens(t, T, c->V, 9);
    float *full = alloc_logits(c, 1), *step = alloc_logits(c, 1);
    one_prefill(c, t, T, full);
    zb_session *s = open_session(c, 1, T);
    prefill_ok(c, s, t, K, step);
    for (int p = K; p < T; p++) decode_ok(c, s, &t[p], step);
    assert_close(c, step, full, c->V, "decode across the window vs prefill");
    zb_memory_report mem;
    zb_error err = {{0}};
    assert_int_equal(c->api->memory(s, &mem, &err), ZB_OK);
    assert_int_equal(mem.kv_tokens, 32);
    c->api->destroy(s);
    free(full), free(step);
}

/* --------------------------------------------------------- 76 layers */

static void test_zamba_76_layers_sane(void **state)
{
    const ctx *c = *state;
    assert_int_equal(c->model.desc.n_layers, 76);
    enum { T = 16 };
    int32_t t[T];
    tokens(t, T, c->V, 11);
    float *l = alloc_logits(c, 1);
    one_prefill(c, t, T, l);
    double sum = 0, sum2 = 0;
    for (int i = 0; i < c->V; i++) {
        if (!isfinite(l[i])) fail_msg("logit %d is %g", i, (double)l[i]);
        sum += l[i];
    }
    double mean = sum / c->V;
    for (int i = 0; i < c->V; i++) sum2 += (l[i] - mean) * (l[i] - mean);
    double sd = sqrt(sum2 / c->V);
    if (!(sd >= 0.1 && sd <= 100.0)) fail_msg("logit standard deviation %.4g outside [0.1, 100]", sd);
    free(l);
}

#define FOR_PRESET(fn, preset) cmocka_unit_test_prestate_setup_teardown(fn, ctx_setup, ctx_teardown, (void *)preset)
#define ALL_PRESETS(fn) FOR_PRESET(fn, "zamba-tiny"), FOR_PRESET(fn, "llama2-tiny"), FOR_PRESET(fn, "mistral-tiny")

int main(void)
{
    const struct CMUnitTest tests[] = {
        ALL_PRESETS(test_prefill_vs_decode),
        ALL_PRESETS(test_chunked_prefill),
        ALL_PRESETS(test_batch_matches_single),
        ALL_PRESETS(test_reset_rerun),
        ALL_PRESETS(test_token_feedback),
        ALL_PRESETS(test_capacity_overflow),
        ALL_PRESETS(test_out_of_vocab),
        FOR_PRESET(test_window_ring_equals_full_cache, "mistral-tiny"),
        FOR_PRESET(test_window_decode_vs_prefill, "mistral-tiny"),
        FOR_PRESET(test_zamba_76_layers_sane, "zamba-76l-tiny"),
    };
    return cmocka_run_group_tests_name("reference through cpu_ref", tests, NULL, NULL) ? 1 : 0;
}
