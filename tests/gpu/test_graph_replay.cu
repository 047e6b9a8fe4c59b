/*
 * cuda_graph against cuda_fused, through the plugin ABI: the same launches,
 * once replayed from CUDA graphs, once issued eagerly, must give the same
 * bits.
 *  - bit equality: split prefill, decode steps, then reset and the same
 *    again twice (the prefill chunks are run eagerly, then captured, then
 *    replayed), logits and next tokens compared with memcmp at every step;
 *  - capture once: 1,000 decode steps with token feedback instantiate one
 *    decode graph, replay it 999 times, and produce cuda_fused's tokens;
 *    the graph count, capture time and node count are reported
 *    (zb.graph_stats.v1);
 *  - recapture: a resize (new capacity, new batch) drops every graph and
 *    the next steps capture again, still equal to cuda_fused resized alike.
 * Prints SKIP without a GPU or without the cuda_graph plugin. --quick (for
 * compute-sanitizer): two models, 6 lockstep steps, 20 feedback steps.
 */
#include "plugin_test_models.h"

static zb_graph_stats stats_of(const Session &G)
{
    const zb_ext_graph_stats *ext = (const zb_ext_graph_stats *)G.api->get_extension(ZB_EXT_GRAPH_STATS);
    TEST_CHECK(ext != nullptr, "cuda_graph offers no %s", ZB_EXT_GRAPH_STATS);
    zb_graph_stats st;
    zb_error err = {{0}};
    TEST_CHECK(ext->get(G.s, &st, &err) == ZB_OK, "graph stats: %s", err.msg);
    return st;
}

