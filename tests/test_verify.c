/*
 * zbench verify, in process: zb_cmd_verify is what `zbench verify` runs, so
 * calling it with an argv (in a forked child) exercises the same path as the
 * binary (plugin lookup by name, checkpoint binding, golden file checks,
 * prefill/decode/re-prefill) while ASan watches. Every fixture checkpoint
 * must pass with cpu_ref; a golden file altered at one position must fail
 * naming that position; bad input must exit 2 with one line on stderr and
 * nothing on stdout.
 */
#include "test_util.h"

#include <signal.h>
#include <sys/wait.h>

#include "commands.h"
#include "safetensors.h"
#include "verify.h"
#include "zb_util.h"

/* ------------------------------------------------------------- running */

typedef struct result {
    int rc;
    char *out, *err;
} result;

static void result_free(result *r)
{
    free(r->out);
    free(r->err);
}

/* Signals cmocka catches, and the handlers they had before it did (SIG_DFL,
 * or ASan's reporter), saved by main. */
static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGSYS, SIGABRT};
enum { N_CRASH_SIGNALS = sizeof crash_signals / sizeof crash_signals[0] };
static struct sigaction pre_cmocka[N_CRASH_SIGNALS];

/* Runs `zbench verify ARGS...` (NULL-terminated) in a forked child with
 * stdout and stderr going to files: a crash or a sanitizer report then
 * shows up as this test's failure, with what the child printed, instead of
 * killing the runner. The child gets the pre-cmocka handlers back (cmocka's
 * would resume the test run inside the child) and leaves with _exit:
 * LeakSanitizer there would also report whatever an earlier failed test
 * left in the parent (leaks of the real command are checked by tests/cli
 * under ASan). */
static result verify(const char *first, ...)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = "verify";
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *)) {
        assert_true(argc < 31);
        argv[argc++] = (char *)a; /* getopt permutes the array, never the strings */
    }
    va_end(ap);
    argv[argc] = NULL;
    tu_capture out, err;
    tu_capture_begin(&out, 1);
    tu_capture_begin(&err, 2);
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; i < N_CRASH_SIGNALS; i++) sigaction(crash_signals[i], &pre_cmocka[i], NULL);
        int rc = zb_cmd_verify(argc, argv);
        fflush(stdout);
        fflush(stderr);
        _exit(rc);
    }
    int status = 0;
    pid_t w = pid > 0 ? waitpid(pid, &status, 0) : -1;
    result r;
    r.err = tu_capture_end(&err);
    r.out = tu_capture_end(&out);
    if (w != pid) fail_msg("fork/wait failed");
    if (!WIFEXITED(status)) fail_msg("zbench verify died of signal %d; stderr:\n%s", WTERMSIG(status), r.err);
    r.rc = WEXITSTATUS(status);
    return r;
}

/* Bad input: exit status 2, nothing on stdout, one line on stderr that
 * contains `frag`. */
static void expect_usage_error(result r, const char *frag)
{
    if (r.rc != 2) fail_msg("exit %d, expected 2; stdout: %s stderr: %s", r.rc, r.out, r.err);
    assert_string_equal(r.out, "");
    assert_int_equal(tu_count_lines(r.err), 1);
    TU_ASSERT_CONTAINS(r.err, "zbench verify: ");
    TU_ASSERT_CONTAINS(r.err, frag);
    result_free(&r);
}

/* ------------------------------------------------------------ fixtures */

static void fixture_dir(char *out, size_t n, const char *name) { tu_fixture(out, n, name, NULL); }

/* Length T and vocabulary V of a fixture's golden logits. */
static void golden_shape(const char *name, int *T, int *V)
{
    char path[PATH_MAX];
    tu_fixture(path, sizeof path, name, "golden.safetensors");
    st_file f;
    zb_error err = {{0}};
    if (st_open(&f, path, &err) != ZB_OK) fail_msg("%s", err.msg);
    const st_tensor *lg = st_find(&f, "logits");
    assert_non_null(lg);
    *T = (int)lg->shape[0];
    *V = (int)lg->shape[1];
    st_close(&f);
}

