/* Backward rules of the elementwise ops: activations (Relu, LeakyRelu,
 * Clip, Sigmoid, HardSigmoid, HardSwish, Tanh, Erf, Gelu, PRelu), unary math
 * (Sqrt, Exp, Log, Neg, Abs, Reciprocal) and the broadcasting binary ops
 * (Add, Sub, Mul, Div, Pow, Max, Min).
 *
 * A gradient flowing into a broadcast operand is summed over the broadcast
 * dimensions in double, in output order, so it is deterministic and exact
 * enough for a bias-like operand that receives tens of thousands of terms. */
#include <float.h>
#include <math.h>
#include <string.h>
#include "train/grad.h"
#include "train/tkern.h"

void mn_bcast_strides(const mn_tensor *t, int nd, const int64_t *od,
                      int64_t *str)
{
    int64_t s = 1;
    for (int k = nd - 1; k >= 0; k--) {
        int kt = k - (nd - t->ndim);
        int64_t d = kt >= 0 ? t->dims[kt] : 1;
        str[k] = (d == 1 && od[k] != 1) ? 0 : s;
        if (kt >= 0)
            s *= d;
    }
}

/* Offsets of element (outer index o, inner position) walk: the caller loops
 * the last dimension; this advances a multi-index over the others. */
typedef struct nd_walk {
    int nd;
    int64_t od[MN_MAX_DIMS], idx[MN_MAX_DIMS];
    int64_t str[3][MN_MAX_DIMS];
    int64_t off[3];
} nd_walk;

static void walk_init(nd_walk *w, int nd, const int64_t *od)
{
    memset(w, 0, sizeof *w);
    w->nd = nd;
    for (int k = 0; k < nd; k++)
        w->od[k] = od[k];
}

/* Advances the outer multi-index (all but the last dim). */
static void walk_next(nd_walk *w, int nops)
{
    for (int k = w->nd - 2; k >= 0; k--) {
        w->idx[k]++;
        for (int o = 0; o < nops; o++)
            w->off[o] += w->str[o][k];
        if (w->idx[k] < w->od[k])
            return;
        for (int o = 0; o < nops; o++)
            w->off[o] -= w->str[o][k] * w->od[k];
        w->idx[k] = 0;
    }
}

static int64_t numel_dims(int nd, const int64_t *d)
{
    int64_t n = 1;
    for (int k = 0; k < nd; k++)
        n *= d[k];
    return n;
}

void mn_bcast_reduce(const float *dy, const mn_tensor *y, float *dx,
                     const mn_tensor *x, double *acc)
{
    int nd = y->ndim;
    int64_t nx = mn_tensor_numel(x), inner = nd ? y->dims[nd - 1] : 1;
    int64_t outer = nd ? numel_dims(nd - 1, y->dims) : 1;
    nd_walk w;
    walk_init(&w, nd ? nd : 1, nd ? y->dims : (const int64_t[]){1});
    if (nd)
        mn_bcast_strides(x, nd, y->dims, w.str[0]);
    else
        w.str[0][0] = 0;
    int64_t si = nd ? w.str[0][nd - 1] : 0;
    memset(acc, 0, (size_t)nx * sizeof *acc);
    for (int64_t o = 0; o < outer; o++) {
        const float *g = dy + o * inner;
        double *a = acc + w.off[0];
        if (si)
            for (int64_t i = 0; i < inner; i++)
                a[i] += g[i];
        else {
            double s = 0;
            for (int64_t i = 0; i < inner; i++)
                s += g[i];
            a[0] += s;
        }
        walk_next(&w, 1);
    }
    for (int64_t i = 0; i < nx; i++)
        dx[i] = (float)acc[i];
}

/* ---- unary rules ---- */

