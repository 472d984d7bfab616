/* Lowering of QDQ patterns to integer operators, so that minnow's runtime
 * (and ONNX Runtime) evaluate a quantized model with the integer kernels:
 *
 *  DQ(x) ─┐
 *  DQ(w) ─┼─ Conv ── Q      →  QLinearConv(x, w, bias int32)
 *  DQ(b) ─┘
 *  DQ(x), DQ(w) [, DQ(b)] ─ Gemm ── Q
 *  DQ(x), DQ(w) ─ MatMul [─ Add(DQ(b))] ── Q
 *                           →  Reshape(x → [N, K, 1, 1]) → QLinearConv 1×1
 *                              (with the bias, which QLinearMatMul lacks)
 *                              → Reshape back
 *  DQ(x) ─ MaxPool/Reshape/Flatten/Transpose/Squeeze/Unsqueeze/Identity ─ Q
 *        with the same parameters  →  the op on the quantized tensor
 *  Q(DQ(x)) with the same parameters  →  x
 *
 * Add, Mul, GlobalAveragePool, Concat and activations: lower_elementwise.c.
 * Everything else stays DQ → float op → Q; mn_quant_count_ops reports
 * those. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "quant/lower.h"
#include "quant/quant.h"

typedef mn_qparam qparam;

static const mn_tensor *cinit(const mn_graph *g, int v)
{
    return v >= 0 ? g->values[v].init : NULL;
}

/* v is the output of a DequantizeLinear with constant parameters. */
int mn_ql_dq_of(const mn_graph *g, int v, qparam *p)
{
    int n = v >= 0 ? g->values[v].producer : -1;
    const mn_node *d;
    if (n < 0)
        return 0;
    d = &g->nodes[n];
    if (d->op != MN_OP_DEQUANTIZELINEAR || d->n_in < 2 || !cinit(g, d->in[1]))
        return 0;
    if (d->n_in > 2 && d->in[2] >= 0 && !cinit(g, d->in[2]))
        return 0;
    p->q = d->in[0];
    p->scale = d->in[1];
    p->zp = d->n_in > 2 ? d->in[2] : -1;
    p->node = n;
    return 1;
}

/* The only reader of v is a QuantizeLinear with constant scalar params. */
int mn_ql_q_after(const mn_graph *g, int v, qparam *p)
{
    int r = mn_q_sole_reader(g, v);
    const mn_node *q;
    if (r < 0)
        return 0;
    q = &g->nodes[r];
    if (q->op != MN_OP_QUANTIZELINEAR || q->n_in < 3 || q->in[0] != v ||
        !cinit(g, q->in[1]) || !cinit(g, q->in[2]) ||
        mn_tensor_numel(cinit(g, q->in[1])) != 1)
        return 0;
    p->q = q->out[0];
    p->scale = q->in[1];
    p->zp = q->in[2];
    p->node = r;
    return 1;
}

static int is_q8(mn_dtype t) { return t == MN_DT_U8 || t == MN_DT_I8; }

mn_dtype mn_ql_qtype(const mn_graph *g, const qparam *p)
{
    if (p->zp >= 0 && cinit(g, p->zp))
        return cinit(g, p->zp)->dtype;
    return g->values[p->q].init ? g->values[p->q].init->dtype
                                : g->values[p->q].dtype;
}

/* Same per-tensor parameters (values, not just the same initializers). */
static int same_params(const mn_graph *g, const qparam *a, const qparam *b)
{
    const mn_tensor *sa = cinit(g, a->scale), *sb = cinit(g, b->scale);
    const mn_tensor *za = cinit(g, a->zp), *zb = cinit(g, b->zp);
    if (!sa || !sb || mn_tensor_numel(sa) != 1 || mn_tensor_numel(sb) != 1 ||
        *(const float *)sa->data != *(const float *)sb->data)
        return 0;
    if (mn_ql_qtype(g, a) != mn_ql_qtype(g, b))
        return 0;
    return (za ? mn_tensor_get_i64(za, 0) : 0) ==
           (zb ? mn_tensor_get_i64(zb, 0) : 0);
}

/* A scalar activation parameter pair: scale F32 with one value, zero point
 * absent or one 8-bit value. */
