/* The sums of the AVX-512 VNNI 8-bit 8 × 32 tile, shared by the GEMM tile
 * (qgemm_avx512vnni.c) and the direct convolution (qdirect_avx512vnni.c),
 * which differ only in where a quad's 32 activation dwords are: per quad q
 * of k, two 64-byte loads and 8 broadcasts of 4 int8 weights (a: MR = 8
 * dwords per quad) feed 16 vpdpbusd into 16 named accumulators (kept in
 * registers). Included only from *_avx512vnni.c files. */
#ifndef MN_KERNELS_X86_Q8_TILE_AVX512VNNI_H
#define MN_KERNELS_X86_Q8_TILE_AVX512VNNI_H

#include <immintrin.h>
#include <stdint.h>

/* acc[i][v] = Σ_q a[q·8 + i] · (activations v·16 .. v·16 + 15 of quad q),
 * quad q's activations at b + q·128 (a packed panel) or, when off is not
 * NULL, at b + off[q] (the direct convolution's x4 input). */
static inline __attribute__((always_inline)) void
q8_tile8x32(int64_t kq, const int32_t *a, const uint8_t *b,
            const int32_t *off, __m512i acc[8][2])
{
    __m512i c00 = _mm512_setzero_si512(), c01 = c00, c10 = c00, c11 = c00,
            c20 = c00, c21 = c00, c30 = c00, c31 = c00, c40 = c00, c41 = c00,
            c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
    for (int64_t q = 0; q < kq; q++, a += 8) {
        const uint8_t *bq = off ? b + off[q] : b + q * 128;
        __m512i b0 = _mm512_loadu_si512(bq), b1 = _mm512_loadu_si512(bq + 64);
        __m512i w;
#define ROW(i)                                                                 \
    w = _mm512_set1_epi32(a[i]);                                               \
    c##i##0 = _mm512_dpbusd_epi32(c##i##0, b0, w);                             \
    c##i##1 = _mm512_dpbusd_epi32(c##i##1, b1, w);
        ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5) ROW(6) ROW(7)
#undef ROW
    }
    acc[0][0] = c00, acc[0][1] = c01, acc[1][0] = c10, acc[1][1] = c11;
    acc[2][0] = c20, acc[2][1] = c21, acc[3][0] = c30, acc[3][1] = c31;
    acc[4][0] = c40, acc[4][1] = c41, acc[5][0] = c50, acc[5][1] = c51;
    acc[6][0] = c60, acc[6][1] = c61, acc[7][0] = c70, acc[7][1] = c71;
}

#endif
