/*
 * The CUPTI tracer's parts that need no GPU (bench/tracer/): the id stacks,
 * the note queue and its delivery (order, chunking, bounded memory, notes
 * from other threads), and the decoding of CUPTI activity records (built
 * here with known values in the structs of the CUPTI headers) with
 * demangled, cached kernel names. Built where the CUPTI headers are.
 */
#include "test_util.h"

#include <pthread.h>

#include "tracer_core.h"
#include "tracer_records.h"
#include "zbench_plugin.h"

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ----------------------------------------------------------- the sink */

typedef struct sink_log {
    zb_trace_record r[4096];
    char names[4096][128];
    int n;
    int calls;
    int max_call;
} sink_log;

static void log_sink(void *ctx, const zb_trace_record *r, size_t n)
{
    sink_log *l = ctx;
    l->calls++;
    if ((int)n > l->max_call) l->max_call = (int)n;
    for (size_t i = 0; i < n && l->n < N_OF(l->r); i++) {
        l->r[l->n] = r[i];
        /* names are only valid during the call */
        snprintf(l->names[l->n], sizeof l->names[0], "%s", r[i].name ? r[i].name : "");
        l->n++;
    }
}

/* -------------------------------------------------------------- stacks */

static void test_stacks(void **state)
{
    (void)state;
    zbt_stack s = {{0}, 0};
    assert_int_equal(zbt_stack_top(&s), 0);
    assert_int_equal(zbt_stack_pop(&s), 1); /* nothing to pop */
    for (int i = 1; i <= ZBT_STACK_MAX; i++) assert_int_equal(zbt_stack_push(&s, (uint64_t)i * 10), 0);
    assert_int_equal(zbt_stack_push(&s, 999), 1); /* overflow: counted, depth kept */
    assert_int_equal(zbt_stack_top(&s), (uint64_t)ZBT_STACK_MAX * 10);
    assert_int_equal(zbt_stack_pop(&s), 0);
    assert_int_equal(zbt_stack_top(&s), (uint64_t)ZBT_STACK_MAX * 10); /* balanced */
    assert_int_equal(zbt_stack_pop(&s), 0);
    assert_int_equal(zbt_stack_top(&s), (uint64_t)(ZBT_STACK_MAX - 1) * 10);
}

/* ------------------------------------------------------------- the core */

static void test_notes_carry_the_stacks(void **state)
{
    (void)state;
    static sink_log log;
    memset(&log, 0, sizeof log);
    zbt_core c;
    assert_int_equal(zbt_core_init(&c, log_sink, &log, 64, 16), 0);
    zbt_core_note_launch(&c, 1); /* outside everything */
    const uint64_t phase = zb_trace_phase_id(ZB_TRACE_PHASE_DECODE, 2, 9);
    zbt_core_push_phase(&c, phase);
    zbt_core_push_layer(&c, ZB_LAYER_NONE, ZB_PART_STEP);
    zbt_core_push_layer(&c, 13, ZB_PART_ATTENTION);
    zbt_core_note_launch(&c, 2);
    zbt_core_pop_layer(&c);
    zbt_core_note_launch(&c, 3);
    zbt_core_pop_layer(&c);
    zbt_core_pop_phase(&c);
    zbt_core_pop_phase(&c); /* one pop too many: a fault, counted */
    assert_int_equal(zbt_core_lost(&c), 1);
    assert_int_equal(log.n, 0); /* queued until a delivery */
    zbt_core_deliver_begin(&c);
    zbt_core_deliver_end(&c);
    assert_int_equal(log.n, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(log.r[i].kind, ZB_TRACE_CORRELATION);
        assert_int_equal(log.r[i].correlation_id, (uint32_t)i + 1);
    }
    assert_int_equal(log.r[0].phase_id, 0);
    assert_int_equal(log.r[0].layer_id, 0);
    assert_int_equal(log.r[1].phase_id, phase);
    assert_int_equal(zb_trace_layer_of(log.r[1].layer_id), 13);
    assert_int_equal(zb_trace_part_of(log.r[1].layer_id), ZB_PART_ATTENTION);
    assert_int_equal(zb_trace_layer_of(log.r[2].layer_id), ZB_LAYER_NONE);
    assert_int_equal(zb_trace_part_of(log.r[2].layer_id), ZB_PART_STEP);
    zbt_core_free(&c);
}

/* Notes go out before the activity records of the same delivery, in
 * chunks no larger than chunk_cap; a full queue is delivered from the
 * launching thread, so nothing is lost and memory stays bounded. */
