/* Backward rules of the pooling and reduction ops: MaxPool (the gradient
 * goes to the first maximum of each window in row-major order, the tap the
 * forward picked), AveragePool (count_include_pad as the forward counts
 * it), GlobalAveragePool, ReduceMean and ReduceSum. Windows use the same
 * geometry helper as the forwards (mn_window_init). */
#include <float.h>
#include <stdint.h>
#include <string.h>
#include "ops/conv_shape.h"
#include "train/grad.h"

typedef struct win3 {
    int64_t in[3], k[3], s[3], d[3], pb[3], pe[3], out[3];
} win3;

static mn_status get_win(const mn_node *n, const mn_tensor *x, win3 *q,
                         mn_ctx *ctx)
{
    mn_window w;
    mn_status st;
    if (x->ndim < 3 || x->ndim > 5)
        return mn_error(ctx, MN_ERR_SHAPE, "pooling input of rank %d",
                        x->ndim);
    if ((st = mn_window_init(n, x->ndim - 2, x->dims + 2, NULL, MN_WIN_CEIL,
                             &w, ctx)) != MN_OK)
        return st;
    int lead = 3 - w.nsp;
    for (int i = 0; i < 3; i++) {
        int j = i - lead;
        q->in[i] = j >= 0 ? w.in[j] : 1;
        q->k[i] = j >= 0 ? w.k[j] : 1;
        q->s[i] = j >= 0 ? w.s[j] : 1;
        q->d[i] = j >= 0 ? w.d[j] : 1;
        q->pb[i] = j >= 0 ? w.pb[j] : 0;
        q->pe[i] = j >= 0 ? w.pe[j] : 0;
        q->out[i] = j >= 0 ? w.out[j] : 1;
    }
    return MN_OK;
}

static void taps(const win3 *q, int i, int64_t o, int64_t *lo, int64_t *hi)
{
    mn_ref_valid_range(o * q->s[i] - q->pb[i], q->d[i], q->in[i], q->k[i], lo,
                       hi);
}

static int64_t padded_taps(const win3 *q, int i, int64_t o)
{
    int64_t lo, hi;
    mn_ref_valid_range(o * q->s[i], q->d[i], q->in[i] + q->pb[i] + q->pe[i],
                       q->k[i], &lo, &hi);
    return hi - lo;
}

static mn_status pool_bwd(int is_max, const mn_node *n,
                          const mn_tensor *const *in,
                          const mn_tensor *const *dout,
                          mn_tensor *const *din, mn_exec *ex)
{
    const mn_tensor *x = in[0];
    win3 q;
    mn_status st;
    if (!din[0])
        return MN_OK;
    float *dx = mn_f32(din[0]);
    memset(dx, 0, mn_tensor_nbytes(x));
    if (!dout[0])
        return MN_OK;
    if ((st = get_win(n, x, &q, ex->ctx)) != MN_OK)
        return st;
    int incl = mn_node_attr_int(n, "count_include_pad", 0) != 0;
    const float *xs = mn_f32(x), *g = mn_f32(dout[0]);
    int64_t planes = x->dims[0] * x->dims[1];
    int64_t psz = q.in[0] * q.in[1] * q.in[2];
    int64_t o = 0;
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *xp = xs + pl * psz;
        float *dp = dx + pl * psz;
        for (int64_t od = 0; od < q.out[0]; od++) {
            int64_t l0, h0;
            taps(&q, 0, od, &l0, &h0);
            for (int64_t oh = 0; oh < q.out[1]; oh++) {
                int64_t l1, h1;
                taps(&q, 1, oh, &l1, &h1);
                for (int64_t ow = 0; ow < q.out[2]; ow++, o++) {
                    int64_t l2, h2, bi = -1;
                    float best = -FLT_MAX, share = 0.0f;
                    taps(&q, 2, ow, &l2, &h2);
                    if (!is_max) {
                        int64_t cnt = incl ? padded_taps(&q, 0, od) *
                                                 padded_taps(&q, 1, oh) *
                                                 padded_taps(&q, 2, ow)
                                           : (h0 - l0) * (h1 - l1) * (h2 - l2);
                        if (cnt <= 0)
                            continue;
                        share = (float)((double)g[o] / (double)cnt);
                    }
                    for (int64_t t0 = l0; t0 < h0; t0++) {
                        int64_t i0 = od * q.s[0] - q.pb[0] + t0 * q.d[0];
                        for (int64_t t1 = l1; t1 < h1; t1++) {
                            int64_t i1 = oh * q.s[1] - q.pb[1] + t1 * q.d[1];
                            int64_t base = (i0 * q.in[1] + i1) * q.in[2];
                            int64_t i2 = ow * q.s[2] - q.pb[2];
                            for (int64_t t2 = l2; t2 < h2; t2++) {
                                int64_t c = base + i2 + t2 * q.d[2];
                                if (!is_max) {
                                    dp[c] += share;
                                } else if (xp[c] > best || bi < 0) {
                                    best = xp[c];
                                    bi = c;
                                }
                            }
                        }
                    }
                    if (is_max && bi >= 0)
                        dp[bi] += g[o];
                }
            }
        }
    }
    return MN_OK;
}

