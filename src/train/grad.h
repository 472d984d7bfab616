/* Internal contract of minnow's training code: the backward-rule table
 * (one mn_grad_def per opcode, beside the op table's forward), the
 * execution context rules receive, a small deterministic thread pool, a
 * threaded GEMM, and helpers shared by the grad_*.c files.
 *
 * A backward rule has the op table's mn_backward_fn signature: it reads the
 * node's inputs and outputs as the forward left them, the gradients dout[j]
 * of the outputs (NULL when none flows), and OVERWRITES din[i] for each input
 * that wants a gradient (din[i] == NULL otherwise). The driver (tape.c) sums
 * contributions when a value feeds several consumers. Rules are called with
 * an mn_texec (below), so they may reach the pool and the step's seed. */
#ifndef MN_TRAIN_GRAD_H
#define MN_TRAIN_GRAD_H

#include "ops/ops.h"

/* ---- thread pool (tpool.c) ---- */

typedef struct mn_tpool mn_tpool;

/* fn(arg, task, thread) is called once for every task in [0, ntasks); the
 * thread index is in [0, threads) and selects per-thread scratch. Which
 * thread runs a task varies, so a task's result must not depend on it. */
typedef void (*mn_task_fn)(void *arg, int64_t task, int thread);

mn_status mn_tpool_create(int threads, mn_tpool **out, mn_ctx *ctx);
void mn_tpool_destroy(mn_tpool *p);
int mn_tpool_threads(const mn_tpool *p); /* NULL → 1 */
/* Runs all tasks (on the caller's thread too) and returns when all are
 * done. p == NULL runs them in order on the caller's thread. */
void mn_tpool_run(mn_tpool *p, mn_task_fn fn, void *arg, int64_t ntasks);
/* Per-thread scratch of MN_TPOOL_SCRATCH bytes, 64-byte aligned; thread is
 * the index a task received. NULL when p is NULL. */
float *mn_tpool_scratch(mn_tpool *p, int thread);
#define MN_TPOOL_SCRATCH ((size_t)4 << 20)

/* ---- threaded float GEMM (tgemm.c) ---- */

/* c = alpha·op(a)·op(b) + beta·c, row-major, as mn_ref_gemm_f32, split into
 * column/row blocks that threads compute independently: the result does
 * not depend on the thread count. p may be NULL (one thread; then scratch
 * of MN_TPOOL_SCRATCH bytes is allocated per call). */
mn_status mn_tgemm(mn_tpool *p, int trans_a, int trans_b, int64_t m,
                   int64_t n, int64_t k, float alpha, const float *a,
                   int64_t lda, const float *b, int64_t ldb, float beta,
                   float *c, int64_t ldc, mn_ctx *ctx);

/* t = aᵀ: a is rows × cols (row stride lda), t cols × rows (row stride
 * ldt). Cache-blocked; column blocks of a split over the pool (p may be
 * NULL). A GEMM on op(a) = aᵀ run as t with trans_a = 0 gives the same
 * bits (mn_sgemm transposes into its scratch the same way), without
 * redoing the transpose per tile or per sample. */
void mn_ttranspose(mn_tpool *p, int64_t rows, int64_t cols, const float *a,
                   int64_t lda, float *t, int64_t ldt);
/* batch dense matrices one after the other: t_b (cols × rows) = a_bᵀ
 * (rows × cols). */
void mn_ttranspose_batch(mn_tpool *p, int64_t batch, int64_t rows,
                         int64_t cols, const float *a, float *t);

/* ---- execution context for training forwards and backward rules ---- */

typedef struct mn_texec {
    mn_exec ex;        /* first: rules receive &texec.ex */
    mn_tpool *pool;    /* may be NULL */
    uint64_t seed;     /* per step and node: Dropout masks */
} mn_texec;

static inline mn_texec *mn_texec_of(mn_exec *ex) { return (mn_texec *)ex; }

/* ---- the backward-rule table (grad_table.c) ---- */

/* Bytes of per-node state a training forward saves for backward. */
typedef size_t (*mn_priv_fn)(const mn_node *n, const mn_tensor *const *in,
                             int n_in, const mn_tensor *const *out,
                             int n_out);