static void test_delivery_order_and_bounds(void **state)
{
    (void)state;
    static sink_log log;
    memset(&log, 0, sizeof log);
    zbt_core c;
    assert_int_equal(zbt_core_init(&c, log_sink, &log, 8, 5), 0);
    for (uint32_t i = 1; i <= 20; i++) zbt_core_note_launch(&c, i);
    /* 20 notes through a queue of 8: two deliveries happened on the way */
    assert_int_equal(log.n, 16);
    zbt_core_deliver_begin(&c);
    zb_trace_record k = {0};
    k.kind = ZB_TRACE_KERNEL;
    for (uint32_t i = 1; i <= 7; i++) {
        k.correlation_id = i;
        zbt_core_emit(&c, &k);
    }
    zbt_core_deliver_end(&c);
    assert_int_equal(log.n, 27);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(log.r[i].kind, ZB_TRACE_CORRELATION);
        assert_int_equal(log.r[i].correlation_id, (uint32_t)i + 1);
    }
    for (int i = 20; i < 27; i++) assert_int_equal(log.r[i].kind, ZB_TRACE_KERNEL);
    assert_true(log.max_call <= 5);
    assert_int_equal(zbt_core_lost(&c), 0);
    zbt_core_free(&c);
}

static void *other_thread(void *arg)
{
    zbt_core *c = arg;
    zbt_core_note_launch(c, 77);
    zbt_note n = {ZB_TRACE_GRAPH_NODE, 0, 5, zbt_core_current_layer(c)};
    zbt_core_note(c, &n);
    return NULL;
}

/* The stacks belong to the thread that drives the plugin: another
 * thread's launches and graph nodes carry no phase and no layer. */
static void test_other_threads(void **state)
{
    (void)state;
    static sink_log log;
    memset(&log, 0, sizeof log);
    zbt_core c;
    assert_int_equal(zbt_core_init(&c, log_sink, &log, 64, 16), 0);
    zbt_core_push_phase(&c, zb_trace_phase_id(ZB_TRACE_PHASE_PREFILL, 0, 0));
    zbt_core_push_layer(&c, 4, ZB_PART_MAMBA);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, other_thread, &c), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    zbt_note n = {ZB_TRACE_GRAPH_CLONE, 0, 6, 5};
    zbt_core_note(&c, &n);
    zbt_core_deliver_begin(&c);
    zbt_core_deliver_end(&c);
    assert_int_equal(log.n, 3);
    assert_int_equal(log.r[0].correlation_id, 77);
    assert_int_equal(log.r[0].phase_id, 0);
    assert_int_equal(log.r[0].layer_id, 0);
    assert_int_equal(log.r[1].kind, ZB_TRACE_GRAPH_NODE);
    assert_int_equal(log.r[1].graph_node_id, 5);
    assert_int_equal(log.r[1].layer_id, 0);
    assert_int_equal(log.r[2].kind, ZB_TRACE_GRAPH_CLONE);
    assert_int_equal(log.r[2].graph_node_id, 6);
    assert_int_equal(log.r[2].orig_node_id, 5);
    assert_int_equal(zbt_core_current_layer(&c), zb_trace_layer_id(4, ZB_PART_MAMBA));
    zbt_core_free(&c);
}

/* --------------------------------------------------------------- records */

