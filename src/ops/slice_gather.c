/* Slice and Gather: index-driven copies for any fixed-size element type.
 *
 * Slice reads starts/ends/axes/steps from attributes before opset 10 and
 * from constant inputs since; Gather checks every index while running,
 * since indices are data. */
#include <string.h>
#include "ops/ops.h"

/* ---- Slice ---- */

/* Per-axis start, step and output length of a Slice on x. */
typedef struct slice_plan {
    int64_t start[MN_MAX_DIMS], step[MN_MAX_DIMS], len[MN_MAX_DIMS];
} slice_plan;

/* Attribute list (opset < 10) into v; *n = -1 when absent. */
static int attr_list(const mn_node *n, const char *name, int64_t *v, int *cnt)
{
    const int64_t *a;
    int k = mn_node_attr_ints(n, name, &a);
    *cnt = -1;
    if (!mn_node_attr(n, name))
        return 1;
    if (k > MN_MAX_DIMS)
        return 0;
    for (int i = 0; i < k; i++)
        v[i] = a[i];
    *cnt = k;
    return 1;
}

static mn_status slice_plan_make(const mn_node *n, const mn_tensor *const *in,
                                 int n_in, slice_plan *p, mn_ctx *ctx)
{
    const mn_tensor *x = in[0];
    int64_t starts[MN_MAX_DIMS], ends[MN_MAX_DIMS], axes[MN_MAX_DIMS],
        steps[MN_MAX_DIMS];
    int ns = -1, ne = -1, na = -1, nst = -1, r = x->ndim;
    char seen[MN_MAX_DIMS] = {0};
    mn_status st;
    if (r == 0)
        return mn_error(ctx, MN_ERR_SHAPE, "cannot slice a scalar");
    if (n->opset < 10) {
        if (!attr_list(n, "starts", starts, &ns) ||
            !attr_list(n, "ends", ends, &ne) || !attr_list(n, "axes", axes, &na))
            return mn_error(ctx, MN_ERR_SHAPE, "more than %d slice axes",
                            MN_MAX_DIMS);
        if (ns < 0 || ne < 0)
            return mn_error(ctx, MN_ERR_PARSE, "missing starts or ends");
    } else {
        static const char *const what[] = {"starts", "ends", "axes", "steps"};
        int64_t *dst[] = {starts, ends, axes, steps};
        int *cnt[] = {&ns, &ne, &na, &nst};
        if (n_in < 3 || !in[1] || !in[2])
            return mn_error(ctx, MN_ERR_SHAPE, "missing starts or ends input");
        for (int k = 0; k < 4; k++)
            if (n_in > k + 1 && in[k + 1]) {
                st = mn_op_const_ints(in[k + 1], what[k], dst[k], MN_MAX_DIMS,
                                cnt[k], ctx);
                if (st != MN_OK)
                    return st;
            }
    }
    if (ne != ns || (na >= 0 && na != ns) || (nst >= 0 && nst != ns))
        return mn_error(ctx, MN_ERR_SHAPE,
                        "starts, ends, axes and steps differ in length");
    for (int i = 0; i < r; i++) {
        p->start[i] = 0;
        p->step[i] = 1;
        p->len[i] = x->dims[i];
    }
    for (int i = 0; i < ns; i++) {
        int a = i;
        int64_t s, e, step = nst >= 0 ? steps[i] : 1, dim, d;
        if (na >= 0 && (st = mn_norm_axis(axes[i], r, &a, ctx)) != MN_OK)
            return st;
        if (a >= r)
            return mn_error(ctx, MN_ERR_SHAPE,
                            "%d slice axes for rank %d", ns, r);
        if (seen[a])
            return mn_error(ctx, MN_ERR_SHAPE, "axis %d is sliced twice", a);
        seen[a] = 1;
        if (step == 0)
            return mn_error(ctx, MN_ERR_SHAPE, "step is 0 on axis %d", a);
        dim = x->dims[a];
        s = starts[i];
        e = ends[i];
        if (s < 0)
            s += dim;
        if (e < 0)
            e += dim;
        if (dim == 0) {
            s = 0;
            p->len[a] = 0;
        } else if (step > 0) {
            s = s < 0 ? 0 : s > dim ? dim : s;
            e = e < 0 ? 0 : e > dim ? dim : e;
            d = e - s;
            p->len[a] = d <= 0 ? 0 : (d - 1) / step + 1;
        } else {
            s = s < 0 ? 0 : s > dim - 1 ? dim - 1 : s;
            e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
            d = s - e;
            p->len[a] = d <= 0 ? 0
                               : (int64_t)((uint64_t)(d - 1) /
                                           (0 - (uint64_t)step)) + 1;
        }
        p->start[a] = s;
        p->step[a] = step;
    }
    return MN_OK;
}

