/*
 * A Zamba layer on T tokens per sequence.
 *
 * Mamba layer:  h += out_proj(mixer(in_proj(rmsnorm(h))))
 * Hybrid layer: first the shared attention+MLP block on
 *   concat(h, original embeddings); it has NO residual of its own:
 *     a = o(attention(rmsnorm2H(concat(h, emb))))        (fp32, t)
 *     m = down(act(gate(x)) * up(x)),  x = rmsnorm(a)    (16-bit, blk)
 *     t = linear(m)                                      (fp32)
 *   then the layer's Mamba block reads rmsnorm(h + t) while its residual
 *   is still the plain h:  h += out_proj(mixer(in_proj(rmsnorm(h + t)))).
 *
 * The mixer after in_proj: prefill runs the causal conv, x_proj and dt_proj
 * as batched GEMMs over the Mamba heads, then the chunked selective scan;
 * decode (T == 1) runs zbk_mamba_step, which does all of it per token.
 */
#include "check.h"
#include "engine.h"

/* The shared block of hybrid layer l; leaves t = linear(block output). */
static zb_status shared_attention(zb_session *s, const zbe_layer *L, int T, int pos0, zb_error *err)
{
    const zb_model_desc *d = &s->desc;
    const zbe_buffers *b = &s->buf;
    const int rows = s->plan.batch * T;
    ZBE_CUDA(zbk_concat_rmsnorm(b->h, b->emb, s->w.shared.attn_norm, rows, d->hidden_size, d->norm_eps, b->xn,
                                s->stream));
    return zbe_attention(s, &s->w.shared, L->attn_index, T, pos0, b->t, 0, err);
}

static zb_status shared_mlp(zb_session *s, const zbe_layer *L, int T, zb_error *err)
{
    const zb_model_desc *d = &s->desc;
    const zbe_buffers *b = &s->buf;
    const int rows = s->plan.batch * T, H = d->hidden_size;
    ZBE_CUDA(zbk_rmsnorm(b->t, NULL, s->w.shared.ffn_norm, rows, H, d->norm_eps, b->xn, s->stream));
    ZBE_TRY(zbe_mlp(s, &s->w.shared, T, b->blk, ZBK_HALF_DTYPE, 0, err));
    return zbe_linear(s, b->blk, rows, H, L->mamba.linear, H, b->t, ZB_DTYPE_F32, NULL, 0, err);
}

/* x_proj and dt_proj of every head as batched GEMMs, then the scan. */
static zb_status mixer_prefill(zb_session *s, const zbe_mamba_w *m, zbk_half *conv, float *ssm, int T,
                               zb_error *err)
{
    const zb_model_desc *d = &s->desc;
    const zbe_plan *p = &s->plan;
    const zbe_buffers *b = &s->buf;
    const int rows = p->batch * T, Di = d->d_inner, nh = d->n_mamba_heads, Dh = Di / nh, R = d->dt_rank;

    ZBE_CUDA(zbk_conv1d_prefill(b->xz, p->batch, T, Di, d->d_conv, m->conv_w, m->conv_b, d->mamba_act, conv, b->u,
                                s->stream));

    /* params [rows][nh][P] f32 = (dt_raw, B, C) per head: head h reads
     * columns h*Dh.. of u and its [P][Dh] slice of x_proj */
    zb_linear_args a = {0};
    a.x = b->u;
    a.ldx = Di;
    a.stride_x = Dh;
    a.w = m->x_proj;
    a.ldw = Dh;
    a.stride_w = (int64_t)p->P * Dh;
    a.y = b->params;
    a.ldy = (int64_t)nh * p->P;
    a.stride_y = p->P;
    a.y_dtype = ZB_DTYPE_F32;
    a.rows = rows;
    a.in = Dh;
    a.out = p->P;
    a.batch = nh;
    ZBE_LIB(zb_linear(s->blas, &a, s->stream, err));

    /* dt_proj needs a 16-bit input: params' dt_raw columns rounded to 16
     * bits (what a 16-bit model computes), into a buffer padded to dt_pad
     * columns per head so that each head's slice stays 16-byte aligned.
     * (A second x_proj GEMM straight into 16 bits did this before: 5-7 ms
     * more of a zamba-7b 16384-token prefill, docs/PERF.md.) */
    ZBE_CUDA(zbk_f32_cols_to_half(b->params, (int64_t)nh * p->P, p->P, b->dtr, (int64_t)nh * p->dt_pad, p->dt_pad,
                                  rows, nh, R, s->stream));

    /* dt [rows][d_inner] f32 = dt_proj(dt_raw) per head, bias left to the scan */
    zb_linear_args t = {0};
    t.x = b->dtr;
    t.ldx = (int64_t)nh * p->dt_pad;
    t.stride_x = p->dt_pad;
    t.w = m->dt_proj;
    t.ldw = R;
    t.stride_w = (int64_t)Dh * R;
    t.y = b->dt;
    t.ldy = Di;
    t.stride_y = Dh;
    t.y_dtype = ZB_DTYPE_F32;
    t.rows = rows;
    t.in = R;
    t.out = Dh;
    t.batch = nh;
    ZBE_LIB(zb_linear(s->blas, &t, s->stream, err));

    zbk_scan_args sc = {0};
    sc.u = b->u;
    sc.xz = b->xz;
    sc.dt = b->dt;
    sc.params = b->params;
    sc.dt_bias = m->dt_bias;
    sc.A_log = m->A_log;
    sc.D = m->D;
    sc.ssm_state = ssm;
    sc.y = b->y;
    sc.batch = p->batch;
    sc.T = T;
    sc.d_inner = Di;
    sc.d_state = d->d_state;
    sc.nh = nh;
    sc.dt_rank = R;
    sc.act = d->mamba_act;
    ZBE_CUDA(zbk_selective_scan(&sc, s->stream));
    return ZB_OK;
}

