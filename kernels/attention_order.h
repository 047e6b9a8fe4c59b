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
 * Which group size (zb_attention_head_group): as many heads as half of
 * L2 holds the K and V of (the H100's L2 is two halves of 25 MB), at
 * least one. Measured on the H100 (docs/PERF.md, 10th and 11th sessions,
 * group sizes 1, 2, 4, 8 and all): Zamba's head dim 464 at T 16384 (30 MB
 * of K and V a head) took 15.9 ms with one head per group against 20.0 ms
 * with every head in one group (which reads 72% of K/V from DRAM); Llama's
 * 32 heads at T 16384 (8.4 MB a head) 5.21-5.27 ms in groups of 1-4
 * against 5.58 ms in one group; at T 2048 and 4096 (1-8 MB a head) one
 * head per group was 10-24% slower than one group, since the heaviest
 * blocks of the later heads start late, and groups of 4 or 8 within 2% of
 * one group.
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

/* The block-pair kernel's grid (attention_wgmma_pair.cu: clusters of two
 * blocks, adjacent row blocks of one (sequence, head)): cluster L / 2 walks
 * zb_attention_block's order over pairs of row blocks, (nrb + 1) / 2 a
 * head, heaviest pair first; block L % 2 of it takes the pair's lower (0)
 * or upper (1) row block. Gives the (sequence, head) *bh and the row block
 * *rb (0 = the first rows), which is nrb, past the last row, for the upper
 * block of the last pair where nrb is odd. Grid: 2 * nbh * pairs blocks. */
ZB_ORDER_FN void zb_attention_pair_block(int L, int group, int nrb, int nbh, int *bh, int *rb)
{
    const int pairs = (nrb + 1) / 2;
    int rank;
    zb_attention_block(L >> 1, group, pairs, nbh, bh, &rank);
    *rb = 2 * (pairs - 1 - rank) + (L & 1);
}

/* Pairs per group (1..nbh) for a prefill of keys positions (pos0 + T, at
 * most the cache's slots) of nh query heads sharing nkv KV heads of width
 * hd, 16-bit, on a device with l2_bytes of L2: the heads whose K and V fit
 * half of L2, at least one. A query head counts its share of its KV head's
 * bytes (GQA heads of one KV head are adjacent). */
ZB_ORDER_FN int zb_attention_head_group(int64_t l2_bytes, int64_t keys, int hd, int nh, int nkv, int nbh)
{
    int64_t head_bytes = keys * hd * 2 /* K and V */ * 2 /* bytes */ / (nh / nkv);
    if (head_bytes < 1) head_bytes = 1;
    const int64_t fit = l2_bytes / 2 / head_bytes;
    return fit < 1 ? 1 : fit > nbh ? nbh : (int)fit;
}

#endif
