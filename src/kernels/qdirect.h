/* Dense direct 8-bit convolution (QLinearConv, ConvInteger; not
 * depthwise): the int8 GEMM's tile with its activation operand read in
 * place from the x4 form of the input (src/kernels/q8_x4.h: padded, 4
 * channels interleaved, stride phases) instead of an im2col panel packed
 * per call. x4 holds each input byte once (im2col: kh·kw times), and
 * building it is a single pass.
 *
 * Weights ("quads" = 4 consecutive input channels at one tap, quad
 * q = c4·kh·kw + ki·kw + kj) are packed once as the GEMM's A panels
 * (MN_QA_S8X4: MR rows per quad, zero past the group's channels and the
 * rows; channel-vector tiles: panels of 32 channels × 4 bytes per quad);
 * off[q] is quad q's byte offset in x4 for virtual pixel 0. A tile
 * is MR output channels × 32 virtual pixels (mn_q8_direct_fn); the
 * virtual pixels past an output row are computed and dropped by the
 * store; or 32 output channels × 8 output pixels (mn_q8_direct_cv_fn,
 * see MN_Q8D_CHANNEL). The epilogue is the GEMM's (mn_qgemm_epi), integer sums are
 * exact: the bytes equal the GEMM path's and the reference's for any
 * tiling and thread count. run never allocates. */
#ifndef MN_KERNELS_QDIRECT_H
#define MN_KERNELS_QDIRECT_H

#include "core/status.h"
#include "kernels/q8_x4.h"
#include "kernels/qgemm.h"

typedef struct mn_q8_direct {
    mn_conv_params p; /* the convolution */
    /* the input's x4 geometry: of p, or (flat channel-vector tiles) of p
     * at stride 1 over the same padded input, one phase: a strided
     * layer whose taps read every phase then builds x4 from whole rows,
     * no column gather, and tiles step pxoff by the stride */
    mn_q8_x4 g;
    int64_t kq;   /* quads: c4n·kh·kw */
    int32_t *off; /* kq byte offsets in x4 */
    int cv;       /* channel-vector tiles (mn_q8_direct_cv_fn) */
    int32_t *pxoff; /* cv: each output pixel's byte offset in x4 */
} mn_q8_direct;

/* How tiles run: chosen by the geometry (AUTO), or forced (the tests).
 * Pixel-vector tiles (kr->direct) cover 32 virtual pixels each, so a
 * small image wastes the lanes of its padding columns and of its last
 * block (7×7: 49 of 64); channel-vector tiles (kr->direct_cv) take 8
 * output pixels each and none else. CHANNEL without kr->direct_cv runs
 * as PIXEL. */
enum { MN_Q8D_AUTO = 0, MN_Q8D_PIXEL = 1, MN_Q8D_CHANNEL = 2 };

/* Whether kr has a direct kernel for p (not depthwise, A layout S8X4)
 * and it is the better choice: channels not padded to quads much, 16
 * output pixels or more. */
int mn_q8_direct_ok(const mn_kernels_q8 *kr, const mn_conv_params *p);
/* Whether kr's direct kernel can run p at all (what the tests force). */
int mn_q8_direct_can(const mn_kernels_q8 *kr, const mn_conv_params *p);

mn_status mn_q8_direct_create(const mn_kernels_q8 *kr,
                              const mn_conv_params *p, int mode,
                              mn_q8_direct **out, mn_ctx *ctx);
void mn_q8_direct_destroy(mn_q8_direct *d);

/* Bytes of one group's packed weights (m = output channels per group). */
size_t mn_q8_direct_a_bytes(const mn_kernels_q8 *kr, const mn_q8_direct *d,
                            int64_t m);
/* Packs one group's weights w ([m][c/group][kh][kw] 8-bit, each byte
 * XORed with flip) into dst (mn_q8_direct_a_bytes). */
void mn_q8_direct_pack_a(const mn_kernels_q8 *kr, const mn_q8_direct *d,
                         int64_t m, const uint8_t *w, uint8_t flip,
                         void *dst);

/* Scratch of mn_q8_direct_run (the x4 input of one group). */
size_t mn_q8_direct_scratch(const mn_q8_direct *d);
/* The same before create: x4's scratch for p (its form as create picks
 * it; flat x4 is never bigger). */
size_t mn_q8_direct_scratch_for(const mn_conv_params *p);

/* y = epilogue(conv(x, W)) for every image and group: x NCHW 8-bit
 * (stored bytes), padding byte xpad, flip 0x80 for int8 activations;
 * group g's packed weights at a + g·a_group, its epilogue rows
 * g·m/group + i; y NCHW (1 byte, or 4 for int32 output). */
void mn_q8_direct_run(const mn_kernels_q8 *kr, mn_pool *pool,
                      const mn_q8_direct *d, const uint8_t *a,
                      size_t a_group, const uint8_t *x, uint8_t xpad,
                      uint8_t flip, const mn_qgemm_epi *e, void *y,
                      void *scratch);

#endif
