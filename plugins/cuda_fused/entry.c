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

static const zb_plugin_api api =
    ZBE_PLUGIN_API("cuda_fused",
                   "CUDA bf16: fused-layout weights, cuBLASLt GEMMs, custom kernels, eager decode",
                   create, zbe_get_extension);

ZB_EXPORT const zb_plugin_api *zbench_plugin_entry(void) { return &api; }
