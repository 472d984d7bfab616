/* Fast 8-bit integer GEMM (uint8 activations × int8 weights → int32) with
 * a fused requantizing epilogue, for QLinearConv / ConvInteger /
 * QLinearMatMul. Dispatched at run time (src/kernels/dispatch.h): the
 * AVX-512 VNNI tile (vpdpbusd) or the AVX2 tile (vpmaddwd on zero-extended
 * activations, exact); with neither, callers run the reference kernels
 * (src/kernels/ref/conv_q8_ref.c), which stay the oracle: results here are
 * bit-identical to them.
 *
 * The GEMM is C[m×n] = A[m×k] · B[k×n] with A the weights (int8, packed
 * once: panels of MR rows, k grouped by 4 and zero-padded) and B the
 * activations (uint8, packed per call into NR-column panels, k grouped by
 * 4: panel[q][j][t] = B[4q + t][j]). A uint8 weight tensor whose zero point
 * is 128 and int8 activations are moved to that form by flipping the top
 * bit (v ^ 0x80 = v ± 128 with the zero point moved along). The activation
 * zero point x_zp is not subtracted in the inner loop:
 *     Σ (x - x_zp)·w = Σ x·w - x_zp·Σ w,
 * the per-row weight sum folded into the epilogue's per-row addend.
 *
 * Epilogue per element (row i, the output channel):
 *   int8/uint8 out: s = acc + add[i] (int32, wrapping),
 *                   v = round_half_even(clamp((float)s · mult[i],
 *                   lo − y_zp, hi − y_zp)) + y_zp (NaN → lo), exactly as
 *                   mn_ref_requantize: float32 arithmetic, as ONNX
 *                   Runtime's x86 kernels; [lo, hi] narrower than the
 *                   type is a fused ReLU/ReLU6.
 *   int32 out:      v = acc + add_i32[i] (wrapping; exact when the true
 *                   result fits, as the op's k bound guarantees).
 *   A fused residual (res): the 8-bit value then goes through QLinearAdd
 *   with the byte at the same place of another tensor (mn_qadd_fixed1).
 * Integer sums are exact, so results never depend on tiling or threads. */
#ifndef MN_KERNELS_QGEMM_H
#define MN_KERNELS_QGEMM_H

#include <stddef.h>
#include <stdint.h>
#include "core/pool.h"
#include "kernels/dispatch.h"
#include "kernels/qelem.h"
#include "kernels/ref/ref_kernels_conv.h"

typedef struct mn_qgemm_epi {
    const int32_t *add;     /* per row (uint8/int8 out) */
    const float *mult;      /* per row; NULL: int32 output */
    const int32_t *add_i32; /* per row (int32 out) */
    double yzp, lo, hi;
    int out_signed;         /* int8 (1) or uint8 (0) output */
    /* A fused residual QLinearAdd (8-bit output only; NULL: none): each
     * stored value v becomes mn_qadd_fixed1(res, v, r) with r the byte at
     * the element's address + res_off (a same-layout 8-bit tensor of the
     * output's type); v is the add's operand a. */
    const mn_qadd_fixed *res;
    ptrdiff_t res_off;
    /* Set by mn_q8_epi_fast: no product (acc + add)·mult can reach 2^30,
     * so the AVX-512 stores may round it without the float clamp and
     * clamp by saturating narrowing (when [lo, hi] is the type's range):
     * the same bytes. */
    int fast;
} mn_qgemm_epi;

/* Whether every row r < rows of e (8-bit output) keeps
 * (|add[r]| + k·255·128)·|mult[r]| below 2^30 with mult finite: the
 * bound of any sum over k products of a uint8 and an int8 (e.fast). */
int mn_q8_epi_fast(const mn_qgemm_epi *e, int64_t rows, int64_t k);

/* An 8-bit value v after the fused residual add (mn_qgemm_epi.res): the
 * QLinearAdd of v and the residual's byte at r, both of the output's type
 * (int8 when sgn). Every store that is not the AVX-512 one adds this way. */
