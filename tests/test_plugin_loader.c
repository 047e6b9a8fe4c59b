/*
 * Plugin loading (zb_plugin_load, zb_plugin_scan, zb_plugin_dirs): the real
 * cpu_ref by name and by path, and the deliberately broken plugins of
 * tests/plugins, each of which must be refused with a one-line message
 * naming the file and its defect.
 */
#include "test_util.h"

#include "plugin_loader.h"
#include "zb_util.h"

/* Each test may repoint ZBENCH_PLUGIN_PATH; the original comes back after. */
typedef struct env_state {
    char saved[4096];
    int had;
    char tmp[PATH_MAX];
} env_state;

static int env_setup(void **state)
{
    env_state *e = calloc(1, sizeof *e);
    if (!e) return -1;
    tu_default_plugin_path();
    const char *v = getenv("ZBENCH_PLUGIN_PATH");
    e->had = v != NULL;
    if (v) snprintf(e->saved, sizeof e->saved, "%s", v);
    tu_mkdtemp(e->tmp, sizeof e->tmp);
    *state = e;
    return 0;
}

static int env_teardown(void **state)
{
    env_state *e = *state;
    if (e->had) setenv("ZBENCH_PLUGIN_PATH", e->saved, 1);
    else unsetenv("ZBENCH_PLUGIN_PATH");
    tu_rmtree(e->tmp);
    free(e);
    return 0;
}

static void build_path(char *out, size_t n, const char *rel)
{
    tu_join(out, n, tu_build_dir(), rel);
}

static void bad_plugin(char *out, size_t n, const char *name)
{
    char rel[128];
    snprintf(rel, sizeof rel, "tests/plugins/libzb_%s.so", name);
    build_path(out, n, rel);
    struct stat st;
    if (stat(out, &st) != 0) fail_msg("%s is not built", out);
}

/* Loads and expects refusal; the message is one line naming `name_in_msg`
 * (the file) and containing `problem`. */
static void expect_refused(const char *what, const char *name_in_msg, const char *problem)
{
    zb_plugin p;
    zb_error err = {{0}};
    zb_status s = zb_plugin_load(what, &p, &err);
    if (s == ZB_OK) fail_msg("%s loaded", what);
    assert_int_equal(s, ZB_ERR_INVALID);
    assert_null(p.api);
    TU_ASSERT_CONTAINS(err.msg, name_in_msg);
    TU_ASSERT_CONTAINS(err.msg, problem);
    assert_null(strchr(err.msg, '\n'));
}

/* ------------------------------------------------------------- cpu_ref */

static void check_cpu_ref(const zb_plugin *p)
{
    assert_non_null(p->api);
    assert_int_equal(p->api->abi_version, ZB_ABI_VERSION);
    assert_string_equal(p->api->name, "cpu_ref");
    assert_true(p->api->dtypes & ZB_DTYPE_BIT(ZB_DTYPE_F32));
    assert_true(p->api->max_batch >= 3);
    const char *file = strrchr(p->path, '/');
    assert_non_null(file);
    assert_string_equal(file, "/libzb_cpu_ref.so");
    /* the table is usable: a CPU plugin describes its device */
    zb_device_info info;
    zb_error err = {{0}};
    assert_int_equal(p->api->device_info(0, &info, &err), ZB_OK);
    assert_int_equal(info.is_gpu, 0);
    assert_true(info.name[0] != '\0');
}

static void test_load_cpu_ref_by_name(void **state)
{
    (void)state;
    zb_plugin p;
    zb_error err = {{0}};
    if (zb_plugin_load("cpu_ref", &p, &err) != ZB_OK) fail_msg("%s", err.msg);
    check_cpu_ref(&p);
}

static void test_load_cpu_ref_by_path(void **state)
{
    (void)state;
    char path[PATH_MAX];
    build_path(path, sizeof path, "plugins/libzb_cpu_ref.so");
    zb_plugin a, b;
    zb_error err = {{0}};
    if (zb_plugin_load(path, &a, &err) != ZB_OK) fail_msg("%s", err.msg);
    check_cpu_ref(&a);
    assert_string_equal(a.path, path);
    /* the same file by name: the same library, hence the same table */
    if (zb_plugin_load("cpu_ref", &b, &err) != ZB_OK) fail_msg("%s", err.msg);
    assert_ptr_equal(a.api, b.api);
}