/* MaxPool forward that records each window's winner (the first maximum in
 * row-major order, as the op table's forward picks it) as an offset into
 * its plane, so the backward scatters without searching again. 2×2
 * stride-2 windows inside the input take a direct path. */
typedef struct mp_job {
    win3 q;
    const float *x;
    float *y;
    int32_t *arg;
    int64_t psz, osz;
    int fast;
} mp_job;

static void mp_plane(void *arg, int64_t pl, int thread)
{
    const mp_job *j = arg;
    const win3 *q = &j->q;
    const float *xp = j->x + pl * j->psz;
    float *yp = j->y + pl * j->osz;
    int32_t *ap = j->arg + pl * j->osz;
    int64_t o = 0;
    (void)thread;
    if (j->fast) {
        int64_t W = q->in[2];
        for (int64_t oh = 0; oh < q->out[1]; oh++)
            for (int64_t ow = 0; ow < q->out[2]; ow++, o++) {
                int64_t b = 2 * oh * W + 2 * ow, bi = b;
                float best = xp[b];
                if (xp[b + 1] > best)
                    best = xp[bi = b + 1];
                if (xp[b + W] > best)
                    best = xp[bi = b + W];
                if (xp[b + W + 1] > best)
                    best = xp[bi = b + W + 1];
                yp[o] = best;
                ap[o] = (int32_t)bi;
            }
        return;
    }
    for (int64_t od = 0; od < q->out[0]; od++) {
        int64_t l0, h0;
        taps(q, 0, od, &l0, &h0);
        for (int64_t oh = 0; oh < q->out[1]; oh++) {
            int64_t l1, h1;
            taps(q, 1, oh, &l1, &h1);
            for (int64_t ow = 0; ow < q->out[2]; ow++, o++) {
                int64_t l2, h2, bi = -1;
                float best = -FLT_MAX;
                taps(q, 2, ow, &l2, &h2);
                for (int64_t t0 = l0; t0 < h0; t0++) {
                    int64_t i0 = od * q->s[0] - q->pb[0] + t0 * q->d[0];
                    for (int64_t t1 = l1; t1 < h1; t1++) {
                        int64_t i1 = oh * q->s[1] - q->pb[1] + t1 * q->d[1];
                        int64_t base = (i0 * q->in[1] + i1) * q->in[2];
                        int64_t i2 = ow * q->s[2] - q->pb[2];
                        for (int64_t t2 = l2; t2 < h2; t2++) {
                            int64_t c = base + i2 + t2 * q->d[2];
                            if (xp[c] > best || bi < 0) {
                                best = xp[c];
                                bi = c;
                            }
                        }
                    }
                }
                yp[o] = best;
                ap[o] = (int32_t)bi;
            }
        }
    }
}

static size_t mp_priv(const mn_node *n, const mn_tensor *const *in, int n_in,
                      const mn_tensor *const *out, int n_out)
{
    (void)n, (void)in, (void)n_in, (void)n_out;
    return (size_t)mn_tensor_numel(out[0]) * sizeof(int32_t);
}

