/* Cross-layer equalization (Nagel et al. 2019, "Data-Free Quantization
 * Through Weight Equalization and Bias Correction", section 4.1).
 *
 * For two consecutive layers L1 → f → L2 where f is positively homogeneous
 * per channel (f(x/s) = f(x)/s for s > 0: ReLU, LeakyReLU, PReLU, identity,
 * max/average pooling, dropout at inference), output channel c of L1 can be
 * divided by s_c (weights and bias) and input channel c of L2 multiplied by
 * s_c without changing the function. With r1_c the range of L1's output
 * channel c and r2_c the range of L2's input channel c, s_c =
 * sqrt(r1_c / r2_c) makes both ranges sqrt(r1_c r2_c): every channel then
 * uses the same share of its tensor's range, which is what per-tensor
 * quantization (and, less so, per-channel quantization of L2) needs.
 *
 * Sweeps over all pairs repeat a few times because a middle layer (a
 * depthwise conv between two 1×1 convs) belongs to two pairs.
 *
 * A bounded activation (Clip with a finite max, i.e. ReLU6) is not
 * homogeneous: clip(x/s, 0, 6) ≠ clip(x, 0, 6)/s. AIMET replaces ReLU6 by
 * ReLU before equalizing, which changes the network; minnow keeps the fp32
 * function exact and skips such pairs (counted in skipped_clip).
 *
 * Pairs: Conv (any group) or Gemm as L1; Conv (groups: a depthwise L2
 * scales its own filter c) or Gemm as L2; every weight, and L1's bias, read
 * by that node only (a shared initializer is made private first). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/passes.h"
#include "quant/quant.h"

#define EQ_DEFAULT_ITERS 4
#define EQ_DEFAULT_MAX_SCALE 1e4

/* The elements of one channel: w[(o*J + j)*inner + i] for o in [o0, o1),
 * i in [0, inner). */
typedef struct chan_sel {
    int64_t o0, o1, J, j, inner;
} chan_sel;

typedef struct eq_pair {
    int l1, l2;
    int64_t channels;
} eq_pair;

static double sel_absmax(const mn_tensor *w, const chan_sel *s)
{
    const float *d = w->data;
    double m = 0;
    for (int64_t o = s->o0; o < s->o1; o++) {
        const float *p = d + (o * s->J + s->j) * s->inner;
        for (int64_t i = 0; i < s->inner; i++)
            m = fabs(p[i]) > m ? fabs(p[i]) : m;
    }
    return m;
}

static void sel_scale(mn_tensor *w, const chan_sel *s, float f)
{
    float *d = w->data;
    for (int64_t o = s->o0; o < s->o1; o++) {
        float *p = d + (o * s->J + s->j) * s->inner;
        for (int64_t i = 0; i < s->inner; i++)
            p[i] *= f;
    }
}

static int64_t prod_from(const mn_tensor *w, int k)
{
    int64_t p = 1;
    for (; k < w->ndim; k++)
        p *= w->dims[k];
    return p;
}

/* Output channel c of layer node n with weight w. */
static chan_sel out_sel(const mn_node *n, const mn_tensor *w, int64_t c)
{
    chan_sel s = {c, c + 1, 1, 0, prod_from(w, 1)};
    if (n->op == MN_OP_GEMM && !mn_node_attr_int(n, "transB", 0)) {
        s.o0 = 0, s.o1 = w->dims[0], s.J = w->dims[1], s.j = c, s.inner = 1;
    }
    return s;
}

static int64_t out_channels(const mn_node *n, const mn_tensor *w)
{
    if (n->op == MN_OP_GEMM && !mn_node_attr_int(n, "transB", 0))
        return w->dims[1];
    return w->dims[0];
}

