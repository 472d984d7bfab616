/* AVX-512 training kernels (see tkern.h): 16 lanes, masked tails, the
 * partial sums folded in the portable kernels' order. Built with the
 * AVX-512 flags (file name suffix), called only when the CPU has them. */
#include <immintrin.h>
#include "kernels/x86/avx512_util.h"
#include "train/tkern.h"

static float fold(__m512 v)
{
    float a[16], s8[8], s4[4];
    _mm512_storeu_ps(a, v);
    for (int i = 0; i < 8; i++)
        s8[i] = a[i] + a[i + 8];
    for (int i = 0; i < 4; i++)
        s4[i] = s8[i] + s8[i + 4];
    return (s4[0] + s4[2]) + (s4[1] + s4[3]);
}

static float sum_avx512(const float *x, int64_t n)
{
    __m512 a = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16)
        a = _mm512_add_ps(a, _mm512_maskz_loadu_ps(mn_tail_mask16(n - i), x + i));
    return fold(a);
}

static float sumsq_dev_avx512(const float *x, int64_t n, float mu)
{
    __m512 a = _mm512_setzero_ps(), m = _mm512_set1_ps(mu);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = mn_tail_mask16(n - i);
        __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), m);
        a = _mm512_mask3_fmadd_ps(d, d, a, k);
    }
    return fold(a);
}

static void affine_avx512(const float *x, float *y, int64_t n, float mu,
                          float a, float b)
{
    __m512 m = _mm512_set1_ps(mu), va = _mm512_set1_ps(a),
           vb = _mm512_set1_ps(b);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = mn_tail_mask16(n - i);
        __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), m);
        _mm512_mask_storeu_ps(y + i, k, _mm512_fmadd_ps(d, va, vb));
    }
}

static void bn_bwd_sums_avx512(const float *x, const float *g, int64_t n,
                               float mu, float inv, float *sg, float *sgx)
{
    __m512 a = _mm512_setzero_ps(), b = _mm512_setzero_ps();
    __m512 m = _mm512_set1_ps(mu), vi = _mm512_set1_ps(inv);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = mn_tail_mask16(n - i);
        __m512 gv = _mm512_maskz_loadu_ps(k, g + i);
        __m512 xh = _mm512_mul_ps(
            _mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), m), vi);
        a = _mm512_add_ps(a, gv);
        b = _mm512_fmadd_ps(gv, xh, b); /* gv is 0 in masked lanes */
    }
    *sg = fold(a);
    *sgx = fold(b);
}

static void bn_bwd_dx_avx512(const float *x, const float *g, float *dx,
                             int64_t n, float mu, float inv, float kk,
                             float mg, float mgx)
{
    __m512 m = _mm512_set1_ps(mu), vi = _mm512_set1_ps(inv),
           vk = _mm512_set1_ps(kk), vmg = _mm512_set1_ps(mg),
           vmgx = _mm512_set1_ps(mgx);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = mn_tail_mask16(n - i);
        __m512 xh = _mm512_mul_ps(
            _mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), m), vi);
        __m512 t = _mm512_sub_ps(_mm512_maskz_loadu_ps(k, g + i), vmg);
        t = _mm512_fnmadd_ps(xh, vmgx, t);
        _mm512_mask_storeu_ps(dx + i, k, _mm512_mul_ps(vk, t));
    }
}

static void axpy_avx512(float a, const float *x, float *y, int64_t n)
{
    __m512 va = _mm512_set1_ps(a);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = mn_tail_mask16(n - i);
        _mm512_mask_storeu_ps(
            y + i, k,
            _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(k, x + i),
                            _mm512_maskz_loadu_ps(k, y + i)));
    }
}

static float dot_avx512(const float *x, const float *y, int64_t n)
{
    __m512 a = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = mn_tail_mask16(n - i);
        a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, x + i),
                            _mm512_maskz_loadu_ps(k, y + i), a);
    }
    return fold(a);
}

/* max(0, x) returns x unless 0 > x: -0 and NaN pass through, as in
 * x < 0 ? 0 : x. */
static void relu_fwd_avx512(const float *x, float *y, int64_t n)
{
    __m512 z = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = mn_tail_mask16(n - i);
        __m512 v = _mm512_maskz_loadu_ps(k, x + i);
        _mm512_mask_storeu_ps(y + i, k, _mm512_max_ps(z, v));
    }
}

/* max(a, b) and min(a, b) return b when either is NaN, and b when they
 * compare equal (so -0 stays): max(lo, x) is x < lo ? lo : x exactly. */
static void clip_fwd_avx512(const float *x, float *y, int64_t n, float lo,
                            float hi)
{
    __m512 vl = _mm512_set1_ps(lo), vh = _mm512_set1_ps(hi);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = mn_tail_mask16(n - i);
        __m512 v = _mm512_max_ps(vl, _mm512_maskz_loadu_ps(k, x + i));
        _mm512_mask_storeu_ps(y + i, k, _mm512_min_ps(vh, v));
    }
}

