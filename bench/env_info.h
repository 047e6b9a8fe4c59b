/* The environment a run is recorded with. */
#ifndef ZB_ENV_INFO_H
#define ZB_ENV_INFO_H

#include <stddef.h>

typedef struct zb_env {
    char host[256];
    char cpu[256];
} zb_env;

void zb_env_read(zb_env *e);
/* The command line as one shell-quoted string. */
void zb_command_line(int argc, char **argv, char *out, size_t n);
/* A sweep id: UTC time and pid, unique per invocation on a host. */
void zb_sweep_id(char *out, size_t n);

#endif
