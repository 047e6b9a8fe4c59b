/*
 * The building blocks both layouts share: a projection (with the bias
 * handling zb_linear leaves to us), the attention sub-block and the gated
 * MLP. Everything is enqueued on s->stream; nothing synchronises.
 */
#include "check.h"
#include "engine.h"

zb_status zbe_linear(zb_session *s, const zbk_half *x, int rows, int in, const zbk_half *w, int out, void *y,
                     zb_dtype y_dtype, const float *bias, int accumulate, zb_error *err)
{
    zb_linear_args a = {0};
    a.x = x;
    a.ldx = in;
    a.w = w;
    a.ldw = in;
    a.y = y;
    a.ldy = out;
    a.y_dtype = y_dtype;
    a.bias = accumulate ? NULL : bias;
    a.rows = rows;
    a.in = in;
    a.out = out;
    a.batch = 1;
    a.accumulate = accumulate;
    ZBE_LIB(zb_linear(s->blas, &a, s->stream, err));
    if (accumulate && bias) {
        /* zb_linear ignores a bias when accumulating into the fp32 residual,
         * so it is added here as the rank-1 update y += bias * ones^T, y
         * seen column-major as [out][rows]: exact fp32 and capturable in a
         * graph. Only models with such biases create the cuBLAS handle. */
        const float one = 1.0f;
        ZBE_CUBLAS(cublasSger(s->cublas, out, rows, &one, bias, 1, s->buf.ones, 1, (float *)y, out));
    }
    return ZB_OK;
}

zb_status zbe_attention(zb_session *s, const zbe_attn_w *w, int app, int T, int pos0, float *out, int accumulate,
                        zb_error *err)
{
    const zb_model_desc *d = &s->desc;
    const zbe_plan *p = &s->plan;
    const zbe_buffers *b = &s->buf;
    const int rows = p->batch * T;
    ZBE_TRY(zbe_linear(s, b->xn, rows, d->attn_in, w->qkv, p->qkv_dim, b->qkv, ZBK_HALF_DTYPE, w->qkv_b, 0, err));

    const size_t cache = (size_t)app * p->batch * p->slots * p->kv_dim;
    zbk_half *kc = b->k + cache, *vc = b->v + cache;
    /* A window-sized ring cannot take a multi-token chunk (memory_plan.c):
     * attend through the staging ring, holding the last W - 1 keys. */
    const int staged = T > 1 && p->stage_slots > 0;
    zbk_half *ak = staged ? b->stage_k : kc, *av = staged ? b->stage_v : vc;
    const int aslots = staged ? p->stage_slots : p->slots;
    if (staged) {
        const int W = d->sliding_window, back = pos0 < W - 1 ? pos0 : W - 1;
        ZBE_CUDA(zbk_kv_ring_copy(kc, p->slots, ak, aslots, p->batch, p->kv_dim, pos0 - back, back, s->stream));
        ZBE_CUDA(zbk_kv_ring_copy(vc, p->slots, av, aslots, p->batch, p->kv_dim, pos0 - back, back, s->stream));
    }
    /* Zamba's shared block has no rotary embedding: inv_freq NULL */
    /* one-token passes (decode, and a one-token prefill chunk) read their
     * position from the device (one launch for every step, as a captured
     * graph needs); longer chunks pass it */
    const int32_t *pos_dev = T == 1 ? b->pos : NULL;
    ZBE_CUDA(zbk_rope_store_kv(b->qkv, p->batch, T, pos0, pos_dev, d->n_heads, d->n_kv_heads, d->head_dim,
                               d->rope ? b->inv_freq : NULL, b->q, ak, av, aslots, s->stream));

    zbk_attention_args a = {0};
    a.q = b->q;
    a.kc = ak;
    a.vc = av;
    a.out = b->att;
    a.batch = p->batch;
    a.T = T;
    a.pos0 = pos0;
    a.nh = d->n_heads;
    a.nkv = d->n_kv_heads;
    a.hd = d->head_dim;
    a.slots = aslots;
    a.window = d->sliding_window;
    a.scale = d->attn_scale;
    a.partial = b->attn_scratch;
    a.partial_bytes = p->attn_scratch_bytes;
    a.pos_dev = pos_dev;
    a.max_pos = p->capacity - 1;
    ZBE_CUDA(zbk_attention(&a, s->stream));
    if (staged) { /* the chunk's last W keys (at most) go back into the cache */
        const int keep = T < p->slots ? T : p->slots;
        const long long from = (long long)pos0 + T - keep;
        ZBE_CUDA(zbk_kv_ring_copy(ak, aslots, kc, p->slots, p->batch, p->kv_dim, from, keep, s->stream));
        ZBE_CUDA(zbk_kv_ring_copy(av, aslots, vc, p->slots, p->batch, p->kv_dim, from, keep, s->stream));
    }

    return zbe_linear(s, b->att, rows, p->q_dim, w->o, d->hidden_size, out, ZB_DTYPE_F32, w->o_b, accumulate, err);
}

zb_status zbe_mlp(zb_session *s, const zbe_attn_w *w, int T, void *out, zb_dtype out_dtype, int accumulate,
                  zb_error *err)
{
    const zb_model_desc *d = &s->desc;
    const zbe_buffers *b = &s->buf;
    const int rows = s->plan.batch * T, H = d->hidden_size, I = d->intermediate_size;
    /* gate and up in one GEMM; the activation applies to the gate half */
    ZBE_TRY(zbe_linear(s, b->xn, rows, H, w->gate_up, 2 * I, b->gu, ZBK_HALF_DTYPE, w->gate_up_b, 0, err));
    ZBE_CUDA(zbk_gated_act(b->gu, rows, I, d->mlp_act, b->act, s->stream));
    return zbe_linear(s, b->act, rows, I, w->down, H, out, out_dtype, w->down_b, accumulate, err);
}