static void test_decode_kernel(void **state)
{
    (void)state;
    zbt_names names = {0};
    zbt_kernel_record k;
    memset(&k, 0, sizeof k);
    k.kind = CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL;
    k.start = 1000, k.end = 1750;
    k.correlationId = 4242;
    k.deviceId = 1, k.streamId = 13;
    k.gridX = 132, k.gridY = 3, k.gridZ = 2;
    k.blockX = 128, k.blockY = 2, k.blockZ = 1;
    k.registersPerThread = 72;
    k.staticSharedMemory = 2048, k.dynamicSharedMemory = 65536;
    k.graphId = 7, k.graphNodeId = 0x100000001ull;
    k.name = "_ZN12_GLOBAL__N_111gemv_kernelILi4ELi2ELb1EEEvN3zbk8GemvArgsE";
    zb_trace_record r;
    assert_int_equal(zbt_decode((const CUpti_Activity *)(const void *)&k, &names, &r), 1);
    assert_int_equal(r.kind, ZB_TRACE_KERNEL);
    assert_int_equal(r.start_ns, 1000);
    assert_int_equal(r.end_ns, 1750);
    assert_int_equal(r.correlation_id, 4242);
    assert_int_equal(r.device_id, 1);
    assert_int_equal(r.stream_id, 13);
    assert_int_equal(r.grid[0] * 100 + r.grid[1] * 10 + r.grid[2], 13232);
    assert_int_equal(r.block[0] * 100 + r.block[1] * 10 + r.block[2], 12821);
    assert_int_equal(r.registers, 72);
    assert_int_equal(r.static_smem, 2048);
    assert_int_equal(r.dynamic_smem, 65536);
    assert_int_equal(r.graph_id, 7);
    assert_int_equal(r.graph_node_id, 0x100000001ull);
    assert_string_equal(r.name, "void (anonymous namespace)::gemv_kernel<4, 2, true>(zbk::GemvArgs)");
    const char *first = r.name;

    /* the same name again: the cached copy; an unmangled name as it is */
    char same[80];
    snprintf(same, sizeof same, "%s", k.name);
    k.name = same;
    assert_int_equal(zbt_decode((const CUpti_Activity *)(const void *)&k, &names, &r), 1);
    assert_ptr_equal(r.name, first);
    k.name = "nvjet_tst_64x8_64x16_4x1_v_bz_TNT";
    k.kind = CUPTI_ACTIVITY_KIND_KERNEL;
    assert_int_equal(zbt_decode((const CUpti_Activity *)(const void *)&k, &names, &r), 1);
    assert_string_equal(r.name, "nvjet_tst_64x8_64x16_4x1_v_bz_TNT");
    k.name = NULL;
    assert_int_equal(zbt_decode((const CUpti_Activity *)(const void *)&k, &names, &r), 1);
    assert_string_equal(r.name, "(unnamed kernel)");
    /* many names: the cache grows and keeps every one */
    char buf[64];
    for (int i = 0; i < 500; i++) {
        snprintf(buf, sizeof buf, "kernel_%d", i);
        k.name = buf;
        assert_int_equal(zbt_decode((const CUpti_Activity *)(const void *)&k, &names, &r), 1);
        assert_string_equal(r.name, buf);
    }
    assert_int_equal(names.n, 503);
    k.name = same;
    assert_int_equal(zbt_decode((const CUpti_Activity *)(const void *)&k, &names, &r), 1);
    assert_string_equal(r.name, "void (anonymous namespace)::gemv_kernel<4, 2, true>(zbk::GemvArgs)");
    /* flushed before it finished: no end time */
    k.end = 0;
    assert_int_equal(zbt_decode((const CUpti_Activity *)(const void *)&k, &names, &r), -2);
    zbt_names_free(&names);
}

static void test_decode_copies(void **state)
{
    (void)state;
    zbt_names names = {0};
    zbt_memcpy_record m;
    memset(&m, 0, sizeof m);
    m.kind = CUPTI_ACTIVITY_KIND_MEMCPY;
    m.copyKind = CUPTI_ACTIVITY_MEMCPY_KIND_DTOH;
    m.bytes = 1 << 20;
    m.start = 500, m.end = 900;
    m.correlationId = 8, m.streamId = 3;
    m.graphId = 0, m.graphNodeId = 0;
    zb_trace_record r;
    assert_int_equal(zbt_decode((const CUpti_Activity *)(const void *)&m, &names, &r), 1);
    assert_int_equal(r.kind, ZB_TRACE_MEMCPY);
    assert_int_equal(r.bytes, 1 << 20);
    assert_string_equal(r.copy_kind, "DtoH");
    assert_int_equal(r.correlation_id, 8);
    assert_int_equal(r.end_ns - r.start_ns, 400);
    assert_null(r.name);

    zbt_memset_record s;
    memset(&s, 0, sizeof s);
    s.kind = CUPTI_ACTIVITY_KIND_MEMSET;
    s.bytes = 4096;
    s.start = 10, s.end = 12;
    s.correlationId = 9;
    s.graphId = 2, s.graphNodeId = 44;
    assert_int_equal(zbt_decode((const CUpti_Activity *)(const void *)&s, &names, &r), 1);
    assert_int_equal(r.kind, ZB_TRACE_MEMSET);
    assert_int_equal(r.bytes, 4096);
    assert_int_equal(r.graph_node_id, 44);
    assert_null(r.copy_kind);

    /* kinds zbench does not keep */
    CUpti_Activity other = {CUPTI_ACTIVITY_KIND_MARKER};
    assert_int_equal(zbt_decode(&other, &names, &r), 0);

    static const struct {
        unsigned kind;
        const char *name;
    } kinds[] = {{CUPTI_ACTIVITY_MEMCPY_KIND_HTOD, "HtoD"},
                 {CUPTI_ACTIVITY_MEMCPY_KIND_DTOD, "DtoD"},
                 {CUPTI_ACTIVITY_MEMCPY_KIND_HTOH, "HtoH"},
                 {CUPTI_ACTIVITY_MEMCPY_KIND_PTOP, "PtoP"},
                 {12345, "?"}};
    for (int i = 0; i < N_OF(kinds); i++) assert_string_equal(zbt_copy_kind(kinds[i].kind), kinds[i].name);
    zbt_names_free(&names);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stacks),
        cmocka_unit_test(test_notes_carry_the_stacks),
        cmocka_unit_test(test_delivery_order_and_bounds),
        cmocka_unit_test(test_other_threads),
        cmocka_unit_test(test_decode_kernel),
        cmocka_unit_test(test_decode_copies),
    };
    return cmocka_run_group_tests_name("tracer", tests, NULL, NULL);
}
