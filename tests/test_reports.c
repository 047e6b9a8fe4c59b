/*
 * Tests of reports/ (zbench report and zbench compare): the rank test
 * against a brute-force enumeration of its null distribution, selection
 * parsing and checking, crossovers of measured and analytic curves, the
 * longest context that fits, comparisons on hand-made databases (a known
 * regression, pure noise, too few repetitions, across plugins), and
 * reports from hand-made databases and from a real cpu_ref sweep.
 */
#include "test_util.h"

#include <sqlite3.h>

#include "analytic.h"
#include "commands.h"
#include "compare.h"
#include "crossover.h"
#include "model.h"
#include "options.h"
#include "rdb.h"
#include "recorder.h"
#include "report.h"
#include "report_crossover.h"
#include "rformat.h"
#include "selection.h"
#include "series.h"
#include "stats_test.h"

/* ------------------------------------------------------------ rank test */

/* The two-sided p-value of U by enumerating every way of choosing which m
 * of the N = m + n ranks belong to x: the definition the test implements. */
static double brute_force_p(int m, int n, double u)
{
    const int N = m + n;
    double below = 0, above = 0, total = 0;
    for (uint32_t mask = 0; mask < (1u << N); mask++) {
        if (__builtin_popcount(mask) != m) continue;
        double rank_sum = 0;
        for (int i = 0; i < N; i++)
            if (mask & (1u << i)) rank_sum += i + 1;
        double uu = rank_sum - m * (m + 1) / 2.0;
        total++;
        below += uu <= u + 1e-9;
        above += uu >= u - 1e-9;
    }
    double p = 2 * fmin(below, above) / total;
    return p > 1 ? 1 : p;
}

static double pair_count(const double *x, int m, const double *y, int n)
{
    double u = 0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) u += x[i] > y[j] ? 1 : x[i] == y[j] ? 0.5 : 0;
    return u;
}

static void test_mwu_exact_matches_enumeration(void **state)
{
    (void)state;
    static const int sizes[][2] = {{1, 1}, {1, 4}, {2, 3}, {3, 3}, {4, 5}, {5, 5}, {6, 4}, {7, 7}, {3, 9}};
    uint64_t seed = 12345;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        const int m = sizes[s][0], n = sizes[s][1];
        for (int trial = 0; trial < 20; trial++) {
            double x[16], y[16];
            /* distinct values: a random permutation of 0..N-1, shifted so
             * the samples overlap by varying amounts */
            int perm[32];
            for (int i = 0; i < m + n; i++) perm[i] = i;
            for (int i = m + n - 1; i > 0; i--) {
                seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                int j = (int)((seed >> 33) % (uint64_t)(i + 1));
                int t = perm[i];
                perm[i] = perm[j], perm[j] = t;
            }
            for (int i = 0; i < m; i++) x[i] = 10.0 + perm[i] * 0.37;
            for (int i = 0; i < n; i++) y[i] = 10.0 + perm[m + i] * 0.37;
            zb_mwu r;
            assert_true(zb_mann_whitney(x, m, y, n, &r));
            assert_true(r.exact);
            assert_false(r.ties);
            TU_ASSERT_NEAR(r.u, pair_count(x, m, y, n), 1e-9);
            TU_ASSERT_NEAR(r.p, brute_force_p(m, n, r.u), 1e-12);
        }
    }
}

static void test_mwu_separation_symmetry_ties(void **state)
{
    (void)state;
    const double a[] = {10.1, 10.3, 9.9, 10.0, 10.2}, b[] = {15.2, 14.9, 15.0, 15.4, 15.1};
    zb_mwu r, s;
    assert_true(zb_mann_whitney(a, 5, b, 5, &r));
    assert_true(zb_mann_whitney(b, 5, a, 5, &s));
    /* complete separation: the two most extreme of C(10, 5) orderings */
    TU_ASSERT_NEAR(r.p, 2.0 / 252.0, 1e-12);
    TU_ASSERT_NEAR(r.p_min, 2.0 / 252.0, 1e-12);
    TU_ASSERT_NEAR(r.u, 0, 0);
    TU_ASSERT_NEAR(s.u, 25, 0);
    TU_ASSERT_NEAR(s.p, r.p, 1e-15);

    /* the same values on both sides: no evidence at all */
    assert_true(zb_mann_whitney(a, 5, a, 5, &r));
    assert_true(r.ties);
    assert_false(r.exact);
    TU_ASSERT_NEAR(r.p, 1.0, 0);
    const double same[] = {3, 3, 3};
    assert_true(zb_mann_whitney(same, 3, same, 3, &r));
    TU_ASSERT_NEAR(r.p, 1.0, 0);

    /* ties between the samples: normal approximation, u counts halves */
    const double x[] = {1, 2, 2, 3, 5}, y[] = {2, 3, 3, 4, 6};
    assert_true(zb_mann_whitney(x, 5, y, 5, &r));
    assert_false(r.exact);
    TU_ASSERT_NEAR(r.u, pair_count(x, 5, y, 5), 1e-12);
    assert_true(r.p > 0.2 && r.p <= 1.0);

    /* large samples, no ties, completely separated: far beyond any alpha */
    double big_x[60], big_y[60];
    for (int i = 0; i < 60; i++) big_x[i] = 1.0 + i * 1e-3, big_y[i] = 2.0 + i * 1e-3;
    assert_true(zb_mann_whitney(big_x, 60, big_y, 60, &r));
    assert_false(r.exact);
    assert_true(r.p < 1e-15);
    assert_true(r.z < -9);

    /* an empty side tests nothing */
    assert_true(zb_mann_whitney(a, 5, b, 0, &r));
    TU_ASSERT_NEAR(r.p, 1.0, 0);
}

/* ------------------------------------------------------------ selection */

