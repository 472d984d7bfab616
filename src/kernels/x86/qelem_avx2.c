/* AVX2 elementwise 8-bit kernels (see kernels/qelem.h), bit-identical to
 * the reference: the same float32 division and round-half-even for
 * quantization (vdivps, vroundps), exact int32 arithmetic for QLinearAdd
 * (wrapping multiplies as the reference's), and saturating packs that
 * match the reference's clamps. Tails run the reference kernels. Built
 * with -mavx2 (Makefile rule for *_avx2.c). */
#include "kernels/qelem.h"

#if defined(__AVX2__)
#include <immintrin.h>

/* 8 floats quantized to int32 already clamped to [lo, hi]. */
static inline __m256i q8x8(const float *x, __m256 s, __m256 z, __m256 lo,
                           __m256 hi)
{
    __m256 v = _mm256_div_ps(_mm256_loadu_ps(x), s);
    v = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    v = _mm256_add_ps(v, z);
    v = _mm256_blendv_ps(z, v, _mm256_cmp_ps(v, v, _CMP_ORD_Q));
    v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
    return _mm256_cvtps_epi32(v);
}

static void quantize_avx2(const float *x, int64_t n, float s, int32_t zp,
                          int i8, void *y)
{
    const __m256 vs = _mm256_set1_ps(s), vz = _mm256_set1_ps((float)zp);
    const __m256 lo = _mm256_set1_ps(i8 ? -128.0f : 0.0f);
    const __m256 hi = _mm256_set1_ps(i8 ? 127.0f : 255.0f);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    uint8_t *d = y;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i p01 = _mm256_packs_epi32(q8x8(x + i, vs, vz, lo, hi),
                                         q8x8(x + i + 8, vs, vz, lo, hi));
        __m256i p23 = _mm256_packs_epi32(q8x8(x + i + 16, vs, vz, lo, hi),
                                         q8x8(x + i + 24, vs, vz, lo, hi));
        __m256i b = i8 ? _mm256_packs_epi16(p01, p23)
                       : _mm256_packus_epi16(p01, p23);
        b = _mm256_permutevar8x32_epi32(b, order);
        _mm256_storeu_si256((__m256i *)(d + i), b);
    }
    if (i < n)
        mn_kernels_qelem_ref()->quantize(x + i, n - i, s, zp, i8, d + i);
}

static void dequantize_avx2(const void *x, int64_t n, int i8, float s,
                            int32_t zp, float *y)
{
    const uint8_t *q = x;
    const __m256 vs = _mm256_set1_ps(s);
    const __m256i vz = _mm256_set1_epi32(zp);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i b = _mm_loadl_epi64((const __m128i *)(q + i));
        __m256i v = i8 ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
        v = _mm256_sub_epi32(v, vz);
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_cvtepi32_ps(v), vs));
    }
    if (i < n)
        mn_kernels_qelem_ref()->dequantize(q + i, n - i, i8, s, zp, y + i);
}

/* The rounded, shifted fixed-point sum of 8 lanes (before saturation). */
static inline __m256i qadd8(__m128i a, __m128i b, int i8, __m256i ma,
                            __m256i mb, __m256i za, __m256i zb, __m256i mask,
                            __m256i half, __m128i sh)
{
    __m256i va = i8 ? _mm256_cvtepi8_epi32(a) : _mm256_cvtepu8_epi32(a);
    __m256i vb = i8 ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
    __m256i acc = _mm256_add_epi32(
        _mm256_mullo_epi32(ma, _mm256_sub_epi32(va, za)),
        _mm256_mullo_epi32(mb, _mm256_sub_epi32(vb, zb)));
    __m256i rem = _mm256_add_epi32(_mm256_and_si256(acc, mask),
                                   _mm256_srai_epi32(acc, 31));
    return _mm256_sub_epi32(_mm256_sra_epi32(acc, sh),
                            _mm256_cmpgt_epi32(rem, half));
}

