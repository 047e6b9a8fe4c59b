/*
 * Helpers shared by the unit tests: where the build and the fixtures are,
 * temporary directories, whole-file I/O, safetensors images built from a
 * tensor list (good ones and deliberately broken ones), and capturing what a
 * command prints. Header-only (static inline, so a test that uses only part
 * of it stays -Wunused clean).
 */
#ifndef ZB_TEST_UTIL_H
#define ZB_TEST_UTIL_H

/* cmocka needs these before its own header */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------ assertions */

/* Substring checks with both strings in the failure message: error messages
 * are the product under test, a bare "assert_non_null failed" says nothing. */
#define TU_ASSERT_CONTAINS(hay, needle)                                                         \
    do {                                                                                        \
        const char *tu_h_ = (hay), *tu_n_ = (needle);                                           \
        if (!tu_h_ || !strstr(tu_h_, tu_n_))                                                   \
            fail_msg("\"%s\" does not contain \"%s\"", tu_h_ ? tu_h_ : "(null)", tu_n_);          \
    } while (0)

#define TU_ASSERT_NOT_CONTAINS(hay, needle)                                                     \
    do {                                                                                        \
        const char *tu_h_ = (hay), *tu_n_ = (needle);                                           \
        if (tu_h_ && strstr(tu_h_, tu_n_)) fail_msg("\"%s\" unexpectedly contains \"%s\"", tu_h_, tu_n_); \
    } while (0)

#define TU_ASSERT_NEAR(a, b, tol)                                                               \
    do {                                                                                        \
        double tu_a_ = (double)(a), tu_b_ = (double)(b), tu_t_ = (double)(tol);                 \
        if (!(fabs(tu_a_ - tu_b_) <= tu_t_))                                                    \
            fail_msg("%s = %.9g, expected %.9g within %.3g", #a, tu_a_, tu_b_, tu_t_);          \
    } while (0)

/* Bitwise float equality, so -0.0 vs 0.0 and NaN payloads are told apart. */
#define TU_ASSERT_SAME_BITS(a, b)                                                               \
    do {                                                                                        \
        float tu_x_ = (a), tu_y_ = (b);                                                         \
        uint32_t tu_bx_, tu_by_;                                                                \
        memcpy(&tu_bx_, &tu_x_, 4);                                                             \
        memcpy(&tu_by_, &tu_y_, 4);                                                             \
        if (tu_bx_ != tu_by_)                                                                   \
            fail_msg("%s = %.9g (0x%08x), expected %.9g (0x%08x)", #a, (double)tu_x_, tu_bx_,   \
                     (double)tu_y_, tu_by_);                                                    \
    } while (0)

/* ------------------------------------------------------------------ paths */

static inline const char *tu_env(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

/* run_tests.sh sets these; the defaults let a binary run by hand from the
 * repository root after a plain `make`. */
static inline const char *tu_build_dir(void) { return tu_env("ZB_BUILD", "build"); }
static inline const char *tu_fixtures_dir(void) { return tu_env("ZB_FIXTURES", "tests/fixtures"); }

/* Plugins are looked up by name in $ZBENCH_PLUGIN_PATH, else next to the
 * running binary, which for a test is $ZB_BUILD/tests: point it at the real
 * plugin directory when the caller did not. */
static inline void tu_default_plugin_path(void)
{
    if (getenv("ZBENCH_PLUGIN_PATH")) return;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/plugins", tu_build_dir());
    setenv("ZBENCH_PLUGIN_PATH", dir, 1);
}

static inline void tu_join(char *out, size_t n, const char *dir, const char *name)
{
    int len = snprintf(out, n, "%s/%s", dir, name);
    assert_true(len > 0 && (size_t)len < n);
}

static inline void tu_fixture(char *out, size_t n, const char *fixture, const char *file)
{
    char dir[PATH_MAX];
    tu_join(dir, sizeof dir, tu_fixtures_dir(), fixture);
    if (file) tu_join(out, n, dir, file);
    else snprintf(out, n, "%s", dir);
}

/* The fixture checkpoints: every directory of $ZB_FIXTURES holding a
 * config.json, sorted. Returns how many were written (at most max). */
static inline int tu_list_fixtures(char names[][64], int max)
{
    DIR *d = opendir(tu_fixtures_dir());
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        char cfg[PATH_MAX];
        struct stat st;
        if (e->d_name[0] == '.' || strlen(e->d_name) >= 64) continue;
        tu_fixture(cfg, sizeof cfg, e->d_name, "config.json");
        if (stat(cfg, &st) == 0) snprintf(names[n++], 64, "%s", e->d_name);
    }
    closedir(d);
    /* readdir order is arbitrary: sort for reproducible test output */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char t[64];
            memcpy(t, names[j], 64), memcpy(names[j], names[j - 1], 64), memcpy(names[j - 1], t, 64);
        }
    return n;
}

/* ---------------------------------------------------------------- files */

static inline void tu_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) fail_msg("cannot create %s", path);
    size_t w = len ? fwrite(data, 1, len, f) : 0;
    int bad = fclose(f) != 0 || w != len;
    if (bad) fail_msg("cannot write %s", path);
}

static inline void tu_write_text(const char *path, const char *text) { tu_write_file(path, text, strlen(text)); }

/* Whole file into a NUL-terminated heap buffer (the caller frees). */
static inline char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    assert_non_null(buf);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            assert_non_null(buf);
        }
    }
    fclose(f);
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

static inline void tu_copy_file(const char *src, const char *dst)
{
    size_t len;
    char *data = tu_read_file(src, &len);
    tu_write_file(dst, data, len);
    free(data);
}

