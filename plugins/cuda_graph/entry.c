/* cuda_graph: the CUDA engine (plugins/cuda_common) with every decode step,
 * and repeated prefill chunks, captured once as CUDA graphs and replayed
 * (cuda_common/graph.c). Kernels, weights and numerics are cuda_fused's:
 * the two plugins' logits agree bit for bit. */
#include <string.h>

#include "cuda_common/engine.h"

static zb_status create(const zb_model_desc *desc, const zb_weights *weights, const zb_session_opts *opts,
                        zb_session **out, zb_error *err)
{
    return zbe_create(desc, weights, opts, &zbe_graph_variant, out, err);
}

static const zb_ext_graph_stats graph_stats_ext = {zbe_graph_stats};

static const void *get_extension(const char *name)
{
    if (name && strcmp(name, ZB_EXT_GRAPH_STATS) == 0) return &graph_stats_ext;
    return zbe_get_extension(name);
}

static const zb_plugin_api api =
    ZBE_PLUGIN_API("cuda_graph",
                   "CUDA bf16: cuda_fused's kernels, decode steps and repeated prefills replayed as CUDA graphs",
                   create, get_extension);

ZB_EXPORT const zb_plugin_api *zbench_plugin_entry(void) { return &api; }
