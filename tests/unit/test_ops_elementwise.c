/* Tests of the elementwise, activation, reduction and normalization ops
 * (binary.c, unary.c, reduce.c, softmax.c, layernorm.c): each op is built as
 * a bare node, inferred and run, and compared with hand-computed values or a
 * naive float64 loop written here. */
#include "elementwise_test_util.h"

/* ---- binary ops ---- */

static double ref_bin(const char *op, double a, double b)
{
    if (!strcmp(op, "Add")) return a + b;
    if (!strcmp(op, "Sub")) return a - b;
    if (!strcmp(op, "Mul")) return a * b;
    if (!strcmp(op, "Div")) return a / b;
    if (!strcmp(op, "Pow")) return pow(a, b);
    if (!strcmp(op, "Max")) return a > b ? a : b;
    if (!strcmp(op, "Min")) return a < b ? a : b;
    return NAN;
}

/* Runs op on random float32 inputs of the given shapes, checks the output
 * shape and every element against ref_bin. */
static void check_bcast(const char *op, int na, const int64_t *da, int nb,
                        const int64_t *db, int nexp, const int64_t *dexp)
{
    mn_ctx ctx = {{0}};
    mn_tensor a = tens(MN_DT_F32, na, da, NULL), b = tens(MN_DT_F32, nb, db, NULL);
    int pw = !strcmp(op, "Pow");
    a.data = rand_buf(mn_tensor_numel(&a), pw ? 0.1f : -3, 3);
    b.data = rand_buf(mn_tensor_numel(&b), pw ? -2.0f : 0.5f, 2);
    const mn_tensor *in[2] = {&a, &b};
    mn_tensor out[1] = {{0}};
    mn_node n = node(op, 13, NULL, 0);
    CHECK_OK(run(&n, in, 2, out, 1, &ctx), &ctx);
    CHECK(dims_are(&out[0], nexp, dexp));
    CHECK_EQ_INT(out[0].dtype, MN_DT_F32);
    int bad = 0;
    for (int64_t i = 0; out[0].data && i < mn_tensor_numel(&out[0]); i++) {
        double e = ref_bin(op, ((float *)a.data)[bidx(&out[0], i, &a)],
                           ((float *)b.data)[bidx(&out[0], i, &b)]);
        double g = ((float *)out[0].data)[i];
        if (!(fabs(g - e) <= 1e-5 * (1 + fabs(e))) && bad++ < 5)
            mn_test_fail(__FILE__, __LINE__, "%s element %lld: %g vs %g", op,
                         (long long)i, g, e);
    }
    free_outs(out, 1);
    free(a.data);
    free(b.data);
}

TEST(binary_broadcast_shapes_f32)
{
    const char *ops[] = {"Add", "Sub", "Mul", "Div", "Pow"};
    for (int k = 0; k < 5; k++) {
        const char *op = ops[k];
        check_bcast(op, 4, (int64_t[]){2, 3, 4, 5}, 3, (int64_t[]){3, 1, 1},
                    4, (int64_t[]){2, 3, 4, 5});
        check_bcast(op, 1, (int64_t[]){1}, 2, (int64_t[]){2, 3}, 2,
                    (int64_t[]){2, 3});
        check_bcast(op, 2, (int64_t[]){3, 1}, 2, (int64_t[]){1, 4}, 2,
                    (int64_t[]){3, 4});
        check_bcast(op, 4, (int64_t[]){2, 4, 3, 3}, 4, (int64_t[]){1, 4, 1, 1},
                    4, (int64_t[]){2, 4, 3, 3});
        check_bcast(op, 4, (int64_t[]){1, 4, 1, 1}, 4, (int64_t[]){2, 4, 3, 3},
                    4, (int64_t[]){2, 4, 3, 3});
        check_bcast(op, 3, (int64_t[]){2, 3, 7}, 3, (int64_t[]){2, 3, 7}, 3,
                    (int64_t[]){2, 3, 7});
        check_bcast(op, 0, NULL, 2, (int64_t[]){2, 5}, 2, (int64_t[]){2, 5});
        check_bcast(op, 0, NULL, 0, NULL, 0, NULL);
        check_bcast(op, 3, (int64_t[]){2, 1, 5}, 4, (int64_t[]){3, 1, 4, 1}, 4,
                    (int64_t[]){3, 2, 4, 5});
    }
    check_bcast("Max", 3, (int64_t[]){4, 1, 6}, 2, (int64_t[]){5, 1}, 3,
                (int64_t[]){4, 5, 6});
    check_bcast("Min", 3, (int64_t[]){4, 1, 6}, 2, (int64_t[]){5, 1}, 3,
                (int64_t[]){4, 5, 6});
}

