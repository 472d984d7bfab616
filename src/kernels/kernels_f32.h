/* Internal contract between the float32 drivers (sgemm.c, conv_f32.c) and
 * the ISA-specific kernels in src/kernels/x86/. Each ISA file exports one
 * getter that returns its kernel table, or NULL when the file was built
 * without the instruction set (then the drivers use the reference path).
 *
 * A tile kernel computes an mr×nr block of C (mr <= MR, nr <= NR) over one
 * block of kc reductions:
 *     acc[i][j] = Σ_p a[i·lda + p] · b[p·ldb + j]
 * a is row-major (weights read in place, no packing); b is either a packed
 * panel (ldb = its width, a multiple of the vector length, zero-padded past
 * nr) or a plain row-major matrix (then columns past nr are never read).
 * The store follows mn_tile_epi; per element the operations are the same
 * whatever mr/nr and position, which keeps results thread-count
 * independent. */
#ifndef MN_KERNELS_KERNELS_F32_H
#define MN_KERNELS_KERNELS_F32_H

#include <math.h>
#include <stdint.h>
#include "kernels/gemm.h"
#include "kernels/wsrc.h"

/* The activations on one float, as the vector kernels compute them (up to
 * their exp approximation, within a few ulp). */
static inline float mn_act_scalar(const mn_act *a, float v)
{
    switch (a->kind) {
    case MN_ACT_RELU:
        return v > 0.0f ? v : 0.0f;
    case MN_ACT_CLIP:
        return v < a->lo ? a->lo : v > a->hi ? a->hi : v;
    case MN_ACT_SIGMOID:
        return 1.0f / (1.0f + expf(-v));
    case MN_ACT_SILU:
        return v * (1.0f / (1.0f + expf(-v)));
    case MN_ACT_HARDSIGMOID: {
        float t = a->lo * v + a->hi;
        return t < 0.0f ? 0.0f : t > 1.0f ? 1.0f : t;
    }
    case MN_ACT_HARDSWISH: {
        float t = a->lo * v + a->hi;
        return v * (t < 0.0f ? 0.0f : t > 1.0f ? 1.0f : t);
    }
    case MN_ACT_GELU:
        return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
    default:
        return v;
    }
}

typedef struct mn_tile_epi {
    float alpha, beta;
    int accumulate;        /* 1: c += alpha·acc (a later k block) */
                           /* 0: c = alpha·acc + beta·c (beta 0: c unread) */
    int last;              /* last k block: then c = act(c + biases + res) */
    const float *bias_row; /* bias_row[i] for tile row i, or NULL */
    const float *bias_col; /* bias_col[j] for tile column j, or NULL */
    const float *res;      /* res[i·ldc + j] at the tile's origin, or NULL */
    mn_act act;
} mn_tile_epi;

/* gemv_t's store of y[j] from its dot product d (and the fused GEMV of
 * a weight source, which must store the same bits). */
static inline void mn_gemv_store1(const mn_tile_epi *e, float *y, int64_t j,
                                  float d)
{
    float v = d;
    if (e->alpha != 1.0f)
        v *= e->alpha;
    if (e->beta != 0.0f)
        v = e->beta * y[j] + v;
    if (e->bias_row)
        v += e->bias_row[0];
    if (e->bias_col)
        v += e->bias_col[j];
    if (e->res)
        v += e->res[j];
    y[j] = mn_act_scalar(&e->act, v);
}

typedef void (*mn_sgemm_tile_fn)(int64_t kc, const float *a, int64_t lda,
                                 const float *b, int64_t ldb, float *c,
                                 int64_t ldc, int mr, int nr,
                                 const mn_tile_epi *e);
/* The same tile with row p of B at b + boff[p] (columns past nr never
 * read): the direct convolution's rows of a padded input. */
typedef void (*mn_sgemm_tile_off_fn)(int64_t kc, const float *a, int64_t lda,
                                     const float *b, const int64_t *boff,
                                     float *c, int64_t ldc, int mr, int nr,
                                     const mn_tile_epi *e);

/* y[j] (j < n) for one row x[k]; the epilogue as a tile's with rows = 1,
 * accumulate 0, last 1 (res[j] contiguous like y):
 *   gemv_n: y[j] = Σ_p x[p]·b[p·ldb + j]   (b is k×n)
 *   gemv_t: y[j] = Σ_p x[p]·b[j·ldb + p]   (b is n×k) */
