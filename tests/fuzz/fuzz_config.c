/*
 * libFuzzer target: the config.json reader (zb_desc_from_json). An accepted
 * config must describe a model the rest of zbench can size without
 * overflow: it passes zb_desc_validate again, and every weight it implies
 * has positive dimensions and an element count well inside 64 bits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_target.h"
#include "model.h"
#include "zb_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    zb_model_desc d;
    zb_error err = {{0}};
    zb_status s = zb_desc_from_json(text, size, "fuzz/config.json", &d, &err);
    free(text);
    if (s != ZB_OK) {
        fuzz_check_message(&err);
        return 0;
    }
    fuzz_check(zb_desc_validate(&d, "fuzz", &err) == ZB_OK, "accepted, then invalid: %s", err.msg);
    fuzz_check(d.vocab_size > 0 && d.hidden_size > 0 && d.n_layers > 0, "accepted an empty model");
    const int n = zb_weight_specs(&d, NULL, 0);
    fuzz_check(n > 0, "no weights");
    zb_weight_spec *specs = calloc((size_t)n, sizeof *specs);
    if (!specs) abort();
    fuzz_check(zb_weight_specs(&d, specs, n) == n, "weight count changed between calls");
    for (int i = 0; i < n; i++) {
        uint64_t numel = 1;
        fuzz_check(specs[i].ndim >= 1 && specs[i].ndim <= 4, "weight %d: %d dimensions", i, specs[i].ndim);
        for (int k = 0; k < specs[i].ndim; k++) {
            fuzz_check(specs[i].shape[k] > 0, "weight %d (%s): dimension %d is %lld", i,
                       zb_role_name(specs[i].role), k, (long long)specs[i].shape[k]);
            fuzz_check(zb_mul_ok(numel, (uint64_t)specs[i].shape[k], (uint64_t)1 << 48, &numel),
                       "weight %d (%s): more than 2^48 elements", i, zb_role_name(specs[i].role));
        }
    }
    free(specs);
    return 0;
}
