/* Reference (portable C) kernels for convolution-like ops: a cache-blocked
 * float GEMM, im2col-based and depthwise 2-D convolution, and the 8-bit
 * integer convolution / matrix-multiply cores used by the quantized ops.
 *
 * These kernels are the oracle every SIMD kernel must match. They never
 * allocate: each publishes a *_scratch() size in bytes and receives a
 * 64-byte aligned workspace of at least that size. Inputs are trusted (the
 * op's infer validated shapes); sizes are int64_t element counts. */
#ifndef MN_KERNELS_REF_CONV_H
#define MN_KERNELS_REF_CONV_H

#include <stddef.h>
#include <stdint.h>

/* One 2-D convolution, NCHW layout. A 1-D convolution is h = kh = oh = 1.
 * Trailing pads are implied by oh/ow: positions outside the input read 0. */
typedef struct mn_conv_params {
    int64_t n, c, h, w;     /* input batch, channels, height, width */
    int64_t m, oh, ow;      /* output channels, height, width */
    int64_t kh, kw;         /* kernel size */
    int64_t sh, sw;         /* strides */
    int64_t dh, dw;         /* dilations */
    int64_t pt, pl;         /* leading (top, left) padding */
    int64_t group;          /* c % group == 0, m % group == 0 */
} mn_conv_params;

/* The outputs o in [0, n) whose position o·s + off lies in [0, lim) form
 * one range [*lo, *hi): how kernels keep bounds checks out of inner loops. */
static inline void mn_ref_valid_range(int64_t off, int64_t s, int64_t lim,
                                      int64_t n, int64_t *lo, int64_t *hi)
{
    int64_t a = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t b = lim - off <= 0 ? 0 : (lim - off + s - 1) / s;
    if (a > n)
        a = n;
    if (b > n)
        b = n;
    *lo = a;
    *hi = b > a ? b : a;
}

/* ---- float32 ---- */

/* c[m×n] = alpha · op(a)[m×k] · op(b)[k×n] + beta · c, row-major with
 * leading dimensions lda/ldb/ldc; op(x) is x or its transpose. beta == 0:
 * c is write-only (never read). */
size_t mn_ref_gemm_f32_scratch(int64_t m, int64_t n, int64_t k);
void mn_ref_gemm_f32(int trans_a, int trans_b, int64_t m, int64_t n,
                     int64_t k, float alpha, const float *a, int64_t lda,
                     const float *b, int64_t ldb, float beta, float *c,
                     int64_t ldc, float *scratch);

/* y[n][m][oh][ow] = b[m] + Σ w[m][c'][i][j] · x[n][g·C/G + c'][..][..].
 * w is [m][c/group][kh][kw]; b may be NULL. */
size_t mn_ref_conv2d_f32_scratch(const mn_conv_params *p);
void mn_ref_conv2d_f32(const mn_conv_params *p, const float *x,
                       const float *w, const float *b, float *y,
                       float *scratch);

/* True when p is a 1×1, stride-1, unpadded convolution (its input is the
 * GEMM's B matrix as it lies). */
int mn_ref_conv2d_is_pointwise(const mn_conv_params *p);

/* True when p is depthwise (group == c, m a multiple of c, c > 1 or m > 1):
 * handled by its own direct loop, no scratch. */
int mn_ref_conv2d_is_depthwise(const mn_conv_params *p);

/* ---- 8-bit integer ---- */

/* An 8-bit operand: int8 or uint8 data with zero point(s). n_zp is 1 (per
 * tensor) or the per-channel count (output channels for conv weights). */
typedef struct mn_q8_operand {
    const void *data;
    int is_signed;          /* 1: int8, 0: uint8 */
    const int32_t *zp;      /* NULL: zero point 0 */
    int64_t n_zp;
} mn_q8_operand;

/* Largest reduction length for which an int32 accumulation of products of
 * zero-point-shifted 8-bit values (|v| <= 255) cannot overflow. */
#define MN_REF_Q8_MAX_K 33025

/* c[m×n] (int32) = a[m×k] · b[k×n] with int16 operands, row-major;
 * k <= MN_REF_Q8_MAX_K and |a|,|b| <= 255 so the int32 sums cannot
 * overflow. */
void mn_ref_gemm_s16s32(int64_t m, int64_t n, int64_t k, const int16_t *a,
                        const int16_t *b, int32_t *c);

/* Integer convolution: y[n][m][oh][ow] (int32) = Σ (x - x_zp)·(w - w_zp[m]).
 * Padding contributes 0 (it equals the zero point). x->n_zp must be 1. */
size_t mn_ref_conv2d_q8_scratch(const mn_conv_params *p);
void mn_ref_conv2d_q8(const mn_conv_params *p, const mn_q8_operand *x,
                      const mn_q8_operand *w, int32_t *y, void *scratch);

/* Converts n 8-bit values to int16 minus one zero point. */
void mn_ref_q8_to_s16(const void *src, int is_signed, int32_t zp, int64_t n,
                      int16_t *dst);

/* Requantizes one accumulator in float32, as ONNX Runtime's x86 kernels
 * (MLAS) do: s = acc wrapped to int32, v = (float)s · mult (float32, round
 * to nearest), clamped to [lo − zp, hi − zp] (NaN → lo − zp), rounded half
 * to even, + zp. So the result lies in [lo, hi]; [lo, hi] narrower than
 * the type is a fused ReLU/ReLU6. */
int32_t mn_ref_requantize(int64_t acc, float mult, int32_t zp, int32_t lo,
                          int32_t hi);

#endif
