/* Helpers of the quantization tests on hand-built graphs
 * (test_quant_graph.c, test_quant_modes.c): graph building, a small CNN
 * and an MLP (ReLU or GELU as exported), calibration files, running a
 * graph over them, and comparisons. */
#ifndef MN_TESTS_QUANT_GRAPH_TEST_UTIL_H
#define MN_TESTS_QUANT_GRAPH_TEST_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/passes.h"
#include "ops/ops.h"
#include "quant/quant.h"
#include "test.h"

static uint64_t grng = 0x853c49e6748fea9bULL;
static inline float grand(float lo, float hi)
{
    grng = grng * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (hi - lo) * (float)((grng >> 40) & 0xffffff) / 16777216.0f;
}

static inline int val(mn_graph *g, const char *name, int ndim, const int64_t *dims)
{
    mn_ctx ctx = {{0}};
    int idx = -1;
    if (mn_graph_add_value(g, name, MN_DT_F32, ndim, dims, &idx, &ctx) != MN_OK)
        mn_test_fail(__FILE__, __LINE__, "%s", ctx.msg);
    return idx;
}

static inline int fconst(mn_graph *g, const char *name, int ndim, const int64_t *dims,
                  float lo, float hi)
{
    mn_ctx ctx = {{0}};
    int v = val(g, name, ndim, dims);
    if (v < 0 || mn_tensor_create(MN_DT_F32, ndim, dims, &g->values[v].init,
                                  &ctx) != MN_OK)
        return -1;
    for (int64_t i = 0; i < mn_tensor_numel(g->values[v].init); i++)
        ((float *)g->values[v].init->data)[i] = grand(lo, hi);
    return v;
}

static inline int node(mn_graph *g, const char *name, const char *op, const int *in,
                int n_in, const int *out, int n_out)
{
    mn_ctx ctx = {{0}};
    int idx = -1;
    if (mn_graph_add_node(g, name, op, "", 13, in, n_in, out, n_out, &idx,
                          &ctx) != MN_OK)
        mn_test_fail(__FILE__, __LINE__, "%s", ctx.msg);
    return idx;
}

static inline void attr_ints(mn_graph *g, int ni, const char *name, const int64_t *v,
                      int n)
{
    mn_attr *a;
    if (mn_node_add_attr(&g->nodes[ni], name, MN_ATTR_INTS, &a, NULL) == MN_OK)
        mn_attr_set_ints(a, v, n, NULL);
}

static inline void attr_int(mn_graph *g, int ni, const char *name, int64_t v)
{
    mn_attr *a;
    if (mn_node_add_attr(&g->nodes[ni], name, MN_ATTR_INT, &a, NULL) == MN_OK)
        a->i = v;
}

static inline void io(mn_graph *g, int in, int out)
{
    g->inputs = malloc(sizeof *g->inputs);
    g->outputs = malloc(sizeof *g->outputs);
    g->inputs[0] = in;
    g->outputs[0] = out;
    g->n_inputs = g->n_outputs = 1;
    mn_graph_relink(g);
}

/* x[N,2,8,8] → Conv(4, 3×3) → Relu → MaxPool 2 → Conv depthwise → Clip(0,6)
 * → Add(maxpool, clip) → Flatten → Gemm(3, transB) → y */