static void qadd_avx2(const void *a, const void *b, int64_t n,
                      const mn_qadd_fixed *p, int i8, void *y)
{
    const uint8_t *pa = a, *pb = b;
    uint8_t *d = y;
    const __m256i ma = _mm256_set1_epi32(p->ma), mb = _mm256_set1_epi32(p->mb);
    const __m256i za = _mm256_set1_epi32(p->za), zb = _mm256_set1_epi32(p->zb);
    const int32_t m = (int32_t)((1u << p->shift) - 1);
    const __m256i mask = _mm256_set1_epi32(m);
    const __m256i half = _mm256_set1_epi32(m >> 1);
    const __m256i zc = _mm256_set1_epi16((short)(p->zc < -32768 ? -32768
                                                 : p->zc > 32767 ? 32767
                                                                 : p->zc));
    const __m128i sh = _mm_cvtsi32_si128(p->shift);
    int64_t i = 0;
    /* the int16 saturating add equals the reference's only when zc fits
     * int16, which every 8-bit zero point does */
    if (p->zc >= -32768 && p->zc <= 32767)
        for (; i + 16 <= n; i += 16) {
            __m128i xa = _mm_loadu_si128((const __m128i *)(pa + i));
            __m128i xb = _mm_loadu_si128((const __m128i *)(pb + i));
            __m256i v0 = qadd8(xa, xb, i8, ma, mb, za, zb, mask, half, sh);
            __m256i v1 = qadd8(_mm_srli_si128(xa, 8), _mm_srli_si128(xb, 8),
                               i8, ma, mb, za, zb, mask, half, sh);
            __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(v0, v1),
                                                 0xD8);
            w = _mm256_adds_epi16(w, zc);
            __m128i l = _mm256_castsi256_si128(w);
            __m128i h = _mm256_extracti128_si256(w, 1);
            _mm_storeu_si128((__m128i *)(d + i), i8 ? _mm_packs_epi16(l, h)
                                                    : _mm_packus_epi16(l, h));
        }
    if (i < n)
        mn_kernels_qelem_ref()->qadd(pa + i, pb + i, n - i, p, i8, d + i);
}

static void vmax_avx2(void *acc, const void *x, int64_t n, int i8)
{
    uint8_t *d = acc;
    const uint8_t *s = x;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i u = _mm256_loadu_si256((const __m256i *)(d + i));
        __m256i v = _mm256_loadu_si256((const __m256i *)(s + i));
        _mm256_storeu_si256((__m256i *)(d + i), i8 ? _mm256_max_epi8(u, v)
                                                   : _mm256_max_epu8(u, v));
    }
    if (i < n && n >= 32) {
        /* the tail as a last vector ending at n: max is idempotent, the
         * overlap takes the same values again */
        i = n - 32;
        __m256i u = _mm256_loadu_si256((const __m256i *)(d + i));
        __m256i v = _mm256_loadu_si256((const __m256i *)(s + i));
        _mm256_storeu_si256((__m256i *)(d + i), i8 ? _mm256_max_epi8(u, v)
                                                   : _mm256_max_epu8(u, v));
        i = n;
    }
    if (i < n)
        mn_kernels_qelem_ref()->vmax(d + i, s + i, n - i, i8);
}

static void vmaxf_avx2(float *acc, const float *x, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 a = _mm256_loadu_ps(acc + i), v = _mm256_loadu_ps(x + i);
        /* vmaxps(v, a) gives a when either is NaN: keep a unless a is NaN */
        __m256 m = _mm256_max_ps(v, a);
        m = _mm256_blendv_ps(m, v, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
        _mm256_storeu_ps(acc + i, m);
    }
    if (i < n)
        mn_kernels_qelem_ref()->vmaxf(acc + i, x + i, n - i);
}

/* 8 lanes of QLinearMul before saturation: (a - za)·(b - zb) is exact in
 * int32 and in float32 (|·| <= 65025), one rounding multiply as the
 * reference's, then a clamp to ±65536 (finite ratios only: NaN is the
 * reference's) so the round-half-even conversion cannot overflow; with
 * |zc| < 2^15 every clamped value saturates to the same byte as the
 * reference's int32. */
static inline __m256i qmul8(__m128i a, __m256i vb, int i8, __m256i za,
                            __m256 r, __m256 lim, __m256i zc)
{
    __m256i va = i8 ? _mm256_cvtepi8_epi32(a) : _mm256_cvtepu8_epi32(a);
    __m256 f = _mm256_cvtepi32_ps(_mm256_mullo_epi32(_mm256_sub_epi32(va, za),
                                                     vb));
    f = _mm256_mul_ps(f, r);
    f = _mm256_min_ps(_mm256_max_ps(f, _mm256_sub_ps(_mm256_setzero_ps(),
                                                     lim)), lim);
    return _mm256_add_epi32(_mm256_cvtps_epi32(f), zc);
}

