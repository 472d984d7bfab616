/* Reductions: ReduceSum, ReduceMean, ReduceMax.
 *
 * Axes come from the `axes` attribute in older opsets and from an optional
 * second input (which must be a constant) from ReduceSum-13 / ReduceMean-18
 * / ReduceMax-18 on; empty axes reduce everything unless
 * noop_with_empty_axes=1. The input is walked once in memory order over a
 * collapsed shape (size-1 dims dropped, neighbouring reduced or kept dims
 * merged), accumulating into a float64 (float types) or int64 (integer
 * types) scratch array the size of the output. */
#include <math.h>
#include <string.h>
#include "kernels/dispatch.h"
#include "kernels/kernels_f32.h"
#include "ops/ops.h"

enum { R_SUM, R_MEAN, R_MAX };

static const char *const rnames[3] = {"ReduceSum", "ReduceMean", "ReduceMax"};

static int node_opset(const mn_node *n) { return n->opset > 0 ? n->opset : 1000; }

/* First opset where the op takes axes as an input. */
static int axes_input_opset(int kind) { return kind == R_SUM ? 13 : 18; }

static int dtype_ok(mn_dtype dt)
{
    return dt == MN_DT_F32 || dt == MN_DT_F64 || dt == MN_DT_I32 ||
           dt == MN_DT_I64;
}

/* Fills red[0..rank) with the reduced axes; *noop = 1 for an identity. */
static mn_status get_axes(int kind, const mn_node *n,
                          const mn_tensor *const *in, int n_in, int *red,
                          int *noop, mn_ctx *ctx)
{
    const char *op = rnames[kind];
    int rank = in[0]->ndim, na = 0;
    int64_t ax[MN_MAX_DIMS];
    *noop = 0;
    memset(red, 0, sizeof(int) * MN_MAX_DIMS);
    if (node_opset(n) < axes_input_opset(kind)) {
        const int64_t *v;
        if (n_in > 1)
            return mn_error(ctx, MN_ERR_SHAPE,
                            "%s-%d takes axes as an attribute, not an input",
                            op, n->opset);
        na = mn_node_attr_ints(n, "axes", &v);
        if (na > rank)
            return mn_error(ctx, MN_ERR_SHAPE, "%s: %d axes for rank %d", op,
                            na, rank);
        for (int i = 0; i < na; i++)
            ax[i] = v[i];
    } else if (n_in > 1 && in[1]) {
        const mn_tensor *t = in[1];
        int64_t cnt = mn_tensor_numel(t);
        if (t->dtype != MN_DT_I64 && t->dtype != MN_DT_I32)
            return mn_error(ctx, MN_ERR_SHAPE, "%s axes input is %s", op,
                            mn_dtype_name(t->dtype));
        if (t->ndim > 1)
            return mn_error(ctx, MN_ERR_SHAPE, "%s axes input has rank %d",
                            op, t->ndim);
        if (!t->data)
            return mn_error(ctx, MN_ERR_UNSUPPORTED,
                            "%s with axes computed at run time", op);
        if (cnt > rank)
            return mn_error(ctx, MN_ERR_SHAPE, "%s: %lld axes for rank %d",
                            op, (long long)cnt, rank);
        na = (int)cnt;
        for (int i = 0; i < na; i++)
            ax[i] = mn_tensor_get_i64(t, i);
    }
    if (na == 0) {
        if (node_opset(n) >= axes_input_opset(kind) &&
            mn_node_attr_int(n, "noop_with_empty_axes", 0))
            *noop = 1;
        else
            for (int i = 0; i < rank; i++)
                red[i] = 1;
        return MN_OK;
    }
    for (int i = 0; i < na; i++) {
        int a;
        mn_status st = mn_norm_axis(ax[i], rank, &a, ctx);
        if (st != MN_OK)
            return st;
        if (red[a])
            return mn_error(ctx, MN_ERR_SHAPE, "%s: axis %lld repeated", op,
                            (long long)ax[i]);
        red[a] = 1;
    }
    return MN_OK;
}

static mn_status reduce_infer(int kind, const mn_node *n,
                              const mn_tensor *const *in, int n_in,
                              mn_tensor *const *out, mn_ctx *ctx)
{
    const mn_tensor *x = in[0];
    int red[MN_MAX_DIMS], noop, m = 0;
    mn_status st;
    if (!x)
        return mn_error(ctx, MN_ERR_SHAPE, "%s input is missing",
                        rnames[kind]);
    if (!dtype_ok(x->dtype))
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "%s on %s", rnames[kind],
                        mn_dtype_name(x->dtype));
    if ((st = get_axes(kind, n, in, n_in, red, &noop, ctx)) != MN_OK)
        return st;
    int keep = mn_node_attr_int(n, "keepdims", 1) != 0;
    out[0]->dtype = x->dtype;
    for (int i = 0; i < x->ndim; i++) {
        if (!red[i])
            out[0]->dims[m++] = x->dims[i];
        else if (keep)
            out[0]->dims[m++] = 1;
    }
    out[0]->ndim = m;
    return MN_OK;
}

