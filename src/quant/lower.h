/* Shared pieces of the QDQ lowering (lower.c: conv/linear/pass-through;
 * lower_elementwise.c: the com.microsoft elementwise, pooling and lookup
 * rules). Internal to src/quant. */
#ifndef MN_QUANT_LOWER_H
#define MN_QUANT_LOWER_H

#include "core/passes.h"
#include "ops/ops.h"

typedef struct mn_qparam {
    int q;         /* quantized value */
    int scale, zp; /* value indices (zp may be -1) */
    int node;      /* the DQ (or Q) node */
} mn_qparam;

typedef struct mn_lower {
    mn_graph *g;
    mn_shapes shapes;
    int shapes_state;
    int zero_i8, zero_u8; /* shared scalar weight zero points, or -1 */
} mn_lower;

/* v is the output of a DequantizeLinear with constant parameters. */
int mn_ql_dq_of(const mn_graph *g, int v, mn_qparam *p);
/* The only reader of v is a QuantizeLinear with constant scalar params. */
int mn_ql_q_after(const mn_graph *g, int v, mn_qparam *p);
/* Scale one float32 value, zero point absent or one 8-bit value. */
int mn_ql_scalar_act(const mn_graph *g, const mn_qparam *p);
mn_dtype mn_ql_qtype(const mn_graph *g, const mn_qparam *p);
/* The zero point value of p (a new zero constant when absent). */
mn_status mn_ql_zero_point(mn_graph *g, const mn_qparam *p, int *out,
                           mn_ctx *ctx);
/* Gives node ni the name of the float node it replaces. */
mn_status mn_ql_rename_node(mn_graph *g, int ni, const char *name,
                            mn_ctx *ctx);

/* lower_elementwise.c: DQ → Add/Mul/GlobalAveragePool/Concat/activation
 * → Q as an integer op; *done = 1 when node ni was replaced. */
mn_status mn_ql_lower_elementwise(mn_lower *L, int ni, int *done,
                                  mn_ctx *ctx);
/* x · Sigmoid(x) or x · HardSigmoid(x) at Mul node mul: *x gets x, *gate
 * the Sigmoid/HardSigmoid node (whose only reader is the Mul). */
int mn_ql_gated(const mn_graph *g, int mul, int *x, int *gate);
/* Node ni belongs to GELU's exported erf chain (mn_pattern_gelu), which
 * lowers as one lookup table at its last node (*last). */
int mn_ql_gelu_member(const mn_graph *g, int ni, int *last);
/* Node n is an activation with an integer form (QLinearSigmoid,
 * QLinearLeakyRelu or a lookup table). */
int mn_ql_has_int_unary(const mn_graph *g, const mn_node *n);
/* Ops that run on 8-bit tensors without float arithmetic. */
int mn_ql_is_int_op(mn_opcode op);

#endif
