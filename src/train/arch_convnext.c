/* convnext-tiny: ConvNeXt (Liu et al. 2022, torchvision's CNBlock layout)
 * scaled to 28×28 / 32×32 inputs.
 *   stem: 2×2 stride-2 patchify conv (4×4/4 at 224×224) + LayerNorm over
 *     channels;
 *   three stages at 32, 64, 128 channels (× width) with 2, 2, 4 blocks
 *     (--depth caps the count per stage), spatial 14, 7, 3 (16, 8, 4 for
 *     32×32); between stages LayerNorm + 2×2 stride-2 conv;
 *   block: depthwise 7×7 conv (bias) → NHWC → LayerNorm → Linear C→4C →
 *     GELU (erf form) → Linear 4C→C → NCHW → layer scale (γ = 1e-6, per
 *     channel) → + input;
 *   head: global average pool → LayerNorm → Linear.
 * LayerNorm over channels is Transpose(NCHW→NHWC) → LayerNormalization on
 * the last axis → Transpose back, as PyTorch exports LayerNorm2d; every
 * LayerNorm has ε = 1e-6. Stochastic depth is left out (short runs). */
#include "train/arch.h"

static const int64_t TO_NHWC[4] = {0, 2, 3, 1};
static const int64_t TO_NCHW[4] = {0, 3, 1, 2};

/* LayerNorm over the channels of an NCHW tensor. */
static int ln2d(mn_ab *b, int x, int c)
{
    int y = ab_transpose(b, x, TO_NHWC, 4);
    y = ab_layernorm(b, y, c);
    return ab_transpose(b, y, TO_NCHW, 4);
}

static int block(mn_ab *b, int x, int c)
{
    int y = ab_conv(b, x, c, c, 7, 1, c, 1);
    y = ab_transpose(b, y, TO_NHWC, 4);
    y = ab_layernorm(b, y, c);
    y = ab_matmul_w(b, y, c, 4 * c);
    y = ab_act(b, y, "Gelu");
    y = ab_matmul_w(b, y, 4 * c, c);
    y = ab_transpose(b, y, TO_NCHW, 4);
    y = ab_scale(b, y, c, 1e-6f);
    return ab_add(b, y, x);
}

mn_status mn_arch_convnext(const char *name, const mn_arch_opts *o,
                           mn_graph **out, mn_ctx *ctx)
{
    static const int dims[3] = {32, 64, 128}, depths[3] = {2, 2, 4};
    mn_ab b;
    int x = ab_begin(&b, name, o, ctx);
    int c = ab_make_div((float)dims[0], o->width_mult);
    x = ab_conv(&b, x, o->channels, c, 2, 2, 1, 1);
    x = ln2d(&b, x, c);
    for (int s = 0; s < 3; s++) {
        int co = ab_make_div((float)dims[s], o->width_mult);
        if (s > 0) {
            x = ln2d(&b, x, c);
            x = ab_conv(&b, x, c, co, 2, 2, 1, 1);
            c = co;
        }
        int n = o->depth && o->depth < depths[s] ? o->depth : depths[s];
        for (int i = 0; i < n; i++)
            x = block(&b, x, c);
    }
    x = ab_flatten(&b, ab_gap(&b, x));
    x = ab_layernorm(&b, x, c);
    x = ab_dense(&b, x, c, o->classes);
    return ab_end(&b, x, out);
}