TEST(binary_add_hand_values_and_inplace)
{
    mn_ctx ctx = {{0}};
    float a[6] = {1, 2, 3, 4, 5, 6}, b[3] = {10, 20, 30};
    mn_tensor ta = tens(MN_DT_F32, 2, (int64_t[]){2, 3}, a);
    mn_tensor tb = tens(MN_DT_F32, 1, (int64_t[]){3}, b);
    const mn_tensor *in[2] = {&ta, &tb};
    mn_tensor out[1] = {{0}};
    mn_node n = node("Add", 14, NULL, 0);
    out[0].data = a; /* output aliases input 0 */
    CHECK_OK(run(&n, in, 2, out, 1, &ctx), &ctx);
    const float e[6] = {11, 22, 33, 14, 25, 36};
    for (int i = 0; i < 6; i++)
        CHECK_NEAR(a[i], e[i], 0);
    CHECK(mn_op_get(n.op)->flags & MN_OPF_INPLACE);
}

TEST(binary_int64_shape_arithmetic)
{
    mn_ctx ctx = {{0}};
    int64_t a[5] = {-7, 7, 9, INT64_MIN, 100}, b[5] = {2, -2, 3, -1, 7};
    int64_t ea[4][5] = {{-5, 5, 12, 0, 107},
                        {-9, 9, 6, INT64_MIN + 1, 93},
                        {-14, -14, 27, INT64_MIN, 700},
                        {-3, -3, 3, INT64_MIN, 14}};
    const char *ops[4] = {"Add", "Sub", "Mul", "Div"};
    mn_tensor ta = tens(MN_DT_I64, 1, (int64_t[]){5}, a);
    mn_tensor tb = tens(MN_DT_I64, 1, (int64_t[]){5}, b);
    const mn_tensor *in[2] = {&ta, &tb};
    ea[0][3] = INT64_MAX; /* INT64_MIN + (-1) wraps */
    for (int k = 0; k < 4; k++) {
        mn_tensor out[1] = {{0}};
        mn_node n = node(ops[k], 14, NULL, 0);
        CHECK_OK(run(&n, in, 2, out, 1, &ctx), &ctx);
        CHECK_EQ_INT(out[0].dtype, MN_DT_I64);
        for (int i = 0; i < 5; i++)
            if (((int64_t *)out[0].data)[i] != ea[k][i])
                mn_test_fail(__FILE__, __LINE__, "%s[%d] = %lld, want %lld",
                             ops[k], i,
                             (long long)((int64_t *)out[0].data)[i],
                             (long long)ea[k][i]);
        free_outs(out, 1);
    }
    /* a shape computation: Shape(x)[0] * 4 with a scalar */
    int64_t s[1] = {3}, four = 4;
    mn_tensor ts = tens(MN_DT_I64, 1, (int64_t[]){1}, s);
    mn_tensor tf = tens(MN_DT_I64, 0, NULL, &four);
    const mn_tensor *in2[2] = {&ts, &tf};
    mn_tensor out[1] = {{0}};
    mn_node n = node("Mul", 13, NULL, 0);
    CHECK_OK(run(&n, in2, 2, out, 1, &ctx), &ctx);
    CHECK(dims_are(&out[0], 1, (int64_t[]){1}));
    CHECK_EQ_INT(((int64_t *)out[0].data)[0], 12);
    free_outs(out, 1);
    /* integer division by zero is a run-time error, not a crash */
    int64_t z[5] = {1, 1, 0, 1, 1};
    mn_tensor tz = tens(MN_DT_I64, 1, (int64_t[]){5}, z);
    const mn_tensor *in3[2] = {&ta, &tz};
    n = node("Div", 14, NULL, 0);
    CHECK_EQ_INT(run(&n, in3, 2, out, 1, &ctx), MN_ERR_RUNTIME);
    CHECK(strstr(ctx.msg, "division by zero") != NULL);
    free_outs(out, 1);
}

