/* Tests of Softmax/LogSoftmax, ReduceMean/Sum/Max and LayerNormalization
 * against naive double-precision references. */
#include "elementwise_test_util.h"

/* ---- softmax ---- */

/* Naive softmax of x [d0,d1,d2] over the index set selected by `mode`:
 * 0: opset-13 along axis 1; 1: opset-11 axis=1 (rows of d1*d2). */
static void ref_softmax(const float *x, double *y, int d0, int d1, int d2,
                        int mode, int logsm)
{
    if (mode == 1) {
        for (int a = 0; a < d0; a++) {
            double mx = -INFINITY, s = 0;
            for (int k = 0; k < d1 * d2; k++)
                mx = fmax(mx, x[a * d1 * d2 + k]);
            for (int k = 0; k < d1 * d2; k++)
                s += exp(x[a * d1 * d2 + k] - mx);
            for (int k = 0; k < d1 * d2; k++) {
                double v = x[a * d1 * d2 + k] - mx;
                y[a * d1 * d2 + k] = logsm ? v - log(s) : exp(v) / s;
            }
        }
        return;
    }
    for (int a = 0; a < d0; a++)
        for (int c = 0; c < d2; c++) {
            double mx = -INFINITY, s = 0;
            for (int b = 0; b < d1; b++)
                mx = fmax(mx, x[(a * d1 + b) * d2 + c]);
            for (int b = 0; b < d1; b++)
                s += exp(x[(a * d1 + b) * d2 + c] - mx);
            for (int b = 0; b < d1; b++) {
                double v = x[(a * d1 + b) * d2 + c] - mx;
                y[(a * d1 + b) * d2 + c] = logsm ? v - log(s) : exp(v) / s;
            }
        }
}

TEST(softmax_opset11_vs_13_axis)
{
    mn_ctx ctx = {{0}};
    enum { D0 = 2, D1 = 3, D2 = 4, N = D0 * D1 * D2 };
    float *x = rand_buf(N, -4, 4);
    double e[N];
    mn_tensor tx = tens(MN_DT_F32, 3, (int64_t[]){D0, D1, D2}, x);
    const mn_tensor *in[1] = {&tx};
    mn_attr ax = attr_i("axis", 1);
    for (int logsm = 0; logsm < 2; logsm++) {
        const char *op = logsm ? "LogSoftmax" : "Softmax";
        for (int mode = 0; mode < 2; mode++) {
            mn_tensor out[1] = {{0}};
            mn_node n = node(op, mode ? 11 : 13, &ax, 1);
            CHECK_OK(run(&n, in, 1, out, 1, &ctx), &ctx);
            CHECK(dims_are(&out[0], 3, (int64_t[]){D0, D1, D2}));
            ref_softmax(x, e, D0, D1, D2, mode, logsm);
            for (int i = 0; out[0].data && i < N; i++)
                CHECK_NEAR(((float *)out[0].data)[i], e[i], 2e-6);
            free_outs(out, 1);
        }
    }
    /* default axis: -1 from opset 13 (rows of D2); 1 before (rows of D1*D2) */
    mn_tensor out[1] = {{0}};
    mn_node n = node("Softmax", 13, NULL, 0);
    CHECK_OK(run(&n, in, 1, out, 1, &ctx), &ctx);
    ref_softmax(x, e, D0 * D1, D2, 1, 0, 0);
    for (int i = 0; i < N; i++)
        CHECK_NEAR(((float *)out[0].data)[i], e[i], 2e-6);
    free_outs(out, 1);
    n = node("Softmax", 11, NULL, 0);
    CHECK_OK(run(&n, in, 1, out, 1, &ctx), &ctx);
    ref_softmax(x, e, D0, D1, D2, 1, 0);
    for (int i = 0; i < N; i++)
        CHECK_NEAR(((float *)out[0].data)[i], e[i], 2e-6);
    free_outs(out, 1);
    /* opset 13, axis 0 (inner = D1*D2 columns) */
    mn_attr a0 = attr_i("axis", 0);
    n = node("Softmax", 13, &a0, 1);
    CHECK_OK(run(&n, in, 1, out, 1, &ctx), &ctx);
    ref_softmax(x, e, 1, D0, D1 * D2, 0, 0);
    for (int i = 0; i < N; i++)
        CHECK_NEAR(((float *)out[0].data)[i], e[i], 2e-6);
    free_outs(out, 1);
    mn_attr a9 = attr_i("axis", 3);
    n = node("Softmax", 13, &a9, 1);
    CHECK_EQ_INT(run(&n, in, 1, out, 1, &ctx), MN_ERR_SHAPE);
    free(x);
}

