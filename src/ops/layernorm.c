/* LayerNormalization (opset 17) on float32: each row of the trailing block
 * X.shape[axis:] is normalized to zero mean and unit variance, then scaled
 * and shifted: Y = (X - mean) / sqrt(var + epsilon) * Scale + B. Scale and
 * the optional B broadcast to the normalized shape; when they are not
 * already that size they are expanded into scratch. The optional outputs
 * Mean and InvStdDev have shape X.shape[:axis] + [1] * (rank - axis).
 * Statistics are computed in float64 with two passes over the row. */
#include <math.h>
#include <string.h>
#include "core/pool.h"
#include "kernels/dispatch.h"
#include "kernels/kernels_f32.h"
#include "ops/broadcast.h"

typedef struct ln_shape {
    int axis;
    int64_t outer, size;
    mn_tensor norm; /* the normalized shape X.shape[axis:] (meta only) */
} ln_shape;

static mn_status ln_split(const mn_node *n, const mn_tensor *x, ln_shape *sh,
                          mn_ctx *ctx)
{
    mn_status st = mn_norm_axis(mn_node_attr_int(n, "axis", -1), x->ndim,
                                &sh->axis, ctx);
    if (st != MN_OK)
        return st;
    memset(&sh->norm, 0, sizeof sh->norm);
    sh->norm.dtype = MN_DT_F32;
    sh->outer = sh->size = 1;
    for (int i = 0; i < x->ndim; i++) {
        if (i < sh->axis) {
            sh->outer *= x->dims[i];
        } else {
            sh->size *= x->dims[i];
            sh->norm.dims[sh->norm.ndim++] = x->dims[i];
        }
    }
    return MN_OK;
}

/* Checks that p broadcasts to the normalized shape (its dims before the
 * normalized block, if any, must be 1). */
static mn_status ln_check_param(const ln_shape *sh, const mn_tensor *p,
                                const char *what, mn_ctx *ctx)
{
    mn_tensor v = *p, b;
    char s1[128], s2[128];
    if (p->dtype != MN_DT_F32)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "LayerNormalization %s is %s (float32 only)", what,
                        mn_dtype_name(p->dtype));
    while (v.ndim > sh->norm.ndim && v.dims[0] == 1) {
        memmove(v.dims, v.dims + 1, sizeof(int64_t) * (size_t)(v.ndim - 1));
        v.ndim--;
    }
    if (v.ndim > sh->norm.ndim ||
        mn_broadcast_shape(&sh->norm, &v, &b, NULL) != MN_OK ||
        b.ndim != sh->norm.ndim ||
        memcmp(b.dims, sh->norm.dims, sizeof(int64_t) * (size_t)b.ndim) != 0)
        return mn_error(ctx, MN_ERR_SHAPE,
                        "LayerNormalization %s %s does not broadcast to the "
                        "normalized shape %s", what,
                        mn_shape_str(p, s1, sizeof s1),
                        mn_shape_str(&sh->norm, s2, sizeof s2));
    return MN_OK;
}

static int needs_expand(const ln_shape *sh, const mn_tensor *p)
{
    return p && mn_tensor_numel(p) != sh->size;
}

static mn_status ln_infer(const mn_node *n, const mn_tensor *const *in,
                          int n_in, mn_tensor *const *out, int n_out,
                          mn_ctx *ctx)
{
    const mn_tensor *x = in[0];
    ln_shape sh;
    mn_status st;
    if (!x || n_in < 2 || !in[1])
        return mn_error(ctx, MN_ERR_SHAPE,
                        "LayerNormalization needs inputs X and Scale");
    if (x->dtype != MN_DT_F32)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "LayerNormalization on %s (float32 only)",
                        mn_dtype_name(x->dtype));
    if (mn_node_attr_int(n, "stash_type", 1) != 1)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "LayerNormalization stash_type=%lld (only 1, float)",
                        (long long)mn_node_attr_int(n, "stash_type", 1));
    if ((st = ln_split(n, x, &sh, ctx)) != MN_OK)
        return st;
    if ((st = ln_check_param(&sh, in[1], "Scale", ctx)) != MN_OK)
        return st;
    if (n_in > 2 && in[2] &&
        (st = ln_check_param(&sh, in[2], "B", ctx)) != MN_OK)
        return st;
    mn_tensor_copy_meta(out[0], x);
    for (int j = 1; j < n_out; j++) {
        mn_tensor_copy_meta(out[j], x);
        out[j]->dtype = MN_DT_F32;
        for (int i = sh.axis; i < x->ndim; i++)
            out[j]->dims[i] = 1;
    }
    return MN_OK;
}

