/* AVX2 8-bit GEMM tile (see qgemm.h): 4 rows × 16 columns, 8 ymm
 * accumulators. vpmaddubsw would saturate its int16 pair sums (255·127·2 >
 * 32767), so the exact scheme is used instead: the packed uint8 quads
 * (x0, x1, x2, x3) are split into zero-extended int16 pairs (x0, x2) and
 * (x1, x3) by a mask and a shift, and vpmaddwd multiplies them with the
 * weights packed as int16 pairs (w0, w2), (w1, w3) into exact int32 sums.
 * The epilogue is mn_ref_requantize's float32 requantization. Built with -mavx2 (Makefile rule for *_avx2.c). */
#include "kernels/qgemm.h"

#if defined(__AVX2__)
#include <immintrin.h>
#include <string.h>

#define MR 4
#define NR 16
#define INL static inline __attribute__((always_inline))

/* 8 int32 sums → mn_ref_requantize's values (round to nearest: MXCSR's
 * default, as the reference's own float arithmetic). max takes its second
 * operand for a NaN: NaN → lo − zp. */
INL __m256i requant8(__m256i v, __m256i add, __m256 mult, __m256 l, __m256 h,
                     __m256i zp)
{
    __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(v, add)),
                             mult);
    f = _mm256_min_ps(_mm256_max_ps(f, l), h);
    return _mm256_add_epi32(_mm256_cvtps_epi32(f), zp);
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
    __m256i r = requant8(acc, _mm256_set1_epi32(e->add[row]),
                         _mm256_set1_ps(e->mult[row]),
                         _mm256_set1_ps((float)(e->lo - e->yzp)),
                         _mm256_set1_ps((float)(e->hi - e->yzp)),
                         _mm256_set1_epi32((int32_t)e->yzp));
    /* exact: values in [-128, 255] */
    __m128i s = _mm_packs_epi32(_mm256_castsi256_si128(r),
                                _mm256_extracti128_si256(r, 1));
    s = e->out_signed ? _mm_packs_epi16(s, s) : _mm_packus_epi16(s, s);
    uint8_t t[16];
    if (cs == 1 && n == 8 && !e->res) {
        _mm_storel_epi64((__m128i *)y, s);
        return;
    }
    _mm_storeu_si128((__m128i *)t, s);
    for (int j = 0; j < n; j++) {
        if (e->res) { /* a fused residual add, element by element */
            int sg = e->out_signed;
            t[j] = (uint8_t)mn_q8_res1(
                e->res, sg, sg ? (int32_t)(int8_t)t[j] : (int32_t)t[j],
                y + j * cs + e->res_off);
        }
        y[j * cs] = (char)t[j];
    }
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
