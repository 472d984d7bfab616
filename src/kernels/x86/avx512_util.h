/* Small inline helpers shared by the AVX-512 kernel files (included only
 * from *_avx512*.c, which are built with the AVX-512 flags). */
#ifndef MN_KERNELS_X86_AVX512_UTIL_H
#define MN_KERNELS_X86_AVX512_UTIL_H

#include <immintrin.h>
#include "kernels/kernels_f32.h"

#define MN_VL16 16
#define MN_INLINE static inline __attribute__((always_inline))

/* The first n lanes (n clamped to [0, 16]). */
MN_INLINE __mmask16 mn_tail_mask16(int64_t n)
{
    return n >= 16 ? (__mmask16)0xFFFF
                   : (__mmask16)(n <= 0 ? 0 : (1u << n) - 1u);
}

/* The first n byte lanes of a 512-bit vector (n clamped to [0, 64]). */
MN_INLINE __mmask64 mn_tail_mask64(int64_t n)
{
    return n >= 64 ? ~(__mmask64)0
                   : (__mmask64)(n <= 0 ? 0 : ((uint64_t)1 << n) - 1);
}

/* Bits [lo, hi) of a 64-lane mask, lo and hi clamped to [0, 64]. */
MN_INLINE __mmask64 mn_span_mask64(int64_t lo, int64_t hi)
{
    lo = lo < 0 ? 0 : lo > 64 ? 64 : lo;
    hi = hi < 0 ? 0 : hi > 64 ? 64 : hi;
    if (hi <= lo)
        return 0;
    return (__mmask64)(mn_tail_mask64(hi) & ~mn_tail_mask64(lo));
}

/* Lanes l in [0, 16) with 0 <= base + l < lim. */
MN_INLINE __mmask16 mn_range_mask16(int64_t base, int64_t lim)
{
    int64_t lo = base < 0 ? -base : 0, hi = lim - base;
    if (hi > 16)
        hi = 16;
    if (lo >= hi)
        return 0;
    return (__mmask16)(mn_tail_mask16(hi) & ~mn_tail_mask16(lo));
}

/* 32 bytes from two vectors of int32 lanes (lanes 0-15 of v0, then of
 * v1): each value plus zp16's 16-bit lanes, saturated to int8 (sgn) or
 * uint8. The values pass a saturating int16 step first, which changes no
 * result while |zp| <= 255. packs works within 128-bit lanes; one dword
 * permute puts the bytes in order. */
MN_INLINE __m256i mn_sat_pack2_epi32(__m512i v0, __m512i v1, __m512i zp16,
                                     int sgn)
{
    __m512i w = _mm512_adds_epi16(_mm512_packs_epi32(v0, v1), zp16);
    __m512i b = sgn ? _mm512_packs_epi16(w, w) : _mm512_packus_epi16(w, w);
    return _mm512_castsi512_si256(_mm512_permutexvar_epi32(
        _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 13, 9, 5, 1, 12, 8, 4, 0),
        b));
}

/* The same for one vector: 16 bytes. */
MN_INLINE __m128i mn_sat_pack1_epi32(__m512i v, __m512i zp16, int sgn)
{
    __m512i w = _mm512_adds_epi16(_mm512_packs_epi32(v, v), zp16);
    __m512i b = sgn ? _mm512_packs_epi16(w, w) : _mm512_packus_epi16(w, w);
    return _mm512_castsi512_si128(_mm512_permutexvar_epi32(
        _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 8, 4, 0),
        b));
}

/* The channel-vector tiles' transpose (qdirect_cv_avx512vnni.c,
 * sconv_cv_avx512.c): rows r[0..7] (pixel j: 16 channels, 32-bit lanes)
 * become t[0..7], each holding two channels' 8 pixels: t[s] channel
 * mn_cv_ch_lo(s) in lanes 0-7 and that channel + 4 in lanes 8-15. */
MN_INLINE int mn_cv_ch_lo(int s) { return s / 2 + 8 * (s % 2); }

MN_INLINE void mn_transpose8x16(const __m512i r[8], __m512i t[8])
{
    const __m512i lo = _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0);
    const __m512i hi = _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4);
    __m512i u[4], w[4];
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
        const __m512i *s = r + 4 * h;
        __m512i a = _mm512_unpacklo_epi32(s[0], s[1]);
        __m512i b = _mm512_unpackhi_epi32(s[0], s[1]);
        __m512i c = _mm512_unpacklo_epi32(s[2], s[3]);
        __m512i d = _mm512_unpackhi_epi32(s[2], s[3]);
        __m512i *o = h ? w : u; /* channel 4L + i of lane L, 4 pixels */
        o[0] = _mm512_unpacklo_epi64(a, c);
        o[1] = _mm512_unpackhi_epi64(a, c);
        o[2] = _mm512_unpacklo_epi64(b, d);
        o[3] = _mm512_unpackhi_epi64(b, d);
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm512_permutex2var_epi64(u[i], lo, w[i]);
        t[2 * i + 1] = _mm512_permutex2var_epi64(u[i], hi, w[i]);
    }
}

