/*
 * The prefill attention grid's block order (kernels/attention_order.h):
 * every block of every shape and group size maps to a distinct (pair,
 * rank), groups come one after another with ranks heaviest first inside,
 * the two extreme group sizes give the two plain orders, and the group
 * size follows the L2 rule. Plain C: the kernels share these functions, so
 * the order is checked here without a GPU.
 */
#include "test_util.h"

/* relative: -Ikernels is set only where nvcc is */
#include "../kernels/attention_order.h"

/* Walks the grid of one shape and group size, checking each block. */
static void check_order(int nbh, int nrb, int group)
{
    const int n = nbh * nrb;
    unsigned char *seen = calloc((size_t)n, 1);
    assert_non_null(seen);
    int last_grp = 0, last_rank = 0;
    for (int L = 0; L < n; L++) {
        int bh = -1, rank = -1;
        zb_attention_block(L, group, nrb, nbh, &bh, &rank);
        if (bh < 0 || bh >= nbh || rank < 0 || rank >= nrb)
            fail_msg("nbh %d nrb %d group %d: block %d -> (%d, %d) out of range", nbh, nrb, group, L, bh, rank);
        if (seen[bh * nrb + rank]++)
            fail_msg("nbh %d nrb %d group %d: (%d, %d) visited twice", nbh, nrb, group, bh, rank);
        const int grp = bh / group;
        /* groups in order; inside one, ranks never go back (heaviest first) */
        if (grp < last_grp || (grp == last_grp && rank < last_rank))
            fail_msg("nbh %d nrb %d group %d: block %d -> (%d, %d) after group %d rank %d", nbh, nrb, group, L, bh,
                     rank, last_grp, last_rank);
        if (grp != last_grp) assert_int_equal(rank, 0);
        last_grp = grp;
        last_rank = rank;
        /* one group: the pairs fastest; one pair a group: the ranks fastest */
        if (group == nbh) {
            assert_int_equal(bh, L % nbh);
            assert_int_equal(rank, L / nbh);
        }
        if (group == 1) {
            assert_int_equal(bh, L / nrb);
            assert_int_equal(rank, L % nrb);
        }
    }
    free(seen);
}

static void test_order_every_block_once(void **state)
{
    (void)state;
    const int nbhs[] = {1, 2, 3, 7, 16, 32, 96};
    const int nrbs[] = {1, 2, 5, 64, 129};
    for (size_t i = 0; i < sizeof nbhs / sizeof *nbhs; i++)
        for (size_t j = 0; j < sizeof nrbs / sizeof *nrbs; j++)
            for (int group = 1; group <= nbhs[i]; group++) check_order(nbhs[i], nrbs[j], group);
}

/* The block-pair grid: every row block once, the two blocks of a cluster
 * on adjacent row blocks (lower one first) of the same pair, clusters in
 * zb_attention_block's order over pairs; only an odd row-block count
 * leaves one block past the last row, the upper one of the last pair. */
static void check_pair_order(int nbh, int nrb, int group)
{
    const int pairs = (nrb + 1) / 2, n = 2 * nbh * pairs;
    unsigned char *seen = calloc((size_t)nbh * (nrb + 1), 1);
    assert_non_null(seen);
    int past = 0;
    for (int L = 0; L < n; L += 2) {
        int bh0, rb0, bh1, rb1, bh, rank;
        zb_attention_pair_block(L, group, nrb, nbh, &bh0, &rb0);
        zb_attention_pair_block(L + 1, group, nrb, nbh, &bh1, &rb1);
        zb_attention_block(L / 2, group, pairs, nbh, &bh, &rank);
        if (bh0 != bh || bh1 != bh || rb0 % 2 != 0 || rb1 != rb0 + 1 || rb0 / 2 != pairs - 1 - rank)
            fail_msg("nbh %d nrb %d group %d: cluster %d -> (%d, %d) (%d, %d), order (%d, %d)", nbh, nrb, group,
                     L / 2, bh0, rb0, bh1, rb1, bh, rank);
        if (rb0 >= nrb || rb1 > nrb) fail_msg("nbh %d nrb %d: row block %d/%d out of range", nbh, nrb, rb0, rb1);
        if (rb1 == nrb) past++;
        if (seen[bh0 * (nrb + 1) + rb0]++ || seen[bh1 * (nrb + 1) + rb1]++)
            fail_msg("nbh %d nrb %d group %d: a row block of cluster %d visited twice", nbh, nrb, group, L / 2);
    }
    assert_int_equal(past, nrb % 2 ? nbh : 0);
    free(seen);
}

