/*
 * Weights on the device: layout, validation, upload and generation.
 *
 * One walk over the model describes every device tensor. It runs twice:
 * first to size (and validate) without touching the device, so the memory
 * plan can refuse before allocating; then to upload into one allocation.
 *
 * Layout choices (see engine.h): matrices zbk_half [out][in]; Mamba in_proj
 * de-interleaved so x and z are contiguous halves; q, k, v in one matrix and
 * gate, up in another so each is one GEMM; per-channel vectors fp32; Zamba's
 * shared block once; a tied lm_head is the embedding itself.
 *
 * Sources: checkpoint tensors (host f32/f16/bf16) go through a pinned
 * double buffer to a device staging area and zbk_convert (straight to the
 * destination when no conversion is needed); synthetic tensors (data ==
 * NULL) are generated on the device by zbk_synth, never on the host: a 7B
 * model's 7e9 values would take minutes and tens of GB there.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "engine.h"

/* Device staging for one conversion: tensors larger than this convert in
 * row chunks (de-interleaved ones need the whole tensor, see below). */
#define STAGING_CHUNK ((size_t)64 << 20)
/* Each of the two pinned host buffers. */
#define PINNED_BYTES ((size_t)16 << 20)

typedef struct loader {
    const zb_model_desc *d;
    const zb_weights *src;
    char *base;           /* destination allocation; NULL while sizing */
    size_t used;          /* bytes laid out so far */
    size_t staging_need;  /* device staging the upload will need */
    int any_host;         /* some tensor comes from host memory: pinned buffers needed */
    cudaStream_t stream;
    void *staging;
    size_t staging_bytes;
    void *pinned[2];
    cudaEvent_t done[2];  /* the copy out of pinned[i] has finished */
    int turn;
    int resid_bias;
    unsigned long long *overflow; /* device: checkpoint values past ZBK_HALF_DTYPE's range */
    zb_error *err;
    zb_status st;         /* first failure; later steps are skipped */
} loader;

static size_t align_up(size_t n) { return (n + ZBE_ALIGN - 1) / ZBE_ALIGN * ZBE_ALIGN; }

static void *reserve(loader *L, size_t bytes)
{
    size_t off = align_up(L->used);
    L->used = off + bytes;
    return L->base ? L->base + off : NULL;
}

/* Looks a tensor up and checks its size and dtype; NULL when absent (an
 * error only when required) or invalid. Optional tensors that are present
 * are used, as the reference does. */
static const zb_tensor *find(loader *L, int32_t layer, zb_role role, int64_t numel, int required)
{
    if (L->st != ZB_OK) return NULL;
    const zb_tensor *t = zb_weights_find(L->src, layer, role);
    if (!t) {
        if (required) L->st = zbe_fail(L->err, ZB_ERR_INVALID, "missing weight (layer %d, role %d)", layer, (int)role);
        return NULL;
    }
    if (zb_tensor_numel(t) != numel) {
        L->st = zbe_fail(L->err, ZB_ERR_INVALID, "weight (layer %d, role %d) has %lld elements, expected %lld", layer,
                         (int)role, (long long)zb_tensor_numel(t), (long long)numel);
        return NULL;
    }
    if (t->dtype != ZB_DTYPE_F32 && t->dtype != ZB_DTYPE_F16 && t->dtype != ZB_DTYPE_BF16) {
        L->st = zbe_fail(L->err, ZB_ERR_INVALID, "weight (layer %d, role %d) has dtype %s; f32, f16 or bf16 expected",
                         layer, (int)role, zb_dtype_name(t->dtype));
        return NULL;
    }
    return t;
}

/* Host -> device through the pinned double buffer: the memcpy into one
 * buffer overlaps the DMA out of the other. */
static zb_status h2d(loader *L, void *dev, const void *host, size_t bytes)
{
    zb_error *err = L->err;
    for (size_t off = 0; off < bytes;) {
        size_t n = bytes - off < PINNED_BYTES ? bytes - off : PINNED_BYTES;
        int k = L->turn;
        L->turn ^= 1;
        ZBE_CUDA(cudaEventSynchronize(L->done[k]));
        memcpy(L->pinned[k], (const char *)host + off, n);
        ZBE_CUDA(cudaMemcpyAsync((char *)dev + off, L->pinned[k], n, cudaMemcpyHostToDevice, L->stream));
        ZBE_CUDA(cudaEventRecord(L->done[k], L->stream));
        off += n;
    }
    return ZB_OK;
}

