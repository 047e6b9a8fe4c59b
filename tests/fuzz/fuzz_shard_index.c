/*
 * libFuzzer target: the sharded-checkpoint index parser
 * (model.safetensors.index.json). An accepted index must name only plain
 * file names (the loader joins them to the checkpoint directory), list
 * each tensor once, and point every entry at one of its shards.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_target.h"
#include "shard_index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    zb_shard_index ix;
    zb_error err = {{0}};
    if (zb_shard_index_parse(text, size, "fuzz.index.json", &ix, &err) != ZB_OK) {
        fuzz_check_message(&err);
        fuzz_check(ix.n_entries == 0 && ix.n_shards == 0 && !ix.entries && !ix.shards,
                   "a rejected index left entries behind");
        free(text);
        return 0;
    }
    fuzz_check(ix.n_entries > 0 && ix.n_shards > 0 && ix.n_shards <= ix.n_entries, "%d entries in %d shards",
               ix.n_entries, ix.n_shards);
    fuzz_check(ix.n_shards <= ZB_INDEX_MAX_SHARDS, "%d shards", ix.n_shards);
    for (int i = 0; i < ix.n_shards; i++) {
        const char *s = ix.shards[i];
        fuzz_check(s[0] != '\0' && s[0] != '.' && !strchr(s, '/') && strlen(s) <= 255, "shard name '%s'", s);
        for (int j = 0; j < i; j++) fuzz_check(strcmp(s, ix.shards[j]) != 0, "shard '%s' twice", s);
    }
    int used_last = 0;
    for (int i = 0; i < ix.n_entries; i++) {
        fuzz_check(ix.entries[i].tensor != NULL, "entry %d has no name", i);
        fuzz_check(ix.entries[i].shard >= 0 && ix.entries[i].shard < ix.n_shards, "entry %d: shard %d", i,
                   ix.entries[i].shard);
        used_last |= ix.entries[i].shard == ix.n_shards - 1;
        /* quadratic, so only on small indexes: the parser itself sorts */
        for (int j = 0; j < i && ix.n_entries <= 2000; j++)
            fuzz_check(strcmp(ix.entries[i].tensor, ix.entries[j].tensor) != 0, "tensor '%s' twice",
                       ix.entries[i].tensor);
    }
    fuzz_check(used_last, "a shard no entry uses");
    zb_shard_index_free(&ix);
    free(text);
    return 0;
}
