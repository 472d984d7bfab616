/* Lowering of the QDQ patterns around elementwise, pooling and
 * concatenation ops to integer ops, so that nothing between the input's
 * QuantizeLinear and the output's DequantizeLinear computes in float:
 *
 *  DQ(a), DQ(b) ─ Add ─ Q         →  QLinearAdd      (com.microsoft)
 *  DQ(a), DQ(b) ─ Mul ─ Q         →  QLinearMul      (com.microsoft)
 *  DQ(x) ─ GlobalAveragePool ─ Q  →  QLinearGlobalAveragePool
 *  DQ(x)… ─ Concat ─ Q            →  QLinearConcat
 *  DQ(x) ─ Sigmoid ─ Q            →  QLinearSigmoid
 *  DQ(x) ─ LeakyRelu ─ Q          →  QLinearLeakyRelu
 *  DQ(x) ─ f ─ Q, f one of HardSigmoid, HardSwish, Tanh, Relu, Clip,
 *        Gelu, Erf, and x · Sigmoid(x) (SiLU), x · HardSigmoid(x)
 *                                 →  Cast(x → int32) ─ Gather(table)
 *
 * The table holds y for each of the 256 input codes, computed in float:
 * saturate(round_half_even(f(sx·(q - zx)) / sy) + zy); int8 codes index it
 * as negative Gather indices (the table is in two's-complement byte order),
 * so Cast + Gather is plain ONNX that ONNX Runtime runs as well.
 * A Relu or Clip after an Add needs no rule: quantization puts the Add's
 * QuantizeLinear on the clipped range (qdq.c), saturation clips.
 *
 * A rule applies only when ONNX Runtime accepts the parameters
 * (QLinearAdd: input/output scale ratios in [2^-14, 256);
 * QLinearGlobalAveragePool: sx / (sy·HW) in [2^-32, 256)); otherwise the
 * op stays float between DQ and Q and is counted. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/pattern.h"
#include "quant/lower.h"
#include "quant/quant.h"

#define MS_DOMAIN "com.microsoft"

static float fscale(const mn_graph *g, const mn_qparam *p)
{
    return *(const float *)g->values[p->scale].init->data;
}

static int32_t izp(const mn_graph *g, const mn_qparam *p)
{
    const mn_tensor *z = p->zp >= 0 ? g->values[p->zp].init : NULL;
    return z ? (int32_t)mn_tensor_get_i64(z, 0) : 0;
}

/* An 8-bit activation parameter pair of type dt. */
static int act_ok(const mn_graph *g, const mn_qparam *p, mn_dtype dt)
{
    return mn_ql_scalar_act(g, p) && mn_ql_qtype(g, p) == dt &&
           fscale(g, p) > 0.0f && isfinite(fscale(g, p));
}

/* Adds a com.microsoft node (or an ai.onnx one when ms is 0). */
static mn_status add_node(mn_graph *g, const char *base, const char *op,
                          int ms, const int *in, int n_in, int out, int *ni,
                          mn_ctx *ctx)
{
    mn_status st = mn_q_add_node(g, base, op, in, n_in, &out, 1, ni, ctx);
    mn_node *n;
    if (st != MN_OK || !ms)
        return st;
    n = &g->nodes[*ni];
    free(n->domain);
    n->domain = mn_strdup(MS_DOMAIN);
    if (!n->domain)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    n->opset = 1;
    n->op = mn_op_lookup(MS_DOMAIN, op);
    return MN_OK;
}

/* Removes nodes rm[0..n) (any order, -1 skipped), highest index first. */
static void remove_nodes(mn_graph *g, int *rm, int n)
{
    for (int a = 0; a < n; a++)
        for (int b = a + 1; b < n; b++)
            if (rm[b] > rm[a]) {
                int t = rm[a];
                rm[a] = rm[b];
                rm[b] = t;
            }
    for (int a = 0; a < n; a++)
        if (rm[a] >= 0 && (a == 0 || rm[a] != rm[a - 1]))
            mn_graph_remove_node(g, rm[a]);
}

/* The new node `node` replaces float node ni (and Q node y, and the
 * optional extra node): same name, attributes copied when asked. */
