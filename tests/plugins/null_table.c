/* A plugin whose entry point exists but hands back no table, as one that
 * failed its own initialisation might. */
#include "zbench_plugin.h"

ZB_EXPORT const zb_plugin_api *zbench_plugin_entry(void) { return NULL; }
