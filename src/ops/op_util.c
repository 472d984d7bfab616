/* Helpers shared by the op families: broadcasting, axes, element access. */
#include <stdio.h>
#include <string.h>
#include "ops/ops.h"

mn_status mn_broadcast_shape(const mn_tensor *a, const mn_tensor *b,
                             mn_tensor *out, mn_ctx *ctx)
{
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < nd; i++) {
        int ia = i - (nd - a->ndim), ib = i - (nd - b->ndim);
        int64_t da = ia >= 0 ? a->dims[ia] : 1;
        int64_t db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            char sa[128], sb[128];
            return mn_error(ctx, MN_ERR_SHAPE,
                            "shapes %s and %s do not broadcast",
                            mn_shape_str(a, sa, sizeof sa),
                            mn_shape_str(b, sb, sizeof sb));
        }
        out->dims[i] = da == 1 ? db : da;
    }
    out->ndim = nd;
    return MN_OK;
}

mn_status mn_norm_axis(int64_t axis, int rank, int *out, mn_ctx *ctx)
{
    int64_t a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= (rank > 0 ? rank : 1))
        return mn_error(ctx, MN_ERR_SHAPE, "axis %lld out of range for rank %d",
                        (long long)axis, rank);
    *out = (int)a;
    return MN_OK;
}

int64_t mn_tensor_get_i64(const mn_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case MN_DT_I64: return ((const int64_t *)t->data)[i];
    case MN_DT_I32: return ((const int32_t *)t->data)[i];
    case MN_DT_I16: return ((const int16_t *)t->data)[i];
    case MN_DT_I8: return ((const int8_t *)t->data)[i];
    case MN_DT_U8: return ((const uint8_t *)t->data)[i];
    case MN_DT_BOOL: return ((const uint8_t *)t->data)[i] != 0;
    case MN_DT_U16: return ((const uint16_t *)t->data)[i];
    case MN_DT_U32: return ((const uint32_t *)t->data)[i];
    case MN_DT_U64: return (int64_t)((const uint64_t *)t->data)[i];
    case MN_DT_F32: return (int64_t)((const float *)t->data)[i];
    case MN_DT_F64: return (int64_t)((const double *)t->data)[i];
    case MN_DT_I4: /* two per byte, low nibble first; sign-extended */
        return (int8_t)(uint8_t)(((const uint8_t *)t->data)[i >> 1]
                                 << (i & 1 ? 0 : 4)) >> 4;
    case MN_DT_U4:
        return (((const uint8_t *)t->data)[i >> 1] >> (i & 1 ? 4 : 0)) & 15;
    default: return 0;
    }
}

double mn_tensor_get_f64(const mn_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case MN_DT_F32: return ((const float *)t->data)[i];
    case MN_DT_F16: return mn_f16_to_f32(((const uint16_t *)t->data)[i]);
    case MN_DT_F64: return ((const double *)t->data)[i];
    default: return (double)mn_tensor_get_i64(t, i);
    }
}

void mn_tensor_copy_meta(mn_tensor *dst, const mn_tensor *src)
{
    dst->dtype = src->dtype;
    dst->ndim = src->ndim;
    memcpy(dst->dims, src->dims, sizeof dst->dims);
}

const char *mn_shape_str(const mn_tensor *t, char *buf, size_t len)
{
    size_t p = 0;
    if (!len)
        return buf;
    buf[0] = 0;
    p += (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < t->ndim && p < len; i++)
        p += (size_t)snprintf(buf + p, len - p, "%s%lld", i ? "," : "",
                              (long long)t->dims[i]);
    if (p < len)
        snprintf(buf + p, len - p, "]");
    return buf;
}

mn_status mn_op_const_ints(const mn_tensor *t, const char *what, int64_t *v,
                           int cap, int *n, mn_ctx *ctx)
{
    int64_t k;
    if (!t->data)
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "%s input is not constant",
                        what);
    if (t->dtype != MN_DT_I64 && t->dtype != MN_DT_I32)
        return mn_error(ctx, MN_ERR_SHAPE, "%s input is %s, expected int64",
                        what, mn_dtype_name(t->dtype));
    if (t->ndim > 1)
        return mn_error(ctx, MN_ERR_SHAPE, "%s input has rank %d, expected 1",
                        what, t->ndim);
    k = mn_tensor_numel(t);
    if (k > cap)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "%s input has %lld values (at most %d supported)",
                        what, (long long)k, cap);
    for (int64_t i = 0; i < k; i++)
        v[i] = mn_tensor_get_i64(t, i);
    *n = (int)k;
    return MN_OK;
}

float mn_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 0x1f,
             m = h & 0x3ff, bits;
    float f;
    if (e == 0) {
        f = (float)m * 0x1p-24f; /* zero or subnormal */
        return sign ? -f : f;
    }
    if (e == 31)
        bits = sign | 0x7f800000u | (m << 13);
    else
        bits = sign | ((e + 112) << 23) | (m << 13);
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t mn_f64_to_f16(double d)
{
    uint64_t b, m, q, rem, half;
    int e, shift;
    uint16_t sign;
    memcpy(&b, &d, sizeof b);
    sign = (uint16_t)((b >> 48) & 0x8000);
    e = (int)((b >> 52) & 0x7ff);
    m = b & 0xfffffffffffffull;
    if (e == 0x7ff)
        return (uint16_t)(sign | 0x7c00 | (m ? 0x200 : 0));
    if (e == 0)
        return sign; /* double subnormals are far below float16's range */
    e -= 1023;
    if (e > 15)
        return (uint16_t)(sign | 0x7c00);
    m |= 1ull << 52;
    shift = e >= -14 ? 42 : 42 + (-14 - e);
    if (shift > 60)
        return sign;
    q = m >> shift;
    rem = m & ((1ull << shift) - 1);
    half = 1ull << (shift - 1);
    if (rem > half || (rem == half && (q & 1)))
        q++;
    if (e < -14) /* subnormal; q == 0x400 encodes the smallest normal */
        return (uint16_t)(sign | q);
    if (q == 0x800) {
        q >>= 1;
        e++;
    }
    if (e > 15)
        return (uint16_t)(sign | 0x7c00);
    return (uint16_t)(sign | ((uint64_t)(e + 15) << 10) | (q & 0x3ff));
}