/* A fresh, empty directory under $TMPDIR (or /tmp). */
static inline void tu_mkdtemp(char *out, size_t n)
{
    snprintf(out, n, "%s/zbtest-XXXXXX", tu_env("TMPDIR", "/tmp"));
    if (!mkdtemp(out)) fail_msg("mkdtemp %s failed", out);
}

/* Removes a directory tree the tests made (no symlinks are ever followed:
 * lstat, and only directories we recurse into are real directories). */
static inline void tu_rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (!S_ISDIR(st.st_mode)) {
        unlink(path);
        return;
    }
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char child[PATH_MAX];
            int len = snprintf(child, sizeof child, "%s/%s", path, e->d_name);
            if (len > 0 && (size_t)len < sizeof child) tu_rmtree(child);
        }
        closedir(d);
    }
    rmdir(path);
}

/* ----------------------------------------------------------- growing text */

typedef struct tu_str {
    char *s;
    size_t len, cap;
} tu_str;

static inline void tu_str_printf(tu_str *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void tu_str_printf(tu_str *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    assert_true(need >= 0);
    if (b->len + (size_t)need + 1 > b->cap) {
        b->cap = (b->len + (size_t)need + 1) * 2;
        b->s = realloc(b->s, b->cap);
        assert_non_null(b->s);
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)need;
}

/* ---------------------------------------------------------- safetensors */

/* One tensor to serialise. `dtype` is the safetensors spelling ("F32",
 * "BF16", ...) and may be anything, so broken files can be made too. */
typedef struct tu_tensor {
    const char *name;
    const char *dtype;
    int ndim;
    int64_t shape[8];
    const void *data;
    size_t nbytes;
} tu_tensor;

/* A safetensors image from a header text and a data section, with the
 * header length field given separately (so it can lie). */
static inline uint8_t *tu_st_raw(const char *header, size_t hlen, uint64_t declared, const void *data, size_t dlen,
                                 size_t *size)
{
    *size = 8 + hlen + dlen;
    uint8_t *buf = malloc(*size ? *size : 1);
    assert_non_null(buf);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(declared >> (8 * i)); /* little-endian */
    memcpy(buf + 8, header, hlen);
    if (dlen) memcpy(buf + 8 + hlen, data, dlen);
    return buf;
}

/* The JSON header for tensors laid out back to back in list order. */
static inline char *tu_st_header(const tu_tensor *t, int n)
{
    tu_str h = {0};
    uint64_t at = 0;
    tu_str_printf(&h, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = 0; i < n; i++) {
        tu_str_printf(&h, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", t[i].name, t[i].dtype);
        for (int d = 0; d < t[i].ndim; d++) tu_str_printf(&h, d ? ",%lld" : "%lld", (long long)t[i].shape[d]);
        tu_str_printf(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)at,
                      (unsigned long long)(at + t[i].nbytes));
        at += t[i].nbytes;
    }
    tu_str_printf(&h, "}");
    return h.s;
}

/* A well-formed image. `align` pads the header with spaces so the data
 * section starts at a multiple of it (8, as Hugging Face writes; 1 = none). */
static inline uint8_t *tu_st_image(const tu_tensor *t, int n, size_t align, size_t *size)
{
    char *json = tu_st_header(t, n);
    size_t hlen = strlen(json);
    size_t padded = (8 + hlen + align - 1) / align * align - 8;
    size_t dlen = 0;
    for (int i = 0; i < n; i++) dlen += t[i].nbytes;
    char *header = malloc(padded + 1);
    assert_non_null(header);
    memcpy(header, json, hlen);
    memset(header + hlen, ' ', padded - hlen);
    uint8_t *data = malloc(dlen ? dlen : 1);
    assert_non_null(data);
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        if (t[i].nbytes) memcpy(data + at, t[i].data, t[i].nbytes);
        at += t[i].nbytes;
    }
    uint8_t *img = tu_st_raw(header, padded, padded, data, dlen, size);
    free(json);
    free(header);
    free(data);
    return img;
}

static inline void tu_st_write(const char *path, const tu_tensor *t, int n, size_t align)
{
    size_t size;
    uint8_t *img = tu_st_image(t, n, align, &size);
    tu_write_file(path, img, size);
    free(img);
}

/* ------------------------------------------------------- output capture */

/* Redirects a file descriptor (1 or 2) into a temporary file until
 * tu_capture_end, which returns what was written (the caller frees). */
typedef struct tu_capture {
    int fd, saved;
    char path[PATH_MAX];
} tu_capture;

static inline void tu_capture_begin(tu_capture *c, int fd)
{
    fflush(stdout);
    fflush(stderr);
    c->fd = fd;
    snprintf(c->path, sizeof c->path, "%s/zbcap-XXXXXX", tu_env("TMPDIR", "/tmp"));
    int tmp = mkstemp(c->path);
    assert_true(tmp >= 0);
    c->saved = dup(fd);
    assert_true(c->saved >= 0);
    assert_true(dup2(tmp, fd) >= 0);
    close(tmp);
}

static inline char *tu_capture_end(tu_capture *c)
{
    fflush(stdout);
    fflush(stderr);
    dup2(c->saved, c->fd);
    close(c->saved);
    char *text = tu_read_file(c->path, NULL);
    unlink(c->path);
    return text;
}

/* Lines in a text (a final line without '\n' counts too). */
static inline int tu_count_lines(const char *s)
{
    int n = 0;
    for (const char *p = s; *p; p++)
        if (*p == '\n' || p[1] == '\0') n++;
    return n;
}

#endif /* ZB_TEST_UTIL_H */
