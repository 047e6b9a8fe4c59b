/*
 * The model forward pass over one chunk of T tokens per sequence, and the
 * decode step built on it.
 *
 * ---- Why a decode step can be captured once (cuda_graph) ---------------
 * zbe_decode_step enqueues everything on s->stream, never waits on the
 * host, never touches host memory, and reads/writes only buffers whose
 * addresses are fixed until a resize. Its input ids are s->buf.tokens and
 * it leaves the argmax there, so a replay feeds itself. The position lives
 * in device memory (s->buf.pos): RoPE/KV store and decode attention read
 * it when they run, attention plans its split over the keys for the
 * session's capacity (not the current length), and the step's last launch
 * advances it. cuda_fused issues the very same launches eagerly, which is
 * why the two plugins agree bit for bit.
 *  - zb_linear picks GEMV or cuBLASLt and caches its plans on the host at
 *    first use: a capture follows at least one eager step of the same
 *    shape, so nothing is planned or allocated inside a capture.
 *  - NVTX ranges and the trace hooks fire on the host: during a capture
 *    they label the graph's nodes (CUPTI notes the layer of each node as it
 *    is created); a replay gets one step range around cudaGraphLaunch.
 *  - The token upload, the output copies and the timing events stay in
 *    zbe_decode (step.c), outside what a variant issues.
 * ------------------------------------------------------------------------
 */
#include "check.h"
#include "engine.h"

/* Final norm and lm_head on the last position of each sequence, argmax
 * into s->buf.tokens. */
static zb_status final_logits(zb_session *s, int T, zb_error *err)
{
    const zb_model_desc *d = &s->desc;
    const zbe_buffers *b = &s->buf;
    const int B = s->plan.batch, H = d->hidden_size;
    const float *last = b->h; /* T == 1: the rows are already the last ones */
    if (T > 1) {
        /* gather row b*T + T-1 of every sequence into [batch][H] */
        ZBE_CUDA(cudaMemcpy2DAsync(b->last, (size_t)H * 4, b->h + (size_t)(T - 1) * H, (size_t)T * H * 4,
                                   (size_t)H * 4, (size_t)B, cudaMemcpyDeviceToDevice, s->stream));
        last = b->last;
    }
    ZBE_CUDA(zbk_rmsnorm(last, NULL, s->w.final_norm, B, H, d->norm_eps, b->lastn, s->stream));
    ZBE_TRY(zbe_linear(s, b->lastn, B, H, s->w.lm_head, d->vocab_size, b->logits, ZB_DTYPE_F32, NULL, 0, err));
    ZBE_CUDA(zbk_argmax(b->logits, B, d->vocab_size, b->tokens, s->stream));
    return ZB_OK;
}

static zb_status embed(zb_session *s, const int32_t *tokens, int T, zb_error *err)
{
    const zbe_buffers *b = &s->buf;
    /* Zamba keeps the original embeddings (16-bit) for its shared block */
    zbk_half *emb = s->desc.layout == ZB_LAYOUT_ZAMBA ? b->emb : NULL;
    ZBE_CUDA(zbk_embed(tokens, s->plan.batch * T, s->w.embed, s->desc.hidden_size, b->h, emb, s->stream));
    return ZB_OK;
}

zb_status zbe_forward(zb_session *s, const int32_t *tokens, int T, int pos0, int logits, zb_error *err)
{
    zbe_nvtx_push_step(&s->nvtx, ZBE_RANGE_EMBED);
    zb_status st = embed(s, tokens, T, err);
    zbe_nvtx_pop(&s->nvtx);
    ZBE_TRY(st);
    const int zamba = s->desc.layout == ZB_LAYOUT_ZAMBA;
    for (int l = 0; l < s->desc.n_layers; l++)
        ZBE_TRY(zamba ? zbe_zamba_layer(s, l, T, pos0, err) : zbe_transformer_layer(s, l, T, pos0, err));
    if (!logits) return ZB_OK;
    zbe_nvtx_push_step(&s->nvtx, ZBE_RANGE_LOGITS);
    st = final_logits(s, T, err);
    zbe_nvtx_pop(&s->nvtx);
    return st;
}

/* The decode step's tail: logits, argmax, and the device position moved
 * on to the next token (one "logits" range, so that every launch of a step
 * belongs to a part). */
static zb_status decode_tail(zb_session *s, zb_error *err)
{
    ZBE_TRY(final_logits(s, 1, err));
    ZBE_CUDA(zbk_position_add(s->buf.pos, 1, s->stream));
    return ZB_OK;
}

static zb_status decode_body(zb_session *s, zb_error *err)
{
    /* s->pos goes along for the layers' signature only: every kernel that
     * depends on the position reads s->buf.pos */
    ZBE_TRY(zbe_forward(s, s->buf.tokens, 1, s->pos, 0, err));
    zbe_nvtx_push_step(&s->nvtx, ZBE_RANGE_LOGITS);
    zb_status st = decode_tail(s, err);
    zbe_nvtx_pop(&s->nvtx);
    return st;
}

zb_status zbe_decode_step(zb_session *s, zb_error *err)
{
    zbe_nvtx_push_step(&s->nvtx, ZBE_RANGE_DECODE);
    zb_status st = decode_body(s, err);
    zbe_nvtx_pop(&s->nvtx);
    return st;
}

zb_status zbe_prefill_chunk(zb_session *s, int T, int pos0, int logits, zb_error *err)
{
    return zbe_forward(s, s->buf.tok, T, pos0, logits, err);
}
