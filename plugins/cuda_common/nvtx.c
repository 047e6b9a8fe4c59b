/* NVTX ranges through the header-only NVTX3 API of the CUDA toolkit. The
 * handles are kept as void * in nvtx.h so the rest of the engine does not
 * include NVTX (its header-only implementation lives in this one file). */
#include "nvtx.h"

#include <nvtx3/nvToolsExt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static const char *const step_names[ZBE_STEP_RANGES] = {"prefill", "decode", "embed", "logits"};
static const char *const layer_phase[ZBE_RANGES_PER_LAYER] = {"mamba", "attention", "mlp"};

zb_status zbe_nvtx_init(zbe_nvtx *n, const zb_model_desc *d, int enabled, zb_error *err)
{
    memset(n, 0, sizeof *n);
    if (!enabled) return ZB_OK;
    const int count = d->n_layers * ZBE_RANGES_PER_LAYER + ZBE_STEP_RANGES;
    n->names = calloc((size_t)count, sizeof *n->names);
    if (!n->names) return zbe_fail(err, ZB_ERR_OOM, "out of host memory for %d NVTX range names", count);
    nvtxDomainHandle_t dom = nvtxDomainCreateA("zbench");
    n->domain = dom;
    n->n_layers = d->n_layers;
    char name[48];
    for (int l = 0; l < d->n_layers; l++)
        for (int r = 0; r < ZBE_RANGES_PER_LAYER; r++) {
            snprintf(name, sizeof name, "layer %d %s", l, layer_phase[r]);
            n->names[l * ZBE_RANGES_PER_LAYER + r] = nvtxDomainRegisterStringA(dom, name);
        }
    for (int r = 0; r < ZBE_STEP_RANGES; r++)
        n->names[d->n_layers * ZBE_RANGES_PER_LAYER + r] = nvtxDomainRegisterStringA(dom, step_names[r]);
    return ZB_OK;
}

void zbe_nvtx_free(zbe_nvtx *n)
{
    if (n->domain) nvtxDomainDestroy((nvtxDomainHandle_t)n->domain);
    free(n->names);
    memset(n, 0, sizeof *n);
}

/* The trace part of each engine step range. */
static const zb_trace_part step_part[ZBE_STEP_RANGES] = {ZB_PART_STEP, ZB_PART_STEP, ZB_PART_EMBED, ZB_PART_LOGITS};
static const zb_trace_part layer_part[ZBE_RANGES_PER_LAYER] = {ZB_PART_MAMBA, ZB_PART_ATTENTION, ZB_PART_MLP};

static void push(const zbe_nvtx *n, int index)
{
    nvtxEventAttributes_t a;
    memset(&a, 0, sizeof a);
    a.version = NVTX_VERSION;
    a.size = NVTX_EVENT_ATTRIB_STRUCT_SIZE;
    a.messageType = NVTX_MESSAGE_TYPE_REGISTERED;
    a.message.registered = (nvtxStringHandle_t)n->names[index];
    nvtxDomainRangePushEx((nvtxDomainHandle_t)n->domain, &a);
}

/* NVTX first, then the hook, and the reverse on pop, so the two stacks
 * nest alike. */
void zbe_nvtx_push_layer(const zbe_nvtx *n, int layer, zbe_range r)
{
    if (n->domain) push(n, layer * ZBE_RANGES_PER_LAYER + (int)r);
    if (n->hooks.push) n->hooks.push(n->hooks.ctx, layer, layer_part[r]);
}

void zbe_nvtx_push_step(const zbe_nvtx *n, zbe_step_range r)
{
    if (n->domain) push(n, n->n_layers * ZBE_RANGES_PER_LAYER + (int)r);
    if (n->hooks.push) n->hooks.push(n->hooks.ctx, ZB_LAYER_NONE, step_part[r]);
}

void zbe_nvtx_pop(const zbe_nvtx *n)
{
    if (n->hooks.pop) n->hooks.pop(n->hooks.ctx);
    if (n->domain) nvtxDomainRangePop((nvtxDomainHandle_t)n->domain);
}
