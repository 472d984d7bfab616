/* Per-tensor 8-bit quantization parameters of ONNX Runtime's com.microsoft
 * quantized ops (qelementwise.c, qpool.c): validation and element access. */
#ifndef MN_OPS_QLINEAR_UTIL_H
#define MN_OPS_QLINEAR_UTIL_H

#include "ops/ops.h"

static inline int mn_ql8(mn_dtype t) { return t == MN_DT_U8 || t == MN_DT_I8; }

/* Scale: one float32 value; zero point: absent or one value of type dt. */
static inline mn_status mn_ql_check_qparams(const mn_tensor *s,
                                            const mn_tensor *z, mn_dtype dt,
                                            const char *what, mn_ctx *ctx)
{
    if (!s || s->dtype != MN_DT_F32 || mn_tensor_numel(s) != 1)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "%s scale must be one float32 value", what);
    if (z && (z->dtype != dt || mn_tensor_numel(z) != 1))
        return mn_error(ctx, MN_ERR_SHAPE,
                        "%s zero point must be one %s value", what,
                        mn_dtype_name(dt));
    return MN_OK;
}

static inline int32_t mn_ql_zp(const mn_tensor *z)
{
    return z ? (int32_t)mn_tensor_get_i64(z, 0) : 0;
}

/* Element i of 8-bit data (int8 when i8, else uint8). */
static inline int32_t mn_ql_ld8(const void *p, int i8, int64_t i)
{
    return i8 ? ((const int8_t *)p)[i] : ((const uint8_t *)p)[i];
}

/* The 256-byte table of QLinearSigmoid (leaky 0) or QLinearLeakyRelu
 * (slope alpha) by input byte (an int8 x at byte (uint8_t)x):
 * saturate(round_half_even(f(sx·(x - zx)) / sy) + zy). The runtime and
 * the C backend share it. */
void mn_ql_unary_table(float sx, int32_t zx, float sy, int32_t zy, int i8,
                       int leaky, float alpha, uint8_t t[256]);

#endif