typedef enum un_kind {
    UN_RELU, UN_LEAKY, UN_CLIP, UN_SIGMOID, UN_HSIGMOID, UN_HSWISH, UN_TANH,
    UN_ERF, UN_GELU, UN_GELU_TANH, UN_SQRT, UN_EXP, UN_LOG, UN_NEG, UN_ABS,
    UN_RECIP
} un_kind;

static void clip_bounds(const mn_node *n, const mn_tensor *const *in,
                        int n_in, float *lo, float *hi)
{
    *lo = -FLT_MAX;
    *hi = FLT_MAX;
    if (n->opset < 11) {
        *lo = mn_node_attr_float(n, "min", -FLT_MAX);
        *hi = mn_node_attr_float(n, "max", FLT_MAX);
        return;
    }
    if (n_in > 1 && in[1] && in[1]->data && mn_tensor_numel(in[1]) == 1)
        *lo = (float)mn_tensor_get_f64(in[1], 0);
    if (n_in > 2 && in[2] && in[2]->data && mn_tensor_numel(in[2]) == 1)
        *hi = (float)mn_tensor_get_f64(in[2], 0);
}

/* Elements per task of the threaded elementwise rules: a multiple of 16
 * (whole vectors), large enough to amortize a task. */
#define EW_CHUNK 16384

typedef struct un_job {
    un_kind kind;
    const float *x, *y, *g;
    float *dx;
    float a, b; /* alpha/beta, or the clip bounds */
    int64_t cnt;
} un_job;

static void unary_bwd_range(const un_job *j, int64_t i0, int64_t i1)
{
    const float *x = j->x + i0, *y = j->y + i0, *g = j->g + i0;
    float *dx = j->dx + i0;
    int64_t cnt = i1 - i0;
    switch (j->kind) {
    case UN_RELU:
        mn_tkern_get()->relu_bwd(y, g, dx, cnt);
        break;
    case UN_LEAKY: {
        float a = j->a;
        for (int64_t i = 0; i < cnt; i++)
            dx[i] = x[i] > 0.0f ? g[i] : a * g[i];
        break;
    }
    case UN_CLIP:
        mn_tkern_get()->clip_bwd(x, g, dx, cnt, j->a, j->b);
        break;
    case UN_SIGMOID:
        for (int64_t i = 0; i < cnt; i++)
            dx[i] = g[i] * y[i] * (1.0f - y[i]);
        break;
    case UN_HSIGMOID: {
        float a = j->a, b = j->b;
        for (int64_t i = 0; i < cnt; i++) {
            float v = a * x[i] + b;
            dx[i] = (v > 0.0f && v < 1.0f) ? a * g[i] : 0.0f;
        }
        break;
    }
    case UN_HSWISH:
        for (int64_t i = 0; i < cnt; i++)
            dx[i] = x[i] < -3.0f  ? 0.0f
                    : x[i] > 3.0f ? g[i]
                                  : g[i] * (2.0f * x[i] + 3.0f) / 6.0f;
        break;
    case UN_TANH:
        for (int64_t i = 0; i < cnt; i++)
            dx[i] = g[i] * (1.0f - y[i] * y[i]);
        break;
    case UN_ERF:
        for (int64_t i = 0; i < cnt; i++)
            dx[i] = g[i] * 1.12837916709551257f * expf(-x[i] * x[i]);
        break;
    case UN_GELU:
        mn_tkern_get()->gelu_bwd(x, g, dx, cnt);
        break;
    case UN_GELU_TANH:
        for (int64_t i = 0; i < cnt; i++) {
            double v = x[i], k = 0.79788456080286536;
            double u = k * (v + 0.044715 * v * v * v);
            double t = tanh(u);
            double du = k * (1.0 + 3.0 * 0.044715 * v * v);
            dx[i] = (float)(g[i] * (0.5 * (1.0 + t) +
                                    0.5 * v * (1.0 - t * t) * du));
        }
        break;
    case UN_SQRT:
        for (int64_t i = 0; i < cnt; i++)
            dx[i] = y[i] > 0.0f ? 0.5f * g[i] / y[i] : 0.0f;
        break;
    case UN_EXP:
        for (int64_t i = 0; i < cnt; i++)
            dx[i] = g[i] * y[i];
        break;
    case UN_LOG:
        for (int64_t i = 0; i < cnt; i++)
            dx[i] = g[i] / x[i];
        break;
    case UN_NEG:
        for (int64_t i = 0; i < cnt; i++)
            dx[i] = -g[i];
        break;
    case UN_ABS:
        for (int64_t i = 0; i < cnt; i++)
            dx[i] = x[i] > 0.0f ? g[i] : x[i] < 0.0f ? -g[i] : 0.0f;
        break;
    case UN_RECIP:
        for (int64_t i = 0; i < cnt; i++)
            dx[i] = -g[i] * y[i] * y[i];
        break;
    }
}