/* Checks a PASS line: exactly one line, the fixed prefix with the right
 * number of compared positions, an error within the default tolerance. */
static void expect_pass(result r, const char *name, int positions)
{
    char prefix[256];
    snprintf(prefix, sizeof prefix, "verify PASS plugin=cpu_ref model=%s positions=%d ", name, positions);
    if (r.rc != 0) fail_msg("%s: exit %d: %s%s", name, r.rc, r.out, r.err);
    assert_int_equal(tu_count_lines(r.out), 1);
    if (strncmp(r.out, prefix, strlen(prefix)) != 0) fail_msg("got \"%s\", expected prefix \"%s\"", r.out, prefix);
    const char *e = strstr(r.out, "max_rel_err=");
    assert_non_null(e);
    double err = strtod(e + strlen("max_rel_err="), NULL);
    if (!(err < 1e-4)) fail_msg("%s: max_rel_err %g", name, err);
    assert_string_equal(r.err, "");
    result_free(&r);
}

static void test_rel_err(void **state)
{
    (void)state;
    const float ref[2] = {3.0f, 4.0f}, same[2] = {3.0f, 4.0f}, off[2] = {3.0f, 4.5f};
    TU_ASSERT_NEAR(zb_rel_err(same, ref, 2), 0.0, 0.0);
    TU_ASSERT_NEAR(zb_rel_err(off, ref, 2), 0.1, 1e-12); /* 0.5 / 5 */
    const float zero[2] = {0.0f, 0.0f};
    TU_ASSERT_NEAR(zb_rel_err(ref, zero, 2), 5.0, 1e-12); /* absolute when ref is 0 */
    const float nan[2] = {NAN, 4.0f};
    assert_true(isnan(zb_rel_err(nan, ref, 2)));
}

/* Every checkpoint under $ZB_FIXTURES, with the default split (T/2): one
 * prefill, T - T/2 decodes and one full prefill are compared. */
static void test_every_fixture_passes(void **state)
{
    (void)state;
    char names[16][64];
    int n = tu_list_fixtures(names, 16);
    assert_true(n >= 4);
    for (int i = 0; i < n; i++) {
        char dir[PATH_MAX];
        int T, V;
        fixture_dir(dir, sizeof dir, names[i]);
        golden_shape(names[i], &T, &V);
        expect_pass(verify("--plugin", "cpu_ref", "--model", dir, NULL), names[i], 1 + (T - T / 2) + 1);
    }
}

/* Batched (the same sequence three times) and an early split, on one
 * fixture of each layout (the CLI tests cover all of them). */
static void test_batch_and_split(void **state)
{
    (void)state;
    const char *names[] = {"zamba-tiny-f32", "mistral-tiny-swa-bf16"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char dir[PATH_MAX];
        int T, V;
        fixture_dir(dir, sizeof dir, names[i]);
        golden_shape(names[i], &T, &V);
        expect_pass(verify("--model", dir, "--batch", "3", "--split", "5", NULL), names[i], 1 + (T - 5) + 1);
    }
}

static void test_tiny_tolerance_fails(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    fixture_dir(dir, sizeof dir, "llama-tiny-bf16");
    result r = verify("--plugin", "cpu_ref", "--model", dir, "--tol", "1e-12", NULL);
    assert_int_equal(r.rc, 1);
    assert_int_equal(tu_count_lines(r.out), 1);
    TU_ASSERT_CONTAINS(r.out, "verify FAIL plugin=cpu_ref model=llama-tiny-bf16 positions=");
    TU_ASSERT_CONTAINS(r.out, "tol=1.0e-12 worst_position=");
    assert_string_equal(r.err, "");
    result_free(&r);
}

/* ------------------------------------------------- altered golden files */

