/* Normalizers for training: BatchNormalization's training-mode forward
 * (batch statistics, running averages) and backward, LayerNormalization,
 * Softmax / LogSoftmax backward, and Dropout's training forward (a seeded
 * mask) and backward.
 *
 * BatchNormalization follows PyTorch: the batch variance normalizes
 * (biased), the running variance is updated with the unbiased one, and
 * running = momentum·running + (1 - momentum)·batch (ONNX's momentum, 0.9
 * by default). One channel per task; each row (sample × channel) is summed
 * by the vector kernels of tkern.h, the rows in double. */
#include <math.h>
#include <string.h>
#include "train/grad.h"
#include "train/rng.h"
#include "train/tkern.h"

/* ---- BatchNormalization ---- */

typedef struct bn_job {
    const float *x, *gamma, *beta, *dy;
    float *y, *rmean, *rvar, *dx, *dgamma, *dbeta;
    float *save; /* [2][C]: batch mean, inverse std */
    int64_t n, c, sp;
    float eps, momentum;
} bn_job;

static void bn_fwd_channel(void *arg, int64_t c, int thread)
{
    const bn_job *j = arg;
    const mn_tkern *k = mn_tkern_get();
    double s = 0, s2 = 0;
    int64_t cnt = j->n * j->sp;
    (void)thread;
    for (int64_t n = 0; n < j->n; n++)
        s += k->sum(j->x + (n * j->c + c) * j->sp, j->sp);
    double mu = cnt ? s / (double)cnt : 0.0;
    float m = (float)mu;
    for (int64_t n = 0; n < j->n; n++)
        s2 += k->sumsq_dev(j->x + (n * j->c + c) * j->sp, j->sp, m);
    double var = cnt ? s2 / (double)cnt : 0.0;
    double inv = 1.0 / sqrt(var + (double)j->eps);
    float a = (float)(inv * j->gamma[c]), b = j->beta[c];
    for (int64_t n = 0; n < j->n; n++)
        k->affine(j->x + (n * j->c + c) * j->sp,
                  j->y + (n * j->c + c) * j->sp, j->sp, m, a, b);
    j->save[c] = m;
    j->save[j->c + c] = (float)inv;
    double unb = cnt > 1 ? s2 / (double)(cnt - 1) : var;
    j->rmean[c] = (float)(j->momentum * j->rmean[c] +
                          (1.0 - j->momentum) * mu);
    j->rvar[c] = (float)(j->momentum * j->rvar[c] +
                         (1.0 - j->momentum) * unb);
}

static size_t bn_priv(const mn_node *n, const mn_tensor *const *in, int n_in,
                      const mn_tensor *const *out, int n_out)
{
    (void)n, (void)n_in, (void)out, (void)n_out;
    return 2 * (size_t)in[0]->dims[1] * sizeof(float);
}

static mn_status bn_setup(const mn_node *n, const mn_tensor *const *in,
                          int n_in, bn_job *j, mn_ctx *ctx)
{
    const mn_tensor *x = in[0];
    memset(j, 0, sizeof *j);
    if (n_in != 5 || x->ndim < 2)
        return mn_error(ctx, MN_ERR_SHAPE,
                        "BatchNormalization needs 5 inputs and rank >= 2");
    j->n = x->dims[0];
    j->c = x->dims[1];
    j->sp = j->c && j->n ? mn_tensor_numel(x) / (j->n * j->c) : 0;
    for (int i = 1; i < 5; i++)
        if (!in[i] || mn_tensor_numel(in[i]) != j->c)
            return mn_error(ctx, MN_ERR_SHAPE,
                            "BatchNormalization parameter %d size", i);
    j->x = mn_f32(x);
    j->gamma = mn_f32(in[1]);
    j->beta = mn_f32(in[2]);
    j->rmean = mn_f32(in[3]);
    j->rvar = mn_f32(in[4]);
    j->eps = mn_node_attr_float(n, "epsilon", 1e-5f);
    j->momentum = mn_node_attr_float(n, "momentum", 0.9f);
    return MN_OK;
}

static mn_status bn_train_fwd(const mn_node *n, const mn_tensor *const *in,
                              int n_in, mn_tensor *const *out, int n_out,
                              mn_exec *ex)
{
    bn_job j;
    mn_status st = bn_setup(n, in, n_in, &j, ex->ctx);
    (void)n_out;
    if (st != MN_OK)
        return st;
    if (!ex->priv)
        return mn_error(ex->ctx, MN_ERR_RUNTIME, "BatchNormalization state");
    j.y = mn_f32(out[0]);
    j.save = ex->priv;
    mn_tpool_run(mn_texec_of(ex)->pool, bn_fwd_channel, &j, j.c);
    return MN_OK;
}

