/* Byte-view ops: Flatten, Reshape, Squeeze, Unsqueeze, Identity, Dropout.
 *
 * Each output holds its input's bytes in the same order under a new shape,
 * so the session may alias out[0] to in[0] (MN_OPF_VIEW) and skip forward.
 * forward still copies, for when the bytes are not aliased (constant
 * folding, or an output the planner keeps apart). */
#include <string.h>
#include "ops/ops.h"

/* Shapes read from data: even when another dimension is 0, the product of
 * the non-zero dimensions must stay within the allocation limit, so that no
 * later element count overflows. */
static mn_status check_dims(const int64_t *dims, int n, mn_ctx *ctx)
{
    size_t p = 1;
    for (int i = 0; i < n; i++)
        if (dims[i] > 0 && (!mn_mul_size(p, (size_t)dims[i], &p) ||
                            p > MN_ALLOC_LIMIT))
            return mn_error(ctx, MN_ERR_SHAPE, "dimension %lld is too large",
                            (long long)dims[i]);
    return MN_OK;
}

/* Copies in[0]'s bytes to out[0] unless they already alias. */
static void copy_bytes(const mn_tensor *in, mn_tensor *out)
{
    size_t bytes = mn_tensor_nbytes(out);
    if (bytes && out->data != in->data)
        memcpy(out->data, in->data, bytes);
}

static mn_status view_forward(const mn_node *n, const mn_tensor *const *in,
                              int n_in, mn_tensor *const *out, int n_out,
                              mn_exec *ex)
{
    (void)n, (void)n_in, (void)n_out, (void)ex;
    copy_bytes(in[0], out[0]);
    return MN_OK;
}

static mn_status need_input(const mn_tensor *const *in, int n_in,
                            mn_ctx *ctx)
{
    if (n_in < 1 || !in[0])
        return mn_error(ctx, MN_ERR_SHAPE, "missing data input");
    return MN_OK;
}

/* ---- Reshape ---- */

static mn_status reshape_infer(const mn_node *n, const mn_tensor *const *in,
                               int n_in, mn_tensor *const *out, int n_out,
                               mn_ctx *ctx)
{
    const mn_tensor *x;
    int64_t shape[MN_MAX_DIMS];
    int k = 0, neg = -1;
    int allowzero = (int)mn_node_attr_int(n, "allowzero", 0);
    size_t known = 1, total = 1;
    mn_status st;
    (void)n_out;
    if ((st = need_input(in, n_in, ctx)) != MN_OK)
        return st;
    x = in[0];
    if (n->opset < 5) {
        const int64_t *a;
        k = mn_node_attr_ints(n, "shape", &a);
        if (k > MN_MAX_DIMS)
            return mn_error(ctx, MN_ERR_UNSUPPORTED, "rank %d exceeds %d", k,
                            MN_MAX_DIMS);
        for (int i = 0; i < k; i++)
            shape[i] = a[i];
    } else {
        if (n_in < 2 || !in[1])
            return mn_error(ctx, MN_ERR_SHAPE, "missing shape input");
        st = mn_op_const_ints(in[1], "shape", shape, MN_MAX_DIMS, &k, ctx);
        if (st != MN_OK)
            return st;
    }
    for (int i = 0; i < x->ndim; i++)
        if (!mn_mul_size(total, (size_t)x->dims[i], &total))
            return mn_error(ctx, MN_ERR_SHAPE, "input size overflows");
    for (int i = 0; i < k; i++) {
        int64_t d = shape[i];
        if (d == -1) {
            if (neg >= 0)
                return mn_error(ctx, MN_ERR_SHAPE,
                                "shape has more than one -1");
            neg = i;
            continue;
        }
        if (d < -1)
            return mn_error(ctx, MN_ERR_SHAPE, "shape value %lld is invalid",
                            (long long)d);
        if (d == 0 && !allowzero) {
            if (i >= x->ndim)
                return mn_error(ctx, MN_ERR_SHAPE,
                                "shape[%d] = 0 copies a dimension the rank-%d "
                                "input does not have", i, x->ndim);
            d = shape[i] = x->dims[i];
        }
        if (!mn_mul_size(known, (size_t)d, &known))
            return mn_error(ctx, MN_ERR_SHAPE, "shape size overflows");
    }
    if (neg >= 0) {
        if (known == 0 || total % known != 0)
            return mn_error(ctx, MN_ERR_SHAPE,
                            "cannot infer -1: %zu elements into blocks of %zu",
                            total, known);
        shape[neg] = (int64_t)(total / known);
    } else if (known != total) {
        char b[128];
        return mn_error(ctx, MN_ERR_SHAPE,
                        "cannot reshape %s (%zu elements) into %zu elements",
                        mn_shape_str(x, b, sizeof b), total, known);
    }
    if ((st = check_dims(shape, k, ctx)) != MN_OK)
        return st;
    out[0]->dtype = x->dtype;
    out[0]->ndim = k;
    for (int i = 0; i < k; i++)
        out[0]->dims[i] = shape[i];
    return MN_OK;
}

