/* Trivial simplifications: nodes that pass their input through unchanged are
 * removed (Identity, inference Dropout whose mask nobody reads, Cast to the
 * same type, identity Transpose, single-input Concat, Reshape/Flatten to the
 * same shape), and Reshape(Reshape/Flatten(x)) reads x directly. Removal
 * goes through mn_pass_bypass, which keeps graph output names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/passes.h"
#include "ops/ops.h"

typedef struct simp {
    mn_graph *g;
    mn_shapes shapes;
    int shapes_state;
} simp;

/* Merged shape of value v (an initializer's own shape) or 0. */
static mn_status shape_of(simp *f, int v, mn_tensor *t, int *known,
                          mn_ctx *ctx)
{
    mn_status st;
    *known = 0;
    if (v < 0)
        return MN_OK;
    if (f->g->values[v].init) {
        *t = *f->g->values[v].init;
        t->data = NULL;
        t->owns_data = 0;
        *known = 1;
        return MN_OK;
    }
    if ((st = mn_shapes_lazy(f->g, &f->shapes, &f->shapes_state, ctx)) != MN_OK)
        return st;
    *known = f->shapes_state == 1 && mn_shapes_get(&f->shapes, v, t);
    return MN_OK;
}

/* x and y have the same shape for every batch: equal known dims and at most
 * one symbolic dim, at the same position (equal element counts force it). */
static int same_shape(const simp *f, int x, int y, const mn_tensor *a,
                      const mn_tensor *b)
{
    int sym = 0;
    int64_t known = 1;
    if (a->ndim != b->ndim)
        return 0;
    for (int k = 0; k < a->ndim; k++) {
        if (a->dims[k] != b->dims[k])
            return 0;
        if (a->dims[k] < 0)
            sym++;
        else
            known *= a->dims[k] > 0 ? 1 : 0;
    }
    if (sym == 0)
        return 1;
    if (sym > 1 || !known || f->shapes_state != 1)
        return 0;
    for (int r = 0; r < 2; r++) {
        const mn_tensor *p = &f->shapes.run[r][x], *q = &f->shapes.run[r][y];
        for (int k = 0; k < a->ndim; k++)
            if (p->dims[k] != q->dims[k])
                return 0;
    }
    return 1;
}

static int identity_perm(const mn_node *n)
{
    const int64_t *perm;
    int np = mn_node_attr_ints(n, "perm", &perm);
    if (np < 1)
        return 0;
    for (int k = 0; k < np; k++)
        if (perm[k] != k)
            return 0;
    return 1;
}

/* Dropout acts as identity: no training_mode input, or a constant false. */
static int dropout_inert(const mn_graph *g, const mn_node *n)
{
    const mn_tensor *t;
    if (n->n_in < 3 || n->in[2] < 0)
        return 1;
    t = g->values[n->in[2]].init;
    return t && mn_tensor_numel(t) == 1 && t->data &&
           (t->dtype == MN_DT_BOOL || t->dtype == MN_DT_U8 ||
            t->dtype == MN_DT_I64 || t->dtype == MN_DT_I32) &&
           mn_tensor_get_i64(t, 0) == 0;
}

/* Reshape(Reshape/Flatten(x), s) → Reshape(x, s'), where s' is s with any
 * copy-from-input 0 replaced by the inner result's known dim. */