static void unary_bwd_task(void *arg, int64_t t, int thread)
{
    const un_job *j = arg;
    int64_t i0 = t * EW_CHUNK, i1 = i0 + EW_CHUNK < j->cnt ? i0 + EW_CHUNK
                                                         : j->cnt;
    (void)thread;
    unary_bwd_range(j, i0, i1);
}

static mn_status unary_bwd(un_kind kind, const mn_node *n,
                           const mn_tensor *const *in, int n_in,
                           const mn_tensor *const *out,
                           const mn_tensor *const *dout, mn_tensor *const *din,
                           mn_exec *ex)
{
    if (!din[0])
        return MN_OK;
    un_job j = {.kind = kind, .cnt = mn_tensor_numel(in[0])};
    j.dx = mn_f32(din[0]);
    if (!dout[0]) {
        memset(j.dx, 0, (size_t)j.cnt * sizeof *j.dx);
        return MN_OK;
    }
    j.x = mn_f32(in[0]);
    j.y = mn_f32(out[0]);
    j.g = mn_f32(dout[0]);
    if (kind == UN_LEAKY)
        j.a = mn_node_attr_float(n, "alpha", 0.01f);
    else if (kind == UN_CLIP)
        clip_bounds(n, in, n_in, &j.a, &j.b);
    else if (kind == UN_HSIGMOID) {
        j.a = mn_node_attr_float(n, "alpha", 0.2f);
        j.b = mn_node_attr_float(n, "beta", 0.5f);
    }
    mn_tpool_run(mn_texec_of(ex)->pool, unary_bwd_task, &j,
                 (j.cnt + EW_CHUNK - 1) / EW_CHUNK);
    /* Only input 0 is differentiable; clip bounds etc. get none. */
    for (int i = 1; i < n_in; i++)
        if (din[i])
            memset(din[i]->data, 0, mn_tensor_nbytes(din[i]));
    return MN_OK;
}

#define UNARY_RULE_X(fname, kind, inpl)                                     \
    static mn_status bwd_##fname(const mn_node *n,                         \
                                 const mn_tensor *const *in, int n_in,      \
                                 const mn_tensor *const *out,               \
                                 const mn_tensor *const *dout, int n_out,   \
                                 mn_tensor *const *din, mn_exec *ex)        \
    {                                                                       \
        (void)n_out;                                                        \
        return unary_bwd(kind, n, in, n_in, out, dout, din, ex);            \
    }                                                                       \
    const mn_grad_def mn_grad_##fname = {.forward = mn_train_split_forward, \
                                         .backward = bwd_##fname,           \
                                         .diff_inputs = 1u,                 \
                                         .inplace = inpl};
#define UNARY_RULE(fname, kind) UNARY_RULE_X(fname, kind, 0)

/* In place: Relu's backward reads only y; Clip's tests lo < x < hi, which
 * holds exactly when lo < y < hi for y = clip(x) (NaN: neither). */
