/*
 * Session lifetime: create (checks, memory plan, weights, runtime
 * buffers), reset, resize, memory report, destroy.
 *
 * Allocation order, which the out-of-memory check mirrors:
 *   weights + upload staging (staging freed right after the upload), then
 *   library contexts (cuBLASLt workspace, optional cuBLAS handle), then the
 *   runtime part (caches/states and the activation arena).
 * So the device peak is weights + max(staging, libraries + runtime), and
 * create refuses with ZB_ERR_OOM before allocating anything when that (plus
 * a reserve for CUDA's own use) exceeds the free memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "engine.h"

static zb_status validate_desc(const zb_model_desc *d, zb_error *err)
{
    const int zamba = d->layout == ZB_LAYOUT_ZAMBA;
    if (!zamba && d->layout != ZB_LAYOUT_TRANSFORMER)
        return zbe_fail(err, ZB_ERR_INVALID, "unknown model layout %d", (int)d->layout);
    if (d->n_layers < 1 || d->n_layers > ZB_MAX_LAYERS)
        return zbe_fail(err, ZB_ERR_INVALID, "%d layers is outside 1..%d", d->n_layers, ZB_MAX_LAYERS);
    if (d->vocab_size < 1 || d->hidden_size < 1 || d->intermediate_size < 1 || d->n_heads < 1 || d->n_kv_heads < 1)
        return zbe_fail(err, ZB_ERR_INVALID, "model sizes must be positive");
    if (d->n_heads % d->n_kv_heads != 0)
        return zbe_fail(err, ZB_ERR_INVALID, "%d attention heads are not a multiple of %d KV heads", d->n_heads,
                        d->n_kv_heads);
    if (d->head_dim < 2 || d->head_dim % 2 != 0)
        return zbe_fail(err, ZB_ERR_INVALID, "head dimension %d must be even and at least 2", d->head_dim);
    if (d->sliding_window < 0) return zbe_fail(err, ZB_ERR_INVALID, "negative sliding window %d", d->sliding_window);
    if (d->attn_in != (zamba ? 2 : 1) * d->hidden_size)
        return zbe_fail(err, ZB_ERR_INVALID, "attention input width %d must be %s hidden size %d", d->attn_in,
                        zamba ? "2 x the" : "the", d->hidden_size);
    if (zamba) {
        if (d->d_inner < 1 || d->n_mamba_heads < 1 || d->d_inner % d->n_mamba_heads != 0)
            return zbe_fail(err, ZB_ERR_INVALID, "d_inner %d does not split into %d Mamba heads", d->d_inner,
                            d->n_mamba_heads);
        if (d->d_state < 1 || d->d_conv < 1 || d->dt_rank < 1)
            return zbe_fail(err, ZB_ERR_INVALID, "Mamba d_state, d_conv and dt_rank must be positive");
    }
    for (int i = 0; i < d->n_layers; i++) {
        const int k = d->layer_kind[i];
        const int ok = zamba ? k == ZB_LAYER_MAMBA || k == ZB_LAYER_HYBRID : k == ZB_LAYER_ATTENTION;
        if (!ok)
            return zbe_fail(err, ZB_ERR_INVALID, "layer %d has kind %d, not valid in a %s model", i, k,
                            zamba ? "zamba" : "transformer");
    }
    return ZB_OK;
}

static size_t device_used(size_t *free_out)
{
    size_t fr = 0, tot = 0;
    if (cudaMemGetInfo(&fr, &tot) != cudaSuccess) {
        (void)cudaGetLastError();
        if (free_out) *free_out = 0;
        return 0;
    }
    if (free_out) *free_out = fr;
    return tot - fr;
}

static void note_peak(zb_session *s)
{
    size_t used = device_used(NULL);
    if (used > s->peak_used) s->peak_used = used;
}

/* ------------------------------------------------------------- runtime */