static mn_status mp_fwd(const mn_node *n, const mn_tensor *const *in,
                        int n_in, mn_tensor *const *out, int n_out,
                        mn_exec *ex)
{
    const mn_tensor *x = in[0];
    mp_job j;
    mn_status st;
    (void)n_in;
    if (x->dtype != MN_DT_F32 || n_out > 1 || !ex->priv ||
        mn_tensor_numel(x) / (x->dims[0] * x->dims[1] + !x->dims[0]) >
            INT32_MAX) {
        const mn_op_def *d = mn_op_get(MN_OP_MAXPOOL);
        if (!d || !d->forward)
            return mn_error(ex->ctx, MN_ERR_UNSUPPORTED, "MaxPool");
        if (ex->priv)
            memset(ex->priv, 0xff, mp_priv(n, in, n_in,
                                           (const mn_tensor *const *)out,
                                           n_out));
        return d->forward(n, in, n_in, out, n_out, ex);
    }
    if ((st = get_win(n, x, &j.q, ex->ctx)) != MN_OK)
        return st;
    j.x = mn_f32(x);
    j.y = mn_f32(out[0]);
    j.arg = ex->priv;
    j.psz = j.q.in[0] * j.q.in[1] * j.q.in[2];
    j.osz = j.q.out[0] * j.q.out[1] * j.q.out[2];
    j.fast = j.q.k[1] == 2 && j.q.k[2] == 2 && j.q.s[1] == 2 &&
             j.q.s[2] == 2 && j.q.d[1] == 1 && j.q.d[2] == 1 &&
             j.q.pb[1] == 0 && j.q.pb[2] == 0 && j.q.in[0] == 1 &&
             2 * j.q.out[1] <= j.q.in[1] && 2 * j.q.out[2] <= j.q.in[2];
    mn_tpool_run(mn_texec_of(ex)->pool, mp_plane, &j,
                 x->dims[0] * x->dims[1]);
    return MN_OK;
}

static mn_status maxpool_bwd(const mn_node *n, const mn_tensor *const *in,
                             int n_in, const mn_tensor *const *out,
                             const mn_tensor *const *dout, int n_out,
                             mn_tensor *const *din, mn_exec *ex)
{
    const int32_t *arg = ex->priv;
    (void)n_in, (void)n_out;
    if (!arg || !din[0] || !dout[0] || arg[0] < 0)
        return pool_bwd(1, n, in, dout, din, ex);
    const mn_tensor *x = in[0];
    int64_t planes = x->dims[0] * x->dims[1];
    int64_t psz = planes ? mn_tensor_numel(x) / planes : 0;
    int64_t osz = planes ? mn_tensor_numel(out[0]) / planes : 0;
    float *dx = mn_f32(din[0]);
    const float *g = mn_f32(dout[0]);
    memset(dx, 0, mn_tensor_nbytes(x));
    for (int64_t p = 0; p < planes; p++)
        for (int64_t o = 0; o < osz; o++) {
            int32_t a = arg[p * osz + o];
            if (a >= 0)
                dx[p * psz + a] += g[p * osz + o];
        }
    return MN_OK;
}
const mn_grad_def mn_grad_maxpool = {.forward = mp_fwd,
                                     .priv_bytes = mp_priv,
                                     .backward = maxpool_bwd,
                                     .diff_inputs = 1u};

static mn_status avgpool_bwd(const mn_node *n, const mn_tensor *const *in,
                             int n_in, const mn_tensor *const *out,
                             const mn_tensor *const *dout, int n_out,
                             mn_tensor *const *din, mn_exec *ex)
{
    (void)n_in, (void)out, (void)n_out;
    return pool_bwd(0, n, in, dout, din, ex);
}
const mn_grad_def mn_grad_avgpool = {.backward = avgpool_bwd,
                                     .diff_inputs = 1u};

static mn_status gap_bwd(const mn_node *n, const mn_tensor *const *in,
                         int n_in, const mn_tensor *const *out,
                         const mn_tensor *const *dout, int n_out,
                         mn_tensor *const *din, mn_exec *ex)
{
    const mn_tensor *x = in[0];
    (void)n, (void)n_in, (void)out, (void)n_out, (void)ex;
    if (!din[0])
        return MN_OK;
    float *dx = mn_f32(din[0]);
    int64_t planes = x->dims[0] * x->dims[1];
    int64_t sp = planes ? mn_tensor_numel(x) / planes : 0;
    for (int64_t p = 0; p < planes; p++) {
        float v = dout[0] ? (float)((double)mn_f32(dout[0])[p] / (double)sp)
                          : 0.0f;
        for (int64_t i = 0; i < sp; i++)
            dx[p * sp + i] = v;
    }
    return MN_OK;
}
const mn_grad_def mn_grad_globalavgpool = {.backward = gap_bwd,
                                           .diff_inputs = 1u};