typedef void (*mn_sgemv_fn)(int64_t k, int64_t n, const float *x,
                            const float *b, int64_t ldb, float *y,
                            const mn_tile_epi *e);

/* One depthwise output plane: y[oh][ow] = act(bias + Σ_ij w[i][j] ·
 * x[oh·sh - pt + i·dh][ow·sw - pl + j·dw]), zero outside x. */
typedef void (*mn_dwconv_plane_fn)(const mn_conv_params *p, const float *x,
                                   const float *w, float bias,
                                   const mn_act *act, float *y);

/* The channel-vector convolution tile's store, on the last k block: for
 * channel i < nc and pixel j < np,
 *   y[i·rs + j] = act(sum + bias[i] + res[i·rs + j])
 * (bias, res may be NULL). */
typedef struct mn_conv_cv_epi {
    const float *bias, *res;
    mn_act act;
    float *y;
    int64_t rs;
} mn_conv_cv_epi;
/* A channel-vector convolution tile (conv_cv_f32.c): nc <= 48 output
 * channels × np <= 8 pixels over one k block of kc taps,
 *   sum(i, j) = (Σ_p a[p·lda + i] · px[j][boff[p]]) + acc(i, j)
 * (the block's sum from 0 in tap order, then acc's term unless first: the
 * GEMM tiles' k-block arithmetic), a the packed weights of the tile's
 * channels (lda = their count rounded up to 16, zero past nc), px[j] the
 * pixels' origins in the padded planes (for j >= np any readable one).
 * Stores the sums to acc[j·48 + i] (all 8 pixels, the vectors of nc), or
 * through e on the last k block. Meanwhile it prefetches pf_lines cache
 * lines from pf into L2, one per tap (the weights a later tile will read:
 * the driver spreads the next block's over this block's tiles, so they
 * arrive from memory while the sums run). */
typedef void (*mn_conv_cv_fn)(int64_t kc, const float *a, int64_t lda,
                              const int64_t *boff, const float *const *px,
                              int np, int nc, float *acc, int first,
                              const mn_conv_cv_epi *e, const char *pf,
                              int64_t pf_lines);
/* The AVX-512 tile (NULL in a build without AVX-512). */
mn_conv_cv_fn mn_conv_cv_avx512(void);

typedef struct mn_kernels_f32 {
    const char *name;
    int mr, nr, vec;       /* tile rows, max tile columns, floats/vector */
    mn_sgemm_tile_fn tile;
    mn_sgemm_tile_off_fn tile_off; /* NULL: no direct convolution */
    mn_sgemv_fn gemv_n, gemv_t;
    /* y[i] = act(x[i] + res[i]) (res may be NULL; y may be x), as the
     * tiles' store computes it */
    void (*act)(const mn_act *a, const float *x, const float *res, float *y,
                int64_t n);
    /* dst[j] = src[2·j] for j < n (reads src[0 .. 2n−2] only): the direct
     * convolution's stride-2 phase planes; NULL: a plain loop */
    void (*even)(const float *src, float *dst, int64_t n);
    /* dst[j] = src[j] · s for n floats (a fused squeeze-excite product
     * as the GEMM packs its input); NULL: a plain loop */
    void (*scale)(const float *src, float s, float *dst, int64_t n);
} mn_kernels_f32;

const mn_kernels_f32 *mn_kernels_f32_avx512(void);
const mn_kernels_f32 *mn_kernels_f32_avx2(void);
/* The GEMM table for the active ISA level, NULL for the reference path. */
const mn_kernels_f32 *mn_kernels_f32_active(void);

/* ---- the GEMM driver (sgemm.c), for GEMM-shaped kernels ---- */

/* Where B comes from. pack fills the packed block of rows [p0, p0+kc) and
 * columns [j0, j0+nc): panels of nr columns (the last one round_up(rest,
 * vec) wide, zero-padded), panel q at dst + q·nr·kc, each kc × width
 * row-major. A plain matrix uses mn_bsrc_pack_matrix with b/ldb/trans;
 * other sources (the convolution's implicit im2col) embed mn_bsrc as their
 * first member. */
