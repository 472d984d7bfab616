/* BatchNorm folding: an inference BatchNormalization y = s*(x - mean) + beta
 * with s = gamma/sqrt(var + eps), whose input x comes from a layer with
 * constant weights that nobody else reads, is folded into that layer:
 *   Conv (any group count; output channel = W dim 0): W[m] *= s[m],
 *        bias[m] = s[m]*b[m] + beta[m] - s[m]*mean[m] (a bias is added if
 *        the Conv had none);
 *   Gemm: the columns of B' (rows of B when transB=1) scaled, C rewritten
 *        (beta folded in);
 *   MatMul(A, W)+Add(bias): W's columns scaled, bias rewritten;
 *   MatMul(A, W) alone: W's columns scaled and the BN becomes Add(bias).
 * The layer then writes the BN's output value, so output names survive. A BN
 * that cannot be folded stays as it is. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/passes.h"
#include "ops/ops.h"

typedef struct bn_fold {
    mn_graph *g;
    mn_shapes shapes;
    int shapes_state; /* 0: not computed, 1: ok, -1: unavailable */
} bn_fold;

static const mn_tensor *f32_const(const mn_graph *g, int v)
{
    const mn_tensor *t = v >= 0 ? g->values[v].init : NULL;
    return t && t->dtype == MN_DT_F32 ? t : NULL;
}

/* Value v is read by exactly one node and is not a graph output. */
static int single_use(const mn_graph *g, int v)
{
    return v >= 0 && !g->values[v].is_output && !g->values[v].init &&
           mn_graph_use_count(g, v) == 1;
}

/* Rank of value v (from shape propagation when the graph does not say). */
static mn_status rank_of(bn_fold *f, int v, int *rank, mn_ctx *ctx)
{
    mn_tensor t;
    *rank = f->g->values[v].ndim;
    mn_status st = mn_shapes_lazy(f->g, &f->shapes, &f->shapes_state, ctx);
    if (st != MN_OK)
        return st;
    if (f->shapes_state == 1 && mn_shapes_get(&f->shapes, v, &t))
        *rank = t.ndim;
    return MN_OK;
}

/* Sets input slot of node ni to v, growing the input list if needed. */
static mn_status set_input(mn_graph *g, int ni, int slot, int v, mn_ctx *ctx)
{
    mn_node *n = &g->nodes[ni];
    if (slot >= n->n_in) {
        int *in = mn_realloc(n->in, (size_t)(slot + 1) * sizeof *in);
        if (!in)
            return mn_error(ctx, MN_ERR_OOM, "out of memory");
        for (int j = n->n_in; j <= slot; j++)
            in[j] = -1;
        n->in = in;
        n->n_in = slot + 1;
    }
    n->in[slot] = v;
    return MN_OK;
}

/* New [rows x C] (rows 0: 1-D [C]) initializer named base, values
 * s[c]*k*src(r, c) + t[c]; src may be NULL (zero), broadcast over a single
 * element or per channel. */
static mn_status new_bias(mn_graph *g, const char *base, int64_t rows,
                          int64_t C, const double *s, const double *t,
                          const mn_tensor *src, double k, int *idx,
                          mn_ctx *ctx)
{
    mn_tensor *b;
    int64_t dims[2] = {rows ? rows : C, C};
    mn_status st = mn_tensor_create(MN_DT_F32, rows ? 2 : 1, dims, &b, ctx);
    if (st != MN_OK)
        return st;
    int64_t nsrc = src ? mn_tensor_numel(src) : 0;
    float *d = b->data;
    for (int64_t r = 0; r < (rows ? rows : 1); r++)
        for (int64_t c = 0; c < C; c++) {
            double x = 0;
            if (nsrc == 1)
                x = ((const float *)src->data)[0];
            else if (nsrc)
                x = ((const float *)src->data)[nsrc == C ? c : r * C + c];
            d[r * C + c] = (float)(s[c] * k * x + t[c]);
        }
    return mn_pass_add_init(g, base, b, idx, ctx);
}

static const char *base_name(const mn_graph *g, int ni, const char *fallback)
{
    const mn_node *n = &g->nodes[ni];
    return n->name[0] ? n->name : fallback;
}

