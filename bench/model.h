/*
 * Models as the driver sees them: a description (zb_model_desc, from a
 * config.json or a preset) plus a weight table (from safetensors or the
 * synthetic generator), ready to hand to any plugin.
 */
#ifndef ZB_MODEL_H
#define ZB_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "safetensors.h"
#include "zbench_plugin.h"

/* ---------------------------------------------------- descriptions */

/* Parses a Hugging Face config.json (zamba, llama, mistral). */
zb_status zb_desc_from_config(const char *path, zb_model_desc *d, zb_error *err);
/* Same from text already in memory; `label` names it in messages. */
zb_status zb_desc_from_json(const char *json, size_t len, const char *label, zb_model_desc *d, zb_error *err);
/* Hugging Face's default Zamba schedule: layers 0, 1 mamba, 2 hybrid, then
 * hybrid where (i - 3) % period == offset. */
void zb_zamba_schedule(int n_layers, int period, int offset, uint8_t *kinds);
/* Checks internal consistency (sizes, divisibility, bounds). */
zb_status zb_desc_validate(const zb_model_desc *d, const char *label, zb_error *err);

/* ----------------------------------------------------------- presets */

typedef struct zb_preset {
    const char *name;
    const char *about;
    void (*fill)(zb_model_desc *d);
} zb_preset;

int zb_preset_count(void);
const zb_preset *zb_preset_at(int i);
const zb_preset *zb_preset_find(const char *name);

/* ---------------------------------------------------- weight tables */

/* The (layer, role, shape) list a description needs, in a fixed order. */
typedef struct zb_weight_spec {
    int32_t layer;
    zb_role role;
    int32_t ndim;
    int64_t shape[4];
    int required; /* biases are required only when the description says so */
} zb_weight_spec;

/* Fills up to max specs; returns how many the description needs. */
int zb_weight_specs(const zb_model_desc *d, zb_weight_spec *out, int max);
const char *zb_role_name(zb_role r);
/* Synthetic values: offset/scale chosen per role so activations stay finite
 * and non-trivial through every layer. */
void zb_synth_params(const zb_model_desc *d, const zb_weight_spec *s, uint64_t seed, zb_synth *out);

/* ------------------------------------------------------------ models */

typedef struct zb_model {
    zb_model_desc desc;
    zb_tensor *tensors;
    int n_tensors;
    zb_weights weights;
    st_file *files; /* open checkpoint shards */
    int n_files;
    void **copies;  /* aligned copies of unaligned tensors */
    int n_copies;
    char source[1024]; /* preset name or checkpoint directory */
    int synthetic;
    uint64_t seed;
    int64_t n_params;
} zb_model;

/* Resolves `spec`: a checkpoint directory (config.json + model.safetensors
 * or model.safetensors.index.json), or a preset name (synthetic weights).
 * With config_path, the shape comes from that config.json and the weights
 * are synthetic. */
zb_status zb_model_load(const char *spec, const char *config_path, uint64_t seed, zb_model *m, zb_error *err);
void zb_model_free(zb_model *m);

/* Maps checkpoint tensors onto the description's weight specs. */
zb_status zb_checkpoint_bind(zb_model *m, const char *dir, zb_error *err);

#endif
