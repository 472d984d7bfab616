/* Internals shared by the pruning files: the prunable-layer selection and
 * keep-mask computation of unstructured pruning (used on graph initializers
 * by mn_prune and on flat parameter arrays by the gradual-pruning masks),
 * and the structured entry point. */
#ifndef MN_PRUNE_INT_H
#define MN_PRUNE_INT_H

#include "core/graph.h"
#include "minnow/prune.h"
#include "minnow/train.h"

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

/* Channel selection without removal: removed[c] = 1 for every class of gr
 * (analyzed on its graph, whose initializers are read as they are now)
 * that method channel with options o would remove (criterion, scope,
 * sparsity or MAC target, min_channels, round_to). *target_reached (may be
 * NULL) as in the report. */
mn_status mn_prune_structured_select(mn_prune_groups *gr,
                                     const mn_prune_opts *o, uint8_t *removed,
                                     int *target_reached, mn_ctx *ctx);

/* What a pruning-aware training run (mn_prune_train) does around the
 * optimizer steps; every hook may be NULL. */
typedef struct pr_hooks {
    void *user;
    /* the trainer exists; layout: where each trainable initializer sits in
     * its flat parameter array; steps: optimizer steps in the run */
    mn_status (*start)(void *user, mn_trainer *t, const mn_param_ref *layout,
                       int n_layout, int64_t steps, mn_ctx *ctx);
    /* at the start of epoch ep (0-based) */
    mn_status (*epoch)(void *user, mn_trainer *t, int ep, mn_ctx *ctx);
    /* before every optimizer step (step counts over the whole run) */
    mn_status (*before)(void *user, float *params, int64_t step, mn_ctx *ctx);
    /* after every optimizer step, taken at learning rate lr */
    void (*after)(void *user, float *params, float lr);
    /* the "sparsity" passed to progress and returned in the result */
    double (*level)(void *user);
} pr_hooks;

/* Trains g in place on fo->data (SGD Nesterov, cosine learning rate, the
 * options' seed for the shuffling) with the hooks around every step, then
 * evaluates fo->test_data when given. */
mn_status mn_prune_train(mn_graph *g, const mn_prune_finetune_opts *fo,
                         const pr_hooks *h, mn_prune_finetune_result *res,
                         mn_ctx *ctx);

/* Node label for reports: node name, else its first output's name. */
const char *mn_prune_node_name(const mn_graph *g, int ni);

#endif
