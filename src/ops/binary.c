/* Binary elementwise ops with multidirectional (numpy) broadcasting: Add,
 * Sub, Mul, Div, Pow, PRelu and the variadic Max/Min.
 *
 * One typed kernel per (op, dtype) handles an innermost broadcast run (see
 * broadcast.h) with four tight loops: both operands contiguous, either one
 * a scalar, or both scalars. Integer arithmetic wraps (two's complement) as
 * in numpy; integer Div truncates toward zero as in C and fails on a zero
 * divisor. Opset 6 (Add-6 family) carries `broadcast`/`axis` attributes:
 * with broadcast=1 B is aligned with A at `axis`, otherwise the shapes must
 * be equal; PRelu-6 applies a 1-D slope per channel (axis 1). */
#include <math.h>
#include <string.h>
#include "core/pool.h"
#include "ops/broadcast.h"

enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MAX, OP_MIN, OP_PRELU, N_OPS };
enum {
    T_F32, T_F64, T_I8, T_U8, T_I16, T_U16, T_I32, T_U32, T_I64, T_U64,
    N_TYPES
};

static const char *const op_names[N_OPS] = {"Add", "Sub", "Mul", "Div",
                                            "Max", "Min", "PRelu"};

static int type_index(mn_dtype dt)
{
    switch (dt) {
    case MN_DT_F32: return T_F32;
    case MN_DT_F64: return T_F64;
    case MN_DT_I8: return T_I8;
    case MN_DT_U8: return T_U8;
    case MN_DT_I16: return T_I16;
    case MN_DT_U16: return T_U16;
    case MN_DT_I32: return T_I32;
    case MN_DT_U32: return T_U32;
    case MN_DT_I64: return T_I64;
    case MN_DT_U64: return T_U64;
    default: return -1;
    }
}

static int node_opset(const mn_node *n) { return n->opset > 0 ? n->opset : 1000; }

typedef struct bin_arg {
    void *y;
    const void *a, *b;
} bin_arg;

/* Eight elements at a time through a temporary: every load of a block
 * precedes its stores, so the compiler's straight-line (SLP) vectorizer
 * can use vector registers without proving that y does not overlap a or
 * b (it equals a for in-place runs); the plain loops do the tail. */
#define BLOCK8(T, XI, ZI, EXPR)                                         \
    for (; i + 8 <= n; i += 8) {                                        \
        T t_[8];                                                        \
        for (int j_ = 0; j_ < 8; j_++) {                                \
            T x = (XI), z = (ZI);                                       \
            t_[j_] = (EXPR);                                            \
        }                                                               \
        for (int j_ = 0; j_ < 8; j_++)                                  \
            y[i + j_] = t_[j_];                                         \
    }

/* The innermost run, with x = a element and z = b element. */
#define RUN_LOOPS(T, EXPR)                                              \
    int64_t i = 0;                                                      \
    if (sa && sb) {                                                     \
        BLOCK8(T, a[i + j_], b[i + j_], EXPR)                           \
        for (; i < n; i++) {                                            \
            T x = a[i], z = b[i];                                       \
            y[i] = (EXPR);                                              \
        }                                                               \
    } else if (sa) {                                                    \
        const T zb_ = b[0];                                             \
        BLOCK8(T, a[i + j_], zb_, EXPR)                                 \
        for (; i < n; i++) {                                            \
            T x = a[i], z = zb_;                                        \
            y[i] = (EXPR);                                              \
        }                                                               \
    } else if (sb) {                                                    \
        const T xa_ = a[0];                                             \
        BLOCK8(T, xa_, b[i + j_], EXPR)                                 \
        for (; i < n; i++) {                                            \
            T x = xa_, z = b[i];                                        \
            y[i] = (EXPR);                                              \
        }                                                               \
    } else {                                                            \
        T x = a[0], z = b[0];                                           \
        T v = (EXPR);                                                   \
        for (; i < n; i++)                                              \
            y[i] = v;                                                   \
    }

