/* Helpers of the graph-pass tests (test_passes_bn.c, test_passes_fold.c,
 * test_passes_simplify.c): graphs built value by value and node by node,
 * run through a session before and after mn_graph_optimize on random
 * inputs, outputs compared (1e-5 relative). */
#ifndef MN_TESTS_PASSES_TEST_UTIL_H
#define MN_TESTS_PASSES_TEST_UTIL_H

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/passes.h"
#include "ops/ops.h"
#include "test.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static inline float frand(float lo, float hi)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (hi - lo) * (float)((rng >> 40) & 0xffffff) / 16777216.0f;
}

/* ---- graph building ---- */

static inline int val(mn_graph *g, const char *name, int ndim,
                      const int64_t *dims)
{
    mn_ctx ctx = {{0}};
    int idx = -1;
    if (mn_graph_add_value(g, name, MN_DT_F32, ndim, dims, &idx, &ctx) != MN_OK)
        mn_test_fail(__FILE__, __LINE__, "%s", ctx.msg);
    return idx;
}

static inline int fconst(mn_graph *g, const char *name, int ndim,
                         const int64_t *dims, float lo, float hi)
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

static inline int iconst(mn_graph *g, const char *name, int ndim,
                         const int64_t *v, int n)
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

static inline int node(mn_graph *g, const char *name, const char *op,
                       const int *in, int n_in, const int *out, int n_out)
{
    mn_ctx ctx = {{0}};
    int idx = -1;
    if (mn_graph_add_node(g, name, op, "", 13, in, n_in, out, n_out, &idx,
                          &ctx) != MN_OK)
        mn_test_fail(__FILE__, __LINE__, "%s", ctx.msg);
    return idx;
}

static inline void attr_i(mn_graph *g, int ni, const char *name, int64_t v)
{
    mn_attr *a;
    if (mn_node_add_attr(&g->nodes[ni], name, MN_ATTR_INT, &a, NULL) == MN_OK)
        a->i = v;
}

static inline void attr_f(mn_graph *g, int ni, const char *name, float v)
{
    mn_attr *a;
    if (mn_node_add_attr(&g->nodes[ni], name, MN_ATTR_FLOAT, &a, NULL) == MN_OK)
        a->f = v;
}

static inline void attr_is(mn_graph *g, int ni, const char *name,
                           const int64_t *v, int n)
{
    mn_attr *a;
    if (mn_node_add_attr(&g->nodes[ni], name, MN_ATTR_INTS, &a, NULL) == MN_OK)
        mn_attr_set_ints(a, v, n, NULL);
}

static inline void set_io(mn_graph *g, const int *in, int n_in, const int *out,
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
static inline int bn(mn_graph *g, const char *name, int x, int y, int64_t C)
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

static inline int count_op(const mn_graph *g, mn_opcode op)
{
    int c = 0;
    for (int i = 0; i < g->n_nodes; i++)
        c += g->nodes[i].op == op;
    return c;
}

static inline int have_ops(const mn_opcode *ops, int n)
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
static inline int run(const mn_graph *g, int batch, mn_tensor **xs,
                      mn_tensor **outs, const char *what)
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

static inline mn_tensor *random_input(const mn_graph *g, int i, int batch)
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

/* A fused session of g (`threads`) and an unfused one (keep_values), both
 * run `reps` times on the same random inputs in[i] (one per graph input,
 * at most 2; in[1] NULL for one); with `same`, every output must be the
 * same bytes after each run (a second run: no stale state). Returns 1
 * with the sessions, 0 on a failure (reported); either way the caller
 * ends with fused_and_plain_free. */
static inline int fused_and_plain(const mn_graph *g, int threads, int reps,
                                  int same, mn_session **fs, mn_session **us,
                                  mn_tensor *in[2])
{
    mn_ctx ctx = {{0}};
    mn_session_opts fo = {.batch = 1, .threads = threads},
                    uo = {.batch = 1, .keep_values = 1};
    *fs = *us = NULL;
    in[0] = random_input(g, 0, 1);
    in[1] = g->n_inputs > 1 ? random_input(g, 1, 1) : NULL;
    CHECK(g->n_inputs <= 2);
    CHECK_OK(mn_session_create(g, &fo, fs, &ctx), &ctx);
    CHECK_OK(mn_session_create(g, &uo, us, &ctx), &ctx);
    if (!*fs || !*us || !in[0] || g->n_inputs > 2)
        return 0;
    for (int rep = 0; rep < reps; rep++) {
        CHECK_OK(mn_session_run(*fs, (const mn_tensor *const *)in,
                                g->n_inputs, &ctx), &ctx);
        CHECK_OK(mn_session_run(*us, (const mn_tensor *const *)in,
                                g->n_inputs, &ctx), &ctx);
        for (int o = 0; same && o < g->n_outputs; o++) {
            const mn_tensor *a = mn_session_output(*fs, o),
                            *b = mn_session_output(*us, o);
            CHECK(memcmp(a->data, b->data, mn_tensor_nbytes(a)) == 0);
        }
    }
    return 1;
}

static inline void fused_and_plain_free(mn_session *fs, mn_session *us,
                                        mn_tensor *in[2])
{
    mn_tensor_destroy(in[0]);
    mn_tensor_destroy(in[1]);
    mn_session_destroy(fs);
    mn_session_destroy(us);
}

static inline int close_enough(float a, float b)
{
    double tol = 1e-5 * fmax(1.0, fabs((double)b));
    return fabs((double)a - (double)b) <= tol;
}

/* Runs ref and opt at `batch` on the same random inputs; every output must
 * have the same name, shape and values. */
static inline void check_same_outputs(const mn_graph *ref, const mn_graph *opt,
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
static inline mn_graph *optimize_and_compare(const mn_graph *g,
                                             const char *what)
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

#endif
