/* Shape and constant producers plus type/shape conversion: Shape, Constant,
 * ConstantOfShape, Cast, Expand. */
#include <string.h>
#include "ops/ops.h"

/* Shapes read from data: even when another dimension is 0, the product of
 * the non-zero dimensions must stay within the allocation limit, so that no
 * later element count overflows. */
static mn_status check_dims(const int64_t *dims, int n, mn_ctx *ctx)
{
    size_t p = 1;
    for (int i = 0; i < n; i++)
        if (dims[i] > 0 && (!mn_mul_size(p, (size_t)dims[i], &p) ||
                            p > MN_ALLOC_LIMIT))
            return mn_error(ctx, MN_ERR_SHAPE, "dimension %lld is too large",
                            (long long)dims[i]);
    return MN_OK;
}

/* Reads a constant 1-D int64 tensor holding a shape (at most MN_MAX_DIMS
 * values, each >= min_dim). */
static mn_status const_shape(const mn_tensor *t, int64_t min_dim, int64_t *v,
                             int *n, mn_ctx *ctx)
{
    int64_t k;
    if (!t->data)
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "shape input is not constant");
    if (t->dtype != MN_DT_I64 && t->dtype != MN_DT_I32)
        return mn_error(ctx, MN_ERR_SHAPE, "shape input is %s, expected int64",
                        mn_dtype_name(t->dtype));
    if (t->ndim > 1)
        return mn_error(ctx, MN_ERR_SHAPE, "shape input has rank %d, expected 1",
                        t->ndim);
    k = mn_tensor_numel(t);
    if (k > MN_MAX_DIMS)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "output rank %lld exceeds %d", (long long)k,
                        MN_MAX_DIMS);
    for (int64_t i = 0; i < k; i++) {
        v[i] = mn_tensor_get_i64(t, i);
        if (v[i] < min_dim)
            return mn_error(ctx, MN_ERR_SHAPE, "shape value %lld is invalid",
                            (long long)v[i]);
    }
    *n = (int)k;
    return check_dims(v, *n, ctx);
}

/* ---- Shape ---- */

static void shape_range(const mn_node *n, int r, int *lo, int *hi)
{
    int64_t s = 0, e = r;
    if (n->opset >= 15) {
        s = mn_node_attr_int(n, "start", 0);
        e = mn_node_attr_int(n, "end", r);
    }
    if (s < 0)
        s += r;
    if (e < 0)
        e += r;
    s = s < 0 ? 0 : s > r ? r : s;
    e = e < 0 ? 0 : e > r ? r : e;
    *lo = (int)s;
    *hi = (int)(e > s ? e : s);
}

static mn_status shape_infer(const mn_node *n, const mn_tensor *const *in,
                             int n_in, mn_tensor *const *out, int n_out,
                             mn_ctx *ctx)
{
    int lo, hi;
    (void)n_out;
    if (n_in < 1 || !in[0])
        return mn_error(ctx, MN_ERR_SHAPE, "missing data input");
    shape_range(n, in[0]->ndim, &lo, &hi);
    out[0]->dtype = MN_DT_I64;
    out[0]->ndim = 1;
    out[0]->dims[0] = hi - lo;
    return MN_OK;
}

static mn_status shape_forward(const mn_node *n, const mn_tensor *const *in,
                               int n_in, mn_tensor *const *out, int n_out,
                               mn_exec *ex)
{
    int lo, hi;
    (void)n_in, (void)n_out, (void)ex;
    shape_range(n, in[0]->ndim, &lo, &hi);
    for (int i = lo; i < hi; i++)
        ((int64_t *)out[0]->data)[i - lo] = in[0]->dims[i];
    return MN_OK;
}

/* ---- Constant ---- */

/* The attribute holding the value, or NULL with an error in ctx. */
static const mn_attr *constant_attr(const mn_node *n, mn_ctx *ctx)
{
    static const char *const bad[] = {"sparse_value", "value_string",
                                      "value_strings"};
    const mn_attr *a;
    for (int i = 0; i < 3; i++)
        if (mn_node_attr(n, bad[i])) {
            mn_error(ctx, MN_ERR_UNSUPPORTED, "Constant with %s", bad[i]);
            return NULL;
        }
    if ((a = mn_node_attr(n, "value")) && a->type == MN_ATTR_TENSOR && a->t)
        return a;
    if ((a = mn_node_attr(n, "value_float")) && a->type == MN_ATTR_FLOAT)
        return a;
    if ((a = mn_node_attr(n, "value_floats")) && a->type == MN_ATTR_FLOATS)
        return a;
    if ((a = mn_node_attr(n, "value_int")) && a->type == MN_ATTR_INT)
        return a;
    if ((a = mn_node_attr(n, "value_ints")) && a->type == MN_ATTR_INTS)
        return a;
    mn_error(ctx, MN_ERR_PARSE, "Constant without a value attribute");
    return NULL;
}

