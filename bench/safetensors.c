#include "safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zb_util.h"

static const struct {
    const char *name;
    st_dtype dtype;
    size_t size;
} dtypes[] = {
    {"F64", ST_F64, 8},        {"F32", ST_F32, 4},   {"F16", ST_F16, 2},   {"BF16", ST_BF16, 2},
    {"I64", ST_I64, 8},        {"I32", ST_I32, 4},   {"I16", ST_I16, 2},   {"I8", ST_I8, 1},
    {"U8", ST_U8, 1},          {"BOOL", ST_BOOL, 1}, {"F8_E4M3", ST_F8_E4M3, 1},
    {"F8_E5M2", ST_F8_E5M2, 1}, {"U16", ST_U16, 2},  {"U32", ST_U32, 4},   {"U64", ST_U64, 8},
};

const char *st_dtype_name(st_dtype d)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (dtypes[i].dtype == d) return dtypes[i].name;
    return "?";
}

size_t st_dtype_size(st_dtype d)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (dtypes[i].dtype == d) return dtypes[i].size;
    return 0;
}

int st_to_zb_dtype(st_dtype d, zb_dtype *out)
{
    switch (d) {
    case ST_F32: *out = ZB_DTYPE_F32; return 1;
    case ST_F16: *out = ZB_DTYPE_F16; return 1;
    case ST_BF16: *out = ZB_DTYPE_BF16; return 1;
    case ST_I32: *out = ZB_DTYPE_I32; return 1;
    default: return 0;
    }
}

static int parse_u64(const cJSON *j, uint64_t *out)
{
    /* JSON numbers arrive as doubles: accept only exact non-negative integers
     * below 2^53, where a double is exact */
    if (!cJSON_IsNumber(j)) return 0;
    double v = j->valuedouble;
    if (!(v >= 0.0) || v > 9007199254740992.0 || v != (double)(uint64_t)v) return 0;
    *out = (uint64_t)v;
    return 1;
}

static int cmp_begin(const void *a, const void *b)
{
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end < y->end ? -1 : x->end > y->end);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp((*(const st_tensor *const *)a)->name, (*(const st_tensor *const *)b)->name);
}

static void free_tensors(st_file *f)
{
    for (int i = 0; i < f->n; i++) free(f->tensors[i].name);
    free(f->tensors);
    free(f->by_name);
    f->tensors = NULL;
    f->by_name = NULL;
    f->n = 0;
}

static zb_status parse_entry(const cJSON *e, st_tensor *t, uint64_t data_size, const char *label, zb_error *err)
{
    const char *name = e->string;
    if (!cJSON_IsObject(e)) return zb_fail(err, ZB_ERR_INVALID, "%s: tensor '%s': entry is not an object", label, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt)) return zb_fail(err, ZB_ERR_INVALID, "%s: tensor '%s': missing dtype", label, name);
    size_t i, ndt = sizeof dtypes / sizeof dtypes[0];
    for (i = 0; i < ndt; i++)
        if (strcmp(dtypes[i].name, dt->valuestring) == 0) break;
    if (i == ndt)
        return zb_fail(err, ZB_ERR_INVALID, "%s: tensor '%s': unknown dtype '%.32s'", label, name, dt->valuestring);
    t->dtype = dtypes[i].dtype;
    if (!cJSON_IsArray(shape)) return zb_fail(err, ZB_ERR_INVALID, "%s: tensor '%s': missing shape", label, name);
    int nd = cJSON_GetArraySize(shape);
    if (nd > ST_MAX_DIMS)
        return zb_fail(err, ZB_ERR_INVALID, "%s: tensor '%s': %d dimensions, at most %d", label, name, nd, ST_MAX_DIMS);
    t->ndim = nd;
    uint64_t numel = 1;
    int too_big = 0, empty = 0;
    for (int d = 0; d < nd; d++) {
        uint64_t v;
        if (!parse_u64(cJSON_GetArrayItem(shape, d), &v))
            return zb_fail(err, ZB_ERR_INVALID, "%s: tensor '%s': shape[%d] is not a non-negative integer", label,
                           name, d);
        t->shape[d] = (int64_t)v;
        empty |= v == 0;
        /* a product past the file's size can only be legal when some dim is 0 */
        if (!too_big && !zb_mul_ok(numel, v, data_size, &numel)) too_big = 1;
    }
    if (empty) numel = 0;
    else if (too_big)
        return zb_fail(err, ZB_ERR_INVALID, "%s: tensor '%s': shape larger than the file", label, name);
    uint64_t begin, end, nbytes;
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 || !parse_u64(cJSON_GetArrayItem(offs, 0), &begin) ||
        !parse_u64(cJSON_GetArrayItem(offs, 1), &end))
        return zb_fail(err, ZB_ERR_INVALID, "%s: tensor '%s': data_offsets must be two non-negative integers", label,
                       name);
    if (begin > end || end > data_size)
        return zb_fail(err, ZB_ERR_INVALID,
                       "%s: tensor '%s': data_offsets [%llu, %llu] outside the %llu bytes of data", label, name,
                       (unsigned long long)begin, (unsigned long long)end, (unsigned long long)data_size);
    if (!zb_mul_ok(numel, dtypes[i].size, UINT64_MAX, &nbytes) || nbytes != end - begin)
        return zb_fail(err, ZB_ERR_INVALID, "%s: tensor '%s': %llu bytes stored, shape x %s needs %llu", label,
                       name, (unsigned long long)(end - begin), dtypes[i].name, (unsigned long long)nbytes);
    t->begin = begin;
    t->end = end;
    return ZB_OK;
}