static void bn_bwd_channel(void *arg, int64_t c, int thread)
{
    const bn_job *j = arg;
    const mn_tkern *kn = mn_tkern_get();
    double sg = 0, sgx = 0;
    float mu = j->save[c], inv = j->save[j->c + c];
    int64_t cnt = j->n * j->sp;
    (void)thread;
    for (int64_t n = 0; n < j->n; n++) {
        float a, b;
        kn->bn_bwd_sums(j->x + (n * j->c + c) * j->sp,
                        j->dy + (n * j->c + c) * j->sp, j->sp, mu, inv, &a,
                        &b);
        sg += a;
        sgx += b;
    }
    if (j->dgamma)
        j->dgamma[c] = (float)sgx;
    if (j->dbeta)
        j->dbeta[c] = (float)sg;
    if (!j->dx)
        return;
    float k = j->gamma[c] * inv;
    float mg = cnt ? (float)(sg / (double)cnt) : 0.0f;
    float mgx = cnt ? (float)(sgx / (double)cnt) : 0.0f;
    for (int64_t n = 0; n < j->n; n++) {
        size_t o = (size_t)((n * j->c + c) * j->sp);
        kn->bn_bwd_dx(j->x + o, j->dy + o, j->dx + o, j->sp, mu, inv, k, mg,
                      mgx);
    }
}

static mn_status bn_bwd(const mn_node *n, const mn_tensor *const *in,
                        int n_in, const mn_tensor *const *out,
                        const mn_tensor *const *dout, int n_out,
                        mn_tensor *const *din, mn_exec *ex)
{
    bn_job j;
    mn_status st = bn_setup(n, in, n_in, &j, ex->ctx);
    (void)out, (void)n_out;
    if (st != MN_OK)
        return st;
    if (!ex->priv)
        return mn_error(ex->ctx, MN_ERR_RUNTIME,
                        "BatchNormalization backward without a training "
                        "forward");
    if (!dout[0]) {
        for (int i = 0; i < 3; i++)
            if (din[i])
                memset(din[i]->data, 0, mn_tensor_nbytes(din[i]));
        return MN_OK;
    }
    j.save = ex->priv;
    j.dy = mn_f32(dout[0]);
    j.dx = din[0] ? mn_f32(din[0]) : NULL;
    j.dgamma = din[1] ? mn_f32(din[1]) : NULL;
    j.dbeta = din[2] ? mn_f32(din[2]) : NULL;
    mn_tpool_run(mn_texec_of(ex)->pool, bn_bwd_channel, &j, j.c);
    return MN_OK;
}

const mn_grad_def mn_grad_batchnorm = {
    .forward = bn_train_fwd,
    .train_only = 1,
    .priv_bytes = bn_priv,
    .backward = bn_bwd,
    .diff_inputs = 7u,
    .bwd_ignores_out = 1,
};

/* ---- LayerNormalization (normalized over axes [axis, rank)) ---- */

static size_t ln_scratch(const mn_node *n, const mn_tensor *const *in,
                         int n_in, const mn_tensor *const *out, int n_out,
                         int threads)
{
    (void)n, (void)n_in, (void)out, (void)n_out, (void)threads;
    return 2 * (size_t)mn_tensor_numel(in[1]) * sizeof(double) + 64;
}

