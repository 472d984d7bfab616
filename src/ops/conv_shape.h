/* Shape rules shared by the convolution, pooling and matmul op families:
 * sliding-window geometry (kernel_shape / strides / dilations / pads /
 * auto_pad / ceil_mode → output sizes and effective padding per the ONNX
 * rules), the Conv-style input check (X, W, group) shared by Conv,
 * ConvInteger and QLinearConv, and numpy-matmul batching shared by MatMul,
 * MatMulInteger and QLinearMatMul. */
#ifndef MN_OPS_CONV_SHAPE_H
#define MN_OPS_CONV_SHAPE_H

#include "ops/ops.h"
#include "kernels/ref/ref_kernels_conv.h"

#define MN_WIN_MAX_SP 3

enum {
    MN_WIN_CEIL = 1u << 0 /* honour ceil_mode (pooling) */
};

typedef struct mn_window {
    int nsp;                   /* spatial rank */
    int64_t in[MN_WIN_MAX_SP]; /* input size */
    int64_t k[MN_WIN_MAX_SP];  /* kernel */
    int64_t s[MN_WIN_MAX_SP];  /* stride */
    int64_t d[MN_WIN_MAX_SP];  /* dilation */
    int64_t pb[MN_WIN_MAX_SP]; /* leading pad (after auto_pad) */
    int64_t pe[MN_WIN_MAX_SP]; /* trailing pad */
    int64_t out[MN_WIN_MAX_SP];
} mn_window;

/* kernel: the kernel size (from weights; a kernel_shape attribute must then
 * agree), or NULL to take it from kernel_shape (required). */
mn_status mn_window_init(const mn_node *n, int nsp, const int64_t *in_sp,
                         const int64_t *kernel, unsigned flags, mn_window *w,
                         mn_ctx *ctx);

/* Validates a Conv-like node's data input x ([N,C,W] or [N,C,H,W]) and
 * weights w ([M,C/group,kh(,kw)]), reads its attributes and fills *p and
 * the output dims (rank of x) in out_dims. 3-D convolution →
 * MN_ERR_UNSUPPORTED. Does not check dtypes. */
mn_status mn_conv_setup(const mn_node *n, const mn_tensor *x,
                        const mn_tensor *w, mn_conv_params *p,
                        int64_t *out_dims, mn_ctx *ctx);

/* numpy.matmul geometry: a [..., m, k] (or [k]) times b [..., k, n] (or
 * [k]); batch dimensions broadcast. */
typedef struct mn_matmul_shape {
    int64_t m, n, k;
    int nb;                          /* output batch rank */
    int64_t batch[MN_MAX_DIMS];      /* output batch dims */
    int64_t a_str[MN_MAX_DIMS];      /* per batch dim: stride in a's */
    int64_t b_str[MN_MAX_DIMS];      /* matrices, 0 when broadcast */
    int64_t nbatch;                  /* output matrices */
    int64_t a_nbatch, b_nbatch;      /* matrices in a and in b */
} mn_matmul_shape;

/* Validates ranks and k, fills *s and out's ndim/dims (not dtype). */
mn_status mn_matmul_setup(const mn_tensor *a, const mn_tensor *b,
                          mn_matmul_shape *s, mn_tensor *out, mn_ctx *ctx);
/* Matrix indices into a and b of output matrix t. */
void mn_matmul_index(const mn_matmul_shape *s, int64_t t, int64_t *ia,
                     int64_t *ib);

/* Number of elements of an optional tensor (0 when absent). */
int64_t mn_numel_opt(const mn_tensor *t);

#endif
