/* Dependency groups: how each operator maps channel ids from its inputs to
 * its outputs, which of its constants are sliced with a channel (members),
 * where channels must stay (pins), and which output channels are exactly
 * zero. One rule per operator family; an operator without a rule that
 * reads a tracked value is an unresolved coupling. See groups.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "prune/groups.h"
#include "prune/prune_int.h"

#define TRY(x)                                                       \
    do {                                                             \
        mn_status st_ = (x);                                         \
        if (st_ != MN_OK)                                            \
            return st_;                                              \
    } while (0)

static int tracked(const mn_prune_groups *gr, int v)
{
    return v >= 0 && gr->vlab[v] >= 0;
}

static const mn_tensor *cinit(const mn_graph *g, const mn_node *n, int slot)
{
    int v = slot < n->n_in ? n->in[slot] : -1;
    const mn_tensor *t = v >= 0 ? g->values[v].init : NULL;
    return t && t->data ? t : NULL;
}

static const mn_tensor *finit(const mn_graph *g, const mn_node *n, int slot)
{
    const mn_tensor *t = cinit(g, n, slot);
    return t && t->dtype == MN_DT_F32 ? t : NULL;
}

static int has_input(const mn_node *n, int slot)
{
    return slot < n->n_in && n->in[slot] >= 0;
}

/* Elements of value v at batch 1; 0 when unknown. */
static int64_t numel1(const mn_prune_groups *gr, int v)
{
    const mn_tensor *t = v >= 0 ? &gr->shapes.run[0][v] : NULL;
    return t && t->ndim >= 0 ? mn_tensor_numel(t) : 0;
}

/* z[p] &= (slice p of t along axis is all zero), for the dims[axis] slices;
 * with `any` z[p] |= instead. */