static mn_status slice_infer(const mn_node *n, const mn_tensor *const *in,
                             int n_in, mn_tensor *const *out, int n_out,
                             mn_ctx *ctx)
{
    slice_plan p;
    mn_status st;
    (void)n_out;
    if (n_in < 1 || !in[0])
        return mn_error(ctx, MN_ERR_SHAPE, "missing data input");
    if ((st = slice_plan_make(n, in, n_in, &p, ctx)) != MN_OK)
        return st;
    mn_tensor_copy_meta(out[0], in[0]);
    for (int i = 0; i < in[0]->ndim; i++)
        out[0]->dims[i] = p.len[i];
    return MN_OK;
}

static mn_status slice_forward(const mn_node *n, const mn_tensor *const *in,
                               int n_in, mn_tensor *const *out, int n_out,
                               mn_exec *ex)
{
    const mn_tensor *x = in[0];
    mn_tensor *y = out[0];
    slice_plan p;
    int r = x->ndim;
    int64_t stride[MN_MAX_DIMS], idx[MN_MAX_DIMS] = {0}, rows, cnt;
    size_t es = mn_dtype_size(x->dtype);
    const char *src = x->data;
    char *dst = y->data;
    mn_status st;
    (void)n_out;
    if (mn_tensor_numel(y) == 0)
        return MN_OK;
    if ((st = slice_plan_make(n, in, n_in, &p, ex->ctx)) != MN_OK)
        return st;
    stride[r - 1] = 1;
    for (int i = r - 2; i >= 0; i--)
        stride[i] = stride[i + 1] * x->dims[i + 1];
    cnt = p.len[r - 1];
    rows = mn_tensor_numel(y) / cnt;
    for (int64_t row = 0; row < rows; row++) {
        int64_t off = 0;
        for (int i = 0; i < r - 1; i++)
            off += (p.start[i] + idx[i] * p.step[i]) * stride[i];
        off += p.start[r - 1];
        if (p.step[r - 1] == 1) {
            memcpy(dst, src + (size_t)off * es, (size_t)cnt * es);
        } else {
            for (int64_t j = 0; j < cnt; j++)
                memcpy(dst + (size_t)j * es,
                       src + (size_t)(off + j * p.step[r - 1]) * es, es);
        }
        dst += (size_t)cnt * es;
        for (int i = r - 2; i >= 0; i--) {
            if (++idx[i] < p.len[i])
                break;
            idx[i] = 0;
        }
    }
    return MN_OK;
}

/* ---- Gather ---- */

