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
#include "kernels/x86/q8_cv_store.h"

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
        /* unrolled whole for the constant shapes: the row tests and
         * the weights' indices fold away */
        #pragma GCC unroll 16
        for (int64_t rho = 0; rho < nin; rho++) {
            __m512i v = _mm512_loadu_si512(base + rho * wp);
            __m512i pv[MAXQ] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
            #pragma GCC unroll 2
            for (int g = 0; g < Q; g++)
                pv[g] = _mm512_permutexvar_epi8(idx[g], v);
            #pragma GCC unroll 4
            for (int r = 0; r < R; r++) {
                int64_t i = rho - r * sh;
                if (i < 0 || i >= kh)
                    continue;
                #pragma GCC unroll 2
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
    __m512i idx[MAXQ] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
    __m512i wq[8 * MAXQ];
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

/* ---- channel-vector tiles (mn_q8_dwcv_fn: planes up to 16 wide) ----
 *
 * A plane narrower than a vector wastes lanes in the pixel-vector kernel
 * above (7 of 16 on a 7×7 image) and pays its set-up per channel. Here the
 * lanes are 16 channels: for each padded input row, each channel's row is
 * one masked 64-byte load (the padding merged in), vpermb makes its tap
 * quads for 16 output columns (the same permutes as above), and one 16×16
 * dword transpose turns the 16 channels' vectors into one vector per
 * output column. A tile then sums 32 channels × 8 output pixels, one
 * vpdpbusd per kernel row and quad (4 taps of 16 channels), and
 * q8_cv_store.h requantizes and transposes back to the planes. */

/* The quads of 16 channels (plane pointers xc, NULL: a channel past the
 * tile, left as padding): for padded row r (input row r − pt), quad g and
 * output column l < ow, the 16 channels' bytes x[r][s·l + 4g .. + 3] as
 * one vector at t + ((r·Q + g)·ow + l)·64. */
INL void cv_build(const mn_conv_params *p, const uint8_t *const *xc,
                  __m512i padv, __m512i flipv, const __m512i *idx, int Q,
                  int64_t hp, uint8_t *t)
{
    const int64_t ow = p->ow, w = p->w, pl = p->pl;
    const __mmask64 lm = mn_tail_mask64(pl + w) & ~mn_tail_mask64(pl);
    const __m512i pv = _mm512_xor_si512(padv, flipv);
    for (int64_t r = 0; r < hp; r++) {
        int64_t ih = r - p->pt;
        uint8_t *tr = t + r * Q * ow * 64;
        if (ih < 0 || ih >= p->h) {
            for (int64_t l = 0; l < Q * ow; l++)
                _mm512_storeu_si512(tr + l * 64, pv);
            continue;
        }
        for (int g = 0; g < Q; g++) {
            __m512i q[16];
#pragma GCC unroll 16
            for (int i = 0; i < 16; i++)
                q[i] = _mm512_permutexvar_epi8(
                    idx[g],
                    xc[i] ? _mm512_xor_si512(
                                _mm512_mask_loadu_epi8(
                                    padv, lm, xc[i] + ih * w - pl),
                                flipv)
                          : pv);
            mn_transpose16x16(q);
#pragma GCC unroll 16
            for (int l = 0; l < 16; l++)
                if (l < ow)
                    _mm512_storeu_si512(tr + (g * ow + l) * 64, q[l]);
        }
    }
}

/* One tile's sums: H halves of 16 channels (the second at t + hs) × npx
 * pixels (8, or 4 for a short tail), pixel j's quads at t + pb[j] +
 * off[q], weights wq (128 bytes per quad: both halves). */
INL void cv_sums(const int H, const int npx, const uint8_t *t, int64_t hs,
                 const int64_t *pb, const int64_t *off, int nq,
                 const int8_t *wq, __m512i acc[2][8])
{
    const uint8_t *p0 = t + pb[0], *p1 = t + pb[1], *p2 = t + pb[2],
                  *p3 = t + pb[3], *p4 = t + pb[npx > 4 ? 4 : 0],
                  *p5 = t + pb[npx > 4 ? 5 : 0], *p6 = t + pb[npx > 4 ? 6 : 0],
                  *p7 = t + pb[npx > 4 ? 7 : 0];
    __m512i c00 = _mm512_setzero_si512(), c01 = c00, c10 = c00, c11 = c00,
            c20 = c00, c21 = c00, c30 = c00, c31 = c00, c40 = c00, c41 = c00,
            c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
    for (int q = 0; q < nq; q++, wq += 128) {
        const int64_t o = off[q];
        const __m512i w0 = _mm512_loadu_si512(wq);
        const __m512i w1 = H > 1 ? _mm512_loadu_si512(wq + 64) : w0;
#define PIX(j)                                                                 \
    if (j < npx) {                                                             \
        c##j##0 = _mm512_dpbusd_epi32(c##j##0,                                 \
                                      _mm512_loadu_si512(p##j + o), w0);        \
        if (H > 1)                                                             \
            c##j##1 = _mm512_dpbusd_epi32(                                     \
                c##j##1, _mm512_loadu_si512(p##j + hs + o), w1);                \
    }
        PIX(0) PIX(1) PIX(2) PIX(3) PIX(4) PIX(5) PIX(6) PIX(7)
#undef PIX
    }
    Q8_CV_ACC_OUT(acc);
}

void mn_q8_dwcv_avx512vbmi(const mn_conv_params *p, const uint8_t *x,
                           uint8_t pad, uint8_t flip, const int8_t *wq,
                           const mn_qgemm_epi *e, int64_t m0, int nc,
                           void *y, void *scratch)
{
    const int Q = (int)((p->kw + 3) / 4), H = nc > 16 ? 2 : 1;
    const int64_t ow = p->ow, ohw = p->oh * ow, hp = mn_q8_dwcv_rows(p);
    const int64_t hs = hp * Q * ow * 64, mult = p->m / p->c;
    const int64_t rstep = p->sh * Q * ow * 64;
    const int es = e->mult ? 1 : 4;
    const __m512i padv = _mm512_set1_epi8((char)pad);
    const __m512i flipv = _mm512_set1_epi8((char)flip);
    __m512i idx[MAXQ];
    uint8_t *t = scratch;
    int64_t off[8 * MAXQ], pb[8];
    for (int g = 0; g < Q; g++)
        idx[g] = _mm512_loadu_si512(quad_idx[p->sw - 1][g]);
    for (int h = 0; h < H; h++) {
        const uint8_t *xc[16];
        for (int i = 0; i < 16; i++) {
            int64_t ch = m0 + 16 * h + i;
            xc[i] = 16 * h + i < nc ? x + ch / mult * p->h * p->w : NULL;
        }
        cv_build(p, xc, padv, flipv, idx, Q, hp, t + h * hs);
    }
    for (int64_t i = 0; i < p->kh; i++)
        for (int g = 0; g < Q; g++)
            off[i * Q + g] = (i * Q + g) * ow * 64;
    const int nq = (int)p->kh * Q;
    int64_t oh = 0, l = 0;
    for (int64_t P0 = 0; P0 < ohw; P0 += 8) {
        int np = ohw - P0 < 8 ? (int)(ohw - P0) : 8;
        __m512i acc[2][8];
        for (int j = 0; j < 8; j++) {
            pb[j] = j < np ? oh * rstep + l * 64 : pb[0];
            if (j < np && ++l == ow)
                l = 0, oh++;
        }
        if (H == 2 && np > 4)
            cv_sums(2, 8, t, hs, pb, off, nq, wq, acc);
        else if (H == 2)
            cv_sums(2, 4, t, hs, pb, off, nq, wq, acc);
        else if (np > 4)
            cv_sums(1, 8, t, hs, pb, off, nq, wq, acc);
        else
            cv_sums(1, 4, t, hs, pb, off, nq, wq, acc);
        mn_q8_cv_store(acc, np, nc, e, m0,
                       (char *)y + (m0 * ohw + P0) * es, ohw);
    }
}

#else
int mn_q8_dwconv_avx512vbmi(const mn_conv_params *p, const uint8_t *xp,
                            int64_t wp, const int32_t *taps,
                            const mn_qgemm_epi *e, int64_t row, void *y)
{
    (void)p, (void)xp, (void)wp, (void)taps, (void)e, (void)row, (void)y;
    return 0;
}
void mn_q8_dwcv_avx512vbmi(const mn_conv_params *p, const uint8_t *x,
                           uint8_t pad, uint8_t flip, const int8_t *wq,
                           const mn_qgemm_epi *e, int64_t m0, int nc,
                           void *y, void *scratch)
{
    (void)p, (void)x, (void)pad, (void)flip, (void)wq, (void)e, (void)m0;
    (void)nc, (void)y, (void)scratch;
}
#endif
