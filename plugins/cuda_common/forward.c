/*
 * The model forward pass over one chunk of T tokens per sequence, and the
 * decode step built on it.
 *
 * ---- What cuda_graph needs (it captures zbe_decode_step) ----------------
 * zbe_decode_step already enqueues everything on s->stream, never waits on
 * the host, never touches host memory, and reads/writes only buffers whose
 * addresses are fixed for the session's lifetime (until resize). Its input
 * ids are s->buf.tokens and it leaves the argmax in the same buffer, so a
 * replay can feed itself. What is still baked in at capture time:
 *  1. pos0: zbk_rope_store_kv and zbk_attention take the position as an int
 *     launch argument (passed here from the host counter s->pos). A graph
 *     replayed at a later position needs kernel variants reading it from
 *     device memory (e.g. `const int32_t *pos` in device memory, one int,
 *     since all sequences share the position), an increment of that
 *     counter as the step's last node, and a split-KV decode kernel whose
 *     grid does not depend on pos (size it for `slots`, let splits past
 *     the last key exit early). Until those exist, the alternative is
 *     cudaGraphExecKernelNodeSetParams on the nodes of those two kernels
 *     (found by walking the captured graph), which is fragile because the
 *     kernels are opaque here.
 *  2. zb_linear chooses GEMV vs cuBLASLt and its algorithm on the host on
 *     first use; run one eager decode step before capturing so no plan
 *     query or workspace allocation happens inside the capture, and use a
 *     capture mode of cudaStreamCaptureModeThreadLocal.
 *  3. The optional bias update (cublasSger on s->cublas) is capturable; the
 *     handle is bound to s->stream at creation.
 *  4. NVTX ranges are host-side: in a graph they mark only the capture;
 *     cuda_graph should push one "decode" range around cudaGraphLaunch.
 *  5. The token input copy (pinned s->h_tokens -> s->buf.tokens) stays
 *     outside, in zbe_decode, as do the output copies and timing events, so
 *     the variant only replaces issue_decode; its `invalidate` hook must
 *     drop the graph on resize/destroy (buffers move). reset keeps every
 *     address, so a captured graph survives it.
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
    /* Zamba keeps the original embeddings (bf16) for its shared block */
    zb_bf16 *emb = s->desc.layout == ZB_LAYOUT_ZAMBA ? b->emb : NULL;
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

zb_status zbe_decode_step(zb_session *s, zb_error *err)
{
    zbe_nvtx_push_step(&s->nvtx, ZBE_RANGE_DECODE);
    zb_status st = zbe_forward(s, s->buf.tokens, 1, s->pos, 1, err);
    zbe_nvtx_pop(&s->nvtx);
    return st;
}