typedef struct tmp_state {
    char dir[PATH_MAX];
} tmp_state;

static int tmp_setup(void **state)
{
    tmp_state *t = calloc(1, sizeof *t);
    if (!t) return -1;
    tu_mkdtemp(t->dir, sizeof t->dir);
    *state = t;
    return 0;
}

static int tmp_teardown(void **state)
{
    tmp_state *t = *state;
    tu_rmtree(t->dir);
    free(t);
    return 0;
}

/* Copies a fixture's golden file to dst with row `pos` of the logits
 * replaced by f(row). */
static void alter_golden(const char *name, const char *dst, int pos, void (*f)(float *row, int V))
{
    char src[PATH_MAX];
    tu_fixture(src, sizeof src, name, "golden.safetensors");
    size_t len;
    char *bytes = tu_read_file(src, &len);
    st_file g;
    zb_error err = {{0}};
    if (st_open(&g, src, &err) != ZB_OK) fail_msg("%s", err.msg);
    const st_tensor *lg = st_find(&g, "logits");
    const int V = (int)lg->shape[1];
    float *row = malloc(sizeof *row * (size_t)V);
    assert_non_null(row);
    size_t at = (size_t)(lg->data - g.map) + sizeof(float) * (size_t)pos * V;
    memcpy(row, bytes + at, sizeof *row * (size_t)V);
    f(row, V);
    memcpy(bytes + at, row, sizeof *row * (size_t)V);
    tu_write_file(dst, bytes, len);
    free(row);
    free(bytes);
    st_close(&g);
}

static void negate_row(float *row, int V)
{
    for (int i = 0; i < V; i++) row[i] = -row[i];
}

static void nan_in_row(float *row, int V)
{
    row[V / 2] = NAN;
}

static void expect_fail_at(const char *dir, const char *golden, int pos, const char *phase)
{
    char want[96];
    result r = verify("--model", dir, "--golden", golden, NULL);
    if (r.rc != 1) fail_msg("exit %d, expected 1: %s%s", r.rc, r.out, r.err);
    assert_int_equal(tu_count_lines(r.out), 1);
    snprintf(want, sizeof want, " worst_position=%d phase=%s\n", pos, phase);
    TU_ASSERT_CONTAINS(r.out, want);
    result_free(&r);
}

/* One wrong golden row is found, at its position and in its phase. */
static void test_altered_position_is_found(void **state)
{
    tmp_state *ts = *state;
    char dir[PATH_MAX], g[PATH_MAX];
    int T, V;
    fixture_dir(dir, sizeof dir, "zamba-tiny-f32");
    golden_shape("zamba-tiny-f32", &T, &V);
    tu_join(g, sizeof g, ts->dir, "golden.safetensors");
    alter_golden("zamba-tiny-f32", g, T - 3, negate_row);
    expect_fail_at(dir, g, T - 3, "decode");
    alter_golden("zamba-tiny-f32", g, T / 2 - 1, negate_row); /* the last prompt position */
    expect_fail_at(dir, g, T / 2 - 1, "prefill");
    /* a NaN in the golden makes that position the worst, whatever else */
    alter_golden("zamba-tiny-f32", g, 20, nan_in_row);
    expect_fail_at(dir, g, 20, "decode");
    /* an untouched copy passes: the alteration, not the copying, fails */
    char src[PATH_MAX];
    tu_fixture(src, sizeof src, "zamba-tiny-f32", "golden.safetensors");
    tu_copy_file(src, g);
    result r = verify("--model", dir, "--golden", g, NULL);
    assert_int_equal(r.rc, 0);
    result_free(&r);
}

/* ---------------------------------------------------------- bad input */

