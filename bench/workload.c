#include "workload.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "signals.h"
#include "zb_util.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

void zb_prompt_tokens(uint64_t seed, int vocab, int32_t *out, int64_t n)
{
    /* token 0 is often padding: keep prompts on ordinary ids */
    for (int64_t i = 0; i < n; i++)
        out[i] = vocab > 1 ? 1 + (int32_t)(zb_mix64(seed ^ 0x70726f6d7074ull ^ zb_mix64((uint64_t)i)) % (uint64_t)(vocab - 1))
                           : 0;
}

int zb_is_sample_step(int k, int n)
{
    return (k & (k - 1)) == 0 || k % 1024 == 0 || k == n;
}

static int finite_all(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* Memory in use after `pos` tokens: the KV entries occupied (allocation per
 * slot x occupied slots) plus the whole state. */
static void sample_memory(const zb_plugin_api *api, zb_session *s, int64_t pos, zb_sample *out)
{
    zb_memory_report m;
    zb_error e;
    out->memory_bytes = out->device_bytes = -1;
    if (api->memory(s, &m, &e) != ZB_OK) return;
    int64_t slots = m.kv_tokens > 0 ? m.kv_tokens : 1;
    int64_t used = pos < slots ? pos : slots;
    out->memory_bytes = (int64_t)(m.kv_bytes / (uint64_t)slots) * used + (int64_t)m.state_bytes;
    out->device_bytes = m.device_total_bytes ? (int64_t)m.device_total_bytes : -1;
}

typedef struct run_ctx {
    const zb_plugin_api *api;
    zb_session *s;
    const zb_model_desc *d;
    const zb_workload *w;
    int32_t *prompt, *depth_tokens, *next;
    float *logits;
} run_ctx;

static void phase_begin(const zb_workload *w, zb_phase phase, int rep, int step)
{
    if (w->hooks && w->hooks->begin) w->hooks->begin(w->hooks->ctx, phase, rep, step);
}

static void phase_end(const zb_workload *w, zb_phase phase, int rep, int step)
{
    if (w->hooks && w->hooks->end) w->hooks->end(w->hooks->ctx, phase, rep, step);
}

/* One repetition; rep < 0 is a warm-up (nothing recorded). */
static zb_status one_rep(run_ctx *c, int rep, zb_workload_result *r, zb_progress_fn progress, void *pctx,
                         zb_error *err)
{
    const zb_plugin_api *api = c->api;
    const zb_workload *w = c->w;
    const int V = c->d->vocab_size;
    zb_status st = api->reset(c->s, err);
    if (st != ZB_OK) return st;
    if (w->depth > 0) {
        phase_begin(w, ZB_PHASE_DEPTH, rep, 0);
        st = api->prefill(c->s, c->depth_tokens, w->depth, NULL, NULL, NULL, err);
        phase_end(w, ZB_PHASE_DEPTH, rep, 0);
        if (st != ZB_OK) return st;
    }
    zb_step_timing tm = {-1.0};
    phase_begin(w, ZB_PHASE_PREFILL, rep, 0);
    double t0 = now_ms();
    st = api->prefill(c->s, c->prompt, w->seq, c->logits, c->next, &tm, err);
    double t1 = now_ms();
    phase_end(w, ZB_PHASE_PREFILL, rep, 0);
    if (st != ZB_OK) return st;
    if (!finite_all(c->logits, (size_t)w->batch * V))
        return zb_fail(err, ZB_ERR_INTERNAL, "plugin returned non-finite logits after the prefill");
    if (rep >= 0) {
        r->prefill_ms[rep] = t1 - t0;
        r->prefill_dev_ms[rep] = tm.device_ms;
    }
    if (progress) progress(pctx, rep, 0, w->gen);
    const int feedback = (api->caps & ZB_CAP_TOKEN_FEEDBACK) != 0;
    for (int k = 1; k <= w->gen; k++) {
        if (zb_interrupted()) {
            r->interrupted = 1;
            return ZB_OK;
        }
        /* logits come back on the last step only, to check they are finite */
        float *lg = k == w->gen ? c->logits : NULL;
        tm.device_ms = -1.0;
        phase_begin(w, ZB_PHASE_DECODE, rep, k);
        t0 = now_ms();
        st = api->decode(c->s, feedback ? NULL : c->next, lg, feedback ? NULL : c->next, &tm, err);
        t1 = now_ms();
        phase_end(w, ZB_PHASE_DECODE, rep, k);
        if (st != ZB_OK) return st;
        if (lg && !finite_all(lg, (size_t)w->batch * V))
            return zb_fail(err, ZB_ERR_INTERNAL, "plugin returned non-finite logits at decode step %d", k);
        if (rep < 0) continue;
        size_t at = (size_t)rep * w->gen + (size_t)(k - 1);
        r->decode_ms[at] = t1 - t0;
        r->decode_dev_ms[at] = tm.device_ms;
        if (zb_is_sample_step(k, w->gen)) {
            zb_sample *sm = &r->samples[r->n_samples++];
            sm->rep = rep;
            sm->position = (int64_t)w->depth + w->seq + k;
            sm->latency_ms = t1 - t0;
            sm->device_ms = tm.device_ms;
            sample_memory(api, c->s, sm->position, sm); /* outside the timed call */
        }
        if (progress && (k % 16 == 0 || k == w->gen)) progress(pctx, rep, k, w->gen);
    }
    return ZB_OK;
}

zb_status zb_workload_run(const zb_plugin_api *api, zb_session *s, const zb_model_desc *d, const zb_workload *w,
                          zb_workload_result *r, zb_progress_fn progress, void *ctx, zb_error *err)
{
    memset(r, 0, sizeof *r);
    int samples_per_rep = 0;
    for (int k = 1; k <= w->gen; k++) samples_per_rep += zb_is_sample_step(k, w->gen);
    const size_t B = (size_t)w->batch;
    run_ctx c = {api, s, d, w, NULL, NULL, NULL, NULL};
    c.prompt = malloc(sizeof *c.prompt * B * (size_t)w->seq);
    c.depth_tokens = malloc(sizeof *c.depth_tokens * B * (size_t)(w->depth > 0 ? w->depth : 1));
    c.next = malloc(sizeof *c.next * B);
    c.logits = malloc(sizeof *c.logits * B * (size_t)d->vocab_size);
    r->prefill_ms = calloc((size_t)w->reps, sizeof(double));
    r->prefill_dev_ms = calloc((size_t)w->reps, sizeof(double));
    r->decode_ms = calloc((size_t)w->reps * (size_t)(w->gen ? w->gen : 1), sizeof(double));
    r->decode_dev_ms = calloc((size_t)w->reps * (size_t)(w->gen ? w->gen : 1), sizeof(double));
    r->samples = calloc((size_t)w->reps * (size_t)(samples_per_rep ? samples_per_rep : 1), sizeof(zb_sample));
    zb_status st = ZB_OK;
    if (!c.prompt || !c.depth_tokens || !c.next || !c.logits || !r->prefill_ms || !r->prefill_dev_ms ||
        !r->decode_ms || !r->decode_dev_ms || !r->samples)
        st = zb_fail(err, ZB_ERR_OOM, "out of host memory for a workload of %d x %d tokens", w->batch, w->seq);
    if (st == ZB_OK) {
        /* each sequence of the batch gets its own prompt */
        for (size_t b = 0; b < B; b++) {
            zb_prompt_tokens(w->seed + b, d->vocab_size, c.prompt + b * (size_t)w->seq, w->seq);
            if (w->depth > 0)
                zb_prompt_tokens(~(w->seed + b), d->vocab_size, c.depth_tokens + b * (size_t)w->depth, w->depth);
        }
    }
    for (int i = 0; st == ZB_OK && i < w->warmup && !zb_interrupted(); i++) st = one_rep(&c, -1, r, progress, ctx, err);
    for (int i = 0; st == ZB_OK && i < w->reps; i++) {
        if (zb_interrupted()) r->interrupted = 1;
        if (r->interrupted) break;
        st = one_rep(&c, i, r, progress, ctx, err);
        if (st == ZB_OK && !r->interrupted) r->reps_done++;
    }
    if (zb_interrupted()) r->interrupted = 1;
    free(c.prompt);
    free(c.depth_tokens);
    free(c.next);
    free(c.logits);
    return st;
}

void zb_workload_result_free(zb_workload_result *r)
{
    free(r->prefill_ms);
    free(r->prefill_dev_ms);
    free(r->decode_ms);
    free(r->decode_dev_ms);
    free(r->samples);
    memset(r, 0, sizeof *r);
}
