/* Whole-model forward for both layouts, and the state it carries. */
#include "zb_ref.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- weights */

typedef struct binder {
    const zb_weights *w;
    float *base;  /* the model's storage; NULL while counting */
    size_t used;  /* floats bound so far */
    zb_error *err;
    int failed;
} binder;

static const float *bind(binder *b, int32_t layer, zb_role role, int64_t numel, int required)
{
    if (b->failed) return NULL;
    const zb_tensor *t = zb_weights_find(b->w, layer, role);
    if (!t) {
        if (required) {
            snprintf(b->err->msg, sizeof b->err->msg, "missing weight (layer %d, role %d)", layer, (int)role);
            b->failed = 1;
        }
        return NULL;
    }
    if (zb_tensor_numel(t) != numel) {
        snprintf(b->err->msg, sizeof b->err->msg, "weight (layer %d, role %d) has %lld elements, expected %lld",
                 layer, (int)role, (long long)zb_tensor_numel(t), (long long)numel);
        b->failed = 1;
        return NULL;
    }
    float *dst = b->base ? b->base + b->used : NULL;
    b->used += (size_t)numel;
    if (dst) zb_ref_materialize(t, dst);
    return dst;
}

/* Binds one attention+MLP block; with b->base == NULL it only counts. */
static void bind_attn_block(binder *b, const zb_model_desc *d, int32_t layer, zb_ref_attn_block *a)
{
    const int64_t in = d->attn_in, H = d->hidden_size, I = d->intermediate_size;
    const int64_t q = (int64_t)d->n_heads * d->head_dim, kv = (int64_t)d->n_kv_heads * d->head_dim;
    a->attn_norm = bind(b, layer, ZB_W_ATTN_NORM, in, 1);
    a->q = bind(b, layer, ZB_W_Q, q * in, 1);
    a->k = bind(b, layer, ZB_W_K, kv * in, 1);
    a->v = bind(b, layer, ZB_W_V, kv * in, 1);
    a->o = bind(b, layer, ZB_W_O, H * q, 1);
    a->q_b = bind(b, layer, ZB_W_Q_BIAS, q, d->attn_bias);
    a->k_b = bind(b, layer, ZB_W_K_BIAS, kv, d->attn_bias);
    a->v_b = bind(b, layer, ZB_W_V_BIAS, kv, d->attn_bias);
    a->o_b = bind(b, layer, ZB_W_O_BIAS, H, d->attn_bias);
    a->ffn_norm = bind(b, layer, ZB_W_FFN_NORM, H, 1);
    a->gate = bind(b, layer, ZB_W_GATE, I * H, 1);
    a->up = bind(b, layer, ZB_W_UP, I * H, 1);
    a->down = bind(b, layer, ZB_W_DOWN, H * I, 1);
    a->gate_b = bind(b, layer, ZB_W_GATE_BIAS, I, d->mlp_bias);
    a->up_b = bind(b, layer, ZB_W_UP_BIAS, I, d->mlp_bias);
    a->down_b = bind(b, layer, ZB_W_DOWN_BIAS, H, d->mlp_bias);
}

static void bind_mamba(binder *b, const zb_model_desc *d, int32_t layer, zb_ref_mamba_w *m)
{
    const int64_t H = d->hidden_size, Di = d->d_inner, nh = d->n_mamba_heads, Dh = Di / nh;
    m->norm = bind(b, layer, ZB_W_MAMBA_NORM, H, 1);
    m->in_proj = bind(b, layer, ZB_W_IN_PROJ, 2 * Di * H, 1);
    m->in_proj_b = bind(b, layer, ZB_W_IN_PROJ_BIAS, 2 * Di, d->proj_bias);
    m->conv_w = bind(b, layer, ZB_W_CONV_W, Di * d->d_conv, 1);
    m->conv_b = bind(b, layer, ZB_W_CONV_B, Di, d->conv_bias);
    m->x_proj = bind(b, layer, ZB_W_X_PROJ, nh * (d->dt_rank + 2 * d->d_state) * Dh, 1);
    m->dt_proj = bind(b, layer, ZB_W_DT_PROJ, Di * d->dt_rank, 1);
    m->dt_bias = bind(b, layer, ZB_W_DT_BIAS, Di, 1);
    m->A_log = bind(b, layer, ZB_W_A_LOG, Di * d->d_state, 1);
    m->D = bind(b, layer, ZB_W_D, Di, 1);
    m->out_proj = bind(b, layer, ZB_W_OUT_PROJ, H * Di, 1);
    m->out_proj_b = bind(b, layer, ZB_W_OUT_PROJ_BIAS, H, d->proj_bias);
}