UNARY_RULE_X(relu, UN_RELU, 1)
UNARY_RULE_X(clip, UN_CLIP, 1)
UNARY_RULE(leakyrelu, UN_LEAKY)
UNARY_RULE(sigmoid, UN_SIGMOID)
UNARY_RULE(hardsigmoid, UN_HSIGMOID)
UNARY_RULE(hardswish, UN_HSWISH)
UNARY_RULE(tanh, UN_TANH)
UNARY_RULE(erf, UN_ERF)
UNARY_RULE(sqrt, UN_SQRT)
UNARY_RULE(exp, UN_EXP)
UNARY_RULE(log, UN_LOG)
UNARY_RULE(neg, UN_NEG)
UNARY_RULE(abs, UN_ABS)
UNARY_RULE(reciprocal, UN_RECIP)

static mn_status bwd_gelu(const mn_node *n, const mn_tensor *const *in, int n_in,
                      const mn_tensor *const *out,
                      const mn_tensor *const *dout, int n_out,
                      mn_tensor *const *din, mn_exec *ex)
{
    const char *ap = mn_node_attr_string(n, "approximate", "none");
    (void)n_out;
    return unary_bwd(strcmp(ap, "tanh") == 0 ? UN_GELU_TANH : UN_GELU, n, in,
                     n_in, out, dout, din, ex);
}
/* Gelu's forward in training: the erf form through the vector kernel
 * (tkern.h; within float rounding of the op table's), in element ranges
 * over the pool; the tanh form through the op table's forward. */
typedef struct gelu_job {
    const float *x;
    float *y;
    int64_t cnt;
} gelu_job;

static void gelu_fwd_task(void *arg, int64_t t, int thread)
{
    const gelu_job *j = arg;
    int64_t i0 = t * EW_CHUNK, i1 = i0 + EW_CHUNK < j->cnt ? i0 + EW_CHUNK
                                                         : j->cnt;
    (void)thread;
    mn_tkern_get()->gelu_fwd(j->x + i0, j->y + i0, i1 - i0);
}

static mn_status fwd_gelu(const mn_node *n, const mn_tensor *const *in,
                          int n_in, mn_tensor *const *out, int n_out,
                          mn_exec *ex)
{
    const char *ap = mn_node_attr_string(n, "approximate", "none");
    if (strcmp(ap, "none") != 0 || in[0]->dtype != MN_DT_F32)
        return mn_train_split_forward(n, in, n_in, out, n_out, ex);
    gelu_job j = {.x = mn_f32(in[0]), .y = mn_f32(out[0]),
                  .cnt = mn_tensor_numel(in[0])};
    mn_tpool_run(mn_texec_of(ex)->pool, gelu_fwd_task, &j,
                 (j.cnt + EW_CHUNK - 1) / EW_CHUNK);
    return MN_OK;
}

const mn_grad_def mn_grad_gelu = {.forward = fwd_gelu, .backward = bwd_gelu,
                                  .diff_inputs = 1u};

/* ---- binary rules with broadcasting ---- */

typedef enum bin_kind { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV, BIN_POW, BIN_MAX,
                        BIN_MIN, BIN_PRELU } bin_kind;

/* Chunks of the per-channel path's reduction: fixed, so the sums do not
 * depend on the thread count. */
#define PC_CHUNKS 16

static size_t binary_scratch(const mn_node *n, const mn_tensor *const *in,
                             int n_in, const mn_tensor *const *out, int n_out,
                             int threads)
{
    size_t s = 0, pc = 0;
    (void)n, (void)n_out, (void)threads;
    for (int i = 0; i < n_in && i < 2; i++)
        if (in[i] && !mn_same_dims(in[i], out[0])) {
            s += (size_t)mn_tensor_numel(in[i]) * sizeof(double) + 64;
            pc = (size_t)mn_tensor_numel(in[i]) * PC_CHUNKS * sizeof(double);
        }
    return s > pc ? s : pc;
}