zb_status st_parse(st_file *f, const uint8_t *buf, size_t size, const char *label, zb_error *err)
{
    /* f describes only the table: the caller owns buf (st_open records its
     * mapping after a successful parse) */
    memset(f, 0, sizeof *f);
    if (size < 8) return zb_fail(err, ZB_ERR_INVALID, "%s: truncated: %zu bytes, no header length", label, size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | buf[i]; /* little-endian u64 */
    if (hlen > ST_MAX_HEADER)
        return zb_fail(err, ZB_ERR_INVALID, "%s: header length %llu exceeds the %u-byte limit", label,
                       (unsigned long long)hlen, ST_MAX_HEADER);
    if (hlen > size - 8)
        return zb_fail(err, ZB_ERR_INVALID, "%s: header length %llu runs past the end of the %zu-byte file", label,
                       (unsigned long long)hlen, size);
    const char *json = (const char *)buf + 8;
    const char *end_parse = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, (size_t)hlen, &end_parse, 0);
    if (!root) return zb_fail(err, ZB_ERR_INVALID, "%s: header is not valid JSON", label);
    /* only padding spaces (0x20) may follow the JSON object in the header */
    for (const char *p = end_parse; p && p < json + hlen; p++)
        if (*p != ' ') {
            cJSON_Delete(root);
            return zb_fail(err, ZB_ERR_INVALID, "%s: header has bytes after its JSON object", label);
        }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return zb_fail(err, ZB_ERR_INVALID, "%s: header is not a JSON object", label);
    }
    const uint64_t data_size = size - 8 - hlen;
    const uint8_t *data = buf + 8 + hlen;
    int count = 0;
    for (const cJSON *e = root->child; e; e = e->next)
        if (strcmp(e->string, "__metadata__") != 0) count++;
    f->tensors = calloc(count ? (size_t)count : 1, sizeof *f->tensors);
    if (!f->tensors) {
        cJSON_Delete(root);
        return zb_fail(err, ZB_ERR_OOM, "%s: out of memory for %d tensors", label, count);
    }
    zb_status st = ZB_OK;
    for (const cJSON *e = root->child; e && st == ZB_OK; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) continue;
        st_tensor *t = &f->tensors[f->n];
        t->name = strdup(e->string);
        if (!t->name) {
            st = zb_fail(err, ZB_ERR_OOM, "%s: out of memory", label);
            break;
        }
        f->n++;
        st = parse_entry(e, t, data_size, label, err);
        if (st == ZB_OK) t->data = data + t->begin;
    }
    cJSON_Delete(root);
    if (st != ZB_OK) {
        free_tensors(f);
        return st;
    }
    /* byte ranges disjoint, names unique; both checks sort, so a header
     * with a million entries costs n log n, not n^2 */
    f->by_name = malloc(sizeof *f->by_name * (f->n ? (size_t)f->n : 1));
    const st_tensor **order = malloc(sizeof *order * (f->n ? (size_t)f->n : 1));
    if (!order || !f->by_name) {
        free(order);
        free_tensors(f);
        return zb_fail(err, ZB_ERR_OOM, "%s: out of memory", label);
    }
    for (int i = 0; i < f->n; i++) order[i] = f->by_name[i] = &f->tensors[i];
    qsort(order, (size_t)f->n, sizeof *order, cmp_begin);
    for (int i = 1; i < f->n && st == ZB_OK; i++)
        if (order[i]->begin < order[i - 1]->end)
            st = zb_fail(err, ZB_ERR_INVALID, "%s: tensors '%s' and '%s' overlap", label, order[i - 1]->name,
                         order[i]->name);
    free(order);
    qsort(f->by_name, (size_t)f->n, sizeof *f->by_name, cmp_name);
    for (int i = 1; i < f->n && st == ZB_OK; i++)
        if (strcmp(f->by_name[i]->name, f->by_name[i - 1]->name) == 0)
            st = zb_fail(err, ZB_ERR_INVALID, "%s: tensor '%s' appears twice", label, f->by_name[i]->name);
    if (st != ZB_OK) free_tensors(f);
    return st;
}

zb_status st_open(st_file *f, const char *path, zb_error *err)
{
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return zb_fail(err, ZB_ERR_INVALID, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return zb_fail(err, ZB_ERR_INVALID, "%s: not a regular file", path);
    }
    f->size = (size_t)st.st_size;
    if (f->size == 0) {
        close(fd);
        return zb_fail(err, ZB_ERR_INVALID, "%s: truncated: empty file", path);
    }
    const size_t size = f->size;
    void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return zb_fail(err, ZB_ERR_INVALID, "%s: cannot map: %s", path, strerror(errno));
    char *owned_path = strdup(path);
    zb_status s = owned_path ? st_parse(f, p, size, path, err) : zb_fail(err, ZB_ERR_OOM, "out of memory");
    if (s != ZB_OK) {
        munmap(p, size);
        free(owned_path);
        memset(f, 0, sizeof *f);
        return s;
    }
    f->map = p;
    f->size = size;
    f->path = owned_path;
    return ZB_OK;
}

void st_close(st_file *f)
{
    free_tensors(f);
    if (f->map) munmap(f->map, f->size);
    free(f->path);
    memset(f, 0, sizeof *f);
}

const st_tensor *st_find(const st_file *f, const char *name)
{
    if (!f->by_name) return NULL;
    const st_tensor key = {.name = (char *)name}, *k = &key;
    const st_tensor **hit = bsearch(&k, f->by_name, (size_t)f->n, sizeof *f->by_name, cmp_name);
    return hit ? *hit : NULL;
}
