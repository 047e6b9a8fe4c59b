/*
 * The CUDA engine shared by the GPU plugins (cuda_fused today, cuda_graph
 * next). Plain C11 over the CUDA runtime API and the kernels of
 * kernels/zb_kernels.h. A plugin's entry.c only builds the API table and
 * says, through a zbe_variant, how a decode step is issued; everything else
 * (weights, memory plan, forward passes, sessions) lives here.
 *
 * Data layout on the device (16-bit sessions):
 *  - residual stream h: fp32 [batch][T][hidden]; projection inputs 16-bit;
 *  - matrices 16-bit [out][in]; per-channel vectors fp32;
 *  - KV caches 16-bit [batch][slots][n_kv][head_dim], one K and one V per
 *    attention application (Zamba: 13 applications of its one block);
 *  - conv states 16-bit [batch][d_inner][d_conv], SSM states fp32
 *    [batch][d_inner][d_state], one each per Mamba layer.
 * All sequences of a session always hold the same number of tokens (the ABI
 * appends n tokens to every sequence), so one position counter describes
 * them all and the kernels take it as a single pos0.
 */
#ifndef ZBE_ENGINE_H
#define ZBE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "nvtx.h"
#include "zb_kernels.h"
#include "zbench_plugin.h"

#define ZBE_MAX_BATCH 64
/* Rows (batch x tokens) of one prefill chunk: bounds the activation arena.
 * A batch-1 chunk may take all of them: chunks of 8192 made zamba-7b's
 * 16384 prefill 19 ms and llama2-7b's 7 ms faster than chunks of 4096 on
 * the H100 (docs/PERF.md, 11th session), for a batch-1 workspace of 1.20
 * GB instead of 0.62 (Zamba) and 0.74 instead of 0.39 (Llama): the arena
 * batch 2 had already. */
#define ZBE_PREFILL_ROWS 8192
#define ZBE_PREFILL_MAX_CHUNK 8192
/* cuBLASLt workspace (what NVIDIA recommends for Hopper GEMMs). */
#define ZBE_BLAS_WORKSPACE ((size_t)32 << 20)
/* Device memory kept free for what we do not allocate ourselves: cuBLAS
 * handles, lazily loaded kernel modules, allocation rounding. */
#define ZBE_DEVICE_RESERVE ((size_t)256 << 20)
/* Alignment of every sub-buffer carved from one allocation. */
#define ZBE_ALIGN ((size_t)256)

/* ---------------------------------------------------------------- weights */

/* One attention + gated-MLP block (a transformer layer, or Zamba's shared
 * block), laid out for the fused GEMMs. */
typedef struct zbe_attn_w {
    const float *attn_norm;    /* [attn_in] */
    const zbk_half *qkv;        /* [q_dim + 2 kv_dim][attn_in]: q rows, then k, then v */
    const float *qkv_b;        /* [q_dim + 2 kv_dim] or NULL */
    const zbk_half *o;          /* [hidden][q_dim] */
    const float *o_b;          /* [hidden] or NULL */
    const float *ffn_norm;     /* [hidden] */
    const zbk_half *gate_up;    /* [2 inter][hidden]: gate rows, then up */
    const float *gate_up_b;    /* [2 inter] or NULL */
    const zbk_half *down;       /* [hidden][inter] */
    const float *down_b;       /* [hidden] or NULL */
} zbe_attn_w;

/* A Zamba Mamba block (and, for hybrid layers, the layer's linear). */
typedef struct zbe_mamba_w {
    const float *norm;         /* [hidden] */
    const zbk_half *in_proj;    /* [2 d_inner][hidden], de-interleaved: x rows, then z */
    const float *in_proj_b;    /* [2 d_inner] de-interleaved, or NULL */
    const float *conv_w;       /* [d_inner][d_conv] */
    const float *conv_b;       /* [d_inner] or NULL */
    const zbk_half *x_proj;     /* [nh][dt_rank + 2 d_state][head_dim] */
    const zbk_half *dt_proj;    /* [nh][head_dim][dt_rank] */
    const float *dt_bias;      /* [d_inner] */
    const float *A_log;        /* [d_inner][d_state] */
    const float *D;            /* [d_inner] */
    const zbk_half *out_proj;   /* [hidden][d_inner] */
    const float *out_proj_b;   /* [hidden] or NULL */
    const zbk_half *linear;     /* hybrid layers: [hidden][hidden] */
} zbe_mamba_w;