static bool same_bits(const std::vector<float> &a, const std::vector<float> &b)
{
    return a.size() == b.size() && memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

/* Prefill (in two calls) and `steps` decodes on both sessions, explicit
 * tokens from cuda_fused's argmax; every output compared bit for bit. */
static void lockstep(const Session &F, const Session &G, const Model &m, int batch, int steps, const char *what)
{
    const int V = m.d.vocab_size;
    const std::vector<int32_t> tok = prompts(V);
    std::vector<float> lf((size_t)batch * V), lg(lf.size());
    std::vector<int32_t> nf(batch), ng(batch);
    int mismatches = 0;
    const int parts[2][2] = {{0, kSplit}, {kSplit, kPrompt - kSplit}};
    for (auto &p : parts) {
        const std::vector<int32_t> t = columns(tok, p[0], p[1], batch);
        TEST_CHECK(prefill(F, t, p[1], &lf, &nf) == ZB_OK, "cuda_fused prefill");
        TEST_CHECK(prefill(G, t, p[1], &lg, &ng) == ZB_OK, "cuda_graph prefill");
        mismatches += !same_bits(lf, lg) || nf != ng;
    }
    for (int s = 0; s < steps; s++) {
        std::vector<int32_t> in = nf;
        TEST_CHECK(decode(F, in.data(), &lf, &nf) == ZB_OK, "cuda_fused decode");
        TEST_CHECK(decode(G, in.data(), &lg, &ng) == ZB_OK, "cuda_graph decode");
        if (!same_bits(lf, lg) || nf != ng) {
            if (!mismatches) fprintf(stderr, "  %s %s: first difference at decode step %d\n", m.name.c_str(), what, s);
            mismatches++;
        }
    }
    EXPECT(mismatches == 0, "%s %s: %d of %d outputs differ from cuda_fused", m.name.c_str(), what, mismatches,
           steps + 2);
}

static void bit_equality(const zb_plugin_api *fused, const zb_plugin_api *graph, const Model &m, int steps)
{
    const int before = g_failures, cap = kPrompt + steps;
    zb_error err = {{0}};
    Session F(fused, m, ZBK_HALF_DTYPE, kBatch, cap), G(graph, m, ZBK_HALF_DTYPE, kBatch, cap);
    lockstep(F, G, m, kBatch, steps, "first run (eager prefill, decode captured at step 2)");
    const zb_graph_stats s1 = stats_of(G);
    EXPECT(s1.captures == 1 && s1.graphs == 1 && s1.decode_nodes > 0,
           "%s: after one run %lld captures, %lld graphs, %lld decode nodes", m.name.c_str(), (long long)s1.captures,
           (long long)s1.graphs, (long long)s1.decode_nodes);
    for (int run = 2; run <= 3; run++) {
        TEST_CHECK(F.api->reset(F.s, &err) == ZB_OK, "reset: %s", err.msg);
        TEST_CHECK(G.api->reset(G.s, &err) == ZB_OK, "reset: %s", err.msg);
        lockstep(F, G, m, kBatch, steps, run == 2 ? "after reset (prefill captured)" : "after reset (all replayed)");
    }
    const zb_graph_stats s3 = stats_of(G);
    /* the two prefill chunks were captured in run 2; nothing since */
    EXPECT(s3.captures == 3 && s3.graphs == 3, "%s: after three runs %lld captures, %lld graphs", m.name.c_str(),
           (long long)s3.captures, (long long)s3.graphs);
    EXPECT(s3.replays == (steps - 1) + 2 * steps + 2 + 2, "%s: %lld replays", m.name.c_str(), (long long)s3.replays);
    printf("%s %-22s bit-equal to cuda_fused over 3 runs x (2 prefill chunks + %d steps), batch %d\n",
           g_failures > before ? "FAIL" : "PASS", m.name.c_str(), steps, kBatch);
}

/* `steps` (1,000) steps of token feedback: one capture, the same tokens as cuda_fused. */
static void capture_once(const zb_plugin_api *fused, const zb_plugin_api *graph, const Model &m, int steps)
{
    const int before = g_failures, cap = kPrompt + steps;
    Session F(fused, m, ZBK_HALF_DTYPE, 1, cap), G(graph, m, ZBK_HALF_DTYPE, 1, cap);
    const std::vector<int32_t> all = prompts(m.d.vocab_size);
    const std::vector<int32_t> tok(all.begin(), all.begin() + kPrompt);
    std::vector<int32_t> nf(1), ng(1), tf, tg;
    TEST_CHECK(prefill(F, tok, kPrompt, nullptr, &nf) == ZB_OK, "cuda_fused prefill");
    TEST_CHECK(prefill(G, tok, kPrompt, nullptr, &ng) == ZB_OK, "cuda_graph prefill");
    zb_graph_stats s0 = {};
    for (int s = 0; s < steps; s++) {
        TEST_CHECK(decode(F, nullptr, nullptr, &nf) == ZB_OK, "cuda_fused decode");
        TEST_CHECK(decode(G, nullptr, nullptr, &ng) == ZB_OK, "cuda_graph decode");
        tf.push_back(nf[0]);
        tg.push_back(ng[0]);
        if (s == 1) s0 = stats_of(G); /* the capture happened at step 2 */
    }
    const zb_graph_stats s1 = stats_of(G);
    EXPECT(s0.captures == 1 && s1.captures == 1, "%s: %lld captures after 2 steps, %lld after %d", m.name.c_str(),
           (long long)s0.captures, (long long)s1.captures, steps);
    EXPECT(s1.replays - s0.replays == steps - 2, "%s: %lld replays in %d steps", m.name.c_str(),
           (long long)(s1.replays - s0.replays), steps - 2);
    EXPECT(s1.graphs == 1 && s1.capture_ms > 0.0 && s1.decode_nodes > 0, "%s: graphs %lld capture %.3f ms nodes %lld",
           m.name.c_str(), (long long)s1.graphs, s1.capture_ms, (long long)s1.decode_nodes);
    size_t diff = 0;
    while (diff < tf.size() && tf[diff] == tg[diff]) diff++;
    EXPECT(diff == tf.size(), "%s: generated tokens differ from cuda_fused from step %zu on", m.name.c_str(), diff);
    printf("%s %-22s %d decode steps: 1 capture (%.2f ms, %lld nodes), %lld replays, tokens equal\n",
           g_failures > before ? "FAIL" : "PASS", m.name.c_str(), steps, s1.capture_ms, (long long)s1.decode_nodes,
           (long long)s1.replays);
}

/* Resize to a new capacity, then a new batch: graphs dropped, captured again. */
static void recapture(const zb_plugin_api *fused, const zb_plugin_api *graph, const Model &m)
{
    const int before = g_failures;
    zb_error err = {{0}};
    Session F(fused, m, ZBK_HALF_DTYPE, kBatch, kPrompt + 8), G(graph, m, ZBK_HALF_DTYPE, kBatch, kPrompt + 8);
    lockstep(F, G, m, kBatch, 8, "before resize");
    const zb_ext_resize *rf = (const zb_ext_resize *)F.api->get_extension(ZB_EXT_RESIZE);
    const zb_ext_resize *rg = (const zb_ext_resize *)G.api->get_extension(ZB_EXT_RESIZE);
    TEST_CHECK(rf && rg, "resize extension missing");
    const int sizes[2][2] = {{kBatch, kPrompt + 40}, {2, kPrompt + 16}};
    int64_t captures = stats_of(G).captures;
    for (auto &z : sizes) {
        TEST_CHECK(rf->resize(F.s, z[0], z[1], &err) == ZB_OK, "resize: %s", err.msg);
        TEST_CHECK(rg->resize(G.s, z[0], z[1], &err) == ZB_OK, "resize: %s", err.msg);
        EXPECT(stats_of(G).graphs == 0, "%s: graphs survive a resize", m.name.c_str());
        char what[64];
        snprintf(what, sizeof what, "after resize to batch %d, capacity %d", z[0], z[1]);
        lockstep(F, G, m, z[0], z[1] - kPrompt, what);
        const zb_graph_stats s = stats_of(G);
        EXPECT(s.captures == captures + 1 && s.graphs == 1, "%s %s: %lld new captures, %lld graphs", m.name.c_str(),
               what, (long long)(s.captures - captures), (long long)s.graphs);
        captures = s.captures;
    }
    printf("%s %-22s recapture after a capacity change and a batch change\n", g_failures > before ? "FAIL" : "PASS",
           m.name.c_str());
}

int main(int argc, char **argv)
{
    if (!gpu_available("test_graph_replay")) return 0;
    const bool quick = has_arg(argc, argv, "--quick");
    const zb_plugin_api *fused = load_plugin("cuda_fused");
    const zb_plugin_api *graph = load_plugin("cuda_graph", true);
    if (!graph) {
        printf("SKIP test_graph_replay: the cuda_graph plugin is not built\n");
        return 0;
    }
    std::vector<Model> models;
    models.reserve(6); /* tensors point into each model's host buffers */
    models.push_back(zamba_model("zamba-tiny", 9, false, SYNTH));
    models.push_back(transformer_model("llama2-tiny", 4, 172, 0, false, SYNTH));
    /* the window ring wraps inside prefill and decode */
    models.push_back(transformer_model("mistral-tiny-w16", 2, 160, 16, false, SYNTH));
    /* residual biases: the cuBLAS rank-1 update inside the graph */
    models.push_back(zamba_model("zamba-tiny-bias-host", 9, true, HOST_MIXED));
    /* the 7B models' head widths: the Hopper prefill kernels (tensor copies,
     * block pairs) captured in the prefill graphs */
    models.push_back(transformer_model("llama-tiny-hd128", 2, 172, 0, false, SYNTH, 128));
    models.push_back(zamba_model("zamba-tiny-hd464", 9, false, SYNTH, 464));
    /* under compute-sanitizer's racecheck and initcheck every launch costs
     * milliseconds: --quick keeps the step counts small */
    const int steps = quick ? 20 : 1000;
    for (size_t i = 0; i < models.size(); i++)
        if (!quick || i == 0 || i == 2) bit_equality(fused, graph, models[i], quick ? 6 : 24);
    capture_once(fused, graph, models[0], steps);
    if (!quick) capture_once(fused, graph, models[2], steps);
    recapture(fused, graph, models[0]);
    if (!quick) recapture(fused, graph, models[1]);
    if (g_failures) {
        printf("FAIL test_graph_replay: %d check(s) failed\n", g_failures);
        return 1;
    }
    printf("PASS test_graph_replay\n");
    return 0;
}
