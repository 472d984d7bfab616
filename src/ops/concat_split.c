/* Concat and Split along one axis, for any fixed-size element type.
 *
 * Both see the tensor as [outer, axis, inner]: each outer row is a run of
 * contiguous blocks, one per input (Concat) or output (Split). */
#include <string.h>
#include "ops/ops.h"

/* Product of dims[lo..hi). */
static int64_t span(const mn_tensor *t, int lo, int hi)
{
    int64_t p = 1;
    for (int i = lo; i < hi; i++)
        p *= t->dims[i];
    return p;
}

/* ---- Concat ---- */

static mn_status concat_infer(const mn_node *n, const mn_tensor *const *in,
                              int n_in, mn_tensor *const *out, int n_out,
                              mn_ctx *ctx)
{
    const mn_attr *aa = mn_node_attr(n, "axis");
    int axis, r;
    int64_t sum = 0;
    mn_status st;
    (void)n_out;
    if (n_in < 1)
        return mn_error(ctx, MN_ERR_SHAPE, "no inputs");
    for (int i = 0; i < n_in; i++)
        if (!in[i])
            return mn_error(ctx, MN_ERR_SHAPE, "input %d is absent", i);
    if (!aa || aa->type != MN_ATTR_INT)
        return mn_error(ctx, MN_ERR_PARSE, "missing axis attribute");
    r = in[0]->ndim;
    if (r == 0)
        return mn_error(ctx, MN_ERR_SHAPE, "cannot concatenate scalars");
    if ((st = mn_norm_axis(aa->i, r, &axis, ctx)) != MN_OK)
        return st;
    for (int i = 0; i < n_in; i++) {
        const mn_tensor *t = in[i];
        char b0[128], bi[128];
        if (t->dtype != in[0]->dtype)
            return mn_error(ctx, MN_ERR_SHAPE, "input %d is %s, input 0 is %s",
                            i, mn_dtype_name(t->dtype),
                            mn_dtype_name(in[0]->dtype));
        if (t->ndim != r)
            goto mismatch;
        for (int k = 0; k < r; k++)
            if (k != axis && t->dims[k] != in[0]->dims[k])
                goto mismatch;
        if (t->dims[axis] > INT64_MAX - sum)
            return mn_error(ctx, MN_ERR_SHAPE, "output size overflows");
        sum += t->dims[axis];
        continue;
    mismatch:
        return mn_error(ctx, MN_ERR_SHAPE,
                        "input %d shape %s does not match input 0 shape %s "
                        "outside axis %d",
                        i, mn_shape_str(t, bi, sizeof bi),
                        mn_shape_str(in[0], b0, sizeof b0), axis);
    }
    mn_tensor_copy_meta(out[0], in[0]);
    out[0]->dims[axis] = sum;
    return MN_OK;
}

static mn_status concat_forward(const mn_node *n, const mn_tensor *const *in,
                                int n_in, mn_tensor *const *out, int n_out,
                                mn_exec *ex)
{
    mn_tensor *y = out[0];
    int r = y->ndim, axis = 0;
    size_t es = mn_dtype_size(y->dtype);
    int64_t outer, inner;
    char *dst = y->data;
    (void)n_out;
    if (mn_tensor_numel(y) == 0)
        return MN_OK;
    mn_norm_axis(mn_node_attr_int(n, "axis", 0), r, &axis, ex->ctx);
    outer = span(y, 0, axis);
    inner = span(y, axis + 1, r);
    for (int64_t o = 0; o < outer; o++)
        for (int i = 0; i < n_in; i++) {
            size_t bytes = (size_t)(in[i]->dims[axis] * inner) * es;
            if (!bytes)
                continue;
            memcpy(dst, (const char *)in[i]->data + (size_t)o * bytes, bytes);
            dst += bytes;
        }
    return MN_OK;
}

/* ---- Split ---- */

