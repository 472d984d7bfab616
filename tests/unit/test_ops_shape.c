/* Tests of the shape / data-movement ops and the (de)quantize ops: nodes are
 * built by hand and run through the op table's infer and forward; expected
 * values are worked out independently here. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ops/ops.h"
#include "test.h"

/* ---- helpers ---- */

static mn_attr a_int(const char *name, int64_t v)
{
    return (mn_attr){.name = (char *)name, .type = MN_ATTR_INT, .i = v};
}

static mn_attr a_ints(const char *name, int64_t *v, int n)
{
    return (mn_attr){.name = (char *)name, .type = MN_ATTR_INTS, .ints = v,
                     .n = n};
}

static mn_attr a_float(const char *name, float v)
{
    return (mn_attr){.name = (char *)name, .type = MN_ATTR_FLOAT, .f = v};
}

static mn_attr a_str(const char *name, const char *s)
{
    return (mn_attr){.name = (char *)name, .type = MN_ATTR_STRING,
                     .s = (char *)s};
}

static mn_node mk(const char *op, int opset, mn_attr *attrs, int na)
{
    mn_node n = {0};
    n.name = (char *)"t";
    n.op_type = (char *)op;
    n.domain = (char *)"";
    n.opset = opset;
    n.op = mn_op_lookup("", op);
    n.attrs = attrs;
    n.n_attrs = na;
    return n;
}

static mn_tensor tn(mn_dtype dt, int ndim, const int64_t *dims, void *data)
{
    mn_tensor t = {0};
    t.dtype = dt;
    t.ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t.dims[i] = dims[i];
    t.data = data;
    return t;
}

/* Runs infer, allocates outputs, runs forward. Output data must be released
 * with free_outs (also after a failure). */
static mn_status run_op(const mn_node *n, const mn_tensor **in, int n_in,
                        mn_tensor *out, int n_out, mn_ctx *ctx)
{
    const mn_op_def *def = mn_op_get(n->op);
    mn_tensor *op[8];
    mn_exec ex = {.ctx = ctx};
    mn_status st;
    if (!def) {
        mn_error(ctx, MN_ERR_UNSUPPORTED, "no op def for %s", n->op_type);
        return MN_ERR_UNSUPPORTED;
    }
    for (int j = 0; j < n_out; j++) {
        memset(&out[j], 0, sizeof out[j]);
        op[j] = &out[j];
    }
    st = def->infer(n, in, n_in, op, n_out, ctx);
    if (st != MN_OK)
        return st;
    for (int j = 0; j < n_out; j++) {
        size_t b = mn_tensor_nbytes(&out[j]);
        out[j].data = calloc(1, b ? b : 1);
    }
    return def->forward(n, in, n_in, op, n_out, &ex);
}

static void free_outs(mn_tensor *out, int n_out)
{
    for (int j = 0; j < n_out; j++) {
        free(out[j].data);
        out[j].data = NULL;
    }
}

static void check_dims(const mn_tensor *t, int ndim, const int64_t *dims)
{
    CHECK_EQ_INT(t->ndim, ndim);
    for (int i = 0; i < ndim && i < t->ndim; i++)
        CHECK_EQ_INT(t->dims[i], dims[i]);
}

static int has(const mn_ctx *ctx, const char *s)
{
    return strstr(ctx->msg, s) != NULL;
}

/* ---- Reshape / Flatten / Squeeze / Unsqueeze / Identity / Dropout ---- */

TEST(reshape_zero_copies_dim_and_minus_one_infers)
{
    mn_ctx ctx = {{0}};
    float x[24];
    int64_t shp[2] = {0, -1}, shp2[3] = {-1, 0, 2};
    mn_tensor X = tn(MN_DT_F32, 3, (int64_t[]){2, 3, 4}, x);
    mn_tensor S = tn(MN_DT_I64, 1, (int64_t[]){2}, shp), Y;
    const mn_tensor *in[2] = {&X, &S};
    mn_node n = mk("Reshape", 13, NULL, 0);
    for (int i = 0; i < 24; i++)
        x[i] = (float)i * 0.5f;
    CHECK_OK(run_op(&n, in, 2, &Y, 1, &ctx), &ctx);
    check_dims(&Y, 2, (int64_t[]){2, 12});
    CHECK(mn_op_get(n.op)->flags & MN_OPF_VIEW);
    for (int i = 0; i < 24; i++)
        CHECK_NEAR(((float *)Y.data)[i], i * 0.5, 0);
    free_outs(&Y, 1);

    /* [-1, 0, 2]: 0 copies dim 1 (3), -1 = 24 / 6 */
    S = tn(MN_DT_I64, 1, (int64_t[]){3}, shp2);
    CHECK_OK(run_op(&n, in, 2, &Y, 1, &ctx), &ctx);
    check_dims(&Y, 3, (int64_t[]){4, 3, 2});
    free_outs(&Y, 1);

    /* allowzero=1: a literal 0 dimension cannot hold 24 elements */
    mn_attr az = a_int("allowzero", 1);
    mn_node n14 = mk("Reshape", 14, &az, 1);
    shp[0] = 0;
    shp[1] = 24;
    S = tn(MN_DT_I64, 1, (int64_t[]){2}, shp);
    CHECK(run_op(&n14, in, 2, &Y, 1, &ctx) == MN_ERR_SHAPE);
    free_outs(&Y, 1);

    /* errors: two -1, wrong count, non-constant shape */
    shp[0] = -1;
    shp[1] = -1;
    CHECK(run_op(&n, in, 2, &Y, 1, &ctx) == MN_ERR_SHAPE);
    shp[0] = 5;
    shp[1] = 5;
    CHECK(run_op(&n, in, 2, &Y, 1, &ctx) == MN_ERR_SHAPE);
    S.data = NULL;
    CHECK(run_op(&n, in, 2, &Y, 1, &ctx) == MN_ERR_UNSUPPORTED);
    CHECK(has(&ctx, "shape input is not constant"));
    free_outs(&Y, 1);
}