/* ---- Flatten ---- */

static mn_status flatten_infer(const mn_node *n, const mn_tensor *const *in,
                               int n_in, mn_tensor *const *out, int n_out,
                               mn_ctx *ctx)
{
    int64_t axis = mn_node_attr_int(n, "axis", 1);
    size_t a = 1, b = 1;
    mn_status st;
    (void)n_out;
    if ((st = need_input(in, n_in, ctx)) != MN_OK)
        return st;
    int r = in[0]->ndim;
    if (axis < -r || axis > r)
        return mn_error(ctx, MN_ERR_SHAPE, "axis %lld out of range for rank %d",
                        (long long)axis, r);
    if (axis < 0)
        axis += r;
    for (int i = 0; i < r; i++)
        if (!mn_mul_size(i < axis ? a : b, (size_t)in[0]->dims[i],
                         i < axis ? &a : &b))
            return mn_error(ctx, MN_ERR_SHAPE, "input size overflows");
    out[0]->dtype = in[0]->dtype;
    out[0]->ndim = 2;
    out[0]->dims[0] = (int64_t)a;
    out[0]->dims[1] = (int64_t)b;
    return MN_OK;
}

/* ---- Squeeze / Unsqueeze ---- */

/* The axes of a Squeeze/Unsqueeze: attribute before opset 13, input since.
 * *n = -1 when absent. */
static mn_status get_axes(const mn_node *n, const mn_tensor *const *in,
                          int n_in, int64_t *axes, int *na, mn_ctx *ctx)
{
    *na = -1;
    if (n->opset < 13) {
        const int64_t *a;
        int k = mn_node_attr_ints(n, "axes", &a);
        if (!mn_node_attr(n, "axes"))
            return MN_OK;
        if (k > MN_MAX_DIMS)
            return mn_error(ctx, MN_ERR_UNSUPPORTED, "%d axes (at most %d)", k,
                            MN_MAX_DIMS);
        for (int i = 0; i < k; i++)
            axes[i] = a[i];
        *na = k;
        return MN_OK;
    }
    if (n_in < 2 || !in[1])
        return MN_OK;
    return mn_op_const_ints(in[1], "axes", axes, MN_MAX_DIMS, na, ctx);
}

/* Marks axes (normalized against rank r) in mark[]; rejects duplicates. */
static mn_status mark_axes(const int64_t *axes, int na, int r, char *mark,
                           mn_ctx *ctx)
{
    memset(mark, 0, MN_MAX_DIMS);
    for (int i = 0; i < na; i++) {
        int a;
        mn_status st = mn_norm_axis(axes[i], r, &a, ctx);
        if (st != MN_OK)
            return st;
        if (mark[a])
            return mn_error(ctx, MN_ERR_SHAPE, "axis %lld is repeated",
                            (long long)axes[i]);
        mark[a] = 1;
    }
    return MN_OK;
}

