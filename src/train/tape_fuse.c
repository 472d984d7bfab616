/* Chains of nodes the tape runs as one step (see tape_fuse.h).
 *
 * GELU as PyTorch exports it (opset < 20 has no Gelu op):
 *   d = Div(x, √2); e = Erf(d); a = Add(e, 1); m = Mul(x, a); y = Mul(m, ½)
 * (either operand order of the Add and the Muls) becomes one Gelu node
 * x → y when d, e, a and m each feed only the next node of the chain and
 * none is a graph output. The fused step computes the same function; its
 * rounding differs from the five-op chain (tests/unit/test_train_fuse.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "train/tape_fuse.h"

/* The value is a float initializer holding one number close to want. */
static int is_scalar(const mn_graph *g, int v, float want)
{
    if (v < 0 || !g->values[v].init)
        return 0;
    const mn_tensor *t = g->values[v].init;
    if (t->dtype != MN_DT_F32 || mn_tensor_numel(t) != 1)
        return 0;
    float f = *(const float *)t->data;
    return fabsf(f - want) <= 1e-6f * fabsf(want);
}

/* The only consumer of value v (a node index), or -1 when v has several
 * consumers or none (a graph output counts as two). */
static int sole_consumer(const int *uses, const int *user, int v)
{
    if (v < 0 || uses[v] != 1)
        return -1;
    return user[v];
}

/* Node ni's other input when one input is v (-2 when neither is). */
static int other_input(const mn_node *n, int v)
{
    if (n->n_in != 2)
        return -2;
    if (n->in[0] == v)
        return n->in[1];
    if (n->in[1] == v)
        return n->in[0];
    return -2;
}

/* Matches the GELU chain starting at Div node di; fills chain[5]. */
static int match_gelu(const mn_graph *g, const int *uses, const int *user,
                      int di, int chain[5], int *x)
{
    const mn_node *d = &g->nodes[di];
    if (d->op != MN_OP_DIV || d->n_in != 2 || d->n_out != 1 ||
        !is_scalar(g, d->in[1], 1.41421356f))
        return 0;
    *x = d->in[0];
    chain[0] = di;
    int v = d->out[0];
    static const mn_opcode ops[4] = {MN_OP_ERF, MN_OP_ADD, MN_OP_MUL,
                                     MN_OP_MUL};
    for (int k = 0; k < 4; k++) {
        int ni = sole_consumer(uses, user, v);
        if (ni < 0 || g->nodes[ni].op != ops[k] || g->nodes[ni].n_out != 1)
            return 0;
        const mn_node *n = &g->nodes[ni];
        if (k > 0) {
            int o = other_input(n, v);
            if ((k == 1 && !is_scalar(g, o, 1.0f)) || (k == 2 && o != *x) ||
                (k == 3 && !is_scalar(g, o, 0.5f)))
                return 0;
        } else if (n->n_in != 1) {
            return 0;
        }
        chain[k + 1] = ni;
        v = n->out[0];
    }
    return 1;
}

mn_status mn_tape_fuse_plan(const mn_graph *g, mn_tape_fusion *f, mn_ctx *ctx)
{
    int nv = g->n_values, nn = g->n_nodes;
    int *uses = mn_calloc((size_t)nv + 1, sizeof *uses);
    int *user = mn_calloc((size_t)nv + 1, sizeof *user);
    memset(f, 0, sizeof *f);
    f->role = mn_calloc((size_t)nn + 1, sizeof *f->role);
    f->nodes = mn_calloc((size_t)nn + 1, sizeof *f->nodes);
    f->ios = mn_calloc(2 * (size_t)nn + 2, sizeof *f->ios);
    if (!uses || !user || !f->role || !f->nodes || !f->ios) {
        free(uses);
        free(user);
        mn_tape_fusion_free(f);
        return mn_error(ctx, MN_ERR_OOM, "out of memory (fusion plan)");
    }
    for (int ni = 0; ni < nn; ni++) {
        const mn_node *n = &g->nodes[ni];
        f->role[ni] = MN_FUSE_SELF;
        for (int j = 0; j < n->n_in; j++) {
            int v = n->in[j];
            if (v < 0)
                continue;
            /* a node reading v twice counts twice: not a sole use */
            uses[v]++;
            user[v] = ni;
        }
    }
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] >= 0)
            uses[g->outputs[i]] += 2;
    for (int ni = 0; ni < nn; ni++) {
        int chain[5], x;
        if (f->role[ni] != MN_FUSE_SELF ||
            !match_gelu(g, uses, user, ni, chain, &x))
            continue;
        int last = chain[4], k = f->n_nodes++;
        int ok = 1;
        for (int i = 0; i < 5; i++)
            ok &= f->role[chain[i]] == MN_FUSE_SELF;
        if (!ok) {
            f->n_nodes--;
            continue;
        }
        for (int i = 0; i < 4; i++)
            f->role[chain[i]] = MN_FUSE_ABSORBED;
        f->role[last] = k;
        mn_node *fn = &f->nodes[k];
        const mn_node *ln = &g->nodes[last];
        fn->name = ln->name;
        fn->op_type = (char *)"Gelu";
        fn->domain = (char *)"";
        fn->op = MN_OP_GELU;
        fn->opset = 20;
        fn->n_in = 1;
        fn->n_out = 1;
        fn->in = &f->ios[2 * k];
        fn->out = &f->ios[2 * k + 1];
        fn->in[0] = x;
        fn->out[0] = ln->out[0];
    }
    free(uses);
    free(user);
    return MN_OK;
}

void mn_tape_fusion_free(mn_tape_fusion *f)
{
    free(f->role);
    free(f->nodes);
    free(f->ios);
    memset(f, 0, sizeof *f);
}
