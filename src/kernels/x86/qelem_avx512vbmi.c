/* The AVX2 elementwise 8-bit table with the byte-table lookup on
 * AVX512_VBMI (see kernels/qelem.h): a 256-entry table is four zmm
 * registers; vpermi2b looks 64 bytes up in each half (it reads the low 7
 * bits of an index) and the index's top bit picks the half. QLinearAdd,
 * QLinearMul and the byte sums run on AVX-512 too, tails under masks. Bit-identical
 * to the reference. Built with -mavx512vbmi (Makefile rule
 * for *_avx512vbmi.c). */
#include <math.h>
#include <pthread.h>
#include "kernels/qelem.h"

#if defined(__AVX512VBMI__) && defined(__AVX512BW__)
#include <immintrin.h>
#include "kernels/x86/avx512_util.h"
#include "kernels/x86/qadd_avx512.h"

static void lut8_vbmi(const uint8_t *t, const uint8_t *x, int64_t n,
                      uint8_t *y)
{
    const __m512i t0 = _mm512_loadu_si512(t), t1 = _mm512_loadu_si512(t + 64);
    const __m512i t2 = _mm512_loadu_si512(t + 128);
    const __m512i t3 = _mm512_loadu_si512(t + 192);
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512i v = _mm512_loadu_si512(x + i);
        __m512i lo = _mm512_permutex2var_epi8(t0, v, t1);
        __m512i hi = _mm512_permutex2var_epi8(t2, v, t3);
        _mm512_storeu_si512(y + i, _mm512_mask_blend_epi8(
                                       _mm512_movepi8_mask(v), lo, hi));
    }
    if (i < n) {
        __mmask64 m = mn_tail_mask64(n - i);
        __m512i v = _mm512_maskz_loadu_epi8(m, x + i);
        __m512i lo = _mm512_permutex2var_epi8(t0, v, t1);
        __m512i hi = _mm512_permutex2var_epi8(t2, v, t3);
        _mm512_mask_storeu_epi8(y + i, m, _mm512_mask_blend_epi8(
                                              _mm512_movepi8_mask(v), lo, hi));
    }
}

/* 16 products of QLinearMul as int32: (a − za)·b, to float, · ratio,
 * clamped to ±65536 (the reference clamps to int16 after adding zc, so
 * the outputs agree), rounded to nearest even, + zc, saturated to [lo, hi]
 * (⊂ int16: the reference's int16 clamp is implied). */
static inline __m512i qmul16(__m128i a, __m512i vb, int i8, __m512i za,
                             __m512 r, __m512 lim, __m512i zc, __m512i lo,
                             __m512i hi)
{
    __m512i va = i8 ? _mm512_cvtepi8_epi32(a) : _mm512_cvtepu8_epi32(a);
    __m512 f = _mm512_cvtepi32_ps(
        _mm512_mullo_epi32(_mm512_sub_epi32(va, za), vb));
    f = _mm512_mul_ps(f, r);
    f = _mm512_min_ps(
        _mm512_max_ps(f, _mm512_sub_ps(_mm512_setzero_ps(), lim)), lim);
    __m512i v = _mm512_add_epi32(_mm512_cvtps_epi32(f), zc);
    return _mm512_min_epi32(_mm512_max_epi32(v, lo), hi);
}

static inline __m512i widen_b(__m128i b, int i8, __m512i zb)
{
    return _mm512_sub_epi32(i8 ? _mm512_cvtepi8_epi32(b)
                               : _mm512_cvtepu8_epi32(b), zb);
}

/* Where a run-wise b stands: row r, `left` elements of it from the
 * current position (runs of at least 16: a 16-lane step crosses at most
 * one boundary), rows in all. */
typedef struct brun {
    const uint8_t *b;
    int64_t run, r, left, rows;
    int i8;
    __m512i zb;
} brun;

static inline int32_t b_at(const brun *s, int64_t r)
{
    return s->i8 ? (int32_t)((const int8_t *)s->b)[r] : (int32_t)s->b[r];
}

