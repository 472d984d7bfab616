/* The op table: one mn_op_def per opcode, shared by shape inference,
 * constant folding, the runtime and (later) training.
 *
 * Contract for op implementers (one file per op family in src/ops/):
 *  - infer: given input tensors (in[i] == NULL for an absent optional input;
 *    in[i]->data != NULL when the input is a compile-time constant, NULL
 *    otherwise), set dtype/ndim/dims of every out[j] (data stays NULL).
 *    Validate everything here (ranks, dtypes, attribute values, weight
 *    shapes): forward trusts what infer accepted. Messages name the cause
 *    only; the caller prefixes file and node.
 *  - scratch (optional): workspace bytes forward needs.
 *  - forward: compute out[j]->data from in[i]->data. No allocation: use
 *    ex->scratch. Return an error only for data-dependent faults (e.g. an
 *    index out of range).
 *  - backward (training; NULL until implemented).
 *  - prepare (optional): called once when a session compiles a node that
 *    will run, with in[i]->data set for constant inputs (weights). It may
 *    build per-node state (packed weights, requantization tables) into
 *    an mn_prepared (priv + release), which forward then finds in
 *    ex->priv; release frees it when the session is destroyed. forward must still work with ex->priv == NULL
 *    (constant folding, or when prepare chose not to build anything).
 */
#ifndef MN_OPS_OPS_H
#define MN_OPS_OPS_H

#include "core/graph.h"

struct mn_pool;
struct mn_wsrc;

/* An activation the session fused into a producer's store (ops flagged
 * MN_OPF_FUSE_ACT): y = act(y) as the output is written. Values match
 * mn_act_kind in src/kernels/gemm.h. */
typedef enum mn_fused_act_kind {
    MN_FUSED_NONE = 0,
    MN_FUSED_RELU = 1,        /* max(y, 0) */
    MN_FUSED_CLIP = 2,        /* min(max(y, lo), hi) */
    MN_FUSED_SIGMOID = 3,     /* 1 / (1 + e^-y) */
    MN_FUSED_SILU = 4,        /* y · sigmoid(y): Sigmoid then Mul by y */
    MN_FUSED_HARDSIGMOID = 5, /* min(max(lo·y + hi, 0), 1) (alpha, beta) */
    MN_FUSED_HARDSWISH = 6,   /* y · min(max(lo·y + hi, 0), 1) */
    MN_FUSED_GELU = 7         /* y · Φ(y): the exported erf chain */
} mn_fused_act_kind;

typedef struct mn_fused_act {
    mn_fused_act_kind kind;
    float lo, hi;
} mn_fused_act;

typedef struct mn_exec {
    mn_ctx *ctx;
    void *scratch;          /* 64-byte aligned, scratch() bytes */
    size_t scratch_bytes;
    struct mn_pool *pool;   /* NULL: single thread */
    void *priv;             /* node state from prepare(), or NULL */
    int training;           /* session runs in training mode */
    /* MN_OPF_FUSE_ACT ops: out[0] = act(out[0] + residual), residual
     * (NULL: none) having out[0]'s dtype and shape */
    mn_fused_act act;
    const void *residual;
    /* MatMul: a fused bias Add's constant, one float per output column
     * (added before residual and act), or NULL */
    const float *bias;
    /* MN_OPF_FUSE_QADD ops: out[0] = QLinearAdd(out[0], residual) in fixed
     * point by qres (out[0] as operand a), residual an 8-bit tensor of
     * out[0]'s dtype and shape; NULL: none */
    const struct mn_qadd_fixed *qres;
    /* Conv/Gemm/MatMul: the weight (input 1) as a weight source
     * (src/kernels/wsrc.h) that prepare accepted, in[1]->data then NULL;
     * or NULL */
    const struct mn_wsrc *wsrc;
    /* mn_opdef_ln_fused: the scale of a fused LayerNorm chain, the input
     * slot holding the normalized tensor, epsilon */
    const float *ln_gamma;
    int ln_slot;
    float ln_eps;
    /* Conv: a squeeze-excite Mul the session fused (mn_conv_takes_scale):
     * input 0 is x · in_scale, one float per image and input channel; or
     * NULL */
    const float *in_scale;
} mn_exec;

typedef mn_status (*mn_infer_fn)(const mn_node *n, const mn_tensor *const *in,
                                 int n_in, mn_tensor *const *out, int n_out,
                                 mn_ctx *ctx);
typedef size_t (*mn_scratch_fn)(const mn_node *n, const mn_tensor *const *in,
                                int n_in, const mn_tensor *const *out,
                                int n_out);
typedef mn_status (*mn_forward_fn)(const mn_node *n,
                                   const mn_tensor *const *in, int n_in,
                                   mn_tensor *const *out, int n_out,
                                   mn_exec *ex);
/* dout[j]: gradient of each output (NULL if none flows); din[i]: gradient
 * buffers to OVERWRITE for inputs that need one (NULL otherwise). */
typedef mn_status (*mn_backward_fn)(const mn_node *n,
                                    const mn_tensor *const *in, int n_in,
                                    const mn_tensor *const *out,
                                    const mn_tensor *const *dout, int n_out,
                                    mn_tensor *const *din, mn_exec *ex);

enum {
    MN_OPF_NOFOLD = 1u << 0,  /* never evaluate at compile time */
    MN_OPF_INPLACE = 1u << 1, /* out[0] may alias in[0] (same size) */
    MN_OPF_VIEW = 1u << 2,    /* out[0] has in[0]'s bytes (reshape-like) */
    MN_OPF_SHAPE_ONLY = 1u << 3, /* reads only its inputs' shapes: always
                                    folded at compile time (Shape) */
    MN_OPF_FUSE_ACT = 1u << 4,  /* forward applies ex->residual and ex->act
                                   to out[0] (float32), so the session may
                                   fuse a following residual Add and
                                   activation into it */
    MN_OPF_MS_DOMAIN = 1u << 5, /* the op is ONNX Runtime's, in the
                                   com.microsoft domain (name is its
                                   op_type there) */
    MN_OPF_FUSE_QADD = 1u << 6  /* forward applies ex->qres with
                                   ex->residual to its 8-bit out[0], so the
                                   session may fuse a following same-shape
                                   QLinearAdd into it */
};