static void test_selection_parse(void **state)
{
    (void)state;
    zb_selection s = {0};
    zb_error err = {{0}};
    assert_int_equal(zb_sel_parse("tag:nightly", &s, &err), ZB_OK);
    assert_int_equal(zb_sel_parse("runs:3,5-9", &s, &err), ZB_OK);
    assert_int_equal(s.n_ids, 2);
    assert_true(s.ids[0].lo == 3 && s.ids[0].hi == 3 && s.ids[1].lo == 5 && s.ids[1].hi == 9);
    char d[256];
    zb_sel_describe(&s, d, sizeof d);
    assert_string_equal(d, "runs:3,5-9, tag:nightly");
    assert_true(zb_sel_match(&s, &(zb_sel_run){7, "nightly", "sw", "abc", "cpu_ref"}));
    assert_false(zb_sel_match(&s, &(zb_sel_run){4, "nightly", "sw", "abc", "cpu_ref"}));
    assert_false(zb_sel_match(&s, &(zb_sel_run){5, "other", "sw", "abc", "cpu_ref"}));
    assert_false(zb_sel_names_plugin(&s));
    /* a kind twice is refused: the intersection of two tags is empty */
    assert_int_equal(zb_sel_parse("tag:x", &s, &err), ZB_ERR_INVALID);
    TU_ASSERT_CONTAINS(err.msg, "given twice");
    zb_sel_free(&s);

    /* a long range stays one interval instead of 100000 values */
    assert_int_equal(zb_sel_parse("runs:1-100000", &s, &err), ZB_OK);
    assert_int_equal(s.n_ids, 1);
    assert_true(zb_sel_match(&s, &(zb_sel_run){99999, "", "", "", ""}));
    zb_sel_free(&s);

    assert_int_equal(zb_sel_parse("commit:1a2b", &s, &err), ZB_OK);
    assert_int_equal(zb_sel_parse("plugin:cuda_fused", &s, &err), ZB_OK);
    assert_true(zb_sel_names_plugin(&s));
    assert_true(zb_sel_match(&s, &(zb_sel_run){1, "", "", "1a2b3c4d", "cuda_fused"}));
    assert_false(zb_sel_match(&s, &(zb_sel_run){1, "", "", "1a2c", "cuda_fused"}));
    zb_sel_free(&s);

    /* the empty tag is a tag runs may carry */
    assert_int_equal(zb_sel_parse("tag:", &s, &err), ZB_OK);
    assert_true(zb_sel_match(&s, &(zb_sel_run){1, "", "", "", ""}));
    assert_false(zb_sel_match(&s, &(zb_sel_run){1, "x", "", "", ""}));
    zb_sel_free(&s);

    static const struct {
        const char *spec, *msg;
    } bad[] = {
        {"nightly", "expected KIND:VALUE"}, {"bogus:1", "unknown selection 'bogus'"},
        {"runs:", "empty value"},           {"runs:9-3", "runs backwards"},
        {"runs:a", "--runs"},               {"runs:3,,4", "empty item"},
        {"runs:0", "--runs"},               {"sweep:", "empty value"},
        {"averyveryverylongkind:1", "unknown selection"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        zb_selection t = {0};
        err.msg[0] = '\0';
        if (zb_sel_parse(bad[i].spec, &t, &err) != ZB_ERR_INVALID) fail_msg("'%s' was accepted", bad[i].spec);
        TU_ASSERT_CONTAINS(err.msg, bad[i].msg);
        assert_null(strchr(err.msg, '\n'));
        zb_sel_free(&t);
    }
}

static void test_selection_check(void **state)
{
    (void)state;
    zb_selection s = {0};
    zb_error err = {{0}};
    const int64_t ids[] = {2, 3, 7};
    assert_int_equal(zb_sel_check(&s, ids, 3, NULL, "x.db", &err), ZB_OK);
    assert_int_equal(zb_sel_check(&s, ids, 0, NULL, "x.db", &err), ZB_ERR_INVALID);
    assert_string_equal(err.msg, "x.db: holds no runs");
    assert_int_equal(zb_sel_parse("runs:2,5-8", &s, &err), ZB_OK);
    assert_int_equal(zb_sel_check(&s, ids, 3, NULL, "x.db", &err), ZB_OK); /* 7 is in 5-8 */
    zb_sel_free(&s);
    assert_int_equal(zb_sel_parse("runs:2,77", &s, &err), ZB_OK);
    assert_int_equal(zb_sel_check(&s, ids, 3, "--baseline", "x.db", &err), ZB_ERR_INVALID);
    assert_string_equal(err.msg, "--baseline: x.db: no run 77");
    zb_sel_free(&s);
    assert_int_equal(zb_sel_parse("runs:4-6", &s, &err), ZB_OK);
    assert_int_equal(zb_sel_parse("tag:t", &s, &err), ZB_OK);
    assert_int_equal(zb_sel_check(&s, ids, 3, NULL, "x.db", &err), ZB_ERR_INVALID);
    assert_string_equal(err.msg, "x.db: no run with an id in 4-6 matching runs:4-6, tag:t");
    zb_sel_free(&s);
    assert_int_equal(zb_sel_parse("tag:t", &s, &err), ZB_OK);
    assert_int_equal(zb_sel_check(&s, ids, 0, NULL, "x.db", &err), ZB_ERR_INVALID);
    assert_string_equal(err.msg, "x.db: no runs match tag:t");
    zb_sel_free(&s);
}

/* ------------------------------------------------------------ crossover */

static void test_crossover_curves(void **state)
{
    (void)state;
    zb_crossover c;
    /* A flat at 5, B = x / 2: B - A is -1 at 8 and +3 at 16, so A is lower
     * from 16 on and the zero, linear in log x, is at 8 * 2^(1/4) */
    const zb_rpoint a[] = {{2, 5}, {4, 5}, {8, 5}, {16, 5}, {32, 5}};
    const zb_rpoint b[] = {{2, 1}, {4, 2}, {8, 4}, {16, 8}, {32, 16}};
    zb_crossover_curves(a, 5, b, 5, &c);
    assert_int_equal(c.kind, ZB_CROSS_FROM);
    TU_ASSERT_NEAR(c.at, 16, 0);
    TU_ASSERT_NEAR(c.prev, 8, 0);
    TU_ASSERT_NEAR(c.estimate, 8 * pow(2, 0.25), 1e-9);
    TU_ASSERT_NEAR(c.lo, 2, 0);
    TU_ASSERT_NEAR(c.hi, 32, 0);

    /* swapped: the former B is lower up to 8, then never again */
    zb_crossover_curves(b, 5, a, 5, &c);
    assert_int_equal(c.kind, ZB_CROSS_NEVER);
    TU_ASSERT_NEAR(c.lower_until, 8, 0);

    /* lower everywhere */
    const zb_rpoint low[] = {{2, 0.5}, {32, 0.5}};
    zb_crossover_curves(low, 2, b, 5, &c);
    assert_int_equal(c.kind, ZB_CROSS_ALWAYS);

    /* dips below in the middle and comes back: not a crossover */
    const zb_rpoint dip[] = {{2, 5}, {8, 1}, {16, 9}, {32, 20}};
    zb_crossover_curves(dip, 4, b, 5, &c);
    assert_int_equal(c.kind, ZB_CROSS_NEVER);
    assert_true(isnan(c.lower_until)); /* not lower at the first length */

    /* different points on each curve: compared at the union, B
     * interpolated in log x (B = 3 at x = sqrt(4 * 8) ~ 5.66: 2 + 0.5 * 2) */
    const zb_rpoint mid[] = {{5.656854249, 2.9}, {6, 3.5}};
    zb_crossover_curves(mid, 2, b, 5, &c);
    assert_int_equal(c.kind, ZB_CROSS_NEVER);
    TU_ASSERT_NEAR(c.lower_until, 5.656854249, 1e-9);
    TU_ASSERT_NEAR(zb_curve_at(b, 5, sqrt(32.0)), 3.0, 1e-12);
    assert_true(isnan(zb_curve_at(b, 5, 64)));

    /* ranges that do not meet */
    const zb_rpoint far[] = {{100, 1}, {200, 1}};
    zb_crossover_curves(far, 2, b, 5, &c);
    assert_int_equal(c.kind, ZB_CROSS_DISJOINT);
    zb_crossover_curves(far, 0, b, 5, &c);
    assert_int_equal(c.kind, ZB_CROSS_DISJOINT);
}

static double lin_a(const void *ctx, double x) { (void)ctx; return 1000 + x; }
static double lin_b(const void *ctx, double x) { (void)ctx; return 4 * x; }
static double lin_c(const void *ctx, double x) { (void)ctx; return 3 * x; }

static void test_crossover_fn(void **state)
{
    (void)state;
    zb_crossover c;
    /* 1000 + x < 4x  <=>  x > 333.3: the first integer is 334 */
    zb_crossover_fn(lin_a, NULL, lin_b, NULL, 1, 1 << 20, &c);
    assert_int_equal(c.kind, ZB_CROSS_FROM);
    TU_ASSERT_NEAR(c.at, 334, 0);
    /* 3x < 1000 + x  <=>  x < 500: lower up to 499, then never */
    zb_crossover_fn(lin_c, NULL, lin_a, NULL, 1, 1 << 20, &c);
    assert_int_equal(c.kind, ZB_CROSS_NEVER);
    TU_ASSERT_NEAR(c.lower_until, 499, 0);
    /* inside a range that ends before the crossing: never */
    zb_crossover_fn(lin_a, NULL, lin_b, NULL, 1, 300, &c);
    assert_int_equal(c.kind, ZB_CROSS_NEVER);
    /* a range that starts after it: always */
    zb_crossover_fn(lin_a, NULL, lin_b, NULL, 400, 5000, &c);
    assert_int_equal(c.kind, ZB_CROSS_ALWAYS);
}

/* A series of a preset by the analytic model alone (bf16, batch 1). */
static void preset_series(zb_series *s, const char *name, int is_gpu, int64_t gpu_bytes)
{
    zb_series_from_preset(s, name, "bf16", 1, is_gpu ? gpu_bytes : 0);
    assert_true(s->have_desc);
    assert_int_equal(s->is_zamba, !strncmp(name, "zamba", 5));
}

static void test_crossover_7b_memory(void **state)
{
    (void)state;
    zb_series z, l, m;
    preset_series(&z, "zamba-7b", 1, 80ll << 30);
    preset_series(&l, "llama2-7b", 1, 80ll << 30);
    preset_series(&m, "mistral-7b", 1, 80ll << 30);
    zb_crossover c;
    zb_cross_analytic_memory(&z, &l, ZB_MAX_CONTEXT, &c);
    assert_int_equal(c.kind, ZB_CROSS_FROM);
    /* checked against the model directly: lower at `at` and beyond, not
     * just before */
    assert_true(zb_series_total_bytes(&z, c.at) < zb_series_total_bytes(&l, c.at));
    assert_false(zb_series_total_bytes(&z, c.at - 1) < zb_series_total_bytes(&l, c.at - 1));
    for (double x = c.at; x <= ZB_MAX_CONTEXT; x *= 1.37)
        if (!(zb_series_total_bytes(&z, x) < zb_series_total_bytes(&l, x))) fail_msg("zamba not lower at %g", x);
    /* Mistral's cache stops growing at its window: whatever Zamba saves
     * per token, Mistral's total is flat beyond 4096 */
    TU_ASSERT_NEAR(zb_series_total_bytes(&m, 8192), zb_series_total_bytes(&m, 1 << 20), 0);

    zb_buf b = {0};
    zb_cross_sentence(&b, &c, "zamba-7b", "llama2-7b", "memory", "tokens", 1);
    char expect[128], at[32];
    snprintf(expect, sizeof expect, "zamba-7b beats llama2-7b in memory from %s tokens on",
             zb_fmt_count(at, sizeof at, (int64_t)c.at));
    TU_ASSERT_CONTAINS(zb_buf_str(&b), expect);
    zb_buf_free(&b);

    zb_crossover never = {ZB_CROSS_NEVER, 16, 512, 5, NAN, NAN, NAN, 64};
    zb_cross_sentence(&b, &never, "A", "B", "decode latency", "tokens of context", 0);
    assert_string_equal(zb_buf_str(&b), "A does not beat B in decode latency within the measured range (16 to 512 "
                                        "tokens of context); it is ahead only up to 64 tokens of context.");
    zb_buf_free(&b);
}

static void test_series_fit(void **state)
{
    (void)state;
    zb_series z, m;
    const int64_t mem = 80ll << 30;
    preset_series(&z, "zamba-7b", 1, mem);
    zb_fit f;
    zb_series_fit(&z, &f);
    assert_int_equal(f.kind, ZB_FIT_TOKENS);
    /* the longest context: it fits, one more token does not */
    assert_true(zb_series_total_bytes(&z, (double)f.tokens) <= (double)mem);
    assert_true(zb_series_total_bytes(&z, (double)f.tokens + 1) > (double)mem);

    preset_series(&m, "mistral-7b", 1, mem);
    zb_series_fit(&m, &f);
    assert_int_equal(f.kind, ZB_FIT_WINDOW);
    assert_int_equal(f.window, 4096);

    preset_series(&z, "zamba-7b", 1, 4ll << 30); /* 4 GiB: the weights alone do not fit */
    zb_series_fit(&z, &f);
    assert_int_equal(f.kind, ZB_FIT_NONE);
    preset_series(&z, "zamba-7b", 0, 0);
    zb_series_fit(&z, &f);
    assert_int_equal(f.kind, ZB_FIT_NA_CPU);
}

/* ---------------------------------------------------- hand-made databases */

typedef struct run_spec {
    const char *tag, *plugin, *model, *layout, *dtype, *gpu;
    int batch, seq, gen, depth;
    int64_t gpu_memory;
    const double *prefill_ms; /* per repetition */
    const double *decode_ms;  /* per repetition, ms per token */
    int reps;
    const int64_t *positions; /* samples of repetition 0 */
    const double *step_ms;
    int n_samples;
    int with_memory; /* memory rows from the preset's analytic model */
} run_spec;

/* One completed run through the recorder's own API, so the database is
 * exactly what zbench run writes. Returns the run id. */
static int64_t add_run(zb_db *db, const run_spec *r)
{
    zb_run_info info = {
        .sweep_id = "sweep-1", .tag = r->tag, .command_line = "test", .plugin = r->plugin,
        .plugin_path = "none", .plugin_abi = 1, .model = r->model, .model_source = r->model,
        .layout = r->layout, .dtype = r->dtype, .n_params = 1000, .batch = r->batch ? r->batch : 1,
        .seq = r->seq, .gen = r->gen, .depth = r->depth, .reps = r->reps, .warmup = 0,
        .capacity = (int64_t)r->depth + r->seq + r->gen, .seed = 1, .host = "testhost", .cpu = "Test CPU",
        .gpu = r->gpu ? r->gpu : "", .driver_version = "", .runtime_version = "",
        .gpu_memory_bytes = (uint64_t)r->gpu_memory, .zbench_version = "test", .git_commit = "abc123",
    };
    zb_error err = {{0}};
    int64_t id = -1;
    if (zb_db_run_begin(db, &info, &id, &err) != ZB_OK) fail_msg("run_begin: %s", err.msg);
    zb_result res[64];
    int nr = 0;
    double pre_sorted[32], dec_sorted[32];
    for (int i = 0; i < r->reps; i++) {
        res[nr++] = (zb_result){"prefill", i, r->seq, r->prefill_ms[i], -1};
        if (r->gen > 0) res[nr++] = (zb_result){"decode", i, r->gen, r->decode_ms[i] * r->gen, -1};
        pre_sorted[i] = r->prefill_ms[i];
        dec_sorted[i] = r->gen > 0 ? r->decode_ms[i] : 0;
    }
    zb_stat st[4];
    int ns = 0;
    st[ns++] = (zb_stat){"prefill", "median", zb_median_inplace(pre_sorted, r->reps)};
    if (r->gen > 0) st[ns++] = (zb_stat){"decode", "median", zb_median_inplace(dec_sorted, r->reps)};
    zb_sample smp[64];
    for (int i = 0; i < r->n_samples; i++)
        smp[i] = (zb_sample){0, r->positions[i], r->step_ms[i], -1, -1, -1};
    zb_memory_row mem[3];
    int nm = 0;
    if (r->with_memory) {
        zb_model m;
        assert_int_equal(zb_model_load(r->model, NULL, 1, &m, &err), ZB_OK);
        zb_dtype dt = !strcmp(r->dtype, "f32") ? ZB_DTYPE_F32 : ZB_DTYPE_BF16;
        int64_t cap = info.capacity;
        int64_t w = m.n_params * (int64_t)zb_dtype_size(dt);
        int64_t kv = zb_predict_kv_bytes(&m.desc, dt, info.batch, cap);
        int64_t stt = zb_predict_state_bytes(&m.desc, dt, info.batch);
        mem[nm++] = (zb_memory_row){"weights", w, w};
        mem[nm++] = (zb_memory_row){"kv", kv, kv};
        mem[nm++] = (zb_memory_row){"state", stt, stt};
        zb_model_free(&m);
    }
    if (zb_db_run_end(db, id, "ok", NULL, res, nr, smp, r->n_samples, st, ns, mem, nm, &err) != ZB_OK)
        fail_msg("run_end: %s", err.msg);
    return id;
}

static zb_db *open_db(const char *dir, const char *name, char *path, size_t n)
{
    tu_join(path, n, dir, name);
    zb_db *db = NULL;
    zb_error err = {{0}};
    if (zb_db_open(path, &db, &err) != ZB_OK) fail_msg("%s", err.msg);
    return db;
}

/* Loads the runs `spec` selects ("all" for every run). */
static void load_sel(const char *path, const char *spec, zb_rdb *db, zb_rset *set)
{
    zb_selection s = {0};
    zb_error err = {{0}};
    if (strcmp(spec, "all") != 0) assert_int_equal(zb_sel_parse(spec, &s, &err), ZB_OK);
    if (zb_rdb_open(path, db, &err) != ZB_OK) fail_msg("%s", err.msg);
    if (zb_rset_load(db, &s, set, &err) != ZB_OK) fail_msg("%s", err.msg);
    zb_sel_free(&s);
}

/* zbench compare / report with an argument list, stdout and stderr
 * captured; returns the exit code. */
static int run_cmd(int (*cmd)(int, char **), char **argv, char **out, char **errout)
{
    int argc = 0;
    while (argv[argc]) argc++;
    tu_capture co, ce;
    tu_capture_begin(&co, 1);
    tu_capture_begin(&ce, 2);
    int rc = cmd(argc, argv);
    char *e = tu_capture_end(&ce);
    char *o = tu_capture_end(&co);
    if (out) *out = o;
    else free(o);
    if (errout) *errout = e;
    else free(e);
    return rc;
}

typedef struct tmpdir {
    char path[PATH_MAX];
} tmpdir;

static int setup_dir(void **state)
{
    tmpdir *t = calloc(1, sizeof *t);
    if (!t) return -1;
    tu_mkdtemp(t->path, sizeof t->path);
    *state = t;
    return 0;
}

static int teardown_dir(void **state)
{
    tmpdir *t = *state;
    tu_rmtree(t->path);
    free(t);
    return 0;
}

/* Baseline and candidate of two configurations: zamba-tiny seq 8 made
 * 50% slower in the candidate (every candidate repetition above every
 * baseline one), llama2-tiny seq 8 the same distribution in both, the
 * repetitions interleaved as noise does. */
static const double k_base_pre[] = {10.0, 10.4, 9.8, 10.1, 9.9};
static const double k_base_dec[] = {1.00, 1.04, 0.98, 1.01, 0.99};
static const double k_slow_pre[] = {15.0, 15.6, 14.7, 15.15, 14.85};
static const double k_slow_dec[] = {1.50, 1.56, 1.47, 1.515, 1.485};
static const double k_noise_pre[] = {10.05, 9.85, 10.3, 9.95, 10.15};
static const double k_noise_dec[] = {1.005, 0.985, 1.03, 0.995, 1.015};

static void fill_compare_db(zb_db *db, int with_regression)
{
    run_spec r = {.tag = "base", .plugin = "cpu_ref", .model = "zamba-tiny", .layout = "zamba", .dtype = "f32",
                  .seq = 8, .gen = 4, .reps = 5, .prefill_ms = k_base_pre, .decode_ms = k_base_dec};
    add_run(db, &r);
    r.model = "llama2-tiny", r.layout = "transformer";
    add_run(db, &r);
    /* a configuration only the baseline has */
    r.seq = 16;
    add_run(db, &r);
    r.tag = "cand", r.seq = 8;
    r.prefill_ms = k_noise_pre, r.decode_ms = k_noise_dec;
    add_run(db, &r);
    r.model = "zamba-tiny", r.layout = "zamba";
    if (with_regression) r.prefill_ms = k_slow_pre, r.decode_ms = k_slow_dec;
    add_run(db, &r);
}

static const zb_cmp_row *find_row(const zb_cmp *c, const char *model, const char *phase)
{
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->rows[i].model, model) && !strcmp(c->rows[i].phase, phase)) return &c->rows[i];
    fail_msg("no row for %s %s", model, phase);
    return NULL;
}