static inline void bin_grads(bin_kind k, float g, float a, float b, float y,
                             float *ga, float *gb)
{
    switch (k) {
    case BIN_ADD: *ga = g; *gb = g; break;
    case BIN_SUB: *ga = g; *gb = -g; break;
    case BIN_MUL: *ga = g * b; *gb = g * a; break;
    case BIN_DIV: *ga = g / b; *gb = -g * y / b; break;
    case BIN_POW:
        *ga = b == 0.0f ? 0.0f : g * b * powf(a, b - 1.0f);
        *gb = a > 0.0f ? g * y * logf(a) : 0.0f;
        break;
    case BIN_MAX: *ga = a >= b ? g : 0.0f; *gb = a >= b ? 0.0f : g; break;
    case BIN_MIN: *ga = a <= b ? g : 0.0f; *gb = a <= b ? 0.0f : g; break;
    case BIN_PRELU:
        *ga = a > 0.0f ? g : g * b;
        *gb = a > 0.0f ? 0.0f : g * a;
        break;
    }
}

/* Same-shape operands: element ranges over the pool. */
typedef struct bin_job {
    bin_kind kind;
    const float *g, *a, *b, *y;
    float *da, *db;
    int64_t cnt;
} bin_job;

static void binary_same_task(void *arg, int64_t t, int thread)
{
    const bin_job *j = arg;
    int64_t i0 = t * EW_CHUNK, i1 = i0 + EW_CHUNK < j->cnt ? i0 + EW_CHUNK
                                                         : j->cnt;
    float *da = j->da, *db = j->db;
    const float *g = j->g;
    (void)thread;
    if (j->kind == BIN_ADD || j->kind == BIN_SUB) {
        if (da)
            memcpy(da + i0, g + i0, (size_t)(i1 - i0) * sizeof *g);
        if (db)
            for (int64_t i = i0; i < i1; i++)
                db[i] = j->kind == BIN_ADD ? g[i] : -g[i];
        return;
    }
    for (int64_t i = i0; i < i1; i++) {
        float ga = 0.0f, gb = 0.0f;
        bin_grads(j->kind, g[i], j->a[i], j->b[i], j->y[i], &ga, &gb);
        if (da)
            da[i] = ga;
        if (db)
            db[i] = gb;
    }
}

/* Add / Mul of a full operand x (the output's shape) and a per-channel
 * one p: p's dimensions that are not 1 form one block of the output's, so
 * the output is [outer, C, inner] and p is [C] (a bias on the last axis:
 * inner = 1; a layer scale [C, 1, 1] on NCHW: inner = H·W). */
typedef struct pc_job {
    bin_kind kind;
    const float *g, *x, *p;
    float *dx;
    double *part;          /* PC_CHUNKS × C partial sums of dp, or NULL */
    int64_t outer, c, inner, per;
} pc_job;

static void pc_task(void *arg, int64_t t, int thread)
{
    const pc_job *j = arg;
    const mn_tkern *kn = mn_tkern_get();
    int64_t o0 = t * j->per, o1 = o0 + j->per < j->outer ? o0 + j->per
                                                         : j->outer;
    int64_t row = j->c * j->inner;
    double *part = j->part ? j->part + t * j->c : NULL;
    (void)thread;
    if (part)
        memset(part, 0, (size_t)j->c * sizeof *part);
    for (int64_t o = o0; o < o1; o++) {
        const float *g = j->g + o * row, *x = j->x + o * row;
        float *dx = j->dx ? j->dx + o * row : NULL;
        if (dx && j->kind == BIN_ADD)
            memcpy(dx, g, (size_t)row * sizeof *dx);
        else if (dx)
            for (int64_t c = 0; c < j->c; c++) {
                float pv = j->p[c];
                const float *gc = g + c * j->inner;
                float *dc = dx + c * j->inner;
                for (int64_t i = 0; i < j->inner; i++)
                    dc[i] = gc[i] * pv;
            }
        if (!part)
            continue;
        if (j->inner == 1 && j->kind == BIN_ADD)
            for (int64_t c = 0; c < j->c; c++)
                part[c] += g[c];
        else if (j->inner == 1)
            for (int64_t c = 0; c < j->c; c++)
                part[c] += (double)(g[c] * x[c]);
        else
            for (int64_t c = 0; c < j->c; c++) {
                const float *gc = g + c * j->inner, *xc = x + c * j->inner;
                part[c] += j->kind == BIN_ADD ? kn->sum(gc, j->inner)
                                              : kn->dot(gc, xc, j->inner);
            }
    }
}

