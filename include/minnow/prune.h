/* minnow pruning: graph passes that zero weights (unstructured magnitude or
 * random, N:M along input channels) or physically remove channels
 * (structured, over dependency groups found automatically), the polynomial
 * gradual-pruning schedule with masks over flat parameter arrays, and the
 * group-sparsity helpers (group norms, proximal group-lasso and half-space
 * steps) a trainer calls for OTO-style training.
 *
 * Unstructured and N:M pruning keep every tensor's shape (dense storage: an
 * ONNX file does not shrink; minnow's own format stores sparsity compactly).
 * Channel pruning slices the weights, biases and BatchNorm parameters of
 * every member of a dependency group, so the result is a smaller dense model
 * that every runtime runs with fewer MACs. */
#ifndef MINNOW_PRUNE_H
#define MINNOW_PRUNE_H

#include "minnow/minnow.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mn_prune_method {
    MN_PRUNE_MAGNITUDE = 0, /* zero the smallest |w| */
    MN_PRUNE_RANDOM = 1,    /* zero a seeded random subset (baseline) */
    MN_PRUNE_NM = 2,        /* keep the n largest of every m consecutive
                               input channels */
    MN_PRUNE_CHANNEL = 3,   /* remove channels (structured) */
    MN_PRUNE_ZERO = 4,      /* remove exactly-zero channel groups (after
                               group-sparse training); outputs unchanged */
    MN_PRUNE_OTO = 5,       /* mn_prune: as zero, after mn_prune_oto_train
                               drove the groups channel pruning with these
                               options would remove to zero (Only-Train-
                               Once); the report checks the MAC target */
    MN_PRUNE_METHOD_COUNT
} mn_prune_method;

typedef enum mn_prune_scope {
    MN_PRUNE_LAYER = 0,  /* the same fraction in every layer / group */
    MN_PRUNE_GLOBAL = 1, /* one ranking over all layers / groups */
    MN_PRUNE_SCOPE_COUNT
} mn_prune_scope;

typedef enum mn_prune_criterion {
    MN_PRUNE_L1 = 0,     /* sum |w| over the channel's weight slices */
    MN_PRUNE_L2 = 1,     /* sqrt(sum w^2) over the same */
    MN_PRUNE_BN = 2,     /* |gamma| of the BatchNormalizations (groups
                            without one fall back to L2) */
    MN_PRUNE_TAYLOR = 3, /* sum over slices of (sum w*dL/dw)^2 (Molchanov
                            2019); needs gradients */
    MN_PRUNE_CRITERION_COUNT
} mn_prune_criterion;

/* The gradient of one weight initializer (same element count), for the
 * Taylor criterion. Borrowed. */
typedef struct mn_prune_grad {
    const char *name; /* initializer (value) name */
    const float *data;
    int64_t numel;
} mn_prune_grad;

typedef struct mn_prune_opts {
    mn_prune_method method;
    /* unstructured: fraction of the selected weights that are zero
     * afterwards, in [0, 1); channel: fraction of each group's channels
     * removed (scope layer) or of all channels (scope global), unless
     * target_macs_ratio is set */
    double sparsity;
    int n, m;                  /* N:M; 0, 0 → derived from sparsity (the
                                  smallest m >= 4 with (1-sparsity)·m whole) */
    mn_prune_scope scope;
    int keep_first, keep_last; /* leave the first / last prunable layer */
    uint64_t seed;             /* random method */
    mn_prune_criterion criterion;
    /* channel: in (0, 1): remove channels until MACs <= this fraction of
     * the original (0: use sparsity) */
    double target_macs_ratio;
    int min_channels;          /* channel: keep at least this many per group
                                  (0 → 1) */
    int round_to;              /* channel: kept channels per group rounded up
                                  to a multiple of this (SIMD-friendly widths
                                  run faster, e.g. 8); 0, 1 → exact */
    /* channel: channels around operators whose channel mapping minnow does
     * not know are kept (pinned) instead of failing */
    int pin_unresolved;
    const mn_prune_grad *grads; /* taylor */
    int n_grads;
} mn_prune_opts;

