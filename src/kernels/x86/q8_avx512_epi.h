/* The requantizing store shared by the AVX-512 8-bit kernels (included
 * only from *_avx512vnni.c files): 16 int32 accumulators of one output row
 * → saturate(round_half_even((acc + add)·mult) + y_zp) as uint8/int8, or
 * acc + add_i32 as int32 (see qgemm.h), computed in double exactly as
 * mn_ref_requantize. */
#ifndef MN_KERNELS_X86_Q8_AVX512_EPI_H
#define MN_KERNELS_X86_Q8_AVX512_EPI_H

#include <immintrin.h>
#include <string.h>
#include "kernels/qgemm.h"

#define INL static inline __attribute__((always_inline))

INL __mmask16 tail16(int n)
{
    return n >= 16 ? (__mmask16)0xFFFF
                   : (__mmask16)(n <= 0 ? 0 : (1u << n) - 1u);
}

/* 16 int32 → 16 requantized bytes. The clamp comes before the rounding,
 * to [lo - zp, hi - zp] (integers: rounding commutes with it; NaN → lo -
 * zp, vmaxpd's second operand), and the conversion rounds half to even
 * itself; the zero point is added to the int32 lanes: the reference's
 * nearbyint(v) + zp clamped to [lo, hi], in fewer instructions. */
INL __m128i requant16(__m512i acc, __m512d add, __m512d mult, __m512d loz,
                      __m512d hiz, __m512i zp)
{
    __m512d d0 = _mm512_mul_pd(
        _mm512_add_pd(_mm512_cvtepi32_pd(_mm512_castsi512_si256(acc)), add),
        mult);
    __m512d d1 = _mm512_mul_pd(
        _mm512_add_pd(_mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(acc, 1)),
                      add),
        mult);
    d0 = _mm512_min_pd(_mm512_max_pd(d0, loz), hiz);
    d1 = _mm512_min_pd(_mm512_max_pd(d1, loz), hiz);
    __m256i r0 = _mm512_cvt_roundpd_epi32(
        d0, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256i r1 = _mm512_cvt_roundpd_epi32(
        d1, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512i r = _mm512_inserti64x4(_mm512_castsi256_si512(r0), r1, 1);
    return _mm512_cvtepi32_epi8(_mm512_add_epi32(r, zp)); /* in range */
}

/* Stores one accumulator vector: row `row` (epilogue index), lanes
 * [0, n), element j at y + j·cs (bytes or int32s). */
INL void store16(__m512i acc, const mn_qgemm_epi *e, int64_t row, int n,
                 char *y, int64_t cs)
{
    __mmask16 m = tail16(n);
    if (!e->mult) {
        __m512i r = _mm512_add_epi32(acc, _mm512_set1_epi32(e->add_i32[row]));
        if (cs == 1) {
            _mm512_mask_storeu_epi32(y, m, r);
        } else {
            int32_t t[16];
            _mm512_storeu_si512(t, r);
            for (int j = 0; j < n; j++)
                memcpy(y + j * cs * 4, &t[j], 4);
        }
        return;
    }
    __m512d add = _mm512_set1_pd(e->add[row]);
    __m512d mult = _mm512_set1_pd(e->mult[row]);
    __m512d loz = _mm512_set1_pd(e->lo - e->yzp);
    __m512d hiz = _mm512_set1_pd(e->hi - e->yzp);
    __m128i b = requant16(acc, add, mult, loz, hiz,
                          _mm512_set1_epi32((int32_t)e->yzp));
    if (cs == 1) {
        _mm_mask_storeu_epi8(y, m, b);
    } else {
        uint8_t t[16];
        _mm_storeu_si128((__m128i *)t, b);
        for (int j = 0; j < n; j++)
            y[j * cs] = (char)t[j];
    }
}

#endif
