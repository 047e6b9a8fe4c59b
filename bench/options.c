#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "zb_util.h"

/* A non-negative decimal integer filling [s, end); 0 when malformed. */
static int parse_count(const char *s, const char *end, int64_t *out)
{
    if (s == end || *s < '0' || *s > '9') return 0;
    int64_t v = 0;
    for (const char *p = s; p < end; p++) {
        if (*p < '0' || *p > '9') return 0;
        if (v > (INT64_MAX - 9) / 10) return 0;
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return 1;
}

static zb_status push(const char *opt, zb_int_list *out, int64_t v, int64_t min, int64_t max, zb_error *err)
{
    if (v < min || v > max)
        return zb_fail(err, ZB_ERR_INVALID, "%s: %lld is out of range (%lld..%lld)", opt, (long long)v,
                       (long long)min, (long long)max);
    if (out->n == ZB_MAX_LIST) return zb_fail(err, ZB_ERR_INVALID, "%s: more than %d values", opt, ZB_MAX_LIST);
    out->v[out->n++] = v;
    return ZB_OK;
}

/* One item: N, A-B (step 1), A-B+S (step S) or A-B*M (multiply by M). */
static zb_status parse_item(const char *opt, const char *s, const char *end, int64_t min, int64_t max,
                            zb_int_list *out, zb_error *err)
{
    const int len = (int)(end - s);
    const char *dash = memchr(s, '-', (size_t)(end - s));
    int64_t a, b, k = 1;
    if (!dash) {
        if (!parse_count(s, end, &a))
            return zb_fail(err, ZB_ERR_INVALID, "%s: '%.*s' is not a non-negative integer", opt, len, s);
        return push(opt, out, a, min, max, err);
    }
    const char *op = dash + 1;
    while (op < end && *op >= '0' && *op <= '9') op++;
    int mult = op < end && *op == '*';
    if (!parse_count(s, dash, &a) || !parse_count(dash + 1, op, &b) ||
        (op < end && ((*op != '*' && *op != '+') || !parse_count(op + 1, end, &k))))
        return zb_fail(err, ZB_ERR_INVALID,
                       "%s: '%.*s' is neither N, FIRST-LAST, FIRST-LAST+STEP nor FIRST-LAST*FACTOR", opt, len, s);
    if (a > b) return zb_fail(err, ZB_ERR_INVALID, "%s: range '%.*s' runs backwards", opt, len, s);
    if (mult ? k < 2 || a == 0 : k < 1)
        return zb_fail(err, ZB_ERR_INVALID, "%s: range '%.*s' needs a %s", opt, len, s,
                       mult ? "factor >= 2 and a first value > 0" : "step >= 1");
    for (int64_t v = a; v <= b; v = mult ? v * k : v + k) {
        zb_status st = push(opt, out, v, min, max, err);
        if (st != ZB_OK) return st;
        if (mult ? v > b / k : v > b - k) break; /* next value would pass b (or overflow) */
    }
    return ZB_OK;
}

zb_status zb_parse_int_list(const char *opt, const char *text, int64_t min, int64_t max, zb_int_list *out,
                            zb_error *err)
{
    out->n = 0;
    if (!*text) return zb_fail(err, ZB_ERR_INVALID, "%s: empty value", opt);
    const char *s = text;
    for (;;) {
        const char *comma = strchr(s, ',');
        const char *end = comma ? comma : s + strlen(s);
        if (end == s) return zb_fail(err, ZB_ERR_INVALID, "%s: empty item in '%s'", opt, text);
        zb_status st = parse_item(opt, s, end, min, max, out, err);
        if (st != ZB_OK) return st;
        if (!comma) return ZB_OK;
        s = comma + 1;
    }
}

/* Splits a comma list of names; the strings live in o->owned. */
static zb_status parse_names(const char *opt, const char *text, zb_str_list *out, zb_run_opts *o, zb_error *err)
{
    out->n = 0;
    if (o->n_owned == (int)(sizeof o->owned / sizeof o->owned[0]))
        return zb_fail(err, ZB_ERR_INVALID, "%s: too many list options", opt);
    char *copy = strdup(text);
    if (!copy) return zb_fail(err, ZB_ERR_OOM, "out of memory");
    o->owned[o->n_owned++] = copy;
    for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) {
        if (out->n == (int)(sizeof out->v / sizeof out->v[0]))
            return zb_fail(err, ZB_ERR_INVALID, "%s: too many names", opt);
        out->v[out->n++] = tok;
    }
    if (out->n == 0) return zb_fail(err, ZB_ERR_INVALID, "%s: empty value", opt);
    return ZB_OK;
}

void zb_run_opts_free(zb_run_opts *o)
{
    for (int i = 0; i < o->n_owned; i++) free(o->owned[i]);
    o->n_owned = 0;
}

