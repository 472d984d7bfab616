/* Finite-difference gradient checks for the backward rules (src/train).
 *
 * A check builds a one-node graph, runs the node's forward (the op table's,
 * or the grad table's override as training does) on random inputs, and
 * compares the rule's gradient of L = Σ out·R (R random) with central
 * differences (L(x+h) - L(x-h)) / 2h computed in double from the float
 * forward.
 *
 * Tolerance (stated): |analytic - numeric| <= atol + rtol·max(|a|, |n|)
 * with h = 1e-2, atol = 2e-3, rtol = 2e-2 by default. Why: inputs are
 * O(1), the forward is float (relative rounding ~6e-8 per op, a few 1e-6
 * on L), so rounding contributes < 1e-4 after dividing by 2h; the
 * truncation error of central differences is h²/6·|f'''| ~ 2e-5·|f'''|.
 * Non-smooth ops (Relu, Clip, MaxPool, …) are checked on inputs kept at
 * least 2h away from their kinks, so the difference never straddles one. */
#ifndef MN_TEST_GRAD_CHECK_H
#define MN_TEST_GRAD_CHECK_H

#include "core/graph.h"
#include "minnow/minnow.h"

typedef struct gc_opts {
    double h, atol, rtol;
    int training;  /* run training-mode forwards (BatchNorm, Dropout) */
    int threads;   /* pool size (0 → 2) */
    int max_elems; /* per input, check at most this many (0 → 64) */
    uint64_t seed;
} gc_opts;

/* One node `op` (ai.onnx, opset) reading values i0..i{n_in-1} and writing
 * o0..o{n_out-1}; add attributes on gc_node(g). */
mn_graph *gc_graph(const char *op, int opset, int n_in, int n_out);
mn_node *gc_node(mn_graph *g);
void gc_attr_int(mn_graph *g, const char *name, int64_t v);
void gc_attr_float(mn_graph *g, const char *name, float v);
void gc_attr_ints(mn_graph *g, const char *name, const int64_t *v, int n);
void gc_attr_string(mn_graph *g, const char *name, const char *s);

/* Random float tensor, values uniform in [lo, hi); with `gap` > 0 every
 * |value| >= gap (kinks at 0 stay away) — see gc_spread for distinct
 * values. */
mn_tensor *gc_rand(int ndim, const int64_t *dims, uint64_t seed, float lo,
                   float hi, float gap);
/* Random permutation of evenly spaced values (step >= 4h): all distinct,
 * for MaxPool / Max / Min. */
mn_tensor *gc_spread(int ndim, const int64_t *dims, uint64_t seed,
                     float step);
mn_tensor *gc_i64(const int64_t *v, int n); /* 1-D int64 tensor */
mn_tensor *gc_f32(const float *v, int ndim, const int64_t *dims);

/* Runs the check over inputs whose bit is set in `check`; returns the
 * number of failing elements (each reported) and frees g and in[]. A
 * missing op or rule is a failure. `where` names the case in messages. */
int gc_run(const char *where, mn_graph *g, mn_tensor **in, int n_in,
           unsigned check, const gc_opts *o);

#define GC_CHECK(where, g, in, n_in, check, o)                          \
    CHECK_EQ_INT(gc_run((where), (g), (in), (n_in), (check), (o)), 0)

/* Whole-network check through the tape (test_train*.c): every non-scalar
 * initializer of g is bound (BatchNorm running statistics, "bn_mean" /
 * "bn_var", without a gradient); x is uniform in [-1, 1) from x_seed; the
 * loss is softmax cross-entropy (smoothing 0.1) over labels y[batch], its
 * gradient from one backward; each gradient tensor i is checked at about
 * `per_tensor` elements spaced evenly from element (stagger ? i % 3 : 0),
 * |analytic - numeric| <= 1e-3 + 3e-2·max(|a|, |n|), numeric by central
 * differences with step h. layer_scale > 0 first sets every initializer
 * named *layer_scale* to it. Failures are reported (the first 6), named by
 * `where` and the value. */
typedef struct gc_net_opts {
    int batch;
    const int64_t *y;
    uint64_t x_seed;
    double h;
    int per_tensor, stagger;
    float layer_scale;
} gc_net_opts;

typedef struct gc_net_result {
    int tensors, checked, bad;
} gc_net_result;

/* g stays the caller's. */
void gc_net_run(const char *where, mn_graph *g, const gc_net_opts *o,
                gc_net_result *r);

#endif
