/* AVX-512 run decoders of weight sources (src/kernels/wsrc.h): 16 values
 * per step with the scalar decode's IEEE operations — float16 widening
 * (vcvtph2ps, exact), int4 codes to int32, minus the zero point, to float
 * (exact), times the scale (one rounding), and for float16 scales the
 * round to float16 (vcvtps2ph, nearest even, as mn_f64_to_f16) and back —
 * so they give the scalar loop's bits. */
#include "kernels/wsrc.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX512DQ__) && defined(__F16C__)
#include "kernels/x86/avx512_util.h"

static void f16_run(const uint16_t *h, int64_t n, float *dst)
{
    int64_t t = 0;
    for (; t + 64 <= n; t += 64) {
        #pragma GCC unroll 4
        for (int v = 0; v < 4; v++)
            _mm512_storeu_ps(dst + t + 16 * v,
                             _mm512_cvtph_ps(_mm256_loadu_si256(
                                 (const __m256i *)(h + t + 16 * v))));
    }
    for (; t < n; t += 16) {
        __mmask16 m = mn_tail_mask16(n - t);
        _mm512_mask_storeu_ps(dst + t, m,
                              _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(
                                  m, h + t)));
    }
}

/* 16 codes from 8 bytes (the first nb of them: bm), low nibbles first. */
MN_INLINE __m512i codes16(const uint8_t *b, __mmask16 bm, int is_signed)
{
    const __m128i lo4 = _mm_set1_epi8(0x0f);
    __m128i x = bm == 0xff ? _mm_loadl_epi64((const __m128i *)b)
                           : _mm_maskz_loadu_epi8(bm, b);
    __m128i lo = _mm_and_si128(x, lo4);
    __m128i hi = _mm_and_si128(_mm_srli_epi16(x, 4), lo4);
    __m512i v = _mm512_cvtepu8_epi32(_mm_unpacklo_epi8(lo, hi));
    if (is_signed) {
        const __m512i eight = _mm512_set1_epi32(8);
        v = _mm512_sub_epi32(_mm512_xor_si512(v, eight), eight);
    }
    return v;
}

MN_INLINE __m512 round_f16(__m512 v)
{
    return _mm512_cvtph_ps(
        _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

/* The 16 values a code (raw nibble 0..15) decodes to with one scale and
 * zero point, computed as the scalar decode computes each: a code is then
 * decoded by one vpermps of its raw nibble into this table. */
MN_INLINE __m512 lut16(int is_signed, int32_t z, float s, int half)
{
    __m512i c = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                                  13, 14, 15);
    if (is_signed) {
        const __m512i eight = _mm512_set1_epi32(8);
        c = _mm512_sub_epi32(_mm512_xor_si512(c, eight), eight);
    }
    __m512 v = _mm512_mul_ps(
        _mm512_cvtepi32_ps(_mm512_sub_epi32(c, _mm512_set1_epi32(z))),
        _mm512_set1_ps(s));
    return half ? round_f16(v) : v;
}

/* n values from the even flat index of byte b on: codes minus z, times
 * one scale (sv NULL) or consecutive scales sv[0..n). */
MN_INLINE void q4_vec(const uint8_t *b, int64_t n, int is_signed,
                      __m512i zv, __m512 s1, const void *sv, int s_f16,
                      int half, float *dst)
{
    if (!sv) { /* one scale: a table of the 16 values */
        __m512 tbl = lut16(is_signed, _mm_cvtsi128_si32(
                                          _mm512_castsi512_si128(zv)),
                           _mm512_cvtss_f32(s1), half);
        const __m128i lo4 = _mm_set1_epi8(0x0f);
        int64_t t = 0;
        for (; t + 32 <= n; t += 32) { /* 32 codes from 16 bytes */
            __m128i x = _mm_loadu_si128((const __m128i *)(b + t / 2));
            __m128i lo = _mm_and_si128(x, lo4);
            __m128i hi = _mm_and_si128(_mm_srli_epi16(x, 4), lo4);
            __m512i k0 = _mm512_cvtepu8_epi32(_mm_unpacklo_epi8(lo, hi));
            __m512i k1 = _mm512_cvtepu8_epi32(_mm_unpackhi_epi8(lo, hi));
            _mm512_storeu_ps(dst + t, _mm512_permutexvar_ps(k0, tbl));
            _mm512_storeu_ps(dst + t + 16, _mm512_permutexvar_ps(k1, tbl));
        }
        for (; t < n; t += 16) {
            int64_t c = n - t < 16 ? n - t : 16;
            __m512i k = codes16(b + t / 2, mn_tail_mask16((c + 1) / 2), 0);
            _mm512_mask_storeu_ps(dst + t, mn_tail_mask16(c),
                                  _mm512_permutexvar_ps(k, tbl));
        }
        return;
    }
    for (int64_t t = 0; t < n; t += 16) {
        int64_t c = n - t < 16 ? n - t : 16;
        __mmask16 m = mn_tail_mask16(c);
        __m512i k = codes16(b + t / 2, mn_tail_mask16((c + 1) / 2),
                            is_signed);
        __m512 sc = s1;
        if (sv)
            sc = s_f16 ? _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(
                             m, (const uint16_t *)sv + t))
                       : _mm512_maskz_loadu_ps(m, (const float *)sv + t);
        __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(k, zv)),
                                 sc);
        if (half)
            v = round_f16(v);
        _mm512_mask_storeu_ps(dst + t, m, v);
    }
}

