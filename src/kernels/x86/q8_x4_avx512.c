/* AVX-512 (BW/VL) builder of one x4 row (see q8_x4.h): per 16 output
 * dwords, four masked loads straight from the input rows (the padding
 * byte where a column falls outside the row; stride 2 loads 32 bytes and
 * keeps the even ones with vpmovwb), a byte/word unpack interleave, the
 * flip, and one masked 64-byte store (nothing is written past the row).
 * Gives the portable builder's bytes. Built with -mavx512bw (Makefile rule
 * for *_avx512.c); compiled empty otherwise. */
#include "kernels/q8_x4.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#include <immintrin.h>
#include "kernels/x86/avx512_util.h"

/* Bits [lo, hi) of a mask of n <= 32 bits, lo and hi clamped to [0, n]. */
static uint32_t range_mask(int64_t lo, int64_t hi, int n)
{
    lo = lo < 0 ? 0 : lo > n ? n : lo;
    hi = hi < 0 ? 0 : hi > n ? n : hi;
    if (hi <= lo)
        return 0;
    return (uint32_t)(((1ull << hi) - 1) & ~((1ull << lo) - 1));
}

/* 64 input bytes of one row for output dwords j .. j + 63 (input column
 * cb of dword j), the padding byte outside [0, w). */
static inline __attribute__((always_inline)) __m512i
load64(const uint8_t *src, int64_t w, int64_t cb, int sw, __m512i pad)
{
    if (!src)
        return pad;
    if (cb >= 0 && cb + 64 * sw <= w) { /* inside the row */
        if (sw == 1)
            return _mm512_loadu_si512(src + cb);
        __m256i lo = _mm512_cvtepi16_epi8(_mm512_loadu_si512(src + cb));
        __m256i hi = _mm512_cvtepi16_epi8(_mm512_loadu_si512(src + cb + 64));
        return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
    }
    if (sw == 1)
        return _mm512_mask_loadu_epi8(pad, mn_span_mask64(-cb, w - cb),
                                      src + cb);
    __m256i lo = _mm512_cvtepi16_epi8(_mm512_mask_loadu_epi8(
        pad, mn_span_mask64(-cb, w - cb), src + cb));
    __m256i hi = _mm512_cvtepi16_epi8(_mm512_mask_loadu_epi8(
        pad, mn_span_mask64(-cb - 64, w - cb - 64), src + cb + 64));
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* 16 dwords from four rows of 16 bytes (byte t of dword j = r[t][j]),
 * XORed with fv. */
static inline __attribute__((always_inline)) __m512i
interleave16(const __m128i r[4], __m512i fv)
{
    __m128i ab0 = _mm_unpacklo_epi8(r[0], r[1]);
    __m128i ab1 = _mm_unpackhi_epi8(r[0], r[1]);
    __m128i ce0 = _mm_unpacklo_epi8(r[2], r[3]);
    __m128i ce1 = _mm_unpackhi_epi8(r[2], r[3]);
    __m512i z = _mm512_castsi128_si512(_mm_unpacklo_epi16(ab0, ce0));
    z = _mm512_inserti32x4(z, _mm_unpackhi_epi16(ab0, ce0), 1);
    z = _mm512_inserti32x4(z, _mm_unpacklo_epi16(ab1, ce1), 2);
    z = _mm512_inserti32x4(z, _mm_unpackhi_epi16(ab1, ce1), 3);
    return _mm512_xor_si512(z, fv);
}

/* 64 dwords from four rows of 64 bytes (byte t of dword j = row t's
 * byte j) in o[0..3], XORed with fv: the unpacks work within 128-bit
 * lanes (lane L of q_u holds dwords 16·L + 4·u .. + 3), then a 4 × 4
 * transpose of the lanes. */
static inline __attribute__((always_inline)) void
interleave64(__m512i a, __m512i b, __m512i c, __m512i d, __m512i fv,
             __m512i o[4])
{
    __m512i ab0 = _mm512_unpacklo_epi8(a, b);
    __m512i ab1 = _mm512_unpackhi_epi8(a, b);
    __m512i cd0 = _mm512_unpacklo_epi8(c, d);
    __m512i cd1 = _mm512_unpackhi_epi8(c, d);
    __m512i q0 = _mm512_unpacklo_epi16(ab0, cd0);
    __m512i q1 = _mm512_unpackhi_epi16(ab0, cd0);
    __m512i q2 = _mm512_unpacklo_epi16(ab1, cd1);
    __m512i q3 = _mm512_unpackhi_epi16(ab1, cd1);
    __m512i t0 = _mm512_shuffle_i32x4(q0, q1, 0x44);
    __m512i t1 = _mm512_shuffle_i32x4(q2, q3, 0x44);
    __m512i t2 = _mm512_shuffle_i32x4(q0, q1, 0xEE);
    __m512i t3 = _mm512_shuffle_i32x4(q2, q3, 0xEE);
    o[0] = _mm512_xor_si512(_mm512_shuffle_i32x4(t0, t1, 0x88), fv);
    o[1] = _mm512_xor_si512(_mm512_shuffle_i32x4(t0, t1, 0xDD), fv);
    o[2] = _mm512_xor_si512(_mm512_shuffle_i32x4(t2, t3, 0x88), fv);
    o[3] = _mm512_xor_si512(_mm512_shuffle_i32x4(t2, t3, 0xDD), fv);
}

static void x4_row_avx512(const uint8_t *const src[4], int64_t w,
                          int64_t c0, int sw, int64_t wq, uint8_t xpad,
                          uint8_t flip, uint8_t *dst)
{
    const __m128i pad16 = _mm_set1_epi8((char)xpad);
    const __m256i pad32 = _mm256_set1_epi8((char)xpad);
    const __m512i pad64 = _mm512_set1_epi8((char)xpad);
    const __m512i fv = _mm512_set1_epi8((char)flip);
    int64_t j = 0;
    __m512i o[4];
    if (sw == 1 && c0 >= 0 && src[0] && src[1] && src[2] && src[3]) {
        /* the steps inside all four rows and x4's row (a 1×1 layer's
         * whole planes): plain loads and stores, nothing to mask */
        const uint8_t *s0 = src[0] + c0, *s1 = src[1] + c0;
        const uint8_t *s2 = src[2] + c0, *s3 = src[3] + c0;
        int64_t end = w - c0 < wq ? w - c0 : wq;
        for (; j + 64 <= end; j += 64) {
            interleave64(_mm512_loadu_si512(s0 + j), _mm512_loadu_si512(s1 + j),
                         _mm512_loadu_si512(s2 + j), _mm512_loadu_si512(s3 + j),
                         fv, o);
            for (int u = 0; u < 4; u++)
                _mm512_storeu_si512(dst + 4 * (j + 16 * u), o[u]);
        }
    }
    /* 64 dwords per step while more than 32 are left */
    for (; wq - j > 32; j += 64) {
        int64_t cb = j * sw + c0;
        interleave64(load64(src[0], w, cb, sw, pad64),
                     load64(src[1], w, cb, sw, pad64),
                     load64(src[2], w, cb, sw, pad64),
                     load64(src[3], w, cb, sw, pad64), fv, o);
        /* the row's last step may end early: masked stores there */
        for (int u = 0; u < 4; u++)
            _mm512_mask_storeu_epi32(
                dst + 4 * (j + 16 * u),
                (__mmask16)range_mask(0, wq - j - 16 * u, 16), o[u]);
    }
    for (; j < wq; j += 16) {
        int64_t cb = j * sw + c0; /* input column of output dword j */
        __m128i r[4];
        if (sw == 1) {
            __mmask16 m = (__mmask16)range_mask(-cb, w - cb, 16);
            for (int t = 0; t < 4; t++)
                r[t] = src[t] ? _mm_mask_loadu_epi8(pad16, m, src[t] + cb)
                              : pad16;
        } else {
            __mmask32 m = range_mask(-cb, w - cb, 32);
            for (int t = 0; t < 4; t++)
                r[t] = src[t] ? _mm256_cvtepi16_epi8(_mm256_mask_loadu_epi8(
                                    pad32, m, src[t] + cb))
                              : pad16;
        }
        int64_t left = wq - j;
        __mmask16 sm = left >= 16 ? (__mmask16)0xFFFF
                                  : (__mmask16)((1u << left) - 1u);
        _mm512_mask_storeu_epi32(dst + 4 * j, sm, interleave16(r, fv));
    }
}

static void x4_plane_avx512(const uint8_t *const src[4], int64_t h,
                            int64_t w, int64_t r0, int sh, int sw, int64_t c0,
                            int64_t wq, int64_t i0, int64_t i1, uint8_t xpad,
                            uint8_t flip, uint8_t *dst)
{
    enum { NCH = MN_Q8_X4_PLANE_WQ / 16 };
    const __m128i pad16 = _mm_set1_epi8((char)xpad);
    const __m256i pad32 = _mm256_set1_epi8((char)xpad);
    const __m512i fv = _mm512_set1_epi8((char)flip);
    const __m512i padrow = _mm512_set1_epi8((char)(xpad ^ flip));
    uint32_t lm[NCH];
    __mmask16 sm[NCH];
    int nch = (int)((wq + 15) / 16);
    for (int c = 0; c < nch; c++) {
        /* the columns inside the row (16·sw from column cb), the dwords
         * inside x4's row */
        int64_t cb = 16 * c * sw + c0;
        lm[c] = range_mask(-cb, w - cb, 16 * sw);
        sm[c] = (__mmask16)range_mask(0, wq - 16 * c, 16);
    }
    for (int64_t i = i0; i < i1; i++) {
        int64_t row = i * sh + r0;
        uint8_t *o = dst + i * wq * 4;
        if (row < 0 || row >= h) {
            for (int c = 0; c < nch; c++)
                _mm512_mask_storeu_epi32(o + 64 * c, sm[c], padrow);
            continue;
        }
        for (int c = 0; c < nch; c++) {
            int64_t off = row * w + 16 * c * sw + c0;
            __m128i r[4];
            for (int t = 0; t < 4; t++) {
                if (!src[t])
                    r[t] = pad16;
                else if (sw == 1)
                    r[t] = _mm_mask_loadu_epi8(pad16, (__mmask16)lm[c],
                                               src[t] + off);
                else /* the even columns of 32 */
                    r[t] = _mm256_cvtepi16_epi8(_mm256_mask_loadu_epi8(
                        pad32, (__mmask32)lm[c], src[t] + off));
            }
            _mm512_mask_storeu_epi32(o + 64 * c, sm[c], interleave16(r, fv));
        }
    }
}

mn_q8_x4_row_fn mn_q8_x4_row_avx512(void) { return x4_row_avx512; }
mn_q8_x4_plane_fn mn_q8_x4_plane_avx512(void) { return x4_plane_avx512; }

#else
mn_q8_x4_row_fn mn_q8_x4_row_avx512(void) { return 0; }
mn_q8_x4_plane_fn mn_q8_x4_plane_avx512(void) { return 0; }
#endif