static mn_status ln_bwd(const mn_node *n, const mn_tensor *const *in,
                        int n_in, const mn_tensor *const *out,
                        const mn_tensor *const *dout, int n_out,
                        mn_tensor *const *din, mn_exec *ex)
{
    const mn_tensor *x = in[0];
    int axis;
    mn_status st;
    (void)out, (void)n_out;
    if ((st = mn_norm_axis(mn_node_attr_int(n, "axis", -1), x->ndim, &axis,
                           ex->ctx)) != MN_OK)
        return st;
    int64_t rows = 1, d = 1;
    for (int k = 0; k < axis; k++)
        rows *= x->dims[k];
    for (int k = axis; k < x->ndim; k++)
        d *= x->dims[k];
    if (mn_tensor_numel(in[1]) != d ||
        (n_in > 2 && in[2] && mn_tensor_numel(in[2]) != d))
        return mn_error(ex->ctx, MN_ERR_UNSUPPORTED,
                        "LayerNormalization gradient needs scale and bias "
                        "of the normalized shape");
    if (ex->scratch_bytes < 2 * (size_t)d * sizeof(double))
        return mn_error(ex->ctx, MN_ERR_RUNTIME, "LayerNorm scratch");
    float eps = mn_node_attr_float(n, "epsilon", 1e-5f);
    const float *xs = mn_f32(x), *gamma = mn_f32(in[1]);
    float *dx = din[0] ? mn_f32(din[0]) : NULL;
    float *dgamma = din[1] ? mn_f32(din[1]) : NULL;
    float *dbeta = n_in > 2 && in[2] && din[2] ? mn_f32(din[2]) : NULL;
    double *ag = ex->scratch, *ab = ag + d;
    memset(ag, 0, 2 * (size_t)d * sizeof *ag);
    if (!dout[0]) {
        for (int i = 0; i < n_in; i++)
            if (din[i])
                memset(din[i]->data, 0, mn_tensor_nbytes(din[i]));
        return MN_OK;
    }
    const float *g = mn_f32(dout[0]);
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = xs + r * d, *gr = g + r * d;
        double s = 0, s2 = 0, sg = 0, sgx = 0;
        for (int64_t i = 0; i < d; i++)
            s += xr[i];
        double mu = s / (double)d;
        for (int64_t i = 0; i < d; i++)
            s2 += (xr[i] - mu) * (xr[i] - mu);
        double inv = 1.0 / sqrt(s2 / (double)d + (double)eps);
        for (int64_t i = 0; i < d; i++) {
            double xh = (xr[i] - mu) * inv, gg = (double)gr[i] * gamma[i];
            sg += gg;
            sgx += gg * xh;
            ag[i] += (double)gr[i] * xh;
            ab[i] += gr[i];
        }
        if (dx) {
            double mg = sg / (double)d, mgx = sgx / (double)d;
            for (int64_t i = 0; i < d; i++) {
                double xh = (xr[i] - mu) * inv;
                dx[r * d + i] =
                    (float)(inv * ((double)gr[i] * gamma[i] - mg - xh * mgx));
            }
        }
    }
    for (int64_t i = 0; i < d; i++) {
        if (dgamma)
            dgamma[i] = (float)ag[i];
        if (dbeta)
            dbeta[i] = (float)ab[i];
    }
    return MN_OK;
}

const mn_grad_def mn_grad_layernorm = {.backward = ln_bwd,
                                       .backward_scratch = ln_scratch,
                                       .diff_inputs = 7u};

/* ---- Softmax / LogSoftmax ---- */

/* outer × len × inner blocks: opset < 13 flattens [axis, rank) into one
 * axis (inner = 1); from 13 the softmax runs along one axis. */
static mn_status sm_geometry(const mn_node *n, const mn_tensor *x,
                             int64_t *outer, int64_t *len, int64_t *inner,
                             mn_ctx *ctx)
{
    int axis;
    int64_t dflt = n->opset < 13 ? 1 : -1;
    mn_status st = mn_norm_axis(mn_node_attr_int(n, "axis", dflt), x->ndim,
                                &axis, ctx);
    if (st != MN_OK)
        return st;
    *outer = *len = *inner = 1;
    for (int k = 0; k < axis; k++)
        *outer *= x->dims[k];
    if (n->opset < 13) {
        for (int k = axis; k < x->ndim; k++)
            *len *= x->dims[k];
    } else {
        *len = x->dims[axis];
        for (int k = axis + 1; k < x->ndim; k++)
            *inner *= x->dims[k];
    }
    return MN_OK;
}

static mn_status softmax_common(int logsm, const mn_node *n,
                                const mn_tensor *const *in,
                                const mn_tensor *const *out,
                                const mn_tensor *const *dout,
                                mn_tensor *const *din, mn_exec *ex)
{
    int64_t outer, len, inner;
    mn_status st;
    if (!din[0])
        return MN_OK;
    float *dx = mn_f32(din[0]);
    if (!dout[0]) {
        memset(dx, 0, mn_tensor_nbytes(in[0]));
        return MN_OK;
    }
    if ((st = sm_geometry(n, in[0], &outer, &len, &inner, ex->ctx)) != MN_OK)
        return st;
    const float *y = mn_f32(out[0]), *g = mn_f32(dout[0]);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = o * len * inner + i;
            double s = 0;
            for (int64_t k = 0; k < len; k++) {
                int64_t e = base + k * inner;
                s += logsm ? (double)g[e] : (double)g[e] * y[e];
            }
            for (int64_t k = 0; k < len; k++) {
                int64_t e = base + k * inner;
                dx[e] = logsm ? (float)(g[e] - exp((double)y[e]) * s)
                              : (float)(y[e] * (g[e] - s));
            }
        }
    return MN_OK;
}

