/* Gradient checks: BatchNormalization in training mode (batch statistics;
 * checked for x, scale and B), its running-average update, LayerNorm,
 * Softmax (axis semantics before and after opset 13), LogSoftmax, and
 * Dropout in training mode (a fixed seed gives a fixed mask). */
#include <math.h>
#include <string.h>
#include "grad_check.h"
#include "ops/ops.h"
#include "test.h"
#include "train/grad.h"

static void bn_case(const char *where, int ndim, const int64_t *xd,
                    uint64_t seed)
{
    mn_graph *g = gc_graph("BatchNormalization", 15, 5, 1);
    int64_t cd[1] = {xd[1]};
    mn_tensor *in[5] = {gc_rand(ndim, xd, seed, -2, 2, 0),
                        gc_rand(1, cd, seed + 1, 0.5f, 1.5f, 0),
                        gc_rand(1, cd, seed + 2, -1, 1, 0),
                        gc_rand(1, cd, seed + 3, -1, 1, 0),
                        gc_rand(1, cd, seed + 4, 0.5f, 1.5f, 0)};
    gc_opts o = {.training = 1};
    gc_attr_float(g, "epsilon", 1e-3f);
    GC_CHECK(where, g, in, 5, 7u, &o);
}

TEST(grad_batchnorm_training)
{
    bn_case("bn 4d", 4, (int64_t[]){3, 4, 3, 2}, 1);
    bn_case("bn 2d", 2, (int64_t[]){6, 5}, 2);
    bn_case("bn batch 1", 4, (int64_t[]){1, 2, 3, 3}, 3);
}

TEST(batchnorm_training_forward_stats)
{
    /* x for channel 0: 1,2,3,4 (mean 2.5, biased var 1.25, unbiased 5/3);
     * channel 1: all 7. */
    mn_graph *g = gc_graph("BatchNormalization", 15, 5, 1);
    const mn_grad_def *gd = mn_grad_get(MN_OP_BATCHNORM);
    float xv[8] = {1, 2, 7, 7, 3, 4, 7, 7}; /* N=2, C=2, W=2 */
    int64_t xd[3] = {2, 2, 2}, cd[1] = {2};
    mn_tensor *x = gc_f32(xv, 3, xd);
    mn_tensor *sc = gc_f32((float[]){2, 1}, 1, cd);
    mn_tensor *b = gc_f32((float[]){0.5f, -1}, 1, cd);
    mn_tensor *rm = gc_f32((float[]){1, 0}, 1, cd);
    mn_tensor *rv = gc_f32((float[]){1, 1}, 1, cd);
    const mn_tensor *in[5] = {x, sc, b, rm, rv};
    float yv[8], priv[4];
    mn_tensor y = *x;
    mn_tensor *out[1] = {&y};
    mn_ctx ctx = {{0}};
    mn_texec te = {.ex = {.ctx = &ctx, .priv = priv, .training = 1}};
    y.data = yv;
    y.owns_data = 0;
    gc_attr_float(g, "epsilon", 1e-3f);
    gc_attr_float(g, "momentum", 0.75f);
    CHECK(gd && gd->forward && gd->train_only);
    if (!gd || !gd->forward)
        goto done;
    CHECK_OK(gd->forward(gc_node(g), in, 5, out, 1, &te.ex), &ctx);
    double inv = 1.0 / sqrt(1.25 + 1e-3);
    CHECK_NEAR(yv[0], 2 * (1 - 2.5) * inv + 0.5, 1e-5);
    CHECK_NEAR(yv[5], 2 * (4 - 2.5) * inv + 0.5, 1e-5);
    CHECK_NEAR(yv[2], -1.0, 1e-5); /* constant channel → beta */
    CHECK_NEAR(((float *)rm->data)[0], 0.75 * 1 + 0.25 * 2.5, 1e-6);
    CHECK_NEAR(((float *)rv->data)[0], 0.75 * 1 + 0.25 * (5.0 / 3.0), 1e-6);
    CHECK_NEAR(((float *)rm->data)[1], 0.25 * 7, 1e-6);
    CHECK_NEAR(((float *)rv->data)[1], 0.75, 1e-6);
done:
    for (int i = 0; i < 5; i++)
        mn_tensor_destroy((mn_tensor *)in[i]);
    mn_graph_destroy(g);
}