/* -------------------------------------------------------------- refused */

static void test_missing_file(void **state)
{
    env_state *e = *state;
    char path[PATH_MAX];
    tu_join(path, sizeof path, e->tmp, "libzb_absent.so");
    expect_refused(path, path, "no such plugin file");
    /* ending in .so makes it a path even without a slash */
    expect_refused("libzb_absent_here.so", "libzb_absent_here.so", "no such plugin file");
}

static void test_not_found_by_name_lists_available(void **state)
{
    (void)state;
    expect_refused("no_such_backend", "plugin 'no_such_backend' not found", "available: ");
    expect_refused("no_such_backend", "not found", "cpu_ref");
}

static void test_not_found_in_empty_dir(void **state)
{
    env_state *e = *state;
    setenv("ZBENCH_PLUGIN_PATH", e->tmp, 1);
    expect_refused("cpu_ref", e->tmp, "available: none");
}

static void test_missing_entry_symbol(void **state)
{
    (void)state;
    char path[PATH_MAX];
    bad_plugin(path, sizeof path, "no_entry");
    expect_refused(path, path, "no entry symbol 'zbench_plugin_entry'");
}

static void test_wrong_abi_version(void **state)
{
    (void)state;
    char path[PATH_MAX], want[64];
    bad_plugin(path, sizeof path, "bad_abi");
    snprintf(want, sizeof want, "ABI version %u, zbench expects %u", ZB_ABI_VERSION + 41u, ZB_ABI_VERSION);
    expect_refused(path, path, want);
}

static void test_null_function(void **state)
{
    (void)state;
    char path[PATH_MAX];
    bad_plugin(path, sizeof path, "null_fn");
    expect_refused(path, path, "NULL 'decode'");
}

static void test_entry_returns_null(void **state)
{
    (void)state;
    char path[PATH_MAX];
    bad_plugin(path, sizeof path, "null_table");
    expect_refused(path, path, "returned no table");
}

static void test_not_a_shared_object(void **state)
{
    env_state *e = *state;
    char path[PATH_MAX];
    tu_join(path, sizeof path, e->tmp, "libzb_text.so");
    tu_write_text(path, "this is not an ELF file\n");
    expect_refused(path, path, "cannot load");
}

/* Broken plugins found by name go through the same checks. */
static void test_broken_plugins_by_name(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    build_path(dir, sizeof dir, "tests/plugins");
    setenv("ZBENCH_PLUGIN_PATH", dir, 1);
    expect_refused("bad_abi", "libzb_bad_abi.so", "ABI version");
    expect_refused("null_fn", "libzb_null_fn.so", "NULL 'decode'");
    expect_refused("no_entry", "libzb_no_entry.so", "no entry symbol");
    expect_refused("null_table", "libzb_null_table.so", "no table");
}

/* ---------------------------------------------------- directories, scan */

static void test_plugin_dirs_parsing(void **state)
{
    (void)state;
    char dirs[4][PATH_MAX];
    setenv("ZBENCH_PLUGIN_PATH", "/a/b::/c:", 1);
    assert_int_equal(zb_plugin_dirs(dirs, 4), 2);
    assert_string_equal(dirs[0], "/a/b");
    assert_string_equal(dirs[1], "/c");
    setenv("ZBENCH_PLUGIN_PATH", "/1:/2:/3", 1);
    assert_int_equal(zb_plugin_dirs(dirs, 2), 2); /* never more than asked */
    /* unset: plugins/ next to the running binary ($ZB_BUILD/tests here) */
    unsetenv("ZBENCH_PLUGIN_PATH");
    assert_int_equal(zb_plugin_dirs(dirs, 4), 1);
    size_t n = strlen(dirs[0]);
    assert_true(n > strlen("/tests/plugins"));
    assert_string_equal(dirs[0] + n - strlen("/tests/plugins"), "/tests/plugins");
}