static void test_bad_options(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    int T, V;
    fixture_dir(dir, sizeof dir, "llama-tiny-bf16");
    golden_shape("llama-tiny-bf16", &T, &V);
    char t_str[16], t1_str[16];
    snprintf(t_str, sizeof t_str, "%d", T);
    snprintf(t1_str, sizeof t1_str, "%d", T + 1);
    expect_usage_error(verify("--plugin", "cpu_ref", NULL), "--model");
    expect_usage_error(verify("--model", "/nonexistent/zbench-model", NULL), "/nonexistent/zbench-model");
    expect_usage_error(verify("--model", dir, "--split", "0", NULL), "--split");
    expect_usage_error(verify("--model", dir, "--split", "-2", NULL), "--split");
    expect_usage_error(verify("--model", dir, "--split", "4x", NULL), "--split");
    expect_usage_error(verify("--model", dir, "--split", t_str, NULL), "below the golden length");
    expect_usage_error(verify("--model", dir, "--split", t1_str, NULL), "below the golden length");
    expect_usage_error(verify("--model", dir, "--tol", "0", NULL), "--tol");
    expect_usage_error(verify("--model", dir, "--tol", "abc", NULL), "--tol");
    expect_usage_error(verify("--model", dir, "--batch", "0", NULL), "--batch");
    expect_usage_error(verify("--model", dir, "--batch", "65", NULL), "maximum");
    expect_usage_error(verify("--model", dir, "--dtype", "bf16", NULL), "dtype bf16");
    expect_usage_error(verify("--model", dir, "--dtype", "f8", NULL), "--dtype");
    expect_usage_error(verify("--model", dir, "--frobnicate", NULL), "--frobnicate");
    expect_usage_error(verify("--model", dir, "stray", NULL), "stray");
    expect_usage_error(verify("--model", dir, "--split", NULL), "--split");
}

static void test_unknown_plugin(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    fixture_dir(dir, sizeof dir, "llama-tiny-bf16");
    result r = verify("--plugin", "no_such_backend", "--model", dir, NULL);
    TU_ASSERT_CONTAINS(r.err, "cpu_ref"); /* the available ones are listed */
    expect_usage_error(r, "no_such_backend");
}

/* A golden file with the given input_ids / logits tensors. */
static void write_golden(const char *path, const char *ids_dtype, int T, const char *lg_dtype, int rows, int V,
                         int32_t bad_id)
{
    /* room for 8-byte ids too, so a wrong dtype is well-formed */
    int32_t *ids = calloc(2 * (size_t)T, sizeof *ids);
    size_t id_size = !strcmp(ids_dtype, "I64") ? 8 : 4;
    float *lg = calloc((size_t)rows * V, sizeof *lg);
    assert_non_null(ids), assert_non_null(lg);
    for (int i = 0; i < T; i++) ids[i] = i % 7;
    if (T > 1) ids[T - 1] = bad_id;
    size_t lg_size = !strcmp(lg_dtype, "BF16") ? 2 : 4;
    tu_tensor t[2] = {
        {"input_ids", ids_dtype, 1, {T}, ids, id_size * (size_t)T},
        {"logits", lg_dtype, 2, {rows, V}, lg, lg_size * (size_t)rows * V},
    };
    tu_st_write(path, t, 2, 8);
    free(ids), free(lg);
}

