/* Tests of Shape, Constant, ConstantOfShape, Cast, Expand and Pad: nodes
 * are built by hand and run through the op table's infer and forward;
 * expected values are worked out independently here. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ops/ops.h"
#include "shape_test_util.h"
#include "test.h"

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
