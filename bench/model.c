/* Resolving --model: checkpoint directory, preset, or config + synthetic. */
#include "model.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "zb_util.h"

static zb_status synthesize(zb_model *m, zb_error *err)
{
    int n = zb_weight_specs(&m->desc, NULL, 0);
    zb_weight_spec *specs = malloc(sizeof *specs * (size_t)n);
    m->tensors = calloc((size_t)n, sizeof *m->tensors);
    if (!specs || !m->tensors) {
        free(specs);
        return zb_fail(err, ZB_ERR_OOM, "out of memory for %d tensors", n);
    }
    zb_weight_specs(&m->desc, specs, n);
    for (int i = 0; i < n; i++) {
        zb_tensor *t = &m->tensors[i];
        t->layer = specs[i].layer;
        t->role = specs[i].role;
        t->dtype = m->desc.weight_dtype;
        t->ndim = specs[i].ndim;
        memcpy(t->shape, specs[i].shape, sizeof t->shape);
        t->data = NULL;
        zb_synth_params(&m->desc, &specs[i], m->seed, &t->synth);
    }
    m->n_tensors = n;
    m->synthetic = 1;
    free(specs);
    return ZB_OK;
}

static void set_name(zb_model_desc *d, const char *name)
{
    snprintf(d->name, sizeof d->name, "%s", name);
}

static zb_status load(const char *spec, const char *config_path, zb_model *m, zb_error *err)
{
    struct stat st;
    if (config_path) {
        zb_status s = zb_desc_from_config(config_path, &m->desc, err);
        if (s != ZB_OK) return s;
        snprintf(m->source, sizeof m->source, "%s", config_path);
        /* name the model after the directory holding the config */
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", config_path);
        char *slash = strrchr(dir, '/');
        set_name(&m->desc, slash ? (slash[0] = '\0', zb_basename(dir)) : "config");
        return synthesize(m, err);
    }
    if (stat(spec, &st) == 0 && S_ISDIR(st.st_mode)) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/config.json", spec);
        zb_status s = zb_desc_from_config(path, &m->desc, err);
        if (s != ZB_OK) return s;
        snprintf(m->source, sizeof m->source, "%s", spec);
        set_name(&m->desc, zb_basename(spec));
        return zb_checkpoint_bind(m, spec, err);
    }
    const zb_preset *p = zb_preset_find(spec);
    if (!p) {
        char names[512] = "";
        size_t used = 0;
        for (int i = 0; i < zb_preset_count() && used < sizeof names; i++) {
            int w = snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", zb_preset_at(i)->name);
            if (w < 0) break;
            used += (size_t)w;
        }
        return zb_fail(err, ZB_ERR_INVALID, "unknown model '%s': not a checkpoint directory nor a preset (%s)", spec,
                       names);
    }
    p->fill(&m->desc);
    set_name(&m->desc, p->name);
    snprintf(m->source, sizeof m->source, "%s", p->name);
    return synthesize(m, err);
}

zb_status zb_model_load(const char *spec, const char *config_path, uint64_t seed, zb_model *m, zb_error *err)
{
    memset(m, 0, sizeof *m);
    m->seed = seed;
    zb_status s = load(spec, config_path, m, err);
    if (s != ZB_OK) {
        zb_model_free(m);
        return s;
    }
    m->weights.count = m->n_tensors;
    m->weights.tensors = m->tensors;
    for (int i = 0; i < m->n_tensors; i++) m->n_params += zb_tensor_numel(&m->tensors[i]);
    return ZB_OK;
}

void zb_model_free(zb_model *m)
{
    for (int i = 0; i < m->n_files; i++) st_close(&m->files[i]);
    free(m->files);
    for (int i = 0; i < m->n_copies; i++) free(m->copies[i]);
    free(m->copies);
    free(m->tensors);
    memset(m, 0, sizeof *m);
}
