/*
 * The CUDA kernels of zbench, as seen from C: every function here is
 * implemented in a kernels/ .cu file behind extern "C", enqueues work on `stream`
 * and returns the launch's cudaError_t (cudaGetLastError after the launch),
 * never synchronising unless it says so. The engine (plugins/cuda_common,
 * plain C) strings them together.
 *
 * Conventions
 *  - zbk_half holds the bits of the engine's 16-bit float, ZBK_HALF_DTYPE:
 *    IEEE fp16 (binary-compatible with __half) unless built with
 *    -DZB_HALF_BF16 (then bfloat16, binary-compatible with __nv_bfloat16).
 *    fp16 is the default because the Zamba fixtures need its 10-bit
 *    mantissa: stored in bf16, the activations of the Mamba path and the
 *    shared block lose more than verify's 3e-2 allows (docs/PERF.md, "Which
 *    tensors must stay above bf16"); both run at the same tensor-core rate
 *    and take the same bytes. Checkpoint weights are converted at upload.
 *  - Matrices are row-major. Weight matrices are [out][in] (PyTorch layout).
 *  - Activations are [rows][width] with rows = batch * tokens, sequence-major
 *    (row b*T + t is token t of sequence b).
 *  - The residual stream is fp32; inputs of projections are 16-bit; every
 *    reduction accumulates in fp32. Small per-channel parameters (norm
 *    weights, biases, conv taps, A_log, D, dt bias) are fp32 on the device.
 *  - Each kernel has a stand-alone check against reference/ (tests/gpu/) at
 *    several shapes, and a timing with L2 flushed (make bench-kernels).
 */
#ifndef ZB_KERNELS_H
#define ZB_KERNELS_H

#include <cuda_runtime_api.h>
#include <stdint.h>

#include "zbench_plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef uint16_t zbk_half;

#ifdef ZB_HALF_BF16
#define ZBK_HALF_DTYPE ZB_DTYPE_BF16
#else
#define ZBK_HALF_DTYPE ZB_DTYPE_F16
#endif

/* ------------------------------------------------------------ weight prep */

/* Row order applied while writing a weight matrix to the device. */
typedef enum zbk_row_order {
    ZBK_ROWS_AS_IS = 0,
    /* Mamba in_proj: source rows interleave (x_0, z_0, x_1, z_1, ...);
     * destination takes all x rows first, then all z rows. */
    ZBK_ROWS_DEINTERLEAVE = 1
} zbk_row_order;

/* dst[r][c] (dst_dtype: ZBK_HALF_DTYPE or f32) = src[r'][c] converted, where src is a
 * device buffer of src_dtype (f32, f16 or bf16) and r' follows `order`.
 * `overflow` (a device counter, or NULL) is incremented once per finite
 * source value that is not finite in dst_dtype: past f16's 65504, say. */
cudaError_t zbk_convert(void *dst, zb_dtype dst_dtype, const void *src, zb_dtype src_dtype, int64_t rows,
                        int64_t cols, zbk_row_order order, unsigned long long *overflow, cudaStream_t stream);

/* Synthetic weights, bit-identical to the CPU's: element (r', c) of the
 * source tensor is zb_synth_value(synth, r' * cols + c) rounded to
 * src_dtype; it is written to dst[r][c] in dst_dtype, rows as `order`. */
cudaError_t zbk_synth(void *dst, zb_dtype dst_dtype, zb_synth synth, zb_dtype src_dtype, int64_t rows, int64_t cols,
                      zbk_row_order order, cudaStream_t stream);

/* ------------------------------------------------------------ elementwise */

/* resid[r][:] = table[tokens[r]][:] as fp32; emb (may be NULL) gets the
 * same rows in 16-bit (Zamba's original embeddings). */
cudaError_t zbk_embed(const int32_t *tokens, int rows, const zbk_half *table, int hidden, float *resid, zbk_half *emb,
                      cudaStream_t stream);

/* out[r] = rmsnorm(x[r] + add[r]) * w, add may be NULL; x, add fp32. */
cudaError_t zbk_rmsnorm(const float *x, const float *add, const float *w, int rows, int dim, float eps, zbk_half *out,
                        cudaStream_t stream);

/* out[r] = rmsnorm(concat(h[r], emb[r])) * w over 2*hidden (Zamba's shared
 * block input); h fp32, emb 16-bit, w [2*hidden]. */
cudaError_t zbk_concat_rmsnorm(const float *h, const zbk_half *emb, const float *w, int rows, int hidden, float eps,
                               zbk_half *out, cudaStream_t stream);

/* out[r][i] = act(gu[r][i]) * gu[r][inter + i]: gate and up projections
 * computed by one GEMM into [rows][2*inter]. */
