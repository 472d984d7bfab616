/* QLinearConv and ConvInteger (8-bit x and w, 1-D and 2-D): shape rules and
 * reference forwards on the integer convolution kernel. Weight zero points
 * and scales may be per tensor or per output channel (axis 0). QLinearConv
 * requantizes with y = saturate(round_half_even(acc · x_scale·w_scale /
 * y_scale) + y_zero_point), the scale product taken in float32 and the
 * multiply in double, as the ONNX reference (numpy) does. */
#include <string.h>
#include "ops/conv_shape.h"

static int is_q8(mn_dtype t) { return t == MN_DT_U8 || t == MN_DT_I8; }
static size_t round64(size_t v) { return (v + 63) / 64 * 64; }

/* An optional zero point: dtype `want`, one value or `per` values. */
static mn_status check_param(const mn_tensor *t, mn_dtype want, int64_t per,
                             const char *what, mn_ctx *ctx)
{
    if (!t)
        return MN_OK;
    if (t->dtype != want)
        return mn_error(ctx, MN_ERR_SHAPE, "%s is %s, expected %s", what,
                        mn_dtype_name(t->dtype), mn_dtype_name(want));
    int64_t cnt = mn_tensor_numel(t);
    if (cnt != 1 && cnt != per) {
        char s[128];
        return mn_error(ctx, MN_ERR_SHAPE, "%s %s: expected 1%s value%s", what,
                        mn_shape_str(t, s, sizeof s),
                        per > 1 ? " or one per output channel" : "",
                        per > 1 ? "s" : "");
    }
    return MN_OK;
}

/* The part shared by both ops: 8-bit x and w, geometry, int32 safety. */
static mn_status qconv_common(const mn_node *n, const char *op,
                              const mn_tensor *x, const mn_tensor *w,
                              mn_conv_params *p, int64_t *dims, mn_ctx *ctx)
{
    mn_status st;
    if (!x || !w)
        return mn_error(ctx, MN_ERR_SHAPE, "%s needs inputs x and w", op);
    if (!is_q8(x->dtype) || !is_q8(w->dtype))
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "%s on %s x and %s w (int8/uint8 only)", op,
                        mn_dtype_name(x->dtype), mn_dtype_name(w->dtype));
    if ((st = mn_conv_setup(n, x, w, p, dims, ctx)) != MN_OK)
        return st;
    int64_t k = p->c / p->group * p->kh * p->kw;
    if (k > MN_REF_Q8_MAX_K)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "%s reduces over %lld terms; int32 accumulation could "
                        "overflow", op, (long long)k);
    return MN_OK;
}

/* Scratch: kernel workspace, then x zero point + per-channel w zero points,
 * then (QLinearConv) the int32 accumulators. */
static size_t qconv_scratch_bytes(const mn_conv_params *p, int with_acc)
{
    size_t b = round64(mn_ref_conv2d_q8_scratch(p));
    b += round64((size_t)(p->m + 1) * sizeof(int32_t));
    if (with_acc)
        b += (size_t)(p->n * p->m * p->oh * p->ow) * sizeof(int32_t);
    return b;
}

/* Fills the zero-point array and the two kernel operands. */
static void qconv_operands(const mn_tensor *x, const mn_tensor *xzp,
                           const mn_tensor *w, const mn_tensor *wzp,
                           int32_t *zps,
                           mn_q8_operand *xo, mn_q8_operand *wo)
{
    int64_t nw = mn_numel_opt(wzp);
    zps[0] = xzp ? (int32_t)mn_tensor_get_i64(xzp, 0) : 0;
    for (int64_t i = 0; i < nw; i++)
        zps[1 + i] = (int32_t)mn_tensor_get_i64(wzp, i);
    xo->data = x->data;
    xo->is_signed = x->dtype == MN_DT_I8;
    xo->zp = zps;
    xo->n_zp = 1;
    wo->data = w->data;
    wo->is_signed = w->dtype == MN_DT_I8;
    wo->zp = nw ? zps + 1 : NULL;
    wo->n_zp = nw ? nw : 1;
}

static void set_out(mn_tensor *o, mn_dtype dt, int ndim, const int64_t *dims)
{
    o->dtype = dt;
    o->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        o->dims[i] = dims[i];
}

/* ---- QLinearConv ---- */

enum { QX, QXS, QXZ, QW, QWS, QWZ, QYS, QYZ, QB };

