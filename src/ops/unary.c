/* Unary elementwise ops: the activations (Relu, LeakyRelu, Clip, Sigmoid,
 * HardSigmoid, HardSwish, Tanh, Erf, Gelu) and the math ops (Sqrt, Exp,
 * Log, Neg, Abs, Reciprocal).
 *
 * Float ops run on float32 and float64; Relu, Neg, Abs and Clip also on
 * integers. Every loop reads x[i] before writing y[i], so the output may
 * alias the input (MN_OPF_INPLACE). Clip takes its bounds from attributes
 * before opset 11 and from optional scalar inputs from opset 11 on. Gelu is
 * an opset-20 op accepted at any opset. */
#include <float.h>
#include <math.h>
#include <string.h>
#include "kernels/gemm.h"
#include "ops/ops.h"

typedef enum uop {
    U_RELU, U_LEAKYRELU, U_CLIP, U_SIGMOID, U_HARDSIGMOID, U_HARDSWISH,
    U_TANH, U_ERF, U_GELU, U_SQRT, U_EXP, U_LOG, U_NEG, U_ABS, U_RECIPROCAL,
    U_COUNT
} uop;

enum { M_F = 1, M_S = 2, M_U = 4 }; /* float, signed, unsigned types */

static const struct {
    const char *name;
    unsigned types;
} uinfo[U_COUNT] = {
    [U_RELU] = {"Relu", M_F | M_S},
    [U_LEAKYRELU] = {"LeakyRelu", M_F},
    [U_CLIP] = {"Clip", M_F | M_S | M_U},
    [U_SIGMOID] = {"Sigmoid", M_F},
    [U_HARDSIGMOID] = {"HardSigmoid", M_F},
    [U_HARDSWISH] = {"HardSwish", M_F},
    [U_TANH] = {"Tanh", M_F},
    [U_ERF] = {"Erf", M_F},
    [U_GELU] = {"Gelu", M_F},
    [U_SQRT] = {"Sqrt", M_F},
    [U_EXP] = {"Exp", M_F},
    [U_LOG] = {"Log", M_F},
    [U_NEG] = {"Neg", M_F | M_S},
    [U_ABS] = {"Abs", M_F | M_S | M_U},
    [U_RECIPROCAL] = {"Reciprocal", M_F},
};

static unsigned type_class(mn_dtype dt)
{
    switch (dt) {
    case MN_DT_F32: case MN_DT_F64: return M_F;
    case MN_DT_I8: case MN_DT_I16: case MN_DT_I32: case MN_DT_I64: return M_S;
    case MN_DT_U8: case MN_DT_U16: case MN_DT_U32: case MN_DT_U64: return M_U;
    default: return 0;
    }
}

static int node_opset(const mn_node *n) { return n->opset > 0 ? n->opset : 1000; }

/* Parameters read from attributes (and Clip's bound inputs). */
typedef struct uparams {
    double alpha, beta;
    int gelu_tanh;
    int has_lo, has_hi;
    double lo, hi;              /* float Clip bounds */
    const void *plo, *phi;      /* integer Clip bounds (typed), or NULL */
} uparams;

/* One loop per op for a float type T; SUF is the <math.h> suffix ("f" or
 * empty). */
