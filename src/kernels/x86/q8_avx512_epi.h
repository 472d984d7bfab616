/* The requantizing store shared by the AVX-512 8-bit kernels (included
 * only from *_avx512vnni.c files): 16 int32 accumulators of one output row
 * → round_half_even(clamp((float)(acc + add)·mult)) + y_zp as uint8/int8,
 * or acc + add_i32 as int32 (see qgemm.h), exactly as mn_ref_requantize
 * (see requant16). */
#ifndef MN_KERNELS_X86_Q8_AVX512_EPI_H
#define MN_KERNELS_X86_Q8_AVX512_EPI_H

#include <immintrin.h>
#include <string.h>
#include "kernels/qgemm.h"
#include "kernels/x86/avx512_util.h"
#include "kernels/x86/qadd_avx512.h"

#define INL static inline __attribute__((always_inline))


/* 16 int32 sums → round_half_even(clamp((float)(v + add)·mult, l, h)) as
 * int32, l = lo − zp and h = hi − zp (integers): mn_ref_requantize's
 * float32 arithmetic before its "+ zp". Conversions and the multiply
 * round to nearest even explicitly (not through MXCSR); max's second
 * operand is taken for a NaN, so NaN → l. */
INL __m512i requant16(__m512i v, __m512i add, __m512 mult, __m512 l,
                      __m512 h)
{
#define RN (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
    __m512 f = _mm512_cvt_roundepi32_ps(_mm512_add_epi32(v, add), RN);
    f = _mm512_mul_round_ps(f, mult, RN);
    f = _mm512_min_ps(_mm512_max_ps(f, l), h);
    return _mm512_cvt_roundps_epi32(f, RN);
#undef RN
}

/* requant16 without the clamp: round_half_even((float)(v + add)·mult) as
 * int32, exact when the product stays below 2^31 (mn_qgemm_epi.fast);
 * the saturating narrowing (mn_sat_pack*_epi32, with the zero point)
 * then clamps, to the same bytes. */
INL __m512i requant16_nc(__m512i v, __m512i add, __m512 mult)
{
#define RN (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
    __m512 f = _mm512_cvt_roundepi32_ps(_mm512_add_epi32(v, add), RN);
    return _mm512_cvt_roundps_epi32(_mm512_mul_round_ps(f, mult, RN), RN);
#undef RN
}

/* The epilogue's constants, set up once per tile: stores through char
 * pointers would make the compiler reload and reconvert them for every
 * vector. */
typedef struct q8_epi {
    int i32;          /* int32 output (acc + add_i32) */
    int sgn;          /* int8 output */
    int fast;         /* e->fast, [lo, hi] the type's: requant16_nc and
                         the saturating narrowing */
    __m512 l, h;      /* the product's clamp (requant16) */
    __m512i zp;
    int32_t yzp;      /* the zero point as an integer (qres16_load) */
    const mn_qadd_fixed *res; /* a fused residual add, or NULL (its
                                 vector constants are made where used:
                                 kept here they made every kernel's
                                 epilogue state spill) */
    ptrdiff_t res_off;
} q8_epi;

/* One output row's: its addend and multiplier (or int32 addend). */
typedef struct q8_row {
    __m512i add;      /* add, or add_i32 for int32 output */
    __m512 mult;
} q8_row;

INL q8_epi q8_epi_load(const mn_qgemm_epi *e)
{
    q8_epi k;
    k.i32 = !e->mult;
    k.l = _mm512_set1_ps((float)(e->lo - e->yzp));
    k.h = _mm512_set1_ps((float)(e->hi - e->yzp));
    k.zp = _mm512_set1_epi32((int32_t)e->yzp);
    k.yzp = (int32_t)e->yzp;
    k.sgn = e->out_signed;
    k.fast = e->fast && e->mult && e->lo == (e->out_signed ? -128.0 : 0.0) &&
             e->hi == (e->out_signed ? 127.0 : 255.0);
    k.res = e->mult ? e->res : NULL;
    k.res_off = e->res_off;
    return k;
}

/* The residual's n bytes for the elements at y + j·cs, broadcast to the
 * four 128-bit lanes (qres16's operand). */
INL __m512i res_bb(const q8_epi *k, int n, const char *y, int64_t cs)
{
    const char *r = y + k->res_off;
    __m128i b;
    if (cs == 1 && n == 16) {
        return _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)r));
    } else if (cs == 1) {
        b = _mm_maskz_loadu_epi8(mn_tail_mask16(n), r);
    } else {
        uint8_t t[16] = {0};
        for (int j = 0; j < n; j++)
            t[j] = (uint8_t)r[j * cs];
        b = _mm_loadu_si128((const __m128i *)t);
    }
    return _mm512_broadcast_i32x4(b);
}

INL q8_row q8_row_load(const mn_qgemm_epi *e, int64_t row)
{
    q8_row r;
    if (!e->mult) {
        r.add = _mm512_set1_epi32(e->add_i32[row]);
        r.mult = _mm512_setzero_ps();
    } else {
        r.add = _mm512_set1_epi32(e->add[row]);
        r.mult = _mm512_set1_ps(e->mult[row]);
    }
    return r;
}

/* The fused residual add's constants (k->res set). */
INL qres16_k q8_res_load(const q8_epi *k)
{
    return qres16_load(k->res, k->sgn, k->yzp);
}

/* Stores one accumulator vector of a row: lanes [0, n), element j at
 * y + j·cs (bytes or int32s); rk: the fused residual add's constants,
 * loaded by the caller (q8_res_load), NULL when k->res is. */
INL void store16kr(__m512i acc, const q8_epi *k, const q8_row *rw, int n,
                   char *y, int64_t cs, const qres16_k *rk)
{
    __mmask16 m = mn_tail_mask16(n);
    if (k->i32) {
        __m512i r = _mm512_add_epi32(acc, rw->add);
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
    __m128i b;
    if (rk) {
        __m512i r = requant16(acc, rw->add, rw->mult, k->l, k->h);
        b = qres_pack1(qres16(r, res_bb(k, n, y, cs), rk, k->sgn), k->sgn);
    } else if (k->fast) {
        b = mn_sat_pack1_epi32(requant16_nc(acc, rw->add, rw->mult),
                               _mm512_set1_epi16((short)k->yzp), k->sgn);
    } else {
        __m512i r = requant16(acc, rw->add, rw->mult, k->l, k->h);
        b = _mm512_cvtepi32_epi8(_mm512_add_epi32(r, k->zp)); /* in range */
        /* keep the narrowing in a register: compilers fuse it with the
         * store into vpmovdb to memory, which is microcoded and slow on
         * AMD Zen 4/5 */
        __asm__("" : "+v"(b));
    }
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

/* store16kr with the residual's constants loaded here. */
INL void store16k(__m512i acc, const q8_epi *k, const q8_row *rw, int n,
                  char *y, int64_t cs)
{
    if (k->res) {
        const qres16_k rk = q8_res_load(k);
        store16kr(acc, k, rw, n, y, cs, &rk);
    } else {
        store16kr(acc, k, rw, n, y, cs, NULL);
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
