/* Tests of constant folding (mn_graph_optimize): Constant nodes become
 * initializers, Shape→Gather→Concat→Reshape chains fold with a dynamic
 * batch without baking one in; outputs compared before and after on
 * random inputs (1e-5 relative). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/passes.h"
#include "ops/ops.h"
#include "passes_test_util.h"
#include "test.h"

/* ---- constant folding ---- */

TEST(passes_constant_node_becomes_initializer)
{
    static const mn_opcode need[] = {MN_OP_CONSTANT, MN_OP_ADD, MN_OP_MUL};
    mn_graph *g, *opt;
    mn_ctx ctx = {{0}};
    mn_attr *a;
    if (!have_ops(need, 3) || mn_graph_create(&g, &ctx) != MN_OK)
        return;
    int x = val(g, "x", 2, (int64_t[]){-1, 3});
    int c = val(g, "c", -1, NULL), k = fconst(g, "k", 1, (int64_t[]){3}, 1, 2);
    int d = val(g, "d", -1, NULL), y = val(g, "y", -1, NULL);
    int ci = node(g, "const", "Constant", NULL, 0, &c, 1);
    if (mn_node_add_attr(&g->nodes[ci], "value", MN_ATTR_TENSOR, &a, &ctx) ==
            MN_OK &&
        mn_tensor_create(MN_DT_F32, 1, (int64_t[]){3}, &a->t, &ctx) == MN_OK)
        for (int i = 0; i < 3; i++)
            ((float *)a->t->data)[i] = (float)(i + 1);
    node(g, "mul", "Mul", (int[]){c, k}, 2, &d, 1); /* all-constant */
    node(g, "add", "Add", (int[]){x, d}, 2, &y, 1);
    set_io(g, &x, 1, &y, 1);
    if ((opt = optimize_and_compare(g, "constant-add"))) {
        CHECK_EQ_INT(opt->n_nodes, 1);
        CHECK_EQ_INT(opt->nodes[0].op, MN_OP_ADD);
        int dv = opt->nodes[0].n_in == 2 ? opt->nodes[0].in[1] : -1;
        CHECK(dv >= 0 && opt->values[dv].init);
        if (dv >= 0 && opt->values[dv].init) {
            const float *kd = g->values[k].init->data;
            for (int i = 0; i < 3; i++)
                CHECK_NEAR(((float *)opt->values[dv].init->data)[i],
                           (float)(i + 1) * kd[i], 0);
        }
        mn_graph_destroy(opt);
    }
    mn_graph_destroy(g);
}

/* x.view(x.size(0), -1) as PyTorch exports it, with a symbolic batch:
 * Shape→Gather→Unsqueeze→Concat→Reshape. data_src selects what is
 * reshaped: 0: x itself, 1: Relu(x) (same batch, different value), 2:
 * Concat(x, x) on axis 0 (twice the batch: must not fold). */
static mn_graph *view_graph(int data_src)
{
    mn_graph *g;
    if (mn_graph_create(&g, NULL) != MN_OK)
        return NULL;
    int x = val(g, "x", 4, (int64_t[]){-1, 3, 2, 4});
    int s = val(g, "s", -1, NULL), b = val(g, "b", -1, NULL);
    int u = val(g, "u", -1, NULL), sh = val(g, "sh", -1, NULL);
    int y = val(g, "y", -1, NULL);
    int i0 = iconst(g, "i0", 0, (int64_t[]){0}, 1);
    int ax = iconst(g, "ax", 1, (int64_t[]){0}, 1);
    int m1 = iconst(g, "m1", 1, (int64_t[]){-1}, 1);
    int data = x;
    node(g, "shape", "Shape", &x, 1, &s, 1);
    node(g, "gather", "Gather", (int[]){s, i0}, 2, &b, 1);
    node(g, "unsq", "Unsqueeze", (int[]){b, ax}, 2, &u, 1);
    node(g, "cat", "Concat", (int[]){u, m1}, 2, &sh, 1);
    attr_i(g, g->n_nodes - 1, "axis", 0);
    if (data_src == 1) {
        data = val(g, "r", -1, NULL);
        node(g, "relu", "Relu", &x, 1, &data, 1);
    } else if (data_src == 2) {
        data = val(g, "xx", -1, NULL);
        node(g, "twice", "Concat", (int[]){x, x}, 2, &data, 1);
        attr_i(g, g->n_nodes - 1, "axis", 0);
    }
    node(g, "view", "Reshape", (int[]){data, sh}, 2, &y, 1);
    set_io(g, &x, 1, &y, 1);
    return g;
}

