/* cuda_fused: the CUDA engine (plugins/cuda_common) issuing each decode
 * step as plain stream launches. cuda_graph differs only in its variant. */
#include "cuda_common/engine.h"

static const zbe_variant fused = {
    .name = "cuda_fused",
    .issue_decode = zbe_decode_step,
    .issue_prefill = zbe_prefill_chunk,
    .invalidate = NULL,
};

static zb_status create(const zb_model_desc *desc, const zb_weights *weights, const zb_session_opts *opts,
                        zb_session **out, zb_error *err)
{
    return zbe_create(desc, weights, opts, &fused, out, err);
}

static const zb_plugin_api api = {
    .abi_version = ZB_ABI_VERSION,
    .name = "cuda_fused",
    .description = "CUDA bf16: fused-layout weights, cuBLASLt GEMMs, custom kernels, eager decode",
    .dtypes = ZB_DTYPE_BIT(ZB_DTYPE_BF16),
    .max_batch = ZBE_MAX_BATCH,
    .caps = ZB_CAP_GPU | ZB_CAP_DEVICE_TIMING | ZB_CAP_TOKEN_FEEDBACK,
    .device_info = zbe_device_info,
    .create = create,
    .prefill = zbe_prefill,
    .decode = zbe_decode,
    .reset = zbe_reset,
    .memory = zbe_memory,
    .destroy = zbe_destroy,
    .get_extension = zbe_get_extension,
};

ZB_EXPORT const zb_plugin_api *zbench_plugin_entry(void) { return &api; }
