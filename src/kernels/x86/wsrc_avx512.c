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

static void q4_run(const uint8_t *q, int64_t i, int64_t n, int is_signed,
                   int32_t z, float s, const void *sv, int s_f16, int half,
                   float *dst)
{
    if (n <= 0)
        return;
    if (i & 1) { /* a high nibble first: one value on its own */
        int32_t c = (q[i >> 1] >> 4) & 15;
        if (is_signed)
            c = (c ^ 8) - 8;
        float sc = s;
        if (sv)
            sc = s_f16 ? _cvtsh_ss(*(const uint16_t *)sv) : *(const float *)sv;
        float v = (float)(c - z) * sc;
        dst[0] = half ? _cvtsh_ss(_cvtss_sh(v, _MM_FROUND_TO_NEAREST_INT))
                      : v;
        if (sv)
            sv = (const char *)sv + (s_f16 ? 2 : 4);
        i++, n--, dst++;
    }
    const uint8_t *b = q + (i >> 1);
    const __m512i zv = _mm512_set1_epi32(z);
    const __m512 s1 = _mm512_set1_ps(s);
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

static const mn_wsrc_kernels kernels = {.f16 = f16_run, .q4 = q4_run};

const mn_wsrc_kernels *mn_wsrc_kernels_avx512(void) { return &kernels; }

#else
const mn_wsrc_kernels *mn_wsrc_kernels_avx512(void) { return 0; }
#endif