static void test_compare_known_regression(void **state)
{
    tmpdir *t = *state;
    char path[PATH_MAX];
    zb_db *db = open_db(t->path, "reg.db", path, sizeof path);
    fill_compare_db(db, 1);
    zb_db_close(db);

    zb_rdb rb, rc;
    zb_rset base, cand;
    load_sel(path, "tag:base", &rb, &base);
    load_sel(path, "tag:cand", &rc, &cand);
    zb_cmp cmp;
    zb_error err = {{0}};
    assert_int_equal(zb_compare(&base, &cand, 0, 0.05, &cmp, &err), ZB_OK);
    assert_int_equal(cmp.n, 4); /* two configurations, two phases each */
    assert_int_equal(cmp.only_base, 1);
    assert_int_equal(cmp.only_cand, 0);

    const zb_cmp_row *r = find_row(&cmp, "zamba-tiny", "prefill");
    assert_int_equal(r->verdict, ZB_CMP_SLOWER);
    TU_ASSERT_NEAR(r->base_median, 10.0, 1e-12);
    TU_ASSERT_NEAR(r->cand_median, 15.0, 1e-12);
    TU_ASSERT_NEAR(r->change_pct, 50.0, 1e-9);
    TU_ASSERT_NEAR(r->speedup, 10.0 / 15.0, 1e-12);
    TU_ASSERT_NEAR(r->test.p, 2.0 / 252.0, 1e-12); /* complete separation of 5 and 5 */
    r = find_row(&cmp, "zamba-tiny", "decode");
    assert_int_equal(r->verdict, ZB_CMP_SLOWER);
    TU_ASSERT_NEAR(r->change_pct, 50.0, 1e-6);
    /* the untouched configuration is noise, not a change */
    r = find_row(&cmp, "llama2-tiny", "prefill");
    assert_int_equal(r->verdict, ZB_CMP_SAME);
    assert_true(r->test.p > 0.5);
    assert_int_equal(find_row(&cmp, "llama2-tiny", "decode")->verdict, ZB_CMP_SAME);

    assert_int_equal(zb_cmp_regressions(&cmp, 10), 2);
    assert_int_equal(zb_cmp_regressions(&cmp, 60), 0); /* slower, but by less than 60% */

    zb_buf md = {0};
    zb_cmp_markdown(&cmp, "tag:base", "tag:cand", 10, &md);
    TU_ASSERT_CONTAINS(zb_buf_str(&md),
                       "| cpu_ref | f32 | zamba-tiny | 1 | 8 | 4 | 0 | prefill | 10.0 | 15.0 | 0.667x | +50.0% |");
    TU_ASSERT_CONTAINS(zb_buf_str(&md), "**slower**");
    TU_ASSERT_CONTAINS(zb_buf_str(&md), "within noise");
    TU_ASSERT_CONTAINS(zb_buf_str(&md), "FAIL: 2 regressions");
    TU_ASSERT_CONTAINS(zb_buf_str(&md), "only in the baseline: 1");
    zb_buf_free(&md);
    zb_cmp_free(&cmp);
    zb_rset_free(&base);
    zb_rset_free(&cand);
    zb_rdb_close(&rb);
    zb_rdb_close(&rc);

    /* the command: exit 1 only with --fail-above below the regression */
    char *out, *e;
    char *a1[] = {"compare", "--db", path, "--baseline", "tag:base", "--candidate", "tag:cand", "--fail-above",
                  "20", NULL};
    assert_int_equal(run_cmd(zb_cmd_compare, a1, &out, &e), 1);
    TU_ASSERT_CONTAINS(out, "FAIL: 2 regressions");
    TU_ASSERT_CONTAINS(e, "2 regressions above 20%");
    assert_int_equal(tu_count_lines(e), 1);
    free(out), free(e);
    char *a2[] = {"compare", "--db", path, "--baseline", "tag:base", "--candidate", "tag:cand", "--fail-above",
                  "75", NULL};
    assert_int_equal(run_cmd(zb_cmd_compare, a2, &out, NULL), 0);
    TU_ASSERT_CONTAINS(out, "PASS: 0 regressions");
    free(out);
    char *a3[] = {"compare", "--db", path, "--baseline", "tag:base", "--candidate", "tag:cand", NULL};
    assert_int_equal(run_cmd(zb_cmd_compare, a3, NULL, NULL), 0); /* no --fail-above: a report, not a gate */
    /* the other way round the change is a speed-up, never a regression */
    char *a4[] = {"compare", "--db", path, "--baseline", "tag:cand", "--candidate", "tag:base", "--fail-above",
                  "1", NULL};
    assert_int_equal(run_cmd(zb_cmd_compare, a4, &out, NULL), 0);
    TU_ASSERT_CONTAINS(out, "2 faster");
    free(out);
}