int mn_ql_scalar_act(const mn_graph *g, const qparam *p)
{
    const mn_tensor *s = cinit(g, p->scale), *z = cinit(g, p->zp);
    return s && s->dtype == MN_DT_F32 && mn_tensor_numel(s) == 1 &&
           (!z || (is_q8(z->dtype) && mn_tensor_numel(z) == 1)) &&
           is_q8(mn_ql_qtype(g, p));
}

mn_status mn_ql_zero_point(mn_graph *g, const qparam *p, int *out,
                           mn_ctx *ctx)
{
    if (p->zp >= 0) {
        *out = p->zp;
        return MN_OK;
    }
    return mn_q_add_const(g, "zero_point", mn_ql_qtype(g, p), 0, NULL, NULL,
                          out, ctx);
}

/* Weight DQ: 8-bit constant with scales per tensor or per channel along
 * `axis` of size m. */
static int weight_ok(const mn_graph *g, const qparam *w, int axis, int64_t m)
{
    const mn_tensor *q = cinit(g, w->q), *s = cinit(g, w->scale);
    const mn_tensor *z = cinit(g, w->zp);
    int64_t ns;
    int ax;
    if (!q || !s || !is_q8(q->dtype) || s->dtype != MN_DT_F32)
        return 0;
    ns = mn_tensor_numel(s);
    if (z && (z->dtype != q->dtype || mn_tensor_numel(z) != ns))
        return 0;
    if (ns == 1)
        return 1;
    ax = (int)mn_node_attr_int(&g->nodes[w->node], "axis", 1);
    if (ax < 0)
        ax += q->ndim;
    return ax == axis && ns == m;
}

/* The int32 bias for a QLinearConv with per-channel scale xs·ws[c]:
 * reuses the quantized bias when its scale already matches, otherwise
 * requantizes it. b is either a DQ output or a float constant. */
static mn_status conv_bias(mn_graph *g, int b, float xs, const mn_tensor *ws,
                           int64_t m, int *out, mn_ctx *ctx)
{
    qparam p;
    const mn_tensor *bf = cinit(g, b), *bq = NULL, *bs = NULL;
    int32_t *v = mn_malloc((size_t)m * sizeof *v);
    int64_t d[1] = {m};
    int same = 1;
    char name[300];
    mn_status st;
    if (!v)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    if (!bf && mn_ql_dq_of(g, b, &p)) {
        bq = cinit(g, p.q);
        bs = cinit(g, p.scale);
        if (!bq || bq->dtype != MN_DT_I32 || !bs || (p.zp >= 0 &&
            (!cinit(g, p.zp) || mn_tensor_get_i64(cinit(g, p.zp), 0) != 0))) {
            free(v);
            return MN_ERR_UNSUPPORTED;
        }
    }
    if ((!bf && !bq) || (bf && bf->dtype != MN_DT_F32) ||
        mn_tensor_numel(bf ? bf : bq) != m) {
        free(v);
        return MN_ERR_UNSUPPORTED;
    }
    for (int64_t c = 0; c < m; c++) {
        float want = xs * ((const float *)ws->data)[mn_tensor_numel(ws) > 1
                                                        ? c
                                                        : 0];
        double val;
        if (bq) {
            float have = ((const float *)bs->data)[mn_tensor_numel(bs) > 1
                                                       ? c
                                                       : 0];
            int32_t q = ((const int32_t *)bq->data)[c];
            if (have == want) {
                v[c] = q;
                continue;
            }
            same = 0;
            val = (double)q * (double)have;
        } else {
            val = ((const float *)bf->data)[c];
        }
        val = rint(val / (double)want);
        v[c] = !(val == val)         ? 0
               : val > 2147483647.0  ? INT32_MAX
               : val < -2147483648.0 ? INT32_MIN
                                     : (int32_t)val;
    }
    if (bq && same && bq->ndim == 1) {
        *out = p.q; /* already what QLinearConv needs */
        free(v);
        return MN_OK;
    }
    snprintf(name, sizeof name, "%s_int32", g->values[b].name);
    st = mn_q_add_const(g, name, MN_DT_I32, 1, d, v, out, ctx);
    free(v);
    return st;
}

/* Weight of a Gemm/MatMul as a QLinearConv weight [m, k, 1, 1]: the
 * quantized matrix is [m, k] (trans) or [k, m]. */