TEST(flatten_axis_positive_negative_and_bounds)
{
    mn_ctx ctx = {{0}};
    uint8_t x[120];
    mn_tensor X = tn(MN_DT_U8, 4, (int64_t[]){2, 3, 4, 5}, x), Y;
    const mn_tensor *in[1] = {&X};
    struct { int64_t axis, a, b; } c[] = {
        {0, 1, 120}, {1, 2, 60}, {2, 6, 20}, {4, 120, 1}, {-1, 24, 5},
        {-4, 1, 120}};
    for (int i = 0; i < 120; i++)
        x[i] = (uint8_t)(i * 7);
    for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
        mn_attr at = a_int("axis", c[k].axis);
        mn_node n = mk("Flatten", 13, &at, 1);
        CHECK_OK(run_op(&n, in, 1, &Y, 1, &ctx), &ctx);
        check_dims(&Y, 2, (int64_t[]){c[k].a, c[k].b});
        CHECK(memcmp(Y.data, x, 120) == 0);
        free_outs(&Y, 1);
    }
    mn_attr at = a_int("axis", 5);
    mn_node n = mk("Flatten", 13, &at, 1);
    CHECK(run_op(&n, in, 1, &Y, 1, &ctx) == MN_ERR_SHAPE);
    free_outs(&Y, 1);
}

TEST(squeeze_unsqueeze_attr_and_input_forms)
{
    mn_ctx ctx = {{0}};
    int64_t x[12], ax[2] = {-1, 0};
    mn_tensor X = tn(MN_DT_I64, 4, (int64_t[]){1, 3, 1, 4}, x), Y;
    mn_tensor A = tn(MN_DT_I64, 1, (int64_t[]){1}, ax);
    const mn_tensor *in[2] = {&X, NULL};
    for (int i = 0; i < 12; i++)
        x[i] = -i;
    /* no axes: every 1 goes */
    mn_node sq = mk("Squeeze", 13, NULL, 0);
    CHECK_OK(run_op(&sq, in, 1, &Y, 1, &ctx), &ctx);
    check_dims(&Y, 2, (int64_t[]){3, 4});
    CHECK_EQ_INT(((int64_t *)Y.data)[11], -11);
    free_outs(&Y, 1);
    /* opset 13 axes input [-2] → removes dim 2 */
    ax[0] = -2;
    in[1] = &A;
    CHECK_OK(run_op(&sq, in, 2, &Y, 1, &ctx), &ctx);
    check_dims(&Y, 3, (int64_t[]){1, 3, 4});
    free_outs(&Y, 1);
    /* squeezing a dimension of 3 fails */
    ax[0] = 1;
    CHECK(run_op(&sq, in, 2, &Y, 1, &ctx) == MN_ERR_SHAPE);
    free_outs(&Y, 1);
    /* opset 11 attribute form */
    int64_t sa[1] = {-4};
    mn_attr at = a_ints("axes", sa, 1);
    mn_node sq11 = mk("Squeeze", 11, &at, 1);
    CHECK_OK(run_op(&sq11, in, 1, &Y, 1, &ctx), &ctx);
    check_dims(&Y, 3, (int64_t[]){3, 1, 4});
    free_outs(&Y, 1);

    /* Unsqueeze [3,4] with axes [-1, 0] (relative to the output rank 4) */
    mn_tensor X2 = tn(MN_DT_I64, 2, (int64_t[]){3, 4}, x);
    const mn_tensor *in2[2] = {&X2, &A};
    ax[0] = -1;
    ax[1] = 0;
    A.dims[0] = 2;
    mn_node us = mk("Unsqueeze", 13, NULL, 0);
    CHECK_OK(run_op(&us, in2, 2, &Y, 1, &ctx), &ctx);
    check_dims(&Y, 4, (int64_t[]){1, 3, 4, 1});
    CHECK_EQ_INT(((int64_t *)Y.data)[5], -5);
    free_outs(&Y, 1);
    /* repeated axis and out-of-range axis */
    ax[0] = 0;
    CHECK(run_op(&us, in2, 2, &Y, 1, &ctx) == MN_ERR_SHAPE);
    ax[0] = 4;
    CHECK(run_op(&us, in2, 2, &Y, 1, &ctx) == MN_ERR_SHAPE);
    /* opset 11: attribute */
    int64_t ua[2] = {1, 3};
    mn_attr uat = a_ints("axes", ua, 2);
    mn_node us11 = mk("Unsqueeze", 11, &uat, 1);
    CHECK_OK(run_op(&us11, in2, 1, &Y, 1, &ctx), &ctx);
    check_dims(&Y, 4, (int64_t[]){3, 1, 4, 1});
    free_outs(&Y, 1);
}

TEST(identity_and_dropout_pass_data_and_mask)
{
    mn_ctx ctx = {{0}};
    float x[6] = {1, -2, 3, -4, 5, -6}, ratio = 0.3f;
    uint8_t tm = 0;
    mn_tensor X = tn(MN_DT_F32, 2, (int64_t[]){2, 3}, x), Y[2];
    mn_tensor R = tn(MN_DT_F32, 0, NULL, &ratio);
    mn_tensor T = tn(MN_DT_BOOL, 0, NULL, &tm);
    const mn_tensor *in[3] = {&X, &R, &T};
    mn_node id = mk("Identity", 13, NULL, 0);
    CHECK_OK(run_op(&id, in, 1, Y, 1, &ctx), &ctx);
    CHECK(memcmp(Y[0].data, x, sizeof x) == 0);
    free_outs(Y, 1);

    mn_node dr = mk("Dropout", 13, NULL, 0);
    CHECK_OK(run_op(&dr, in, 3, Y, 2, &ctx), &ctx);
    CHECK(memcmp(Y[0].data, x, sizeof x) == 0);
    CHECK_EQ_INT(Y[1].dtype, MN_DT_BOOL);
    for (int i = 0; i < 6; i++)
        CHECK_EQ_INT(((uint8_t *)Y[1].data)[i], 1);
    free_outs(Y, 2);
    /* opset 7: the mask has the data's type */
    mn_attr ra = a_float("ratio", 0.2f);
    mn_node dr7 = mk("Dropout", 7, &ra, 1);
    CHECK_OK(run_op(&dr7, in, 1, Y, 2, &ctx), &ctx);
    CHECK_EQ_INT(Y[1].dtype, MN_DT_F32);
    CHECK_NEAR(((float *)Y[1].data)[5], 1.0, 0);
    free_outs(Y, 2);
    /* training mode is refused, unless the ratio is 0 */
    tm = 1;
    CHECK(run_op(&dr, in, 3, Y, 2, &ctx) == MN_ERR_UNSUPPORTED);
    CHECK(has(&ctx, "training_mode"));
    free_outs(Y, 2);
    ratio = 0;
    CHECK_OK(run_op(&dr, in, 3, Y, 2, &ctx), &ctx);
    CHECK(memcmp(Y[0].data, x, sizeof x) == 0);
    CHECK_EQ_INT(((uint8_t *)Y[1].data)[2], 1);
    free_outs(Y, 2);
    T.data = NULL;
    CHECK(run_op(&dr, in, 3, Y, 2, &ctx) == MN_ERR_UNSUPPORTED);
    free_outs(Y, 2);
}

