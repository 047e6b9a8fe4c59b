/* The Zamba Mamba mixer: multi-head Mamba1 with a selective scan. */
#include "zb_ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void zb_ref_mamba_mixer(const zb_model_desc *d, const zb_ref_mamba_w *w, float *conv, float *ssm,
                        const float *x, int n, float *out)
{
    const int H = d->hidden_size, Di = d->d_inner, K = d->d_conv, N = d->d_state, R = d->dt_rank;
    const int nh = d->n_mamba_heads, Dh = Di / nh, P = R + 2 * N;

    float *xz = malloc(sizeof(float) * 2 * (size_t)Di);
    float *u = malloc(sizeof(float) * (size_t)Di);
    float *y = malloc(sizeof(float) * (size_t)Di);
    float *par = malloc(sizeof(float) * (size_t)P);

    for (int t = 0; t < n; t++) {
        /* 1. in_proj. Its output rows interleave the two streams: row 2c is
         * the SSM input x_c and row 2c+1 the gate z_c (HF views the output as
         * [d_inner][2] and splits the last axis). */
        zb_ref_linear(xz, x + (size_t)t * H, w->in_proj, w->in_proj_b, 1, H, 2 * Di);

        /* 2. causal depthwise conv over the last d_conv inputs, then act */
        for (int c = 0; c < Di; c++) {
            float *st = conv + (size_t)c * K;
            memmove(st, st + 1, sizeof(float) * (size_t)(K - 1));
            st[K - 1] = xz[2 * c];
            double acc = w->conv_b ? w->conv_b[c] : 0.0;
            for (int k = 0; k < K; k++) acc += (double)w->conv_w[(size_t)c * K + k] * st[k];
            u[c] = zb_ref_act(d->mamba_act, (float)acc);
        }

        /* 3. per head: x_proj -> (dt, B, C); dt_proj + bias, softplus; scan */
        for (int h = 0; h < nh; h++) {
            const float *uh = u + (size_t)h * Dh;
            zb_ref_linear(par, uh, w->x_proj + (size_t)h * P * Dh, NULL, 1, Dh, P);
            const float *dtr = par, *B = par + R, *C = par + R + N;
            for (int i = 0; i < Dh; i++) {
                int c = h * Dh + i;
                double dt = w->dt_bias[c];
                for (int r = 0; r < R; r++) dt += (double)w->dt_proj[(size_t)c * R + r] * dtr[r];
                float delta = zb_ref_softplus((float)dt);
                float *s = ssm + (size_t)c * N;
                double acc = 0.0;
                for (int j = 0; j < N; j++) {
                    float A = -expf(w->A_log[(size_t)c * N + j]);
                    s[j] = expf(A * delta) * s[j] + delta * B[j] * uh[i];
                    acc += (double)s[j] * C[j];
                }
                /* D skip, then the SiLU(z) gate */
                y[c] = ((float)acc + w->D[c] * uh[i]) * zb_ref_act(d->mamba_act, xz[2 * c + 1]);
            }
        }

        /* 4. out_proj */
        zb_ref_linear(out + (size_t)t * H, y, w->out_proj, w->out_proj_b, 1, Di, H);
    }
    free(xz);
    free(u);
    free(y);
    free(par);
}
