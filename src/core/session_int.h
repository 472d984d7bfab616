/* The session's internal state, shared by session.c (compile, plan,
 * run) and session_fuse.c (which steps run fused into others). Internal to
 * src/core. */
#ifndef MN_CORE_SESSION_INT_H
#define MN_CORE_SESSION_INT_H

#include "core/pool.h"
#include "core/session.h"
#include "kernels/qelem.h"
#include "ops/ops.h"

typedef struct step {
    int node;
    const mn_op_def *def;
    int in_off, out_off; /* into s->in_ptrs / s->out_ptrs */
    int view;            /* output 0 aliases input view_slot (0 unless a
                            fused Add's) */
    size_t scratch_bytes;
    int scratch_buf;     /* index into s->bufs, or -1 */
    mn_fused_act act;    /* activation fused into this step's store */
    int residual;        /* value added before act (fused Add), or -1 */
    int bias;            /* MatMul: a fused Add of a constant row (one
                            value per output column), or -1 */
    int view_slot;       /* the input a view step's output aliases */
    const uint8_t *lut;  /* 256-byte table applied to output 0 in place
                            after the step (a fused Cast + Gather), or
                            NULL */
    int has_qres;        /* a fused QLinearAdd with `residual` by qres */
    mn_qadd_fixed qres;
    int qadd_node;       /* that QLinearAdd's node */
    int ln_gamma;        /* a fused LayerNorm chain (session_fuse.c): its
                            scale value, or -1; the step is the chain's
                            last Add, its input ln_slot the normalized
                            input's buffer (through the chain's views) */
    int ln_slot;
    float ln_eps;
    int in_scale;        /* Conv: a fused squeeze-excite Mul's factor
                            (mn_exec.in_scale), or -1 */
    mn_prepared prep;    /* from the op's prepare (packed weights) */
} step;

struct mn_session {
    const mn_graph *g;
    int threads;
    int keep_values, training;
    int sparse;            /* MN_SPARSE_* after MINNOW_SPARSE */
    int compact;           /* weights kept compressed (session_wdecode.c) */
    unsigned char *wd_node;  /* per node: WD_CHAIN / WD_CONSUMER, or 0 */
    unsigned char *deferred; /* per value: a chain's constant, not folded */
    int *producer;           /* per value: the node computing it, or -1 */
    struct mn_wsrc *wsrcs;   /* per node: its weight source */
    mn_tensor *vt;         /* per value: meta + data */
    unsigned char *kind;   /* MN_VK_* */
    int *root;             /* runtime value → value owning its bytes */
    int *buf_of;           /* root value → index into bufs, or -1 */
    mn_plan_buf *bufs;
    int n_bufs;
    step *steps;
    int n_steps;
    const mn_tensor **in_ptrs;
    mn_tensor **out_ptrs;
    mn_tensor *dummies;     /* tensors for absent optional outputs */
    void **folded;          /* data of folded constants, owned */
    int n_folded;
    size_t folded_bytes;
    void *arena;
    mn_pool *pool;         /* threads > 1: the ops' thread pool */
    double *prof;          /* per step: wall seconds summed over runs */
    int prof_on;
    size_t arena_bytes;
};

/* Fuses steps into others before memory is planned (session_fuse.c):
 * activations, residual Adds and self-gates into the store of an
 * MN_OPF_FUSE_ACT producer, GELU's exported erf chain into its producer's
 * store or into one Gelu step, an int8 graph's lookup activation (Cast to
 * int32 + Gather from a 256-byte table) into its producer as an in-place
 * table pass, an int8 residual QLinearAdd into its convolution's store.
 * Fused steps become views (their output is another step's buffer). Not
 * with keep_values nor training. */
void mn_session_fuse(mn_session *s);

/* Compressed weights (session_wdecode.c). A decode chain is
 * DequantizeLinear(int4/uint4 constant, constant scales[, zero points])
 * [→ Cast to float] [→ Reshape by a constant shape], or Cast(float16
 * constant) [→ Reshape], whose every value has one consumer and whose
 * end is the weight (input 1) of a Conv, Gemm or MatMul. With
 * s->compact, plan marks the chain's nodes WD_CHAIN (compile infers
 * them but does not fold them: their outputs are constants without data,
 * s->deferred) and the layer WD_CONSUMER, which prepare is offered the
 * weight as a source. Anything else that needs a deferred value's data
 * gets it folded then (mn_session_materialize). */
enum { WD_CHAIN = 1, WD_CONSUMER = 2 };
mn_status mn_session_wdecode_plan(mn_session *s, mn_ctx *ctx);
/* The weight source of deferred value v (after its chain was inferred);
 * 0 when the chain does not describe one (then fold it). */
int mn_session_wdecode_source(const mn_session *s, int v,
                              struct mn_wsrc *out);
/* Folds deferred value v (and the deferred values it reads) now. */
mn_status mn_session_materialize(mn_session *s, int v, mn_ctx *ctx);

#endif