TEST(binary_small_int_types_wrap)
{
    mn_ctx ctx = {{0}};
    uint8_t a[4] = {250, 3, 200, 7}, b[4] = {10, 5, 2, 2};
    mn_tensor ta = tens(MN_DT_U8, 1, (int64_t[]){4}, a);
    mn_tensor tb = tens(MN_DT_U8, 1, (int64_t[]){4}, b);
    const mn_tensor *in[2] = {&ta, &tb};
    const uint8_t ea[4] = {4, 8, 202, 9}, es[4] = {240, 254, 198, 5},
                  em[4] = {196, 15, 144, 14}, ed[4] = {25, 0, 100, 3};
    const uint8_t *exp[4] = {ea, es, em, ed};
    const char *ops[4] = {"Add", "Sub", "Mul", "Div"};
    for (int k = 0; k < 4; k++) {
        mn_tensor out[1] = {{0}};
        mn_node n = node(ops[k], 14, NULL, 0);
        CHECK_OK(run(&n, in, 2, out, 1, &ctx), &ctx);
        for (int i = 0; i < 4; i++)
            CHECK_EQ_INT(((uint8_t *)out[0].data)[i], exp[k][i]);
        free_outs(out, 1);
    }
    int32_t c[3] = {INT32_MAX, -9, 9}, d[1] = {2};
    mn_tensor tc = tens(MN_DT_I32, 1, (int64_t[]){3}, c);
    mn_tensor td = tens(MN_DT_I32, 1, (int64_t[]){1}, d);
    const mn_tensor *in2[2] = {&tc, &td};
    mn_tensor out[1] = {{0}};
    mn_node n = node("Mul", 14, NULL, 0);
    CHECK_OK(run(&n, in2, 2, out, 1, &ctx), &ctx);
    CHECK_EQ_INT(((int32_t *)out[0].data)[0], -2);
    CHECK_EQ_INT(((int32_t *)out[0].data)[1], -18);
    free_outs(out, 1);
    n = node("Div", 14, NULL, 0);
    CHECK_OK(run(&n, in2, 2, out, 1, &ctx), &ctx);
    CHECK_EQ_INT(((int32_t *)out[0].data)[1], -4); /* truncation */
    CHECK_EQ_INT(((int32_t *)out[0].data)[2], 4);
    free_outs(out, 1);
}

TEST(binary_rejects_bad_inputs)
{
    mn_ctx ctx = {{0}};
    float a[6] = {0};
    int64_t b[2] = {0};
    mn_tensor ta = tens(MN_DT_F32, 2, (int64_t[]){2, 3}, a);
    mn_tensor tb = tens(MN_DT_I64, 1, (int64_t[]){2}, b);
    mn_tensor tc = tens(MN_DT_F32, 1, (int64_t[]){2}, a);
    mn_tensor ts = tens(MN_DT_BOOL, 2, (int64_t[]){2, 3}, a);
    mn_tensor out[1] = {{0}};
    mn_node n = node("Add", 14, NULL, 0);
    const mn_tensor *in1[2] = {&ta, &tb};
    CHECK_EQ_INT(run(&n, in1, 2, out, 1, &ctx), MN_ERR_SHAPE);
    CHECK(strstr(ctx.msg, "dtypes") != NULL);
    const mn_tensor *in2[2] = {&ta, &tc};
    CHECK_EQ_INT(run(&n, in2, 2, out, 1, &ctx), MN_ERR_SHAPE);
    CHECK(strstr(ctx.msg, "[2,3]") != NULL && strstr(ctx.msg, "[2]") != NULL);
    const mn_tensor *in3[2] = {&ts, &ts};
    CHECK_EQ_INT(run(&n, in3, 2, out, 1, &ctx), MN_ERR_UNSUPPORTED);
    const mn_tensor *in4[2] = {&ta, NULL};
    CHECK_EQ_INT(run(&n, in4, 2, out, 1, &ctx), MN_ERR_SHAPE);
}

TEST(binary_opset6_legacy_broadcast)
{
    mn_ctx ctx = {{0}};
    float a[24], b[3] = {100, 200, 300};
    for (int i = 0; i < 24; i++)
        a[i] = (float)i;
    mn_tensor ta = tens(MN_DT_F32, 3, (int64_t[]){2, 3, 4}, a);
    mn_tensor tb = tens(MN_DT_F32, 1, (int64_t[]){3}, b);
    const mn_tensor *in[2] = {&ta, &tb};
    mn_attr at[2] = {attr_i("broadcast", 1), attr_i("axis", 1)};
    mn_node n = node("Add", 6, at, 2);
    mn_tensor out[1] = {{0}};
    CHECK_OK(run(&n, in, 2, out, 1, &ctx), &ctx);
    CHECK(dims_are(&out[0], 3, (int64_t[]){2, 3, 4}));
    for (int i = 0; i < 24; i++)
        CHECK_NEAR(((float *)out[0].data)[i], a[i] + b[(i / 4) % 3], 0);
    free_outs(out, 1);
    /* without broadcast=1 the shapes must match */
    n = node("Add", 6, NULL, 0);
    CHECK_EQ_INT(run(&n, in, 2, out, 1, &ctx), MN_ERR_SHAPE);
    CHECK(strstr(ctx.msg, "broadcast=0") != NULL);
}

