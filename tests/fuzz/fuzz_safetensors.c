/*
 * libFuzzer target: the safetensors parser (st_parse) on arbitrary bytes,
 * exactly as st_open hands it a mapped file. Not crashing is not enough: a
 * rejected input must come with a one-line message, and an accepted one
 * must keep every promise safetensors.h makes, since the loader and the
 * plugins trust those without checking again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_target.h"
#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t size)
{
    st_file f;
    zb_error err = {{0}};
    if (st_parse(&f, buf, size, "fuzz", &err) != ZB_OK) {
        fuzz_check_message(&err);
        fuzz_check(f.n == 0 && f.tensors == NULL && f.by_name == NULL, "a rejected file left a table behind");
        return 0;
    }
    fuzz_check(size >= 8, "accepted a file without a header length");
    for (int i = 0; i < f.n; i++) {
        const st_tensor *t = &f.tensors[i];
        fuzz_check(t->ndim >= 0 && t->ndim <= ST_MAX_DIMS, "tensor %d: %d dimensions", i, t->ndim);
        uint64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            fuzz_check(t->shape[d] >= 0, "tensor %d: negative dimension", i);
            numel = t->shape[d] == 0 || numel == 0 ? 0 : numel * (uint64_t)t->shape[d];
        }
        fuzz_check(t->begin <= t->end, "tensor %d: begin after end", i);
        fuzz_check(numel * st_dtype_size(t->dtype) == t->end - t->begin, "tensor %d: size does not match shape", i);
        fuzz_check(t->data >= buf && t->data + (t->end - t->begin) <= buf + size, "tensor %d: bytes outside the file",
                   i);
        fuzz_check(st_find(&f, t->name) == t, "tensor %d: st_find does not find it", i);
        for (int j = 0; j < i; j++) {
            const st_tensor *u = &f.tensors[j];
            fuzz_check(t->end <= u->begin || u->end <= t->begin || t->begin == t->end || u->begin == u->end,
                       "tensors %d and %d overlap", j, i);
        }
    }
    st_close(&f);
    return 0;
}
