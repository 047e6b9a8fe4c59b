#include "isolate.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "signals.h"
#include "zb_util.h"

#define CHILD_ARG "--isolated-child="

zb_status zb_isolate_take_child_args(int *argc, char **argv, zb_child_spec *spec, zb_error *err)
{
    memset(spec, 0, sizeof *spec);
    if (*argc < 2 || strncmp(argv[1], CHILD_ARG, strlen(CHILD_ARG)) != 0) return ZB_OK;
    long long id = 0;
    int index = 0, rows = 0, used = 0;
    if (sscanf(argv[1] + strlen(CHILD_ARG), "%d:%lld:%d%n", &index, &id, &rows, &used) != 3 ||
        argv[1][strlen(CHILD_ARG) + (size_t)used] != '\0' || index < 1 || id < 1 || rows < 0)
        return zb_fail(err, ZB_ERR_INVALID, "malformed %s'%s' (an internal option of isolated runs)", CHILD_ARG,
                       argv[1] + strlen(CHILD_ARG));
    spec->index = index;
    spec->run_id = id;
    spec->rows = rows;
    /* argv keeps its NULL terminator: shift it down with the rest */
    memmove(&argv[1], &argv[2], sizeof *argv * (size_t)(*argc - 1));
    (*argc)--;
    return ZB_OK;
}

void zb_describe_signal(int sig, char *buf, size_t n)
{
    static const struct {
        int sig;
        const char *name;
    } names[] = {
        {SIGSEGV, "SIGSEGV"}, {SIGBUS, "SIGBUS"},   {SIGILL, "SIGILL"},   {SIGFPE, "SIGFPE"},
        {SIGABRT, "SIGABRT"}, {SIGKILL, "SIGKILL"}, {SIGTERM, "SIGTERM"}, {SIGINT, "SIGINT"},
        {SIGSYS, "SIGSYS"},   {SIGTRAP, "SIGTRAP"}, {SIGXCPU, "SIGXCPU"}, {SIGXFSZ, "SIGXFSZ"},
        {SIGHUP, "SIGHUP"},   {SIGPIPE, "SIGPIPE"}, {SIGQUIT, "SIGQUIT"},
    };
    const char *name = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !name; i++)
        if (names[i].sig == sig) name = names[i].name;
    const char *what = strsignal(sig);
    if (name) snprintf(buf, n, "%s (%s)", name, what ? what : "?");
    else snprintf(buf, n, "signal %d (%s)", sig, what ? what : "?");
}

/* Set once, by zbench's main, before any thread exists. */
static int g_isolate_allowed;

void zb_isolate_allow(void) { g_isolate_allowed = 1; }
int zb_isolate_allowed(void) { return g_isolate_allowed; }

zb_status zb_isolate_run(int argc, char **argv, const zb_child_spec *spec, zb_child_outcome *out, zb_error *err)
{
    memset(out, 0, sizeof *out);
    char arg[96];
    snprintf(arg, sizeof arg, CHILD_ARG "%d:%" PRId64 ":%d", spec->index, spec->run_id, spec->rows);
    /* zbench run ARG argv[1..]: the private argument first, where a "--"
     * among the user's arguments cannot turn it into an operand */
    char **cargv = calloc((size_t)argc + 3, sizeof *cargv);
    if (!cargv) return zb_fail(err, ZB_ERR_OOM, "out of memory starting an isolated run");
    cargv[0] = "zbench";
    cargv[1] = "run";
    cargv[2] = arg;
    for (int i = 1; i < argc; i++) cargv[i + 2] = argv[i];
    /* what the parent has printed must come out before what the child prints */
    fflush(stdout);
    fflush(stderr);
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) {
        free(cargv);
        return zb_fail(err, ZB_ERR_INVALID, "cannot start an isolated run: fork: %s", strerror(errno));
    }
    if (pid == 0) {
        /* only async-signal-safe calls from here to exec: the parent may
         * have threads (CUDA, cuBLAS) whose locks this copy inherited */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent) _exit(127);
        execv("/proc/self/exe", cargv);
        static const char msg[] = "zbench: cannot start an isolated run: exec /proc/self/exe failed\n";
        ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)ignored;
        _exit(127);
    }
    free(cargv);
    /* Poll rather than block in waitpid: a signal arriving between a check
     * of zb_interrupted and a blocking wait would go unforwarded until the
     * child ended on its own, which for a long generation is never. */
    int status = 0, forwarded = 0;
    const struct timespec nap = {0, 20 * 1000 * 1000};
    for (;;) {
        if (zb_interrupted() && !forwarded) {
            (void)kill(pid, SIGINT);
            forwarded = 1;
        }
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) break;
        if (r < 0 && errno != EINTR) {
            /* cannot happen for our own child; do not leave it running */
            int e = errno;
            (void)kill(pid, SIGKILL);
            (void)waitpid(pid, &status, 0);
            return zb_fail(err, ZB_ERR_INTERNAL, "waiting for an isolated run: %s", strerror(e));
        }
        (void)nanosleep(&nap, NULL); /* a signal cuts it short: checked at once */
    }
    if (WIFEXITED(status)) {
        out->exited = 1;
        out->code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        out->signal = WTERMSIG(status);
    }
    return ZB_OK;
}
