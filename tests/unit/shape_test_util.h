/* Helpers of the shape, constant and (de)quantize op tests
 * (test_ops_shape.c, test_ops_shape_const.c, test_ops_quantize.c): attributes
 * and nodes built by hand, tensors over caller memory, one op run through
 * the op table's infer and forward. */
#ifndef MN_TESTS_SHAPE_TEST_UTIL_H
#define MN_TESTS_SHAPE_TEST_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ops/ops.h"
#include "test.h"

static inline mn_attr a_int(const char *name, int64_t v)
{
    return (mn_attr){.name = (char *)name, .type = MN_ATTR_INT, .i = v};
}

static inline mn_attr a_ints(const char *name, int64_t *v, int n)
{
    return (mn_attr){.name = (char *)name, .type = MN_ATTR_INTS, .ints = v,
                     .n = n};
}

static inline mn_attr a_float(const char *name, float v)
{
    return (mn_attr){.name = (char *)name, .type = MN_ATTR_FLOAT, .f = v};
}

static inline mn_attr a_str(const char *name, const char *s)
{
    return (mn_attr){.name = (char *)name, .type = MN_ATTR_STRING,
                     .s = (char *)s};
}

static inline mn_node mk(const char *op, int opset, mn_attr *attrs, int na)
{
    mn_node n = {0};
    n.name = (char *)"t";
    n.op_type = (char *)op;
    n.domain = (char *)"";
    n.opset = opset;
    n.op = mn_op_lookup("", op);
    n.attrs = attrs;
    n.n_attrs = na;
    return n;
}

static inline mn_tensor tn(mn_dtype dt, int ndim, const int64_t *dims,
                           void *data)
{
    mn_tensor t = {0};
    t.dtype = dt;
    t.ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t.dims[i] = dims[i];
    t.data = data;
    return t;
}

/* Runs infer, allocates outputs, runs forward. Output data must be released
 * with free_outs (also after a failure). */
static inline mn_status run_op(const mn_node *n, const mn_tensor **in,
                               int n_in, mn_tensor *out, int n_out,
                               mn_ctx *ctx)
{
    const mn_op_def *def = mn_op_get(n->op);
    mn_tensor *op[8];
    mn_exec ex = {.ctx = ctx};
    mn_status st;
    if (!def) {
        mn_error(ctx, MN_ERR_UNSUPPORTED, "no op def for %s", n->op_type);
        return MN_ERR_UNSUPPORTED;
    }
    for (int j = 0; j < n_out; j++) {
        memset(&out[j], 0, sizeof out[j]);
        op[j] = &out[j];
    }
    st = def->infer(n, in, n_in, op, n_out, ctx);
    if (st != MN_OK)
        return st;
    for (int j = 0; j < n_out; j++) {
        size_t b = mn_tensor_nbytes(&out[j]);
        out[j].data = calloc(1, b ? b : 1);
    }
    return def->forward(n, in, n_in, op, n_out, &ex);
}

static inline void free_outs(mn_tensor *out, int n_out)
{
    for (int j = 0; j < n_out; j++) {
        free(out[j].data);
        out[j].data = NULL;
    }
}

static inline void check_dims(const mn_tensor *t, int ndim,
                              const int64_t *dims)
{
    CHECK_EQ_INT(t->ndim, ndim);
    for (int i = 0; i < ndim && i < t->ndim; i++)
        CHECK_EQ_INT(t->dims[i], dims[i]);
}

static inline int has(const mn_ctx *ctx, const char *s)
{
    return strstr(ctx->msg, s) != NULL;
}

#endif
