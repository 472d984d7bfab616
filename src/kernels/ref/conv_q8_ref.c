/* Reference 8-bit integer convolution and matrix-multiply cores (for
 * ConvInteger, QLinearConv, MatMulInteger, QLinearMatMul): operands are
 * shifted by their zero points into int16, multiplied with an int16×int16 →
 * int32 GEMM (exact: callers bound k by MN_REF_Q8_MAX_K), and requantized
 * in float32 with round-half-to-even (mn_ref_requantize). */
#include <math.h>
#include <string.h>
#include "kernels/ref/ref_kernels_conv.h"

static int64_t round32(int64_t v) { return (v + 31) / 32 * 32; }

void mn_ref_q8_to_s16(const void *src, int is_signed, int32_t zp, int64_t n,
                      int16_t *dst)
{
    if (is_signed) {
        const int8_t *s = src;
        for (int64_t i = 0; i < n; i++)
            dst[i] = (int16_t)(s[i] - zp);
    } else {
        const uint8_t *s = src;
        for (int64_t i = 0; i < n; i++)
            dst[i] = (int16_t)(s[i] - zp);
    }
}

int32_t mn_ref_requantize(int64_t acc, float mult, int32_t zp, int32_t lo,
                          int32_t hi)
{
    int32_t s = (int32_t)(uint32_t)(uint64_t)acc; /* the kernels' int32 sum */
    float v = (float)s * mult;
    if (!(v >= (float)(lo - zp))) /* also NaN */
        return lo;
    if (v > (float)(hi - zp))
        return hi;
    return (int32_t)nearbyintf(v) + zp;
}

#define NB 256 /* output columns per block: four accumulator rows in L1 */

void mn_ref_gemm_s16s32(int64_t m, int64_t n, int64_t k, const int16_t *a,
                        const int16_t *b, int32_t *c)
{
    int32_t acc[4][NB];
    for (int64_t j0 = 0; j0 < n; j0 += NB) {
        int64_t nb = n - j0 < NB ? n - j0 : NB;
        for (int64_t i0 = 0; i0 < m; i0 += 4) {
            int64_t mr = m - i0 < 4 ? m - i0 : 4;
            memset(acc, 0, sizeof acc);
            for (int64_t p = 0; p < k; p++) {
                const int16_t *bp = b + p * n + j0;
                int32_t a0 = a[i0 * k + p];
                int32_t a1 = mr > 1 ? a[(i0 + 1) * k + p] : 0;
                int32_t a2 = mr > 2 ? a[(i0 + 2) * k + p] : 0;
                int32_t a3 = mr > 3 ? a[(i0 + 3) * k + p] : 0;
                for (int64_t j = 0; j < nb; j++) {
                    int32_t bv = bp[j];
                    acc[0][j] += a0 * bv;
                    acc[1][j] += a1 * bv;
                    acc[2][j] += a2 * bv;
                    acc[3][j] += a3 * bv;
                }
            }
            for (int64_t i = 0; i < mr; i++)
                memcpy(c + (i0 + i) * n + j0, acc[i],
                       (size_t)nb * sizeof **acc);
        }
    }
}

size_t mn_ref_conv2d_q8_scratch(const mn_conv_params *p)
{
    int64_t cg = p->c / p->group;
    int64_t k = cg * p->kh * p->kw, n = p->oh * p->ow;
    int64_t elems = round32(p->m * k) + round32(cg * p->h * p->w);
    if (!mn_ref_conv2d_is_pointwise(p))
        elems += round32(k * n);
    return (size_t)elems * sizeof(int16_t);
}

/* col[(c·kh + i)·kw + j][oh·ow] = x[c][ih][iw], 0 outside the input. */
static void im2col_s16(const mn_conv_params *p, const int16_t *x, int64_t cg,
                       int16_t *col)
{
    int64_t n = p->oh * p->ow;
    for (int64_t c = 0; c < cg; c++) {
        const int16_t *xc = x + c * p->h * p->w;
        for (int64_t ki = 0; ki < p->kh; ki++) {
            int64_t olo, ohi;
            mn_ref_valid_range(ki * p->dh - p->pt, p->sh, p->h, p->oh, &olo,
                               &ohi);
            for (int64_t kj = 0; kj < p->kw; kj++) {
                int16_t *dst = col + ((c * p->kh + ki) * p->kw + kj) * n;
                int64_t off = kj * p->dw - p->pl, lo, hi;
                mn_ref_valid_range(off, p->sw, p->w, p->ow, &lo, &hi);
                memset(dst, 0, (size_t)n * sizeof *dst);
                for (int64_t oh = olo; oh < ohi; oh++) {
                    const int16_t *xr =
                        xc + (oh * p->sh + ki * p->dh - p->pt) * p->w;
                    int16_t *d = dst + oh * p->ow;
                    for (int64_t ow = lo; ow < hi; ow++)
                        d[ow] = xr[ow * p->sw + off];
                }
            }
        }
    }
}

void mn_ref_conv2d_q8(const mn_conv_params *p, const mn_q8_operand *x,
                      const mn_q8_operand *w, int32_t *y, void *scratch)
{
    int64_t cg = p->c / p->group, mg = p->m / p->group;
    int64_t k = cg * p->kh * p->kw, n = p->oh * p->ow, hw = p->h * p->w;
    int16_t *ws = scratch;
    int16_t *xs = ws + round32(p->m * k);
    int16_t *col = xs + round32(cg * hw);
    int32_t xzp = x->zp ? x->zp[0] : 0;
    for (int64_t m = 0; m < p->m; m++) {
        int32_t zp = w->zp ? w->zp[w->n_zp > 1 ? m : 0] : 0;
        mn_ref_q8_to_s16((const char *)w->data + m * k, w->is_signed, zp, k,
                         ws + m * k);
    }
    for (int64_t in = 0; in < p->n; in++) {
        for (int64_t g = 0; g < p->group; g++) {
            const char *xg = (const char *)x->data + (in * p->c + g * cg) * hw;
            mn_ref_q8_to_s16(xg, x->is_signed, xzp, cg * hw, xs);
            const int16_t *bmat = xs;
            if (!mn_ref_conv2d_is_pointwise(p)) {
                im2col_s16(p, xs, cg, col);
                bmat = col;
            }
            mn_ref_gemm_s16s32(mg, n, k, ws + g * mg * k, bmat,
                               y + (in * p->m + g * mg) * n);
        }
    }
}
