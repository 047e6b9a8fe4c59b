/* Which tensors a description needs, their shapes, and synthetic values. */
#include <math.h>
#include <string.h>

#include "model.h"

static const char *const role_names[ZB_W_ROLE_COUNT] = {
    [ZB_W_EMBED] = "embed",          [ZB_W_LM_HEAD] = "lm_head",        [ZB_W_FINAL_NORM] = "final_norm",
    [ZB_W_MAMBA_NORM] = "mamba_norm", [ZB_W_IN_PROJ] = "in_proj",       [ZB_W_IN_PROJ_BIAS] = "in_proj_bias",
    [ZB_W_CONV_W] = "conv_w",         [ZB_W_CONV_B] = "conv_b",         [ZB_W_X_PROJ] = "x_proj",
    [ZB_W_DT_PROJ] = "dt_proj",       [ZB_W_DT_BIAS] = "dt_bias",       [ZB_W_A_LOG] = "A_log",
    [ZB_W_D] = "D",                   [ZB_W_OUT_PROJ] = "out_proj",     [ZB_W_OUT_PROJ_BIAS] = "out_proj_bias",
    [ZB_W_HYBRID_LINEAR] = "linear",  [ZB_W_ATTN_NORM] = "attn_norm",   [ZB_W_Q] = "q_proj",
    [ZB_W_K] = "k_proj",              [ZB_W_V] = "v_proj",              [ZB_W_O] = "o_proj",
    [ZB_W_Q_BIAS] = "q_bias",         [ZB_W_K_BIAS] = "k_bias",         [ZB_W_V_BIAS] = "v_bias",
    [ZB_W_O_BIAS] = "o_bias",         [ZB_W_FFN_NORM] = "ffn_norm",     [ZB_W_GATE] = "gate_proj",
    [ZB_W_UP] = "up_proj",            [ZB_W_DOWN] = "down_proj",        [ZB_W_GATE_BIAS] = "gate_bias",
    [ZB_W_UP_BIAS] = "up_bias",       [ZB_W_DOWN_BIAS] = "down_bias",
};

const char *zb_role_name(zb_role r)
{
    return r >= 0 && r < ZB_W_ROLE_COUNT && role_names[r] ? role_names[r] : "?";
}

typedef struct spec_list {
    zb_weight_spec *out;
    int max, n;
} spec_list;

static void add(spec_list *l, int32_t layer, zb_role role, int required, int ndim, int64_t a, int64_t b, int64_t c)
{
    if (l->n < l->max) {
        zb_weight_spec *s = &l->out[l->n];
        memset(s, 0, sizeof *s);
        s->layer = layer;
        s->role = role;
        s->required = required;
        s->ndim = ndim;
        s->shape[0] = a;
        s->shape[1] = b;
        s->shape[2] = c;
    }
    l->n++;
}

static void add_attn_block(spec_list *l, const zb_model_desc *d, int32_t layer)
{
    const int64_t in = d->attn_in, H = d->hidden_size, I = d->intermediate_size;
    const int64_t q = (int64_t)d->n_heads * d->head_dim, kv = (int64_t)d->n_kv_heads * d->head_dim;
    add(l, layer, ZB_W_ATTN_NORM, 1, 1, in, 0, 0);
    add(l, layer, ZB_W_Q, 1, 2, q, in, 0);
    add(l, layer, ZB_W_K, 1, 2, kv, in, 0);
    add(l, layer, ZB_W_V, 1, 2, kv, in, 0);
    add(l, layer, ZB_W_O, 1, 2, H, q, 0);
    if (d->attn_bias) {
        add(l, layer, ZB_W_Q_BIAS, 1, 1, q, 0, 0);
        add(l, layer, ZB_W_K_BIAS, 1, 1, kv, 0, 0);
        add(l, layer, ZB_W_V_BIAS, 1, 1, kv, 0, 0);
        add(l, layer, ZB_W_O_BIAS, 1, 1, H, 0, 0);
    }
    add(l, layer, ZB_W_FFN_NORM, 1, 1, H, 0, 0);
    add(l, layer, ZB_W_GATE, 1, 2, I, H, 0);
    add(l, layer, ZB_W_UP, 1, 2, I, H, 0);
    add(l, layer, ZB_W_DOWN, 1, 2, H, I, 0);
    if (d->mlp_bias) {
        add(l, layer, ZB_W_GATE_BIAS, 1, 1, I, 0, 0);
        add(l, layer, ZB_W_UP_BIAS, 1, 1, I, 0, 0);
        add(l, layer, ZB_W_DOWN_BIAS, 1, 1, H, 0, 0);
    }
}

