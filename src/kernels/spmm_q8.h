/* Sparse 8-bit convolution for a constant pruned weight (QLinearConv,
 * ConvInteger; not depthwise), built once when a session is compiled
 * (src/ops/qconv.c; the choice in src/ops/conv_sparse.c).
 *
 * Input: per image and group, x4 (src/kernels/q8_x4.h): the padded input
 * with 4 channels interleaved, split into the stride's phases, read as
 * runs of 16 "virtual pixels" (one 64-byte load per tap and channel quad).
 * No im2col panel is packed (packing was most of the time of small layers).
 *
 * Weight ("quad CSR"): the unit is a quad = 4 consecutive input channels
 * at one tap, one vpdpbusd lane (4 uint8·int8 products into an int32).
 * Per output channel, only quads with a non-zero weight are kept: their
 * byte offset in x4 relative to the tile's first virtual pixel (off) and
 * their 4 weights as one int32 (w4; byte t = channel 4·c4 + t, zero past
 * the group's channels). Channel quads are cut into nqb blocks of cb
 * (a tile's reads of one block stay in L1); row i's quads of block b are
 * e in [ptr[b·m + i], ptr[b·m + i + 1]). At 90 % unstructured sparsity
 * 34 % of the quads remain (1 − 0.9⁴).
 *
 * The store is the dense path's requantizing epilogue (mn_qgemm_epi:
 * x's zero point, bias and scales in its per-row tables). Integer sums are
 * exact, so results are bit-identical to the dense kernels and the
 * reference, for any tiling and thread count. Kernels never allocate. */
#ifndef MN_KERNELS_SPMM_Q8_H
#define MN_KERNELS_SPMM_Q8_H

#include "core/status.h"
#include "kernels/q8_x4.h"
#include "kernels/qgemm.h"

typedef struct mn_spconv_q8 {
    mn_conv_params p;
    mn_q8_x4 g;           /* the x4 input's geometry (q8_x4.h) */
    int64_t m;            /* rows: output channels of every group */
    int64_t c4n;          /* channel quads per group: ceil(c/group / 4) */
    int64_t hp, wp;       /* the padded input (mn_q8_pad_dims) */
    int64_t hq, wq;       /* one phase plane of x4 */
    int64_t nvp;          /* virtual pixels: (oh − 1)·wq + ow */
    int64_t nt;           /* virtual pixels per tile (16-64) */
    int64_t cb, nqb;      /* channel quads per block, blocks */
    int64_t nnzq, nq;     /* non-zero quads, all quads (m·c4n·kh·kw) */
    int32_t *ptr;         /* nqb·m + 1 offsets */
    int32_t *off;         /* nnzq byte offsets in x4 */
    int32_t *w4;          /* nnzq × 4 int8 weights */
} mn_spconv_q8;

/* Non-zero quads (*nzq) of the conv weight w ([m][c/group][kh][kw] 8-bit,
 * each byte XORed with flip: 0x80 for uint8 weights whose zero point is
 * 128) and all quads (*nq): what the automatic choice weighs. */
void mn_spconv_q8_count(const mn_conv_params *p, const uint8_t *w,
                        uint8_t flip, int64_t *nzq, int64_t *nq);

/* Builds the sparse form of w for the convolution p. MN_ERR_OOM when it
 * does not fit (offsets and counts must stay below 2^31). */
mn_status mn_spconv_q8_create(const mn_conv_params *p, const uint8_t *w,
                              uint8_t flip, mn_spconv_q8 **out, mn_ctx *ctx);
void mn_spconv_q8_destroy(mn_spconv_q8 *s);

/* Scratch of mn_spconv_q8_run with one thread: x4 of one group (and its
 * builder's rows), and one task's partial sums. */
size_t mn_spconv_q8_scratch(const mn_spconv_q8 *s);
/* A pool thread's scratch (partial sums; 0 with one k block). */
size_t mn_spconv_q8_thread_scratch(const mn_spconv_q8 *s);

/* y = epilogue(conv(x, W)) for every image and group: x NCHW 8-bit
 * (stored bytes), padding byte xpad (x's zero point as stored), flip 0x80
 * for int8 activations; epilogue rows = output channels; y NCHW (1 byte,
 * or 4 for int32 output). */
void mn_spconv_q8_run(mn_pool *pool, const mn_spconv_q8 *s, const uint8_t *x,
                      uint8_t xpad, uint8_t flip, const mn_qgemm_epi *e,
                      void *y, void *scratch);

/* ---- per-ISA kernels (src/kernels/ref, src/kernels/x86) ---- */

/* One tile: nv vectors of 16 virtual pixels; lanes set in mask[v] are
 * real output pixels, stored in lane order from output index yoff[v]. */
typedef struct mn_spq8_tile {
    int nv;
    uint16_t mask[4];
    int64_t yoff[4];
} mn_spq8_tile;

/* Rows i < mr of one tile over one block: for every lane l < 16·nv,
 *   acc = first ? 0 : part[i·ldp + l]
 *   acc += Σ_{e in [ptr[i], ptr[i+1])} Σ_t w4[e].byte t (int8) ·
 *          base[off[e] + 4·l + t] (uint8)
 *   last ? store epilogue(row0 + i, acc) of the valid lanes at
 *          y + (i·rs + yoff[v] + rank)·esize : part[i·ldp + l] = acc */
typedef void (*mn_spq8_conv_fn)(int64_t mr, const int32_t *ptr,
                                const int32_t *off, const int32_t *w4,
                                const uint8_t *base, const mn_spq8_tile *t,
                                int32_t *part, int64_t ldp, int first,
                                int last, const mn_qgemm_epi *e,
                                int64_t row0, void *y, int64_t rs);

typedef struct mn_spq8_kernels {
    const char *name;
    mn_spq8_conv_fn conv;
} mn_spq8_kernels;

const mn_spq8_kernels *mn_spq8_kernels_ref(void);
const mn_spq8_kernels *mn_spq8_kernels_avx512vnni(void); /* NULL: not built */
/* For the active ISA level (never NULL: the reference at worst). */
const mn_spq8_kernels *mn_spq8_kernels_active(void);

#endif
