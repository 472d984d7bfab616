/* Shape rules for the convolution, pooling and matmul families (see
 * conv_shape.h). */
#include <string.h>
#include "ops/conv_shape.h"

#define ATTR_MAX ((int64_t)1 << 30)    /* sanity bound on window attributes */
#define SPATIAL_MAX ((int64_t)1 << 40) /* keeps window arithmetic in int64 */

int64_t mn_numel_opt(const mn_tensor *t)
{
    return t ? mn_tensor_numel(t) : 0;
}

/* Reads an optional ints attribute of exactly `want` values in [lo, hi]
 * into v (left untouched when absent). */
static mn_status read_ints(const mn_node *n, const char *name, int want,
                           int64_t lo, int64_t *v, mn_ctx *ctx)
{
    const int64_t *a;
    int cnt = mn_node_attr_ints(n, name, &a);
    if (cnt == 0)
        return MN_OK;
    if (cnt != want)
        return mn_error(ctx, MN_ERR_SHAPE, "%s has %d values, expected %d",
                        name, cnt, want);
    for (int i = 0; i < cnt; i++) {
        if (a[i] < lo || a[i] > ATTR_MAX)
            return mn_error(ctx, MN_ERR_SHAPE, "%s[%d] = %lld is out of range",
                            name, i, (long long)a[i]);
        v[i] = a[i];
    }
    return MN_OK;
}

mn_status mn_window_init(const mn_node *n, int nsp, const int64_t *in_sp,
                         const int64_t *kernel, unsigned flags, mn_window *w,
                         mn_ctx *ctx)
{
    int64_t pads[2 * MN_WIN_MAX_SP] = {0};
    int64_t ks[MN_WIN_MAX_SP] = {0};
    mn_status st;
    memset(w, 0, sizeof *w);
    if (nsp < 1 || nsp > MN_WIN_MAX_SP)
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "%d spatial dimensions", nsp);
    w->nsp = nsp;
    for (int i = 0; i < nsp; i++) {
        w->in[i] = in_sp[i];
        w->s[i] = w->d[i] = 1;
        if (in_sp[i] < 1 || in_sp[i] > SPATIAL_MAX)
            return mn_error(ctx, MN_ERR_SHAPE, "spatial dimension %d is %lld",
                            i, (long long)in_sp[i]);
    }
    if ((st = read_ints(n, "kernel_shape", nsp, 1, ks, ctx)) != MN_OK ||
        (st = read_ints(n, "strides", nsp, 1, w->s, ctx)) != MN_OK ||
        (st = read_ints(n, "dilations", nsp, 1, w->d, ctx)) != MN_OK ||
        (st = read_ints(n, "pads", 2 * nsp, 0, pads, ctx)) != MN_OK)
        return st;
    for (int i = 0; i < nsp; i++) {
        if (kernel) {
            if (ks[i] && ks[i] != kernel[i])
                return mn_error(ctx, MN_ERR_SHAPE,
                                "kernel_shape[%d] = %lld does not match the "
                                "weights' %lld", i, (long long)ks[i],
                                (long long)kernel[i]);
            if (kernel[i] < 1 || kernel[i] > ATTR_MAX)
                return mn_error(ctx, MN_ERR_SHAPE, "kernel size %lld",
                                (long long)kernel[i]);
            w->k[i] = kernel[i];
        } else {
            if (!ks[i])
                return mn_error(ctx, MN_ERR_SHAPE,
                                "kernel_shape attribute is required");
            w->k[i] = ks[i];
        }
    }
    const char *ap = mn_node_attr_string(n, "auto_pad", "NOTSET");
    int same_upper = strcmp(ap, "SAME_UPPER") == 0;
    int same_lower = strcmp(ap, "SAME_LOWER") == 0;
    int valid = strcmp(ap, "VALID") == 0;
    if (!same_upper && !same_lower && !valid && strcmp(ap, "NOTSET") != 0 &&
        ap[0])
        return mn_error(ctx, MN_ERR_SHAPE, "auto_pad '%s' is not one of "
                        "NOTSET, SAME_UPPER, SAME_LOWER, VALID", ap);
    int64_t ceil_mode =
        (flags & MN_WIN_CEIL) ? mn_node_attr_int(n, "ceil_mode", 0) : 0;
    for (int i = 0; i < nsp; i++) {
        int64_t eff = w->d[i] * (w->k[i] - 1) + 1, s = w->s[i], in = w->in[i];
        if (same_upper || same_lower) {
            int64_t out = (in + s - 1) / s;
            int64_t total = (out - 1) * s + eff - in;
            if (total < 0)
                total = 0;
            w->pb[i] = same_upper ? total / 2 : total - total / 2;
            w->pe[i] = total - w->pb[i];
            w->out[i] = out;
            continue;
        }
        if (!valid) {
            w->pb[i] = pads[i];
            w->pe[i] = pads[i + nsp];
        }
        int64_t span = in + w->pb[i] + w->pe[i] - eff;
        if (span < 0)
            return mn_error(ctx, MN_ERR_SHAPE,
                            "window of %lld (kernel %lld, dilation %lld) is "
                            "larger than the padded input %lld on spatial "
                            "axis %d", (long long)eff, (long long)w->k[i],
                            (long long)w->d[i],
                            (long long)(in + w->pb[i] + w->pe[i]), i);
        int64_t out = (ceil_mode && !valid ? (span + s - 1) / s : span / s) + 1;
        /* A window may not start inside the trailing padding. */
        if (ceil_mode && !valid && (out - 1) * s >= in + w->pb[i])
            out--;
        w->out[i] = out;
    }
    return MN_OK;
}

