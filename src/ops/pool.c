/* MaxPool, AveragePool and GlobalAveragePool over 1, 2 or 3 spatial axes:
 * shape rules and reference forwards. Windows are clipped to the input by
 * index ranges computed once per output element, so the tap loops carry no
 * bounds checks. MaxPool runs on float32, uint8 and int8 and can produce
 * the Indices output (row- or column-major per storage_order). */
#include <float.h>
#include <string.h>
#include "core/pool.h"
#include "kernels/qelem.h"
#include "ops/conv_shape.h"

/* A window padded to three spatial axes (leading axes of size 1). */
typedef struct win3 {
    int64_t in[3], k[3], s[3], d[3], pb[3], pe[3], out[3];
} win3;

static void to_win3(const mn_window *w, win3 *q)
{
    int lead = 3 - w->nsp;
    for (int i = 0; i < 3; i++) {
        int j = i - lead;
        q->in[i] = j >= 0 ? w->in[j] : 1;
        q->k[i] = j >= 0 ? w->k[j] : 1;
        q->s[i] = j >= 0 ? w->s[j] : 1;
        q->d[i] = j >= 0 ? w->d[j] : 1;
        q->pb[i] = j >= 0 ? w->pb[j] : 0;
        q->pe[i] = j >= 0 ? w->pe[j] : 0;
        q->out[i] = j >= 0 ? w->out[j] : 1;
    }
}

/* Taps [lo, hi) of axis i for output o that fall inside the input. */
static void taps(const win3 *q, int i, int64_t o, int64_t *lo, int64_t *hi)
{
    mn_ref_valid_range(o * q->s[i] - q->pb[i], q->d[i], q->in[i], q->k[i], lo,
                       hi);
}

/* Taps of axis i for output o inside the padded input. */
static int64_t padded_taps(const win3 *q, int i, int64_t o)
{
    int64_t lo, hi;
    mn_ref_valid_range(o * q->s[i], q->d[i], q->in[i] + q->pb[i] + q->pe[i],
                       q->k[i], &lo, &hi);
    return hi - lo;
}

static mn_status pool_window(const mn_node *n, const mn_tensor *x,
                             const char *op, unsigned flags, mn_window *w,
                             mn_ctx *ctx)
{
    char s[128];
    if (x->ndim < 3 || x->ndim > 5)
        return mn_error(ctx, x->ndim > 5 ? MN_ERR_UNSUPPORTED : MN_ERR_SHAPE,
                        "%s input %s: expected [N,C,D1..Dk] with 1 <= k <= 3",
                        op, mn_shape_str(x, s, sizeof s));
    return mn_window_init(n, x->ndim - 2, x->dims + 2, NULL, flags, w, ctx);
}

static void set_out(mn_tensor *o, const mn_tensor *x, const mn_window *w,
                    mn_dtype dt)
{
    o->dtype = dt;
    o->ndim = x->ndim;
    o->dims[0] = x->dims[0];
    o->dims[1] = x->dims[1];
    for (int i = 0; i < w->nsp; i++)
        o->dims[2 + i] = w->out[i];
}

/* ---- MaxPool ---- */

static mn_status maxpool_infer(const mn_node *n, const mn_tensor *const *in,
                               int n_in, mn_tensor *const *out, int n_out,
                               mn_ctx *ctx)
{
    const mn_tensor *x = in[0];
    mn_window w;
    mn_status st;
    (void)n_in;
    if (x->dtype != MN_DT_F32 && x->dtype != MN_DT_U8 && x->dtype != MN_DT_I8)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "MaxPool on %s (float32, uint8, int8 only)",
                        mn_dtype_name(x->dtype));
    int64_t so = mn_node_attr_int(n, "storage_order", 0);
    if (so != 0 && so != 1)
        return mn_error(ctx, MN_ERR_SHAPE, "storage_order %lld", (long long)so);
    if ((st = pool_window(n, x, "MaxPool", MN_WIN_CEIL, &w, ctx)) != MN_OK)
        return st;
    set_out(out[0], x, &w, x->dtype);
    if (n_out > 1)
        set_out(out[1], x, &w, MN_DT_I64);
    return MN_OK;
}

