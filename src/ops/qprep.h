/* Per-node state of the fast 8-bit ops (QLinearConv, ConvInteger,
 * QLinearMatMul), built once by their prepare hook at session compile time
 * from the constant weights: the packed weights and the per-row
 * requantization table of the int8 GEMM (src/kernels/qgemm.h). Forward
 * only reads it, so run() allocates nothing. */
#ifndef MN_OPS_QPREP_H
#define MN_OPS_QPREP_H

#include "ops/ops.h"
#include "kernels/qdirect.h"
#include "kernels/qgemm.h"
#include "kernels/spmm_q8.h"

typedef struct mn_q8_prep {
    const mn_kernels_q8 *kr;  /* NULL: no packed A (the sparse path) */
    int64_t m, k, groups;  /* rows per group, reductions, groups */
    uint8_t *a;            /* packed weights: group g at a + g·a_group */
    size_t a_group;
    int32_t *rowsum;       /* [groups·m]: Σ weights of each row */
    int32_t *add;          /* [groups·m] epilogue tables: bias + x_zp term */
    float *mult;           /* (uint8/int8 out) */
    int32_t *add_i32;      /* [groups·m] */
    int32_t *taps;         /* depthwise kernel: [groups·m][k] weights, or
                              NULL (GEMM path) */
    int8_t *dwq;           /* depthwise in channel-vector tiles: the packed
                              weights (mn_q8_dwcv_pack), or NULL (planes) */
    size_t dwq_bytes;
    uint8_t *rw;           /* a batch of 1×1 images in row tiles: the
                              weights in 32-row panels (mn_q8_rows_fn),
                              or NULL (one GEMM) */
    int32_t *rw_off;       /* [kq]: 4·q */
    size_t rw_bytes;
    mn_spconv_q8 *sp;      /* the sparse convolution, or NULL (dense) */
    mn_q8_direct *dc;      /* the direct convolution (a packed for it),
                              or NULL */
    mn_qgemm_epi epi;
    uint8_t xflip;         /* 0x80 for int8 activations */
    uint8_t xpad;          /* x's zero point as stored (conv padding) */
} mn_q8_prep;

/* How an 8-bit weight tensor maps to the kernels' int8: int8 with zero
 * point 0 (flip 0) or uint8 with zero point 128 (flip 0x80). zp: the
 * constant zero-point tensor or NULL. Returns 0 when it does not. */
int mn_q8_weight_flip(const mn_tensor *w, const mn_tensor *zp,
                      uint8_t *flip);

/* Allocates the state and packs `groups` blocks of m rows × k from w (row
 * stride ldw, block g at w + g·m·ldw; transposed: w is k × (groups·m),
 * element (row r, p) at w[p·ldw + r], groups must be 1). Fills rowsum;
 * the caller fills the tables. kr NULL: no packing (a sparse weight is
 * added by mn_q8_prep_sparse). */
mn_status mn_q8_prep_create(const mn_kernels_q8 *kr, int64_t m, int64_t k,
                            int64_t groups, const uint8_t *w, int64_t ldw,
                            int transposed, uint8_t flip, mn_q8_prep **out,
                            mn_ctx *ctx);
void mn_q8_prep_destroy(void *prep);
/* Adds the sparse form of the same conv weight (src/kernels/spmm_q8.h);
 * the forward then runs the sparse kernels. */
mn_status mn_q8_prep_sparse(mn_q8_prep *q, const mn_conv_params *p,
                            const uint8_t *w, uint8_t flip, mn_ctx *ctx);

/* Packs the same conv weight for the direct convolution kernel of kr
 * (src/kernels/qdirect.h) into a state created without kernels; the
 * forward then runs it. */
mn_status mn_q8_prep_direct(mn_q8_prep *q, const mn_kernels_q8 *kr,
                            const mn_conv_params *p, const uint8_t *w,
                            uint8_t flip, mn_ctx *ctx);
/* The activation side: x's dtype sets the flip (int8 activations are
 * moved to uint8 by xor 0x80), its constant zero point xzp (NULL: 0) the
 * conv padding byte and, with the int32 biases (NULL: 0), the epilogue's
 * additive tables. */
void mn_q8_prep_input(mn_q8_prep *q, const mn_tensor *x,
                      const mn_tensor *xzp, const int32_t *bias);

/* The 8-bit output of QLinear ops: per-row multipliers from the float32
 * scale tensors exactly as the reference forwards compute them,
 * x_scale · w_scale[r] / y_scale in float32, with w_scale per tensor
 * or per row, the output zero point yz (NULL: 0) and the saturation range
 * of out_dt, and whether the stores may take the unclamped form
 * (mn_q8_epi_fast; after mn_q8_prep_input). Without it the epilogue
 * writes int32. */
void mn_q8_prep_requant(mn_q8_prep *q, const mn_tensor *xs,
                        const mn_tensor *ws, const mn_tensor *ys,
                        const mn_tensor *yz, mn_dtype out_dt);

/* Ends a q8 op's prepare hook: the step owns q (NULL: the node runs the
 * reference forward) and releases it with mn_q8_prep_destroy. */
mn_status mn_q8_prepared(mn_prepared *pp, mn_q8_prep *q);

#endif