TEST(softmax_large_numbers_are_stable)
{
    mn_ctx ctx = {{0}};
    float x[4] = {1000, 1001, 1002, 1003};
    mn_tensor tx = tens(MN_DT_F32, 2, (int64_t[]){1, 4}, x);
    const mn_tensor *in[1] = {&tx};
    mn_tensor out[1] = {{0}};
    mn_node n = node("Softmax", 13, NULL, 0);
    CHECK_OK(run(&n, in, 1, out, 1, &ctx), &ctx);
    const double e[4] = {0.032058603280084995, 0.08714431874203257,
                         0.23688281808991013, 0.6439142598879722};
    for (int i = 0; i < 4; i++)
        CHECK_NEAR(((float *)out[0].data)[i], e[i], 1e-6);
    free_outs(out, 1);
    n = node("LogSoftmax", 13, NULL, 0);
    CHECK_OK(run(&n, in, 1, out, 1, &ctx), &ctx);
    for (int i = 0; i < 4; i++)
        CHECK_NEAR(((float *)out[0].data)[i], log(e[i]), 1e-5);
    free_outs(out, 1);
}

/* ---- reductions ---- */

/* Naive reduction of x [2,3,4] over the axes in mask (bit i = axis i). */
static void ref_reduce(const float *x, int mask, int is_max, int mean,
                       double *y)
{
    int d[3] = {2, 3, 4};
    int od[3];
    for (int i = 0; i < 3; i++)
        od[i] = (mask >> i) & 1 ? 1 : d[i];
    int no = od[0] * od[1] * od[2];
    for (int o = 0; o < no; o++)
        y[o] = is_max ? -INFINITY : 0;
    int cnt = 24 / no;
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 3; b++)
            for (int c = 0; c < 4; c++) {
                int oa = mask & 1 ? 0 : a, ob = mask & 2 ? 0 : b,
                    oc = mask & 4 ? 0 : c;
                int o = (oa * od[1] + ob) * od[2] + oc;
                double v = x[(a * 3 + b) * 4 + c];
                y[o] = is_max ? fmax(y[o], v) : y[o] + v;
            }
    if (mean)
        for (int o = 0; o < no; o++)
            y[o] /= cnt;
}