void zb_run_usage(FILE *f)
{
    fprintf(f,
            "usage: zbench [run] [options]\n"
            "  --plugin P[,P...]    backends (default: cuda_graph or cuda_fused on a GPU, else cpu_ref)\n"
            "  --model M[,M...]     presets (zbench list) or checkpoint directories\n"
            "                       (default: zamba-7b on a GPU, zamba-tiny on the CPU)\n"
            "  --model-config FILE  any shape from a config.json, synthetic weights\n"
            "  --seq S[,S...]       prompt tokens per sequence (default 512)\n"
            "  --gen N[,N...]       tokens generated after the prompt (default 128)\n"
            "  --batch B[,B...]     sequences per step (default 1)\n"
            "  --depth D[,D...]     tokens cached before the timed part (default 0)\n"
            "  --reps R             timed repetitions (default 5)\n"
            "  --warmup W           untimed repetitions first (default 1)\n"
            "  --seed X             seed of synthetic weights and prompts (default 42)\n"
            "  --dtype f32|f16|bf16 session dtype (default: the plugin's fastest)\n"
            "  --db FILE            SQLite record (default zbench.db)\n"
            "  --tag TEXT           label stored with every run\n"
            "  --output md|csv|json|jsonl  stdout format (default md)\n"
            "  --delay S            seconds to pause between runs\n"
            "  --nvtx on|off        NVTX ranges in zbench and the plugins (default on)\n"
            "  --trace [on|off]     GPU activity (CUPTI) into the kernels table (default off)\n"
            "  --trace-overhead     with --trace: an untraced twin before each traced run\n"
            "  --profile-steps A:B  trace (or open to Nsight) only decode steps A..B\n"
            "  --quiet              no progress on stderr\n"
            "  --isolate, --no-isolate  each run in its own process, so a plugin crash loses\n"
            "                       only that run (default: isolated when the sweep has 2+ runs)\n"
            "Lists: 512,1024  512-16384*2 (multiply)  1024-8192+1024 (step).\n");
}

zb_status zb_parse_steps(const char *opt, const char *text, int *first, int *last, zb_error *err)
{
    const char *colon = strchr(text, ':');
    const char *end = text + strlen(text);
    int64_t a, b;
    if (!parse_count(text, colon ? colon : end, &a) || (colon && !parse_count(colon + 1, end, &b)))
        return zb_fail(err, ZB_ERR_INVALID, "%s: '%s' is not A:B (decode steps, 1-based)", opt, text);
    if (!colon) b = a;
    if (a < 1 || b < a || b > ZB_MAX_CONTEXT)
        return zb_fail(err, ZB_ERR_INVALID, "%s: '%s' needs 1 <= A <= B <= %d", opt, text, ZB_MAX_CONTEXT);
    *first = (int)a;
    *last = (int)b;
    return ZB_OK;
}

static zb_status parse_on_off(const char *opt, const char *s, int *out, zb_error *err)
{
    if (!strcmp(s, "on")) *out = 1;
    else if (!strcmp(s, "off")) *out = 0;
    else return zb_fail(err, ZB_ERR_INVALID, "%s: '%s' is not on or off", opt, s);
    return ZB_OK;
}

static zb_status parse_int(const char *opt, const char *s, int64_t min, int64_t max, int64_t *out, zb_error *err)
{
    zb_int_list one;
    zb_status st = zb_parse_int_list(opt, s, min, max, &one, err);
    if (st != ZB_OK) return st;
    if (one.n != 1) return zb_fail(err, ZB_ERR_INVALID, "%s takes one value, got '%s'", opt, s);
    *out = one.v[0];
    return ZB_OK;
}