/* ---- forward ---- */

typedef struct rplan {
    int nd;
    int64_t dims[MN_MAX_DIMS];
    int red[MN_MAX_DIMS];
    int64_t so[MN_MAX_DIMS]; /* output strides; 0 along reduced dims */
    int64_t count;           /* elements per output value */
} rplan;

static void make_plan(const mn_tensor *x, const int *red, rplan *pl)
{
    int m = 0;
    pl->count = 1;
    for (int i = 0; i < x->ndim; i++) {
        int64_t d = x->dims[i];
        if (red[i])
            pl->count *= d;
        if (d == 1)
            continue;
        if (m > 0 && pl->red[m - 1] == red[i]) {
            pl->dims[m - 1] *= d;
            continue;
        }
        pl->dims[m] = d;
        pl->red[m] = red[i];
        m++;
    }
    if (m == 0) {
        pl->dims[0] = 1;
        pl->red[0] = 0;
        m = 1;
    }
    pl->nd = m;
    int64_t r = 1;
    for (int i = m - 1; i >= 0; i--) {
        pl->so[i] = pl->red[i] ? 0 : r;
        if (!pl->red[i])
            r *= pl->dims[i];
    }
}

/* Sums of a contiguous run; floats use sixteen accumulators (element j
 * into s[j % 16], a tail into s[0], then a fixed pairwise tree) so the
 * loop is bound by the adds' throughput, not one chain's latency. */
double mn_sum_run_f32(const float *x, int64_t n)
{
    if (mn_isa_active() >= MN_ISA_AVX512)
        return mn_sum_f32_avx512(x, n); /* the same order in vectors */
    double s[16] = {0};
    int64_t j = 0;
    for (; j + 16 <= n; j += 16)
        for (int k = 0; k < 16; k++)
            s[k] += x[j + k];
    for (; j < n; j++)
        s[0] += x[j];
    for (int w = 8; w >= 1; w /= 2)
        for (int k = 0; k < w; k++)
            s[k] = s[k] + s[k + w];
    return s[0];
}

static double run_sum_f64(const double *x, int64_t n)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
        s0 += x[j];
        s1 += x[j + 1];
        s2 += x[j + 2];
        s3 += x[j + 3];
    }
    for (; j < n; j++)
        s0 += x[j];
    return (s0 + s1) + (s2 + s3);
}

#define INT_RUN_SUM(S, T)                                                    \
    static int64_t run_sum_##S(const T *x, int64_t n)                        \
    {                                                                        \
        uint64_t s = 0;                                                      \
        for (int64_t j = 0; j < n; j++)                                      \
            s += (uint64_t)(int64_t)x[j];                                    \
        return (int64_t)s;                                                   \
    }

INT_RUN_SUM(i32, int32_t)
INT_RUN_SUM(i64, int64_t)

