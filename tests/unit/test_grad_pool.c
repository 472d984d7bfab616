/* Gradient checks: MaxPool (distinct inputs so no window has a tie, padded,
 * strided, overlapping, ceil_mode), AveragePool (with and without
 * count_include_pad), GlobalAveragePool, ReduceMean and ReduceSum. */
#include "grad_check.h"
#include "test.h"

static void pool(const char *op, int k, int s, int pad, int ceil, int incl,
                 uint64_t seed)
{
    mn_graph *g = gc_graph(op, op[0] == 'M' ? 12 : 19, 1, 1);
    int64_t xd[4] = {2, 3, 7, 6};
    int64_t ks[2] = {k, k}, st[2] = {s, s}, pads[4] = {pad, pad, 0, pad};
    char where[96];
    gc_attr_ints(g, "kernel_shape", ks, 2);
    gc_attr_ints(g, "strides", st, 2);
    gc_attr_ints(g, "pads", pads, 4);
    if (ceil)
        gc_attr_int(g, "ceil_mode", 1);
    if (incl)
        gc_attr_int(g, "count_include_pad", 1);
    /* 0.05 apart: no tie in any window survives a perturbation of h */
    mn_tensor *in[1] = {gc_spread(4, xd, seed, 0.05f)};
    snprintf(where, sizeof where, "%s k%d s%d p%d ceil%d incl%d", op, k, s,
             pad, ceil, incl);
    GC_CHECK(where, g, in, 1, 1u, NULL);
}

TEST(grad_maxpool)
{
    pool("MaxPool", 2, 2, 0, 0, 0, 1);
    pool("MaxPool", 3, 2, 1, 0, 0, 2);
    pool("MaxPool", 3, 1, 1, 0, 0, 3);
    pool("MaxPool", 2, 2, 0, 1, 0, 4);
}

TEST(grad_avgpool)
{
    pool("AveragePool", 2, 2, 0, 0, 0, 5);
    pool("AveragePool", 3, 2, 1, 0, 0, 6);
    pool("AveragePool", 3, 2, 1, 0, 1, 7);
    pool("AveragePool", 2, 2, 0, 1, 0, 8);
}

TEST(grad_global_avgpool)
{
    mn_graph *g = gc_graph("GlobalAveragePool", 1, 1, 1);
    int64_t xd[4] = {2, 3, 4, 5};
    mn_tensor *in[1] = {gc_rand(4, xd, 9, -1, 1, 0)};
    GC_CHECK("GlobalAveragePool", g, in, 1, 1u, NULL);
}

TEST(grad_reduce)
{
    int64_t xd[4] = {2, 3, 4, 5};
    int64_t ax23[2] = {2, 3}, ax1[1] = {-3};
    /* ReduceMean-13: axes attribute, keepdims 1 */
    mn_graph *g = gc_graph("ReduceMean", 13, 1, 1);
    gc_attr_ints(g, "axes", ax23, 2);
    mn_tensor *in[2] = {gc_rand(4, xd, 10, -1, 1, 0)};
    GC_CHECK("ReduceMean axes 2,3", g, in, 1, 1u, NULL);
    /* keepdims 0 over a negative axis */
    g = gc_graph("ReduceMean", 13, 1, 1);
    gc_attr_ints(g, "axes", ax1, 1);
    gc_attr_int(g, "keepdims", 0);
    in[0] = gc_rand(4, xd, 11, -1, 1, 0);
    GC_CHECK("ReduceMean axis -3", g, in, 1, 1u, NULL);
    /* ReduceMean-18: axes as an input */
    g = gc_graph("ReduceMean", 18, 2, 1);
    in[0] = gc_rand(4, xd, 12, -1, 1, 0);
    in[1] = gc_i64(ax23, 2);
    GC_CHECK("ReduceMean-18", g, in, 2, 1u, NULL);
    /* ReduceSum-13 over everything */
    g = gc_graph("ReduceSum", 13, 1, 1);
    in[0] = gc_rand(4, xd, 13, -1, 1, 0);
    GC_CHECK("ReduceSum all", g, in, 1, 1u, NULL);
}
