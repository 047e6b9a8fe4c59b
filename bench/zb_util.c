#include "zb_util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

zb_status zb_fail(zb_error *err, zb_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        /* messages are one line by contract */
        for (char *p = err->msg; *p; p++)
            if (*p == '\n' || *p == '\r') *p = ' ';
    }
    return code;
}

zb_status zb_read_file(const char *path, size_t max_bytes, char **out, size_t *len, zb_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return zb_fail(err, ZB_ERR_INVALID, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return zb_fail(err, ZB_ERR_INVALID, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > max_bytes) {
        fclose(f);
        return zb_fail(err, ZB_ERR_INVALID, "%s: %lld bytes, more than the %zu allowed", path,
                       (long long)st.st_size, max_bytes);
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        fclose(f);
        return zb_fail(err, ZB_ERR_OOM, "%s: out of memory reading %lld bytes", path, (long long)st.st_size);
    }
    size_t n = fread(buf, 1, (size_t)st.st_size, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || n != (size_t)st.st_size) {
        free(buf);
        return zb_fail(err, ZB_ERR_INVALID, "%s: read error", path);
    }
    buf[n] = '\0';
    *out = buf;
    if (len) *len = n;
    return ZB_OK;
}

const char *zb_basename(const char *path)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--; /* "dir/" names dir */
    const char *end = path + n;
    const char *p = end;
    while (p > path && p[-1] != '/') p--;
    static _Thread_local char buf[256];
    size_t len = (size_t)(end - p);
    if (len >= sizeof buf) len = sizeof buf - 1;
    memcpy(buf, p, len);
    buf[len] = '\0';
    return buf;
}

int zb_mul_ok(uint64_t a, uint64_t b, uint64_t limit, uint64_t *out)
{
    if (a != 0 && b > limit / a) return 0;
    *out = a * b;
    return *out <= limit;
}

int zb_parse_dtype(const char *s, zb_dtype *out)
{
    static const zb_dtype all[] = {ZB_DTYPE_F32, ZB_DTYPE_F16, ZB_DTYPE_BF16};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!strcmp(s, zb_dtype_name(all[i]))) {
            *out = all[i];
            return 1;
        }
    return 0;
}