static void add_mamba(spec_list *l, const zb_model_desc *d, int32_t layer)
{
    const int64_t H = d->hidden_size, Di = d->d_inner, nh = d->n_mamba_heads, Dh = Di / nh;
    add(l, layer, ZB_W_MAMBA_NORM, 1, 1, H, 0, 0);
    add(l, layer, ZB_W_IN_PROJ, 1, 2, 2 * Di, H, 0);
    if (d->proj_bias) add(l, layer, ZB_W_IN_PROJ_BIAS, 1, 1, 2 * Di, 0, 0);
    add(l, layer, ZB_W_CONV_W, 1, 2, Di, d->d_conv, 0);
    if (d->conv_bias) add(l, layer, ZB_W_CONV_B, 1, 1, Di, 0, 0);
    add(l, layer, ZB_W_X_PROJ, 1, 3, nh, d->dt_rank + 2 * d->d_state, Dh);
    add(l, layer, ZB_W_DT_PROJ, 1, 3, nh, Dh, d->dt_rank);
    add(l, layer, ZB_W_DT_BIAS, 1, 2, nh, Dh, 0);
    add(l, layer, ZB_W_A_LOG, 1, 3, nh, Dh, d->d_state);
    add(l, layer, ZB_W_D, 1, 2, nh, Dh, 0);
    add(l, layer, ZB_W_OUT_PROJ, 1, 2, H, Di, 0);
    if (d->proj_bias) add(l, layer, ZB_W_OUT_PROJ_BIAS, 1, 1, H, 0, 0);
}

int zb_weight_specs(const zb_model_desc *d, zb_weight_spec *out, int max)
{
    spec_list l = {out, max, 0};
    const int64_t V = d->vocab_size, H = d->hidden_size;
    add(&l, ZB_LAYER_NONE, ZB_W_EMBED, 1, 2, V, H, 0);
    if (!d->tie_embeddings) add(&l, ZB_LAYER_NONE, ZB_W_LM_HEAD, 1, 2, V, H, 0);
    add(&l, ZB_LAYER_NONE, ZB_W_FINAL_NORM, 1, 1, H, 0, 0);
    if (d->layout == ZB_LAYOUT_ZAMBA) add_attn_block(&l, d, ZB_LAYER_NONE); /* the shared block, once */
    for (int i = 0; i < d->n_layers; i++) {
        if (d->layer_kind[i] == ZB_LAYER_ATTENTION) {
            add_attn_block(&l, d, i);
            continue;
        }
        add_mamba(&l, d, i);
        if (d->layer_kind[i] == ZB_LAYER_HYBRID) add(&l, i, ZB_W_HYBRID_LINEAR, 1, 2, H, H, 0);
    }
    return l.n;
}

void zb_synth_params(const zb_model_desc *d, const zb_weight_spec *s, uint64_t seed, zb_synth *out)
{
    /* uniform in [offset - scale, offset + scale]; a standard deviation of
     * sd needs scale = sqrt(3) * sd */
    const float root3 = 1.7320508f;
    const float fan_in = (float)s->shape[s->ndim - 1];
    float offset = 0.0f, scale;
    switch (s->role) {
    case ZB_W_EMBED:
    case ZB_W_LM_HEAD: scale = root3 / sqrtf((float)d->hidden_size); break; /* logits of order 1 */
    case ZB_W_FINAL_NORM:
    case ZB_W_MAMBA_NORM:
    case ZB_W_ATTN_NORM:
    case ZB_W_FFN_NORM: offset = 1.0f, scale = 0.1f; break;
    case ZB_W_OUT_PROJ:
    case ZB_W_O:
    case ZB_W_DOWN:
    case ZB_W_HYBRID_LINEAR: scale = 0.5f * root3 / sqrtf(fan_in); break; /* damp residual growth */
    case ZB_W_DT_PROJ: scale = 0.1f * root3 / sqrtf(fan_in); break;
    case ZB_W_DT_BIAS: offset = -4.6f, scale = 2.3f; break; /* softplus^-1 of dt in ~[1e-3, 0.1] */
    case ZB_W_A_LOG: offset = 1.386f, scale = 1.386f; break; /* A in [-16, -1], as S4D's 1..16 */
    case ZB_W_D: offset = 1.0f, scale = 0.5f; break;
    case ZB_W_CONV_B:
    case ZB_W_IN_PROJ_BIAS:
    case ZB_W_OUT_PROJ_BIAS:
    case ZB_W_Q_BIAS:
    case ZB_W_K_BIAS:
    case ZB_W_V_BIAS:
    case ZB_W_O_BIAS:
    case ZB_W_GATE_BIAS:
    case ZB_W_UP_BIAS:
    case ZB_W_DOWN_BIAS: scale = 0.05f; break;
    default: scale = root3 / sqrtf(fan_in); break; /* in_proj, conv, x_proj, q/k/v, gate, up */
    }
    out->seed = seed;
    out->key = zb_synth_key(s->layer, (int32_t)s->role);
    out->offset = offset;
    out->scale = scale;
}
