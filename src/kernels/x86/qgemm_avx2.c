/* AVX2 8-bit GEMM tile (see qgemm.h): 4 rows × 16 columns, 8 ymm
 * accumulators. vpmaddubsw would saturate its int16 pair sums (255·127·2 >
 * 32767), so the exact scheme is used instead: the packed uint8 quads
 * (x0, x1, x2, x3) are split into zero-extended int16 pairs (x0, x2) and
 * (x1, x3) by a mask and a shift, and vpmaddwd multiplies them with the
 * weights packed as int16 pairs (w0, w2), (w1, w3) into exact int32 sums.
 * The epilogue is the double-precision requantization of
 * mn_ref_requantize. Built with -mavx2 (Makefile rule for *_avx2.c). */
#include "kernels/qgemm.h"

#if defined(__AVX2__)
#include <immintrin.h>
#include <string.h>

#define MR 4
#define NR 16
#define INL static inline __attribute__((always_inline))

INL __m128i requant4(__m128i v, __m256d add, __m256d mult, __m256d zp,
                     __m256d lo, __m256d hi)
{
    __m256d d = _mm256_mul_pd(_mm256_add_pd(_mm256_cvtepi32_pd(v), add), mult);
    d = _mm256_round_pd(d, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    d = _mm256_add_pd(d, zp);
    d = _mm256_max_pd(d, lo); /* NaN → lo (second operand) */
    d = _mm256_min_pd(d, hi);
    return _mm256_cvtpd_epi32(d);
}

/* One accumulator vector of row `row`: lanes [0, n), element j at
 * y + j·cs (bytes or int32s). */
INL void store8(__m256i acc, const mn_qgemm_epi *e, int64_t row, int n,
                char *y, int64_t cs)
{
    if (!e->mult) {
        int32_t t[8];
        __m256i r = _mm256_add_epi32(acc, _mm256_set1_epi32(e->add_i32[row]));
        if (cs == 1 && n == 8) {
            _mm256_storeu_si256((__m256i *)y, r);
            return;
        }
        _mm256_storeu_si256((__m256i *)t, r);
        for (int j = 0; j < n; j++)
            memcpy(y + j * cs * 4, &t[j], 4);
        return;
    }
    __m256d add = _mm256_set1_pd(e->add[row]);
    __m256d mult = _mm256_set1_pd(e->mult[row]);
    __m256d zp = _mm256_set1_pd(e->yzp), lo = _mm256_set1_pd(e->lo),
            hi = _mm256_set1_pd(e->hi);
    __m128i r0 = requant4(_mm256_castsi256_si128(acc), add, mult, zp, lo, hi);
    __m128i r1 =
        requant4(_mm256_extracti128_si256(acc, 1), add, mult, zp, lo, hi);
    __m128i s = _mm_packs_epi32(r0, r1); /* exact: values in [-128, 255] */
    s = e->out_signed ? _mm_packs_epi16(s, s) : _mm_packus_epi16(s, s);
    uint8_t t[16];
    if (cs == 1 && n == 8) {
        _mm_storel_epi64((__m128i *)y, s);
        return;
    }
    _mm_storeu_si128((__m128i *)t, s);
    for (int j = 0; j < n; j++)
        y[j * cs] = (char)t[j];
}

static void qs8_gemm_4x16c4(int64_t kq, const void *a_, const uint8_t *b,
                            int mr, int nr, const mn_qgemm_epi *e,
                            int64_t row0, void *y_, int64_t rs, int64_t cs)
{
    const int32_t *a = a_; /* per quad, per row: (w0,w2), (w1,w3) */
    const __m256i lowb = _mm256_set1_epi16(0x00FF);
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00,
            c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    for (int64_t q = 0; q < kq; q++, a += 2 * MR, b += NR * 4) {
        __m256i v0 = _mm256_loadu_si256((const __m256i *)b);
        __m256i v1 = _mm256_loadu_si256((const __m256i *)(b + 32));
        __m256i e0 = _mm256_and_si256(v0, lowb), o0 = _mm256_srli_epi16(v0, 8);
        __m256i e1 = _mm256_and_si256(v1, lowb), o1 = _mm256_srli_epi16(v1, 8);
        __m256i we, wo;
#define ROW(i)                                                                 \
    we = _mm256_set1_epi32(a[2 * i]);                                          \
    wo = _mm256_set1_epi32(a[2 * i + 1]);                                      \
    c##i##0 = _mm256_add_epi32(c##i##0, _mm256_madd_epi16(e0, we));            \
    c##i##0 = _mm256_add_epi32(c##i##0, _mm256_madd_epi16(o0, wo));            \
    c##i##1 = _mm256_add_epi32(c##i##1, _mm256_madd_epi16(e1, we));            \
    c##i##1 = _mm256_add_epi32(c##i##1, _mm256_madd_epi16(o1, wo));
        ROW(0) ROW(1) ROW(2) ROW(3)
#undef ROW
    }
    __m256i acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}};
    int es = e->mult ? 1 : 4;
    char *y = y_;
    for (int i = 0; i < mr; i++) {
        char *yr = y + i * rs * es;
        store8(acc[i][0], e, row0 + i, nr < 8 ? nr : 8, yr, cs);
        if (nr > 8)
            store8(acc[i][1], e, row0 + i, nr - 8, yr + 8 * cs * es, cs);
    }
}

static const mn_kernels_q8 kernels = {
    .name = "qs8_gemm_4x16c4__avx2",
    .isa = MN_ISA_AVX2,
    .mr = MR,
    .nr = NR,
    .a_layout = MN_QA_S16X4,
    .tile = qs8_gemm_4x16c4,
};

const mn_kernels_q8 *mn_kernels_q8_avx2(void) { return &kernels; }

#else
const mn_kernels_q8 *mn_kernels_q8_avx2(void) { return 0; }
#endif
