/* AVX-512 VNNI channel-vector direct 8-bit convolution tile (contract in
 * qgemm.h, mn_q8_direct_cv_fn): 32 output channels (two vectors) × up to
 * 8 output pixels. Per quad: two 64-byte loads of the packed weights (32
 * channels × 4 bytes) and one 4-byte broadcast per pixel, from the x4
 * input at px[j] + off[q], feed 16 vpdpbusd — the pixel-vector tile's
 * instruction mix with the roles swapped, so pixels are picked one by one
 * and none is wasted on a small image's padding columns.
 * Epilogue: requantized in channel lanes (each lane its own multiplier
 * and addend, loaded as vectors), then transposed to 8-pixel rows — each
 * vector holds two channels' 8 pixels — where the fused residual add runs
 * on the residual's bytes as they lie, and each channel's 8 bytes are one
 * 8-byte store. Built with -mavx512vnni (Makefile rule for
 * *_avx512vnni.c); compiled empty otherwise. */
#include "kernels/qgemm.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX512VNNI__)
#include "kernels/x86/q8_avx512_epi.h"

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
        const uint8_t *const *px, __m512i acc[2][8])
{
    const uint8_t *p0 = px[0], *p1 = px[1], *p2 = px[2], *p3 = px[3],
                  *p4 = px[npx > 4 ? 4 : 0], *p5 = px[npx > 4 ? 5 : 0],
                  *p6 = px[npx > 4 ? 6 : 0], *p7 = px[npx > 4 ? 7 : 0];
    __m512i c00 = _mm512_setzero_si512(), c01 = c00, c10 = c00, c11 = c00,
            c20 = c00, c21 = c00, c30 = c00, c31 = c00, c40 = c00, c41 = c00,
            c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
    for (int64_t q = 0; q < kq; q++, a += 128) {
        const int32_t o = off[q];
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
    acc[0][0] = c00, acc[0][1] = c10, acc[0][2] = c20, acc[0][3] = c30;
    acc[0][4] = c40, acc[0][5] = c50, acc[0][6] = c60, acc[0][7] = c70;
    acc[1][0] = c01, acc[1][1] = c11, acc[1][2] = c21, acc[1][3] = c31;
    acc[1][4] = c41, acc[1][5] = c51, acc[1][6] = c61, acc[1][7] = c71;
}

/* The whole tile's requantizing store (8 pixels, 32 channels, 8-bit
 * output), straight-line: rk the fused residual add's constants or NULL
 * (a constant when inlined). */
static inline __attribute__((always_inline)) void
store_full(__m512i acc[2][8], const q8_epi *k, const mn_qgemm_epi *e,
           int64_t row0, char *y, int64_t rs, const qadd16_k *rk,
           const int sgn)
{
#pragma GCC unroll 2
    for (int v = 0; v < 2; v++) {
        __m512i add = _mm512_loadu_si512(e->add + row0 + 16 * v);
        __m512 mult = _mm512_loadu_ps(e->mult + row0 + 16 * v);
        __m512i r[8], t[8];
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++)
            r[j] = _mm512_add_epi32(requant16(acc[v][j], add, mult, k->l, k->h),
                                    k->zp);
        mn_transpose8x16(r, t);
#pragma GCC unroll 8
        for (int s = 0; s < 8; s++) {
            char *ya = y + (16 * v + mn_cv_ch_lo(s)) * rs, *yb = ya + 4 * rs;
            __m512i z = t[s];
            if (rk) {
                __m128i rr = _mm_unpacklo_epi64(
                    _mm_loadl_epi64((const __m128i *)(ya + k->res_off)),
                    _mm_loadl_epi64((const __m128i *)(yb + k->res_off)));
                z = qadd16(z,
                           sgn ? _mm512_cvtepi8_epi32(rr)
                               : _mm512_cvtepu8_epi32(rr),
                           rk);
            }
            __m128i b = _mm512_cvtepi32_epi8(z); /* in range */
            __asm__("" : "+v"(b)); /* see store16k */
            _mm_storel_epi64((__m128i *)ya, b);
            _mm_storeh_pi((__m64 *)yb, _mm_castsi128_ps(b));
        }
    }
}