/* ---- Transpose ---- */

TEST(transpose_perm_and_default)
{
    mn_ctx ctx = {{0}};
    float x[24];
    int64_t perm[3] = {1, 2, 0};
    mn_attr at = a_ints("perm", perm, 3);
    mn_tensor X = tn(MN_DT_F32, 3, (int64_t[]){2, 3, 4}, x), Y;
    const mn_tensor *in[1] = {&X};
    mn_node n = mk("Transpose", 13, &at, 1);
    for (int i = 0; i < 24; i++)
        x[i] = (float)i;
    CHECK_OK(run_op(&n, in, 1, &Y, 1, &ctx), &ctx);
    check_dims(&Y, 3, (int64_t[]){3, 4, 2});
    /* y[j][k][i] = x[i][j][k] */
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++)
                CHECK_NEAR(((float *)Y.data)[(j * 4 + k) * 2 + i],
                           x[(i * 3 + j) * 4 + k], 0);
    free_outs(&Y, 1);

    /* default: reversed, on 8-byte and 1-byte elements */
    int64_t xl[6] = {10, 11, 12, 20, 21, 22};
    mn_tensor XL = tn(MN_DT_I64, 2, (int64_t[]){2, 3}, xl);
    const mn_tensor *inl[1] = {&XL};
    mn_node nd = mk("Transpose", 13, NULL, 0);
    CHECK_OK(run_op(&nd, inl, 1, &Y, 1, &ctx), &ctx);
    check_dims(&Y, 2, (int64_t[]){3, 2});
    int64_t el[6] = {10, 20, 11, 21, 12, 22};
    CHECK(memcmp(Y.data, el, sizeof el) == 0);
    free_outs(&Y, 1);
    uint8_t xb[6] = {1, 2, 3, 4, 5, 6}, eb[6] = {1, 4, 2, 5, 3, 6};
    mn_tensor XB = tn(MN_DT_BOOL, 2, (int64_t[]){2, 3}, xb);
    inl[0] = &XB;
    CHECK_OK(run_op(&nd, inl, 1, &Y, 1, &ctx), &ctx);
    CHECK(memcmp(Y.data, eb, 6) == 0);
    free_outs(&Y, 1);

    /* not a permutation */
    perm[0] = 0;
    perm[1] = 0;
    CHECK(run_op(&n, in, 1, &Y, 1, &ctx) == MN_ERR_SHAPE);
    free_outs(&Y, 1);
}

/* ---- Concat / Split ---- */

TEST(concat_negative_axis_with_empty_input)
{
    mn_ctx ctx = {{0}};
    int32_t a[4] = {1, 2, 3, 4}, c[6] = {5, 6, 7, 8, 9, 10};
    mn_attr at = a_int("axis", -1);
    mn_tensor A = tn(MN_DT_I32, 2, (int64_t[]){2, 2}, a);
    mn_tensor B = tn(MN_DT_I32, 2, (int64_t[]){2, 0}, NULL);
    mn_tensor C = tn(MN_DT_I32, 2, (int64_t[]){2, 3}, c), Y;
    const mn_tensor *in[3] = {&A, &B, &C};
    mn_node n = mk("Concat", 13, &at, 1);
    CHECK_OK(run_op(&n, in, 3, &Y, 1, &ctx), &ctx);
    check_dims(&Y, 2, (int64_t[]){2, 5});
    int32_t e[10] = {1, 2, 5, 6, 7, 3, 4, 8, 9, 10};
    CHECK(memcmp(Y.data, e, sizeof e) == 0);
    free_outs(&Y, 1);
    /* mismatch outside the axis */
    C.dims[0] = 3;
    CHECK(run_op(&n, in, 3, &Y, 1, &ctx) == MN_ERR_SHAPE);
    free_outs(&Y, 1);
}