static mn_status squeeze_infer(const mn_node *n, const mn_tensor *const *in,
                               int n_in, mn_tensor *const *out, int n_out,
                               mn_ctx *ctx)
{
    int64_t axes[MN_MAX_DIMS];
    char mark[MN_MAX_DIMS];
    int na, k = 0;
    mn_status st;
    (void)n_out;
    if ((st = need_input(in, n_in, ctx)) != MN_OK)
        return st;
    const mn_tensor *x = in[0];
    if ((st = get_axes(n, in, n_in, axes, &na, ctx)) != MN_OK)
        return st;
    if (na < 0) {
        for (int i = 0; i < x->ndim; i++)
            mark[i] = x->dims[i] == 1;
    } else {
        if (x->ndim == 0 && na > 0)
            return mn_error(ctx, MN_ERR_SHAPE, "cannot squeeze a scalar");
        if ((st = mark_axes(axes, na, x->ndim, mark, ctx)) != MN_OK)
            return st;
        for (int i = 0; i < x->ndim; i++)
            if (mark[i] && x->dims[i] != 1)
                return mn_error(ctx, MN_ERR_SHAPE,
                                "cannot squeeze axis %d of size %lld", i,
                                (long long)x->dims[i]);
    }
    out[0]->dtype = x->dtype;
    for (int i = 0; i < x->ndim; i++)
        if (!mark[i])
            out[0]->dims[k++] = x->dims[i];
    out[0]->ndim = k;
    return MN_OK;
}

static mn_status unsqueeze_infer(const mn_node *n, const mn_tensor *const *in,
                                 int n_in, mn_tensor *const *out, int n_out,
                                 mn_ctx *ctx)
{
    int64_t axes[MN_MAX_DIMS];
    char mark[MN_MAX_DIMS];
    int na, r, k = 0;
    mn_status st;
    (void)n_out;
    if ((st = need_input(in, n_in, ctx)) != MN_OK)
        return st;
    const mn_tensor *x = in[0];
    if ((st = get_axes(n, in, n_in, axes, &na, ctx)) != MN_OK)
        return st;
    if (na < 0)
        return mn_error(ctx, MN_ERR_SHAPE, "missing axes");
    r = x->ndim + na;
    if (r > MN_MAX_DIMS)
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "output rank %d exceeds %d", r,
                        MN_MAX_DIMS);
    if ((st = mark_axes(axes, na, r, mark, ctx)) != MN_OK)
        return st;
    out[0]->dtype = x->dtype;
    out[0]->ndim = r;
    for (int i = 0; i < r; i++)
        out[0]->dims[i] = mark[i] ? 1 : x->dims[k++];
    return MN_OK;
}

/* ---- Identity ---- */

static mn_status identity_infer(const mn_node *n, const mn_tensor *const *in,
                                int n_in, mn_tensor *const *out, int n_out,
                                mn_ctx *ctx)
{
    mn_status st;
    (void)n, (void)n_out;
    if ((st = need_input(in, n_in, ctx)) != MN_OK)
        return st;
    mn_tensor_copy_meta(out[0], in[0]);
    return MN_OK;
}

/* ---- Dropout (inference: the identity; the mask is all ones) ---- */

