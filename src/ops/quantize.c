/* Linear (de)quantization: QuantizeLinear, DequantizeLinear (per tensor or
 * per axis) and DynamicQuantizeLinear (uint8, range from the data).
 *
 * Arithmetic follows the ONNX reference in float32: y = saturate(
 * round_half_even(x / scale) + zero_point), x = (q - zero_point) * scale.
 *
 * DequantizeLinear also has opset 21's forms: 4-bit input (int4/uint4,
 * packed two per byte), a float16 scale (the output is then float16, as the
 * output takes the scale's type), and blocked quantization: with
 * block_size B > 0 the scale (and zero point) has x's rank and shape except
 * dims[axis] = ceil(D / B), and element d along the axis uses parameter
 * d / B. (ONNX accepts a few larger scale extents whose extra entries are
 * never read; minnow asks for exactly ceil(D / B).) */
#include <math.h>
#include <string.h>
#include "kernels/qelem.h"
#include "ops/ops.h"

static int is_qtype(mn_dtype dt)
{
    return dt == MN_DT_U8 || dt == MN_DT_I8 || dt == MN_DT_U16 ||
           dt == MN_DT_I16;
}

static void qrange(mn_dtype dt, float *lo, float *hi)
{
    switch (dt) {
    case MN_DT_I8: *lo = -128.0f, *hi = 127.0f; break;
    case MN_DT_U16: *lo = 0.0f, *hi = 65535.0f; break;
    case MN_DT_I16: *lo = -32768.0f, *hi = 32767.0f; break;
    default: *lo = 0.0f, *hi = 255.0f; break;
    }
}

/* Validates scale / zero point against x. *axis = -1 for per tensor;
 * *block = 0 for per tensor / per axis, else the block size (blocked). */
static mn_status check_params(const mn_node *n, const mn_tensor *x,
                              const mn_tensor *scale, const mn_tensor *zp,
                              int *axis, int64_t *block, mn_ctx *ctx)
{
    int64_t ns, bs = mn_node_attr_int(n, "block_size", 0);
    *axis = -1;
    *block = 0;
    if (scale->dtype != MN_DT_F32 && scale->dtype != MN_DT_F16)
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "scale of type %s",
                        mn_dtype_name(scale->dtype));
    if (bs < 0)
        return mn_error(ctx, MN_ERR_PARSE, "block_size %lld", (long long)bs);
    ns = mn_tensor_numel(scale);
    if (bs > 0) { /* blocked: scale has x's shape but ceil(D/B) on axis */
        mn_status st;
        if (x->ndim == 0 || scale->ndim != x->ndim)
            return mn_error(ctx, MN_ERR_SHAPE, "blocked scale has rank %d, "
                            "x has rank %d", scale->ndim, x->ndim);
        st = mn_norm_axis(mn_node_attr_int(n, "axis", 1), x->ndim, axis,
                          ctx);
        if (st != MN_OK)
            return st;
        for (int i = 0; i < x->ndim; i++) {
            int64_t want = i == *axis ? (x->dims[i] + bs - 1) / bs
                                      : x->dims[i];
            if (scale->dims[i] != want)
                return mn_error(ctx, MN_ERR_SHAPE,
                                "blocked scale dim %d is %lld, expected %lld "
                                "(block_size %lld)", i,
                                (long long)scale->dims[i], (long long)want,
                                (long long)bs);
        }
        *block = bs;
    } else if (scale->ndim > 1) {
        return mn_error(ctx, MN_ERR_SHAPE, "scale has rank %d (0 or 1)",
                        scale->ndim);
    } else if (scale->ndim == 1 && ns != 1) { /* one value is per tensor */
        mn_status st;
        if (x->ndim == 0)
            return mn_error(ctx, MN_ERR_SHAPE, "%lld scales for a scalar",
                            (long long)ns);
        st = mn_norm_axis(mn_node_attr_int(n, "axis", 1), x->ndim, axis,
                          ctx);
        if (st != MN_OK)
            return st;
        if (ns != x->dims[*axis])
            return mn_error(ctx, MN_ERR_SHAPE,
                            "%lld scales for axis %d of size %lld",
                            (long long)ns, *axis, (long long)x->dims[*axis]);
    } else if (ns != 1) {
        return mn_error(ctx, MN_ERR_SHAPE, "scale has %lld values",
                        (long long)ns);
    }
    if (zp) {
        int same = zp->ndim == scale->ndim || (bs == 0 && ns == 1);
        for (int i = 0; same && bs > 0 && i < zp->ndim; i++)
            same = zp->dims[i] == scale->dims[i];
        if (!same || mn_tensor_numel(zp) != ns ||
            (ns != 1 && zp->ndim != scale->ndim))
            return mn_error(ctx, MN_ERR_SHAPE,
                            "zero point and scale differ in shape");
    }
    return MN_OK;
}