static void test_pair_order(void **state)
{
    (void)state;
    const int nbhs[] = {1, 3, 16, 48};
    const int nrbs[] = {1, 2, 3, 64, 129, 256};
    for (size_t i = 0; i < sizeof nbhs / sizeof *nbhs; i++)
        for (size_t j = 0; j < sizeof nrbs / sizeof *nrbs; j++)
            for (int group = 1; group <= nbhs[i]; group++) check_pair_order(nbhs[i], nrbs[j], group);
    /* 16 heads at T 16384: the first cluster takes the last two row blocks
     * of head 0 in one head per group, of every head in turn in one group */
    int bh, rb;
    zb_attention_pair_block(1, 1, 256, 16, &bh, &rb);
    assert_int_equal(bh, 0);
    assert_int_equal(rb, 255);
    zb_attention_pair_block(2, 16, 256, 16, &bh, &rb);
    assert_int_equal(bh, 1);
    assert_int_equal(rb, 254);
}

/* A short last group: 7 pairs in groups of 3 leave one pair, whose ranks
 * come last in order. */
static void test_order_short_last_group(void **state)
{
    (void)state;
    int bh, rank;
    zb_attention_block(6 * 4, 3, 4, 7, &bh, &rank);
    assert_int_equal(bh, 6);
    assert_int_equal(rank, 0);
    zb_attention_block(6 * 4 + 3, 3, 4, 7, &bh, &rank);
    assert_int_equal(bh, 6);
    assert_int_equal(rank, 3);
    zb_attention_block(4, 3, 4, 7, &bh, &rank); /* group 0, rank 1, second pair */
    assert_int_equal(bh, 1);
    assert_int_equal(rank, 1);
}

static void test_head_group_rule(void **state)
{
    (void)state;
    const int64_t l2 = 50 << 20; /* the H100's */
    /* half of it: 26.2 MB. Zamba, head dim 464, 16 heads: 30 MB a head at
     * 16384 keys and 22.8 MB at 12288 -> one per group; 7.6 MB at 4096 ->
     * 3; 3.8 MB at 2048 -> 6 */
    assert_int_equal(zb_attention_head_group(l2, 16384, 464, 16, 16, 16), 1);
    assert_int_equal(zb_attention_head_group(l2, 12288, 464, 16, 16, 16), 1);
    assert_int_equal(zb_attention_head_group(l2, 4096, 464, 16, 16, 16), 3);
    assert_int_equal(zb_attention_head_group(l2, 2048, 464, 16, 16, 16), 6);
    /* batch 3 counts pairs alike */
    assert_int_equal(zb_attention_head_group(l2, 2048, 464, 16, 16, 48), 6);
    /* Llama, 8.4 MB a head at 16384 -> 3; 60000 keys (31 MB) -> 1; 512
     * keys (0.26 MB) -> every head */
    assert_int_equal(zb_attention_head_group(l2, 16384, 128, 32, 32, 32), 3);
    assert_int_equal(zb_attention_head_group(l2, 60000, 128, 32, 32, 32), 1);
    assert_int_equal(zb_attention_head_group(l2, 512, 128, 32, 32, 32), 32);
    /* GQA: 4 query heads share a KV head's 30 MB, 7.6 MB each -> 3;
     * Mistral's window ring of 4096 keys, 8 query heads a KV head -> all */
    assert_int_equal(zb_attention_head_group(l2, 16384, 464, 16, 4, 16), 3);
    assert_int_equal(zb_attention_head_group(l2, 4096, 128, 32, 8, 32), 32);
    /* a small L2; no keys */
    assert_int_equal(zb_attention_head_group(4 << 20, 2048, 464, 16, 16, 16), 1);
    assert_int_equal(zb_attention_head_group(l2, 0, 128, 32, 32, 32), 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_every_block_once),
        cmocka_unit_test(test_order_short_last_group),
        cmocka_unit_test(test_head_group_rule),
        cmocka_unit_test(test_pair_order),
    };
    return cmocka_run_group_tests_name("prefill attention block order", tests, NULL, NULL) ? 1 : 0;
}
