/* Internal view of a compiled session, for passes and statistics that need
 * the concrete shapes a compile found. */
#ifndef MN_CORE_SESSION_H
#define MN_CORE_SESSION_H

#include "core/graph.h"
#include "ops/ops.h"

enum { MN_VK_UNUSED = 0, MN_VK_CONST = 1, MN_VK_INPUT = 2, MN_VK_RUNTIME = 3 };

/* Meta (and data, for constants) of value v as compiled. A weight the
 * session keeps compressed (mn_session_weights_compact) and the values of
 * its decode chain are constants without data: readers of constant data
 * compile with MN_WEIGHTS_FLOAT (as the C export does). */
const mn_tensor *mn_session_value(const mn_session *s, int v);
int mn_session_value_kind(const mn_session *s, int v);
/* Number of nodes that run at run time (after folding). */
int mn_session_num_steps(const mn_session *s);
/* The kernel variant node's prepare chose ("sparse", "dense"), or NULL
 * (folded, not run, or an op without variants). */
const char *mn_session_node_kernel(const mn_session *s, int node);

/* What step k of the compiled run does (code generators replay it):
 * node index; view = 1 when it runs no code (its output 0 aliases input
 * view_slot's bytes); act/residual fused into its store (residual = value
 * index or -1). Returns 0 when k is out of range. */
typedef struct mn_step_info {
    int node, view, view_slot, residual;
    int bias;           /* MatMul: the fused bias Add's constant (one value
                           per output column, added before the residual
                           and the activation), or -1 */
    mn_fused_act act;
    int runs_gelu; /* the node's step computes GELU of its input 0 (a
                      fused erf chain's first node) */
    const uint8_t *lut; /* 256-byte table the step applies to its 8-bit
                           output 0 in place (a fused Cast + Gather), or
                           NULL */
    int qadd_node;      /* the QLinearAdd node fused into this step's store
                           (its residual is `residual`; it runs before the
                           table), or -1 */
    int ln_gamma;       /* a fused LayerNorm chain ending at this step's
                           Add: the scale value (the other input of the
                           Add is the shift), or -1; ln_slot: the Add's
                           input that shows the chain's input x */
    int ln_slot;
    float ln_eps;
    int in_scale;       /* Conv: a fused squeeze-excite Mul's per-channel
                           factor (the Mul became a view of x, its other
                           input): input 0 times it; or -1 */
} mn_step_info;
int mn_session_step_info(const mn_session *s, int k, mn_step_info *out);

/* One buffer of the memory plan: bytes live over steps [first, last]. */
typedef struct mn_plan_buf {
    size_t bytes;
    int first, last;
    size_t offset; /* out */
} mn_plan_buf;

/* Assigns offsets (64-byte aligned) so that buffers alive at the same step
 * never overlap; greedy by size, best fit. Returns the arena size. */
size_t mn_plan_arena(mn_plan_buf *bufs, int n);

#endif