typedef struct mn_bsrc mn_bsrc;
typedef void (*mn_bpack_fn)(const mn_bsrc *s, int64_t p0, int64_t kc,
                            int64_t j0, int64_t nc, int nr, int vec,
                            float *dst);
struct mn_bsrc {
    mn_bpack_fn pack;
    const float *b; /* plain matrix: b[p·ldb + j], or b[j·ldb + p] (trans) */
    int64_t ldb;
    int trans;
};
void mn_bsrc_pack_matrix(const mn_bsrc *s, int64_t p0, int64_t kc,
                         int64_t j0, int64_t nc, int nr, int vec, float *dst);

/* B of one group's convolution GEMM (conv_f32.c): rows are the taps
 * (c, ki, kj), columns the output pixels of the group input xg. A plain
 * matrix view of xg for 1×1 stride-1 unpadded convolutions, the implicit
 * im2col otherwise. Also the sparse convolution's panel source. */
typedef struct mn_conv_bsrc {
    mn_bsrc base; /* first: the driver sees an mn_bsrc */
    const mn_conv_params *p;
    const float *x; /* the group's first input channel */
    const float *scale; /* pointwise: input channel c's rows × scale[c]
                           as they are packed, or NULL */
    void (*scale_fn)(const float *src, float s, float *dst, int64_t n);
} mn_conv_bsrc;
void mn_conv_bsrc_init(mn_conv_bsrc *s, const mn_conv_params *p,
                       const float *xg);

/* B from a weight source (wsrc.h): the constant weight of a Gemm or
 * MatMul kept compressed, decoded into the packed panels (and, for one
 * row of A, into blocks of columns for the GEMV kernels). w is B as
 * stored: [k, n], or [n, k] when trans. */
typedef struct mn_wsrc_bsrc {
    mn_bsrc base; /* first: the driver sees an mn_bsrc */
    const mn_wsrc *w;
} mn_wsrc_bsrc;
void mn_wsrc_bsrc_init(mn_wsrc_bsrc *s, const mn_wsrc *w, int trans);

/* Bytes of one thread's packing buffer for n columns and k reductions. */
size_t mn_sgemm_thread_scratch(const mn_kernels_f32 *kr, int64_t n,
                               int64_t k);
/* What a thread needs on top of that for an m×n×k product when A (a_w:
 * the MR×kc micro-panel, or GEMV rows) or B (b_w: GEMV column blocks)
 * comes from a weight source. */
size_t mn_sgemm_wsrc_extra(const mn_kernels_f32 *kr, int64_t m, int64_t n,
                           int64_t k, int a_w, int b_w);
/* c[m×n] = act(alpha·a·B + beta·c + bias) with a row-major (lda) and B
 * from bs. When aw is not NULL, A is rows [aw_row0, aw_row0 + m) of the
 * weight source aw instead (a, lda unused), decoded one MR×kc micro-panel
 * at a time. scratch: one thread's buffer (used when pool is NULL),
 * mn_sgemm_thread_scratch + mn_sgemm_wsrc_extra bytes; pool threads use
 * the pool's scratch (one thread when it is smaller). */
void mn_sgemm_run(const mn_kernels_f32 *kr, mn_pool *pool, int64_t m,
                  int64_t n, int64_t k, float alpha, const float *a,
                  int64_t lda, const mn_wsrc *aw, int64_t aw_row0,
                  const mn_bsrc *bs, float beta, float *c, int64_t ldc,
                  const mn_epilogue *epi, void *scratch);

/* ---- direct convolution (conv_direct_f32.c) ---- */

/* 1 when p runs on the direct path with kr: stride 1, no dilation, a
 * kernel larger than 1×1, not depthwise, output rows that fill most
 * vector lanes, and kr has a tile_off kernel. */
int mn_conv_direct_f32_ok(const mn_kernels_f32 *kr, const mn_conv_params *p);
/* 1 when the direct path runs p in row tiles stored straight to y: output
 * rows of whole vectors, at least two (else tiles over the padded grid,
 * copied out after). */
int mn_conv_direct_f32_rows(const mn_kernels_f32 *kr,
                            const mn_conv_params *p);
/* Scratch bytes: one padded group input and the tap offsets. */
size_t mn_conv_direct_f32_scratch(const mn_conv_params *p);
/* ... plus the A micro-panel a thread decodes when the weight is a
 * weight source. */
