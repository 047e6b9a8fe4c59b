/*
 * cuda_fused (and cuda_graph, when built) against cpu_ref, end to end
 * through the plugin ABI.
 *
 * Both plugins are loaded with dlopen (from $ZBENCH_PLUGIN_PATH, else
 * build/plugins) and given the same model: a description and a weight
 * table built here by hand (synthetic tensors, or host data in mixed
 * dtypes to exercise the checkpoint upload path). For every model: a split
 * prefill (three calls, so chunks start past position 0, the last of one
 * token) then 8 decode
 * steps on 3 different sequences, logits compared per sequence
 * (||a - b|| / ||b|| < 3e-2, the bf16 tolerance of zbench verify). Then
 * each GPU plugin alone: token feedback, reset reproducibility, capacity and
 * token errors, timing, memory report, resize, and ZB_ERR_OOM for an
 * absurd capacity. Prints SKIP without a GPU. --quick (for
 * compute-sanitizer): two of the models.
 */
#include "plugin_test_models.h"

/* ------------------------------------------------------------- checks */

/* Split prefill + kSteps decodes on both plugins; returns cpu_ref's logits
 * after the prefill (for the resize check). */
static std::vector<float> agreement(const zb_plugin_api *ref, const zb_plugin_api *gpu, const Model &m)
{
    const int V = m.d.vocab_size, cap = kPrompt + kSteps;
    Session R(ref, m, ZB_DTYPE_F32, kBatch, cap), G(gpu, m, ZBK_HALF_DTYPE, kBatch, cap);
    const std::vector<int32_t> tok = prompts(V);
    std::vector<float> lr((size_t)kBatch * V), lg((size_t)kBatch * V), first_ref;
    std::vector<int32_t> next(kBatch), gnext(kBatch);
    double worst = 0.0;
    /* three prefill calls: the second starts at position kSplit, the last
     * is one token (the decode kernels, position read on the device) */
    const int parts[3][2] = {{0, kSplit}, {kSplit, kPrompt - kSplit - 1}, {kPrompt - 1, 1}};
    for (auto &p : parts) {
        std::vector<int32_t> t = columns(tok, p[0], p[1]);
        TEST_CHECK(prefill(R, t, p[1], &lr, &next) == ZB_OK, "cpu_ref prefill");
        TEST_CHECK(prefill(G, t, p[1], &lg, &gnext) == ZB_OK, "cuda prefill");
        double e = worst_err(lg, lr, kBatch, V);
        EXPECT(e < kTol, "%s prefill at %d..%d: rel err %.3e", m.name.c_str(), p[0], p[0] + p[1], e);
        worst = std::isnan(e) ? e : std::max(worst, e);
    }
    first_ref = lr;
    for (int step = 0; step < kSteps; step++) {
        /* both decode cpu_ref's greedy tokens, so the inputs stay equal */
        std::vector<int32_t> in = next;
        TEST_CHECK(decode(R, in.data(), &lr, &next) == ZB_OK, "cpu_ref decode");
        TEST_CHECK(decode(G, in.data(), &lg, &gnext) == ZB_OK, "cuda decode");
        double e = worst_err(lg, lr, kBatch, V);
        EXPECT(e < kTol, "%s decode step %d: rel err %.3e", m.name.c_str(), step, e);
        worst = std::isnan(e) ? e : std::max(worst, e);
        /* the device argmax is the argmax of the returned logits */
        for (int b = 0; b < kBatch; b++) {
            const float *row = lg.data() + (size_t)b * V;
            EXPECT(gnext[b] >= 0 && gnext[b] < V && row[gnext[b]] == *std::max_element(row, row + V),
                   "%s step %d seq %d: next token %d is not the logits' argmax", m.name.c_str(), step, b, gnext[b]);
        }
    }
    printf("%s %-22s prefill+%d decode, batch %d: max rel err %.3e (tol %.0e)\n", worst < kTol ? "PASS" : "FAIL",
           m.name.c_str(), kSteps, kBatch, worst, kTol);
    return first_ref;
}