/* b − zb for the next 16 elements, then a step past them. */
static inline __m512i brun16(brun *s)
{
    __m512i v = _mm512_set1_epi32(b_at(s, s->r));
    if (s->left < 16 && s->r + 1 < s->rows)
        v = _mm512_mask_blend_epi32((__mmask16)(0xFFFFu << s->left), v,
                                    _mm512_set1_epi32(b_at(s, s->r + 1)));
    s->left -= 16;
    if (s->left <= 0) {
        s->r++;
        s->left += s->run;
    }
    return _mm512_sub_epi32(v, s->zb);
}

/* QLinearMul, 64 elements per step and a masked 16-lane tail (no scalar
 * loop: a squeeze-excite gate multiplies planes of 49 or 196 bytes, which
 * b_run lets one call cover). The same conditions as the AVX2 kernel,
 * else the reference; runs shorter than 16 go a run at a time. */
static void qmul_avx512(const void *a, const void *b, int64_t n,
                        int64_t b_run, const mn_qmul_p *p, int i8, void *y)
{
    const uint8_t *pa = a, *pb = b;
    uint8_t *d = y;
    if (!isfinite(p->ratio) || p->zc < -32768 || p->zc > 32767) {
        mn_kernels_qelem_ref()->qmul(a, b, n, b_run, p, i8, y);
        return;
    }
    if (b_run > 0 && b_run < 16 && b_run < n) {
        for (int64_t s = 0; s < n; s += b_run) {
            int64_t m = n - s < b_run ? n - s : b_run;
            qmul_avx512(pa + s, pb + s / b_run, m, m, p, i8, d + s);
        }
        return;
    }
    const __m512i za = _mm512_set1_epi32(p->za), zb = _mm512_set1_epi32(p->zb);
    const __m512i zc = _mm512_set1_epi32(p->zc);
    const __m512i lo = _mm512_set1_epi32(i8 ? -128 : 0);
    const __m512i hi = _mm512_set1_epi32(i8 ? 127 : 255);
    const __m512 r = _mm512_set1_ps(p->ratio), lim = _mm512_set1_ps(65536.0f);
    brun br = {pb, b_run, 0, b_run, b_run ? (n + b_run - 1) / b_run : 0, i8,
               zb};
    int64_t i = 0;
    /* four 16-lane products packed by two saturating packs (the values
     * are in [lo, hi], which they keep) into one 64-byte store */
    const __m512i order = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13,
                                           9, 5, 1, 12, 8, 4, 0);
    for (; i + 64 <= n; i += 64) {
        __m512i v[4];
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            __m128i xa = _mm_loadu_si128((const __m128i *)(pa + i + 16 * k));
            __m512i bv = b_run ? brun16(&br)
                               : widen_b(_mm_loadu_si128((const __m128i *)(
                                             pb + i + 16 * k)),
                                         i8, zb);
            v[k] = qmul16(xa, bv, i8, za, r, lim, zc, lo, hi);
        }
        __m512i w0 = _mm512_packs_epi32(v[0], v[1]);
        __m512i w1 = _mm512_packs_epi32(v[2], v[3]);
        __m512i o = i8 ? _mm512_packs_epi16(w0, w1)
                       : _mm512_packus_epi16(w0, w1);
        /* dword 4L + k of o holds v[k]'s elements 4L .. 4L + 3 (packs
         * work within 128-bit lanes); order puts them back in place */
        _mm512_storeu_si512(d + i, _mm512_permutexvar_epi32(order, o));
    }
    for (; i < n; i += 16) {
        __mmask16 m = mn_tail_mask16(n - i);
        __m128i xa = _mm_maskz_loadu_epi8(m, pa + i);
        __m512i bv = b_run ? brun16(&br)
                           : widen_b(_mm_maskz_loadu_epi8(m, pb + i), i8, zb);
        __m128i o = _mm512_cvtepi32_epi8(
            qmul16(xa, bv, i8, za, r, lim, zc, lo, hi));
        __asm__("" : "+v"(o)); /* a register narrowing, then the store */
        _mm_mask_storeu_epi8(d + i, m, o);
    }
}