static void test_scan_lists_sorted_and_first_wins(void **state)
{
    env_state *e = *state;
    char real[PATH_MAX], bad[PATH_MAX], env[3 * PATH_MAX];
    build_path(real, sizeof real, "plugins");
    build_path(bad, sizeof bad, "tests/plugins");
    snprintf(env, sizeof env, "%s:%s", bad, real);
    setenv("ZBENCH_PLUGIN_PATH", env, 1);
    zb_plugin_entry_info found[64];
    int n = zb_plugin_scan(found, 64);
    const char *want[] = {"bad_abi", "cpu_ref", "no_entry", "null_fn", "null_table"};
    for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
        int hit = 0;
        for (int i = 0; i < n; i++) hit += !strcmp(found[i].name, want[w]);
        if (hit != 1) fail_msg("scan lists '%s' %d times", want[w], hit);
    }
    for (int i = 1; i < n; i++) assert_true(strcmp(found[i - 1].name, found[i].name) < 0);
    for (int i = 0; i < n; i++) {
        struct stat st;
        assert_int_equal(stat(found[i].path, &st), 0);
    }
    /* a plugin named cpu_ref in an earlier directory shadows the real one */
    char fake[PATH_MAX], src[PATH_MAX];
    bad_plugin(src, sizeof src, "null_fn");
    tu_join(fake, sizeof fake, e->tmp, "libzb_cpu_ref.so");
    tu_copy_file(src, fake);
    snprintf(env, sizeof env, "%s:%s", e->tmp, real);
    setenv("ZBENCH_PLUGIN_PATH", env, 1);
    expect_refused("cpu_ref", fake, "NULL 'decode'");
    assert_true(zb_plugin_scan(found, 1) == 1); /* capped at max */
}

/* A GPU plugin's 16-bit format (bf16 first), else f32, else what it has;
 * the CUDA plugins offer only the format they were built for. */
static void test_default_dtype(void **state)
{
    (void)state;
    zb_plugin_api api;
    memset(&api, 0, sizeof api);
    api.caps = ZB_CAP_GPU;
    api.dtypes = ZB_DTYPE_BIT(ZB_DTYPE_F16);
    assert_int_equal(zb_plugin_default_dtype(&api), ZB_DTYPE_F16);
    api.dtypes |= ZB_DTYPE_BIT(ZB_DTYPE_BF16) | ZB_DTYPE_BIT(ZB_DTYPE_F32);
    assert_int_equal(zb_plugin_default_dtype(&api), ZB_DTYPE_BF16);
    api.caps = 0;
    assert_int_equal(zb_plugin_default_dtype(&api), ZB_DTYPE_F32);
    api.dtypes = ZB_DTYPE_BIT(ZB_DTYPE_F16);
    assert_int_equal(zb_plugin_default_dtype(&api), ZB_DTYPE_F16);

    zb_dtype t = ZB_DTYPE_I32;
    assert_true(zb_parse_dtype("f16", &t) && t == ZB_DTYPE_F16);
    assert_true(zb_parse_dtype("bf16", &t) && t == ZB_DTYPE_BF16);
    assert_true(zb_parse_dtype("f32", &t) && t == ZB_DTYPE_F32);
    assert_false(zb_parse_dtype("fp16", &t) || zb_parse_dtype("i32", &t) || zb_parse_dtype("", &t));
    assert_int_equal(t, ZB_DTYPE_F32); /* untouched on failure */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load_cpu_ref_by_name, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_load_cpu_ref_by_path, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_not_found_by_name_lists_available, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_not_found_in_empty_dir, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_missing_entry_symbol, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_wrong_abi_version, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_null_function, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_entry_returns_null, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_not_a_shared_object, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_broken_plugins_by_name, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_plugin_dirs_parsing, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_scan_lists_sorted_and_first_wins, env_setup, env_teardown),
        cmocka_unit_test(test_default_dtype),
    };
    return cmocka_run_group_tests_name("plugin loader", tests, NULL, NULL) ? 1 : 0;
}
