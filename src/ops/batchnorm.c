/* BatchNormalization, inference form: y = (x - mean) / sqrt(var + epsilon)
 * · scale + B per channel (axis 1). Training mode and its extra outputs
 * (running mean/var, saved statistics) are not supported. */
#include <math.h>
#include "ops/ops.h"

static mn_status bn_infer(const mn_node *n, const mn_tensor *const *in,
                          int n_in, mn_tensor *const *out, int n_out,
                          mn_ctx *ctx)
{
    static const char *const names[5] = {"X", "scale", "B", "mean", "var"};
    const mn_tensor *x = in[0];
    char s[128];
    if (n_out > 1)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "BatchNormalization training-mode outputs (%d outputs)",
                        n_out);
    if (mn_node_attr_int(n, "training_mode", 0) != 0)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "BatchNormalization training_mode=1");
    if (mn_node_attr_int(n, "spatial", 1) != 1)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "BatchNormalization spatial=0");
    for (int i = 0; i < n_in; i++) {
        if (!in[i])
            return mn_error(ctx, MN_ERR_SHAPE,
                            "BatchNormalization input %s is missing",
                            names[i]);
        if (in[i]->dtype != MN_DT_F32)
            return mn_error(ctx, MN_ERR_UNSUPPORTED,
                            "BatchNormalization %s is %s (float32 only)",
                            names[i], mn_dtype_name(in[i]->dtype));
    }
    if (x->ndim < 2)
        return mn_error(ctx, MN_ERR_SHAPE,
                        "BatchNormalization input %s: expected [N,C,...]",
                        mn_shape_str(x, s, sizeof s));
    for (int i = 1; i < n_in; i++)
        if (in[i]->ndim != 1 || in[i]->dims[0] != x->dims[1])
            return mn_error(ctx, MN_ERR_SHAPE,
                            "BatchNormalization %s %s, expected [%lld]",
                            names[i], mn_shape_str(in[i], s, sizeof s),
                            (long long)x->dims[1]);
    mn_tensor_copy_meta(out[0], x);
    return MN_OK;
}

static mn_status bn_forward(const mn_node *n, const mn_tensor *const *in,
                            int n_in, mn_tensor *const *out, int n_out,
                            mn_exec *ex)
{
    const mn_tensor *x = in[0];
    const float *xd = x->data, *scale = in[1]->data, *bias = in[2]->data;
    const float *mean = in[3]->data, *var = in[4]->data;
    float *y = out[0]->data;
    float eps = mn_node_attr_float(n, "epsilon", 1e-5f);
    int64_t nb = x->dims[0], c = x->dims[1], sz = 1;
    (void)n_in;
    (void)n_out;
    (void)ex;
    for (int i = 2; i < x->ndim; i++)
        sz *= x->dims[i];
    for (int64_t b = 0; b < nb; b++)
        for (int64_t ch = 0; ch < c; ch++) {
            float a = (float)(scale[ch] / sqrt((double)var[ch] + eps));
            float m = mean[ch], bi = bias[ch];
            const float *xp = xd + (b * c + ch) * sz;
            float *yp = y + (b * c + ch) * sz;
            for (int64_t i = 0; i < sz; i++)
                yp[i] = (xp[i] - m) * a + bi;
        }
    return MN_OK;
}

const mn_op_def mn_opdef_batchnorm = {
    .name = "BatchNormalization",
    .min_in = 5,
    .max_in = 5,
    .min_out = 1,
    .max_out = 5,
    .flags = MN_OPF_INPLACE,
    .infer = bn_infer,
    .scratch = NULL,
    .forward = bn_forward,
};
