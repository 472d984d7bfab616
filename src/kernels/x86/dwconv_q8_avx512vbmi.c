/* AVX-512 VNNI + VBMI 8-bit depthwise convolution (see mn_q8_dw_fn in
 * qgemm.h), undilated kernels up to 8 wide: 16 output columns per vector,
 * and each vpdpbusd adds four taps of one kernel row at once. One 64-byte
 * load of an input row feeds every output row that uses it: vpermb
 * gathers, for output column l, the four bytes s·l + 4g .. s·l + 4g + 3
 * (tap quad g, stride s) into lane l, and the quad's int8 weights (zero
 * past the kernel's width) are broadcast. A 3×3 row group of 4 output rows
 * takes 6 loads + 6 permutes + 12 vpdpbusd, where one tap per instruction
 * (mn_q8_dwconv_avx512vnni) takes 36 + 36. Integer sums: the same bits.
 * The padded plane has 64 bytes of slack (mn_q8_pad_bytes), so a full
 * 64-byte load from any row start used here stays inside the buffer;
 * bytes read past a row only meet zero weights or discarded lanes. */
#include "kernels/qgemm.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX512VNNI__) && defined(__AVX512VBMI__)
#include "kernels/x86/q8_avx512_epi.h"

#define MAXQ 2 /* tap quads per kernel row: kw <= 8 */

/* vpermb indices: lane l of quad g at stride s takes bytes s·l + 4g + k */
#define QI(s, g, l) (s) * (l) + 4 * (g), (s) * (l) + 4 * (g) + 1, \
                    (s) * (l) + 4 * (g) + 2, (s) * (l) + 4 * (g) + 3
#define QROW(s, g) QI(s, g, 0), QI(s, g, 1), QI(s, g, 2), QI(s, g, 3), \
    QI(s, g, 4), QI(s, g, 5), QI(s, g, 6), QI(s, g, 7), QI(s, g, 8), \
    QI(s, g, 9), QI(s, g, 10), QI(s, g, 11), QI(s, g, 12), QI(s, g, 13), \
    QI(s, g, 14), QI(s, g, 15)
static const uint8_t quad_idx[2][MAXQ][64] = {
    {{QROW(1, 0)}, {QROW(1, 1)}}, {{QROW(2, 0)}, {QROW(2, 1)}}};

/* The plane's requantizing store, its row's constants in registers. */
typedef struct epi_v {
    q8_epi k;
    q8_row r;
} epi_v;

/* R consecutive output rows from r0 (input rows sh·wp apart): input row ρ
 * of the group serves output row r through kernel row ρ - r·sh. */
INL void rows(const mn_conv_params *p, const uint8_t *r0, int64_t wp,
              const __m512i *idx, const __m512i *wq, const epi_v *ev,
              char *yr, int es, int64_t s, int64_t sh, int64_t kh, int Q,
              const int R)
{
    const int64_t nin = (R - 1) * sh + kh;
    for (int64_t ow = 0; ow < p->ow; ow += 16) {
        __m512i a[4];
        const uint8_t *base = r0 + ow * s;
        #pragma GCC unroll 4
        for (int r = 0; r < R; r++)
            a[r] = _mm512_setzero_si512();
        for (int64_t rho = 0; rho < nin; rho++) {
            __m512i v = _mm512_loadu_si512(base + rho * wp), pv[MAXQ];
            for (int g = 0; g < Q; g++)
                pv[g] = _mm512_permutexvar_epi8(idx[g], v);
            #pragma GCC unroll 4
            for (int r = 0; r < R; r++) {
                int64_t i = rho - r * sh;
                if (i < 0 || i >= kh)
                    continue;
                for (int g = 0; g < Q; g++)
                    a[r] = _mm512_dpbusd_epi32(a[r], pv[g], wq[i * Q + g]);
            }
        }
        int n = p->ow - ow < 16 ? (int)(p->ow - ow) : 16;
        #pragma GCC unroll 4
        for (int r = 0; r < R; r++)
            store16k(a[r], &ev->k, &ev->r, n, yr + (r * p->ow + ow) * es, 1);
    }
}

/* s, sh, kh, kw: constants when the caller passes them (3×3, 5×5, 7×7 at
 * strides 1 and 2), so the row loops unroll. */
INL void plane(const mn_conv_params *p, const uint8_t *xp, int64_t wp,
               const int32_t *taps, const mn_qgemm_epi *e, int64_t row,
               char *y, int64_t s, int64_t sh, int64_t kh, int64_t kw)
{
    int es = e->mult ? 1 : 4, Q = (int)((kw + 3) / 4);
    __m512i idx[MAXQ], wq[8 * MAXQ];
    epi_v ev = {q8_epi_load(e), q8_row_load(e, row)};
    for (int g = 0; g < Q; g++)
        idx[g] = _mm512_loadu_si512(quad_idx[s - 1][g]);
    for (int64_t i = 0; i < kh; i++)
        for (int g = 0; g < Q; g++) {
            uint32_t w = 0;
            for (int k = 0; k < 4 && 4 * g + k < kw; k++)
                w |= (uint32_t)(uint8_t)(int8_t)taps[i * kw + 4 * g + k]
                     << (8 * k);
            wq[i * Q + g] = _mm512_set1_epi32((int32_t)w);
        }
    int64_t oh = 0, rs = sh * wp;
    for (; oh + 4 <= p->oh; oh += 4)
        rows(p, xp + oh * rs, wp, idx, wq, &ev, y + oh * p->ow * es, es, s,
             sh, kh, Q, 4);
    for (; oh < p->oh; oh++)
        rows(p, xp + oh * rs, wp, idx, wq, &ev, y + oh * p->ow * es, es, s,
             sh, kh, Q, 1);
}

int mn_q8_dwconv_avx512vbmi(const mn_conv_params *p, const uint8_t *xp,
                            int64_t wp, const int32_t *taps,
                            const mn_qgemm_epi *e, int64_t row, void *y)
{
    if (p->dh != 1 || p->dw != 1 || p->kw > 4 * MAXQ || p->kh > 8 ||
        (p->sw != 1 && p->sw != 2))
        return 0;
    int64_t k = p->kh == p->kw ? p->kh : 0, s = p->sw;
    if (p->sh == s && k == 3 && s == 1)
        plane(p, xp, wp, taps, e, row, y, 1, 1, 3, 3);
    else if (p->sh == s && k == 3)
        plane(p, xp, wp, taps, e, row, y, 2, 2, 3, 3);
    else if (p->sh == s && k == 5 && s == 1)
        plane(p, xp, wp, taps, e, row, y, 1, 1, 5, 5);
    else if (p->sh == s && k == 5)
        plane(p, xp, wp, taps, e, row, y, 2, 2, 5, 5);
    else if (p->sh == s && k == 7 && s == 1)
        plane(p, xp, wp, taps, e, row, y, 1, 1, 7, 7);
    else if (p->sh == s && k == 7)
        plane(p, xp, wp, taps, e, row, y, 2, 2, 7, 7);
    else
        plane(p, xp, wp, taps, e, row, y, s, p->sh, p->kh, p->kw);
    return 1;
}

#else
int mn_q8_dwconv_avx512vbmi(const mn_conv_params *p, const uint8_t *xp,
                            int64_t wp, const int32_t *taps,
                            const mn_qgemm_epi *e, int64_t row, void *y)
{
    (void)p, (void)xp, (void)wp, (void)taps, (void)e, (void)row, (void)y;
    return 0;
}
#endif
