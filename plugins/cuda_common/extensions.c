/* Optional ABI features of the CUDA plugins, looked up by name. */
#include <string.h>

#include "engine.h"

static const zb_ext_resize resize_ext = {zbe_resize};
static const zb_ext_calibrate calibrate_ext = {zbe_calibrate};

const void *zbe_get_extension(const char *name)
{
    if (!name) return NULL;
    if (strcmp(name, ZB_EXT_RESIZE) == 0) return &resize_ext;
    if (strcmp(name, ZB_EXT_CALIBRATE) == 0) return &calibrate_ext;
    return NULL;
}
