/* zbench report: options, then report.c does the work. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "gnuplot.h"
#include "report.h"
#include "zb_util.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: zbench report [--db FILE] [SELECTION] -o DIR\n"
            "\n"
            "Writes DIR/index.html (one self-contained page, charts inline), DIR/report.md\n"
            "(tables that paste into an issue), and per chart NAME.csv, NAME.gp and NAME.svg.\n"
            "Charts are drawn by gnuplot; without it everything but the pictures is written.\n"
            "\n"
            "  --db FILE       the database (default zbench.db)\n"
            "  -o, --out DIR   output directory (created when missing)\n"
            "selection (criteria combine with AND; none: every run):\n"
            "  --runs LIST     run ids: 3,5-9\n"
            "  --tag TEXT      runs recorded with --tag TEXT\n"
            "  --sweep ID      the runs of one zbench run invocation (runs.sweep_id)\n"
            "  --commit SHA    runs of a zbench build whose commit starts with SHA\n"
            "  --plugin NAME   runs of one plugin\n"
            "\n"
            "exit status: 0 written, 1 not fully written (a file or a chart failed), 2 bad input\n");
}

int zb_cmd_report(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, 0, 'D'},    {"out", required_argument, 0, 'o'},
        {"runs", required_argument, 0, 'r'},  {"tag", required_argument, 0, 't'},
        {"sweep", required_argument, 0, 's'}, {"commit", required_argument, 0, 'c'},
        {"plugin", required_argument, 0, 'p'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *db_path = "zbench.db", *out = NULL;
    zb_selection sel = {0};
    zb_error err = {{0}};
    zb_status st = ZB_OK;
    optind = 1;
    opterr = 0;
    int c;
    while (st == ZB_OK && (c = getopt_long(argc, argv, ":o:", opts, NULL)) != -1) {
        switch (c) {
        case 'D': db_path = optarg; break;
        case 'o': out = optarg; break;
        case 'r': st = zb_sel_add(&sel, "runs", optarg, &err); break;
        case 't': st = zb_sel_add(&sel, "tag", optarg, &err); break;
        case 's': st = zb_sel_add(&sel, "sweep", optarg, &err); break;
        case 'c': st = zb_sel_add(&sel, "commit", optarg, &err); break;
        case 'p': st = zb_sel_add(&sel, "plugin", optarg, &err); break;
        case 'h':
            usage(stdout);
            zb_sel_free(&sel);
            return 0;
        case ':': st = zb_fail(&err, ZB_ERR_INVALID, "option '%s' needs a value", argv[optind - 1]); break;
        default:
            st = zb_fail(&err, ZB_ERR_INVALID, "unknown option '%s' (try zbench report --help)", argv[optind - 1]);
            break;
        }
    }
    if (st == ZB_OK && optind < argc)
        st = zb_fail(&err, ZB_ERR_INVALID, "unexpected argument '%s' (try zbench report --help)", argv[optind]);
    if (st == ZB_OK && !out) st = zb_fail(&err, ZB_ERR_INVALID, "-o DIR is required (where the report goes)");
    if (st == ZB_OK && !*out) st = zb_fail(&err, ZB_ERR_INVALID, "-o: empty directory name");
    if (st != ZB_OK) {
        fprintf(stderr, "zbench report: %s\n", err.msg);
        zb_sel_free(&sel);
        return 2;
    }
    zb_report_opts o = {db_path, out, &sel};
    zb_report_summary sum;
    st = zb_report_run(&o, &sum, &err);
    zb_sel_free(&sel);
    if (st != ZB_OK) {
        fprintf(stderr, "zbench report: %s\n", err.msg);
        return st == ZB_ERR_INVALID ? 2 : 1;
    }
    if (sum.gnuplot_missing)
        fprintf(stderr, "zbench report: gnuplot not found, charts not drawn: install the package %s\n",
                ZB_GNUPLOT_PACKAGE);
    if (sum.chart_failures)
        fprintf(stderr, "zbench report: %d chart(s) not drawn: %s\n", sum.chart_failures, sum.first_failure);
    printf("%s/index.html: %d runs (%d ok), %d of %d charts drawn, %d CSV files, report.md\n", out, sum.runs,
           sum.runs_ok, sum.charts_drawn, sum.charts, sum.csv_files);
    return sum.chart_failures ? 1 : 0;
}
