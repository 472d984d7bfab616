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