/* Walks x in memory order; ADD/MAX combine an accumulator with a value. */
#define REDUCE_WALK(S, T, A, ADD, MAX)                                       \
    static void walk_##S(const rplan *pl, int is_max, const T *x, A *acc)    \
    {                                                                        \
        int last = pl->nd - 1;                                               \
        int64_t idx[MN_MAX_DIMS] = {0};                                      \
        int64_t n = pl->dims[last], io = 0;                                  \
        for (;;) {                                                           \
            if (pl->red[last]) {                                             \
                A v = acc[io];                                               \
                if (is_max)                                                  \
                    for (int64_t j = 0; j < n; j++)                          \
                        v = MAX(v, (A)x[j]);                                 \
                else                                                         \
                    v = ADD(v, run_sum_##S(x, n));                           \
                acc[io] = v;                                                 \
            } else if (is_max) {                                             \
                for (int64_t j = 0; j < n; j++)                              \
                    acc[io + j] = MAX(acc[io + j], (A)x[j]);                 \
            } else {                                                         \
                for (int64_t j = 0; j < n; j++)                              \
                    acc[io + j] = ADD(acc[io + j], (A)x[j]);                 \
            }                                                                \
            x += n;                                                          \
            int k = last - 1;                                                \
            for (; k >= 0; k--) {                                            \
                io += pl->so[k];                                             \
                if (++idx[k] < pl->dims[k])                                  \
                    break;                                                   \
                io -= pl->so[k] * pl->dims[k];                               \
                idx[k] = 0;                                                  \
            }                                                                \
            if (k < 0)                                                       \
                return;                                                      \
        }                                                                    \
    }

#define FADD(a, v) ((a) + (v))
#define FMAX(a, v) (((v) > (a) || isnan(v)) ? (v) : (a))
#define IADD(a, v) ((int64_t)((uint64_t)(a) + (uint64_t)(v)))
#define IMAX(a, v) ((v) > (a) ? (v) : (a))

#define run_sum_f32 mn_sum_run_f32
REDUCE_WALK(f32, float, double, FADD, FMAX)
REDUCE_WALK(f64, double, double, FADD, FMAX)
REDUCE_WALK(i32, int32_t, int64_t, IADD, IMAX)
REDUCE_WALK(i64, int64_t, int64_t, IADD, IMAX)

static size_t reduce_scratch(const mn_node *n, const mn_tensor *const *in,
                             int n_in, const mn_tensor *const *out, int n_out)
{
    (void)n;
    (void)in;
    (void)n_in;
    (void)n_out;
    return mn_tensor_numel(out[0]) * sizeof(double);
}

static mn_status reduce_forward(int kind, const mn_node *n,
                                const mn_tensor *const *in, int n_in,
                                mn_tensor *const *out, mn_exec *ex)
{
    const mn_tensor *x = in[0];
    mn_tensor *y = out[0];
    int red[MN_MAX_DIMS], noop;
    rplan pl;
    int64_t no = mn_tensor_numel(y);
    mn_status st = get_axes(kind, n, in, n_in, red, &noop, ex->ctx);
    if (st != MN_OK)
        return st;
    if (noop) {
        if (y->data != x->data)
            memmove(y->data, x->data, mn_tensor_nbytes(x));
        return MN_OK;
    }
    make_plan(x, red, &pl);
    int is_max = kind == R_MAX;
    if (x->dtype == MN_DT_F32 || x->dtype == MN_DT_F64) {
        double *acc = ex->scratch;
        for (int64_t j = 0; j < no; j++)
            acc[j] = is_max ? -INFINITY : 0.0;
        if (mn_tensor_numel(x) > 0) {
            if (x->dtype == MN_DT_F32)
                walk_f32(&pl, is_max, x->data, acc);
            else
                walk_f64(&pl, is_max, x->data, acc);
        }
        double scale = kind == R_MEAN ? 1.0 / (double)pl.count : 1.0;
        for (int64_t j = 0; j < no; j++) {
            double v = kind == R_MEAN ? acc[j] * scale : acc[j];
            if (x->dtype == MN_DT_F32)
                ((float *)y->data)[j] = (float)v;
            else
                ((double *)y->data)[j] = v;
        }
        return MN_OK;
    }
    int64_t *acc = ex->scratch;
    for (int64_t j = 0; j < no; j++)
        acc[j] = is_max ? INT64_MIN : 0;
    if (mn_tensor_numel(x) > 0) {
        if (x->dtype == MN_DT_I32)
            walk_i32(&pl, is_max, x->data, acc);
        else
            walk_i64(&pl, is_max, x->data, acc);
    }
    for (int64_t j = 0; j < no; j++) {
        int64_t v = acc[j];
        if (kind == R_MEAN)
            v = pl.count > 0 ? v / pl.count : 0;
        if (x->dtype == MN_DT_I32)
            ((int32_t *)y->data)[j] =
                is_max && v == INT64_MIN ? INT32_MIN : (int32_t)v;
        else
            ((int64_t *)y->data)[j] = v;
    }
    return MN_OK;
}

#define REDUCE_OP(lname, KIND, NAME)                                         \
    static mn_status lname##_infer(const mn_node *n,                         \
                                   const mn_tensor *const *in, int n_in,     \
                                   mn_tensor *const *out, int n_out,         \
                                   mn_ctx *ctx)                              \
    {                                                                        \
        (void)n_out;                                                         \
        return reduce_infer(KIND, n, in, n_in, out, ctx);                    \
    }                                                                        \
    static mn_status lname##_forward(const mn_node *n,                       \
                                     const mn_tensor *const *in, int n_in,   \
                                     mn_tensor *const *out, int n_out,       \
                                     mn_exec *ex)                            \
    {                                                                        \
        (void)n_out;                                                         \
        return reduce_forward(KIND, n, in, n_in, out, ex);                   \
    }                                                                        \
    const mn_op_def mn_opdef_##lname = {                                     \
        .name = NAME, .min_in = 1, .max_in = 2, .min_out = 1, .max_out = 1,  \
        .flags = 0, .infer = lname##_infer, .scratch = reduce_scratch,       \
        .forward = lname##_forward};

REDUCE_OP(reducesum, R_SUM, "ReduceSum")
REDUCE_OP(reducemean, R_MEAN, "ReduceMean")
REDUCE_OP(reducemax, R_MAX, "ReduceMax")
