/* Internals shared by the pruning files: the prunable-layer selection and
 * keep-mask computation of unstructured pruning (used on graph initializers
 * by mn_prune and on flat parameter arrays by the gradual-pruning masks),
 * and the structured entry point. */
#ifndef MN_PRUNE_INT_H
#define MN_PRUNE_INT_H

#include "core/graph.h"
#include "minnow/prune.h"

/* One prunable weight: element (o, i, s) sits at (o·I + i)·S + s, i being
 * the input channel (N:M blocks run along i). */
typedef struct pr_seg {
    int node, value;      /* first node reading it; its initializer value */
    int64_t n;            /* elements */
    int64_t O, I, S;
    int64_t koff;         /* offset of this segment in a concatenated mask */
    int skipped;          /* keep_first / keep_last */
    int nm_skipped;       /* fewer than m input channels: N:M leaves it */
} pr_seg;

/* The prunable layers of g in topological order (Conv, Gemm, MatMul with a
 * constant float32 weight; shared weights once), with keep_first/keep_last
 * applied. Fails naming the model when there is none left. */
mn_status mn_prune_select(const mn_graph *g, const mn_prune_opts *o,
                          pr_seg **segs, int *n_segs, int64_t *total,
                          mn_ctx *ctx);
/* Resolves opts n:m (derived from sparsity when 0:0) into *n, *m. */
mn_status mn_prune_nm_pattern(const mn_prune_opts *o, int *n, int *m,
                              mn_ctx *ctx);
/* keep[seg.koff + i] = 1 when element i of segment seg survives, for method
 * magnitude/random/nm at this sparsity; skipped segments keep everything.
 * data[k] is segment k's weights. */
mn_status mn_prune_keep(const pr_seg *segs, int n_segs,
                        const float *const *data, const mn_prune_opts *o,
                        double sparsity, int nm_n, int nm_m, uint8_t *keep,
                        mn_ctx *ctx);

/* Unstructured pass on the graph (mn_prune dispatches here). */
mn_status mn_prune_unstructured(mn_graph *g, const mn_prune_opts *o,
                                mn_prune_report *r, mn_ctx *ctx);
/* Structured pass: channel (criterion + fraction/MAC target) or zero. */
mn_status mn_prune_structured(mn_graph *g, const mn_prune_opts *o,
                              mn_prune_report *r, mn_ctx *ctx);

/* Node label for reports: node name, else its first output's name. */
const char *mn_prune_node_name(const mn_graph *g, int ni);

#endif