/* Input channel c of layer node n with weight w (Conv: group-aware). */
static chan_sel in_sel(const mn_node *n, const mn_tensor *w, int64_t c)
{
    chan_sel s;
    if (n->op == MN_OP_GEMM) {
        if (mn_node_attr_int(n, "transB", 0)) /* [N, K] */
            s = (chan_sel){0, w->dims[0], w->dims[1], c, 1};
        else /* [K, N] */
            s = (chan_sel){0, 1, w->dims[0], c, w->dims[1]};
        return s;
    }
    int64_t groups = mn_node_attr_int(n, "group", 1);
    int64_t cin_g = w->dims[1], cout_g = w->dims[0] / groups, k = c / cin_g;
    s = (chan_sel){k * cout_g, (k + 1) * cout_g, cin_g, c % cin_g,
                   prod_from(w, 2)};
    return s;
}

static int64_t in_channels(const mn_node *n, const mn_tensor *w)
{
    if (n->op == MN_OP_GEMM)
        return mn_node_attr_int(n, "transB", 0) ? w->dims[1] : w->dims[0];
    return w->dims[1] * mn_node_attr_int(n, "group", 1);
}

static int const_scalar(const mn_graph *g, const mn_node *n, int slot,
                        float *v)
{
    const mn_tensor *t;
    if (slot >= n->n_in || n->in[slot] < 0)
        return 1; /* absent: keep the default */
    t = g->values[n->in[slot]].init;
    if (!t || t->dtype != MN_DT_F32 || mn_tensor_numel(t) != 1)
        return 0;
    *v = *(const float *)t->data;
    return 1;
}

/* 1: f(x/s) = f(x)/s per channel for s > 0; 0: not a channel-wise op;
 * -1: a clipping activation that would be changed (ReLU6). */
static int homogeneous(const mn_graph *g, const mn_node *n)
{
    float lo = -INFINITY, hi = INFINITY;
    switch (n->op) {
    case MN_OP_RELU: case MN_OP_LEAKYRELU: case MN_OP_IDENTITY:
    case MN_OP_AVGPOOL:
        return n->n_out == 1;
    case MN_OP_MAXPOOL: case MN_OP_DROPOUT:
        return n->n_out == 1 || (n->n_out == 2 && n->out[1] < 0);
    case MN_OP_PRELU:
        return n->n_in == 2 && n->in[1] >= 0 && g->values[n->in[1]].init;
    case MN_OP_CLIP:
        if (n->opset < 11) {
            lo = mn_node_attr_float(n, "min", -INFINITY);
            hi = mn_node_attr_float(n, "max", INFINITY);
        } else if (!const_scalar(g, n, 1, &lo) ||
                   !const_scalar(g, n, 2, &hi)) {
            return 0;
        }
        if (lo != 0 && lo != -INFINITY)
            return 0;
        return hi == INFINITY ? 1 : -1;
    default:
        return 0;
    }
}

static int eq_layer(const mn_graph *g, int ni)
{
    mn_qlayer l;
    const mn_node *n = &g->nodes[ni];
    const mn_tensor *w;
    if ((n->op != MN_OP_CONV && n->op != MN_OP_GEMM) || !mn_q_layer(g, ni, &l))
        return 0;
    w = g->values[n->in[1]].init;
    if (n->op == MN_OP_CONV) {
        int64_t groups = mn_node_attr_int(n, "group", 1);
        return groups >= 1 && w->dims[0] % groups == 0 && w->dims[1] >= 1;
    }
    return 1;
}

/* L2 of a pair starting at layer l1 (-1 none); *clip set when a ReLU6-like
 * activation stopped the search. */
static int find_l2(const mn_graph *g, int l1, int *clip)
{
    int v = g->nodes[l1].out[0];
    for (int hops = 0; hops < 8; hops++) {
        int r = mn_q_sole_reader(g, v), h;
        const mn_node *n;
        if (r < 0)
            return -1;
        n = &g->nodes[r];
        if (n->in[0] != v)
            return -1;
        if (eq_layer(g, r))
            return r;
        h = homogeneous(g, n);
        if (h < 0)
            *clip = 1;
        if (h <= 0)
            return -1;
        for (int k = 1; k < n->n_in; k++)
            if (n->in[k] == v)
                return -1;
        v = n->out[0];
    }
    return -1;
}

