/* Tests of the clean-up passes (mn_graph_optimize): each hand-built graph is
 * run through a session before and after optimizing on random inputs, the
 * outputs must agree (1e-5 relative), and the rewrites must have happened
 * (BatchNorm gone, shape chains folded with a dynamic batch, names kept). */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/passes.h"
#include "ops/ops.h"
#include "test.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static float frand(float lo, float hi)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (hi - lo) * (float)((rng >> 40) & 0xffffff) / 16777216.0f;
}

/* ---- graph building ---- */

static int val(mn_graph *g, const char *name, int ndim, const int64_t *dims)
{
    mn_ctx ctx = {{0}};
    int idx = -1;
    if (mn_graph_add_value(g, name, MN_DT_F32, ndim, dims, &idx, &ctx) != MN_OK)
        mn_test_fail(__FILE__, __LINE__, "%s", ctx.msg);
    return idx;
}

static int fconst(mn_graph *g, const char *name, int ndim, const int64_t *dims,
                  float lo, float hi)
{
    mn_ctx ctx = {{0}};
    int v = val(g, name, ndim, dims);
    if (v < 0 ||
        mn_tensor_create(MN_DT_F32, ndim, dims, &g->values[v].init, &ctx) != MN_OK)
        return -1;
    for (int64_t i = 0; i < mn_tensor_numel(g->values[v].init); i++)
        ((float *)g->values[v].init->data)[i] = frand(lo, hi);
    return v;
}

static int iconst(mn_graph *g, const char *name, int ndim, const int64_t *v,
                  int n)
{
    mn_ctx ctx = {{0}};
    int idx = -1;
    int64_t dims[1] = {n};
    mn_tensor *t;
    if (mn_graph_add_value(g, name, MN_DT_I64, ndim, dims, &idx, &ctx) != MN_OK ||
        mn_tensor_create(MN_DT_I64, ndim, dims, &t, &ctx) != MN_OK)
        return -1;
    memcpy(t->data, v, (size_t)n * sizeof *v);
    g->values[idx].init = t;
    return idx;
}

static int node(mn_graph *g, const char *name, const char *op, const int *in,
                int n_in, const int *out, int n_out)
{
    mn_ctx ctx = {{0}};
    int idx = -1;
    if (mn_graph_add_node(g, name, op, "", 13, in, n_in, out, n_out, &idx,
                          &ctx) != MN_OK)
        mn_test_fail(__FILE__, __LINE__, "%s", ctx.msg);
    return idx;
}

static void attr_i(mn_graph *g, int ni, const char *name, int64_t v)
{
    mn_attr *a;
    if (mn_node_add_attr(&g->nodes[ni], name, MN_ATTR_INT, &a, NULL) == MN_OK)
        a->i = v;
}

static void attr_f(mn_graph *g, int ni, const char *name, float v)
{
    mn_attr *a;
    if (mn_node_add_attr(&g->nodes[ni], name, MN_ATTR_FLOAT, &a, NULL) == MN_OK)
        a->f = v;
}

static void attr_is(mn_graph *g, int ni, const char *name, const int64_t *v,
                    int n)
{
    mn_attr *a;
    if (mn_node_add_attr(&g->nodes[ni], name, MN_ATTR_INTS, &a, NULL) == MN_OK)
        mn_attr_set_ints(a, v, n, NULL);
}

static void set_io(mn_graph *g, const int *in, int n_in, const int *out,
                   int n_out)
{
    g->inputs = malloc((size_t)(n_in + 1) * sizeof(int));
    g->outputs = malloc((size_t)(n_out + 1) * sizeof(int));
    memcpy(g->inputs, in, (size_t)n_in * sizeof(int));
    memcpy(g->outputs, out, (size_t)n_out * sizeof(int));
    g->n_inputs = n_in;
    g->n_outputs = n_out;
    mn_graph_relink(g);
}

/* BatchNormalization(x) → y with random statistics over C channels. */
static int bn(mn_graph *g, const char *name, int x, int y, int64_t C)
{
    char b[64];
    int in[5] = {x};
    const char *part[4] = {"gamma", "beta", "mean", "var"};
    const float lo[4] = {0.5f, -1, -1, 0.3f}, hi[4] = {1.5f, 1, 1, 2};
    for (int k = 0; k < 4; k++) {
        snprintf(b, sizeof b, "%s_%s", name, part[k]);
        in[k + 1] = fconst(g, b, 1, &C, lo[k], hi[k]);
    }
    int ni = node(g, name, "BatchNormalization", in, 5, &y, 1);
    attr_f(g, ni, "epsilon", 1e-3f);
    return ni;
}

static int count_op(const mn_graph *g, mn_opcode op)
{
    int c = 0;
    for (int i = 0; i < g->n_nodes; i++)
        c += g->nodes[i].op == op;
    return c;
}

