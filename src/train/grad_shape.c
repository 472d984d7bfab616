/* Backward rules of the data-movement ops: byte views (Flatten, Reshape,
 * Squeeze, Unsqueeze, Identity, inference Dropout), Transpose, Concat,
 * Split, Slice, Pad (constant mode) and Expand. Each moves gradient
 * elements back to where the forward took them from; shape/axes/pads
 * inputs get no gradient. */
#include <string.h>
#include "train/grad.h"

/* ---- views ---- */

static mn_status view_bwd(const mn_node *n, const mn_tensor *const *in,
                          int n_in, const mn_tensor *const *out,
                          const mn_tensor *const *dout, int n_out,
                          mn_tensor *const *din, mn_exec *ex)
{
    (void)n, (void)n_in, (void)out, (void)n_out, (void)ex;
    if (!din[0])
        return MN_OK;
    if (dout[0])
        memcpy(din[0]->data, dout[0]->data, mn_tensor_nbytes(in[0]));
    else
        memset(din[0]->data, 0, mn_tensor_nbytes(in[0]));
    return MN_OK;
}
const mn_grad_def mn_grad_view = {.backward = view_bwd, .diff_inputs = 1u};

/* ---- Transpose ---- */

/* A perm that keeps the leading axes [0, b) and swaps the two blocks
 * [b, s) and [s, nd) (NCHW ↔ NHWC: b = 1) moves batch = Π dims[0, b)
 * matrices of rows = Π dims[b, s) by cols = Π dims[s, nd), each
 * transposed. Returns 1 and fills those for such a perm. */
static int batched_2d(const mn_node *n, const mn_tensor *x, int64_t *batch,
                      int64_t *rows, int64_t *cols)
{
    const int64_t *perm;
    int nd = x->ndim, np = mn_node_attr_ints(n, "perm", &perm), b = 0;
    if (np != nd || nd < 2 || x->dtype != MN_DT_F32)
        return 0;
    while (b < nd && perm[b] == b)
        b++;
    if (b >= nd - 1)
        return 0;
    int s = (int)perm[b];
    if (s <= b || s >= nd)
        return 0;
    for (int k = b; k < nd; k++) {
        int64_t want = k - b < nd - s ? s + (k - b) : b + (k - b - (nd - s));
        if (perm[k] != want)
            return 0;
    }
    *batch = *rows = *cols = 1;
    for (int k = 0; k < nd; k++)
        *(k < b ? batch : k < s ? rows : cols) *= x->dims[k];
    return 1;
}

/* The op table's copy, bit for bit; batched 2-D transposes blocked and
 * over the pool. */
static mn_status transpose_fwd(const mn_node *n, const mn_tensor *const *in,
                               int n_in, mn_tensor *const *out, int n_out,
                               mn_exec *ex)
{
    int64_t b, r, c;
    if (!batched_2d(n, in[0], &b, &r, &c))
        return mn_op_get(n->op)->forward(n, in, n_in, out, n_out, ex);
    mn_ttranspose_batch(mn_texec_of(ex)->pool, b, r, c, mn_f32(in[0]),
                        mn_f32(out[0]));
    return MN_OK;
}