static void test_bad_golden_files(void **state)
{
    tmp_state *ts = *state;
    char dir[PATH_MAX], g[PATH_MAX], src[PATH_MAX];
    fixture_dir(dir, sizeof dir, "llama-tiny-bf16");
    tu_join(g, sizeof g, ts->dir, "golden.safetensors");
    /* a corrupt copy: the real file cut in half */
    tu_fixture(src, sizeof src, "llama-tiny-bf16", "golden.safetensors");
    size_t len;
    char *bytes = tu_read_file(src, &len);
    tu_write_file(g, bytes, len / 2);
    free(bytes);
    expect_usage_error(verify("--model", dir, "--golden", g, NULL), g);
    /* well-formed files with the wrong content */
    write_golden(g, "I32", 8, "F32", 8, 255, 3);
    expect_usage_error(verify("--model", dir, "--golden", g, NULL), "'logits' must be F32 [8, 256]");
    write_golden(g, "I32", 8, "F32", 7, 256, 3);
    expect_usage_error(verify("--model", dir, "--golden", g, NULL), "'logits'");
    write_golden(g, "I32", 8, "BF16", 8, 256, 3);
    expect_usage_error(verify("--model", dir, "--golden", g, NULL), "'logits'");
    write_golden(g, "I64", 4, "F32", 4, 256, 3);
    expect_usage_error(verify("--model", dir, "--golden", g, NULL), "'input_ids' must be I32");
    write_golden(g, "I32", 1, "F32", 1, 256, 3);
    expect_usage_error(verify("--model", dir, "--golden", g, NULL), "T >= 2");
    tu_tensor only = {"input_ids", "I32", 1, {2}, (int32_t[2]){1, 2}, 8};
    tu_st_write(g, &only, 1, 8);
    expect_usage_error(verify("--model", dir, "--golden", g, NULL), "needs tensors");
}

/* Token ids the model cannot embed are refused up front, naming the first. */
static void test_golden_ids_outside_vocab(void **state)
{
    tmp_state *ts = *state;
    char dir[PATH_MAX], g[PATH_MAX];
    fixture_dir(dir, sizeof dir, "llama-tiny-bf16");
    tu_join(g, sizeof g, ts->dir, "golden.safetensors");
    write_golden(g, "I32", 8, "F32", 8, 256, 256);
    expect_usage_error(verify("--model", dir, "--golden", g, NULL), "input_ids[7] = 256");
    write_golden(g, "I32", 8, "F32", 8, 256, -1);
    expect_usage_error(verify("--model", dir, "--golden", g, NULL), "outside the vocabulary");
}

/* A checkpoint copied without its golden file, into a temp dir. */
static void test_missing_golden(void **state)
{
    tmp_state *ts = *state;
    char src[PATH_MAX], dst[PATH_MAX];
    const char *files[] = {"config.json", "model.safetensors"};
    for (int i = 0; i < 2; i++) {
        tu_fixture(src, sizeof src, "llama-tiny-bf16", files[i]);
        tu_join(dst, sizeof dst, ts->dir, files[i]);
        tu_copy_file(src, dst);
    }
    expect_usage_error(verify("--model", ts->dir, NULL), "golden.safetensors");
    /* and with it, the copy passes under the temp dir's own name */
    tu_fixture(src, sizeof src, "llama-tiny-bf16", "golden.safetensors");
    tu_join(dst, sizeof dst, ts->dir, "golden.safetensors");
    tu_copy_file(src, dst);
    result r = verify("--model", ts->dir, NULL);
    assert_int_equal(r.rc, 0);
    TU_ASSERT_CONTAINS(r.out, zb_basename(ts->dir));
    result_free(&r);
}

static void test_help(void **state)
{
    (void)state;
    result r = verify("--help", NULL);
    assert_int_equal(r.rc, 0);
    TU_ASSERT_CONTAINS(r.out, "usage: zbench verify");
    assert_string_equal(r.err, "");
    result_free(&r);
}

int main(void)
{
    tu_default_plugin_path();
    for (int i = 0; i < N_CRASH_SIGNALS; i++) sigaction(crash_signals[i], NULL, &pre_cmocka[i]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rel_err),
        cmocka_unit_test(test_every_fixture_passes),
        cmocka_unit_test(test_batch_and_split),
        cmocka_unit_test(test_tiny_tolerance_fails),
        cmocka_unit_test_setup_teardown(test_altered_position_is_found, tmp_setup, tmp_teardown),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_unknown_plugin),
        cmocka_unit_test_setup_teardown(test_bad_golden_files, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_golden_ids_outside_vocab, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_missing_golden, tmp_setup, tmp_teardown),
        cmocka_unit_test(test_help),
    };
    return cmocka_run_group_tests_name("zbench verify", tests, NULL, NULL) ? 1 : 0;
}