static inline mn_graph *cnn_graph(void)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    int64_t dx[4] = {-1, 2, 8, 8}, dw1[4] = {4, 2, 3, 3}, d4[1] = {4};
    int64_t dw2[4] = {4, 1, 3, 3}, dg[2] = {3, 64}, d3[1] = {3}, d0[1] = {1};
    int64_t pads[4] = {1, 1, 1, 1}, k2[2] = {2, 2};
    int x, w1, b1, c1, r1, mp, w2, c2, lo, hi, cl, ad, fl, wg, bg, y, n;
    if (mn_graph_create(&g, &ctx) != MN_OK)
        return NULL;
    x = val(g, "x", 4, dx);
    w1 = fconst(g, "w1", 4, dw1, -0.5f, 0.5f);
    b1 = fconst(g, "b1", 1, d4, -0.2f, 0.2f);
    c1 = val(g, "c1", -1, NULL);
    r1 = val(g, "r1", -1, NULL);
    mp = val(g, "mp", -1, NULL);
    w2 = fconst(g, "w2", 4, dw2, -1.0f, 1.0f);
    c2 = val(g, "c2", -1, NULL);
    lo = fconst(g, "lo", 0, d0, 0, 0);
    hi = fconst(g, "hi", 0, d0, 6, 6);
    cl = val(g, "cl", -1, NULL);
    ad = val(g, "ad", -1, NULL);
    fl = val(g, "fl", -1, NULL);
    wg = fconst(g, "wg", 2, dg, -0.3f, 0.3f);
    bg = fconst(g, "bg", 1, d3, -0.1f, 0.1f);
    y = val(g, "y", -1, NULL);
    n = node(g, "conv1", "Conv", (int[]){x, w1, b1}, 3, &c1, 1);
    attr_ints(g, n, "pads", pads, 4);
    node(g, "relu1", "Relu", &c1, 1, &r1, 1);
    n = node(g, "pool", "MaxPool", &r1, 1, &mp, 1);
    attr_ints(g, n, "kernel_shape", k2, 2);
    attr_ints(g, n, "strides", k2, 2);
    n = node(g, "conv2", "Conv", (int[]){mp, w2}, 2, &c2, 1);
    attr_ints(g, n, "pads", pads, 4);
    attr_int(g, n, "group", 4);
    node(g, "clip", "Clip", (int[]){c2, lo, hi}, 3, &cl, 1);
    node(g, "add", "Add", (int[]){mp, cl}, 2, &ad, 1);
    node(g, "flatten", "Flatten", &ad, 1, &fl, 1);
    n = node(g, "fc", "Gemm", (int[]){fl, wg, bg}, 3, &y, 1);
    attr_int(g, n, "transB", 1);
    io(g, x, y);
    return g;
}

/* x[N,2,5] → MatMul [5,6] → Add b → Relu → MatMul [6,3] → y[N,2,3] */
/* x [N, 2, 5] → MatMul + bias → Relu, or GELU as exported (Div, Erf,
 * Add, Mul, Mul), → MatMul → y [N, 2, 3]. */
static inline mn_graph *mlp_graph(int gelu)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    int64_t dx[3] = {-1, 2, 5}, d1[2] = {5, 6}, d6[1] = {6}, d2[2] = {6, 3};
    int x, w1, b1, m1, a1, r1, w2, y;
    if (mn_graph_create(&g, &ctx) != MN_OK)
        return NULL;
    x = val(g, "x", 3, dx);
    w1 = fconst(g, "w1", 2, d1, -1, 1);
    b1 = fconst(g, "b1", 1, d6, -0.5f, 0.5f);
    w2 = fconst(g, "w2", 2, d2, -1, 1);
    m1 = val(g, "m1", -1, NULL);
    a1 = val(g, "a1", -1, NULL);
    r1 = val(g, "r1", -1, NULL);
    y = val(g, "y", -1, NULL);
    node(g, "mm1", "MatMul", (int[]){x, w1}, 2, &m1, 1);
    node(g, "bias1", "Add", (int[]){m1, b1}, 2, &a1, 1);
    if (gelu) {
        int c[3], t[4];
        const float cv[3] = {1.41421356f, 1.0f, 0.5f};
        for (int k = 0; k < 3; k++)
            c[k] = fconst(g, k == 0 ? "sqrt2" : k == 1 ? "one" : "half", 0,
                          NULL, cv[k], cv[k]);
        for (int k = 0; k < 4; k++)
            t[k] = val(g, k == 0 ? "g_d" : k == 1 ? "g_e" : k == 2 ? "g_a"
                                                               : "g_m",
                       -1, NULL);
        node(g, "g_div", "Div", (int[]){a1, c[0]}, 2, &t[0], 1);
        node(g, "g_erf", "Erf", &t[0], 1, &t[1], 1);
        node(g, "g_add", "Add", (int[]){t[1], c[1]}, 2, &t[2], 1);
        node(g, "g_mul", "Mul", (int[]){a1, t[2]}, 2, &t[3], 1);
        node(g, "g_half", "Mul", (int[]){t[3], c[2]}, 2, &r1, 1);
    } else {
        node(g, "relu", "Relu", &a1, 1, &r1, 1);
    }
    node(g, "mm2", "MatMul", (int[]){r1, w2}, 2, &y, 1);
    io(g, x, y);
    return g;
}

