/* Graph clean-up passes (internal). Each pass rewrites the graph in place,
 * keeps it topologically sorted and valid, and adds to *changed the number of
 * rewrites it made; mn_graph_optimize (passes.c) runs them to a fixed point,
 * then removes dead nodes. Shape-dependent rewrites use the static shape
 * propagation below, which keeps a symbolic batch symbolic. */
#ifndef MN_CORE_PASSES_H
#define MN_CORE_PASSES_H

#include "core/graph.h"

/* Graph-level constant folding: all-constant nodes (Constant included)
 * become initializers; Shape of a fully known value becomes a constant; a
 * Reshape whose shape comes from a Shape→Gather→Unsqueeze→Concat chain gets
 * a constant shape with 0 where the (symbolic) batch is copied. */
mn_status mn_pass_const_fold(mn_graph *g, int *changed, mn_ctx *ctx);
/* BatchNormalization after Conv / Gemm / MatMul(+Add) with constant weights
 * is folded into those weights. */
mn_status mn_pass_bn_fold(mn_graph *g, int *changed, mn_ctx *ctx);
/* Identity, inference Dropout, same-shape Reshape/Flatten, identity
 * Transpose, same-type Cast, single-input Concat removed; Reshape chains
 * merged. */
mn_status mn_pass_simplify(mn_graph *g, int *changed, mn_ctx *ctx);

/* ---- static shapes ----
 * Propagates shapes through the op table twice, with the symbolic leading
 * dimension of graph inputs set to 1 and to 2 (other symbolic input dims to
 * 224 and 256); a dimension that differs between the runs is symbolic.
 * Compile-time constants are evaluated on the way (like a session does), so
 * shape-computing subgraphs resolve. Unsupported ops leave their outputs
 * unknown (ndim -1). */
typedef struct mn_shapes {
    int n_values;
    mn_tensor *run[2]; /* per value: dtype/ndim/dims, data NULL; ndim -1 = unknown */
} mn_shapes;

mn_status mn_shapes_compute(const mn_graph *g, mn_shapes *out, mn_ctx *ctx);
void mn_shapes_free(mn_shapes *s);
/* Computes *s on first use (*state 0 → 1, or -1 when the graph's shapes
 * cannot be propagated, which is not an error: shape-based rewrites are
 * then skipped). Only running out of memory fails. */
mn_status mn_shapes_lazy(const mn_graph *g, mn_shapes *s, int *state,
                         mn_ctx *ctx);
/* Merged shape of value v: dims that differ between the runs are -1.
 * Returns 0 (and leaves *t unknown, ndim -1) when the shape is unknown. */
int mn_shapes_get(const mn_shapes *s, int v, mn_tensor *t);
/* Runs mn_shapes_compute and stores the merged dtype/ndim/dims into every
 * computed value (value.ndim/dims, -1 where symbolic), so exporters can write
 * value_info. Graph inputs and initializers keep theirs. */
mn_status mn_graph_infer_shapes(mn_graph *g, mn_ctx *ctx);

/* ---- helpers shared by the passes (passes.c) ---- */
/* Adds an initializer value named after `base` (made unique) that takes
 * ownership of t (also on failure). */
mn_status mn_pass_add_init(mn_graph *g, const char *base, mn_tensor *t,
                           int *idx, mn_ctx *ctx);
/* Makes node ni's input slot read an initializer nobody else reads (cloning
 * a shared one) and returns its tensor, ready to be modified in place. */
mn_status mn_pass_private_init(mn_graph *g, int ni, int slot, mn_tensor **out,
                               mn_ctx *ctx);
/* Removes node ni whose output `out_slot` equals its input `in_slot`
 * (Identity-like). Readers of the output read the input instead; when the
 * output is a graph output its name is kept by renaming the producer's
 * output. Returns 0 (graph untouched) when that cannot be done, e.g. a graph
 * input passed straight to a graph output. */
int mn_pass_bypass(mn_graph *g, int ni, int in_slot, int out_slot);
/* Replaces node ni by making the producer of its input `in_slot`
 * write node ni's output 0 instead (the node's effect having been folded into
 * the producer); the node is removed. The caller checked that the input has
 * no other reader and is not a graph output. */
void mn_pass_absorb(mn_graph *g, int ni, int in_slot);

#endif
