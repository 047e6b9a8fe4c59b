/*
 * The order in which a prefill attention grid visits its blocks, as plain
 * functions that C (tests/test_attention_order.c, run without a GPU) and
 * the CUDA kernels (attention_prefill.cuh) share.
 *
 * A prefill launch has nbh = batch * nh (sequence, head) pairs times nrb
 * row blocks; a row block's causal work grows with its position, so rank 0
 * (the last rows) is the heaviest. The one-dimensional grid walks groups
 * of `group` pairs; inside a group, ranks heaviest first with the group's
 * pairs fastest, so the light blocks fill the tail. Blocks running at once
 * then read the keys of one group's heads.
 *
 * Which group size (zb_attention_head_group): measured on the H100
 * (docs/PERF.md, 2026-12-07), Zamba's head dim 464 at T 16384 (30 MB of K
 * and V a head) took 15.9 ms with one head per group against 20.0 ms with
 * every head in one group (which reads 72% of K/V from DRAM); at T 2048
 * and 4096 (4-8 MB a head) one head per group was 10-24% slower than one
 * group, since the heaviest blocks of the later heads start late. Groups
 * of several heads, between those, have not been timed. So: one head per
 * group where a head's K and V exceed half of L2 (the H100's L2 is two
 * halves of 25 MB), every pair in one group elsewhere.
 */
#ifndef ZB_ATTENTION_ORDER_H
#define ZB_ATTENTION_ORDER_H

#include <stdint.h>

#ifdef __CUDACC__
#define ZB_ORDER_FN static inline __host__ __device__
#else
#define ZB_ORDER_FN static inline
#endif

/* Block L (0 <= L < nbh * nrb) of the grid: its (sequence, head) pair *bh
 * and its rank *rank (0 = heaviest row block), for 1 <= group <= nbh. */
ZB_ORDER_FN void zb_attention_block(int L, int group, int nrb, int nbh, int *bh, int *rank)
{
    const int span = group * nrb; /* blocks of one full group */
    const int grp = L / span;
    const int r = L - grp * span;
    const int left = nbh - grp * group;
    const int heads = left < group ? left : group; /* the last group may be short */
    *rank = r / heads;
    *bh = grp * group + (r - *rank * heads);
}

/* Pairs per group (1..nbh) for a prefill of keys positions (pos0 + T, at
 * most the cache's slots) of nh query heads sharing nkv KV heads of width
 * hd, 16-bit, on a device with l2_bytes of L2. A query head counts its
 * share of its KV head's bytes (GQA heads of one KV head are adjacent). */
ZB_ORDER_FN int zb_attention_head_group(int64_t l2_bytes, int64_t keys, int hd, int nh, int nkv, int nbh)
{
    const int64_t head_bytes = keys * hd * 2 /* K and V */ * 2 /* bytes */ / (nh / nkv);
    return head_bytes > l2_bytes / 2 ? 1 : nbh;
}

#endif
