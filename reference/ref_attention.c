/* Self-attention with a KV cache, and the gated MLP. */
#include "zb_ref.h"

#include <math.h>
#include <stdlib.h>

void zb_ref_attention(const zb_model_desc *d, const zb_ref_attn_block *w, float *kcache, float *vcache,
                      int kv_slots, int pos0, const float *x, int n, float *out)
{
    const int nh = d->n_heads, nkv = d->n_kv_heads, hd = d->head_dim, in = d->attn_in;
    const int qdim = nh * hd, kvdim = nkv * hd, group = nh / nkv;
    /* with no window, every earlier position stays visible */
    const int window = d->sliding_window > 0 ? d->sliding_window : pos0 + n;

    float *q = malloc(sizeof(float) * (size_t)qdim);
    float *att = malloc(sizeof(float) * (size_t)qdim);
    float *scores = malloc(sizeof(float) * (size_t)(pos0 + n));

    /* Token by token: each token's K/V enter the cache before it attends, and
     * a sliding-window ring never overwrites an entry a later query needs. */
    for (int t = 0; t < n; t++) {
        const int p = pos0 + t;
        const float *xt = x + (size_t)t * in;
        float *kslot = kcache + (size_t)(p % kv_slots) * kvdim;
        float *vslot = vcache + (size_t)(p % kv_slots) * kvdim;
        zb_ref_linear(q, xt, w->q, w->q_b, 1, in, qdim);
        zb_ref_linear(kslot, xt, w->k, w->k_b, 1, in, kvdim);
        zb_ref_linear(vslot, xt, w->v, w->v_b, 1, in, kvdim);
        if (d->rope) {
            for (int h = 0; h < nh; h++) zb_ref_rope(q + h * hd, hd, p, d->rope_theta, d->weight_dtype);
            for (int h = 0; h < nkv; h++) zb_ref_rope(kslot + h * hd, hd, p, d->rope_theta, d->weight_dtype);
        }
        const int first = p - window + 1 > 0 ? p - window + 1 : 0;
        for (int h = 0; h < nh; h++) {
            const int kvh = h / group; /* grouped-query: heads share KV heads */
            const float *qh = q + h * hd;
            float mx = -INFINITY;
            for (int j = first; j <= p; j++) {
                const float *kj = kcache + (size_t)(j % kv_slots) * kvdim + kvh * hd;
                double s = 0.0;
                for (int i = 0; i < hd; i++) s += (double)qh[i] * kj[i];
                scores[j] = (float)s * d->attn_scale;
                if (scores[j] > mx) mx = scores[j];
            }
            double sum = 0.0;
            for (int j = first; j <= p; j++) {
                scores[j] = expf(scores[j] - mx);
                sum += scores[j];
            }
            float *oh = att + h * hd;
            for (int i = 0; i < hd; i++) {
                double acc = 0.0;
                for (int j = first; j <= p; j++)
                    acc += (double)scores[j] * vcache[(size_t)(j % kv_slots) * kvdim + kvh * hd + i];
                oh[i] = (float)(acc / sum);
            }
        }
        zb_ref_linear(out + (size_t)t * d->hidden_size, att, w->o, w->o_b, 1, qdim, d->hidden_size);
    }
    free(q);
    free(att);
    free(scores);
}

void zb_ref_gated_mlp(const zb_model_desc *d, const zb_ref_attn_block *w, const float *x, int n, float *out)
{
    const int H = d->hidden_size, I = d->intermediate_size;
    float *g = malloc(sizeof(float) * (size_t)I);
    float *up = malloc(sizeof(float) * (size_t)I);
    for (int t = 0; t < n; t++) {
        zb_ref_linear(g, x + (size_t)t * H, w->gate, w->gate_b, 1, H, I);
        zb_ref_linear(up, x + (size_t)t * H, w->up, w->up_b, 1, H, I);
        /* the activation applies to gate_proj's output (Zamba's GELU too) */
        for (int i = 0; i < I; i++) g[i] = zb_ref_act(d->mlp_act, g[i]) * up[i];
        zb_ref_linear(out + (size_t)t * H, g, w->down, w->down_b, 1, I, H);
    }
    free(g);
    free(up);
}
