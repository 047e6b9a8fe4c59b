/*
 * Sweep isolation (--isolate, the default for sweeps of more than one run):
 * each configuration runs in a child process, so a plugin that crashes
 * loses its own run only, and that run is recorded 'crashed' with the
 * signal. The child is a fresh exec of zbench, not a bare fork: a CUDA
 * context does not survive fork (the parent has one after asking the
 * plugin for its device), nor do the plugin's threads or an open SQLite
 * connection. The parent inserts the run's row and hands the child its id;
 * the child opens its own connection, runs that one configuration and
 * completes the row exactly as an unisolated sweep would.
 */
#ifndef ZB_ISOLATE_H
#define ZB_ISOLATE_H

#include <stdint.h>

#include "zbench_plugin.h"

/* What the parent tells a child: which configuration of the sweep (1-based,
 * in sweep order), the run row already inserted for it, and how many rows
 * stdout already holds (json needs it to place its commas). */
typedef struct zb_child_spec {
    int index; /* 0: this process is not a child */
    int64_t run_id;
    int rows;
} zb_child_spec;

/* A child's exit status: ZB_CHILD_DONE plus these bits; 130 when a signal
 * interrupted it (its run then recorded 'interrupted'). */
#define ZB_CHILD_DONE 64
#define ZB_CHILD_NOT_OK 1  /* its run was recorded failed or oom */
#define ZB_CHILD_DB_LOST 2 /* the database stopped taking writes: end the sweep */
#define ZB_CHILD_FLAGGED 4 /* it printed a value with a high spread */

/* In zb_cmd_run, before option parsing: takes the parent's private
 * argument (argv[1], "--isolated-child=INDEX:RUN_ID:ROWS") out of argv.
 * Returns ZB_OK with spec->index = 0 when there is none. */
zb_status zb_isolate_take_child_args(int *argc, char **argv, zb_child_spec *spec, zb_error *err);

typedef struct zb_child_outcome {
    int exited;   /* 1: it exited with `code`; 0: a signal killed it */
    int code;
    int signal;
} zb_child_outcome;

/* In the parent: runs `zbench run` with the same arguments (argv[0] is the
 * command name, as zb_cmd_run gets it) for one configuration, and waits.
 * While it waits, a SIGINT or SIGTERM the parent received (zb_interrupted)
 * is passed on to the child as SIGINT; a child whose parent dies gets
 * SIGTERM. Fails only when the child cannot be started. */
zb_status zb_isolate_run(int argc, char **argv, const zb_child_spec *spec, zb_child_outcome *out, zb_error *err);

/* Isolation re-executes this process's own binary (/proc/self/exe) as
 * `zbench run ...`: only the zbench program may do that, so its main()
 * calls zb_isolate_allow(). Elsewhere (the test binaries that call
 * zb_cmd_run directly) the binary is not zbench, re-executing it would
 * start that program again, so sweeps run in-process there. */
void zb_isolate_allow(void);
int zb_isolate_allowed(void);

/* "SIGSEGV (Segmentation fault)" and the like, for the run's error text. */
void zb_describe_signal(int sig, char *buf, size_t n);

#endif