static void bind_all(binder *b, zb_ref_model *m)
{
    const zb_model_desc *d = &m->desc;
    const int64_t V = d->vocab_size, H = d->hidden_size;
    m->embed = bind(b, ZB_LAYER_NONE, ZB_W_EMBED, V * H, 1);
    m->lm_head = d->tie_embeddings ? m->embed : bind(b, ZB_LAYER_NONE, ZB_W_LM_HEAD, V * H, 1);
    m->final_norm = bind(b, ZB_LAYER_NONE, ZB_W_FINAL_NORM, H, 1);
    if (d->layout == ZB_LAYOUT_ZAMBA) bind_attn_block(b, d, ZB_LAYER_NONE, &m->shared);
    for (int i = 0; i < d->n_layers; i++) {
        zb_ref_layer *L = &m->layers[i];
        if (d->layer_kind[i] == ZB_LAYER_ATTENTION) {
            bind_attn_block(b, d, i, &L->attn);
        } else {
            bind_mamba(b, d, i, &L->mamba);
            if (d->layer_kind[i] == ZB_LAYER_HYBRID)
                L->linear = bind(b, i, ZB_W_HYBRID_LINEAR, H * H, 1);
        }
    }
}

zb_status zb_ref_model_init(zb_ref_model *m, const zb_model_desc *d, const zb_weights *w, zb_error *err)
{
    memset(m, 0, sizeof *m);
    m->desc = *d;
    m->layers = calloc((size_t)d->n_layers, sizeof *m->layers);
    if (!m->layers) {
        snprintf(err->msg, sizeof err->msg, "out of host memory for %d layers", d->n_layers);
        return ZB_ERR_OOM;
    }
    /* first pass counts (and validates), second pass fills */
    binder count = {w, NULL, 0, err, 0};
    bind_all(&count, m);
    if (count.failed) {
        zb_ref_model_free(m);
        return ZB_ERR_INVALID;
    }
    size_t nfloats = count.used;
    m->storage = malloc(nfloats * sizeof(float));
    if (!m->storage) {
        snprintf(err->msg, sizeof err->msg, "out of host memory: weights need %zu bytes as f32",
                 nfloats * sizeof(float));
        zb_ref_model_free(m);
        return ZB_ERR_OOM;
    }
    binder fill = {w, m->storage, 0, err, 0};
    bind_all(&fill, m);
    m->weight_bytes = nfloats * sizeof(float);
    return ZB_OK;
}

void zb_ref_model_free(zb_ref_model *m)
{
    free(m->layers);
    free(m->storage);
    memset(m, 0, sizeof *m);
}

/* --------------------------------------------------------------- cache */

zb_status zb_ref_cache_init(zb_ref_cache *c, const zb_model_desc *d, int batch, int capacity, zb_error *err)
{
    memset(c, 0, sizeof *c);
    c->batch = batch;
    c->capacity = capacity;
    /* a sliding window needs only its last W entries */
    c->kv_slots = d->sliding_window > 0 && d->sliding_window < capacity ? d->sliding_window : capacity;
    c->kv_dim = d->n_kv_heads * d->head_dim;
    for (int i = 0; i < d->n_layers; i++) {
        if (d->layer_kind[i] != ZB_LAYER_MAMBA) c->n_attn++;
        if (d->layer_kind[i] != ZB_LAYER_ATTENTION) c->n_mamba++;
    }
    size_t kv = (size_t)c->n_attn * batch * c->kv_slots * c->kv_dim;
    size_t conv = (size_t)c->n_mamba * batch * d->d_inner * d->d_conv;
    size_t ssm = (size_t)c->n_mamba * batch * d->d_inner * d->d_state;
    c->kv_bytes = 2 * kv * sizeof(float);
    c->conv_bytes = conv * sizeof(float);
    c->state_bytes = (conv + ssm) * sizeof(float);
    c->k = kv ? calloc(kv, sizeof(float)) : NULL;
    c->v = kv ? calloc(kv, sizeof(float)) : NULL;
    c->conv = conv ? calloc(conv, sizeof(float)) : NULL;
    c->ssm = ssm ? calloc(ssm, sizeof(float)) : NULL;
    if ((kv && (!c->k || !c->v)) || (conv && !c->conv) || (ssm && !c->ssm)) {
        snprintf(err->msg, sizeof err->msg, "out of host memory: caches need %zu bytes",
                 c->kv_bytes + c->state_bytes);
        zb_ref_cache_free(c);
        return ZB_ERR_OOM;
    }
    return ZB_OK;
}

void zb_ref_cache_reset(zb_ref_cache *c)
{
    if (c->k) memset(c->k, 0, c->kv_bytes / 2);
    if (c->v) memset(c->v, 0, c->kv_bytes / 2);
    if (c->conv) memset(c->conv, 0, c->conv_bytes);
    if (c->ssm) memset(c->ssm, 0, c->state_bytes - c->conv_bytes);
    c->pos = 0;
}

void zb_ref_cache_free(zb_ref_cache *c)
{
    free(c->k);
    free(c->v);
    free(c->conv);
    free(c->ssm);
    memset(c, 0, sizeof *c);
}

/* ------------------------------------------------------------- forward */