typedef struct mn_prune_layer {
    char name[128];
    char op[32];
    int64_t params;          /* elements of the layer's weight */
    int64_t zeros_before, zeros_after;
    int64_t channels_before, channels_after; /* output channels / features */
    int64_t macs_before, macs_after;
    int skipped;             /* 1: left unchanged (first/last, too few input
                                channels for N:M, pinned channels) */
} mn_prune_layer;

typedef struct mn_prune_report {
    mn_prune_method method;
    int n_layers;
    mn_prune_layer *layers;  /* owned; mn_prune_report_free */
    int64_t params_before, params_after;
    int64_t nonzero_before, nonzero_after;
    int64_t macs_before, macs_after;
    double sparsity;         /* zeros / elements over the pruned layers */
    int n, m;                /* N:M pattern used */
    /* structured */
    int groups;              /* dependency groups with removable channels */
    int64_t channels;        /* removable channels before */
    int64_t channels_removed;
    int64_t channels_pinned; /* channels that cannot be removed */
    int bn_fallback_groups;  /* criterion bn: groups scored by L2 instead */
    int target_reached;      /* target_macs_ratio met (1 when not asked) */
    char note[256];          /* e.g. which layers were pinned and why */
} mn_prune_report;

void mn_prune_opts_default(mn_prune_opts *o);
const char *mn_prune_method_name(mn_prune_method m);
const char *mn_prune_criterion_name(mn_prune_criterion c);
/* Name → enum; -1 when unknown. */
int mn_prune_method_parse(const char *s);
int mn_prune_criterion_parse(const char *s);

/* Prunes g in place. Bad options, a graph without prunable layer, or (channel
 * methods) a coupling minnow cannot resolve fail with a message naming the
 * layer. Channel methods first fold constants and simplify the graph. On
 * failure g may have been simplified but computes the same function. r may
 * be NULL. The same options and seed give the same graph. */
mn_status mn_prune(mn_graph *g, const mn_prune_opts *o, mn_prune_report *r,
                   mn_ctx *ctx);
void mn_prune_report_free(mn_prune_report *r);

/* ---- gradual pruning: schedule and masks over flat parameter arrays ---- */

/* Zhu & Gupta (2017): s(t) = s_f + (s_i - s_f)·(1 - (t - t0)/(t1 - t0))^p,
 * evaluated at the last update step (begin + k·frequency) at or before t;
 * 0 before begin_step, final_sparsity from end_step on. */
typedef struct mn_prune_schedule {
    double initial_sparsity, final_sparsity;
    int64_t begin_step, end_step, frequency; /* frequency 0 → 100 */
    double power;                            /* 0 → 3 */
} mn_prune_schedule;

mn_status mn_prune_schedule_check(const mn_prune_schedule *s, mn_ctx *ctx);
double mn_prune_schedule_sparsity(const mn_prune_schedule *s, int64_t step);
/* 1 when the mask should be recomputed at this step. */
int mn_prune_schedule_due(const mn_prune_schedule *s, int64_t step);

/* Where initializer `name` (numel elements) sits in a flat parameter array. */
typedef struct mn_param_ref {
    const char *name;
    int64_t offset, numel;
} mn_param_ref;

typedef struct mn_prune_mask mn_prune_mask;

/* A mask over the prunable weights of g (selected as mn_prune does: Conv,
 * Gemm and MatMul weights, keep_first/keep_last, method magnitude/random/nm,
 * scope) located in a flat array by layout. Initially it keeps exactly the
 * non-zero entries of params (so a model pruned once keeps its zeros while
 * fine-tuning). */
mn_status mn_prune_mask_create(const mn_graph *g, const mn_prune_opts *o,
                               const mn_param_ref *layout, int n_layout,
                               const float *params, mn_prune_mask **out,
                               mn_ctx *ctx);
void mn_prune_mask_destroy(mn_prune_mask *m);
/* Recomputes the mask from the current params at this sparsity (N:M uses
 * the pattern instead) and applies it. Pruned weights are zero, so a rising
 * sparsity never revives them (magnitude). */