/* Writes tensor t, viewed as [rows][cols], to dst in dst_dtype. */
static zb_status upload(loader *L, void *dst, zb_dtype dst_dtype, const zb_tensor *t, int64_t rows, int64_t cols,
                        zbk_row_order order)
{
    zb_error *err = L->err;
    if (!t->data) {
        ZBE_CUDA(zbk_synth(dst, dst_dtype, t->synth, t->dtype, rows, cols, order, L->stream));
        return ZB_OK;
    }
    const size_t row_bytes = (size_t)cols * zb_dtype_size(t->dtype), total = (size_t)rows * row_bytes;
    const char *src = (const char *)t->data;
    if (t->dtype == dst_dtype && order == ZBK_ROWS_AS_IS) return h2d(L, dst, src, total);
    if (order != ZBK_ROWS_AS_IS) {
        /* a row chunk of an interleaved source maps to two destination
         * ranges, so the whole tensor goes through staging at once */
        ZBE_TRY(h2d(L, L->staging, src, total));
        ZBE_CUDA(zbk_convert(dst, dst_dtype, L->staging, t->dtype, rows, cols, order, L->overflow, L->stream));
        return ZB_OK;
    }
    const int64_t per = (int64_t)(L->staging_bytes / row_bytes);
    const size_t dst_row = (size_t)cols * zb_dtype_size(dst_dtype);
    for (int64_t r0 = 0; r0 < rows; r0 += per) {
        int64_t n = rows - r0 < per ? rows - r0 : per;
        /* same stream: this copy waits for the previous chunk's convert */
        ZBE_TRY(h2d(L, L->staging, src + (size_t)r0 * row_bytes, (size_t)n * row_bytes));
        ZBE_CUDA(zbk_convert((char *)dst + (size_t)r0 * dst_row, dst_dtype, L->staging, t->dtype, n, cols,
                             ZBK_ROWS_AS_IS, L->overflow, L->stream));
    }
    return ZB_OK;
}

/* Sizing pass: what the upload of t will need. Real pass: the upload. */
static void put(loader *L, void *dst, zb_dtype dst_dtype, const zb_tensor *t, int64_t rows, int64_t cols,
                zbk_row_order order)
{
    if (L->st != ZB_OK || !t) return;
    if (!L->base) {
        if (!t->data || (t->dtype == dst_dtype && order == ZBK_ROWS_AS_IS)) return;
        const size_t row_bytes = (size_t)cols * zb_dtype_size(t->dtype), total = (size_t)rows * row_bytes;
        size_t need = order != ZBK_ROWS_AS_IS ? total : (total < STAGING_CHUNK ? total : STAGING_CHUNK);
        if (need < row_bytes) need = row_bytes;
        if (need > L->staging_need) L->staging_need = need;
        return;
    }
    L->st = upload(L, dst, dst_dtype, t, rows, cols, order);
}

static const zbk_half *matrix(loader *L, int32_t layer, zb_role role, int64_t rows, int64_t cols, zbk_row_order order)
{
    const zb_tensor *t = find(L, layer, role, rows * cols, 1);
    if (!t) return NULL;
    void *dst = reserve(L, (size_t)(rows * cols) * 2);
    put(L, dst, ZBK_HALF_DTYPE, t, rows, cols, order);
    return (const zbk_half *)dst;
}

/* A per-channel tensor as fp32, [rows][cols]; NULL when absent. */
static const float *vector(loader *L, int32_t layer, zb_role role, int64_t rows, int64_t cols, int required,
                           zbk_row_order order)
{
    const zb_tensor *t = find(L, layer, role, rows * cols, required);
    if (!t) return NULL;
    void *dst = reserve(L, (size_t)(rows * cols) * 4);
    put(L, dst, ZB_DTYPE_F32, t, rows, cols, order);
    return (const float *)dst;
}

/* Several [rows_i][cols] matrices stacked into one zbk_half matrix. */
static const zbk_half *stacked(loader *L, int32_t layer, const zb_role *roles, const int64_t *rows, int n, int64_t cols)
{
    const zb_tensor *t[3];
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        t[i] = find(L, layer, roles[i], rows[i] * cols, 1);
        total += rows[i];
    }
    if (L->st != ZB_OK) return NULL;
    char *dst = reserve(L, (size_t)(total * cols) * 2);
    int64_t r0 = 0;
    for (int i = 0; i < n; i++) {
        put(L, dst ? dst + (size_t)(r0 * cols) * 2 : NULL, ZBK_HALF_DTYPE, t[i], rows[i], cols, ZBK_ROWS_AS_IS);
        r0 += rows[i];
    }
    return (const zbk_half *)dst;
}