/* Runs g at batch 3: y must be x's values as [3, 24]. */
static void check_view_output(const mn_graph *g, int relu)
{
    mn_tensor *x = random_input(g, 0, 3), *y = NULL;
    if (!x || !run(g, 3, &x, &y, "view")) {
        mn_tensor_destroy(x);
        return;
    }
    CHECK_EQ_INT(y->ndim, 2);
    CHECK_EQ_INT(y->dims[0], 3);
    CHECK_EQ_INT(y->dims[1], 24);
    for (int i = 0; i < 72 && mn_tensor_numel(y) == 72; i++) {
        float v = ((float *)x->data)[i];
        CHECK_NEAR(((float *)y->data)[i], relu && v < 0 ? 0 : v, 0);
    }
    mn_tensor_destroy(x);
    mn_tensor_destroy(y);
}

TEST(passes_shape_chain_folds_with_dynamic_batch)
{
    static const mn_opcode need[] = {MN_OP_SHAPE, MN_OP_GATHER, MN_OP_UNSQUEEZE,
                                     MN_OP_CONCAT, MN_OP_RESHAPE, MN_OP_RELU};
    if (!have_ops(need, 6))
        return;
    for (int src = 0; src < 2; src++) {
        mn_graph *orig = view_graph(src), *g;
        /* the session folds the chain at a concrete batch: same results */
        if (!orig || !(g = optimize_and_compare(orig, "view"))) {
            mn_graph_destroy(orig);
            return;
        }
        mn_graph_destroy(orig);
        CHECK_EQ_INT(g->n_nodes, src ? 2 : 1);
        CHECK_EQ_INT(count_op(g, MN_OP_SHAPE), 0);
        int r = g->n_nodes ? g->n_nodes - 1 : 0;
        CHECK_EQ_INT(g->nodes[r].op, MN_OP_RESHAPE);
        const mn_tensor *sh =
            g->nodes[r].n_in == 2 ? g->values[g->nodes[r].in[1]].init : NULL;
        CHECK(sh != NULL);
        if (sh) {
            CHECK_EQ_INT(mn_tensor_numel(sh), 2);
            CHECK_EQ_INT(((int64_t *)sh->data)[0], 0);
            CHECK_EQ_INT(((int64_t *)sh->data)[1], -1);
        }
        /* the batch stays dynamic in the graph and in the inferred shapes */
        int yv = mn_graph_find_value(g, "y");
        CHECK(yv >= 0 && g->values[yv].ndim == 2);
        if (yv >= 0) {
            CHECK_EQ_INT(g->values[yv].dims[0], -1);
            CHECK_EQ_INT(g->values[yv].dims[1], 24);
        }
        check_view_output(g, src);
        mn_graph_destroy(g);
    }
}

TEST(passes_shape_chain_never_bakes_a_different_batch)
{
    static const mn_opcode need[] = {MN_OP_SHAPE, MN_OP_GATHER, MN_OP_UNSQUEEZE,
                                     MN_OP_CONCAT, MN_OP_RESHAPE};
    mn_ctx ctx = {{0}};
    mn_graph *g;
    if (!have_ops(need, 5) || !(g = view_graph(2)))
        return;
    CHECK_OK(mn_graph_optimize(g, &ctx), &ctx);
    /* Reshape(Concat(x, x), [b, -1]): b is not the data's dim 0 (2b), so
     * the shape input must stay computed */
    CHECK_EQ_INT(count_op(g, MN_OP_SHAPE), 1);
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op == MN_OP_RESHAPE)
            CHECK(g->values[g->nodes[i].in[1]].init == NULL);
    mn_graph_destroy(g);
}

/* Two more ways exporters spell x.view(b, -1) / x.view(b, c*h*w):
 * kind 0: Shape→Slice[0:1]→Concat(·, [-1]); kind 1: the product of dims
 * 1..3 gathered one by one and multiplied. */