static void carve_buffers(zb_session *s)
{
    const zbe_plan *p = &s->plan;
    char *a = (char *)s->arena_mem, *st = (char *)s->state_mem;
    zbe_buffers *b = &s->buf;
    const int zamba = s->desc.layout == ZB_LAYOUT_ZAMBA;
    memset(b, 0, sizeof *b);
    b->tok = (int32_t *)(a + p->off_tok);
    b->h = (float *)(a + p->off_h);
    b->emb = zamba ? (zbk_half *)(a + p->off_emb) : NULL;
    b->xn = (zbk_half *)(a + p->off_xn);
    b->t = zamba ? (float *)(a + p->off_t) : NULL;
    b->last = (float *)(a + p->off_last);
    b->lastn = (zbk_half *)(a + p->off_lastn);
    b->logits = (float *)(a + p->off_logits);
    b->tokens = (int32_t *)(a + p->off_tokens);
    b->pos = (int32_t *)(a + p->off_pos);
    b->ones = s->w.resid_bias ? (float *)(a + p->off_ones) : NULL;
    b->inv_freq = s->desc.rope ? (float *)(a + p->off_inv_freq) : NULL;
    b->attn_scratch = p->attn_scratch_bytes ? a + p->off_attn_scratch : NULL;
    b->step_scratch = p->step_scratch_bytes ? a + p->off_step_scratch : NULL;
    b->qkv = (zbk_half *)(a + p->off_qkv);
    b->q = (zbk_half *)(a + p->off_q);
    b->att = (zbk_half *)(a + p->off_att);
    b->stage_k = p->stage_slots ? (zbk_half *)(a + p->off_stage_k) : NULL;
    b->stage_v = p->stage_slots ? (zbk_half *)(a + p->off_stage_v) : NULL;
    b->gu = (zbk_half *)(a + p->off_gu);
    b->act = (zbk_half *)(a + p->off_act);
    if (zamba) {
        b->blk = (zbk_half *)(a + p->off_blk);
        b->xz = (zbk_half *)(a + p->off_xz);
        b->u = (zbk_half *)(a + p->off_u);
        b->params = (float *)(a + p->off_params);
        b->dtr = (zbk_half *)(a + p->off_dtr);
        b->dt = (float *)(a + p->off_dt);
        b->y = (zbk_half *)(a + p->off_y);
        b->conv = (zbk_half *)(st + p->off_conv);
        b->ssm = (float *)(st + p->off_ssm);
    }
    b->k = (zbk_half *)(st + p->off_k);
    b->v = (zbk_half *)(st + p->off_v);
}

/* Small constant tables: the RoPE frequencies and the ones vector. */
static zb_status upload_tables(zb_session *s, zb_error *err)
{
    const zb_model_desc *d = &s->desc;
    const int half = d->head_dim / 2, rows = s->plan.rows;
    const int n = (d->rope ? half : 0) > rows ? half : rows;
    float *host = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    if (!host) return zbe_fail(err, ZB_ERR_OOM, "out of host memory for %d floats", n);
    zb_status st = ZB_OK;
    cudaError_t e = cudaSuccess;
    if (d->rope) {
        /* rounded to the checkpoint dtype, as Hugging Face keeps the buffer */
        for (int i = 0; i < half; i++) host[i] = zb_rope_inv_freq(d->rope_theta, i, d->head_dim, d->weight_dtype);
        e = cudaMemcpy(s->buf.inv_freq, host, sizeof(float) * (size_t)half, cudaMemcpyHostToDevice);
        if (e != cudaSuccess) st = zbe_cuda_fail(err, e, "cudaMemcpy(inv_freq)", __FILE__, __LINE__);
    }
    if (st == ZB_OK && s->buf.ones) {
        for (int i = 0; i < rows; i++) host[i] = 1.0f;
        e = cudaMemcpy(s->buf.ones, host, sizeof(float) * (size_t)rows, cudaMemcpyHostToDevice);
        if (e != cudaSuccess) st = zbe_cuda_fail(err, e, "cudaMemcpy(ones)", __FILE__, __LINE__);
    }
    free(host);
    return st;
}