typedef struct zbe_layer {
    int kind;       /* zb_layer_kind */
    int attn_index; /* which KV cache (attention application), or -1 */
    int mamba_index;/* which conv/SSM state, or -1 */
    zbe_mamba_w mamba;
    zbe_attn_w attn; /* transformer layers */
} zbe_layer;

typedef struct zbe_weights {
    void *mem;              /* one device allocation holding everything below */
    size_t bytes;
    const zbk_half *embed;   /* [vocab][hidden] */
    const zbk_half *lm_head; /* == embed when tied */
    const float *final_norm;
    zbe_attn_w shared;      /* Zamba's shared block, stored once */
    zbe_layer *layers;      /* host array [n_layers] of device pointers */
    int n_attn, n_mamba;    /* attention applications, Mamba layers */
    int resid_bias;         /* a projection that accumulates into h has a bias */
} zbe_weights;

/* Sizing pass, no device work: validates every tensor the description
 * needs and fills info->bytes (device bytes of the weights), n_attn,
 * n_mamba and resid_bias (no pointers), and the transient staging bytes. */
zb_status zbe_weights_size(const zb_model_desc *d, const zb_weights *src, zbe_weights *info, size_t *staging_bytes,
                           zb_error *err);
/* Allocates w->mem (weights_bytes) and the staging, uploads or generates
 * every tensor on `stream`, waits for it, frees the staging. Updates
 * *peak_used (device bytes in use, sampled while staging is alive). On
 * failure the caller releases w with zbe_weights_free. */
zb_status zbe_weights_upload(const zb_model_desc *d, const zb_weights *src, zbe_weights *w, size_t weights_bytes,
                             size_t staging_bytes, cudaStream_t stream, size_t *peak_used, zb_error *err);
void zbe_weights_free(zbe_weights *w);

/* ------------------------------------------------------------ memory plan */

/* Everything that depends on (batch, capacity): caches, states, and the
 * activation arena, carved into sub-buffers at the offsets below. */
typedef struct zbe_plan {
    int batch, capacity;
    int chunk;          /* prefill tokens per sequence per pass */
    int slots;          /* KV entries kept per sequence and application (a
                         * ring: capacity, or the window when smaller) */
    int stage_slots;    /* window + chunk - 1: the staging ring prefill chunks
                         * attend through when the cache is a window ring; 0 otherwise */
    int rows;           /* batch * chunk: activation rows of the arena */
    int q_dim, kv_dim, qkv_dim, P, dt_pad;

    size_t kv_bytes;    /* K and V of every application */
    size_t conv_bytes, ssm_bytes;
    size_t state_total; /* one allocation: k, v, conv, ssm */
    size_t off_k, off_v, off_conv, off_ssm;

    size_t arena_bytes; /* one allocation: activations and kernel scratch */
    size_t attn_scratch_bytes, step_scratch_bytes;
    /* persistent sub-buffers */
    size_t off_tok, off_h, off_emb, off_xn, off_t, off_last, off_lastn, off_logits, off_tokens, off_pos, off_ones,
        off_inv_freq, off_attn_scratch, off_step_scratch;
    /* overlay: the attention, MLP and Mamba sets are never live together */
    size_t off_qkv, off_q, off_att, off_stage_k, off_stage_v;
    size_t off_gu, off_act, off_blk;
    size_t off_xz, off_u, off_params, off_dtr, off_dt, off_y;
} zbe_plan;

/* Sizes the caches and arena of a session (no allocation). */
zb_status zbe_plan_runtime(const zb_model_desc *d, const zbe_weights *w, int batch, int capacity, zbe_plan *p,
                           zb_error *err);
/* Device bytes of the runtime part (states + arena), which resize swaps. */
size_t zbe_plan_runtime_bytes(const zbe_plan *p);
/* Device bytes of the session's library contexts: the cuBLASLt workspace,
 * plus an allowance for a legacy cuBLAS handle when biases need one. */
size_t zbe_plan_library_bytes(int resid_bias);
/* ZB_ERR_OOM with the numbers when `need` + the reserve exceeds `free_bytes`. */
zb_status zbe_plan_check_fit(const char *what, size_t need, size_t free_bytes, int device, zb_error *err);
size_t zbe_add_sat(size_t a, size_t b);
size_t zbe_mul_sat(size_t a, size_t b);

