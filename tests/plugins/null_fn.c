/* A plugin table with the right ABI whose decode is missing: the loader
 * must name the NULL function instead of crashing on the first decode. */
#include "stub_api.h"

static const zb_plugin_api api = {
    .abi_version = ZB_ABI_VERSION,
    .name = "null_fn",
    .description = "test plugin without a decode function",
    .dtypes = ZB_DTYPE_BIT(ZB_DTYPE_F32),
    .max_batch = 1,
    .caps = 0,
    .device_info = stub_device_info,
    .create = stub_create,
    .prefill = stub_prefill,
    .decode = NULL,
    .reset = stub_reset,
    .memory = stub_memory,
    .destroy = stub_destroy,
    .get_extension = NULL,
};

ZB_EXPORT const zb_plugin_api *zbench_plugin_entry(void) { return &api; }