/* x as [outer, c, inner] for a per-axis parameter on axis (c = 1 when
 * per tensor). */
static void split_dims(const mn_tensor *x, int axis, int64_t *outer,
                       int64_t *c, int64_t *inner)
{
    *outer = *inner = *c = 1;
    if (axis < 0) {
        *inner = mn_tensor_numel(x);
        return;
    }
    for (int i = 0; i < axis; i++)
        *outer *= x->dims[i];
    *c = x->dims[axis];
    for (int i = axis + 1; i < x->ndim; i++)
        *inner *= x->dims[i];
}

static void store_q(mn_dtype dt, void *p, int64_t i, float v)
{
    switch (dt) {
    case MN_DT_I8: ((int8_t *)p)[i] = (int8_t)v; break;
    case MN_DT_U16: ((uint16_t *)p)[i] = (uint16_t)v; break;
    case MN_DT_I16: ((int16_t *)p)[i] = (int16_t)v; break;
    default: ((uint8_t *)p)[i] = (uint8_t)v; break;
    }
}

/* round_half_even(x / s) + zp, saturated to [lo, hi]; NaN gives zp. */
static float quantize1(float x, float s, float zp, float lo, float hi)
{
    float v = rintf(x / s) + zp;
    if (v != v)
        return zp;
    return v < lo ? lo : v > hi ? hi : v;
}

/* ---- QuantizeLinear ---- */

static mn_status q_infer(const mn_node *n, const mn_tensor *const *in,
                         int n_in, mn_tensor *const *out, int n_out,
                         mn_ctx *ctx)
{
    const mn_tensor *zp = n_in >= 3 ? in[2] : NULL;
    int axis;
    int64_t blk;
    mn_status st;
    (void)n_out;
    if (n_in < 2 || !in[0] || !in[1])
        return mn_error(ctx, MN_ERR_SHAPE, "missing x or scale input");
    if (in[0]->dtype != MN_DT_F32 && in[0]->dtype != MN_DT_I32)
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "quantizing %s",
                        mn_dtype_name(in[0]->dtype));
    if (zp && !is_qtype(zp->dtype))
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "zero point of type %s",
                        mn_dtype_name(zp->dtype));
    if (mn_node_attr_int(n, "block_size", 0) != 0 ||
        mn_node_attr(n, "output_dtype"))
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "blocked QuantizeLinear or output_dtype");
    if (in[1]->dtype != MN_DT_F32)
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "scale of type %s",
                        mn_dtype_name(in[1]->dtype));
    if ((st = check_params(n, in[0], in[1], zp, &axis, &blk, ctx)) != MN_OK)
        return st;
    mn_tensor_copy_meta(out[0], in[0]);
    out[0]->dtype = zp ? zp->dtype : MN_DT_U8;
    return MN_OK;
}

