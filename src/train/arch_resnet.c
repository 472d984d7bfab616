/* CIFAR-style ResNets (He et al. 2016, section 4.2) for small inputs:
 * a 3×3 stem and three stages of basic blocks at 16, 32, 64 channels
 * (× width), strides 1, 2, 2, global average pooling and a dense layer.
 *   resnet8 / resnet20: v1 blocks (conv-BN-ReLU-conv-BN, add, ReLU), 1 or
 *     3 blocks per stage (depth overrides), 1×1 conv + BN projection
 *     shortcuts where the shape changes;
 *   preact-resnet20: v2 blocks (BN-ReLU-conv twice, identity add), a final
 *     BN-ReLU before pooling. */
#include <string.h>
#include "train/arch.h"

static int block_v1(mn_ab *b, int x, int cin, int cout, int stride)
{
    int y = ab_conv_bn_act(b, x, cin, cout, 3, stride, 1, "Relu");
    y = ab_conv_bn_act(b, y, cout, cout, 3, 1, 1, NULL);
    int s = x;
    if (stride != 1 || cin != cout)
        s = ab_conv_bn_act(b, x, cin, cout, 1, stride, 1, NULL);
    return ab_act(b, ab_add(b, y, s), "Relu");
}

static int block_v2(mn_ab *b, int x, int cin, int cout, int stride)
{
    int a = ab_act(b, ab_bn(b, x, cin), "Relu");
    int y = ab_conv(b, a, cin, cout, 3, stride, 1, 0);
    y = ab_act(b, ab_bn(b, y, cout), "Relu");
    y = ab_conv(b, y, cout, cout, 3, 1, 1, 0);
    int s = x;
    if (stride != 1 || cin != cout)
        s = ab_conv(b, a, cin, cout, 1, stride, 1, 0);
    return ab_add(b, y, s);
}

mn_status mn_arch_resnet(const char *name, const mn_arch_opts *o,
                         mn_graph **out, mn_ctx *ctx)
{
    mn_ab b;
    int pre = strncmp(name, "preact", 6) == 0;
    int depth = o->depth ? o->depth : strstr(name, "20") ? 3 : 1;
    int x = ab_begin(&b, name, o, ctx);
    int c = ab_make_div(16, o->width_mult);
    x = pre ? ab_conv(&b, x, o->channels, c, 3, 1, 1, 0)
            : ab_conv_bn_act(&b, x, o->channels, c, 3, 1, 1, "Relu");
    for (int s = 0; s < 3; s++) {
        int co = ab_make_div(16 << s, o->width_mult);
        for (int i = 0; i < depth; i++) {
            int st = s > 0 && i == 0 ? 2 : 1;
            x = pre ? block_v2(&b, x, c, co, st) : block_v1(&b, x, c, co, st);
            c = co;
        }
    }
    if (pre)
        x = ab_act(&b, ab_bn(&b, x, c), "Relu");
    x = ab_flatten(&b, ab_gap(&b, x));
    x = ab_dense(&b, x, c, o->classes);
    return ab_end(&b, x, out);
}
