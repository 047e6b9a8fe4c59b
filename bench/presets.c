/* Built-in model shapes with synthetic weights. The 7B shapes are the
 * published configurations (Zamba-7B: the ZambaConfig defaults); the tiny
 * ones keep every structural feature at a size the CPU runs instantly. */
#include <math.h>
#include <string.h>

#include "model.h"

static void zamba_common(zb_model_desc *d, int hidden, int layers, int heads, int inter, int vocab, int dt_rank)
{
    memset(d, 0, sizeof *d);
    d->layout = ZB_LAYOUT_ZAMBA;
    d->vocab_size = vocab;
    d->hidden_size = hidden;
    d->n_layers = layers;
    d->intermediate_size = inter;
    d->norm_eps = 1e-5f;
    d->tie_embeddings = 1;
    d->mlp_act = ZB_ACT_GELU;
    d->n_heads = heads;
    d->n_kv_heads = heads;
    d->head_dim = 2 * hidden / heads;
    d->attn_in = 2 * hidden;
    d->attn_scale = (float)(1.0 / sqrt(d->head_dim / 2.0));
    d->d_inner = 2 * hidden;
    d->d_state = 16;
    d->d_conv = 4;
    d->dt_rank = dt_rank;
    d->n_mamba_heads = 2;
    d->conv_bias = 1;
    d->mamba_act = ZB_ACT_SILU;
    d->max_positions = 4096;
    d->weight_dtype = ZB_DTYPE_BF16;
    zb_zamba_schedule(layers, 6, 4, d->layer_kind);
}

static void transformer_common(zb_model_desc *d, int hidden, int layers, int heads, int kv_heads, int inter,
                               int vocab, int window, int max_pos)
{
    memset(d, 0, sizeof *d);
    d->layout = ZB_LAYOUT_TRANSFORMER;
    d->vocab_size = vocab;
    d->hidden_size = hidden;
    d->n_layers = layers;
    d->intermediate_size = inter;
    d->norm_eps = 1e-5f;
    d->mlp_act = ZB_ACT_SILU;
    d->n_heads = heads;
    d->n_kv_heads = kv_heads;
    d->head_dim = hidden / heads;
    d->attn_in = hidden;
    d->attn_scale = (float)(1.0 / sqrt((double)d->head_dim));
    d->rope = 1;
    d->rope_theta = 10000.0f;
    d->sliding_window = window;
    d->max_positions = max_pos;
    d->weight_dtype = ZB_DTYPE_BF16;
    for (int i = 0; i < layers; i++) d->layer_kind[i] = ZB_LAYER_ATTENTION;
}

static void zamba_7b(zb_model_desc *d) { zamba_common(d, 3712, 76, 16, 14848, 32000, 232); }
static void llama2_7b(zb_model_desc *d) { transformer_common(d, 4096, 32, 32, 32, 11008, 32000, 0, 4096); }
static void mistral_7b(zb_model_desc *d) { transformer_common(d, 4096, 32, 32, 8, 14336, 32000, 4096, 32768); }
static void zamba_tiny(zb_model_desc *d) { zamba_common(d, 64, 9, 4, 256, 512, 4); }
static void zamba_76l_tiny(zb_model_desc *d) { zamba_common(d, 64, 76, 4, 256, 512, 4); }
static void llama2_tiny(zb_model_desc *d) { transformer_common(d, 64, 4, 4, 4, 172, 512, 0, 4096); }
static void mistral_tiny(zb_model_desc *d) { transformer_common(d, 64, 4, 4, 2, 160, 512, 32, 32768); }

static const zb_preset presets[] = {
    {"zamba-7b", "Zamba-7B: 76 Mamba layers, 1 shared attention block applied 13x (HF ZambaConfig defaults)", zamba_7b},
    {"llama2-7b", "Llama-2-7B: 32 layers, 32 heads, MHA", llama2_7b},
    {"mistral-7b", "Mistral-7B: 32 layers, GQA 32/8, sliding window 4096", mistral_7b},
    {"zamba-tiny", "Zamba layout, hidden 64, 9 layers (hybrid at 2, 7)", zamba_tiny},
    {"zamba-76l-tiny", "Zamba-7B's 76-layer schedule at hidden 64", zamba_76l_tiny},
    {"llama2-tiny", "Llama layout, hidden 64, 4 layers", llama2_tiny},
    {"mistral-tiny", "Mistral layout, hidden 64, 4 layers, GQA 4/2, window 32", mistral_tiny},
};

int zb_preset_count(void) { return (int)(sizeof presets / sizeof presets[0]); }

const zb_preset *zb_preset_at(int i) { return i >= 0 && i < zb_preset_count() ? &presets[i] : NULL; }

const zb_preset *zb_preset_find(const char *name)
{
    for (int i = 0; i < zb_preset_count(); i++)
        if (strcmp(presets[i].name, name) == 0) return &presets[i];
    return NULL;
}
