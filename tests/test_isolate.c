/* Sweep isolation's pure parts: the private argument a parent hands its
 * child, taken out of argv exactly; malformed ones refused; signal names
 * for the run's error; the --isolate options. (The processes themselves
 * are exercised end to end by tests/cli/run_sweep.sh: a segfaulting plugin,
 * SIGINT and SIGKILL.) */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "isolate.h"
#include "options.h"

static void test_child_args(void **state)
{
    (void)state;
    char a0[] = "run", a1[] = "--isolated-child=3:41:2", a2[] = "--seq", a3[] = "8,16";
    char *argv[] = {a0, a1, a2, a3, NULL};
    int argc = 4;
    zb_child_spec spec;
    zb_error err = {{0}};
    assert_int_equal(zb_isolate_take_child_args(&argc, argv, &spec, &err), ZB_OK);
    assert_int_equal(spec.index, 3);
    assert_int_equal(spec.run_id, 41);
    assert_int_equal(spec.rows, 2);
    assert_int_equal(argc, 3);
    assert_string_equal(argv[1], "--seq");
    assert_string_equal(argv[2], "8,16");
    assert_null(argv[3]);

    /* none: argv untouched, index 0 */
    char *plain[] = {a0, a2, a3, NULL};
    argc = 3;
    assert_int_equal(zb_isolate_take_child_args(&argc, plain, &spec, &err), ZB_OK);
    assert_int_equal(spec.index, 0);
    assert_int_equal(argc, 3);
    assert_string_equal(plain[1], "--seq");
}

static void test_child_args_malformed(void **state)
{
    (void)state;
    const char *bad[] = {"--isolated-child=", "--isolated-child=1:2", "--isolated-child=0:5:0",
                         "--isolated-child=1:0:0", "--isolated-child=1:2:-1", "--isolated-child=1:2:3x",
                         "--isolated-child=a:b:c"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char a0[] = "run", a1[64];
        snprintf(a1, sizeof a1, "%s", bad[i]);
        char *argv[] = {a0, a1, NULL};
        int argc = 2;
        zb_child_spec spec;
        zb_error err = {{0}};
        assert_int_equal(zb_isolate_take_child_args(&argc, argv, &spec, &err), ZB_ERR_INVALID);
        assert_non_null(strstr(err.msg, "--isolated-child"));
        assert_null(strchr(err.msg, '\n'));
    }
}

static void test_signal_names(void **state)
{
    (void)state;
    char buf[96];
    zb_describe_signal(SIGSEGV, buf, sizeof buf);
    assert_non_null(strstr(buf, "SIGSEGV ("));
    zb_describe_signal(SIGKILL, buf, sizeof buf);
    assert_non_null(strstr(buf, "SIGKILL"));
    zb_describe_signal(SIGRTMIN + 1, buf, sizeof buf);
    assert_non_null(strstr(buf, "signal "));
}

static zb_status parse(zb_run_opts *o, const char *a, const char *b)
{
    char *argv[] = {(char *)"run", (char *)a, (char *)b, NULL};
    int help;
    zb_error err = {{0}};
    return zb_parse_run_opts(a ? (b ? 3 : 2) : 1, argv, o, &help, &err);
}

static void test_isolate_options(void **state)
{
    (void)state;
    static zb_run_opts o;
    assert_int_equal(parse(&o, NULL, NULL), ZB_OK);
    assert_int_equal(o.isolate, -1);
    zb_run_opts_free(&o);
    assert_int_equal(parse(&o, "--isolate", NULL), ZB_OK);
    assert_int_equal(o.isolate, 1);
    zb_run_opts_free(&o);
    assert_int_equal(parse(&o, "--isolate", "--no-isolate"), ZB_OK);
    assert_int_equal(o.isolate, 0);
    zb_run_opts_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_child_args),
        cmocka_unit_test(test_child_args_malformed),
        cmocka_unit_test(test_signal_names),
        cmocka_unit_test(test_isolate_options),
    };
    return cmocka_run_group_tests_name("isolate", tests, NULL, NULL);
}