/* Row-major (storage_order 0) or column-major strides of the spatial axes
 * of one plane, in win3 axis order. */
static void index_strides(const win3 *q, int col_major, int64_t st[3])
{
    if (!col_major) {
        st[2] = 1;
        st[1] = q->in[2];
        st[0] = q->in[1] * q->in[2];
    } else {
        st[0] = 1; /* leading size-1 axes contribute 0 either way */
        st[1] = q->in[0];
        st[2] = q->in[0] * q->in[1];
    }
}

/* Scans taps in row-major order; the first maximum wins (as numpy's
 * argmax). A window entirely in padding yields the type's lowest value and
 * index -1. */
#define MAXPOOL_FN(NAME, T, LOWEST)                                          \
    static void NAME(const win3 *q, int64_t planes, const T *x, T *y,        \
                     int64_t *idx, int col_major)                            \
    {                                                                        \
        int64_t psz = q->in[0] * q->in[1] * q->in[2], st[3];                 \
        int64_t osz = q->out[0] * q->out[1] * q->out[2];                     \
        index_strides(q, col_major, st);                                     \
        for (int64_t pl = 0; pl < planes; pl++) {                            \
            const T *xp = x + pl * psz;                                      \
            int64_t o = pl * osz;                                            \
            for (int64_t od = 0; od < q->out[0]; od++) {                     \
                int64_t l0, h0;                                              \
                taps(q, 0, od, &l0, &h0);                                    \
                for (int64_t oh = 0; oh < q->out[1]; oh++) {                 \
                    int64_t l1, h1;                                          \
                    taps(q, 1, oh, &l1, &h1);                                \
                    for (int64_t ow = 0; ow < q->out[2]; ow++, o++) {        \
                        int64_t l2, h2, bi = -1;                             \
                        T best = LOWEST;                                     \
                        taps(q, 2, ow, &l2, &h2);                            \
                        for (int64_t t0 = l0; t0 < h0; t0++) {               \
                            int64_t i0 = od * q->s[0] - q->pb[0] +           \
                                         t0 * q->d[0];                       \
                            for (int64_t t1 = l1; t1 < h1; t1++) {           \
                                int64_t i1 = oh * q->s[1] - q->pb[1] +       \
                                             t1 * q->d[1];                   \
                                int64_t base = (i0 * q->in[1] + i1) *        \
                                               q->in[2];                     \
                                int64_t i2 = ow * q->s[2] - q->pb[2];        \
                                for (int64_t t2 = l2; t2 < h2; t2++) {       \
                                    int64_t c = i2 + t2 * q->d[2];           \
                                    T v = xp[base + c];                      \
                                    if (v > best || bi < 0) {                \
                                        best = v;                            \
                                        bi = i0 * st[0] + i1 * st[1] +       \
                                             c * st[2];                      \
                                    }                                        \
                                }                                            \
                            }                                                \
                        }                                                    \
                        y[o] = best;                                         \
                        if (idx)                                             \
                            idx[o] = bi < 0 ? -1 : pl * psz + bi;            \
                    }                                                        \
                }                                                            \
            }                                                                \
        }                                                                    \
    }
MAXPOOL_FN(maxpool_f32, float, -FLT_MAX)
MAXPOOL_FN(maxpool_u8, uint8_t, 0)
MAXPOOL_FN(maxpool_i8, int8_t, -128)

/* 8-bit MaxPool over 2-D windows without dilation or Indices (the
 * quantized graph's case): per output row, the running maximum of the
 * window's valid input rows (vmax kernel, one row of scratch), then each
 * window's valid columns (stride 2: the windows inside the row through the
 * hmax2 kernel); planes run on the pool. max is exact, so the bytes equal
 * the tap scan's, a window entirely in padding included (the type's lowest
 * value). */
static int maxpool_fast_ok(const win3 *q, int n_out)
{
    return n_out == 1 && q->in[0] == 1 && q->k[0] == 1 && q->d[1] == 1 &&
           q->d[2] == 1;
}

/* Stride 2 along the row: outputs [v0, v1) have their whole window in
 * the row (the row kernels' part); v1 = v0 otherwise. */
