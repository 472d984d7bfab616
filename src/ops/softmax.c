/* Softmax and LogSoftmax on float32.
 *
 * Before opset 13 the input is coerced to 2-D at `axis` (default 1) and the
 * op runs over the flattened trailing block; from opset 13 it runs along the
 * single dimension `axis` (default -1). Either way the data splits into
 * [outer, len, inner]; rows with inner == 1 are contiguous, otherwise the
 * op works on whole [len, inner] slabs with per-column max/sum kept in
 * scratch. The maximum is subtracted before exponentiation. The output may
 * alias the input: every element is read before its slot is written. */
#include <math.h>
#include <string.h>
#include "ops/ops.h"

static int node_opset(const mn_node *n) { return n->opset > 0 ? n->opset : 1000; }

typedef struct sm_shape {
    int64_t outer, len, inner;
} sm_shape;

static mn_status sm_split(const char *op, const mn_node *n,
                          const mn_tensor *x, sm_shape *sh, mn_ctx *ctx)
{
    int legacy = node_opset(n) < 13, axis;
    mn_status st;
    if (x->ndim < 1)
        return mn_error(ctx, MN_ERR_SHAPE, "%s of a scalar", op);
    st = mn_norm_axis(mn_node_attr_int(n, "axis", legacy ? 1 : -1), x->ndim,
                      &axis, ctx);
    if (st != MN_OK)
        return st;
    sh->outer = sh->len = sh->inner = 1;
    for (int i = 0; i < x->ndim; i++) {
        if (i < axis)
            sh->outer *= x->dims[i];
        else if (i == axis || legacy)
            sh->len *= x->dims[i];
        else
            sh->inner *= x->dims[i];
    }
    return MN_OK;
}

static mn_status sm_infer(const char *op, const mn_node *n,
                          const mn_tensor *const *in, mn_tensor *const *out,
                          mn_ctx *ctx)
{
    sm_shape sh;
    const mn_tensor *x = in[0];
    mn_status st;
    if (!x)
        return mn_error(ctx, MN_ERR_SHAPE, "%s input is missing", op);
    if (x->dtype != MN_DT_F32)
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "%s on %s (float32 only)", op,
                        mn_dtype_name(x->dtype));
    if ((st = sm_split(op, n, x, &sh, ctx)) != MN_OK)
        return st;
    mn_tensor_copy_meta(out[0], x);
    return MN_OK;
}

static size_t sm_scratch(const mn_node *n, const mn_tensor *const *in,
                         int n_in, const mn_tensor *const *out, int n_out)
{
    sm_shape sh;
    (void)n_in;
    (void)out;
    (void)n_out;
    if (sm_split("", n, in[0], &sh, NULL) != MN_OK || sh.inner == 1)
        return 0;
    return (size_t)sh.inner * 2 * sizeof(float);
}

/* One contiguous row of length len. */
static void row(const float *x, float *y, int64_t len, int logsm)
{
    float mx = -INFINITY;
    double sum = 0;
    for (int64_t i = 0; i < len; i++)
        mx = x[i] > mx ? x[i] : mx;
    if (logsm) {
        for (int64_t i = 0; i < len; i++)
            sum += expf(x[i] - mx);
        float off = mx + (float)log(sum);
        for (int64_t i = 0; i < len; i++)
            y[i] = x[i] - off;
        return;
    }
    for (int64_t i = 0; i < len; i++) {
        float e = expf(x[i] - mx);
        y[i] = e;
        sum += e;
    }
    float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < len; i++)
        y[i] *= inv;
}

/* One [len, inner] slab, reducing along len; mx/sum have inner entries. */
static void slab(const float *x, float *y, int64_t len, int64_t inner,
                 int logsm, float *mx, float *sum)
{
    for (int64_t j = 0; j < inner; j++) {
        mx[j] = -INFINITY;
        sum[j] = 0;
    }
    for (int64_t i = 0; i < len; i++)
        for (int64_t j = 0; j < inner; j++)
            mx[j] = x[i * inner + j] > mx[j] ? x[i * inner + j] : mx[j];
    for (int64_t i = 0; i < len; i++)
        for (int64_t j = 0; j < inner; j++) {
            float e = expf(x[i * inner + j] - mx[j]);
            sum[j] += e;
            if (!logsm)
                y[i * inner + j] = e;
        }
    if (logsm) {
        for (int64_t j = 0; j < inner; j++)
            mx[j] += logf(sum[j]);
        for (int64_t i = 0; i < len; i++)
            for (int64_t j = 0; j < inner; j++)
                y[i * inner + j] = x[i * inner + j] - mx[j];
        return;
    }
    for (int64_t j = 0; j < inner; j++)
        sum[j] = 1.0f / sum[j];
    for (int64_t i = 0; i < len; i++)
        for (int64_t j = 0; j < inner; j++)
            y[i * inner + j] *= sum[j];
}

static mn_status sm_forward(int logsm, const mn_node *n,
                            const mn_tensor *const *in,
                            mn_tensor *const *out, mn_exec *ex)
{
    sm_shape sh;
    const float *x = in[0]->data;
    float *y = out[0]->data;
    mn_status st = sm_split(logsm ? "LogSoftmax" : "Softmax", n, in[0], &sh,
                            ex->ctx);
    if (st != MN_OK)
        return st;
    int64_t block = sh.len * sh.inner;
    for (int64_t o = 0; o < sh.outer; o++) {
        if (sh.inner == 1)
            row(x + o * block, y + o * block, sh.len, logsm);
        else
            slab(x + o * block, y + o * block, sh.len, sh.inner, logsm,
                 ex->scratch, (float *)ex->scratch + sh.inner);
    }
    return MN_OK;
}

static mn_status softmax_infer(const mn_node *n, const mn_tensor *const *in,
                               int n_in, mn_tensor *const *out, int n_out,
                               mn_ctx *ctx)
{
    (void)n_in;
    (void)n_out;
    return sm_infer("Softmax", n, in, out, ctx);
}

static mn_status logsoftmax_infer(const mn_node *n,
                                  const mn_tensor *const *in, int n_in,
                                  mn_tensor *const *out, int n_out,
                                  mn_ctx *ctx)
{
    (void)n_in;
    (void)n_out;
    return sm_infer("LogSoftmax", n, in, out, ctx);
}

static mn_status softmax_forward(const mn_node *n, const mn_tensor *const *in,
                                 int n_in, mn_tensor *const *out, int n_out,
                                 mn_exec *ex)
{
    (void)n_in;
    (void)n_out;
    return sm_forward(0, n, in, out, ex);
}

static mn_status logsoftmax_forward(const mn_node *n,
                                    const mn_tensor *const *in, int n_in,
                                    mn_tensor *const *out, int n_out,
                                    mn_exec *ex)
{
    (void)n_in;
    (void)n_out;
    return sm_forward(1, n, in, out, ex);
}

const mn_op_def mn_opdef_softmax = {
    .name = "Softmax", .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .flags = MN_OPF_INPLACE, .infer = softmax_infer, .scratch = sm_scratch,
    .forward = softmax_forward};

const mn_op_def mn_opdef_logsoftmax = {
    .name = "LogSoftmax", .min_in = 1, .max_in = 1, .min_out = 1,
    .max_out = 1, .flags = MN_OPF_INPLACE, .infer = logsoftmax_infer,
    .scratch = sm_scratch, .forward = logsoftmax_forward};