/* The matching stacked bias: present when any part is; absent parts are 0. */
static const float *stacked_bias(loader *L, int32_t layer, const zb_role *roles, const int64_t *rows, int n,
                                 int required)
{
    const zb_tensor *t[3];
    int64_t total = 0;
    int any = 0;
    for (int i = 0; i < n; i++) {
        t[i] = find(L, layer, roles[i], rows[i], required);
        any |= t[i] != NULL;
        total += rows[i];
    }
    if (L->st != ZB_OK || !any) return NULL;
    char *dst = reserve(L, (size_t)total * 4);
    if (dst) {
        zb_error *err = L->err;
        cudaError_t e = cudaMemsetAsync(dst, 0, (size_t)total * 4, L->stream);
        if (e != cudaSuccess) {
            L->st = zbe_cuda_fail(err, e, "cudaMemsetAsync(bias)", __FILE__, __LINE__);
            return NULL;
        }
    }
    int64_t r0 = 0;
    for (int i = 0; i < n; i++) {
        put(L, dst ? dst + (size_t)r0 * 4 : NULL, ZB_DTYPE_F32, t[i], 1, rows[i], ZBK_ROWS_AS_IS);
        r0 += rows[i];
    }
    return (const float *)dst;
}

static void walk_attn(loader *L, int32_t layer, zbe_attn_w *a)
{
    const zb_model_desc *d = L->d;
    const int64_t in = d->attn_in, H = d->hidden_size, I = d->intermediate_size;
    const int64_t q = (int64_t)d->n_heads * d->head_dim, kv = (int64_t)d->n_kv_heads * d->head_dim;
    const zb_role qkv[3] = {ZB_W_Q, ZB_W_K, ZB_W_V}, qkv_b[3] = {ZB_W_Q_BIAS, ZB_W_K_BIAS, ZB_W_V_BIAS};
    const zb_role gu[2] = {ZB_W_GATE, ZB_W_UP}, gu_b[2] = {ZB_W_GATE_BIAS, ZB_W_UP_BIAS};
    const int64_t qkv_rows[3] = {q, kv, kv}, gu_rows[2] = {I, I};

    a->attn_norm = vector(L, layer, ZB_W_ATTN_NORM, 1, in, 1, ZBK_ROWS_AS_IS);
    a->qkv = stacked(L, layer, qkv, qkv_rows, 3, in);
    a->qkv_b = stacked_bias(L, layer, qkv_b, qkv_rows, 3, d->attn_bias);
    a->o = matrix(L, layer, ZB_W_O, H, q, ZBK_ROWS_AS_IS);
    a->o_b = vector(L, layer, ZB_W_O_BIAS, 1, H, d->attn_bias, ZBK_ROWS_AS_IS);
    a->ffn_norm = vector(L, layer, ZB_W_FFN_NORM, 1, H, 1, ZBK_ROWS_AS_IS);
    a->gate_up = stacked(L, layer, gu, gu_rows, 2, H);
    a->gate_up_b = stacked_bias(L, layer, gu_b, gu_rows, 2, d->mlp_bias);
    a->down = matrix(L, layer, ZB_W_DOWN, H, I, ZBK_ROWS_AS_IS);
    a->down_b = vector(L, layer, ZB_W_DOWN_BIAS, 1, H, d->mlp_bias, ZBK_ROWS_AS_IS);
}

