/*
 * safetensors reader. Every byte of the file is untrusted: the header is
 * validated in full (size bound, JSON, dtypes, shapes, offsets inside the
 * file, no overlaps, byte length = elements x dtype size) before any tensor
 * is handed out.
 */
#ifndef ZB_SAFETENSORS_H
#define ZB_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "zbench_plugin.h"

#define ST_MAX_HEADER (100u << 20) /* 100 MiB of JSON is already absurd */
#define ST_MAX_DIMS 8

typedef enum st_dtype {
    ST_F64, ST_F32, ST_F16, ST_BF16, ST_I64, ST_I32, ST_I16, ST_I8, ST_U8, ST_BOOL,
    ST_F8_E4M3, ST_F8_E5M2, ST_U16, ST_U32, ST_U64
} st_dtype;

typedef struct st_tensor {
    char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    uint64_t begin, end; /* byte offsets in the data section */
    const uint8_t *data; /* begin inside the mapped file */
} st_tensor;

typedef struct st_file {
    char *path;
    uint8_t *map;   /* the whole file mapped read-only by st_open; NULL after st_parse */
    size_t size;
    st_tensor *tensors;
    int n;
    const st_tensor **by_name; /* the tensors sorted by name, for st_find */
} st_file;

/* Validates a buffer holding a whole safetensors file (the parser proper,
 * also the fuzzing entry point). Initialises all of *f; on success
 * f->tensors point into buf, which f does not own (st_close then frees only
 * the table). `label` names the file in messages. */
zb_status st_parse(st_file *f, const uint8_t *buf, size_t size, const char *label, zb_error *err);

/* Maps and parses a file. */
zb_status st_open(st_file *f, const char *path, zb_error *err);
void st_close(st_file *f);

const st_tensor *st_find(const st_file *f, const char *name);
const char *st_dtype_name(st_dtype d);
size_t st_dtype_size(st_dtype d);
/* Maps F32/F16/BF16/I32 onto the plugin ABI's dtypes; 0 when unsupported. */
int st_to_zb_dtype(st_dtype d, zb_dtype *out);

#endif
