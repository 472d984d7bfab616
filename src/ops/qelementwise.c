/* ONNX Runtime's quantized elementwise ops (com.microsoft domain, 8-bit
 * per-tensor parameters): QLinearAdd and QLinearMul with numpy
 * broadcasting, QLinearSigmoid and QLinearLeakyRelu.
 *
 * Arithmetic follows ONNX Runtime's x86 kernels (MLAS), so that minnow and
 * ONNX Runtime give the same bytes:
 *  - QLinearAdd in fixed point (same-shape inputs: in chunks on the
 *    pool): with rA = sa/sc, rB = sb/sc (float32),
 *    shift = 21 - exponent(max(rA, rB)), MA = lrint(rA·2^shift), MB
 *    likewise, acc = MA·(a - za) + MB·(b - zb) is rounded to nearest, ties
 *    away from zero, shifted right by `shift`, then saturated to int16,
 *    the zero point added with int16 saturation, saturated to 8 bits.
 *    ONNX Runtime requires 2^-14 ≤ rA, rB < 256; outside that range, or
 *    when the larger ratio is below 2^-9 (a shift past 30 bits), minnow
 *    computes round_half_even((sa·(a-za) + sb·(b-zb)) / sc) + zc in
 *    float (the lowering never creates such a node).
 *  - QLinearMul: round_half_even(float((a-za)·(b-zb)) · (sa·sb/sc)) + zc,
 *    saturated.
 *  - QLinearSigmoid / QLinearLeakyRelu: a table over the 256 inputs:
 *    y = saturate(round_half_even(f(sx·(x - zx)) / sy) + zy), computed per
 *    element (no allocation while running). ONNX Runtime's sigmoid is an
 *    approximation of the exact 1/(1+e^-x) minnow uses, so a table entry
 *    can differ by one unit where f lands on a rounding boundary. */
#include <math.h>
#include <string.h>
#include "kernels/qelem.h"
#include "ops/broadcast.h"
#include "ops/qlinear_util.h"

static float scale_of(const mn_tensor *s) { return *(const float *)s->data; }

static int32_t sat(int64_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : v > hi ? hi : (int32_t)v;
}

static void st8(void *p, int i8, int64_t i, int32_t v)
{
    if (i8)
        ((int8_t *)p)[i] = (int8_t)sat(v, -128, 127);
    else
        ((uint8_t *)p)[i] = (uint8_t)sat(v, 0, 255);
}

/* float → int32 with round half to even, saturated (NaN → 0). */
static int32_t rne_i32(float v)
{
    float r = rintf(v);
    if (!(r == r))
        return 0;
    return r >= 2147483520.0f ? INT32_MAX
           : r <= -2147483648.0f ? INT32_MIN
                                 : (int32_t)r;
}

/* ---- QLinearAdd / QLinearMul ----
 * inputs: A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale
 * [, C_zero_point] (zero points may be absent: empty names) */

static mn_status qbin_infer(const mn_node *n, const mn_tensor *const *in,
                            int n_in, mn_tensor *const *out, int n_out,
                            mn_ctx *ctx)
{
    const mn_tensor *a = in[0], *b = in[3];
    mn_status st;
    (void)n, (void)n_out;
    if (!a || !b)
        return mn_error(ctx, MN_ERR_SHAPE, "missing input A or B");
    if (!mn_ql8(a->dtype) || a->dtype != b->dtype)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "inputs of types %s and %s (both uint8 or int8)",
                        mn_dtype_name(a->dtype), mn_dtype_name(b->dtype));
    if ((st = mn_ql_check_qparams(in[1], in[2], a->dtype, "A", ctx)) != MN_OK ||
        (st = mn_ql_check_qparams(in[4], in[5], a->dtype, "B", ctx)) != MN_OK ||
        (st = mn_ql_check_qparams(in[6], n_in > 7 ? in[7] : NULL, a->dtype,
                                  "C", ctx)) != MN_OK)
        return st;
    if ((st = mn_broadcast_shape(a, b, out[0], ctx)) != MN_OK)
        return st;
    out[0]->dtype = a->dtype;
    return MN_OK;
}