static mn_status transpose_bwd(const mn_node *n, const mn_tensor *const *in,
                               int n_in, const mn_tensor *const *out,
                               const mn_tensor *const *dout, int n_out,
                               mn_tensor *const *din, mn_exec *ex)
{
    const mn_tensor *x = in[0], *y = out[0];
    const int64_t *perm;
    int64_t p[MN_MAX_DIMS], xs[MN_MAX_DIMS], ys[MN_MAX_DIMS], idx[MN_MAX_DIMS];
    int nd = x->ndim, np = mn_node_attr_ints(n, "perm", &perm);
    (void)n_in, (void)n_out;
    if (!din[0])
        return MN_OK;
    float *dx = mn_f32(din[0]);
    if (!dout[0]) {
        memset(dx, 0, mn_tensor_nbytes(x));
        return MN_OK;
    }
    if (np && np != nd)
        return mn_error(ex->ctx, MN_ERR_SHAPE, "perm has %d entries", np);
    int64_t bb, br, bc;
    if (batched_2d(n, x, &bb, &br, &bc)) { /* dX_b = dY_bᵀ */
        mn_ttranspose_batch(mn_texec_of(ex)->pool, bb, bc, br,
                            mn_f32(dout[0]), dx);
        return MN_OK;
    }
    for (int k = 0; k < nd; k++)
        p[k] = np ? perm[k] : nd - 1 - k;
    int64_t s = 1;
    for (int k = nd - 1; k >= 0; k--) {
        xs[k] = s;
        s *= x->dims[k];
    }
    for (int k = 0; k < nd; k++) {
        ys[k] = xs[p[k]]; /* x stride of y's axis k */
        idx[k] = 0;
    }
    const float *g = mn_f32(dout[0]);
    int64_t cnt = mn_tensor_numel(y), off = 0;
    for (int64_t i = 0; i < cnt; i++) {
        dx[off] = g[i];
        for (int k = nd - 1; k >= 0; k--) {
            off += ys[k];
            if (++idx[k] < y->dims[k])
                break;
            off -= ys[k] * y->dims[k];
            idx[k] = 0;
        }
    }
    return MN_OK;
}
const mn_grad_def mn_grad_transpose = {.forward = transpose_fwd,
                                       .backward = transpose_bwd,
                                       .diff_inputs = 1u};

/* ---- Concat / Split: blocks along one axis ---- */

static void outer_inner(const mn_tensor *t, int axis, int64_t *outer,
                        int64_t *inner)
{
    *outer = 1;
    *inner = 1;
    for (int k = 0; k < axis; k++)
        *outer *= t->dims[k];
    for (int k = axis + 1; k < t->ndim; k++)
        *inner *= t->dims[k];
}

static mn_status concat_bwd(const mn_node *n, const mn_tensor *const *in,
                            int n_in, const mn_tensor *const *out,
                            const mn_tensor *const *dout, int n_out,
                            mn_tensor *const *din, mn_exec *ex)
{
    const mn_tensor *y = out[0];
    int axis;
    int64_t outer, inner, off = 0;
    mn_status st;
    (void)n_out;
    if ((st = mn_norm_axis(mn_node_attr_int(n, "axis", 0), y->ndim, &axis,
                           ex->ctx)) != MN_OK)
        return st;
    outer_inner(y, axis, &outer, &inner);
    int64_t ystride = y->dims[axis] * inner;
    for (int i = 0; i < n_in; i++) {
        int64_t blk = in[i]->dims[axis] * inner;
        if (din[i]) {
            float *dx = mn_f32(din[i]);
            for (int64_t o = 0; o < outer; o++) {
                if (dout[0])
                    memcpy(dx + o * blk, mn_f32(dout[0]) + o * ystride + off,
                           (size_t)blk * sizeof *dx);
                else
                    memset(dx + o * blk, 0, (size_t)blk * sizeof *dx);
            }
        }
        off += blk;
    }
    return MN_OK;
}
const mn_grad_def mn_grad_concat = {.backward = concat_bwd,
                                    .diff_inputs = ~0u};

static mn_status split_bwd(const mn_node *n, const mn_tensor *const *in,
                           int n_in, const mn_tensor *const *out,
                           const mn_tensor *const *dout, int n_out,
                           mn_tensor *const *din, mn_exec *ex)
{
    const mn_tensor *x = in[0];
    int axis;
    int64_t outer, inner, off = 0;
    mn_status st;
    (void)n_in;
    if (!din[0])
        return MN_OK;
    if ((st = mn_norm_axis(mn_node_attr_int(n, "axis", 0), x->ndim, &axis,
                           ex->ctx)) != MN_OK)
        return st;
    outer_inner(x, axis, &outer, &inner);
    int64_t xstride = x->dims[axis] * inner;
    float *dx = mn_f32(din[0]);
    for (int j = 0; j < n_out; j++) {
        int64_t blk = out[j]->dims[axis] * inner;
        for (int64_t o = 0; o < outer; o++) {
            if (dout[j])
                memcpy(dx + o * xstride + off, mn_f32(dout[j]) + o * blk,
                       (size_t)blk * sizeof *dx);
            else
                memset(dx + o * xstride + off, 0, (size_t)blk * sizeof *dx);
        }
        off += blk;
    }
    return MN_OK;
}
const mn_grad_def mn_grad_split = {.backward = split_bwd, .diff_inputs = 1u};