static inline int32_t mn_q8_res1(const mn_qadd_fixed *res, int sgn, int32_t v,
                                 const void *r)
{
    uint8_t b = *(const uint8_t *)r;
    return mn_qadd_fixed1(res, v, sgn ? (int32_t)(int8_t)b : (int32_t)b, sgn);
}

/* The epilogue of one element in portable C (what the reference sparse
 * kernel stores with): row `row`'s requantization of acc through
 * mn_ref_requantize, the reference forwards' own function, into one byte,
 * or acc + add_i32[row] into an int32, at y. */
void mn_qgemm_store1(const mn_qgemm_epi *e, int64_t row, int32_t acc,
                     void *y);

/* One tile: rows [row0, row0 + mr) of the epilogue arrays, mr <= MR,
 * nr <= NR columns; a is one packed A panel (MR rows × kq quads), b one
 * packed B panel (kq × NR × 4 bytes). Element (i, j) is stored at
 * y + (i·rs + j·cs) elements (1 byte, or 4 for int32 output). */
typedef void (*mn_qgemm_tile_fn)(int64_t kq, const void *a, const uint8_t *b,
                                 int mr, int nr, const mn_qgemm_epi *e,
                                 int64_t row0, void *y, int64_t rs,
                                 int64_t cs);

/* One depthwise output plane (8-bit, see mn_q8_dw_ok for which p):
 *   y[oh][ow] = epilogue_row(Σ_ij taps[i·kw + j] ·
 *                                 xp[oh·sh + i·dh][ow·sw + j·dw])
 * xp: the input channel padded by mn_q8_pad_input (wp wide, flip applied
 * by the caller's x_zp bookkeeping: xp holds uint8), taps: int8 weights
 * as int32. y: oh·ow elements (1 byte, or 4 for int32 output). */
typedef void (*mn_q8_dw_fn)(const mn_conv_params *p, const uint8_t *xp,
                            int64_t wp, const int32_t *taps,
                            const mn_qgemm_epi *e, int64_t row, void *y);

/* Depthwise output channels [m0, m0 + nc), nc <= 32, of one image in
 * channel-vector tiles (see mn_q8_dwcv_ok for which p): x the image's
 * input (p->c planes of h·w bytes; padding byte pad, every byte xor flip
 * on the way in, as mn_q8_pad_fn), wq the tile's packed weights
 * (mn_q8_dwcv_pack: the 32 channels from m0), y the image's output
 * (p->m planes of oh·ow elements: 1 byte, or 4 for int32 output),
 * scratch mn_q8_dwcv_scratch(p) bytes. */
typedef void (*mn_q8_dwcv_fn)(const mn_conv_params *p, const uint8_t *x,
                              uint8_t pad, uint8_t flip, const int8_t *wq,
                              const mn_qgemm_epi *e, int64_t m0, int nc,
                              void *y, void *scratch);

/* One direct-convolution tile (src/kernels/qdirect.h): rows
 * [row0, row0 + mr), mr <= MR, × 32 virtual pixels of an x4 input at
 * base (src/kernels/q8_x4.h):
 *   acc(i, l) = Σ_{q < kq} Σ_t a[q][i].byte t (int8) ·
 *               base[off[q] + 4·l + t] (uint8)
 * with a one packed A panel (MN_QA_S8X4, quads in off's order). Lanes set
 * in mask[v] (lanes 16·v .. 16·v + 15, v < 2) are output pixels: their
 * epilogue values are stored in lane order from element yoff[v] of row i,
 * at y + (i·rs + yoff[v] + rank) elements. */
typedef void (*mn_q8_direct_fn)(int64_t kq, const void *a,
                                const int32_t *off, const uint8_t *base,
                                int mr, const uint16_t *mask,
                                const int64_t *yoff, const mn_qgemm_epi *e,
                                int64_t row0, void *y, int64_t rs);

/* One channel-vector direct tile (src/kernels/qdirect.h): output
 * channels [row0, row0 + nc), nc <= 32, × np <= 8 output pixels; pixel j
 * reads x4 at px[j] + off[q] (px[j] for j >= np: any readable pixel,
 * ignored):
 *   acc(i, j) = Σ_{q < kq} Σ_t a[q][i].byte t (int8) · px[j][off[q] + t]
 * with a the 32 channels' packed weights (128 bytes per quad: 4 per
 * channel, zero past the channels). Channel i's pixel j goes to
 * y + (i·rs + j) elements. Meanwhile it prefetches pf_lines cache lines
 * from pf into L2, one per quad: the weights a later tile reads (the
 * drivers spread the next panel's over a panel's tiles, so a layer's
 * weights arrive from memory while the sums run). */