static size_t ln_scratch(const mn_node *n, const mn_tensor *const *in,
                         int n_in, const mn_tensor *const *out, int n_out)
{
    ln_shape sh;
    size_t k = 0;
    (void)out;
    (void)n_out;
    if (ln_split(n, in[0], &sh, NULL) != MN_OK)
        return 0;
    k += needs_expand(&sh, in[1]);
    k += n_in > 2 && needs_expand(&sh, in[2]);
    return k * (size_t)sh.size * sizeof(float);
}

static mn_status ln_forward(const mn_node *n, const mn_tensor *const *in,
                            int n_in, mn_tensor *const *out, int n_out,
                            mn_exec *ex)
{
    const mn_tensor *bt = n_in > 2 ? in[2] : NULL;
    const float *x = in[0]->data, *scale = in[1]->data;
    const float *bias = bt ? bt->data : NULL;
    float *y = out[0]->data, *sp = ex->scratch;
    float *mean_out = n_out > 1 ? out[1]->data : NULL;
    float *inv_out = n_out > 2 ? out[2]->data : NULL;
    double eps = mn_node_attr_float(n, "epsilon", 1e-5f);
    ln_shape sh;
    mn_status st = ln_split(n, in[0], &sh, ex->ctx);
    if (st != MN_OK)
        return st;
    if (needs_expand(&sh, in[1])) {
        mn_bcast_expand_f32(in[1], &sh.norm, sp);
        scale = sp;
        sp += sh.size;
    }
    if (needs_expand(&sh, bt)) {
        mn_bcast_expand_f32(bt, &sh.norm, sp);
        bias = sp;
    }
    int64_t len = sh.size;
    for (int64_t o = 0; o < sh.outer; o++) {
        const float *xr = x + o * len;
        float *yr = y + o * len;
        double s[4] = {0, 0, 0, 0}, q[4] = {0, 0, 0, 0};
        int64_t i = 0;
        /* four accumulators: no single serial addition chain */
        for (; i + 4 <= len; i += 4)
            for (int k = 0; k < 4; k++)
                s[k] += xr[i + k];
        for (; i < len; i++)
            s[0] += xr[i];
        double mean = len ? ((s[0] + s[1]) + (s[2] + s[3])) / (double)len : 0.0;
        for (i = 0; i + 4 <= len; i += 4)
            for (int k = 0; k < 4; k++) {
                double d = xr[i + k] - mean;
                q[k] += d * d;
            }
        for (; i < len; i++) {
            double d = xr[i] - mean;
            q[0] += d * d;
        }
        double sq = (q[0] + q[1]) + (q[2] + q[3]);
        double inv = 1.0 / sqrt((len ? sq / (double)len : 0.0) + eps);
        float fm = (float)mean, fi = (float)inv;
        if (mean_out)
            mean_out[o] = fm;
        if (inv_out)
            inv_out[o] = fi;
        if (bias)
            for (i = 0; i < len; i++)
                yr[i] = (xr[i] - fm) * fi * scale[i] + bias[i];
        else
            for (i = 0; i < len; i++)
                yr[i] = (xr[i] - fm) * fi * scale[i];
    }
    return MN_OK;
}

const mn_op_def mn_opdef_layernorm = {
    .name = "LayerNormalization", .min_in = 2, .max_in = 3, .min_out = 1,
    .max_out = 3, .flags = MN_OPF_INPLACE, .infer = ln_infer,
    .scratch = ln_scratch, .forward = ln_forward};

