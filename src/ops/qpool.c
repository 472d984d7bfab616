/* ONNX Runtime's quantized pooling and concatenation (com.microsoft
 * domain, 8-bit per-tensor parameters): QLinearGlobalAveragePool and
 * QLinearConcat. Arithmetic follows ONNX Runtime's (MLAS) kernels:
 *  - QLinearGlobalAveragePool: acc = Σx - zx·HW in int32, then
 *    y = saturate(round_half_even(float(acc) · s) + zy) with
 *    s = sx / (sy · float(HW)) in float32 (the value clamped to the output
 *    range before rounding, as MlasRequantizeOutput does). channels_last
 *    (NHWC) and the default NCHW layout.
 *  - QLinearConcat: an input with the output's parameters is copied; any
 *    other is requantized, y = saturate(round_half_even(sx·(x - zx) / sy)
 *    + zy) in float32 (ONNX Runtime's lookup table holds those values). */
#include <math.h>
#include <string.h>
#include "core/pool.h"
#include "kernels/qelem.h"
#include "ops/qlinear_util.h"

/* round_half_even(v) + zp saturated to the 8-bit range of y. */
static void st_round(void *p, int i8, int64_t i, float v, int32_t zp)
{
    float lo = (float)((i8 ? -128 : 0) - zp);
    float hi = (float)((i8 ? 127 : 255) - zp);
    int32_t q;
    v = !(v == v) ? 0.0f : v < lo ? lo : v > hi ? hi : v;
    q = (int32_t)rintf(v) + zp;
    if (i8)
        ((int8_t *)p)[i] = (int8_t)q;
    else
        ((uint8_t *)p)[i] = (uint8_t)q;
}

/* ---- QLinearGlobalAveragePool ----
 * inputs: X, x_scale, x_zero_point, y_scale, y_zero_point */

static mn_status qgap_infer(const mn_node *n, const mn_tensor *const *in,
                            int n_in, mn_tensor *const *out, int n_out,
                            mn_ctx *ctx)
{
    const mn_tensor *x = in[0];
    int last = mn_node_attr_int(n, "channels_last", 0) != 0;
    int64_t hw = 1;
    char s[128];
    mn_status st;
    (void)n_in, (void)n_out;
    if (!x || !mn_ql8(x->dtype))
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "input X must be uint8 or "
                        "int8");
    if (x->ndim < 3)
        return mn_error(ctx, MN_ERR_SHAPE,
                        "input %s: expected [N,C,D1,...] (or [N,D1,...,C])",
                        mn_shape_str(x, s, sizeof s));
    if ((st = mn_ql_check_qparams(in[1], in[2], x->dtype, "x", ctx)) != MN_OK ||
        (st = mn_ql_check_qparams(in[3], in[4], x->dtype, "y", ctx)) != MN_OK)
        return st;
    for (int i = 0; i < x->ndim - 2; i++)
        hw *= x->dims[last ? 1 + i : 2 + i];
    /* the int32 sum of 255·HW must not overflow (ONNX Runtime: < 2^24) */
    if (hw >= (1 << 23))
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "pooling over %lld values "
                        "(at most 2^23)", (long long)hw);
    mn_tensor_copy_meta(out[0], x);
    for (int i = 0; i < x->ndim - 2; i++)
        out[0]->dims[last ? 1 + i : 2 + i] = 1;
    return MN_OK;
}

/* Planes [t·per, (t+1)·per) of an NCHW QLinearGlobalAveragePool. */
typedef struct qgap_job {
    const mn_kernels_qelem *kq;
    const uint8_t *x;
    void *y;
    int64_t hw, planes, per;
    int32_t zx, zy;
    float s;
    int i8;
} qgap_job;

static void qgap_task(void *arg, int64_t t, int thread)
{
    const qgap_job *J = arg;
    int64_t hi = (t + 1) * J->per < J->planes ? (t + 1) * J->per : J->planes;
    (void)thread;
    int32_t sums[64];
    for (int64_t k0 = t * J->per; k0 < hi; k0 += 64) {
        int64_t np = hi - k0 < 64 ? hi - k0 : 64;
        J->kq->sums8(J->x + k0 * J->hw, np, J->hw, J->i8, sums);
        for (int64_t k = 0; k < np; k++) {
            int32_t acc = -J->zx * (int32_t)J->hw + sums[k];
            st_round(J->y, J->i8, k0 + k, (float)acc * J->s, J->zy);
        }
    }
}

static mn_status qgap_forward(const mn_node *n, const mn_tensor *const *in,
                              int n_in, mn_tensor *const *out, int n_out,
                              mn_exec *ex)
{
    const mn_tensor *x = in[0];
    int last = mn_node_attr_int(n, "channels_last", 0) != 0;
    int i8 = x->dtype == MN_DT_I8;
    int64_t nb = x->dims[0], c = x->dims[last ? x->ndim - 1 : 1], hw = 1;
    int32_t zx = mn_ql_zp(in[2]), zy = mn_ql_zp(in[4]);
    float s;
    (void)n_in, (void)n_out;
    for (int i = 0; i < x->ndim - 2; i++)
        hw *= x->dims[last ? 1 + i : 2 + i];
    s = *(const float *)in[1]->data /
        (*(const float *)in[3]->data * (float)hw);
    if (!last) { /* a channel's plane is contiguous: planes over the pool */
        qgap_job J = {mn_kernels_qelem_active(), x->data, out[0]->data, hw,
                      nb * c, nb * c, zx, zy, s, i8};
        int64_t parts = 4 * (int64_t)mn_pool_threads(ex->pool);
        mn_pool *pool = parts > 4 && nb * c * hw >= 65536 ? ex->pool : NULL;
        if (pool)
            J.per = (J.planes + parts - 1) / parts;
        mn_pool_run(pool, qgap_task, &J, (J.planes + J.per - 1) / J.per);
        return MN_OK;
    }
    for (int64_t b = 0; b < nb; b++)
        for (int64_t k = 0; k < c; k++) {
            int32_t acc = -zx * (int32_t)hw;
            for (int64_t j = 0; j < hw; j++)
                acc += mn_ql_ld8(x->data, i8, (b * hw + j) * c + k);
            st_round(out[0]->data, i8, b * c + k, (float)acc * s, zy);
        }
    return MN_OK;
}

