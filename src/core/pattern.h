/* Node patterns that several compilers recognize in an exported graph
 * (the session's step fusion, the training tape's fused steps), matched
 * in one place. The graph is not changed. */
#ifndef MN_CORE_PATTERN_H
#define MN_CORE_PATTERN_H

#include "core/graph.h"

/* GELU as PyTorch exports it below opset 20:
 *   d = Div(x, √2); e = Erf(d); a = Add(e, 1); m = Mul(x, a); y = Mul(m, ½)
 * (either operand order of the Add and the Muls; the constants float32
 * initializers within 1e-6 relative), starting at node di, when d, e, a
 * and m each have exactly one reader (the next node) and none is a graph
 * output. Fills chain[5] (the five node indices in order) and *x. */
int mn_pattern_gelu(const mn_graph *g, int di, int chain[5], int *x);

/* LayerNorm over the last axis as exported below opset 17:
 *   m = ReduceMean(x); d = Sub(x, m); p = Pow(d, 2); v = ReduceMean(p);
 *   a = Add(v, eps); s = Sqrt(a); n = Div(d, s); g = Mul(n, gamma);
 *   y = Add(g, beta)
 * starting at the first ReduceMean, node ri: both ReduceMeans keep their
 * dims and reduce one axis given as an attribute (-1, or the caller
 * checks it is the last), eps a float32 scalar initializer, gamma and
 * beta initializers (either operand order of the Adds and the Mul); d is
 * read by Pow and Div only, every other value of the chain by the next
 * node only, none a graph output. Fills chain[9] (the nodes in order),
 * *x, *gamma, *beta, *eps and axis[2] (the two ReduceMeans' axes as
 * given: -1, or a count from the front the caller checks). */
int mn_pattern_layernorm(const mn_graph *g, int ri, int chain[9], int *x,
                         int *gamma, int *beta, float *eps, int64_t axis[2]);

#endif