/* ---------------------------------------------------------------- session */

/* Device pointers into the arena and state allocations. */
typedef struct zbe_buffers {
    int32_t *tok;      /* [rows] prefill token ids of the current chunk */
    float *h;          /* [rows][hidden] residual stream */
    zbk_half *emb;      /* [rows][hidden] Zamba's original embeddings */
    zbk_half *xn;       /* [rows][max(attn_in, hidden)] normalised input */
    float *t;          /* [rows][hidden] Zamba: o-proj out, then linear out */
    float *last;       /* [batch][hidden] last position of each sequence */
    zbk_half *lastn;    /* [batch][hidden] its final norm */
    float *logits;     /* [batch][vocab] */
    int32_t *tokens;   /* [batch] decode input AND the last argmax (feedback) */
    int32_t *pos;      /* [1] the position of the next token (== zb_session.pos
                        * between calls): decode reads it on the device */
    float *ones;       /* [rows] of 1.0f, for bias rank-1 updates, or NULL */
    float *inv_freq;   /* [head_dim / 2] RoPE table, or NULL */
    void *attn_scratch;
    void *step_scratch;
    zbk_half *qkv, *q, *att;
    zbk_half *stage_k, *stage_v; /* [batch][stage_slots][kv_dim], or NULL */
    zbk_half *gu, *act, *blk;
    zbk_half *xz, *u, *dtr, *y;
    float *params, *dt;
    zbk_half *k, *v;    /* [n_attn][batch][slots][kv_dim] */
    zbk_half *conv;     /* [n_mamba][batch][d_inner][d_conv] */
    float *ssm;        /* [n_mamba][batch][d_inner][d_state] */
} zbe_buffers;

/* How a plugin issues its decode steps; the rest of the engine is common. */
typedef struct zbe_variant {
    const char *name;
    /* Enqueues one decode step on s->stream: input ids in s->buf.tokens,
     * position s->pos (and s->buf.pos, which the step advances); no host
     * synchronisation (see zbe_decode_step). */
    zb_status (*issue_decode)(zb_session *s, zb_error *err);
    /* Enqueues the forward pass of one prefill chunk: T tokens per
     * sequence already in s->buf.tok, positions pos0.., logits and argmax
     * of the last position when `logits` (see zbe_forward). */
    zb_status (*issue_prefill)(zb_session *s, int T, int pos0, int logits, zb_error *err);
    /* The runtime buffers are about to be freed or replaced (resize,
     * destroy): drop whatever captured them. May be NULL. */
    void (*invalidate)(zb_session *s);
} zbe_variant;

struct zb_session {
    zb_model_desc desc;
    zb_session_opts opts;
    const zbe_variant *variant;
    void *variant_state;       /* the variant's (e.g. its CUDA graphs), from malloc:
                                * emptied by its invalidate, freed at destroy */
    cudaStream_t stream;
    cudaEvent_t ev_start, ev_stop;
    zb_blas *blas;
    cublasHandle_t cublas;     /* only when a residual projection has a bias */
    zbe_weights w;
    zbe_plan plan;
    void *state_mem, *arena_mem;
    zbe_buffers buf;
    int32_t *h_tokens;         /* pinned [batch] */
    int32_t *h_next;           /* pinned [batch] */
    float *h_logits;           /* pinned [batch][vocab] */
    int pos;                   /* tokens in every sequence */
    int runtime_ok;            /* caches and arena allocated */
    size_t used_before;        /* device bytes in use before create */
    size_t peak_used;          /* highest device usage seen */
    zbe_nvtx nvtx;
};

/* cuda_graph's variant (graph.c): decode and prefill chunks captured once
 * and replayed; zbe_graph_stats serves "zb.graph_stats.v1". */
extern const zbe_variant zbe_graph_variant;
zb_status zbe_graph_stats(zb_session *s, zb_graph_stats *out, zb_error *err);

/* API implementations. Each plugin's entry.c defines its table with
 * ZBE_PLUGIN_API, naming what differs: name, description, its create (which
 * picks the variant) and its extension lookup. */
