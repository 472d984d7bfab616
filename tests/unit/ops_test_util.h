/* Helpers for op-level unit tests: build an mn_node by hand, make random
 * tensors, and run an op def's infer → scratch → forward with outputs
 * pre-filled with a poison pattern (so unwritten elements show up). */
#ifndef MN_TESTS_OPS_TEST_UTIL_H
#define MN_TESTS_OPS_TEST_UTIL_H

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ops/ops.h"

static uint64_t otu_rng = 0x9E3779B97F4A7C15ull;

static inline void otu_seed(uint64_t s) { otu_rng = s * 2654435761u + 1; }

static inline uint32_t otu_rand(void)
{
    otu_rng ^= otu_rng << 13;
    otu_rng ^= otu_rng >> 7;
    otu_rng ^= otu_rng << 17;
    return (uint32_t)(otu_rng >> 16);
}

/* Uniform integer in [lo, hi]. */
static inline int64_t otu_int(int64_t lo, int64_t hi)
{
    return lo + (int64_t)(otu_rand() % (uint32_t)(hi - lo + 1));
}

/* Uniform float in [-1, 1). */
static inline float otu_float(void)
{
    return (float)(otu_rand() & 0xFFFFFF) / 8388608.0f - 1.0f;
}

static inline void otu_node(mn_node *n, const char *op)
{
    memset(n, 0, sizeof *n);
    n->name = (char *)"test";
    n->op_type = (char *)op;
    n->domain = (char *)"";
    n->opset = 13;
}

static inline mn_attr *otu_attr(mn_node *n, const char *name, mn_attr_type t)
{
    mn_attr *a = NULL;
    mn_ctx c = {{0}};
    if (mn_node_add_attr(n, name, t, &a, &c) != MN_OK)
        return NULL;
    return a;
}

static inline void otu_ints(mn_node *n, const char *name, const int64_t *v,
                            int cnt)
{
    mn_ctx c = {{0}};
    mn_attr *a = otu_attr(n, name, MN_ATTR_INTS);
    if (a)
        mn_attr_set_ints(a, v, cnt, &c);
}

static inline void otu_int_attr(mn_node *n, const char *name, int64_t v)
{
    mn_attr *a = otu_attr(n, name, MN_ATTR_INT);
    if (a)
        a->i = v;
}

static inline void otu_float_attr(mn_node *n, const char *name, float v)
{
    mn_attr *a = otu_attr(n, name, MN_ATTR_FLOAT);
    if (a)
        a->f = v;
}

static inline void otu_str_attr(mn_node *n, const char *name, const char *v)
{
    mn_ctx c = {{0}};
    mn_attr *a = otu_attr(n, name, MN_ATTR_STRING);
    if (a)
        mn_attr_set_string(a, v, &c);
}

static inline void otu_node_free(mn_node *n)
{
    for (int i = 0; i < n->n_attrs; i++)
        mn_attr_clear(&n->attrs[i]);
    free(n->attrs);
    n->attrs = NULL;
    n->n_attrs = 0;
}

/* A zeroed tensor (NULL on failure). */
static inline mn_tensor *otu_tensor(mn_dtype dt, int ndim, const int64_t *dims)
{
    mn_tensor *t = NULL;
    mn_ctx c = {{0}};
    if (mn_tensor_create(dt, ndim, dims, &t, &c) != MN_OK)
        return NULL;
    return t;
}

/* Random contents: floats in [-1,1), 8-bit and wider integers over their
 * whole range (int32/int64 in [-50, 50]). */
static inline mn_tensor *otu_random(mn_dtype dt, int ndim, const int64_t *dims)
{
    mn_tensor *t = otu_tensor(dt, ndim, dims);
    if (!t)
        return NULL;
    int64_t n = mn_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) {
        switch (dt) {
        case MN_DT_F32: ((float *)t->data)[i] = otu_float(); break;
        case MN_DT_U8: ((uint8_t *)t->data)[i] = (uint8_t)otu_rand(); break;
        case MN_DT_I8: ((int8_t *)t->data)[i] = (int8_t)otu_rand(); break;
        case MN_DT_I32: ((int32_t *)t->data)[i] = (int32_t)otu_int(-50, 50); break;
        case MN_DT_I64: ((int64_t *)t->data)[i] = otu_int(-50, 50); break;
        default: break;
        }
    }
    return t;
}

/* infer, then (when it succeeds) scratch + forward, the op splitting its
 * work over pool when it does (NULL: one thread). out[0..n_out) get data
 * from mn_malloc_aligned, poisoned first; release with otu_out_free. */
static inline mn_status otu_run_pool(const mn_op_def *def, const mn_node *n,
                                     const mn_tensor *const *in, int n_in,
                                     mn_tensor *out, int n_out,
                                     struct mn_pool *pool, mn_ctx *ctx)
{
    mn_tensor *op[8];
    mn_status st;
    for (int j = 0; j < n_out; j++) {
        memset(&out[j], 0, sizeof out[j]);
        op[j] = &out[j];
    }
    if (!def)
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "op def not linked");
    st = def->infer(n, in, n_in, op, n_out, ctx);
    if (st != MN_OK)
        return st;
    for (int j = 0; j < n_out; j++) {
        size_t nb = mn_tensor_nbytes(&out[j]);
        out[j].data = mn_malloc_aligned(nb ? nb : 1);
        if (!out[j].data)
            return mn_error(ctx, MN_ERR_OOM, "test output");
        memset(out[j].data, 0xC3, nb);
    }
    size_t sb = def->scratch ? def->scratch(n, in, n_in,
                                            (const mn_tensor *const *)op,
                                            n_out)
                             : 0;
    void *s = sb ? mn_malloc_aligned(sb) : NULL;
    if (s)
        memset(s, 0x7F, sb);
    mn_exec ex = {.ctx = ctx, .scratch = s, .scratch_bytes = sb,
                  .pool = pool};
    st = def->forward(n, in, n_in, op, n_out, &ex);
    mn_free_aligned(s);
    return st;
}

/* ... on one thread (no pool), as most tests run ops. */
static inline mn_status otu_run(const mn_op_def *def, const mn_node *n,
                                const mn_tensor *const *in, int n_in,
                                mn_tensor *out, int n_out, mn_ctx *ctx)
{
    return otu_run_pool(def, n, in, n_in, out, n_out, NULL, ctx);
}

static inline void otu_out_free(mn_tensor *out, int n_out)
{
    for (int j = 0; j < n_out; j++) {
        mn_free_aligned(out[j].data);
        out[j].data = NULL;
    }
}

/* max |got - want| / (1 + |want|) over n floats. */
static inline double otu_err(const float *got, const double *want, int64_t n)
{
    double e = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]) / (1.0 + fabs(want[i]));
        if (!(d <= e))
            e = d; /* NaN propagates as the largest error */
    }
    return e;
}

#endif