/* ---- the fused chain ---- */

/* Rows [t·per, ...) of a fused LayerNorm chain (mn_pattern_layernorm), in
 * the unfused chain's float32 arithmetic: m as ReduceMean gives it
 * (mn_sum_run_f32 × 1/n in double, to float), d = x − m, d·d, the same
 * mean of those, + eps, sqrtf, d / s, × gamma, + beta — the same bits as
 * the nine ops, in three passes over the row and no scratch. */
typedef struct lnf_job {
    const float *x, *g, *b;
    float *y;
    int64_t n, rows, per;
    float eps;
} lnf_job;

static void lnf_task(void *arg, int64_t t, int thread)
{
    const lnf_job *J = arg;
    int64_t n = J->n, hi = (t + 1) * J->per;
    double inv_n = 1.0 / (double)n;
    (void)thread;
    if (hi > J->rows)
        hi = J->rows;
    if (mn_isa_active() >= MN_ISA_AVX512) {
        int64_t r0 = t * J->per;
        mn_ln_rows_f32_avx512(J->x + r0 * n, J->g, J->b, J->y + r0 * n,
                              hi - r0, n, J->eps);
        return;
    }
    for (int64_t r = t * J->per; r < hi; r++) {
        const float *x = J->x + r * n;
        float *y = J->y + r * n;
        float m = (float)((0.0 + mn_sum_run_f32(x, n)) * inv_n);
        /* mn_sum_run_f32's order over d·d */
        double q[16] = {0};
        int64_t j = 0;
        for (; j + 16 <= n; j += 16)
            for (int k = 0; k < 16; k++) {
                float d = x[j + k] - m;
                q[k] += (float)(d * d);
            }
        for (; j < n; j++) {
            float d = x[j] - m;
            q[0] += (float)(d * d);
        }
        for (int w = 8; w >= 1; w /= 2)
            for (int k = 0; k < w; k++)
                q[k] = q[k] + q[k + w];
        float v = (float)((0.0 + q[0]) * inv_n);
        float s = sqrtf(v + J->eps);
        /* through a local block of 16: y may be x (an in-place Add), and
         * a fixed-length block the compiler sees alias-free it
         * vectorizes */
        for (j = 0; j + 16 <= n; j += 16) {
            float t[16];
            for (int k = 0; k < 16; k++)
                t[k] = mn_ln_out(x[j + k], m, s, J->g[j + k], J->b[j + k]);
            memcpy(y + j, t, sizeof t);
        }
        for (; j < n; j++)
            y[j] = mn_ln_out(x[j], m, s, J->g[j], J->b[j]);
    }
}

static mn_status ln_fused_forward(const mn_node *n, const mn_tensor *const *in,
                                  int n_in, mn_tensor *const *out, int n_out,
                                  mn_exec *ex)
{
    const mn_tensor *x = in[ex->ln_slot], *b = in[1 - ex->ln_slot];
    (void)n, (void)n_in, (void)n_out;
    lnf_job J = {x->data, ex->ln_gamma, b->data, out[0]->data,
                 x->ndim ? x->dims[x->ndim - 1] : 1, 0, 0, ex->ln_eps};
    J.rows = J.n ? mn_tensor_numel(x) / J.n : 0;
    int64_t parts = mn_tensor_numel(x) >= 65536
                        ? 4 * (int64_t)mn_pool_threads(ex->pool)
                        : 1;
    J.per = J.rows ? (J.rows + parts - 1) / parts : 1;
    mn_pool_run(parts > 1 ? ex->pool : NULL, lnf_task, &J,
                (J.rows + J.per - 1) / J.per);
    return MN_OK;
}

const mn_op_def mn_opdef_ln_fused = {
    .name = "LayerNorm (fused chain)", .min_in = 2, .max_in = 2,
    .min_out = 1, .max_out = 1, .forward = ln_fused_forward};
