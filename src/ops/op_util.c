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
    default: return 0;
    }
}

double mn_tensor_get_f64(const mn_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case MN_DT_F32: return ((const float *)t->data)[i];
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