/* The per-channel path when it applies (1) or not (0). */
static int per_channel_bwd(bin_kind kind, const mn_tensor *const *in,
                           const mn_tensor *Y, const float *g,
                           mn_tensor *const *din, mn_exec *ex)
{
    int full = mn_same_dims(in[0], Y) ? 0 : mn_same_dims(in[1], Y) ? 1 : -1;
    if ((kind != BIN_ADD && kind != BIN_MUL) || full < 0 ||
        in[0]->dtype != MN_DT_F32 || in[1]->dtype != MN_DT_F32)
        return 0;
    const mn_tensor *P = in[1 - full];
    int nd = Y->ndim, off = nd - P->ndim, first = -1, last = -1;
    if (off < 0)
        return 0;
    for (int k = 0; k < P->ndim; k++)
        if (P->dims[k] != 1) {
            if (P->dims[k] != Y->dims[k + off] ||
                (first >= 0 && last != k + off - 1))
                return 0;
            if (first < 0)
                first = k + off;
            last = k + off;
        }
    if (first < 0)
        return 0;
    pc_job j = {.kind = kind, .g = g, .x = mn_f32(in[full]),
                .p = mn_f32(P), .outer = 1, .c = 1, .inner = 1};
    for (int k = 0; k < nd; k++)
        *(k < first ? &j.outer : k <= last ? &j.c : &j.inner) *= Y->dims[k];
    j.dx = din[full] ? mn_f32(din[full]) : NULL;
    float *dp = din[1 - full] ? mn_f32(din[1 - full]) : NULL;
    j.part = dp ? ex->scratch : NULL;
    j.per = (j.outer + PC_CHUNKS - 1) / PC_CHUNKS;
    int64_t nt = (j.outer + j.per - 1) / j.per;
    mn_tpool_run(mn_texec_of(ex)->pool, pc_task, &j, nt);
    if (dp)
        for (int64_t c = 0; c < j.c; c++) {
            double acc = 0;
            for (int64_t t = 0; t < nt; t++)
                acc += j.part[t * j.c + c];
            dp[c] = (float)acc;
        }
    return 1;
}

