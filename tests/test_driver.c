/* The driver's pure parts: option lists, statistics, the analytic model,
 * and the workload's sampling, against hand-computed values. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "analytic.h"
#include "model.h"
#include "options.h"
#include "plugin_loader.h"
#include "stats.h"
#include "workload.h"

/* ---------------------------------------------------------- list options */

static void expect_list(const char *text, int64_t min, const int64_t *want, int n)
{
    static zb_int_list l; /* large: keep it off the stack */
    zb_error err = {{0}};
    assert_int_equal(zb_parse_int_list("--seq", text, min, ZB_MAX_CONTEXT, &l, &err), ZB_OK);
    assert_int_equal(l.n, n);
    for (int i = 0; i < n; i++) assert_int_equal(l.v[i], want[i]);
}

static void expect_list_error(const char *text, int64_t min, const char *fragment)
{
    static zb_int_list l;
    zb_error err = {{0}};
    assert_int_equal(zb_parse_int_list("--seq", text, min, ZB_MAX_CONTEXT, &l, &err), ZB_ERR_INVALID);
    assert_non_null(strstr(err.msg, "--seq"));
    if (fragment && !strstr(err.msg, fragment)) fail_msg("message '%s' lacks '%s'", err.msg, fragment);
}

static void test_lists(void **state)
{
    (void)state;
    expect_list("512", 1, (int64_t[]){512}, 1);
    expect_list("512,1024,7", 1, (int64_t[]){512, 1024, 7}, 3);
    expect_list("512-16384*2", 1, (int64_t[]){512, 1024, 2048, 4096, 8192, 16384}, 6);
    expect_list("1024-8192+1024", 1, (int64_t[]){1024, 2048, 3072, 4096, 5120, 6144, 7168, 8192}, 8);
    expect_list("1-3", 1, (int64_t[]){1, 2, 3}, 3);
    expect_list("100-350+100", 1, (int64_t[]){100, 200, 300}, 3); /* the last step stops short of 350 */
    expect_list("3-20*3,5", 1, (int64_t[]){3, 9, 5}, 3);
    expect_list("0", 0, (int64_t[]){0}, 1);
}

static void test_list_errors(void **state)
{
    (void)state;
    expect_list_error("0", 1, "out of range");
    expect_list_error("-5", 1, NULL);
    expect_list_error("abc", 1, "abc");
    expect_list_error("12x", 1, "12x");
    expect_list_error("1-", 1, NULL);
    expect_list_error("5-1", 1, "backwards");
    expect_list_error("4-8*1", 1, "factor");
    expect_list_error("0-8*2", 0, "factor");
    expect_list_error("1,,2", 1, "empty");
    expect_list_error("", 1, "empty");
    expect_list_error("99999999999999999999", 1, NULL);
    expect_list_error("2000000", 1, "out of range");
    expect_list_error("1-100000+1", 1, "more than");
}

static zb_status parse(zb_run_opts *o, int *help, zb_error *err, ...)
{
    char *argv[32] = {"run"};
    int argc = 1;
    va_list ap;
    va_start(ap, err);
    for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 31;) argv[argc++] = a;
    va_end(ap);
    return zb_parse_run_opts(argc, argv, o, help, err);
}

static void test_run_options(void **state)
{
    (void)state;
    static zb_run_opts o;
    zb_error err = {{0}};
    int help;
    assert_int_equal(parse(&o, &help, &err, NULL), ZB_OK);
    assert_int_equal(o.seqs.v[0], 512);
    assert_int_equal(o.gens.v[0], 128);
    assert_int_equal(o.batches.v[0], 1);
    assert_int_equal(o.reps, 5);
    assert_int_equal(o.warmup, 1);
    assert_string_equal(o.db_path, "zbench.db");
    assert_int_equal(o.plugins.n, 0);
    zb_run_opts_free(&o);

    assert_int_equal(parse(&o, &help, &err, "--plugin", "cpu_ref,cuda_fused", "--seq", "8,16", "--output", "jsonl",
                           "--quiet", "--depth", "4", NULL),
                     ZB_OK);
    assert_int_equal(o.plugins.n, 2);
    assert_string_equal(o.plugins.v[1], "cuda_fused");
    assert_int_equal(o.seqs.n, 2);
    assert_int_equal(o.output, ZB_OUT_JSONL);
    assert_int_equal(o.depths.v[0], 4);
    zb_run_opts_free(&o);

    assert_int_equal(parse(&o, &help, &err, "--output", "xml", NULL), ZB_ERR_INVALID);
    assert_non_null(strstr(err.msg, "--output"));
    assert_int_equal(parse(&o, &help, &err, "--reps", "0", NULL), ZB_ERR_INVALID);
    assert_int_equal(parse(&o, &help, &err, "--delay", "-1", NULL), ZB_ERR_INVALID);
    assert_int_equal(parse(&o, &help, &err, "--bogus", NULL), ZB_ERR_INVALID);
    assert_non_null(strstr(err.msg, "--bogus"));
    assert_int_equal(parse(&o, &help, &err, "--seq", NULL), ZB_ERR_INVALID);
    assert_int_equal(parse(&o, &help, &err, "--model", "x", "--model-config", "c.json", NULL), ZB_ERR_INVALID);
    assert_int_equal(parse(&o, &help, &err, "stray", NULL), ZB_ERR_INVALID);
}