/* QLinearAdd 16 bytes at a time (qadd16), the tail under a mask. */
static void qadd_avx512(const void *a, const void *b, int64_t n,
                        const mn_qadd_fixed *p, int i8, void *y)
{
    const uint8_t *pa = a, *pb = b;
    uint8_t *d = y;
    if (p->zc < -32768 || p->zc > 32767) {
        mn_kernels_qelem_ref()->qadd(a, b, n, p, i8, y);
        return;
    }
    const qadd16_k k = qadd16_load(p, i8);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = mn_tail_mask16(n - i);
        __m128i xa = _mm_maskz_loadu_epi8(m, pa + i);
        __m128i xb = _mm_maskz_loadu_epi8(m, pb + i);
        __m512i va = i8 ? _mm512_cvtepi8_epi32(xa) : _mm512_cvtepu8_epi32(xa);
        __m512i vb = i8 ? _mm512_cvtepi8_epi32(xb) : _mm512_cvtepu8_epi32(xb);
        __m128i o = _mm512_cvtepi32_epi8(qadd16(va, vb, &k));
        __asm__("" : "+v"(o)); /* a register narrowing, then the store */
        _mm_mask_storeu_epi8(d + i, m, o);
    }
}

/* Byte sums: vpsadbw over 64 bytes, the tail masked (zero bytes add
 * nothing); int8 bytes flipped to uint8 (x + 128), 128 per byte taken off
 * at the end. */
static int32_t sum8_avx512(const void *x, int64_t n, int i8)
{
    const uint8_t *p = x;
    const __m512i flip = _mm512_set1_epi8(i8 ? (char)0x80 : 0);
    __m512i acc = _mm512_setzero_si512();
    for (int64_t i = 0; i < n; i += 64) {
        __mmask64 m = mn_tail_mask64(n - i);
        __m512i v = _mm512_maskz_mov_epi8(
            m, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, p + i), flip));
        acc = _mm512_add_epi64(acc,
                               _mm512_sad_epu8(v, _mm512_setzero_si512()));
    }
    int64_t t = _mm512_reduce_add_epi64(acc);
    if (i8)
        t -= 128 * n;
    return (int32_t)t;
}

/* Eight planes at a time: each plane's 64-byte chunks (the last masked)
 * summed by vpsadbw into eight qword partials, then the eight planes'
 * partials reduced together (a transposing add tree: 7 shuffle pairs for
 * 8 planes instead of a horizontal reduction each). Sums are exact. */
static void sums8_avx512(const void *x, int64_t planes, int64_t n, int i8,
                         int32_t *s)
{
    const uint8_t *b = x;
    const __m512i flip = _mm512_set1_epi8(i8 ? (char)0x80 : 0);
    const __m512i z = _mm512_setzero_si512();
    int64_t p = 0;
    for (; p + 8 <= planes; p += 8) {
        __m512i a[8];
        for (int q = 0; q < 8; q++) {
            const uint8_t *r = b + (p + q) * n;
            a[q] = z;
            for (int64_t i = 0; i < n; i += 64) {
                __mmask64 m = mn_tail_mask64(n - i);
                __m512i v = _mm512_maskz_mov_epi8(
                    m, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, r + i),
                                        flip));
                a[q] = _mm512_add_epi64(a[q], _mm512_sad_epu8(v, z));
            }
        }
        __m512i t[4], u[2];
        for (int q = 0; q < 4; q++) /* per 128-bit lane: planes 2q, 2q+1 */
            t[q] = _mm512_add_epi64(_mm512_unpacklo_epi64(a[2 * q], a[2 * q + 1]),
                                    _mm512_unpackhi_epi64(a[2 * q], a[2 * q + 1]));
        for (int q = 0; q < 2; q++)
            u[q] = _mm512_add_epi64(
                _mm512_shuffle_i64x2(t[2 * q], t[2 * q + 1], 0x88),
                _mm512_shuffle_i64x2(t[2 * q], t[2 * q + 1], 0xDD));
        __m512i w = _mm512_add_epi64(_mm512_shuffle_i64x2(u[0], u[1], 0x88),
                                     _mm512_shuffle_i64x2(u[0], u[1], 0xDD));
        __m256i r = _mm512_cvtepi64_epi32(w); /* planes p .. p + 7 */
        if (i8)
            r = _mm256_sub_epi32(r, _mm256_set1_epi32((int32_t)(128 * n)));
        _mm256_storeu_si256((__m256i *)(s + p), r);
    }
    for (; p < planes; p++)
        s[p] = sum8_avx512(b + p * n, n, i8);
}