static mn_status q_forward(const mn_node *n, const mn_tensor *const *in,
                           int n_in, mn_tensor *const *out, int n_out,
                           mn_exec *ex)
{
    const mn_tensor *x = in[0], *sc = in[1];
    const mn_tensor *zp = n_in >= 3 ? in[2] : NULL;
    mn_dtype qt = out[0]->dtype;
    int axis;
    int64_t outer, c, inner, i = 0, blk;
    float lo, hi;
    (void)n_out;
    check_params(n, x, sc, zp, &axis, &blk, ex->ctx);
    split_dims(x, axis, &outer, &c, &inner);
    qrange(qt, &lo, &hi);
    int fast = x->dtype == MN_DT_F32 && (qt == MN_DT_U8 || qt == MN_DT_I8);
    const mn_kernels_qelem *kq = mn_kernels_qelem_active();
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < c; k++) {
            float s = ((const float *)sc->data)[k];
            float z = zp ? (float)mn_tensor_get_i64(zp, k) : 0.0f;
            if (fast) { /* the kernel's arithmetic is quantize1's */
                kq->quantize((const float *)x->data + i, inner, s,
                             (int32_t)z, qt == MN_DT_I8,
                             (uint8_t *)out[0]->data + i);
                i += inner;
                continue;
            }
            for (int64_t j = 0; j < inner; j++, i++) {
                float v = x->dtype == MN_DT_F32
                              ? ((const float *)x->data)[i]
                              : (float)((const int32_t *)x->data)[i];
                store_q(qt, out[0]->data, i, quantize1(v, s, z, lo, hi));
            }
        }
    return MN_OK;
}

/* ---- DequantizeLinear ---- */

static int is_dq_type(mn_dtype dt)
{
    return is_qtype(dt) || dt == MN_DT_I32 || dt == MN_DT_I4 ||
           dt == MN_DT_U4;
}

static mn_status dq_infer(const mn_node *n, const mn_tensor *const *in,
                          int n_in, mn_tensor *const *out, int n_out,
                          mn_ctx *ctx)
{
    const mn_tensor *zp = n_in >= 3 ? in[2] : NULL;
    int axis;
    int64_t blk;
    mn_status st;
    (void)n_out;
    if (n_in < 2 || !in[0] || !in[1])
        return mn_error(ctx, MN_ERR_SHAPE, "missing x or scale input");
    if (!is_dq_type(in[0]->dtype))
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "dequantizing %s",
                        mn_dtype_name(in[0]->dtype));
    if (zp && zp->dtype != in[0]->dtype)
        return mn_error(ctx, MN_ERR_SHAPE, "zero point is %s, x is %s",
                        mn_dtype_name(zp->dtype), mn_dtype_name(in[0]->dtype));
    if ((st = check_params(n, in[0], in[1], zp, &axis, &blk, ctx)) != MN_OK)
        return st;
    mn_tensor_copy_meta(out[0], in[0]);
    out[0]->dtype = in[1]->dtype; /* float32, or float16 (opset 19+) */
    return MN_OK;
}

static mn_status dq_forward(const mn_node *n, const mn_tensor *const *in,
                            int n_in, mn_tensor *const *out, int n_out,
                            mn_exec *ex)
{
    const mn_tensor *x = in[0], *sc = in[1];
    const mn_tensor *zp = n_in >= 3 ? in[2] : NULL;
    float *y = out[0]->data;
    uint16_t *yh = out[0]->data;
    int axis, half = out[0]->dtype == MN_DT_F16;
    int64_t outer, c, inner, i = 0, blk;
    (void)n_out;
    check_params(n, x, sc, zp, &axis, &blk, ex->ctx);
    split_dims(x, axis, &outer, &c, &inner);
    int fast = !blk && !half && sc->dtype == MN_DT_F32 &&
               (x->dtype == MN_DT_U8 || x->dtype == MN_DT_I8);
    const mn_kernels_qelem *kq = mn_kernels_qelem_active();
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < c; k++) {
            /* parameter index of (o, k, 0): blocked [outer, c/B, inner] */
            int64_t p = blk ? (o * ((c + blk - 1) / blk) + k / blk) * inner
                            : k;
            if (fast) {
                float s = ((const float *)sc->data)[k];
                int64_t z = zp ? mn_tensor_get_i64(zp, k) : 0;
                kq->dequantize((const uint8_t *)x->data + i, inner,
                               x->dtype == MN_DT_I8, s, (int32_t)z, y + i);
                i += inner;
                continue;
            }
            for (int64_t j = 0; j < inner; j++, i++) {
                int64_t pj = blk ? p + j : p;
                float s = (float)mn_tensor_get_f64(sc, pj);
                int64_t z = zp ? mn_tensor_get_i64(zp, pj) : 0;
                float v = (float)(mn_tensor_get_i64(x, i) - z) * s;
                if (half)
                    yh[i] = mn_f64_to_f16(v);
                else
                    y[i] = v;
            }
        }
    return MN_OK;
}