static void stride2_inner(const win3 *q, int64_t *v0, int64_t *v1)
{
    int64_t w = q->in[2], k = q->k[2], pb = q->pb[2], ow_n = q->out[2];
    *v0 = *v1 = (pb + 1) / 2;
    if (q->s[2] == 2 && w - k + pb >= 0)
        *v1 = (w - k + pb) / 2 + 1 < ow_n ? (w - k + pb) / 2 + 1 : ow_n;
    if (*v1 < *v0)
        *v1 = *v0;
}

/* One plane of the 8-bit fast path; row: w bytes of scratch. */
static void maxpool_q8_plane(const win3 *q, const mn_kernels_qelem *kq,
                             const uint8_t *xp, uint8_t *yp, int i8,
                             uint8_t *row)
{
    int64_t w = q->in[2], oh_n = q->out[1], ow_n = q->out[2];
    int64_t k = q->k[2], s = q->s[2], pb = q->pb[2];
    uint8_t lowest = i8 ? 0x80 : 0;
    int64_t v0, v1;
    stride2_inner(q, &v0, &v1);
    for (int64_t oh = 0; oh < oh_n; oh++) {
        uint8_t *yo = yp + oh * ow_n;
        int64_t l1, h1, r0 = oh * q->s[1] - q->pb[1];
        taps(q, 1, oh, &l1, &h1);
        if (l1 >= h1) {
            memset(yo, lowest, (size_t)ow_n);
            continue;
        }
        if (kq->maxrow2 && s == 2 && k <= 4 && h1 - l1 <= 16) {
            /* the whole row in one call, padding columns skipped */
            const void *rows[16];
            for (int64_t t = l1; t < h1; t++)
                rows[t - l1] = xp + (r0 + t) * w;
            kq->maxrow2(rows, (int)(h1 - l1), w, -pb, ow_n, (int)k, i8, yo);
            continue;
        }
        memcpy(row, xp + (r0 + l1) * w, (size_t)w);
        for (int64_t t = l1 + 1; t < h1; t++)
            kq->vmax(row, xp + (r0 + t) * w, w, i8);
        if (v1 > v0)
            kq->hmax2(row + 2 * v0 - pb, v1 - v0, (int)k, i8, yo + v0);
        for (int64_t ow = 0; ow < ow_n; ow++) {
            if (ow == v0 && v1 > v0)
                ow = v1;
            if (ow >= ow_n)
                break;
            int64_t c0 = ow * s - pb;
            int64_t lo = c0 < 0 ? -c0 : 0;
            int64_t hi = w - c0 < k ? w - c0 : k;
            uint8_t best = lowest;
            for (int64_t t = lo; t < hi; t++) {
                uint8_t v = row[c0 + t];
                if (i8 ? (int8_t)v > (int8_t)best : v > best)
                    best = v;
            }
            yo[ow] = best;
        }
    }
}

/* Planes of the 8-bit fast path, one after the other. */
static void maxpool_q8_fast(const win3 *q, int64_t planes, const uint8_t *x,
                            uint8_t *y, int i8, uint8_t *row)
{
    const mn_kernels_qelem *kq = mn_kernels_qelem_active();
    for (int64_t pl = 0; pl < planes; pl++)
        maxpool_q8_plane(q, kq, x + pl * q->in[1] * q->in[2],
                         y + pl * q->out[1] * q->out[2], i8, row);
}

/* The float32 twin: the vertical pass skips NaN (vmaxf) and a window
 * whose first tap is NaN gives NaN, so NaN propagates exactly as in the
 * tap scan (first tap NaN → NaN, later NaNs ignored). Only the sign of a
 * zero maximum can differ (when -0 and +0 tie for it). Stride 2: the
 * windows inside the row through the hmax2f kernel. */