TEST(grad_layernorm)
{
    int64_t xd[3] = {2, 3, 6}, sd[1] = {6}, sd2[2] = {3, 6};
    mn_graph *g = gc_graph("LayerNormalization", 17, 3, 1);
    mn_tensor *in[3] = {gc_rand(3, xd, 1, -2, 2, 0),
                        gc_rand(1, sd, 2, 0.5f, 1.5f, 0),
                        gc_rand(1, sd, 3, -1, 1, 0)};
    GC_CHECK("layernorm last axis", g, in, 3, 7u, NULL);
    g = gc_graph("LayerNormalization", 17, 3, 1);
    gc_attr_int(g, "axis", 1);
    gc_attr_float(g, "epsilon", 1e-3f);
    in[0] = gc_rand(3, xd, 4, -2, 2, 0);
    in[1] = gc_rand(2, sd2, 5, 0.5f, 1.5f, 0);
    in[2] = gc_rand(2, sd2, 6, -1, 1, 0);
    GC_CHECK("layernorm axis 1", g, in, 3, 7u, NULL);
}

TEST(grad_softmax)
{
    int64_t xd[3] = {2, 3, 4};
    static const struct {
        const char *op;
        int opset, axis;
    } cases[] = {{"Softmax", 13, -1}, {"Softmax", 13, 1}, {"Softmax", 11, 1},
                 {"LogSoftmax", 13, -1}, {"LogSoftmax", 13, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mn_graph *g = gc_graph(cases[i].op, cases[i].opset, 1, 1);
        char where[64];
        gc_attr_int(g, "axis", cases[i].axis);
        mn_tensor *in[1] = {gc_rand(3, xd, 10 + i, -2, 2, 0)};
        snprintf(where, sizeof where, "%s-%d axis %d", cases[i].op,
                 cases[i].opset, cases[i].axis);
        GC_CHECK(where, g, in, 1, 1u, NULL);
    }
}

TEST(grad_dropout_training)
{
    int64_t xd[2] = {8, 16};
    mn_graph *g = gc_graph("Dropout", 13, 2, 1);
    mn_tensor *in[2] = {gc_rand(2, xd, 1, -1, 1, 0),
                        gc_f32((float[]){0.3f}, 0, NULL)};
    gc_opts o = {.training = 1, .max_elems = 128};
    GC_CHECK("dropout", g, in, 2, 1u, &o);
}

TEST(dropout_training_drops_and_scales)
{
    int64_t xd[1] = {4000};
    mn_graph *g = gc_graph("Dropout", 13, 2, 1);
    const mn_grad_def *gd = mn_grad_get(MN_OP_DROPOUT);
    mn_tensor *x = gc_rand(1, xd, 2, 1, 2, 0);
    mn_tensor *r = gc_f32((float[]){0.25f}, 0, NULL);
    const mn_tensor *in[2] = {x, r};
    static float yv[4000];
    static uint8_t mask[4000];
    mn_tensor y = *x;
    mn_tensor *out[1] = {&y};
    mn_ctx ctx = {{0}};
    mn_texec te = {.ex = {.ctx = &ctx, .priv = mask, .training = 1},
                   .seed = 42};
    y.data = yv;
    y.owns_data = 0;
    CHECK_OK(gd->forward(gc_node(g), in, 2, out, 1, &te.ex), &ctx);
    int zeros = 0, scaled = 1;
    for (int i = 0; i < 4000; i++) {
        float xi = ((float *)x->data)[i];
        if (yv[i] == 0.0f)
            zeros++;
        else if (fabsf(yv[i] - xi / 0.75f) > 1e-5f)
            scaled = 0;
    }
    CHECK(scaled);
    CHECK(zeros > 900 && zeros < 1100); /* 1000 expected, sd ~27 */
    mn_tensor_destroy(x);
    mn_tensor_destroy(r);
    mn_graph_destroy(g);
}