static mn_status constant_infer(const mn_node *n, const mn_tensor *const *in,
                                int n_in, mn_tensor *const *out, int n_out,
                                mn_ctx *ctx)
{
    const mn_attr *a = constant_attr(n, ctx);
    (void)in, (void)n_in, (void)n_out;
    if (!a)
        return MN_ERR_UNSUPPORTED;
    switch (a->type) {
    case MN_ATTR_TENSOR:
        if (mn_dtype_size(a->t->dtype) == 0)
            return mn_error(ctx, MN_ERR_UNSUPPORTED, "Constant of type %s",
                            mn_dtype_name(a->t->dtype));
        if (!a->t->data && mn_tensor_nbytes(a->t))
            return mn_error(ctx, MN_ERR_UNSUPPORTED,
                            "Constant value has no data");
        mn_tensor_copy_meta(out[0], a->t);
        break;
    case MN_ATTR_FLOAT:
    case MN_ATTR_INT:
        out[0]->dtype = a->type == MN_ATTR_FLOAT ? MN_DT_F32 : MN_DT_I64;
        out[0]->ndim = 0;
        break;
    default:
        out[0]->dtype = a->type == MN_ATTR_FLOATS ? MN_DT_F32 : MN_DT_I64;
        out[0]->ndim = 1;
        out[0]->dims[0] = a->n;
    }
    return MN_OK;
}

static mn_status constant_forward(const mn_node *n, const mn_tensor *const *in,
                                  int n_in, mn_tensor *const *out, int n_out,
                                  mn_exec *ex)
{
    const mn_attr *a = constant_attr(n, ex->ctx);
    size_t bytes = mn_tensor_nbytes(out[0]);
    (void)in, (void)n_in, (void)n_out;
    if (!a)
        return MN_ERR_UNSUPPORTED;
    switch (a->type) {
    case MN_ATTR_TENSOR:
        if (bytes)
            memcpy(out[0]->data, a->t->data, bytes);
        break;
    case MN_ATTR_FLOAT: *(float *)out[0]->data = a->f; break;
    case MN_ATTR_INT: *(int64_t *)out[0]->data = a->i; break;
    case MN_ATTR_FLOATS:
        if (bytes)
            memcpy(out[0]->data, a->floats, bytes);
        break;
    default:
        if (bytes)
            memcpy(out[0]->data, a->ints, bytes);
    }
    return MN_OK;
}

/* ---- ConstantOfShape ---- */

static mn_status cos_infer(const mn_node *n, const mn_tensor *const *in,
                           int n_in, mn_tensor *const *out, int n_out,
                           mn_ctx *ctx)
{
    const mn_attr *a = mn_node_attr(n, "value");
    int64_t dims[MN_MAX_DIMS];
    int k;
    mn_status st;
    (void)n_out;
    if (n_in < 1 || !in[0])
        return mn_error(ctx, MN_ERR_SHAPE, "missing shape input");
    if ((st = const_shape(in[0], 0, dims, &k, ctx)) != MN_OK)
        return st;
    out[0]->dtype = MN_DT_F32;
    if (a) {
        if (a->type != MN_ATTR_TENSOR || !a->t || !a->t->data ||
            mn_tensor_numel(a->t) != 1)
            return mn_error(ctx, MN_ERR_SHAPE,
                            "value must be a one-element tensor");
        if (mn_dtype_size(a->t->dtype) == 0)
            return mn_error(ctx, MN_ERR_UNSUPPORTED, "value of type %s",
                            mn_dtype_name(a->t->dtype));
        out[0]->dtype = a->t->dtype;
    }
    out[0]->ndim = k;
    for (int i = 0; i < k; i++)
        out[0]->dims[i] = dims[i];
    return MN_OK;
}

static mn_status cos_forward(const mn_node *n, const mn_tensor *const *in,
                             int n_in, mn_tensor *const *out, int n_out,
                             mn_exec *ex)
{
    const mn_attr *a = mn_node_attr(n, "value");
    int64_t cnt = mn_tensor_numel(out[0]);
    size_t es = mn_dtype_size(out[0]->dtype);
    (void)in, (void)n_in, (void)n_out, (void)ex;
    if (!a) {
        if (cnt)
            memset(out[0]->data, 0, (size_t)cnt * es);
        return MN_OK;
    }
    for (int64_t i = 0; i < cnt; i++)
        memcpy((char *)out[0]->data + (size_t)i * es, a->t->data, es);
    return MN_OK;
}

/* ---- Cast ---- */