/* max_c r_c / mean_c r_c over the output channels of layer ni's weight. */
static double spread_of(const mn_graph *g, int ni)
{
    const mn_node *n = &g->nodes[ni];
    const mn_tensor *w = g->values[n->in[1]].init;
    int64_t c = out_channels(n, w);
    double mx = 0, sum = 0;
    for (int64_t k = 0; k < c; k++) {
        chan_sel s = out_sel(n, w, k);
        double r = sel_absmax(w, &s);
        mx = r > mx ? r : mx;
        sum += r;
    }
    return sum > 0 ? mx * (double)c / sum : 1.0;
}

static double mean_spread(const mn_graph *g, const eq_pair *p, int np)
{
    double s = 0;
    for (int k = 0; k < np; k++)
        s += spread_of(g, p[k].l1);
    return np ? s / np : 1.0;
}

static mn_status equalize_pair(mn_graph *g, const eq_pair *p, double maxs,
                               mn_ctx *ctx)
{
    const mn_node *n1 = &g->nodes[p->l1], *n2 = &g->nodes[p->l2];
    mn_tensor *w1, *w2, *b1 = NULL;
    mn_status st;
    if ((st = mn_pass_private_init(g, p->l1, 1, &w1, ctx)) != MN_OK ||
        (st = mn_pass_private_init(g, p->l2, 1, &w2, ctx)) != MN_OK)
        return st;
    if (n1->n_in > 2 && n1->in[2] >= 0 &&
        (st = mn_pass_private_init(g, p->l1, 2, &b1, ctx)) != MN_OK)
        return st;
    for (int64_t c = 0; c < p->channels; c++) {
        chan_sel s1 = out_sel(n1, w1, c), s2 = in_sel(n2, w2, c);
        double r1 = sel_absmax(w1, &s1), r2 = sel_absmax(w2, &s2), s;
        if (!(r1 > 0) || !(r2 > 0) || !isfinite(r1) || !isfinite(r2))
            continue;
        s = sqrt(r1 / r2);
        s = s > maxs ? maxs : s < 1.0 / maxs ? 1.0 / maxs : s;
        sel_scale(w1, &s1, (float)(1.0 / s));
        if (b1)
            ((float *)b1->data)[c] *= (float)(1.0 / s);
        sel_scale(w2, &s2, (float)s);
    }
    return MN_OK;
}

mn_status mn_quant_equalize(mn_graph *g, const mn_equalize_opts *opts,
                            mn_equalize_report *rep, mn_ctx *ctx)
{
    mn_equalize_report local;
    int iters = opts && opts->iterations > 0 ? opts->iterations
                                             : EQ_DEFAULT_ITERS;
    double maxs = opts && opts->max_scale > 1 ? opts->max_scale
                                              : EQ_DEFAULT_MAX_SCALE;
    eq_pair *pairs = NULL;
    int np = 0;
    mn_status st = MN_OK;
    if (!rep)
        rep = &local;
    memset(rep, 0, sizeof *rep);
    if (!g)
        return mn_error(ctx, MN_ERR_ARG, "equalize: no graph");
    pairs = mn_calloc((size_t)g->n_nodes + 1, sizeof *pairs);
    if (!pairs)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    for (int ni = 0; ni < g->n_nodes; ni++) {
        int clip = 0, l2;
        const mn_tensor *w1, *w2;
        if (!eq_layer(g, ni))
            continue;
        if ((l2 = find_l2(g, ni, &clip)) < 0) {
            rep->skipped_clip += clip;
            continue;
        }
        w1 = g->values[g->nodes[ni].in[1]].init;
        w2 = g->values[g->nodes[l2].in[1]].init;
        if (out_channels(&g->nodes[ni], w1) != in_channels(&g->nodes[l2], w2))
            continue;
        pairs[np++] = (eq_pair){ni, l2, out_channels(&g->nodes[ni], w1)};
    }
    rep->pairs = np;
    rep->spread_before = mean_spread(g, pairs, np);
    for (int it = 0; it < iters && st == MN_OK; it++)
        for (int k = 0; k < np && st == MN_OK; k++)
            st = equalize_pair(g, &pairs[k], maxs, ctx);
    rep->spread_after = mean_spread(g, pairs, np);
    free(pairs);
    return st;
}
