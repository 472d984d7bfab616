/* The AVX2 elementwise 8-bit table with the byte-table lookup on
 * AVX512_VBMI (see kernels/qelem.h): a 256-entry table is four zmm
 * registers; vpermi2b looks 64 bytes up in each half (it reads the low 7
 * bits of an index) and the index's top bit picks the half. Bit-identical
 * to the reference by construction. Built with -mavx512vbmi (Makefile rule
 * for *_avx512vbmi.c). */
#include <pthread.h>
#include "kernels/qelem.h"

#if defined(__AVX512VBMI__) && defined(__AVX512BW__)
#include <immintrin.h>

static void lut8_vbmi(const uint8_t *t, const uint8_t *x, int64_t n,
                      uint8_t *y)
{
    const __m512i t0 = _mm512_loadu_si512(t), t1 = _mm512_loadu_si512(t + 64);
    const __m512i t2 = _mm512_loadu_si512(t + 128);
    const __m512i t3 = _mm512_loadu_si512(t + 192);
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512i v = _mm512_loadu_si512(x + i);
        __m512i lo = _mm512_permutex2var_epi8(t0, v, t1);
        __m512i hi = _mm512_permutex2var_epi8(t2, v, t3);
        _mm512_storeu_si512(y + i, _mm512_mask_blend_epi8(
                                       _mm512_movepi8_mask(v), lo, hi));
    }
    if (i < n) {
        __mmask64 m = ((__mmask64)1 << (n - i)) - 1; /* n - i < 64 */
        __m512i v = _mm512_maskz_loadu_epi8(m, x + i);
        __m512i lo = _mm512_permutex2var_epi8(t0, v, t1);
        __m512i hi = _mm512_permutex2var_epi8(t2, v, t3);
        _mm512_mask_storeu_epi8(y + i, m, _mm512_mask_blend_epi8(
                                              _mm512_movepi8_mask(v), lo, hi));
    }
}

static mn_kernels_qelem table;

static void init(void)
{
    const mn_kernels_qelem *a = mn_kernels_qelem_avx2();
    table = a ? *a : *mn_kernels_qelem_ref();
    table.name = "avx512vbmi";
    table.lut8 = lut8_vbmi;
}

const mn_kernels_qelem *mn_kernels_qelem_avx512vbmi(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, init);
    return &table;
}

#else
const mn_kernels_qelem *mn_kernels_qelem_avx512vbmi(void) { return 0; }
#endif