static mn_graph *view_graph2(int kind)
{
    mn_graph *g;
    if (mn_graph_create(&g, NULL) != MN_OK)
        return NULL;
    int x = val(g, "x", 4, (int64_t[]){-1, 3, 2, 4});
    int s = val(g, "s", -1, NULL), sh = val(g, "sh", -1, NULL);
    int y = val(g, "y", -1, NULL);
    int ax = iconst(g, "ax", 1, (int64_t[]){0}, 1);
    free(g->values[x].dim_param[0]);
    g->values[x].dim_param[0] = strdup("batch");
    node(g, "shape", "Shape", &x, 1, &s, 1);
    if (kind == 0) {
        int b = val(g, "b", -1, NULL);
        int st = iconst(g, "st", 1, (int64_t[]){0}, 1);
        int en = iconst(g, "en", 1, (int64_t[]){1}, 1);
        int m1 = iconst(g, "m1", 1, (int64_t[]){-1}, 1);
        node(g, "slice", "Slice", (int[]){s, st, en, ax}, 4, &b, 1);
        node(g, "cat", "Concat", (int[]){b, m1}, 2, &sh, 1);
    } else {
        int d[4], u[2], p1 = val(g, "p1", -1, NULL), p2 = val(g, "p2", -1, NULL);
        char nm[8];
        for (int k = 0; k < 4; k++) {
            snprintf(nm, sizeof nm, "d%d", k);
            d[k] = val(g, nm, -1, NULL);
            snprintf(nm, sizeof nm, "i%d", k);
            int ik = iconst(g, nm, 0, (int64_t[]){k}, 1);
            node(g, nm, "Gather", (int[]){s, ik}, 2, &d[k], 1);
        }
        node(g, "mul1", "Mul", (int[]){d[1], d[2]}, 2, &p1, 1);
        node(g, "mul2", "Mul", (int[]){p1, d[3]}, 2, &p2, 1);
        u[0] = val(g, "u0", -1, NULL);
        u[1] = val(g, "u1", -1, NULL);
        node(g, "unsq0", "Unsqueeze", (int[]){d[0], ax}, 2, &u[0], 1);
        node(g, "unsq1", "Unsqueeze", (int[]){p2, ax}, 2, &u[1], 1);
        node(g, "cat", "Concat", u, 2, &sh, 1);
    }
    attr_i(g, g->n_nodes - 1, "axis", 0);
    node(g, "view", "Reshape", (int[]){x, sh}, 2, &y, 1);
    set_io(g, &x, 1, &y, 1);
    return g;
}

TEST(passes_shape_chain_variants_fold)
{
    static const mn_opcode need[] = {MN_OP_SHAPE, MN_OP_GATHER, MN_OP_SLICE,
                                     MN_OP_MUL, MN_OP_UNSQUEEZE, MN_OP_CONCAT,
                                     MN_OP_RESHAPE};
    mn_ctx ctx = {{0}};
    if (!have_ops(need, 7))
        return;
    for (int kind = 0; kind < 2; kind++) {
        mn_graph *g = view_graph2(kind);
        if (!g)
            return;
        CHECK_OK(mn_graph_optimize(g, &ctx), &ctx);
        CHECK_EQ_INT(g->n_nodes, 1);
        const mn_tensor *sh = g->n_nodes == 1 && g->nodes[0].n_in == 2
                                  ? g->values[g->nodes[0].in[1]].init
                                  : NULL;
        CHECK(sh && mn_tensor_numel(sh) == 2);
        if (sh && mn_tensor_numel(sh) == 2) {
            CHECK_EQ_INT(((int64_t *)sh->data)[0], 0);
            CHECK_EQ_INT(((int64_t *)sh->data)[1], kind ? 24 : -1);
        }
        /* the symbolic batch keeps its name on the output */
        int yv = mn_graph_find_value(g, "y");
        CHECK(yv >= 0 && g->values[yv].dims[0] == -1 &&
              g->values[yv].dim_param[0] &&
              !strcmp(g->values[yv].dim_param[0], "batch"));
        check_view_output(g, 0);
        mn_graph_destroy(g);
    }
}

TEST(passes_shape_of_static_value_folds)
{
    static const mn_opcode need[] = {MN_OP_SHAPE, MN_OP_RESHAPE};
    mn_ctx ctx = {{0}};
    mn_graph *g;
    if (!have_ops(need, 2) || mn_graph_create(&g, &ctx) != MN_OK)
        return;
    int x = val(g, "x", 2, (int64_t[]){2, 6});
    int f = val(g, "f", -1, NULL), s = val(g, "s", -1, NULL);
    int y = val(g, "y", -1, NULL);
    int k = fconst(g, "k", 1, (int64_t[]){12}, 0, 1);
    int shp = iconst(g, "shp", 1, (int64_t[]){3, 4}, 2);
    node(g, "r1", "Reshape", (int[]){k, shp}, 2, &f, 1);
    node(g, "shape", "Shape", &x, 1, &s, 1);
    node(g, "r2", "Reshape", (int[]){f, s}, 2, &y, 1); /* const data, folded */
    set_io(g, &x, 1, &y, 1);
    /* y is a graph output: its producer stays, with constant inputs */
    CHECK_OK(mn_graph_optimize(g, &ctx), &ctx);
    CHECK_EQ_INT(g->n_nodes, 1);
    CHECK_EQ_INT(count_op(g, MN_OP_SHAPE), 0);
    if (g->n_nodes == 1) {
        const mn_tensor *st = g->values[g->nodes[0].in[1]].init;
        CHECK(st && mn_tensor_numel(st) == 2 && ((int64_t *)st->data)[0] == 2 &&
              ((int64_t *)st->data)[1] == 6);
    }
    mn_graph_destroy(g);
}