#define KERNEL_HEAD(NAME, T)                                            \
    static int NAME(void *arg, int64_t o, int64_t ia, int64_t sa,       \
                    int64_t ib, int64_t sb, int64_t n)                  \
    {                                                                   \
        const bin_arg *p = arg;                                         \
        T *y = (T *)p->y + o;                                           \
        const T *a = (const T *)p->a + ia;                              \
        const T *b = (const T *)p->b + ib;

#define KERNEL(NAME, T, EXPR)                                           \
    KERNEL_HEAD(NAME, T)                                                \
        RUN_LOOPS(T, EXPR)                                              \
        return 0;                                                       \
    }

/* Integer division: C truncation; x / -1 negates with wraparound so that
 * INT_MIN / -1 is defined. A zero divisor stops the run. */
#define KERNEL_IDIV(NAME, T, UT, SIGNED)                                \
    KERNEL_HEAD(NAME, T)                                                \
        for (int64_t i = 0; i < (sb ? n : 1); i++)                      \
            if (b[i] == 0)                                              \
                return 1;                                               \
        RUN_LOOPS(T, (SIGNED && z == (T)-1) ? (T)(0 - (UT)x)            \
                                            : (T)(x / z))               \
        return 0;                                                       \
    }

#define FLOAT_KERNELS(S, T)                                             \
    KERNEL(add_##S, T, x + z)                                           \
    KERNEL(sub_##S, T, x - z)                                           \
    KERNEL(mul_##S, T, x * z)                                           \
    KERNEL(div_##S, T, x / z)                                           \
    KERNEL(max_##S, T, (x > z || isnan(x)) ? x : z)                     \
    KERNEL(min_##S, T, (x < z || isnan(x)) ? x : z)                     \
    KERNEL(prelu_##S, T, x < 0 ? x * z : x)

/* UT: an unsigned type at least as wide as int, so that arithmetic wraps
 * instead of overflowing a signed or promoted type. */
#define INT_KERNELS(S, T, UT, SIGNED)                                   \
    KERNEL(add_##S, T, (T)((UT)x + (UT)z))                              \
    KERNEL(sub_##S, T, (T)((UT)x - (UT)z))                              \
    KERNEL(mul_##S, T, (T)((UT)x * (UT)z))                              \
    KERNEL_IDIV(div_##S, T, UT, SIGNED)                                 \
    KERNEL(max_##S, T, x > z ? x : z)                                   \
    KERNEL(min_##S, T, x < z ? x : z)

FLOAT_KERNELS(f32, float)
FLOAT_KERNELS(f64, double)
INT_KERNELS(i8, int8_t, uint32_t, 1)
INT_KERNELS(u8, uint8_t, uint32_t, 0)
INT_KERNELS(i16, int16_t, uint32_t, 1)
INT_KERNELS(u16, uint16_t, uint32_t, 0)
INT_KERNELS(i32, int32_t, uint32_t, 1)
INT_KERNELS(u32, uint32_t, uint32_t, 0)
INT_KERNELS(i64, int64_t, uint64_t, 1)
INT_KERNELS(u64, uint64_t, uint64_t, 0)
KERNEL(prelu_i32, int32_t, x < 0 ? (int32_t)((uint32_t)x * (uint32_t)z) : x)
KERNEL(prelu_i64, int64_t, x < 0 ? (int64_t)((uint64_t)x * (uint64_t)z) : x)

#define ALL_TYPES(OP)                                                   \
    {OP##_f32, OP##_f64, OP##_i8, OP##_u8, OP##_i16, OP##_u16, OP##_i32, \
     OP##_u32, OP##_i64, OP##_u64}

static const mn_bcast_fn kernels[N_OPS][N_TYPES] = {
    [OP_ADD] = ALL_TYPES(add),
    [OP_SUB] = ALL_TYPES(sub),
    [OP_MUL] = ALL_TYPES(mul),
    [OP_DIV] = ALL_TYPES(div),
    [OP_MAX] = ALL_TYPES(max),
    [OP_MIN] = ALL_TYPES(min),
    [OP_PRELU] = {[T_F32] = prelu_f32, [T_F64] = prelu_f64,
                  [T_I32] = prelu_i32, [T_I64] = prelu_i64},
};

/* ---- shape checks ---- */

static int same_dims(const mn_tensor *a, const mn_tensor *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->dims[i] != b->dims[i])
            return 0;
    return 1;
}

/* B as the op sees it: for opset < 7 with broadcast=1 and `axis`, B's dims
 * padded with trailing 1s so that numpy alignment puts them at `axis`. */
static mn_status legacy_b(const mn_node *n, const char *op,
                          const mn_tensor *a, const mn_tensor *b,
                          mn_tensor *bv, mn_ctx *ctx)
{
    char s1[128], s2[128];
    *bv = *b;
    if (node_opset(n) >= 7)
        return MN_OK;
    if (!mn_node_attr_int(n, "broadcast", 0)) {
        if (!same_dims(a, b))
            return mn_error(ctx, MN_ERR_SHAPE,
                            "%s shapes %s and %s differ and broadcast=0 "
                            "(opset %d)", op, mn_shape_str(a, s1, sizeof s1),
                            mn_shape_str(b, s2, sizeof s2), n->opset);
        return MN_OK;
    }
    const mn_attr *ax = mn_node_attr(n, "axis");
    if (!ax)
        return MN_OK;
    int64_t axis = ax->i < 0 ? ax->i + a->ndim : ax->i;
    if (axis < 0 || axis + b->ndim > a->ndim)
        return mn_error(ctx, MN_ERR_SHAPE,
                        "%s axis=%lld does not place B %s inside A %s", op,
                        (long long)ax->i, mn_shape_str(b, s1, sizeof s1),
                        mn_shape_str(a, s2, sizeof s2));
    while (bv->ndim < a->ndim - axis)
        bv->dims[bv->ndim++] = 1;
    return MN_OK;
}

/* PRelu-6 (opset < 7) applies a 1-D slope of X.dims[1] values per channel;
 * from opset 7 the slope broadcasts numpy-style. */
static void prelu_slope(const mn_node *n, const mn_tensor *x,
                        const mn_tensor *slope, mn_tensor *bv)
{
    *bv = *slope;
    if (node_opset(n) < 7 && slope->ndim == 1 && x->ndim >= 2 &&
        slope->dims[0] == x->dims[1] && slope->dims[0] != 1)
        while (bv->ndim < x->ndim - 1)
            bv->dims[bv->ndim++] = 1;
}

static mn_status check_pair(const char *op, const mn_tensor *const *in,
                            int n_in, mn_ctx *ctx)
{
    if (n_in < 2 || !in[0] || !in[1])
        return mn_error(ctx, MN_ERR_SHAPE, "%s needs two inputs", op);
    return MN_OK;
}

static mn_status arith_infer(int kind, const mn_node *n,
                             const mn_tensor *const *in, int n_in,
                             mn_tensor *const *out, mn_ctx *ctx)
{
    const char *op = op_names[kind];
    mn_tensor bv;
    char s[128], s2[128];
    mn_status st = check_pair(op, in, n_in, ctx);
    if (st != MN_OK)
        return st;
    if (in[0]->dtype != in[1]->dtype)
        return mn_error(ctx, MN_ERR_SHAPE, "%s inputs have dtypes %s and %s",
                        op, mn_dtype_name(in[0]->dtype),
                        mn_dtype_name(in[1]->dtype));
    int t = type_index(in[0]->dtype);
    if (t < 0 || !kernels[kind][t])
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "%s on %s", op,
                        mn_dtype_name(in[0]->dtype));
    if (kind == OP_PRELU)
        prelu_slope(n, in[0], in[1], &bv);
    else if ((st = legacy_b(n, op, in[0], in[1], &bv, ctx)) != MN_OK)
        return st;
    if ((st = mn_broadcast_shape(in[0], &bv, out[0], ctx)) != MN_OK)
        return st;
    out[0]->dtype = in[0]->dtype;
    if ((kind == OP_PRELU || node_opset(n) < 7) && !same_dims(out[0], in[0]))
        return mn_error(ctx, MN_ERR_SHAPE,
                        "%s: %s does not broadcast to %s (one-directional)",
                        op, mn_shape_str(in[1], s, sizeof s),
                        mn_shape_str(in[0], s2, sizeof s2));
    return MN_OK;
}

/* Large float outputs are cut into element ranges over the pool (float
 * kernels cannot fail, unlike integer division). */
static mn_status run_kind(int kind, const mn_tensor *y, const mn_tensor *a,
                          const mn_tensor *b, mn_pool *pool, mn_ctx *ctx)
{
    mn_bcast bc;
    bin_arg arg = {y->data, a->data, b->data};
    int ti = type_index(y->dtype);
    mn_bcast_init(&bc, y, a, b);
    if (ti == T_F32 || ti == T_F64) { /* ranges of whole 64-byte lines */
        mn_bcast_run_pool(&bc, kernels[kind][ti], &arg, pool,
                          ti == T_F32 ? 16 : 8);
        return MN_OK;
    }
    if (mn_bcast_run(&bc, kernels[kind][ti], &arg))
        return mn_error(ctx, MN_ERR_RUNTIME, "integer division by zero");
    return MN_OK;
}

static mn_status arith_forward(int kind, const mn_node *n,
                               const mn_tensor *const *in,
                               mn_tensor *const *out, mn_exec *ex)
{
    mn_tensor bv;
    mn_status st = MN_OK;
    if (kind == OP_PRELU)
        prelu_slope(n, in[0], in[1], &bv);
    else
        st = legacy_b(n, op_names[kind], in[0], in[1], &bv, ex->ctx);
    if (st != MN_OK)
        return st;
    return run_kind(kind, out[0], in[0], &bv, ex->pool, ex->ctx);
}

#define ARITH_OP(lname, KIND, NAME)                                          \
    static mn_status lname##_infer(const mn_node *n,                         \
                                   const mn_tensor *const *in, int n_in,     \
                                   mn_tensor *const *out, int n_out,         \
                                   mn_ctx *ctx)                              \
    {                                                                        \
        (void)n_out;                                                         \
        return arith_infer(KIND, n, in, n_in, out, ctx);                     \
    }                                                                        \
    static mn_status lname##_forward(const mn_node *n,                       \
                                     const mn_tensor *const *in, int n_in,   \
                                     mn_tensor *const *out, int n_out,       \
                                     mn_exec *ex)                            \
    {                                                                        \
        (void)n_in;                                                          \
        (void)n_out;                                                         \
        return arith_forward(KIND, n, in, out, ex);                          \
    }                                                                        \
    const mn_op_def mn_opdef_##lname = {                                     \
        .name = NAME, .min_in = 2, .max_in = 2, .min_out = 1, .max_out = 1,  \
        .flags = MN_OPF_INPLACE, .infer = lname##_infer,                     \
        .forward = lname##_forward};

ARITH_OP(add, OP_ADD, "Add")
ARITH_OP(sub, OP_SUB, "Sub")
ARITH_OP(mul, OP_MUL, "Mul")
ARITH_OP(div, OP_DIV, "Div")
ARITH_OP(prelu, OP_PRELU, "PRelu")

/* ---- variadic Max / Min ---- */

static mn_status minmax_infer(int kind, const mn_tensor *const *in, int n_in,
                              mn_tensor *out, mn_ctx *ctx)
{
    const char *op = op_names[kind];
    mn_tensor acc;
    mn_status st;
    for (int i = 0; i < n_in; i++) {
        if (!in[i])
            return mn_error(ctx, MN_ERR_SHAPE, "%s input %d is missing", op,
                            i);
        if (in[i]->dtype != in[0]->dtype)
            return mn_error(ctx, MN_ERR_SHAPE,
                            "%s input %d is %s, input 0 is %s", op, i,
                            mn_dtype_name(in[i]->dtype),
                            mn_dtype_name(in[0]->dtype));
    }
    if (type_index(in[0]->dtype) < 0)
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "%s on %s", op,
                        mn_dtype_name(in[0]->dtype));
    mn_tensor_copy_meta(&acc, in[0]);
    for (int i = 1; i < n_in; i++) {
        mn_tensor t;
        if ((st = mn_broadcast_shape(&acc, in[i], &t, ctx)) != MN_OK)
            return st;
        memcpy(acc.dims, t.dims, sizeof acc.dims);
        acc.ndim = t.ndim;
    }
    mn_tensor_copy_meta(out, &acc);
    return MN_OK;
}

static mn_status minmax_forward(int kind, const mn_tensor *const *in,
                                int n_in, mn_tensor *const *out, mn_exec *ex)
{
    mn_tensor *y = out[0];
    mn_status st;
    if (n_in == 1) {
        if (y->data != in[0]->data)
            memmove(y->data, in[0]->data, mn_tensor_nbytes(y));
        return MN_OK;
    }
    if ((st = run_kind(kind, y, in[0], in[1], ex->pool, ex->ctx)) != MN_OK)
        return st;
    for (int i = 2; i < n_in; i++)
        if ((st = run_kind(kind, y, y, in[i], ex->pool, ex->ctx)) != MN_OK)
            return st;
    return MN_OK;
}

#define MINMAX_OP(lname, KIND, NAME)                                         \
    static mn_status lname##_infer(const mn_node *n,                         \
                                   const mn_tensor *const *in, int n_in,     \
                                   mn_tensor *const *out, int n_out,         \
                                   mn_ctx *ctx)                              \
    {                                                                        \
        (void)n;                                                             \
        (void)n_out;                                                         \
        return minmax_infer(KIND, in, n_in, out[0], ctx);                    \
    }                                                                        \
    static mn_status lname##_forward(const mn_node *n,                       \
                                     const mn_tensor *const *in, int n_in,   \
                                     mn_tensor *const *out, int n_out,       \
                                     mn_exec *ex)                            \
    {                                                                        \
        (void)n;                                                             \
        (void)n_out;                                                         \
        return minmax_forward(KIND, in, n_in, out, ex);                      \
    }                                                                        \
    const mn_op_def mn_opdef_##lname = {                                     \
        .name = NAME, .min_in = 1, .max_in = 1 << 16, .min_out = 1,          \
        .max_out = 1, .flags = MN_OPF_INPLACE, .infer = lname##_infer,       \
        .forward = lname##_forward};

MINMAX_OP(max, OP_MAX, "Max")
MINMAX_OP(min, OP_MIN, "Min")

/* ---- Pow: base float32/float64/int32/int64, exponent any numeric ---- */

typedef struct pow_arg {
    void *y;
    const void *a, *b;
    mn_dtype ta, tb;
} pow_arg;

static double load_f64(const void *p, mn_dtype dt, int64_t i)
{
    switch (dt) {
    case MN_DT_F32: return ((const float *)p)[i];
    case MN_DT_F64: return ((const double *)p)[i];
    case MN_DT_I8: return ((const int8_t *)p)[i];
    case MN_DT_U8: return ((const uint8_t *)p)[i];
    case MN_DT_I16: return ((const int16_t *)p)[i];
    case MN_DT_U16: return ((const uint16_t *)p)[i];
    case MN_DT_I32: return ((const int32_t *)p)[i];
    case MN_DT_U32: return ((const uint32_t *)p)[i];
    case MN_DT_I64: return (double)((const int64_t *)p)[i];
    case MN_DT_U64: return (double)((const uint64_t *)p)[i];
    default: return 0;
    }
}

static int64_t load_i64(const void *p, mn_dtype dt, int64_t i)
{
    switch (dt) {
    case MN_DT_I8: return ((const int8_t *)p)[i];
    case MN_DT_U8: return ((const uint8_t *)p)[i];
    case MN_DT_I16: return ((const int16_t *)p)[i];
    case MN_DT_U16: return ((const uint16_t *)p)[i];
    case MN_DT_I32: return ((const int32_t *)p)[i];
    case MN_DT_U32: return ((const uint32_t *)p)[i];
    case MN_DT_I64: return ((const int64_t *)p)[i];
    case MN_DT_U64: return (int64_t)((const uint64_t *)p)[i];
    default: return 0;
    }
}

static int is_float(mn_dtype dt) { return dt == MN_DT_F32 || dt == MN_DT_F64; }

/* Exact integer power with wraparound, as numpy; negative exponents give
 * the truncated reciprocal. */
static int64_t ipow(int64_t base, int64_t e)
{
    uint64_t r = 1, b = (uint64_t)base;
    if (e < 0)
        return base == 1 ? 1 : base == -1 ? ((e & 1) ? -1 : 1) : 0;
    while (e) {
        if (e & 1)
            r *= b;
        b *= b;
        e >>= 1;
    }
    return (int64_t)r;
}

/* double → int64 without undefined behaviour (NaN → 0, saturating). */
static int64_t sat_i64(double v)
{
    if (v != v)
        return 0;
    if (v >= 9223372036854775807.0)
        return INT64_MAX;
    if (v <= -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)v;
}

static int pow_f32_run(void *arg, int64_t o, int64_t ia, int64_t sa,
                       int64_t ib, int64_t sb, int64_t n)
{
    const pow_arg *p = arg;
    float *y = (float *)p->y + o;
    const float *a = (const float *)p->a + ia, *b = (const float *)p->b + ib;
    if (!sb && b[0] == 2.0f) {
        for (int64_t i = 0; i < n; i++)
            y[i] = a[i * sa] * a[i * sa];
        return 0;
    }
    for (int64_t i = 0; i < n; i++)
        y[i] = powf(a[i * sa], b[i * sb]);
    return 0;
}

static int pow_any_run(void *arg, int64_t o, int64_t ia, int64_t sa,
                       int64_t ib, int64_t sb, int64_t n)
{
    const pow_arg *p = arg;
    for (int64_t i = 0; i < n; i++) {
        int64_t ja = ia + i * sa, jb = ib + i * sb;
        if (is_float(p->ta)) {
            double v = pow(load_f64(p->a, p->ta, ja), load_f64(p->b, p->tb, jb));
            if (p->ta == MN_DT_F32)
                ((float *)p->y)[o + i] = (float)v;
            else
                ((double *)p->y)[o + i] = v;
            continue;
        }
        int64_t v;
        if (is_float(p->tb))
            v = sat_i64(pow((double)load_i64(p->a, p->ta, ja),
                            load_f64(p->b, p->tb, jb)));
        else
            v = ipow(load_i64(p->a, p->ta, ja), load_i64(p->b, p->tb, jb));
        if (p->ta == MN_DT_I64)
            ((int64_t *)p->y)[o + i] = v;
        else
            ((int32_t *)p->y)[o + i] = (int32_t)(uint32_t)(uint64_t)v;
    }
    return 0;
}

static mn_status pow_infer(const mn_node *n, const mn_tensor *const *in,
                           int n_in, mn_tensor *const *out, int n_out,
                           mn_ctx *ctx)
{
    mn_tensor bv;
    char s[128], s2[128];
    mn_status st = check_pair("Pow", in, n_in, ctx);
    (void)n_out;
    if (st != MN_OK)
        return st;
    mn_dtype ta = in[0]->dtype, tb = in[1]->dtype;
    if (ta != MN_DT_F32 && ta != MN_DT_F64 && ta != MN_DT_I32 &&
        ta != MN_DT_I64)
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "Pow base of dtype %s",
                        mn_dtype_name(ta));
    if (type_index(tb) < 0)
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "Pow exponent of dtype %s",
                        mn_dtype_name(tb));
    if ((st = legacy_b(n, "Pow", in[0], in[1], &bv, ctx)) != MN_OK)
        return st;
    if ((st = mn_broadcast_shape(in[0], &bv, out[0], ctx)) != MN_OK)
        return st;
    out[0]->dtype = ta;
    if (node_opset(n) < 7 && !same_dims(out[0], in[0]))
        return mn_error(ctx, MN_ERR_SHAPE,
                        "Pow: exponent %s does not broadcast to %s",
                        mn_shape_str(in[1], s, sizeof s),
                        mn_shape_str(in[0], s2, sizeof s2));
    return MN_OK;
}

static mn_status pow_forward(const mn_node *n, const mn_tensor *const *in,
                             int n_in, mn_tensor *const *out, int n_out,
                             mn_exec *ex)
{
    mn_tensor bv;
    mn_bcast bc;
    mn_status st = legacy_b(n, "Pow", in[0], in[1], &bv, ex->ctx);
    pow_arg arg = {out[0]->data, in[0]->data, in[1]->data, in[0]->dtype,
                   in[1]->dtype};
    (void)n_in;
    (void)n_out;
    if (st != MN_OK)
        return st;
    mn_bcast_init(&bc, out[0], in[0], &bv);
    if (arg.ta == MN_DT_F32 && arg.tb == MN_DT_F32)
        mn_bcast_run(&bc, pow_f32_run, &arg);
    else
        mn_bcast_run(&bc, pow_any_run, &arg);
    return MN_OK;
}

const mn_op_def mn_opdef_pow = {
    .name = "Pow", .min_in = 2, .max_in = 2, .min_out = 1, .max_out = 1,
    .flags = MN_OPF_INPLACE, .infer = pow_infer, .forward = pow_forward};