mn_status mn_prune_mask_update(mn_prune_mask *m, float *params,
                               double sparsity, mn_ctx *ctx);
/* x[i] = 0 where the mask prunes: call on parameters after every optimizer
 * step (and on gradients, if wanted, before it). */
void mn_prune_mask_apply(const mn_prune_mask *m, float *x);
double mn_prune_mask_sparsity(const mn_prune_mask *m);

/* ---- fine-tuning with masks (on the training engine, minnow/train.h) ---- */

/* Fine-tuning learning rate when none is given (`minnow prune --lr`).
 * 0.05: on resnet8 at 90 % (gradual, 3 epochs) 0.01 / 0.05 / 0.1 reached
 * 91.75 / 93.15 / 93.21 % training accuracy (test 90.89 / 92.02 / 91.95);
 * channel pruning to 38 % MACs: 0.01 → 90.52 %, 0.05 → 91.14 % test. */
#define MN_PRUNE_DEFAULT_FT_LR 0.05f

typedef struct mn_prune_finetune_opts {
    const char *data;      /* training data spec (e.g. fashion-mnist:train) */
    const char *test_data; /* evaluated at the end; NULL: none */
    int64_t test_limit;    /* test samples; 0 → all */
    int epochs;
    int batch;             /* 0 → 128 */
    int threads;           /* 0 → 1 */
    float lr;              /* SGD (Nesterov 0.9, wd 5e-4), cosine to 0;
                              0 → MN_PRUNE_DEFAULT_FT_LR */
    uint64_t seed;
    int64_t limit;         /* training samples; 0 → all */
    /* Knowledge distillation from a teacher (e.g. the unpruned model; see
     * mn_train_opts): alpha 0 → 0.7, temperature 0 → 4. */
    const mn_graph *teacher;
    float distill_alpha, distill_temperature;
    /* Gradual pruning when final_sparsity > 0: the mask is recomputed by
     * the options' method at every due step of this schedule (steps count
     * optimizer steps over the whole run). Otherwise the mask is the
     * model's zeros, kept fixed. */
    mn_prune_schedule schedule;
    /* called after every epoch (may be NULL) */
    void (*progress)(void *user, int epoch, int epochs, double train_accuracy,
                     double sparsity, double seconds);
    void *user;
} mn_prune_finetune_opts;

typedef struct mn_prune_finetune_result {
    double train_accuracy; /* over the last epoch */
    double test_accuracy;  /* < 0 when no test data */
    double sparsity;       /* of the masked weights at the end */
    int64_t steps;
    double seconds;
} mn_prune_finetune_result;

/* Trains g (in place) on fo->data while every weight the options select
 * (as mn_prune_mask_create) stays masked: pruned weights remain exactly
 * zero. Mean/std come from the model's minnow.mean/minnow.std. */
mn_status mn_prune_finetune(mn_graph *g, const mn_prune_opts *o,
                            const mn_prune_finetune_opts *fo,
                            mn_prune_finetune_result *res, mn_ctx *ctx);

/* ---- dependency groups (structured pruning, OTO) ---- */

typedef struct mn_prune_groups mn_prune_groups;

/* Finds the coupled channels of g: every removable channel ("group" below:
 * the slices of every weight, bias, BatchNorm and per-channel constant that
 * must go together). g is toposorted, constant-folded and simplified first
 * (call it before creating a trainer on g). pin_unresolved as in
 * mn_prune_opts. */
mn_status mn_prune_groups_analyze(mn_graph *g, int pin_unresolved,
                                  mn_prune_groups **out, mn_ctx *ctx);
void mn_prune_groups_destroy(mn_prune_groups *gr);
int64_t mn_prune_groups_count(const mn_prune_groups *gr);
/* "layer:channel" of group i's first producing layer, for messages. */
const char *mn_prune_groups_name(const mn_prune_groups *gr, int64_t i,
                                 char *buf, size_t len);
