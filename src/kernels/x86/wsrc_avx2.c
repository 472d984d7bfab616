/* AVX2 (+F16C) run decoders of weight sources (src/kernels/wsrc.h): the
 * scalar decode's IEEE operations on 8 lanes — float16 widening
 * (vcvtph2ps), int4 codes to int32, minus the zero point, to float, times
 * the scale, and for float16 scales the round to float16 (vcvtps2ph,
 * nearest even) and back — so they give the scalar loop's bits. Tails go
 * through an 8-value buffer. No fused GEMV at this level (mn_wsrc_dot
 * says so): GEMVs decode column blocks. */
#include <string.h>
#include "kernels/wsrc.h"

#if defined(__AVX2__) && defined(__F16C__)
#include <immintrin.h>

static void f16_run(const uint16_t *h, int64_t n, float *dst)
{
    int64_t t = 0;
    for (; t + 8 <= n; t += 8)
        _mm256_storeu_ps(dst + t, _mm256_cvtph_ps(_mm_loadu_si128(
                                      (const __m128i *)(h + t))));
    if (t < n) {
        uint16_t b[8] = {0};
        float f[8];
        memcpy(b, h + t, (size_t)(n - t) * 2);
        _mm256_storeu_ps(f, _mm256_cvtph_ps(_mm_loadu_si128((__m128i *)b)));
        memcpy(dst + t, f, (size_t)(n - t) * sizeof *f);
    }
}

/* 8 values from the 4 bytes at b (codes low nibble first). */
static inline __m256 q4_8(const uint8_t *b, int is_signed, __m256i zv,
                          __m256 sc, int half)
{
    int32_t w;
    memcpy(&w, b, 4);
    const __m128i lo4 = _mm_set1_epi8(0x0f);
    __m128i x = _mm_cvtsi32_si128(w);
    __m128i lo = _mm_and_si128(x, lo4);
    __m128i hi = _mm_and_si128(_mm_srli_epi16(x, 4), lo4);
    __m256i k = _mm256_cvtepu8_epi32(_mm_unpacklo_epi8(lo, hi));
    if (is_signed) {
        const __m256i eight = _mm256_set1_epi32(8);
        k = _mm256_sub_epi32(_mm256_xor_si256(k, eight), eight);
    }
    __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(k, zv)), sc);
    if (half)
        v = _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT |
                                                   _MM_FROUND_NO_EXC));
    return v;
}

static __m256 scales8(const void *sv, int s_f16, float s)
{
    if (!sv)
        return _mm256_set1_ps(s);
    if (s_f16)
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)sv));
    return _mm256_loadu_ps((const float *)sv);
}

static void q4_run(const uint8_t *q, int64_t i, int64_t n, int is_signed,
                   int32_t z, float s, const void *sv, int s_f16, int half,
                   float *dst)
{
    const size_t ss = s_f16 ? 2 : 4;
    if (n <= 0)
        return;
    if (i & 1) { /* a high nibble first: one value on its own */
        dst[0] = mn_wsrc_q4_one(q, i, is_signed, z, s, sv, s_f16, half);
        if (sv)
            sv = (const char *)sv + ss;
        i++, n--, dst++;
    }
    const uint8_t *b = q + (i >> 1);
    const __m256i zv = _mm256_set1_epi32(z);
    int64_t t = 0;
    for (; t + 8 <= n; t += 8)
        _mm256_storeu_ps(dst + t,
                         q4_8(b + t / 2, is_signed, zv,
                              scales8(sv ? (const char *)sv + t * ss : NULL,
                                      s_f16, s),
                              half));
    if (t < n) { /* the tail through zero-padded buffers */
        uint8_t cb[4] = {0};
        char sb[32] = {0};
        float f[8];
        memcpy(cb, b + t / 2, (size_t)(n - t + 1) / 2);
        if (sv)
            memcpy(sb, (const char *)sv + t * ss, (size_t)(n - t) * ss);
        _mm256_storeu_ps(f, q4_8(cb, is_signed, zv,
                                 scales8(sv ? sb : NULL, s_f16, s), half));
        memcpy(dst + t, f, (size_t)(n - t) * sizeof *f);
    }
}

/* One row of a blocked layout: a q4_run per block (see wsrc.h). */
static void q4_blocked(const uint8_t *q, int64_t i, int64_t n, int is_signed,
                       const void *sp, int s_f16, int64_t blk, int64_t kr,
                       int half, float *dst)
{
    for (int64_t t = 0; t < n; sp = (const char *)sp + (s_f16 ? 2 : 4)) {
        int64_t len = blk - kr < n - t ? blk - kr : n - t;
        float s = s_f16 ? _cvtsh_ss(*(const uint16_t *)sp)
                        : *(const float *)sp;
        q4_run(q, i + t, len, is_signed, 0, s, NULL, s_f16, half, dst + t);
        t += len;
        kr = 0;
    }
}

static const mn_wsrc_kernels kernels = {.f16 = f16_run, .q4 = q4_run,
                                        .q4_blocked = q4_blocked};

const mn_wsrc_kernels *mn_wsrc_kernels_avx2(void) { return &kernels; }

#else
const mn_wsrc_kernels *mn_wsrc_kernels_avx2(void) { return 0; }
#endif
