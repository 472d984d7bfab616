/* AVX-512 float32 depthwise convolution in channel-vector tiles, for
 * planes up to 16 outputs wide (mn_dwconv_cv_fn; chosen by
 * mn_dwconv_cv_f32_active). On a 7×7 or 14×14 plane the plane kernel
 * (dwconv_avx512.c) fills 7 or 14 of a vector's 16 lanes and pays its
 * set-up per channel; here the lanes are 16 channels. Each padded input
 * row of 16 channels is 16 masked row loads (zero outside the input) and
 * one 16×16 transpose, giving one vector per input column. A tile is one
 * output row: each tap one FMA of the 16 channels' weights per pixel,
 * pixel j's input at a constant stride from the first's (one pointer per
 * tap, immediate offsets), and one transpose turns the results back into
 * the channels' planes. Every output sums exactly as the plane kernel
 * does — from the bias, taps in (i, j) order, one FMA each, a tap in the
 * left or right padding multiplying a zero, a tap row in the top or
 * bottom padding skipped — then the same activation: the same bits.
 * Undilated kernels up to 7×7, strides 1 and 2. */
#include <string.h>
#include "kernels/kernels_f32.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX512DQ__) && defined(__FMA__)
#include "kernels/x86/avx512_util.h"

#define KMAX 7

/* Padded input rows and columns a tile reads. */
static int64_t rows_of(const mn_conv_params *p)
{
    return (p->oh - 1) * p->sh + p->kh;
}

static int64_t cols_of(const mn_conv_params *p)
{
    return (p->ow - 1) * p->sw + p->kw;
}

int mn_dwconv_cv_f32_can(const mn_conv_params *p)
{
    return mn_ref_conv2d_is_depthwise(p) && p->dh == 1 && p->dw == 1 &&
           (p->sh == 1 || p->sh == 2) && (p->sw == 1 || p->sw == 2) &&
           p->kh <= KMAX && p->kw <= KMAX && p->ow <= 16 && p->oh <= 64 &&
           cols_of(p) <= 64;
}

/* t, and the columns a row tile's lanes past ow may read after it */
size_t mn_dwconv_cv_f32_scratch(const mn_conv_params *p)
{
    return (size_t)(rows_of(p) * cols_of(p) + 2 * 16 + KMAX) * 16 *
           sizeof(float);
}

/* t[(r·wp + col)·16 + lane]: padded input row r, column col, of the 16
 * channels at xc (NULL: a channel past the tile, zero). */
static void build(const mn_conv_params *p, const float *const *xc,
                  int64_t hp, int64_t wp, float *t)
{
    /* the slack a row tile's dropped lanes read: defined values */
    memset(t + hp * wp * 16, 0, (2 * 16 + KMAX) * 16 * sizeof(float));
    for (int64_t r = 0; r < hp; r++) {
        int64_t ih = r - p->pt;
        for (int64_t c0 = 0; c0 < wp; c0 += 16) {
            __m512i q[16];
            /* lanes whose column c0 + l − pl is inside the row */
            __mmask16 m = mn_range_mask16(c0 - p->pl, p->w);
            for (int i = 0; i < 16; i++)
                q[i] = xc[i] && ih >= 0 && ih < p->h
                           ? _mm512_castps_si512(_mm512_maskz_loadu_ps(
                                 m, xc[i] + ih * p->w + c0 - p->pl))
                           : _mm512_setzero_si512();
            mn_transpose16x16(q);
            for (int l = 0; l < 16 && c0 + l < wp; l++)
                _mm512_storeu_si512(t + (r * wp + c0 + l) * 16, q[l]);
        }
    }
}

/* One output row oh of the 16 channels: NP >= ow accumulators (8 or 16,
 * the ones past ow computed on whatever follows in t and dropped), input
 * column j·SW + jj of pixel j at an immediate offset from one pointer per
 * tap. A tap row in the top or bottom padding is skipped for the whole
 * row, as the plane kernel skips it. */
static inline __attribute__((always_inline)) void
row_tile(const int SW, const int NP, const mn_conv_params *p, const float *t,
         int64_t wp, const float (*wt)[16], __m512 bias, const mn_act *act,
         int64_t oh, int64_t m0, int nc, float *y)
{
    const int64_t ohw = p->oh * p->ow;
    const float *rb = t + oh * p->sh * wp * 16;
    __m512 a[16];
#pragma GCC unroll 16
    for (int j = 0; j < NP; j++)
        a[j] = bias;
    for (int64_t i = 0; i < p->kh; i++) {
        int64_t ih = oh * p->sh - p->pt + i;
        if (ih < 0 || ih >= p->h)
            continue;
        for (int64_t jj = 0; jj < p->kw; jj++) {
            const __m512 wv = _mm512_loadu_ps(wt[i * p->kw + jj]);
            const float *tt = rb + (i * wp + jj) * 16;
#pragma GCC unroll 16
            for (int j = 0; j < NP; j++)
                a[j] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(tt + j * SW * 16),
                                       a[j]);
        }
    }
    __m512i q[16];
#pragma GCC unroll 16
    for (int j = 0; j < 16; j++)
        q[j] = j < NP ? _mm512_castps_si512(mn_act512(a[j], act))
                      : _mm512_setzero_si512();
    mn_transpose16x16(q);
    const __mmask16 pm = mn_tail_mask16(p->ow);
    for (int i = 0; i < nc; i++)
        _mm512_mask_storeu_ps(y + (m0 + i) * ohw + oh * p->ow, pm,
                              _mm512_castsi512_ps(q[i]));
}

void mn_dwconv_cv_f32_avx512(const mn_conv_params *p, const float *x,
                             const float *w, const float *b,
                             const mn_act *act, int64_t m0, int nc,
                             float *y, float *t)
{
    const int64_t hp = rows_of(p), wp = cols_of(p);
    const int64_t khw = p->kh * p->kw, mult = p->m / p->c;
    const float *xc[16];
    float wt[KMAX * KMAX][16], bv[16];
    for (int i = 0; i < 16; i++) {
        xc[i] = i < nc ? x + (m0 + i) / mult * p->h * p->w : NULL;
        bv[i] = i < nc && b ? b[m0 + i] : 0.0f;
        for (int64_t k = 0; k < khw; k++)
            wt[k][i] = i < nc ? w[i * khw + k] : 0.0f;
    }
    build(p, xc, hp, wp, t);
    const __m512 bias = _mm512_loadu_ps(bv);
    for (int64_t oh = 0; oh < p->oh; oh++) {
        if (p->sw == 1 && p->ow <= 8)
            row_tile(1, 8, p, t, wp, wt, bias, act, oh, m0, nc, y);
        else if (p->sw == 1)
            row_tile(1, 16, p, t, wp, wt, bias, act, oh, m0, nc, y);
        else if (p->ow <= 8)
            row_tile(2, 8, p, t, wp, wt, bias, act, oh, m0, nc, y);
        else
            row_tile(2, 16, p, t, wp, wt, bias, act, oh, m0, nc, y);
    }
}

#else
int mn_dwconv_cv_f32_can(const mn_conv_params *p)
{
    (void)p;
    return 0;
}

size_t mn_dwconv_cv_f32_scratch(const mn_conv_params *p)
{
    (void)p;
    return 0;
}

void mn_dwconv_cv_f32_avx512(const mn_conv_params *p, const float *x,
                             const float *w, const float *b,
                             const mn_act *act, int64_t m0, int nc,
                             float *y, float *t)
{
    (void)p, (void)x, (void)w, (void)b, (void)act, (void)m0, (void)nc;
    (void)y, (void)t;
}
#endif