TEST(split_uneven_equal_and_opset18)
{
    mn_ctx ctx = {{0}};
    float x[14];
    int64_t sp[3] = {1, 2, 4};
    mn_tensor X = tn(MN_DT_F32, 2, (int64_t[]){2, 7}, x), Y[3];
    mn_tensor S = tn(MN_DT_I64, 1, (int64_t[]){3}, sp);
    const mn_tensor *in[2] = {&X, &S};
    mn_attr at = a_int("axis", -1);
    mn_node n = mk("Split", 13, &at, 1);
    for (int i = 0; i < 14; i++)
        x[i] = (float)i;
    CHECK_OK(run_op(&n, in, 2, Y, 3, &ctx), &ctx);
    check_dims(&Y[0], 2, (int64_t[]){2, 1});
    check_dims(&Y[2], 2, (int64_t[]){2, 4});
    CHECK_NEAR(((float *)Y[0].data)[1], 7, 0);
    CHECK_NEAR(((float *)Y[1].data)[1], 2, 0);
    CHECK_NEAR(((float *)Y[1].data)[2], 8, 0);
    CHECK_NEAR(((float *)Y[2].data)[0], 3, 0);
    CHECK_NEAR(((float *)Y[2].data)[7], 13, 0);
    free_outs(Y, 3);
    /* opset 11 attribute */
    mn_attr at11[2] = {a_int("axis", 1), a_ints("split", sp, 3)};
    mn_node n11 = mk("Split", 11, at11, 2);
    CHECK_OK(run_op(&n11, in, 1, Y, 3, &ctx), &ctx);
    CHECK_NEAR(((float *)Y[2].data)[4], 10, 0);
    free_outs(Y, 3);
    /* sizes that do not add up */
    sp[2] = 3;
    CHECK(run_op(&n, in, 2, Y, 3, &ctx) == MN_ERR_SHAPE);
    free_outs(Y, 3);
    /* no sizes: 7 into 3 is not equal before opset 18, 3,3,1 after */
    CHECK(run_op(&n, in, 1, Y, 3, &ctx) == MN_ERR_SHAPE);
    free_outs(Y, 3);
    mn_attr at18[2] = {a_int("axis", 1), a_int("num_outputs", 3)};
    mn_node n18 = mk("Split", 18, at18, 2);
    CHECK_OK(run_op(&n18, in, 1, Y, 3, &ctx), &ctx);
    CHECK_EQ_INT(Y[0].dims[1], 3);
    CHECK_EQ_INT(Y[1].dims[1], 3);
    CHECK_EQ_INT(Y[2].dims[1], 1);
    CHECK_NEAR(((float *)Y[2].data)[1], 13, 0);
    free_outs(Y, 3);
}

/* ---- Slice / Gather ---- */

TEST(slice_negative_steps_and_clamping)
{
    mn_ctx ctx = {{0}};
    float x[20];
    int64_t st[2] = {-1, 1}, en[2] = {INT64_MIN, INT64_MAX}, ax[2] = {0, -1},
            sp[2] = {-2, 2};
    mn_tensor X = tn(MN_DT_F32, 2, (int64_t[]){4, 5}, x), Y;
    mn_tensor ST = tn(MN_DT_I64, 1, (int64_t[]){2}, st);
    mn_tensor EN = tn(MN_DT_I64, 1, (int64_t[]){2}, en);
    mn_tensor AX = tn(MN_DT_I64, 1, (int64_t[]){2}, ax);
    mn_tensor SP = tn(MN_DT_I64, 1, (int64_t[]){2}, sp);
    const mn_tensor *in[5] = {&X, &ST, &EN, &AX, &SP};
    mn_node n = mk("Slice", 13, NULL, 0);
    for (int i = 0; i < 20; i++)
        x[i] = (float)i;
    /* rows 3, 1 (from -1 down past the start); cols 1, 3 */
    CHECK_OK(run_op(&n, in, 5, &Y, 1, &ctx), &ctx);
    check_dims(&Y, 2, (int64_t[]){2, 2});
    float e[4] = {16, 18, 6, 8};
    for (int i = 0; i < 4; i++)
        CHECK_NEAR(((float *)Y.data)[i], e[i], 0);
    free_outs(&Y, 1);
    /* default axes/steps, out-of-range start clamps to an empty slice */
    st[0] = 10;
    st[1] = -100;
    en[0] = 20;
    en[1] = 3;
    CHECK_OK(run_op(&n, in, 3, &Y, 1, &ctx), &ctx);
    check_dims(&Y, 2, (int64_t[]){0, 3});
    free_outs(&Y, 1);
    /* full reverse of axis 1 */
    st[0] = -1;
    en[0] = INT64_MIN;
    sp[0] = -1;
    ax[0] = 1;
    AX.dims[0] = ST.dims[0] = EN.dims[0] = SP.dims[0] = 1;
    CHECK_OK(run_op(&n, in, 5, &Y, 1, &ctx), &ctx);
    check_dims(&Y, 2, (int64_t[]){4, 5});
    CHECK_NEAR(((float *)Y.data)[0], 4, 0);
    CHECK_NEAR(((float *)Y.data)[6], 8, 0);
    free_outs(&Y, 1);
    /* step 0 and non-constant starts */
    sp[0] = 0;
    CHECK(run_op(&n, in, 5, &Y, 1, &ctx) == MN_ERR_SHAPE);
    sp[0] = 1;
    ST.data = NULL;
    CHECK(run_op(&n, in, 5, &Y, 1, &ctx) == MN_ERR_UNSUPPORTED);
    free_outs(&Y, 1);
    /* opset 1 attributes, int32 data */
    int32_t xi[20];
    for (int i = 0; i < 20; i++)
        xi[i] = 100 + i;
    int64_t s1[2] = {1, -3}, e1[2] = {3, 1000};
    mn_attr at[2] = {a_ints("starts", s1, 2), a_ints("ends", e1, 2)};
    mn_node n1 = mk("Slice", 1, at, 2);
    mn_tensor XI = tn(MN_DT_I32, 2, (int64_t[]){4, 5}, xi);
    const mn_tensor *in1[1] = {&XI};
    CHECK_OK(run_op(&n1, in1, 1, &Y, 1, &ctx), &ctx);
    check_dims(&Y, 2, (int64_t[]){2, 3});
    int32_t ei[6] = {107, 108, 109, 112, 113, 114};
    CHECK(memcmp(Y.data, ei, sizeof ei) == 0);
    free_outs(&Y, 1);
}

