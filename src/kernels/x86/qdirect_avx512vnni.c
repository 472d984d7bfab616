/* AVX-512 VNNI direct 8-bit convolution tile (contract in qgemm.h,
 * mn_q8_direct_fn): 8 output channels × 32 virtual pixels, 16 zmm
 * accumulators, as the GEMM tile qs8_gemm_8x32c4 but with the activations
 * read in place from the x4 input (two 64-byte loads at base + off[q] per
 * quad) instead of a packed panel. The store compresses each vector to
 * its output pixels and goes through store16k, the requantizing store of
 * the other 8-bit kernels (q8_avx512_epi.h). Built with -mavx512vnni
 * (Makefile rule for *_avx512vnni.c); compiled empty otherwise. */
#include "kernels/qgemm.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX512VNNI__)
#include "kernels/x86/q8_avx512_epi.h"

#define MR 8

void mn_q8_direct_avx512vnni(int64_t kq, const void *a_, const int32_t *off,
                             const uint8_t *base, int mr,
                             const uint16_t *mask, const int64_t *yoff,
                             const mn_qgemm_epi *e, int64_t row0, void *y_,
                             int64_t rs)
{
    const int32_t *a = a_;
    __m512i c00 = _mm512_setzero_si512(), c01 = c00, c10 = c00, c11 = c00,
            c20 = c00, c21 = c00, c30 = c00, c31 = c00, c40 = c00, c41 = c00,
            c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
    for (int64_t q = 0; q < kq; q++, a += MR) {
        const uint8_t *b = base + off[q];
        __m512i b0 = _mm512_loadu_si512(b), b1 = _mm512_loadu_si512(b + 64);
        __m512i w;
#define ROW(i)                                                                 \
    w = _mm512_set1_epi32(a[i]);                                               \
    c##i##0 = _mm512_dpbusd_epi32(c##i##0, b0, w);                             \
    c##i##1 = _mm512_dpbusd_epi32(c##i##1, b1, w);
        ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5) ROW(6) ROW(7)
#undef ROW
    }
    __m512i acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31},
                          {c40, c41}, {c50, c51}, {c60, c61}, {c70, c71}};
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
