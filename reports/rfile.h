/* Output files of reports: the directory made on demand, each file written
 * whole or not at all (a temporary next to it, renamed into place), so a
 * report interrupted half-way never leaves a truncated page behind. */
#ifndef ZB_RFILE_H
#define ZB_RFILE_H

#include <stddef.h>

#include "zbench_plugin.h"

/* mkdir -p: every missing component, mode 0777 before the umask. */
zb_status zb_mkdir_p(const char *path, zb_error *err);
/* DIR/NAME (a path of at most 4095 bytes), or an error naming it. */
zb_status zb_join_path(char *out, size_t n, const char *dir, const char *name, zb_error *err);
zb_status zb_write_whole(const char *path, const char *data, size_t len, zb_error *err);

#endif