TEST(binary_pow_types)
{
    mn_ctx ctx = {{0}};
    float fa[3] = {1.5f, 2, 3};
    int64_t ie[3] = {2, 3, -1}, ib[3] = {2, -3, 10}, ix[3] = {3, 3, 2};
    mn_tensor tfa = tens(MN_DT_F32, 1, (int64_t[]){3}, fa);
    mn_tensor tie = tens(MN_DT_I64, 1, (int64_t[]){3}, ie);
    mn_tensor tib = tens(MN_DT_I64, 1, (int64_t[]){3}, ib);
    mn_tensor tix = tens(MN_DT_I64, 1, (int64_t[]){3}, ix);
    mn_tensor out[1] = {{0}};
    mn_node n = node("Pow", 15, NULL, 0);
    const mn_tensor *in1[2] = {&tfa, &tie};
    CHECK_OK(run(&n, in1, 2, out, 1, &ctx), &ctx);
    CHECK_EQ_INT(out[0].dtype, MN_DT_F32);
    CHECK_NEAR(((float *)out[0].data)[0], 2.25, 1e-6);
    CHECK_NEAR(((float *)out[0].data)[1], 8, 1e-6);
    CHECK_NEAR(((float *)out[0].data)[2], 1.0 / 3, 1e-6);
    free_outs(out, 1);
    const mn_tensor *in2[2] = {&tib, &tix};
    CHECK_OK(run(&n, in2, 2, out, 1, &ctx), &ctx);
    CHECK_EQ_INT(out[0].dtype, MN_DT_I64);
    CHECK_EQ_INT(((int64_t *)out[0].data)[0], 8);
    CHECK_EQ_INT(((int64_t *)out[0].data)[1], -27);
    CHECK_EQ_INT(((int64_t *)out[0].data)[2], 100);
    free_outs(out, 1);
    /* int32 base, float exponent: computed in float, truncated */
    int32_t i32[3] = {4, 9, 2};
    float half[1] = {0.5f};
    mn_tensor ti = tens(MN_DT_I32, 1, (int64_t[]){3}, i32);
    mn_tensor th = tens(MN_DT_F32, 1, (int64_t[]){1}, half);
    const mn_tensor *in3[2] = {&ti, &th};
    CHECK_OK(run(&n, in3, 2, out, 1, &ctx), &ctx);
    CHECK_EQ_INT(out[0].dtype, MN_DT_I32);
    CHECK_EQ_INT(((int32_t *)out[0].data)[0], 2);
    CHECK_EQ_INT(((int32_t *)out[0].data)[1], 3);
    CHECK_EQ_INT(((int32_t *)out[0].data)[2], 1); /* 1.414 → 1 */
    free_outs(out, 1);
    /* x^2 fast path */
    float two[1] = {2};
    mn_tensor t2 = tens(MN_DT_F32, 0, NULL, two);
    const mn_tensor *in4[2] = {&tfa, &t2};
    CHECK_OK(run(&n, in4, 2, out, 1, &ctx), &ctx);
    CHECK_NEAR(((float *)out[0].data)[2], 9, 0);
    free_outs(out, 1);
}