/* ---- Slice ---- */

/* Reads attribute or input k (starts=1, ends=2, axes=3, steps=4). */
static int slice_list(const mn_node *n, const mn_tensor *const *in, int n_in,
                      int k, const char *attr, int64_t *v)
{
    if (n->opset < 10) {
        const int64_t *a;
        int c = mn_node_attr_ints(n, attr, &a);
        for (int i = 0; i < c && i < MN_MAX_DIMS; i++)
            v[i] = a[i];
        return c;
    }
    if (k >= n_in || !in[k] || !in[k]->data)
        return -1;
    int64_t c = mn_tensor_numel(in[k]);
    for (int64_t i = 0; i < c && i < MN_MAX_DIMS; i++)
        v[i] = mn_tensor_get_i64(in[k], i);
    return (int)c;
}

static mn_status slice_bwd(const mn_node *n, const mn_tensor *const *in,
                           int n_in, const mn_tensor *const *out,
                           const mn_tensor *const *dout, int n_out,
                           mn_tensor *const *din, mn_exec *ex)
{
    const mn_tensor *x = in[0], *y = out[0];
    int64_t starts[MN_MAX_DIMS], ends[MN_MAX_DIMS], axes[MN_MAX_DIMS],
        steps[MN_MAX_DIMS];
    int64_t st0[MN_MAX_DIMS], stp[MN_MAX_DIMS], xs[MN_MAX_DIMS],
        idx[MN_MAX_DIMS];
    int nd = x->ndim;
    (void)n_out;
    if (!din[0])
        return MN_OK;
    float *dx = mn_f32(din[0]);
    memset(dx, 0, mn_tensor_nbytes(x));
    if (!dout[0])
        return MN_OK;
    int ns = slice_list(n, in, n_in, 1, "starts", starts);
    int ne = slice_list(n, in, n_in, 2, "ends", ends);
    int na = slice_list(n, in, n_in, 3, "axes", axes);
    int nst = slice_list(n, in, n_in, 4, "steps", steps);
    if (ns < 0 || ne != ns || ns > nd)
        return mn_error(ex->ctx, MN_ERR_UNSUPPORTED,
                        "Slice gradient needs constant starts/ends");
    for (int k = 0; k < nd; k++) {
        st0[k] = 0;
        stp[k] = 1;
    }
    for (int i = 0; i < ns; i++) {
        int64_t a = na > 0 ? axes[i] : i;
        if (a < 0)
            a += nd;
        if (a < 0 || a >= nd)
            return mn_error(ex->ctx, MN_ERR_SHAPE, "Slice axis out of range");
        int64_t step = nst > 0 ? steps[i] : 1, dim = x->dims[a];
        int64_t s = starts[i];
        if (s < 0)
            s += dim;
        if (step > 0)
            s = s < 0 ? 0 : s > dim ? dim : s;
        else
            s = s < 0 ? 0 : s > dim - 1 ? dim - 1 : s;
        st0[a] = s;
        stp[a] = step;
    }
    int64_t s = 1, base = 0;
    for (int k = nd - 1; k >= 0; k--) {
        xs[k] = s;
        s *= x->dims[k];
    }
    for (int k = 0; k < nd; k++) {
        base += st0[k] * xs[k];
        xs[k] *= stp[k];
        idx[k] = 0;
    }
    const float *g = mn_f32(dout[0]);
    int64_t cnt = mn_tensor_numel(y), off = base;
    for (int64_t i = 0; i < cnt; i++) {
        dx[off] += g[i];
        for (int k = nd - 1; k >= 0; k--) {
            off += xs[k];
            if (++idx[k] < y->dims[k])
                break;
            off -= xs[k] * y->dims[k];
            idx[k] = 0;
        }
    }
    return MN_OK;
}
const mn_grad_def mn_grad_slice = {.backward = slice_bwd, .diff_inputs = 1u};

/* ---- Pad (constant mode): the gradient is the un-padded window ---- */