/* Token feedback, reset reproducibility, errors, timing, memory, resize. */
static void behaviour(const zb_plugin_api *gpu, const Model &m, const std::vector<float> &ref_prefill)
{
    const int failures_before = g_failures;
    const int V = m.d.vocab_size, cap = kPrompt + kSteps;
    Session G(gpu, m, ZBK_HALF_DTYPE, kBatch, cap, ZB_OPT_NVTX);
    const std::vector<int32_t> tok = prompts(V);
    std::vector<float> l1((size_t)kBatch * V), l2((size_t)kBatch * V);
    std::vector<std::vector<float>> run1;
    std::vector<int32_t> next(kBatch);
    zb_error err = {{0}};

    /* run 1: whole prompt, then feedback (tokens == NULL) */
    zb_step_timing tm = {-1.0};
    TEST_CHECK(prefill(G, tok, kPrompt, &l1, &next, &tm) == ZB_OK, "prefill");
    EXPECT(tm.device_ms > 0.0, "prefill device_ms %.3f", tm.device_ms);
    run1.push_back(l1);
    std::vector<int32_t> fed;
    for (int s = 0; s < kSteps; s++) {
        fed.insert(fed.end(), next.begin(), next.end());
        TEST_CHECK(decode(G, nullptr, &l1, &next, &tm) == ZB_OK, "feedback decode");
        EXPECT(tm.device_ms > 0.0, "decode device_ms %.3f", tm.device_ms);
        run1.push_back(l1);
    }
    /* full: the next token would exceed the capacity */
    zb_status st = G.api->decode(G.s, nullptr, l1.data(), nullptr, nullptr, &err);
    EXPECT(st == ZB_ERR_CAPACITY, "decode past capacity returned %d (%s)", (int)st, err.msg);

    /* run 2 after reset: explicit tokens equal to what was fed back */
    TEST_CHECK(G.api->reset(G.s, &err) == ZB_OK, "reset: %s", err.msg);
    TEST_CHECK(prefill(G, tok, kPrompt, &l2, nullptr) == ZB_OK, "prefill after reset");
    double e = worst_err(l2, run1[0], kBatch, V);
    EXPECT(e < 1e-6, "%s prefill after reset differs: %.3e", m.name.c_str(), e);
    for (int s = 0; s < kSteps; s++) {
        TEST_CHECK(decode(G, fed.data() + (size_t)s * kBatch, &l2, nullptr) == ZB_OK, "decode after reset");
        double es = worst_err(l2, run1[s + 1], kBatch, V);
        EXPECT(es < 1e-6, "%s step %d: feedback vs explicit tokens differ: %.3e", m.name.c_str(), s, es);
    }

    /* errors leave the session usable */
    TEST_CHECK(G.api->reset(G.s, &err) == ZB_OK, "reset: %s", err.msg);
    std::vector<int32_t> big((size_t)kBatch * (cap + 1), 1);
    st = G.api->prefill(G.s, big.data(), cap + 1, nullptr, nullptr, nullptr, &err);
    EXPECT(st == ZB_ERR_CAPACITY, "prefill over capacity returned %d", (int)st);
    std::vector<int32_t> bad(kBatch, V);
    st = G.api->decode(G.s, bad.data(), nullptr, nullptr, nullptr, &err);
    EXPECT(st == ZB_ERR_INVALID, "token %d accepted (%d)", V, (int)st);

    /* memory report */
    zb_memory_report r;
    TEST_CHECK(G.api->memory(G.s, &r, &err) == ZB_OK, "memory: %s", err.msg);
    int n_attn = 0, n_mamba = 0;
    for (int i = 0; i < m.d.n_layers; i++) {
        n_attn += m.d.layer_kind[i] != ZB_LAYER_MAMBA;
        n_mamba += m.d.layer_kind[i] != ZB_LAYER_ATTENTION;
    }
    const uint64_t kv = 2ull * n_attn * kBatch * (uint64_t)r.kv_tokens * m.d.n_kv_heads * m.d.head_dim * 2;
    const uint64_t state = (uint64_t)n_mamba * kBatch * m.d.d_inner * (m.d.d_conv * 2ull + m.d.d_state * 4ull);
    const int64_t min_slots = m.d.sliding_window > 0 && m.d.sliding_window < cap ? m.d.sliding_window : cap;
    EXPECT(r.kv_tokens >= min_slots && r.kv_tokens <= cap, "kv_tokens %lld", (long long)r.kv_tokens);
    EXPECT(r.kv_bytes == kv, "kv_bytes %llu, expected %llu", (unsigned long long)r.kv_bytes, (unsigned long long)kv);
    EXPECT(r.state_bytes == state, "state_bytes %llu, expected %llu", (unsigned long long)r.state_bytes,
           (unsigned long long)state);
    EXPECT(r.weights_bytes > 0 && r.workspace_bytes > 0, "weights %llu workspace %llu",
           (unsigned long long)r.weights_bytes, (unsigned long long)r.workspace_bytes);
    EXPECT(r.device_total_bytes >= r.weights_bytes + r.kv_bytes && r.device_peak_bytes >= r.device_total_bytes,
           "device total %llu peak %llu", (unsigned long long)r.device_total_bytes,
           (unsigned long long)r.device_peak_bytes);

    /* resize (when offered): 2 sequences, then the prompt in one prefill */
    const zb_ext_resize *rz =
        G.api->get_extension ? (const zb_ext_resize *)G.api->get_extension(ZB_EXT_RESIZE) : nullptr;
    if (rz) {
        TEST_CHECK(rz->resize(G.s, 2, kPrompt, &err) == ZB_OK, "resize: %s", err.msg);
        std::vector<int32_t> two(tok.begin(), tok.begin() + 2 * kPrompt);
        std::vector<float> l((size_t)2 * V);
        TEST_CHECK(prefill(G, two, kPrompt, &l, nullptr) == ZB_OK, "prefill after resize");
        double er = worst_err(l, ref_prefill, 2, V);
        EXPECT(er < kTol, "%s after resize: rel err %.3e", m.name.c_str(), er);
    }
    printf("%s %-22s feedback, reset, capacity, tokens, timing, memory%s\n",
           g_failures > failures_before ? "FAIL" : "PASS",
           m.name.c_str(), rz ? ", resize" : "");
}