/* ---- DynamicQuantizeLinear ---- */

static mn_status dyn_infer(const mn_node *n, const mn_tensor *const *in,
                           int n_in, mn_tensor *const *out, int n_out,
                           mn_ctx *ctx)
{
    (void)n;
    if (n_in < 1 || !in[0])
        return mn_error(ctx, MN_ERR_SHAPE, "missing x input");
    if (n_out != 3)
        return mn_error(ctx, MN_ERR_SHAPE, "%d outputs (expected 3)", n_out);
    if (in[0]->dtype != MN_DT_F32)
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "quantizing %s",
                        mn_dtype_name(in[0]->dtype));
    mn_tensor_copy_meta(out[0], in[0]);
    out[0]->dtype = MN_DT_U8;
    out[1]->dtype = MN_DT_F32;
    out[1]->ndim = 0;
    out[2]->dtype = MN_DT_U8;
    out[2]->ndim = 0;
    return MN_OK;
}

static mn_status dyn_forward(const mn_node *n, const mn_tensor *const *in,
                             int n_in, mn_tensor *const *out, int n_out,
                             mn_exec *ex)
{
    const float *x = in[0]->data;
    uint8_t *y = out[0]->data;
    int64_t cnt = mn_tensor_numel(in[0]);
    float mn = 0.0f, mx = 0.0f, scale, zp;
    (void)n, (void)n_in, (void)n_out, (void)ex;
    for (int64_t i = 0; i < cnt; i++) {
        mn = x[i] < mn ? x[i] : mn;
        mx = x[i] > mx ? x[i] : mx;
    }
    scale = (mx - mn) / 255.0f;
    if (scale == 0.0f) {
        /* all zeros: every quantized value is the zero point 0 */
        if (cnt)
            memset(y, 0, (size_t)cnt);
        zp = 0.0f;
    } else {
        zp = rintf(0.0f - mn / scale);
        zp = zp < 0.0f ? 0.0f : zp > 255.0f ? 255.0f : zp;
        for (int64_t i = 0; i < cnt; i++)
            y[i] = (uint8_t)quantize1(x[i], scale, zp, 0.0f, 255.0f);
    }
    *(float *)out[1]->data = scale;
    *(uint8_t *)out[2]->data = (uint8_t)zp;
    return MN_OK;
}

const mn_op_def mn_opdef_quantizelinear = {
    .name = "QuantizeLinear", .min_in = 2, .max_in = 3, .min_out = 1,
    .max_out = 1, .flags = 0, .infer = q_infer, .forward = q_forward};
const mn_op_def mn_opdef_dequantizelinear = {
    .name = "DequantizeLinear", .min_in = 2, .max_in = 3, .min_out = 1,
    .max_out = 1, .flags = 0, .infer = dq_infer, .forward = dq_forward};
const mn_op_def mn_opdef_dynamicquantizelinear = {
    .name = "DynamicQuantizeLinear", .min_in = 1, .max_in = 1, .min_out = 3,
    .max_out = 3, .flags = 0, .infer = dyn_infer, .forward = dyn_forward};