/* What prepare knows about the session it compiles for. */
typedef struct mn_prepare_info {
    int sparse;  /* mn_session_opts.sparse after MINNOW_SPARSE: MN_SPARSE_* */
    int threads;
    /* Conv/Gemm/MatMul: the session keeps the weight (input 1, whose data
     * is then NULL) compressed and offers it as a weight source (float16,
     * or int4 with its scales: src/kernels/wsrc.h); NULL otherwise */
    const struct mn_wsrc *wsrc;
} mn_prepare_info;

/* What prepare leaves for the step: priv reaches forward as mn_exec.priv
 * and is freed by release(priv) when the session is destroyed; the
 * step's scratch becomes max(scratch(), scratch_bytes); kernel names the
 * variant chosen ("sparse"/"dense") for minnow info, or stays NULL. */
typedef struct mn_prepared {
    void *priv;
    void (*release)(void *priv);
    size_t scratch_bytes;
    const char *kernel;
    size_t bytes; /* packed weights held in priv (mn_session_weight_bytes) */
    /* info->wsrc when the forward runs on it (reaches forward as
     * mn_exec.wsrc); left NULL, the session folds the weight to float32
     * and calls prepare again without it */
    const struct mn_wsrc *wsrc;
} mn_prepared;

/* prepare (optional): called once per compiled step, after infer, with the
 * step's inputs (constant ones have data) and outputs (meta only); it may
 * pack constant weights into private state. Training sessions skip it
 * (their weights change between runs). Leaving *p zeroed is allowed. */
typedef mn_status (*mn_prepare_fn)(const mn_node *n,
                                   const mn_tensor *const *in, int n_in,
                                   const mn_tensor *const *out, int n_out,
                                   const mn_prepare_info *info,
                                   mn_prepared *p, mn_ctx *ctx);

typedef struct mn_op_def {
    const char *name;        /* ONNX op_type in the ai.onnx domain (or
                                com.microsoft: MN_OPF_MS_DOMAIN) */
    int min_in, max_in;      /* input count range */
    int min_out, max_out;
    unsigned flags;
    mn_infer_fn infer;
    mn_scratch_fn scratch;   /* may be NULL */
    mn_forward_fn forward;
    mn_backward_fn backward; /* may be NULL */
    mn_prepare_fn prepare;   /* may be NULL */
} mn_op_def;

/* NULL for MN_OP_UNKNOWN or an opcode without an entry. */
const mn_op_def *mn_op_get(mn_opcode op);
/* ai.onnx op_type → opcode; MN_OP_UNKNOWN when minnow has no such op. */
mn_opcode mn_op_lookup(const char *domain, const char *op_type);

/* Shared helpers for op files (src/ops/op_util.c). */
/* numpy broadcast of two shapes; MN_ERR_SHAPE when incompatible. */
mn_status mn_broadcast_shape(const mn_tensor *a, const mn_tensor *b,
                             mn_tensor *out, mn_ctx *ctx);
/* Σ x[0..n) in double as ReduceSum/ReduceMean (and GlobalAveragePool,
 * the fused LayerNorm) add a contiguous float32 run: sixteen interleaved
 * chains (element j into chain j % 16), a tail into the first, then a
 * fixed pairwise tree; as two vectors of 8 chains when AVX-512 is active,
 * the same bits (src/ops/reduce.c). */
double mn_sum_run_f32(const float *x, int64_t n);
/* Whether Conv node n (inputs in, prepared as prep) can take its input
 * times a per-channel scale (mn_exec.in_scale) in the same bits as a Mul
 * before it: float32, run by the dense GEMM that packs its input
 * (mn_conv2d_f32_scales_input; not the packed-weight, sparse or
 * weight-source paths). */
int mn_conv_takes_scale(const mn_node *n, const mn_tensor *const *in,
                        int n_in, const mn_prepared *prep);
/* A LayerNorm chain the session fused (src/core/session_fuse.c): not an
 * ONNX op; it runs in the chain's last Add (see mn_exec.ln_gamma). */
extern const mn_op_def mn_opdef_ln_fused;
/* Normalizes axis into [0, rank); MN_ERR_SHAPE when out of range. */
mn_status mn_norm_axis(int64_t axis, int rank, int *out, mn_ctx *ctx);
/* Reads element i of an integer or float tensor as int64 / double. */
int64_t mn_tensor_get_i64(const mn_tensor *t, int64_t i);
double mn_tensor_get_f64(const mn_tensor *t, int64_t i);
/* float16 bits ↔ float: exact widening; a double rounded to the nearest
 * float16 (ties to even) directly from its bits. */
float mn_f16_to_f32(uint16_t h);
uint16_t mn_f64_to_f16(double d);
/* Copies dtype/ndim/dims from src to dst (data untouched). */
void mn_tensor_copy_meta(mn_tensor *dst, const mn_tensor *src);
/* Reads a constant 1-D int64/int32 input (axes, pads, shape) into v (at
 * most cap values, *n set); errors name `what`. */
mn_status mn_op_const_ints(const mn_tensor *t, const char *what, int64_t *v,
                           int cap, int *n, mn_ctx *ctx);
/* "[1,3,224,224]" into buf. */
const char *mn_shape_str(const mn_tensor *t, char *buf, size_t len);

#endif