typedef void (*mn_q8_direct_cv_fn)(int64_t kq, const void *a,
                                   const int32_t *off,
                                   const uint8_t *const *px, int np, int nc,
                                   const mn_qgemm_epi *e, int64_t row0,
                                   void *y, int64_t rs, const void *pf,
                                   int64_t pf_lines);

/* One row tile of a batch of 1×1 images (a MatMul lowered to a 1×1
 * convolution): output channels [row0, row0 + nc), nc <= 32, of np <= 8
 * images whose k = 4·kq input bytes (flip applied: uint8) start at px[j]
 * (px[j] for j >= np: any readable row, ignored):
 *   acc(i, j) = Σ_{q < kq} Σ_t a[q][i].byte t (int8) · px[j][off[q] + t]
 * a as mn_q8_direct_cv_fn's (32-row S8X4 panels), off[q] = 4·q. Image j's
 * channel i goes to y + (j·ldy + i) elements: each image's channels are
 * contiguous, no transpose. pf, pf_lines: as mn_q8_direct_cv_fn's. */
typedef void (*mn_q8_rows_fn)(int64_t kq, const void *a, const int32_t *off,
                              const uint8_t *const *px, int np, int nc,
                              const mn_qgemm_epi *e, int64_t row0, void *y,
                              int64_t ldy, const void *pf, int64_t pf_lines);

/* How A panels are laid out: per quad q, per row i,
 *   MN_QA_S8X4:  4 int8 (w[4q..4q+3]) — the VNNI tile;
 *   MN_QA_S16X4: (w0, w2) then (w1, w3) as int16 pairs — the AVX2 tile. */
enum { MN_QA_S8X4 = 0, MN_QA_S16X4 = 1 };

/* One column (n = 1): rows [row0, row0 + m) of y (stride rs elements) =
 * epilogue(A·x), a the packed panels of those rows (m rounded up to MR),
 * x: 4·kq bytes (flip applied, zero past k). */
typedef void (*mn_q8_gemv_fn)(int64_t kq, const void *a, int64_t m,
                              const uint8_t *x, const mn_qgemm_epi *e,
                              int64_t row0, void *y, int64_t rs);

/* One channel plane (p->c / p->group == 1 or the caller's channel) padded
 * as mn_q8_pad_input does, with every byte of the hp × wp plane xor flip
 * (int8 activations moved to uint8); the 64 bytes after the plane hold
 * pad ^ flip. */
typedef void (*mn_q8_pad_fn)(const mn_conv_params *p, const uint8_t *x,
                             uint8_t pad, uint8_t flip, uint8_t *dst);

typedef struct mn_kernels_q8 {
    const char *name;
    mn_isa isa;
    int mr, nr;
    int a_layout; /* MN_QA_* */
    mn_qgemm_tile_fn tile;
    mn_q8_dw_fn dw; /* NULL: depthwise runs as grouped GEMMs */
    mn_q8_dwcv_fn dw_cv; /* NULL: depthwise by planes only */
    mn_q8_direct_fn direct; /* NULL: convolutions run as GEMMs */
    mn_q8_direct_cv_fn direct_cv; /* NULL: direct tiles by pixels only */
    mn_q8_rows_fn rows_cv;  /* NULL: batches of 1×1 images as GEMMs */
    mn_q8_gemv_fn gemv;     /* NULL: one column runs as a GEMM tile */
    mn_q8_pad_fn pad;       /* NULL: mn_q8_pad_input, then the flip */
} mn_kernels_q8;

/* Whether kr's depthwise kernel handles p (depthwise, strides 1 or 2). */
int mn_q8_dw_ok(const mn_kernels_q8 *kr, const mn_conv_params *p);
/* Whether kr's channel-vector depthwise kernel runs p (and is the better
 * one: planes up to 16 wide, where a plane vector wastes lanes): undilated,
 * kernels up to 8×8, strides 1 or 2, and a CPU with AVX512_VBMI. */