static int have_ops(const mn_opcode *ops, int n)
{
    for (int i = 0; i < n; i++)
        if (!mn_op_get(ops[i])) {
            mn_test_fail(__FILE__, __LINE__, "op %d is not implemented yet",
                         (int)ops[i]);
            return 0;
        }
    return 1;
}

/* ---- running ---- */

/* Runs g at `batch` on inputs xs and returns copies of the outputs (caller
 * destroys), or 0 on failure (reported). */
static int run(const mn_graph *g, int batch, mn_tensor **xs, mn_tensor **outs,
               const char *what)
{
    mn_ctx ctx = {{0}};
    mn_session *s = NULL;
    mn_session_opts o = {.batch = batch};
    int ok = 0;
    for (int i = 0; i < g->n_outputs; i++)
        outs[i] = NULL;
    if (mn_session_create(g, &o, &s, &ctx) != MN_OK ||
        mn_session_run(s, (const mn_tensor *const *)xs, g->n_inputs, &ctx) !=
            MN_OK) {
        mn_test_fail(__FILE__, __LINE__, "%s: %s", what, ctx.msg);
        goto out;
    }
    for (int i = 0; i < g->n_outputs; i++)
        if (mn_tensor_clone(mn_session_output(s, i), &outs[i], &ctx) != MN_OK)
            goto out;
    ok = 1;
out:
    mn_session_destroy(s);
    return ok;
}

static mn_tensor *random_input(const mn_graph *g, int i, int batch)
{
    const mn_value *v = &g->values[g->inputs[i]];
    int64_t dims[MN_MAX_DIMS];
    mn_tensor *t = NULL;
    for (int k = 0; k < v->ndim; k++)
        dims[k] = v->dims[k] >= 0 ? v->dims[k] : batch;
    if (mn_tensor_create(MN_DT_F32, v->ndim, dims, &t, NULL) != MN_OK)
        return NULL;
    for (int64_t j = 0; j < mn_tensor_numel(t); j++)
        ((float *)t->data)[j] = frand(-2, 2);
    return t;
}

static int close_enough(float a, float b)
{
    double tol = 1e-5 * fmax(1.0, fabs((double)b));
    return fabs((double)a - (double)b) <= tol;
}

/* Runs ref and opt at `batch` on the same random inputs; every output must
 * have the same name, shape and values. */
static void check_same_outputs(const mn_graph *ref, const mn_graph *opt,
                               int batch, const char *what)
{
    mn_tensor *xs[8] = {0}, *a[8] = {0}, *b[8] = {0};
    if (ref->n_inputs > 8 || ref->n_outputs > 8 ||
        ref->n_inputs != opt->n_inputs || ref->n_outputs != opt->n_outputs) {
        mn_test_fail(__FILE__, __LINE__, "%s: input/output counts differ", what);
        return;
    }
    for (int i = 0; i < ref->n_inputs; i++)
        xs[i] = random_input(ref, i, batch);
    if (run(ref, batch, xs, a, what) && run(opt, batch, xs, b, what)) {
        for (int i = 0; i < ref->n_outputs; i++) {
            int bad = 0;
            if (strcmp(mn_graph_output_name(ref, i), mn_graph_output_name(opt, i)))
                mn_test_fail(__FILE__, __LINE__, "%s: output %d renamed %s→%s",
                             what, i, mn_graph_output_name(ref, i),
                             mn_graph_output_name(opt, i));
            CHECK_EQ_INT(a[i]->ndim, b[i]->ndim);
            for (int k = 0; k < a[i]->ndim; k++)
                CHECK_EQ_INT(a[i]->dims[k], b[i]->dims[k]);
            if (mn_tensor_numel(a[i]) != mn_tensor_numel(b[i]))
                continue;
            for (int64_t j = 0; j < mn_tensor_numel(a[i]) && bad < 3; j++) {
                float u = ((float *)a[i]->data)[j], w = ((float *)b[i]->data)[j];
                if (!close_enough(w, u)) {
                    mn_test_fail(__FILE__, __LINE__,
                                 "%s: output %d[%lld]: %.9g vs %.9g", what, i,
                                 (long long)j, (double)w, (double)u);
                    bad++;
                }
            }
        }
    }
    for (int i = 0; i < 8; i++) {
        mn_tensor_destroy(xs[i]);
        mn_tensor_destroy(a[i]);
        mn_tensor_destroy(b[i]);
    }
}

/* Optimizes a copy of g, checks outputs at batches 1 and 3, returns the
 * optimized graph (caller destroys) or NULL. */
static mn_graph *optimize_and_compare(const mn_graph *g, const char *what)
{
    mn_ctx ctx = {{0}};
    mn_graph *opt = NULL;
    if (mn_graph_clone(g, &opt, &ctx) != MN_OK) {
        mn_test_fail(__FILE__, __LINE__, "clone: %s", ctx.msg);
        return NULL;
    }
    CHECK_OK(mn_graph_optimize(opt, &ctx), &ctx);
    check_same_outputs(g, opt, 1, what);
    check_same_outputs(g, opt, 3, what);
    return opt;
}

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
