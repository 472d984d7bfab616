/* Tests of QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear:
 * nodes are built by hand and run through the op table's infer and
 * forward; expected values are worked out independently here. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ops/ops.h"
#include "shape_test_util.h"
#include "test.h"

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
