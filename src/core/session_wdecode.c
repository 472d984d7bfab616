/* Compressed weights at run time: a Conv/Gemm/MatMul whose weight is a
 * decode chain of constants (a float16 initializer + Cast, or an int4
 * initializer + DequantizeLinear [+ Cast] [+ Reshape]: what the float16
 * and int4 modes of src/quant write) keeps the initializer as it is and
 * runs on it as a weight source (src/kernels/wsrc.h), instead of on a
 * float32 copy folded at compile. session.c calls plan before compiling,
 * skips the folds of the marked chains, offers the source to the layer's
 * prepare and folds a chain only when something else needs its data. */
#include <stdlib.h>
#include <string.h>
#include "core/session_int.h"
#include "kernels/wsrc.h"

typedef struct chain {
    int node[3], n;    /* Reshape, Cast, DequantizeLinear as found */
    int dq;            /* the DequantizeLinear node, or -1 */
    int f16;           /* the float16 initializer (Cast of it), or -1 */
} chain;

static const mn_tensor *init_of(const mn_graph *g, int v)
{
    return v >= 0 && v < g->n_values ? g->values[v].init : NULL;
}

/* The chain ending in value v (the layer's weight), from the graph alone;
 * uses[v] counts v's consumers (graph outputs count; NULL: not checked,
 * the plan did). 0 when none. */
static int find_chain(const mn_session *s, const int *uses, int v, chain *c)
{
    const mn_graph *g = s->g;
    const mn_node *n;
    int half = 0;
    c->n = 0;
    c->dq = c->f16 = -1;
#define ONE_USE(v) (!uses || uses[v] == 1)
    if (v < 0 || !ONE_USE(v) || init_of(g, v) || s->producer[v] < 0)
        return 0;
    n = &g->nodes[s->producer[v]];
    if (n->op == MN_OP_RESHAPE && n->n_in == 2 && n->in[0] >= 0 &&
        init_of(g, n->in[1])) {
        c->node[c->n++] = s->producer[v];
        v = n->in[0];
        if (!ONE_USE(v) || init_of(g, v) || s->producer[v] < 0)
            return 0;
        n = &g->nodes[s->producer[v]];
    }
    if (n->op == MN_OP_CAST && n->n_in == 1 && n->in[0] >= 0 &&
        mn_node_attr_int(n, "to", 0) == MN_DT_F32) {
        const mn_tensor *t = init_of(g, n->in[0]);
        c->node[c->n++] = s->producer[v];
        if (t) {
            if (t->dtype != MN_DT_F16)
                return 0;
            c->f16 = n->in[0];
            return 1;
        }
        v = n->in[0];
        if (!ONE_USE(v) || s->producer[v] < 0)
            return 0;
        n = &g->nodes[s->producer[v]];
        half = 1;
    }
    if (n->op != MN_OP_DEQUANTIZELINEAR || n->n_in < 2 || n->n_in > 3)
        return 0;
    const mn_tensor *x = init_of(g, n->in[0]), *sc = init_of(g, n->in[1]);
    const mn_tensor *zp = n->n_in > 2 && n->in[2] >= 0
                              ? init_of(g, n->in[2]) : NULL;
    if (!x || !sc || (x->dtype != MN_DT_I4 && x->dtype != MN_DT_U4) ||
        sc->dtype != (half ? MN_DT_F16 : MN_DT_F32) ||
        (n->n_in > 2 && n->in[2] >= 0 && (!zp || zp->dtype != x->dtype)))
        return 0;
    c->node[c->n++] = s->producer[v];
    c->dq = s->producer[v];
    return 1;
#undef ONE_USE
}

static int is_layer(mn_opcode op)
{
    return op == MN_OP_CONV || op == MN_OP_GEMM || op == MN_OP_MATMUL;
}

mn_status mn_session_wdecode_plan(mn_session *s, mn_ctx *ctx)
{
    const mn_graph *g = s->g;
    int *uses;
    s->producer = mn_malloc((size_t)(g->n_values + 1) * sizeof *s->producer);
    uses = mn_calloc((size_t)(g->n_values + 1), sizeof *uses);
    s->wd_node = mn_calloc((size_t)(g->n_nodes + 1), 1);
    s->deferred = mn_calloc((size_t)(g->n_values + 1), 1);
    s->wsrcs = mn_calloc((size_t)(g->n_nodes + 1), sizeof *s->wsrcs);
    if (!s->producer || !uses || !s->wd_node || !s->deferred || !s->wsrcs) {
        free(uses);
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    }
    for (int v = 0; v < g->n_values; v++)
        s->producer[v] = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const mn_node *n = &g->nodes[i];
        for (int j = 0; j < n->n_out; j++)
            if (n->out[j] >= 0)
                s->producer[n->out[j]] = i;
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0)
                uses[n->in[j]]++;
    }
    for (int i = 0; i < g->n_outputs; i++)
        uses[g->outputs[i]]++;
    for (int i = 0; i < g->n_nodes; i++) {
        const mn_node *n = &g->nodes[i];
        chain c;
        if (!is_layer(n->op) || n->n_in < 2 ||
            !find_chain(s, uses, n->in[1], &c))
            continue;
        s->wd_node[i] = WD_CONSUMER;
        for (int k = 0; k < c.n; k++)
            s->wd_node[c.node[k]] = WD_CHAIN;
    }
    free(uses);
    return MN_OK;
}

int mn_session_wdecode_source(const mn_session *s, int v, mn_wsrc *w)
{
    const mn_graph *g = s->g;
    const mn_tensor *t = &s->vt[v];
    chain c;
    memset(w, 0, sizeof *w);
    if (t->dtype != MN_DT_F32 || t->ndim < 1 || t->dims[0] <= 0 ||
        !find_chain(s, NULL, v, &c))
        return 0;
    w->rows = t->dims[0];
    w->cols = mn_tensor_numel(t) / w->rows;
    if (c.f16 >= 0) {
        const mn_tensor *h = init_of(g, c.f16);
        if (mn_tensor_numel(h) != w->rows * w->cols)
            return 0;
        w->kind = MN_WSRC_F16;
        w->q = h->data;
        return 1;
    }
    /* DequantizeLinear's parameters, as its infer validated them */
    const mn_node *n = &g->nodes[c.dq];
    const mn_tensor *x = init_of(g, n->in[0]), *sc = init_of(g, n->in[1]);
    const mn_tensor *zp = n->n_in > 2 && n->in[2] >= 0
                              ? init_of(g, n->in[2]) : NULL;
    int64_t blk = mn_node_attr_int(n, "block_size", 0);
    int64_t axis = mn_node_attr_int(n, "axis", 1);
    if (mn_tensor_numel(x) != w->rows * w->cols || blk < 0)
        return 0;
    w->kind = MN_WSRC_Q4;
    w->q = x->data;
    w->is_signed = x->dtype == MN_DT_I4;
    w->scale = sc->data;
    w->scale_f16 = sc->dtype == MN_DT_F16;
    w->zp = zp ? zp->data : NULL;
    w->blk = blk;
    if (!blk && mn_tensor_numel(sc) == 1) {
        w->per_tensor = 1;
        return 1;
    }
    if (axis < 0)
        axis += x->ndim;
    if (axis < 0 || axis >= x->ndim)
        return 0;
    w->pc = x->dims[axis];
    w->inner = 1;
    for (int k = (int)axis + 1; k < x->ndim; k++)
        w->inner *= x->dims[k];
    return w->pc > 0 && w->inner > 0;
}