TEST(binary_prelu_unidirectional)
{
    mn_ctx ctx = {{0}};
    float x[12], slope[3] = {0.1f, 0.2f, 0.3f};
    for (int i = 0; i < 12; i++)
        x[i] = (float)(i - 6);
    mn_tensor tx = tens(MN_DT_F32, 4, (int64_t[]){1, 3, 2, 2}, x);
    mn_tensor ts = tens(MN_DT_F32, 3, (int64_t[]){3, 1, 1}, slope);
    const mn_tensor *in[2] = {&tx, &ts};
    mn_tensor out[1] = {{0}};
    mn_node n = node("PRelu", 16, NULL, 0);
    CHECK_OK(run(&n, in, 2, out, 1, &ctx), &ctx);
    CHECK(dims_are(&out[0], 4, (int64_t[]){1, 3, 2, 2}));
    for (int i = 0; i < 12; i++) {
        double e = x[i] < 0 ? x[i] * (double)slope[i / 4] : x[i];
        CHECK_NEAR(((float *)out[0].data)[i], e, 1e-6);
    }
    free_outs(out, 1);
    /* PRelu-6: a 1-D slope [C] is per channel, not along the last axis */
    mn_tensor tx3 = tens(MN_DT_F32, 3, (int64_t[]){1, 3, 4}, x);
    mn_tensor ts1 = tens(MN_DT_F32, 1, (int64_t[]){3}, slope);
    const mn_tensor *in6[2] = {&tx3, &ts1};
    n = node("PRelu", 6, NULL, 0);
    CHECK_OK(run(&n, in6, 2, out, 1, &ctx), &ctx);
    CHECK(dims_are(&out[0], 3, (int64_t[]){1, 3, 4}));
    for (int i = 0; i < 12; i++) {
        double e = x[i] < 0 ? x[i] * (double)slope[i / 4] : x[i];
        CHECK_NEAR(((float *)out[0].data)[i], e, 1e-6);
    }
    free_outs(out, 1);
    n = node("PRelu", 16, NULL, 0); /* numpy: [3] vs last dim 4 */
    CHECK_EQ_INT(run(&n, in6, 2, out, 1, &ctx), MN_ERR_SHAPE);
    /* slope may not enlarge X */
    mn_tensor tbig = tens(MN_DT_F32, 4, (int64_t[]){2, 3, 2, 2}, x);
    const mn_tensor *in2[2] = {&ts, &tbig};
    CHECK_EQ_INT(run(&n, in2, 2, out, 1, &ctx), MN_ERR_SHAPE);
}

TEST(binary_max_min_variadic)
{
    mn_ctx ctx = {{0}};
    float a[3] = {1, 5, 3}, b[2] = {2, 4}, c[1] = {3.5f};
    mn_tensor ta = tens(MN_DT_F32, 1, (int64_t[]){3}, a);
    mn_tensor tb = tens(MN_DT_F32, 2, (int64_t[]){2, 1}, b);
    mn_tensor tc = tens(MN_DT_F32, 1, (int64_t[]){1}, c);
    const mn_tensor *in[3] = {&ta, &tb, &tc};
    mn_tensor out[1] = {{0}};
    mn_node n = node("Max", 13, NULL, 0);
    CHECK_OK(run(&n, in, 3, out, 1, &ctx), &ctx);
    CHECK(dims_are(&out[0], 2, (int64_t[]){2, 3}));
    const float emax[6] = {3.5f, 5, 3.5f, 4, 5, 4};
    for (int i = 0; i < 6; i++)
        CHECK_NEAR(((float *)out[0].data)[i], emax[i], 0);
    free_outs(out, 1);
    n = node("Min", 13, NULL, 0);
    CHECK_OK(run(&n, in, 3, out, 1, &ctx), &ctx);
    const float emin[6] = {1, 2, 2, 1, 3.5f, 3};
    for (int i = 0; i < 6; i++)
        CHECK_NEAR(((float *)out[0].data)[i], emin[i], 0);
    free_outs(out, 1);
    CHECK_OK(run(&n, in, 1, out, 1, &ctx), &ctx);
    CHECK(dims_are(&out[0], 1, (int64_t[]){3}));
    CHECK_NEAR(((float *)out[0].data)[1], 5, 0);
    free_outs(out, 1);
    uint64_t u[2] = {UINT64_MAX, 1}, v[2] = {2, 3};
    mn_tensor tu = tens(MN_DT_U64, 1, (int64_t[]){2}, u);
    mn_tensor tv = tens(MN_DT_U64, 1, (int64_t[]){2}, v);
    const mn_tensor *in2[2] = {&tu, &tv};
    n = node("Max", 13, NULL, 0);
    CHECK_OK(run(&n, in2, 2, out, 1, &ctx), &ctx);
    CHECK(((uint64_t *)out[0].data)[0] == UINT64_MAX);
    CHECK(((uint64_t *)out[0].data)[1] == 3);
    free_outs(out, 1);
}

/* ---- unary ops ---- */

