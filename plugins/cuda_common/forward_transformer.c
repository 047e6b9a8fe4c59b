/*
 * A Llama / Mistral decoder layer on T tokens per sequence:
 *   h += o(attention(rope(qkv(rmsnorm(h)))))
 *   h += down(act(gate(x)) * up(x)),  x = rmsnorm(h)
 * Both residual adds happen inside the GEMMs (fp32 accumulate into h).
 */
#include "check.h"
#include "engine.h"

static zb_status attention_half(zb_session *s, const zbe_layer *L, int T, int pos0, zb_error *err)
{
    const zb_model_desc *d = &s->desc;
    const int rows = s->plan.batch * T;
    ZBE_CUDA(zbk_rmsnorm(s->buf.h, NULL, L->attn.attn_norm, rows, d->hidden_size, d->norm_eps, s->buf.xn,
                         s->stream));
    return zbe_attention(s, &L->attn, L->attn_index, T, pos0, s->buf.h, 1, err);
}

static zb_status mlp_half(zb_session *s, const zbe_layer *L, int T, zb_error *err)
{
    const zb_model_desc *d = &s->desc;
    const int rows = s->plan.batch * T;
    ZBE_CUDA(zbk_rmsnorm(s->buf.h, NULL, L->attn.ffn_norm, rows, d->hidden_size, d->norm_eps, s->buf.xn,
                         s->stream));
    return zbe_mlp(s, &L->attn, T, s->buf.h, ZB_DTYPE_F32, 1, err);
}

zb_status zbe_transformer_layer(zb_session *s, int l, int T, int pos0, zb_error *err)
{
    const zbe_layer *L = &s->w.layers[l];
    /* ranges are popped on failure too, so a profile stays balanced */
    zbe_nvtx_push_layer(&s->nvtx, l, ZBE_RANGE_ATTENTION);
    zb_status st = attention_half(s, L, T, pos0, err);
    zbe_nvtx_pop(&s->nvtx);
    ZBE_TRY(st);
    zbe_nvtx_push_layer(&s->nvtx, l, ZBE_RANGE_MLP);
    st = mlp_half(s, L, T, err);
    zbe_nvtx_pop(&s->nvtx);
    return st;
}
