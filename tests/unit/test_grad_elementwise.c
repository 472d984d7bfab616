/* Gradient checks: activations and unary math (Relu, LeakyRelu, Clip /
 * Relu6 in both the attribute and the input form, Sigmoid, HardSigmoid,
 * HardSwish, Tanh, Erf, Gelu exact and tanh, Sqrt, Exp, Log, Neg, Abs,
 * Reciprocal, PRelu) and the broadcasting binary ops (Add, Sub, Mul, Div,
 * Pow, Max, Min). Inputs of non-smooth ops are kept >= 0.05 (5h) from
 * their kinks. */
#include <math.h>
#include "grad_check.h"
#include "test.h"

static const int64_t SHAPE[4] = {2, 3, 4, 5};

/* Moves every value within `margin` of `at` out to at ± 2·margin. */
static mn_tensor *avoid(mn_tensor *t, float at, float margin)
{
    float *d = t->data;
    for (int64_t i = 0; i < mn_tensor_numel(t); i++)
        if (fabsf(d[i] - at) < margin)
            d[i] = d[i] < at ? at - 2 * margin : at + 2 * margin;
    return t;
}

static void unary(const char *op, int opset, float lo, float hi, float gap,
                  const char *astr, const char *aname, float aval)
{
    mn_graph *g = gc_graph(op, opset, 1, 1);
    mn_tensor *in[1] = {gc_rand(4, SHAPE, 5, lo, hi, gap)};
    if (aname)
        gc_attr_float(g, aname, aval);
    if (astr)
        gc_attr_string(g, "approximate", astr);
    GC_CHECK(op, g, in, 1, 1u, NULL);
}

TEST(grad_activations)
{
    unary("Relu", 14, -2, 2, 0.05f, NULL, NULL, 0);
    unary("LeakyRelu", 16, -2, 2, 0.05f, NULL, "alpha", 0.1f);
    unary("Sigmoid", 13, -4, 4, 0, NULL, NULL, 0);
    unary("Tanh", 13, -3, 3, 0, NULL, NULL, 0);
    unary("Erf", 13, -2, 2, 0, NULL, NULL, 0);
    unary("Gelu", 20, -3, 3, 0, NULL, NULL, 0);
    unary("Gelu", 20, -3, 3, 0, "tanh", NULL, 0);
    unary("Sqrt", 13, 0.3f, 3, 0, NULL, NULL, 0);
    unary("Exp", 13, -2, 2, 0, NULL, NULL, 0);
    unary("Log", 13, 0.3f, 3, 0, NULL, NULL, 0);
    unary("Neg", 13, -2, 2, 0, NULL, NULL, 0);
    unary("Abs", 13, -2, 2, 0.05f, NULL, NULL, 0);
    unary("Reciprocal", 13, 0.5f, 2, 0, NULL, NULL, 0);
}

TEST(grad_hard_activations)
{
    mn_graph *g = gc_graph("HardSwish", 14, 1, 1);
    mn_tensor *x = gc_rand(4, SHAPE, 8, -5, 5, 0);
    mn_tensor *in[3];
    avoid(avoid(x, 3.0f, 0.05f), -3.0f, 0.05f);
    in[0] = x;
    GC_CHECK("HardSwish", g, in, 1, 1u, NULL);

    g = gc_graph("HardSigmoid", 6, 1, 1);
    x = gc_rand(4, SHAPE, 9, -4, 4, 0);
    avoid(avoid(x, 2.5f, 0.05f), -2.5f, 0.05f);
    in[0] = x;
    GC_CHECK("HardSigmoid", g, in, 1, 1u, NULL);

    /* Relu6 as exported by PyTorch: Clip with min/max inputs (opset 11+) */
    g = gc_graph("Clip", 13, 3, 1);
    x = gc_rand(4, SHAPE, 10, -2, 8, 0);
    avoid(avoid(x, 0.0f, 0.05f), 6.0f, 0.05f);
    in[0] = x;
    in[1] = gc_f32((float[]){0.0f}, 0, NULL);
    in[2] = gc_f32((float[]){6.0f}, 0, NULL);
    GC_CHECK("Clip relu6", g, in, 3, 1u, NULL);

    /* Clip-6 with attributes */
    g = gc_graph("Clip", 6, 1, 1);
    gc_attr_float(g, "min", -0.5f);
    gc_attr_float(g, "max", 0.6f);
    x = gc_rand(4, SHAPE, 11, -1, 1, 0);
    avoid(avoid(x, -0.5f, 0.05f), 0.6f, 0.05f);
    in[0] = x;
    GC_CHECK("Clip attrs", g, in, 1, 1u, NULL);
}

