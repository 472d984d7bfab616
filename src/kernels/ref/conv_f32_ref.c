/* Reference float32 2-D convolution. Grouped and ordinary convolutions run
 * as im2col + the blocked GEMM (1×1 stride-1 unpadded ones skip im2col);
 * depthwise convolutions (with or without a channel multiplier) use a
 * direct loop. Padding is resolved into index ranges outside the inner
 * loops, so no inner loop tests bounds. */
#include <string.h>
#include "kernels/ref/ref_kernels_conv.h"

static int64_t round16(int64_t v) { return (v + 15) / 16 * 16; }

int mn_ref_conv2d_is_pointwise(const mn_conv_params *p)
{
    return p->kh == 1 && p->kw == 1 && p->sh == 1 && p->sw == 1 &&
           p->pt == 0 && p->pl == 0 && p->oh == p->h && p->ow == p->w;
}

int mn_ref_conv2d_is_depthwise(const mn_conv_params *p)
{
    return p->group > 1 && p->group == p->c && p->m % p->c == 0;
}

size_t mn_ref_conv2d_f32_scratch(const mn_conv_params *p)
{
    if (mn_ref_conv2d_is_depthwise(p))
        return 0;
    int64_t cg = p->c / p->group, mg = p->m / p->group;
    int64_t k = cg * p->kh * p->kw, n = p->oh * p->ow;
    size_t gemm = mn_ref_gemm_f32_scratch(mg, n, k);
    if (mn_ref_conv2d_is_pointwise(p))
        return gemm;
    return (size_t)round16(k * n) * sizeof(float) + gemm;
}

/* col[(c·kh + i)·kw + j][oh·ow] = x[c][ih][iw], 0 outside the input. */
static void im2col(const mn_conv_params *p, const float *x, int64_t cg,
                   float *col)
{
    int64_t n = p->oh * p->ow;
    for (int64_t c = 0; c < cg; c++) {
        const float *xc = x + c * p->h * p->w;
        for (int64_t ki = 0; ki < p->kh; ki++) {
            int64_t olo, ohi;
            mn_ref_valid_range(ki * p->dh - p->pt, p->sh, p->h, p->oh, &olo,
                               &ohi);
            for (int64_t kj = 0; kj < p->kw; kj++) {
                float *dst = col + ((c * p->kh + ki) * p->kw + kj) * n;
                int64_t off = kj * p->dw - p->pl, lo, hi;
                mn_ref_valid_range(off, p->sw, p->w, p->ow, &lo, &hi);
                memset(dst, 0, (size_t)(olo * p->ow) * sizeof *dst);
                for (int64_t oh = olo; oh < ohi; oh++) {
                    const float *xr =
                        xc + (oh * p->sh + ki * p->dh - p->pt) * p->w;
                    float *d = dst + oh * p->ow;
                    for (int64_t ow = 0; ow < lo; ow++)
                        d[ow] = 0.0f;
                    if (p->sw != 1) {
                        for (int64_t ow = lo; ow < hi; ow++)
                            d[ow] = xr[ow * p->sw + off];
                    } else if (hi > lo) {
                        memcpy(d + lo, xr + lo + off,
                               (size_t)(hi - lo) * sizeof *d);
                    }
                    for (int64_t ow = hi; ow < p->ow; ow++)
                        d[ow] = 0.0f;
                }
                memset(dst + ohi * p->ow, 0,
                       (size_t)((p->oh - ohi) * p->ow) * sizeof *dst);
            }
        }
    }
}

/* One output channel of a depthwise convolution over one input plane. */
static void depthwise_plane(const mn_conv_params *p, const float *xc,
                            const float *wm, float bias, float *ym)
{
    for (int64_t i = 0; i < p->oh * p->ow; i++)
        ym[i] = bias;
    for (int64_t oh = 0; oh < p->oh; oh++) {
        float *yr = ym + oh * p->ow;
        for (int64_t ki = 0; ki < p->kh; ki++) {
            int64_t ih = oh * p->sh - p->pt + ki * p->dh;
            if (ih < 0 || ih >= p->h)
                continue;
            const float *xr = xc + ih * p->w;
            for (int64_t kj = 0; kj < p->kw; kj++) {
                float wv = wm[ki * p->kw + kj];
                int64_t off = kj * p->dw - p->pl, lo, hi;
                mn_ref_valid_range(off, p->sw, p->w, p->ow, &lo, &hi);
                if (p->sw == 1) {
                    for (int64_t ow = lo; ow < hi; ow++)
                        yr[ow] += wv * xr[ow + off];
                } else {
                    for (int64_t ow = lo; ow < hi; ow++)
                        yr[ow] += wv * xr[ow * p->sw + off];
                }
            }
        }
    }
}

static void depthwise(const mn_conv_params *p, const float *x, const float *w,
                      const float *b, float *y)
{
    int64_t mult = p->m / p->c, hw = p->h * p->w, ohw = p->oh * p->ow;
    for (int64_t n = 0; n < p->n; n++)
        for (int64_t m = 0; m < p->m; m++)
            depthwise_plane(p, x + (n * p->c + m / mult) * hw,
                            w + m * p->kh * p->kw, b ? b[m] : 0.0f,
                            y + (n * p->m + m) * ohw);
}

void mn_ref_conv2d_f32(const mn_conv_params *p, const float *x,
                       const float *w, const float *b, float *y,
                       float *scratch)
{
    if (mn_ref_conv2d_is_depthwise(p)) {
        depthwise(p, x, w, b, y);
        return;
    }
    int64_t cg = p->c / p->group, mg = p->m / p->group;
    int64_t k = cg * p->kh * p->kw, n = p->oh * p->ow;
    int pointwise = mn_ref_conv2d_is_pointwise(p);
    float *col = scratch;
    float *gs = pointwise ? scratch : scratch + round16(k * n);
    for (int64_t in = 0; in < p->n; in++) {
        for (int64_t g = 0; g < p->group; g++) {
            const float *xg = x + (in * p->c + g * cg) * p->h * p->w;
            float *yg = y + (in * p->m + g * mg) * n;
            const float *bmat = xg;
            if (!pointwise) {
                im2col(p, xg, cg, col);
                bmat = col;
            }
            if (b)
                for (int64_t m = 0; m < mg; m++)
                    for (int64_t j = 0; j < n; j++)
                        yg[m * n + j] = b[g * mg + m];
            mn_ref_gemm_f32(0, 0, mg, n, k, 1.0f, w + g * mg * k, k, bmat, n,
                            b ? 1.0f : 0.0f, yg, n, gs);
        }
    }
}