/* 16 floats quantized (as mn_kernels_qelem.quantize) to int32 in [lo, hi].
 * The quotient x / s comes from products instead of a division (~10
 * cycles per vector): q1 = x·r1 and q2 = x·r2 with r1, r2 = (1/s)(1 ±
 * 2^-20) enclose the reference's rounded quotient RN(x / s) (each
 * product is within 3·2^-24 of its exact value, the quotient within
 * 2^-24), so when both round to the same integer so does the quotient
 * (rounding is monotonic); a vector with a lane where they differ (a
 * quotient near a half-integer) divides instead. Rounding half to even
 * is the add of M = 1.5·2^23 (to an integer below 2^22; beyond, the
 * value saturates whichever way it rounds), and the zero point comes in
 * the same subtraction: v = (q + M) − (M − zp), exact in float. NaN →
 * the zero point; then the clamp. */
MN_INLINE __m512i quant16(__m512 x, __m512 s, __m512 r1, __m512 r2,
                          __m512 mz, __m512 z, __m512 lo, __m512 hi)
{
#define RN (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
    const __m512 m = _mm512_set1_ps(0x1.8p23f);
    __m512 k1 = _mm512_add_ps(_mm512_mul_ps(x, r1), m);
    __m512 k2 = _mm512_add_ps(_mm512_mul_ps(x, r2), m);
    __m512 v;
    if (_mm512_cmp_ps_mask(k1, k2, _CMP_NEQ_OQ))
        v = _mm512_add_ps(_mm512_roundscale_ps(_mm512_div_ps(x, s), RN), z);
    else
        v = _mm512_sub_ps(k1, mz);
    v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, v, _CMP_ORD_Q), z, v);
    v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
    return _mm512_cvt_roundps_epi32(v, RN);
#undef RN
}

static void quantize_avx512(const float *x, int64_t n, float s, int32_t zp,
                            int i8, void *y)
{
    float rs = 1.0f / s;
    /* 1/s must be a normal float for the bounds above */
    if (!(rs >= 0x1.0p-126f && rs <= 0x1.0p126f)) {
        mn_kernels_qelem_avx2()->quantize(x, n, s, zp, i8, y);
        return;
    }
    const __m512 vs = _mm512_set1_ps(s);
    const __m512 r1 = _mm512_set1_ps(rs * (1.0f + 0x1.0p-20f));
    const __m512 r2 = _mm512_set1_ps(rs * (1.0f - 0x1.0p-20f));
    const __m512 vz = _mm512_set1_ps((float)zp);
    const __m512 mz = _mm512_set1_ps(0x1.8p23f - (float)zp);
    const __m512 lo = _mm512_set1_ps(i8 ? -128.0f : 0.0f);
    const __m512 hi = _mm512_set1_ps(i8 ? 127.0f : 255.0f);
    uint8_t *d = y;
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = mn_tail_mask16(n - i);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        /* in range: the narrowing truncates; kept in a register (vpmovdb
         * to memory is microcoded on AMD Zen 4/5) */
        __m128i b = _mm512_cvtepi32_epi8(
            quant16(v, vs, r1, r2, mz, vz, lo, hi));
        __asm__("" : "+v"(b));
        if (m == 0xFFFF)
            _mm_storeu_si128((__m128i *)(d + i), b);
        else
            _mm_mask_storeu_epi8(d + i, m, b);
    }
}