static void relu_bwd_avx512(const float *y, const float *g, float *dx,
                            int64_t n)
{
    __m512 z = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = mn_tail_mask16(n - i);
        __mmask16 pos = _mm512_mask_cmp_ps_mask(
            k, _mm512_maskz_loadu_ps(k, y + i), z, _CMP_GT_OQ);
        _mm512_mask_storeu_ps(dx + i, k, _mm512_maskz_loadu_ps(pos, g + i));
    }
}

static void clip_bwd_avx512(const float *x, const float *g, float *dx,
                            int64_t n, float lo, float hi)
{
    __m512 vl = _mm512_set1_ps(lo), vh = _mm512_set1_ps(hi);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = mn_tail_mask16(n - i);
        __m512 xv = _mm512_maskz_loadu_ps(k, x + i);
        __mmask16 in = _mm512_mask_cmp_ps_mask(k, xv, vl, _CMP_GT_OQ);
        in = _mm512_mask_cmp_ps_mask(in, xv, vh, _CMP_LT_OQ);
        _mm512_mask_storeu_ps(dx + i, k, _mm512_maskz_loadu_ps(in, g + i));
    }
}

static void gelu_fwd_avx512(const float *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = mn_tail_mask16(n - i);
        __m512 v = _mm512_maskz_loadu_ps(k, x + i);
        _mm512_mask_storeu_ps(y + i, k, _mm512_mul_ps(v, mn_normal_cdf512(v)));
    }
}

static void gelu_bwd_avx512(const float *x, const float *g, float *dx,
                            int64_t n)
{
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = mn_tail_mask16(n - i);
        __m512 v = _mm512_maskz_loadu_ps(k, x + i);
        __m512 pdf = _mm512_mul_ps(
            _mm512_set1_ps(0.39894228040143268f),
            mn_exp512(_mm512_mul_ps(_mm512_mul_ps(v, v), _mm512_set1_ps(-0.5f))));
        __m512 d = _mm512_fmadd_ps(v, pdf, mn_normal_cdf512(v));
        _mm512_mask_storeu_ps(dx + i, k,
                              _mm512_mul_ps(_mm512_maskz_loadu_ps(k, g + i),
                                            d));
    }
}

/* Output rows in 16-column blocks; one accumulator per block. */
static void dw_plane_avx512(const float *xp, int64_t ldx, const float *w,
                            int64_t kh, int64_t kw, float b, float *y,
                            int64_t oh, int64_t ow)
{
    for (int64_t r = 0; r < oh; r++)
        for (int64_t c = 0; c < ow; c += 16) {
            __mmask16 k = mn_tail_mask16(ow - c);
            __m512 acc = _mm512_set1_ps(b);
            for (int64_t i = 0; i < kh; i++) {
                const float *xr = xp + (r + i) * ldx + c;
                const float *wr = w + i * kw;
                for (int64_t j = 0; j < kw; j++)
                    acc = _mm512_fmadd_ps(_mm512_set1_ps(wr[j]),
                                          _mm512_maskz_loadu_ps(k, xr + j),
                                          acc);
            }
            _mm512_mask_storeu_ps(y + r * ow + c, k, acc);
        }
}

static void dw_plane_wgrad_avx512(const float *xp, int64_t ldx,
                                  const float *g, int64_t oh, int64_t ow,
                                  int64_t kh, int64_t kw, float *dw)
{
    for (int64_t i = 0; i < kh; i++)
        for (int64_t j = 0; j < kw; j++) {
            __m512 a = _mm512_setzero_ps();
            for (int64_t r = 0; r < oh; r++) {
                const float *xr = xp + (r + i) * ldx + j, *gr = g + r * ow;
                for (int64_t c = 0; c < ow; c += 16) {
                    __mmask16 k = mn_tail_mask16(ow - c);
                    a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, gr + c),
                                        _mm512_maskz_loadu_ps(k, xr + c), a);
                }
            }
            dw[i * kw + j] = fold(a);
        }
}

const mn_tkern mn_tkern_avx512 = {
    .sum = sum_avx512,
    .sumsq_dev = sumsq_dev_avx512,
    .affine = affine_avx512,
    .bn_bwd_sums = bn_bwd_sums_avx512,
    .bn_bwd_dx = bn_bwd_dx_avx512,
    .axpy = axpy_avx512,
    .dot = dot_avx512,
    .relu_fwd = relu_fwd_avx512,
    .clip_fwd = clip_fwd_avx512,
    .relu_bwd = relu_bwd_avx512,
    .clip_bwd = clip_bwd_avx512,
    .gelu_fwd = gelu_fwd_avx512,
    .gelu_bwd = gelu_bwd_avx512,
    .dw_plane = dw_plane_avx512,
    .dw_plane_wgrad = dw_plane_wgrad_avx512,
};
