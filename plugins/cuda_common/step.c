/*
 * prefill and decode: argument checks on the host (before any work, so an
 * error leaves the session untouched), the input upload, the forward
 * pass(es), the optional output download and the device timing.
 *
 * Every call ends with a wait on the stream: the ABI's calls are
 * synchronous (outputs valid on return), and a device fault is then
 * reported by the call that caused it.
 */
#include <string.h>

#include "check.h"
#include "engine.h"

static zb_status check_ready(zb_session *s, int n, zb_error *err)
{
    if (!s->runtime_ok) return zbe_fail(err, ZB_ERR_INVALID, "session has no caches (a resize failed)");
    if (n < 1) return zbe_fail(err, ZB_ERR_INVALID, "at least one token is needed");
    if ((int64_t)s->pos + n > s->plan.capacity)
        return zbe_fail(err, ZB_ERR_CAPACITY, "%d tokens past position %d exceed the capacity of %d", n, s->pos,
                        s->plan.capacity);
    return ZB_OK;
}

static zb_status check_tokens(const zb_session *s, const int32_t *tokens, size_t count, zb_error *err)
{
    const int32_t V = s->desc.vocab_size;
    for (size_t i = 0; i < count; i++)
        if (tokens[i] < 0 || tokens[i] >= V)
            return zbe_fail(err, ZB_ERR_INVALID, "token %d at index %zu is outside the vocabulary of %d", tokens[i],
                            i, V);
    return ZB_OK;
}

/* Queues the output copies and the stop event, waits, hands results over. */
static zb_status finish(zb_session *s, float *logits, int32_t *next, zb_step_timing *timing, zb_error *err)
{
    const size_t B = (size_t)s->plan.batch, V = (size_t)s->desc.vocab_size;
    if (logits)
        ZBE_CUDA(cudaMemcpyAsync(s->h_logits, s->buf.logits, B * V * sizeof(float), cudaMemcpyDeviceToHost,
                                 s->stream));
    if (next)
        ZBE_CUDA(cudaMemcpyAsync(s->h_next, s->buf.tokens, B * sizeof(int32_t), cudaMemcpyDeviceToHost, s->stream));
    ZBE_CUDA(cudaEventRecord(s->ev_stop, s->stream));
    ZBE_CUDA(cudaEventSynchronize(s->ev_stop));
    if (timing) {
        float ms = 0.0f;
        ZBE_CUDA(cudaEventElapsedTime(&ms, s->ev_start, s->ev_stop));
        timing->device_ms = ms;
    }
    if (logits) memcpy(logits, s->h_logits, B * V * sizeof(float));
    if (next) memcpy(next, s->h_next, B * sizeof(int32_t));
    return ZB_OK;
}

static zb_status run_prefill(zb_session *s, const int32_t *tokens, int n, float *logits, int32_t *next,
                             zb_step_timing *timing, zb_error *err)
{
    const zbe_plan *p = &s->plan;
    ZBE_CUDA(cudaEventRecord(s->ev_start, s->stream));
    for (int c0 = 0; c0 < n;) {
        const int T = n - c0 < p->chunk ? n - c0 : p->chunk;
        /* columns c0..c0+T of tokens [batch][n] -> [batch][T]; the caller's
         * memory is pageable, so the runtime stages it before returning */
        ZBE_CUDA(cudaMemcpy2DAsync(s->buf.tok, (size_t)T * 4, tokens + c0, (size_t)n * 4, (size_t)T * 4,
                                   (size_t)p->batch, cudaMemcpyHostToDevice, s->stream));
        /* a one-token chunk runs the decode kernels, which read the
         * position on the device */
        ZBE_CUDA(zbk_position_set(s->buf.pos, s->pos + c0, s->stream));
        ZBE_TRY(s->variant->issue_prefill(s, T, s->pos + c0, c0 + T == n, err));
        c0 += T;
    }
    /* the decode steps that follow start after the prompt */
    ZBE_CUDA(zbk_position_set(s->buf.pos, s->pos + n, s->stream));
    return finish(s, logits, next, timing, err);
}

zb_status zbe_prefill(zb_session *s, const int32_t *tokens, int32_t n_tokens, float *logits, int32_t *next_tokens,
                      zb_step_timing *timing, zb_error *err)
{
    if (timing) timing->device_ms = -1.0;
    ZBE_TRY(check_ready(s, n_tokens, err));
    if (!tokens) return zbe_fail(err, ZB_ERR_INVALID, "prefill needs tokens");
    ZBE_TRY(check_tokens(s, tokens, (size_t)s->plan.batch * (size_t)n_tokens, err));
    ZBE_CUDA(cudaSetDevice(s->opts.device));
    zbe_nvtx_push_step(&s->nvtx, ZBE_RANGE_PREFILL);
    zb_status st = run_prefill(s, tokens, n_tokens, logits, next_tokens, timing, err);
    zbe_nvtx_pop(&s->nvtx);
    if (st != ZB_OK) {
        /* the caches may hold part of the chunk: positions stay, the
         * caller resets; wait so no queued copy outlives the call */
        (void)cudaStreamSynchronize(s->stream);
        return st;
    }
    s->pos += n_tokens;
    return ZB_OK;
}

static zb_status run_decode(zb_session *s, const int32_t *tokens, float *logits, int32_t *next,
                            zb_step_timing *timing, zb_error *err)
{
    const size_t B = (size_t)s->plan.batch;
    ZBE_CUDA(cudaEventRecord(s->ev_start, s->stream));
    if (tokens) {
        /* pinned, so the copy is a true async DMA (and capturable); the
         * previous call's copy out of it finished before that call returned */
        memcpy(s->h_tokens, tokens, B * sizeof(int32_t));
        ZBE_CUDA(cudaMemcpyAsync(s->buf.tokens, s->h_tokens, B * sizeof(int32_t), cudaMemcpyHostToDevice,
                                 s->stream));
    }
    /* tokens == NULL: buf.tokens already holds the previous argmax */
    ZBE_TRY(s->variant->issue_decode(s, err));
    return finish(s, logits, next, timing, err);
}

zb_status zbe_decode(zb_session *s, const int32_t *tokens, float *logits, int32_t *next_tokens,
                     zb_step_timing *timing, zb_error *err)
{
    if (timing) timing->device_ms = -1.0;
    ZBE_TRY(check_ready(s, 1, err));
    if (tokens) ZBE_TRY(check_tokens(s, tokens, (size_t)s->plan.batch, err));
    ZBE_CUDA(cudaSetDevice(s->opts.device));
    zb_status st = run_decode(s, tokens, logits, next_tokens, timing, err);
    if (st != ZB_OK) {
        (void)cudaStreamSynchronize(s->stream);
        return st;
    }
    s->pos += 1;
    return ZB_OK;
}