/* Conv(X, W[, B]) → BN. Returns *ok = 1 when folded. */
static mn_status fold_conv(mn_graph *g, int p, int64_t C, const double *s,
                           const double *t, int *ok, mn_ctx *ctx)
{
    const mn_node *n = &g->nodes[p];
    const mn_tensor *w = n->n_in >= 2 ? f32_const(g, n->in[1]) : NULL;
    int has_b = n->n_in >= 3 && n->in[2] >= 0, idx;
    const mn_tensor *b = has_b ? f32_const(g, n->in[2]) : NULL;
    mn_tensor *wm, *bm;
    mn_status st;
    char name[300];
    *ok = 0;
    if (!w || w->ndim < 3 || w->dims[0] != C || (has_b && !b) ||
        (b && mn_tensor_numel(b) != C))
        return MN_OK;
    if ((st = mn_pass_private_init(g, p, 1, &wm, ctx)) != MN_OK)
        return st;
    int64_t inner = C ? mn_tensor_numel(wm) / C : 0;
    float *wd = wm->data;
    for (int64_t c = 0; c < C; c++)
        for (int64_t k = 0; k < inner; k++)
            wd[c * inner + k] = (float)(wd[c * inner + k] * s[c]);
    if (has_b) {
        if ((st = mn_pass_private_init(g, p, 2, &bm, ctx)) != MN_OK)
            return st;
        float *bd = bm->data;
        for (int64_t c = 0; c < C; c++)
            bd[c] = (float)(bd[c] * s[c] + t[c]);
    } else {
        snprintf(name, sizeof name, "%s_bias",
                 base_name(g, p, g->values[n->in[1]].name));
        if ((st = new_bias(g, name, 0, C, s, t, NULL, 0, &idx, ctx)) != MN_OK ||
            (st = set_input(g, p, 2, idx, ctx)) != MN_OK)
            return st;
    }
    *ok = 1;
    return MN_OK;
}

/* Scales column c of the constant [K x C] matrix (rows_are_channels: row c
 * of [C x K]) in node ni's input slot by s[c]. */
static mn_status scale_matrix(mn_graph *g, int ni, int slot,
                              int rows_are_channels, const double *s,
                              mn_ctx *ctx)
{
    mn_tensor *m;
    mn_status st = mn_pass_private_init(g, ni, slot, &m, ctx);
    if (st != MN_OK)
        return st;
    float *d = m->data;
    int64_t R = m->dims[0], K = m->dims[1];
    for (int64_t r = 0; r < R; r++)
        for (int64_t k = 0; k < K; k++)
            d[r * K + k] = (float)(d[r * K + k] * s[rows_are_channels ? r : k]);
    return MN_OK;
}

/* Gemm(A, B[, C]) → BN. */
static mn_status fold_gemm(mn_graph *g, int p, int64_t C, const double *s,
                           const double *t, int *ok, mn_ctx *ctx)
{
    const mn_node *n = &g->nodes[p];
    const mn_tensor *b = n->n_in >= 2 ? f32_const(g, n->in[1]) : NULL;
    int trans_b = (int)mn_node_attr_int(n, "transB", 0);
    int has_c = n->n_in >= 3 && n->in[2] >= 0, idx;
    const mn_tensor *c = has_c ? f32_const(g, n->in[2]) : NULL;
    double beta = mn_node_attr_float(n, "beta", 1.0f);
    int64_t rows = 0;
    mn_status st;
    char name[300];
    *ok = 0;
    if (!b || b->ndim != 2 || b->dims[trans_b ? 0 : 1] != C || (has_c && !c))
        return MN_OK;
    if (c) {
        int64_t nc = mn_tensor_numel(c);
        int vec = nc == 1 ||
                  (nc == C && c->ndim >= 1 && c->dims[c->ndim - 1] == C &&
                   c->ndim <= 2);
        if (!vec && !(c->ndim == 2 && c->dims[1] == C))
            return MN_OK;
        rows = vec ? 0 : c->dims[0];
    }
    if ((st = scale_matrix(g, p, 1, trans_b, s, ctx)) != MN_OK)
        return st;
    snprintf(name, sizeof name, "%s_bias",
             base_name(g, p, g->values[g->nodes[p].in[1]].name));
    if ((st = new_bias(g, name, rows, C, s, t, c, beta, &idx, ctx)) != MN_OK ||
        (st = set_input(g, p, 2, idx, ctx)) != MN_OK)
        return st;
    for (int a = 0; a < g->nodes[p].n_attrs; a++)
        if (!strcmp(g->nodes[p].attrs[a].name, "beta")) {
            g->nodes[p].attrs[a].type = MN_ATTR_FLOAT;
            g->nodes[p].attrs[a].f = 1.0f;
        }
    *ok = 1;
    return MN_OK;
}

