/* Elementary operations of the reference: norms, projections, activations. */
#include "zb_ref.h"

#include <math.h>
#include <string.h>

void zb_ref_rmsnorm(float *out, const float *x, const float *w, int n, int dim, float eps)
{
    for (int r = 0; r < n; r++) {
        const float *xr = x + (size_t)r * dim;
        double ss = 0.0;
        for (int i = 0; i < dim; i++) ss += (double)xr[i] * xr[i];
        float inv = (float)(1.0 / sqrt(ss / dim + eps));
        for (int i = 0; i < dim; i++) out[(size_t)r * dim + i] = w[i] * (xr[i] * inv);
    }
}

void zb_ref_linear(float *out, const float *x, const float *W, const float *b, int n, int in_dim,
                   int out_dim)
{
    for (int r = 0; r < n; r++) {
        const float *xr = x + (size_t)r * in_dim;
        for (int o = 0; o < out_dim; o++) {
            const float *wr = W + (size_t)o * in_dim;
            double acc = b ? b[o] : 0.0;
            for (int i = 0; i < in_dim; i++) acc += (double)wr[i] * xr[i];
            out[(size_t)r * out_dim + o] = (float)acc;
        }
    }
}

float zb_ref_act(zb_act a, float x)
{
    switch (a) {
    case ZB_ACT_SILU: return x / (1.0f + expf(-x));
    case ZB_ACT_GELU: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case ZB_ACT_GELU_TANH: {
        float k = 0.79788456080286536f; /* sqrt(2/pi) */
        return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
    }
    case ZB_ACT_RELU: return x > 0.0f ? x : 0.0f;
    }
    return x;
}

float zb_ref_softplus(float x)
{
    /* PyTorch's softplus returns x itself above its threshold of 20 */
    return x > 20.0f ? x : log1pf(expf(x));
}

void zb_ref_rope(float *v, int head_dim, int pos, float theta, zb_dtype weight_dtype)
{
    /* Pairs (i, i + d/2) rotate by pos * inv_freq(i) (zb_rope_inv_freq: the
     * frequencies carry the checkpoint's precision; the angle is fp32, as in
     * the Hugging Face implementations). */
    int half = head_dim / 2;
    for (int i = 0; i < half; i++) {
        float ang = (float)pos * zb_rope_inv_freq(theta, i, head_dim, weight_dtype);
        float c = cosf(ang), s = sinf(ang);
        float a = v[i], b = v[i + half];
        v[i] = a * c - b * s;
        v[i + half] = b * c + a * s;
    }
}

int32_t zb_ref_argmax(const float *x, int n)
{
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

void zb_ref_materialize(const zb_tensor *t, float *dst)
{
    int64_t n = zb_tensor_numel(t);
    if (!t->data) {
        for (int64_t i = 0; i < n; i++) {
            /* synthetic weights take the precision of their declared dtype */
            dst[i] = zb_round_to_dtype(zb_synth_value(&t->synth, (uint64_t)i), t->dtype);
        }
        return;
    }
    switch (t->dtype) {
    case ZB_DTYPE_F32: memcpy(dst, t->data, (size_t)n * sizeof(float)); break;
    case ZB_DTYPE_BF16: {
        const uint16_t *s = (const uint16_t *)t->data;
        for (int64_t i = 0; i < n; i++) dst[i] = zb_bf16_to_f32(s[i]);
        break;
    }
    case ZB_DTYPE_F16: {
        const uint16_t *s = (const uint16_t *)t->data;
        for (int64_t i = 0; i < n; i++) {
            /* IEEE half -> float, subnormals included */
            uint16_t h = s[i];
            int sign = h >> 15, e = (h >> 10) & 31, m = h & 1023;
            float v;
            if (e == 0) v = ldexpf((float)m, -24);
            else if (e == 31) v = m ? NAN : INFINITY;
            else v = ldexpf((float)(m | 1024), e - 25);
            dst[i] = sign ? -v : v;
        }
        break;
    }
    case ZB_DTYPE_I32: {
        const int32_t *s = (const int32_t *)t->data;
        for (int64_t i = 0; i < n; i++) dst[i] = (float)s[i];
        break;
    }
    }
}