/* ----------------------------------------------------------- statistics */

static void test_stats(void **state)
{
    (void)state;
    const double x[10] = {7, 3, 10, 1, 5, 2, 9, 4, 8, 6};
    zb_summary s;
    zb_summarize(x, 10, &s);
    assert_int_equal(s.n, 10);
    assert_float_equal(s.mean, 5.5, 1e-12);
    assert_float_equal(s.median, 5.5, 1e-12);
    assert_float_equal(s.p90, 9.1, 1e-12);  /* 0.9 * 9 = 8.1: 9 + 0.1 * (10 - 9) */
    assert_float_equal(s.p99, 9.91, 1e-12); /* 0.99 * 9 = 8.91 */
    assert_float_equal(s.min, 1, 0);
    assert_float_equal(s.max, 10, 0);
    assert_float_equal(s.stddev, sqrt(82.5 / 9.0), 1e-12); /* sum of squares 82.5 over n - 1 */
    assert_float_equal(zb_cv(x, 10), sqrt(82.5 / 9.0) / 5.5, 1e-12);
    const double one = 4.25;
    zb_summarize(&one, 1, &s);
    assert_float_equal(s.median, 4.25, 0);
    assert_float_equal(s.p99, 4.25, 0);
    assert_float_equal(s.stddev, 0, 0);
}

/* ------------------------------------------------------- analytic model */

static zb_model_desc preset(const char *name)
{
    zb_model_desc d;
    const zb_preset *p = zb_preset_find(name);
    assert_non_null(p);
    p->fill(&d);
    return d;
}

static void test_kv_and_state(void **state)
{
    (void)state;
    zb_model_desc z = preset("zamba-7b"), l = preset("llama2-7b"), m = preset("mistral-7b");
    /* 13 applications x 2 (K, V) x 16 heads x 464 x 2 bytes */
    assert_int_equal(zb_attention_applications(&z), 13);
    assert_int_equal(zb_kv_bytes_per_token(&z, ZB_DTYPE_BF16), 386048);
    assert_int_equal(zb_kv_bytes_per_token(&l, ZB_DTYPE_BF16), 524288);  /* 32 x 2 x 32 x 128 x 2 */
    assert_int_equal(zb_kv_bytes_per_token(&m, ZB_DTYPE_BF16), 131072);  /* 32 x 2 x 8 x 128 x 2 */
    assert_int_equal(zb_predict_kv_bytes(&m, ZB_DTYPE_BF16, 1, 2048), 131072LL * 2048);
    assert_int_equal(zb_predict_kv_bytes(&m, ZB_DTYPE_BF16, 2, 16384), 131072LL * 4096 * 2); /* the window caps it */
    assert_int_equal(zb_predict_kv_bytes(&z, ZB_DTYPE_F32, 1, 100), 2 * 386048LL * 100);
    /* 76 layers x (7424 x 4 conv in bf16 + 7424 x 16 ssm in fp32) */
    assert_int_equal(zb_predict_state_bytes(&z, ZB_DTYPE_BF16, 1), 76LL * (7424 * 4 * 2 + 7424 * 16 * 4));
    assert_int_equal(zb_predict_state_bytes(&l, ZB_DTYPE_BF16, 1), 0);
}