/* MatMul(A, W) with constant [K x C] W whose output is used once. */
static int matmul_weight_ok(const mn_graph *g, int mm, int64_t C)
{
    const mn_node *n = &g->nodes[mm];
    const mn_tensor *w = n->n_in == 2 ? f32_const(g, n->in[1]) : NULL;
    return n->op == MN_OP_MATMUL && w && w->ndim == 2 && w->dims[1] == C &&
           n->in[0] >= 0 && !g->values[n->in[0]].init;
}

/* Add(MatMul(A, W), bias) → BN, with rank-2 activations. */
static mn_status fold_matmul_add(mn_graph *g, int p, int64_t C,
                                 const double *s, const double *t, int *ok,
                                 mn_ctx *ctx)
{
    const mn_node *n = &g->nodes[p];
    int mm = -1, bslot = -1, idx;
    const mn_tensor *b;
    mn_status st;
    char name[300];
    *ok = 0;
    if (n->n_in != 2)
        return MN_OK;
    for (int k = 0; k < 2; k++) {
        int v = n->in[k], pr = v >= 0 ? g->values[v].producer : -1;
        if (pr >= 0 && single_use(g, v) && matmul_weight_ok(g, pr, C)) {
            mm = pr;
            bslot = 1 - k;
        }
    }
    if (mm < 0 || !(b = f32_const(g, n->in[bslot])))
        return MN_OK;
    int64_t nb = mn_tensor_numel(b);
    if (!(nb == 1 || (nb == C && b->ndim <= 2 && b->dims[b->ndim - 1] == C)))
        return MN_OK;
    if ((st = scale_matrix(g, mm, 1, 0, s, ctx)) != MN_OK)
        return st;
    snprintf(name, sizeof name, "%s_bias", base_name(g, p, "matmul"));
    if ((st = new_bias(g, name, 0, C, s, t, b, 1.0, &idx, ctx)) != MN_OK)
        return st;
    g->nodes[p].in[bslot] = idx;
    *ok = 1;
    return MN_OK;
}

/* MatMul(A, W) → BN: the BN node itself becomes Add(x, bias). */
static mn_status bn_to_add(mn_graph *g, int bn, int mm, int64_t C,
                           const double *s, const double *t, mn_ctx *ctx)
{
    mn_node *n;
    int idx;
    char name[300];
    char *op = mn_strdup("Add");
    mn_status st;
    if (!op)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    if ((st = scale_matrix(g, mm, 1, 0, s, ctx)) != MN_OK)
        goto fail;
    snprintf(name, sizeof name, "%s_bias", base_name(g, bn, "bn"));
    if ((st = new_bias(g, name, 0, C, s, t, NULL, 0, &idx, ctx)) != MN_OK)
        goto fail;
    n = &g->nodes[bn];
    n->in[1] = idx;
    n->n_in = 2;
    n->n_out = 1;
    free(n->op_type);
    n->op_type = op;
    n->op = MN_OP_ADD;
    for (int a = 0; a < n->n_attrs; a++)
        mn_attr_clear(&n->attrs[a]);
    free(n->attrs);
    n->attrs = NULL;
    n->n_attrs = 0;
    mn_graph_relink(g);
    return MN_OK;
fail:
    free(op);
    return st;
}

/* Per-channel s and t = beta - s*mean of BN node n: 1, or 0 when it cannot
 * be folded, -1 when out of memory. */
