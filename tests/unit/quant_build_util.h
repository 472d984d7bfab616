/* Small graph-building and running helpers for the quantization pass tests
 * (equalization, bias correction, analysis). Header-only: each test file
 * gets its own copies of these static functions. */
#ifndef MN_TEST_QUANT_BUILD_UTIL_H
#define MN_TEST_QUANT_BUILD_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/graph.h"
#include "core/session.h"
#include "test.h"

typedef struct qb {
    mn_graph *g;
    uint64_t rng;
} qb;

static inline float qb_rand(qb *b, float lo, float hi)
{
    b->rng = b->rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (hi - lo) * (float)((b->rng >> 40) & 0xffffff) / 16777216.0f;
}

static inline int qb_value(qb *b, const char *name, int ndim,
                           const int64_t *dims)
{
    mn_ctx ctx = {{0}};
    int v = -1;
    if (mn_graph_add_value(b->g, name, MN_DT_F32, ndim, dims, &v, &ctx) !=
        MN_OK)
        mn_test_fail(__FILE__, __LINE__, "%s", ctx.msg);
    return v;
}

/* A float initializer filled uniformly in [lo, hi). */
static inline int qb_weight(qb *b, const char *name, int ndim,
                            const int64_t *dims, float lo, float hi)
{
    mn_ctx ctx = {{0}};
    int v = qb_value(b, name, ndim, dims);
    mn_tensor *t;
    if (v < 0 || mn_tensor_create(MN_DT_F32, ndim, dims, &t, &ctx) != MN_OK)
        return -1;
    for (int64_t i = 0; i < mn_tensor_numel(t); i++)
        ((float *)t->data)[i] = qb_rand(b, lo, hi);
    b->g->values[v].init = t;
    return v;
}

/* Node op(in...) → a new value named after the node; returns the node. */
static inline int qb_node(qb *b, const char *name, const char *op,
                          const int *in, int n_in, int *out)
{
    mn_ctx ctx = {{0}};
    char vn[128];
    int ni = -1;
    snprintf(vn, sizeof vn, "%s_out", name);
    *out = qb_value(b, vn, -1, NULL);
    if (mn_graph_add_node(b->g, name, op, "", 13, in, n_in, out, 1, &ni,
                          &ctx) != MN_OK)
        mn_test_fail(__FILE__, __LINE__, "%s", ctx.msg);
    return ni;
}

static inline void qb_attr(qb *b, int ni, const char *name, mn_attr_type t,
                           int64_t i, const int64_t *v, int n)
{
    mn_attr *a;
    if (mn_node_add_attr(&b->g->nodes[ni], name, t, &a, NULL) != MN_OK)
        return;
    a->i = i;
    if (t == MN_ATTR_INTS)
        mn_attr_set_ints(a, v, n, NULL);
}

static inline void qb_io(qb *b, int in, int out)
{
    b->g->inputs = malloc(sizeof *b->g->inputs);
    b->g->outputs = malloc(sizeof *b->g->outputs);
    b->g->inputs[0] = in;
    b->g->outputs[0] = out;
    b->g->n_inputs = b->g->n_outputs = 1;
    mn_graph_relink(b->g);
}

/* Output 0 of g on x (a copy the caller destroys), NULL on failure. */
static inline mn_tensor *qb_run(const mn_graph *g, const mn_tensor *x)
{
    mn_ctx ctx = {{0}};
    mn_session *s = NULL;
    mn_tensor *y = NULL;
    const mn_tensor *shapes[1] = {x};
    mn_session_opts o = {.n_input_shapes = 1, .input_shapes = shapes};
    if (mn_session_create(g, &o, &s, &ctx) == MN_OK &&
        mn_session_run(s, &x, 1, &ctx) == MN_OK)
        mn_tensor_clone(mn_session_output(s, 0), &y, &ctx);
    if (!y)
        mn_test_fail(__FILE__, __LINE__, "run: %s", ctx.msg);
    mn_session_destroy(s);
    return y;
}

/* max |a - b| / max(max |a|, 1e-30); INFINITY when shapes differ. */
static inline double qb_rel_diff(const mn_tensor *a, const mn_tensor *b)
{
    double d = 0, m = 1e-30;
    if (!a || !b || mn_tensor_numel(a) != mn_tensor_numel(b))
        return INFINITY;
    for (int64_t i = 0; i < mn_tensor_numel(a); i++) {
        double u = ((const float *)a->data)[i], v = ((const float *)b->data)[i];
        d = fabs(u - v) > d || u != u || v != v ? fabs(u - v) : d;
        m = fabs(u) > m ? fabs(u) : m;
    }
    return d / m;
}

#endif
