/* Architecture building blocks (see arch.h) and the registry behind
 * `minnow train --arch NAME`. Weights are seeded: Conv weights He-normal
 * with fan_out (as torchvision initializes ResNets and MobileNets), dense
 * weights and biases uniform ±1/√fan_in (PyTorch's Linear default),
 * BatchNorm γ = 1, β = 0, running mean 0 and variance 1. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "train/arch.h"

static int fail(mn_ab *b) { return b->st != MN_OK; }

static int new_value(mn_ab *b, const char *kind)
{
    char name[64];
    int v = -1;
    if (fail(b))
        return -1;
    snprintf(name, sizeof name, "%s_%d", kind, b->counter++);
    b->st = mn_graph_add_value(b->g, name, MN_DT_F32, -1, NULL, &v, b->ctx);
    return fail(b) ? -1 : v;
}

/* An initializer of the given shape; data filled by the caller. */
static float *new_init(mn_ab *b, const char *kind, int ndim,
                       const int64_t *dims, int *v)
{
    char name[64];
    mn_tensor *t = NULL;
    *v = -1;
    if (fail(b))
        return NULL;
    snprintf(name, sizeof name, "%s_%d", kind, b->counter++);
    if ((b->st = mn_graph_add_value(b->g, name, MN_DT_F32, ndim, dims, v,
                                    b->ctx)) != MN_OK)
        return NULL;
    if ((b->st = mn_tensor_create(MN_DT_F32, ndim, dims, &t, b->ctx)) !=
        MN_OK)
        return NULL;
    b->g->values[*v].init = t;
    return t->data;
}

static int node(mn_ab *b, const char *op, int opset, const int *in, int n_in,
                int n_out_extra, mn_node **np)
{
    char name[64];
    int out[2], idx;
    if (fail(b))
        return -1;
    out[0] = new_value(b, op);
    if (n_out_extra)
        out[1] = new_value(b, op);
    snprintf(name, sizeof name, "%s_%d", op, b->counter++);
    if (fail(b) ||
        (b->st = mn_graph_add_node(b->g, name, op, "", opset, in, n_in, out,
                                   1 + n_out_extra, &idx, b->ctx)) != MN_OK)
        return -1;
    if (np)
        *np = &b->g->nodes[idx];
    return out[0];
}

static void attr_ints(mn_ab *b, mn_node *n, const char *name,
                      const int64_t *v, int k)
{
    mn_attr *a;
    if (fail(b) || !n)
        return;
    if ((b->st = mn_node_add_attr(n, name, MN_ATTR_INTS, &a, b->ctx)) ==
        MN_OK)
        b->st = mn_attr_set_ints(a, v, k, b->ctx);
}

static void attr_int(mn_ab *b, mn_node *n, const char *name, int64_t v)
{
    mn_attr *a;
    if (fail(b) || !n)
        return;
    if ((b->st = mn_node_add_attr(n, name, MN_ATTR_INT, &a, b->ctx)) == MN_OK)
        a->i = v;
}

static void attr_float(mn_ab *b, mn_node *n, const char *name, float v)
{
    mn_attr *a;
    if (fail(b) || !n)
        return;
    if ((b->st = mn_node_add_attr(n, name, MN_ATTR_FLOAT, &a, b->ctx)) ==
        MN_OK)
        a->f = v;
}

static int scalar(mn_ab *b, float v)
{
    int idx;
    float *d = new_init(b, "const", 0, NULL, &idx);
    if (d)
        d[0] = v;
    return d ? idx : -1;
}

int ab_make_div(float c, float mult)
{
    float v = c * mult;
    int r = (int)(v + 4) / 8 * 8;
    if (r < 8)
        r = 8;
    if ((float)r < 0.9f * v)
        r += 8;
    return r;
}

int ab_begin(mn_ab *b, const char *name, const mn_arch_opts *o, mn_ctx *ctx)
{
    int64_t dims[4] = {-1, o->channels, o->height, o->width};
    int v = -1;
    memset(b, 0, sizeof *b);
    b->ctx = ctx;
    mn_rng_seed(&b->rng, o->seed, 0xA4C4, 0);
    if ((b->st = mn_graph_create(&b->g, ctx)) != MN_OK)
        return -1;
    free(b->g->source);
    b->g->source = mn_strdup(name);
    b->g->name = mn_strdup(name);
    b->g->producer_name = mn_strdup("minnow");
    b->g->producer_version = mn_strdup(MN_VERSION);
    b->g->opset = 13;
    if (!b->g->source || !b->g->name || !b->g->producer_name ||
        !b->g->producer_version) {
        b->st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        return -1;
    }
    if ((b->st = mn_graph_add_value(b->g, "input", MN_DT_F32, 4, dims, &v,
                                    ctx)) != MN_OK)
        return -1;
    b->g->values[v].dim_param[0] = mn_strdup("N");
    b->g->inputs = mn_malloc(sizeof *b->g->inputs);
    if (!b->g->inputs || !b->g->values[v].dim_param[0]) {
        b->st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        return -1;
    }
    b->g->inputs[0] = v;
    b->g->n_inputs = 1;
    return v;
}

