#include "shard_index.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "zb_util.h"

void zb_shard_index_free(zb_shard_index *ix)
{
    for (int i = 0; i < ix->n_shards; i++) free(ix->shards[i]);
    for (int i = 0; i < ix->n_entries; i++) free(ix->entries[i].tensor);
    free(ix->shards);
    free(ix->entries);
    memset(ix, 0, sizeof *ix);
}

/* A shard name names a file next to the index, nothing else: no directory
 * part, no "." or "..", no hidden file. */
static int plain_file_name(const char *f)
{
    return f && *f && f[0] != '.' && !strchr(f, '/') && strlen(f) <= 255;
}

typedef struct keyed {
    const char *key;
    int at;
} keyed;

static int cmp_keyed(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->at > y->at) - (x->at < y->at); /* stable: first mention first */
}

/* Copies the map's entries and numbers the distinct shards. Sorting keeps
 * this O(n log n): the entry count is bounded only by the file size. */
static zb_status collect(const cJSON *map, int n, const char *label, zb_shard_index *ix, zb_error *err)
{
    ix->entries = calloc((size_t)n, sizeof *ix->entries);
    keyed *by_shard = malloc(sizeof *by_shard * (size_t)n);
    keyed *by_name = malloc(sizeof *by_name * (size_t)n);
    zb_status s = ZB_OK;
    if (!ix->entries || !by_shard || !by_name) s = zb_fail(err, ZB_ERR_OOM, "%s: out of memory", label);
    int i = 0;
    for (const cJSON *e = map->child; e && s == ZB_OK; e = e->next, i++) {
        const char *f = cJSON_IsString(e) ? e->valuestring : NULL;
        if (!plain_file_name(f)) {
            s = zb_fail(err, ZB_ERR_INVALID, "%s: tensor '%.80s' maps to an invalid shard name", label, e->string);
            break;
        }
        if (!(ix->entries[i].tensor = strdup(e->string))) {
            s = zb_fail(err, ZB_ERR_OOM, "%s: out of memory", label);
            break;
        }
        ix->n_entries = i + 1;
        by_shard[i] = (keyed){f, i};
        by_name[i] = (keyed){ix->entries[i].tensor, i};
    }
    if (s == ZB_OK) {
        qsort(by_name, (size_t)n, sizeof *by_name, cmp_keyed);
        for (int k = 1; k < n && s == ZB_OK; k++)
            if (!strcmp(by_name[k].key, by_name[k - 1].key))
                s = zb_fail(err, ZB_ERR_INVALID, "%s: tensor '%.80s' is listed twice", label, by_name[k].key);
    }
    if (s == ZB_OK) {
        qsort(by_shard, (size_t)n, sizeof *by_shard, cmp_keyed);
        for (int k = 0; k < n && s == ZB_OK; k++) {
            if (k == 0 || strcmp(by_shard[k].key, by_shard[k - 1].key) != 0) {
                if (ix->n_shards == ZB_INDEX_MAX_SHARDS) {
                    s = zb_fail(err, ZB_ERR_INVALID, "%s: more than %d shards", label, ZB_INDEX_MAX_SHARDS);
                    break;
                }
                if (!ix->shards && !(ix->shards = calloc(ZB_INDEX_MAX_SHARDS, sizeof *ix->shards))) {
                    s = zb_fail(err, ZB_ERR_OOM, "%s: out of memory", label);
                    break;
                }
                if (!(ix->shards[ix->n_shards] = strdup(by_shard[k].key))) {
                    s = zb_fail(err, ZB_ERR_OOM, "%s: out of memory", label);
                    break;
                }
                ix->n_shards++;
            }
            ix->entries[by_shard[k].at].shard = ix->n_shards - 1;
        }
    }
    free(by_shard);
    free(by_name);
    return s;
}

zb_status zb_shard_index_parse(const char *text, size_t len, const char *label, zb_shard_index *ix, zb_error *err)
{
    memset(ix, 0, sizeof *ix);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    const cJSON *map = root ? cJSON_GetObjectItemCaseSensitive(root, "weight_map") : NULL;
    if (!cJSON_IsObject(map)) {
        cJSON_Delete(root);
        return zb_fail(err, ZB_ERR_INVALID, "%s: not valid JSON with a 'weight_map' object", label);
    }
    /* one JSON document: only white space may follow it */
    for (const char *p = end; p && p < text + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            cJSON_Delete(root);
            return zb_fail(err, ZB_ERR_INVALID, "%s: bytes after the JSON object", label);
        }
    int n = 0;
    for (const cJSON *e = map->child; e; e = e->next) n++;
    if (n == 0) {
        cJSON_Delete(root);
        return zb_fail(err, ZB_ERR_INVALID, "%s: 'weight_map' lists no tensors", label);
    }
    zb_status s = collect(map, n, label, ix, err);
    cJSON_Delete(root);
    if (s != ZB_OK) zb_shard_index_free(ix);
    return s;
}
