/* Fast float32 GEMM and convolution entry points, dispatched at run time
 * (src/kernels/dispatch.h): AVX-512 or AVX2 micro-kernels when the CPU has
 * them, the reference kernels (src/kernels/ref) otherwise or when
 * MINNOW_ISA=ref.
 *
 * Results do not depend on the thread count: work is cut into tiles, and
 * every output element is summed over k in an order fixed by the problem
 * size alone (k blocks, then the k loop of one micro-kernel), whichever
 * tile or thread computes it. Kernels never allocate: callers pass a
 * 64-byte aligned scratch of *_scratch() bytes (computed for the ISA level
 * active at that moment); with a pool, worker threads also use the pool's
 * per-thread scratch. */
#ifndef MN_KERNELS_GEMM_H
#define MN_KERNELS_GEMM_H

#include <stddef.h>
#include <stdint.h>
#include "core/pool.h"
#include "kernels/ref/ref_kernels_conv.h"
#include "kernels/wsrc.h"

/* Activation fused into a kernel's store. */
typedef enum mn_act_kind {
    MN_ACT_NONE = 0,
    MN_ACT_RELU = 1,        /* max(x, 0) */
    MN_ACT_CLIP = 2,        /* min(max(x, lo), hi): ReLU6 is lo 0, hi 6 */
    MN_ACT_SIGMOID = 3,     /* 1 / (1 + e^-x) */
    MN_ACT_SILU = 4,        /* x · sigmoid(x) (Swish) */
    MN_ACT_HARDSIGMOID = 5, /* min(max(lo·x + hi, 0), 1): lo = alpha,
                               hi = beta */
    MN_ACT_HARDSWISH = 6,   /* x · min(max(lo·x + hi, 0), 1): HardSwish
                               is lo 1/6, hi 0.5 */
    MN_ACT_GELU = 7,        /* x · Φ(x) = x/2 · (1 + erf(x/√2)) */
    MN_ACT_COUNT
} mn_act_kind;

typedef struct mn_act {
    mn_act_kind kind;
    float lo, hi;
} mn_act;

/* What happens to an output after the sum: + bias, + residual (a skip
 * connection's Add fused into the store), then the activation. */
typedef struct mn_epilogue {
    const float *bias; /* NULL, or one value per row (m) / per column (n) */
    int bias_per_col;  /* 0: bias[i] for row i; 1: bias[j] for column j */
    const float *residual; /* NULL, or m×n laid out like c (ldc) */
    mn_act act;
} mn_epilogue;

/* c[m×n] = act(alpha·op(a)·op(b) + beta·c + bias + residual), row-major with leading
 * dimensions lda/ldb/ldc; op(x) is x or its transpose (as mn_ref_gemm_f32).
 * beta == 0: c is write-only. epi may be NULL. pool may be NULL. */
size_t mn_sgemm_scratch(int trans_a, int trans_b, int64_t m, int64_t n,
                        int64_t k);
void mn_sgemm(mn_pool *pool, int trans_a, int trans_b, int64_t m, int64_t n,
              int64_t k, float alpha, const float *a, int64_t lda,
              const float *b, int64_t ldb, float beta, float *c, int64_t ldc,
              const mn_epilogue *epi, void *scratch);

/* The same with B a weight source (wsrc.h) instead of a float32 matrix:
 * B as stored is [k, n], or [n, k] when trans_b; bw->cols is its ldb.
 * The same bits as mn_sgemm on the decoded matrix, decoding B's packed
 * panels (and GEMV column blocks) on the fly; the reference level and
 * trans_a decode the whole of B into the scratch first. */
size_t mn_sgemm_wsrc_scratch(int trans_a, int trans_b, int64_t m, int64_t n,
                             int64_t k, const mn_wsrc *bw);
void mn_sgemm_wsrc(mn_pool *pool, int trans_a, int trans_b, int64_t m,
                   int64_t n, int64_t k, float alpha, const float *a,
                   int64_t lda, const mn_wsrc *bw, float beta, float *c,
                   int64_t ldc, const mn_epilogue *epi, void *scratch);

/* 2-D convolution, NCHW, as mn_ref_conv2d_f32, then y = act(y + residual)
 * fused into the store (act and residual may be NULL; residual has y's
 * shape and must not overlap it). Ordinary and grouped convolutions run as GEMMs whose B
 * operand is packed straight from the input (im2col is never materialized;
 * 1×1 stride-1 convolutions read the input as the matrix); depthwise ones
 * run a direct kernel. */
size_t mn_conv2d_f32_scratch(const mn_conv_params *p);
void mn_conv2d_f32(mn_pool *pool, const mn_conv_params *p, const float *x,
                   const float *w, const float *b, const mn_act *act,
                   const float *residual, float *y, void *scratch);
/* The same with the weight a weight source (the same bits as on the
 * decoded weight; conv_f32.c says where it is decoded). */
size_t mn_conv2d_f32_wsrc_scratch(const mn_conv_params *p,
                                  const mn_wsrc *ws);
void mn_conv2d_f32_wsrc(mn_pool *pool, const mn_conv_params *p,
                        const float *x, const mn_wsrc *ws, const float *b,
                        const mn_act *act, const float *residual, float *y,
                        void *scratch);

/* A squeeze-excite product fused into the convolution that reads it:
 * the input is x · xs, xs[n·c + ch] one float per image and input channel
 * (ONNX Mul by an [N, C, 1, 1] tensor), each product formed as the
 * input's rows are packed for the GEMM (always packed then, where the
 * plain call may read small planes in place: the same tiles over the same
 * values) — the same bits as the Mul then mn_conv2d_f32. scales_input:
 * whether p runs that way at the active level (a pointwise, ungrouped
 * convolution on the GEMM path with more than one output channel and
 * pixel); the scaled call is only for such p. */
int mn_conv2d_f32_scales_input(const mn_conv_params *p);
void mn_conv2d_f32_scaled(mn_pool *pool, const mn_conv_params *p,
                          const float *x, const float *xs, const float *w,
                          const float *b, const mn_act *act,
                          const float *residual, float *y, void *scratch);

/* The channel-vector convolution (conv_cv_f32.c): the weight packed once
 * (mn_conv_cv_f32_pack into packed_floats floats), tiles of 48 output
 * channels × 8 pixels written straight into y, for one group, not
 * depthwise, no dilation, stride 1 or 2, at a level with the tile
 * (mn_conv_cv_f32_can). want: whether it is the better path for p.
 * y = act(conv + b + residual) as mn_conv2d_f32, up to float rounding. */
int mn_conv_cv_f32_can(const mn_conv_params *p);
int mn_conv_cv_f32_want(const mn_conv_params *p);
size_t mn_conv_cv_f32_packed_floats(const mn_conv_params *p);
void mn_conv_cv_f32_pack(const mn_conv_params *p, const float *w,
                         float *dst);
size_t mn_conv_cv_f32_scratch(const mn_conv_params *p);
void mn_conv_cv_f32(mn_pool *pool, const mn_conv_params *p, const float *x,
                    const float *wp, const float *b, const mn_act *act,
                    const float *residual, float *y, void *scratch);

/* y[i] = act(y[i] + residual[i]) for n floats (residual may be NULL): the
 * epilogue after kernels that do not fuse it. */
void mn_act_apply(const mn_act *act, const float *residual, float *y,
                  int64_t n);
/* y[i] = act(x[i]) for n floats (y may be x), vectorized at the active
 * ISA level (the scalar mn_act_scalar at the reference level). */
void mn_act_f32(const mn_act *act, const float *x, float *y, int64_t n);

#endif