mn_status ab_end(mn_ab *b, int v, mn_graph **out)
{
    *out = NULL;
    if (!fail(b)) {
        free(b->g->values[v].name);
        b->g->values[v].name = mn_strdup("logits");
        b->g->outputs = mn_malloc(sizeof *b->g->outputs);
        if (!b->g->values[v].name || !b->g->outputs)
            b->st = mn_error(b->ctx, MN_ERR_OOM, "out of memory");
        else {
            b->g->outputs[0] = v;
            b->g->n_outputs = 1;
            b->g->values[v].ndim = 2;
            b->g->values[v].dims[0] = -1;
            b->g->values[v].dim_param[0] = mn_strdup("N");
            b->g->values[v].dims[1] = -1;
            mn_graph_relink(b->g);
            b->st = mn_graph_toposort(b->g, b->ctx);
        }
    }
    if (fail(b)) {
        mn_graph_destroy(b->g);
        return b->st;
    }
    *out = b->g;
    return MN_OK;
}

int ab_conv(mn_ab *b, int x, int cin, int cout, int k, int stride,
            int group, int bias)
{
    int64_t wd[4] = {cout, cin / group, k, k}, bd[1] = {cout};
    int in[3] = {x, -1, -1};
    mn_node *n = NULL;
    float *w = new_init(b, "conv_w", 4, wd, &in[1]);
    if (!w)
        return -1;
    double sd = sqrt(2.0 / ((double)cout / group * k * k));
    for (int64_t i = 0; i < wd[0] * wd[1] * k * k; i++)
        w[i] = (float)(sd * mn_rng_normal(&b->rng));
    if (bias) {
        float *bb = new_init(b, "conv_b", 1, bd, &in[2]);
        if (!bb)
            return -1;
    }
    int y = node(b, "Conv", 13, in, bias ? 3 : 2, 0, &n);
    int64_t ks[2] = {k, k}, st[2] = {stride, stride};
    int64_t p = (k - 1) / 2, pads[4] = {p, p, p, p};
    attr_ints(b, n, "kernel_shape", ks, 2);
    attr_ints(b, n, "strides", st, 2);
    attr_ints(b, n, "pads", pads, 4);
    if (group > 1)
        attr_int(b, n, "group", group);
    return y;
}

int ab_bn(mn_ab *b, int x, int c)
{
    int64_t d[1] = {c};
    int in[5] = {x, -1, -1, -1, -1};
    mn_node *n = NULL;
    float *g = new_init(b, "bn_scale", 1, d, &in[1]);
    float *be = new_init(b, "bn_bias", 1, d, &in[2]);
    float *m = new_init(b, "bn_mean", 1, d, &in[3]);
    float *v = new_init(b, "bn_var", 1, d, &in[4]);
    if (!g || !be || !m || !v)
        return -1;
    for (int i = 0; i < c; i++) {
        g[i] = 1.0f;
        v[i] = 1.0f;
    }
    int y = node(b, "BatchNormalization", 15, in, 5, 0, &n);
    attr_float(b, n, "epsilon", 1e-5f);
    attr_float(b, n, "momentum", 0.9f);
    return y;
}

