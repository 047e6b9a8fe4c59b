/*
 * The executable specification of both layouts, in plain fp32 C.
 *
 * Every function works on ONE sequence, on n consecutive tokens at once
 * (row-major [n][width] activations), carrying its state (KV cache, conv and
 * SSM state) between calls, so prefill is a call with n = prompt length and
 * decode a call with n = 1. Matrices are [out][in] (PyTorch nn.Linear).
 * Semantics follow Hugging Face transformers' ZambaForCausalLM,
 * LlamaForCausalLM and MistralForCausalLM; comments name the subtle points.
 */
#ifndef ZB_REF_H
#define ZB_REF_H

#include "zbench_plugin.h"

/* ---------------------------------------------------------------- ops */

/* out[r] = x[r] / sqrt(mean(x[r]^2) + eps) * w, for each of n rows of dim. */
void zb_ref_rmsnorm(float *out, const float *x, const float *w, int n, int dim, float eps);
/* out[r] = W x[r] + b (b may be NULL), for n rows; W is [out_dim][in_dim]. */
void zb_ref_linear(float *out, const float *x, const float *W, const float *b, int n, int in_dim,
                   int out_dim);
float zb_ref_act(zb_act a, float x);
float zb_ref_softplus(float x);
/* Rotates one head vector in place (rotate-half form) for position pos. */
void zb_ref_rope(float *v, int head_dim, int pos, float theta, zb_dtype weight_dtype);
int32_t zb_ref_argmax(const float *x, int n);
/* Writes the f32 values of a tensor (checkpoint data converted exactly, or
 * synthetic values rounded to the tensor's dtype first). */
void zb_ref_materialize(const zb_tensor *t, float *dst);

/* ------------------------------------------------------------ weights */

typedef struct zb_ref_attn_block {
    const float *attn_norm, *q, *k, *v, *o, *q_b, *k_b, *v_b, *o_b;
    const float *ffn_norm, *gate, *up, *down, *gate_b, *up_b, *down_b;
} zb_ref_attn_block;

typedef struct zb_ref_mamba_w {
    const float *norm, *in_proj, *in_proj_b, *conv_w, *conv_b, *x_proj, *dt_proj, *dt_bias;
    const float *A_log, *D, *out_proj, *out_proj_b;
} zb_ref_mamba_w;

typedef struct zb_ref_layer {
    zb_ref_mamba_w mamba;    /* zamba layers */
    const float *linear;     /* zamba hybrid layers */
    zb_ref_attn_block attn;  /* transformer layers */
} zb_ref_layer;

typedef struct zb_ref_model {
    zb_model_desc desc;
    const float *embed, *lm_head, *final_norm;
    zb_ref_attn_block shared; /* zamba's one shared attention+MLP block */
    zb_ref_layer *layers;
    float *storage;           /* owns every f32 array above */
    size_t weight_bytes;
} zb_ref_model;

/* Materialises every tensor the description needs as f32; fails with a
 * message naming the missing or misshapen tensor. */
zb_status zb_ref_model_init(zb_ref_model *m, const zb_model_desc *d, const zb_weights *w, zb_error *err);
void zb_ref_model_free(zb_ref_model *m);

/* -------------------------------------------------------------- state */

typedef struct zb_ref_cache {
    int batch, capacity;
    int kv_slots;       /* entries kept per sequence: capacity, or the window */
    int n_attn;         /* attention applications (zamba: hybrid layers) */
    int n_mamba;        /* Mamba layers (zamba: every layer) */
    int kv_dim;         /* n_kv_heads * head_dim */
    float *k, *v;       /* [n_attn][batch][kv_slots][kv_dim] */
    float *conv;        /* [n_mamba][batch][d_inner][d_conv], oldest input first */
    float *ssm;         /* [n_mamba][batch][d_inner][d_state] */
    int pos;            /* tokens already in every sequence */
    size_t kv_bytes, state_bytes, conv_bytes; /* state_bytes includes conv_bytes */
} zb_ref_cache;

zb_status zb_ref_cache_init(zb_ref_cache *c, const zb_model_desc *d, int batch, int capacity, zb_error *err);
void zb_ref_cache_reset(zb_ref_cache *c);
void zb_ref_cache_free(zb_ref_cache *c);

/* -------------------------------------------------------------- layers */

/* Mamba mixer (multi-head Mamba1) over n tokens of x [n][hidden] (already
 * normalised); conv [d_inner][d_conv] and ssm [d_inner][d_state] carry over. */
void zb_ref_mamba_mixer(const zb_model_desc *d, const zb_ref_mamba_w *w, float *conv, float *ssm,
                        const float *x, int n, float *out);

/* Self-attention over n tokens at positions pos0.. of x [n][attn_in] (already
 * normalised); appends K/V to the cache (a ring of kv_slots entries). */
void zb_ref_attention(const zb_model_desc *d, const zb_ref_attn_block *w, float *kcache, float *vcache,
                      int kv_slots, int pos0, const float *x, int n, float *out);

/* out = down(act(gate(x)) * up(x)) for n rows of x [n][hidden]. */
void zb_ref_gated_mlp(const zb_model_desc *d, const zb_ref_attn_block *w, const float *x, int n, float *out);

/* ------------------------------------------------------------- forward */

/* Runs n tokens of sequence b through the model, appending to its state at
 * position c->pos (the caller advances c->pos once all sequences ran), and
 * writes the logits of the last token to logits [vocab]. */
zb_status zb_ref_forward(const zb_ref_model *m, zb_ref_cache *c, int b, const int32_t *tokens, int n,
                         float *logits, zb_error *err);

#endif /* ZB_REF_H */