static void test_compare_pure_noise(void **state)
{
    tmpdir *t = *state;
    char path[PATH_MAX];
    zb_db *db = open_db(t->path, "noise.db", path, sizeof path);
    fill_compare_db(db, 0);
    zb_db_close(db);
    zb_rdb rb, rc;
    zb_rset base, cand;
    load_sel(path, "tag:base", &rb, &base);
    load_sel(path, "tag:cand", &rc, &cand);
    zb_cmp cmp;
    zb_error err = {{0}};
    assert_int_equal(zb_compare(&base, &cand, 0, 0.05, &cmp, &err), ZB_OK);
    assert_int_equal(cmp.n, 4);
    for (int i = 0; i < cmp.n; i++) {
        assert_int_equal(cmp.rows[i].verdict, ZB_CMP_SAME);
        /* the medians differ a little, as noise makes them */
        assert_true(fabs(cmp.rows[i].change_pct) < 2.0);
    }
    assert_int_equal(zb_cmp_regressions(&cmp, 0), 0);
    zb_cmp_free(&cmp);
    zb_rset_free(&base);
    zb_rset_free(&cand);
    zb_rdb_close(&rb);
    zb_rdb_close(&rc);
    char *out;
    char *a[] = {"compare", "--db", path, "--baseline", "tag:base", "--candidate", "tag:cand", "--fail-above",
                 "0", NULL};
    assert_int_equal(run_cmd(zb_cmd_compare, a, &out, NULL), 0);
    TU_ASSERT_CONTAINS(out, "0 slower, 4 within noise");
    free(out);
}

