/* AVX-512 VNNI 8-bit GEMV (see mn_q8_gemv_fn in qgemm.h): one column of
 * B, the classifier of a batch-1 network. The GEMM tile would compute 32
 * columns for the one that is kept; here each packed A panel (8 rows, 4
 * int8 per row and quad) is read once, two quads per 64-byte load: lanes
 * 0-7 take quad q of the 8 rows, lanes 8-15 quad q + 1, against x's
 * bytes of those quads broadcast by vpermd; four panels at a time keep
 * four accumulator chains in flight. The halves are summed at the end
 * (integer sums: the same bits), then each row is requantized by its own
 * add/mult through requant16 (q8_avx512_epi.h), as the other 8-bit
 * kernels' store. */
#include "kernels/qgemm.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX512VNNI__)
#include "kernels/x86/q8_avx512_epi.h"

#define MR 8
#define PANELS 4

/* 8 rows' sums (lanes 0-7 + lanes 8-15) stored through the epilogue: each
 * lane its own row's addend and multiplier, through requant16 and the
 * zero point of the other 8-bit kernels' store. */
static void store8(__m512i acc, const mn_qgemm_epi *e, const q8_epi *k,
                   int64_t row, int mr, char *y, int64_t rs)
{
    __m256i s = _mm256_add_epi32(_mm512_castsi512_si256(acc),
                                 _mm512_extracti64x4_epi64(acc, 1));
    __mmask8 m = (__mmask8)((1u << mr) - 1u);
    int32_t t[8];
    if (k->i32) {
        s = _mm256_add_epi32(s, _mm256_maskz_loadu_epi32(m, e->add_i32 + row));
        _mm256_storeu_si256((__m256i *)t, s);
        for (int i = 0; i < mr; i++)
            memcpy(y + i * rs * 4, &t[i], 4);
        return;
    }
    __m512i r = _mm512_add_epi32(
        requant16(_mm512_castsi256_si512(s),
                  _mm512_castsi256_si512(
                      _mm256_maskz_loadu_epi32(m, e->add + row)),
                  _mm512_castps256_ps512(
                      _mm256_maskz_loadu_ps(m, e->mult + row)),
                  k->l, k->h),
        k->zp);
    _mm256_storeu_si256((__m256i *)t, _mm512_castsi512_si256(r));
    for (int i = 0; i < mr; i++) {
        if (k->res) /* a fused residual add, row by row */
            t[i] = mn_q8_res1(k->res, k->sgn, t[i], y + i * rs + k->res_off);
        y[i * rs] = (char)(uint8_t)t[i];
    }
}

void mn_q8_gemv_avx512vnni(int64_t kq, const void *a, int64_t m,
                           const uint8_t *x, const mn_qgemm_epi *e,
                           int64_t row0, void *y, int64_t rs)
{
    const int8_t *ap = a;
    int es = e->mult ? 1 : 4;
    q8_epi k = q8_epi_load(e);
    int64_t panel = kq * MR * 4, npan = (m + MR - 1) / MR;
    const __m512i lo_hi = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1,
                                            1, 1, 1, 1, 1);
    for (int64_t p0 = 0; p0 < npan; p0 += PANELS) {
        int np = npan - p0 < PANELS ? (int)(npan - p0) : PANELS;
        __m512i acc[PANELS];
        for (int j = 0; j < PANELS; j++)
            acc[j] = _mm512_setzero_si512();
        const int8_t *base = ap + p0 * panel;
        int64_t q = 0;
        for (; q + 2 <= kq; q += 2) {
            __m512i xv = _mm512_permutexvar_epi32(
                lo_hi, _mm512_castsi128_si512(
                           _mm_loadl_epi64((const __m128i *)(x + 4 * q))));
            for (int j = 0; j < np; j++)
                acc[j] = _mm512_dpbusd_epi32(
                    acc[j], xv,
                    _mm512_loadu_si512(base + j * panel + q * MR * 4));
        }
        if (q < kq) { /* the last quad alone, in the low half */
            uint32_t xq;
            memcpy(&xq, x + 4 * q, 4);
            __m512i xv = _mm512_maskz_set1_epi32(0x00FF, (int)xq);
            for (int j = 0; j < np; j++)
                acc[j] = _mm512_dpbusd_epi32(
                    acc[j], xv,
                    _mm512_maskz_loadu_epi32(0x00FF,
                                             base + j * panel + q * MR * 4));
        }
        for (int j = 0; j < np; j++) {
            int64_t r = (p0 + j) * MR;
            int mr = m - r < MR ? (int)(m - r) : MR;
            store8(acc[j], e, &k, row0 + r, mr, (char *)y + r * rs * es, rs);
        }
    }
}

#else
void mn_q8_gemv_avx512vnni(int64_t kq, const void *a, int64_t m,
                           const uint8_t *x, const mn_qgemm_epi *e,
                           int64_t row0, void *y, int64_t rs)
{
    (void)kq, (void)a, (void)m, (void)x, (void)e, (void)row0, (void)y,
        (void)rs;
}
#endif