cudaError_t zbk_gated_act(const zbk_half *gu, int rows, int inter, zb_act act, zbk_half *out, cudaStream_t stream);

/* dst[r * ld_dst + g * stride_dst + c] = 16-bit(src[r * ld_src + g *
 * stride_src + c]) for rows r, groups g and c < cols (Zamba's dt_raw
 * columns of the f32 x_proj output, for the dt_proj GEMM). */
cudaError_t zbk_f32_cols_to_half(const float *src, int64_t ld_src, int64_t stride_src, zbk_half *dst,
                                 int64_t ld_dst, int64_t stride_dst, int rows, int groups, int cols,
                                 cudaStream_t stream);

/* out[b] = argmax over vocab of logits[b] (lowest index on ties). */
cudaError_t zbk_argmax(const float *logits, int batch, int vocab, int32_t *out, cudaStream_t stream);

/* -------------------------------------------------------------- matmuls */

typedef struct zb_blas zb_blas; /* cuBLASLt handle, workspace, plan cache */

/* Creates the context; `err` gets a one-line message on failure. */
zb_status zb_blas_create(zb_blas **out, size_t workspace_bytes, zb_error *err);
void zb_blas_destroy(zb_blas *b);
size_t zb_blas_workspace_bytes(const zb_blas *b);

/* Y[r][o] (= or +=) sum_i X[r][i] * W[o][i] (+ bias[o]), for `batch`
 * independent problems at the given element strides (0 when batch == 1).
 * X and W are 16-bit; Y is 16-bit or f32 (y_dtype); accumulate (beta = 1)
 * requires f32 Y. ld* are row strides in elements. Picks a GEMV kernel of
 * its own for rows <= 8 and cuBLASLt otherwise. */
typedef struct zb_linear_args {
    const zbk_half *x;
    int64_t ldx, stride_x;
    const zbk_half *w;
    int64_t ldw, stride_w;
    void *y;
    int64_t ldy, stride_y;
    zb_dtype y_dtype;
    const float *bias; /* [out] or NULL; ignored when accumulate */
    int rows, in, out, batch;
    int accumulate;
} zb_linear_args;

zb_status zb_linear(zb_blas *b, const zb_linear_args *a, cudaStream_t stream, zb_error *err);

/* ------------------------------------------------------------ attention */

/* Applies RoPE (when inv_freq != NULL) to q and k of a fused QKV
 * projection qkv [batch][T][(nh + 2 nkv) * hd] at positions pos0..pos0+T-1,
 * writes q to q_out [batch][T][nh][hd] and k, v into the caches
 * kc, vc [batch][slots][nkv][hd] at slot (pos % slots). When pos_dev is
 * not NULL, pos0 is read from it on the device when the kernel runs (the
 * argument is then ignored): a captured CUDA graph replays at any position. */
cudaError_t zbk_rope_store_kv(const zbk_half *qkv, int batch, int T, int pos0, const int32_t *pos_dev, int nh,
                              int nkv, int hd, const float *inv_freq, zbk_half *q_out, zbk_half *kc, zbk_half *vc,
                              int slots, cudaStream_t stream);

/* Causal attention of T queries at positions pos0.. over the cache (which
 * already holds them), never materialising the score matrix; query p sees
 * keys max(0, p - window + 1)..p (window 0: all). GQA: head h reads KV head
 * h / (nh / nkv). out [batch][T][nh * hd] 16-bit. T == 1 selects the split-KV
 * decode kernel (flash-decoding), which uses `partial` scratch of
 * zbk_attention_scratch_bytes(). */
typedef struct zbk_attention_args {
    const zbk_half *q;
    const zbk_half *kc, *vc;
    zbk_half *out;
    int batch, T, pos0, nh, nkv, hd, slots, window;
    float scale;
    void *partial;
    size_t partial_bytes;
    /* Decode (T == 1) with the position in device memory: when pos_dev is
     * set, the query position is *pos_dev when the kernels run, anywhere in
     * 0..max_pos (pos0 is ignored). The split over the keys is then planned
     * once for the longest context max_pos can have, and chunks past the
     * step's keys return at once, so one launch configuration (and one
     * captured graph) serves every step. Results depend on max_pos through
     * that plan, not on how the position got there. */
    const int32_t *pos_dev;
    int max_pos;
} zbk_attention_args;

size_t zbk_attention_scratch_bytes(int batch, int nh, int hd, int max_kv);
/* The first this many bytes of `partial` count the chunks of a decode call
 * that have finished (the last one merges them): they must be zero before
 * the first call, and every call leaves them zero. */
size_t zbk_attention_scratch_zero_bytes(int batch, int nh);
cudaError_t zbk_attention(const zbk_attention_args *a, cudaStream_t stream);