static void maxpool_f32_fast(const win3 *q, int64_t planes, const float *x,
                             float *y, float *row)
{
    const mn_kernels_qelem *kq = mn_kernels_qelem_active();
    int64_t h = q->in[1], w = q->in[2], oh_n = q->out[1], ow_n = q->out[2];
    int64_t k = q->k[2], pb = q->pb[2];
    int64_t v0, v1;
    stride2_inner(q, &v0, &v1);
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * h * w;
        for (int64_t oh = 0; oh < oh_n; oh++) {
            float *yo = y + (pl * oh_n + oh) * ow_n;
            int64_t l1, h1, r0 = oh * q->s[1] - q->pb[1];
            taps(q, 1, oh, &l1, &h1);
            if (l1 >= h1) {
                for (int64_t ow = 0; ow < ow_n; ow++)
                    yo[ow] = -FLT_MAX;
                continue;
            }
            const float *first = xp + (r0 + l1) * w;
            memcpy(row, first, (size_t)w * sizeof *row);
            for (int64_t t = l1 + 1; t < h1; t++)
                kq->vmaxf(row, xp + (r0 + t) * w, w);
            if (v1 > v0)
                kq->hmax2f(row + 2 * v0 - pb, first + 2 * v0 - pb, v1 - v0,
                           (int)k, yo + v0);
            for (int64_t ow = 0; ow < ow_n; ow++) {
                if (ow == v0 && v1 > v0)
                    ow = v1;
                if (ow >= ow_n)
                    break;
                int64_t c0 = ow * q->s[2] - pb;
                int64_t lo = c0 < 0 ? -c0 : 0;
                int64_t hi = w - c0 < k ? w - c0 : k;
                if (lo >= hi) {
                    yo[ow] = -FLT_MAX;
                    continue;
                }
                float best = row[c0 + lo];
                if (first[c0 + lo] != first[c0 + lo]) {
                    yo[ow] = first[c0 + lo]; /* the first tap is NaN */
                    continue;
                }
                for (int64_t t = lo + 1; t < hi; t++)
                    if (row[c0 + t] > best)
                        best = row[c0 + t];
                yo[ow] = best;
            }
        }
    }
}

typedef struct mp_job {
    const win3 *q;
    const void *x;
    void *y, *row; /* row: the caller's scratch (no pool) */
    size_t es;     /* element size: 4 (float32) or 1 (8-bit) */
    int i8;        /* 8-bit: signed */
    mn_pool *pool;
    int64_t planes, per_task;
} mp_job;

/* Planes [t·per_task, ...) of the fast 2-D MaxPool. */
static void mp_task(void *arg, int64_t t, int thread)
{
    const mp_job *J = arg;
    int64_t lo = t * J->per_task, hi = lo + J->per_task;
    int64_t in_plane = J->q->in[1] * J->q->in[2];
    int64_t out_plane = J->q->out[1] * J->q->out[2];
    void *row = J->pool ? mn_pool_scratch(J->pool, thread) : J->row;
    if (hi > J->planes)
        hi = J->planes;
    if (J->es == 4)
        maxpool_f32_fast(J->q, hi - lo, (const float *)J->x + lo * in_plane,
                         (float *)J->y + lo * out_plane, row);
    else
        maxpool_q8_fast(J->q, hi - lo,
                        (const uint8_t *)J->x + lo * in_plane,
                        (uint8_t *)J->y + lo * out_plane,
                        J->i8, row);
}

static size_t maxpool_scratch(const mn_node *n, const mn_tensor *const *in,
                              int n_in, const mn_tensor *const *out,
                              int n_out)
{
    const mn_tensor *x = in[0];
    (void)n, (void)n_in, (void)out, (void)n_out;
    return (size_t)x->dims[x->ndim - 1] * mn_dtype_size(x->dtype);
}