static mn_status weight_1x1(mn_graph *g, int wv, int trans, int *out,
                            mn_ctx *ctx)
{
    const mn_tensor *w = g->values[wv].init;
    char name[300];
    int64_t m = trans ? w->dims[0] : w->dims[1];
    int64_t k = trans ? w->dims[1] : w->dims[0];
    int64_t d[4] = {m, k, 1, 1};
    mn_tensor *t;
    mn_status st = mn_tensor_create(w->dtype, 4, d, &t, ctx);
    if (st != MN_OK)
        return st;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < k; j++)
            ((uint8_t *)t->data)[i * k + j] =
                ((const uint8_t *)w->data)[trans ? i * k + j : j * m + i];
    snprintf(name, sizeof name, "%s_1x1", g->values[wv].name);
    return mn_pass_add_init(g, name, t, out, ctx);
}

static mn_status shape_const(mn_graph *g, const int64_t *v, int n, int *out,
                             mn_ctx *ctx)
{
    int64_t d[1] = {n};
    return mn_q_add_const(g, "shape", MN_DT_I64, 1, d, v, out, ctx);
}

typedef mn_lower lower;

/* A weight zero point that is all zeros (or absent) becomes one shared
 * scalar zero: QLinearConv takes per-tensor zero points. */
static mn_status weight_zero(lower *L, const qparam *w, int *out, mn_ctx *ctx)
{
    const mn_tensor *q = cinit(L->g, w->q), *z = cinit(L->g, w->zp);
    int *cache = q->dtype == MN_DT_I8 ? &L->zero_i8 : &L->zero_u8;
    for (int64_t i = 0; z && i < mn_tensor_numel(z); i++)
        if (mn_tensor_get_i64(z, i) != 0) {
            *out = w->zp;
            return MN_OK;
        }
    if (*cache < 0) {
        mn_status st = mn_q_add_const(L->g, "weight_zero_point", q->dtype, 0,
                                      NULL, NULL, cache, ctx);
        if (st != MN_OK)
            return st;
    }
    *out = *cache;
    return MN_OK;
}

/* QLinearConv from (x, w, bias) → y; returns its node index. */
static mn_status add_qconv(lower *L, const char *name, const qparam *x,
                           const qparam *w, int wv, int bias, const qparam *y,
                           int in_v, int out_v, int *node, mn_ctx *ctx)
{
    mn_graph *g = L->g;
    int in[9], xz, wz, yz;
    mn_status st;
    if ((st = mn_ql_zero_point(g, x, &xz, ctx)) != MN_OK ||
        (st = mn_ql_zero_point(g, y, &yz, ctx)) != MN_OK ||
        (st = weight_zero(L, w, &wz, ctx)) != MN_OK)
        return st;
    in[0] = in_v, in[1] = x->scale, in[2] = xz;
    in[3] = wv, in[4] = w->scale, in[5] = wz;
    in[6] = y->scale, in[7] = yz, in[8] = bias;
    return mn_q_add_node(g, name, "QLinearConv", in, bias >= 0 ? 9 : 8,
                         &out_v, 1, node, ctx);
}

/* Gives node ni the name of the float node it replaces. */
mn_status mn_ql_rename_node(mn_graph *g, int ni, const char *name,
                            mn_ctx *ctx)
{
    char *s = mn_strdup(name);
    if (!s)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    free(g->nodes[ni].name);
    g->nodes[ni].name = s;
    return MN_OK;
}

/* Removes nodes a and b (any order; b may be -1). */
static void remove2(mn_graph *g, int a, int b)
{
    if (b > a) {
        mn_graph_remove_node(g, b);
        mn_graph_remove_node(g, a);
    } else {
        mn_graph_remove_node(g, a);
        if (b >= 0)
            mn_graph_remove_node(g, b);
    }
}