static mn_status softmax_bwd(const mn_node *n, const mn_tensor *const *in,
                             int n_in, const mn_tensor *const *out,
                             const mn_tensor *const *dout, int n_out,
                             mn_tensor *const *din, mn_exec *ex)
{
    (void)n_in, (void)n_out;
    return softmax_common(0, n, in, out, dout, din, ex);
}
const mn_grad_def mn_grad_softmax = {.backward = softmax_bwd,
                                     .diff_inputs = 1u};

static mn_status logsoftmax_bwd(const mn_node *n, const mn_tensor *const *in,
                                int n_in, const mn_tensor *const *out,
                                const mn_tensor *const *dout, int n_out,
                                mn_tensor *const *din, mn_exec *ex)
{
    (void)n_in, (void)n_out;
    return softmax_common(1, n, in, out, dout, din, ex);
}
const mn_grad_def mn_grad_logsoftmax = {.backward = logsoftmax_bwd,
                                        .diff_inputs = 1u};

/* ---- Dropout (training): keep with probability 1 - ratio, scale ---- */

static float dropout_ratio(const mn_node *n, const mn_tensor *const *in,
                           int n_in)
{
    if (n->opset < 12)
        return mn_node_attr_float(n, "ratio", 0.5f);
    if (n_in > 1 && in[1] && in[1]->data)
        return (float)mn_tensor_get_f64(in[1], 0);
    return 0.5f;
}

static size_t dropout_priv(const mn_node *n, const mn_tensor *const *in,
                           int n_in, const mn_tensor *const *out, int n_out)
{
    (void)n, (void)n_in, (void)out, (void)n_out;
    return (size_t)mn_tensor_numel(in[0]);
}

static mn_status dropout_fwd(const mn_node *n, const mn_tensor *const *in,
                             int n_in, mn_tensor *const *out, int n_out,
                             mn_exec *ex)
{
    float ratio = dropout_ratio(n, in, n_in);
    int64_t cnt = mn_tensor_numel(in[0]);
    const float *x = mn_f32(in[0]);
    float *y = mn_f32(out[0]);
    uint8_t *mask = ex->priv;
    mn_rng r;
    if (!mask)
        return mn_error(ex->ctx, MN_ERR_RUNTIME, "Dropout state");
    if (ratio < 0.0f || ratio >= 1.0f)
        return mn_error(ex->ctx, MN_ERR_ARG, "Dropout ratio %g", ratio);
    float scale = 1.0f / (1.0f - ratio);
    mn_rng_seed(&r, mn_texec_of(ex)->seed, 0x0D50, 0);
    for (int64_t i = 0; i < cnt; i++) {
        mask[i] = mn_rng_uniform(&r) >= ratio;
        y[i] = mask[i] ? x[i] * scale : 0.0f;
    }
    if (n_out > 1 && out[1] && out[1]->data && out[1]->dtype == MN_DT_BOOL)
        memcpy(out[1]->data, mask, (size_t)cnt);
    return MN_OK;
}

static mn_status dropout_bwd(const mn_node *n, const mn_tensor *const *in,
                             int n_in, const mn_tensor *const *out,
                             const mn_tensor *const *dout, int n_out,
                             mn_tensor *const *din, mn_exec *ex)
{
    (void)out, (void)n_out;
    if (!din[0])
        return MN_OK;
    float *dx = mn_f32(din[0]);
    int64_t cnt = mn_tensor_numel(in[0]);
    const uint8_t *mask = ex->priv;
    if (!dout[0] || !mask) {
        memset(dx, 0, (size_t)cnt * sizeof *dx);
        return MN_OK;
    }
    float scale = 1.0f / (1.0f - dropout_ratio(n, in, n_in));
    const float *g = mn_f32(dout[0]);
    for (int64_t i = 0; i < cnt; i++)
        dx[i] = mask[i] ? g[i] * scale : 0.0f;
    return MN_OK;
}

const mn_grad_def mn_grad_dropout = {
    .forward = dropout_fwd,
    .train_only = 1,
    .priv_bytes = dropout_priv,
    .backward = dropout_bwd,
    .diff_inputs = 1u,
};
