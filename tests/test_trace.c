/*
 * Trace ingestion without a GPU: synthetic activity records through the
 * trace store into SQLite (attribution to phases, steps, layers and parts,
 * CUDA graph nodes, batching with bounded memory, losses counted), the
 * kernel classes, the views and the printed summary; then the sweep's
 * orchestration (bench/trace_run.c) end to end with the tracer's real
 * CUPTI-free core (bench/tracer/tracer_core.c) standing in for CUPTI and a
 * fake GPU plugin launching "kernels" inside its layer ranges.
 */
#include "test_util.h"

#include <sqlite3.h>

#include "options.h"
#include "recorder.h"
#include "trace_api.h"
#include "trace_class.h"
#include "trace_run.h"
#include "trace_store.h"
#include "trace_summary.h"
#include "tracer_core.h"
#include "workload.h"

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---------------------------------------------------------------- fixture */

typedef struct fixture {
    char dir[PATH_MAX];
    char db[PATH_MAX];
    zb_db *h;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    tu_mkdtemp(f->dir, sizeof f->dir);
    tu_join(f->db, sizeof f->db, f->dir, "t.db");
    zb_error err = {{0}};
    if (zb_db_open(f->db, &f->h, &err) != ZB_OK) fail_msg("zb_db_open: %s", err.msg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    zb_db_close(f->h);
    tu_rmtree(f->dir);
    free(f);
    return 0;
}

static int64_t new_run(fixture *f, const char *layout)
{
    zb_run_info i = {0};
    i.sweep_id = "s";
    i.tag = "";
    i.command_line = "zbench --trace";
    i.plugin = "cuda_fused";
    i.plugin_path = "libzb_cuda_fused.so";
    i.plugin_abi = 1;
    i.model = "zamba-tiny";
    i.model_source = "zamba-tiny";
    i.layout = layout;
    i.dtype = "bf16";
    i.n_params = 1000;
    i.batch = 1, i.seq = 8, i.gen = 4, i.reps = 1, i.capacity = 12, i.seed = 1;
    i.host = i.cpu = i.gpu = i.driver_version = i.runtime_version = "x";
    i.zbench_version = i.git_commit = "x";
    int64_t id = 0;
    zb_error err = {{0}};
    if (zb_db_run_begin(f->h, &i, &id, &err) != ZB_OK) fail_msg("run_begin: %s", err.msg);
    return id;
}

static sqlite3 *raw(const char *path)
{
    sqlite3 *h = NULL;
    if (sqlite3_open(path, &h) != SQLITE_OK) fail_msg("open %s", path);
    sqlite3_busy_timeout(h, 5000);
    return h;
}

static sqlite3_stmt *qrow(sqlite3 *h, const char *fmt, va_list ap)
{
    char sql[2048];
    vsnprintf(sql, sizeof sql, fmt, ap);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) fail_msg("%s: %s", sql, sqlite3_errmsg(h));
    if (sqlite3_step(st) != SQLITE_ROW) fail_msg("no row: %s", sql);
    return st;
}