static int cast_type_ok(mn_dtype dt)
{
    switch (dt) {
    case MN_DT_F32: case MN_DT_F16: case MN_DT_F64: case MN_DT_I8:
    case MN_DT_U8: case MN_DT_I16: case MN_DT_U16: case MN_DT_I32:
    case MN_DT_U32: case MN_DT_I64: case MN_DT_U64: case MN_DT_BOOL:
        return 1;
    default:
        return 0;
    }
}

static int is_float(mn_dtype dt)
{
    return dt == MN_DT_F32 || dt == MN_DT_F16 || dt == MN_DT_F64;
}

static mn_status cast_infer(const mn_node *n, const mn_tensor *const *in,
                            int n_in, mn_tensor *const *out, int n_out,
                            mn_ctx *ctx)
{
    const mn_attr *a = mn_node_attr(n, "to");
    (void)n_out;
    if (n_in < 1 || !in[0])
        return mn_error(ctx, MN_ERR_SHAPE, "missing data input");
    if (!a || a->type != MN_ATTR_INT)
        return mn_error(ctx, MN_ERR_PARSE, "missing 'to' attribute");
    if (a->i < 0 || a->i >= MN_DT_COUNT || !cast_type_ok((mn_dtype)a->i))
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "Cast to %s (type %lld)",
                        a->i >= 0 && a->i < MN_DT_COUNT
                            ? mn_dtype_name((mn_dtype)a->i) : "unknown",
                        (long long)a->i);
    if (!cast_type_ok(in[0]->dtype))
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "Cast from %s",
                        mn_dtype_name(in[0]->dtype));
    mn_tensor_copy_meta(out[0], in[0]);
    out[0]->dtype = (mn_dtype)a->i;
    return MN_OK;
}

/* Float to integer: truncation toward zero, saturated at the int64 range
 * (out-of-range conversion is undefined in C), NaN to 0. */
static int64_t f_to_i64(double v)
{
    if (v != v)
        return 0;
    if (v >= 9223372036854775807.0)
        return INT64_MAX;
    if (v <= -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)v;
}

/* Stores integer v into element i of p (type dt); narrower integer types
 * wrap like numpy's astype. */
static void store_int(mn_dtype dt, void *p, int64_t i, int64_t v)
{
    switch (dt) {
    case MN_DT_F32: ((float *)p)[i] = (float)v; break;
    case MN_DT_F64: ((double *)p)[i] = (double)v; break;
    case MN_DT_F16: ((uint16_t *)p)[i] = mn_f64_to_f16((double)v); break;
    case MN_DT_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    case MN_DT_I8: ((int8_t *)p)[i] = (int8_t)v; break;
    case MN_DT_U8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case MN_DT_I16: ((int16_t *)p)[i] = (int16_t)v; break;
    case MN_DT_U16: ((uint16_t *)p)[i] = (uint16_t)v; break;
    case MN_DT_I32: ((int32_t *)p)[i] = (int32_t)v; break;
    case MN_DT_U32: ((uint32_t *)p)[i] = (uint32_t)v; break;
    case MN_DT_I64: ((int64_t *)p)[i] = v; break;
    case MN_DT_U64: ((uint64_t *)p)[i] = (uint64_t)v; break;
    default: break;
    }
}

static void store_float(mn_dtype dt, void *p, int64_t i, double v)
{
    switch (dt) {
    case MN_DT_F32: ((float *)p)[i] = (float)v; break;
    case MN_DT_F64: ((double *)p)[i] = v; break;
    case MN_DT_F16: ((uint16_t *)p)[i] = mn_f64_to_f16(v); break;
    case MN_DT_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    case MN_DT_U64:
        ((uint64_t *)p)[i] = v >= 9223372036854775808.0 &&
                                     v < 18446744073709551616.0
                                 ? (uint64_t)v
                                 : (uint64_t)f_to_i64(v);
        break;
    default: store_int(dt, p, i, f_to_i64(v)); break;
    }
}