typedef struct qadd_arg {
    const void *a, *b;
    void *y;
    int i8;
    int fixed;                /* fixed-point path (ratios in range) */
    mn_qadd_fixed fx;         /* its parameters */
    const mn_kernels_qelem *kq;
    int32_t za, zb, zc;
    float sa, sb, sc, ratio;  /* float paths */
    int64_t run;              /* QLinearMul by rows: b's run (see qmul) */
    int swap;                 /* ... with a the per-row operand */
} qadd_arg;

/* The float path, for ratios outside the fixed-point range. */
static int32_t qadd_float(const qadd_arg *q, int32_t a, int32_t b)
{
    int32_t lo = q->i8 ? -128 : 0, hi = q->i8 ? 127 : 255;
    float va = q->sa * (float)(a - q->za), vb = q->sb * (float)(b - q->zb);
    float c = (va + vb) / q->sc;
    float flo = (float)(lo - q->zc), fhi = (float)(hi - q->zc);
    c = c < flo ? flo : c > fhi ? fhi : c;
    return rne_i32(c) + q->zc;
}

static int qadd_run(void *arg, int64_t o, int64_t ia, int64_t sa, int64_t ib,
                    int64_t sb, int64_t n)
{
    const qadd_arg *q = arg;
    if (q->fixed && sa == 1 && sb == 1) {
        q->kq->qadd((const uint8_t *)q->a + ia, (const uint8_t *)q->b + ib,
                    n, &q->fx, q->i8, (uint8_t *)q->y + o);
        return 0;
    }
    for (int64_t i = 0; i < n; i++) {
        int32_t a = mn_ql_ld8(q->a, q->i8, ia + i * sa);
        int32_t b = mn_ql_ld8(q->b, q->i8, ib + i * sb);
        st8(q->y, q->i8, o + i,
            q->fixed ? mn_qadd_fixed1(&q->fx, a, b, q->i8)
                     : qadd_float(q, a, b));
    }
    return 0;
}

static int qmul_run(void *arg, int64_t o, int64_t ia, int64_t sa, int64_t ib,
                    int64_t sb, int64_t n)
{
    const qadd_arg *q = arg;
    const uint8_t *a = q->a, *b = q->b;
    uint8_t *y = q->y;
    mn_qmul_p p = {q->za, q->zb, q->zc, q->ratio};
    if (sa == 1 && (sb == 1 || sb == 0)) {
        q->kq->qmul(a + ia, b + ib, n, sb == 0 ? n : 0, &p, q->i8, y + o);
        return 0;
    }
    if (sa == 0 && sb == 1) { /* the product commutes */
        mn_qmul_p r = {q->zb, q->za, q->zc, q->ratio};
        q->kq->qmul(b + ib, a + ia, n, n, &r, q->i8, y + o);
        return 0;
    }
    for (int64_t i = 0; i < n; i++)
        st8(q->y, q->i8, o + i,
            mn_qmul1(&p, mn_ql_ld8(q->a, q->i8, ia + i * sa),
                     mn_ql_ld8(q->b, q->i8, ib + i * sb), q->i8));
    return 0;
}

/* QLinearMul of [rows][run] by [rows] (a squeeze-excite scale: one value
 * per channel plane), flat output range [o, o + n): whole runs in one
 * kernel call. */
