/* The requantizing store shared by the AVX-512 8-bit kernels (included
 * only from *_avx512vnni.c files): 16 int32 accumulators of one output row
 * → saturate(round_half_even((acc + add)·mult) + y_zp) as uint8/int8, or
 * acc + add_i32 as int32 (see qgemm.h): the product in double exactly as
 * mn_ref_requantize, the rest in int32 (see requant8). */
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

/* 8 int32 → round_half_even((v + add)·mult) as the low dword of each of
 * 8 qwords: the product first clamped to [l, h] (NaN → l), then rounded
 * by adding 1.5·2^52 in round-to-nearest-even (exact for |x| < 2^51: the
 * sum's ulp is 1, its low dword the rounded value in two's complement).
 * With l = lo − zp − 1 and h = hi − zp + 1 (integers) the caller's integer
 * "+ zp, clamp to [lo, hi]" then gives mn_ref_requantize's value:
 * rounding is monotonic and keeps integers, so a product beyond l (h)
 * lands below lo (above hi) either way. */
INL __m512i requant8(__m256i v, __m512d add, __m512d mult, __m512d l,
                     __m512d h)
{
    __m512d d = _mm512_mul_pd(_mm512_add_pd(_mm512_cvtepi32_pd(v), add), mult);
    d = _mm512_max_pd(d, l); /* NaN → l (second operand) */
    d = _mm512_min_pd(d, h);
    d = _mm512_add_round_pd(d, _mm512_set1_pd(6755399441055744.0),
                            _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return _mm512_castpd_si512(d);
}

/* The epilogue's constants, set up once per tile: stores through char
 * pointers would make the compiler reload and reconvert them for every
 * vector. */
typedef struct q8_epi {
    int i32;          /* int32 output (acc + add_i32) */
    __m512d l, h;     /* the product's clamp (requant8) */
    __m512i zp, lo, hi;
} q8_epi;

/* One output row's: its addend and multiplier (or int32 addend). */
typedef struct q8_row {
    __m512d add, mult;
    __m512i addi;
} q8_row;

INL q8_epi q8_epi_load(const mn_qgemm_epi *e)
{
    q8_epi k;
    k.i32 = !e->mult;
    k.l = _mm512_set1_pd(e->lo - e->yzp - 1.0);
    k.h = _mm512_set1_pd(e->hi - e->yzp + 1.0);
    k.zp = _mm512_set1_epi32((int32_t)e->yzp);
    k.lo = _mm512_set1_epi32((int32_t)e->lo);
    k.hi = _mm512_set1_epi32((int32_t)e->hi);
    return k;
}

INL q8_row q8_row_load(const mn_qgemm_epi *e, int64_t row)
{
    q8_row r;
    if (!e->mult) {
        r.addi = _mm512_set1_epi32(e->add_i32[row]);
        r.add = r.mult = _mm512_setzero_pd();
    } else {
        r.addi = _mm512_setzero_si512();
        r.add = _mm512_set1_pd(e->add[row]);
        r.mult = _mm512_set1_pd(e->mult[row]);
    }
    return r;
}

/* Stores one accumulator vector of a row: lanes [0, n), element j at
 * y + j·cs (bytes or int32s). */
INL void store16k(__m512i acc, const q8_epi *k, const q8_row *rw, int n,
                  char *y, int64_t cs)
{
    __mmask16 m = tail16(n);
    if (k->i32) {
        __m512i r = _mm512_add_epi32(acc, rw->addi);
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
    __m512i r0 = requant8(_mm512_castsi512_si256(acc), rw->add, rw->mult,
                          k->l, k->h);
    __m512i r1 = requant8(_mm512_extracti64x4_epi64(acc, 1), rw->add,
                          rw->mult, k->l, k->h);
    __m512i r = _mm512_permutex2var_epi32(
        r0, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24,
                              26, 28, 30), r1);
    r = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(r, k->zp), k->lo),
                         k->hi);
    __m128i b = _mm512_cvtepi32_epi8(r); /* in range: plain truncation */
    /* keep the narrowing in a register: compilers fuse it with the store
     * into vpmovdb to memory, which is microcoded and slow on AMD Zen 4/5 */
    __asm__("" : "+v"(b));
    if (cs == 1 && n == 16) { /* a masked byte store costs more */
        _mm_storeu_si128((__m128i *)y, b);
    } else if (cs == 1) {
        _mm_mask_storeu_epi8(y, m, b);
    } else {
        uint8_t t[16];
        _mm_storeu_si128((__m128i *)t, b);
        for (int j = 0; j < n; j++)
            y[j * cs] = (char)t[j];
    }
}

/* store16k with the constants loaded here (row `row` of e). */
INL void store16(__m512i acc, const mn_qgemm_epi *e, int64_t row, int n,
                 char *y, int64_t cs)
{
    q8_epi k = q8_epi_load(e);
    q8_row r = q8_row_load(e, row);
    store16k(acc, &k, &r, n, y, cs);
}

#endif