static mn_status merge_reshape(simp *f, int i, int *done, mn_ctx *ctx)
{
    mn_graph *g = f->g;
    const mn_node *n = &g->nodes[i];
    int a = n->in[0], q, zeros = 0, known, idx;
    int allowzero = (int)mn_node_attr_int(n, "allowzero", 0);
    const mn_tensor *s = n->n_in >= 2 && n->in[1] >= 0 ? g->values[n->in[1]].init
                                                        : NULL;
    mn_tensor at, *ns;
    mn_status st;
    char name[300];
    *done = 0;
    if (!s || s->ndim != 1 || s->dtype != MN_DT_I64 || a < 0 ||
        g->values[a].is_output || g->values[a].init ||
        (q = g->values[a].producer) < 0 || mn_graph_use_count(g, a) != 1)
        return MN_OK;
    if (g->nodes[q].op != MN_OP_RESHAPE && g->nodes[q].op != MN_OP_FLATTEN)
        return MN_OK;
    if (g->nodes[q].n_in < 1 || g->nodes[q].in[0] < 0)
        return MN_OK;
    for (int64_t k = 0; k < s->dims[0]; k++)
        zeros += ((const int64_t *)s->data)[k] == 0;
    if (!zeros || allowzero) {
        g->nodes[i].in[0] = g->nodes[q].in[0];
        mn_graph_relink(g);
        *done = 1;
        return MN_OK;
    }
    if ((st = shape_of(f, a, &at, &known, ctx)) != MN_OK || !known)
        return st;
    if (at.ndim < s->dims[0])
        return MN_OK;
    if ((st = mn_tensor_clone(s, &ns, ctx)) != MN_OK)
        return st;
    /* 0 copied a dim of the inner result: write it out when known; a
     * single symbolic one becomes -1 (the element count fixes it) */
    int64_t *d = ns->data;
    int sym = 0, minus = 0;
    for (int64_t k = 0; k < s->dims[0]; k++) {
        if (d[k] == 0 && at.dims[k] >= 0)
            d[k] = at.dims[k];
        else if (d[k] == 0)
            sym++;
        else if (d[k] == -1)
            minus++;
    }
    for (int64_t k = 0; k < s->dims[0] && sym == 1 && !minus; k++) {
        if (d[k] == 0)
            d[k] = -1;
        else if (d[k] < 0)
            sym = 2; /* not a plain size */
    }
    for (int64_t k = 0; k < s->dims[0]; k++)
        if (d[k] == 0) /* unresolved copy, or a literal zero size */
            sym = 2;
    if (sym > 1 || (sym == 1 && minus)) {
        mn_tensor_destroy(ns);
        return MN_OK;
    }
    snprintf(name, sizeof name, "%s", g->values[n->in[1]].name);
    if ((st = mn_pass_add_init(g, name, ns, &idx, ctx)) != MN_OK)
        return st;
    g->nodes[i].in[1] = idx;
    g->nodes[i].in[0] = g->nodes[q].in[0];
    mn_graph_relink(g);
    *done = 1;
    return MN_OK;
}

/* Decides whether node i passes input 0 through; *pass = 1 if so. */
static mn_status passes_through(simp *f, int i, int *pass, mn_ctx *ctx)
{
    mn_graph *g = f->g;
    const mn_node *n = &g->nodes[i];
    mn_tensor a, b;
    int ka, kb;
    mn_status st;
    *pass = 0;
    if (n->n_in < 1 || n->in[0] < 0 || n->n_out < 1)
        return MN_OK;
    switch (n->op) {
    case MN_OP_IDENTITY:
        *pass = n->n_in == 1 && n->n_out == 1;
        return MN_OK;
    case MN_OP_DROPOUT:
        *pass = dropout_inert(g, n);
        return MN_OK;
    case MN_OP_CONCAT:
        *pass = n->n_in == 1 && n->n_out == 1;
        return MN_OK;
    case MN_OP_TRANSPOSE:
        *pass = n->n_out == 1 && identity_perm(n);
        return MN_OK;
    case MN_OP_CAST:
        if ((st = shape_of(f, n->in[0], &a, &ka, ctx)) != MN_OK)
            return st;
        *pass = ka && n->n_out == 1 &&
                mn_node_attr_int(n, "to", -1) == (int64_t)a.dtype;
        return MN_OK;
    case MN_OP_RESHAPE:
    case MN_OP_FLATTEN:
        if (n->out[0] < 0 ||
            (st = shape_of(f, n->in[0], &a, &ka, ctx)) != MN_OK ||
            (st = shape_of(f, n->out[0], &b, &kb, ctx)) != MN_OK)
            return n->out[0] < 0 ? MN_OK : st;
        *pass = ka && kb && n->n_out == 1 &&
                same_shape(f, n->in[0], n->out[0], &a, &b);
        return MN_OK;
    default:
        return MN_OK;
    }
}

mn_status mn_pass_simplify(mn_graph *g, int *changed, mn_ctx *ctx)
{
    simp f = {.g = g};
    mn_status st = MN_OK;
    for (int i = 0; i < g->n_nodes;) {
        int pass = 0, done = 0;
        if ((st = passes_through(&f, i, &pass, ctx)) != MN_OK)
            break;
        if (pass && mn_pass_bypass(g, i, 0, 0)) {
            (*changed)++;
            continue; /* node i is now the next node */
        }
        if (g->nodes[i].op == MN_OP_RESHAPE) {
            if ((st = merge_reshape(&f, i, &done, ctx)) != MN_OK)
                break;
            *changed += done;
        }
        i++;
    }
    mn_shapes_free(&f.shapes);
    return st;
}
