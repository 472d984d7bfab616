/* AVX-512 float32 channel-vector convolution tile (contract in
 * kernels_f32.h, mn_conv_cv_fn): up to 48 output channels (1-3 vectors of
 * packed weights) × up to 8 output pixels. Per tap: the panel's weight
 * vectors and one broadcast per pixel, from the padded planes at
 * px[j] + boff[p], feed up to 24 FMAs — the pixel-vector tile's mix with
 * the roles swapped, so a small image's padding columns and short last
 * block cost no lanes, and the output needs no wide grid. The store adds
 * the bias in channel lanes, transposes 8 × 16 blocks (each vector then
 * holds two channels' 8 pixels), adds the residual, applies the
 * activation and writes each channel's pixels straight into y. Built with
 * -mavx512f/bw/vl/dq -mfma (Makefile rule for *_avx512.c); compiled empty
 * otherwise. */
#include "kernels/kernels_f32.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX512DQ__) && defined(__FMA__)
#include "kernels/x86/avx512_util.h"

/* mn_transpose8x16 on floats (the casts are free). */
MN_INLINE void transpose8x16_ps(const __m512 r[8], __m512 t[8])
{
    __m512i ri[8], ti[8];
    for (int j = 0; j < 8; j++)
        ri[j] = _mm512_castps_si512(r[j]);
    mn_transpose8x16(ri, ti);
    for (int j = 0; j < 8; j++)
        t[j] = _mm512_castsi512_ps(ti[j]);
}

/* The sums of pixels [0, npx) (8, or 4 for a short tail) over nv weight
 * vectors, each from 0 over the block's taps in order, then (unless
 * first) added to acc, the previous blocks' total — the GEMM tiles'
 * k-block arithmetic, so both paths give the same bits. */