static void qmul_avx2(const void *a, const void *b, int64_t n, int64_t b_run,
                      const mn_qmul_p *p, int i8, void *y)
{
    const uint8_t *pa = a, *pb = b;
    uint8_t *d = y;
    if (b_run > 0 && b_run < n) { /* a run at a time */
        for (int64_t s = 0; s < n; s += b_run) {
            int64_t m = n - s < b_run ? n - s : b_run;
            qmul_avx2(pa + s, pb + s / b_run, m, m, p, i8, d + s);
        }
        return;
    }
    const int b_bcast = b_run > 0;
    const __m256i za = _mm256_set1_epi32(p->za), zb = _mm256_set1_epi32(p->zb);
    const __m256i zc = _mm256_set1_epi32(p->zc);
    const __m256 r = _mm256_set1_ps(p->ratio), lim = _mm256_set1_ps(65536.0f);
    int64_t i = 0;
    __m256i vb = _mm256_setzero_si256();
    if (b_bcast)
        vb = _mm256_set1_epi32((i8 ? (int32_t)((const int8_t *)b)[0]
                                   : (int32_t)pb[0]) - p->zb);
    if (isfinite(p->ratio) && p->zc >= -32768 && p->zc <= 32767)
        for (; i + 16 <= n; i += 16) {
            __m128i xa = _mm_loadu_si128((const __m128i *)(pa + i));
            __m256i b0 = vb, b1 = vb;
            if (!b_bcast) {
                __m128i xb = _mm_loadu_si128((const __m128i *)(pb + i));
                __m128i xh = _mm_srli_si128(xb, 8);
                b0 = _mm256_sub_epi32(i8 ? _mm256_cvtepi8_epi32(xb)
                                         : _mm256_cvtepu8_epi32(xb), zb);
                b1 = _mm256_sub_epi32(i8 ? _mm256_cvtepi8_epi32(xh)
                                         : _mm256_cvtepu8_epi32(xh), zb);
            }
            __m256i v0 = qmul8(xa, b0, i8, za, r, lim, zc);
            __m256i v1 = qmul8(_mm_srli_si128(xa, 8), b1, i8, za, r, lim, zc);
            __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(v0, v1),
                                                 0xD8);
            __m128i l = _mm256_castsi256_si128(w);
            __m128i h = _mm256_extracti128_si256(w, 1);
            _mm_storeu_si128((__m128i *)(d + i), i8 ? _mm_packs_epi16(l, h)
                                                    : _mm_packus_epi16(l, h));
        }
    if (i < n)
        mn_kernels_qelem_ref()->qmul(pa + i, b_bcast ? pb : pb + i, n - i,
                                     b_bcast ? n - i : 0, p, i8, d + i);
}

/* The reference's lookup: AVX2 has no 256-entry byte permute. */
static void lut8_avx2(const uint8_t *t, const uint8_t *x, int64_t n,
                      uint8_t *y)
{
    mn_kernels_qelem_ref()->lut8(t, x, n, y);
}

/* Byte sums by vpsadbw against zero; int8 bytes are flipped to uint8
 * (x + 128) and 128 per byte taken off at the end. */
static int32_t sum8_avx2(const void *x, int64_t n, int i8)
{
    const uint8_t *p = x;
    const __m256i flip = _mm256_set1_epi8(i8 ? (char)0x80 : 0);
    __m256i acc = _mm256_setzero_si256();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i v = _mm256_xor_si256(
            _mm256_loadu_si256((const __m256i *)(p + i)), flip);
        acc = _mm256_add_epi64(acc, _mm256_sad_epu8(v, _mm256_setzero_si256()));
    }
    __m128i s = _mm_add_epi64(_mm256_castsi256_si128(acc),
                              _mm256_extracti128_si256(acc, 1));
    int64_t t = _mm_cvtsi128_si64(s) + _mm_extract_epi64(s, 1);
    if (i8)
        t -= 128 * i;
    return (int32_t)t + mn_kernels_qelem_ref()->sum8(p + i, n - i, i8);
}

static void sums8_avx2(const void *x, int64_t planes, int64_t n, int i8,
                       int32_t *s)
{
    for (int64_t p = 0; p < planes; p++)
        s[p] = sum8_avx2((const uint8_t *)x + p * n, n, i8);
}

