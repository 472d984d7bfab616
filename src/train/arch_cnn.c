/* thesis-cnn: three Conv3×3–BN–ReLU–MaxPool2×2 stages (32, 64, 128
 * channels × width), Flatten, Dense 64 + ReLU, Dense classes. */
#include "train/arch.h"

mn_status mn_arch_thesis_cnn(const mn_arch_opts *o, mn_graph **out,
                             mn_ctx *ctx)
{
    mn_ab b;
    int x = ab_begin(&b, "thesis-cnn", o, ctx);
    int c = o->channels, h = o->height, w = o->width;
    for (int s = 0; s < 3; s++) {
        int co = ab_make_div(32 << s, o->width_mult);
        x = ab_conv_bn_act(&b, x, c, co, 3, 1, 1, "Relu");
        x = ab_maxpool(&b, x, 2, 2, 0);
        c = co;
        h /= 2;
        w /= 2;
    }
    x = ab_flatten(&b, x);
    x = ab_dense(&b, x, c * h * w, 64);
    x = ab_act(&b, x, "Relu");
    x = ab_dense(&b, x, 64, o->classes);
    return ab_end(&b, x, out);
}