static double ref_unary(const char *op, double x, double alpha, double beta)
{
    if (!strcmp(op, "Relu")) return x > 0 ? x : 0;
    if (!strcmp(op, "LeakyRelu")) return x >= 0 ? x : alpha * x;
    if (!strcmp(op, "Sigmoid")) return 1 / (1 + exp(-x));
    if (!strcmp(op, "HardSigmoid")) return fmax(0, fmin(1, alpha * x + beta));
    if (!strcmp(op, "HardSwish")) return x * fmax(0, fmin(1, x / 6 + 0.5));
    if (!strcmp(op, "Tanh")) return tanh(x);
    if (!strcmp(op, "Erf")) return erf(x);
    if (!strcmp(op, "Sqrt")) return sqrt(x);
    if (!strcmp(op, "Exp")) return exp(x);
    if (!strcmp(op, "Log")) return log(x);
    if (!strcmp(op, "Neg")) return -x;
    if (!strcmp(op, "Abs")) return fabs(x);
    if (!strcmp(op, "Reciprocal")) return 1 / x;
    return NAN;
}

static void check_unary(const char *op, mn_attr *at, int nat, double alpha,
                        double beta, float lo, float hi)
{
    mn_ctx ctx = {{0}};
    enum { N = 257 };
    float x[N];
    for (int i = 0; i < N; i++)
        x[i] = lo + (hi - lo) * (float)i / (N - 1);
    mn_tensor tx = tens(MN_DT_F32, 2, (int64_t[]){1, N}, x);
    const mn_tensor *in[1] = {&tx};
    mn_tensor out[1] = {{0}};
    mn_node n = node(op, 14, at, nat);
    CHECK_OK(run(&n, in, 1, out, 1, &ctx), &ctx);
    CHECK(dims_are(&out[0], 2, (int64_t[]){1, N}));
    CHECK(mn_op_get(n.op)->flags & MN_OPF_INPLACE);
    int bad = 0;
    for (int i = 0; out[0].data && i < N; i++) {
        double e = ref_unary(op, x[i], alpha, beta);
        double g = ((float *)out[0].data)[i];
        if (!(fabs(g - e) <= 2e-6 * (1 + fabs(e))) && bad++ < 5)
            mn_test_fail(__FILE__, __LINE__, "%s(%g) = %.9g, want %.9g", op,
                         x[i], g, e);
    }
    free_outs(out, 1);
}

TEST(unary_float_ops_vs_double)
{
    const char *ops[] = {"Relu", "Sigmoid", "HardSwish", "Tanh", "Erf",
                         "Exp", "Neg", "Abs"};
    for (int k = 0; k < 8; k++)
        check_unary(ops[k], NULL, 0, 0, 0, -7, 7);
    check_unary("Sqrt", NULL, 0, 0, 0, 0, 9);
    check_unary("Log", NULL, 0, 0, 0, 0.01f, 50);
    check_unary("Reciprocal", NULL, 0, 0, 0, 0.25f, 8);
    check_unary("LeakyRelu", NULL, 0, 0.01, 0, -5, 5);
    mn_attr al = attr_f("alpha", 0.25f);
    check_unary("LeakyRelu", &al, 1, 0.25, 0, -5, 5);
    check_unary("HardSigmoid", NULL, 0, 0.2, 0.5, -5, 5);
    mn_attr hs[2] = {attr_f("alpha", 0.5f), attr_f("beta", 0.25f)};
    check_unary("HardSigmoid", hs, 2, 0.5, 0.25, -5, 5);
}