static int qmul_rows_run(void *arg, int64_t o, int64_t ia, int64_t sa,
                         int64_t ib, int64_t sb, int64_t n)
{
    const qadd_arg *q = arg;
    const uint8_t *x = q->swap ? q->b : q->a, *s = q->swap ? q->a : q->b;
    mn_qmul_p p = {q->swap ? q->zb : q->za, q->swap ? q->za : q->zb, q->zc,
                   q->ratio};
    int64_t r = o / q->run, off = o % q->run;
    (void)ia, (void)sa, (void)ib, (void)sb;
    if (off) { /* a range starting inside a run */
        int64_t m = n < q->run - off ? n : q->run - off;
        q->kq->qmul(x + o, s + r, m, m, &p, q->i8, (uint8_t *)q->y + o);
        o += m, n -= m, r++;
    }
    if (n)
        q->kq->qmul(x + o, s + r, n, q->run, &p, q->i8, (uint8_t *)q->y + o);
    return 0;
}

static void qbin_setup(const mn_tensor *const *in, int n_in,
                       const mn_tensor *y, qadd_arg *q)
{
    q->a = in[0]->data;
    q->b = in[3]->data;
    q->y = y->data;
    q->i8 = y->dtype == MN_DT_I8;
    q->sa = scale_of(in[1]);
    q->sb = scale_of(in[4]);
    q->sc = scale_of(in[6]);
    q->za = mn_ql_zp(in[2]);
    q->zb = mn_ql_zp(in[5]);
    q->zc = mn_ql_zp(n_in > 7 ? in[7] : NULL);
}

static mn_status qadd_forward(const mn_node *n, const mn_tensor *const *in,
                              int n_in, mn_tensor *const *out, int n_out,
                              mn_exec *ex)
{
    qadd_arg q;
    mn_bcast bc;
    (void)n, (void)n_out;
    qbin_setup(in, n_in, out[0], &q);
    q.fixed = mn_qadd_fixed_init(q.sa / q.sc, q.sb / q.sc, &q.fx);
    q.fx.za = q.za, q.fx.zb = q.zb, q.fx.zc = q.zc;
    q.kq = mn_kernels_qelem_active();
    mn_bcast_init(&bc, out[0], in[0], in[3]);
    mn_bcast_run_pool(&bc, qadd_run, &q, ex->pool, 64);
    return MN_OK;
}

static mn_status qmul_forward(const mn_node *n, const mn_tensor *const *in,
                              int n_in, mn_tensor *const *out, int n_out,
                              mn_exec *ex)
{
    qadd_arg q;
    mn_bcast bc;
    (void)n, (void)n_out;
    qbin_setup(in, n_in, out[0], &q);
    q.ratio = q.sa * q.sb / q.sc;
    q.kq = mn_kernels_qelem_active();
    mn_bcast_init(&bc, out[0], in[0], in[3]);
    /* [rows][run] · [rows] (either side): whole planes per call, ranges
     * of whole rows per task */
    int a_rows = bc.ndim == 2 && bc.sa[1] == 0 && bc.sa[0] == 1 &&
                 bc.sb[1] == 1 && bc.sb[0] == bc.dims[1];
    if (bc.ndim == 2 && bc.dims[1] > 1 &&
        ((bc.sa[1] == 1 && bc.sa[0] == bc.dims[1] && bc.sb[1] == 0 &&
          bc.sb[0] == 1) || a_rows)) {
        q.run = bc.dims[1];
        q.swap = a_rows;
        mn_bcast b1 = {.ndim = 1, .dims = {bc.numel}, .sa = {1}, .sb = {1},
                       .numel = bc.numel};
        mn_bcast_run_pool(&b1, qmul_rows_run, &q, ex->pool, q.run);
        return MN_OK;
    }
    mn_bcast_run_pool(&bc, qmul_run, &q, ex->pool, 64);
    return MN_OK;
}

const mn_op_def mn_opdef_qlinearadd = {
    .name = "QLinearAdd", .min_in = 7, .max_in = 8, .min_out = 1,
    .max_out = 1, .flags = MN_OPF_MS_DOMAIN, .infer = qbin_infer,
    .forward = qadd_forward};