static int bn_params(const mn_graph *g, const mn_node *n, int64_t *C,
                     double **s, double **t)
{
    const mn_tensor *p[4];
    float eps = mn_node_attr_float(n, "epsilon", 1e-5f);
    *s = *t = NULL;
    /* spatial=0 (opset < 9) normalizes per activation, not per channel */
    if (n->n_in != 5 || mn_node_attr_int(n, "training_mode", 0) != 0 ||
        mn_node_attr_int(n, "spatial", 1) != 1)
        return 0;
    for (int k = 0; k < 4; k++)
        if (!(p[k] = f32_const(g, n->in[k + 1])) || p[k]->ndim != 1)
            return 0;
    *C = p[0]->dims[0];
    for (int k = 1; k < 4; k++)
        if (p[k]->dims[0] != *C)
            return 0;
    for (int j = 1; j < n->n_out; j++) /* training statistics outputs */
        if (n->out[j] >= 0 && mn_graph_use_count(g, n->out[j]) > 0)
            return 0;
    *s = mn_malloc((size_t)(*C + 1) * sizeof **s);
    *t = mn_malloc((size_t)(*C + 1) * sizeof **t);
    if (!*s || !*t)
        return -1;
    for (int64_t c = 0; c < *C; c++) {
        double gamma = ((const float *)p[0]->data)[c];
        double beta = ((const float *)p[1]->data)[c];
        double mean = ((const float *)p[2]->data)[c];
        double var = ((const float *)p[3]->data)[c];
        if (!(var + eps > 0))
            return 0;
        (*s)[c] = gamma / sqrt(var + (double)eps);
        (*t)[c] = beta - (*s)[c] * mean;
    }
    return 1;
}

static mn_status fold_one(bn_fold *f, int bi, int *done, mn_ctx *ctx)
{
    mn_graph *g = f->g;
    const mn_node *n = &g->nodes[bi];
    int x = n->in[0], p, ok = 0, rank, r;
    int64_t C = 0;
    double *s = NULL, *t = NULL;
    mn_status st = MN_OK;
    *done = 0;
    if (n->n_in != 5 || n->n_out < 1 || n->out[0] < 0 || !single_use(g, x) ||
        (p = g->values[x].producer) < 0)
        return MN_OK;
    if ((r = bn_params(g, n, &C, &s, &t)) <= 0) {
        if (r < 0)
            st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        goto out;
    }
    switch (g->nodes[p].op) {
    case MN_OP_CONV:
        st = fold_conv(g, p, C, s, t, &ok, ctx);
        break;
    case MN_OP_GEMM:
        st = fold_gemm(g, p, C, s, t, &ok, ctx);
        break;
    case MN_OP_ADD:
    case MN_OP_MATMUL:
        if ((st = rank_of(f, x, &rank, ctx)) != MN_OK || rank != 2)
            break;
        if (g->nodes[p].op == MN_OP_ADD) {
            st = fold_matmul_add(g, p, C, s, t, &ok, ctx);
        } else if (matmul_weight_ok(g, p, C)) {
            if ((st = bn_to_add(g, bi, p, C, s, t, ctx)) == MN_OK)
                *done = 1;
            goto out;
        }
        break;
    default:
        break;
    }
    if (st == MN_OK && ok) {
        mn_pass_absorb(g, bi, 0);
        *done = 1;
    }
out:
    free(s);
    free(t);
    return st;
}

mn_status mn_pass_bn_fold(mn_graph *g, int *changed, mn_ctx *ctx)
{
    bn_fold f = {.g = g};
    mn_status st = MN_OK;
    for (int i = 0; i < g->n_nodes;) {
        int done = 0;
        if (g->nodes[i].op == MN_OP_BATCHNORM) {
            char lb[300];
            if ((st = fold_one(&f, i, &done, ctx)) != MN_OK) {
                st = mn_error_prefix(ctx, st, "%s",
                                     mn_node_label(g, i, lb, sizeof lb));
                break;
            }
        }
        /* when done, node i is the next node (absorbed BN) or the Add the
         * BN became: look at it again */
        if (done)
            (*changed)++;
        else
            i++;
    }
    mn_shapes_free(&f.shapes);
    return st;
}