static mn_status finish(mn_graph *g, int ni, int extra, int qnode, int node,
                        int attrs, int *done, mn_ctx *ctx)
{
    char name[300];
    int rm[3] = {ni, extra, qnode};
    mn_status st;
    snprintf(name, sizeof name, "%s",
             g->nodes[ni].name[0] ? g->nodes[ni].name : g->nodes[ni].op_type);
    if (attrs &&
        (st = mn_q_copy_attrs(&g->nodes[node], &g->nodes[ni], ctx)) != MN_OK)
        return st;
    remove_nodes(g, rm, 3);
    *done = 1;
    /* removing lower indices shifted the new node down */
    node -= (ni < node) + (extra >= 0 && extra < node) + (qnode < node);
    return mn_ql_rename_node(g, node, name, ctx);
}

/* ---- QLinearAdd / QLinearMul ---- */

static int ratio_ok(float r) { return r >= 0x1.0p-14f && r < 256.0f; }

static mn_status lower_binary(mn_lower *L, int ni, int *done, mn_ctx *ctx)
{
    mn_graph *g = L->g;
    const mn_node *n = &g->nodes[ni];
    int add = n->op == MN_OP_ADD, in[8], node;
    mn_qparam a, b, y;
    mn_dtype dt;
    mn_status st;
    if (n->n_in != 2 || !mn_ql_dq_of(g, n->in[0], &a) ||
        !mn_ql_dq_of(g, n->in[1], &b) || !mn_ql_q_after(g, n->out[0], &y))
        return MN_OK;
    dt = mn_ql_qtype(g, &y);
    if (!act_ok(g, &a, dt) || !act_ok(g, &b, dt) || !act_ok(g, &y, dt))
        return MN_OK;
    if (add && (!ratio_ok(fscale(g, &a) / fscale(g, &y)) ||
                !ratio_ok(fscale(g, &b) / fscale(g, &y))))
        return MN_OK;
    in[0] = a.q, in[1] = a.scale, in[3] = b.q, in[4] = b.scale;
    in[6] = y.scale;
    if ((st = mn_ql_zero_point(g, &a, &in[2], ctx)) != MN_OK ||
        (st = mn_ql_zero_point(g, &b, &in[5], ctx)) != MN_OK ||
        (st = mn_ql_zero_point(g, &y, &in[7], ctx)) != MN_OK ||
        (st = add_node(g, "qlinear", add ? "QLinearAdd" : "QLinearMul", 1,
                       in, 8, y.q, &node, ctx)) != MN_OK)
        return st;
    return finish(g, ni, -1, y.node, node, 0, done, ctx);
}

/* ---- QLinearGlobalAveragePool ---- */

static mn_status lower_gap(mn_lower *L, int ni, int *done, mn_ctx *ctx)
{
    mn_graph *g = L->g;
    const mn_node *n = &g->nodes[ni];
    mn_qparam x, y;
    mn_dtype dt;
    mn_tensor xs;
    int64_t hw = 1;
    float s;
    int in[5], node;
    mn_status st;
    if (!mn_ql_dq_of(g, n->in[0], &x) || !mn_ql_q_after(g, n->out[0], &y))
        return MN_OK;
    dt = mn_ql_qtype(g, &y);
    if (!act_ok(g, &x, dt) || !act_ok(g, &y, dt) || L->shapes_state != 1 ||
        !mn_shapes_get(&L->shapes, n->in[0], &xs) || xs.ndim < 3)
        return MN_OK;
    for (int i = 2; i < xs.ndim; i++) {
        if (xs.dims[i] <= 0)
            return MN_OK;
        hw *= xs.dims[i];
    }
    if (hw >= (1 << 23))
        return MN_OK;
    s = fscale(g, &x) / (fscale(g, &y) * (float)hw);
    if (!(s >= 0x1.0p-32f && s < 256.0f))
        return MN_OK;
    in[0] = x.q, in[1] = x.scale, in[3] = y.scale;
    if ((st = mn_ql_zero_point(g, &x, &in[2], ctx)) != MN_OK ||
        (st = mn_ql_zero_point(g, &y, &in[4], ctx)) != MN_OK ||
        (st = add_node(g, "qlinear_gap", "QLinearGlobalAveragePool", 1, in,
                       5, y.q, &node, ctx)) != MN_OK)
        return st;
    return finish(g, ni, -1, y.node, node, 0, done, ctx);
}

/* ---- QLinearConcat ---- */