zb_status zb_ref_forward(const zb_ref_model *m, zb_ref_cache *c, int b, const int32_t *tokens, int n,
                         float *logits, zb_error *err)
{
    const zb_model_desc *d = &m->desc;
    const int H = d->hidden_size, V = d->vocab_size;
    if (c->pos + n > c->capacity) {
        snprintf(err->msg, sizeof err->msg, "%d tokens past position %d exceed the capacity of %d", n, c->pos,
                 c->capacity);
        return ZB_ERR_CAPACITY;
    }
    for (int t = 0; t < n; t++)
        if (tokens[t] < 0 || tokens[t] >= V) {
            snprintf(err->msg, sizeof err->msg, "token %d at index %d is outside the vocabulary of %d", tokens[t],
                     t, V);
            return ZB_ERR_INVALID;
        }

    const size_t rows = (size_t)n;
    const int wide = d->attn_in > H ? d->attn_in : H;
    float *h = malloc(sizeof(float) * rows * H);      /* residual stream */
    float *emb = malloc(sizeof(float) * rows * H);    /* original embeddings (zamba) */
    float *tmp = malloc(sizeof(float) * rows * wide); /* normalised input */
    float *cat = malloc(sizeof(float) * rows * wide); /* zamba concat / block output */
    float *blk = malloc(sizeof(float) * rows * H);
    if (!h || !emb || !tmp || !cat || !blk) {
        free(h), free(emb), free(tmp), free(cat), free(blk);
        snprintf(err->msg, sizeof err->msg, "out of host memory for %d tokens", n);
        return ZB_ERR_OOM;
    }

    for (int t = 0; t < n; t++) memcpy(h + (size_t)t * H, m->embed + (size_t)tokens[t] * H, sizeof(float) * H);
    memcpy(emb, h, sizeof(float) * rows * H);

    const size_t kv_seq = (size_t)c->kv_slots * c->kv_dim;
    const size_t conv_seq = (size_t)d->d_inner * d->d_conv, ssm_seq = (size_t)d->d_inner * d->d_state;
    int ia = 0, im = 0; /* attention-application and mamba-layer counters */
    for (int l = 0; l < d->n_layers; l++) {
        const zb_ref_layer *L = &m->layers[l];
        const int kind = d->layer_kind[l];
        if (kind == ZB_LAYER_ATTENTION) {
            float *kc = c->k + ((size_t)ia * c->batch + b) * kv_seq;
            float *vc = c->v + ((size_t)ia * c->batch + b) * kv_seq;
            zb_ref_rmsnorm(tmp, h, L->attn.attn_norm, n, H, d->norm_eps);
            zb_ref_attention(d, &L->attn, kc, vc, c->kv_slots, c->pos, tmp, n, blk);
            for (size_t i = 0; i < rows * H; i++) h[i] += blk[i];
            zb_ref_rmsnorm(tmp, h, L->attn.ffn_norm, n, H, d->norm_eps);
            zb_ref_gated_mlp(d, &L->attn, tmp, n, blk);
            for (size_t i = 0; i < rows * H; i++) h[i] += blk[i];
            ia++;
            continue;
        }
        float *mamba_in = h;
        if (kind == ZB_LAYER_HYBRID) {
            /* Shared block on concat(hidden, embeddings); it has no residual of
             * its own: its output, through this layer's linear, is added to
             * the INPUT of this layer's Mamba block, while the Mamba residual
             * is still taken from the plain hidden state. */
            float *kc = c->k + ((size_t)ia * c->batch + b) * kv_seq;
            float *vc = c->v + ((size_t)ia * c->batch + b) * kv_seq;
            for (int t = 0; t < n; t++) {
                memcpy(cat + (size_t)t * 2 * H, h + (size_t)t * H, sizeof(float) * H);
                memcpy(cat + (size_t)t * 2 * H + H, emb + (size_t)t * H, sizeof(float) * H);
            }
            zb_ref_rmsnorm(tmp, cat, m->shared.attn_norm, n, 2 * H, d->norm_eps);
            zb_ref_attention(d, &m->shared, kc, vc, c->kv_slots, c->pos, tmp, n, blk);
            zb_ref_rmsnorm(tmp, blk, m->shared.ffn_norm, n, H, d->norm_eps);
            zb_ref_gated_mlp(d, &m->shared, tmp, n, blk);
            zb_ref_linear(cat, blk, L->linear, NULL, n, H, H);
            for (size_t i = 0; i < rows * H; i++) cat[i] += h[i];
            mamba_in = cat;
            ia++;
        }
        float *conv = c->conv + ((size_t)im * c->batch + b) * conv_seq;
        float *ssm = c->ssm + ((size_t)im * c->batch + b) * ssm_seq;
        zb_ref_rmsnorm(tmp, mamba_in, L->mamba.norm, n, H, d->norm_eps);
        zb_ref_mamba_mixer(d, &L->mamba, conv, ssm, tmp, n, blk);
        for (size_t i = 0; i < rows * H; i++) h[i] += blk[i];
        im++;
    }

    const float *last = h + (size_t)(n - 1) * H;
    zb_ref_rmsnorm(tmp, last, m->final_norm, 1, H, d->norm_eps);
    zb_ref_linear(logits, tmp, m->lm_head, NULL, 1, H, V);
    free(h), free(emb), free(tmp), free(cat), free(blk);
    return ZB_OK;
}