const mn_op_def mn_opdef_qlinearglobalavgpool = {
    .name = "QLinearGlobalAveragePool", .min_in = 5, .max_in = 5,
    .min_out = 1, .max_out = 1, .flags = MN_OPF_MS_DOMAIN,
    .infer = qgap_infer, .forward = qgap_forward};

/* ---- QLinearConcat ----
 * inputs: Y_scale, Y_zero_point, then (X, X_scale, X_zero_point) per
 * input; attribute axis */

static mn_status qconcat_infer(const mn_node *n, const mn_tensor *const *in,
                               int n_in, mn_tensor *const *out, int n_out,
                               mn_ctx *ctx)
{
    const mn_attr *aa = mn_node_attr(n, "axis");
    const mn_tensor *x0 = n_in > 2 ? in[2] : NULL;
    int axis, r;
    int64_t sum = 0;
    mn_status st;
    (void)n_out;
    if ((n_in - 2) % 3 != 0 || n_in < 5)
        return mn_error(ctx, MN_ERR_SHAPE, "%d inputs (Y_scale, Y_zero_point "
                        "and a triple per input expected)", n_in);
    if (!aa || aa->type != MN_ATTR_INT)
        return mn_error(ctx, MN_ERR_PARSE, "missing axis attribute");
    if (!x0 || !mn_ql8(x0->dtype))
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "inputs must be uint8 or "
                        "int8");
    r = x0->ndim;
    if (r == 0)
        return mn_error(ctx, MN_ERR_SHAPE, "cannot concatenate scalars");
    if ((st = mn_norm_axis(aa->i, r, &axis, ctx)) != MN_OK ||
        (st = mn_ql_check_qparams(in[0], in[1], x0->dtype, "Y", ctx)) != MN_OK)
        return st;
    if (!in[1])
        return mn_error(ctx, MN_ERR_SHAPE, "missing Y_zero_point");
    for (int i = 2; i < n_in; i += 3) {
        const mn_tensor *t = in[i];
        char b0[128], bi[128];
        if (!t || t->dtype != x0->dtype)
            return mn_error(ctx, MN_ERR_SHAPE, "input %d is absent or not %s",
                            (i - 2) / 3, mn_dtype_name(x0->dtype));
        if ((st = mn_ql_check_qparams(in[i + 1], in[i + 2], x0->dtype, "X",
                                      ctx)) != MN_OK)
            return st;
        if (t->ndim != r)
            goto mismatch;
        for (int k = 0; k < r; k++)
            if (k != axis && t->dims[k] != x0->dims[k])
                goto mismatch;
        sum += t->dims[axis];
        continue;
    mismatch:
        return mn_error(ctx, MN_ERR_SHAPE,
                        "input %d shape %s does not match input 0 shape %s "
                        "outside axis %d", (i - 2) / 3,
                        mn_shape_str(t, bi, sizeof bi),
                        mn_shape_str(x0, b0, sizeof b0), axis);
    }
    mn_tensor_copy_meta(out[0], x0);
    out[0]->dims[axis] = sum;
    return MN_OK;
}

static mn_status qconcat_forward(const mn_node *n, const mn_tensor *const *in,
                                 int n_in, mn_tensor *const *out,
                                 int n_out, mn_exec *ex)
{
    mn_tensor *y = out[0];
    int axis = 0, i8 = y->dtype == MN_DT_I8;
    int64_t outer = 1, inner = 1, off = 0, ycols;
    float sy = *(const float *)in[0]->data;
    int32_t zy = mn_ql_zp(in[1]);
    (void)n_out;
    mn_norm_axis(mn_node_attr_int(n, "axis", 0), y->ndim, &axis, ex->ctx);
    for (int k = 0; k < axis; k++)
        outer *= y->dims[k];
    for (int k = axis + 1; k < y->ndim; k++)
        inner *= y->dims[k];
    ycols = y->dims[axis] * inner;
    for (int i = 2; i < n_in; i += 3) {
        const mn_tensor *x = in[i];
        float sx = *(const float *)in[i + 1]->data;
        int32_t zx = mn_ql_zp(in[i + 2]);
        int64_t cols = x->dims[axis] * inner;
        int copy = sx == sy && zx == zy;
        for (int64_t o = 0; o < outer; o++) {
            int64_t src = o * cols, dst = o * ycols + off;
            if (copy) {
                memcpy((char *)y->data + dst, (const char *)x->data + src,
                       (size_t)cols);
                continue;
            }
            for (int64_t j = 0; j < cols; j++)
                st_round(y->data, i8, dst + j,
                         sx * (float)(mn_ql_ld8(x->data, i8, src + j) - zx) /
                             sy,
                         zy);
        }
        off += cols;
    }
    return MN_OK;
}

const mn_op_def mn_opdef_qlinearconcat = {
    .name = "QLinearConcat", .min_in = 5, .max_in = 3 * 64 + 2,
    .min_out = 1, .max_out = 1, .flags = MN_OPF_MS_DOMAIN,
    .infer = qconcat_infer, .forward = qconcat_forward};
