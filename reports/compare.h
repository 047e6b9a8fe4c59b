/*
 * zbench compare: baseline runs against candidate runs, configuration by
 * configuration (plugin, model, dtype, batch, seq, gen, depth), per phase:
 * the medians of the per-repetition times, the speedup, and whether the
 * difference is beyond the noise of the repetitions (stats_test.h's rank
 * test over the pooled repetitions of each side's runs).
 *
 * When both selections name a plugin (plugin:A against plugin:B) the
 * plugin and dtype leave the configuration, so two implementations of one
 * workload meet.
 */
#ifndef ZB_COMPARE_H
#define ZB_COMPARE_H

#include "rbuf.h"
#include "report_data.h"
#include "stats_test.h"

#define ZB_CMP_DEFAULT_ALPHA 0.05

typedef enum zb_cmp_verdict {
    ZB_CMP_SAME,    /* within the noise */
    ZB_CMP_FASTER,  /* candidate faster beyond the noise */
    ZB_CMP_SLOWER,  /* candidate slower beyond the noise: a regression */
    ZB_CMP_TOO_FEW  /* too few repetitions for the test to ever reach alpha */
} zb_cmp_verdict;

typedef struct zb_cmp_row {
    const char *plugin, *cand_plugin; /* differ only across plugins */
    const char *model, *dtype, *cand_dtype;
    int batch, seq, gen, depth;
    const char *phase;                /* "prefill" (ms) or "decode" (ms per token) */
    int runs_base, runs_cand;
    int n_base, n_cand;               /* repetitions pooled on each side */
    double base_median, cand_median;
    double speedup;                   /* base / cand: above 1 the candidate is faster */
    double change_pct;                /* 100 (cand - base) / base: above 0 slower */
    zb_mwu test;
    zb_cmp_verdict verdict;
} zb_cmp_row;

typedef struct zb_cmp {
    zb_cmp_row *rows;
    int n, cap;
    int only_base, only_cand; /* configurations with ok runs on one side only */
    double alpha;
    int cross_plugin;
} zb_cmp;

/* Strings of the rows point into the sets, which must outlive out. */
zb_status zb_compare(const zb_rset *base, const zb_rset *cand, int cross_plugin, double alpha, zb_cmp *out,
                     zb_error *err);
/* The rows slower beyond the noise by more than pct percent. */
int zb_cmp_regressions(const zb_cmp *c, double pct);
/* A markdown section: heading, table, one summary line. */
void zb_cmp_markdown(const zb_cmp *c, const char *base_desc, const char *cand_desc, double fail_above, zb_buf *out);
void zb_cmp_free(zb_cmp *c);

#endif