/* ---- ReduceMean / ReduceSum ---- */

static mn_status reduce_bwd(int mean, const mn_node *n,
                            const mn_tensor *const *in, int n_in,
                            const mn_tensor *const *dout,
                            mn_tensor *const *din, mn_exec *ex)
{
    const mn_tensor *x = in[0];
    int64_t axes[MN_MAX_DIMS];
    int na = 0, nd = x->ndim, red[MN_MAX_DIMS] = {0};
    if (!din[0])
        return MN_OK;
    float *dx = mn_f32(din[0]);
    if (!dout[0]) {
        memset(dx, 0, mn_tensor_nbytes(x));
        return MN_OK;
    }
    /* ReduceSum takes axes as input from opset 13, ReduceMean from 18. */
    int axes_input = n->op == MN_OP_REDUCESUM ? n->opset >= 13
                                              : n->opset >= 18;
    if (axes_input) {
        if (n_in > 1 && in[1]) {
            if (!in[1]->data)
                return mn_error(ex->ctx, MN_ERR_UNSUPPORTED,
                                "reduction gradient needs constant axes");
            na = (int)mn_tensor_numel(in[1]);
            for (int i = 0; i < na && i < MN_MAX_DIMS; i++)
                axes[i] = mn_tensor_get_i64(in[1], i);
        }
    } else {
        const int64_t *a;
        na = mn_node_attr_ints(n, "axes", &a);
        for (int i = 0; i < na && i < MN_MAX_DIMS; i++)
            axes[i] = a[i];
    }
    if (na > nd)
        return mn_error(ex->ctx, MN_ERR_SHAPE, "%d reduction axes", na);
    if (na == 0 && mn_node_attr_int(n, "noop_with_empty_axes", 0)) {
        memcpy(dx, mn_f32(dout[0]), mn_tensor_nbytes(x));
        return MN_OK;
    }
    for (int i = 0; i < na; i++) {
        int a;
        mn_status st = mn_norm_axis(axes[i], nd, &a, ex->ctx);
        if (st != MN_OK)
            return st;
        red[a] = 1;
    }
    if (na == 0)
        for (int k = 0; k < nd; k++)
            red[k] = 1;
    int64_t cnt = 1, gs[MN_MAX_DIMS], s = 1, idx[MN_MAX_DIMS] = {0};
    for (int k = nd - 1; k >= 0; k--) {
        if (red[k]) {
            cnt *= x->dims[k];
            gs[k] = 0;
        } else {
            gs[k] = s;
            s *= x->dims[k];
        }
    }
    double scale = mean && cnt ? 1.0 / (double)cnt : 1.0;
    const float *g = mn_f32(dout[0]);
    int64_t total = mn_tensor_numel(x), off = 0;
    for (int64_t i = 0; i < total; i++) {
        dx[i] = (float)(g[off] * scale);
        for (int k = nd - 1; k >= 0; k--) {
            off += gs[k];
            if (++idx[k] < x->dims[k])
                break;
            off -= gs[k] * x->dims[k];
            idx[k] = 0;
        }
    }
    return MN_OK;
}

static mn_status reducemean_bwd(const mn_node *n, const mn_tensor *const *in,
                                int n_in, const mn_tensor *const *out,
                                const mn_tensor *const *dout, int n_out,
                                mn_tensor *const *din, mn_exec *ex)
{
    (void)out, (void)n_out;
    return reduce_bwd(1, n, in, n_in, dout, din, ex);
}
const mn_grad_def mn_grad_reducemean = {.backward = reducemean_bwd,
                                        .diff_inputs = 1u};

static mn_status reducesum_bwd(const mn_node *n, const mn_tensor *const *in,
                               int n_in, const mn_tensor *const *out,
                               const mn_tensor *const *dout, int n_out,
                               mn_tensor *const *din, mn_exec *ex)
{
    (void)out, (void)n_out;
    return reduce_bwd(0, n, in, n_in, dout, din, ex);
}
const mn_grad_def mn_grad_reducesum = {.backward = reducesum_bwd,
                                       .diff_inputs = 1u};