int ab_act(mn_ab *b, int x, const char *op)
{
    if (!op)
        return x;
    if (!strcmp(op, "Relu6")) {
        int in[3] = {x, scalar(b, 0.0f), scalar(b, 6.0f)};
        return node(b, "Clip", 13, in, 3, 0, NULL);
    }
    if (!strcmp(op, "SiLU")) {
        int s = node(b, "Sigmoid", 13, &x, 1, 0, NULL);
        return ab_mul(b, x, s);
    }
    if (!strcmp(op, "Gelu")) { /* 0.5·x·(1 + erf(x/√2)), as PyTorch exports */
        int in[2] = {x, scalar(b, 1.41421356237f)};
        int d = node(b, "Div", 13, in, 2, 0, NULL);
        int e = node(b, "Erf", 13, &d, 1, 0, NULL);
        int in2[2] = {e, scalar(b, 1.0f)};
        int a = node(b, "Add", 13, in2, 2, 0, NULL);
        int m = ab_mul(b, x, a);
        int in3[2] = {m, scalar(b, 0.5f)};
        return node(b, "Mul", 13, in3, 2, 0, NULL);
    }
    if (!strcmp(op, "HardSigmoid")) {
        mn_node *n = NULL;
        int y = node(b, "HardSigmoid", 6, &x, 1, 0, &n);
        attr_float(b, n, "alpha", 1.0f / 6.0f);
        attr_float(b, n, "beta", 0.5f);
        return y;
    }
    return node(b, op, !strcmp(op, "HardSwish") ? 14 : 13, &x, 1, 0, NULL);
}

int ab_conv_bn_act(mn_ab *b, int x, int cin, int cout, int k, int stride,
                   int group, const char *act)
{
    int y = ab_conv(b, x, cin, cout, k, stride, group, 0);
    y = ab_bn(b, y, cout);
    return ab_act(b, y, act);
}

int ab_add(mn_ab *b, int x, int y)
{
    int in[2] = {x, y};
    return node(b, "Add", 13, in, 2, 0, NULL);
}

int ab_mul(mn_ab *b, int x, int y)
{
    int in[2] = {x, y};
    return node(b, "Mul", 13, in, 2, 0, NULL);
}

int ab_maxpool(mn_ab *b, int x, int k, int stride, int pad)
{
    mn_node *n = NULL;
    int y = node(b, "MaxPool", 12, &x, 1, 0, &n);
    int64_t ks[2] = {k, k}, st[2] = {stride, stride};
    int64_t pads[4] = {pad, pad, pad, pad};
    attr_ints(b, n, "kernel_shape", ks, 2);
    attr_ints(b, n, "strides", st, 2);
    attr_ints(b, n, "pads", pads, 4);
    return y;
}

int ab_gap(mn_ab *b, int x)
{
    return node(b, "GlobalAveragePool", 1, &x, 1, 0, NULL);
}

int ab_flatten(mn_ab *b, int x)
{
    mn_node *n = NULL;
    int y = node(b, "Flatten", 13, &x, 1, 0, &n);
    attr_int(b, n, "axis", 1);
    return y;
}

int ab_dense(mn_ab *b, int x, int nin, int nout)
{
    int64_t wd[2] = {nout, nin}, bd[1] = {nout};
    int in[3] = {x, -1, -1};
    mn_node *n = NULL;
    float *w = new_init(b, "fc_w", 2, wd, &in[1]);
    float *bb = new_init(b, "fc_b", 1, bd, &in[2]);
    if (!w || !bb)
        return -1;
    float lim = 1.0f / sqrtf((float)nin);
    for (int64_t i = 0; i < (int64_t)nout * nin; i++)
        w[i] = lim * (2 * mn_rng_uniform(&b->rng) - 1);
    for (int i = 0; i < nout; i++)
        bb[i] = lim * (2 * mn_rng_uniform(&b->rng) - 1);
    int y = node(b, "Gemm", 13, in, 3, 0, &n);
    attr_int(b, n, "transB", 1);
    return y;
}

int ab_transpose(mn_ab *b, int x, const int64_t *perm, int k)
{
    mn_node *n = NULL;
    int y = node(b, "Transpose", 13, &x, 1, 0, &n);
    attr_ints(b, n, "perm", perm, k);
    return y;
}

int ab_layernorm(mn_ab *b, int x, int c)
{
    int64_t d[1] = {c};
    int in[3] = {x, -1, -1};
    mn_node *n = NULL;
    float *g = new_init(b, "ln_scale", 1, d, &in[1]);
    float *be = new_init(b, "ln_bias", 1, d, &in[2]);
    if (!g || !be)
        return -1;
    for (int i = 0; i < c; i++)
        g[i] = 1.0f;
    int y = node(b, "LayerNormalization", 17, in, 3, 0, &n);
    attr_int(b, n, "axis", -1);
    attr_float(b, n, "epsilon", 1e-6f);
    if (!fail(b) && b->g->opset < 17)
        b->g->opset = 17;
    return y;
}

