/* Pad: constant, reflect, edge (and opset-19 wrap) padding for any
 * fixed-size element type. Negative pads crop; edge/reflect/wrap then pad
 * from the cropped tensor.
 *
 * Before opset 11 pads, mode and value are attributes; since, pads and the
 * optional constant_value are inputs (pads must be constant), and opset 18
 * adds an optional axes input. */
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

enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP };

typedef struct pad_plan {
    int mode;
    int64_t begin[MN_MAX_DIMS], end[MN_MAX_DIMS];
} pad_plan;

static mn_status pad_plan_make(const mn_node *n, const mn_tensor *const *in,
                               int n_in, pad_plan *p, mn_ctx *ctx)
{
    const mn_tensor *x = in[0];
    int64_t pads[2 * MN_MAX_DIMS], axes[MN_MAX_DIMS];
    int np = 0, na = -1, r = x->ndim;
    const char *mode = mn_node_attr_string(n, "mode", "constant");
    char seen[MN_MAX_DIMS] = {0};
    mn_status st;
    if (strcmp(mode, "constant") == 0)
        p->mode = PAD_CONSTANT;
    else if (strcmp(mode, "reflect") == 0)
        p->mode = PAD_REFLECT;
    else if (strcmp(mode, "edge") == 0)
        p->mode = PAD_EDGE;
    else if (strcmp(mode, "wrap") == 0)
        p->mode = PAD_WRAP;
    else
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "pad mode '%s'", mode);
    if (n->opset < 11) {
        const int64_t *a;
        const char *name = n->opset < 2 ? "paddings" : "pads";
        np = mn_node_attr_ints(n, name, &a);
        if (!mn_node_attr(n, name))
            return mn_error(ctx, MN_ERR_PARSE, "missing %s attribute", name);
        if (np > 2 * MN_MAX_DIMS)
            return mn_error(ctx, MN_ERR_SHAPE, "%d pads for rank %d", np, r);
        for (int i = 0; i < np; i++)
            pads[i] = a[i];
    } else {
        if (n_in < 2 || !in[1])
            return mn_error(ctx, MN_ERR_SHAPE, "missing pads input");
        st = mn_op_const_ints(in[1], "pads", pads, 2 * MN_MAX_DIMS, &np, ctx);
        if (st != MN_OK)
            return st;
        if (n_in >= 4 && in[3]) {
            st = mn_op_const_ints(in[3], "axes", axes, MN_MAX_DIMS, &na, ctx);
            if (st != MN_OK)
                return st;
        }
    }
    if (np != 2 * (na >= 0 ? na : r))
        return mn_error(ctx, MN_ERR_SHAPE, "%d pads for %d axes", np,
                        na >= 0 ? na : r);
    for (int i = 0; i < r; i++)
        p->begin[i] = p->end[i] = 0;
    for (int i = 0; i < np / 2; i++) {
        int a = i;
        if (na >= 0 && (st = mn_norm_axis(axes[i], r, &a, ctx)) != MN_OK)
            return st;
        if (seen[a])
            return mn_error(ctx, MN_ERR_SHAPE, "axis %d is padded twice", a);
        seen[a] = 1;
        p->begin[a] = pads[i];
        p->end[a] = pads[i + np / 2];
    }
    for (int i = 0; i < r; i++) {
        int64_t b = p->begin[i], e = p->end[i], d = x->dims[i], kept;
        if (b < -d || e < -d || b > INT64_MAX / 4 || e > INT64_MAX / 4 ||
            d + b + e < 0)
            return mn_error(ctx, MN_ERR_SHAPE,
                            "pads %lld,%lld do not fit axis %d of size %lld",
                            (long long)b, (long long)e, i, (long long)d);
        kept = d - (b < 0 ? -b : 0) - (e < 0 ? -e : 0);
        if (p->mode != PAD_CONSTANT && (b > 0 || e > 0) && kept <= 0)
            return mn_error(ctx, MN_ERR_SHAPE,
                            "cannot pad axis %d of size %lld in %s mode", i,
                            (long long)kept, mode);
    }
    return MN_OK;
}

