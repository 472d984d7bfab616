/* Fusion plan of the tape: chains of graph nodes that training runs as one
 * step, so the chain's intermediate values (and their gradients) are never
 * stored. The graph itself is not changed (the exported model keeps its
 * nodes); the tape compiles the synthesized node in place of the chain.
 * Fused today: GELU in its exported erf form (Div, Erf, Add, Mul, Mul) →
 * one Gelu node. */
#ifndef MN_TRAIN_TAPE_FUSE_H
#define MN_TRAIN_TAPE_FUSE_H

#include "core/graph.h"

enum { MN_FUSE_SELF = -1, MN_FUSE_ABSORBED = -2 };

typedef struct mn_tape_fusion {
    /* per graph node: MN_FUSE_SELF (compiled as it is), MN_FUSE_ABSORBED
     * (part of a chain, not compiled), or k >= 0: compile nodes[k] here
     * (the chain's last node) */
    int *role;
    mn_node *nodes;  /* synthesized nodes; strings borrowed from g */
    int n_nodes;
    int *ios;        /* their input/output value indices */
} mn_tape_fusion;

mn_status mn_tape_fuse_plan(const mn_graph *g, mn_tape_fusion *f,
                            mn_ctx *ctx);
void mn_tape_fusion_free(mn_tape_fusion *f);

#endif
