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
#include "core/pattern.h"
#include "train/tape_fuse.h"

mn_status mn_tape_fuse_plan(const mn_graph *g, mn_tape_fusion *f, mn_ctx *ctx)
{
    int nn = g->n_nodes;
    memset(f, 0, sizeof *f);
    f->role = mn_calloc((size_t)nn + 1, sizeof *f->role);
    f->nodes = mn_calloc((size_t)nn + 1, sizeof *f->nodes);
    f->ios = mn_calloc(2 * (size_t)nn + 2, sizeof *f->ios);
    if (!f->role || !f->nodes || !f->ios) {
        mn_tape_fusion_free(f);
        return mn_error(ctx, MN_ERR_OOM, "out of memory (fusion plan)");
    }
    for (int ni = 0; ni < nn; ni++)
        f->role[ni] = MN_FUSE_SELF;
    for (int ni = 0; ni < nn; ni++) {
        int chain[5], x;
        if (f->role[ni] != MN_FUSE_SELF ||
            !mn_pattern_gelu(g, ni, chain, &x))
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
    return MN_OK;
}

void mn_tape_fusion_free(mn_tape_fusion *f)
{
    free(f->role);
    free(f->nodes);
    free(f->ios);
    memset(f, 0, sizeof *f);
}
