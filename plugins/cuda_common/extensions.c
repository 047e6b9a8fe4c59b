/* Optional ABI features of the CUDA plugins, looked up by name. */
#include <string.h>

#include "engine.h"

#ifdef ZB_EXT_RESIZE
static const zb_ext_resize resize_ext = {zbe_resize};
#endif

const void *zbe_get_extension(const char *name)
{
    if (!name) return NULL;
#ifdef ZB_EXT_RESIZE
    if (strcmp(name, ZB_EXT_RESIZE) == 0) return &resize_ext;
#endif
    return NULL;
}