static mn_status dropout_infer(const mn_node *n, const mn_tensor *const *in,
                               int n_in, mn_tensor *const *out, int n_out,
                               mn_ctx *ctx)
{
    mn_status st;
    if ((st = need_input(in, n_in, ctx)) != MN_OK)
        return st;
    /* Dropout-6's is_test defaults to training mode, but exporters leave it
     * unset in inference graphs; like other runtimes, run it as inference. */
    if (n_in >= 2 && in[1]) {
        if (in[1]->dtype != MN_DT_F32 && in[1]->dtype != MN_DT_F16 &&
            in[1]->dtype != MN_DT_F64)
            return mn_error(ctx, MN_ERR_SHAPE, "ratio is %s, expected float",
                            mn_dtype_name(in[1]->dtype));
        if (mn_tensor_numel(in[1]) != 1)
            return mn_error(ctx, MN_ERR_SHAPE, "ratio must be a scalar");
    }
    if (n_in >= 3 && in[2]) {
        if (in[2]->dtype != MN_DT_BOOL || mn_tensor_numel(in[2]) != 1)
            return mn_error(ctx, MN_ERR_SHAPE,
                            "training_mode must be a bool scalar");
        if (!in[2]->data)
            return mn_error(ctx, MN_ERR_UNSUPPORTED,
                            "training_mode input is not constant");
        /* Training with ratio 0 drops nothing: still the identity. */
        if (((const uint8_t *)in[2]->data)[0] &&
            !(n_in >= 2 && in[1] && in[1]->data &&
              in[1]->dtype != MN_DT_F16 &&
              mn_tensor_get_f64(in[1], 0) == 0.0))
            return mn_error(ctx, MN_ERR_UNSUPPORTED,
                            "training_mode = true is not supported");
    }
    mn_tensor_copy_meta(out[0], in[0]);
    if (n_out >= 2) {
        mn_tensor_copy_meta(out[1], in[0]);
        /* Before opset 10 the mask had the data's type. */
        if (n->opset >= 10)
            out[1]->dtype = MN_DT_BOOL;
    }
    return MN_OK;
}

/* Writes the value one in dtype dt into each of cnt elements at p. */
static void fill_ones(mn_dtype dt, void *p, int64_t cnt)
{
    for (int64_t i = 0; i < cnt; i++) {
        switch (dt) {
        case MN_DT_F32: ((float *)p)[i] = 1.0f; break;
        case MN_DT_F64: ((double *)p)[i] = 1.0; break;
        case MN_DT_F16: ((uint16_t *)p)[i] = 0x3C00; break;
        case MN_DT_BOOL:
        case MN_DT_U8:
        case MN_DT_I8: ((uint8_t *)p)[i] = 1; break;
        case MN_DT_I16:
        case MN_DT_U16: ((uint16_t *)p)[i] = 1; break;
        case MN_DT_I32:
        case MN_DT_U32: ((uint32_t *)p)[i] = 1; break;
        case MN_DT_I64:
        case MN_DT_U64: ((uint64_t *)p)[i] = 1; break;
        default: return;
        }
    }
}

static mn_status dropout_forward(const mn_node *n, const mn_tensor *const *in,
                                 int n_in, mn_tensor *const *out, int n_out,
                                 mn_exec *ex)
{
    (void)n, (void)n_in, (void)ex;
    copy_bytes(in[0], out[0]);
    if (n_out >= 2 && out[1]->data)
        fill_ones(out[1]->dtype, out[1]->data, mn_tensor_numel(out[1]));
    return MN_OK;
}

const mn_op_def mn_opdef_reshape = {
    .name = "Reshape", .min_in = 1, .max_in = 2, .min_out = 1, .max_out = 1,
    .flags = MN_OPF_VIEW, .infer = reshape_infer, .forward = view_forward};
const mn_op_def mn_opdef_flatten = {
    .name = "Flatten", .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .flags = MN_OPF_VIEW, .infer = flatten_infer, .forward = view_forward};
const mn_op_def mn_opdef_squeeze = {
    .name = "Squeeze", .min_in = 1, .max_in = 2, .min_out = 1, .max_out = 1,
    .flags = MN_OPF_VIEW, .infer = squeeze_infer, .forward = view_forward};
const mn_op_def mn_opdef_unsqueeze = {
    .name = "Unsqueeze", .min_in = 1, .max_in = 2, .min_out = 1, .max_out = 1,
    .flags = MN_OPF_VIEW, .infer = unsqueeze_infer, .forward = view_forward};
const mn_op_def mn_opdef_identity = {
    .name = "Identity", .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .flags = MN_OPF_VIEW, .infer = identity_infer, .forward = view_forward};
const mn_op_def mn_opdef_dropout = {
    .name = "Dropout", .min_in = 1, .max_in = 3, .min_out = 1, .max_out = 2,
    .flags = MN_OPF_VIEW, .infer = dropout_infer, .forward = dropout_forward};