TEST(gather_negative_indices_and_range_error)
{
    mn_ctx ctx = {{0}};
    float x[6] = {0, 1, 2, 10, 11, 12};
    int32_t ix[4] = {0, -1, 2, 1};
    mn_attr at = a_int("axis", -1);
    mn_tensor X = tn(MN_DT_F32, 2, (int64_t[]){2, 3}, x), Y;
    mn_tensor I = tn(MN_DT_I32, 2, (int64_t[]){2, 2}, ix);
    const mn_tensor *in[2] = {&X, &I};
    mn_node n = mk("Gather", 13, &at, 1);
    CHECK_OK(run_op(&n, in, 2, &Y, 1, &ctx), &ctx);
    check_dims(&Y, 3, (int64_t[]){2, 2, 2});
    float e[8] = {0, 2, 2, 1, 10, 12, 12, 11};
    for (int i = 0; i < 8; i++)
        CHECK_NEAR(((float *)Y.data)[i], e[i], 0);
    free_outs(&Y, 1);
    /* axis 0 with int64 scalar index: a row */
    int64_t k = -2;
    mn_tensor K = tn(MN_DT_I64, 0, NULL, &k);
    const mn_tensor *in0[2] = {&X, &K};
    mn_node n0 = mk("Gather", 13, NULL, 0);
    CHECK_OK(run_op(&n0, in0, 2, &Y, 1, &ctx), &ctx);
    check_dims(&Y, 1, (int64_t[]){3});
    CHECK_NEAR(((float *)Y.data)[2], 2, 0);
    free_outs(&Y, 1);
    /* out of range is a runtime error */
    ix[2] = 3;
    CHECK(run_op(&n, in, 2, &Y, 1, &ctx) == MN_ERR_RUNTIME);
    CHECK(has(&ctx, "index 3 out of range"));
    free_outs(&Y, 1);
    ix[2] = -4;
    CHECK(run_op(&n, in, 2, &Y, 1, &ctx) == MN_ERR_RUNTIME);
    free_outs(&Y, 1);
}

/* ---- Shape / Constant / ConstantOfShape / Cast / Expand ---- */

TEST(shape_with_start_end)
{
    mn_ctx ctx = {{0}};
    mn_tensor X = tn(MN_DT_F32, 4, (int64_t[]){2, 3, 5, 7}, NULL), Y;
    const mn_tensor *in[1] = {&X};
    mn_node n = mk("Shape", 13, NULL, 0);
    CHECK_OK(run_op(&n, in, 1, &Y, 1, &ctx), &ctx);
    check_dims(&Y, 1, (int64_t[]){4});
    CHECK_EQ_INT(((int64_t *)Y.data)[3], 7);
    free_outs(&Y, 1);
    mn_attr at[2] = {a_int("start", -3), a_int("end", -1)};
    mn_node n15 = mk("Shape", 15, at, 2);
    CHECK_OK(run_op(&n15, in, 1, &Y, 1, &ctx), &ctx);
    check_dims(&Y, 1, (int64_t[]){2});
    CHECK_EQ_INT(((int64_t *)Y.data)[0], 3);
    CHECK_EQ_INT(((int64_t *)Y.data)[1], 5);
    free_outs(&Y, 1);
    at[0] = a_int("start", 10); /* clamps: empty */
    CHECK_OK(run_op(&n15, in, 1, &Y, 1, &ctx), &ctx);
    check_dims(&Y, 1, (int64_t[]){0});
    free_outs(&Y, 1);
}

TEST(constant_attribute_forms)
{
    mn_ctx ctx = {{0}};
    mn_tensor Y;
    float fv[3] = {1.5f, -2, 4};
    mn_attr a = {.name = (char *)"value_floats", .type = MN_ATTR_FLOATS,
                 .floats = fv, .n = 3};
    mn_node n = mk("Constant", 13, &a, 1);
    CHECK_OK(run_op(&n, NULL, 0, &Y, 1, &ctx), &ctx);
    check_dims(&Y, 1, (int64_t[]){3});
    CHECK_EQ_INT(Y.dtype, MN_DT_F32);
    CHECK_NEAR(((float *)Y.data)[1], -2, 0);
    free_outs(&Y, 1);
    a = a_int("value_int", -7);
    CHECK_OK(run_op(&n, NULL, 0, &Y, 1, &ctx), &ctx);
    CHECK_EQ_INT(Y.ndim, 0);
    CHECK_EQ_INT(Y.dtype, MN_DT_I64);
    CHECK_EQ_INT(*(int64_t *)Y.data, -7);
    free_outs(&Y, 1);
    int32_t tv[4] = {1, 2, 3, 4};
    mn_tensor T = tn(MN_DT_I32, 2, (int64_t[]){2, 2}, tv);
    a = (mn_attr){.name = (char *)"value", .type = MN_ATTR_TENSOR, .t = &T};
    CHECK_OK(run_op(&n, NULL, 0, &Y, 1, &ctx), &ctx);
    check_dims(&Y, 2, (int64_t[]){2, 2});
    CHECK(memcmp(Y.data, tv, sizeof tv) == 0);
    free_outs(&Y, 1);
    a = a_str("value_string", "hi");
    CHECK(run_op(&n, NULL, 0, &Y, 1, &ctx) == MN_ERR_UNSUPPORTED);
}

TEST(constant_of_shape_value_and_default)
{
    mn_ctx ctx = {{0}};
    int64_t shp[2] = {2, 3};
    int32_t v = 42;
    mn_tensor S = tn(MN_DT_I64, 1, (int64_t[]){2}, shp), Y;
    mn_tensor V = tn(MN_DT_I32, 1, (int64_t[]){1}, &v);
    const mn_tensor *in[1] = {&S};
    mn_attr a = {.name = (char *)"value", .type = MN_ATTR_TENSOR, .t = &V};
    mn_node n = mk("ConstantOfShape", 9, &a, 1);
    CHECK_OK(run_op(&n, in, 1, &Y, 1, &ctx), &ctx);
    check_dims(&Y, 2, (int64_t[]){2, 3});
    CHECK_EQ_INT(Y.dtype, MN_DT_I32);
    for (int i = 0; i < 6; i++)
        CHECK_EQ_INT(((int32_t *)Y.data)[i], 42);
    free_outs(&Y, 1);
    mn_node n0 = mk("ConstantOfShape", 9, NULL, 0);
    CHECK_OK(run_op(&n0, in, 1, &Y, 1, &ctx), &ctx);
    CHECK_EQ_INT(Y.dtype, MN_DT_F32);
    CHECK_NEAR(((float *)Y.data)[5], 0, 0);
    free_outs(&Y, 1);
    shp[1] = -1;
    CHECK(run_op(&n0, in, 1, &Y, 1, &ctx) == MN_ERR_SHAPE);
    free_outs(&Y, 1);
}