static int64_t qi(sqlite3 *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int64_t qi(sqlite3 *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = qrow(h, fmt, ap);
    va_end(ap);
    int64_t v = sqlite3_column_type(st, 0) == SQLITE_NULL ? -999 : sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static double qd(sqlite3 *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static double qd(sqlite3 *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = qrow(h, fmt, ap);
    va_end(ap);
    double v = sqlite3_column_type(st, 0) == SQLITE_NULL ? -999.0 : sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* The text of a one-value query; "NULL" for NULL. */
static const char *qt(char *buf, size_t n, sqlite3 *h, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static const char *qt(char *buf, size_t n, sqlite3 *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = qrow(h, fmt, ap);
    va_end(ap);
    const unsigned char *t = sqlite3_column_text(st, 0);
    snprintf(buf, n, "%s", t ? (const char *)t : "NULL");
    sqlite3_finalize(st);
    return buf;
}

/* -------------------------------------------------------- record makers */

static zb_trace_record corr(uint32_t id, uint64_t phase, uint64_t layer)
{
    zb_trace_record r = {0};
    r.kind = ZB_TRACE_CORRELATION;
    r.correlation_id = id;
    r.phase_id = phase;
    r.layer_id = layer;
    return r;
}

static zb_trace_record kern(uint32_t id, const char *name, uint64_t start, uint64_t ns)
{
    zb_trace_record r = {0};
    r.kind = ZB_TRACE_KERNEL;
    r.correlation_id = id;
    r.name = name;
    r.start_ns = start;
    r.end_ns = start + ns;
    r.device_id = 0;
    r.stream_id = 7;
    r.grid[0] = 132, r.grid[1] = 2, r.grid[2] = 1;
    r.block[0] = 256, r.block[1] = 1, r.block[2] = 1;
    r.registers = 40;
    r.static_smem = 1024;
    r.dynamic_smem = 49152;
    return r;
}

static zb_trace_record copy(uint32_t id, uint64_t bytes, uint64_t start, uint64_t ns)
{
    zb_trace_record r = {0};
    r.kind = ZB_TRACE_MEMCPY;
    r.correlation_id = id;
    r.bytes = bytes;
    r.copy_kind = "HtoD";
    r.start_ns = start;
    r.end_ns = start + ns;
    return r;
}

static zb_trace_store *store_open(fixture *f, int batch, int pending_max, int busy_ms)
{
    zb_trace_store_opts o = {batch, 1u << 10, pending_max, busy_ms};
    zb_trace_store *s = NULL;
    zb_error err = {{0}};
    if (zb_trace_store_open(f->db, &o, &s, &err) != ZB_OK) fail_msg("store open: %s", err.msg);
    return s;
}

static zb_trace_counts end_ok(zb_trace_store *s)
{
    zb_trace_counts c;
    zb_error err = {{0}};
    if (zb_trace_store_end_run(s, &c, &err) != ZB_OK) fail_msg("end_run: %s", err.msg);
    return c;
}

#define PREFILL(rep) zb_trace_phase_id(ZB_TRACE_PHASE_PREFILL, rep, 0)
#define DECODE(rep, step) zb_trace_phase_id(ZB_TRACE_PHASE_DECODE, rep, step)
#define LAYER(l, part) zb_trace_layer_id(l, part)

/* ------------------------------------------------------------------ ids */

static void test_ids(void **state)
{
    (void)state;
    const uint64_t p0 = PREFILL(0), d17 = DECODE(4, 1000), w = DECODE(-1, 3);
    assert_int_equal(zb_trace_phase_of(p0), ZB_TRACE_PHASE_PREFILL);
    assert_int_equal(zb_trace_rep_of(p0), 0);
    assert_int_equal(zb_trace_step_of(p0), 0);
    assert_int_equal(zb_trace_phase_of(d17), ZB_TRACE_PHASE_DECODE);
    assert_int_equal(zb_trace_rep_of(d17), 4);
    assert_int_equal(zb_trace_step_of(d17), 1000);
    assert_int_equal(zb_trace_rep_of(w), -1); /* a warm-up */
    assert_int_equal(zb_trace_step_of(w), 3);
    assert_true(p0 != 0 && w != 0);
    /* sorted by phase, then repetition, then step */
    assert_true(PREFILL(3) < DECODE(0, 1));
    assert_true(DECODE(0, 900) < DECODE(1, 1));
    assert_true(DECODE(1, 1) < DECODE(1, 2));
    const uint64_t l = LAYER(75, ZB_PART_ATTENTION), none = LAYER(ZB_LAYER_NONE, ZB_PART_LOGITS);
    assert_int_equal(zb_trace_layer_of(l), 75);
    assert_int_equal(zb_trace_part_of(l), ZB_PART_ATTENTION);
    assert_int_equal(zb_trace_layer_of(none), ZB_LAYER_NONE);
    assert_int_equal(zb_trace_part_of(none), ZB_PART_LOGITS);
    assert_true(LAYER(ZB_LAYER_NONE, ZB_PART_STEP) != 0); /* 0 means "no layer" */
}

/* ---------------------------------------------------------------- classes */

static void test_classes(void **state)
{
    (void)state;
    static const struct {
        const char *name, *cls;
    } cases[] = {
        {"void (anonymous namespace)::gemv_kernel<4, 2, true>(zbk::GemvArgs)", "gemm"},
        {"nvjet_tst_64x8_64x16_4x1_v_bz_splitK_TNT", "gemm"},
        {"void cublasLt::splitKreduce_kernel<32, 16, int, float, float>(cublasLt::cublasSplitKParams<float>)", "gemm"},
        {"sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64_warpgroupsize1x1x1_execute_segment_k_off_kernel__5x_cublas",
         "gemm"},
        {"void (anonymous namespace)::add_bias_kernel(float*, float const*, int, int)", "gemm"},
        {"void (anonymous namespace)::rmsnorm_kernel<true>(float const*, float const*, int)", "norm"},
        {"void (anonymous namespace)::conv_prefill_kernel(zbk_conv_args)", "conv"},
        {"void (anonymous namespace)::scan_fast_kernel<8>(zbk_scan_args)", "scan"},
        {"void (anonymous namespace)::scan_step_kernel(zbk_mamba_step_args)", "scan"},
        {"void (anonymous namespace)::xproj_kernel(zbk_mamba_step_args)", "scan"},
        {"void (anonymous namespace)::attn_rows_kernel<64>(zbattn::Args)", "attention"},
        {"void (anonymous namespace)::decode_chunk_kernel<4, 8>(zbattn::Args)", "attention"},
        {"void (anonymous namespace)::decode_combine_kernel(zbattn::Args)", "attention"},
        {"void (anonymous namespace)::decode_split_kernel<1, 2>((anonymous namespace)::DecodeParams)", "attention"},
        {"void (anonymous namespace)::rope_store_kernel(zbk_rope_args)", "attention"},
        {"ring_copy", "attention"},
        /* "gemm" in a fused attention kernel: attention wins */
        {"void flash_fwd_kernel<Flash_fwd_kernel_traits<128, 64, gemm_tile>>(Flash_fwd_params)", "attention"},
        {"void (anonymous namespace)::gated_act_kernel(zb_bf16 const*, int, int)", "other"},
        {"void (anonymous namespace)::argmax_kernel(float const*, int, int*)", "other"},
        {"void (anonymous namespace)::convert_kernel(void const*, zb_bf16*, long)", "other"},
        {"void (anonymous namespace)::embed_kernel(int const*, int)", "other"},
        /* the parameter list does not count */
        {"void mystery_kernel(NormArgs, GemmArgs)", "other"},
        {"", "other"},
    };
    for (int i = 0; i < N_OF(cases); i++)
        if (strcmp(zb_kernel_class(cases[i].name), cases[i].cls) != 0)
            fail_msg("class of '%s' is %s, expected %s", cases[i].name, zb_kernel_class(cases[i].name), cases[i].cls);
    assert_string_equal(zb_kernel_class(NULL), "other");
}

static void test_short_names(void **state)
{
    (void)state;
    char b[40];
    zb_kernel_short_name("void (anonymous namespace)::gemv_kernel<4, 2, true>(zbk::GemvArgs)", b, sizeof b);
    assert_string_equal(b, "gemv_kernel<4, 2, true>");
    zb_kernel_short_name("nvjet_tst_64x8_64x16", b, sizeof b);
    assert_string_equal(b, "nvjet_tst_64x8_64x16");
    zb_kernel_short_name("void zbattn::decode<(int)4>(float)", b, sizeof b);
    assert_string_equal(b, "zbattn::decode<(int)4>");
    zb_kernel_short_name("void cutlass::Kernel2<cutlass_80_tensorop_bf16_s16816gemm_relu_bf16_64x64_64x4_tn_align8>(Params)",
                         b, sizeof b);
    assert_int_equal(strlen(b), sizeof b - 1);
    assert_string_equal(b + sizeof b - 4, "...");
    TU_ASSERT_CONTAINS(b, "cutlass::Kernel2<cutlass_80");
}

/* ------------------------------------------------------------ attribution */

static void test_attribution(void **state)
{
    fixture *f = *state;
    const int64_t run = new_run(f, "zamba");
    zb_trace_store *s = store_open(f, 0, 0, 0);
    zb_trace_store_begin_run(s, run);
    const zb_trace_record recs[] = {
        corr(10, PREFILL(0), LAYER(2, ZB_PART_ATTENTION)),
        corr(11, PREFILL(0), LAYER(2, ZB_PART_MLP)),
        corr(12, PREFILL(0), LAYER(3, ZB_PART_MAMBA)),
        corr(13, DECODE(1, 7), LAYER(ZB_LAYER_NONE, ZB_PART_EMBED)),
        corr(14, 0, 0), /* a reset between plugin calls */
        corr(15, DECODE(1, 7), LAYER(ZB_LAYER_NONE, ZB_PART_STEP)),
        kern(10, "void (anonymous namespace)::attn_rows_kernel<64>(zbattn::Args)", 1000, 50),
        kern(11, "void (anonymous namespace)::gated_act_kernel(zb_bf16 const*, int, int)", 1100, 20),
        kern(12, "void (anonymous namespace)::scan_fast_kernel<8>(zbk_scan_args)", 1200, 70),
        kern(13, "void (anonymous namespace)::embed_kernel(int const*, int)", 2000, 5),
        copy(15, 4096, 2100, 10),
    };
    zb_trace_store_sink(s, recs, (size_t)N_OF(recs));
    zb_trace_record set = {0};
    set.kind = ZB_TRACE_MEMSET;
    set.correlation_id = 14;
    set.bytes = 512;
    set.start_ns = 3000, set.end_ns = 3004;
    zb_trace_store_sink(s, &set, 1);
    zb_trace_counts c = end_ok(s);
    assert_int_equal(c.records, 6);
    assert_int_equal(c.unattributed, 0);
    assert_int_equal(c.lost, 0);
    zb_trace_store_close(s);

    sqlite3 *h = raw(f->db);
    char b[256];
    assert_int_equal(qi(h, "SELECT count(*) FROM kernels WHERE run_id = %lld", (long long)run), 6);
    /* layer 2's attention kernel: phase, repetition, layer, part, class */
    assert_string_equal(qt(b, sizeof b, h,
                           "SELECT phase || '/' || rep || '/' || step || '/' || layer || '/' || part || '/' || class"
                           " FROM kernels WHERE correlation_id = 10"),
                        "prefill/0/0/2/attention/attention");
    assert_string_equal(qt(b, sizeof b, h, "SELECT part || '/' || class FROM kernels WHERE correlation_id = 11"),
                        "mlp/other");
    assert_string_equal(qt(b, sizeof b, h, "SELECT layer || '/' || part || '/' || class FROM kernels"
                                           " WHERE correlation_id = 12"),
                        "3/mamba/scan");
    assert_string_equal(qt(b, sizeof b, h, "SELECT phase || '/' || rep || '/' || step || '/' || part ||"
                                           " '/' || ifnull(layer, 'none') FROM kernels WHERE correlation_id = 13"),
                        "decode/1/7/embed/none");
    /* the step's own range: no layer, no part */
    assert_string_equal(qt(b, sizeof b, h, "SELECT kind || '/' || ifnull(layer, 'none') || '/' || ifnull(part,"
                                           " 'none') || '/' || copy_kind || '/' || bytes || '/' || class"
                                           " FROM kernels WHERE correlation_id = 15"),
                        "memcpy/none/none/HtoD/4096/memcpy");
    assert_string_equal(qt(b, sizeof b, h, "SELECT phase || '/' || ifnull(rep, 'none') || '/' || kind || '/' ||"
                                           " bytes FROM kernels WHERE correlation_id = 14"),
                        "other/none/memset/512");
    /* a kernel's launch configuration; copies have none */
    assert_string_equal(qt(b, sizeof b, h, "SELECT grid_x || 'x' || grid_y || 'x' || grid_z || ' ' || block_x ||"
                                           " ' ' || registers || ' ' || static_smem || ' ' || dynamic_smem || ' ' ||"
                                           " stream || ' ' || (end_ns - start_ns) FROM kernels"
                                           " WHERE correlation_id = 12"),
                        "132x2x1 256 40 1024 49152 7 70");
    assert_int_equal(qi(h, "SELECT grid_x FROM kernels WHERE correlation_id = 15"), -999);
    assert_int_equal(qi(h, "SELECT bytes FROM kernels WHERE correlation_id = 12"), -999);
    assert_string_equal(qt(b, sizeof b, h, "SELECT name FROM kernels WHERE correlation_id = 12"),
                        "void (anonymous namespace)::scan_fast_kernel<8>(zbk_scan_args)");
    sqlite3_close(h);
}

/* An activity may come before its correlation (another buffer): it waits,
 * and is attributed when the correlation comes; one whose correlation never
 * comes is written at the end as 'other', counted unattributed. */
static void test_pending(void **state)
{
    fixture *f = *state;
    const int64_t run = new_run(f, "zamba");
    zb_trace_store *s = store_open(f, 0, 0, 0);
    zb_trace_store_begin_run(s, run);
    const zb_trace_record early[] = {kern(20, "gemv_kernel", 100, 10), kern(99, "gemv_kernel", 120, 10)};
    zb_trace_store_sink(s, early, 2);
    zb_trace_counts c;
    zb_trace_store_counts(s, &c);
    assert_int_equal(c.records, 0);
    assert_int_equal(c.held_max, 2);
    const zb_trace_record late = corr(20, DECODE(0, 2), LAYER(5, ZB_PART_MAMBA));
    zb_trace_store_sink(s, &late, 1);
    c = end_ok(s);
    assert_int_equal(c.records, 2);
    assert_int_equal(c.unattributed, 1);
    zb_trace_store_close(s);

    sqlite3 *h = raw(f->db);
    char b[128];
    assert_string_equal(qt(b, sizeof b, h, "SELECT phase || '/' || step || '/' || layer FROM kernels"
                                           " WHERE correlation_id = 20"),
                        "decode/2/5");
    assert_string_equal(qt(b, sizeof b, h, "SELECT phase || '/' || ifnull(layer, 'none') FROM kernels"
                                           " WHERE correlation_id = 99"),
                        "other/none");
    sqlite3_close(h);
}

/* Rows reach the database in batches while the run goes on, and what is
 * held in memory stays bounded by the batch and the pending limit. */
static void test_batches(void **state)
{
    fixture *f = *state;
    const int64_t run = new_run(f, "zamba");
    zb_trace_store *s = store_open(f, 8, 16, 0);
    zb_trace_store_begin_run(s, run);
    sqlite3 *h = raw(f->db);
    uint32_t id = 1;
    for (int chunk = 0; chunk < 10; chunk++) {
        zb_trace_record r[20];
        for (int i = 0; i < 10; i++, id++) {
            r[2 * i] = corr(id, DECODE(0, (int)id), LAYER((int)id % 9, ZB_PART_MAMBA));
            r[2 * i + 1] = kern(id, "gemv_kernel", 1000 * id, 100);
        }
        zb_trace_store_sink(s, r, 20);
    }
    /* 100 activities: 12 full batches of 8 are in the file already */
    assert_int_equal(qi(h, "SELECT count(*) FROM kernels WHERE run_id = %lld", (long long)run), 96);
    zb_trace_counts c;
    zb_trace_store_counts(s, &c);
    assert_int_equal(c.batches, 12);
    assert_true(c.held_max <= 8);
    /* a flood of activities whose correlation never comes */
    for (int i = 0; i < 50; i++) {
        zb_trace_record k = kern(100000 + (uint32_t)i, "orphan", 5000 + (uint64_t)i, 1);
        zb_trace_store_sink(s, &k, 1);
    }
    zb_trace_store_counts(s, &c);
    assert_true(c.held_max <= 8 + 16);
    c = end_ok(s);
    assert_int_equal(c.records, 150);
    assert_int_equal(c.unattributed, 50);
    assert_int_equal(c.lost, 0);
    assert_int_equal(c.batches, 150 / 8 + 1);
    assert_true(c.held_max <= 8 + 16);
    assert_int_equal(qi(h, "SELECT count(*) FROM kernels WHERE run_id = %lld AND phase = 'decode'", (long long)run),
                     100);
    assert_int_equal(qi(h, "SELECT count(DISTINCT step) FROM kernels WHERE run_id = %lld", (long long)run), 100);
    assert_int_equal(qi(h, "SELECT count(*) FROM kernels WHERE name = 'orphan' AND phase = 'other'"), 50);
    sqlite3_close(h);
    zb_trace_store_close(s);
}

/* A store that cannot write (another writer holds the lock past the busy
 * timeout) counts every activity as lost and says why; the next run tries
 * again. */
static void test_lost(void **state)
{
    fixture *f = *state;
    const int64_t run = new_run(f, "zamba");
    const int64_t run2 = new_run(f, "zamba");
    zb_trace_store *s = store_open(f, 4, 0, 50);
    sqlite3 *h = raw(f->db);
    assert_int_equal(sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    zb_trace_store_begin_run(s, run);
    for (uint32_t i = 1; i <= 10; i++) {
        zb_trace_record r[2] = {corr(i, PREFILL(0), 0), kern(i, "k", 10 * i, 5)};
        zb_trace_store_sink(s, r, 2);
    }
    zb_trace_counts c;
    zb_error err = {{0}};
    assert_int_equal(zb_trace_store_end_run(s, &c, &err), ZB_ERR_INVALID);
    assert_int_equal(c.lost, 10);
    assert_int_equal(c.records, 0);
    TU_ASSERT_CONTAINS(err.msg, f->db);
    TU_ASSERT_CONTAINS(err.msg, "trace of run");
    assert_null(strchr(err.msg, '\n'));
    assert_int_equal(sqlite3_exec(h, "COMMIT", NULL, NULL, NULL), SQLITE_OK);

    zb_trace_store_begin_run(s, run2);
    zb_trace_record r[2] = {corr(50, PREFILL(0), 0), kern(50, "k", 10, 5)};
    zb_trace_store_sink(s, r, 2);
    c = end_ok(s);
    assert_int_equal(c.records, 1);
    assert_int_equal(c.lost, 0);
    assert_int_equal(qi(h, "SELECT count(*) FROM kernels WHERE run_id = %lld", (long long)run), 0);
    assert_int_equal(qi(h, "SELECT count(*) FROM kernels WHERE run_id = %lld", (long long)run2), 1);
    sqlite3_close(h);
    zb_trace_store_close(s);
}

/* Kernels replayed from a CUDA graph share the graph launch's correlation
 * (their phase) and take their layer from the node they ran as, noted when
 * the node was captured, possibly runs earlier, and through clones. */
static void test_graph_nodes(void **state)
{
    fixture *f = *state;
    zb_trace_store *s = store_open(f, 0, 0, 0);
    zb_trace_record nodes[3] = {{0}, {0}, {0}};
    nodes[0].kind = ZB_TRACE_GRAPH_NODE, nodes[0].graph_node_id = 100, nodes[0].layer_id = LAYER(4, ZB_PART_MAMBA);
    nodes[1].kind = ZB_TRACE_GRAPH_NODE, nodes[1].graph_node_id = 101;
    nodes[1].layer_id = LAYER(4, ZB_PART_ATTENTION);
    nodes[2].kind = ZB_TRACE_GRAPH_CLONE, nodes[2].graph_node_id = 200, nodes[2].orig_node_id = 100;
    zb_trace_store_sink(s, nodes, 3); /* at capture time: no run yet */

    for (int i = 0; i < 2; i++) {
        const int64_t run = new_run(f, "zamba");
        zb_trace_store_begin_run(s, run);
        zb_trace_record r[4] = {corr(30 + (uint32_t)i, DECODE(0, 3), 0)};
        for (int k = 0; k < 3; k++) {
            r[1 + k] = kern(30 + (uint32_t)i, "scan_step_kernel", 100 * (uint64_t)k, 10);
            r[1 + k].graph_id = 9;
        }
        r[1].graph_node_id = 200; /* the clone of a mamba node */
        r[2].graph_node_id = 101;
        r[3].graph_node_id = 555; /* a node nobody saw made */
        zb_trace_store_sink(s, r, 4);
        zb_trace_counts c = end_ok(s);
        assert_int_equal(c.records, 3);
        sqlite3 *h = raw(f->db);
        char b[128];
        assert_string_equal(qt(b, sizeof b, h, "SELECT group_concat(ifnull(layer, '-') || ':' || ifnull(part, '-'),"
                                               " ' ') FROM (SELECT * FROM kernels WHERE run_id = %lld"
                                               " ORDER BY graph_node_id)",
                                (long long)run),
                            "4:attention 4:mamba -:-");
        assert_int_equal(qi(h, "SELECT count(*) FROM kernels WHERE run_id = %lld AND graph_id = 9 AND step = 3"
                               " AND phase = 'decode'",
                            (long long)run),
                         3);
        sqlite3_close(h);
    }
    zb_trace_store_close(s);
}

/* Activities outside any run are not written to some run: counted. */
static void test_stray(void **state)
{
    fixture *f = *state;
    zb_trace_store *s = store_open(f, 0, 0, 0);
    zb_trace_record r[3] = {corr(1, PREFILL(0), 0), kern(1, "k", 1, 1), kern(1, "k", 3, 1)};
    zb_trace_store_sink(s, r, 3);
    assert_int_equal(zb_trace_store_stray(s), 2);
    zb_trace_store_close(s);
    sqlite3 *h = raw(f->db);
    assert_int_equal(qi(h, "SELECT count(*) FROM kernels"), 0);
    sqlite3_close(h);
}

/* --------------------------------------------------------------- the views */

/* prefill (rep 0): 2 x gemv 300 ns, rmsnorm 100 ns, a 1000-byte copy in
 * 400 ns (1100 ns in all); decode step 1 (rep 0): a 200 ns scan; a
 * warm-up gemv (rep -1, 1000 ns) that the views leave out. */
/* A new zamba run holding the records r[0..n) as one finished trace. */
static int64_t stored_run(fixture *f, const zb_trace_record *r, size_t n)
{
    const int64_t run = new_run(f, "zamba");
    zb_trace_store *s = store_open(f, 0, 0, 0);
    zb_trace_store_begin_run(s, run);
    zb_trace_store_sink(s, r, n);
    end_ok(s);
    zb_trace_store_close(s);
    return run;
}

static int64_t view_run(fixture *f)
{
    const char *gemv = "void (anonymous namespace)::gemv_kernel<4>(Args)";
    const zb_trace_record r[] = {
        corr(1, PREFILL(0), LAYER(0, ZB_PART_MAMBA)),
        corr(2, PREFILL(0), LAYER(1, ZB_PART_MAMBA)),
        corr(3, PREFILL(0), LAYER(1, ZB_PART_MAMBA)),
        corr(4, PREFILL(0), 0),
        corr(5, DECODE(0, 1), LAYER(1, ZB_PART_MAMBA)),
        corr(6, PREFILL(-1), LAYER(0, ZB_PART_MAMBA)),
        kern(1, gemv, 0, 300),
        kern(2, gemv, 400, 300),
        kern(3, "void (anonymous namespace)::rmsnorm_kernel<false>(Args)", 800, 100),
        copy(4, 1000, 1000, 400),
        kern(5, "void (anonymous namespace)::scan_step_kernel(Args)", 2000, 200),
        kern(6, gemv, 3000, 1000),
    };
    return stored_run(f, r, (size_t)N_OF(r));
}

static void test_views(void **state)
{
    fixture *f = *state;
    const int64_t run = view_run(f);
    sqlite3 *h = raw(f->db);
    char b[256];
    /* top: gemv first, its count without the warm-up, 600 of 1100 ns */
    assert_string_equal(qt(b, sizeof b, h, "SELECT name || '/' || class || '/' || count FROM v_kernel_top"
                                           " WHERE run_id = %lld AND phase = 'prefill' AND rank = 1",
                            (long long)run),
                        "void (anonymous namespace)::gemv_kernel<4>(Args)/gemm/2");
    TU_ASSERT_NEAR(qd(h, "SELECT total_ms FROM v_kernel_top WHERE run_id = %lld AND rank = 1 AND phase = 'prefill'",
                      (long long)run), 600e-6, 1e-12);
    TU_ASSERT_NEAR(qd(h, "SELECT mean_us FROM v_kernel_top WHERE run_id = %lld AND rank = 1 AND phase = 'prefill'",
                      (long long)run), 0.3, 1e-12);
    TU_ASSERT_NEAR(qd(h, "SELECT pct_of_phase FROM v_kernel_top WHERE run_id = %lld AND rank = 1"
                         " AND phase = 'prefill'", (long long)run), 600.0 / 11.0, 1e-9);
    assert_true(qd(h, "SELECT gb_per_s FROM v_kernel_top WHERE run_id = %lld AND rank = 1 AND phase = 'prefill'",
                   (long long)run) == -999.0); /* a kernel's bytes are unknown: NULL */
    /* the copy: 1000 bytes in 400 ns = 2.5 GB/s, rank 2 */
    TU_ASSERT_NEAR(qd(h, "SELECT gb_per_s FROM v_kernel_top WHERE run_id = %lld AND kind = 'memcpy'", (long long)run),
                   2.5, 1e-12);
    assert_int_equal(qi(h, "SELECT rank FROM v_kernel_top WHERE run_id = %lld AND kind = 'memcpy'", (long long)run), 2);
    /* classes, with the run's layout, model and plugin */
    assert_string_equal(qt(b, sizeof b, h, "SELECT layout || '/' || model || '/' || plugin || '/' || count FROM"
                                           " v_kernel_class WHERE run_id = %lld AND phase = 'prefill'"
                                           " AND class = 'gemm'",
                            (long long)run),
                        "zamba/zamba-tiny/cuda_fused/2");
    TU_ASSERT_NEAR(qd(h, "SELECT pct_of_phase FROM v_kernel_class WHERE run_id = %lld AND phase = 'prefill'"
                         " AND class = 'norm'", (long long)run), 100.0 / 11.0, 1e-9);
    TU_ASSERT_NEAR(qd(h, "SELECT sum(pct_of_phase) FROM v_kernel_class WHERE run_id = %lld AND phase = 'prefill'",
                      (long long)run), 100.0, 1e-9);
    TU_ASSERT_NEAR(qd(h, "SELECT pct_of_phase FROM v_kernel_class WHERE run_id = %lld AND phase = 'decode'",
                      (long long)run), 100.0, 1e-9);
    /* nothing overlaps here: each activity is charged its duration */
    TU_ASSERT_NEAR(qd(h, "SELECT sum(charged_ms) - sum(total_ms) FROM v_kernel_charged WHERE run_id = %lld",
                      (long long)run), 0.0, 1e-15);
    /* layers: layer 1's mamba part in the prefill is a gemv and a norm */
    assert_int_equal(qi(h, "SELECT count FROM v_kernel_layer WHERE run_id = %lld AND phase = 'prefill' AND layer = 1",
                        (long long)run), 2);
    TU_ASSERT_NEAR(qd(h, "SELECT total_ms FROM v_kernel_layer WHERE run_id = %lld AND phase = 'prefill'"
                         " AND layer = 0", (long long)run), 300e-6, 1e-12);
    sqlite3_close(h);
}

/* v_kernel_charged: kernels that start while the one ahead still runs
 * (programmatic launch) are charged only the time after the latest end
 * before theirs, an idle gap is charged to nobody, and each step (here
 * decode steps 1 and 2) starts afresh; the charges add up to the busy
 * span, 1800 of 2800 ns of summed durations. */
static void test_charged_view(void **state)
{
    fixture *f = *state;
    const zb_trace_record r[] = {
        corr(11, DECODE(0, 1), 0), corr(12, DECODE(0, 1), 0), corr(13, DECODE(0, 1), 0),
        corr(14, DECODE(0, 1), 0), corr(15, DECODE(0, 2), 0),
        kern(11, "a_kernel", 0, 1000),    /* [0, 1000] */
        kern(12, "b_kernel", 200, 1300),  /* [200, 1500]: waited for a */
        kern(13, "c_kernel", 1400, 200),  /* [1400, 1600] */
        kern(14, "a_kernel", 2000, 100),  /* after an idle gap */
        kern(15, "b_kernel", 5000, 100),  /* step 2's first */
    };
    const int64_t run = stored_run(f, r, (size_t)N_OF(r));

    sqlite3 *h = raw(f->db);
    char b[256];
    assert_string_equal(qt(b, sizeof b, h, "SELECT group_concat(name || ':' || rank || ':' || count, ' ') FROM"
                                           " (SELECT * FROM v_kernel_charged WHERE run_id = %lld ORDER BY rank)",
                            (long long)run),
                        "a_kernel:1:2 b_kernel:2:2 c_kernel:3:1");
    const struct {
        const char *column, *name;
        double want;
    } cells[] = {
        {"charged_ms", "a_kernel", 1100e-6}, {"charged_ms", "b_kernel", 600e-6}, {"charged_us", "b_kernel", 0.3},
        {"total_ms", "b_kernel", 1400e-6},   {"charged_ms", "c_kernel", 100e-6}, {"pct_of_phase", "a_kernel", 1100.0 / 18},
    };
    for (int i = 0; i < N_OF(cells); i++)
        TU_ASSERT_NEAR(qd(h, "SELECT %s FROM v_kernel_charged WHERE run_id = %lld AND name = '%s'", cells[i].column,
                          (long long)run, cells[i].name),
                       cells[i].want, 1e-9);
    TU_ASSERT_NEAR(qd(h, "SELECT sum(charged_ms) FROM v_kernel_charged WHERE run_id = %lld", (long long)run),
                   1800e-6, 1e-12);
    sqlite3_close(h);
}

/* The printed summary reads the same views. */
static void test_summary(void **state)
{
    fixture *f = *state;
    const int64_t run = view_run(f);
    zb_trace_info ti = {.status = "traced", .records = 5, .batch_size = 4096, .batches = 1,
                        .prefill_median_ms = -1, .decode_median_ms = -1};
    zb_error err = {{0}};
    assert_int_equal(zb_db_run_end_trace(f->h, run, "ok", NULL, NULL, 0, NULL, 0, NULL, 0, NULL, 0, &ti, &err), ZB_OK);
    zb_trace_summary_run sr = {run, "cuda_fused zamba-tiny", 400.0};
    char path[PATH_MAX];
    tu_join(path, sizeof path, f->dir, "summary.md");
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    assert_int_equal(zb_trace_summary_print(out, f->db, &sr, 10, &err), ZB_OK);
    fclose(out);
    char *text = tu_read_file(path, NULL);
    char head[64];
    snprintf(head, sizeof head, "### Trace of run %lld: cuda_fused zamba-tiny", (long long)run);
    TU_ASSERT_CONTAINS(text, head);
    TU_ASSERT_CONTAINS(text, "5 GPU activities recorded (traced); 0 dropped, 0 lost, 0 unattributed.");
    TU_ASSERT_CONTAINS(text, "**prefill**: 4 activities in 1 repetitions: 0.0011 ms of GPU time per repetition");
    TU_ASSERT_CONTAINS(text, "| 1 | `gemv_kernel<4>` | gemm | 2 | 0.001 | 0.30 | 0.30 | 54.5 | - |");
    TU_ASSERT_CONTAINS(text, "| 2 | `memcpy HtoD` | memcpy | 1 | 0.000 | 0.40 | 0.40 | 36.4 | 2.5 |");
    TU_ASSERT_CONTAINS(text, "by class: gemm 0.001 ms (54.5%), memcpy 0.000 ms (36.4%), norm 0.000 ms (9.1%)");
    /* decode: 400 bytes a step in 200 ns = 2 GB/s */
    TU_ASSERT_CONTAINS(text, "**decode**: 1 activities in 1 steps: 1.0 per step, 0.0002 ms of GPU time per step,"
                             " 2.0 GB/s over the 0.00 MB a step must move");
    TU_ASSERT_NOT_CONTAINS(text, "warm");
    free(text);
    /* a run without a trace row or kernels still prints, saying so */
    const int64_t empty = new_run(f, "transformer");
    sr.run_id = empty;
    out = fopen(path, "w");
    assert_int_equal(zb_trace_summary_print(out, f->db, &sr, 10, &err), ZB_OK);
    fclose(out);
    text = tu_read_file(path, NULL);
    TU_ASSERT_CONTAINS(text, "No GPU activity was recorded for this run.");
    free(text);
}

/* ---------------------------------------------------------- the workload */

/* A fake GPU plugin: three layers (layer 1 hybrid: attention and MLP then
 * Mamba); each part "launches" one kernel through the stand-in tracer. */
typedef struct fake_gpu {
    zbt_core core;
    int collecting, toggles;
    uint32_t next_corr;
    uint64_t clock;
    zb_trace_record done[4096]; /* "completed" activities, until flush */
    int n_done;
    char names[8][64];
} fake_gpu;

static fake_gpu *g_gpu; /* the test's one device */

struct zb_session {
    zb_trace_hooks hooks;
    int have_hooks;
    int pos;
};

static void launch(zb_session *s, const char *name)
{
    (void)s;
    fake_gpu *g = g_gpu;
    uint32_t id = ++g->next_corr;
    if (!g->collecting) return; /* CUPTI's callbacks and activity are off */
    zbt_core_note_launch(&g->core, id);
    assert_true(g->n_done < N_OF(g->done));
    zb_trace_record *r = &g->done[g->n_done++];
    *r = kern(id, name, g->clock, 100);
    g->clock += 200;
}

static void part(zb_session *s, int layer, int p, const char *name)
{
    if (s->have_hooks) s->hooks.push(s->hooks.ctx, layer, p);
    launch(s, name);
    if (s->have_hooks) s->hooks.pop(s->hooks.ctx);
}

static void forward(zb_session *s)
{
    part(s, ZB_LAYER_NONE, ZB_PART_EMBED, "embed_kernel");
    part(s, 0, ZB_PART_MAMBA, "scan_fast_kernel");
    part(s, 1, ZB_PART_ATTENTION, "attn_rows_kernel");
    part(s, 1, ZB_PART_MLP, "gated_act_kernel");
    part(s, 1, ZB_PART_MAMBA, "scan_fast_kernel");
    part(s, 2, ZB_PART_MAMBA, "scan_fast_kernel");
    part(s, ZB_LAYER_NONE, ZB_PART_LOGITS, "gemv_kernel");
}

static zb_status fake_prefill(zb_session *s, const int32_t *t, int32_t n, float *logits, int32_t *next,
                              zb_step_timing *tm, zb_error *err)
{
    (void)t, (void)tm, (void)err;
    forward(s);
    s->pos += n;
    if (logits)
        for (int i = 0; i < 16; i++) logits[i] = 0.25f * (float)(i + 1);
    if (next) next[0] = 3;
    return ZB_OK;
}

static zb_status fake_decode(zb_session *s, const int32_t *t, float *logits, int32_t *next, zb_step_timing *tm,
                             zb_error *err)
{
    return fake_prefill(s, t, 1, logits, next, tm, err);
}

static zb_status fake_reset(zb_session *s, zb_error *err)
{
    (void)err;
    s->pos = 0;
    launch(s, "memset_states"); /* outside any phase */
    return ZB_OK;
}

static zb_status fake_memory(zb_session *s, zb_memory_report *m, zb_error *err)
{
    (void)s, (void)err;
    memset(m, 0, sizeof *m);
    m->kv_tokens = 1;
    return ZB_OK;
}

static zb_status fake_set_hooks(zb_session *s, const zb_trace_hooks *h, zb_error *err)
{
    (void)err;
    s->have_hooks = h != NULL;
    if (h) s->hooks = *h;
    return ZB_OK;
}

static const zb_ext_trace_layers fake_ext = {fake_set_hooks};

static const void *fake_get_extension(const char *name)
{
    return strcmp(name, ZB_EXT_TRACE_LAYERS) == 0 ? &fake_ext : NULL;
}

static const zb_plugin_api fake_api = {
    .abi_version = ZB_ABI_VERSION,
    .name = "fake_gpu",
    .caps = ZB_CAP_GPU,
    .prefill = fake_prefill,
    .decode = fake_decode,
    .reset = fake_reset,
    .memory = fake_memory,
    .get_extension = fake_get_extension,
};

/* The stand-in tracer: the real core for stacks and notes, completed
 * "kernels" delivered at flush as CUPTI's buffers would be. */
static int ft_enable(zb_tracer *t, int on, char *msg, size_t len)
{
    (void)t, (void)msg, (void)len;
    if (g_gpu->collecting != on) g_gpu->toggles++;
    g_gpu->collecting = on;
    return 0;
}
static void ft_push_phase(zb_tracer *t, uint64_t id) { (void)t, zbt_core_push_phase(&g_gpu->core, id); }
static void ft_pop_phase(zb_tracer *t) { (void)t, zbt_core_pop_phase(&g_gpu->core); }
static void ft_push_layer(void *t, int32_t l, int32_t p) { (void)t, zbt_core_push_layer(&g_gpu->core, l, p); }
static void ft_pop_layer(void *t) { (void)t, zbt_core_pop_layer(&g_gpu->core); }
static int ft_flush(zb_tracer *t, char *msg, size_t len)
{
    (void)t, (void)msg, (void)len;
    zbt_core_deliver_begin(&g_gpu->core);
    for (int i = 0; i < g_gpu->n_done; i++) zbt_core_emit(&g_gpu->core, &g_gpu->done[i]);
    g_gpu->n_done = 0;
    zbt_core_deliver_end(&g_gpu->core);
    return 0;
}
static uint64_t ft_dropped(zb_tracer *t) { return (void)t, zbt_core_lost(&g_gpu->core); }

static const zb_tracer_api fake_tracer = {
    .version = ZB_TRACE_API_VERSION,
    .enable = ft_enable,
    .push_phase = ft_push_phase,
    .pop_phase = ft_pop_phase,
    .push_layer = ft_push_layer,
    .pop_layer = ft_pop_layer,
    .flush = ft_flush,
    .dropped = ft_dropped,
};

/* One traced run of the fake plugin through zb_trace_run and the workload:
 * warm-up 1, reps 2, depth 3, seq 4, gen `gen`. */
static int64_t traced_run(fixture *f, zb_run_opts *o, int gen, zb_trace_info *info)
{
    static fake_gpu gpu;
    memset(&gpu, 0, sizeof gpu);
    g_gpu = &gpu;
    zb_trace_store *store = store_open(f, 16, 0, 0);
    assert_int_equal(zbt_core_init(&gpu.core, zb_trace_store_sink, store, 8, 5), 0);
    zb_trace_run tr;
    zb_trace_run_init(&tr, o);
    tr.lib.api = &fake_tracer;
    tr.tracer = (zb_tracer *)&gpu;
    tr.store = store;
    zb_device_info dev = {.name = "fake", .is_gpu = 1};
    char why[256] = "";
    assert_int_equal(zb_trace_run_available(&tr, &fake_api, &dev, why, sizeof why), 1);

    const int64_t run = new_run(f, "zamba");
    zb_session session = {0};
    zb_trace_run_begin(&tr, run, 1, &fake_api, &session, gen);
    assert_int_equal(session.have_hooks, 1);
    zb_model_desc d = {.vocab_size = 16};
    zb_workload w = {.batch = 1, .seq = 4, .gen = gen, .depth = 3, .reps = 2, .warmup = 1, .seed = 1};
    w.hooks = zb_trace_run_hooks(&tr);
    assert_non_null(w.hooks);
    zb_workload_result r;
    zb_error err = {{0}};
    assert_int_equal(zb_workload_run(&fake_api, &session, &d, &w, &r, NULL, NULL, &err), ZB_OK);
    assert_int_equal(r.reps_done, 2);
    zb_workload_result_free(&r);
    memset(info, 0, sizeof *info);
    zb_trace_run_end(&tr, info);
    assert_int_equal(session.have_hooks, 0); /* removed at the end */
    assert_int_equal(gpu.core.phase.depth, 0); /* balanced */
    assert_int_equal(gpu.core.layer.depth, 0);
    tr.tracer = NULL; /* the stand-in has no stop */
    zb_trace_run_finish(&tr);
    zbt_core_free(&gpu.core);
    return run;
}

static void test_traced_workload(void **state)
{
    fixture *f = *state;
    zb_run_opts o;
    memset(&o, 0, sizeof o);
    o.trace = 1;
    o.db_path = f->db;
    zb_trace_info info;
    const int64_t run = traced_run(f, &o, 3, &info);
    assert_string_equal(info.status, "traced");
    assert_null(info.note);
    /* 2 timed reps x (depth + prefill + 3 steps) x 7 kernels, plus the
     * reset between them; never the warm-up */
    assert_int_equal(info.records, 2 * 5 * 7 + 1);
    assert_int_equal(info.unattributed, 0);
    assert_int_equal(info.dropped, 0);
    assert_int_equal(info.lost, 0);
    assert_int_equal(g_gpu->toggles, 2); /* on at rep 0's depth, off at the end */
    sqlite3 *h = raw(f->db);
    char b[512];
    assert_int_equal(qi(h, "SELECT count(*) FROM kernels WHERE run_id = %lld AND rep < 0", (long long)run), 0);
    assert_string_equal(qt(b, sizeof b, h, "SELECT group_concat(phase || ':' || n, ' ') FROM (SELECT phase,"
                                           " count(*) AS n FROM kernels WHERE run_id = %lld GROUP BY phase"
                                           " ORDER BY phase)",
                            (long long)run),
                        "decode:42 depth:14 other:1 prefill:14");
    /* each decode step: the same seven kernels, in their layers and parts */
    assert_string_equal(qt(b, sizeof b, h, "SELECT group_concat(ifnull(layer, '-') || '.' || part || '.' || class,"
                                           " ' ') FROM (SELECT * FROM kernels WHERE run_id = %lld AND rep = 1"
                                           " AND step = 2 ORDER BY start_ns)",
                            (long long)run),
                        "-.embed.other 0.mamba.scan 1.attention.attention 1.mlp.other 1.mamba.scan 2.mamba.scan"
                        " -.logits.gemm");
    assert_int_equal(qi(h, "SELECT count(DISTINCT rep || ':' || step) FROM kernels WHERE run_id = %lld AND"
                           " phase = 'decode'", (long long)run), 6);
    assert_string_equal(qt(b, sizeof b, h, "SELECT name || '/' || ifnull(rep, '-') FROM kernels WHERE run_id = %lld"
                                           " AND phase = 'other'", (long long)run),
                        "memset_states/-");
    sqlite3_close(h);
}

/* --profile-steps 2:3: only those decode steps of the timed repetitions,
 * collection switched on and off around them. */
static void test_traced_window(void **state)
{
    fixture *f = *state;
    zb_run_opts o;
    memset(&o, 0, sizeof o);
    o.trace = 1;
    o.db_path = f->db;
    o.profile_first = 2, o.profile_last = 3;
    zb_trace_info info;
    const int64_t run = traced_run(f, &o, 5, &info);
    assert_int_equal(info.records, 2 * 2 * 7);
    assert_int_equal(info.profile_first, 2);
    assert_int_equal(info.profile_last, 3);
    assert_int_equal(g_gpu->toggles, 4); /* on and off in each timed repetition */
    sqlite3 *h = raw(f->db);
    char b[256];
    assert_string_equal(qt(b, sizeof b, h, "SELECT group_concat(k, ' ') FROM (SELECT DISTINCT phase || rep || '.' ||"
                                           " step AS k FROM kernels WHERE run_id = %lld ORDER BY k)",
                            (long long)run),
                        "decode0.2 decode0.3 decode1.2 decode1.3");
    sqlite3_close(h);
}

/* ------------------------------------------------------- untraced paths */

static void test_untraced_reasons(void **state)
{
    fixture *f = *state;
    zb_run_opts o;
    memset(&o, 0, sizeof o);
    o.trace = 1;
    o.db_path = f->db;
    char why[512];
    zb_device_info cpu = {.name = "cpu", .is_gpu = 0}, gpu = {.name = "gpu", .is_gpu = 1};
    zb_plugin_api cpu_api = fake_api;
    cpu_api.name = "cpu_thing";
    cpu_api.caps = 0;

    /* a CPU plugin: said once, on one line, every run untraced */
    zb_trace_run tr;
    zb_trace_run_init(&tr, &o);
    tu_capture cap;
    tu_capture_begin(&cap, 2);
    int a = zb_trace_run_available(&tr, &cpu_api, &cpu, why, sizeof why);
    int b = zb_trace_run_available(&tr, &cpu_api, &cpu, why, sizeof why);
    char *err = tu_capture_end(&cap);
    assert_int_equal(a, 0);
    assert_int_equal(b, 0);
    TU_ASSERT_CONTAINS(why, "plugin cpu_thing runs on the CPU");
    assert_int_equal(tu_count_lines(err), 1);
    TU_ASSERT_CONTAINS(err, "zbench: --trace: plugin cpu_thing runs on the CPU");
    free(err);
    zb_trace_run_finish(&tr);

    /* no tracer library where it is looked for */
    setenv("ZBENCH_TRACER", "/nonexistent/libzb_tracer.so", 1);
    zb_trace_run_init(&tr, &o);
    tu_capture_begin(&cap, 2);
    a = zb_trace_run_available(&tr, &fake_api, &gpu, why, sizeof why);
    err = tu_capture_end(&cap);
    assert_int_equal(a, 0);
    TU_ASSERT_CONTAINS(why, "/nonexistent/libzb_tracer.so (ZBENCH_TRACER) does not exist");
    assert_int_equal(tu_count_lines(err), 1);
    free(err);
    zb_trace_run_finish(&tr);
    unsetenv("ZBENCH_TRACER");

    /* a profiler attached: CUPTI is left alone, before any library load */
    static const char *const vars[][2] = {{"NSYS_PROFILING_SESSION_ID", "Nsight Systems"},
                                           {"NV_NSIGHT_INJECTION_TRANSPORT_TYPE", "Nsight Compute"},
                                           {"CUDA_INJECTION64_PATH", "a CUDA injection tool"}};
    for (int i = 0; i < N_OF(vars); i++) {
        setenv(vars[i][0], "/opt/tool/libinjection.so", 1);
        zb_trace_run_init(&tr, &o);
        tu_capture_begin(&cap, 2);
        a = zb_trace_run_available(&tr, &fake_api, &gpu, why, sizeof why);
        err = tu_capture_end(&cap);
        unsetenv(vars[i][0]);
        assert_int_equal(a, 0);
        TU_ASSERT_CONTAINS(why, vars[i][1]);
        TU_ASSERT_CONTAINS(why, "zbench leaves CUPTI to it");
        assert_int_equal(tu_count_lines(err), 1);
        free(err);
        zb_trace_run_finish(&tr);
    }

    /* untraced runs still get NVTX-free, cost-free hooks: none at all */
    o.trace = 0;
    o.nvtx = 0;
    zb_trace_run_init(&tr, &o);
    zb_session s = {0};
    zb_trace_run_begin(&tr, 1, 0, &fake_api, &s, 4);
    assert_null(zb_trace_run_hooks(&tr));
    assert_int_equal(s.have_hooks, 0);
    zb_trace_info info = {0};
    zb_trace_run_end(&tr, &info);
    assert_string_equal(info.status, "untraced");
    zb_trace_run_finish(&tr);
}

/* --profile-steps without CUPTI brackets the window with cuProfilerStart /
 * Stop; with no CUDA driver in the process (here) that is said once. */
static void test_window_without_cuda(void **state)
{
    (void)state;
    zb_run_opts o;
    memset(&o, 0, sizeof o);
    o.profile_first = 1, o.profile_last = 2;
    zb_trace_run tr;
    zb_trace_run_init(&tr, &o);
    static fake_gpu gpu;
    memset(&gpu, 0, sizeof gpu);
    g_gpu = &gpu;
    zb_session s = {0};
    zb_trace_run_begin(&tr, 1, 0, &fake_api, &s, 4);
    const zb_phase_hooks *hooks = zb_trace_run_hooks(&tr);
    assert_non_null(hooks);
    zb_model_desc d = {.vocab_size = 16};
    zb_workload w = {.batch = 1, .seq = 2, .gen = 4, .reps = 3, .warmup = 1, .seed = 1, .hooks = hooks};
    zb_workload_result r;
    zb_error e = {{0}};
    tu_capture cap;
    tu_capture_begin(&cap, 2);
    zb_status st = zb_workload_run(&fake_api, &s, &d, &w, &r, NULL, NULL, &e);
    char *err = tu_capture_end(&cap);
    assert_int_equal(st, ZB_OK);
    zb_workload_result_free(&r);
    assert_int_equal(tu_count_lines(err), 1);
    TU_ASSERT_CONTAINS(err, "--profile-steps: cuProfilerStart: no CUDA driver library is loaded");
    free(err);
    assert_int_equal(tr.window_open, 0); /* closed after step 2 of each repetition */
    zb_trace_info info = {0};
    zb_trace_run_end(&tr, &info);
    zb_trace_run_finish(&tr);
}

/* --------------------------------------------------------------- options */

static zb_status parse(const char *const *args, int n, zb_run_opts *o, zb_error *err)
{
    char *argv[16];
    argv[0] = "run";
    for (int i = 0; i < n; i++) argv[i + 1] = (char *)args[i];
    int help = 0;
    zb_status st = zb_parse_run_opts(n + 1, argv, o, &help, err);
    if (st == ZB_OK) zb_run_opts_free(o);
    return st;
}

static void test_options(void **state)
{
    (void)state;
    zb_run_opts o;
    zb_error err = {{0}};
    const char *a1[] = {"--trace"};
    assert_int_equal(parse(a1, 1, &o, &err), ZB_OK);
    assert_int_equal(o.trace, 1);
    const char *a2[] = {"--trace", "off", "--seq", "4"};
    assert_int_equal(parse(a2, 4, &o, &err), ZB_OK);
    assert_int_equal(o.trace, 0);
    assert_int_equal(o.seqs.v[0], 4);
    const char *a3[] = {"--trace=on", "--trace-overhead", "--profile-steps", "2:5", "--gen", "8"};
    assert_int_equal(parse(a3, 6, &o, &err), ZB_OK);
    assert_int_equal(o.trace, 1);
    assert_int_equal(o.trace_overhead, 1);
    assert_int_equal(o.profile_first, 2);
    assert_int_equal(o.profile_last, 5);
    const char *a4[] = {"--profile-steps", "3"};
    assert_int_equal(parse(a4, 2, &o, &err), ZB_OK);
    assert_int_equal(o.profile_first, 3);
    assert_int_equal(o.profile_last, 3);
    assert_int_equal(o.trace, 0);

    static const struct {
        const char *args[4];
        int n;
        const char *msg;
    } bad[] = {
        {{"--trace=maybe"}, 1, "--trace: 'maybe' is not on or off"},
        {{"--trace-overhead"}, 1, "--trace-overhead measures tracing: it needs --trace"},
        {{"--trace", "off", "--trace-overhead"}, 3, "it needs --trace"},
        {{"--profile-steps", "0:3"}, 2, "needs 1 <= A <= B"},
        {{"--profile-steps", "5:2"}, 2, "needs 1 <= A <= B"},
        {{"--profile-steps", "a:b"}, 2, "'a:b' is not A:B"},
        {{"--profile-steps", "2:"}, 2, "'2:' is not A:B"},
        {{"--profile-steps", "200:300"}, 2, "no run has decode step 200 (the longest --gen is 128)"},
    };
    for (int i = 0; i < N_OF(bad); i++) {
        memset(&err, 0, sizeof err);
        if (parse(bad[i].args, bad[i].n, &o, &err) == ZB_OK) fail_msg("case %d parsed", i);
        TU_ASSERT_CONTAINS(err.msg, bad[i].msg);
        assert_null(strchr(err.msg, '\n'));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_classes),
        cmocka_unit_test(test_short_names),
        cmocka_unit_test(test_options),
        cmocka_unit_test_setup_teardown(test_attribution, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_graph_nodes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stray, setup, teardown),
        cmocka_unit_test_setup_teardown(test_views, setup, teardown),
        cmocka_unit_test_setup_teardown(test_charged_view, setup, teardown),
        cmocka_unit_test_setup_teardown(test_summary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_traced_workload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_traced_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_untraced_reasons, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_without_cuda, setup, teardown),
    };
    return cmocka_run_group_tests_name("trace", tests, NULL, NULL);
}
