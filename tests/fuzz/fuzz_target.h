/*
 * What every fuzz target shares: the libFuzzer entry point, and checks that
 * turn a broken promise into an abort, which libFuzzer (or the replay
 * driver under make test) reports as a crash with the input that caused it.
 */
#ifndef ZB_FUZZ_TARGET_H
#define ZB_FUZZ_TARGET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zbench_plugin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define fuzz_check(cond, ...)                                                                                   \
    do {                                                                                                        \
        if (!(cond)) {                                                                                          \
            fprintf(stderr, "%s:%d: broken promise: ", __FILE__, __LINE__);                                    \
            fprintf(stderr, __VA_ARGS__);                                                                       \
            fputc('\n', stderr);                                                                                \
            abort();                                                                                            \
        }                                                                                                       \
    } while (0)

/* Bad input gets one non-empty line (the project's error contract). */
static inline void fuzz_check_message(const zb_error *err)
{
    fuzz_check(err->msg[0] != '\0', "rejected without a message");
    fuzz_check(strchr(err->msg, '\n') == NULL, "message is more than one line: %s", err->msg);
}

/* The text readers get their input from zb_read_file: a heap copy with a
 * NUL after the last byte. Giving them the same (and nothing more) lets
 * ASan see any read past the end. */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) abort();
    if (size) memcpy(text, data, size);
    text[size] = '\0';
    return text;
}

#endif