static void test_floors(void **state)
{
    (void)state;
    zb_model_desc z = preset("zamba-7b"), l = preset("llama2-7b");
    zb_param_counts pz, pl;
    zb_count_params(&z, &pz);
    zb_count_params(&l, &pl);
    assert_true(llabs(pz.stored - 7232000000LL) < 10000000LL); /* 7.23e9 */
    /* per token: 76 Mamba layers + 13 x the shared block + 13 linears */
    assert_true(fabs(2.0 * pz.per_token - 22.8e9) < 0.05e9);
    assert_true(fabs(2.0 * pl.per_token - 12.95e9) < 0.05e9);
    /* decode reads ~23.06 GB of weights (shared block counted 13 times),
     * plus the state read and written, plus one token's KV read and written */
    double bytes = zb_decode_step_bytes(&z, ZB_DTYPE_BF16, 1, 0);
    double st = 2.0 * (double)zb_predict_state_bytes(&z, ZB_DTYPE_BF16, 1);
    assert_true(fabs(bytes - st - 2 * 386048.0 - 23.06e9) < 0.01e9);
    /* plus 0.79 GB of KV at context 2048 */
    double kv = zb_decode_step_bytes(&z, ZB_DTYPE_BF16, 1, 2048) - bytes;
    assert_true(fabs(kv - 386048.0 * 2048) < 1.0); /* 2048 more visible keys */
    /* Llama-2-7B weights ~13.5 GB per step: floor 4.5 ms at 2.99 TB/s, 4.78 ms with 1 GB of KV at 2048 */
    double ll = zb_decode_step_bytes(&l, ZB_DTYPE_BF16, 1, 2048);
    assert_true(fabs(ll / 2.99e12 * 1e3 - 4.78) < 0.05);
    /* Zamba-7B prefill of 16384 tokens: 3.74e14 projections + 5.18e13 attention */
    double f = zb_prefill_flops(&z, 1, 16384, 0);
    double att = 13.0 * 4.0 * 16 * 464 * (16384.0 * 16385.0 / 2.0);
    assert_true(fabs(f - (22.8e9 * 16384 + att)) / f < 0.01);
    assert_true(fabs(att - 5.2e13) / 5.2e13 < 0.01);
}

/* --------------------------------------------------------- the workload */

static void test_sample_steps(void **state)
{
    (void)state;
    int got[64], n = 0;
    for (int k = 1; k <= 3000; k++)
        if (zb_is_sample_step(k, 3000)) got[n++] = k;
    const int want[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3000};
    assert_int_equal(n, (int)(sizeof want / sizeof want[0]));
    for (int i = 0; i < n; i++) assert_int_equal(got[i], want[i]);
}

static void test_prompt_tokens(void **state)
{
    (void)state;
    int32_t a[1000], b[1000];
    zb_prompt_tokens(7, 512, a, 1000);
    zb_prompt_tokens(7, 512, b, 1000);
    assert_memory_equal(a, b, sizeof a);
    int distinct = 0, seen[512] = {0};
    for (int i = 0; i < 1000; i++) {
        assert_true(a[i] >= 1 && a[i] < 512);
        distinct += !seen[a[i]]++;
    }
    assert_true(distinct > 400); /* not a constant prompt */
    zb_prompt_tokens(8, 512, b, 1000);
    assert_memory_not_equal(a, b, sizeof a);
}

/* A generation on cpu_ref: samples at the right positions; memory in use
 * grows with the context and stops at the sliding window. */
static void test_workload_memory_curve(void **state)
{
    (void)state;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/plugins", getenv("ZB_BUILD") ? getenv("ZB_BUILD") : "build");
    setenv("ZBENCH_PLUGIN_PATH", dir, 1);
    zb_plugin p;
    zb_error err = {{0}};
    assert_int_equal(zb_plugin_load("cpu_ref", &p, &err), ZB_OK);
    zb_model m;
    assert_int_equal(zb_model_load("mistral-tiny", NULL, 3, &m, &err), ZB_OK);
    zb_workload w = {.batch = 1, .seq = 8, .gen = 64, .depth = 0, .reps = 2, .warmup = 0, .seed = 3};
    zb_session_opts so = {1, w.seq + w.gen, ZB_DTYPE_F32, 0, 0};
    zb_session *s = NULL;
    assert_int_equal(p.api->create(&m.desc, &m.weights, &so, &s, &err), ZB_OK);
    zb_workload_result r;
    assert_int_equal(zb_workload_run(p.api, s, &m.desc, &w, &r, NULL, NULL, &err), ZB_OK);
    assert_int_equal(r.reps_done, 2);
    assert_int_equal(r.n_samples, 2 * 7); /* steps 1, 2, 4, ..., 64 */
    int64_t kv_tok = zb_kv_bytes_per_token(&m.desc, ZB_DTYPE_F32);
    for (int i = 0; i < r.n_samples; i++) {
        const zb_sample *sm = &r.samples[i];
        assert_true(sm->latency_ms > 0);
        int64_t used = sm->position < 32 ? sm->position : 32; /* window 32 */
        assert_int_equal(sm->memory_bytes, kv_tok * used);
    }
    for (int i = 0; i < 2 * w.gen; i++) assert_true(r.decode_ms[i] > 0);
    zb_workload_result_free(&r);
    p.api->destroy(s);
    zb_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lists),          cmocka_unit_test(test_list_errors),
        cmocka_unit_test(test_run_options),    cmocka_unit_test(test_stats),
        cmocka_unit_test(test_kv_and_state),   cmocka_unit_test(test_floors),
        cmocka_unit_test(test_sample_steps),   cmocka_unit_test(test_prompt_tokens),
        cmocka_unit_test(test_workload_memory_curve),
    };
    return cmocka_run_group_tests_name("driver", tests, NULL, NULL);
}
