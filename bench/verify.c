/* zbench verify: a plugin's logits against a checkpoint's golden logits,
 * through prefill, token-by-token decode, and a full re-prefill. */
#include "verify.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "model.h"
#include "plugin_loader.h"
#include "safetensors.h"
#include "zb_util.h"

typedef struct golden {
    st_file file;
    const int32_t *ids;
    const float *logits;
    int T, V;
} golden;

static zb_status golden_open(golden *g, const char *path, int vocab, zb_error *err)
{
    memset(g, 0, sizeof *g);
    zb_status s = st_open(&g->file, path, err);
    if (s != ZB_OK) return s;
    const st_tensor *ids = st_find(&g->file, "input_ids"), *lg = st_find(&g->file, "logits");
    if (!ids || !lg) s = zb_fail(err, ZB_ERR_INVALID, "%s: needs tensors 'input_ids' and 'logits'", path);
    else if (ids->dtype != ST_I32 || ids->ndim != 1 || ids->shape[0] < 2)
        s = zb_fail(err, ZB_ERR_INVALID, "%s: 'input_ids' must be I32 [T] with T >= 2", path);
    else if (lg->dtype != ST_F32 || lg->ndim != 2 || lg->shape[0] != ids->shape[0] || lg->shape[1] != vocab)
        s = zb_fail(err, ZB_ERR_INVALID, "%s: 'logits' must be F32 [%lld, %d]", path, (long long)ids->shape[0], vocab);
    else if ((uintptr_t)ids->data % 4 || (uintptr_t)lg->data % 4)
        s = zb_fail(err, ZB_ERR_INVALID, "%s: tensors are not 4-byte aligned", path);
    if (s != ZB_OK) {
        st_close(&g->file);
        return s;
    }
    g->ids = (const int32_t *)ids->data;
    g->logits = (const float *)lg->data;
    g->T = (int)ids->shape[0];
    g->V = vocab;
    for (int t = 0; t < g->T; t++)
        if (g->ids[t] < 0 || g->ids[t] >= vocab) {
            /* the ids live in the mapped file: format the message, then unmap */
            zb_fail(err, ZB_ERR_INVALID, "%s: input_ids[%d] = %d is outside the vocabulary of %d", path, t, g->ids[t],
                    vocab);
            st_close(&g->file);
            return ZB_ERR_INVALID;
        }
    return ZB_OK;
}

double zb_rel_err(const float *out, const float *ref, int n)
{
    double num = 0.0, den = 0.0;
    for (int i = 0; i < n; i++) {
        double d = (double)out[i] - ref[i];
        num += d * d;
        den += (double)ref[i] * ref[i];
    }
    return den > 0.0 ? sqrt(num / den) : sqrt(num);
}

typedef struct tally {
    int verbose; /* print every position's error to stderr */
    int positions;
    double max_err;
    int worst_pos;
    const char *worst_phase;
} tally;

/* Compares every sequence of the batch against golden row `pos`. */
static void compare(tally *t, const golden *g, const float *logits, int batch, int pos, const char *phase)
{
    for (int b = 0; b < batch; b++) {
        double e = zb_rel_err(logits + (size_t)b * g->V, g->logits + (size_t)pos * g->V, g->V);
        /* a NaN is worse than any number, and stays the worst */
        if (t->verbose) fprintf(stderr, "verify %-12s position %4d sequence %d rel_err %.3e\n", phase, pos, b, e);
        int worse = isnan(e) ? !isnan(t->max_err) : e > t->max_err;
        if (worse || t->worst_pos < 0) {
            t->max_err = e;
            t->worst_pos = pos;
            t->worst_phase = phase;
        }
    }
    t->positions++;
}

static zb_status run_verify(const zb_plugin_api *api, const zb_model *m, const golden *g, int split, int batch,
                            zb_dtype dtype, tally *t, zb_error *err)
{
    zb_session_opts opts = {.batch = batch, .capacity = g->T, .dtype = dtype, .device = 0, .flags = 0};
    zb_session *s = NULL;
    zb_status st = api->create(&m->desc, &m->weights, &opts, &s, err);
    if (st != ZB_OK) return st;
    int32_t *tok = malloc(sizeof *tok * (size_t)batch * g->T);
    float *logits = malloc(sizeof *logits * (size_t)batch * g->V);
    if (!tok || !logits) {
        st = zb_fail(err, ZB_ERR_OOM, "out of memory");
        goto done;
    }
    /* 1. prefill the first `split` tokens */
    for (int b = 0; b < batch; b++) memcpy(tok + (size_t)b * split, g->ids, sizeof *tok * (size_t)split);
    st = api->prefill(s, tok, split, logits, NULL, NULL, err);
    if (st != ZB_OK) goto done;
    compare(t, g, logits, batch, split - 1, "prefill");
    /* 2. decode the rest, one token at a time */
    for (int p = split; p < g->T; p++) {
        for (int b = 0; b < batch; b++) tok[b] = g->ids[p];
        st = api->decode(s, tok, logits, NULL, NULL, err);
        if (st != ZB_OK) goto done;
        compare(t, g, logits, batch, p, "decode");
    }
    /* 3. reset, then the whole sequence in one prefill */
    st = api->reset(s, err);
    if (st != ZB_OK) goto done;
    for (int b = 0; b < batch; b++) memcpy(tok + (size_t)b * g->T, g->ids, sizeof *tok * (size_t)g->T);
    st = api->prefill(s, tok, g->T, logits, NULL, NULL, err);
    if (st == ZB_OK) compare(t, g, logits, batch, g->T - 1, "full-prefill");
done:
    free(tok);
    free(logits);
    api->destroy(s);
    return st;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: zbench verify --plugin P --model DIR [--golden FILE] [--split K] [--tol X]\n"
               "                     [--batch B] [--dtype f32|f16|bf16] [--verbose]\n");
}