static void test_compare_two_dbs_plugins_and_few_reps(void **state)
{
    tmpdir *t = *state;
    char p1[PATH_MAX], p2[PATH_MAX];
    zb_db *a = open_db(t->path, "one.db", p1, sizeof p1);
    zb_db *b = open_db(t->path, "two.db", p2, sizeof p2);
    run_spec r = {.tag = "", .plugin = "cpu_ref", .model = "zamba-tiny", .layout = "zamba", .dtype = "f32",
                  .seq = 8, .gen = 4, .reps = 5, .prefill_ms = k_base_pre, .decode_ms = k_base_dec};
    add_run(a, &r);
    r.prefill_ms = k_slow_pre, r.decode_ms = k_slow_dec;
    add_run(b, &r);
    /* another plugin in another dtype, in the second file */
    r.plugin = "cuda_fused", r.dtype = "bf16", r.gpu = "Test GPU", r.gpu_memory = 80ll << 30;
    add_run(b, &r);
    /* two repetitions a side: no test can tell at alpha 0.05 */
    r.plugin = "cpu_ref", r.dtype = "f32", r.gpu = NULL, r.gpu_memory = 0, r.seq = 32, r.reps = 2;
    r.prefill_ms = k_base_pre, r.decode_ms = k_base_dec;
    add_run(a, &r);
    r.prefill_ms = k_slow_pre, r.decode_ms = k_slow_dec;
    add_run(b, &r);
    zb_db_close(a);
    zb_db_close(b);

    char *out, *e;
    char *a1[] = {"compare", "--db", p1, "--db", p2, "--baseline", "all", "--candidate", "plugin:cpu_ref",
                  "--fail-above", "10", NULL};
    assert_int_equal(run_cmd(zb_cmd_compare, a1, &out, NULL), 1);
    TU_ASSERT_CONTAINS(out, "| cpu_ref | f32 | zamba-tiny | 1 | 8 | 4 | 0 | prefill |");
    TU_ASSERT_CONTAINS(out, "| cpu_ref | f32 | zamba-tiny | 1 | 32 | 4 | 0 | prefill | 10.2 | 15.3 |");
    TU_ASSERT_CONTAINS(out, "too few reps to tell");
    TU_ASSERT_CONTAINS(out, "FAIL: 2 regressions"); /* seq 8's two phases; seq 32 cannot count */
    free(out);

    /* plugin against plugin: configurations meet across plugins and dtypes */
    zb_rdb ra, rb;
    zb_rset sa, sb;
    load_sel(p1, "plugin:cpu_ref", &ra, &sa);
    load_sel(p2, "plugin:cuda_fused", &rb, &sb);
    zb_cmp cmp;
    zb_error err = {{0}};
    assert_int_equal(zb_compare(&sa, &sb, 1, 0.05, &cmp, &err), ZB_OK);
    assert_int_equal(cmp.n, 2);
    assert_string_equal(cmp.rows[0].plugin, "cpu_ref");
    assert_string_equal(cmp.rows[0].cand_plugin, "cuda_fused");
    assert_int_equal(cmp.only_base, 1); /* seq 32 was never run on cuda_fused */
    zb_cmp_free(&cmp);
    zb_rset_free(&sa);
    zb_rset_free(&sb);
    zb_rdb_close(&ra);
    zb_rdb_close(&rb);
    char *a2[] = {"compare", "--db", p1, "--db", p2, "--baseline", "plugin:cpu_ref", "--candidate",
                  "plugin:cuda_fused", NULL};
    assert_int_equal(run_cmd(zb_cmd_compare, a2, &out, NULL), 0);
    TU_ASSERT_CONTAINS(out, "| baseline plugin | candidate plugin |");
    TU_ASSERT_CONTAINS(out, "| cpu_ref | cuda_fused | zamba-tiny |");
    free(out);

    /* bad input: one line on stderr, exit 2 */
    char *bad[][12] = {
        {"compare", "--db", p1, "--baseline", "tag:", NULL},
        {"compare", "--baseline", "all", "--candidate", "all", NULL},
        {"compare", "--db", p1, "--baseline", "runs:77", "--candidate", "all", NULL},
        {"compare", "--db", p1, "--baseline", "tag:nope", "--candidate", "all", NULL},
        {"compare", "--db", p1, "--baseline", "all", "--candidate", "all", "--fail-above", "x", NULL},
        {"compare", "--db", p1, "--baseline", "all", "--candidate", "all", "--alpha", "2", NULL},
        {"compare", "--db", p1, "--baseline", "nope", "--candidate", "all", NULL},
        {"compare", "--db", p1, "--db", p2, "--db", p1, "--baseline", "all", "--candidate", "all", NULL},
        {"compare", "--db", "/nonexistent/x.db", "--baseline", "all", "--candidate", "all", NULL},
        {"compare", "--db", p1, "--baseline", "all", "--candidate", "all", "--bogus", NULL},
        {"compare", "--db", p1, "--baseline", "tag:x", "--candidate", "tag:y", "extra", NULL},
        {"compare", "--db", p1, "--baseline", "runs:1", "--candidate", "runs:2", NULL}, /* nothing in common */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = run_cmd(zb_cmd_compare, bad[i], NULL, &e);
        if (rc != 2) fail_msg("case %zu exited %d: %s", i, rc, e);
        if (tu_count_lines(e) != 1) fail_msg("case %zu printed: %s", i, e);
        TU_ASSERT_CONTAINS(e, "zbench compare: ");
        free(e);
    }
}