static mn_status qlinearconv_check(const mn_node *n, const mn_tensor *const *in,
                                   int n_in, mn_conv_params *p, int64_t *dims,
                                   mn_ctx *ctx)
{
    static const char *const names[] = {"x_scale", "w_scale", "y_scale"};
    const int scales[] = {QXS, QWS, QYS};
    mn_status st;
    if (n_in < 8)
        return mn_error(ctx, MN_ERR_SHAPE, "QLinearConv needs 8 inputs");
    if ((st = qconv_common(n, "QLinearConv", in[QX], in[QW], p, dims, ctx)) !=
        MN_OK)
        return st;
    for (int i = 0; i < 3; i++) {
        const mn_tensor *s = in[scales[i]];
        if (!s || s->dtype != MN_DT_F32)
            return mn_error(ctx, MN_ERR_SHAPE, "%s must be a float32 tensor",
                            names[i]);
        if ((st = check_param(s, MN_DT_F32, scales[i] == QWS ? p->m : 1,
                              names[i], ctx)) != MN_OK)
            return st;
    }
    const mn_tensor *yz = in[QYZ], *b = n_in > QB ? in[QB] : NULL;
    if ((st = check_param(in[QXZ], in[QX]->dtype, 1, "x_zero_point",
                          ctx)) != MN_OK ||
        (st = check_param(in[QWZ], in[QW]->dtype, p->m, "w_zero_point",
                          ctx)) != MN_OK)
        return st;
    if (yz && (!is_q8(yz->dtype) || mn_tensor_numel(yz) != 1))
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "y_zero_point must be one int8/uint8 value");
    if (b && (b->dtype != MN_DT_I32 || b->ndim != 1 || b->dims[0] != p->m)) {
        char s[128];
        return mn_error(ctx, MN_ERR_SHAPE, "bias %s %s, expected int32 [%lld]",
                        mn_dtype_name(b->dtype), mn_shape_str(b, s, sizeof s),
                        (long long)p->m);
    }
    return MN_OK;
}

static mn_status qlinearconv_infer(const mn_node *n, const mn_tensor *const *in,
                                   int n_in, mn_tensor *const *out, int n_out,
                                   mn_ctx *ctx)
{
    mn_conv_params p;
    int64_t dims[MN_MAX_DIMS];
    mn_status st = qlinearconv_check(n, in, n_in, &p, dims, ctx);
    (void)n_out;
    if (st != MN_OK)
        return st;
    set_out(out[0], in[QYZ] ? in[QYZ]->dtype : MN_DT_U8, in[QX]->ndim, dims);
    return MN_OK;
}

static size_t qlinearconv_scratch(const mn_node *n, const mn_tensor *const *in,
                                  int n_in, const mn_tensor *const *out,
                                  int n_out)
{
    mn_conv_params p;
    int64_t dims[MN_MAX_DIMS];
    (void)out;
    (void)n_out;
    if (qlinearconv_check(n, in, n_in, &p, dims, NULL) != MN_OK)
        return 0;
    return qconv_scratch_bytes(&p, 1);
}

static mn_status qlinearconv_forward(const mn_node *n,
                                     const mn_tensor *const *in, int n_in,
                                     mn_tensor *const *out, int n_out,
                                     mn_exec *ex)
{
    mn_conv_params p;
    int64_t dims[MN_MAX_DIMS];
    mn_q8_operand xo, wo;
    mn_status st = qlinearconv_check(n, in, n_in, &p, dims, ex->ctx);
    (void)n_out;
    if (st != MN_OK)
        return st;
    if (ex->scratch_bytes < qconv_scratch_bytes(&p, 1))
        return mn_error(ex->ctx, MN_ERR_RUNTIME,
                        "QLinearConv: scratch too small");
    char *sc = ex->scratch;
    size_t kbytes = round64(mn_ref_conv2d_q8_scratch(&p));
    int32_t *zps = (int32_t *)(sc + kbytes);
    int32_t *acc =
        (int32_t *)(sc + kbytes + round64((size_t)(p.m + 1) * sizeof(int32_t)));
    qconv_operands(in[QX], in[QXZ], in[QW], in[QWZ], zps, &xo, &wo);
    mn_ref_conv2d_q8(&p, &xo, &wo, acc, sc);

    const mn_tensor *yz = in[QYZ], *b = n_in > QB ? in[QB] : NULL;
    const float *ws = in[QWS]->data;
    float xs = *(const float *)in[QXS]->data;
    float ys = *(const float *)in[QYS]->data;
    int64_t nws = mn_tensor_numel(in[QWS]), ohw = p.oh * p.ow;
    int32_t yzp = yz ? (int32_t)mn_tensor_get_i64(yz, 0) : 0;
    int sgn = out[0]->dtype == MN_DT_I8;
    int32_t lo = sgn ? -128 : 0, hi = sgn ? 127 : 255;
    const int32_t *bias = b ? b->data : NULL;
    for (int64_t in_ = 0; in_ < p.n; in_++)
        for (int64_t m = 0; m < p.m; m++) {
            float prod = xs * ws[nws > 1 ? m : 0];
            double mult = (double)(float)(prod / ys);
            int64_t off = (in_ * p.m + m) * ohw;
            int64_t bv = bias ? bias[m] : 0;
            for (int64_t i = 0; i < ohw; i++) {
                int32_t v = mn_ref_requantize((int64_t)acc[off + i] + bv, mult,
                                              yzp, lo, hi);
                if (sgn)
                    ((int8_t *)out[0]->data)[off + i] = (int8_t)v;
                else
                    ((uint8_t *)out[0]->data)[off + i] = (uint8_t)v;
            }
        }
    return MN_OK;
}