/* The session's position counter in device memory (one int32 shared by
 * every sequence): set to `value`, or advanced by n, by a one-thread
 * kernel, so that the update is ordered with the step's other launches and
 * can be part of a captured graph. */
cudaError_t zbk_position_set(int32_t *pos, int value, cudaStream_t stream);
cudaError_t zbk_position_add(int32_t *pos, int n, cudaStream_t stream);

/* Copies positions pos_from .. pos_from+n-1 of every sequence from one KV
 * ring to another: dst[b][p % dst_slots] = src[b][p % src_slots], rows of
 * kv_dim 16-bit (n at most either ring's slots). Sliding-window prefill uses
 * it to attend through a staging ring of window + T - 1 slots while the
 * session's cache keeps exactly `window`. */
cudaError_t zbk_kv_ring_copy(const zbk_half *src, int src_slots, zbk_half *dst, int dst_slots, int batch, int kv_dim,
                             long long pos_from, int n, cudaStream_t stream);

/* ---------------------------------------------------------------- mamba */

/* Causal depthwise conv + act over T tokens per sequence. x is the first
 * d_inner columns of xz [batch][T][2 d_inner]; conv_state [batch][d_inner]
 * [d_conv] holds the last d_conv inputs (oldest first) before the call and
 * after it. u [batch][T][d_inner] 16-bit. */
cudaError_t zbk_conv1d_prefill(const zbk_half *xz, int batch, int T, int d_inner, int d_conv, const float *conv_w,
                               const float *conv_b, zb_act act, zbk_half *conv_state, zbk_half *u,
                               cudaStream_t stream);

/* The selective scan over T tokens, parallel over sequence chunks, state in
 * fp32. For channel c of head h = c / (d_inner / nh):
 *   delta = softplus(dt[c] + dt_bias[c]); A = -exp(A_log[c][n])
 *   s[n] = exp(A delta) s[n] + delta B[n] u[c];  y = sum_n s[n] C[n]
 *   y = (y + D[c] u[c]) * act(z[c])
 * dt [batch][T][d_inner] f32 (dt_proj output without bias); params
 * [batch][T][nh][dt_rank + 2 d_state] f32 holds (dt_raw, B, C) per head;
 * z is the second half of xz; ssm_state [batch][d_inner][d_state] f32 is
 * read and left holding the final state; y [batch][T][d_inner] 16-bit.
 *
 * dt may instead be NULL where zbk_selective_scan_fuses_dt() says so: the
 * scan then makes it itself, on the tensor cores, from dtr (dt_raw in
 * 16 bits: head h of row r at dtr + r * dtr_ld + h * dtr_sh, both multiples
 * of 8 elements, 16-byte aligned; columns past dt_rank are never read) and
 * dt_proj [d_inner][dt_rank] 16-bit, 16-bit inputs with fp32 sums as the
 * dt_proj GEMM would, and no f32 dt array is written or read. */
typedef struct zbk_scan_args {
    const zbk_half *u, *xz;
    const float *dt, *params, *dt_bias, *A_log, *D;
    const zbk_half *dtr, *dt_proj;
    int64_t dtr_ld, dtr_sh;
    float *ssm_state;
    zbk_half *y;
    int batch, T, d_inner, d_state, nh, dt_rank;
    zb_act act;
} zbk_scan_args;

cudaError_t zbk_selective_scan(const zbk_scan_args *a, cudaStream_t stream);

/* Whether zbk_selective_scan can make dt itself for this shape (d_state 8,
 * 16 or 32, head_dim a multiple of 8, 1 <= dt_rank <= 256). */
int zbk_selective_scan_fuses_dt(int d_inner, int nh, int d_state, int dt_rank);

/* One decode step of the mixer after in_proj, for every sequence: conv
 * step on the rolling state, act, x_proj, dt_proj + softplus, state update,
 * D skip and gate. xz [batch][2 d_inner] 16-bit (x then z); weights as the
 * engine stores them: x_proj [nh][P][Dh] 16-bit, dt_proj [nh][Dh][dt_rank]
 * 16-bit. y [batch][d_inner] 16-bit. `scratch` of zbk_mamba_step_scratch_bytes(). */
typedef struct zbk_mamba_step_args {
    const zbk_half *xz;
    const float *conv_w, *conv_b;
    zbk_half *conv_state;
    const zbk_half *x_proj, *dt_proj;
    const float *dt_bias, *A_log, *D;
    float *ssm_state;
    zbk_half *y;
    int batch, d_inner, d_conv, d_state, nh, dt_rank;
    zb_act act;
    void *scratch;
} zbk_mamba_step_args;

size_t zbk_mamba_step_scratch_bytes(int batch, int d_inner, int nh, int dt_rank, int d_state);
cudaError_t zbk_mamba_step(const zbk_mamba_step_args *a, cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif /* ZB_KERNELS_H */