TEST(grad_prelu)
{
    mn_graph *g = gc_graph("PRelu", 16, 2, 1);
    int64_t sd[3] = {3, 1, 1};
    mn_tensor *in[2] = {gc_rand(4, SHAPE, 12, -2, 2, 0.05f),
                        gc_rand(3, sd, 13, 0, 0.5f, 0)};
    GC_CHECK("PRelu", g, in, 2, 3u, NULL);
}

typedef struct bin_case {
    int na, nb;
    int64_t a[4], b[4];
} bin_case;

static const bin_case BCASES[] = {
    {4, 4, {2, 3, 4, 5}, {2, 3, 4, 5}}, /* same shape */
    {4, 4, {2, 3, 4, 5}, {1, 3, 1, 1}}, /* per channel (bias, SE) */
    {4, 4, {2, 3, 4, 5}, {2, 3, 1, 1}}, /* squeeze-excitation scale */
    {4, 1, {2, 3, 4, 5}, {5}},          /* trailing axis */
    {4, 3, {2, 3, 4, 5}, {3, 1, 1}},    /* layer scale, lower rank */
    {3, 4, {3, 4, 1}, {2, 3, 4, 5}},    /* two axes, a broadcast */
    {4, 4, {2, 3, 4, 5}, {1, 3, 1, 5}}, /* not one block of axes */
    {2, 2, {3, 1}, {1, 4}},             /* both broadcast */
    {1, 4, {5}, {2, 3, 4, 5}},          /* a broadcast */
    {4, 0, {2, 3, 4, 5}, {0}},          /* scalar */
};

static void binary(const char *op, float alo, float ahi, float blo,
                   float bhi, float bgap)
{
    for (size_t i = 0; i < sizeof BCASES / sizeof BCASES[0]; i++) {
        const bin_case *c = &BCASES[i];
        mn_graph *g = gc_graph(op, 14, 2, 1);
        mn_tensor *in[2] = {gc_rand(c->na, c->a, 20 + i, alo, ahi, 0),
                            gc_rand(c->nb, c->b, 40 + i, blo, bhi, bgap)};
        char where[64];
        snprintf(where, sizeof where, "%s case %zu", op, i);
        GC_CHECK(where, g, in, 2, 3u, NULL);
    }
}

TEST(grad_binary_broadcast)
{
    binary("Add", -1, 1, -1, 1, 0);
    binary("Sub", -1, 1, -1, 1, 0);
    binary("Mul", -1, 1, -1, 1, 0);
    binary("Div", -1, 1, -2, 2, 0.5f);
    binary("Pow", 0.5f, 1.5f, -1, 2, 0);
}

TEST(grad_max_min)
{
    static const char *ops[2] = {"Max", "Min"};
    for (int k = 0; k < 2; k++) {
        mn_graph *g = gc_graph(ops[k], 13, 2, 1);
        int64_t bd[4] = {1, 3, 1, 5};
        /* distinct values 0.05 apart over both inputs */
        mn_tensor *a = gc_spread(4, SHAPE, 3, 0.05f);
        mn_tensor *b = gc_spread(4, bd, 4, 0.05f);
        float *bb = b->data;
        for (int64_t i = 0; i < mn_tensor_numel(b); i++)
            bb[i] += 0.025f;
        mn_tensor *in[2] = {a, b};
        GC_CHECK(ops[k], g, in, 2, 3u, NULL);
    }
}