TEST(unary_hand_values)
{
    mn_ctx ctx = {{0}};
    float x[5] = {-3, -1, 0, 1, 3};
    mn_tensor tx = tens(MN_DT_F32, 1, (int64_t[]){5}, x);
    const mn_tensor *in[1] = {&tx};
    mn_tensor out[1] = {{0}};
    /* HardSwish: x * relu6(x + 3) / 6 */
    const float ehs[5] = {0, -1.0f / 3, 0, 2.0f / 3, 3};
    mn_node n = node("HardSwish", 14, NULL, 0);
    CHECK_OK(run(&n, in, 1, out, 1, &ctx), &ctx);
    for (int i = 0; i < 5; i++)
        CHECK_NEAR(((float *)out[0].data)[i], ehs[i], 1e-7);
    free_outs(out, 1);
    /* Gelu exact: 0.5 x (1 + erf(x / sqrt 2)); Gelu(1) = 0.8413447460685 */
    n = node("Gelu", 20, NULL, 0);
    CHECK_OK(run(&n, in, 1, out, 1, &ctx), &ctx);
    CHECK_NEAR(((float *)out[0].data)[3], 0.8413447460685429, 1e-6);
    CHECK_NEAR(((float *)out[0].data)[1], -0.15865525393145707, 1e-6);
    CHECK_NEAR(((float *)out[0].data)[4], 2.99595030590511, 1e-6);
    free_outs(out, 1);
    /* Gelu tanh: Gelu_tanh(1) = 0.8411919906082768 */
    mn_attr ap = attr_s("approximate", "tanh");
    n = node("Gelu", 13, &ap, 1);
    CHECK_OK(run(&n, in, 1, out, 1, &ctx), &ctx);
    CHECK_NEAR(((float *)out[0].data)[3], 0.8411919906082768, 1e-6);
    CHECK_NEAR(((float *)out[0].data)[0], -0.0036373920817729943, 1e-6);
    free_outs(out, 1);
    mn_attr bad = attr_s("approximate", "fast");
    n = node("Gelu", 20, &bad, 1);
    CHECK_EQ_INT(run(&n, in, 1, out, 1, &ctx), MN_ERR_UNSUPPORTED);
    CHECK(strstr(ctx.msg, "fast") != NULL);
    /* Erf(0.5) = 0.5204998778130465 */
    float h[1] = {0.5f};
    mn_tensor th = tens(MN_DT_F32, 0, NULL, h);
    const mn_tensor *in1[1] = {&th};
    n = node("Erf", 13, NULL, 0);
    CHECK_OK(run(&n, in1, 1, out, 1, &ctx), &ctx);
    CHECK_EQ_INT(out[0].ndim, 0);
    CHECK_NEAR(((float *)out[0].data)[0], 0.5204998778130465, 1e-7);
    free_outs(out, 1);
    /* in place */
    float y[5] = {-3, -1, 0, 1, 3};
    mn_tensor ty = tens(MN_DT_F32, 1, (int64_t[]){5}, y);
    const mn_tensor *in2[1] = {&ty};
    out[0].data = y;
    n = node("Sigmoid", 13, NULL, 0);
    CHECK_OK(run(&n, in2, 1, out, 1, &ctx), &ctx);
    CHECK_NEAR(y[0], 0.04742587317756678, 1e-7);
    CHECK_NEAR(y[2], 0.5, 0);
    CHECK_NEAR(y[4], 0.9525741268224334, 1e-7);
}

TEST(unary_integer_types)
{
    mn_ctx ctx = {{0}};
    int8_t a[4] = {-128, -5, 0, 7};
    mn_tensor ta = tens(MN_DT_I8, 1, (int64_t[]){4}, a);
    const mn_tensor *in[1] = {&ta};
    mn_tensor out[1] = {{0}};
    mn_node n = node("Abs", 13, NULL, 0);
    CHECK_OK(run(&n, in, 1, out, 1, &ctx), &ctx);
    const int8_t eabs[4] = {-128, 5, 0, 7}; /* wraps as numpy */
    for (int i = 0; i < 4; i++)
        CHECK_EQ_INT(((int8_t *)out[0].data)[i], eabs[i]);
    free_outs(out, 1);
    int64_t b[3] = {-4, 0, 9};
    mn_tensor tb = tens(MN_DT_I64, 1, (int64_t[]){3}, b);
    const mn_tensor *in2[1] = {&tb};
    n = node("Relu", 14, NULL, 0);
    CHECK_OK(run(&n, in2, 1, out, 1, &ctx), &ctx);
    CHECK_EQ_INT(((int64_t *)out[0].data)[0], 0);
    CHECK_EQ_INT(((int64_t *)out[0].data)[2], 9);
    free_outs(out, 1);
    n = node("Neg", 13, NULL, 0);
    CHECK_OK(run(&n, in2, 1, out, 1, &ctx), &ctx);
    CHECK_EQ_INT(((int64_t *)out[0].data)[0], 4);
    CHECK_EQ_INT(((int64_t *)out[0].data)[2], -9);
    free_outs(out, 1);
    n = node("Sigmoid", 13, NULL, 0);
    CHECK_EQ_INT(run(&n, in2, 1, out, 1, &ctx), MN_ERR_UNSUPPORTED);
    CHECK(strstr(ctx.msg, "Sigmoid") != NULL);
    uint8_t u[2] = {3, 250};
    mn_tensor tu = tens(MN_DT_U8, 1, (int64_t[]){2}, u);
    const mn_tensor *in3[1] = {&tu};
    n = node("Neg", 13, NULL, 0);
    CHECK_EQ_INT(run(&n, in3, 1, out, 1, &ctx), MN_ERR_UNSUPPORTED);
}

