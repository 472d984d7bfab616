/* AVX-512 VNNI direct 8-bit convolution tile (contract in qgemm.h,
 * mn_q8_direct_fn): 8 output channels × 32 virtual pixels, the GEMM tile's
 * sums (q8_tile_avx512vnni.h) with the activations read in place from the
 * x4 input (two 64-byte loads at base + off[q] per quad) instead of a
 * packed panel. The store compresses each vector to
 * its output pixels and goes through store16k, the requantizing store of
 * the other 8-bit kernels (q8_avx512_epi.h). Built with -mavx512vnni
 * (Makefile rule for *_avx512vnni.c); compiled empty otherwise. */
#include "kernels/qgemm.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX512VNNI__)
#include "kernels/x86/q8_avx512_epi.h"
#include "kernels/x86/q8_tile_avx512vnni.h"

#define MR 8

void mn_q8_direct_avx512vnni(int64_t kq, const void *a_, const int32_t *off,
                             const uint8_t *base, int mr,
                             const uint16_t *mask, const int64_t *yoff,
                             const mn_qgemm_epi *e, int64_t row0, void *y_,
                             int64_t rs)
{
    __m512i acc[MR][2];
    q8_tile8x32(kq, a_, base, off, acc);
    int es = e->mult ? 1 : 4;
    char *y = y_;
    q8_epi k = q8_epi_load(e);
    for (int i = 0; i < mr; i++) {
        q8_row r = q8_row_load(e, row0 + i);
        for (int v = 0; v < 2; v++) {
            __mmask16 m = mask[v];
            if (!m)
                continue;
            __m512i c = m == 0xFFFF ? acc[i][v]
                                    : _mm512_maskz_compress_epi32(m, acc[i][v]);
            store16k(c, &k, &r, __builtin_popcount(m),
                     y + (i * rs + yoff[v]) * es, 1);
        }
    }
}

#endif