mn_status mn_conv_setup(const mn_node *n, const mn_tensor *x,
                        const mn_tensor *w, mn_conv_params *p,
                        int64_t *out_dims, mn_ctx *ctx)
{
    char a[128], b[128];
    mn_window win;
    mn_status st;
    memset(p, 0, sizeof *p);
    if (x->ndim == 5)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "3-D convolution (input %s) is not supported",
                        mn_shape_str(x, a, sizeof a));
    if (x->ndim != 3 && x->ndim != 4)
        return mn_error(ctx, MN_ERR_SHAPE,
                        "input %s: expected [N,C,W] or [N,C,H,W]",
                        mn_shape_str(x, a, sizeof a));
    if (w->ndim != x->ndim)
        return mn_error(ctx, MN_ERR_SHAPE, "weights %s do not match input %s",
                        mn_shape_str(w, b, sizeof b),
                        mn_shape_str(x, a, sizeof a));
    int64_t group = mn_node_attr_int(n, "group", 1);
    int64_t c = x->dims[1], m = w->dims[0];
    if (group < 1 || c < 1 || c % group != 0)
        return mn_error(ctx, MN_ERR_SHAPE,
                        "group %lld does not divide the %lld input channels",
                        (long long)group, (long long)c);
    if (m < 1 || m % group != 0)
        return mn_error(ctx, MN_ERR_SHAPE,
                        "group %lld does not divide the %lld output channels",
                        (long long)group, (long long)m);
    if (w->dims[1] != c / group)
        return mn_error(ctx, MN_ERR_SHAPE,
                        "weights %s expect %lld input channels per group; "
                        "input %s with group %lld has %lld",
                        mn_shape_str(w, b, sizeof b),
                        (long long)w->dims[1], mn_shape_str(x, a, sizeof a),
                        (long long)group, (long long)(c / group));
    int nsp = x->ndim - 2;
    if ((st = mn_window_init(n, nsp, x->dims + 2, w->dims + 2, 0, &win,
                             ctx)) != MN_OK)
        return st;
    p->n = x->dims[0];
    p->c = c;
    p->m = m;
    p->group = group;
    int h = nsp == 2; /* index of the width axis in win */
    p->h = h ? win.in[0] : 1;
    p->kh = h ? win.k[0] : 1;
    p->sh = h ? win.s[0] : 1;
    p->dh = h ? win.d[0] : 1;
    p->pt = h ? win.pb[0] : 0;
    p->oh = h ? win.out[0] : 1;
    p->w = win.in[h];
    p->kw = win.k[h];
    p->sw = win.s[h];
    p->dw = win.d[h];
    p->pl = win.pb[h];
    p->ow = win.out[h];
    /* im2col holds (C/group)·kh·kw × oh·ow elements; bound it up front. */
    size_t col = 1;
    if (!mn_mul_size(col, (size_t)(c / group), &col) ||
        !mn_mul_size(col, (size_t)p->kh, &col) ||
        !mn_mul_size(col, (size_t)p->kw, &col) ||
        !mn_mul_size(col, (size_t)p->oh, &col) ||
        !mn_mul_size(col, (size_t)p->ow, &col) ||
        !mn_mul_size(col, sizeof(float), &col) || col > MN_ALLOC_LIMIT)
        return mn_error(ctx, MN_ERR_OOM,
                        "convolution workspace is too large");
    out_dims[0] = p->n;
    out_dims[1] = m;
    for (int i = 0; i < nsp; i++)
        out_dims[2 + i] = win.out[i];
    return MN_OK;
}