#define FLOAT_UNARY(S, T, SUF)                                               \
    static void run_##S(uop op, const uparams *p, const T *x, T *y,          \
                        int64_t n)                                           \
    {                                                                        \
        const T al = (T)p->alpha, be = (T)p->beta;                           \
        const T lo = (T)p->lo, hi = (T)p->hi;                                \
        int64_t i;                                                           \
        switch (op) {                                                        \
        case U_RELU:                                                         \
            for (i = 0; i < n; i++)                                          \
                y[i] = x[i] < 0 ? (T)0 : x[i];                               \
            break;                                                           \
        case U_LEAKYRELU:                                                    \
            for (i = 0; i < n; i++)                                          \
                y[i] = x[i] < 0 ? al * x[i] : x[i];                          \
            break;                                                           \
        case U_CLIP:                                                         \
            for (i = 0; i < n; i++) {                                        \
                T v = x[i];                                                  \
                if (p->has_lo && v < lo)                                     \
                    v = lo;                                                  \
                if (p->has_hi && v > hi)                                     \
                    v = hi;                                                  \
                y[i] = v;                                                    \
            }                                                                \
            break;                                                           \
        case U_SIGMOID:                                                      \
            for (i = 0; i < n; i++)                                          \
                y[i] = (T)1 / ((T)1 + exp##SUF(-x[i]));                      \
            break;                                                           \
        case U_HARDSIGMOID:                                                  \
            for (i = 0; i < n; i++) {                                        \
                T v = al * x[i] + be;                                        \
                v = v < 0 ? (T)0 : v;                                        \
                y[i] = v > 1 ? (T)1 : v;                                     \
            }                                                                \
            break;                                                           \
        case U_HARDSWISH:                                                    \
            for (i = 0; i < n; i++) {                                        \
                /* x * clamp(x + 3, 0, 6) / 6: this form vectorizes */   \
                T v = x[i] + (T)3;                                           \
                v = v < 0 ? (T)0 : v;                                        \
                v = v > 6 ? (T)6 : v;                                        \
                y[i] = x[i] * v * (T)(1.0 / 6.0);                            \
            }                                                                \
            break;                                                           \
        case U_TANH:                                                         \
            for (i = 0; i < n; i++)                                          \
                y[i] = tanh##SUF(x[i]);                                      \
            break;                                                           \
        case U_ERF:                                                          \
            for (i = 0; i < n; i++)                                          \
                y[i] = erf##SUF(x[i]);                                       \
            break;                                                           \
        case U_GELU:                                                         \
            if (p->gelu_tanh)                                                \
                for (i = 0; i < n; i++) {                                    \
                    T v = x[i];                                              \
                    T u = (T)0.7978845608028654 *                            \
                          (v + (T)0.044715 * v * v * v);                     \
                    y[i] = (T)0.5 * v * ((T)1 + tanh##SUF(u));               \
                }                                                            \
            else                                                             \
                for (i = 0; i < n; i++) {                                    \
                    T v = x[i];                                              \
                    y[i] = (T)0.5 * v *                                      \
                           ((T)1 + erf##SUF(v * (T)0.7071067811865476));     \
                }                                                            \
            break;                                                           \
        case U_SQRT:                                                         \
            for (i = 0; i < n; i++)                                          \
                y[i] = sqrt##SUF(x[i]);                                      \
            break;                                                           \
        case U_EXP:                                                          \
            for (i = 0; i < n; i++)                                          \
                y[i] = exp##SUF(x[i]);                                       \
            break;                                                           \
        case U_LOG:                                                          \
            for (i = 0; i < n; i++)                                          \
                y[i] = log##SUF(x[i]);                                       \
            break;                                                           \
        case U_NEG:                                                          \
            for (i = 0; i < n; i++)                                          \
                y[i] = -x[i];                                                \
            break;                                                           \
        case U_ABS:                                                          \
            for (i = 0; i < n; i++)                                          \
                y[i] = fabs##SUF(x[i]);                                      \
            break;                                                           \
        case U_RECIPROCAL:                                                   \
            for (i = 0; i < n; i++)                                          \
                y[i] = (T)1 / x[i];                                          \
            break;                                                           \
        default:                                                             \
            break;                                                           \
        }                                                                    \
    }

FLOAT_UNARY(f32, float, f)
FLOAT_UNARY(f64, double, )

/* Integer Relu / Neg / Abs / Clip; UT is an unsigned type at least as wide
 * as int so that negation wraps (Neg(INT_MIN) == INT_MIN, as numpy). The
 * comparisons are written `x > 0` so they stay meaningful for unsigned T. */
#define INT_UNARY(S, T, UT)                                                  \
    static void run_##S(uop op, const uparams *p, const T *x, T *y,          \
                        int64_t n)                                           \
    {                                                                        \
        const T lo = p->plo ? *(const T *)p->plo : (T)0;                     \
        const T hi = p->phi ? *(const T *)p->phi : (T)0;                     \
        int64_t i;                                                           \
        switch (op) {                                                        \
        case U_RELU:                                                         \
            for (i = 0; i < n; i++)                                          \
                y[i] = x[i] > 0 ? x[i] : (T)0;                               \
            break;                                                           \
        case U_NEG:                                                          \
            for (i = 0; i < n; i++)                                          \
                y[i] = (T)(0 - (UT)x[i]);                                    \
            break;                                                           \
        case U_ABS:                                                          \
            for (i = 0; i < n; i++)                                          \
                y[i] = x[i] > 0 ? x[i] : (T)(0 - (UT)x[i]);                  \
            break;                                                           \
        case U_CLIP:                                                         \
            for (i = 0; i < n; i++) {                                        \
                T v = x[i];                                                  \
                if (p->plo && v < lo)                                        \
                    v = lo;                                                  \
                if (p->phi && v > hi)                                        \
                    v = hi;                                                  \
                y[i] = v;                                                    \
            }                                                                \
            break;                                                           \
        default:                                                             \
            break;                                                           \
        }                                                                    \
    }

INT_UNARY(i8, int8_t, uint32_t)
INT_UNARY(u8, uint8_t, uint32_t)
INT_UNARY(i16, int16_t, uint32_t)
INT_UNARY(u16, uint16_t, uint32_t)
INT_UNARY(i32, int32_t, uint32_t)
INT_UNARY(u32, uint32_t, uint32_t)
INT_UNARY(i64, int64_t, uint64_t)
INT_UNARY(u64, uint64_t, uint64_t)

/* ---- Clip bounds ---- */

static mn_status clip_check_bound(const mn_tensor *x, const mn_tensor *b,
                                  const char *which, mn_ctx *ctx)
{
    char s[128];
    if (!b)
        return MN_OK;
    if (b->dtype != x->dtype)
        return mn_error(ctx, MN_ERR_SHAPE, "Clip %s is %s, input is %s",
                        which, mn_dtype_name(b->dtype),
                        mn_dtype_name(x->dtype));
    if (mn_tensor_numel(b) != 1)
        return mn_error(ctx, MN_ERR_SHAPE, "Clip %s has shape %s, expected "
                        "a scalar", which, mn_shape_str(b, s, sizeof s));
    return MN_OK;
}

static void clip_params(const mn_node *n, const mn_tensor *const *in,
                        int n_in, uparams *p)
{
    if (node_opset(n) < 11) {
        p->has_lo = p->has_hi = 1;
        p->lo = mn_node_attr_float(n, "min", -FLT_MAX);
        p->hi = mn_node_attr_float(n, "max", FLT_MAX);
        return;
    }
    const mn_tensor *lo = n_in > 1 ? in[1] : NULL;
    const mn_tensor *hi = n_in > 2 ? in[2] : NULL;
    p->has_lo = lo != NULL;
    p->has_hi = hi != NULL;
    p->plo = lo ? lo->data : NULL;
    p->phi = hi ? hi->data : NULL;
    if (lo && type_class(lo->dtype) == M_F)
        p->lo = mn_tensor_get_f64(lo, 0);
    if (hi && type_class(hi->dtype) == M_F)
        p->hi = mn_tensor_get_f64(hi, 0);
}

/* ---- infer / forward ---- */

static mn_status unary_infer(uop op, const mn_node *n,
                             const mn_tensor *const *in, int n_in,
                             mn_tensor *const *out, mn_ctx *ctx)
{
    const char *name = uinfo[op].name;
    const mn_tensor *x = in[0];
    mn_status st;
    if (!x)
        return mn_error(ctx, MN_ERR_SHAPE, "%s input is missing", name);
    if (!(type_class(x->dtype) & uinfo[op].types))
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "%s on %s", name,
                        mn_dtype_name(x->dtype));
    if (op == U_GELU) {
        const char *ap = mn_node_attr_string(n, "approximate", "none");
        if (strcmp(ap, "none") != 0 && strcmp(ap, "tanh") != 0)
            return mn_error(ctx, MN_ERR_UNSUPPORTED,
                            "Gelu approximate=\"%s\" (expected \"none\" or "
                            "\"tanh\")", ap);
    }
    if (op == U_CLIP) {
        if (node_opset(n) < 11) {
            if (n_in > 1)
                return mn_error(ctx, MN_ERR_SHAPE,
                                "Clip-%d takes min/max as attributes, not "
                                "inputs", n->opset);
            if (type_class(x->dtype) != M_F)
                return mn_error(ctx, MN_ERR_UNSUPPORTED,
                                "Clip-%d on %s", n->opset,
                                mn_dtype_name(x->dtype));
        }
        if (n_in > 1 && (st = clip_check_bound(x, in[1], "min", ctx)) != MN_OK)
            return st;
        if (n_in > 2 && (st = clip_check_bound(x, in[2], "max", ctx)) != MN_OK)
            return st;
    }
    mn_tensor_copy_meta(out[0], x);
    return MN_OK;
}

static mn_status unary_forward(uop op, const mn_node *n,
                               const mn_tensor *const *in, int n_in,
                               mn_tensor *const *out)
{
    const mn_tensor *x = in[0];
    const void *xd = x->data;
    void *yd = out[0]->data;
    int64_t cnt = mn_tensor_numel(x);
    uparams p;
    memset(&p, 0, sizeof p);
    switch (op) {
    case U_LEAKYRELU:
        p.alpha = mn_node_attr_float(n, "alpha", 0.01f);
        break;
    case U_HARDSIGMOID:
        p.alpha = mn_node_attr_float(n, "alpha", 0.2f);
        p.beta = mn_node_attr_float(n, "beta", 0.5f);
        break;
    case U_GELU:
        p.gelu_tanh =
            strcmp(mn_node_attr_string(n, "approximate", "none"), "tanh") == 0;
        break;
    case U_CLIP:
        clip_params(n, in, n_in, &p);
        break;
    default:
        break;
    }
    if (op == U_GELU && x->dtype == MN_DT_F32 && !p.gelu_tanh) {
        /* vectorized, as when fused into a producer's store */
        const mn_act a = {MN_ACT_GELU, 0.0f, 0.0f};
        mn_act_f32(&a, xd, yd, cnt);
        return MN_OK;
    }
    switch (x->dtype) {
    case MN_DT_F32: run_f32(op, &p, xd, yd, cnt); break;
    case MN_DT_F64: run_f64(op, &p, xd, yd, cnt); break;
    case MN_DT_I8: run_i8(op, &p, xd, yd, cnt); break;
    case MN_DT_U8: run_u8(op, &p, xd, yd, cnt); break;
    case MN_DT_I16: run_i16(op, &p, xd, yd, cnt); break;
    case MN_DT_U16: run_u16(op, &p, xd, yd, cnt); break;
    case MN_DT_I32: run_i32(op, &p, xd, yd, cnt); break;
    case MN_DT_U32: run_u32(op, &p, xd, yd, cnt); break;
    case MN_DT_I64: run_i64(op, &p, xd, yd, cnt); break;
    case MN_DT_U64: run_u64(op, &p, xd, yd, cnt); break;
    default: break;
    }
    return MN_OK;
}

#define UNARY_OP(lname, OP, NAME, MAXIN)                                           \
    static mn_status lname##_infer(const mn_node *n,                         \
                                   const mn_tensor *const *in, int n_in,     \
                                   mn_tensor *const *out, int n_out,         \
                                   mn_ctx *ctx)                              \
    {                                                                        \
        (void)n_out;                                                         \
        return unary_infer(OP, n, in, n_in, out, ctx);                       \
    }                                                                        \
    static mn_status lname##_forward(const mn_node *n,                       \
                                     const mn_tensor *const *in, int n_in,   \
                                     mn_tensor *const *out, int n_out,       \
                                     mn_exec *ex)                            \
    {                                                                        \
        (void)n_out;                                                         \
        (void)ex;                                                            \
        return unary_forward(OP, n, in, n_in, out);                          \
    }                                                                        \
    const mn_op_def mn_opdef_##lname = {                                     \
        .name = NAME, .min_in = 1, .max_in = MAXIN, .min_out = 1,            \
        .max_out = 1, .flags = MN_OPF_INPLACE, .infer = lname##_infer,       \
        .forward = lname##_forward};

UNARY_OP(relu, U_RELU, "Relu", 1)
UNARY_OP(leakyrelu, U_LEAKYRELU, "LeakyRelu", 1)
UNARY_OP(clip, U_CLIP, "Clip", 3)
UNARY_OP(sigmoid, U_SIGMOID, "Sigmoid", 1)
UNARY_OP(hardsigmoid, U_HARDSIGMOID, "HardSigmoid", 1)
UNARY_OP(hardswish, U_HARDSWISH, "HardSwish", 1)
UNARY_OP(tanh, U_TANH, "Tanh", 1)
UNARY_OP(erf, U_ERF, "Erf", 1)
UNARY_OP(gelu, U_GELU, "Gelu", 1)
UNARY_OP(sqrt, U_SQRT, "Sqrt", 1)
UNARY_OP(exp, U_EXP, "Exp", 1)
UNARY_OP(log, U_LOG, "Log", 1)
UNARY_OP(neg, U_NEG, "Neg", 1)
UNARY_OP(abs, U_ABS, "Abs", 1)
UNARY_OP(reciprocal, U_RECIPROCAL, "Reciprocal", 1)