static zb_status mixer_step(zb_session *s, const zbe_mamba_w *m, zbk_half *conv, float *ssm, zb_error *err)
{
    const zb_model_desc *d = &s->desc;
    zbk_mamba_step_args a = {0};
    a.xz = s->buf.xz;
    a.conv_w = m->conv_w;
    a.conv_b = m->conv_b;
    a.conv_state = conv;
    a.x_proj = m->x_proj;
    a.dt_proj = m->dt_proj;
    a.dt_bias = m->dt_bias;
    a.A_log = m->A_log;
    a.D = m->D;
    a.ssm_state = ssm;
    a.y = s->buf.y;
    a.batch = s->plan.batch;
    a.d_inner = d->d_inner;
    a.d_conv = d->d_conv;
    a.d_state = d->d_state;
    a.nh = d->n_mamba_heads;
    a.dt_rank = d->dt_rank;
    a.act = d->mamba_act;
    a.scratch = s->buf.step_scratch;
    ZBE_CUDA(zbk_mamba_step(&a, s->stream));
    return ZB_OK;
}

static zb_status mamba_block(zb_session *s, const zbe_layer *L, int T, zb_error *err)
{
    const zb_model_desc *d = &s->desc;
    const zbe_plan *p = &s->plan;
    const zbe_buffers *b = &s->buf;
    const zbe_mamba_w *m = &L->mamba;
    const int rows = p->batch * T, H = d->hidden_size, Di = d->d_inner;
    /* hybrid: normalise h + t, the shared block's contribution */
    const float *add = L->kind == ZB_LAYER_HYBRID ? b->t : NULL;
    ZBE_CUDA(zbk_rmsnorm(b->h, add, m->norm, rows, H, d->norm_eps, b->xn, s->stream));
    /* xz [rows][2 d_inner]: x then z, thanks to the de-interleaved rows */
    ZBE_TRY(zbe_linear(s, b->xn, rows, H, m->in_proj, 2 * Di, b->xz, ZBK_HALF_DTYPE, m->in_proj_b, 0, err));

    const size_t seq = (size_t)L->mamba_index * p->batch * Di;
    zbk_half *conv = b->conv + seq * d->d_conv;
    float *ssm = b->ssm + seq * d->d_state;
    if (T == 1) ZBE_TRY(mixer_step(s, m, conv, ssm, err));
    else ZBE_TRY(mixer_prefill(s, m, conv, ssm, T, err));

    /* the Mamba residual: accumulate into the plain h */
    return zbe_linear(s, b->y, rows, Di, m->out_proj, H, b->h, ZB_DTYPE_F32, m->out_proj_b, 1, err);
}

zb_status zbe_zamba_layer(zb_session *s, int l, int T, int pos0, zb_error *err)
{
    const zbe_layer *L = &s->w.layers[l];
    zb_status st;
    if (L->kind == ZB_LAYER_HYBRID) {
        zbe_nvtx_push_layer(&s->nvtx, l, ZBE_RANGE_ATTENTION);
        st = shared_attention(s, L, T, pos0, err);
        zbe_nvtx_pop(&s->nvtx);
        ZBE_TRY(st);
        zbe_nvtx_push_layer(&s->nvtx, l, ZBE_RANGE_MLP);
        st = shared_mlp(s, L, T, err);
        zbe_nvtx_pop(&s->nvtx);
        ZBE_TRY(st);
    }
    zbe_nvtx_push_layer(&s->nvtx, l, ZBE_RANGE_MAMBA);
    st = mamba_block(s, L, T, err);
    zbe_nvtx_pop(&s->nvtx);
    return st;
}
