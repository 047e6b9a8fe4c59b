#include "analytic.h"

#include <stdlib.h>

#include "model.h"

int zb_attention_applications(const zb_model_desc *d)
{
    int n = 0;
    for (int i = 0; i < d->n_layers; i++) n += d->layer_kind[i] != ZB_LAYER_MAMBA;
    return n;
}

int zb_mamba_layers(const zb_model_desc *d)
{
    int n = 0;
    for (int i = 0; i < d->n_layers; i++) n += d->layer_kind[i] != ZB_LAYER_ATTENTION;
    return n;
}

int64_t zb_kv_slots(const zb_model_desc *d, int64_t capacity)
{
    return d->sliding_window > 0 && d->sliding_window < capacity ? d->sliding_window : capacity;
}

int64_t zb_kv_bytes_per_token(const zb_model_desc *d, zb_dtype dtype)
{
    return (int64_t)zb_attention_applications(d) * 2 * d->n_kv_heads * d->head_dim * (int64_t)zb_dtype_size(dtype);
}

int64_t zb_predict_kv_bytes(const zb_model_desc *d, zb_dtype dtype, int batch, int64_t capacity)
{
    return zb_kv_bytes_per_token(d, dtype) * batch * zb_kv_slots(d, capacity);
}

int64_t zb_predict_state_bytes(const zb_model_desc *d, zb_dtype dtype, int batch)
{
    int64_t per_layer = (int64_t)d->d_inner * d->d_conv * (int64_t)zb_dtype_size(dtype) +
                        (int64_t)d->d_inner * d->d_state * 4;
    return per_layer * zb_mamba_layers(d) * batch;
}

void zb_count_params(const zb_model_desc *d, zb_param_counts *out)
{
    out->stored = out->per_token = 0;
    out->lm_head = (int64_t)d->vocab_size * d->hidden_size;
    int n = zb_weight_specs(d, NULL, 0), hybrid = zb_attention_applications(d);
    zb_weight_spec *specs = malloc(sizeof *specs * (size_t)n);
    if (!specs) return;
    zb_weight_specs(d, specs, n);
    for (int i = 0; i < n; i++) {
        int64_t numel = 1;
        for (int k = 0; k < specs[i].ndim; k++) numel *= specs[i].shape[k];
        out->stored += numel;
        if (specs[i].role == ZB_W_EMBED || specs[i].role == ZB_W_LM_HEAD) continue;
        /* zamba's shared block (layer NONE, not the final norm) serves every hybrid layer */
        int shared = d->layout == ZB_LAYOUT_ZAMBA && specs[i].layer == ZB_LAYER_NONE &&
                     specs[i].role != ZB_W_FINAL_NORM;
        out->per_token += shared ? numel * hybrid : numel;
    }
    free(specs);
}

/* Keys visible to the query at position p. */
static int64_t visible(const zb_model_desc *d, int64_t p)
{
    return d->sliding_window > 0 && p + 1 > d->sliding_window ? d->sliding_window : p + 1;
}

double zb_decode_step_bytes(const zb_model_desc *d, zb_dtype dtype, int batch, int64_t context)
{
    zb_param_counts pc;
    zb_count_params(d, &pc);
    const double w = (double)zb_dtype_size(dtype);
    double bytes = (double)(pc.per_token + pc.lm_head) * w;       /* weights, once per application */
    bytes += (double)batch * d->hidden_size * w;                  /* the embedding rows gathered */
    const double kv_tok = (double)zb_kv_bytes_per_token(d, dtype);
    bytes += (double)batch * kv_tok * (double)(visible(d, context) + 1); /* read visible, write new */
    bytes += 2.0 * (double)zb_predict_state_bytes(d, dtype, batch);     /* state read and written */
    return bytes;
}

double zb_prefill_flops(const zb_model_desc *d, int batch, int64_t seq, int64_t depth)
{
    zb_param_counts pc;
    zb_count_params(d, &pc);
    double keys = 0.0; /* visible keys summed over the prefilled positions */
    for (int64_t p = depth; p < depth + seq; p++) keys += (double)visible(d, p);
    const double per_seq_tokens = (double)seq;
    double flops = 2.0 * (double)pc.per_token * per_seq_tokens;
    /* QK^T and PV: 2 FLOPs per multiply-add, each over head_dim per head */
    flops += zb_attention_applications(d) * 2.0 * 2.0 * d->n_heads * d->head_dim * keys;
    /* conv taps, and the scan's ~9 operations per channel and state */
    flops += zb_mamba_layers(d) * per_seq_tokens * ((double)d->d_inner * (2.0 * d->d_conv + 9.0 * d->d_state));
    flops += 2.0 * (double)pc.lm_head; /* logits of the last position only */
    return flops * batch;
}