TEST(reduce_mean_axes_keepdims)
{
    mn_ctx ctx = {{0}};
    float *x = rand_buf(24, -5, 5);
    double e[24];
    mn_tensor tx = tens(MN_DT_F32, 3, (int64_t[]){2, 3, 4}, x);
    const mn_tensor *in[1] = {&tx};
    struct {
        int64_t axes[3];
        int n_axes, mask, keep;
        int nd;
        int64_t dims[3];
    } cases[] = {
        {{0, 2}, 2, 5, 1, 3, {1, 3, 1}},
        {{0, 2}, 2, 5, 0, 1, {3}},
        {{-1}, 1, 4, 1, 3, {2, 3, 1}},
        {{-1, -2}, 2, 6, 0, 1, {2}},
        {{1}, 1, 2, 0, 2, {2, 4}},
        {{0}, 0, 7, 1, 3, {1, 1, 1}},  /* no axes: everything */
        {{0}, 0, 7, 0, 0, {0}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        for (int kind = 0; kind < 3; kind++) {
            const char *op = kind == 0 ? "ReduceMean"
                           : kind == 1 ? "ReduceMax" : "ReduceSum";
            mn_attr at[2] = {attr_i("keepdims", cases[k].keep),
                             attr_ints("axes", cases[k].axes, cases[k].n_axes)};
            mn_node n = node(op, kind == 2 ? 11 : 13, at,
                             cases[k].n_axes ? 2 : 1);
            mn_tensor out[1] = {{0}};
            CHECK_OK(run(&n, in, 1, out, 1, &ctx), &ctx);
            if (!dims_are(&out[0], cases[k].nd, cases[k].dims)) {
                mn_test_fail(__FILE__, __LINE__, "%s case %zu: rank %d", op,
                             k, out[0].ndim);
                free_outs(out, 1);
                continue;
            }
            ref_reduce(x, cases[k].mask, kind == 1, kind == 0, e);
            for (int64_t i = 0; i < mn_tensor_numel(&out[0]); i++)
                CHECK_NEAR(((float *)out[0].data)[i], e[i], 1e-5);
            free_outs(out, 1);
        }
    }
    free(x);
}

TEST(reduce_axes_as_input_and_noop)
{
    mn_ctx ctx = {{0}};
    float *x = rand_buf(24, -5, 5);
    double e[24];
    mn_tensor tx = tens(MN_DT_F32, 3, (int64_t[]){2, 3, 4}, x);
    int64_t axes[2] = {2, 0};
    mn_tensor ta = tens(MN_DT_I64, 1, (int64_t[]){2}, axes);
    mn_tensor tempty = tens(MN_DT_I64, 1, (int64_t[]){0}, axes);
    mn_tensor out[1] = {{0}};
    const mn_tensor *in[2] = {&tx, &ta};
    /* ReduceSum-13 and ReduceMean-18 take axes as an input */
    mn_node n = node("ReduceSum", 13, NULL, 0);
    CHECK_OK(run(&n, in, 2, out, 1, &ctx), &ctx);
    CHECK(dims_are(&out[0], 3, (int64_t[]){1, 3, 1}));
    ref_reduce(x, 5, 0, 0, e);
    for (int i = 0; i < 3; i++)
        CHECK_NEAR(((float *)out[0].data)[i], e[i], 1e-5);
    free_outs(out, 1);
    n = node("ReduceMean", 18, NULL, 0);
    CHECK_OK(run(&n, in, 2, out, 1, &ctx), &ctx);
    ref_reduce(x, 5, 0, 1, e);
    for (int i = 0; i < 3; i++)
        CHECK_NEAR(((float *)out[0].data)[i], e[i], 1e-5);
    free_outs(out, 1);
    /* ReduceMean-13 must not get an axes input */
    n = node("ReduceMean", 13, NULL, 0);
    CHECK_EQ_INT(run(&n, in, 2, out, 1, &ctx), MN_ERR_SHAPE);
    /* empty axes: reduce all, or identity with noop_with_empty_axes */
    const mn_tensor *in2[2] = {&tx, &tempty};
    mn_attr noop = attr_i("noop_with_empty_axes", 1);
    n = node("ReduceSum", 13, NULL, 0);
    CHECK_OK(run(&n, in2, 2, out, 1, &ctx), &ctx);
    CHECK(dims_are(&out[0], 3, (int64_t[]){1, 1, 1}));
    ref_reduce(x, 7, 0, 0, e);
    CHECK_NEAR(((float *)out[0].data)[0], e[0], 1e-5);
    free_outs(out, 1);
    n = node("ReduceSum", 13, &noop, 1);
    CHECK_OK(run(&n, in2, 2, out, 1, &ctx), &ctx);
    CHECK(dims_are(&out[0], 3, (int64_t[]){2, 3, 4}));
    for (int i = 0; i < 24; i++)
        CHECK_NEAR(((float *)out[0].data)[i], x[i], 0);
    free_outs(out, 1);
    /* axes computed at run time, repeated axes, out-of-range axes */
    mn_tensor tdyn = tens(MN_DT_I64, 1, (int64_t[]){2}, NULL);
    const mn_tensor *in3[2] = {&tx, &tdyn};
    CHECK_EQ_INT(run(&n, in3, 2, out, 1, &ctx), MN_ERR_UNSUPPORTED);
    int64_t rep[2] = {1, -2}, oob[1] = {3};
    mn_attr ar = attr_ints("axes", rep, 2);
    n = node("ReduceMax", 13, &ar, 1);
    const mn_tensor *in4[1] = {&tx};
    CHECK_EQ_INT(run(&n, in4, 1, out, 1, &ctx), MN_ERR_SHAPE);
    CHECK(strstr(ctx.msg, "repeated") != NULL);
    mn_attr ao = attr_ints("axes", oob, 1);
    n = node("ReduceMax", 13, &ao, 1);
    CHECK_EQ_INT(run(&n, in4, 1, out, 1, &ctx), MN_ERR_SHAPE);
    free(x);
}

TEST(reduce_int64_and_global_pool_shape)
{
    mn_ctx ctx = {{0}};
    int64_t x[6] = {5, -2, 7, 1, 1, -9};
    mn_tensor tx = tens(MN_DT_I64, 2, (int64_t[]){2, 3}, x);
    const mn_tensor *in[1] = {&tx};
    int64_t ax1[1] = {1};
    mn_attr at[2] = {attr_ints("axes", ax1, 1), attr_i("keepdims", 0)};
    mn_tensor out[1] = {{0}};
    mn_node n = node("ReduceMax", 13, at, 2);
    CHECK_OK(run(&n, in, 1, out, 1, &ctx), &ctx);
    CHECK(dims_are(&out[0], 1, (int64_t[]){2}));
    CHECK_EQ_INT(((int64_t *)out[0].data)[0], 7);
    CHECK_EQ_INT(((int64_t *)out[0].data)[1], 1);
    free_outs(out, 1);
    n = node("ReduceSum", 11, at, 2);
    CHECK_OK(run(&n, in, 1, out, 1, &ctx), &ctx);
    CHECK_EQ_INT(((int64_t *)out[0].data)[0], 10);
    CHECK_EQ_INT(((int64_t *)out[0].data)[1], -7);
    free_outs(out, 1);
    n = node("ReduceMean", 13, at, 2); /* integer mean truncates */
    CHECK_OK(run(&n, in, 1, out, 1, &ctx), &ctx);
    CHECK_EQ_INT(((int64_t *)out[0].data)[0], 3);
    CHECK_EQ_INT(((int64_t *)out[0].data)[1], -2);
    free_outs(out, 1);
    /* ReduceMean over H,W of [N,C,H,W] (a global average pool) */
    enum { N = 2, C = 3, HW = 35 };
    float *f = rand_buf(N * C * HW, -1, 1);
    mn_tensor tf = tens(MN_DT_F32, 4, (int64_t[]){N, C, 5, 7}, f);
    const mn_tensor *in2[1] = {&tf};
    int64_t hw[2] = {2, 3};
    mn_attr ah = attr_ints("axes", hw, 2);
    n = node("ReduceMean", 13, &ah, 1);
    CHECK_OK(run(&n, in2, 1, out, 1, &ctx), &ctx);
    CHECK(dims_are(&out[0], 4, (int64_t[]){N, C, 1, 1}));
    for (int i = 0; i < N * C; i++) {
        double s = 0;
        for (int j = 0; j < HW; j++)
            s += f[i * HW + j];
        CHECK_NEAR(((float *)out[0].data)[i], s / HW, 1e-6);
    }
    free_outs(out, 1);
    free(f);
}

/* ---- LayerNormalization ---- */

static void ref_layernorm(const float *x, const float *scale,
                          const float *bias, int64_t outer, int64_t len,
                          double eps, double *y, double *mean, double *inv)
{
    for (int64_t o = 0; o < outer; o++) {
        double m = 0, v = 0;
        for (int64_t i = 0; i < len; i++)
            m += x[o * len + i];
        m /= len;
        for (int64_t i = 0; i < len; i++)
            v += (x[o * len + i] - m) * (x[o * len + i] - m);
        v /= len;
        mean[o] = m;
        inv[o] = 1 / sqrt(v + eps);
        for (int64_t i = 0; i < len; i++)
            y[o * len + i] = (x[o * len + i] - m) * inv[o] * scale[i] +
                             (bias ? bias[i] : 0);
    }
}

TEST(layernorm_vs_naive)
{
    mn_ctx ctx = {{0}};
    enum { A = 2, B = 3, C = 4, N = A * B * C };
    float *x = rand_buf(N, -3, 5);
    float *scale = rand_buf(B * C, 0.5f, 2), *bias = rand_buf(B * C, -1, 1);
    double ey[N], em[N], ei[N];
    mn_tensor tx = tens(MN_DT_F32, 3, (int64_t[]){A, B, C}, x);
    /* default axis -1: scale [C], bias [C], with Mean and InvStdDev */
    mn_tensor ts = tens(MN_DT_F32, 1, (int64_t[]){C}, scale);
    mn_tensor tb = tens(MN_DT_F32, 1, (int64_t[]){C}, bias);
    const mn_tensor *in[3] = {&tx, &ts, &tb};
    mn_tensor out[3] = {{0}};
    mn_node n = node("LayerNormalization", 17, NULL, 0);
    CHECK_OK(run(&n, in, 3, out, 3, &ctx), &ctx);
    CHECK(dims_are(&out[0], 3, (int64_t[]){A, B, C}));
    CHECK(dims_are(&out[1], 3, (int64_t[]){A, B, 1}));
    CHECK(dims_are(&out[2], 3, (int64_t[]){A, B, 1}));
    ref_layernorm(x, scale, bias, A * B, C, 1e-5, ey, em, ei);
    for (int i = 0; i < N; i++)
        CHECK_NEAR(((float *)out[0].data)[i], ey[i], 2e-5);
    for (int i = 0; i < A * B; i++) {
        CHECK_NEAR(((float *)out[1].data)[i], em[i], 1e-6);
        CHECK_NEAR(((float *)out[2].data)[i], ei[i], 1e-5 * ei[i]);
    }
    free_outs(out, 3);
    /* axis 1, epsilon 0.1, no bias, scale [B,C] */
    mn_attr at[2] = {attr_i("axis", 1), attr_f("epsilon", 0.1f)};
    mn_tensor ts2 = tens(MN_DT_F32, 2, (int64_t[]){B, C}, scale);
    const mn_tensor *in2[2] = {&tx, &ts2};
    n = node("LayerNormalization", 17, at, 2);
    CHECK_OK(run(&n, in2, 2, out, 1, &ctx), &ctx);
    ref_layernorm(x, scale, NULL, A, B * C, (double)0.1f, ey, em, ei);
    for (int i = 0; i < N; i++)
        CHECK_NEAR(((float *)out[0].data)[i], ey[i], 2e-5);
    free_outs(out, 1);
    /* axis 1 with scale [C] broadcast over the [B,C] block (expanded) */
    float sexp[B * C];
    for (int i = 0; i < B * C; i++)
        sexp[i] = scale[i % C];
    const mn_tensor *in3[3] = {&tx, &ts, NULL};
    CHECK_OK(run(&n, in3, 3, out, 1, &ctx), &ctx);
    ref_layernorm(x, sexp, NULL, A, B * C, (double)0.1f, ey, em, ei);
    for (int i = 0; i < N; i++)
        CHECK_NEAR(((float *)out[0].data)[i], ey[i], 2e-5);
    free_outs(out, 1);
    /* a scale that does not fit the normalized shape */
    mn_tensor tbad = tens(MN_DT_F32, 1, (int64_t[]){B}, scale);
    const mn_tensor *in4[2] = {&tx, &tbad};
    n = node("LayerNormalization", 17, NULL, 0);
    CHECK_EQ_INT(run(&n, in4, 2, out, 1, &ctx), MN_ERR_SHAPE);
    CHECK(strstr(ctx.msg, "Scale") != NULL);
    free(x);
    free(scale);
    free(bias);
}