static void walk_mamba(loader *L, int32_t layer, zbe_mamba_w *m)
{
    const zb_model_desc *d = L->d;
    const int64_t H = d->hidden_size, Di = d->d_inner, nh = d->n_mamba_heads, Dh = Di / nh;
    const int64_t P = d->dt_rank + 2 * d->d_state;
    m->norm = vector(L, layer, ZB_W_MAMBA_NORM, 1, H, 1, ZBK_ROWS_AS_IS);
    m->in_proj = matrix(L, layer, ZB_W_IN_PROJ, 2 * Di, H, ZBK_ROWS_DEINTERLEAVE);
    /* the bias follows its rows: one element per row */
    m->in_proj_b = vector(L, layer, ZB_W_IN_PROJ_BIAS, 2 * Di, 1, d->proj_bias, ZBK_ROWS_DEINTERLEAVE);
    m->conv_w = vector(L, layer, ZB_W_CONV_W, Di, d->d_conv, 1, ZBK_ROWS_AS_IS);
    m->conv_b = vector(L, layer, ZB_W_CONV_B, 1, Di, d->conv_bias, ZBK_ROWS_AS_IS);
    m->x_proj = matrix(L, layer, ZB_W_X_PROJ, nh * P, Dh, ZBK_ROWS_AS_IS);
    m->dt_proj = matrix(L, layer, ZB_W_DT_PROJ, Di, d->dt_rank, ZBK_ROWS_AS_IS);
    m->dt_bias = vector(L, layer, ZB_W_DT_BIAS, 1, Di, 1, ZBK_ROWS_AS_IS);
    m->A_log = vector(L, layer, ZB_W_A_LOG, Di, d->d_state, 1, ZBK_ROWS_AS_IS);
    m->D = vector(L, layer, ZB_W_D, 1, Di, 1, ZBK_ROWS_AS_IS);
    m->out_proj = matrix(L, layer, ZB_W_OUT_PROJ, H, Di, ZBK_ROWS_AS_IS);
    m->out_proj_b = vector(L, layer, ZB_W_OUT_PROJ_BIAS, 1, H, d->proj_bias, ZBK_ROWS_AS_IS);
    m->linear = NULL;
}

/* The one walk, for both passes. */
static void walk(loader *L, zbe_weights *w)
{
    const zb_model_desc *d = L->d;
    const int64_t V = d->vocab_size, H = d->hidden_size;
    w->embed = matrix(L, ZB_LAYER_NONE, ZB_W_EMBED, V, H, ZBK_ROWS_AS_IS);
    w->lm_head = d->tie_embeddings ? w->embed : matrix(L, ZB_LAYER_NONE, ZB_W_LM_HEAD, V, H, ZBK_ROWS_AS_IS);
    w->final_norm = vector(L, ZB_LAYER_NONE, ZB_W_FINAL_NORM, 1, H, 1, ZBK_ROWS_AS_IS);
    if (d->layout == ZB_LAYOUT_ZAMBA) walk_attn(L, ZB_LAYER_NONE, &w->shared);
    w->n_attn = w->n_mamba = 0;
    L->resid_bias = 0;
    for (int i = 0; i < d->n_layers && L->st == ZB_OK; i++) {
        zbe_layer *l = &w->layers[i];
        memset(l, 0, sizeof *l);
        l->kind = d->layer_kind[i];
        l->attn_index = l->mamba_index = -1;
        if (l->kind == ZB_LAYER_ATTENTION) {
            l->attn_index = w->n_attn++;
            walk_attn(L, i, &l->attn);
            /* o and down accumulate into the residual: their biases need the
             * rank-1 update (see zbe_linear) */
            if (L->base ? (l->attn.o_b || l->attn.down_b)
                        : (zb_weights_find(L->src, i, ZB_W_O_BIAS) || zb_weights_find(L->src, i, ZB_W_DOWN_BIAS)))
                L->resid_bias = 1;
            continue;
        }
        if (l->kind == ZB_LAYER_HYBRID) l->attn_index = w->n_attn++;
        l->mamba_index = w->n_mamba++;
        walk_mamba(L, i, &l->mamba);
        if (L->base ? l->mamba.out_proj_b != NULL : zb_weights_find(L->src, i, ZB_W_OUT_PROJ_BIAS) != NULL)
            L->resid_bias = 1;
        if (l->kind == ZB_LAYER_HYBRID) l->mamba.linear = matrix(L, i, ZB_W_HYBRID_LINEAR, H, H, ZBK_ROWS_AS_IS);
    }
    w->resid_bias = L->resid_bias;
}

zb_status zbe_weights_size(const zb_model_desc *d, const zb_weights *src, zbe_weights *info, size_t *staging_bytes,
                           zb_error *err)
{
    memset(info, 0, sizeof *info);
    zbe_weights w;
    memset(&w, 0, sizeof w);
    w.layers = calloc((size_t)d->n_layers, sizeof *w.layers);
    if (!w.layers) return zbe_fail(err, ZB_ERR_OOM, "out of host memory for %d layers", d->n_layers);
    loader L;
    memset(&L, 0, sizeof L);
    L.d = d;
    L.src = src;
    L.err = err;
    walk(&L, &w);
    free(w.layers);
    info->bytes = align_up(L.used);
    info->n_attn = w.n_attn;
    info->n_mamba = w.n_mamba;
    info->resid_bias = w.resid_bias;
    *staging_bytes = L.staging_need ? align_up(L.staging_need) : 0;
    return L.st;
}

