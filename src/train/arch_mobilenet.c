/* MobileNets adapted to 28×28 / 32×32 inputs the usual CIFAR way: the stem
 * and the first down-sampling stage keep stride 1, so the last feature map
 * is 2×2 to 4×4 instead of collapsing to 1×1.
 *   mobilenetv1: depthwise-separable blocks (3×3 dw + BN + ReLU, 1×1 +
 *     BN + ReLU), 64…1024 channels;
 *   mobilenetv2: inverted residuals (1×1 expand, 3×3 dw, 1×1 linear
 *     project; ReLU6; residual when shape allows), 1280-channel head;
 *   mobilenetv3-small: inverted residuals with squeeze-and-excitation
 *     (hard-sigmoid gate) and HardSwish, a 1024-wide dense head. */
#include <string.h>
#include "train/arch.h"

static int mnv1(mn_ab *b, const mn_arch_opts *o, int x)
{
    static const int cfg[][2] = {{64, 1},  {128, 1}, {128, 1}, {256, 2},
                                 {256, 1}, {512, 2}, {512, 1}, {512, 1},
                                 {512, 1}, {512, 1}, {512, 1}, {1024, 2},
                                 {1024, 1}};
    int c = ab_make_div(32, o->width_mult);
    x = ab_conv_bn_act(b, x, o->channels, c, 3, 1, 1, "Relu");
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
        int co = ab_make_div((float)cfg[i][0], o->width_mult);
        x = ab_conv_bn_act(b, x, c, c, 3, cfg[i][1], c, "Relu");
        x = ab_conv_bn_act(b, x, c, co, 1, 1, 1, "Relu");
        c = co;
    }
    x = ab_flatten(b, ab_gap(b, x));
    return ab_dense(b, x, c, o->classes);
}

static int inverted(mn_ab *b, int x, int cin, int exp, int cout, int k,
                    int stride, int se, const char *act)
{
    int y = x;
    if (exp != cin)
        y = ab_conv_bn_act(b, y, cin, exp, 1, 1, 1, act);
    y = ab_conv_bn_act(b, y, exp, exp, k, stride, exp, act);
    if (se)
        y = ab_se(b, y, exp, ab_make_div((float)exp / 4, 1.0f), "Relu",
                  "HardSigmoid");
    y = ab_conv_bn_act(b, y, exp, cout, 1, 1, 1, NULL);
    if (stride == 1 && cin == cout)
        y = ab_add(b, y, x);
    return y;
}

static int mnv2(mn_ab *b, const mn_arch_opts *o, int x)
{
    /* t, c, n, s (stride of the 24-channel stage 1 instead of 2) */
    static const int cfg[][4] = {{1, 16, 1, 1},  {6, 24, 2, 1},
                                 {6, 32, 3, 2},  {6, 64, 4, 2},
                                 {6, 96, 3, 1},  {6, 160, 3, 2},
                                 {6, 320, 1, 1}};
    int c = ab_make_div(32, o->width_mult);
    x = ab_conv_bn_act(b, x, o->channels, c, 3, 1, 1, "Relu6");
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
        int co = ab_make_div((float)cfg[i][1], o->width_mult);
        int n = o->depth ? (cfg[i][2] < o->depth ? cfg[i][2] : o->depth)
                         : cfg[i][2];
        for (int r = 0; r < n; r++) {
            x = inverted(b, x, c, c * cfg[i][0], co, 3,
                         r == 0 ? cfg[i][3] : 1, 0, "Relu6");
            c = co;
        }
    }
    int last = ab_make_div(1280, o->width_mult > 1 ? o->width_mult : 1);
    x = ab_conv_bn_act(b, x, c, last, 1, 1, 1, "Relu6");
    x = ab_flatten(b, ab_gap(b, x));
    return ab_dense(b, x, last, o->classes);
}

static int mnv3s(mn_ab *b, const mn_arch_opts *o, int x)
{
    /* k, exp, out, se, hswish, stride (first stride 1 for small inputs) */
    static const int cfg[][6] = {
        {3, 16, 16, 1, 0, 1},  {3, 72, 24, 0, 0, 2},  {3, 88, 24, 0, 0, 1},
        {5, 96, 40, 1, 1, 2},  {5, 240, 40, 1, 1, 1}, {5, 240, 40, 1, 1, 1},
        {5, 120, 48, 1, 1, 1}, {5, 144, 48, 1, 1, 1}, {5, 288, 96, 1, 1, 2},
        {5, 576, 96, 1, 1, 1}, {5, 576, 96, 1, 1, 1}};
    int c = ab_make_div(16, o->width_mult);
    x = ab_conv_bn_act(b, x, o->channels, c, 3, 1, 1, "HardSwish");
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
        const int *r = cfg[i];
        int exp = ab_make_div((float)r[1], o->width_mult);
        int co = ab_make_div((float)r[2], o->width_mult);
        x = inverted(b, x, c, exp, co, r[0], r[5], r[3],
                     r[4] ? "HardSwish" : "Relu");
        c = co;
    }
    int last = ab_make_div(576, o->width_mult);
    x = ab_conv_bn_act(b, x, c, last, 1, 1, 1, "HardSwish");
    x = ab_flatten(b, ab_gap(b, x));
    x = ab_act(b, ab_dense(b, x, last, 1024), "HardSwish");
    return ab_dense(b, x, 1024, o->classes);
}

mn_status mn_arch_mobilenet(const char *name, const mn_arch_opts *o,
                            mn_graph **out, mn_ctx *ctx)
{
    mn_ab b;
    int x = ab_begin(&b, name, o, ctx);
    if (!strcmp(name, "mobilenetv1"))
        x = mnv1(&b, o, x);
    else if (!strcmp(name, "mobilenetv2"))
        x = mnv2(&b, o, x);
    else
        x = mnv3s(&b, o, x);
    return ab_end(&b, x, out);
}
