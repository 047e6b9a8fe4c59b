/*
 * zbench plugin ABI: the one header a backend author needs.
 *
 * A plugin is a shared object exporting ONE symbol, ZB_PLUGIN_ENTRY_SYMBOL,
 * a function returning a pointer to a const zb_plugin_api table. The driver
 * accepts the table only when abi_version == ZB_ABI_VERSION exactly and every
 * required function pointer is non-NULL. Optional features are looked up by
 * name through get_extension(); unknown names return NULL. Plugins are never
 * unloaded (dlclose is not called), so static const data may be returned.
 *
 * Rules a plugin follows:
 *  - every function returns a zb_status; on failure it fills err->msg with one
 *    line (no trailing newline) saying what went wrong;
 *  - a plugin never exits the process and never writes to stdout;
 *  - a plugin keeps no global mutable state: everything lives in its session.
 *
 * The header is C11 and also compiles as CUDA C++ (the synthetic weight
 * generator below is usable in device code, so a GPU plugin can generate the
 * very same weights as the CPU reference without a round trip).
 */
#ifndef ZBENCH_PLUGIN_H
#define ZBENCH_PLUGIN_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZB_ABI_VERSION 1u
#define ZB_PLUGIN_ENTRY_SYMBOL "zbench_plugin_entry"

#if defined(__GNUC__)
#define ZB_EXPORT __attribute__((visibility("default")))
#else
#define ZB_EXPORT
#endif

#if defined(__CUDACC__)
#define ZB_HD __host__ __device__ __forceinline__
#else
#define ZB_HD static inline
#endif

/* ------------------------------------------------------------------ status */

typedef enum zb_status {
    ZB_OK = 0,
    ZB_ERR_INVALID = 1,     /* bad argument or model the plugin cannot run */
    ZB_ERR_UNSUPPORTED = 2, /* valid request outside the plugin's capabilities */
    ZB_ERR_OOM = 3,         /* memory could not be allocated; msg names bytes */
    ZB_ERR_CAPACITY = 4,    /* more tokens than the session's capacity */
    ZB_ERR_DEVICE = 5,      /* CUDA/cuBLAS/driver failure; msg names the call */
    ZB_ERR_INTERNAL = 6
} zb_status;

#define ZB_ERRMSG_LEN 512
typedef struct zb_error {
    char msg[ZB_ERRMSG_LEN];
} zb_error;

/* ------------------------------------------------------------- data types */

typedef enum zb_dtype {
    ZB_DTYPE_F32 = 0,
    ZB_DTYPE_F16 = 1,
    ZB_DTYPE_BF16 = 2,
    ZB_DTYPE_I32 = 3
} zb_dtype;

#define ZB_DTYPE_BIT(d) (1u << (unsigned)(d))

static inline size_t zb_dtype_size(zb_dtype d)
{
    return d == ZB_DTYPE_F32 || d == ZB_DTYPE_I32 ? 4u : 2u;
}

static inline const char *zb_dtype_name(zb_dtype d)
{
    switch (d) {
    case ZB_DTYPE_F32: return "f32";
    case ZB_DTYPE_F16: return "f16";
    case ZB_DTYPE_BF16: return "bf16";
    case ZB_DTYPE_I32: return "i32";
    }
    return "?";
}

/* ----------------------------------------------------------- model layout */

typedef enum zb_layout {
    ZB_LAYOUT_ZAMBA = 1,      /* Mamba backbone + one shared attention block */
    ZB_LAYOUT_TRANSFORMER = 2 /* Llama / Mistral decoder */
} zb_layout;

typedef enum zb_layer_kind {
    ZB_LAYER_MAMBA = 1,    /* zamba: RMSNorm -> Mamba mixer -> residual */
    ZB_LAYER_HYBRID = 2,   /* zamba: shared block -> linear -> into Mamba */
    ZB_LAYER_ATTENTION = 3 /* transformer: attention + gated MLP */
} zb_layer_kind;

typedef enum zb_act {
    ZB_ACT_SILU = 1,
    ZB_ACT_GELU = 2,      /* exact: x * Phi(x), with erf */
    ZB_ACT_GELU_TANH = 3, /* tanh approximation */
    ZB_ACT_RELU = 4
} zb_act;

#define ZB_MAX_LAYERS 512
#define ZB_NAME_LEN 64

/* Everything a backend needs to know about the model's shape. For zamba,
 * the attention fields describe the ONE shared block: its input is
 * attn_in = 2*hidden (hidden state concatenated with the embeddings). For the
 * transformer, attn_in = hidden. The driver fills every field; plugins never
 * parse configuration files. */