static mn_status lower_concat(mn_lower *L, int ni, int *done, mn_ctx *ctx)
{
    mn_graph *g = L->g;
    const mn_node *n = &g->nodes[ni];
    int k = n->n_in, *in, node;
    mn_qparam y, x;
    mn_dtype dt;
    mn_status st;
    if (k < 1 || k > 64 || !mn_ql_q_after(g, n->out[0], &y))
        return MN_OK;
    dt = mn_ql_qtype(g, &y);
    if (!act_ok(g, &y, dt))
        return MN_OK;
    for (int i = 0; i < k; i++)
        if (!mn_ql_dq_of(g, n->in[i], &x) || !act_ok(g, &x, dt))
            return MN_OK;
    in = mn_malloc((size_t)(2 + 3 * k) * sizeof *in);
    if (!in)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    in[0] = y.scale;
    st = mn_ql_zero_point(g, &y, &in[1], ctx);
    for (int i = 0; i < k && st == MN_OK; i++) {
        mn_ql_dq_of(g, g->nodes[ni].in[i], &x);
        in[2 + 3 * i] = x.q;
        in[3 + 3 * i] = x.scale;
        st = mn_ql_zero_point(g, &x, &in[4 + 3 * i], ctx);
    }
    if (st == MN_OK)
        st = add_node(g, "qlinear_concat", "QLinearConcat", 1, in, 2 + 3 * k,
                      y.q, &node, ctx);
    free(in);
    if (st != MN_OK)
        return st;
    return finish(g, ni, -1, y.node, node, 1, done, ctx);
}

/* ---- activations: QLinearSigmoid, QLinearLeakyRelu, lookup tables ---- */

typedef enum fkind {
    F_NONE, F_SIGMOID, F_LEAKY, F_HARDSIGMOID, F_HARDSWISH, F_TANH, F_RELU,
    F_CLIP, F_GELU, F_GELU_TANH, F_ERF, F_SILU, F_XHARDSIGMOID
} fkind;

typedef struct fdesc {
    fkind k;
    float a, b; /* alpha/beta, Clip bounds */
} fdesc;

static float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

static float hsig(float x, float a, float b)
{
    float v = a * x + b;
    return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
}

static float apply(const fdesc *f, float x)
{
    switch (f->k) {
    case F_SIGMOID: return sigmoidf(x);
    case F_LEAKY: return x >= 0.0f ? x : x * f->a;
    case F_HARDSIGMOID: return hsig(x, f->a, f->b);
    case F_HARDSWISH: return x * hsig(x, 1.0f / 6.0f, 0.5f);
    case F_TANH: return tanhf(x);
    case F_RELU: return x > 0.0f ? x : 0.0f;
    case F_CLIP: return x < f->a ? f->a : x > f->b ? f->b : x;
    case F_GELU: return 0.5f * x * (1.0f + erff(x * 0.70710678f));
    case F_GELU_TANH:
        return 0.5f * x *
               (1.0f + tanhf(0.7978845608f * (x + 0.044715f * x * x * x)));
    case F_ERF: return erff(x);
    case F_SILU: return x * sigmoidf(x);
    case F_XHARDSIGMOID: return x * hsig(x, f->a, f->b);
    default: return x;
    }
}

/* Constant scalar float input slot k of n, or def when absent. */
static int const_in(const mn_graph *g, const mn_node *n, int k, float def,
                    float *out)
{
    const mn_tensor *t;
    *out = def;
    if (k >= n->n_in || n->in[k] < 0)
        return 1;
    t = g->values[n->in[k]].init;
    if (!t || t->dtype != MN_DT_F32 || mn_tensor_numel(t) != 1)
        return 0;
    *out = *(const float *)t->data;
    return 1;
}

/* The unary function node n computes, F_NONE when it has none. */
static fdesc unary_of(const mn_graph *g, const mn_node *n)
{
    fdesc f = {F_NONE, 0.0f, 0.0f};
    switch (n->op) {
    case MN_OP_SIGMOID: f.k = F_SIGMOID; break;
    case MN_OP_LEAKYRELU:
        f.k = F_LEAKY;
        f.a = mn_node_attr_float(n, "alpha", 0.01f);
        break;
    case MN_OP_HARDSIGMOID:
        f.k = F_HARDSIGMOID;
        f.a = mn_node_attr_float(n, "alpha", 0.2f);
        f.b = mn_node_attr_float(n, "beta", 0.5f);
        break;
    case MN_OP_HARDSWISH: f.k = F_HARDSWISH; break;
    case MN_OP_TANH: f.k = F_TANH; break;
    case MN_OP_RELU: f.k = F_RELU; break;
    case MN_OP_ERF: f.k = F_ERF; break;
    case MN_OP_GELU: {
        const mn_attr *a = mn_node_attr(n, "approximate");
        f.k = a && a->s && !strcmp(a->s, "tanh") ? F_GELU_TANH : F_GELU;
        break;
    }
    case MN_OP_CLIP:
        if (n->opset < 11) {
            f.a = mn_node_attr_float(n, "min", -INFINITY);
            f.b = mn_node_attr_float(n, "max", INFINITY);
        } else if (!const_in(g, n, 1, -INFINITY, &f.a) ||
                   !const_in(g, n, 2, INFINITY, &f.b)) {
            break;
        }
        f.k = F_CLIP;
        break;
    default: break;
    }
    return f;
}