const mn_op_def mn_opdef_qlinearconv = {
    .name = "QLinearConv",
    .min_in = 8,
    .max_in = 9,
    .min_out = 1,
    .max_out = 1,
    .flags = 0,
    .infer = qlinearconv_infer,
    .scratch = qlinearconv_scratch,
    .forward = qlinearconv_forward,
};

/* ---- ConvInteger ---- */

static mn_status convinteger_check(const mn_node *n, const mn_tensor *const *in,
                                   int n_in, mn_conv_params *p, int64_t *dims,
                                   mn_ctx *ctx)
{
    const mn_tensor *xz = n_in > 2 ? in[2] : NULL;
    const mn_tensor *wz = n_in > 3 ? in[3] : NULL;
    mn_status st = qconv_common(n, "ConvInteger", in[0],
                                n_in > 1 ? in[1] : NULL, p, dims, ctx);
    if (st != MN_OK)
        return st;
    if ((st = check_param(xz, in[0]->dtype, 1, "x_zero_point", ctx)) != MN_OK)
        return st;
    return check_param(wz, in[1]->dtype, p->m, "w_zero_point", ctx);
}

static mn_status convinteger_infer(const mn_node *n, const mn_tensor *const *in,
                                   int n_in, mn_tensor *const *out, int n_out,
                                   mn_ctx *ctx)
{
    mn_conv_params p;
    int64_t dims[MN_MAX_DIMS];
    mn_status st = convinteger_check(n, in, n_in, &p, dims, ctx);
    (void)n_out;
    if (st != MN_OK)
        return st;
    set_out(out[0], MN_DT_I32, in[0]->ndim, dims);
    return MN_OK;
}

static size_t convinteger_scratch(const mn_node *n, const mn_tensor *const *in,
                                  int n_in, const mn_tensor *const *out,
                                  int n_out)
{
    mn_conv_params p;
    int64_t dims[MN_MAX_DIMS];
    (void)out;
    (void)n_out;
    if (convinteger_check(n, in, n_in, &p, dims, NULL) != MN_OK)
        return 0;
    return qconv_scratch_bytes(&p, 0);
}

static mn_status convinteger_forward(const mn_node *n,
                                     const mn_tensor *const *in, int n_in,
                                     mn_tensor *const *out, int n_out,
                                     mn_exec *ex)
{
    mn_conv_params p;
    int64_t dims[MN_MAX_DIMS];
    mn_q8_operand xo, wo;
    mn_status st = convinteger_check(n, in, n_in, &p, dims, ex->ctx);
    (void)n_out;
    if (st != MN_OK)
        return st;
    if (ex->scratch_bytes < qconv_scratch_bytes(&p, 0))
        return mn_error(ex->ctx, MN_ERR_RUNTIME,
                        "ConvInteger: scratch too small");
    char *sc = ex->scratch;
    int32_t *zps = (int32_t *)(sc + round64(mn_ref_conv2d_q8_scratch(&p)));
    qconv_operands(in[0], n_in > 2 ? in[2] : NULL, in[1],
                   n_in > 3 ? in[3] : NULL, zps, &xo, &wo);
    mn_ref_conv2d_q8(&p, &xo, &wo, out[0]->data, sc);
    return MN_OK;
}

const mn_op_def mn_opdef_convinteger = {
    .name = "ConvInteger",
    .min_in = 2,
    .max_in = 4,
    .min_out = 1,
    .max_out = 1,
    .flags = 0,
    .infer = convinteger_infer,
    .scratch = convinteger_scratch,
    .forward = convinteger_forward,
};
