/* A weight source: a constant float32 weight kept compressed in memory
 * (float16 values, or int4/uint4 codes with DequantizeLinear's scales)
 * and decoded on the fly by the float32 drivers into the panels they need
 * (sgemm.c's A micro-panel and packed B panels and GEMV blocks, the
 * direct convolution's A panel, the depthwise kernel's taps).
 *
 * The weight is seen as a row-major matrix [rows, cols] over its flat
 * element index i = r·cols + c (a Reshape between the decode and the
 * layer changes no index). Decoding reproduces the op table's arithmetic
 * exactly (src/ops/quantize.c, Cast in shape_const.c):
 *   float16:  w = widen(h)
 *   int4:     w = (float)(q − z) · s            (float32 scale)
 *             w = widen(to_f16((float)(q − z) · s)) (float16 scale: the
 *                 DequantizeLinear output is float16, then Cast to float)
 * so a layer run on a weight source gives the same bits as on the folded
 * float32 weight. The AVX-512 run decoders (x86/wsrc_avx512.c) do the same
 * IEEE operations on 16 lanes (x86/wsrc_avx2.c on 8), the reference level
 * decodes with the scalar loop.
 * A source borrows its arrays (the graph's initializers). */
#ifndef MN_KERNELS_WSRC_H
#define MN_KERNELS_WSRC_H

#include <stddef.h>
#include <stdint.h>

typedef enum mn_wsrc_kind {
    MN_WSRC_F16 = 1, /* float16 values */
    MN_WSRC_Q4 = 2   /* 4-bit codes, two per byte, low nibble first */
} mn_wsrc_kind;

typedef struct mn_wsrc {
    mn_wsrc_kind kind;
    const void *q;       /* the float16 values or the 4-bit codes */
    int is_signed;       /* Q4: int4 (else uint4) */
    int64_t rows, cols;  /* the float32 weight as a matrix */
    /* Q4: DequantizeLinear's parameter of flat element i, with the
     * quantized tensor seen as [outer, pc, inner] around its axis:
     *   per tensor (per_tensor 1): 0
     *   per axis (blk 0):          (i / inner) % pc
     *   blocked (blk > 0):         ((i / (pc·inner))·nb + (i / inner) % pc
     *                               / blk)·inner + i % inner, nb =
     *                               ceil(pc / blk) */
    int per_tensor;
    int64_t pc, inner, blk;
    const void *scale;   /* float32, or float16 (scale_f16) */
    int scale_f16;       /* also: the decode rounds through float16 */
    const uint8_t *zp;   /* 4-bit zero points like scale, or NULL */
} mn_wsrc;

/* Flat elements [i, i + n) as float32 into dst. */
void mn_wsrc_decode(const mn_wsrc *w, int64_t i, int64_t n, float *dst);
/* Rows [r0, r0 + nr) × columns [c0, c0 + nc) into dst (row stride ldd). */
void mn_wsrc_rows(const mn_wsrc *w, int64_t r0, int64_t nr, int64_t c0,
                  int64_t nc, float *dst, int64_t ldd);
/* Bytes the source keeps resident (values or codes, scales, zero points). */
size_t mn_wsrc_bytes(const mn_wsrc *w);
/* "fp16" or "int4" (minnow info's kernel column adds it). */
const char *mn_wsrc_name(const mn_wsrc *w);

/* The vector run decoders of one ISA level (x86/wsrc_avx512.c):
 *   f16: n float16 values → float32
 *   q4:  n codes from flat index i of packed q, minus z, times one scale s
 *        (sv NULL) or times consecutive scales sv[0..n) (float16 when
 *        s_f16), rounded through float16 when half */
typedef struct mn_wsrc_kernels {
    void (*f16)(const uint16_t *h, int64_t n, float *dst);
    void (*q4)(const uint8_t *q, int64_t i, int64_t n, int is_signed,
               int32_t z, float s, const void *sv, int s_f16, int half,
               float *dst);
    /* q4 for n values of one row of a blocked layout without zero points
     * (inner 1): sp points at the scale of the block holding even index
     * i, which is kr values into it; blk and kr multiples of 16 */
    void (*q4_blocked)(const uint8_t *q, int64_t i, int64_t n,
                       int is_signed, const void *sp, int s_f16,
                       int64_t blk, int64_t kr, int half, float *dst);
    /* out[r] = the AVX-512 gemv_t's dot product of x[0..cols) with row
     * r0 + r (r < nr) of w, decoded in registers (w as mn_wsrc_dot
     * accepts) */
    void (*dot_rows)(const mn_wsrc *w, int64_t r0, int64_t nr,
                     const float *x, float *out);
} mn_wsrc_kernels;

/* The one value of a run whose first code is a high nibble (flat index i
 * odd), with the run's zero point z and scale s, or its first scale at sv
 * (float16 when s_f16); rounded through float16 when half. The vector
 * run decoders call it before their even part. */
float mn_wsrc_q4_one(const uint8_t *q, int64_t i, int is_signed, int32_t z,
                     float s, const void *sv, int s_f16, int half);

const mn_wsrc_kernels *mn_wsrc_kernels_avx512(void);
const mn_wsrc_kernels *mn_wsrc_kernels_avx2(void); /* no dot_rows */

/* The kernels that compute gemv_t's dot products straight from w (no
 * decoded copy: a batch-1 fully connected layer reads 2 or 0.5 bytes per
 * weight), or NULL: not at this ISA level (only with the AVX-512 GEMM
 * kernels, whose summation order they repeat), or w's layout is not one
 * they take (float16; int4 blocked along whole rows by multiples of 16
 * without zero points, even row length). */
const mn_wsrc_kernels *mn_wsrc_dot(const mn_wsrc *w);


#endif