static mn_status pad_bwd(const mn_node *n, const mn_tensor *const *in,
                         int n_in, const mn_tensor *const *out,
                         const mn_tensor *const *dout, int n_out,
                         mn_tensor *const *din, mn_exec *ex)
{
    const mn_tensor *x = in[0], *y = out[0];
    int64_t pb[MN_MAX_DIMS] = {0}, ys[MN_MAX_DIMS], idx[MN_MAX_DIMS];
    int nd = x->ndim;
    (void)n_out;
    if (!din[0])
        return MN_OK;
    const char *mode = mn_node_attr_string(n, "mode", "constant");
    if (strcmp(mode, "constant") != 0)
        return mn_error(ex->ctx, MN_ERR_UNSUPPORTED,
                        "gradient of Pad mode '%s'", mode);
    if (n->opset < 11) {
        const int64_t *p;
        int c = mn_node_attr_ints(n, "pads", &p);
        if (c != 2 * nd)
            return mn_error(ex->ctx, MN_ERR_SHAPE, "pads has %d values", c);
        for (int k = 0; k < nd; k++)
            pb[k] = p[k];
    } else {
        if (n_in < 2 || !in[1] || !in[1]->data)
            return mn_error(ex->ctx, MN_ERR_UNSUPPORTED,
                            "Pad gradient needs constant pads");
        int64_t c = mn_tensor_numel(in[1]);
        const int64_t *axes = NULL;
        int64_t ax[MN_MAX_DIMS];
        int na = 0;
        if (n_in > 3 && in[3] && in[3]->data) {
            na = (int)mn_tensor_numel(in[3]);
            for (int i = 0; i < na && i < MN_MAX_DIMS; i++) {
                ax[i] = mn_tensor_get_i64(in[3], i);
                if (ax[i] < 0)
                    ax[i] += nd;
            }
            axes = ax;
        }
        int cnt = axes ? na : nd;
        if (c != 2 * cnt)
            return mn_error(ex->ctx, MN_ERR_SHAPE, "pads has %lld values",
                            (long long)c);
        for (int i = 0; i < cnt; i++) {
            int64_t a = axes ? axes[i] : i;
            if (a >= 0 && a < nd)
                pb[a] = mn_tensor_get_i64(in[1], i);
        }
    }
    int64_t s = 1;
    for (int k = nd - 1; k >= 0; k--) {
        ys[k] = s;
        s *= y->dims[k];
    }
    float *dx = mn_f32(din[0]);
    const float *g = dout[0] ? mn_f32(dout[0]) : NULL;
    int64_t cnt = mn_tensor_numel(x);
    for (int k = 0; k < nd; k++)
        idx[k] = 0;
    for (int64_t i = 0; i < cnt; i++) {
        int64_t off = 0;
        int inside = g != NULL;
        for (int k = 0; k < nd && inside; k++) {
            int64_t yi = idx[k] + pb[k];
            inside = yi >= 0 && yi < y->dims[k];
            off += yi * ys[k];
        }
        dx[i] = inside ? g[off] : 0.0f;
        for (int k = nd - 1; k >= 0; k--) {
            if (++idx[k] < x->dims[k])
                break;
            idx[k] = 0;
        }
    }
    return MN_OK;
}
const mn_grad_def mn_grad_pad = {.backward = pad_bwd, .diff_inputs = 1u};

/* ---- Expand: sum over the broadcast dimensions ---- */

static size_t expand_scratch(const mn_node *n, const mn_tensor *const *in,
                             int n_in, const mn_tensor *const *out, int n_out,
                             int threads)
{
    (void)n, (void)n_in, (void)out, (void)n_out, (void)threads;
    return (size_t)mn_tensor_numel(in[0]) * sizeof(double);
}

static mn_status expand_bwd(const mn_node *n, const mn_tensor *const *in,
                            int n_in, const mn_tensor *const *out,
                            const mn_tensor *const *dout, int n_out,
                            mn_tensor *const *din, mn_exec *ex)
{
    (void)n, (void)n_in, (void)n_out;
    if (!din[0])
        return MN_OK;
    if (!dout[0]) {
        memset(din[0]->data, 0, mn_tensor_nbytes(in[0]));
        return MN_OK;
    }
    mn_bcast_reduce(mn_f32(dout[0]), out[0], mn_f32(din[0]), in[0],
                    ex->scratch);
    return MN_OK;
}
const mn_grad_def mn_grad_expand = {.backward = expand_bwd,
                                    .backward_scratch = expand_scratch,
                                    .diff_inputs = 1u};
