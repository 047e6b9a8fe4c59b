/*
 * model.safetensors.index.json, the map of a sharded checkpoint: which
 * shard file holds each tensor. Every byte is untrusted: shard names must
 * be plain file names (no path, no leading dot), and a tensor may be listed
 * once only. Parsing is separate from opening the shards so that the parser
 * can be fuzzed on its own (tests/fuzz/fuzz_shard_index.c).
 */
#ifndef ZB_SHARD_INDEX_H
#define ZB_SHARD_INDEX_H

#include <stddef.h>

#include "zbench_plugin.h"

#define ZB_INDEX_MAX_BYTES (64u << 20)
#define ZB_INDEX_MAX_SHARDS 4096

typedef struct zb_shard_entry {
    char *tensor;
    int shard; /* index into zb_shard_index.shards */
} zb_shard_entry;

typedef struct zb_shard_index {
    char **shards; /* distinct file names, in order of first mention */
    int n_shards;
    zb_shard_entry *entries; /* in file order */
    int n_entries;
} zb_shard_index;

/* Parses `len` bytes of index JSON (need not be NUL-terminated); `label`
 * names the file in messages. On failure *ix is empty and needs no free. */
zb_status zb_shard_index_parse(const char *text, size_t len, const char *label, zb_shard_index *ix, zb_error *err);
void zb_shard_index_free(zb_shard_index *ix);

#endif