const mn_op_def mn_opdef_qlinearmul = {
    .name = "QLinearMul", .min_in = 7, .max_in = 8, .min_out = 1,
    .max_out = 1, .flags = MN_OPF_MS_DOMAIN, .infer = qbin_infer,
    .forward = qmul_forward};

/* ---- QLinearSigmoid / QLinearLeakyRelu ----
 * inputs: X, X_scale, X_zero_point, Y_scale [, Y_zero_point] */

static mn_status qunary_infer(const mn_node *n, const mn_tensor *const *in,
                              int n_in, mn_tensor *const *out, int n_out,
                              mn_ctx *ctx)
{
    const mn_tensor *x = in[0];
    mn_status st;
    (void)n, (void)n_out;
    if (!x)
        return mn_error(ctx, MN_ERR_SHAPE, "missing input X");
    if (!mn_ql8(x->dtype))
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "input of type %s (uint8 or int8)",
                        mn_dtype_name(x->dtype));
    if ((st = mn_ql_check_qparams(in[1], in[2], x->dtype, "X", ctx)) != MN_OK ||
        (st = mn_ql_check_qparams(in[3], n_in > 4 ? in[4] : NULL, x->dtype,
                                  "Y", ctx)) != MN_OK)
        return st;
    mn_tensor_copy_meta(out[0], x);
    return MN_OK;
}

void mn_ql_unary_table(float sx, int32_t zx, float sy, int32_t zy, int i8,
                       int leaky, float alpha, uint8_t t[256])
{
    for (int b = 0; b < 256; b++) {
        int32_t xq = i8 ? (int32_t)(int8_t)(uint8_t)b : b;
        float x = sx * (float)(xq - zx), f;
        if (leaky)
            f = x >= 0.0f ? x : x * alpha;
        else
            f = 1.0f / (1.0f + expf(-x));
        int32_t v = sat((int64_t)rne_i32(f / sy) + zy, -32768, 32767);
        st8(t, i8, b, v);
    }
}

/* y = f(x) on the quantized grid: 256 distinct inputs, one table. */
static void qunary_run(const mn_tensor *const *in, int n_in, mn_tensor *y,
                       int leaky, float alpha)
{
    uint8_t t[256];
    mn_ql_unary_table(scale_of(in[1]), mn_ql_zp(in[2]), scale_of(in[3]),
                      mn_ql_zp(n_in > 4 ? in[4] : NULL),
                      y->dtype == MN_DT_I8, leaky, alpha, t);
    mn_kernels_qelem_active()->lut8(t, in[0]->data, mn_tensor_numel(in[0]),
                                    y->data);
}

static mn_status qsigmoid_forward(const mn_node *n,
                                  const mn_tensor *const *in, int n_in,
                                  mn_tensor *const *out, int n_out,
                                  mn_exec *ex)
{
    (void)n, (void)n_out, (void)ex;
    qunary_run(in, n_in, out[0], 0, 0.0f);
    return MN_OK;
}

static mn_status qleaky_forward(const mn_node *n, const mn_tensor *const *in,
                                int n_in, mn_tensor *const *out, int n_out,
                                mn_exec *ex)
{
    (void)n_out, (void)ex;
    qunary_run(in, n_in, out[0], 1, mn_node_attr_float(n, "alpha", 0.01f));
    return MN_OK;
}

const mn_op_def mn_opdef_qlinearsigmoid = {
    .name = "QLinearSigmoid", .min_in = 4, .max_in = 5, .min_out = 1,
    .max_out = 1, .flags = MN_OPF_MS_DOMAIN, .infer = qunary_infer,
    .forward = qsigmoid_forward};

const mn_op_def mn_opdef_qlinearleakyrelu = {
    .name = "QLinearLeakyRelu", .min_in = 4, .max_in = 5, .min_out = 1,
    .max_out = 1, .flags = MN_OPF_MS_DOMAIN, .infer = qunary_infer,
    .forward = qleaky_forward};
