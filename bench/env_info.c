#include "env_info.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void zb_env_read(zb_env *e)
{
    memset(e, 0, sizeof *e);
    if (gethostname(e->host, sizeof e->host - 1) != 0) snprintf(e->host, sizeof e->host, "unknown");
    snprintf(e->cpu, sizeof e->cpu, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) || !colon) continue;
        char *v = colon + 1;
        while (*v == ' ') v++;
        v[strcspn(v, "\n")] = '\0';
        snprintf(e->cpu, sizeof e->cpu, "%s", v);
        break;
    }
    fclose(f);
}

void zb_command_line(int argc, char **argv, char *out, size_t n)
{
    size_t at = 0;
    out[0] = '\0';
    for (int i = 0; i < argc && at + 4 < n; i++) {
        int plain = argv[i][0] != '\0' && strspn(argv[i], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                           "0123456789-_./=,:+*@%") == strlen(argv[i]);
        int w = snprintf(out + at, n - at, plain ? "%s%s" : "%s'%s'", i ? " " : "", argv[i]);
        if (w < 0) break;
        at += (size_t)w;
    }
}

void zb_sweep_id(char *out, size_t n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(out, n, "%s-%ld", stamp, (long)getpid());
}
