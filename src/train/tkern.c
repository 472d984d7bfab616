/* Portable training kernels (see tkern.h) and their dispatch. The sums
 * keep 16 partial sums, like the AVX-512 forms, so both levels round
 * alike (not bit for bit: the vector forms fuse multiply-adds). */
#include <math.h>
#include "kernels/dispatch.h"
#include "train/tkern.h"

#define L 16

static float fold16(const float *a)
{
    float s8[8], s4[4];
    for (int i = 0; i < 8; i++)
        s8[i] = a[i] + a[i + 8];
    for (int i = 0; i < 4; i++)
        s4[i] = s8[i] + s8[i + 4];
    return (s4[0] + s4[2]) + (s4[1] + s4[3]);
}

static float sum_ref(const float *x, int64_t n)
{
    float a[L] = {0};
    for (int64_t i = 0; i < n; i++)
        a[i % L] += x[i];
    return fold16(a);
}

static float sumsq_dev_ref(const float *x, int64_t n, float mu)
{
    float a[L] = {0};
    for (int64_t i = 0; i < n; i++) {
        float d = x[i] - mu;
        a[i % L] += d * d;
    }
    return fold16(a);
}

static void affine_ref(const float *x, float *y, int64_t n, float mu, float a,
                       float b)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = (x[i] - mu) * a + b;
}

static void bn_bwd_sums_ref(const float *x, const float *g, int64_t n,
                            float mu, float inv, float *sg, float *sgx)
{
    float a[L] = {0}, b[L] = {0};
    for (int64_t i = 0; i < n; i++) {
        a[i % L] += g[i];
        b[i % L] += g[i] * ((x[i] - mu) * inv);
    }
    *sg = fold16(a);
    *sgx = fold16(b);
}

static void bn_bwd_dx_ref(const float *x, const float *g, float *dx,
                          int64_t n, float mu, float inv, float k, float mg,
                          float mgx)
{
    for (int64_t i = 0; i < n; i++) {
        float xh = (x[i] - mu) * inv;
        dx[i] = k * (g[i] - mg - xh * mgx);
    }
}

static void axpy_ref(float a, const float *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

static float dot_ref(const float *x, const float *y, int64_t n)
{
    float a[L] = {0};
    for (int64_t i = 0; i < n; i++)
        a[i % L] += x[i] * y[i];
    return fold16(a);
}

static void relu_fwd_ref(const float *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

static void clip_fwd_ref(const float *x, float *y, int64_t n, float lo,
                         float hi)
{
    for (int64_t i = 0; i < n; i++) {
        float v = x[i] < lo ? lo : x[i];
        y[i] = v > hi ? hi : v;
    }
}

static void relu_bwd_ref(const float *y, const float *g, float *dx, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        dx[i] = y[i] > 0.0f ? g[i] : 0.0f;
}

static void clip_bwd_ref(const float *x, const float *g, float *dx, int64_t n,
                         float lo, float hi)
{
    for (int64_t i = 0; i < n; i++)
        dx[i] = (x[i] > lo && x[i] < hi) ? g[i] : 0.0f;
}

/* ½·erfc(a/√2) for a >= 0: the upper tail of the normal distribution. */
static float normal_tail(float a)
{
    float z = a * 0.70710678118654752f, t = 1.0f / (1.0f + 0.5f * z);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    return 0.5f * t * expf(p - z * z);
}

static float normal_cdf(float x)
{
    float q = normal_tail(fabsf(x));
    return x >= 0.0f ? 1.0f - q : q;
}

static void gelu_fwd_ref(const float *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] * normal_cdf(x[i]);
}

static void gelu_bwd_ref(const float *x, const float *g, float *dx,
                         int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        float pdf = 0.39894228040143268f * expf(-0.5f * v * v);
        dx[i] = g[i] * (normal_cdf(v) + v * pdf);
    }
}

static void dw_plane_ref(const float *xp, int64_t ldx, const float *w,
                         int64_t kh, int64_t kw, float b, float *y,
                         int64_t oh, int64_t ow)
{
    for (int64_t r = 0; r < oh; r++)
        for (int64_t c = 0; c < ow; c++) {
            float acc = b;
            for (int64_t i = 0; i < kh; i++)
                for (int64_t j = 0; j < kw; j++)
                    acc += w[i * kw + j] * xp[(r + i) * ldx + c + j];
            y[r * ow + c] = acc;
        }
}

static void dw_plane_wgrad_ref(const float *xp, int64_t ldx, const float *g,
                               int64_t oh, int64_t ow, int64_t kh,
                               int64_t kw, float *dw)
{
    for (int64_t i = 0; i < kh; i++)
        for (int64_t j = 0; j < kw; j++) {
            float a[L] = {0};
            for (int64_t r = 0; r < oh; r++)
                for (int64_t c = 0; c < ow; c++)
                    a[c % L] += g[r * ow + c] * xp[(r + i) * ldx + c + j];
            dw[i * kw + j] = fold16(a);
        }
}

const mn_tkern mn_tkern_ref = {
    .sum = sum_ref,
    .sumsq_dev = sumsq_dev_ref,
    .affine = affine_ref,
    .bn_bwd_sums = bn_bwd_sums_ref,
    .bn_bwd_dx = bn_bwd_dx_ref,
    .axpy = axpy_ref,
    .dot = dot_ref,
    .relu_fwd = relu_fwd_ref,
    .clip_fwd = clip_fwd_ref,
    .relu_bwd = relu_bwd_ref,
    .clip_bwd = clip_bwd_ref,
    .gelu_fwd = gelu_fwd_ref,
    .gelu_bwd = gelu_bwd_ref,
    .dw_plane = dw_plane_ref,
    .dw_plane_wgrad = dw_plane_wgrad_ref,
};

const mn_tkern *mn_tkern_get(void)
{
    if (mn_isa_active() >= MN_ISA_AVX512 && mn_tkern_avx512.sum)
        return &mn_tkern_avx512;
    return &mn_tkern_ref;
}
