/*
 * The memory plan: how many bytes a session needs for its caches, states
 * and activations, where each sub-buffer sits, and whether it all fits.
 * Nothing here allocates, so create can refuse with ZB_ERR_OOM (naming the
 * bytes) before touching the device, and resize can check a new shape.
 *
 * Formulas (16-bit = 2 bytes, f32 = 4; R = batch * chunk rows):
 *   kv     = 2 (K and V) * n_attn * batch * slots * n_kv * head_dim * 2
 *   conv   = n_mamba * batch * d_inner * d_conv * 2
 *   ssm    = n_mamba * batch * d_inner * d_state * 4
 *   arena  = persistent + max(attention set, MLP set, Mamba set), with
 *     persistent = R*4 (ids) + R*H*4 (h) + R*H*2 (emb, zamba) + R*A*2 (xn,
 *                  A = max(attn_in, H)) + R*H*4 (t, zamba) + B*H*(4+2)
 *                  + B*V*4 + B*4 + [R*4 ones] + [hd/2*4 RoPE] + scratch
 *     attention  = R*(q + 2kv)*2 + 2 * R*q*2 [+ 2 * B*(W + chunk - 1)*kv*2
 *                  staging ring, sliding-window models with W < capacity]
 *     MLP        = R*2I*2 + R*I*2 + R*H*2 (zamba)
 *     Mamba      = R*2Di*2 + R*Di*2 + R*nh*P*4 + R*nh*Rp*2 + R*Di*4 + R*Di*2
 *                  (P = dt_rank + 2 d_state, Rp = dt_rank rounded up to 8)
 *   each sub-buffer rounded up to 256 bytes.
 */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "engine.h"

size_t zbe_add_sat(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }

size_t zbe_mul_sat(size_t a, size_t b)
{
    if (a == 0 || b == 0) return 0;
    return a > SIZE_MAX / b ? SIZE_MAX : a * b;
}

/* n elements of `size` bytes, each factor saturating */
static size_t bytes3(size_t a, size_t b, size_t c, size_t size) { return zbe_mul_sat(zbe_mul_sat(a, b), zbe_mul_sat(c, size)); }

typedef struct carver {
    size_t used;
} carver;

/* Reserves `bytes` at the next aligned offset; returns the offset. */
static size_t carve(carver *c, size_t bytes)
{
    size_t off = zbe_mul_sat((zbe_add_sat(c->used, ZBE_ALIGN - 1)) / ZBE_ALIGN, ZBE_ALIGN);
    c->used = zbe_add_sat(off, bytes);
    return off;
}

/* Prefill chunk (tokens per sequence per pass), KV slots and the staging
 * ring of sliding-window models.
 *
 * The cache keeps slots = min(capacity, W) entries: a window model's memory
 * stops growing at W, exactly as the analytic prediction says. A decode
 * step stores its key and then attends over the last W keys, which a ring
 * of W holds. A prefill chunk of C > 1 tokens is different: its keys are
 * stored before its queries attend, and its first query still needs keys
 * that the chunk's later keys would overwrite in a ring of W. So chunks
 * attend through a staging ring of W + C - 1 slots in the workspace: the
 * last W - 1 cached keys are copied in, the chunk's keys stored there, and
 * afterwards the chunk's tail copied back into the W-slot cache. */
static void choose_chunk(const zb_model_desc *d, int batch, int capacity, int *chunk, int *slots, int *stage_slots)
{
    int c = ZBE_PREFILL_ROWS / batch;
    if (c > ZBE_PREFILL_MAX_CHUNK) c = ZBE_PREFILL_MAX_CHUNK;
    if (c < 1) c = 1;
    if (c > capacity) c = capacity;
    const int W = d->sliding_window;
    const int ring = W > 0 && W < capacity;
    *chunk = c;
    *slots = ring ? W : capacity;
    *stage_slots = ring && c > 1 ? W + c - 1 : 0;
}

