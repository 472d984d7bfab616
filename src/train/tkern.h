/* Vector kernels of training's elementwise work: BatchNormalization's
 * per-row statistics, normalization and backward, Relu, the Relu / Clip
 * gradients, GELU and its gradient, and the row operations of the
 * depthwise convolution. Run-time dispatch (src/kernels/dispatch.h, MINNOW_ISA): the
 * AVX-512 forms (tkern_avx512.c) where the CPU has them, else the portable
 * ones (tkern.c). Sums run in 16 float lanes combined in a fixed order,
 * so a result depends on the ISA level but never on the thread count; the
 * two levels agree within float rounding (tests/unit/test_train_kern.c).
 * Callers sum the per-row results in double. */
#ifndef MN_TRAIN_TKERN_H
#define MN_TRAIN_TKERN_H

#include <stdint.h>

typedef struct mn_tkern {
    /* Σ x[i] */
    float (*sum)(const float *x, int64_t n);
    /* Σ (x[i] - mu)² */
    float (*sumsq_dev)(const float *x, int64_t n, float mu);
    /* y[i] = (x[i] - mu)·a + b */
    void (*affine)(const float *x, float *y, int64_t n, float mu, float a,
                   float b);
    /* *sg = Σ g[i], *sgx = Σ g[i]·(x[i] - mu)·inv */
    void (*bn_bwd_sums)(const float *x, const float *g, int64_t n, float mu,
                        float inv, float *sg, float *sgx);
    /* dx[i] = k·(g[i] - mg - (x[i] - mu)·inv·mgx) */
    void (*bn_bwd_dx)(const float *x, const float *g, float *dx, int64_t n,
                      float mu, float inv, float k, float mg, float mgx);
    /* y[i] += a·x[i] (depthwise convolution rows) */
    void (*axpy)(float a, const float *x, float *y, int64_t n);
    /* Σ x[i]·y[i] */
    float (*dot)(const float *x, const float *y, int64_t n);
    /* y[i] = x[i] < 0 ? 0 : x[i] (the op table's Relu, bit for bit) */
    void (*relu_fwd)(const float *x, float *y, int64_t n);
    /* v = x[i] < lo ? lo : x[i]; y[i] = v > hi ? hi : v (the op table's
     * float Clip, bit for bit: NaN stays NaN, -0 stays -0) */
    void (*clip_fwd)(const float *x, float *y, int64_t n, float lo,
                     float hi);
    /* dx[i] = y[i] > 0 ? g[i] : 0 */
    void (*relu_bwd)(const float *y, const float *g, float *dx, int64_t n);
    /* dx[i] = lo < x[i] < hi ? g[i] : 0 */
    void (*clip_bwd)(const float *x, const float *g, float *dx, int64_t n,
                     float lo, float hi);
    /* GELU (erf form): y[i] = x·Φ(x), Φ the normal CDF, through
     * Φ(x) = ½·erfc(-x/√2) with Numerical Recipes' erfc (fractional error
     * < 1.2e-7); within a few float ulps of the op table's erff form */
    void (*gelu_fwd)(const float *x, float *y, int64_t n);
    /* dx[i] = g[i]·(Φ(x) + x·φ(x)), φ the normal density */
    void (*gelu_bwd)(const float *x, const float *g, float *dx, int64_t n);
    /* Depthwise planes at stride 1 over a zero-padded input plane xp
     * (row stride ldx):
     * y[r·ow + c] = b + Σ_{i<kh, j<kw} w[i·kw + j]·xp[(r+i)·ldx + c + j] */
    void (*dw_plane)(const float *xp, int64_t ldx, const float *w,
                     int64_t kh, int64_t kw, float b, float *y, int64_t oh,
                     int64_t ow);
    /* dw[i·kw + j] = Σ_{r<oh, c<ow} g[r·ow + c]·xp[(r+i)·ldx + c + j],
     * 16 lanes (lane = c mod 16) folded as the sums above */
    void (*dw_plane_wgrad)(const float *xp, int64_t ldx, const float *g,
                           int64_t oh, int64_t ow, int64_t kh, int64_t kw,
                           float *dw);
} mn_tkern;

/* The table for the active ISA level (never NULL). */
const mn_tkern *mn_tkern_get(void);

extern const mn_tkern mn_tkern_ref;
/* NULL members when the build has no AVX-512 file (never, on x86-64). */
extern const mn_tkern mn_tkern_avx512;

#endif