static mn_status pad_infer(const mn_node *n, const mn_tensor *const *in,
                           int n_in, mn_tensor *const *out, int n_out,
                           mn_ctx *ctx)
{
    pad_plan p;
    mn_status st;
    (void)n_out;
    if (n_in < 1 || !in[0])
        return mn_error(ctx, MN_ERR_SHAPE, "missing data input");
    if (mn_dtype_size(in[0]->dtype) == 0)
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "Pad of %s",
                        mn_dtype_name(in[0]->dtype));
    if ((st = pad_plan_make(n, in, n_in, &p, ctx)) != MN_OK)
        return st;
    if (n->opset >= 11 && n_in >= 3 && in[2]) {
        if (in[2]->dtype != in[0]->dtype || mn_tensor_numel(in[2]) != 1)
            return mn_error(ctx, MN_ERR_SHAPE,
                            "constant_value must be one %s",
                            mn_dtype_name(in[0]->dtype));
    }
    if (n->opset < 11) {
        float v = mn_node_attr_float(n, "value", 0.0f);
        mn_dtype dt = in[0]->dtype;
        if (v != 0 && dt != MN_DT_F32 && dt != MN_DT_F64)
            return mn_error(ctx, MN_ERR_UNSUPPORTED,
                            "pad value %g on %s data", (double)v,
                            mn_dtype_name(dt));
    }
    mn_tensor_copy_meta(out[0], in[0]);
    for (int i = 0; i < in[0]->ndim; i++)
        out[0]->dims[i] += p.begin[i] + p.end[i];
    return check_dims(out[0]->dims, out[0]->ndim, ctx);
}

/* Source index along one axis for output index o, or -1 for the constant.
 * The kept (cropped) input along the axis is [cs, cs + cn). */
static int64_t src_index(int mode, int64_t o, int64_t b, int64_t cs,
                         int64_t cn)
{
    int64_t i = o - (b > 0 ? b : 0), per;
    if (i >= 0 && i < cn)
        return cs + i;
    switch (mode) {
    case PAD_EDGE:
        return cs + (i < 0 ? 0 : cn - 1);
    case PAD_WRAP:
        i %= cn;
        return cs + (i < 0 ? i + cn : i);
    case PAD_REFLECT:
        if (cn == 1)
            return cs;
        per = 2 * (cn - 1);
        i %= per;
        if (i < 0)
            i += per;
        return cs + (i < cn ? i : per - i);
    default:
        return -1;
    }
}

static mn_status pad_forward(const mn_node *n, const mn_tensor *const *in,
                             int n_in, mn_tensor *const *out, int n_out,
                             mn_exec *ex)
{
    const mn_tensor *x = in[0];
    mn_tensor *y = out[0];
    pad_plan p;
    int r = x->ndim;
    int64_t cs[MN_MAX_DIMS], cn[MN_MAX_DIMS], stride[MN_MAX_DIMS];
    int64_t idx[MN_MAX_DIMS] = {0}, total = mn_tensor_numel(y), cnt, rows;
    size_t es = mn_dtype_size(x->dtype);
    unsigned char cval[16] = {0};
    char *dst = y->data;
    mn_status st;
    (void)n_out;
    if (total == 0)
        return MN_OK;
    if ((st = pad_plan_make(n, in, n_in, &p, ex->ctx)) != MN_OK)
        return st;
    if (n->opset >= 11 && n_in >= 3 && in[2] && in[2]->data) {
        memcpy(cval, in[2]->data, es);
    } else if (n->opset < 11) {
        float v = mn_node_attr_float(n, "value", 0.0f);
        double dv = v;
        if (x->dtype == MN_DT_F32)
            memcpy(cval, &v, sizeof v);
        else if (x->dtype == MN_DT_F64)
            memcpy(cval, &dv, sizeof dv);
    }
    if (r == 0) {
        memcpy(dst, x->data, es);
        return MN_OK;
    }
    for (int i = r - 1; i >= 0; i--) {
        stride[i] = i == r - 1 ? 1 : stride[i + 1] * x->dims[i + 1];
        cs[i] = p.begin[i] < 0 ? -p.begin[i] : 0;
        cn[i] = x->dims[i] - cs[i] - (p.end[i] < 0 ? -p.end[i] : 0);
    }
    cnt = y->dims[r - 1];
    rows = total / cnt;
    for (int64_t row = 0; row < rows; row++) {
        int64_t off = 0;
        int fill = 0;
        for (int i = 0; i < r - 1 && !fill; i++) {
            int64_t s = src_index(p.mode, idx[i], p.begin[i], cs[i], cn[i]);
            if (s < 0)
                fill = 1;
            else
                off += s * stride[i];
        }
        for (int64_t j = 0; j < cnt; j++) {
            int64_t s = fill ? -1
                             : src_index(p.mode, j, p.begin[r - 1],
                                         cs[r - 1], cn[r - 1]);
            memcpy(dst + (size_t)j * es,
                   s < 0 ? (const char *)cval
                         : (const char *)x->data + (size_t)(off + s) * es,
                   es);
        }
        dst += (size_t)cnt * es;
        for (int i = r - 2; i >= 0; i--) {
            if (++idx[i] < y->dims[i])
                break;
            idx[i] = 0;
        }
    }
    return MN_OK;
}

const mn_op_def mn_opdef_pad = {
    .name = "Pad", .min_in = 1, .max_in = 4, .min_out = 1, .max_out = 1,
    .flags = 0, .infer = pad_infer, .forward = pad_forward};