/* Byte o (< 32) of column 2·o + t gathered from a register pair, per
 * t < 4 (static tables: built on the stack per call, 64 byte stores then
 * a vector load stall on store forwarding). */
#define C2(t, o) (2 * (o) + (t))
#define C2R(t, o) C2(t, o), C2(t, o + 1), C2(t, o + 2), C2(t, o + 3)
#define C2H(t)                                                             \
    C2R(t, 0), C2R(t, 4), C2R(t, 8), C2R(t, 12), C2R(t, 16), C2R(t, 20),    \
        C2R(t, 24), C2R(t, 28)
static const uint8_t COLS2[4][64] __attribute__((aligned(64))) = {
    {C2H(0), C2H(0)}, {C2H(1), C2H(1)}, {C2H(2), C2H(2)}, {C2H(3), C2H(3)}};

/* 32 outputs per step: every row's 64 + k − 2 columns from cb under masks
 * (the type's lowest value outside [0, w) and past the step's last
 * column) into two registers, their maximum over the rows, then per tap
 * t the bytes of columns 2·o + t (vpermt2b) and their maximum. */
static void maxrow2_vbmi(const void *const *rows, int nr, int64_t w,
                         int64_t c0, int64_t n, int k, int i8, void *y)
{
    const __m512i lowest = _mm512_set1_epi8((char)(i8 ? 0x80 : 0));
    __m512i ix[4];
    for (int t = 0; t < k; t++)
        ix[t] = _mm512_load_si512(COLS2[t]);
    for (int64_t o = 0; o < n; o += 32) {
        int64_t no = n - o < 32 ? n - o : 32, cb = c0 + 2 * o;
        int64_t end = 2 * no - 2 + k; /* columns cb .. cb + end − 1 */
        __mmask64 ma = mn_span_mask64(-cb, (w - cb < end ? w - cb : end));
        __mmask64 mb = mn_span_mask64(-cb - 64, (w - cb < end ? w - cb : end) - 64);
        __m512i a = lowest, b = lowest;
        for (int i = 0; i < nr; i++) {
            uintptr_t r = (uintptr_t)rows[i] + (uintptr_t)cb;
            __m512i u = _mm512_mask_loadu_epi8(lowest, ma, (const void *)r);
            __m512i v = _mm512_mask_loadu_epi8(lowest, mb,
                                               (const void *)(r + 64));
            a = i8 ? _mm512_max_epi8(a, u) : _mm512_max_epu8(a, u);
            b = i8 ? _mm512_max_epi8(b, v) : _mm512_max_epu8(b, v);
        }
        __m512i h = _mm512_permutex2var_epi8(a, ix[0], b);
        for (int t = 1; t < k; t++) {
            __m512i g = _mm512_permutex2var_epi8(a, ix[t], b);
            h = i8 ? _mm512_max_epi8(h, g) : _mm512_max_epu8(h, g);
        }
        _mm256_mask_storeu_epi8((uint8_t *)y + o, (__mmask32)mn_tail_mask64(no),
                                _mm512_castsi512_si256(h));
    }
}

static mn_kernels_qelem table;

static void init(void)
{
    const mn_kernels_qelem *a = mn_kernels_qelem_avx2();
    table = a ? *a : *mn_kernels_qelem_ref();
    table.name = "avx512vbmi";
    table.quantize = quantize_avx512;
    table.lut8 = lut8_vbmi;
    table.qmul = qmul_avx512;
    table.qadd = qadd_avx512;
    table.sum8 = sum8_avx512;
    table.sums8 = sums8_avx512;
    table.maxrow2 = maxrow2_vbmi;
}

const mn_kernels_qelem *mn_kernels_qelem_avx512vbmi(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, init);
    return &table;
}

#else
const mn_kernels_qelem *mn_kernels_qelem_avx512vbmi(void) { return 0; }
#endif