/* Chunk sizes along the axis into sz[0..n_out), validated. */
static mn_status split_sizes(const mn_node *n, const mn_tensor *const *in,
                             int n_in, int n_out, int64_t dim, int64_t *sz,
                             mn_ctx *ctx)
{
    int64_t sum = 0;
    int k = -1;
    if (n->opset < 13) {
        const int64_t *a;
        k = mn_node_attr_ints(n, "split", &a);
        if (!mn_node_attr(n, "split"))
            k = -1;
        for (int i = 0; i < k && i < n_out; i++)
            sz[i] = a[i];
    } else if (n_in >= 2 && in[1]) {
        const mn_tensor *t = in[1];
        if (!t->data)
            return mn_error(ctx, MN_ERR_UNSUPPORTED,
                            "split input is not constant");
        if ((t->dtype != MN_DT_I64 && t->dtype != MN_DT_I32) || t->ndim > 1)
            return mn_error(ctx, MN_ERR_SHAPE,
                            "split input must be a 1-D int64 tensor");
        int64_t cnt = mn_tensor_numel(t);
        k = cnt > n_out ? n_out + 1 : (int)cnt;
        for (int i = 0; i < k && i < n_out; i++)
            sz[i] = mn_tensor_get_i64(t, i);
    }
    if (k >= 0) {
        if (k != n_out)
            return mn_error(ctx, MN_ERR_SHAPE,
                            "split has %s%d sizes for %d outputs",
                            k > n_out ? "more than " : "",
                            k > n_out ? n_out : k, n_out);
        for (int i = 0; i < n_out; i++) {
            if (sz[i] < 0 || sz[i] > dim - sum)
                return mn_error(ctx, MN_ERR_SHAPE,
                                "split sizes do not add up to %lld",
                                (long long)dim);
            sum += sz[i];
        }
        if (sum != dim)
            return mn_error(ctx, MN_ERR_SHAPE,
                            "split sizes add up to %lld, axis has %lld",
                            (long long)sum, (long long)dim);
        return MN_OK;
    }
    /* Equal parts; since opset 18 the last chunk may be smaller. */
    if (n->opset >= 18) {
        int64_t no = mn_node_attr_int(n, "num_outputs", n_out);
        if (no != n_out)
            return mn_error(ctx, MN_ERR_SHAPE,
                            "num_outputs is %lld, node has %d outputs",
                            (long long)no, n_out);
    }
    if (dim % n_out != 0 && n->opset < 18)
        return mn_error(ctx, MN_ERR_SHAPE,
                        "axis of size %lld does not split into %d equal parts",
                        (long long)dim, n_out);
    int64_t chunk = (dim + n_out - 1) / n_out;
    for (int i = 0; i < n_out; i++) {
        int64_t left = dim - sum;
        sz[i] = left < chunk ? left : chunk;
        sum += sz[i];
    }
    return MN_OK;
}

static mn_status split_infer(const mn_node *n, const mn_tensor *const *in,
                             int n_in, mn_tensor *const *out, int n_out,
                             mn_ctx *ctx)
{
    int64_t sz[64];
    int axis;
    mn_status st;
    if (n_in < 1 || !in[0])
        return mn_error(ctx, MN_ERR_SHAPE, "missing data input");
    if (n_out < 1 || n_out > 64)
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "%d outputs (1 to 64)", n_out);
    if (in[0]->ndim == 0)
        return mn_error(ctx, MN_ERR_SHAPE, "cannot split a scalar");
    st = mn_norm_axis(mn_node_attr_int(n, "axis", 0), in[0]->ndim, &axis, ctx);
    if (st != MN_OK)
        return st;
    st = split_sizes(n, in, n_in, n_out, in[0]->dims[axis], sz, ctx);
    if (st != MN_OK)
        return st;
    for (int j = 0; j < n_out; j++) {
        mn_tensor_copy_meta(out[j], in[0]);
        out[j]->dims[axis] = sz[j];
    }
    return MN_OK;
}

static mn_status split_forward(const mn_node *n, const mn_tensor *const *in,
                               int n_in, mn_tensor *const *out, int n_out,
                               mn_exec *ex)
{
    const mn_tensor *x = in[0];
    int r = x->ndim, axis = 0;
    size_t es = mn_dtype_size(x->dtype);
    int64_t outer, inner;
    const char *src = x->data;
    (void)n_in;
    if (mn_tensor_numel(x) == 0)
        return MN_OK;
    mn_norm_axis(mn_node_attr_int(n, "axis", 0), r, &axis, ex->ctx);
    outer = span(x, 0, axis);
    inner = span(x, axis + 1, r);
    for (int64_t o = 0; o < outer; o++)
        for (int j = 0; j < n_out; j++) {
            size_t bytes = (size_t)(out[j]->dims[axis] * inner) * es;
            if (!bytes)
                continue;
            memcpy((char *)out[j]->data + (size_t)o * bytes, src, bytes);
            src += bytes;
        }
    return MN_OK;
}

const mn_op_def mn_opdef_concat = {
    .name = "Concat", .min_in = 1, .max_in = 1 << 16, .min_out = 1,
    .max_out = 1, .flags = 0, .infer = concat_infer,
    .forward = concat_forward};
const mn_op_def mn_opdef_split = {
    .name = "Split", .min_in = 1, .max_in = 2, .min_out = 1, .max_out = 64,
    .flags = 0, .infer = split_infer, .forward = split_forward};
