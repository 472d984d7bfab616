/* efficientnetv2-tiny: EfficientNetV2 (Tan & Le 2021, torchvision's block
 * layout) scaled down and adapted to 28×28 / 32×32 inputs; every
 * activation is SiLU.
 *   stem: 3×3 conv stride 1 (stride 2 at 224×224) + BN + SiLU, 16 channels;
 *   Fused-MBConv stages (early, where depthwise convs are slow): a k×k
 *     conv expands (stride here) + BN + SiLU, a 1×1 conv + BN projects; an
 *     expansion of 1 is the single k×k conv + BN + SiLU;
 *   MBConv stages: 1×1 expand + BN + SiLU, k×k depthwise (stride) + BN +
 *     SiLU, squeeze-and-excitation (squeeze to a quarter of the block's
 *     input channels, SiLU, sigmoid gate), 1×1 project + BN;
 *   both add the input when stride is 1 and the channels match;
 *   head: 1×1 conv to 1280 + BN + SiLU, global average pool, dense.
 * Stages (type, expansion, channels × width, blocks — --depth caps them,
 * stride): F1·16·1·s1, F4·32·2·s2, F4·48·2·s2, M4·96·2·s2, M6·112·2·s1,
 * M6·160·2·s2; spatial 28, 28, 14, 7, 4, 4, 2 for 28×28 inputs. */
#include "train/arch.h"

static int fused(mn_ab *b, int x, int cin, int e, int cout, int stride)
{
    int y;
    if (e == 1) {
        y = ab_conv_bn_act(b, x, cin, cout, 3, stride, 1, "SiLU");
    } else {
        y = ab_conv_bn_act(b, x, cin, cin * e, 3, stride, 1, "SiLU");
        y = ab_conv_bn_act(b, y, cin * e, cout, 1, 1, 1, NULL);
    }
    return stride == 1 && cin == cout ? ab_add(b, y, x) : y;
}

static int mbconv(mn_ab *b, int x, int cin, int e, int cout, int stride)
{
    int exp = cin * e, sq = cin / 4 > 1 ? cin / 4 : 1;
    int y = ab_conv_bn_act(b, x, cin, exp, 1, 1, 1, "SiLU");
    y = ab_conv_bn_act(b, y, exp, exp, 3, stride, exp, "SiLU");
    y = ab_se(b, y, exp, sq, "SiLU", "Sigmoid");
    y = ab_conv_bn_act(b, y, exp, cout, 1, 1, 1, NULL);
    return stride == 1 && cin == cout ? ab_add(b, y, x) : y;
}

mn_status mn_arch_efficientnet(const char *name, const mn_arch_opts *o,
                               mn_graph **out, mn_ctx *ctx)
{
    /* fused?, expansion, channels, blocks, stride */
    static const int cfg[][5] = {{1, 1, 16, 1, 1},  {1, 4, 32, 2, 2},
                                 {1, 4, 48, 2, 2},  {0, 4, 96, 2, 2},
                                 {0, 6, 112, 2, 1}, {0, 6, 160, 2, 2}};
    mn_ab b;
    int x = ab_begin(&b, name, o, ctx);
    int c = ab_make_div(16, o->width_mult);
    x = ab_conv_bn_act(&b, x, o->channels, c, 3, 1, 1, "SiLU");
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
        const int *r = cfg[i];
        int co = ab_make_div((float)r[2], o->width_mult);
        int n = o->depth && o->depth < r[3] ? o->depth : r[3];
        for (int k = 0; k < n; k++) {
            int st = k == 0 ? r[4] : 1;
            x = r[0] ? fused(&b, x, c, r[1], co, st)
                     : mbconv(&b, x, c, r[1], co, st);
            c = co;
        }
    }
    int last = ab_make_div(1280, o->width_mult > 1 ? o->width_mult : 1);
    x = ab_conv_bn_act(&b, x, c, last, 1, 1, 1, "SiLU");
    x = ab_flatten(&b, ab_gap(&b, x));
    x = ab_dense(&b, x, last, o->classes);
    return ab_end(&b, x, out);
}