static mn_status gather_infer(const mn_node *n, const mn_tensor *const *in,
                              int n_in, mn_tensor *const *out, int n_out,
                              mn_ctx *ctx)
{
    const mn_tensor *x, *ix;
    int axis, r, k = 0;
    mn_status st;
    (void)n_out;
    if (n_in < 2 || !in[0] || !in[1])
        return mn_error(ctx, MN_ERR_SHAPE, "missing data or indices input");
    x = in[0];
    ix = in[1];
    r = x->ndim;
    if (r == 0)
        return mn_error(ctx, MN_ERR_SHAPE, "cannot gather from a scalar");
    if (ix->dtype != MN_DT_I64 && ix->dtype != MN_DT_I32)
        return mn_error(ctx, MN_ERR_SHAPE, "indices are %s, expected int32 or "
                        "int64", mn_dtype_name(ix->dtype));
    if ((st = mn_norm_axis(mn_node_attr_int(n, "axis", 0), r, &axis, ctx)))
        return st;
    if (r + ix->ndim - 1 > MN_MAX_DIMS)
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "output rank %d exceeds %d",
                        r + ix->ndim - 1, MN_MAX_DIMS);
    out[0]->dtype = x->dtype;
    for (int i = 0; i < axis; i++)
        out[0]->dims[k++] = x->dims[i];
    for (int i = 0; i < ix->ndim; i++)
        out[0]->dims[k++] = ix->dims[i];
    for (int i = axis + 1; i < r; i++)
        out[0]->dims[k++] = x->dims[i];
    out[0]->ndim = k;
    return MN_OK;
}

static mn_status gather_forward(const mn_node *n, const mn_tensor *const *in,
                                int n_in, mn_tensor *const *out, int n_out,
                                mn_exec *ex)
{
    const mn_tensor *x = in[0], *ix = in[1];
    int axis = 0, r = x->ndim;
    int64_t outer = 1, inner = 1, dim, ni = mn_tensor_numel(ix);
    size_t es = mn_dtype_size(x->dtype), block;
    char *dst = out[0]->data;
    (void)n_in, (void)n_out;
    mn_norm_axis(mn_node_attr_int(n, "axis", 0), r, &axis, ex->ctx);
    for (int i = 0; i < axis; i++)
        outer *= x->dims[i];
    for (int i = axis + 1; i < r; i++)
        inner *= x->dims[i];
    dim = x->dims[axis];
    block = (size_t)inner * es;
    if (outer == 1 && es == 1 && inner == 1 && ix->dtype == MN_DT_I32) {
        /* a lookup table of the int8 graph: a byte per int32 index */
        const uint8_t *t = x->data;
        const int32_t *k = ix->data;
        int32_t lo = 0, hi = 0;
        for (int64_t j = 0; j < ni; j++) {
            lo = k[j] < lo ? k[j] : lo;
            hi = k[j] > hi ? k[j] : hi;
        }
        if (ni > 0 && (lo < -dim || hi >= dim))
            return mn_error(ex->ctx, MN_ERR_RUNTIME,
                            "index %lld out of range [%lld, %lld]",
                            (long long)(lo < -dim ? lo : hi), (long long)-dim,
                            (long long)(dim - 1));
        for (int64_t j = 0; j < ni; j++)
            dst[j] = (char)t[k[j] < 0 ? k[j] + dim : k[j]];
        return MN_OK;
    }
    /* Check every index first so a bad one leaves no partial output. */
    for (int64_t j = 0; j < ni; j++) {
        int64_t k = mn_tensor_get_i64(ix, j);
        if (k < -dim || k >= dim)
            return mn_error(ex->ctx, MN_ERR_RUNTIME,
                            "index %lld out of range [%lld, %lld]",
                            (long long)k, (long long)-dim,
                            (long long)(dim - 1));
    }
    if (mn_tensor_numel(out[0]) == 0)
        return MN_OK;
    for (int64_t o = 0; o < outer; o++) {
        const char *base = (const char *)x->data + (size_t)(o * dim) * block;
        for (int64_t j = 0; j < ni; j++) {
            int64_t k = mn_tensor_get_i64(ix, j);
            if (k < 0)
                k += dim;
            memcpy(dst, base + (size_t)k * block, block);
            dst += block;
        }
    }
    return MN_OK;
}

const mn_op_def mn_opdef_slice = {
    .name = "Slice", .min_in = 1, .max_in = 5, .min_out = 1, .max_out = 1,
    .flags = 0, .infer = slice_infer, .forward = slice_forward};
const mn_op_def mn_opdef_gather = {
    .name = "Gather", .min_in = 2, .max_in = 2, .min_out = 1, .max_out = 1,
    .flags = 0, .infer = gather_infer, .forward = gather_forward};
