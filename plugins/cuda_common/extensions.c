/* Optional ABI features of the CUDA plugins, looked up by name. */
#include <string.h>

#include "engine.h"

static const zb_ext_resize resize_ext = {zbe_resize};
static const zb_ext_calibrate calibrate_ext = {zbe_calibrate};
static const zb_ext_trace_layers trace_layers_ext = {zbe_set_trace_hooks};

const void *zbe_get_extension(const char *name)
{
    if (!name) return NULL;
    if (strcmp(name, ZB_EXT_RESIZE) == 0) return &resize_ext;
    if (strcmp(name, ZB_EXT_CALIBRATE) == 0) return &calibrate_ext;
    if (strcmp(name, ZB_EXT_TRACE_LAYERS) == 0) return &trace_layers_ext;
    return NULL;
}