zb_status zbe_runtime_clear(zb_session *s, zb_error *err)
{
    if (s->state_mem) ZBE_CUDA(cudaMemsetAsync(s->state_mem, 0, s->plan.state_total, s->stream));
    /* token feedback before any step reads token 0, as cpu_ref does */
    ZBE_CUDA(cudaMemsetAsync(s->buf.tokens, 0, sizeof(int32_t) * (size_t)s->plan.batch, s->stream));
    ZBE_CUDA(zbk_position_set(s->buf.pos, 0, s->stream));
    s->pos = 0;
    return ZB_OK;
}

zb_status zbe_runtime_alloc(zb_session *s, zb_error *err)
{
    const zbe_plan *p = &s->plan;
    if (p->state_total) ZBE_CUDA(cudaMalloc(&s->state_mem, p->state_total));
    ZBE_CUDA(cudaMalloc(&s->arena_mem, p->arena_bytes));
    /* Zeroed once: every buffer is written before it is read, but the
     * products cuBLASLt writes (stored by the tensor memory accelerator)
     * are invisible to compute-sanitizer's initcheck, which would otherwise
     * report every read of them (seen on the H100, 2026-11-23: a cuBLASLt
     * product read back by a plain kernel is "uninitialised", our GEMV's is
     * not). A memset of the arena costs a fraction of a millisecond per GB,
     * once per create or resize. The decode attention's chunk counters
     * (zbk_attention_scratch_zero_bytes) rely on it: they must start at
     * zero, and every call leaves them so. */
    ZBE_CUDA(cudaMemsetAsync(s->arena_mem, 0, p->arena_bytes, s->stream));
    carve_buffers(s);
    const size_t B = (size_t)p->batch;
    ZBE_CUDA(cudaHostAlloc((void **)&s->h_tokens, B * sizeof(int32_t), cudaHostAllocDefault));
    ZBE_CUDA(cudaHostAlloc((void **)&s->h_next, B * sizeof(int32_t), cudaHostAllocDefault));
    ZBE_CUDA(cudaHostAlloc((void **)&s->h_logits, B * (size_t)s->desc.vocab_size * sizeof(float),
                           cudaHostAllocDefault));
    ZBE_TRY(upload_tables(s, err));
    ZBE_TRY(zbe_runtime_clear(s, err));
    ZBE_CUDA(cudaStreamSynchronize(s->stream));
    note_peak(s);
    s->runtime_ok = 1;
    return ZB_OK;
}

void zbe_runtime_free(zb_session *s)
{
    if (s->variant && s->variant->invalidate) s->variant->invalidate(s);
    if (s->stream) (void)cudaStreamSynchronize(s->stream);
    if (s->state_mem) cudaFree(s->state_mem);
    if (s->arena_mem) cudaFree(s->arena_mem);
    if (s->h_tokens) cudaFreeHost(s->h_tokens);
    if (s->h_next) cudaFreeHost(s->h_next);
    if (s->h_logits) cudaFreeHost(s->h_logits);
    s->state_mem = s->arena_mem = NULL;
    s->h_tokens = s->h_next = NULL;
    s->h_logits = NULL;
    memset(&s->buf, 0, sizeof s->buf);
    s->runtime_ok = 0;
    s->pos = 0;
}

/* -------------------------------------------------------------- create */

static zb_status libraries_create(zb_session *s, zb_error *err)
{
    ZBE_LIB(zb_blas_create(&s->blas, ZBE_BLAS_WORKSPACE, err));
    if (s->w.resid_bias) {
        ZBE_CUBLAS(cublasCreate(&s->cublas));
        ZBE_CUBLAS(cublasSetStream(s->cublas, s->stream));
        ZBE_CUBLAS(cublasSetPointerMode(s->cublas, CUBLAS_POINTER_MODE_HOST));
    }
    return ZB_OK;
}