zb_status zb_parse_run_opts(int argc, char **argv, zb_run_opts *o, int *help, zb_error *err)
{
    memset(o, 0, sizeof *o);
    *help = 0;
    o->reps = 5;
    o->warmup = 1;
    o->seed = 42;
    o->db_path = "zbench.db";
    o->tag = "";
    o->nvtx = 1;
    o->dtype = -1;
    o->isolate = -1;
    o->seqs.n = o->gens.n = o->batches.n = o->depths.n = 1;
    o->seqs.v[0] = 512;
    o->gens.v[0] = 128;
    o->batches.v[0] = 1;
    o->depths.v[0] = 0;
    static const struct option longopts[] = {
        {"plugin", required_argument, 0, 'p'}, {"model", required_argument, 0, 'm'},
        {"model-config", required_argument, 0, 'C'}, {"seq", required_argument, 0, 's'},
        {"gen", required_argument, 0, 'n'},    {"batch", required_argument, 0, 'b'},
        {"depth", required_argument, 0, 'd'},  {"reps", required_argument, 0, 'r'},
        {"warmup", required_argument, 0, 'w'}, {"seed", required_argument, 0, 'S'},
        {"db", required_argument, 0, 'D'},     {"tag", required_argument, 0, 't'},
        {"output", required_argument, 0, 'o'}, {"quiet", no_argument, 0, 'q'},
        {"delay", required_argument, 0, 'y'},  {"nvtx", required_argument, 0, 'N'},
        {"dtype", required_argument, 0, 'T'},  {"help", no_argument, 0, 'h'},
        {"isolate", no_argument, 0, 'I'},      {"no-isolate", no_argument, 0, 'i'},
        {"trace", optional_argument, 0, 'X'},  {"trace-overhead", no_argument, 0, 'O'},
        {"profile-steps", required_argument, 0, 'P'},
        {0, 0, 0, 0},
    };
    optind = 1;
    opterr = 0;
    int c;
    int64_t v;
    zb_status st = ZB_OK;
    while (st == ZB_OK && (c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case 'p': st = parse_names("--plugin", optarg, &o->plugins, o, err); break;
        case 'm': st = parse_names("--model", optarg, &o->models, o, err); break;
        case 'C': o->model_config = optarg; break;
        case 's': st = zb_parse_int_list("--seq", optarg, 1, ZB_MAX_CONTEXT, &o->seqs, err); break;
        case 'n': st = zb_parse_int_list("--gen", optarg, 0, ZB_MAX_CONTEXT, &o->gens, err); break;
        case 'b': st = zb_parse_int_list("--batch", optarg, 1, 4096, &o->batches, err); break;
        case 'd': st = zb_parse_int_list("--depth", optarg, 0, ZB_MAX_CONTEXT, &o->depths, err); break;
        case 'r':
            st = parse_int("--reps", optarg, 1, 100000, &v, err);
            o->reps = (int)v;
            break;
        case 'w':
            st = parse_int("--warmup", optarg, 0, 100000, &v, err);
            o->warmup = (int)v;
            break;
        case 'S': st = parse_int("--seed", optarg, 0, INT64_MAX, &v, err), o->seed = (uint64_t)v; break;
        case 'D': o->db_path = optarg; break;
        case 't': o->tag = optarg; break;
        case 'o':
            if (!strcmp(optarg, "md")) o->output = ZB_OUT_MD;
            else if (!strcmp(optarg, "csv")) o->output = ZB_OUT_CSV;
            else if (!strcmp(optarg, "json")) o->output = ZB_OUT_JSON;
            else if (!strcmp(optarg, "jsonl")) o->output = ZB_OUT_JSONL;
            else st = zb_fail(err, ZB_ERR_INVALID, "--output: '%s' is not md, csv, json or jsonl", optarg);
            break;
        case 'q': o->quiet = 1; break;
        case 'y': {
            char *end;
            errno = 0;
            o->delay_s = strtod(optarg, &end);
            if (*end || errno || !(o->delay_s >= 0.0 && o->delay_s <= 86400.0))
                st = zb_fail(err, ZB_ERR_INVALID, "--delay: '%s' is not a number of seconds in 0..86400", optarg);
            break;
        }
        case 'N': st = parse_on_off("--nvtx", optarg, &o->nvtx, err); break;
        case 'X':
            /* `--trace` alone means on; `--trace on|off` takes the next
             * word too (getopt only attaches `--trace=off`) */
            if (!optarg && optind < argc && (!strcmp(argv[optind], "on") || !strcmp(argv[optind], "off")))
                optarg = argv[optind++];
            if (optarg) st = parse_on_off("--trace", optarg, &o->trace, err);
            else o->trace = 1;
            break;
        case 'O': o->trace_overhead = 1; break;
        case 'P': st = zb_parse_steps("--profile-steps", optarg, &o->profile_first, &o->profile_last, err); break;
        case 'T':
        {
            zb_dtype t;
            if (zb_parse_dtype(optarg, &t)) o->dtype = t;
            else st = zb_fail(err, ZB_ERR_INVALID, "--dtype: '%s' is not f32, f16 or bf16", optarg);
        }
            break;
        case 'I': o->isolate = 1; break;
        case 'i': o->isolate = 0; break;
        case 'h': *help = 1; return ZB_OK;
        case ':': st = zb_fail(err, ZB_ERR_INVALID, "option '%s' needs a value", argv[optind - 1]); break;
        default: st = zb_fail(err, ZB_ERR_INVALID, "unknown option '%s' (try zbench --help)", argv[optind - 1]); break;
        }
    }
    if (st == ZB_OK && optind < argc)
        st = zb_fail(err, ZB_ERR_INVALID, "unexpected argument '%s' (try zbench --help)", argv[optind]);
    if (st == ZB_OK && o->model_config && o->models.n)
        st = zb_fail(err, ZB_ERR_INVALID, "--model and --model-config exclude each other");
    if (st == ZB_OK && o->trace_overhead && !o->trace)
        st = zb_fail(err, ZB_ERR_INVALID, "--trace-overhead measures tracing: it needs --trace");
    if (st == ZB_OK && o->profile_first > 0) {
        /* a window no run reaches would profile nothing, silently */
        int64_t longest = 0;
        for (int i = 0; i < o->gens.n; i++)
            if (o->gens.v[i] > longest) longest = o->gens.v[i];
        if (o->profile_first > longest)
            st = zb_fail(err, ZB_ERR_INVALID, "--profile-steps %d:%d: no run has decode step %d (the longest --gen is %lld)",
                         o->profile_first, o->profile_last, o->profile_first, (long long)longest);
    }
    if (st != ZB_OK) zb_run_opts_free(o);
    return st;
}