static void slice_zero(const mn_tensor *t, int axis, uint8_t *z, int any)
{
    int64_t inner = pg_inner(t, axis), dim = t->dims[axis];
    int64_t n = mn_tensor_numel(t);
    uint8_t *nz = mn_calloc((size_t)dim + 1, 1);
    if (!nz) { /* out of memory: claim nothing is zero */
        if (!any)
            memset(z, 0, (size_t)dim);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        if (((const float *)t->data)[i] != 0.0f)
            nz[(i / inner) % dim] = 1;
    for (int64_t p = 0; p < dim; p++) {
        if (any)
            z[p] |= !nz[p];
        else
            z[p] &= !nz[p];
    }
    free(nz);
}

static int all_zero(const mn_tensor *t)
{
    for (int64_t i = 0; i < mn_tensor_numel(t); i++)
        if (((const float *)t->data)[i] != 0.0f)
            return 0;
    return 1;
}

static mn_status unresolved(mn_prune_groups *gr, int ni, const char *why)
{
    pg_unresolved(gr, ni, why);
    return MN_OK;
}

/* ------------------------------------------------------- channel-wise ops */

static int zero_preserving(const mn_graph *g, const mn_node *n)
{
    switch (n->op) {
    case MN_OP_RELU: case MN_OP_LEAKYRELU: case MN_OP_TANH: case MN_OP_ERF:
    case MN_OP_GELU: case MN_OP_HARDSWISH: case MN_OP_NEG: case MN_OP_ABS:
    case MN_OP_IDENTITY: case MN_OP_DROPOUT: case MN_OP_CAST:
    case MN_OP_SQRT: case MN_OP_MAXPOOL: case MN_OP_AVGPOOL:
    case MN_OP_GLOBALAVGPOOL:
        return 1;
    case MN_OP_CLIP: {
        const mn_tensor *lo = finit(g, n, 1), *hi = finit(g, n, 2);
        float a = mn_node_attr_float(n, "min", -INFINITY);
        float b = mn_node_attr_float(n, "max", INFINITY);
        if ((has_input(n, 1) && !lo) || (has_input(n, 2) && !hi))
            return 0;
        if (lo && mn_tensor_numel(lo) == 1)
            a = ((const float *)lo->data)[0];
        if (hi && mn_tensor_numel(hi) == 1)
            b = ((const float *)hi->data)[0];
        return a <= 0 && b >= 0;
    }
    default:
        return 0;
    }
}

/* Same channels out as in (activations, pooling, Identity, Cast). */
static mn_status h_channelwise(mn_prune_groups *gr, int ni, mn_ctx *ctx)
{
    const mn_node *n = &gr->g->nodes[ni];
    int x = n->in[0], lab = gr->vlab[x];
    int pool = n->op == MN_OP_MAXPOOL || n->op == MN_OP_AVGPOOL ||
               n->op == MN_OP_GLOBALAVGPOOL;
    if (pool && gr->vaxis[x] != 1)
        return unresolved(gr, ni, "pooling with the channels not on axis 1");
    if (!zero_preserving(gr->g, n)) {
        TRY(pg_copy(gr, lab, &lab, ctx));
        memset(gr->labs[lab].zero, 0, (size_t)gr->labs[lab].n);
    }
    pg_set(gr, n->out[0], lab, gr->vaxis[x]);
    return MN_OK;
}

static mn_status h_batchnorm(mn_prune_groups *gr, int ni, mn_ctx *ctx)
{
    const mn_node *n = &gr->g->nodes[ni];
    int x = n->in[0], lx = gr->vlab[x], lab;
    const mn_tensor *p[4];
    int64_t C = gr->labs[lx].n;
    float eps = mn_node_attr_float(n, "epsilon", 1e-5f);
    if (gr->vaxis[x] != 1)
        return unresolved(gr, ni, "channels not on axis 1");
    for (int k = 0; k < 4; k++)
        if (!(p[k] = finit(gr->g, n, k + 1)) || p[k]->ndim != 1 ||
            p[k]->dims[0] != C)
            return unresolved(gr, ni, "parameters are not constant "
                                      "per-channel tensors");
    static const pg_kind kinds[4] = {PG_BN_GAMMA, PG_BN_BETA, PG_BN_STAT,
                                     PG_BN_STAT};
    for (int k = 0; k < 4; k++)
        TRY(pg_member_add(gr, ni, k + 1, 0, kinds[k], lx, 0, ctx));
    TRY(pg_copy(gr, lx, &lab, ctx));
    for (int64_t c = 0; c < C; c++) {
        double ga = ((const float *)p[0]->data)[c];
        double be = ((const float *)p[1]->data)[c];
        double mu = ((const float *)p[2]->data)[c];
        double var = ((const float *)p[3]->data)[c];
        double y = ga == 0 ? be : be - ga * mu / sqrt(var + eps);
        gr->labs[lab].zero[c] = (ga == 0 || gr->labs[lx].zero[c]) && y == 0;
    }
    pg_set(gr, n->out[0], lab, 1);
    return MN_OK;
}

/* LayerNorm / Softmax over the channel axis: channels cannot be removed. */
static mn_status h_normalize(mn_prune_groups *gr, int ni, mn_ctx *ctx)
{
    const mn_node *n = &gr->g->nodes[ni];
    int x = n->in[0], a = gr->vaxis[x], lab;
    mn_tensor d;
    if (!pg_dims(gr, x, &d))
        return unresolved(gr, ni, "unknown input shape");
    int64_t axis = mn_node_attr_int(
        n, "axis", n->op == MN_OP_LAYERNORM || n->opset >= 13 ? -1 : 1);
    if (axis < 0)
        axis += d.ndim;
    /* LayerNorm normalizes axes >= axis; Softmax before opset 13 too */
    int over = n->op == MN_OP_LAYERNORM || n->opset < 13 ? a >= axis
                                                         : a == axis;
    if (over)
        pg_pin_inputs(gr, ni);
    TRY(pg_copy(gr, gr->vlab[x], &lab, ctx));
    memset(gr->labs[lab].zero, 0, (size_t)gr->labs[lab].n);
    pg_set(gr, n->out[0], lab, a);
    return MN_OK;
}

/* ------------------------------------------------------ channel makers */

static mn_status h_conv(mn_prune_groups *gr, int ni, mn_ctx *ctx)
{
    const mn_node *n = &gr->g->nodes[ni];
    const mn_tensor *w = finit(gr->g, n, 1), *b = NULL;
    int x = n->in[0], xt = tracked(gr, x), y = n->out[0], lo;
    int lx = xt ? gr->vlab[x] : -1;
    if (!w || w->ndim < 3)
        return xt ? unresolved(gr, ni, "weights are not a constant float "
                                       "tensor")
                  : MN_OK;
    int64_t G = mn_node_attr_int(n, "group", 1), Cout = w->dims[0];
    int64_t cpg = w->dims[1], k_elems = mn_tensor_numel(w) / Cout;
    if (has_input(n, 2) &&
        (!(b = finit(gr->g, n, 2)) || mn_tensor_numel(b) != Cout))
        return unresolved(gr, ni, "bias is not a constant per-channel "
                                  "tensor");
    if (xt && (gr->vaxis[x] != 1 || gr->labs[lx].n != cpg * G))
        return unresolved(gr, ni, "input channels do not match the weights");
    if (G < 1 || Cout % G)
        return unresolved(gr, ni, "bad group count");
    int64_t macs = numel1(gr, y) * k_elems;
    if (G == 1) {
        TRY(pg_fresh(gr, Cout, 0, &lo, ctx));
        if (xt)
            TRY(pg_member_add(gr, ni, 1, 1, PG_W_IN, lx, 0, ctx));
        TRY(pg_member_add(gr, ni, 1, 0, PG_W_OUT, lo, 0, ctx));
        memset(gr->labs[lo].zero, 1, (size_t)Cout);
        slice_zero(w, 0, gr->labs[lo].zero, 0);
        TRY(pg_mac_add(gr, ni, macs, lo, lx, ctx));
    } else if (cpg == 1 && xt) {
        /* depthwise (channel multiplier k): output j follows input j/k */
        int64_t k = Cout / G;
        TRY(pg_lab_new(gr, Cout, &lo, ctx));
        for (int64_t j = 0; j < Cout; j++) {
            gr->labs[lo].id[j] = gr->labs[lx].id[j / k];
            gr->labs[lo].zero[j] = gr->labs[lx].zero[j / k];
        }
        slice_zero(w, 0, gr->labs[lo].zero, 1);
        TRY(pg_member_add(gr, ni, 1, 0, PG_W_OUT, lo, 0, ctx));
        TRY(pg_member_add(gr, ni, -1, -1, PG_ATTR_GROUP, lx, 0, ctx));
        TRY(pg_mac_add(gr, ni, macs, lo, -1, ctx));
    } else {
        /* grouped: every group must keep its width; nothing is removed */
        pg_pin_inputs(gr, ni);
        TRY(pg_fresh(gr, Cout, 1, &lo, ctx));
        TRY(pg_mac_add(gr, ni, macs, lo, lx, ctx));
    }
    if (b) {
        TRY(pg_member_add(gr, ni, 2, 0, PG_BIAS, lo, 0, ctx));
        slice_zero(b, 0, gr->labs[lo].zero, 0);
    }
    pg_set(gr, y, lo, 1);
    return MN_OK;
}

static mn_status h_gemm(mn_prune_groups *gr, int ni, mn_ctx *ctx)
{
    const mn_node *n = &gr->g->nodes[ni];
    const mn_tensor *w = finit(gr->g, n, 1), *c = NULL;
    int a = n->in[0], at = tracked(gr, a), lo, la = at ? gr->vlab[a] : -1;
    int tb = mn_node_attr_int(n, "transB", 0) != 0;
    float beta = mn_node_attr_float(n, "beta", 1.0f);
    if (!w || w->ndim != 2)
        return at ? unresolved(gr, ni, "weights are not a constant 2-D "
                                       "float tensor")
                  : MN_OK;
    int64_t K = w->dims[tb ? 1 : 0], N = w->dims[tb ? 0 : 1];
    if (at && (mn_node_attr_int(n, "transA", 0) || gr->vaxis[a] != 1 ||
               gr->labs[la].n != K))
        return unresolved(gr, ni, "input features do not match the weights");
    if (has_input(n, 2) && !(c = finit(gr->g, n, 2)))
        return unresolved(gr, ni, "bias is not constant");
    TRY(pg_fresh(gr, N, 0, &lo, ctx));
    if (at)
        TRY(pg_member_add(gr, ni, 1, tb ? 1 : 0, PG_W_IN, la, 0, ctx));
    TRY(pg_member_add(gr, ni, 1, tb ? 0 : 1, PG_W_OUT, lo, 0, ctx));
    memset(gr->labs[lo].zero, 1, (size_t)N);
    slice_zero(w, tb ? 0 : 1, gr->labs[lo].zero, 0);
    if (c && beta != 0.0f) {
        int64_t cn = mn_tensor_numel(c), last = c->ndim - 1;
        if (cn > 1 && c->ndim <= 2 && c->dims[last] == N) {
            TRY(pg_member_add(gr, ni, 2, (int)last, PG_BIAS, lo, 0, ctx));
            slice_zero(c, (int)last, gr->labs[lo].zero, 0);
        } else if (cn == 1 || (c->ndim == 2 && c->dims[1] == 1)) {
            if (!all_zero(c))
                memset(gr->labs[lo].zero, 0, (size_t)N);
        } else {
            return unresolved(gr, ni, "bias shape not per output feature");
        }
    }
    TRY(pg_mac_add(gr, ni, numel1(gr, n->out[0]) * K, lo, la, ctx));
    pg_set(gr, n->out[0], lo, 1);
    return MN_OK;
}

static mn_status h_matmul(mn_prune_groups *gr, int ni, mn_ctx *ctx)
{
    const mn_node *n = &gr->g->nodes[ni];
    const mn_tensor *w = finit(gr->g, n, 1);
    int a = n->in[0], at = tracked(gr, a), y = n->out[0], lo;
    mn_tensor da, dy;
    if (tracked(gr, n->in[1]))
        return unresolved(gr, ni, "product of two activations");
    if (!w || w->ndim != 2)
        return at ? unresolved(gr, ni, "weights are not a constant 2-D "
                                       "float tensor")
                  : MN_OK;
    if (!pg_dims(gr, a, &da) || !pg_dims(gr, y, &dy) || da.ndim < 2)
        return at ? unresolved(gr, ni, "unknown or 1-D input shape") : MN_OK;
    int64_t K = w->dims[0], N = w->dims[1];
    int64_t macs = numel1(gr, y) * K;
    if (at && gr->vaxis[a] != da.ndim - 1) {
        /* channels on a batch-like axis pass through; the new features on
         * the last axis are not tracked */
        lo = gr->vlab[a];
        TRY(pg_mac_add(gr, ni, macs, lo, -1, ctx));
        pg_set(gr, y, lo, gr->vaxis[a] + dy.ndim - da.ndim);
        return MN_OK;
    }
    if (at && gr->labs[gr->vlab[a]].n != K)
        return unresolved(gr, ni, "input features do not match the weights");
    TRY(pg_fresh(gr, N, 0, &lo, ctx));
    if (at)
        TRY(pg_member_add(gr, ni, 1, 0, PG_W_IN, gr->vlab[a], 0, ctx));
    TRY(pg_member_add(gr, ni, 1, 1, PG_W_OUT, lo, 0, ctx));
    memset(gr->labs[lo].zero, 1, (size_t)N);
    slice_zero(w, 1, gr->labs[lo].zero, 0);
    TRY(pg_mac_add(gr, ni, macs, lo, at ? gr->vlab[a] : -1, ctx));
    pg_set(gr, y, lo, dy.ndim - 1);
    return MN_OK;
}

/* ------------------------------------------------------------ elementwise */

/* Zero flags of operand j at the reference label positions. */
static void operand_zero(const mn_prune_groups *gr, const mn_node *n, int j,
                         int A, int R, int64_t C, uint8_t *z)
{
    int v = n->in[j];
    const mn_tensor *c = finit(gr->g, n, j);
    memset(z, 0, (size_t)C);
    mn_tensor dv;
    if (tracked(gr, v)) {
        const pg_lab *L = &gr->labs[gr->vlab[v]];
        if (!pg_dims(gr, v, &dv) || gr->vaxis[v] + R - dv.ndim != A ||
            (L->n != C && L->n != 1))
            return; /* not aligned with the result's channels */
        for (int64_t p = 0; p < C; p++)
            z[p] = L->zero[L->n == C ? p : 0];
    } else if (c) {
        int ac = A - (R - c->ndim);
        if (ac >= 0 && c->dims[ac] == C && C > 1) {
            memset(z, 1, (size_t)C);
            slice_zero(c, ac, z, 0);
        } else if (all_zero(c)) {
            memset(z, 1, (size_t)C);
        }
    }
}

static mn_status h_elementwise(mn_prune_groups *gr, int ni, mn_ctx *ctx)
{
    const mn_node *n = &gr->g->nodes[ni];
    mn_tensor dy, dv;
    int ref = -1, A = -1, R, lo;
    if (!pg_dims(gr, n->out[0], &dy))
        return unresolved(gr, ni, "unknown output shape");
    R = dy.ndim;
    for (int j = 0; j < n->n_in; j++) {
        int v = n->in[j];
        if (!tracked(gr, v) || !pg_dims(gr, v, &dv))
            continue;
        int aj = gr->vaxis[v] + R - dv.ndim;
        if (dv.dims[gr->vaxis[v]] == dy.dims[aj] && ref < 0) {
            ref = j;
            A = aj;
        }
    }
    if (ref < 0)
        return MN_OK;
    int64_t C = dy.dims[A];
    TRY(pg_copy(gr, gr->vlab[n->in[ref]], &lo, ctx));
    for (int j = 0; j < n->n_in; j++) {
        int v = n->in[j];
        const mn_tensor *c = cinit(gr->g, n, j);
        if (v < 0 || j == ref)
            continue;
        if (c || pg_dims(gr, v, &dv)) {
            const mn_tensor *t = c ? c : &dv;
            int ac = A - (R - t->ndim);
            int64_t dA = ac >= 0 ? t->dims[ac] : 1;
            if (tracked(gr, v) && gr->vaxis[v] == ac && dA == C) {
                for (int64_t p = 0; p < C; p++)
                    pg_union(gr, gr->labs[lo].id[p],
                             gr->labs[gr->vlab[v]].id[p]);
            } else if (dA != 1 && c && c->dtype == MN_DT_F32) {
                TRY(pg_member_add(gr, ni, j, ac,
                                  n->op == MN_OP_PRELU ? PG_SLOPE : PG_AFFINE,
                                  lo, 0, ctx));
            } else if (dA != 1 && tracked(gr, v)) {
                return unresolved(gr, ni, "operands carry channels on "
                                          "different axes");
            } else if (dA != 1) {
                pg_pin_inputs(gr, ni); /* an operand we cannot slice */
                pg_pin_lab(gr, lo);
            }
        } else {
            pg_pin_inputs(gr, ni);
            pg_pin_lab(gr, lo);
        }
    }
    /* exactly-zero channels of the result */
    uint8_t *z = mn_malloc((size_t)C), *acc = gr->labs[lo].zero;
    if (!z)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    int or_rule = n->op == MN_OP_MUL;
    int first_only = n->op == MN_OP_DIV || n->op == MN_OP_PRELU;
    memset(acc, or_rule ? 0 : 1, (size_t)C);
    for (int j = 0; j < (first_only ? 1 : n->n_in); j++) {
        if (n->in[j] < 0)
            continue;
        operand_zero(gr, n, j, A, R, C, z);
        for (int64_t p = 0; p < C; p++)
            acc[p] = or_rule ? (acc[p] | z[p]) : (acc[p] & z[p]);
    }
    if (n->op == MN_OP_POW)
        memset(acc, 0, (size_t)C);
    free(z);
    pg_set(gr, n->out[0], lo, A);
    return MN_OK;
}

static mn_status h_concat(mn_prune_groups *gr, int ni, mn_ctx *ctx)
{
    const mn_node *n = &gr->g->nodes[ni];
    mn_tensor dy, dv;
    int lo, on_axis = 0, off_axis = 0, first = -1;
    if (!pg_dims(gr, n->out[0], &dy))
        return unresolved(gr, ni, "unknown output shape");
    int64_t k = mn_node_attr_int(n, "axis", 0);
    if (k < 0)
        k += dy.ndim;
    for (int j = 0; j < n->n_in; j++)
        if (tracked(gr, n->in[j])) {
            on_axis += gr->vaxis[n->in[j]] == k;
            off_axis += gr->vaxis[n->in[j]] != k;
            if (first < 0)
                first = n->in[j];
        }
    if (on_axis && off_axis)
        return unresolved(gr, ni, "inputs carry channels on different axes");
    if (on_axis) { /* channel concatenation: label arrays side by side */
        int64_t off = 0;
        TRY(pg_lab_new(gr, dy.dims[k], &lo, ctx));
        for (int j = 0; j < n->n_in; j++) {
            int v = n->in[j], src;
            if (v < 0 || !pg_dims(gr, v, &dv) || off + dv.dims[k] > dy.dims[k])
                return unresolved(gr, ni, "unknown input shape");
            if (tracked(gr, v))
                src = gr->vlab[v];
            else /* a constant or unknown piece: its own pinned channels */
                TRY(pg_fresh(gr, dv.dims[k], 1, &src, ctx));
            memcpy(gr->labs[lo].id + off, gr->labs[src].id,
                   (size_t)dv.dims[k] * sizeof(int64_t));
            memcpy(gr->labs[lo].zero + off, gr->labs[src].zero,
                   (size_t)dv.dims[k]);
            off += dv.dims[k];
        }
        pg_set(gr, n->out[0], lo, (int)k);
        return MN_OK;
    }
    /* concatenation along another axis joins the channels like Add */
    int A = gr->vaxis[first];
    TRY(pg_copy(gr, gr->vlab[first], &lo, ctx));
    for (int j = 0; j < n->n_in; j++) {
        int v = n->in[j];
        if (v < 0 || v == first)
            continue;
        if (tracked(gr, v) && gr->vaxis[v] == A &&
            gr->labs[gr->vlab[v]].n == gr->labs[lo].n) {
            const pg_lab *L = &gr->labs[gr->vlab[v]];
            for (int64_t p = 0; p < L->n; p++) {
                pg_union(gr, gr->labs[lo].id[p], L->id[p]);
                gr->labs[lo].zero[p] &= L->zero[p];
            }
        } else {
            pg_pin_inputs(gr, ni);
            memset(gr->labs[lo].zero, 0, (size_t)gr->labs[lo].n);
        }
    }
    pg_set(gr, n->out[0], lo, A);
    return MN_OK;
}

/* ------------------------------------------------------------- reshaping */

typedef struct symprod {
    int64_t known;
    int sym; /* symbolic (-1) dims in the range */
} symprod;

static symprod prod_range(const mn_tensor *t, int from, int to)
{
    symprod s = {1, 0};
    for (int k = from; k < to; k++) {
        if (t->dims[k] < 0)
            s.sym++;
        else
            s.known *= t->dims[k];
    }
    return s;
}

static int same(symprod a, symprod b)
{
    return a.known == b.known && a.sym == b.sym;
}

/* Where does channel axis a of D go in E? Axes [f, g) of D (containing a,
 * fully known) become axis *b of E; *inner = elements after the channel
 * within that range. */
static int reshape_map(const mn_tensor *D, int a, const mn_tensor *E, int *b,
                       int64_t *inner, int *f_out, int *g_out)
{
    for (int f = a; f >= 0; f--)
        for (int g = a + 1; g <= D->ndim; g++) {
            symprod pre = prod_range(D, 0, f), mid = prod_range(D, f, g);
            symprod post = prod_range(D, g, D->ndim);
            if (mid.sym)
                continue;
            for (int bb = 0; bb < E->ndim; bb++)
                if (E->dims[bb] == mid.known &&
                    same(prod_range(E, 0, bb), pre) &&
                    same(prod_range(E, bb + 1, E->ndim), post)) {
                    *b = bb;
                    *inner = prod_range(D, a + 1, g).known;
                    *f_out = f;
                    *g_out = g;
                    return 1;
                }
        }
    return 0;
}

/* Flatten, Reshape, Squeeze, Unsqueeze. */
static mn_status h_reshape(mn_prune_groups *gr, int ni, mn_ctx *ctx)
{
    const mn_node *n = &gr->g->nodes[ni];
    int x = n->in[0], a = gr->vaxis[x], lx = gr->vlab[x], b, f, g, lo;
    int64_t inner;
    mn_tensor D, E;
    if (!pg_dims(gr, x, &D) || !pg_dims(gr, n->out[0], &E))
        return unresolved(gr, ni, "unknown shapes");
    if (!reshape_map(&D, a, &E, &b, &inner, &f, &g)) {
        if (gr->labs[lx].n == 1) { /* a single channel is never removed */
            pg_pin_inputs(gr, ni);
            return MN_OK;
        }
        return unresolved(gr, ni, "the channel axis is folded into an axis "
                                  "of unknown size or split");
    }
    int64_t C = gr->labs[lx].n, L = E.dims[b];
    if (L == C && inner == 1) {
        lo = lx;
    } else {
        TRY(pg_lab_new(gr, L, &lo, ctx));
        for (int64_t p = 0; p < L; p++) {
            gr->labs[lo].id[p] = gr->labs[lx].id[(p / inner) % C];
            gr->labs[lo].zero[p] = gr->labs[lx].zero[(p / inner) % C];
        }
    }
    if (n->op == MN_OP_RESHAPE) {
        const mn_tensor *s = cinit(gr->g, n, 1);
        if (!s || s->dtype != MN_DT_I64 || mn_tensor_numel(s) != E.ndim)
            return unresolved(gr, ni, "the target shape is not constant");
        int64_t e = ((const int64_t *)s->data)[b];
        if (e == 0 && !(b == a && f == a && g == a + 1))
            return unresolved(gr, ni, "the target shape copies (0) a "
                                      "dimension that would change");
        if (e > 0)
            TRY(pg_member_add(gr, ni, 1, 0, PG_SHAPE, lo, b, ctx));
    }
    pg_set(gr, n->out[0], lo, b);
    return MN_OK;
}

static mn_status h_transpose(mn_prune_groups *gr, int ni, mn_ctx *ctx)
{
    const mn_node *n = &gr->g->nodes[ni];
    const int64_t *perm;
    int x = n->in[0], a = gr->vaxis[x];
    mn_tensor D;
    (void)ctx;
    if (!pg_dims(gr, x, &D))
        return unresolved(gr, ni, "unknown input shape");
    int np = mn_node_attr_ints(n, "perm", &perm), b = -1;
    for (int k = 0; k < D.ndim; k++)
        if ((np ? perm[k] : D.ndim - 1 - k) == a)
            b = k;
    if (b < 0 || (np && np != D.ndim))
        return unresolved(gr, ni, "bad permutation");
    pg_set(gr, n->out[0], gr->vlab[x], b);
    return MN_OK;
}

/* Reads an int64 list from attribute `name` or constant input `slot`:
 * count, or -1 when given but not constant. */
static int int_list(const mn_graph *g, const mn_node *n, const char *name,
                    int slot, int64_t *out, int max)
{
    const int64_t *v;
    int k = mn_node_attr_ints(n, name, &v);
    if (k) {
        if (k > max)
            return -1;
        memcpy(out, v, (size_t)k * sizeof *v);
        return k;
    }
    if (!has_input(n, slot))
        return 0;
    const mn_tensor *t = cinit(g, n, slot);
    if (!t || t->dtype != MN_DT_I64 || mn_tensor_numel(t) > max)
        return -1;
    memcpy(out, t->data, (size_t)mn_tensor_numel(t) * sizeof *out);
    return (int)mn_tensor_numel(t);
}

/* Pad, Slice, Split, Gather, Reduce*, Expand: the channel axis passes
 * through unless the op works along it (then channels are pinned). */
static mn_status h_axiswise(mn_prune_groups *gr, int ni, mn_ctx *ctx)
{
    const mn_node *n = &gr->g->nodes[ni];
    int x = n->in[0], a = gr->vaxis[x], lx = gr->vlab[x], b = a, along = 0;
    int64_t v[2 * MN_MAX_DIMS], C = gr->labs[lx].n;
    mn_tensor D, E;
    int k;
    (void)ctx;
    if (!pg_dims(gr, x, &D) || !pg_dims(gr, n->out[0], &E))
        return unresolved(gr, ni, "unknown shapes");
    switch (n->op) {
    case MN_OP_PAD:
        if ((k = int_list(gr->g, n, "pads", 1, v, 2 * MN_MAX_DIMS)) < 0 ||
            k != 2 * D.ndim)
            return unresolved(gr, ni, "pads are not constant");
        along = v[a] != 0 || v[a + D.ndim] != 0;
        break;
    case MN_OP_SLICE:
    case MN_OP_SPLIT:
    case MN_OP_GATHER:
    case MN_OP_EXPAND:
        /* the output keeps the channel axis intact when it has the same
         * extent at the same position from the end */
        b = a + E.ndim - D.ndim;
        if (n->op == MN_OP_GATHER) {
            int64_t ax = mn_node_attr_int(n, "axis", 0);
            mn_tensor di;
            if (ax < 0)
                ax += D.ndim;
            if (!pg_dims(gr, n->in[1], &di) || tracked(gr, n->in[1]))
                return unresolved(gr, ni, "unknown indices");
            along = ax == a;
            b = a < ax ? a : a + di.ndim - 1;
        } else if (n->op == MN_OP_EXPAND) {
            along = E.dims[b] != C;
            const mn_tensor *s = cinit(gr->g, n, 1);
            if (!along && C > 1 && s && s->dtype == MN_DT_I64) {
                int64_t sb = b - (E.ndim - mn_tensor_numel(s));
                if (sb >= 0 && ((const int64_t *)s->data)[sb] == C)
                    along = 1; /* the shape names the channel count */
            }
        } else {
            along = b < 0 || b >= E.ndim || E.dims[b] != C;
        }
        if (n->op == MN_OP_SLICE && !along) {
            /* a full-extent slice may still reverse or shift: pin unless
             * the channel axis is not sliced at all */
            int64_t ax[MN_MAX_DIMS];
            int na = int_list(gr->g, n, "axes", 3, ax, MN_MAX_DIMS);
            if (na < 0)
                return unresolved(gr, ni, "axes are not constant");
            if (na == 0)
                along = 1; /* every axis from 0 is sliced */
            for (int j = 0; j < na; j++)
                along |= (ax[j] < 0 ? ax[j] + D.ndim : ax[j]) == a;
        }
        break;
    default: { /* reductions */
        int64_t keep = mn_node_attr_int(n, "keepdims", 1);
        int64_t noop = mn_node_attr_int(n, "noop_with_empty_axes", 0);
        if ((k = int_list(gr->g, n, "axes", 1, v, MN_MAX_DIMS)) < 0)
            return unresolved(gr, ni, "axes are not constant");
        along = k == 0 && !noop;
        for (int j = 0; j < k; j++) {
            int64_t ax = v[j] < 0 ? v[j] + D.ndim : v[j];
            along |= ax == a;
            b -= !keep && ax < a;
        }
        break;
    }
    }
    if (along) {
        pg_pin_inputs(gr, ni);
        return MN_OK;
    }
    int lo = lx;
    if (n->op == MN_OP_PAD) { /* padding with non-zeros: not zero any more */
        const mn_tensor *pv = finit(gr->g, n, 2);
        float fill = mn_node_attr_float(n, "value", 0.0f);
        if (pv && mn_tensor_numel(pv) == 1)
            fill = ((const float *)pv->data)[0];
        if (has_input(n, 2) && !pv)
            fill = NAN;
        if (!(fill == 0.0f) ||
            strcmp(mn_node_attr_string(n, "mode", "constant"), "constant")) {
            TRY(pg_copy(gr, lx, &lo, ctx));
            memset(gr->labs[lo].zero, 0, (size_t)C);
        }
    }
    for (int j = 0; j < n->n_out; j++)
        if (j == 0 || n->op == MN_OP_SPLIT)
            pg_set(gr, n->out[j], lo, b);
    return MN_OK;
}

/* ------------------------------------------------------------- dispatch */

mn_status pg_walk_node(mn_prune_groups *gr, int ni, mn_ctx *ctx)
{
    const mn_node *n = &gr->g->nodes[ni];
    int any = 0;
    for (int j = 0; j < n->n_in; j++)
        any |= tracked(gr, n->in[j]);
    if (n->n_out < 1 || n->out[0] < 0)
        return MN_OK;
    switch (n->op) {
    case MN_OP_CONV:
        return h_conv(gr, ni, ctx);
    case MN_OP_GEMM:
        return h_gemm(gr, ni, ctx);
    case MN_OP_MATMUL:
        return h_matmul(gr, ni, ctx);
    case MN_OP_CONSTANT:
    case MN_OP_CONSTANTOFSHAPE:
    case MN_OP_SHAPE:
        return MN_OK;
    default:
        break;
    }
    if (!any)
        return MN_OK;
    if (!tracked(gr, n->in[0]) && n->op != MN_OP_ADD && n->op != MN_OP_SUB &&
        n->op != MN_OP_MUL && n->op != MN_OP_DIV && n->op != MN_OP_MAX &&
        n->op != MN_OP_MIN && n->op != MN_OP_POW && n->op != MN_OP_CONCAT)
        return unresolved(gr, ni, "channels enter through a secondary input");
    switch (n->op) {
    case MN_OP_RELU: case MN_OP_LEAKYRELU: case MN_OP_CLIP:
    case MN_OP_SIGMOID: case MN_OP_HARDSIGMOID: case MN_OP_HARDSWISH:
    case MN_OP_TANH: case MN_OP_ERF: case MN_OP_GELU: case MN_OP_SQRT:
    case MN_OP_EXP: case MN_OP_LOG: case MN_OP_NEG: case MN_OP_ABS:
    case MN_OP_RECIPROCAL: case MN_OP_IDENTITY: case MN_OP_DROPOUT:
    case MN_OP_CAST: case MN_OP_MAXPOOL: case MN_OP_AVGPOOL:
    case MN_OP_GLOBALAVGPOOL:
        return h_channelwise(gr, ni, ctx);
    case MN_OP_BATCHNORM:
        return h_batchnorm(gr, ni, ctx);
    case MN_OP_LAYERNORM:
    case MN_OP_SOFTMAX:
    case MN_OP_LOGSOFTMAX:
        return h_normalize(gr, ni, ctx);
    case MN_OP_ADD: case MN_OP_SUB: case MN_OP_MUL: case MN_OP_DIV:
    case MN_OP_POW: case MN_OP_MAX: case MN_OP_MIN: case MN_OP_PRELU:
        return h_elementwise(gr, ni, ctx);
    case MN_OP_CONCAT:
        return h_concat(gr, ni, ctx);
    case MN_OP_FLATTEN: case MN_OP_RESHAPE: case MN_OP_SQUEEZE:
    case MN_OP_UNSQUEEZE:
        return h_reshape(gr, ni, ctx);
    case MN_OP_TRANSPOSE:
        return h_transpose(gr, ni, ctx);
    case MN_OP_PAD: case MN_OP_SLICE: case MN_OP_SPLIT: case MN_OP_GATHER:
    case MN_OP_EXPAND: case MN_OP_REDUCEMEAN: case MN_OP_REDUCESUM:
    case MN_OP_REDUCEMAX:
        return h_axiswise(gr, ni, ctx);
    case MN_OP_QUANTIZELINEAR: case MN_OP_DEQUANTIZELINEAR:
    case MN_OP_DYNAMICQUANTIZELINEAR: case MN_OP_QLINEARCONV:
    case MN_OP_QLINEARMATMUL: case MN_OP_CONVINTEGER:
    case MN_OP_MATMULINTEGER:
        return unresolved(gr, ni, "quantized operators are not pruned "
                                  "(prune the float model, then quantize)");
    default:
        return unresolved(gr, ni, "operator unknown to channel pruning");
    }
}