/* ---------------------------------------------------------------- report */

/* zamba-tiny and llama2-tiny with decode latency samples crafted so that
 * Zamba is ahead from position 64 on (flat at 1 ms; the transformer's
 * step grows with the context). */
static void fill_report_db(zb_db *db)
{
    static const int64_t pos[] = {16, 32, 64, 128};
    static const double z_ms[] = {1.0, 1.0, 1.0, 1.0}, l_ms[] = {0.5, 0.8, 1.2, 2.0};
    run_spec r = {.tag = "rep", .plugin = "cpu_ref", .model = "zamba-tiny", .layout = "zamba", .dtype = "f32",
                  .seq = 8, .gen = 120, .reps = 5, .prefill_ms = k_base_pre, .decode_ms = k_base_dec,
                  .positions = pos, .step_ms = z_ms, .n_samples = 4, .with_memory = 1};
    add_run(db, &r);
    r.model = "llama2-tiny", r.layout = "transformer", r.step_ms = l_ms;
    add_run(db, &r);
}

static char *read_out(const char *dir, const char *name)
{
    char p[PATH_MAX];
    tu_join(p, sizeof p, dir, name);
    return tu_read_file(p, NULL);
}

/* Whether a line of text starts with `head` and ends with `tail`. */
static int line_with(const char *text, const char *head, const char *tail)
{
    size_t hl = strlen(head), tl = strlen(tail);
    for (const char *p = text; *p;) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len >= hl + tl && !strncmp(p, head, hl) && !strncmp(p + len - tl, tail, tl)) return 1;
        p += len + (end != NULL);
    }
    return 0;
}

static int have_gnuplot(void)
{
    return system("gnuplot --version >/dev/null 2>&1") == 0;
}