static mn_status cast_forward(const mn_node *n, const mn_tensor *const *in,
                              int n_in, mn_tensor *const *out, int n_out,
                              mn_exec *ex)
{
    const mn_tensor *x = in[0];
    mn_tensor *y = out[0];
    int64_t cnt = mn_tensor_numel(x);
    (void)n, (void)n_in, (void)n_out, (void)ex;
    if (cnt == 0)
        return MN_OK;
    if (x->dtype == y->dtype) {
        memcpy(y->data, x->data, mn_tensor_nbytes(x));
        return MN_OK;
    }
    if (y->dtype == MN_DT_I32 &&
        (x->dtype == MN_DT_U8 || x->dtype == MN_DT_I8)) {
        /* the int8 graph's lookup index: a tight widening loop */
        int32_t *d = y->data;
        if (x->dtype == MN_DT_U8)
            for (int64_t i = 0; i < cnt; i++)
                d[i] = ((const uint8_t *)x->data)[i];
        else
            for (int64_t i = 0; i < cnt; i++)
                d[i] = ((const int8_t *)x->data)[i];
        return MN_OK;
    }
    for (int64_t i = 0; i < cnt; i++) {
        if (x->dtype == MN_DT_F16)
            store_float(y->dtype, y->data, i,
                        mn_f16_to_f32(((const uint16_t *)x->data)[i]));
        else if (is_float(x->dtype))
            store_float(y->dtype, y->data, i, mn_tensor_get_f64(x, i));
        else if (x->dtype == MN_DT_U64 &&
                 ((const uint64_t *)x->data)[i] > (uint64_t)INT64_MAX &&
                 is_float(y->dtype))
            store_float(y->dtype, y->data, i,
                        (double)((const uint64_t *)x->data)[i]);
        else
            store_int(y->dtype, y->data, i, mn_tensor_get_i64(x, i));
    }
    return MN_OK;
}

/* ---- Expand ---- */

static mn_status expand_infer(const mn_node *n, const mn_tensor *const *in,
                              int n_in, mn_tensor *const *out, int n_out,
                              mn_ctx *ctx)
{
    mn_tensor s = {0};
    int k;
    mn_status st;
    (void)n, (void)n_out;
    if (n_in < 2 || !in[0] || !in[1])
        return mn_error(ctx, MN_ERR_SHAPE, "missing data or shape input");
    if ((st = const_shape(in[1], 0, s.dims, &k, ctx)) != MN_OK)
        return st;
    s.ndim = k;
    if ((st = mn_broadcast_shape(in[0], &s, out[0], ctx)) != MN_OK)
        return st;
    out[0]->dtype = in[0]->dtype;
    return MN_OK;
}

static mn_status expand_forward(const mn_node *n, const mn_tensor *const *in,
                                int n_in, mn_tensor *const *out, int n_out,
                                mn_exec *ex)
{
    const mn_tensor *x = in[0];
    mn_tensor *y = out[0];
    int r = y->ndim, off = y->ndim - x->ndim;
    int64_t xs[MN_MAX_DIMS], s[MN_MAX_DIMS], idx[MN_MAX_DIMS] = {0};
    int64_t total = mn_tensor_numel(y), cnt, rows, last;
    size_t es = mn_dtype_size(x->dtype);
    char *dst = y->data;
    (void)n, (void)n_in, (void)n_out, (void)ex;
    if (total == 0)
        return MN_OK;
    if (r == 0) {
        memcpy(dst, x->data, es);
        return MN_OK;
    }
    for (int64_t i = x->ndim - 1, st = 1; i >= 0; i--) {
        xs[i] = st;
        st *= x->dims[i];
    }
    for (int i = 0; i < r; i++) {
        int j = i - off;
        s[i] = j >= 0 && x->dims[j] != 1 ? xs[j] : 0;
    }
    cnt = y->dims[r - 1];
    last = s[r - 1];
    rows = total / cnt;
    for (int64_t row = 0; row < rows; row++) {
        int64_t o = 0;
        const char *src;
        for (int i = 0; i < r - 1; i++)
            o += idx[i] * s[i];
        src = (const char *)x->data + (size_t)o * es;
        if (last)
            memcpy(dst, src, (size_t)cnt * es);
        else
            for (int64_t j = 0; j < cnt; j++)
                memcpy(dst + (size_t)j * es, src, es);
        dst += (size_t)cnt * es;
        for (int i = r - 2; i >= 0; i--) {
            if (++idx[i] < y->dims[i])
                break;
            idx[i] = 0;
        }
    }
    return MN_OK;
}

const mn_op_def mn_opdef_shape = {
    .name = "Shape", .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .flags = MN_OPF_SHAPE_ONLY, .infer = shape_infer, .forward = shape_forward};
const mn_op_def mn_opdef_constant = {
    .name = "Constant", .min_in = 0, .max_in = 0, .min_out = 1, .max_out = 1,
    .flags = 0, .infer = constant_infer, .forward = constant_forward};
const mn_op_def mn_opdef_constantofshape = {
    .name = "ConstantOfShape", .min_in = 1, .max_in = 1, .min_out = 1,
    .max_out = 1, .flags = 0, .infer = cos_infer, .forward = cos_forward};
const mn_op_def mn_opdef_cast = {
    .name = "Cast", .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .flags = 0, .infer = cast_infer, .forward = cast_forward};
const mn_op_def mn_opdef_expand = {
    .name = "Expand", .min_in = 2, .max_in = 2, .min_out = 1, .max_out = 1,
    .flags = 0, .infer = expand_infer, .forward = expand_forward};
