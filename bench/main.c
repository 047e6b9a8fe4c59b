/* zbench: benchmark and profiling suite for hybrid state-space models. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "isolate.h"
#include "zb_version.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *about;
} commands[] = {
    {"run", zb_cmd_run, "benchmark sweep (the default command): zbench run --help"},
    {"list", zb_cmd_list, "plugins and model presets"},
    {"calibrate", zb_cmd_calibrate, "measure the device's copy bandwidth and dense rate"},
    {"verify", zb_cmd_verify, "check a plugin's logits against a checkpoint's golden logits"},
    {"report", zb_cmd_report, "HTML and markdown report with charts from a database"},
    {"compare", zb_cmd_compare, "baseline against candidate runs, with a noise test (for CI)"},
};

static void usage(FILE *f)
{
    fprintf(f, "zbench %s: benchmarks of hybrid state-space and transformer language models\n\n", ZB_VERSION);
    fprintf(f, "usage: zbench <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].about);
    fprintf(f, "\n'zbench <command> --help' describes each command's options.\n");
}

int main(int argc, char **argv)
{
    zb_isolate_allow(); /* this binary is zbench: sweeps may re-execute it per run */
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "--version")) {
        printf("zbench %s (%s)\n", ZB_VERSION, ZB_GIT_COMMIT);
        return 0;
    }
    /* no command, or options first: the benchmark run */
    if (argc < 2 || argv[1][0] == '-') return zb_cmd_run(argc, argv);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "zbench: unknown command '%s' (try zbench --help)\n", argv[1]);
    return 2;
}