/* An absurd capacity fails with ZB_ERR_OOM naming bytes, allocating nothing. */
static void out_of_memory(const zb_plugin_api *gpu, const Model &m)
{
    size_t free0 = 0, free1 = 0, total = 0;
    CUDA_CHECK(cudaMemGetInfo(&free0, &total));
    zb_session_opts o = {8, 1 << 30, ZBK_HALF_DTYPE, 0, 0};
    zb_error err = {{0}};
    zb_session *s = nullptr;
    zb_weights w = m.weights();
    zb_status st = gpu->create(&m.d, &w, &o, &s, &err);
    CUDA_CHECK(cudaMemGetInfo(&free1, &total));
    EXPECT(st == ZB_ERR_OOM && s == nullptr, "create with capacity 2^30 returned %d: %s", (int)st, err.msg);
    EXPECT(strstr(err.msg, "bytes") != nullptr, "message names no bytes: %s", err.msg);
    /* a little slack for other users of the device */
    EXPECT(free1 + ((size_t)4 << 20) >= free0, "free memory dropped by %zu bytes", free0 - free1);
    if (s) gpu->destroy(s);
    printf("%s out of memory: %s\n", st == ZB_ERR_OOM ? "PASS" : "FAIL", err.msg);
}

/* A checkpoint weight that f16 storage cannot hold (1e6) is refused at
 * create with a message, rather than turning every logit into NaN. */