/* Writes n random samples of shape dims (dims[0] replaced by n) as .npy. */
static inline const char *write_calib(const char *file, int ndim, const int64_t *dims,
                               int64_t n)
{
    static char spec[512];
    char path[400];
    mn_ctx ctx = {{0}};
    mn_tensor *t;
    int64_t d[MN_MAX_DIMS];
    memcpy(d, dims, sizeof d[0] * (size_t)ndim);
    d[0] = n;
    snprintf(path, sizeof path, "%s/%s", mn_test_tmp_dir(), file);
    if (mn_tensor_create(MN_DT_F32, ndim, d, &t, &ctx) != MN_OK)
        return NULL;
    for (int64_t i = 0; i < mn_tensor_numel(t); i++)
        ((float *)t->data)[i] = grand(-1, 2);
    CHECK_OK(mn_tensor_save_npy(path, t, &ctx), &ctx);
    mn_tensor_destroy(t);
    snprintf(spec, sizeof spec, "npy:%s", path);
    return spec;
}

/* Runs g on the first `n` samples of an npy file; returns a copy of output
 * 0 (caller destroys) or NULL. */
static inline mn_tensor *run_on(const mn_graph *g, const char *spec, int64_t n)
{
    mn_ctx ctx = {{0}};
    mn_tensor *x = NULL, *y = NULL, *all = NULL;
    mn_session *s = NULL;
    if (mn_tensor_load_npy(spec + 4, &all, &ctx) != MN_OK)
        goto out;
    all->dims[0] = n;
    {
        const mn_tensor *shapes[1] = {all};
        mn_session_opts o = {.n_input_shapes = 1, .input_shapes = shapes};
        if (mn_session_create(g, &o, &s, &ctx) != MN_OK ||
            mn_session_run(s, (const mn_tensor *const *)&all, 1, &ctx) != MN_OK)
            goto out;
    }
    mn_tensor_clone(mn_session_output(s, 0), &y, &ctx);
out:
    if (ctx.msg[0])
        mn_test_fail(__FILE__, __LINE__, "run: %s", ctx.msg);
    mn_session_destroy(s);
    mn_tensor_destroy(x);
    mn_tensor_destroy(all);
    return y;
}

static inline double max_diff(const mn_tensor *a, const mn_tensor *b)
{
    double m = 0;
    if (!a || !b || mn_tensor_numel(a) != mn_tensor_numel(b))
        return INFINITY;
    for (int64_t i = 0; i < mn_tensor_numel(a); i++) {
        double d = fabs((double)((float *)a->data)[i] - ((float *)b->data)[i]);
        m = d > m || d != d ? d : m;
    }
    return m;
}

static inline double max_abs(const mn_tensor *a)
{
    double m = 0;
    for (int64_t i = 0; a && i < mn_tensor_numel(a); i++)
        m = fmax(m, fabs(((float *)a->data)[i]));
    return m;
}

static inline int count_op(const mn_graph *g, const char *op)
{
    int c = 0;
    for (int i = 0; i < g->n_nodes; i++)
        c += !strcmp(g->nodes[i].op_type, op);
    return c;
}

static inline int node_named(const mn_graph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i].name, name))
            return i;
    return -1;
}

/* The scale (as a float initializer) on output-channel c of the weight DQ
 * feeding node ni's input slot, or -1. */
static inline const mn_tensor *dq_input(const mn_graph *g, int ni, int slot, int k)
{
    int v = g->nodes[ni].in[slot], p = v >= 0 ? g->values[v].producer : -1;
    if (p < 0 || strcmp(g->nodes[p].op_type, "DequantizeLinear") ||
        g->nodes[p].n_in <= k || g->nodes[p].in[k] < 0)
        return NULL;
    return g->values[g->nodes[p].in[k]].init;
}

#endif
