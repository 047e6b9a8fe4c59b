#include "trace_class.h"

#include <ctype.h>
#include <string.h>

/* First match wins, so the order settles overlaps: attention before gemm
 * (fused attention kernels often carry "gemm" or "cutlass" in their
 * names), conv before norm. Patterns are lower case and matched against
 * the lower-cased function name without its parameter list, where type
 * names (an "...Args" struct) would otherwise mislead. */
static const struct {
    const char *cls;
    const char *patterns[16];
} k_rules[] = {
    /* zb kernels: attn_rows / attn_split (prefill), decode_split
     * (flash-decoding; decode_chunk + decode_combine before it), rope_store,
     * the KV ring copy */
    {"attention",
     {"attn", "attention", "flash", "fmha", "rope", "rotary", "softmax", "decode_split", "decode_chunk", "decode_combine",
      "kv_ring", "ring_copy", NULL}},
    /* selective scan (prefill) and the fused decode step with its x_proj */
    {"scan", {"scan", "mamba_step", "xproj", "selective", "ssm", NULL}},
    /* "conv_" and not "conv": convert_kernel is weight preparation */
    {"conv", {"conv1d", "conv_", "causal_conv", NULL}},
    {"norm", {"norm", NULL}},
    /* cuBLAS(Lt) names its Hopper kernels nvjet_*, older ones *xmma*gemm*;
     * ours are gemv_kernel and the bias add after a GEMM */
    {"gemm",
     {"gemm", "gemv", "cublas", "cutlass", "xmma", "nvjet", "matmul", "ger_kernel", "splitkreduce", "add_bias",
      "linear", NULL}},
};

/* The lower-cased name up to its parameter list, "(anonymous namespace)"
 * removed wherever it appears. */
static void function_part(const char *name, char *out, size_t cap)
{
    static const char anon[] = "(anonymous namespace)";
    size_t n = 0;
    for (const char *p = name; *p && n + 1 < cap;) {
        if (*p == '(') {
            if (strncmp(p, anon, sizeof anon - 1) != 0) break;
            p += sizeof anon - 1;
            continue;
        }
        out[n++] = (char)tolower((unsigned char)*p++);
    }
    out[n] = '\0';
}

const char *zb_kernel_class(const char *demangled_name)
{
    if (!demangled_name) return "other";
    char fn[1024];
    function_part(demangled_name, fn, sizeof fn);
    for (size_t r = 0; r < sizeof k_rules / sizeof k_rules[0]; r++)
        for (const char *const *p = k_rules[r].patterns; *p; p++)
            if (strstr(fn, *p)) return k_rules[r].cls;
    return "other";
}

void zb_kernel_short_name(const char *name, char *out, size_t len)
{
    static const char anon[] = "(anonymous namespace)::";
    if (len == 0) return;
    if (!name) name = "";
    /* a demangled function (it has a parameter list) starts with its
     * return type, which ends at the first space before any template
     * bracket; other names ("memcpy HtoD", nvjet_*) are kept whole */
    const char *p = name;
    for (const char *q = name; strchr(name, '(') && *q && *q != '('; q++) {
        if (*q == '<') break;
        if (*q == ' ') p = q + 1;
    }
    size_t n = 0;
    int depth = 0, cut = 0;
    while (*p) {
        if (strncmp(p, anon, sizeof anon - 1) == 0) {
            p += sizeof anon - 1;
            continue;
        }
        if (*p == '(' && depth == 0) break; /* the parameter list */
        if (*p == '<') depth++;
        if (*p == '>' && depth > 0) depth--;
        if (n + 1 >= len) {
            cut = 1;
            break;
        }
        out[n++] = *p++;
    }
    out[n] = '\0';
    if (cut && len >= 4) memcpy(out + len - 4, "...", 4);
}
