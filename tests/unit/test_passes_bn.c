/* Tests of BatchNorm folding (mn_graph_optimize): each hand-built graph is
 * run through a session before and after optimizing on random inputs, the
 * outputs must agree (1e-5 relative) and the BatchNorm must be gone (or
 * stay where it cannot fold); the peer models lose every BatchNorm. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/passes.h"
#include "ops/ops.h"
#include "passes_test_util.h"
#include "test.h"

/* ---- BatchNorm folding ---- */

TEST(passes_conv_bn_relu_folds)
{
    static const mn_opcode need[] = {MN_OP_CONV, MN_OP_BATCHNORM, MN_OP_RELU};
    mn_graph *g, *opt;
    mn_ctx ctx = {{0}};
    if (!have_ops(need, 3) || mn_graph_create(&g, &ctx) != MN_OK)
        return;
    int x = val(g, "x", 4, (int64_t[]){-1, 4, 6, 6});
    int w = fconst(g, "w", 4, (int64_t[]){6, 4, 3, 3}, -0.5f, 0.5f);
    int b = fconst(g, "b", 1, (int64_t[]){6}, -1, 1);
    int c = val(g, "c", -1, NULL), n = val(g, "n", -1, NULL);
    int y = val(g, "y", -1, NULL);
    int ci = node(g, "conv", "Conv", (int[]){x, w, b}, 3, &c, 1);
    attr_is(g, ci, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    bn(g, "bn", c, n, 6);
    node(g, "relu", "Relu", &n, 1, &y, 1);
    set_io(g, &x, 1, &y, 1);
    if ((opt = optimize_and_compare(g, "conv-bn-relu"))) {
        CHECK_EQ_INT(opt->n_nodes, 2);
        CHECK_EQ_INT(count_op(opt, MN_OP_BATCHNORM), 0);
        CHECK_EQ_INT(count_op(opt, MN_OP_CONV), 1);
        CHECK_EQ_INT(count_op(opt, MN_OP_RELU), 1);
        /* the folded statistics are gone from the model */
        CHECK_EQ_INT(mn_graph_find_value(opt, "bn_mean"), -1);
        /* static shapes were stored, batch kept symbolic */
        int yv = mn_graph_find_value(opt, "y");
        CHECK(yv >= 0);
        if (yv >= 0) {
            CHECK_EQ_INT(opt->values[yv].ndim, 4);
            CHECK_EQ_INT(opt->values[yv].dims[0], -1);
            CHECK_EQ_INT(opt->values[yv].dims[1], 6);
            CHECK_EQ_INT(opt->values[yv].dims[3], 6);
        }
        /* idempotent */
        int before = opt->n_nodes, nv = opt->n_values;
        CHECK_OK(mn_graph_optimize(opt, &ctx), &ctx);
        CHECK_EQ_INT(opt->n_nodes, before);
        CHECK_EQ_INT(opt->n_values, nv);
        mn_graph_destroy(opt);
    }
    mn_graph_destroy(g);
}

TEST(passes_grouped_conv_without_bias_bn_keeps_output_name)
{
    static const mn_opcode need[] = {MN_OP_CONV, MN_OP_BATCHNORM};
    mn_graph *g, *opt;
    mn_ctx ctx = {{0}};
    if (!have_ops(need, 2) || mn_graph_create(&g, &ctx) != MN_OK)
        return;
    int x = val(g, "x", 4, (int64_t[]){-1, 4, 5, 5});
    int w = fconst(g, "w", 4, (int64_t[]){6, 2, 3, 3}, -0.5f, 0.5f);
    int c = val(g, "c", -1, NULL), y = val(g, "y", -1, NULL);
    int ci = node(g, "gconv", "Conv", (int[]){x, w}, 2, &c, 1);
    attr_i(g, ci, "group", 2);
    bn(g, "bn", c, y, 6);
    set_io(g, &x, 1, &y, 1);
    if ((opt = optimize_and_compare(g, "gconv-bn"))) {
        CHECK_EQ_INT(opt->n_nodes, 1);
        CHECK_EQ_INT(opt->nodes[0].op, MN_OP_CONV);
        CHECK_EQ_INT(opt->nodes[0].n_in, 3);
        int bias = opt->nodes[0].n_in == 3 ? opt->nodes[0].in[2] : -1;
        CHECK(bias >= 0 && opt->values[bias].init != NULL);
        if (bias >= 0 && opt->values[bias].init)
            CHECK_EQ_INT(mn_tensor_numel(opt->values[bias].init), 6);
        CHECK(!strcmp(opt->values[opt->nodes[0].out[0]].name, "y"));
        mn_graph_destroy(opt);
    }
    mn_graph_destroy(g);

    /* depthwise, weight shared with a second conv: the other conv must
     * keep the original weights */
    if (mn_graph_create(&g, &ctx) != MN_OK)
        return;
    x = val(g, "x", 4, (int64_t[]){-1, 3, 4, 4});
    w = fconst(g, "w", 4, (int64_t[]){3, 1, 3, 3}, -1, 1);
    c = val(g, "c", -1, NULL);
    y = val(g, "y", -1, NULL);
    int z = val(g, "z", -1, NULL);
    ci = node(g, "dw", "Conv", (int[]){x, w}, 2, &c, 1);
    attr_i(g, ci, "group", 3);
    ci = node(g, "dw2", "Conv", (int[]){x, w}, 2, &z, 1);
    attr_i(g, ci, "group", 3);
    bn(g, "bn", c, y, 3);
    set_io(g, &x, 1, (int[]){y, z}, 2);
    if ((opt = optimize_and_compare(g, "depthwise-bn shared weight"))) {
        CHECK_EQ_INT(count_op(opt, MN_OP_BATCHNORM), 0);
        CHECK_EQ_INT(opt->n_nodes, 2);
        mn_graph_destroy(opt);
    }
    mn_graph_destroy(g);
}

TEST(passes_gemm_bn_folds_for_both_transB)
{
    static const mn_opcode need[] = {MN_OP_GEMM, MN_OP_BATCHNORM};
    mn_ctx ctx = {{0}};
    if (!have_ops(need, 2))
        return;
    for (int tb = 0; tb < 2; tb++) {
        for (int has_c = 0; has_c < 2; has_c++) {
            mn_graph *g, *opt;
            if (mn_graph_create(&g, &ctx) != MN_OK)
                return;
            int x = val(g, "x", 2, (int64_t[]){-1, 5});
            int w = fconst(g, "w", 2, tb ? (int64_t[]){7, 5} : (int64_t[]){5, 7},
                           -1, 1);
            int cc = has_c ? fconst(g, "cc", 1, (int64_t[]){7}, -1, 1) : -1;
            int h = val(g, "h", -1, NULL), y = val(g, "y", -1, NULL);
            int gi = node(g, "fc", "Gemm", (int[]){x, w, cc}, has_c ? 3 : 2,
                          &h, 1);
            attr_i(g, gi, "transB", tb);
            attr_f(g, gi, "alpha", 0.5f);
            attr_f(g, gi, "beta", 2.0f);
            bn(g, "bn", h, y, 7);
            set_io(g, &x, 1, &y, 1);
            if ((opt = optimize_and_compare(g, tb ? "gemm(transB)-bn"
                                                  : "gemm-bn"))) {
                CHECK_EQ_INT(opt->n_nodes, 1);
                CHECK_EQ_INT(opt->nodes[0].op, MN_OP_GEMM);
                mn_graph_destroy(opt);
            }
            mn_graph_destroy(g);
        }
    }
}

TEST(passes_matmul_bn_folds)
{
    static const mn_opcode need[] = {MN_OP_MATMUL, MN_OP_ADD, MN_OP_BATCHNORM};
    mn_ctx ctx = {{0}};
    if (!have_ops(need, 3))
        return;
    for (int with_add = 0; with_add < 2; with_add++) {
        mn_graph *g, *opt;
        if (mn_graph_create(&g, &ctx) != MN_OK)
            return;
        int x = val(g, "x", 2, (int64_t[]){-1, 4});
        int w = fconst(g, "w", 2, (int64_t[]){4, 3}, -1, 1);
        int m = val(g, "m", -1, NULL), y = val(g, "y", -1, NULL);
        node(g, "mm", "MatMul", (int[]){x, w}, 2, &m, 1);
        if (with_add) {
            int bb = fconst(g, "bb", 2, (int64_t[]){1, 3}, -1, 1);
            int a = val(g, "a", -1, NULL);
            node(g, "add", "Add", (int[]){bb, m}, 2, &a, 1);
            m = a;
        }
        bn(g, "bn", m, y, 3);
        set_io(g, &x, 1, &y, 1);
        if ((opt = optimize_and_compare(g, with_add ? "matmul-add-bn"
                                                    : "matmul-bn"))) {
            CHECK_EQ_INT(count_op(opt, MN_OP_BATCHNORM), 0);
            CHECK_EQ_INT(opt->n_nodes, 2);
            CHECK_EQ_INT(count_op(opt, MN_OP_ADD), 1);
            mn_graph_destroy(opt);
        }
        mn_graph_destroy(g);
    }
}

TEST(passes_bn_stays_when_conv_output_has_other_users)
{
    static const mn_opcode need[] = {MN_OP_CONV, MN_OP_BATCHNORM, MN_OP_RELU};
    mn_graph *g, *opt;
    mn_ctx ctx = {{0}};
    if (!have_ops(need, 3) || mn_graph_create(&g, &ctx) != MN_OK)
        return;
    int x = val(g, "x", 4, (int64_t[]){-1, 2, 4, 4});
    int w = fconst(g, "w", 4, (int64_t[]){3, 2, 1, 1}, -1, 1);
    int c = val(g, "c", -1, NULL), y = val(g, "y", -1, NULL);
    int r = val(g, "r", -1, NULL), y2 = val(g, "y2", -1, NULL);
    node(g, "conv", "Conv", (int[]){x, w}, 2, &c, 1);
    bn(g, "bn", c, y, 3);
    node(g, "relu", "Relu", &c, 1, &r, 1);
    bn(g, "bn_in", x, y2, 2); /* no producer: a graph input */
    set_io(g, &x, 1, (int[]){y, r, y2}, 3);
    if ((opt = optimize_and_compare(g, "unfoldable bn"))) {
        CHECK_EQ_INT(count_op(opt, MN_OP_BATCHNORM), 2);
        CHECK_EQ_INT(opt->n_nodes, 4);
        mn_graph_destroy(opt);
    }
    mn_graph_destroy(g);
}

TEST(passes_peer_models_lose_every_batchnorm)
{
    char dir[1024], path[2048];
    int models = 0;
    snprintf(dir, sizeof dir, "%s/peers", mn_test_data_dir());
    DIR *d = opendir(dir);
    if (!d) {
        mn_test_fail(__FILE__, __LINE__, "no %s", dir);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        mn_ctx ctx = {{0}};
        mn_graph *g = NULL, *opt = NULL;
        if (l < 6 || strcmp(e->d_name + l - 5, ".onnx"))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (mn_graph_load_onnx(path, &g, &ctx) != MN_OK) {
            mn_test_fail(__FILE__, __LINE__, "%s", ctx.msg);
            continue;
        }
        models++;
        if ((opt = optimize_and_compare(g, e->d_name))) {
            if (count_op(opt, MN_OP_BATCHNORM))
                mn_test_fail(__FILE__, __LINE__, "%s: %d BatchNorm left",
                             e->d_name, count_op(opt, MN_OP_BATCHNORM));
            /* PyTorch's view(x.size(0), -1) chains fold away */
            if (count_op(opt, MN_OP_SHAPE))
                mn_test_fail(__FILE__, __LINE__, "%s: Shape left", e->d_name);
            if (opt->n_nodes > g->n_nodes)
                mn_test_fail(__FILE__, __LINE__, "%s: %d nodes became %d",
                             e->d_name, g->n_nodes, opt->n_nodes);
            mn_graph_destroy(opt);
        }
        mn_graph_destroy(g);
    }
    closedir(d);
    CHECK(models > 0);
}