/* Samples device usage for the session's peak. */
static void note_peak(size_t *peak_used)
{
    size_t fr = 0, tot = 0;
    if (cudaMemGetInfo(&fr, &tot) == cudaSuccess && tot - fr > *peak_used) *peak_used = tot - fr;
}

static zb_status upload_all(loader *L, zbe_weights *w, size_t weights_bytes, size_t *peak_used)
{
    zb_error *err = L->err;
    ZBE_CUDA(cudaMalloc(&w->mem, weights_bytes));
    w->bytes = weights_bytes;
    if (L->staging_bytes) ZBE_CUDA(cudaMalloc(&L->staging, L->staging_bytes));
    if (L->any_host) {
        for (int i = 0; i < 2; i++) {
            ZBE_CUDA(cudaHostAlloc(&L->pinned[i], PINNED_BYTES, cudaHostAllocDefault));
            ZBE_CUDA(cudaEventCreateWithFlags(&L->done[i], cudaEventDisableTiming));
        }
        ZBE_CUDA(cudaMalloc((void **)&L->overflow, sizeof *L->overflow));
        ZBE_CUDA(cudaMemsetAsync(L->overflow, 0, sizeof *L->overflow, L->stream));
    }
    note_peak(peak_used);
    L->base = (char *)w->mem;
    L->used = 0;
    walk(L, w);
    if (L->st != ZB_OK) return L->st;
    if (align_up(L->used) != weights_bytes)
        return zbe_fail(err, ZB_ERR_INTERNAL, "weight layout changed between passes (%zu vs %zu bytes)",
                        align_up(L->used), weights_bytes);
    /* the staging and pinned buffers are freed by the caller right after */
    ZBE_CUDA(cudaStreamSynchronize(L->stream));
    if (L->overflow) {
        /* a weight that does not fit the storage format would turn into inf
         * and every logit into NaN: refuse the checkpoint instead */
        unsigned long long n = 0;
        ZBE_CUDA(cudaMemcpy(&n, L->overflow, sizeof n, cudaMemcpyDeviceToHost));
        if (n)
            return zbe_fail(err, ZB_ERR_INVALID,
                            "%llu checkpoint weight value(s) lie beyond the range of %s, this build's storage format "
                            "(|x| > 65504 for f16); build with `make ZB_HALF=bf16` for such a checkpoint",
                            n, zb_dtype_name(ZBK_HALF_DTYPE));
    }
    return ZB_OK;
}

zb_status zbe_weights_upload(const zb_model_desc *d, const zb_weights *src, zbe_weights *w, size_t weights_bytes,
                             size_t staging_bytes, cudaStream_t stream, size_t *peak_used, zb_error *err)
{
    memset(w, 0, sizeof *w);
    w->layers = calloc((size_t)d->n_layers, sizeof *w->layers);
    if (!w->layers) return zbe_fail(err, ZB_ERR_OOM, "out of host memory for %d layers", d->n_layers);
    loader L;
    memset(&L, 0, sizeof L);
    L.d = d;
    L.src = src;
    L.err = err;
    L.stream = stream;
    L.staging_bytes = staging_bytes;
    for (int i = 0; i < src->count; i++) L.any_host |= src->tensors[i].data != NULL;
    zb_status st = upload_all(&L, w, weights_bytes, peak_used);
    if (st != ZB_OK) (void)cudaStreamSynchronize(stream); /* nothing may still read the buffers freed below */
    for (int i = 0; i < 2; i++) {
        if (L.pinned[i]) cudaFreeHost(L.pinned[i]);
        if (L.done[i]) cudaEventDestroy(L.done[i]);
    }
    if (L.staging) cudaFree(L.staging);
    if (L.overflow) cudaFree(L.overflow);
    return st; /* on failure the caller frees w (zbe_weights_free) */
}

void zbe_weights_free(zbe_weights *w)
{
    if (w->mem) cudaFree(w->mem);
    free(w->layers);
    memset(w, 0, sizeof *w);
}