typedef struct zb_model_desc {
    zb_layout layout;
    char name[ZB_NAME_LEN]; /* preset name or checkpoint directory name */
    int32_t vocab_size;
    int32_t hidden_size;
    int32_t n_layers;
    int32_t intermediate_size; /* gated MLP width */
    float norm_eps;
    int32_t tie_embeddings; /* lm_head is the embedding matrix */
    zb_act mlp_act;         /* applied to gate_proj: down(act(gate(x))*up(x)) */
    int32_t mlp_bias;

    /* attention (transformer layers, or zamba's shared block) */
    int32_t n_heads;
    int32_t n_kv_heads;
    int32_t head_dim;
    int32_t attn_in;  /* input width of q/k/v projections */
    float attn_scale; /* multiplies q.k (zamba: 1/sqrt(head_dim/2)) */
    int32_t attn_bias;      /* q, k, v and o projections carry biases */
    int32_t rope;           /* rotary embeddings (rotate-half form) */
    float rope_theta;
    int32_t sliding_window; /* 0: full causal; W: query p sees p-W+1 .. p */

    /* mamba (zamba only) */
    int32_t d_inner;       /* mamba_expand * hidden */
    int32_t d_state;
    int32_t d_conv;
    int32_t dt_rank;
    int32_t n_mamba_heads; /* d_inner splits into heads of d_inner/n */
    int32_t conv_bias;
    int32_t proj_bias;     /* in_proj / out_proj carry biases */
    zb_act mamba_act;

    int32_t max_positions; /* from the config; informative */
    zb_dtype weight_dtype; /* dtype of the checkpoint (or preset) */
    uint8_t layer_kind[ZB_MAX_LAYERS];
} zb_model_desc;

/* ---------------------------------------------------------------- weights */

/* Role of a tensor. Per-layer roles carry the layer index; zamba's shared
 * block and the model-wide tensors use layer ZB_LAYER_NONE. Matrices are in
 * PyTorch nn.Linear layout: [out_features][in_features], row-major. */
typedef enum zb_role {
    ZB_W_EMBED = 0,      /* [vocab][hidden] */
    ZB_W_LM_HEAD,        /* [vocab][hidden]; absent when tie_embeddings */
    ZB_W_FINAL_NORM,     /* [hidden] */
    /* zamba mamba layer (also the mamba part of a hybrid layer) */
    ZB_W_MAMBA_NORM,     /* [hidden] */
    ZB_W_IN_PROJ,        /* [2*d_inner][hidden]; rows interleave x,z: row 2c is x_c, 2c+1 is z_c */
    ZB_W_IN_PROJ_BIAS,   /* [2*d_inner] (proj_bias) */
    ZB_W_CONV_W,         /* [d_inner][d_conv] (PyTorch's [d_inner][1][d_conv]) */
    ZB_W_CONV_B,         /* [d_inner] (conv_bias) */
    ZB_W_X_PROJ,         /* [n_mamba_heads][dt_rank + 2*d_state][head_dim] */
    ZB_W_DT_PROJ,        /* [n_mamba_heads][head_dim][dt_rank] */
    ZB_W_DT_BIAS,        /* [n_mamba_heads][head_dim] */
    ZB_W_A_LOG,          /* [n_mamba_heads][head_dim][d_state] */
    ZB_W_D,              /* [n_mamba_heads][head_dim] */
    ZB_W_OUT_PROJ,       /* [hidden][d_inner] */
    ZB_W_OUT_PROJ_BIAS,  /* [hidden] (proj_bias) */
    ZB_W_HYBRID_LINEAR,  /* [hidden][hidden]: per hybrid layer, after the shared block */
    /* attention block: per transformer layer, or zamba's shared block */
    ZB_W_ATTN_NORM,      /* [attn_in] */
    ZB_W_Q,              /* [n_heads*head_dim][attn_in] */
    ZB_W_K,              /* [n_kv_heads*head_dim][attn_in] */
    ZB_W_V,              /* [n_kv_heads*head_dim][attn_in] */
    ZB_W_O,              /* [hidden][n_heads*head_dim] */
    ZB_W_Q_BIAS,
    ZB_W_K_BIAS,
    ZB_W_V_BIAS,
    ZB_W_O_BIAS,
    ZB_W_FFN_NORM,       /* [hidden] */
    ZB_W_GATE,           /* [intermediate][hidden] */
    ZB_W_UP,             /* [intermediate][hidden] */
    ZB_W_DOWN,           /* [hidden][intermediate] */
    ZB_W_GATE_BIAS,
    ZB_W_UP_BIAS,
    ZB_W_DOWN_BIAS,
    ZB_W_ROLE_COUNT
} zb_role;

