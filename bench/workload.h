/*
 * The timed workloads of a run on an open plugin session:
 *   prefill  - `seq` prompt tokens per sequence after `depth` untimed ones:
 *              time to first token;
 *   decode   - then `gen` greedy steps, each timed on its own (the first
 *              token, from the prefill, is not a decode sample).
 * Host monotonic time around each synchronous plugin call, plus the
 * plugin's device time when it has one. Warm-up repetitions run the same
 * work untimed. Along the generation, latency and memory are sampled at
 * steps 1, 2, 4, ... and every 1024 (and the last), per repetition.
 */
#ifndef ZB_WORKLOAD_H
#define ZB_WORKLOAD_H

#include <stdint.h>

#include "recorder.h"
#include "zbench_plugin.h"

/* Where a run is, for the hooks below (the values are the trace's phase
 * codes, trace_api.h). */
typedef enum zb_phase {
    ZB_PHASE_PREFILL = 1, /* the timed prompt; step 0 */
    ZB_PHASE_DECODE = 2,  /* one decode step, step 1..gen */
    ZB_PHASE_DEPTH = 3    /* the untimed --depth prefill; step 0 */
} zb_phase;

/* Called around each plugin call of a repetition (rep -1 for warm-ups),
 * outside the timed interval, so what they do (NVTX ranges, CUPTI
 * correlation ids, the --profile-steps window) is not in the host times. */
typedef struct zb_phase_hooks {
    void *ctx;
    void (*begin)(void *ctx, zb_phase phase, int rep, int step);
    void (*end)(void *ctx, zb_phase phase, int rep, int step);
} zb_phase_hooks;

typedef struct zb_workload {
    int batch, seq, gen, depth, reps, warmup;
    uint64_t seed;
    const zb_phase_hooks *hooks; /* may be NULL */
} zb_workload;

typedef struct zb_workload_result {
    int reps_done;
    double *prefill_ms, *prefill_dev_ms; /* [reps] */
    double *decode_ms, *decode_dev_ms;   /* [reps][gen] */
    zb_sample *samples;
    int n_samples;
    int interrupted;
} zb_workload_result;

/* Progress after each step: rep (-1 for warm-up), step (0 = prefill). */
typedef void (*zb_progress_fn)(void *ctx, int rep, int step, int steps);

/* The prompt: deterministic tokens in [1, vocab) from the seed. */
void zb_prompt_tokens(uint64_t seed, int vocab, int32_t *out, int64_t n);

zb_status zb_workload_run(const zb_plugin_api *api, zb_session *s, const zb_model_desc *d, const zb_workload *w,
                          zb_workload_result *r, zb_progress_fn progress, void *ctx, zb_error *err);
void zb_workload_result_free(zb_workload_result *r);

/* 1 when step k (1-based) is a sampling point of a generation of n steps. */
int zb_is_sample_step(int k, int n);

#endif
