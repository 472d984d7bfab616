/* Dependency groups (internal): channel identities flowing through a graph.
 *
 * Every activation value with a channel axis carries a label array: one
 * channel id per position along that axis. A layer that makes new channels
 * (Conv, Gemm, MatMul) draws a fresh block of ids; channel-wise ops pass
 * their input's ids on; an elementwise op joining two tensors (residual
 * Add, SE Mul) unites the ids position by position (union-find); Concat
 * concatenates label arrays; Flatten/Reshape repeat each id over the
 * spatial positions folded into the feature axis; a depthwise Conv keeps
 * its input's ids. A union-find class is one removable channel: every
 * member (a weight/bias/BatchNorm/constant slice along some axis, the Conv
 * group attribute, a Reshape shape element) is sliced by the positions
 * whose id belongs to a removed class. Classes that cannot be removed
 * (graph inputs and outputs, LayerNorm/Softmax over channels, grouped
 * convs, ...) are pinned. Blocks united by unions form the dependency
 * groups within which the keep-at-least-one rule applies.
 *
 * Each label array also carries per-position "exactly zero" flags derived
 * from the weights, so channels that are identically zero where other
 * channels read them can be removed without changing the outputs. */
#ifndef MN_PRUNE_GROUPS_H
#define MN_PRUNE_GROUPS_H

#include "core/passes.h"
#include "minnow/prune.h"

typedef enum pg_kind {
    PG_W_OUT = 0,   /* weight slice of the layer producing the channel */
    PG_W_IN = 1,    /* weight slice of a layer mixing channels (reads it) */
    PG_BIAS = 2,    /* bias of the producing layer */
    PG_BN_GAMMA = 3,
    PG_BN_BETA = 4,
    PG_BN_STAT = 5, /* running mean / variance */
    PG_AFFINE = 6,  /* per-channel constant of an elementwise op */
    PG_SLOPE = 7,   /* PRelu slope */
    PG_ATTR_GROUP = 8, /* Conv group attribute = kept channels of lab */
    PG_SHAPE = 9,   /* Reshape shape element `elem` = kept positions of lab */
    PG_KIND_COUNT
} pg_kind;

typedef struct pg_lab {
    int64_t n;
    int64_t *id;
    uint8_t *zero; /* channel identically zero at this position */
} pg_lab;

typedef struct pg_member {
    int node, slot, axis;
    pg_kind kind;
    int lab;
    int64_t elem;
} pg_member;

/* A multiply-accumulate layer and the label arrays its MACs scale with. */
typedef struct pg_mac {
    int node;
    int64_t macs;          /* batch 1 */
    int lab_out, lab_in;   /* -1: not tracked / does not scale */
} pg_mac;

struct mn_prune_groups {
    mn_graph *g;
    mn_shapes shapes;
    int64_t n_ids, cap_ids;
    int64_t *parent, *block, *bparent;
    uint8_t *pin;
    int n_labs, cap_labs;
    pg_lab *labs;
    int *vlab, *vaxis; /* per value; vlab -1: no channel axis tracked */
    int n_mem, cap_mem;
    pg_member *mem;
    int n_macs, cap_macs;
    pg_mac *macs;
    int pin_unresolved;
    int n_unresolved;
    char unresolved[512]; /* first unresolved coupling, naming the layer */
    char pinned_by[256];  /* first op that pinned channels */
    /* after finalize */
    int64_t n_cls;        /* removable channels */
    int64_t *cls_of;      /* per id (its root's class) or -1 */
    int64_t *cls_root;
    int *cls_group;
    int n_groups;
    int64_t n_pinned;     /* pinned classes */
    /* mn_prune_groups_bind: CSR of flat indices per class */
    int64_t *bind_start, *bind_idx;
};

/* ---- groups.c: building blocks for the walk ---- */
int64_t pg_find(mn_prune_groups *gr, int64_t id);
void pg_union(mn_prune_groups *gr, int64_t a, int64_t b);
/* New label array of n positions (ids 0, zero flags 0) → *lab. */
mn_status pg_lab_new(mn_prune_groups *gr, int64_t n, int *lab, mn_ctx *ctx);
/* New label array with a fresh block of n ids (pinned if asked). */
mn_status pg_fresh(mn_prune_groups *gr, int64_t n, int pinned, int *lab,
                   mn_ctx *ctx);
/* Copy of label array src (ids and zero flags). */
mn_status pg_copy(mn_prune_groups *gr, int src, int *lab, mn_ctx *ctx);
void pg_pin_lab(mn_prune_groups *gr, int lab);
/* Value v carries label array lab along axis; pins it when v is a graph
 * output. */
void pg_set(mn_prune_groups *gr, int v, int lab, int axis);
mn_status pg_member_add(mn_prune_groups *gr, int node, int slot, int axis,
                        pg_kind kind, int lab, int64_t elem, mn_ctx *ctx);
mn_status pg_mac_add(mn_prune_groups *gr, int node, int64_t macs,
                     int lab_out, int lab_in, mn_ctx *ctx);
/* Merged static shape of value v (batch -1); 0 when unknown. */
int pg_dims(const mn_prune_groups *gr, int v, mn_tensor *t);
/* The node's channels cannot be mapped: pins its tracked inputs and
 * records the message (first one kept). */
void pg_unresolved(mn_prune_groups *gr, int ni, const char *why);
/* Pins the tracked inputs of node ni, noting the op as the reason. */
void pg_pin_inputs(mn_prune_groups *gr, int ni);

/* ---- groups_ops.c: the per-node rules ---- */
mn_status pg_walk_node(mn_prune_groups *gr, int ni, mn_ctx *ctx);

/* Class of position p of label array lab (-1: pinned). */
static inline int64_t pg_cls(const mn_prune_groups *gr, int lab, int64_t p)
{
    return gr->cls_of[gr->labs[lab].id[p]];
}

/* Elements after one step along `axis` of tensor t. */
static inline int64_t pg_inner(const mn_tensor *t, int axis)
{
    int64_t inner = 1;
    for (int k = axis + 1; k < t->ndim; k++)
        inner *= t->dims[k];
    return inner;
}

#endif
