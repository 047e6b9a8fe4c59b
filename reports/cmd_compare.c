/* zbench compare: options, loading both selections, the table, the exit
 * status CI acts on. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "compare.h"
#include "selection.h"
#include "zb_util.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: zbench compare --db FILE [--db FILE2] --baseline SEL --candidate SEL\n"
            "                      [--fail-above PCT] [--alpha A]\n"
            "\n"
            "Baseline against candidate per configuration (plugin, model, dtype, batch, seq, gen,\n"
            "depth) and phase: medians, speedup, and whether the difference is beyond the noise of\n"
            "the repetitions (two-sided Mann-Whitney rank test), as a markdown table on stdout.\n"
            "\n"
            "  --db FILE         the database; given twice, the baseline comes from the first\n"
            "                    and the candidate from the second\n"
            "  --baseline SEL    KIND:VALUE with KIND one of tag, sweep, runs, commit, plugin\n"
            "  --candidate SEL   (tag:nightly, runs:3,5-9, commit:1a2b3c, plugin:cuda_fused),\n"
            "                    or 'all'; repeat an option to combine criteria (AND)\n"
            "  --fail-above PCT  exit 1 when a configuration is slower beyond the noise by more\n"
            "                    than PCT percent (for CI)\n"
            "  --alpha A         significance level of the test (default 0.05)\n"
            "\n"
            "With plugin:A as baseline and plugin:B as candidate, configurations match across\n"
            "the two plugins (and their dtypes).\n"
            "exit status: 0 compared, 1 a regression above --fail-above, 2 bad input\n");
}

static zb_status parse_number(const char *opt, const char *text, double lo, double hi, double *out, zb_error *err)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end || errno || !(v >= lo && v <= hi))
        return zb_fail(err, ZB_ERR_INVALID, "%s: '%s' is not a number in %g..%g", opt, text, lo, hi);
    *out = v;
    return ZB_OK;
}

static zb_status add_sel(const char *opt, const char *spec, zb_selection *s, int *given, zb_error *err)
{
    *given = 1;
    if (!strcmp(spec, "all")) return ZB_OK;
    zb_status st = zb_sel_parse(spec, s, err);
    if (st != ZB_OK) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        return zb_fail(err, st, "%s: %s", opt, msg);
    }
    return ZB_OK;
}

/* Opens db and loads the runs sel matches, checking the selection. */
static zb_status load(const char *path, const zb_selection *sel, const char *opt, zb_rdb *db, zb_rset *set,
                      zb_error *err)
{
    zb_status st = zb_rdb_open(path, db, err);
    if (st != ZB_OK) return st;
    st = zb_rset_load(db, sel, set, err);
    if (st != ZB_OK) return st;
    int64_t *ids = malloc(sizeof *ids * (size_t)(set->n ? set->n : 1));
    if (!ids) return zb_fail(err, ZB_ERR_OOM, "out of memory");
    for (int i = 0; i < set->n; i++) ids[i] = set->runs[i].id;
    st = zb_sel_check(sel, ids, set->n, opt, path, err);
    free(ids);
    if (st == ZB_OK && set->n_ok == 0) {
        char d[512];
        zb_sel_describe(sel, d, sizeof d);
        st = zb_fail(err, ZB_ERR_INVALID, "%s: %s: none of the runs matching %s ended ok", opt, path, d);
    }
    return st;
}

int zb_cmd_compare(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, 0, 'D'},         {"baseline", required_argument, 0, 'b'},
        {"candidate", required_argument, 0, 'c'},  {"fail-above", required_argument, 0, 'f'},
        {"alpha", required_argument, 0, 'a'},      {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *dbs[2] = {NULL, NULL};
    int n_db = 0, have_base = 0, have_cand = 0;
    double fail_above = NAN, alpha = ZB_CMP_DEFAULT_ALPHA;
    zb_selection sb = {0}, sc = {0};
    zb_error err = {{0}};
    zb_status st = ZB_OK;
    optind = 1;
    opterr = 0;
    int c;
    while (st == ZB_OK && (c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'D':
            if (n_db == 2) st = zb_fail(&err, ZB_ERR_INVALID, "--db: at most two databases (baseline, candidate)");
            else dbs[n_db++] = optarg;
            break;
        case 'b': st = add_sel("--baseline", optarg, &sb, &have_base, &err); break;
        case 'c': st = add_sel("--candidate", optarg, &sc, &have_cand, &err); break;
        case 'f': st = parse_number("--fail-above", optarg, 0, 1e6, &fail_above, &err); break;
        case 'a': st = parse_number("--alpha", optarg, 1e-9, 0.5, &alpha, &err); break;
        case 'h':
            usage(stdout);
            zb_sel_free(&sb);
            zb_sel_free(&sc);
            return 0;
        case ':': st = zb_fail(&err, ZB_ERR_INVALID, "option '%s' needs a value", argv[optind - 1]); break;
        default:
            st = zb_fail(&err, ZB_ERR_INVALID, "unknown option '%s' (try zbench compare --help)", argv[optind - 1]);
            break;
        }
    }
    if (st == ZB_OK && optind < argc)
        st = zb_fail(&err, ZB_ERR_INVALID, "unexpected argument '%s' (try zbench compare --help)", argv[optind]);
    if (st == ZB_OK && n_db == 0) st = zb_fail(&err, ZB_ERR_INVALID, "--db FILE is required");
    if (st == ZB_OK && (!have_base || !have_cand))
        st = zb_fail(&err, ZB_ERR_INVALID, "both --baseline and --candidate are required (KIND:VALUE or all)");
    if (st != ZB_OK) {
        fprintf(stderr, "zbench compare: %s\n", err.msg);
        zb_sel_free(&sb);
        zb_sel_free(&sc);
        return 2;
    }

    zb_rdb db[2] = {{0}, {0}};
    zb_rset base = {0}, cand = {0};
    zb_cmp cmp = {0};
    int rc = 2;
    st = load(dbs[0], &sb, "--baseline", &db[0], &base, &err);
    if (st == ZB_OK) st = load(dbs[n_db - 1], &sc, "--candidate", &db[1], &cand, &err);
    if (st == ZB_OK)
        st = zb_compare(&base, &cand, zb_sel_names_plugin(&sb) && zb_sel_names_plugin(&sc), alpha, &cmp, &err);
    if (st == ZB_OK && cmp.n == 0)
        st = zb_fail(&err, ZB_ERR_INVALID,
                     "no configuration (plugin, model, dtype, batch, seq, gen, depth) has ok runs in both selections");
    if (st != ZB_OK) {
        fprintf(stderr, "zbench compare: %s\n", err.msg);
        rc = st == ZB_ERR_INVALID ? 2 : 1;
    } else {
        char bd[600], cd[600], d[512];
        zb_sel_describe(&sb, d, sizeof d);
        snprintf(bd, sizeof bd, "%s in %s", d, zb_basename(dbs[0]));
        zb_sel_describe(&sc, d, sizeof d);
        snprintf(cd, sizeof cd, "%s in %s", d, zb_basename(dbs[n_db - 1]));
        zb_buf md = {0};
        zb_cmp_markdown(&cmp, bd, cd, fail_above, &md);
        if (md.oom) {
            fprintf(stderr, "zbench compare: out of memory\n");
            rc = 1;
        } else if (fputs(zb_buf_str(&md), stdout) == EOF || fflush(stdout) != 0) {
            fprintf(stderr, "zbench compare: cannot write the table to stdout\n");
            rc = 1;
        } else {
            int regressions = isnan(fail_above) ? 0 : zb_cmp_regressions(&cmp, fail_above);
            if (regressions)
                fprintf(stderr, "zbench compare: %d regression%s above %g%% beyond the noise\n", regressions,
                        regressions == 1 ? "" : "s", fail_above);
            rc = regressions ? 1 : 0;
        }
        zb_buf_free(&md);
    }
    zb_cmp_free(&cmp);
    zb_rset_free(&base);
    zb_rset_free(&cand);
    zb_rdb_close(&db[0]);
    zb_rdb_close(&db[1]);
    zb_sel_free(&sb);
    zb_sel_free(&sc);
    return rc;
}