static mn_status lower_conv(lower *L, int ni, int *done, mn_ctx *ctx)
{
    mn_graph *g = L->g;
    const mn_node *n = &g->nodes[ni];
    qparam x, w, y;
    const mn_tensor *wq;
    int bias = -1, node;
    char name[300];
    mn_status st;
    if (n->n_in < 2 || !mn_ql_dq_of(g, n->in[0], &x) ||
        !mn_ql_dq_of(g, n->in[1], &w) || !mn_ql_q_after(g, n->out[0], &y) ||
        !mn_ql_scalar_act(g, &x) || !mn_ql_scalar_act(g, &y))
        return MN_OK;
    wq = cinit(g, w.q);
    if (!wq || wq->ndim < 3 || !weight_ok(g, &w, 0, wq->dims[0]))
        return MN_OK;
    if (n->n_in > 2 && n->in[2] >= 0) {
        st = conv_bias(g, n->in[2], *(const float *)cinit(g, x.scale)->data,
                       cinit(g, w.scale), wq->dims[0], &bias, ctx);
        if (st == MN_ERR_UNSUPPORTED)
            return MN_OK;
        if (st != MN_OK)
            return st;
        n = &g->nodes[ni];
    }
    snprintf(name, sizeof name, "%s", n->name[0] ? n->name : "conv");
    if ((st = add_qconv(L, name, &x, &w, w.q, bias, &y, x.q, y.q, &node,
                        ctx)) != MN_OK ||
        (st = mn_q_copy_attrs(&g->nodes[node], &g->nodes[ni], ctx)) !=
            MN_OK)
        return st;
    remove2(g, ni, y.node);
    *done = 1;
    return mn_ql_rename_node(g, g->n_nodes - 1, name, ctx);
}

/* Gemm or MatMul [+ Add bias] as a 1×1 QLinearConv between reshapes. */
static mn_status lower_linear(lower *L, int ni, int *done, mn_ctx *ctx)
{
    mn_graph *g = L->g;
    const mn_node *n = &g->nodes[ni];
    int gemm = n->op == MN_OP_GEMM, trans = 0, add = -1, bias = -1;
    int wv, sh_in, sh_out, x4, y4, node, nd = 0, rank;
    qparam x, w, y;
    const mn_tensor *wq;
    int64_t m, k, back[MN_MAX_DIMS];
    mn_tensor xs;
    char name[300];
    mn_status st;
    if (n->n_in < 2 || !mn_ql_dq_of(g, n->in[0], &x) ||
        !mn_ql_dq_of(g, n->in[1], &w) || !mn_ql_scalar_act(g, &x))
        return MN_OK;
    wq = cinit(g, w.q);
    if (!wq || wq->ndim != 2)
        return MN_OK;
    if (gemm) {
        if (mn_node_attr_int(n, "transA", 0) ||
            mn_node_attr_float(n, "alpha", 1) != 1 ||
            mn_node_attr_float(n, "beta", 1) != 1)
            return MN_OK;
        trans = mn_node_attr_int(n, "transB", 0) != 0;
        if (n->n_in > 2 && n->in[2] >= 0)
            bias = n->in[2];
    } else {
        int r = mn_q_sole_reader(g, n->out[0]);
        if (r >= 0 && g->nodes[r].op == MN_OP_ADD && g->nodes[r].n_in == 2) {
            int o = g->nodes[r].in[0] == n->out[0] ? g->nodes[r].in[1]
                                                   : g->nodes[r].in[0];
            qparam bp;
            if (cinit(g, o) || mn_ql_dq_of(g, o, &bp)) {
                add = r;
                bias = o;
            }
        }
    }
    if (!mn_ql_q_after(g, add >= 0 ? g->nodes[add].out[0] : n->out[0], &y) ||
        !mn_ql_scalar_act(g, &y))
        return MN_OK;
    m = trans ? wq->dims[0] : wq->dims[1];
    k = trans ? wq->dims[1] : wq->dims[0];
    if (!weight_ok(g, &w, trans ? 0 : 1, m))
        return MN_OK;
    /* the input's shape: rank and the dims between batch and K */
    if (L->shapes_state != 1 || !mn_shapes_get(&L->shapes, n->in[0], &xs) ||
        xs.ndim < 2 || xs.dims[xs.ndim - 1] != k || (gemm && xs.ndim != 2))
        return MN_OK;
    rank = xs.ndim;
    back[nd++] = -1;
    for (int d = 1; d < rank - 1; d++) {
        if (xs.dims[d] < 0)
            return MN_OK;
        back[nd++] = xs.dims[d];
    }
    back[nd++] = m;
    if (bias >= 0) {
        st = conv_bias(g, bias, *(const float *)cinit(g, x.scale)->data,
                       cinit(g, w.scale), m, &bias, ctx);
        if (st == MN_ERR_UNSUPPORTED)
            return MN_OK;
        if (st != MN_OK)
            return st;
    }
    {
        int64_t fwd[4] = {-1, k, 1, 1};
        int in[2];
        if ((st = weight_1x1(g, w.q, trans, &wv, ctx)) != MN_OK ||
            (st = shape_const(g, fwd, 4, &sh_in, ctx)) != MN_OK ||
            (st = shape_const(g, back, nd, &sh_out, ctx)) != MN_OK)
            return st;
        n = &g->nodes[ni];
        snprintf(name, sizeof name, "%s", n->name[0] ? n->name : "linear");
        if ((st = mn_q_add_value(g, "x_1x1", mn_ql_qtype(g, &x), -1, &x4,
                                 ctx)) != MN_OK ||
            (st = mn_q_add_value(g, "y_1x1", mn_ql_qtype(g, &y), -1, &y4,
                                 ctx)) != MN_OK)
            return st;
        in[0] = x.q, in[1] = sh_in;
        if ((st = mn_q_add_node(g, "reshape_to_1x1", "Reshape", in, 2, &x4, 1,
                                NULL, ctx)) != MN_OK ||
            (st = add_qconv(L, name, &x, &w, wv, bias, &y, x4, y4, &node,
                            ctx)) != MN_OK)
            return st;
        in[0] = y4, in[1] = sh_out;
        if ((st = mn_q_add_node(g, "reshape_from_1x1", "Reshape", in, 2, &y.q,
                                1, NULL, ctx)) != MN_OK)
            return st;
    }
    /* remove the float layer, its bias Add and the Q (highest index first) */
    {
        int rm[3] = {ni, add, y.node};
        for (int a = 0; a < 3; a++)
            for (int b = a + 1; b < 3; b++)
                if (rm[b] > rm[a]) {
                    int t = rm[a];
                    rm[a] = rm[b];
                    rm[b] = t;
                }
        for (int a = 0; a < 3; a++)
            if (rm[a] >= 0)
                mn_graph_remove_node(g, rm[a]);
    }
    *done = 1;
    return mn_ql_rename_node(g, g->n_nodes - 2, name, ctx);
}

