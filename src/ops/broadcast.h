/* Iteration over a numpy-broadcast of two inputs to an output shape, for the
 * elementwise op families (binary.c, layernorm.c). The shape is collapsed:
 * size-1 output dims are dropped and neighbouring dims with the same
 * broadcast pattern are merged, so [N,C,H,W] + [1,C,1,1] becomes the rank-3
 * loop [N, C, H·W] whose innermost run is contiguous in one input and a
 * scalar in the other. Callers hand a kernel for that innermost run to
 * mn_bcast_run. */
#ifndef MN_OPS_BROADCAST_H
#define MN_OPS_BROADCAST_H

#include "ops/ops.h"

typedef struct mn_bcast {
    int ndim;                   /* collapsed rank, >= 1 */
    int64_t dims[MN_MAX_DIMS];  /* collapsed output dims */
    int64_t sa[MN_MAX_DIMS];    /* element strides of a (0: broadcast) */
    int64_t sb[MN_MAX_DIMS];    /* element strides of b (0: broadcast) */
    int64_t numel;              /* output elements (0: nothing to do) */
} mn_bcast;

/* Sets up iteration of `out` (dims only) from a and b, which must already
 * broadcast to out (checked by the op's infer). b may be NULL. */
void mn_bcast_init(mn_bcast *bc, const mn_tensor *out, const mn_tensor *a,
                   const mn_tensor *b);

/* Innermost run: n elements, out contiguous from element offset `o`,
 * a from element `ia` with stride sa (0 or 1), b likewise. Returns nonzero
 * to stop (a data fault); mn_bcast_run returns that value. */
typedef int (*mn_bcast_fn)(void *arg, int64_t o, int64_t ia, int64_t sa,
                           int64_t ib, int64_t sb, int64_t n);

int mn_bcast_run(const mn_bcast *bc, mn_bcast_fn fn, void *arg);
/* The same for output elements [e0, e1) only (runs cut at both ends), so
 * that disjoint element ranges can run on different threads. */
int mn_bcast_run_range(const mn_bcast *bc, mn_bcast_fn fn, void *arg,
                       int64_t e0, int64_t e1);
/* mn_bcast_run with outputs of 64 Ki elements and more cut into ranges of
 * whole `line` elements (a 64-byte line) over the pool, up to 4 per
 * thread; fn must not fail there (its return value is ignored). Each
 * element's arithmetic is the same on any thread: the same bytes. */
int mn_bcast_run_pool(const mn_bcast *bc, mn_bcast_fn fn, void *arg,
                      struct mn_pool *pool, int64_t line);

/* Copies the float32 tensor src broadcast to the shape of `shape` into dst
 * (numel(shape) floats). */
void mn_bcast_expand_f32(const mn_tensor *src, const mn_tensor *shape,
                         float *dst);

#endif