static void q4_run(const uint8_t *q, int64_t i, int64_t n, int is_signed,
                   int32_t z, float s, const void *sv, int s_f16, int half,
                   float *dst)
{
    if (n <= 0)
        return;
    if (i & 1) { /* a high nibble first: one value on its own */
        dst[0] = mn_wsrc_q4_one(q, i, is_signed, z, s, sv, s_f16, half);
        if (sv)
            sv = (const char *)sv + (s_f16 ? 2 : 4);
        i++, n--, dst++;
    }
    q4_vec(q + (i >> 1), n, is_signed, _mm512_set1_epi32(z),
           _mm512_set1_ps(s), sv, s_f16, half, dst);
}

/* n values from even flat index i within one row of a blocked layout
 * (inner 1, no zero points): scale sp[0] for the first blk − kr values,
 * then sp[1] for the next blk, ...; blk a multiple of 16 and kr too, so no
 * vector straddles two blocks. One call per panel row. */
static void q4_blocked(const uint8_t *q, int64_t i, int64_t n, int is_signed,
                       const void *sp, int s_f16, int64_t blk, int64_t kr,
                       int half, float *dst)
{
    const __m512i z0 = _mm512_setzero_si512();
    const uint8_t *b = q + (i >> 1);
    for (int64_t t = 0; t < n; sp = (const char *)sp + (s_f16 ? 2 : 4)) {
        int64_t len = blk - kr < n - t ? blk - kr : n - t;
        float s = s_f16 ? _cvtsh_ss(*(const uint16_t *)sp)
                        : *(const float *)sp;
        q4_vec(b + t / 2, len, is_signed, z0, _mm512_set1_ps(s), NULL,
               s_f16, half, dst + t);
        t += len;
        kr = 0;
    }
}

/* ---- dot products of rows, as sgemm_avx512.c's dot_rows sums them ----
 * (two accumulators over 32-value steps, the tail masked into the first,
 * then one reduction), with each 16 weights decoded in registers. */

/* 16 weights from even flat index i (int4: through the block's table),
 * lanes past m 0 */
MN_INLINE __m512 w16(const mn_wsrc *w, int64_t i, __m512 tbl, __mmask16 m)
{
    if (w->kind == MN_WSRC_F16)
        return _mm512_cvtph_ps(
            _mm256_maskz_loadu_epi16(m, (const uint16_t *)w->q + i));
    __m512i k = codes16((const uint8_t *)w->q + i / 2,
                        m == 0xffff ? 0xff
                                    : mn_tail_mask16(
                                          (_mm_popcnt_u32(m) + 1) / 2),
                        0);
    return _mm512_maskz_permutexvar_ps(m, k, tbl);
}

/* The decode table of row r's block holding value p (int4). */
MN_INLINE __m512 table_of(const mn_wsrc *w, int64_t nb, int64_t r, int64_t p)
{
    if (w->kind == MN_WSRC_F16)
        return _mm512_setzero_ps();
    int64_t at = r * nb + p / w->blk;
    float s = w->scale_f16 ? _cvtsh_ss(((const uint16_t *)w->scale)[at])
                           : ((const float *)w->scale)[at];
    return lut16(w->is_signed, 0, s, w->scale_f16);
}

static void dot_rows(const mn_wsrc *w, int64_t r0, int64_t nr,
                     const float *x, float *out)
{
    int64_t k = w->cols, nb = w->blk ? (w->pc + w->blk - 1) / w->blk : 0;
    for (int64_t r = r0; r < r0 + nr; r++) {
        const int64_t i0 = r * k;
        __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
        int64_t p = 0;
        __m512 s = table_of(w, nb, r, 0);
        int64_t next = w->kind == MN_WSRC_F16 ? INT64_MAX : w->blk;
        for (; p + 32 <= k; p += 32) {
            __m512 x0 = _mm512_loadu_ps(x + p), x1 = _mm512_loadu_ps(x + p + 16);
            if (p >= next) {
                s = table_of(w, nb, r, p);
                next += w->blk;
            }
            __m512 b0, b1, s0 = s;
            if (p + 16 >= next) {
                s = table_of(w, nb, r, p + 16);
                next += w->blk;
            }
            if (w->kind == MN_WSRC_F16) {
                b0 = w16(w, i0 + p, s0, 0xffff);
                b1 = w16(w, i0 + p + 16, s, 0xffff);
            } else { /* 32 codes from 16 bytes */
                const __m128i lo4 = _mm_set1_epi8(0x0f);
                __m128i q = _mm_loadu_si128(
                    (const __m128i *)((const uint8_t *)w->q + (i0 + p) / 2));
                __m128i lo = _mm_and_si128(q, lo4);
                __m128i hi = _mm_and_si128(_mm_srli_epi16(q, 4), lo4);
                b0 = _mm512_permutexvar_ps(
                    _mm512_cvtepu8_epi32(_mm_unpacklo_epi8(lo, hi)), s0);
                b1 = _mm512_permutexvar_ps(
                    _mm512_cvtepu8_epi32(_mm_unpackhi_epi8(lo, hi)), s);
            }
            acc0 = _mm512_fmadd_ps(b0, x0, acc0);
            acc1 = _mm512_fmadd_ps(b1, x1, acc1);
        }
        for (; p < k; p += 16) {
            __mmask16 m = mn_tail_mask16(k - p);
            __m512 x0 = _mm512_maskz_loadu_ps(m, x + p);
            if (p >= next) {
                s = table_of(w, nb, r, p);
                next += w->blk;
            }
            acc0 = _mm512_fmadd_ps(w16(w, i0 + p, s, m), x0, acc0);
        }
        out[r - r0] = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
    }
}

static const mn_wsrc_kernels kernels = {.f16 = f16_run, .q4 = q4_run,
                                        .q4_blocked = q4_blocked,
                                        .dot_rows = dot_rows};

const mn_wsrc_kernels *mn_wsrc_kernels_avx512(void) { return &kernels; }

#else
const mn_wsrc_kernels *mn_wsrc_kernels_avx512(void) { return 0; }
#endif