static void test_report_crossover_and_kernels(void **state)
{
    tmpdir *t = *state;
    char path[PATH_MAX], out[PATH_MAX];
    zb_db *db = open_db(t->path, "rep.db", path, sizeof path);
    fill_report_db(db);
    zb_db_close(db);
    tu_join(out, sizeof out, t->path, "out/nested");

    /* no v_kernel_class: the chart says so */
    char *a1[] = {"report", "--db", path, "--tag", "rep", "-o", out, NULL};
    char *so, *se;
    int rc = run_cmd(zb_cmd_report, a1, &so, &se);
    if (rc != 0) fail_msg("report exited %d: %s", rc, se);
    TU_ASSERT_CONTAINS(so, "2 runs (2 ok)");
    free(so), free(se);
    char *md = read_out(out, "report.md");
    TU_ASSERT_CONTAINS(md, "zamba-tiny beats llama2-tiny in decode latency from 64 tokens of context on "
                           "(measured range 16 to 128; the curves cross near 45)");
    TU_ASSERT_CONTAINS(md, "no traced runs");
    free(md);
    char *k = read_out(out, "kernels.csv");
    assert_string_equal(k, "model,plugin,device,phase,class,pct_of_phase\n");
    free(k);

    /* memory.csv: the measured points lie on the analytic lines (the
     * hand-made runs recorded exactly the prediction) */
    char *mem = read_out(out, "memory.csv");
    TU_ASSERT_CONTAINS(mem, "model,plugin,device,dtype,batch,quantity,source,tokens,bytes\n");
    zb_model zt;
    zb_error err = {{0}};
    assert_int_equal(zb_model_load("zamba-tiny", NULL, 1, &zt, &err), ZB_OK);
    char row[256];
    snprintf(row, sizeof row, "zamba-tiny,cpu_ref,Test CPU,f32,1,kv,measured,128,%lld\n",
             (long long)zb_predict_kv_bytes(&zt.desc, ZB_DTYPE_F32, 1, 128));
    TU_ASSERT_CONTAINS(mem, row);
    snprintf(row, sizeof row, ",%lld", (long long)zb_predict_state_bytes(&zt.desc, ZB_DTYPE_F32, 1));
    assert_true(line_with(mem, "zamba-tiny,cpu_ref,Test CPU,f32,1,state,analytic,", row));
    assert_false(line_with(mem, "llama2-tiny,cpu_ref,Test CPU,f32,1,state,", ",")); /* a transformer has none */
    zb_model_free(&zt);
    free(mem);

    /* a second zamba-tiny run, so one bar sums two traced runs */
    db = open_db(t->path, "rep.db", path, sizeof path);
    run_spec r3 = {.tag = "rep", .plugin = "cpu_ref", .model = "zamba-tiny", .layout = "zamba", .dtype = "f32",
                   .seq = 16, .gen = 8, .reps = 5, .prefill_ms = k_base_pre, .decode_ms = k_base_dec};
    assert_int_equal(add_run(db, &r3), 3);
    zb_db_close(db);
    /* traced runs: kernel rows as tracing stores them (run 99 is not a
     * run of the database: its rows must not count); v_kernel_class sums them */
    sqlite3 *h;
    assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h,
                                  "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40)"
                                  " INSERT INTO kernels(run_id, kind, phase, rep, step, name, class, start_ns, end_ns)"
                                  " SELECT 1, 'kernel', 'decode', 0, i, 'k_gemm', 'gemm', 1000 * i, 1000 * i + 150000 FROM n;"
                                  "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20)"
                                  " INSERT INTO kernels(run_id, kind, phase, rep, step, name, class, start_ns, end_ns)"
                                  " SELECT 1, 'kernel', 'decode', 0, i, 'k_scan', 'scan', 1000 * i, 1000 * i + 150000 FROM n;"
                                  "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20)"
                                  " INSERT INTO kernels(run_id, kind, phase, rep, step, name, class, start_ns, end_ns)"
                                  " SELECT 1, 'kernel', 'decode', 0, i, 'k_norm', 'norm', 1000 * i, 1000 * i + 50000 FROM n;"
                                  "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 16)"
                                  " INSERT INTO kernels(run_id, kind, phase, rep, step, name, class, start_ns, end_ns)"
                                  " SELECT 2, 'kernel', 'decode', 0, i, 'k_gemm', 'gemm', 1000 * i, 1000 * i + 93750 FROM n;"
                                  "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 8)"
                                  " INSERT INTO kernels(run_id, kind, phase, rep, step, name, class, start_ns, end_ns)"
                                  " SELECT 2, 'kernel', 'decode', 0, i, 'k_attention', 'attention', 1000 * i, 1000 * i + 62500 FROM n;"
                                  "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20)"
                                  " INSERT INTO kernels(run_id, kind, phase, rep, step, name, class, start_ns, end_ns)"
                                  " SELECT 3, 'kernel', 'decode', 0, i, 'k_gemm', 'gemm', 1000 * i, 1000 * i + 200000 FROM n;"
                                  "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10)"
                                  " INSERT INTO kernels(run_id, kind, phase, rep, step, name, class, start_ns, end_ns)"
                                  " SELECT 3, 'kernel', 'decode', 0, i, 'k_scan', 'scan', 1000 * i, 1000 * i + 100000 FROM n;"
                                  "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1)"
                                  " INSERT INTO kernels(run_id, kind, phase, rep, step, name, class, start_ns, end_ns)"
                                  " SELECT 99, 'kernel', 'decode', 0, i, 'k_gemm', 'gemm', 1000 * i, 1000 * i + 100000000 FROM n;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_close(h), SQLITE_OK);
    rc = run_cmd(zb_cmd_report, a1, NULL, &se);
    if (rc != 0) fail_msg("report exited %d: %s", rc, se);
    free(se);
    k = read_out(out, "kernels.csv");
    TU_ASSERT_CONTAINS(k, "model,plugin,device,phase,class,pct_of_phase,total_ms\n");
    /* runs 1 and 3 summed: gemm 10 ms, scan 4, norm 1 of 15 */
    TU_ASSERT_CONTAINS(k, "zamba-tiny,cpu_ref,Test CPU,decode,gemm,66.6666667,10\n");
    TU_ASSERT_CONTAINS(k, "zamba-tiny,cpu_ref,Test CPU,decode,scan,26.6666667,4\n");
    TU_ASSERT_CONTAINS(k, "zamba-tiny,cpu_ref,Test CPU,decode,norm,6.66666667,1\n");
    TU_ASSERT_CONTAINS(k, "llama2-tiny,cpu_ref,Test CPU,decode,gemm,75,1.5\n");
    TU_ASSERT_CONTAINS(k, "llama2-tiny,cpu_ref,Test CPU,decode,scan,0,0\n");
    TU_ASSERT_NOT_CONTAINS(k, ",100,"); /* run 99 is not in the database's runs */
    free(k);
    md = read_out(out, "report.md");
    TU_ASSERT_CONTAINS(md, "| zamba-tiny | cpu_ref | decode | 2 | 110 | 15.0 | 66.7 | 0.0 | 26.7 | 6.7 |");
    TU_ASSERT_CONTAINS(md, "| llama2-tiny | cpu_ref | decode | 1 | 24 | 2.00 | 75.0 | 25.0 | 0.0 | 0.0 |");
    TU_ASSERT_NOT_CONTAINS(md, "no traced runs");
    free(md);
    char *html = read_out(out, "index.html");
    TU_ASSERT_CONTAINS(html, "<!DOCTYPE html>");
    TU_ASSERT_CONTAINS(html, "</html>");
    if (have_gnuplot()) {
        TU_ASSERT_CONTAINS(html, "<svg");
        TU_ASSERT_CONTAINS(html, "id=\"kernels-"); /* ids made unique per chart */
        char svg[PATH_MAX];
        tu_join(svg, sizeof svg, out, "kernels.svg");
        assert_int_equal(access(svg, R_OK), 0);
    } else {
        print_message("gnuplot not installed: charts not checked\n");
        TU_ASSERT_CONTAINS(html, "gnuplot is not installed");
    }
    TU_ASSERT_NOT_CONTAINS(html, "<script");
    TU_ASSERT_NOT_CONTAINS(html, "http://www.w3.org/Graphics/SVG/1.1/DTD"); /* no doctype of the SVG files inline */
    free(html);
}