void mn_q8_direct_cv_avx512vnni(int64_t kq, const void *a_,
                                const int32_t *off,
                                const uint8_t *const *px, int np, int nc,
                                const mn_qgemm_epi *e, int64_t row0,
                                void *y_, int64_t rs)
{
    __m512i acc[2][8];
    if (np > 4)
        cv_sums(8, kq, a_, off, px, acc);
    else
        cv_sums(4, kq, a_, off, px, acc);
    char *y = y_;
    const __mmask16 pm = mn_tail_mask16(np);
    q8_epi k = q8_epi_load(e);
    if (!k.i32 && np == 8 && nc == 32) {
        if (!k.res) {
            store_full(acc, &k, e, row0, y, rs, NULL, 0);
        } else {
            const qadd16_k rk = qadd16_load(k.res, k.sgn);
            if (k.sgn)
                store_full(acc, &k, e, row0, y, rs, &rk, 1);
            else
                store_full(acc, &k, e, row0, y, rs, &rk, 0);
        }
        return;
    }
    qadd16_k rk;
    if (k.res)
        rk = qadd16_load(k.res, k.sgn);
    for (int v = 0; v < 2 && 16 * v < nc; v++) {
        const __mmask16 cm = mn_tail_mask16(nc - 16 * v);
        const int64_t r0 = row0 + 16 * v;
        __m512i t[8];
        if (k.i32) {
            __m512i add = _mm512_maskz_loadu_epi32(cm, e->add_i32 + r0);
            for (int j = 0; j < 8; j++)
                acc[v][j] = _mm512_add_epi32(acc[v][j], add);
        } else {
            __m512i add = _mm512_maskz_loadu_epi32(cm, e->add + r0);
            __m512 mult = _mm512_maskz_loadu_ps(cm, e->mult + r0);
            for (int j = 0; j < 8; j++)
                acc[v][j] = _mm512_add_epi32(
                    requant16(acc[v][j], add, mult, k.l, k.h), k.zp);
        }
        mn_transpose8x16(acc[v], t);
        for (int s = 0; s < 8; s++) {
            /* t[s]: channel ca in lanes 0-7, cb = ca + 4 in lanes 8-15 */
            int ca = 16 * v + mn_cv_ch_lo(s), cb = ca + 4;
            if (ca >= nc)
                continue;
            if (k.i32) {
                char *ya = y + (int64_t)ca * rs * 4, *yb = y + cb * rs * 4;
                _mm256_mask_storeu_epi32(ya, (__mmask8)pm,
                                         _mm512_castsi512_si256(t[s]));
                if (cb < nc)
                    _mm256_mask_storeu_epi32(
                        yb, (__mmask8)pm, _mm512_extracti64x4_epi64(t[s], 1));
                continue;
            }
            char *ya = y + (int64_t)ca * rs, *yb = y + cb * rs;
            __m512i z = t[s];
            if (k.res) {
                __m128i ra = _mm_maskz_loadu_epi8(pm, ya + k.res_off);
                __m128i rb = cb < nc ? _mm_maskz_loadu_epi8(pm, yb + k.res_off)
                                     : _mm_setzero_si128();
                __m128i rr = _mm_unpacklo_epi64(ra, rb);
                z = qadd16(z,
                           k.sgn ? _mm512_cvtepi8_epi32(rr)
                                 : _mm512_cvtepu8_epi32(rr),
                           &rk);
            }
            __m128i b = _mm512_cvtepi32_epi8(z); /* in range */
            __asm__("" : "+v"(b)); /* see store16k */
            if (np == 8) {
                _mm_storel_epi64((__m128i *)ya, b);
                if (cb < nc)
                    _mm_storeh_pi((__m64 *)yb, _mm_castsi128_ps(b));
            } else {
                _mm_mask_storeu_epi8(ya, pm, b);
                if (cb < nc)
                    _mm_mask_storeu_epi8(yb, pm, _mm_srli_si128(b, 8));
            }
        }
    }
}

#endif