mn_status mn_matmul_setup(const mn_tensor *a, const mn_tensor *b,
                          mn_matmul_shape *s, mn_tensor *out, mn_ctx *ctx)
{
    char sa[128], sb[128];
    memset(s, 0, sizeof *s);
    if (a->ndim < 1 || b->ndim < 1)
        return mn_error(ctx, MN_ERR_SHAPE, "matmul of scalars %s and %s",
                        mn_shape_str(a, sa, sizeof sa),
                        mn_shape_str(b, sb, sizeof sb));
    int a1 = a->ndim == 1, b1 = b->ndim == 1;
    int anb = a1 ? 0 : a->ndim - 2, bnb = b1 ? 0 : b->ndim - 2;
    s->m = a1 ? 1 : a->dims[a->ndim - 2];
    s->k = a->dims[a->ndim - 1];
    s->n = b1 ? 1 : b->dims[b->ndim - 1];
    int64_t kb = b1 ? b->dims[0] : b->dims[b->ndim - 2];
    if (kb != s->k)
        return mn_error(ctx, MN_ERR_SHAPE,
                        "matmul inner dimensions differ: %s times %s",
                        mn_shape_str(a, sa, sizeof sa),
                        mn_shape_str(b, sb, sizeof sb));
    s->nb = anb > bnb ? anb : bnb;
    s->nbatch = s->a_nbatch = s->b_nbatch = 1;
    int64_t as = 1, bs = 1;
    for (int i = s->nb - 1; i >= 0; i--) {
        int ia = i - (s->nb - anb), ib = i - (s->nb - bnb);
        int64_t da = ia >= 0 ? a->dims[ia] : 1;
        int64_t db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return mn_error(ctx, MN_ERR_SHAPE,
                            "matmul batch dimensions of %s and %s do not "
                            "broadcast", mn_shape_str(a, sa, sizeof sa),
                            mn_shape_str(b, sb, sizeof sb));
        s->batch[i] = da == 1 ? db : da;
        s->a_str[i] = da == 1 ? 0 : as;
        s->b_str[i] = db == 1 ? 0 : bs;
        as *= da;
        bs *= db;
        s->nbatch *= s->batch[i];
    }
    s->a_nbatch = as;
    s->b_nbatch = bs;
    out->ndim = s->nb + !a1 + !b1;
    for (int i = 0; i < s->nb; i++)
        out->dims[i] = s->batch[i];
    if (!a1)
        out->dims[s->nb] = s->m;
    if (!b1)
        out->dims[out->ndim - 1] = s->n;
    return MN_OK;
}

void mn_matmul_index(const mn_matmul_shape *s, int64_t t, int64_t *ia,
                     int64_t *ib)
{
    int64_t a = 0, b = 0;
    for (int i = s->nb - 1; i >= 0; i--) {
        int64_t d = t % s->batch[i];
        t /= s->batch[i];
        a += d * s->a_str[i];
        b += d * s->b_str[i];
    }
    *ia = a;
    *ib = b;
}
