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

#endif