static float bits_f32(uint32_t b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

TEST(cast_float16_round_trip_and_int_truncation)
{
    mn_ctx ctx = {{0}};
    /* inputs, expected half bits, expected value after the way back */
    float x[10] = {1.5f, -2.25f, 65504.0f, 1.0f / 3.0f,
                   1.0f + 1.0f / 2048, /* tie → even (1.0) */
                   1.0f + 3.0f / 2048, /* tie → even (1 + 2/1024) */
                   65520.0f,           /* tie at the top → inf */
                   bits_f32(0x33000000), /* 2^-25: tie → 0 */
                   bits_f32(0x33400000), /* 0.75 * 2^-24 → 2^-24 */
                   -70000.0f};
    uint16_t eh[10] = {0x3E00, 0xC080, 0x7BFF, 0x3555, 0x3C00,
                       0x3C02, 0x7C00, 0x0000, 0x0001, 0xFC00};
    float back[10] = {1.5f, -2.25f, 65504.0f, 0.333251953125f, 1.0f,
                      1.001953125f, INFINITY, 0.0f, 5.9604644775390625e-8f,
                      -INFINITY};
    mn_tensor X = tn(MN_DT_F32, 1, (int64_t[]){10}, x), H, Y;
    const mn_tensor *in[1] = {&X};
    mn_attr to = a_int("to", MN_DT_F16);
    mn_node n = mk("Cast", 13, &to, 1);
    CHECK_OK(run_op(&n, in, 1, &H, 1, &ctx), &ctx);
    for (int i = 0; i < 10; i++)
        CHECK_EQ_INT(((uint16_t *)H.data)[i], eh[i]);
    const mn_tensor *inh[1] = {&H};
    to = a_int("to", MN_DT_F32);
    CHECK_OK(run_op(&n, inh, 1, &Y, 1, &ctx), &ctx);
    for (int i = 0; i < 10; i++)
        CHECK(((float *)Y.data)[i] == back[i]);
    free_outs(&H, 1);
    free_outs(&Y, 1);

    /* float → int32 truncates toward zero; → bool is "nonzero" */
    float f[5] = {-2.7f, 2.7f, -0.5f, 3.99f, 0.0f};
    int32_t ei[5] = {-2, 2, 0, 3, 0};
    uint8_t eb[5] = {1, 1, 1, 1, 0};
    mn_tensor F = tn(MN_DT_F32, 1, (int64_t[]){5}, f);
    const mn_tensor *inf[1] = {&F};
    to = a_int("to", MN_DT_I32);
    CHECK_OK(run_op(&n, inf, 1, &Y, 1, &ctx), &ctx);
    CHECK(memcmp(Y.data, ei, sizeof ei) == 0);
    free_outs(&Y, 1);
    to = a_int("to", MN_DT_BOOL);
    CHECK_OK(run_op(&n, inf, 1, &Y, 1, &ctx), &ctx);
    CHECK(memcmp(Y.data, eb, sizeof eb) == 0);
    free_outs(&Y, 1);
    /* int64 → double and uint8 */
    int64_t li[3] = {-1, 300, 1LL << 40};
    mn_tensor L = tn(MN_DT_I64, 1, (int64_t[]){3}, li);
    const mn_tensor *inl[1] = {&L};
    to = a_int("to", MN_DT_F64);
    CHECK_OK(run_op(&n, inl, 1, &Y, 1, &ctx), &ctx);
    CHECK(((double *)Y.data)[2] == 1099511627776.0);
    CHECK(((double *)Y.data)[0] == -1.0);
    free_outs(&Y, 1);
    to = a_int("to", MN_DT_U8);
    CHECK_OK(run_op(&n, inl, 1, &Y, 1, &ctx), &ctx);
    CHECK_EQ_INT(((uint8_t *)Y.data)[0], 255);
    CHECK_EQ_INT(((uint8_t *)Y.data)[1], 44);
    free_outs(&Y, 1);
    to = a_int("to", MN_DT_STRING);
    CHECK(run_op(&n, inl, 1, &Y, 1, &ctx) == MN_ERR_UNSUPPORTED);
    free_outs(&Y, 1);
}

TEST(expand_bidirectional)
{
    mn_ctx ctx = {{0}};
    int16_t x[3] = {7, 8, 9};
    int64_t shp[3] = {2, 1, 4};
    mn_tensor X = tn(MN_DT_I16, 2, (int64_t[]){3, 1}, x), Y;
    mn_tensor S = tn(MN_DT_I64, 1, (int64_t[]){3}, shp);
    const mn_tensor *in[2] = {&X, &S};
    mn_node n = mk("Expand", 13, NULL, 0);
    CHECK_OK(run_op(&n, in, 2, &Y, 1, &ctx), &ctx);
    check_dims(&Y, 3, (int64_t[]){2, 3, 4});
    for (int b = 0; b < 2; b++)
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 4; j++)
                CHECK_EQ_INT(((int16_t *)Y.data)[(b * 3 + i) * 4 + j], x[i]);
    free_outs(&Y, 1);
    /* a smaller target shape keeps the input's dims */
    S.dims[0] = 1;
    shp[0] = 1;
    CHECK_OK(run_op(&n, in, 2, &Y, 1, &ctx), &ctx);
    check_dims(&Y, 2, (int64_t[]){3, 1});
    free_outs(&Y, 1);
    /* [3,1] against [2,1]: 3 and 2 do not broadcast */
    S.dims[0] = 2;
    shp[0] = 2;
    shp[1] = 1;
    CHECK(run_op(&n, in, 2, &Y, 1, &ctx) == MN_ERR_SHAPE);
    free_outs(&Y, 1);
}

/* ---- Pad ---- */