TEST(unary_clip_opsets)
{
    mn_ctx ctx = {{0}};
    float x[5] = {-3, -1, 0, 1, 3};
    mn_tensor tx = tens(MN_DT_F32, 1, (int64_t[]){5}, x);
    mn_tensor out[1] = {{0}};
    /* opset 6: attributes */
    mn_attr at[2] = {attr_f("min", -0.5f), attr_f("max", 2)};
    mn_node n = node("Clip", 6, at, 2);
    const mn_tensor *in1[1] = {&tx};
    CHECK_OK(run(&n, in1, 1, out, 1, &ctx), &ctx);
    const float e1[5] = {-0.5f, -0.5f, 0, 1, 2};
    for (int i = 0; i < 5; i++)
        CHECK_NEAR(((float *)out[0].data)[i], e1[i], 0);
    free_outs(out, 1);
    /* opset 6 with only max: min defaults to -FLT_MAX */
    n = node("Clip", 6, &at[1], 1);
    CHECK_OK(run(&n, in1, 1, out, 1, &ctx), &ctx);
    CHECK_NEAR(((float *)out[0].data)[0], -3, 0);
    CHECK_NEAR(((float *)out[0].data)[4], 2, 0);
    free_outs(out, 1);
    /* opset 11: absent min, max = 0.5 */
    float mx = 0.5f;
    mn_tensor tmax = tens(MN_DT_F32, 0, NULL, &mx);
    const mn_tensor *in2[3] = {&tx, NULL, &tmax};
    n = node("Clip", 13, NULL, 0);
    CHECK_OK(run(&n, in2, 3, out, 1, &ctx), &ctx);
    const float e2[5] = {-3, -1, 0, 0.5f, 0.5f};
    for (int i = 0; i < 5; i++)
        CHECK_NEAR(((float *)out[0].data)[i], e2[i], 0);
    free_outs(out, 1);
    /* opset 11, both bounds as inputs */
    float mn = -2;
    mn_tensor tmin = tens(MN_DT_F32, 1, (int64_t[]){1}, &mn);
    const mn_tensor *in2b[3] = {&tx, &tmin, &tmax};
    n = node("Clip", 11, NULL, 0);
    CHECK_OK(run(&n, in2b, 3, out, 1, &ctx), &ctx);
    const float e2b[5] = {-2, -1, 0, 0.5f, 0.5f};
    for (int i = 0; i < 5; i++)
        CHECK_NEAR(((float *)out[0].data)[i], e2b[i], 0);
    free_outs(out, 1);
    /* opset 11, no bounds at all: identity */
    CHECK_OK(run(&n, in1, 1, out, 1, &ctx), &ctx);
    for (int i = 0; i < 5; i++)
        CHECK_NEAR(((float *)out[0].data)[i], x[i], 0);
    free_outs(out, 1);
    /* integer Clip (opset 12+) */
    int8_t xi[4] = {-100, -2, 5, 120}, lo = -3, hi = 100;
    mn_tensor txi = tens(MN_DT_I8, 1, (int64_t[]){4}, xi);
    mn_tensor tlo = tens(MN_DT_I8, 0, NULL, &lo), thi = tens(MN_DT_I8, 0, NULL, &hi);
    const mn_tensor *in3[3] = {&txi, &tlo, &thi};
    CHECK_OK(run(&n, in3, 3, out, 1, &ctx), &ctx);
    const int8_t e3[4] = {-3, -2, 5, 100};
    for (int i = 0; i < 4; i++)
        CHECK_EQ_INT(((int8_t *)out[0].data)[i], e3[i]);
    free_outs(out, 1);
    /* bound of the wrong dtype or shape */
    const mn_tensor *in4[3] = {&tx, &tlo, NULL};
    CHECK_EQ_INT(run(&n, in4, 3, out, 1, &ctx), MN_ERR_SHAPE);
    const mn_tensor *in5[3] = {&tx, &tx, NULL};
    CHECK_EQ_INT(run(&n, in5, 3, out, 1, &ctx), MN_ERR_SHAPE);
    CHECK(strstr(ctx.msg, "scalar") != NULL);
}