int mn_q8_dwcv_ok(const mn_kernels_q8 *kr, const mn_conv_params *p);
/* Padded input rows it reads: (oh − 1)·sh + kh. */
int64_t mn_q8_dwcv_rows(const mn_conv_params *p);
size_t mn_q8_dwcv_scratch(const mn_conv_params *p);
/* The weights in tiles of 32 channels: per kernel row i and quad g (taps
 * 4g .. 4g + 3 of the row, zero past kw), 32 channels × 4 int8 (zero past
 * m). taps: [m][kh·kw] int8 values as int32. */
size_t mn_q8_dwcv_pack_bytes(const mn_conv_params *p);
void mn_q8_dwcv_pack(const mn_conv_params *p, const int32_t *taps,
                     int8_t *dst);
/* The AVX-512 VNNI + VBMI channel-vector depthwise kernel (reached through
 * mn_kernels_q8_avx512vnni()->dw_cv). */
void mn_q8_dwcv_avx512vbmi(const mn_conv_params *p, const uint8_t *x,
                           uint8_t pad, uint8_t flip, const int8_t *wq,
                           const mn_qgemm_epi *e, int64_t m0, int nc,
                           void *y, void *scratch);
/* The AVX-512 VNNI depthwise kernel (defined only in a VNNI build; reached
 * through mn_kernels_q8_avx512vnni()->dw). */
void mn_q8_dwconv_avx512vnni(const mn_conv_params *p, const uint8_t *xp,
                             int64_t wp, const int32_t *taps,
                             const mn_qgemm_epi *e, int64_t row, void *y);

/* The same with four taps per vpdpbusd (AVX512_VBMI byte permutes),
 * undilated kernels up to 8×8 wide; returns 0 (nothing done) for other p
 * or in a build without it. Called by the VNNI kernel when the CPU has
 * VBMI. */
int mn_q8_dwconv_avx512vbmi(const mn_conv_params *p, const uint8_t *xp,
                            int64_t wp, const int32_t *taps,
                            const mn_qgemm_epi *e, int64_t row, void *y);
/* The AVX-512 VNNI direct convolution tile (reached through
 * mn_kernels_q8_avx512vnni()->direct). */
void mn_q8_direct_avx512vnni(int64_t kq, const void *a, const int32_t *off,
                             const uint8_t *base, int mr,
                             const uint16_t *mask, const int64_t *yoff,
                             const mn_qgemm_epi *e, int64_t row0, void *y,
                             int64_t rs);

/* The AVX-512 VNNI channel-vector direct tile (reached through
 * mn_kernels_q8_avx512vnni()->direct_cv). */
void mn_q8_direct_cv_avx512vnni(int64_t kq, const void *a,
                                const int32_t *off,
                                const uint8_t *const *px, int np, int nc,
                                const mn_qgemm_epi *e, int64_t row0,
                                void *y, int64_t rs, const void *pf,
                                int64_t pf_lines);

/* The AVX-512 VNNI row tile (reached through
 * mn_kernels_q8_avx512vnni()->rows_cv). */
void mn_q8_rows_cv_avx512vnni(int64_t kq, const void *a, const int32_t *off,
                              const uint8_t *const *px, int np, int nc,
                              const mn_qgemm_epi *e, int64_t row0, void *y,
                              int64_t ldy, const void *pf, int64_t pf_lines);

/* The AVX-512 (BW) plane padder (reached through
 * mn_kernels_q8_avx512vnni()->pad). */
void mn_q8_pad_plane_avx512(const mn_conv_params *p, const uint8_t *x,
                            uint8_t pad, uint8_t flip, uint8_t *dst);

/* The AVX-512 VNNI GEMV (reached through mn_kernels_q8_avx512vnni()->gemv). */
void mn_q8_gemv_avx512vnni(int64_t kq, const void *a, int64_t m,
                           const uint8_t *x, const mn_qgemm_epi *e,
                           int64_t row0, void *y, int64_t rs);