TEST(pad_reflect_edge_constant_negative)
{
    mn_ctx ctx = {{0}};
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    int64_t pads[4] = {0, 2, 1, 3}; /* [2,4]: axis1 +2 front, +3 back; axis0 +1 back */
    mn_tensor X = tn(MN_DT_F32, 2, (int64_t[]){2, 4}, x), Y;
    mn_tensor P = tn(MN_DT_I64, 1, (int64_t[]){4}, pads);
    const mn_tensor *in[3] = {&X, &P, NULL};
    mn_attr mode = a_str("mode", "reflect");
    mn_node n = mk("Pad", 13, &mode, 1);
    CHECK_OK(run_op(&n, in, 2, &Y, 1, &ctx), &ctx);
    check_dims(&Y, 2, (int64_t[]){3, 9});
    /* reflect of 1 2 3 4: 3 2 | 1 2 3 4 | 3 2 1; row 2 reflects row 0 */
    float r0[9] = {3, 2, 1, 2, 3, 4, 3, 2, 1};
    for (int j = 0; j < 9; j++) {
        CHECK_NEAR(((float *)Y.data)[j], r0[j], 0);
        CHECK_NEAR(((float *)Y.data)[9 + j], r0[j] + 4, 0);
        CHECK_NEAR(((float *)Y.data)[18 + j], r0[j], 0);
    }
    free_outs(&Y, 1);

    mode = a_str("mode", "edge");
    CHECK_OK(run_op(&n, in, 2, &Y, 1, &ctx), &ctx);
    float e0[9] = {1, 1, 1, 2, 3, 4, 4, 4, 4};
    for (int j = 0; j < 9; j++) {
        CHECK_NEAR(((float *)Y.data)[j], e0[j], 0);
        CHECK_NEAR(((float *)Y.data)[18 + j], e0[j] + 4, 0);
    }
    free_outs(&Y, 1);

    /* constant with a value input and a negative (cropping) pad */
    float cv = -1;
    mn_tensor CV = tn(MN_DT_F32, 0, NULL, &cv);
    in[2] = &CV;
    int64_t p2[4] = {0, -1, 1, 2};
    P.data = p2;
    mode = a_str("mode", "constant");
    CHECK_OK(run_op(&n, in, 3, &Y, 1, &ctx), &ctx);
    check_dims(&Y, 2, (int64_t[]){3, 5});
    float c[15] = {2, 3, 4, -1, -1, 6, 7, 8, -1, -1, -1, -1, -1, -1, -1};
    for (int j = 0; j < 15; j++)
        CHECK_NEAR(((float *)Y.data)[j], c[j], 0);
    free_outs(&Y, 1);
    /* edge after cropping pads from the kept part */
    mode = a_str("mode", "edge");
    CHECK_OK(run_op(&n, in, 2, &Y, 1, &ctx), &ctx);
    CHECK_NEAR(((float *)Y.data)[4], 4, 0);
    CHECK_NEAR(((float *)Y.data)[10], 6, 0); /* row 2 = row 1 */
    free_outs(&Y, 1);

    /* opset 2: attributes, value 1.5, int wrap-around of pads count */
    int64_t pa[2] = {1, 2};
    mn_attr at[2] = {a_ints("pads", pa, 2), a_float("value", 1.5f)};
    mn_node n2 = mk("Pad", 2, at, 2);
    mn_tensor X1 = tn(MN_DT_F32, 1, (int64_t[]){2}, x);
    const mn_tensor *in1[1] = {&X1};
    CHECK_OK(run_op(&n2, in1, 1, &Y, 1, &ctx), &ctx);
    float e2[5] = {1.5f, 1, 2, 1.5f, 1.5f};
    for (int j = 0; j < 5; j++)
        CHECK_NEAR(((float *)Y.data)[j], e2[j], 0);
    free_outs(&Y, 1);

    /* opset 18 axes input: pad only axis -1 */
    int64_t p3[2] = {1, 1}, ax[1] = {-1};
    mn_tensor P3 = tn(MN_DT_I64, 1, (int64_t[]){2}, p3);
    mn_tensor AX = tn(MN_DT_I64, 1, (int64_t[]){1}, ax);
    const mn_tensor *in3[4] = {&X, &P3, NULL, &AX};
    mn_node n18 = mk("Pad", 18, NULL, 0);
    CHECK_OK(run_op(&n18, in3, 4, &Y, 1, &ctx), &ctx);
    check_dims(&Y, 2, (int64_t[]){2, 6});
    CHECK_NEAR(((float *)Y.data)[7], 5, 0);
    CHECK_NEAR(((float *)Y.data)[11], 0, 0);
    free_outs(&Y, 1);

    /* wrong pads count */
    P.dims[0] = 3;
    CHECK(run_op(&n, in, 2, &Y, 1, &ctx) == MN_ERR_SHAPE);
    free_outs(&Y, 1);
}

/* ---- QuantizeLinear / DequantizeLinear / DynamicQuantizeLinear ---- */