size_t mn_conv_direct_f32_wsrc_extra(const mn_kernels_f32 *kr);
/* y = act(conv(x, w) + b + residual) for every image and group; the
 * weight is w, or the weight source ws when w is NULL (one MR×kc panel
 * decoded per task, row block and k block; a pool thread decodes into its
 * pool scratch, the caller alone into the tail of scratch). */
void mn_conv_direct_f32(const mn_kernels_f32 *kr, mn_pool *pool,
                        const mn_conv_params *p, const float *x,
                        const float *w, const mn_wsrc *ws, const float *b,
                        const mn_act *act, const float *residual, float *y,
                        void *scratch);

/* The direct convolutions' padded input: for stride s (1 or 2), s·s
 * phase planes per channel of hq × wq floats (plane_q = hq·wq), plane
 * (c, u, v) holding padded rows i·s + u and columns j·s + v; output
 * pixel (oh, ow) reads tap (c, ki, kj) at
 *   planes + mn_conv_planes_tap(c, ki, kj) + oh·wq + ow.
 * in_floats: one group's planes. build: one group's (xg its first
 * channel), split by planes over the pool. */
typedef struct mn_conv_planes {
    int64_t s, hq, wq, plane_q, in_floats;
} mn_conv_planes;
void mn_conv_planes_geom(const mn_conv_params *p, mn_conv_planes *g);
int64_t mn_conv_planes_tap(const mn_conv_planes *g, int64_t c, int64_t ki,
                           int64_t kj);
void mn_conv_planes_build(const mn_kernels_f32 *kr, mn_pool *pool,
                          const mn_conv_params *p, const float *xg,
                          float *xp);

/* ---- depthwise ---- */

/* The depthwise plane kernel for p (NULL: not built, or p's strides or
 * kernel width outside what it handles). */
mn_dwconv_plane_fn mn_dwconv_f32_avx512(const mn_conv_params *p);
/* ... for the active ISA level; NULL means the reference depthwise. */
mn_dwconv_plane_fn mn_dwconv_f32_active(const mn_conv_params *p);

/* Depthwise output channels [m0, m0 + nc), nc <= 16, of one image in
 * channel-vector tiles (x86/dwconv_cv_avx512.c): the plane kernel's sums
 * and activation, the same bits. x, y: the image's input and output
 * planes; w: the nc channels' kh·kw taps; b: the bias (all m channels)
 * or NULL; t: mn_dwconv_cv_f32_scratch(p) bytes. */
typedef void (*mn_dwconv_cv_fn)(const mn_conv_params *p, const float *x,
                                const float *w, const float *b,
                                const mn_act *act, int64_t m0, int nc,
                                float *y, float *t);
/* Whether it handles p (planes up to 16 wide, undilated kernels up to
 * 7×7, strides 1 and 2; built with AVX-512). */
int mn_dwconv_cv_f32_can(const mn_conv_params *p);
size_t mn_dwconv_cv_f32_scratch(const mn_conv_params *p);
void mn_dwconv_cv_f32_avx512(const mn_conv_params *p, const float *x,
                             const float *w, const float *b,
                             const mn_act *act, int64_t m0, int nc,
                             float *y, float *t);
/* The kernel for p at the active ISA level, or NULL (planes). */
mn_dwconv_cv_fn mn_dwconv_cv_f32_active(const mn_conv_params *p);

/* One output of a fused LayerNorm chain: its Div, Mul and Add as three
 * float32 ops. Two statements, so no compiler contracts the product and
 * the sum into an FMA (clang does within one expression), which the
 * unfused Mul and Add never see. */
static inline float mn_ln_out(float x, float m, float s, float g, float b)
{
    float t = (x - m) / s * g;
    return t + b;
}

/* mn_sum_run_f32 (src/ops/reduce.c: 16 double chains, then a tree) with
 * two vectors of 8 chains: the same bits; reached through it when
 * AVX-512 is active (a build without it: never called). */
double mn_sum_f32_avx512(const float *x, int64_t n);

/* Rows of n of a fused LayerNorm chain (src/ops/layernorm.c's arithmetic,
 * the same bits; y may be x), built with AVX-512. */
void mn_ln_rows_f32_avx512(const float *x, const float *g, const float *b,
                           float *y, int64_t rows, int64_t n, float eps);

#endif