const mn_kernels_q8 *mn_kernels_q8_avx512vnni(void); /* NULL if not built */
const mn_kernels_q8 *mn_kernels_q8_avx2(void);
/* The table for the active ISA level; NULL: use the reference kernels. */
const mn_kernels_q8 *mn_kernels_q8_active(void);

/* ---- A (weights) packing, done once ---- */

/* Bytes of the packed form of m rows × k. */
size_t mn_q8_pack_a_bytes(const mn_kernels_q8 *kr, int64_t m, int64_t k);
/* Packs w (m rows, row stride ldw bytes, k int8 values each; each byte
 * XORed with flip first) and writes each row's sum Σ_p w[i][p] (after the
 * flip, as int8) into rowsum[i] (rowsum may be NULL). */
void mn_q8_pack_a(const mn_kernels_q8 *kr, int64_t m, int64_t k,
                  const uint8_t *w, int64_t ldw, uint8_t flip, void *dst,
                  int32_t *rowsum);
/* rowsum[i] = Σ_p (int8)(w[i·ldw + p] ^ flip) for rows i < m. */
void mn_q8_rowsum(int64_t m, int64_t k, const uint8_t *w, int64_t ldw,
                  uint8_t flip, int32_t *rowsum);

/* ---- B (activations) sources, packed per call ---- */

typedef enum mn_q8_bkind {
    MN_Q8B_MATRIX = 0, /* b[p·ldb + j] */
    MN_Q8B_TRANS = 1,  /* b[j·ldb + p] */
    MN_Q8B_IM2COL = 2  /* convolution taps of one group of x (NCHW),
                          padded by mn_q8_pad_input */
} mn_q8_bkind;

typedef struct mn_q8_bsrc {
    mn_q8_bkind kind;
    const uint8_t *b;          /* IM2COL: the group's padded input */
    int64_t ldb;
    const mn_conv_params *p;   /* IM2COL only */
    uint8_t flip;              /* XORed into every byte (int8 → uint8) */
} mn_q8_bsrc;

/* The im2col source reads a copy of one group's input with the padding
 * written out (the zero point), so packing has no bounds checks: cg
 * channel planes of hp × wp bytes (mn_q8_pad_dims), plus slack for
 * 16-byte reads. */
void mn_q8_pad_dims(const mn_conv_params *p, int64_t *hp, int64_t *wp);
size_t mn_q8_pad_bytes(const mn_conv_params *p);
void mn_q8_pad_input(const mn_conv_params *p, const uint8_t *x, uint8_t pad,
                     uint8_t *dst);


/* dst[o] = src[o·stride] for o < n (stride 2 may read one byte past the
 * last one taken). */
void mn_q8_gather_row(const uint8_t *src, int64_t n, int64_t stride,
                      uint8_t *dst);

/* Writes quad q of every panel (nr columns, kq quads each, as above) from
 * four rows of nc bytes: dword j of panel pan = bytes r[0..3][pan·nr + j]
 * XORed with flip, zero past nc. With nr = nc and kq = 1: one row of nc
 * dwords interleaving four rows (the sparse kernels' c4 input). */
void mn_q8_interleave4(const uint8_t *const r[4], int64_t nc, int nr,
                       int64_t kq, int64_t q, uint8_t flip, uint8_t *dst);

/* Bytes of one thread's B packing buffer for n columns and k. */
size_t mn_q8_thread_scratch(const mn_kernels_q8 *kr, int64_t n, int64_t k);

/* y = epilogue(A · B) for m rows, n columns, k reductions: a packed by
 * mn_q8_pack_a, B from bs, element (i, j) at y + (i·rs + j·cs) elements,
 * epilogue rows row0 + i. scratch: one thread's buffer (used when pool is
 * NULL); pool threads use the pool's scratch. */
void mn_q8_gemm_run(const mn_kernels_q8 *kr, mn_pool *pool, int64_t m,
                    int64_t n, int64_t k, const void *a, const mn_q8_bsrc *bs,
                    const mn_qgemm_epi *e, int64_t row0, void *y, int64_t rs,
                    int64_t cs, void *scratch);

#endif