/* 32 outputs per step: the k shifted 64-byte windows' maximum, then the
 * even bytes (masked to words and packed; packus works per 128-bit lane,
 * vpermq restores the order). Reads x[2·o .. 2·o + 63 + k − 1]. */
static void hmax2_avx2(const void *x_, int64_t n, int k, int i8, void *y_)
{
    const uint8_t *x = x_;
    uint8_t *y = y_;
    const __m256i lo = _mm256_set1_epi16(0x00FF);
    int64_t o = 0;
    /* a step at o reads x[2·o .. 2·o + 62 + k]: allowed for o <= n − 33.
     * The last step is moved back to n − 33 (recomputing a few outputs),
     * which leaves only output n − 1 to the reference loop. */
    for (int64_t at = 0; n >= 33; at += 32) {
        o = at < n - 33 ? at : n - 33;
        const uint8_t *w = x + 2 * o;
        __m256i a = _mm256_loadu_si256((const __m256i *)w);
        __m256i b = _mm256_loadu_si256((const __m256i *)(w + 32));
        for (int t = 1; t < k; t++) {
            __m256i u = _mm256_loadu_si256((const __m256i *)(w + t));
            __m256i v = _mm256_loadu_si256((const __m256i *)(w + 32 + t));
            a = i8 ? _mm256_max_epi8(a, u) : _mm256_max_epu8(a, u);
            b = i8 ? _mm256_max_epi8(b, v) : _mm256_max_epu8(b, v);
        }
        __m256i p = _mm256_packus_epi16(_mm256_and_si256(a, lo),
                                        _mm256_and_si256(b, lo));
        _mm256_storeu_si256((__m256i *)(y + o),
                            _mm256_permute4x64_epi64(p, 0xD8));
        if (o + 32 >= n - 1) {
            o = n - 1;
            break;
        }
    }
    if (o < n)
        mn_kernels_qelem_ref()->hmax2(x + 2 * o, n - o, k, i8, y + o);
}

/* The even lanes of a, then of b (8 floats of 16 in order). */
static inline __m256 evens8(__m256 a, __m256 b)
{
    __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8));
}

/* 8 outputs per step: the k shifted windows' running maximum over 16
 * positions (vmaxps(v, m) is "v > m ? v : m", the reference's order),
 * then the even positions, and first's NaNs put back. A step at o reads
 * x[2·o .. 2·o + 14 + k], allowed for o <= n − 9. */
static void hmax2f_avx2(const float *x, const float *first, int64_t n, int k,
                        float *y)
{
    int64_t o = 0;
    for (; o + 9 <= n; o += 8) {
        const float *w = x + 2 * o;
        __m256 a = _mm256_loadu_ps(w), b = _mm256_loadu_ps(w + 8);
        for (int t = 1; t < k; t++) {
            a = _mm256_max_ps(_mm256_loadu_ps(w + t), a);
            b = _mm256_max_ps(_mm256_loadu_ps(w + 8 + t), b);
        }
        __m256 e = evens8(a, b);
        __m256 f = evens8(_mm256_loadu_ps(first + 2 * o),
                          _mm256_loadu_ps(first + 2 * o + 8));
        _mm256_storeu_ps(y + o,
                         _mm256_blendv_ps(e, f, _mm256_cmp_ps(f, f, _CMP_UNORD_Q)));
    }
    if (o < n)
        mn_kernels_qelem_ref()->hmax2f(x + 2 * o, first + 2 * o, n - o, k,
                                       y + o);
}

static const mn_kernels_qelem kernels = {
    .name = "avx2",       .quantize = quantize_avx2, .dequantize = dequantize_avx2,
    .qadd = qadd_avx2,    .vmax = vmax_avx2,         .vmaxf = vmaxf_avx2,
    .qmul = qmul_avx2,    .lut8 = lut8_avx2,         .sum8 = sum8_avx2,
    .sums8 = sums8_avx2,
    .hmax2 = hmax2_avx2,  .hmax2f = hmax2f_avx2};

const mn_kernels_qelem *mn_kernels_qelem_avx2(void) { return &kernels; }

#else
const mn_kernels_qelem *mn_kernels_qelem_avx2(void) { return 0; }
#endif
