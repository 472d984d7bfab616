/* Helpers shared by the elementwise, reduction and normalization op tests:
 * nodes and tensors built by hand, a runner calling infer + forward. */
#ifndef MN_ELEMENTWISE_TEST_UTIL_H
#define MN_ELEMENTWISE_TEST_UTIL_H
#include <float.h>
#include <stdlib.h>
#include <string.h>
#include "ops/ops.h"
#include "test.h"

/* ---- helpers ---- */

static uint64_t rng = 88172645463325252ULL;
static inline float frand(float lo, float hi)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return lo + (hi - lo) * (float)((rng >> 11) * (1.0 / 9007199254740992.0));
}

static inline mn_tensor tens(mn_dtype dt, int ndim, const int64_t *dims, void *data)
{
    mn_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = dt;
    t.ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t.dims[i] = dims[i];
    t.data = data;
    return t;
}

static inline mn_node node(const char *op, int opset, mn_attr *attrs, int n_attrs)
{
    mn_node n;
    memset(&n, 0, sizeof n);
    n.name = (char *)"test";
    n.op_type = (char *)op;
    n.domain = (char *)"";
    n.op = mn_op_lookup("", op);
    n.opset = opset;
    n.attrs = attrs;
    n.n_attrs = n_attrs;
    return n;
}

static inline mn_attr attr_i(const char *name, int64_t v)
{
    mn_attr a;
    memset(&a, 0, sizeof a);
    a.name = (char *)name;
    a.type = MN_ATTR_INT;
    a.i = v;
    return a;
}

static inline mn_attr attr_f(const char *name, float v)
{
    mn_attr a;
    memset(&a, 0, sizeof a);
    a.name = (char *)name;
    a.type = MN_ATTR_FLOAT;
    a.f = v;
    return a;
}

static inline mn_attr attr_ints(const char *name, int64_t *v, int n)
{
    mn_attr a;
    memset(&a, 0, sizeof a);
    a.name = (char *)name;
    a.type = MN_ATTR_INTS;
    a.ints = v;
    a.n = n;
    return a;
}

static inline mn_attr attr_s(const char *name, const char *s)
{
    mn_attr a;
    memset(&a, 0, sizeof a);
    a.name = (char *)name;
    a.type = MN_ATTR_STRING;
    a.s = (char *)s;
    return a;
}

/* Infers, allocates outputs (unless out[j]->data is preset, for in-place
 * runs) and scratch, runs forward. Outputs allocated here are freed with
 * free_outs. */
static inline mn_status run(const mn_node *n, const mn_tensor **in, int n_in,
                     mn_tensor *out, int n_out, mn_ctx *ctx)
{
    const mn_op_def *def = mn_op_get(n->op);
    mn_tensor *outp[4];
    void *preset[4];
    mn_exec ex;
    mn_status st;
    if (!def)
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "no op def for %s",
                        n->op_type);
    if (strcmp(def->name, n->op_type) != 0)
        return mn_error(ctx, MN_ERR_ARG, "def name %s", def->name);
    if (n_in < def->min_in || n_in > def->max_in || n_out < def->min_out ||
        n_out > def->max_out)
        return mn_error(ctx, MN_ERR_PARSE, "arity");
    for (int j = 0; j < n_out; j++) {
        preset[j] = out[j].data;
        memset(&out[j], 0, sizeof out[j]);
        outp[j] = &out[j];
    }
    st = def->infer(n, (const mn_tensor *const *)in, n_in, outp, n_out, ctx);
    if (st != MN_OK)
        return st;
    for (int j = 0; j < n_out; j++) {
        out[j].data = preset[j] ? preset[j]
                                : mn_malloc_aligned(mn_tensor_nbytes(&out[j]) + 1);
        out[j].owns_data = !preset[j];
    }
    memset(&ex, 0, sizeof ex);
    ex.ctx = ctx;
    ex.scratch_bytes =
        def->scratch ? def->scratch(n, (const mn_tensor *const *)in, n_in,
                                    (const mn_tensor *const *)outp, n_out)
                     : 0;
    ex.scratch = ex.scratch_bytes ? mn_malloc_aligned(ex.scratch_bytes) : NULL;
    st = def->forward(n, (const mn_tensor *const *)in, n_in, outp, n_out, &ex);
    mn_free_aligned(ex.scratch);
    return st;
}

static inline void free_outs(mn_tensor *out, int n)
{
    for (int j = 0; j < n; j++) {
        if (out[j].owns_data)
            mn_free_aligned(out[j].data);
        out[j].data = NULL;
        out[j].owns_data = 0;
    }
}

static inline int dims_are(const mn_tensor *t, int nd, const int64_t *d)
{
    if (t->ndim != nd)
        return 0;
    for (int i = 0; i < nd; i++)
        if (t->dims[i] != d[i])
            return 0;
    return 1;
}

/* Flat index into x of output element `flat` under numpy broadcasting. */
static inline int64_t bidx(const mn_tensor *out, int64_t flat, const mn_tensor *x)
{
    int64_t idx = 0, stride = 1;
    for (int i = out->ndim - 1; i >= 0; i--) {
        int64_t c = flat % out->dims[i];
        flat /= out->dims[i];
        int k = i - (out->ndim - x->ndim);
        if (k < 0)
            continue;
        if (x->dims[k] != 1)
            idx += c * stride;
        stride *= x->dims[k];
    }
    return idx;
}

static inline float *rand_buf(int64_t n, float lo, float hi)
{
    float *p = malloc((size_t)n * sizeof *p);
    for (int64_t i = 0; i < n; i++)
        p[i] = frand(lo, hi);
    return p;
}

#endif