#define ZB_LAYER_NONE (-1)

/* Synthetic weights: element i of a tensor is
 *     offset + scale * u(seed, key, i),   u uniform in [-1, 1)
 * with u a pure function of its arguments (a counter-based generator), so any
 * backend can materialise identical values anywhere, in any order. The value
 * is then rounded to the tensor's dtype. */
typedef struct zb_synth {
    uint64_t seed;
    uint64_t key; /* distinct per tensor: zb_synth_key(layer, role) */
    float offset;
    float scale;
} zb_synth;

ZB_HD uint64_t zb_mix64(uint64_t z)
{
    /* splitmix64 finaliser: a bijective avalanche of a 64-bit counter */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

ZB_HD uint64_t zb_synth_key(int32_t layer, int32_t role)
{
    return zb_mix64(((uint64_t)(uint32_t)(layer + 1) << 32) | (uint32_t)role);
}

/* u in [-1, 1) with 24 significant bits: exactly representable in float, so
 * the result does not depend on the platform's float rounding. */
ZB_HD float zb_synth_unit(uint64_t seed, uint64_t key, uint64_t i)
{
    uint64_t h = zb_mix64(zb_mix64(seed ^ key) + i * 0x9e3779b97f4a7c15ull);
    int32_t q = (int32_t)(h >> 40) - (1 << 23); /* [-2^23, 2^23) */
    return (float)q * (1.0f / 8388608.0f);
}

ZB_HD float zb_synth_value(const zb_synth *s, uint64_t i)
{
    /* Two separately rounded operations (never a fused multiply-add), so host
     * and device produce the same bits. */
#if defined(__CUDA_ARCH__)
    return __fadd_rn(s->offset, __fmul_rn(s->scale, zb_synth_unit(s->seed, s->key, i)));
#else
    volatile float prod = s->scale * zb_synth_unit(s->seed, s->key, i);
    return s->offset + prod;
#endif
}

/* One tensor: either host data (data != NULL; little-endian, row-major,
 * aligned to its element size, valid for the session's lifetime) or, when
 * data == NULL, synthetic values described by synth. */
typedef struct zb_tensor {
    int32_t layer; /* ZB_LAYER_NONE for model-wide and shared tensors */
    zb_role role;
    zb_dtype dtype;
    int32_t ndim;
    int64_t shape[4];
    const void *data;
    zb_synth synth;
} zb_tensor;

typedef struct zb_weights {
    int32_t count;
    const zb_tensor *tensors;
} zb_weights;

static inline int64_t zb_tensor_numel(const zb_tensor *t)
{
    int64_t n = 1;
    for (int32_t i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

/* Looks a tensor up by (layer, role); NULL when absent. */
static inline const zb_tensor *zb_weights_find(const zb_weights *w, int32_t layer, zb_role role)
{
    for (int32_t i = 0; i < w->count; i++)
        if (w->tensors[i].layer == layer && w->tensors[i].role == role) return &w->tensors[i];
    return NULL;
}

/* bf16 <-> f32, round to nearest even (NaN kept quiet). */
ZB_HD float zb_bf16_to_f32(uint16_t h)
{
    union { uint32_t u; float f; } v;
    v.u = (uint32_t)h << 16;
    return v.f;
}

ZB_HD uint16_t zb_f32_to_bf16(float f)
{
    union { uint32_t u; float f; } v;
    v.f = f;
    if ((v.u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((v.u >> 16) | 0x40u);
    v.u += 0x7fffu + ((v.u >> 16) & 1u);
    return (uint16_t)(v.u >> 16);
}

/* Rounds f to the precision of dtype (f32 unchanged), to nearest even. */
static inline float zb_round_to_dtype(float f, zb_dtype dtype)
{
    if (dtype == ZB_DTYPE_BF16) return zb_bf16_to_f32(zb_f32_to_bf16(f));
    if (dtype != ZB_DTYPE_F16 || isnan(f)) return f;
    float a = fabsf(f);
    if (a >= 65520.0f) return copysignf(INFINITY, f); /* past the largest half */
    /* below 2^-14 halves are subnormal, with a fixed quantum of 2^-24 */
    int e;
    frexpf(a, &e);
    float quantum = a < 6.103515625e-05f ? 5.9604644775390625e-08f : ldexpf(1.0f, e - 11);
    return copysignf(nearbyintf(a / quantum) * quantum, f);
}

/* RoPE inverse frequency of pair i: theta^(-2i/head_dim), formed in fp32
 * and then rounded to the checkpoint's weight dtype, because Hugging Face
 * keeps the rotary buffer in the model's dtype (a bf16 checkpoint rotates
 * with bf16 frequencies). Angles are pos * inv_freq in fp32. Host code:
 * backends build their table with this function. */
static inline float zb_rope_inv_freq(float theta, int i, int head_dim, zb_dtype weight_dtype)
{
    float inv = 1.0f / powf(theta, (float)(2 * i) / (float)head_dim);
    return zb_round_to_dtype(inv, weight_dtype);
}

/* --------------------------------------------------------------- sessions */

typedef struct zb_session zb_session; /* opaque, owned by the plugin */

#define ZB_OPT_NVTX 1u /* push NVTX ranges (layer, phase) where supported */

typedef struct zb_session_opts {
    int32_t batch;     /* sequences processed together */
    int32_t capacity;  /* tokens per sequence the caches must hold (prompt + generation) */
    zb_dtype dtype;    /* compute/storage dtype of weights and activations */
    int32_t device;    /* device ordinal, for plugins that have devices */
    uint32_t flags;    /* ZB_OPT_* */
} zb_session_opts;

/* Bytes held by a session, by category. Device totals are what the
 * allocator saw (0 where unknown); "predicted" values are the driver's. */
typedef struct zb_memory_report {
    uint64_t weights_bytes;
    uint64_t kv_bytes;        /* attention KV caches, for the session's capacity */
    uint64_t state_bytes;     /* Mamba conv + SSM states */
    uint64_t workspace_bytes; /* activations, scratch, library workspaces */
    uint64_t device_total_bytes; /* device allocation delta since before create */
    uint64_t device_peak_bytes;  /* highest device usage seen by the session */
    int64_t kv_tokens;           /* KV entries kept per sequence and application */
} zb_memory_report;

/* Per-call timing a plugin may return; fields it cannot measure are < 0. */
typedef struct zb_step_timing {
    double device_ms; /* device time of the call (CUDA events) */
} zb_step_timing;

typedef struct zb_device_info {
    char name[128];      /* "NVIDIA H100 80GB HBM3", or the CPU model */
    char driver[64];     /* driver version, "" on CPU */
    char runtime[64];    /* CUDA runtime version, "" on CPU */
    uint64_t memory_bytes;
    int32_t is_gpu;
} zb_device_info;

#define ZB_CAP_GPU 1u            /* runs on a GPU */
#define ZB_CAP_DEVICE_TIMING 2u  /* fills zb_step_timing.device_ms */
#define ZB_CAP_TOKEN_FEEDBACK 4u /* decode(tokens == NULL) feeds back its own argmax */

typedef struct zb_plugin_api {
    uint32_t abi_version;  /* must equal ZB_ABI_VERSION */
    const char *name;      /* short name: "cpu_ref", "cuda_fused" */
    const char *description; /* one line */
    uint32_t dtypes;       /* ZB_DTYPE_BIT mask of supported session dtypes */
    int32_t max_batch;
    uint32_t caps;         /* ZB_CAP_* */

    /* Fills info for the device the plugin would run on. Fails (e.g. no GPU)
     * with a message; the driver then treats the plugin as unusable here. */
    zb_status (*device_info)(int32_t device, zb_device_info *info, zb_error *err);

    /* Creates a session: loads/generates weights, allocates caches for
     * opts->capacity tokens per sequence. ZB_ERR_OOM names the bytes needed. */
    zb_status (*create)(const zb_model_desc *desc, const zb_weights *weights,
                        const zb_session_opts *opts, zb_session **out, zb_error *err);

    /* Appends n_tokens tokens to every sequence (tokens is [batch][n_tokens])
     * and computes the logits at the last new position. Outputs are optional:
     * logits [batch][vocab] (f32), next_tokens [batch] (greedy argmax). */
    zb_status (*prefill)(zb_session *s, const int32_t *tokens, int32_t n_tokens,
                         float *logits, int32_t *next_tokens, zb_step_timing *timing,
                         zb_error *err);

    /* Appends one token per sequence (tokens is [batch]). With
     * ZB_CAP_TOKEN_FEEDBACK, tokens == NULL means "the argmax of the previous
     * step", which stays on the device. Outputs as for prefill. */
    zb_status (*decode)(zb_session *s, const int32_t *tokens, float *logits,
                        int32_t *next_tokens, zb_step_timing *timing, zb_error *err);

    /* Empties the sequences (position 0, zero states); keeps allocations. */
    zb_status (*reset)(zb_session *s, zb_error *err);

    zb_status (*memory)(zb_session *s, zb_memory_report *out, zb_error *err);

    void (*destroy)(zb_session *s);

    /* Optional features by name (NULL when unknown). May itself be NULL. */
    const void *(*get_extension)(const char *name);
} zb_plugin_api;

typedef const zb_plugin_api *(*zb_plugin_entry_fn)(void);

/* ------------------------------------------------------------- extensions */

/* "zb.resize.v1": re-allocates a session's caches and workspace for a new
 * batch and capacity, keeping the weights (a sweep over lengths then loads
 * a 7B model once, yet each run measures its own allocation). The session
 * is left reset. */
#define ZB_EXT_RESIZE "zb.resize.v1"
typedef struct zb_ext_resize {
    zb_status (*resize)(zb_session *s, int32_t batch, int32_t capacity, zb_error *err);
} zb_ext_resize;

/* "zb.calibrate.v1": measures the device's ceilings: copy bandwidth
 * (bytes read + written per second, in GB/s) and the dense matrix rate of
 * the session dtype (bf16 GEMM on GPUs, TFLOP/s). `method` gets one line
 * describing how. */
#define ZB_EXT_CALIBRATE "zb.calibrate.v1"
typedef struct zb_ext_calibrate {
    zb_status (*calibrate)(int32_t device, double *copy_gbps, double *gemm_tflops, char *method, size_t method_len,
                           zb_error *err);
} zb_ext_calibrate;

/* "zb.trace_layers.v1": lets the driver attribute a GPU plugin's work to
 * layers. The driver installs hooks that the session calls around the
 * launches of each range it would mark with NVTX (whether or not NVTX is
 * on): push before the first launch of a layer part, the embedding, the
 * logits or the plugin's own prefill/decode step (ZB_PART_STEP), pop after
 * the last; properly nested, on the thread that called prefill or decode.
 * The driver's hooks push onto its tracer's stack (a few nanoseconds;
 * CUPTI reads the top when a kernel is launched); a session without hooks
 * pays one NULL test per range. Hooks are installed (hooks != NULL) or removed (NULL) only
 * between calls; the session keeps a copy of *hooks. */
#define ZB_EXT_TRACE_LAYERS "zb.trace_layers.v1"

typedef enum zb_trace_part {
    ZB_PART_STEP = 0,      /* the plugin's prefill or decode step (layer ZB_LAYER_NONE) */
    ZB_PART_MAMBA = 1,     /* a layer's Mamba block */
    ZB_PART_ATTENTION = 2, /* a layer's attention (Zamba: the shared block's) */
    ZB_PART_MLP = 3,       /* a layer's gated MLP (Zamba: the shared block's) */
    ZB_PART_EMBED = 4,     /* the token embedding (layer ZB_LAYER_NONE) */
    ZB_PART_LOGITS = 5     /* final norm, lm_head, argmax (layer ZB_LAYER_NONE) */
} zb_trace_part;

typedef struct zb_trace_hooks {
    void *ctx;
    void (*push)(void *ctx, int32_t layer, int32_t part); /* layer 0-based, or ZB_LAYER_NONE */
    void (*pop)(void *ctx);
} zb_trace_hooks;

typedef struct zb_ext_trace_layers {
    zb_status (*set_hooks)(zb_session *s, const zb_trace_hooks *hooks, zb_error *err);
} zb_ext_trace_layers;

/* "zb.graph_stats.v1": what a plugin that replays CUDA graphs did with
 * them, counted since the session was created (the driver records the
 * difference over a run). */
#define ZB_EXT_GRAPH_STATS "zb.graph_stats.v1"

typedef struct zb_graph_stats {
    int64_t graphs;         /* executable graphs held now (decode and prefill) */
    int64_t captures;       /* graphs captured and instantiated */
    int64_t replays;        /* graph launches */
    int64_t eager;          /* decode steps and prefill chunks issued without a graph (warm-ups) */
    int64_t decode_nodes;   /* nodes of the current decode graph, 0 when there is none */
    double capture_ms;      /* host time spent capturing and instantiating, in all */
} zb_graph_stats;

typedef struct zb_ext_graph_stats {
    zb_status (*get)(zb_session *s, zb_graph_stats *out, zb_error *err);
} zb_ext_graph_stats;

/* The entry point every plugin defines:
 *     ZB_EXPORT const zb_plugin_api *zbench_plugin_entry(void);          */

#ifdef __cplusplus
}
#endif

#endif /* ZBENCH_PLUGIN_H */