zb_status zbe_plan_runtime(const zb_model_desc *d, const zbe_weights *w, int batch, int capacity, zbe_plan *p,
                           zb_error *err)
{
    memset(p, 0, sizeof *p);
    if (batch < 1 || batch > ZBE_MAX_BATCH)
        return zbe_fail(err, ZB_ERR_INVALID, "batch %d is outside 1..%d", batch, ZBE_MAX_BATCH);
    if (capacity < 1) return zbe_fail(err, ZB_ERR_INVALID, "capacity %d must be at least 1", capacity);
    const int zamba = d->layout == ZB_LAYOUT_ZAMBA;
    const size_t B = (size_t)batch, H = (size_t)d->hidden_size, V = (size_t)d->vocab_size;
    const size_t I = (size_t)d->intermediate_size, hd = (size_t)d->head_dim;
    p->batch = batch;
    p->capacity = capacity;
    choose_chunk(d, batch, capacity, &p->chunk, &p->slots, &p->stage_slots);
    p->rows = batch * p->chunk;
    p->q_dim = d->n_heads * d->head_dim;
    p->kv_dim = d->n_kv_heads * d->head_dim;
    p->qkv_dim = p->q_dim + 2 * p->kv_dim;
    const size_t R = (size_t)p->rows, Q = (size_t)p->q_dim, KV = (size_t)p->kv_dim;

    /* caches and states: one allocation */
    carver st = {0};
    const size_t kv_one = bytes3((size_t)w->n_attn * B, (size_t)p->slots, KV, 2);
    p->off_k = carve(&st, kv_one);
    p->off_v = carve(&st, kv_one);
    p->kv_bytes = zbe_mul_sat(kv_one, 2);
    if (zamba) {
        const size_t Di = (size_t)d->d_inner;
        p->conv_bytes = bytes3((size_t)w->n_mamba * B, Di, (size_t)d->d_conv, 2);
        p->ssm_bytes = bytes3((size_t)w->n_mamba * B, Di, (size_t)d->d_state, 4);
        p->off_conv = carve(&st, p->conv_bytes);
        p->off_ssm = carve(&st, p->ssm_bytes);
    }
    p->state_total = st.used;

    /* the activation arena */
    carver ar = {0};
    const size_t A = (size_t)(d->attn_in > d->hidden_size ? d->attn_in : d->hidden_size);
    p->off_tok = carve(&ar, R * 4);
    p->off_h = carve(&ar, R * H * 4);
    if (zamba) p->off_emb = carve(&ar, R * H * 2);
    p->off_xn = carve(&ar, R * A * 2);
    if (zamba) p->off_t = carve(&ar, R * H * 4);
    p->off_last = carve(&ar, B * H * 4);
    p->off_lastn = carve(&ar, B * H * 2);
    p->off_logits = carve(&ar, B * V * 4);
    p->off_tokens = carve(&ar, B * 4);
    p->off_pos = carve(&ar, 4);
    if (w->resid_bias) p->off_ones = carve(&ar, R * 4);
    if (d->rope) p->off_inv_freq = carve(&ar, hd / 2 * 4);
    p->attn_scratch_bytes = zbk_attention_scratch_bytes(batch, d->n_heads, d->head_dim, p->slots);
    p->off_attn_scratch = carve(&ar, p->attn_scratch_bytes);
    if (zamba) {
        p->step_scratch_bytes =
            zbk_mamba_step_scratch_bytes(batch, d->d_inner, d->n_mamba_heads, d->dt_rank, d->d_state);
        p->off_step_scratch = carve(&ar, p->step_scratch_bytes);
    }

    /* overlay sets, all starting at the same aligned offset */
    const size_t base = carve(&ar, 0);
    carver att = {base};
    p->off_qkv = carve(&att, R * (size_t)p->qkv_dim * 2);
    p->off_q = carve(&att, R * Q * 2);
    p->off_att = carve(&att, R * Q * 2);
    if (p->stage_slots) {
        const size_t stage = bytes3(B, (size_t)p->stage_slots, KV, 2);
        p->off_stage_k = carve(&att, stage);
        p->off_stage_v = carve(&att, stage);
    }
    carver mlp = {base};
    p->off_gu = carve(&mlp, R * 2 * I * 2);
    p->off_act = carve(&mlp, R * I * 2);
    if (zamba) p->off_blk = carve(&mlp, R * H * 2);
    size_t end = att.used > mlp.used ? att.used : mlp.used;
    if (zamba) {
        const size_t Di = (size_t)d->d_inner, nh = (size_t)d->n_mamba_heads;
        p->P = d->dt_rank + 2 * d->d_state;
        p->dt_pad = (d->dt_rank + 7) / 8 * 8; /* keeps each head's dt slice 16-byte aligned */
        carver mb = {base};
        p->off_xz = carve(&mb, R * 2 * Di * 2);
        p->off_u = carve(&mb, R * Di * 2);
        p->off_params = carve(&mb, R * nh * (size_t)p->P * 4);
        p->off_dtr = carve(&mb, R * nh * (size_t)p->dt_pad * 2);
        p->off_dt = carve(&mb, R * Di * 4);
        p->off_y = carve(&mb, R * Di * 2);
        if (mb.used > end) end = mb.used;
    }
    p->arena_bytes = end;
    return ZB_OK;
}

size_t zbe_plan_runtime_bytes(const zbe_plan *p) { return zbe_add_sat(p->state_total, p->arena_bytes); }

size_t zbe_plan_library_bytes(int resid_bias)
{
    /* a legacy cuBLAS handle keeps a few MiB of its own */
    return ZBE_BLAS_WORKSPACE + (resid_bias ? (size_t)8 << 20 : 0);
}

zb_status zbe_plan_check_fit(const char *what, size_t need, size_t free_bytes, int device, zb_error *err)
{
    size_t total = zbe_add_sat(need, ZBE_DEVICE_RESERVE);
    if (total <= free_bytes) return ZB_OK;
    if (total == SIZE_MAX)
        return zbe_fail(err, ZB_ERR_OOM,
                        "%s needs more than 2^64 bytes of device memory (capacity too large); device %d has %zu "
                        "bytes free",
                        what, device, free_bytes);
    return zbe_fail(err, ZB_ERR_OOM,
                    "%s needs %zu bytes of device memory (%zu + %zu reserved for CUDA libraries) but device %d has "
                    "only %zu bytes free",
                    what, total, need, (size_t)ZBE_DEVICE_RESERVE, device, free_bytes);
}
