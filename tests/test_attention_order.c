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
    /* Zamba, head dim 464, 16 heads: 30 MB a head at 16384 keys -> one per
     * group; at 12288 keys (23 MB) and 2048 all in one group */
    assert_int_equal(zb_attention_head_group(l2, 16384, 464, 16, 16, 16), 1);
    assert_int_equal(zb_attention_head_group(l2, 12288, 464, 16, 16, 16), 16);
    assert_int_equal(zb_attention_head_group(l2, 2048, 464, 16, 16, 16), 16);
    /* batch 3: every pair of the launch */
    assert_int_equal(zb_attention_head_group(l2, 2048, 464, 16, 16, 48), 48);
    /* Llama, 8 MB a head at 16384: one group */
    assert_int_equal(zb_attention_head_group(l2, 16384, 128, 32, 32, 32), 32);
    /* the same heads at 60000 keys: 31 MB a head */
    assert_int_equal(zb_attention_head_group(l2, 60000, 128, 32, 32, 32), 1);
    /* GQA: 4 query heads share a KV head's 30 MB, 7.5 MB each */
    assert_int_equal(zb_attention_head_group(l2, 16384, 464, 16, 4, 16), 16);
    /* a small L2 */
    assert_int_equal(zb_attention_head_group(4 << 20, 2048, 464, 16, 16, 16), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_every_block_once),
        cmocka_unit_test(test_order_short_last_group),
        cmocka_unit_test(test_head_group_rule),
    };
    return cmocka_run_group_tests_name("prefill attention block order", tests, NULL, NULL) ? 1 : 0;
}
