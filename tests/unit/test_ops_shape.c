/* Tests of the shape / data-movement ops (Reshape, Flatten, Squeeze,
 * Unsqueeze, Identity, Dropout, Transpose, Concat, Split, Slice, Gather):
 * nodes are built by hand and run through the op table's infer and
 * forward; expected values are worked out independently here. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ops/ops.h"
#include "shape_test_util.h"
#include "test.h"

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
