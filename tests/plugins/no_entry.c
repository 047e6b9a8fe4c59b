/* A shared object that is not a zbench plugin: its entry point carries a
 * plausible but wrong name, so dlopen succeeds and dlsym of
 * ZB_PLUGIN_ENTRY_SYMBOL is what fails. */
#include "zbench_plugin.h"

ZB_EXPORT int zbench_plugin_entry_v0(void) { return 0; }