TEST(quantize_per_axis_ties_to_even_and_saturates)
{
    mn_ctx ctx = {{0}};
    /* [2,4] with per-row scales (axis 0) */
    float x[8] = {2.5f, 3.5f, -2.5f, 300.0f, 1.25f, -0.75f, 0.25f, -100.0f};
    float sc[2] = {1.0f, 0.5f};
    uint8_t zp[2] = {0, 10};
    mn_tensor X = tn(MN_DT_F32, 2, (int64_t[]){2, 4}, x), Y, D;
    mn_tensor S = tn(MN_DT_F32, 1, (int64_t[]){2}, sc);
    mn_tensor Z = tn(MN_DT_U8, 1, (int64_t[]){2}, zp);
    const mn_tensor *in[3] = {&X, &S, &Z};
    mn_attr ax = a_int("axis", 0);
    mn_node q = mk("QuantizeLinear", 13, &ax, 1);
    CHECK_OK(run_op(&q, in, 3, &Y, 1, &ctx), &ctx);
    CHECK_EQ_INT(Y.dtype, MN_DT_U8);
    /* row 0: 2, 4, -2→0, 255; row 1 (÷0.5, +10): 2.5→2+10, -1.5→-2+10,
     * 0.5→0+10, -200+10→0 */
    uint8_t e[8] = {2, 4, 0, 255, 12, 8, 10, 0};
    for (int i = 0; i < 8; i++)
        CHECK_EQ_INT(((uint8_t *)Y.data)[i], e[i]);

    /* dequantize it back per axis */
    const mn_tensor *din[3] = {&Y, &S, &Z};
    mn_node dq = mk("DequantizeLinear", 13, &ax, 1);
    CHECK_OK(run_op(&dq, din, 3, &D, 1, &ctx), &ctx);
    float ed[8] = {2, 4, 0, 255, 1, -1, 0, -5};
    for (int i = 0; i < 8; i++)
        CHECK_NEAR(((float *)D.data)[i], ed[i], 0);
    free_outs(&D, 1);
    free_outs(&Y, 1);

    /* int8 per tensor, no zero point given → uint8; with int8 zp → int8 */
    float s1 = 2.0f;
    int8_t z1 = -3;
    mn_tensor S1 = tn(MN_DT_F32, 0, NULL, &s1);
    mn_tensor Z1 = tn(MN_DT_I8, 0, NULL, &z1);
    const mn_tensor *in1[3] = {&X, &S1, &Z1};
    mn_node q10 = mk("QuantizeLinear", 10, NULL, 0);
    CHECK_OK(run_op(&q10, in1, 3, &Y, 1, &ctx), &ctx);
    CHECK_EQ_INT(Y.dtype, MN_DT_I8);
    /* 1.25, 1.75→2, -1.25→-1, 150→127; 0.625→1, -0.375→0, 0.125→0, -50 */
    int8_t e1[8] = {-2, -1, -4, 127, -2, -3, -3, -53};
    for (int i = 0; i < 8; i++)
        CHECK_EQ_INT(((int8_t *)Y.data)[i], e1[i]);
    free_outs(&Y, 1);
    CHECK_OK(run_op(&q10, in1, 2, &Y, 1, &ctx), &ctx);
    CHECK_EQ_INT(Y.dtype, MN_DT_U8);
    CHECK_EQ_INT(((uint8_t *)Y.data)[1], 2);
    free_outs(&Y, 1);

    /* scale count not matching the axis */
    ax = a_int("axis", 1);
    CHECK(run_op(&q, in, 3, &Y, 1, &ctx) == MN_ERR_SHAPE);
    free_outs(&Y, 1);
}

TEST(dequantize_int8_and_int32)
{
    mn_ctx ctx = {{0}};
    int8_t x[4] = {-128, -1, 0, 127};
    int8_t z = -1;
    float s = 0.5f;
    mn_tensor X = tn(MN_DT_I8, 1, (int64_t[]){4}, x), Y;
    mn_tensor S = tn(MN_DT_F32, 0, NULL, &s);
    mn_tensor Z = tn(MN_DT_I8, 0, NULL, &z);
    const mn_tensor *in[3] = {&X, &S, &Z};
    mn_node n = mk("DequantizeLinear", 10, NULL, 0);
    CHECK_OK(run_op(&n, in, 3, &Y, 1, &ctx), &ctx);
    float e[4] = {-63.5f, 0, 0.5f, 64};
    for (int i = 0; i < 4; i++)
        CHECK_NEAR(((float *)Y.data)[i], e[i], 0);
    free_outs(&Y, 1);
    int32_t xi[3] = {-1000000, 3, 7};
    mn_tensor XI = tn(MN_DT_I32, 1, (int64_t[]){3}, xi);
    const mn_tensor *in2[2] = {&XI, &S};
    CHECK_OK(run_op(&n, in2, 2, &Y, 1, &ctx), &ctx);
    CHECK_NEAR(((float *)Y.data)[0], -500000, 0);
    CHECK_NEAR(((float *)Y.data)[2], 3.5, 0);
    free_outs(&Y, 1);
    /* zero point of another type */
    const mn_tensor *in3[3] = {&XI, &S, &Z};
    CHECK(run_op(&n, in3, 3, &Y, 1, &ctx) == MN_ERR_SHAPE);
    free_outs(&Y, 1);
}

TEST(dynamic_quantize_linear_formula)
{
    mn_ctx ctx = {{0}};
    float x[4] = {-4.0f, 2.0f, 0.0f, 0.5f};
    mn_tensor X = tn(MN_DT_F32, 1, (int64_t[]){4}, x), Y[3];
    const mn_tensor *in[1] = {&X};
    mn_node n = mk("DynamicQuantizeLinear", 11, NULL, 0);
    CHECK_OK(run_op(&n, in, 1, Y, 3, &ctx), &ctx);
    /* scale = (2 - -4) / 255; zero point = round(4 / scale) = 170;
     * 0.5 / scale = 21.25 → 21 */
    CHECK_NEAR(*(float *)Y[1].data, 6.0 / 255.0, 1e-8);
    CHECK_EQ_INT(*(uint8_t *)Y[2].data, 170);
    uint8_t e[4] = {0, 255, 170, 191};
    for (int i = 0; i < 4; i++)
        CHECK_EQ_INT(((uint8_t *)Y[0].data)[i], e[i]);
    free_outs(Y, 3);
    /* all positive: the range still includes 0 → zero point 0 */
    float xp[2] = {1.0f, 51.0f};
    mn_tensor XP = tn(MN_DT_F32, 1, (int64_t[]){2}, xp);
    in[0] = &XP;
    CHECK_OK(run_op(&n, in, 1, Y, 3, &ctx), &ctx);
    CHECK_NEAR(*(float *)Y[1].data, 0.2, 1e-7);
    CHECK_EQ_INT(*(uint8_t *)Y[2].data, 0);
    CHECK_EQ_INT(((uint8_t *)Y[0].data)[0], 5);
    CHECK_EQ_INT(((uint8_t *)Y[0].data)[1], 255);
    free_outs(Y, 3);
}
