/* Node patterns (see pattern.h). */
#include <math.h>
#include "core/pattern.h"

/* The value is a float32 initializer holding one number close to want. */
static int is_scalar(const mn_graph *g, int v, float want)
{
    const mn_tensor *t;
    if (v < 0 || !(t = g->values[v].init) || t->dtype != MN_DT_F32 ||
        mn_tensor_numel(t) != 1)
        return 0;
    return fabsf(*(const float *)t->data - want) <= 1e-6f * fabsf(want);
}

/* The node that reads v, when exactly one node does and v is not a graph
 * output; else -1. */
static int sole_reader(const mn_graph *g, int v)
{
    if (v < 0 || g->values[v].is_output || mn_graph_use_count(g, v) != 1)
        return -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i].n_in; j++)
            if (g->nodes[i].in[j] == v)
                return i;
    return -1;
}

/* Node n's other input when one of its two inputs is v (-2 when neither). */
static int other_input(const mn_node *n, int v)
{
    if (n->n_in != 2)
        return -2;
    return n->in[0] == v ? n->in[1] : n->in[1] == v ? n->in[0] : -2;
}

int mn_pattern_gelu(const mn_graph *g, int di, int chain[5], int *x)
{
    static const mn_opcode ops[4] = {MN_OP_ERF, MN_OP_ADD, MN_OP_MUL,
                                     MN_OP_MUL};
    const mn_node *d = &g->nodes[di];
    int v;
    if (d->op != MN_OP_DIV || d->n_in != 2 || d->n_out != 1 ||
        d->in[0] < 0 || !is_scalar(g, d->in[1], 1.41421356f))
        return 0;
    *x = d->in[0];
    chain[0] = di;
    v = d->out[0];
    for (int k = 0; k < 4; k++) {
        int ni = sole_reader(g, v);
        if (ni < 0 || g->nodes[ni].op != ops[k] || g->nodes[ni].n_out != 1 ||
            g->nodes[ni].out[0] < 0)
            return 0;
        const mn_node *n = &g->nodes[ni];
        int o = other_input(n, v);
        if (k == 0 ? n->n_in != 1 || n->in[0] != v
                   : (k == 1 && !is_scalar(g, o, 1.0f)) ||
                         (k == 2 && o != *x) ||
                         (k == 3 && !is_scalar(g, o, 0.5f)))
            return 0;
        chain[k + 1] = ni;
        v = n->out[0];
    }
    return 1;
}

/* A ReduceMean of one axis (attribute form), keeping dims: the axis. */
static int mean_axis(const mn_node *n, int64_t *axis)
{
    const mn_attr *a = mn_node_attr(n, "axes");
    if (n->op != MN_OP_REDUCEMEAN || n->n_in != 1 || n->n_out != 1 ||
        n->out[0] < 0 || !a || !a->ints || a->n != 1 ||
        mn_node_attr_int(n, "keepdims", 1) != 1)
        return 0;
    *axis = a->ints[0];
    return 1;
}

/* v's sole reader when it is an `op` node with one output; else -1. */
static int next_of(const mn_graph *g, int v, mn_opcode op)
{
    int ni = sole_reader(g, v);
    if (ni < 0 || g->nodes[ni].op != op || g->nodes[ni].n_out != 1 ||
        g->nodes[ni].out[0] < 0)
        return -1;
    return ni;
}

/* v's sole reader, an `op` node whose other input is an initializer (in
 * *c); else -1. */
static int with_const(const mn_graph *g, int v, mn_opcode op, int *c)
{
    int ni = next_of(g, v, op);
    if (ni < 0)
        return -1;
    *c = other_input(&g->nodes[ni], v);
    return *c >= 0 && g->values[*c].init ? ni : -1;
}

int mn_pattern_layernorm(const mn_graph *g, int ri, int chain[9], int *x,
                         int *gamma, int *beta, float *eps, int64_t axis[2])
{
    const mn_node *r = &g->nodes[ri];
    int64_t ax2;
    if (!mean_axis(r, axis) || r->in[0] < 0)
        return 0;
    *x = r->in[0];
    chain[0] = ri;
    /* d = Sub(x, m): m's sole reader */
    int si = next_of(g, r->out[0], MN_OP_SUB);
    if (si < 0 || g->nodes[si].n_in != 2 || g->nodes[si].in[0] != *x ||
        g->nodes[si].in[1] != r->out[0])
        return 0;
    chain[1] = si;
    int d = g->nodes[si].out[0];
    if (g->values[d].is_output || mn_graph_use_count(g, d) != 2)
        return 0;
    int pi = -1, di = -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i].n_in; j++)
            if (g->nodes[i].in[j] == d) {
                if (g->nodes[i].op == MN_OP_POW && j == 0)
                    pi = i;
                else if (g->nodes[i].op == MN_OP_DIV && j == 0)
                    di = i;
            }
    if (pi < 0 || di < 0 || g->nodes[pi].n_in != 2 ||
        !is_scalar(g, g->nodes[pi].in[1], 2.0f) || g->nodes[pi].n_out != 1 ||
        g->nodes[pi].out[0] < 0)
        return 0;
    chain[2] = pi;
    int r2 = next_of(g, g->nodes[pi].out[0], MN_OP_REDUCEMEAN);
    if (r2 < 0 || !mean_axis(&g->nodes[r2], &ax2))
        return 0;
    axis[1] = ax2;
    chain[3] = r2;
    int ai = next_of(g, g->nodes[r2].out[0], MN_OP_ADD);
    if (ai < 0)
        return 0;
    int e = other_input(&g->nodes[ai], g->nodes[r2].out[0]);
    const mn_tensor *et = e >= 0 ? g->values[e].init : NULL;
    if (!et || et->dtype != MN_DT_F32 || mn_tensor_numel(et) != 1)
        return 0;
    *eps = *(const float *)et->data;
    chain[4] = ai;
    int qi = next_of(g, g->nodes[ai].out[0], MN_OP_SQRT);
    if (qi < 0 || g->nodes[qi].n_in != 1)
        return 0;
    chain[5] = qi;
    if (sole_reader(g, g->nodes[qi].out[0]) != di ||
        g->nodes[di].n_in != 2 || g->nodes[di].in[1] != g->nodes[qi].out[0] ||
        g->nodes[di].n_out != 1 || g->nodes[di].out[0] < 0)
        return 0;
    chain[6] = di;
    int mi = with_const(g, g->nodes[di].out[0], MN_OP_MUL, gamma);
    if (mi < 0)
        return 0;
    chain[7] = mi;
    int bi = with_const(g, g->nodes[mi].out[0], MN_OP_ADD, beta);
    if (bi < 0)
        return 0;
    chain[8] = bi;
    return 1;
}
