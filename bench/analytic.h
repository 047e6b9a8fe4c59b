/*
 * The analytic model of a layout: what must be stored (KV cache, Mamba
 * state, weights) and what must be moved or computed per step, from which
 * every run's predictions and roofline floors come.
 *
 * Dtypes follow the session dtype d: weights, KV and conv state in d, the
 * SSM state always fp32.
 */
#ifndef ZB_ANALYTIC_H
#define ZB_ANALYTIC_H

#include <stdint.h>

#include "zbench_plugin.h"

/* Attention applications per token (zamba: hybrid layers, each applying
 * the one shared block with its own KV cache; transformer: layers). */
int zb_attention_applications(const zb_model_desc *d);
int zb_mamba_layers(const zb_model_desc *d);

/* KV entries kept per sequence and application: capacity, or the window. */
int64_t zb_kv_slots(const zb_model_desc *d, int64_t capacity);
/* Bytes of K and V one token adds: sum over applications of
 * 2 * kv_heads * head_dim * sizeof(dtype). */
int64_t zb_kv_bytes_per_token(const zb_model_desc *d, zb_dtype dtype);
int64_t zb_predict_kv_bytes(const zb_model_desc *d, zb_dtype dtype, int batch, int64_t capacity);
/* conv (d_inner * d_conv in dtype) + ssm (d_inner * d_state in fp32) per
 * Mamba layer and sequence. */
int64_t zb_predict_state_bytes(const zb_model_desc *d, zb_dtype dtype, int batch);

/* Parameter counts: stored once, and as applied per token (zamba's shared
 * block counts once per hybrid layer). lm_head (tied or not) is separate. */
typedef struct zb_param_counts {
    int64_t stored;      /* every stored parameter */
    int64_t per_token;   /* matrices and vectors applied to every token, excluding embedding and lm_head */
    int64_t lm_head;     /* vocab * hidden */
} zb_param_counts;
void zb_count_params(const zb_model_desc *d, zb_param_counts *out);

/* Bytes one decode step must move with `context` tokens already cached:
 * every weight once per application, lm_head once, KV read for the visible
 * positions and written for the new one, state read and written. */
double zb_decode_step_bytes(const zb_model_desc *d, zb_dtype dtype, int batch, int64_t context);

/* FLOPs of prefilling `seq` tokens per sequence after `depth` cached ones:
 * projections per application, attention QK and PV over the visible keys
 * (the causal half, capped by the window), conv and scan, and lm_head on
 * the last position. */
double zb_prefill_flops(const zb_model_desc *d, int batch, int64_t seq, int64_t depth);

#endif