/* The Div that starts the GELU chain (mn_pattern_gelu) node ni belongs
 * to, or -1. */
static int gelu_div_of(const mn_graph *g, int ni)
{
    const mn_opcode op = g->nodes[ni].op;
    int chain[5], x;
    if (op != MN_OP_DIV && op != MN_OP_ERF && op != MN_OP_ADD &&
        op != MN_OP_MUL)
        return -1;
    for (int d = 0; d < g->n_nodes; d++)
        if (g->nodes[d].op == MN_OP_DIV && mn_pattern_gelu(g, d, chain, &x))
            for (int c = 0; c < 5; c++)
                if (chain[c] == ni)
                    return d;
    return -1;
}

int mn_ql_gelu_member(const mn_graph *g, int ni, int *last)
{
    int chain[5], x, d = gelu_div_of(g, ni);
    if (d < 0 || !mn_pattern_gelu(g, d, chain, &x))
        return 0;
    *last = chain[4];
    return 1;
}

/* x · Sigmoid(x) or x · HardSigmoid(x) at Mul node ni: *x gets the x
 * value, *gate the gate node. Also GELU's exported erf chain ending at
 * Mul ni (x · Φ(x)): *gate -1, the chain's other nodes die with it. */
static int gated_of(const mn_graph *g, int ni, int *x, int *gate, fdesc *f)
{
    const mn_node *n = &g->nodes[ni];
    int chain[5], d;
    if (n->op != MN_OP_MUL || n->n_in != 2)
        return 0;
    if ((d = gelu_div_of(g, ni)) >= 0 && mn_pattern_gelu(g, d, chain, x) &&
        chain[4] == ni) {
        f->k = F_GELU;
        f->a = f->b = 0.0f;
        *gate = -1;
        return 1;
    }
    for (int s = 0; s < 2; s++) {
        int v = n->in[s], o = n->in[1 - s], p = g->values[v].producer;
        const mn_node *gn;
        if (p < 0 || mn_q_sole_reader(g, v) != ni)
            continue;
        gn = &g->nodes[p];
        if ((gn->op != MN_OP_SIGMOID && gn->op != MN_OP_HARDSIGMOID) ||
            gn->in[0] != o)
            continue;
        *f = unary_of(g, gn);
        f->k = gn->op == MN_OP_SIGMOID ? F_SILU : F_XHARDSIGMOID;
        *x = o;
        *gate = p;
        return 1;
    }
    return 0;
}

/* Cast(x → int32) → Gather(table) replacing node ni (and gate, Q). */
static mn_status lookup(mn_lower *L, int ni, int gate, const mn_qparam *x,
                        const mn_qparam *y, const fdesc *f, int *done,
                        mn_ctx *ctx)
{
    mn_graph *g = L->g;
    int i8 = mn_ql_qtype(g, y) == MN_DT_I8, idx, tab, in[2], cast, node;
    int64_t d[1] = {256};
    float sx = fscale(g, x), sy = fscale(g, y);
    int32_t zx = izp(g, x), zy = izp(g, y);
    uint8_t table[256];
    char base[300];
    mn_status st;
    for (int j = 0; j < 256; j++) {
        int32_t q = i8 && j >= 128 ? j - 256 : j;
        float v = rintf(apply(f, sx * (float)(q - zx)) / sy);
        int32_t lo = i8 ? -128 : 0, hi = i8 ? 127 : 255, r;
        v = !(v == v) ? 0.0f : v + (float)zy;
        r = v < (float)lo ? lo : v > (float)hi ? hi : (int32_t)v;
        table[j] = (uint8_t)r; /* int8: two's-complement byte */
    }
    snprintf(base, sizeof base, "%s_table",
             g->nodes[ni].name[0] ? g->nodes[ni].name : "lookup");
    if ((st = mn_q_add_const(g, base, i8 ? MN_DT_I8 : MN_DT_U8, 1, d, table,
                             &tab, ctx)) != MN_OK ||
        (st = mn_q_add_value(g, "lookup_index", MN_DT_I32, x->q, &idx,
                             ctx)) != MN_OK)
        return st;
    in[0] = x->q;
    if ((st = add_node(g, "lookup_index", "Cast", 0, in, 1, idx, &cast,
                       ctx)) != MN_OK ||
        (st = mn_q_set_attr_int(g, cast, "to", MN_DT_I32, ctx)) != MN_OK)
        return st;
    in[0] = tab, in[1] = idx;
    if ((st = add_node(g, "lookup", "Gather", 0, in, 2, y->q, &node, ctx)) !=
        MN_OK)
        return st;
    return finish(g, ni, gate, y->node, node, 0, done, ctx);
}