MN_INLINE void cv_sums(const int nv, const int npx, int64_t kc,
                       const float *a, int64_t lda, const int64_t *boff,
                       const float *const *px, int first, const float *acc,
                       __m512 out[8][3], const char *pf, int64_t pf_lines)
{
    const float *p0 = px[0], *p1 = px[1], *p2 = px[2], *p3 = px[3],
                *p4 = px[npx > 4 ? 4 : 0], *p5 = px[npx > 4 ? 5 : 0],
                *p6 = px[npx > 4 ? 6 : 0], *p7 = px[npx > 4 ? 7 : 0];
    __m512 z = _mm512_setzero_ps();
    __m512 c00 = z, c01 = z, c02 = z, c10 = z, c11 = z, c12 = z, c20 = z,
           c21 = z, c22 = z, c30 = z, c31 = z, c32 = z, c40 = z, c41 = z,
           c42 = z, c50 = z, c51 = z, c52 = z, c60 = z, c61 = z, c62 = z,
           c70 = z, c71 = z, c72 = z;
    for (int64_t p = 0; p < kc; p++, a += lda) {
        const int64_t o = boff[p];
        if (p < pf_lines)
            _mm_prefetch(pf + 64 * p, _MM_HINT_T1);
        const __m512 w0 = _mm512_loadu_ps(a);
        const __m512 w1 = nv > 1 ? _mm512_loadu_ps(a + 16) : z;
        const __m512 w2 = nv > 2 ? _mm512_loadu_ps(a + 32) : z;
        __m512 x;
#define PIX(j)                                                                 \
    if (j < npx) {                                                             \
        x = _mm512_set1_ps(p##j[o]);                                           \
        c##j##0 = _mm512_fmadd_ps(w0, x, c##j##0);                             \
        if (nv > 1)                                                            \
            c##j##1 = _mm512_fmadd_ps(w1, x, c##j##1);                         \
        if (nv > 2)                                                            \
            c##j##2 = _mm512_fmadd_ps(w2, x, c##j##2);                         \
    }
        PIX(0) PIX(1) PIX(2) PIX(3) PIX(4) PIX(5) PIX(6) PIX(7)
#undef PIX
    }
    if (!first) {
#define ADD(j)                                                                 \
    if (j < npx) {                                                             \
        c##j##0 = _mm512_add_ps(c##j##0, _mm512_loadu_ps(acc + 48 * j));      \
        if (nv > 1)                                                            \
            c##j##1 =                                                          \
                _mm512_add_ps(c##j##1, _mm512_loadu_ps(acc + 48 * j + 16));    \
        if (nv > 2)                                                            \
            c##j##2 =                                                          \
                _mm512_add_ps(c##j##2, _mm512_loadu_ps(acc + 48 * j + 32));    \
    }
        ADD(0) ADD(1) ADD(2) ADD(3) ADD(4) ADD(5) ADD(6) ADD(7)
#undef ADD
    }
    out[0][0] = c00, out[0][1] = c01, out[0][2] = c02;
    out[1][0] = c10, out[1][1] = c11, out[1][2] = c12;
    out[2][0] = c20, out[2][1] = c21, out[2][2] = c22;
    out[3][0] = c30, out[3][1] = c31, out[3][2] = c32;
    out[4][0] = c40, out[4][1] = c41, out[4][2] = c42;
    out[5][0] = c50, out[5][1] = c51, out[5][2] = c52;
    out[6][0] = c60, out[6][1] = c61, out[6][2] = c62;
    out[7][0] = c70, out[7][1] = c71, out[7][2] = c72;
}

/* The last k block's store (see mn_conv_cv_epi). */
static void cv_store(__m512 s[8][3], int np, int nc, const mn_conv_cv_epi *e)
{
    const __mmask8 pm = (__mmask8)((1u << np) - 1);
    for (int v = 0; v < 3 && 16 * v < nc; v++) {
        __m512 r[8], t[8];
        __m512 b = e->bias ? _mm512_maskz_loadu_ps(mn_tail_mask16(nc - 16 * v),
                                                   e->bias + 16 * v)
                           : _mm512_setzero_ps();
        for (int j = 0; j < 8; j++)
            r[j] = _mm512_add_ps(s[j][v], b);
        transpose8x16_ps(r, t);
        for (int k = 0; k < 8; k++) {
            int ca = 16 * v + mn_cv_ch_lo(k), cb = ca + 4;
            if (ca >= nc)
                continue;
            float *ya = e->y + ca * e->rs, *yb = e->y + cb * e->rs;
            __m512 z = t[k];
            if (e->res) {
                const float *ra = e->res + ca * e->rs;
                __m256 lo = _mm256_maskz_loadu_ps(pm, ra);
                __m256 hi = cb < nc ? _mm256_maskz_loadu_ps(pm, ra + 4 * e->rs)
                                    : _mm256_setzero_ps();
                z = _mm512_add_ps(
                    z, _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1));
            }
            z = mn_act512(z, &e->act);
            _mm256_mask_storeu_ps(ya, pm, _mm512_castps512_ps256(z));
            if (cb < nc)
                _mm256_mask_storeu_ps(yb, pm, _mm512_extractf32x8_ps(z, 1));
        }
    }
}

MN_INLINE void cv_tile_nv(const int nv, int64_t kc, const float *a,
                          int64_t lda, const int64_t *boff,
                          const float *const *px, int np, int nc, float *acc,
                          int first, const mn_conv_cv_epi *e, const char *pf,
                          int64_t pf_lines)
{
    __m512 s[8][3];
    if (np > 4)
        cv_sums(nv, 8, kc, a, lda, boff, px, first, acc, s, pf, pf_lines);
    else
        cv_sums(nv, 4, kc, a, lda, boff, px, first, acc, s, pf, pf_lines);
    if (e) {
        cv_store(s, np, nc, e);
        return;
    }
    for (int j = 0; j < 8; j++)
        for (int v = 0; v < nv; v++)
            _mm512_storeu_ps(acc + 48 * j + 16 * v, s[j][v]);
}

static void cv_tile(int64_t kc, const float *a, int64_t lda,
                    const int64_t *boff, const float *const *px, int np,
                    int nc, float *acc, int first, const mn_conv_cv_epi *e,
                    const char *pf, int64_t pf_lines)
{
    if (nc > 32)
        cv_tile_nv(3, kc, a, lda, boff, px, np, nc, acc, first, e, pf,
                   pf_lines);
    else if (nc > 16)
        cv_tile_nv(2, kc, a, lda, boff, px, np, nc, acc, first, e, pf,
                   pf_lines);
    else
        cv_tile_nv(1, kc, a, lda, boff, px, np, nc, acc, first, e, pf,
                   pf_lines);
}

mn_conv_cv_fn mn_conv_cv_avx512(void) { return cv_tile; }

#else
mn_conv_cv_fn mn_conv_cv_avx512(void) { return 0; }
#endif