/* Maps every group's zero-invariant parameters (the producing layer's
 * output slice and bias, BatchNorm gamma and beta, per-channel constants)
 * into a flat array; initializers missing from the layout are ignored. */
mn_status mn_prune_groups_bind(mn_prune_groups *gr, const mn_param_ref *layout,
                               int n_layout, mn_ctx *ctx);
/* Flat indices bound to group i (after bind): count, and a borrowed array
 * in *idx. */
int64_t mn_prune_groups_indices(const mn_prune_groups *gr, int64_t i,
                                const int64_t **idx);
/* norms[i] = L2 norm of group i's bound parameters. */
void mn_prune_groups_norms(const mn_prune_groups *gr, const float *params,
                           double *norms);
/* Proximal step of t·sum_i ||x_i||_2 over the groups i with sel[i] != 0
 * (sel NULL: all): x_i *= max(0, 1 - t/||x_i||). Returns the number of
 * those groups that are zero afterwards. */
int64_t mn_prune_groups_prox(const mn_prune_groups *gr, const uint8_t *sel,
                             float *params, double t);
/* Half-space projection (HSPG) over the selected groups (sel as above): a
 * group whose new value x_i points against its previous value
 * (x_i·before_i < eps·||before_i||^2) becomes zero. Returns the number of
 * groups set to zero. */
int64_t mn_prune_groups_halfspace(const mn_prune_groups *gr,
                                  const uint8_t *sel, const float *before,
                                  float *params, double eps);

/* ---- group-sparse training and removal (Only-Train-Once) ---- */

/* Group-lasso strength when none is given (`minnow prune --oto-lambda`):
 * after every step a selected group shrinks by lr·lambda in L2 norm. */
#define MN_PRUNE_OTO_DEFAULT_LAMBDA 0.1

typedef struct mn_prune_oto_opts {
    double lambda;  /* proximal group-lasso step t = lr·lambda; 0 → default,
                       < 0 → none */
    double epsilon; /* half-space projection: a selected group whose step
                       leaves x·x_before < epsilon·|x_before|^2 becomes
                       zero; in [0, 1) */
    double zero_at; /* fraction of the run's steps by which every selected
                       group is zero: its norm is bounded by a line falling
                       from its norm when selected to 0 at this step; in
                       (0, 1], 0 → 0.75 */
} mn_prune_oto_opts;

typedef struct mn_prune_oto_result {
    mn_prune_finetune_result train; /* accuracy, steps, seconds; sparsity =
                                       fraction of groups exactly zero */
    int64_t groups;    /* zero-invariant groups (one per removable channel:
                          its weights, bias, BatchNorm and constants) */
    int64_t selected;  /* groups the last selection drove to zero */
    int64_t by_step;   /* of those, zeroed by the proximal step or the
                          half-space projection before the bound did */
    int64_t by_bound;  /* of those, zeroed by the falling norm bound */
    int64_t zero;      /* groups exactly zero at the end (selected or not) */
    double lambda, epsilon, zero_at; /* as used */
} mn_prune_oto_result;

/* Trains g in place (as mn_prune_finetune: fo's data, epochs, batch, lr,
 * seed, test data; no schedule) with group sparsity over the dependency
 * groups structured pruning uses. At the start of every epoch before the
 * zero_at step, the groups that method channel with options o would
 * remove (criterion, scope, sparsity or target_macs_ratio, min_channels,
 * round_to; scored on the current weights, so groups already zero stay
 * chosen) are selected; after every optimizer step the selected groups
 * take a proximal group-lasso step, the half-space projection (HSPG) and
 * the falling norm bound, and those at zero are held there. At the end the
 * selected groups are exactly zero, so `mn_prune` with method
 * MN_PRUNE_OTO (or ZERO) removes them without changing the outputs.
 * Deterministic for a seed and thread count. */
mn_status mn_prune_oto_train(mn_graph *g, const mn_prune_opts *o,
                             const mn_prune_oto_opts *oo,
                             const mn_prune_finetune_opts *fo,
                             mn_prune_oto_result *res, mn_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif
