#include "rfile.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zb_util.h"

zb_status zb_mkdir_p(const char *path, zb_error *err)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0) return zb_fail(err, ZB_ERR_INVALID, "output directory: empty path");
    if (n >= sizeof buf) return zb_fail(err, ZB_ERR_INVALID, "%.60s...: path too long", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char saved = buf[i];
        buf[i] = '\0';
        struct stat st;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return zb_fail(err, ZB_ERR_INVALID, "%s: cannot create directory: %s", buf, strerror(errno));
        if (stat(buf, &st) != 0) return zb_fail(err, ZB_ERR_INVALID, "%s: %s", buf, strerror(errno));
        if (!S_ISDIR(st.st_mode)) return zb_fail(err, ZB_ERR_INVALID, "%s: exists and is not a directory", buf);
        buf[i] = saved;
    }
    return ZB_OK;
}

zb_status zb_join_path(char *out, size_t n, const char *dir, const char *name, zb_error *err)
{
    int len = snprintf(out, n, "%s/%s", dir, name);
    if (len < 0 || (size_t)len >= n) return zb_fail(err, ZB_ERR_INVALID, "%.60s.../%s: path too long", dir, name);
    return ZB_OK;
}

zb_status zb_write_whole(const char *path, const char *data, size_t len, zb_error *err)
{
    char tmp[4200];
    int k = snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (k < 0 || (size_t)k >= sizeof tmp) return zb_fail(err, ZB_ERR_INVALID, "%.60s...: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return zb_fail(err, ZB_ERR_INTERNAL, "%s: cannot create: %s", tmp, strerror(errno));
    size_t w = len ? fwrite(data, 1, len, f) : 0;
    int werr = w != len ? errno : 0;
    if (fclose(f) != 0 && !werr) werr = errno ? errno : EIO;
    if (w != len || werr) {
        unlink(tmp);
        return zb_fail(err, ZB_ERR_INTERNAL, "%s: write failed: %s", path, strerror(werr ? werr : EIO));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return zb_fail(err, ZB_ERR_INTERNAL, "%s: cannot rename into place: %s", path, strerror(e));
    }
    return ZB_OK;
}