static zb_status create_on_device(zb_session *s, const zb_weights *weights, zb_error *err)
{
    const zb_model_desc *d = &s->desc;
    const int dev = s->opts.device;
    int n = 0;
    ZBE_CUDA(cudaGetDeviceCount(&n));
    if (dev < 0 || dev >= n)
        return zbe_fail(err, ZB_ERR_INVALID, "CUDA device %d does not exist (%d devices)", dev, n);
    ZBE_CUDA(cudaSetDevice(dev));
    size_t fr = 0, tot = 0;
    ZBE_CUDA(cudaMemGetInfo(&fr, &tot));
    s->used_before = s->peak_used = tot - fr;

    /* size everything before allocating anything */
    zbe_weights info;
    size_t staging = 0;
    ZBE_TRY(zbe_weights_size(d, weights, &info, &staging, err));
    ZBE_TRY(zbe_plan_runtime(d, &info, s->opts.batch, s->opts.capacity, &s->plan, err));
    const size_t runtime = zbe_plan_runtime_bytes(&s->plan), libs = zbe_plan_library_bytes(info.resid_bias);
    const size_t after = zbe_add_sat(libs, runtime);
    const size_t need = zbe_add_sat(info.bytes, staging > after ? staging : after);
    char what[300];
    snprintf(what, sizeof what,
             "%s session of %s (batch %d, capacity %d: weights %zu, KV %zu, states %zu, workspace %zu bytes)",
             s->variant->name, d->name, s->opts.batch, s->opts.capacity, info.bytes, s->plan.kv_bytes,
             zbe_add_sat(s->plan.conv_bytes, s->plan.ssm_bytes), zbe_add_sat(s->plan.arena_bytes, libs));
    ZBE_TRY(zbe_plan_check_fit(what, need, fr, dev, err));

    ZBE_TRY(zbe_nvtx_init(&s->nvtx, d, (s->opts.flags & ZB_OPT_NVTX) != 0, err));
    ZBE_CUDA(cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking));
    ZBE_CUDA(cudaEventCreate(&s->ev_start));
    ZBE_CUDA(cudaEventCreate(&s->ev_stop));
    ZBE_TRY(zbe_weights_upload(d, weights, &s->w, info.bytes, staging, s->stream, &s->peak_used, err));
    ZBE_TRY(libraries_create(s, err));
    return zbe_runtime_alloc(s, err);
}

zb_status zbe_create(const zb_model_desc *desc, const zb_weights *weights, const zb_session_opts *opts,
                     const zbe_variant *variant, zb_session **out, zb_error *err)
{
    *out = NULL;
    if (!desc || !weights || !opts || !variant || !variant->issue_decode || !variant->issue_prefill)
        return zbe_fail(err, ZB_ERR_INVALID, "create needs a description, weights, options and a decode variant");
    if (opts->dtype != ZBK_HALF_DTYPE)
        return zbe_fail(err, ZB_ERR_UNSUPPORTED,
                        "%s computes in %s only (asked for %s; the 16-bit format is a build choice, make ZB_HALF=)",
                        variant->name, zb_dtype_name(ZBK_HALF_DTYPE), zb_dtype_name(opts->dtype));
    if (opts->batch < 1 || opts->batch > ZBE_MAX_BATCH)
        return zbe_fail(err, ZB_ERR_INVALID, "batch %d is outside 1..%d", opts->batch, ZBE_MAX_BATCH);
    if (opts->capacity < 1) return zbe_fail(err, ZB_ERR_INVALID, "capacity %d must be at least 1", opts->capacity);
    ZBE_TRY(validate_desc(desc, err));

    zb_session *s = calloc(1, sizeof *s);
    if (!s) return zbe_fail(err, ZB_ERR_OOM, "out of host memory for a session");
    s->desc = *desc;
    s->opts = *opts;
    s->variant = variant;
    zb_status st = create_on_device(s, weights, err);
    if (st != ZB_OK) {
        zbe_destroy(s);
        return st;
    }
    *out = s;
    return ZB_OK;
}