static void lower_pass(mn_graph *g, int ni, int *done)
{
    mn_node *n = &g->nodes[ni];
    qparam x, y;
    if (!mn_ql_dq_of(g, n->in[0], &x) || !mn_ql_q_after(g, n->out[0], &y) ||
        !same_params(g, &x, &y) || !is_q8(mn_ql_qtype(g, &x)))
        return; /* MaxPool has no 16-bit form (ONNX nor minnow) */
    n->in[0] = x.q;
    n->out[0] = y.q;
    mn_graph_remove_node(g, y.node);
    *done = 1;
}

/* Q(DQ(x)) with equal parameters is x. */
static void lower_requant(mn_graph *g, int ni, int *done)
{
    const mn_node *n = &g->nodes[ni];
    qparam x, y;
    if (n->op != MN_OP_QUANTIZELINEAR || !mn_ql_dq_of(g, n->in[0], &x) ||
        !mn_ql_q_after(g, n->in[0], &y) || y.node != ni ||
        !same_params(g, &x, &y) || g->values[y.q].is_output)
        return;
    mn_graph_replace_uses(g, y.q, x.q);
    mn_graph_remove_node(g, ni);
    *done = 1;
}

mn_status mn_quant_lower(mn_graph *g, int *lowered, mn_ctx *ctx)
{
    lower L = {.g = g, .zero_i8 = -1, .zero_u8 = -1};
    int count = 0, progress = 1;
    mn_status st;
    /* shapes of the graph as it is now (value indices stay valid while
     * nodes are replaced; new values have none) */
    if ((st = mn_shapes_lazy(g, &L.shapes, &L.shapes_state, ctx)) != MN_OK)
        return st;
    while (progress) {
        progress = 0;
        for (int ni = 0; ni < g->n_nodes && !progress; ni++) {
            const mn_node *n = &g->nodes[ni];
            if (n->op == MN_OP_CONV)
                st = lower_conv(&L, ni, &progress, ctx);
            else if (n->op == MN_OP_GEMM || n->op == MN_OP_MATMUL)
                st = lower_linear(&L, ni, &progress, ctx);
            else if (mn_q_is_pass_op(n) && n->n_in >= 1)
                lower_pass(g, ni, &progress);
            else if ((st = mn_ql_lower_elementwise(&L, ni, &progress,
                                                   ctx)) == MN_OK &&
                     !progress)
                lower_requant(g, ni, &progress);
            if (st != MN_OK)
                goto out;
        }
        count += progress;
    }
    mn_graph_relink(g);
    if ((st = mn_graph_toposort(g, ctx)) != MN_OK)
        goto out;
    st = mn_graph_prune_dead(g, ctx);
out:
    mn_shapes_free(&L.shapes);
    if (lowered)
        *lowered = count;
    return st;
}