/* Workspace bytes of a forward override or a backward rule run with
 * `threads` threads (ex->scratch, 64-byte aligned). */
typedef size_t (*mn_tscratch_fn)(const mn_node *n,
                                 const mn_tensor *const *in, int n_in,
                                 const mn_tensor *const *out, int n_out,
                                 int threads);

typedef struct mn_grad_def {
    /* Forward replacing the op table's: in training mode only
     * (train_only: BatchNormalization with batch statistics, Dropout) or
     * in both modes (a threaded convolution). NULL: the op table's. The
     * op table's forward stays the definition; overrides are tested
     * against it. */
    mn_forward_fn forward;
    mn_tscratch_fn forward_scratch;
    int train_only;
    mn_priv_fn priv_bytes;       /* state saved in ex->priv, may be NULL */
    mn_backward_fn backward;
    mn_tscratch_fn backward_scratch; /* may be NULL */
    unsigned diff_inputs;        /* bit i: input i can receive a gradient */
    /* The backward never reads the outputs' data (only their gradients),
     * so a consumer may overwrite them (see inplace). */
    unsigned char bwd_ignores_out;
    /* Forward and backward give the same results when out[0] is in[0]'s
     * buffer (the forward overwrites its input): the tape then stores one
     * tensor where the input has no other reader. */
    unsigned char inplace;
} mn_grad_def;

/* NULL when minnow cannot differentiate op. */
const mn_grad_def *mn_grad_get(mn_opcode op);

/* Rule families (one file each); grad_table.c collects them. */
extern const mn_grad_def mn_grad_conv, mn_grad_gemm, mn_grad_matmul;
extern const mn_grad_def mn_grad_relu, mn_grad_leakyrelu, mn_grad_clip,
    mn_grad_sigmoid, mn_grad_hardsigmoid, mn_grad_hardswish, mn_grad_tanh,
    mn_grad_erf, mn_grad_gelu, mn_grad_sqrt, mn_grad_exp, mn_grad_log,
    mn_grad_neg, mn_grad_abs, mn_grad_reciprocal, mn_grad_prelu;
extern const mn_grad_def mn_grad_add, mn_grad_sub, mn_grad_mul, mn_grad_div,
    mn_grad_pow, mn_grad_max, mn_grad_min;
extern const mn_grad_def mn_grad_maxpool, mn_grad_avgpool,
    mn_grad_globalavgpool, mn_grad_reducemean, mn_grad_reducesum;
extern const mn_grad_def mn_grad_batchnorm, mn_grad_layernorm,
    mn_grad_softmax, mn_grad_logsoftmax, mn_grad_dropout;
extern const mn_grad_def mn_grad_view, mn_grad_transpose, mn_grad_concat,
    mn_grad_split, mn_grad_slice, mn_grad_pad, mn_grad_expand;

/* Forward override of elementwise ops (grad_split.c): the op table's
 * forward run on slices over the pool; bit-identical to it. */
mn_status mn_train_split_forward(const mn_node *n, const mn_tensor *const *in,
                                 int n_in, mn_tensor *const *out, int n_out,
                                 mn_exec *ex);

/* ---- helpers ---- */

static inline float *mn_f32(const mn_tensor *t) { return (float *)t->data; }

/* a and b have the same rank and dimensions. */
static inline int mn_same_dims(const mn_tensor *a, const mn_tensor *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int k = 0; k < a->ndim; k++)
        if (a->dims[k] != b->dims[k])
            return 0;
    return 1;
}

/* Element strides of t broadcast to an output of rank nd and dims od:
 * str[k] = 0 where t's dimension is 1 (or absent). */
void mn_bcast_strides(const mn_tensor *t, int nd, const int64_t *od,
                      int64_t *str);
/* dx (shape of x) = Σ of dy (shape y) over the dimensions x broadcasts
 * along; accumulates in double in output order (deterministic). acc must
 * hold numel(x) doubles. */
void mn_bcast_reduce(const float *dy, const mn_tensor *y, float *dx,
                     const mn_tensor *x, double *acc);

#endif
