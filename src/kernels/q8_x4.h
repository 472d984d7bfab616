/* The "x4" form of an 8-bit convolution input, shared by the sparse int8
 * convolution (spmm_q8.h) and the dense direct one (qdirect.h): per image
 * and group, the zero-point-padded input rewritten with 4 channels
 * interleaved and split into the stride's phases:
 *   x4[(a·sw + b)·c4n + c4][i][j] = 4 bytes, byte t =
 *       xpad[4·c4 + t][i·sh + a][j·sw + b] ^ flip        (i < hq, j < wq)
 * (channels past the group's read as the padding byte). Tap (ki, kj) of
 * output pixel (oh, ow) reads phase (ki·dh mod sh, kj·dw mod sw) at row
 * oh + ki·dh div sh, column ow + kj·dw div sw: for a fixed tap and channel
 * quad, consecutive pixels of an output row are consecutive dwords.
 * Kernels compute "virtual pixels" v = oh·wq + ow (ow < wq; those with
 * ow ≥ OW are computed and dropped), so 16 virtual pixels are one 64-byte
 * load per tap and channel quad, across output rows too.
 *
 * "taps4" (mn_q8_x4_init_taps4), for inputs of fewer than 4 channels (an
 * RGB or grayscale stem, where quads of channels would be mostly
 * padding): quads of 4 adjacent columns of one channel instead, and only
 * row phases:
 *   x4[a·c + ch][i][j] = 4 bytes, byte t = xpad[ch][i·sh + a][j·sw + t] ^ flip
 * Kernel row ki, columns 4u .. 4u + 3 (zero weights past kw) of output
 * pixel (oh, ow) read plane (ki mod sh, ch) at row oh + ki div sh, dword
 * ow + 4u / sw (4 / sw whole: sw 1, 2 or 4; no dilation). */
#ifndef MN_KERNELS_Q8_X4_H
#define MN_KERNELS_Q8_X4_H

#include <stddef.h>
#include <stdint.h>
#include "core/pool.h"
#include "kernels/ref/ref_kernels_conv.h"

/* Slack after x4 (bytes, zeroed): the last vectors of virtual pixels may
 * read this far past the planes. */
#define MN_Q8_X4_SLACK 256

typedef struct mn_q8_x4 {
    mn_conv_params p;
    int64_t c4n;    /* channel quads per group: ceil(c/group / 4) */
    int64_t hp, wp; /* the padded input (mn_q8_pad_dims) */
    int64_t hq, wq; /* one phase plane */
    int64_t nvp;    /* virtual pixels: (oh − 1)·wq + ow */
    int taps4;      /* column quads (c4n then counts channels) */
} mn_q8_x4;

void mn_q8_x4_init(const mn_conv_params *p, mn_q8_x4 *g);
/* Whether p can take the taps4 form: one group, dilation 1, sw 1, 2 or
 * 4. */
int mn_q8_x4_taps4_can(const mn_conv_params *p);
void mn_q8_x4_init_taps4(const mn_conv_params *p, mn_q8_x4 *g);
/* Bytes of the phase planes of one group (without the slack). */
size_t mn_q8_x4_bytes(const mn_q8_x4 *g);
/* Byte offset of quad c4 at tap (ki, kj) for virtual pixel 0 (taps4:
 * channel c4, kernel row ki, column quad kj). */
int64_t mn_q8_x4_offset(const mn_q8_x4 *g, int64_t c4, int64_t ki,
                        int64_t kj);
/* Scratch of mn_q8_x4_build: the padded input, a few rows, then x4 and its
 * slack (64-byte aligned when the scratch is). */
size_t mn_q8_x4_scratch(const mn_q8_x4 *g);
/* Builds x4 of one group's input xg (its cg channel planes of h × w bytes,
 * padding byte xpad, each byte XORed with flip) in scratch, with tasks on
 * pool (NULL: the calling thread); returns x4's address in scratch.
 * bands > 1: the tasks are that many bands of rows across all planes (the
 * pool hands thread i the i-th share first), else one per plane. Phases
 * no tap reads are left as they are. */
uint8_t *mn_q8_x4_build(mn_pool *pool, const mn_q8_x4 *g, const uint8_t *xg,
                        uint8_t xpad, uint8_t flip, int bands,
                        void *scratch);

/* One x4 row from four input rows (src[t]: the row of channel 4·c4 + t,
 * w bytes, NULL: a row of padding): dword j < wq = bytes
 * src[t][j·sw + c0] ^ flip (xpad ^ flip outside [0, w)). sw is 1 or 2. */
typedef void (*mn_q8_x4_row_fn)(const uint8_t *const src[4], int64_t w,
                                int64_t c0, int sw, int64_t wq, uint8_t xpad,
                                uint8_t flip, uint8_t *dst);
/* The AVX-512 BW row builder, NULL if not built (used at ISA avx512 and
 * up). */
mn_q8_x4_row_fn mn_q8_x4_row_avx512(void);

/* Rows [i0, i1) of one x4 plane of at most MN_Q8_X4_PLANE_WQ dwords per
 * row, in one call (a small image's rows are too short to pay a call
 * each): row i of the plane from input row i·sh + r0 of the four channel
 * planes src[t] (h × w bytes, NULL: a channel of padding), dword j =
 * bytes src[t][row][j·sw + c0] ^ flip (sw 1 or 2), xpad ^ flip outside
 * the plane. */
#define MN_Q8_X4_PLANE_WQ 32
typedef void (*mn_q8_x4_plane_fn)(const uint8_t *const src[4], int64_t h,
                                  int64_t w, int64_t r0, int sh, int sw,
                                  int64_t c0, int64_t wq, int64_t i0,
                                  int64_t i1, uint8_t xpad, uint8_t flip,
                                  uint8_t *dst);
/* The AVX-512 BW plane builder, NULL if not built (used at ISA avx512
 * and up). */
mn_q8_x4_plane_fn mn_q8_x4_plane_avx512(void);

/* One taps4 x4 row from a padded input row t ((wq − 1)·sw + 4 bytes):
 * dword j = bytes t[j·sw .. j·sw + 3] ^ flip, sw 1 or 2. */
typedef void (*mn_q8_x4_taps4_fn)(const uint8_t *t, int64_t wq, int sw,
                                  uint8_t flip, uint8_t *dst);
/* The AVX-512 VBMI taps4 row builder, NULL if not built (used at ISA
 * avx512 and up on a CPU with VBMI). */
mn_q8_x4_taps4_fn mn_q8_x4_taps4_avx512vbmi(void);

#endif
