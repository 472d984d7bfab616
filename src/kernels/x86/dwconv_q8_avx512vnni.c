/* AVX-512 VNNI 8-bit depthwise convolution (see mn_q8_dw_fn in qgemm.h):
 * one output plane, 16 output columns per vector. The input is the
 * zero-point-padded channel plane, so there are no bounds checks; for each
 * tap the 16 uint8 inputs (stride 1: 16 consecutive bytes; stride 2: the
 * even bytes of 32) are zero-extended to int32 lanes and vpdpwssd adds
 * input × weight (the int16 pair's upper halves are 0). Any kernel size
 * and dilation; the requantizing store is the GEMM's. */
#include "kernels/qgemm.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX512VNNI__)
#include "kernels/x86/q8_avx512_epi.h"

INL __m512i load16(const uint8_t *s, int64_t sw)
{
    if (sw == 1)
        return _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)s));
    __m256i v = _mm256_loadu_si256((const __m256i *)s); /* even bytes */
    return _mm512_cvtepu16_epi32(
        _mm256_and_si256(v, _mm256_set1_epi16(0x00FF)));
}

/* R (1 or 4) consecutive output rows from r0 (input rows rs apart, the
 * padded plane wp wide), each tap's weight vector shared by the R
 * accumulators. */
INL void rows(const mn_conv_params *p, const uint8_t *r0, int64_t rs,
              int64_t wp, const __m512i *wv, int nw, const int32_t *taps,
              const mn_qgemm_epi *e, int64_t row, char *yr, int es,
              int64_t sw, int64_t kh, int64_t kw, int64_t dh, int64_t dw,
              const int R)
{
    for (int64_t ow = 0; ow < p->ow; ow += 16) {
        __m512i a[4];
        const uint8_t *base = r0 + ow * sw;
        #pragma GCC unroll 4
        for (int r = 0; r < R; r++)
            a[r] = _mm512_setzero_si512();
        for (int64_t i = 0; i < kh; i++)
            for (int64_t j = 0; j < kw; j++) {
                int64_t t = i * kw + j;
                __m512i w = nw ? wv[t] : _mm512_set1_epi32(taps[t] & 0xFFFF);
                const uint8_t *x = base + i * dh * wp + j * dw;
                #pragma GCC unroll 4
                for (int r = 0; r < R; r++)
                    a[r] = _mm512_dpwssd_epi32(a[r], load16(x + r * rs, sw),
                                               w);
            }
        int n = p->ow - ow < 16 ? (int)(p->ow - ow) : 16;
        #pragma GCC unroll 4
        for (int r = 0; r < R; r++)
            store16(a[r], e, row, n, yr + (r * p->ow + ow) * es, 1);
    }
}

/* kh, kw, dil: the kernel (constants when the caller passes them, so the
 * common 3×3 / 5×5 loops unroll with the weights in registers). */
INL void plane(const mn_conv_params *p, const uint8_t *xp, int64_t wp,
               const int32_t *taps, const mn_qgemm_epi *e, int64_t row,
               char *y, int64_t sw, int64_t kh, int64_t kw, int64_t dh,
               int64_t dw)
{
    int es = e->mult ? 1 : 4;
    int64_t ntap = kh * kw;
    __m512i wv[64];
    int nw = ntap <= 64 ? (int)ntap : 0; /* taps kept in registers/L1 */
    for (int t = 0; t < nw; t++)
        wv[t] = _mm512_set1_epi32(taps[t] & 0xFFFF);
    /* four output rows at a time: four independent accumulator chains
     * hide vpdpwssd's latency (a plane of 7×7 or 4×4 outputs has one
     * vector per row); integer sums, so the grouping changes no bit */
    int64_t oh = 0, rs = p->sh * wp;
    for (; oh + 4 <= p->oh; oh += 4)
        rows(p, xp + oh * rs, rs, wp, wv, nw, taps, e, row,
             y + oh * p->ow * es, es, sw, kh, kw, dh, dw, 4);
    for (; oh < p->oh; oh++)
        rows(p, xp + oh * rs, rs, wp, wv, nw, taps, e, row,
             y + oh * p->ow * es, es, sw, kh, kw, dh, dw, 1);
}

void mn_q8_dwconv_avx512vnni(const mn_conv_params *p, const uint8_t *xp,
                             int64_t wp, const int32_t *taps,
                             const mn_qgemm_epi *e, int64_t row, void *y)
{
    int d1 = p->dh == 1 && p->dw == 1;
    if (mn_cpu_has_avx512vbmi() &&
        mn_q8_dwconv_avx512vbmi(p, xp, wp, taps, e, row, y))
        return;
    if (d1 && p->kh == 3 && p->kw == 3) {
        if (p->sw == 1)
            plane(p, xp, wp, taps, e, row, y, 1, 3, 3, 1, 1);
        else
            plane(p, xp, wp, taps, e, row, y, 2, 3, 3, 1, 1);
    } else if (d1 && p->kh == 5 && p->kw == 5) {
        if (p->sw == 1)
            plane(p, xp, wp, taps, e, row, y, 1, 5, 5, 1, 1);
        else
            plane(p, xp, wp, taps, e, row, y, 2, 5, 5, 1, 1);
    } else if (p->sw == 1) {
        plane(p, xp, wp, taps, e, row, y, 1, p->kh, p->kw, p->dh, p->dw);
    } else {
        plane(p, xp, wp, taps, e, row, y, 2, p->kh, p->kw, p->dh, p->dw);
    }
}

/* The padded plane in 64-byte vectors: first every byte (and the 64
 * after the plane) the padding byte, then each input row masked-stored
 * over its place; the flip applied on the way. A row of 112 bytes costs
 * four vector stores and two loads instead of a memcpy call, two pad
 * bytes and a pass of xors. */
void mn_q8_pad_plane_avx512(const mn_conv_params *p, const uint8_t *x,
                            uint8_t pad, uint8_t flip, uint8_t *dst)
{
    int64_t hp, wp, n, i = 0;
    mn_q8_pad_dims(p, &hp, &wp);
    n = hp * wp + 64;
    const __m512i pv = _mm512_set1_epi8((char)(pad ^ flip));
    const __m512i fv = _mm512_set1_epi8((char)flip);
    for (; i + 64 <= n; i += 64)
        _mm512_storeu_si512(dst + i, pv);
    if (i < n)
        _mm512_mask_storeu_epi8(dst + i, mn_tail_mask64(n - i), pv);
    for (int64_t r = 0; r < p->h; r++) {
        const uint8_t *s = x + r * p->w;
        uint8_t *d = dst + (p->pt + r) * wp + p->pl;
        int64_t j = 0;
        for (; j + 64 <= p->w; j += 64)
            _mm512_storeu_si512(
                d + j, _mm512_xor_si512(_mm512_loadu_si512(s + j), fv));
        if (j < p->w) {
            __mmask64 m = mn_tail_mask64(p->w - j);
            _mm512_mask_storeu_epi8(
                d + j, m,
                _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, s + j), fv));
        }
    }
}

#endif