/* ---- counting ---- */

static int is_qdq_op(mn_opcode op)
{
    return op == MN_OP_QUANTIZELINEAR || op == MN_OP_DEQUANTIZELINEAR ||
           op == MN_OP_DYNAMICQUANTIZELINEAR;
}

static int is_int_kernel(mn_opcode op) { return mn_ql_is_int_op(op); }

/* A lookup table's Cast(8-bit → int32) or Gather of an integer index. */
static int reads_int(const mn_node *n, const char *intv)
{
    int j = n->op == MN_OP_GATHER ? 1 : 0;
    if (n->op == MN_OP_CAST && mn_node_attr_int(n, "to", 0) != MN_DT_I32)
        return 0;
    if (n->op != MN_OP_CAST && n->op != MN_OP_GATHER)
        return 0;
    return j < n->n_in && n->in[j] >= 0 && intv[n->in[j]];
}

void mn_quant_count_ops(const mn_graph *g, mn_quant_report *rep)
{
    int nv = g->n_values;
    char *fwd = calloc((size_t)nv + 1, 1), *bwd = calloc((size_t)nv + 1, 1);
    char *intv = calloc((size_t)nv + 1, 1);
    rep->float_ops = rep->integer_ops = rep->n_float_kinds = 0;
    if (!fwd || !bwd || !intv)
        goto out;
    /* float values derived from a DequantizeLinear; integer values */
    for (int i = 0; i < g->n_nodes; i++) {
        const mn_node *n = &g->nodes[i];
        int any = 0, in_int = n->n_in > 0 && n->in[0] >= 0 && intv[n->in[0]];
        if (n->op == MN_OP_DEQUANTIZELINEAR) {
            fwd[n->out[0]] = 1;
            continue;
        }
        if (n->op == MN_OP_QUANTIZELINEAR || is_int_kernel(n->op) ||
            (in_int && mn_q_is_pass_op(n)) || reads_int(n, intv)) {
            if (n->out[0] >= 0)
                intv[n->out[0]] = 1;
            if (!is_qdq_op(n->op))
                rep->integer_ops++;
            continue;
        }
        if (n->op == MN_OP_DYNAMICQUANTIZELINEAR)
            continue;
        for (int j = 0; j < n->n_in; j++)
            any |= n->in[j] >= 0 && fwd[n->in[j]];
        for (int j = 0; any && j < n->n_out; j++)
            if (n->out[j] >= 0)
                fwd[n->out[j]] = 1;
    }
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        const mn_node *n = &g->nodes[i];
        int any = n->op == MN_OP_QUANTIZELINEAR;
        for (int j = 0; !any && j < n->n_out; j++)
            any = n->out[j] >= 0 && bwd[n->out[j]];
        if (!any || n->op == MN_OP_DEQUANTIZELINEAR)
            continue;
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0 && !g->values[n->in[j]].init)
                bwd[n->in[j]] = 1;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const mn_node *n = &g->nodes[i];
        int f = 0, b = 0, k;
        if (is_qdq_op(n->op) || is_int_kernel(n->op))
            continue;
        for (int j = 0; j < n->n_in; j++)
            f |= n->in[j] >= 0 && fwd[n->in[j]] &&
                 !g->values[n->in[j]].init;
        for (int j = 0; j < n->n_out; j++)
            b |= n->out[j] >= 0 && bwd[n->out[j]];
        if (!f || !b)
            continue;
        rep->float_ops++;
        for (k = 0; k < rep->n_float_kinds; k++)
            if (!strcmp(rep->float_kinds[k].op, n->op_type))
                break;
        if (k == rep->n_float_kinds) {
            if (k == MN_QUANT_MAX_OP_KINDS)
                continue;
            snprintf(rep->float_kinds[k].op, sizeof rep->float_kinds[k].op,
                     "%s", n->op_type);
            rep->n_float_kinds++;
        }
        rep->float_kinds[k].count++;
    }
out:
    free(fwd);
    free(bwd);
    free(intv);
}