static mn_status lower_unary(mn_lower *L, int ni, int *done, mn_ctx *ctx)
{
    mn_graph *g = L->g;
    const mn_node *n = &g->nodes[ni];
    mn_qparam x, y;
    mn_dtype dt;
    fdesc f = unary_of(g, n);
    int xv = n->n_in > 0 ? n->in[0] : -1, gate = -1, in[5], node;
    mn_status st;
    if (f.k == F_NONE && !gated_of(g, ni, &xv, &gate, &f))
        return MN_OK;
    if (f.k == F_NONE || xv < 0 || !mn_ql_dq_of(g, xv, &x) ||
        !mn_ql_q_after(g, n->out[0], &y))
        return MN_OK;
    dt = mn_ql_qtype(g, &y);
    if (!act_ok(g, &x, dt) || !act_ok(g, &y, dt))
        return MN_OK;
    if (f.k != F_SIGMOID && f.k != F_LEAKY)
        return lookup(L, ni, gate, &x, &y, &f, done, ctx);
    in[0] = x.q, in[1] = x.scale, in[3] = y.scale;
    if ((st = mn_ql_zero_point(g, &x, &in[2], ctx)) != MN_OK ||
        (st = mn_ql_zero_point(g, &y, &in[4], ctx)) != MN_OK ||
        (st = add_node(g, "qlinear_act",
                       f.k == F_SIGMOID ? "QLinearSigmoid"
                                        : "QLinearLeakyRelu",
                       1, in, 5, y.q, &node, ctx)) != MN_OK)
        return st;
    return finish(g, ni, -1, y.node, node, f.k == F_LEAKY, done, ctx);
}

mn_status mn_ql_lower_elementwise(mn_lower *L, int ni, int *done,
                                  mn_ctx *ctx)
{
    const mn_node *n = &L->g->nodes[ni];
    int x, gate;
    fdesc f;
    if (n->n_out < 1 || n->out[0] < 0)
        return MN_OK;
    switch (n->op) {
    case MN_OP_MUL:
        if (gated_of(L->g, ni, &x, &gate, &f))
            return lower_unary(L, ni, done, ctx);
        return lower_binary(L, ni, done, ctx);
    case MN_OP_ADD: return lower_binary(L, ni, done, ctx);
    case MN_OP_GLOBALAVGPOOL: return lower_gap(L, ni, done, ctx);
    case MN_OP_CONCAT: return lower_concat(L, ni, done, ctx);
    default: return lower_unary(L, ni, done, ctx);
    }
}

int mn_ql_gated(const mn_graph *g, int mul, int *x, int *gate)
{
    fdesc f;
    return gated_of(g, mul, x, gate, &f);
}

int mn_ql_has_int_unary(const mn_graph *g, const mn_node *n)
{
    return unary_of(g, n).k != F_NONE;
}

int mn_ql_is_int_op(mn_opcode op)
{
    switch (op) {
    case MN_OP_QLINEARCONV: case MN_OP_QLINEARMATMUL:
    case MN_OP_CONVINTEGER: case MN_OP_MATMULINTEGER:
    case MN_OP_QLINEARADD: case MN_OP_QLINEARMUL:
    case MN_OP_QLINEARGLOBALAVGPOOL: case MN_OP_QLINEARCONCAT:
    case MN_OP_QLINEARSIGMOID: case MN_OP_QLINEARLEAKYRELU:
        return 1;
    default:
        return 0;
    }
}
