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

/* 8 int32 → 8 requantized values (int32) */
INL __m256i requant8(__m256i v, __m512d add, __m512d mult, __m512d zp,
                     __m512d lo, __m512d hi)
{
    __m512d d = _mm512_mul_pd(_mm512_add_pd(_mm512_cvtepi32_pd(v), add), mult);
    d = _mm512_roundscale_pd(d, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    d = _mm512_add_pd(d, zp);
    d = _mm512_max_pd(d, lo); /* NaN → lo (second operand) */
    d = _mm512_min_pd(d, hi);
    return _mm512_cvtpd_epi32(d);
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
    __m512d zp = _mm512_set1_pd(e->yzp), lo = _mm512_set1_pd(e->lo),
            hi = _mm512_set1_pd(e->hi);
    __m256i r0 = requant8(_mm512_castsi512_si256(acc), add, mult, zp, lo, hi);
    __m256i r1 =
        requant8(_mm512_extracti64x4_epi64(acc, 1), add, mult, zp, lo, hi);
    __m512i r = _mm512_inserti64x4(_mm512_castsi256_si512(r0), r1, 1);
    __m128i b = _mm512_cvtepi32_epi8(r); /* in range: plain truncation */
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
