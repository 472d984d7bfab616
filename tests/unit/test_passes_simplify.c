/* Tests of the simplifications (mn_graph_optimize): Identity and Dropout
 * chains vanish and graph output names survive, a Dropout whose mask is
 * used stays; outputs compared before and after on random inputs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/passes.h"
#include "ops/ops.h"
#include "passes_test_util.h"
#include "test.h"

/* ---- simplifications ---- */

TEST(passes_identity_dropout_chain_keeps_output_names)
{
    static const mn_opcode need[] = {MN_OP_CONV, MN_OP_IDENTITY, MN_OP_DROPOUT,
                                     MN_OP_TRANSPOSE, MN_OP_CAST, MN_OP_CONCAT,
                                     MN_OP_FLATTEN, MN_OP_RESHAPE};
    mn_graph *g, *opt;
    mn_ctx ctx = {{0}};
    if (!have_ops(need, 8) || mn_graph_create(&g, &ctx) != MN_OK)
        return;
    int x = val(g, "x", 4, (int64_t[]){-1, 2, 3, 3});
    int w = fconst(g, "w", 4, (int64_t[]){4, 2, 3, 3}, -1, 1);
    int c = val(g, "c", -1, NULL), i1 = val(g, "i1", -1, NULL);
    int d = val(g, "d", -1, NULL), mask = val(g, "mask", -1, NULL);
    int t = val(g, "t", -1, NULL), cs = val(g, "cs", -1, NULL);
    int cc = val(g, "cc", -1, NULL), fl = val(g, "fl", -1, NULL);
    int r1 = val(g, "r1", -1, NULL), y = val(g, "y", -1, NULL);
    int z = val(g, "z", -1, NULL), zi = val(g, "zi", -1, NULL);
    int ratio = fconst(g, "ratio", 0, NULL, 0.5f, 0.5f);
    int s1 = iconst(g, "s1", 1, (int64_t[]){-1, 2, 2}, 3);
    int s2 = iconst(g, "s2", 1, (int64_t[]){0, 4}, 2);
    node(g, "conv", "Conv", (int[]){x, w}, 2, &c, 1);
    node(g, "id1", "Identity", &c, 1, &i1, 1);
    node(g, "drop", "Dropout", (int[]){i1, ratio}, 2, (int[]){d, mask}, 2);
    int ti = node(g, "tr", "Transpose", &d, 1, &t, 1);
    attr_is(g, ti, "perm", (int64_t[]){0, 1, 2, 3}, 4);
    int ki = node(g, "cast", "Cast", &t, 1, &cs, 1);
    attr_i(g, ki, "to", MN_DT_F32);
    node(g, "cat", "Concat", &cs, 1, &cc, 1);
    attr_i(g, g->n_nodes - 1, "axis", 1);
    int fi = node(g, "flat", "Flatten", &cc, 1, &fl, 1);
    attr_i(g, fi, "axis", 1);
    node(g, "re1", "Reshape", (int[]){fl, s1}, 2, &r1, 1);
    node(g, "re2", "Reshape", (int[]){r1, s2}, 2, &y, 1); /* → [b, 4] */
    /* a graph input passed straight out: that Identity must stay */
    node(g, "id_in", "Identity", &x, 1, &zi, 1);
    node(g, "id_out", "Identity", &zi, 1, &z, 1);
    set_io(g, &x, 1, (int[]){y, z}, 2);
    if ((opt = optimize_and_compare(g, "identity chain"))) {
        /* re2(re1(flat(c))) → Reshape(c, [-1, 4]) writing y; conv; and
         * the identity x → z */
        CHECK_EQ_INT(count_op(opt, MN_OP_DROPOUT), 0);
        CHECK_EQ_INT(count_op(opt, MN_OP_TRANSPOSE), 0);
        CHECK_EQ_INT(count_op(opt, MN_OP_CAST), 0);
        CHECK_EQ_INT(count_op(opt, MN_OP_CONCAT), 0);
        CHECK_EQ_INT(count_op(opt, MN_OP_IDENTITY), 1);
        CHECK_EQ_INT(count_op(opt, MN_OP_RESHAPE), 1);
        CHECK_EQ_INT(count_op(opt, MN_OP_FLATTEN), 0);
        CHECK_EQ_INT(opt->n_nodes, 3);
        for (int i = 0; i < opt->n_nodes; i++) {
            const mn_node *n = &opt->nodes[i];
            if (n->op != MN_OP_RESHAPE)
                continue;
            const mn_tensor *st = opt->values[n->in[1]].init;
            CHECK(st && mn_tensor_numel(st) == 2 &&
                  ((int64_t *)st->data)[0] == -1 && ((int64_t *)st->data)[1] == 4);
            CHECK(!strcmp(opt->values[n->in[0]].name, "c"));
            CHECK(!strcmp(opt->values[n->out[0]].name, "y"));
        }
        CHECK(!strcmp(mn_graph_output_name(opt, 0), "y"));
        CHECK(!strcmp(mn_graph_output_name(opt, 1), "z"));
        mn_graph_destroy(opt);
    }
    mn_graph_destroy(g);
}

TEST(passes_dropout_with_used_mask_stays)
{
    static const mn_opcode need[] = {MN_OP_DROPOUT, MN_OP_RELU};
    mn_graph *g, *opt;
    mn_ctx ctx = {{0}};
    if (!have_ops(need, 2) || mn_graph_create(&g, &ctx) != MN_OK)
        return;
    int x = val(g, "x", 2, (int64_t[]){-1, 5});
    int r = val(g, "r", -1, NULL), d = val(g, "d", -1, NULL);
    int m = val(g, "m", -1, NULL);
    node(g, "relu", "Relu", &x, 1, &r, 1);
    node(g, "drop", "Dropout", &r, 1, (int[]){d, m}, 2);
    set_io(g, &x, 1, (int[]){d, m}, 2);
    g->values[m].dtype = MN_DT_BOOL;
    CHECK_OK(mn_graph_clone(g, &opt, &ctx), &ctx);
    CHECK_OK(mn_graph_optimize(opt, &ctx), &ctx);
    CHECK_EQ_INT(count_op(opt, MN_OP_DROPOUT), 1);
    CHECK_EQ_INT(opt->n_nodes, 2);
    mn_graph_destroy(opt);
    mn_graph_destroy(g);
}