static mn_status binary_bwd(bin_kind kind, const mn_tensor *const *in,
                            int n_in, const mn_tensor *const *out,
                            const mn_tensor *const *dout,
                            mn_tensor *const *din, mn_exec *ex)
{
    const mn_tensor *A = in[0], *B = in[1], *Y = out[0];
    float *da = din[0] ? mn_f32(din[0]) : NULL;
    float *db = n_in > 1 && din[1] ? mn_f32(din[1]) : NULL;
    if (n_in != 2)
        return mn_error(ex->ctx, MN_ERR_UNSUPPORTED,
                        "gradient of a %d-input elementwise op", n_in);
    if (!dout[0]) {
        if (da)
            memset(da, 0, mn_tensor_nbytes(A));
        if (db)
            memset(db, 0, mn_tensor_nbytes(B));
        return MN_OK;
    }
    const float *g = mn_f32(dout[0]), *a = mn_f32(A), *b = mn_f32(B),
                *y = mn_f32(Y);
    int fa = mn_same_dims(A, Y), fb = mn_same_dims(B, Y);
    if (fa && fb) {
        bin_job j = {.kind = kind, .g = g, .a = a, .b = b, .y = y, .da = da,
                     .db = db, .cnt = mn_tensor_numel(Y)};
        mn_tpool_run(mn_texec_of(ex)->pool, binary_same_task, &j,
                     (j.cnt + EW_CHUNK - 1) / EW_CHUNK);
        return MN_OK;
    }
    if (per_channel_bwd(kind, in, Y, g, din, ex))
        return MN_OK;
    double *acc_a = ex->scratch, *acc_b = acc_a;
    if (!fa)
        acc_b = acc_a + ((mn_tensor_numel(A) + 7) / 8 * 8);
    if (da && !fa)
        memset(acc_a, 0, (size_t)mn_tensor_numel(A) * sizeof *acc_a);
    if (db && !fb)
        memset(acc_b, 0, (size_t)mn_tensor_numel(B) * sizeof *acc_b);
    int nd = Y->ndim;
    int64_t inner = nd ? Y->dims[nd - 1] : 1;
    int64_t outer = nd ? numel_dims(nd - 1, Y->dims) : 1;
    nd_walk w;
    int64_t one = 1;
    walk_init(&w, nd ? nd : 1, nd ? Y->dims : &one);
    if (nd) {
        mn_bcast_strides(A, nd, Y->dims, w.str[0]);
        mn_bcast_strides(B, nd, Y->dims, w.str[1]);
    }
    int64_t sa = nd ? w.str[0][nd - 1] : 0, sb = nd ? w.str[1][nd - 1] : 0;
    for (int64_t o = 0; o < outer; o++) {
        const float *gr = g + o * inner, *yr = y + o * inner;
        const float *ar = a + w.off[0], *br = b + w.off[1];
        for (int64_t i = 0; i < inner; i++) {
            float ga, gb;
            bin_grads(kind, gr[i], ar[i * sa], br[i * sb], yr[i], &ga, &gb);
            if (da) {
                if (fa)
                    da[o * inner + i] = ga;
                else
                    acc_a[w.off[0] + i * sa] += ga;
            }
            if (db) {
                if (fb)
                    db[o * inner + i] = gb;
                else
                    acc_b[w.off[1] + i * sb] += gb;
            }
        }
        walk_next(&w, 2);
    }
    if (da && !fa)
        for (int64_t i = 0; i < mn_tensor_numel(A); i++)
            da[i] = (float)acc_a[i];
    if (db && !fb)
        for (int64_t i = 0; i < mn_tensor_numel(B); i++)
            db[i] = (float)acc_b[i];
    return MN_OK;
}

#define BINARY_RULE(fname, kind, fw)                                        \
    static mn_status bwd_##fname(const mn_node *n,                         \
                                 const mn_tensor *const *in, int n_in,      \
                                 const mn_tensor *const *out,               \
                                 const mn_tensor *const *dout, int n_out,   \
                                 mn_tensor *const *din, mn_exec *ex)        \
    {                                                                       \
        (void)n, (void)n_out;                                               \
        return binary_bwd(kind, in, n_in, out, dout, din, ex);              \
    }                                                                       \
    const mn_grad_def mn_grad_##fname = {.forward = fw,                     \
                                         .backward = bwd_##fname,           \
                                         .backward_scratch = binary_scratch, \
                                         .diff_inputs = 3u};

BINARY_RULE(add, BIN_ADD, mn_train_split_forward)
BINARY_RULE(sub, BIN_SUB, mn_train_split_forward)
BINARY_RULE(mul, BIN_MUL, mn_train_split_forward)
BINARY_RULE(div, BIN_DIV, mn_train_split_forward)
BINARY_RULE(pow, BIN_POW, NULL)
BINARY_RULE(max, BIN_MAX, NULL)
BINARY_RULE(min, BIN_MIN, NULL)
BINARY_RULE(prelu, BIN_PRELU, NULL)