static void test_report_bad_input(void **state)
{
    tmpdir *t = *state;
    char path[PATH_MAX], out[PATH_MAX], junk[PATH_MAX], file[PATH_MAX];
    zb_db *db = open_db(t->path, "rep.db", path, sizeof path);
    fill_report_db(db);
    zb_db_close(db);
    tu_join(out, sizeof out, t->path, "out");
    tu_join(junk, sizeof junk, t->path, "junk.db");
    tu_write_text(junk, "this is not SQLite\n");
    tu_join(file, sizeof file, t->path, "afile");
    tu_write_text(file, "x");
    char *nested_in_file = NULL;
    char nf[PATH_MAX];
    tu_join(nf, sizeof nf, file, "sub");
    nested_in_file = nf;
    struct {
        char *argv[12];
        int rc;
        const char *msg;
    } cases[] = {
        {{"report", "--db", path, NULL}, 2, "-o DIR is required"},
        {{"report", "--db", path, "-o", out, "--bogus", NULL}, 2, "unknown option '--bogus'"},
        {{"report", "--db", path, "-o", out, "--tag", NULL}, 2, "needs a value"},
        {{"report", "--db", path, "-o", out, "--runs", "1,77", NULL}, 2, "no run 77"},
        {{"report", "--db", path, "-o", out, "--runs", "x", NULL}, 2, "--runs"},
        {{"report", "--db", path, "-o", out, "--tag", "nope", NULL}, 2, "no runs match tag:nope"},
        {{"report", "--db", "/nonexistent/z.db", "-o", out, NULL}, 2, "No such file"},
        {{"report", "--db", junk, "-o", out, NULL}, 2, "junk.db"},
        {{"report", "--db", path, "-o", nested_in_file, NULL}, 2, "afile"},
        {{"report", "--db", path, "-o", out, "stray", NULL}, 2, "unexpected argument 'stray'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *e;
        int rc = run_cmd(zb_cmd_report, cases[i].argv, NULL, &e);
        if (rc != cases[i].rc) fail_msg("case %zu exited %d: %s", i, rc, e);
        if (tu_count_lines(e) != 1) fail_msg("case %zu printed %d lines: %s", i, tu_count_lines(e), e);
        TU_ASSERT_CONTAINS(e, "zbench report: ");
        TU_ASSERT_CONTAINS(e, cases[i].msg);
        free(e);
    }
    /* nothing was written for any of them */
    char idx[PATH_MAX];
    tu_join(idx, sizeof idx, out, "index.html");
    assert_int_not_equal(access(idx, F_OK), 0);
}

/* The report of a real sweep: cpu_ref, both tiny layouts, a few lengths. */
static void test_report_from_cpu_ref_sweep(void **state)
{
    tmpdir *t = *state;
    char path[PATH_MAX], out[PATH_MAX];
    tu_join(path, sizeof path, t->path, "sweep.db");
    tu_join(out, sizeof out, t->path, "report");
    tu_default_plugin_path();
    char *run[] = {"run", "--plugin", "cpu_ref", "--model", "zamba-tiny,llama2-tiny", "--seq", "8,32",
                   "--gen", "8", "--reps", "2", "--warmup", "0", "--quiet", "--db", path, "--tag", "sweep", NULL};
    char *e;
    int rc = run_cmd(zb_cmd_run, run, NULL, &e);
    if (rc != 0) fail_msg("zbench run exited %d: %s", rc, e);
    free(e);
    char *rep[] = {"report", "--db", path, "--tag", "sweep", "-o", out, NULL};
    rc = run_cmd(zb_cmd_report, rep, NULL, &e);
    if (rc != 0) fail_msg("zbench report exited %d: %s", rc, e);
    free(e);
    static const char *const files[] = {
        "index.html",         "report.md",        "memory.csv",        "memory_in_use.csv",
        "memory_7b.csv",      "decode_latency.csv", "decode_throughput.csv", "prefill_time.csv",
        "prefill_throughput.csv", "pct_of_floor.csv", "kernels.csv",
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char p[PATH_MAX];
        tu_join(p, sizeof p, out, files[i]);
        if (access(p, R_OK) != 0) fail_msg("%s was not written", p);
    }
    char *md = read_out(out, "report.md");
    TU_ASSERT_CONTAINS(md, "### zamba-tiny against llama2-tiny (cpu_ref on ");
    TU_ASSERT_CONTAINS(md, "in decode latency");
    TU_ASSERT_CONTAINS(md, "| 4 | ok | cpu_ref | llama2-tiny | f32 | 1 | 32 | 8 | 0 |");
    free(md);
    /* every measured decode point is a positive step time at a position
     * this sweep produced (seq + 1 ... seq + gen) */
    char *lat = read_out(out, "decode_latency.csv");
    int points = 0;
    for (char *line = strtok(lat, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strstr(line, ",measured,")) continue;
        const char *f = strstr(line, ",measured,") + strlen(",measured,");
        double pos = 0, ms = 0;
        assert_int_equal(sscanf(f, "%lf,%lf", &pos, &ms), 2);
        assert_true((pos >= 9 && pos <= 16) || (pos >= 33 && pos <= 40));
        assert_true(ms > 0 && ms < 1000);
        points++;
    }
    assert_true(points >= 8); /* steps 1, 2, 4, 8 of two seqs, two models: merged per position */
    free(lat);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mwu_exact_matches_enumeration),
        cmocka_unit_test(test_mwu_separation_symmetry_ties),
        cmocka_unit_test(test_selection_parse),
        cmocka_unit_test(test_selection_check),
        cmocka_unit_test(test_crossover_curves),
        cmocka_unit_test(test_crossover_fn),
        cmocka_unit_test(test_crossover_7b_memory),
        cmocka_unit_test(test_series_fit),
        cmocka_unit_test_setup_teardown(test_compare_known_regression, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_compare_pure_noise, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_compare_two_dbs_plugins_and_few_reps, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_report_crossover_and_kernels, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_report_bad_input, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_report_from_cpu_ref_sweep, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