int zb_cmd_verify(int argc, char **argv)
{
    const char *plugin = "cpu_ref", *model_dir = NULL, *golden_path = NULL, *dtype_s = NULL;
    int split = -1, batch = 1, verbose = 0;
    double tol = -1.0;
    static const struct option opts[] = {
        {"plugin", required_argument, 0, 'p'}, {"model", required_argument, 0, 'm'},
        {"golden", required_argument, 0, 'g'}, {"split", required_argument, 0, 'k'},
        {"tol", required_argument, 0, 't'},    {"batch", required_argument, 0, 'b'},
        {"dtype", required_argument, 0, 'd'},  {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    optind = 1;
    opterr = 0;
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'p': plugin = optarg; break;
        case 'm': model_dir = optarg; break;
        case 'g': golden_path = optarg; break;
        case 'k':
            split = (int)strtol(optarg, &end, 10);
            if (*end || split < 1) {
                fprintf(stderr, "zbench verify: --split must be a positive integer, got '%s'\n", optarg);
                return 2;
            }
            break;
        case 't':
            tol = strtod(optarg, &end);
            if (*end || !(tol > 0.0)) {
                fprintf(stderr, "zbench verify: --tol must be a positive number, got '%s'\n", optarg);
                return 2;
            }
            break;
        case 'b':
            batch = (int)strtol(optarg, &end, 10);
            if (*end || batch < 1 || batch > 4096) {
                fprintf(stderr, "zbench verify: --batch must be in 1..4096, got '%s'\n", optarg);
                return 2;
            }
            break;
        case 'd': dtype_s = optarg; break;
        case 'v': verbose = 1; break;
        case 'h': usage(stdout); return 0;
        default:
            fprintf(stderr, "zbench verify: unknown or incomplete option '%s'\n", argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "zbench verify: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!model_dir) {
        fprintf(stderr, "zbench verify: --model DIR is required (a checkpoint with golden.safetensors)\n");
        return 2;
    }
    zb_error err = {{0}};
    zb_plugin p;
    if (zb_plugin_load(plugin, &p, &err) != ZB_OK) {
        fprintf(stderr, "zbench verify: %s\n", err.msg);
        return 2;
    }
    const zb_plugin_api *api = p.api;
    zb_dtype dtype = zb_plugin_default_dtype(api);
    if (dtype_s && !zb_parse_dtype(dtype_s, &dtype)) {
        fprintf(stderr, "zbench verify: --dtype must be f32, f16 or bf16, got '%s'\n", dtype_s);
        return 2;
    }
    if (!(api->dtypes & ZB_DTYPE_BIT(dtype))) {
        fprintf(stderr, "zbench verify: plugin %s does not support dtype %s\n", api->name, zb_dtype_name(dtype));
        return 2;
    }
    if (batch > api->max_batch) {
        fprintf(stderr, "zbench verify: --batch %d exceeds plugin %s's maximum of %d\n", batch, api->name,
                api->max_batch);
        return 2;
    }
    if (tol < 0) tol = dtype == ZB_DTYPE_F32 ? 1e-4 : 3e-2;

    zb_model m;
    if (zb_model_load(model_dir, NULL, 0, &m, &err) != ZB_OK) {
        fprintf(stderr, "zbench verify: %s\n", err.msg);
        return 2;
    }
    char gpath[PATH_MAX];
    snprintf(gpath, sizeof gpath, "%s/golden.safetensors", model_dir);
    golden g;
    if (golden_open(&g, golden_path ? golden_path : gpath, m.desc.vocab_size, &err) != ZB_OK) {
        fprintf(stderr, "zbench verify: %s\n", err.msg);
        zb_model_free(&m);
        return 2;
    }
    if (split < 0) split = g.T / 2;
    if (split >= g.T) {
        fprintf(stderr, "zbench verify: --split %d must be below the golden length %d\n", split, g.T);
        st_close(&g.file);
        zb_model_free(&m);
        return 2;
    }
    tally t = {verbose, 0, 0.0, -1, "none"};
    zb_status st = run_verify(api, &m, &g, split, batch, dtype, &t, &err);
    int rc;
    if (st != ZB_OK) {
        printf("verify FAIL plugin=%s model=%s error=\"%s\"\n", api->name, m.desc.name, err.msg);
        rc = 1;
    } else if (t.max_err <= tol) {
        printf("verify PASS plugin=%s model=%s positions=%d max_rel_err=%.3e tol=%.1e\n", api->name, m.desc.name,
               t.positions, t.max_err, tol);
        rc = 0;
    } else {
        printf("verify FAIL plugin=%s model=%s positions=%d max_rel_err=%.3e tol=%.1e worst_position=%d phase=%s\n",
               api->name, m.desc.name, t.positions, t.max_err, tol, t.worst_pos, t.worst_phase);
        rc = 1;
    }
    st_close(&g.file);
    zb_model_free(&m);
    return rc;
}
