/* AVX-512 VNNI channel-vector direct 8-bit convolution tile (contract in
 * qgemm.h, mn_q8_direct_cv_fn): 32 output channels (two vectors) × up to
 * 8 output pixels. Per quad: two 64-byte loads of the packed weights (32
 * channels × 4 bytes) and one 4-byte broadcast per pixel, from the x4
 * input at px[j] + off[q], feed 16 vpdpbusd — the pixel-vector tile's
 * instruction mix with the roles swapped, so pixels are picked one by one
 * and none is wasted on a small image's padding columns. The epilogue is
 * q8_cv_store.h's (shared with the channel-vector depthwise). Built with -mavx512vnni (Makefile rule for
 * *_avx512vnni.c); compiled empty otherwise. */
#include "kernels/qgemm.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX512VNNI__)
#include "kernels/x86/q8_cv_store.h"

#define INL static inline __attribute__((always_inline))

/* The 4 bytes at p as a broadcast dword. */
INL __m512i bcast4(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

/* The sums of pixels [0, npx) (npx 8, or 4 for a short tail: half the
 * broadcasts and products); the others stay 0. */
static inline __attribute__((always_inline)) void
cv_sums(const int npx, int64_t kq, const int8_t *a, const int32_t *off,
        const uint8_t *const *px, __m512i acc[2][8], const char *pf,
        int64_t pf_lines)
{
    const uint8_t *p0 = px[0], *p1 = px[1], *p2 = px[2], *p3 = px[3],
                  *p4 = px[npx > 4 ? 4 : 0], *p5 = px[npx > 4 ? 5 : 0],
                  *p6 = px[npx > 4 ? 6 : 0], *p7 = px[npx > 4 ? 7 : 0];
    __m512i c00 = _mm512_setzero_si512(), c01 = c00, c10 = c00, c11 = c00,
            c20 = c00, c21 = c00, c30 = c00, c31 = c00, c40 = c00, c41 = c00,
            c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
    for (int64_t q = 0; q < kq; q++, a += 128) {
        const int32_t o = off[q];
        if (q < pf_lines)
            _mm_prefetch(pf + 64 * q, _MM_HINT_T1);
        const __m512i w0 = _mm512_loadu_si512(a);
        const __m512i w1 = _mm512_loadu_si512(a + 64);
        __m512i x;
#define PIX(j)                                                                 \
    if (j < npx) {                                                             \
        x = bcast4(p##j + o);                                                  \
        c##j##0 = _mm512_dpbusd_epi32(c##j##0, x, w0);                         \
        c##j##1 = _mm512_dpbusd_epi32(c##j##1, x, w1);                         \
    }
        PIX(0) PIX(1) PIX(2) PIX(3) PIX(4) PIX(5) PIX(6) PIX(7)
#undef PIX
    }
    Q8_CV_ACC_OUT(acc);
}

void mn_q8_direct_cv_avx512vnni(int64_t kq, const void *a_,
                                const int32_t *off,
                                const uint8_t *const *px, int np, int nc,
                                const mn_qgemm_epi *e, int64_t row0,
                                void *y_, int64_t rs, const void *pf,
                                int64_t pf_lines)
{
    __m512i acc[2][8];
    if (np > 4)
        cv_sums(8, kq, a_, off, px, acc, pf, pf_lines);
    else
        cv_sums(4, kq, a_, off, px, acc, pf, pf_lines);
    mn_q8_cv_store(acc, np, nc, e, row0, y_, rs);
}

void mn_q8_rows_cv_avx512vnni(int64_t kq, const void *a_, const int32_t *off,
                              const uint8_t *const *px, int np, int nc,
                              const mn_qgemm_epi *e, int64_t row0, void *y_,
                              int64_t ldy, const void *pf, int64_t pf_lines)
{
    __m512i acc[2][8];
    if (np > 4)
        cv_sums(8, kq, a_, off, px, acc, pf, pf_lines);
    else
        cv_sums(4, kq, a_, off, px, acc, pf, pf_lines);
    char *y = y_;
    q8_epi k = q8_epi_load(e);
    qres16_k rk;
    if (k.res)
        rk = q8_res_load(&k);
    /* each image's 16-channel halves: requantized in channel lanes and
     * stored as they are (the channels of an image are contiguous) */
    for (int v = 0; v < 2 && 16 * v < nc; v++) {
        const __mmask16 cm = mn_tail_mask16(nc - 16 * v);
        const int64_t r0 = row0 + 16 * v;
        if (k.i32) {
            __m512i add = _mm512_maskz_loadu_epi32(cm, e->add_i32 + r0);
            for (int j = 0; j < np; j++)
                _mm512_mask_storeu_epi32(y + (j * ldy + 16 * v) * 4, cm,
                                         _mm512_add_epi32(acc[v][j], add));
            continue;
        }
        __m512i add = _mm512_maskz_loadu_epi32(cm, e->add + r0);
        __m512 mult = _mm512_maskz_loadu_ps(cm, e->mult + r0);
        for (int j = 0; j < np; j++) {
            char *yj = y + j * ldy + 16 * v;
            __m512i z = requant16(acc[v][j], add, mult, k.l, k.h);
            __m128i b;
            if (k.res) {
                __m128i rr = _mm_maskz_loadu_epi8(cm, yj + k.res_off);
                b = cv_res16(z, rr, k.sgn, &rk);
            } else {
                b = _mm512_cvtepi32_epi8(_mm512_add_epi32(z, k.zp));
                __asm__("" : "+v"(b)); /* see store16k; in range */
            }
            if (nc - 16 * v >= 16)
                _mm_storeu_si128((__m128i *)yj, b);
            else
                _mm_mask_storeu_epi8(yj, cm, b);
        }
    }
}

#endif