#define ZBE_PLUGIN_API(name_, description_, create_, get_extension_)                                         \
    {                                                                                                         \
        .abi_version = ZB_ABI_VERSION, .name = (name_), .description = (description_),                        \
        .dtypes = ZB_DTYPE_BIT(ZBK_HALF_DTYPE), .max_batch = ZBE_MAX_BATCH,                                    \
        .caps = ZB_CAP_GPU | ZB_CAP_DEVICE_TIMING | ZB_CAP_TOKEN_FEEDBACK, .device_info = zbe_device_info,     \
        .create = (create_), .prefill = zbe_prefill, .decode = zbe_decode, .reset = zbe_reset,                \
        .memory = zbe_memory, .destroy = zbe_destroy, .get_extension = (get_extension_),                      \
    }
zb_status zbe_device_info(int32_t device, zb_device_info *info, zb_error *err);
zb_status zbe_create(const zb_model_desc *desc, const zb_weights *weights, const zb_session_opts *opts,
                     const zbe_variant *variant, zb_session **out, zb_error *err);
zb_status zbe_prefill(zb_session *s, const int32_t *tokens, int32_t n_tokens, float *logits, int32_t *next_tokens,
                      zb_step_timing *timing, zb_error *err);
zb_status zbe_decode(zb_session *s, const int32_t *tokens, float *logits, int32_t *next_tokens,
                     zb_step_timing *timing, zb_error *err);
zb_status zbe_reset(zb_session *s, zb_error *err);
zb_status zbe_memory(zb_session *s, zb_memory_report *out, zb_error *err);
zb_status zbe_resize(zb_session *s, int32_t batch, int32_t capacity, zb_error *err);
void zbe_destroy(zb_session *s);
/* zb.calibrate.v1: copy bandwidth and 16-bit GEMM rate of `device`. */
zb_status zbe_calibrate(int32_t device, double *copy_gbps, double *gemm_tflops, char *method, size_t method_len,
                        zb_error *err);
/* get_extension: "zb.resize.v1" (zbe_resize), "zb.calibrate.v1"
 * (zbe_calibrate), "zb.trace_layers.v1" (zbe_set_trace_hooks, nvtx.h);
 * NULL for anything else. */
const void *zbe_get_extension(const char *name);

/* Runtime buffers (caches, arena, cuBLAS contexts) for s->plan. */
zb_status zbe_runtime_alloc(zb_session *s, zb_error *err);
void zbe_runtime_free(zb_session *s);
/* Zeroes caches and states, position 0 (enqueued on s->stream). */
zb_status zbe_runtime_clear(zb_session *s, zb_error *err);

/* ---------------------------------------------------------------- forward */

/* y (=, or += when accumulate) x W^T (+ bias) over `rows` contiguous rows. */
zb_status zbe_linear(zb_session *s, const zbk_half *x, int rows, int in, const zbk_half *w, int out, void *y,
                     zb_dtype y_dtype, const float *bias, int accumulate, zb_error *err);
/* Attention sub-block on xn: qkv, RoPE + cache store, attention, o proj
 * into `out` (f32; accumulated when `accumulate`). */
zb_status zbe_attention(zb_session *s, const zbe_attn_w *w, int app, int T, int pos0, float *out, int accumulate,
                        zb_error *err);
/* Gated MLP on xn [rows][hidden] into out (16-bit or f32, accumulated when
 * `accumulate`). */
zb_status zbe_mlp(zb_session *s, const zbe_attn_w *w, int T, void *out, zb_dtype out_dtype, int accumulate,
                  zb_error *err);
zb_status zbe_transformer_layer(zb_session *s, int l, int T, int pos0, zb_error *err);
zb_status zbe_zamba_layer(zb_session *s, int l, int T, int pos0, zb_error *err);
/* Embeds tokens [batch][T], runs every layer at positions pos0.., and when
 * `logits` is set computes the last position's logits and argmax. */
zb_status zbe_forward(zb_session *s, const int32_t *tokens, int T, int pos0, int logits, zb_error *err);
/* One decode step (T = 1) from s->buf.tokens at the device position
 * s->buf.pos, which it advances by one: all work on s->stream, no host
 * synchronisation, no host-memory traffic, no argument that changes from
 * step to step (what makes it capturable once and replayable). */
zb_status zbe_decode_step(zb_session *s, zb_error *err);
/* zbe_forward over the chunk in s->buf.tok: the plain prefill issue. */
zb_status zbe_prefill_chunk(zb_session *s, int T, int pos0, int logits, zb_error *err);

#endif /* ZBE_ENGINE_H */
