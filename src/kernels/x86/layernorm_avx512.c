/* AVX-512 rows of a fused LayerNorm chain (src/ops/layernorm.c,
 * mn_opdef_ln_fused): the same arithmetic as the portable loop there, so
 * the same bits. Each sum is mn_sum_run_f32's: element j into chain
 * j % 16 — here lane j % 8 of two vectors of doubles, in order —, a tail
 * into chain 0, then the pairwise tree; d = x − m, d·d, d / s · gamma +
 * beta in float32 lanes. mn_sum_f32_avx512 is mn_sum_run_f32 itself
 * when AVX-512 is active (ReduceMean, GlobalAveragePool). */
#include <math.h>
#include <string.h>
#include "kernels/kernels_f32.h"

#if defined(__AVX512F__) && defined(__AVX512DQ__)
#include <immintrin.h>

/* The 16 chains' final tree, chain k in c[k / 8] lane k % 8, tail already
 * in chain 0. */
static double tree16(__m512d lo, __m512d hi)
{
    double s[16];
    _mm512_storeu_pd(s, lo);
    _mm512_storeu_pd(s + 8, hi);
    for (int w = 8; w >= 1; w /= 2)
        for (int k = 0; k < w; k++)
            s[k] = s[k] + s[k + w];
    return s[0];
}

double mn_sum_f32_avx512(const float *x, int64_t n)
{
    __m512d a = _mm512_setzero_pd(), b = a;
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
        a = _mm512_add_pd(a, _mm512_cvtps_pd(_mm256_loadu_ps(x + j)));
        b = _mm512_add_pd(b, _mm512_cvtps_pd(_mm256_loadu_ps(x + j + 8)));
    }
    double t = _mm512_cvtsd_f64(a);
    for (; j < n; j++)
        t += x[j];
    a = _mm512_mask_mov_pd(a, 1, _mm512_set1_pd(t));
    return tree16(a, b);
}

static double sum_d2(const float *x, int64_t n, float m)
{
    const __m256 mv = _mm256_set1_ps(m);
    __m512d a = _mm512_setzero_pd(), b = a;
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(x + j), mv);
        __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(x + j + 8), mv);
        a = _mm512_add_pd(a, _mm512_cvtps_pd(_mm256_mul_ps(d0, d0)));
        b = _mm512_add_pd(b, _mm512_cvtps_pd(_mm256_mul_ps(d1, d1)));
    }
    double t = _mm512_cvtsd_f64(a);
    for (; j < n; j++) {
        float d = x[j] - m;
        t += (float)(d * d);
    }
    a = _mm512_mask_mov_pd(a, 1, _mm512_set1_pd(t));
    return tree16(a, b);
}

void mn_ln_rows_f32_avx512(const float *x, const float *g, const float *b,
                           float *y, int64_t rows, int64_t n, float eps)
{
    double inv_n = 1.0 / (double)n;
    for (int64_t r = 0; r < rows; r++, x += n, y += n) {
        float m = (float)((0.0 + mn_sum_f32_avx512(x, n)) * inv_n);
        float v = (float)((0.0 + sum_d2(x, n, m)) * inv_n);
        float s = sqrtf(v + eps);
        const __m512 mv = _mm512_set1_ps(m), sv = _mm512_set1_ps(s);
        int64_t j = 0;
        /* y may be x: each vector is read before it is written */
        for (; j + 16 <= n; j += 16) {
            __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + j), mv);
            __m512 t = _mm512_mul_ps(_mm512_div_ps(d, sv),
                                     _mm512_loadu_ps(g + j));
            _mm512_storeu_ps(y + j, _mm512_add_ps(t, _mm512_loadu_ps(b + j)));
        }
        for (; j < n; j++)
            y[j] = mn_ln_out(x[j], m, s, g[j], b[j]);
    }
}

#else
double mn_sum_f32_avx512(const float *x, int64_t n)
{
    (void)x, (void)n;
    return 0.0;
}

void mn_ln_rows_f32_avx512(const float *x, const float *g, const float *b,
                           float *y, int64_t rows, int64_t n, float eps)
{
    (void)x, (void)g, (void)b, (void)y, (void)rows, (void)n, (void)eps;
}
#endif