static void out_of_range_weight(const zb_plugin_api *gpu)
{
    Model m = zamba_model("zamba-tiny-huge", 9, true, HOST_MIXED);
    bool planted = false;
    for (size_t k = 0; k < m.tensors.size() && !planted; k++) {
        zb_tensor &t = m.tensors[k];
        if (t.role != ZB_W_IN_PROJ || t.dtype == ZB_DTYPE_F16) continue; /* f16 cannot hold 1e6 either */
        put_as(m.host[k], 0, t.dtype, 1e6f);
        planted = true;
    }
    TEST_CHECK(planted, "no f32/bf16 in_proj tensor in %s", m.name.c_str());
    zb_session_opts o = {1, 8, ZBK_HALF_DTYPE, 0, 0};
    zb_error err = {{0}};
    zb_session *s = nullptr;
    zb_weights w = m.weights();
    const zb_status st = gpu->create(&m.d, &w, &o, &s, &err);
    const bool f16 = ZBK_HALF_DTYPE == ZB_DTYPE_F16;
    if (f16) {
        EXPECT(st == ZB_ERR_INVALID && s == nullptr && strstr(err.msg, "beyond the range of f16"),
               "a 1e6 weight with f16 storage: create returned %d: %s", (int)st, err.msg);
    } else {
        EXPECT(st == ZB_OK, "a 1e6 weight fits bf16, but create returned %d: %s", (int)st, err.msg);
    }
    if (s) gpu->destroy(s);
    printf("%s out of range weight: %s\n", g_failures ? "FAIL" : "PASS", f16 ? err.msg : "fits bf16 storage");
}

int main(int argc, char **argv)
{
    if (!gpu_available("test_plugin_agreement")) return 0;
    /* --quick (for compute-sanitizer): one Zamba and the window ring only */
    const bool quick = has_arg(argc, argv, "--quick");
    const zb_plugin_api *ref = load_plugin("cpu_ref");
    const zb_plugin_api *gpu = load_plugin("cuda_fused");
    const zb_plugin_api *graph = load_plugin("cuda_graph", true);
    zb_device_info info;
    zb_error err = {{0}};
    TEST_CHECK(gpu->device_info(0, &info, &err) == ZB_OK, "device_info: %s", err.msg);
    printf("device: %s, driver %s, runtime %s\n", info.name, info.driver, info.runtime);

    std::vector<Model> models;
    models.reserve(12); /* tensors point into each model's host buffers */
    models.push_back(zamba_model("zamba-tiny", 9, false, SYNTH));
    models.push_back(zamba_model("zamba-76l-tiny", 76, false, SYNTH));
    models.push_back(transformer_model("llama2-tiny", 4, 172, 0, false, SYNTH));
    models.push_back(transformer_model("mistral-tiny", 2, 160, 32, false, SYNTH));
    /* biases everywhere and host tensors in bf16/f32/f16 */
    models.push_back(zamba_model("zamba-tiny-bias-host", 9, true, HOST_MIXED));
    models.push_back(transformer_model("llama-tiny-bias-host", 2, 172, 0, true, HOST_MIXED));
    /* a window smaller than the prompt: the ring wraps inside prefill */
    models.push_back(transformer_model("mistral-tiny-w16", 2, 160, 16, false, SYNTH));
    /* the widths of the 7B models' heads: on CC 9.0 the Hopper kernels
     * (head dim 128 with tensor copies; 464 on block pairs; 128 with a
     * window on the cp.async pipeline) inside the whole forward pass */
    models.push_back(transformer_model("llama-tiny-hd128", 2, 172, 0, false, SYNTH, 128));
    models.push_back(transformer_model("mistral-tiny-hd128-w16", 2, 160, 16, false, SYNTH, 128));
    models.push_back(zamba_model("zamba-tiny-hd464", 9, false, SYNTH, 464));

    for (const zb_plugin_api *p : {gpu, graph}) {
        if (!p) {
            printf("SKIP cuda_graph: the plugin is not built\n");
            continue;
        }
        printf("--- %s\n", p->name);
        for (const Model &m : models) {
            if (quick && m.name != "zamba-tiny" && m.name != "mistral-tiny-w16") continue;
            std::vector<float> ref_prefill = agreement(ref, p, m);
            behaviour(p, m, ref_prefill);
        }
        out_of_memory(p, models[0]);
        out_of_range_weight(p);
    }
    if (g_failures) {
        printf("FAIL test_plugin_agreement: %d check(s) failed\n", g_failures);
        return 1;
    }
    printf("PASS test_plugin_agreement\n");
    return 0;
}
