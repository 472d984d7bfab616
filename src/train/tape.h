/* The tape: a graph compiled for training at one batch size. Every value
 * keeps its own buffer, so a backward pass can read what the forward left
 * (except that an in-place activation, grad.h's inplace, overwrites an
 * input only it reads and whose producer's backward does not need it);
 * gradients share one arena planned from their lifetimes; parameters and BatchNorm running statistics are
 * bound to caller-owned memory (the trainer's flat arrays) and are never
 * constant-folded. Ordinary nodes run the op table's forward; the grad
 * table may override it (training-mode BatchNorm and Dropout, a threaded
 * Conv). Backward walks the steps in reverse through the grad table and
 * writes parameter gradients into the bound gradient memory. */
#ifndef MN_TRAIN_TAPE_H
#define MN_TRAIN_TAPE_H

#include "train/grad.h"

typedef struct mn_tape mn_tape;

/* A value whose storage lives outside the graph. */
typedef struct mn_tape_bind {
    int value;
    float *data;
    float *grad; /* NULL: no gradient wanted (BatchNorm running stats) */
} mn_tape_bind;

/* The graph must have one float input ([N, ...], N = batch). pool may be
 * NULL. Fails with MN_ERR_UNSUPPORTED naming the node when a gradient
 * would have to flow through an op without a backward rule. */
mn_status mn_tape_create(const mn_graph *g, int batch,
                         const mn_tape_bind *binds, int n_binds,
                         mn_tpool *pool, mn_tape **out, mn_ctx *ctx);
void mn_tape_destroy(mn_tape *t);
int mn_tape_batch(const mn_tape *t);
/* Shape the input must have. */
const mn_tensor *mn_tape_input(const mn_tape *t);

/* Runs the forward on x (the input's shape). training: BatchNorm uses
 * batch statistics and updates the running ones, Dropout drops with masks
 * drawn from seed. */
mn_status mn_tape_forward(mn_tape *t, const float *x, int training,
                          uint64_t seed, mn_ctx *ctx);
/* Graph output i after forward (a view into the tape). */
const mn_tensor *mn_tape_output(const mn_tape *t, int i);
/* Any value after forward (NULL for an unknown index). The values inside
 * a fused chain (tape_fuse.h: e.g. GELU's Div/Erf/Add/Mul) are not
 * computed: their data is NULL. The input of an in-place activation
 * shares its output's buffer (holds the activation's result). */
const mn_tensor *mn_tape_value(const mn_tape *t, int v);
/* Gradient buffer of graph output 0: the caller writes dLoss/dOutput
 * here before mn_tape_backward. */
float *mn_tape_output_grad(mn_tape *t);
/* Backward after a training forward: every bound gradient is overwritten
 * (zero where no gradient reaches). */
mn_status mn_tape_backward(mn_tape *t, mn_ctx *ctx);

#endif