static mn_status maxpool_forward(const mn_node *n, const mn_tensor *const *in,
                                 int n_in, mn_tensor *const *out, int n_out,
                                 mn_exec *ex)
{
    const mn_tensor *x = in[0];
    mn_window w;
    win3 q;
    mn_status st = pool_window(n, x, "MaxPool", MN_WIN_CEIL, &w, ex->ctx);
    (void)n_in;
    if (st != MN_OK)
        return st;
    to_win3(&w, &q);
    int64_t planes = x->dims[0] * x->dims[1];
    int64_t *idx = n_out > 1 ? out[1]->data : NULL;
    int cm = mn_node_attr_int(n, "storage_order", 0) == 1;
    int fast = maxpool_fast_ok(&q, n_out) &&
               ex->scratch_bytes >= (size_t)q.in[2] * mn_dtype_size(x->dtype);
    if (fast) {
        size_t es = mn_dtype_size(x->dtype);
        mp_job J = {.q = &q, .x = x->data, .y = out[0]->data,
                    .row = ex->scratch, .es = es,
                    .i8 = x->dtype == MN_DT_I8, .pool = NULL,
                    .planes = planes, .per_task = planes};
        /* planes split over the pool when there is enough to read; a task
         * on a pool thread uses that thread's scratch for its row */
        if ((double)planes * (double)(q.in[1] * q.in[2]) >= 65536.0 &&
            mn_pool_threads(ex->pool) > 1 &&
            mn_pool_scratch_bytes(ex->pool) >= (size_t)q.in[2] * es) {
            J.pool = ex->pool;
            J.per_task = (planes + 4 * mn_pool_threads(ex->pool) - 1) /
                         (4 * mn_pool_threads(ex->pool));
        }
        mn_pool_run(J.pool, mp_task, &J,
                    planes > 0 ? (planes + J.per_task - 1) / J.per_task : 0);
    } else if (x->dtype == MN_DT_F32)
        maxpool_f32(&q, planes, x->data, out[0]->data, idx, cm);
    else if (x->dtype == MN_DT_U8)
        maxpool_u8(&q, planes, x->data, out[0]->data, idx, cm);
    else
        maxpool_i8(&q, planes, x->data, out[0]->data, idx, cm);
    return MN_OK;
}

const mn_op_def mn_opdef_maxpool = {
    .name = "MaxPool",
    .min_in = 1,
    .max_in = 1,
    .min_out = 1,
    .max_out = 2,
    .flags = 0,
    .infer = maxpool_infer,
    .scratch = maxpool_scratch,
    .forward = maxpool_forward,
};

/* ---- AveragePool ---- */

static mn_status avgpool_infer(const mn_node *n, const mn_tensor *const *in,
                               int n_in, mn_tensor *const *out, int n_out,
                               mn_ctx *ctx)
{
    const mn_tensor *x = in[0];
    mn_window w;
    mn_status st;
    (void)n_in;
    (void)n_out;
    if (x->dtype != MN_DT_F32)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "AveragePool on %s (float32 only)",
                        mn_dtype_name(x->dtype));
    if ((st = pool_window(n, x, "AveragePool", MN_WIN_CEIL, &w, ctx)) != MN_OK)
        return st;
    set_out(out[0], x, &w, MN_DT_F32);
    return MN_OK;
}

/* count_include_pad counts taps inside the padded input (never those a
 * ceil_mode window hangs past it); otherwise only taps inside the input. */
static void avgpool_f32(const win3 *q, int64_t planes, const float *x,
                        float *y, int include_pad)
{
    int64_t psz = q->in[0] * q->in[1] * q->in[2];
    int64_t o = 0;
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * psz;
        for (int64_t od = 0; od < q->out[0]; od++) {
            int64_t l0, h0;
            taps(q, 0, od, &l0, &h0);
            for (int64_t oh = 0; oh < q->out[1]; oh++) {
                int64_t l1, h1;
                taps(q, 1, oh, &l1, &h1);
                for (int64_t ow = 0; ow < q->out[2]; ow++, o++) {
                    int64_t l2, h2, cnt;
                    double sum = 0.0;
                    taps(q, 2, ow, &l2, &h2);
                    for (int64_t t0 = l0; t0 < h0; t0++) {
                        int64_t i0 = od * q->s[0] - q->pb[0] + t0 * q->d[0];
                        for (int64_t t1 = l1; t1 < h1; t1++) {
                            int64_t i1 = oh * q->s[1] - q->pb[1] + t1 * q->d[1];
                            const float *xr =
                                xp + (i0 * q->in[1] + i1) * q->in[2];
                            int64_t i2 = ow * q->s[2] - q->pb[2];
                            for (int64_t t2 = l2; t2 < h2; t2++)
                                sum += xr[i2 + t2 * q->d[2]];
                        }
                    }
                    if (include_pad)
                        cnt = padded_taps(q, 0, od) * padded_taps(q, 1, oh) *
                              padded_taps(q, 2, ow);
                    else
                        cnt = (h0 - l0) * (h1 - l1) * (h2 - l2);
                    y[o] = cnt > 0 ? (float)(sum / (double)cnt) : 0.0f;
                }
            }
        }
    }
}

