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
#include "core/pool.h"
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
    int64_t n;                /* elements (the pool's chunks) */
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
    for (int64_t i = 0; i < n; i++) {
        int32_t a = mn_ql_ld8(q->a, q->i8, ia + i * sa) - q->za;
        int32_t b = mn_ql_ld8(q->b, q->i8, ib + i * sb) - q->zb;
        int32_t v = rne_i32((float)(a * b) * q->ratio);
        v = sat((int64_t)v + q->zc, -32768, 32767);
        st8(q->y, q->i8, o + i, v);
    }
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

/* Elementwise chunks of QLinearAdd without broadcasting, on the pool. */
#define QADD_CHUNK 16384

static void qadd_chunk(void *arg, int64_t t, int thread)
{
    const qadd_arg *q = arg;
    int64_t o = t * QADD_CHUNK, n = q->n - o < QADD_CHUNK ? q->n - o
                                                          : QADD_CHUNK;
    (void)thread;
    q->kq->qadd((const uint8_t *)q->a + o, (const uint8_t *)q->b + o, n,
                &q->fx, q->i8, (uint8_t *)q->y + o);
}

static int same_shape(const mn_tensor *a, const mn_tensor *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->dims[i] != b->dims[i])
            return 0;
    return 1;
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
    q.n = mn_tensor_numel(out[0]);
    if (q.fixed && mn_pool_threads(ex->pool) > 1 && q.n >= 4 * QADD_CHUNK &&
        same_shape(in[0], out[0]) && same_shape(in[3], out[0])) {
        mn_pool_run(ex->pool, qadd_chunk, &q,
                    (q.n + QADD_CHUNK - 1) / QADD_CHUNK);
        return MN_OK;
    }
    mn_bcast_init(&bc, out[0], in[0], in[3]);
    mn_bcast_run(&bc, qadd_run, &q);
    return MN_OK;
}

static mn_status qmul_forward(const mn_node *n, const mn_tensor *const *in,
                              int n_in, mn_tensor *const *out, int n_out,
                              mn_exec *ex)
{
    qadd_arg q;
    mn_bcast bc;
    (void)n, (void)n_out, (void)ex;
    qbin_setup(in, n_in, out[0], &q);
    q.ratio = q.sa * q.sb / q.sc;
    mn_bcast_init(&bc, out[0], in[0], in[3]);
    mn_bcast_run(&bc, qmul_run, &q);
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

/* y = f(x) on the quantized grid, per element: 256 distinct inputs, so a
 * table would be the same numbers. */
static void qunary_run(const mn_tensor *const *in, int n_in, mn_tensor *y,
                       int leaky, float alpha)
{
    int i8 = y->dtype == MN_DT_I8;
    float sx = scale_of(in[1]), sy = scale_of(in[3]);
    int32_t zx = mn_ql_zp(in[2]), zy = mn_ql_zp(n_in > 4 ? in[4] : NULL);
    int64_t cnt = mn_tensor_numel(in[0]);
    float table[256];
    for (int v = 0; v < 256; v++) {
        float x = sx * (float)((i8 ? v - 128 : v) - zx), f;
        if (leaky)
            f = x >= 0.0f ? x : x * alpha;
        else
            f = 1.0f / (1.0f + expf(-x));
        table[v] = f / sy;
    }
    for (int64_t i = 0; i < cnt; i++) {
        int32_t x = mn_ql_ld8(in[0]->data, i8, i);
        st8(y->data, i8, i,
            sat((int64_t)rne_i32(table[i8 ? x + 128 : x]) + zy, -32768,
                32767));
    }
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