int ab_matmul_w(mn_ab *b, int x, int nin, int nout)
{
    int64_t wd[2] = {nin, nout}, bd[1] = {nout};
    int in[2] = {x, -1}, bin[2] = {-1, -1};
    float *w = new_init(b, "mm_w", 2, wd, &in[1]);
    if (!w)
        return -1;
    double sd = 0.02; /* truncated-normal-like init of ConvNeXt linears */
    for (int64_t i = 0; i < (int64_t)nin * nout; i++)
        w[i] = (float)(sd * fmax(-2.0, fmin(2.0, mn_rng_normal(&b->rng))));
    int y = node(b, "MatMul", 13, in, 2, 0, NULL);
    if (!new_init(b, "mm_b", 1, bd, &bin[1]))
        return -1;
    bin[0] = y;
    return node(b, "Add", 13, bin, 2, 0, NULL);
}

int ab_scale(mn_ab *b, int x, int c, float init)
{
    int64_t d[3] = {c, 1, 1};
    int in[2] = {x, -1};
    float *s = new_init(b, "layer_scale", 3, d, &in[1]);
    if (!s)
        return -1;
    for (int i = 0; i < c; i++)
        s[i] = init;
    return node(b, "Mul", 13, in, 2, 0, NULL);
}

int ab_se(mn_ab *b, int x, int c, int squeeze, const char *act,
          const char *gate)
{
    int s = ab_gap(b, x);
    s = ab_conv(b, s, c, squeeze, 1, 1, 1, 1);
    s = ab_act(b, s, act);
    s = ab_conv(b, s, squeeze, c, 1, 1, 1, 1);
    s = ab_act(b, s, gate);
    return ab_mul(b, x, s);
}

/* ---- registry ---- */

static const char *const NAMES[] = {
    "thesis-cnn", "resnet8", "resnet20", "preact-resnet20", "mobilenetv1",
    "mobilenetv2", "mobilenetv3-small", "efficientnetv2-tiny",
    "convnext-tiny",
};
#define N_NAMES ((int)(sizeof NAMES / sizeof NAMES[0]))

int mn_arch_count(void) { return N_NAMES; }

const char *mn_arch_name(int i)
{
    return i >= 0 && i < N_NAMES ? NAMES[i] : NULL;
}

mn_status mn_arch_build(const char *name, const mn_arch_opts *opts,
                        mn_graph **out, mn_ctx *ctx)
{
    mn_arch_opts o = opts ? *opts : (mn_arch_opts){0};
    *out = NULL;
    if (o.channels == 0)
        o.channels = 1;
    if (o.height == 0)
        o.height = 28;
    if (o.width == 0)
        o.width = o.height;
    if (o.classes == 0)
        o.classes = 10;
    if (o.width_mult == 0)
        o.width_mult = 1.0f;
    if (o.channels < 1 || o.channels > 4 || o.height < 8 || o.width < 8 ||
        o.height > 1024 || o.width > 1024 || o.classes < 2 ||
        o.width_mult < 0.1f || o.width_mult > 8 || o.depth < 0 ||
        o.depth > 64)
        return mn_error(ctx, MN_ERR_ARG,
                        "architecture options: input %dx%dx%d, %d classes, "
                        "width %g, depth %d", o.channels, o.height, o.width,
                        o.classes, o.width_mult, o.depth);
    if (name && !strcmp(name, "thesis-cnn"))
        return mn_arch_thesis_cnn(&o, out, ctx);
    if (name && strstr(name, "resnet"))
        for (int i = 0; i < N_NAMES; i++)
            if (!strcmp(name, NAMES[i]))
                return mn_arch_resnet(name, &o, out, ctx);
    if (name && !strncmp(name, "mobilenet", 9))
        for (int i = 0; i < N_NAMES; i++)
            if (!strcmp(name, NAMES[i]))
                return mn_arch_mobilenet(name, &o, out, ctx);
    if (name && !strcmp(name, "efficientnetv2-tiny"))
        return mn_arch_efficientnet(name, &o, out, ctx);
    if (name && !strcmp(name, "convnext-tiny"))
        return mn_arch_convnext(name, &o, out, ctx);
    char list[512] = "";
    for (int i = 0; i < N_NAMES; i++) {
        strncat(list, NAMES[i], sizeof list - strlen(list) - 1);
        if (i + 1 < N_NAMES)
            strncat(list, ", ", sizeof list - strlen(list) - 1);
    }
    return mn_error(ctx, MN_ERR_ARG,
                    "unknown architecture '%s' (known: %s)",
                    name ? name : "", list);
}
