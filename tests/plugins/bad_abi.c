/* A complete plugin table built against a future ABI: the loader must
 * refuse it on the version alone. */
#include "stub_api.h"

static const zb_plugin_api api = {
    .abi_version = ZB_ABI_VERSION + 41u,
    .name = "bad_abi",
    .description = "test plugin with a wrong ABI version",
    .dtypes = ZB_DTYPE_BIT(ZB_DTYPE_F32),
    .max_batch = 1,
    .caps = 0,
    .device_info = stub_device_info,
    .create = stub_create,
    .prefill = stub_prefill,
    .decode = stub_decode,
    .reset = stub_reset,
    .memory = stub_memory,
    .destroy = stub_destroy,
    .get_extension = NULL,
};

ZB_EXPORT const zb_plugin_api *zbench_plugin_entry(void) { return &api; }