void zbe_destroy(zb_session *s)
{
    if (!s) return;
    /* best effort: a session may be destroyed after a device error */
    if (cudaSetDevice(s->opts.device) != cudaSuccess) (void)cudaGetLastError();
    zbe_runtime_free(s); /* the variant's invalidate runs here */
    free(s->variant_state);
    zbe_weights_free(&s->w);
    if (s->cublas) cublasDestroy(s->cublas);
    if (s->blas) zb_blas_destroy(s->blas);
    if (s->ev_start) cudaEventDestroy(s->ev_start);
    if (s->ev_stop) cudaEventDestroy(s->ev_stop);
    if (s->stream) cudaStreamDestroy(s->stream);
    zbe_nvtx_free(&s->nvtx);
    (void)cudaGetLastError();
    free(s);
}

/* ------------------------------------------------ reset, resize, memory */

zb_status zbe_reset(zb_session *s, zb_error *err)
{
    if (!s->runtime_ok) return zbe_fail(err, ZB_ERR_INVALID, "session has no caches (a resize failed)");
    ZBE_CUDA(cudaSetDevice(s->opts.device));
    ZBE_TRY(zbe_runtime_clear(s, err));
    ZBE_CUDA(cudaStreamSynchronize(s->stream));
    return ZB_OK;
}

zb_status zbe_resize(zb_session *s, int32_t batch, int32_t capacity, zb_error *err)
{
    if (batch < 1 || batch > ZBE_MAX_BATCH)
        return zbe_fail(err, ZB_ERR_INVALID, "batch %d is outside 1..%d", batch, ZBE_MAX_BATCH);
    if (capacity < 1) return zbe_fail(err, ZB_ERR_INVALID, "capacity %d must be at least 1", capacity);
    ZBE_CUDA(cudaSetDevice(s->opts.device));
    zbe_plan np;
    ZBE_TRY(zbe_plan_runtime(&s->desc, &s->w, batch, capacity, &np, err));
    size_t fr = 0, tot = 0;
    ZBE_CUDA(cudaStreamSynchronize(s->stream));
    ZBE_CUDA(cudaMemGetInfo(&fr, &tot));
    /* the old buffers are released first, so their bytes count as free;
     * refusing here leaves the session as it was */
    const size_t have = zbe_add_sat(fr, s->runtime_ok ? zbe_plan_runtime_bytes(&s->plan) : 0);
    char what[200];
    snprintf(what, sizeof what, "resizing %s to batch %d, capacity %d (KV %zu, states %zu, workspace %zu bytes)",
             s->desc.name, batch, capacity, np.kv_bytes, zbe_add_sat(np.conv_bytes, np.ssm_bytes), np.arena_bytes);
    ZBE_TRY(zbe_plan_check_fit(what, zbe_plan_runtime_bytes(&np), have, s->opts.device, err));
    zbe_runtime_free(s);
    s->plan = np;
    s->opts.batch = batch;
    s->opts.capacity = capacity;
    zb_status st = zbe_runtime_alloc(s, err);
    if (st != ZB_OK) zbe_runtime_free(s); /* left without caches: later calls say so */
    return st;
}

zb_status zbe_memory(zb_session *s, zb_memory_report *out, zb_error *err)
{
    memset(out, 0, sizeof *out);
    ZBE_CUDA(cudaSetDevice(s->opts.device));
    const zbe_plan *p = &s->plan;
    out->weights_bytes = s->w.bytes;
    if (s->runtime_ok) {
        out->kv_bytes = p->kv_bytes;
        out->state_bytes = p->conv_bytes + p->ssm_bytes;
        /* everything else: the arena, alignment padding of the state block,
         * and the cuBLASLt workspace */
        out->workspace_bytes = p->arena_bytes + (p->state_total - p->kv_bytes - out->state_bytes);
        out->kv_tokens = p->slots;
    }
    if (s->blas) out->workspace_bytes += zb_blas_workspace_bytes(s->blas);
    /* one sample for both, so total <= peak always holds */
    const size_t used = device_used(NULL);
    if (used > s->peak_used) s->peak_used = used;
    out->device_total_bytes = used > s->used_before ? used - s->used_before : 0;
    out->device_peak_bytes = s->peak_used > s->used_before ? s->peak_used - s->used_before : 0;
    return ZB_OK;
}