static mn_status avgpool_forward(const mn_node *n, const mn_tensor *const *in,
                                 int n_in, mn_tensor *const *out, int n_out,
                                 mn_exec *ex)
{
    const mn_tensor *x = in[0];
    mn_window w;
    win3 q;
    mn_status st = pool_window(n, x, "AveragePool", MN_WIN_CEIL, &w, ex->ctx);
    (void)n_in;
    (void)n_out;
    if (st != MN_OK)
        return st;
    to_win3(&w, &q);
    avgpool_f32(&q, x->dims[0] * x->dims[1], x->data, out[0]->data,
                mn_node_attr_int(n, "count_include_pad", 0) != 0);
    return MN_OK;
}

const mn_op_def mn_opdef_avgpool = {
    .name = "AveragePool",
    .min_in = 1,
    .max_in = 1,
    .min_out = 1,
    .max_out = 1,
    .flags = 0,
    .infer = avgpool_infer,
    .scratch = NULL,
    .forward = avgpool_forward,
};

/* ---- GlobalAveragePool ---- */

static mn_status gap_infer(const mn_node *n, const mn_tensor *const *in,
                           int n_in, mn_tensor *const *out, int n_out,
                           mn_ctx *ctx)
{
    const mn_tensor *x = in[0];
    char s[128];
    (void)n;
    (void)n_in;
    (void)n_out;
    if (x->dtype != MN_DT_F32)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "GlobalAveragePool on %s (float32 only)",
                        mn_dtype_name(x->dtype));
    if (x->ndim < 3)
        return mn_error(ctx, MN_ERR_SHAPE,
                        "GlobalAveragePool input %s: expected [N,C,D1,...]",
                        mn_shape_str(x, s, sizeof s));
    mn_tensor_copy_meta(out[0], x);
    for (int i = 2; i < x->ndim; i++)
        out[0]->dims[i] = 1;
    return MN_OK;
}

typedef struct gap_job {
    const float *x;
    float *y;
    int64_t sz, per_task, planes;
} gap_job;

/* Mean of one plane: its sum as ReduceMean's (mn_sum_run_f32: sixteen
 * double chains, vectorized with AVX-512) / size, to float. */
static float plane_mean(const float *x, int64_t sz)
{
    return sz > 0 ? (float)(mn_sum_run_f32(x, sz) / (double)sz) : 0.0f;
}

static void gap_task(void *arg, int64_t t, int thread)
{
    const gap_job *J = arg;
    int64_t lo = t * J->per_task, hi = lo + J->per_task;
    (void)thread;
    for (int64_t p = lo; p < hi && p < J->planes; p++)
        J->y[p] = plane_mean(J->x + p * J->sz, J->sz);
}

static mn_status gap_forward(const mn_node *n, const mn_tensor *const *in,
                             int n_in, mn_tensor *const *out, int n_out,
                             mn_exec *ex)
{
    const mn_tensor *x = in[0];
    gap_job J = {.x = x->data, .y = out[0]->data, .sz = 1,
                 .planes = x->dims[0] * x->dims[1]};
    int64_t parts = 1;
    (void)n;
    (void)n_in;
    (void)n_out;
    for (int i = 2; i < x->ndim; i++)
        J.sz *= x->dims[i];
    /* planes split over the pool when there is enough to read (each
     * plane's sum is the same on any thread) */
    if ((double)J.planes * (double)J.sz >= 65536.0)
        parts = 4 * (int64_t)mn_pool_threads(ex->pool);
    J.per_task = J.planes > 0 ? (J.planes + parts - 1) / parts : 1;
    mn_pool_run(parts > 1 ? ex->pool : NULL, gap_task, &J,
                (J.planes + J.per_task - 1) / J.per_task);
    return MN_OK;
}

const mn_op_def mn_opdef_globalavgpool = {
    .name = "GlobalAveragePool",
    .min_in = 1,
    .max_in = 1,
    .min_out = 1,
    .max_out = 1,
    .flags = 0,
    .infer = gap_infer,
    .scratch = NULL,
    .forward = gap_forward,
};