/* q[i] lane l → q[l] lane i (16×16 dwords; floats through casts): the
 * channel-vector depthwise kernels' (dwconv_q8_avx512vbmi.c,
 * dwconv_cv_avx512.c) turn between planes and channel lanes. */
MN_INLINE void mn_transpose16x16(__m512i q[16])
{
    __m512i a[16], b[16];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        a[2 * i] = _mm512_unpacklo_epi32(q[2 * i], q[2 * i + 1]);
        a[2 * i + 1] = _mm512_unpackhi_epi32(q[2 * i], q[2 * i + 1]);
    }
    /* b[4j + k], 128-bit lane L: column 4L + k of rows 4j .. 4j + 3 */
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        b[4 * j] = _mm512_unpacklo_epi64(a[4 * j], a[4 * j + 2]);
        b[4 * j + 1] = _mm512_unpackhi_epi64(a[4 * j], a[4 * j + 2]);
        b[4 * j + 2] = _mm512_unpacklo_epi64(a[4 * j + 1], a[4 * j + 3]);
        b[4 * j + 3] = _mm512_unpackhi_epi64(a[4 * j + 1], a[4 * j + 3]);
    }
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        __m512i s0 = _mm512_shuffle_i32x4(b[k], b[4 + k], 0x88);
        __m512i s1 = _mm512_shuffle_i32x4(b[k], b[4 + k], 0xDD);
        __m512i s2 = _mm512_shuffle_i32x4(b[8 + k], b[12 + k], 0x88);
        __m512i s3 = _mm512_shuffle_i32x4(b[8 + k], b[12 + k], 0xDD);
        q[k] = _mm512_shuffle_i32x4(s0, s2, 0x88);
        q[8 + k] = _mm512_shuffle_i32x4(s0, s2, 0xDD);
        q[4 + k] = _mm512_shuffle_i32x4(s1, s3, 0x88);
        q[12 + k] = _mm512_shuffle_i32x4(s1, s3, 0xDD);
    }
}

/* e^x: x = n·ln2 + r, |r| <= ln2/2, e^r by a degree-6 polynomial (relative
 * error ~1e-7), times 2^n by vscalefps (which also under/overflows
 * properly). */
MN_INLINE __m512 mn_exp512(__m512 x)
{
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-104.0f)),
                      _mm512_set1_ps(89.0f));
    __m512 n = _mm512_roundscale_ps(
        _mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187e-06f), r);
    __m512 p = _mm512_set1_ps(1.0f / 720.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

MN_INLINE __m512 mn_sigmoid512(__m512 x)
{
    __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_div_ps(one, _mm512_add_ps(one, mn_exp512(
                                                     _mm512_sub_ps(
                                                         _mm512_setzero_ps(),
                                                         x))));
}

/* Φ(x), the standard normal CDF, as 1 - erfc(x/√2)/2 (x >= 0) or
 * erfc(|x|/√2)/2, erfc by Numerical Recipes' Chebyshev fit (fractional
 * error < 1.2e-7 everywhere), so the tails keep their relative accuracy. */
MN_INLINE __m512 mn_normal_cdf512(__m512 x)
{
    static const float c[10] = {0.17087277f,  -0.82215223f, 1.48851587f,
                                -1.13520398f, 0.27886807f,  -0.18628806f,
                                0.09678418f,  0.37409196f,  1.00002368f,
                                -1.26551223f};
    __m512 one = _mm512_set1_ps(1.0f);
    __m512 z = _mm512_mul_ps(_mm512_abs_ps(x),
                             _mm512_set1_ps(0.70710678118654752f));
    __m512 t = _mm512_div_ps(one, _mm512_fmadd_ps(z, _mm512_set1_ps(0.5f),
                                                  one));
    __m512 p = _mm512_set1_ps(c[0]);
    for (int i = 1; i < 10; i++)
        p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(c[i]));
    __m512 q = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), t),
                             mn_exp512(_mm512_fnmadd_ps(z, z, p)));
    __mmask16 pos = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GE_OQ);
    return _mm512_mask_sub_ps(q, pos, one, q);
}

MN_INLINE __m512 mn_act512(__m512 r, const mn_act *act)
{
    switch (act->kind) {
    case MN_ACT_RELU:
        return _mm512_max_ps(r, _mm512_setzero_ps());
    case MN_ACT_CLIP:
        return _mm512_min_ps(_mm512_max_ps(r, _mm512_set1_ps(act->lo)),
                             _mm512_set1_ps(act->hi));
    case MN_ACT_SIGMOID:
        return mn_sigmoid512(r);
    case MN_ACT_SILU:
        return _mm512_mul_ps(r, mn_sigmoid512(r));
    case MN_ACT_HARDSIGMOID:
    case MN_ACT_HARDSWISH: {
        __m512 t = _mm512_min_ps(
            _mm512_max_ps(_mm512_fmadd_ps(_mm512_set1_ps(act->lo), r,
                                          _mm512_set1_ps(act->hi)),
                          _mm512_setzero_ps()),
            _mm512_set1_ps(1.0f));
        return act->kind == MN_ACT_HARDSWISH ? _mm512_mul_ps(r, t) : t;
    }
    case MN_ACT_GELU:
        return _mm512_mul_ps(r, mn_normal_cdf512(r));
    default:
        return r;
    }
}

#endif
