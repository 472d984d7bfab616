/* AVX-512 float GEMM for training: the same contract and blocking scheme as
 * the reference (src/kernels/ref/gemm_f32_ref.c) with a 12×32 or an 8×32
 * register tile (24 or 16 zmm accumulators, B rows loaded once per k, A
 * broadcast), whichever pads m less (m = 16, 32, 64: 8 rows). Packing
 * zero-pads edge tiles, so the kernel has no bounds checks; full tiles are
 * combined with C in registers, edge tiles through a small buffer, with
 * the same arithmetic. Each C element sums over k in order
 * in KC blocks, so the result does not depend on how C is tiled. Built
 * with -mavx512f (file name suffix) and called only when the CPU has it. */
#include <immintrin.h>
#include <string.h>
#include "train/sgemm.h"

#define MR 12
#define NR 32
#define KC 256
#define MC 144
#define NC 2048

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t rup(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

/* Rows per register tile: 8 when that pads m less than 12 does. */
static int64_t tile_rows(int64_t m) { return rup(m, 8) < rup(m, MR) ? 8 : MR; }

size_t mn_train_sgemm_avx512_scratch(int64_t m, int64_t n, int64_t k)
{
    if (m <= 0 || n <= 0 || k <= 0)
        return 0;
    int64_t mr = tile_rows(m);
    int64_t mc = min64(MC, rup(m, mr)), kc = min64(KC, k);
    int64_t nc = min64(NC, rup(n, NR));
    return (size_t)(mc * kc + kc * nc) * sizeof(float) + 64;
}

/* A panel of tile height R (8 or 12): d[p·R + i] = op(a)[i0 + ir + i][p0 + p]. */
static void pack_a(int trans, const float *a, int64_t lda, int64_t i0,
                   int64_t mc, int64_t p0, int64_t kc, int64_t R, float *dst)
{
    for (int64_t ir = 0; ir < mc; ir += R) {
        int64_t mr = min64(R, mc - ir);
        float *d = dst + ir * kc;
        if (!trans) {
            for (int64_t i = 0; i < mr; i++) {
                const float *s = a + (i0 + ir + i) * lda + p0;
                for (int64_t p = 0; p < kc; p++)
                    d[p * R + i] = s[p];
            }
        } else {
            for (int64_t p = 0; p < kc; p++) {
                const float *s = a + (p0 + p) * lda + i0 + ir;
                for (int64_t i = 0; i < mr; i++)
                    d[p * R + i] = s[i];
            }
        }
        for (int64_t i = mr; i < R; i++)
            for (int64_t p = 0; p < kc; p++)
                d[p * R + i] = 0.0f;
    }
}

static void pack_b(int trans, const float *b, int64_t ldb, int64_t p0,
                   int64_t kc, int64_t j0, int64_t nc, float *dst)
{
    for (int64_t jr = 0; jr < nc; jr += NR) {
        int64_t nr = min64(NR, nc - jr);
        float *d = dst + jr * kc;
        if (!trans) {
            for (int64_t p = 0; p < kc; p++) {
                const float *s = b + (p0 + p) * ldb + j0 + jr;
                float *dp = d + p * NR;
                if (nr == NR) {
                    _mm512_storeu_ps(dp, _mm512_loadu_ps(s));
                    _mm512_storeu_ps(dp + 16, _mm512_loadu_ps(s + 16));
                    continue;
                }
                for (int64_t j = 0; j < nr; j++)
                    dp[j] = s[j];
                for (int64_t j = nr; j < NR; j++)
                    dp[j] = 0.0f;
            }
        } else {
            for (int64_t j = 0; j < nr; j++) {
                const float *s = b + (j0 + jr + j) * ldb + p0;
                for (int64_t p = 0; p < kc; p++)
                    d[p * NR + j] = s[p];
            }
            for (int64_t j = nr; j < NR; j++)
                for (int64_t p = 0; p < kc; p++)
                    d[p * NR + j] = 0.0f;
        }
    }
}

/* One output vector: alpha·acc, then + c (later k blocks) or + beta·c
 * (first block, beta != 0). Full tiles (in registers) and edge tiles
 * (through store()) both go through here, so they round alike. */
static inline __m512 combine(__m512 acc, const float *c, __mmask16 k,
                             float alpha, float beta, int first)
{
    __m512 v = _mm512_mul_ps(_mm512_set1_ps(alpha), acc);
    if (!first)
        return _mm512_add_ps(_mm512_maskz_loadu_ps(k, c), v);
    if (beta != 0.0f)
        return _mm512_add_ps(v, _mm512_mul_ps(_mm512_set1_ps(beta),
                                              _mm512_maskz_loadu_ps(k, c)));
    return v;
}

#define ROW(i)                                                               \
    {                                                                        \
        __m512 av = _mm512_set1_ps(ap[i]);                                   \
        c##i##0 = _mm512_fmadd_ps(av, b0, c##i##0);                          \
        c##i##1 = _mm512_fmadd_ps(av, b1, c##i##1);                          \
    }
#define DECL(i) __m512 c##i##0 = _mm512_setzero_ps(), c##i##1 = c##i##0;
/* t != NULL: t[i][0..NR) = acc (edge tile); else C row i combined. */
#define OUT(i)                                                               \
    if (t) {                                                                 \
        _mm512_storeu_ps(t + (i) * NR, c##i##0);                             \
        _mm512_storeu_ps(t + (i) * NR + 16, c##i##1);                        \
    } else {                                                                 \
        float *ci = c + (i) * ldc;                                           \
        _mm512_storeu_ps(ci, combine(c##i##0, ci, 0xFFFF, alpha, beta,       \
                                     first));                                \
        _mm512_storeu_ps(ci + 16, combine(c##i##1, ci + 16, 0xFFFF, alpha,   \
                                          beta, first));                     \
    }

/* Σ_p a[p][i]·b[p][j] over a 12×NR tile, into t or combined with c. */
static void kernel12(int64_t kc, const float *a, const float *b, float *t,
                     float *c, int64_t ldc, float alpha, float beta,
                     int first)
{
    DECL(0) DECL(1) DECL(2) DECL(3) DECL(4) DECL(5)
    DECL(6) DECL(7) DECL(8) DECL(9) DECL(10) DECL(11)
    for (int64_t p = 0; p < kc; p++) {
        const float *ap = a + p * 12;
        __m512 b0 = _mm512_loadu_ps(b + p * NR);
        __m512 b1 = _mm512_loadu_ps(b + p * NR + 16);
        ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5)
        ROW(6) ROW(7) ROW(8) ROW(9) ROW(10) ROW(11)
    }
    OUT(0) OUT(1) OUT(2) OUT(3) OUT(4) OUT(5)
    OUT(6) OUT(7) OUT(8) OUT(9) OUT(10) OUT(11)
}

/* The same over an 8×NR tile. */
static void kernel8(int64_t kc, const float *a, const float *b, float *t,
                    float *c, int64_t ldc, float alpha, float beta, int first)
{
    DECL(0) DECL(1) DECL(2) DECL(3) DECL(4) DECL(5) DECL(6) DECL(7)
    for (int64_t p = 0; p < kc; p++) {
        const float *ap = a + p * 8;
        __m512 b0 = _mm512_loadu_ps(b + p * NR);
        __m512 b1 = _mm512_loadu_ps(b + p * NR + 16);
        ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5) ROW(6) ROW(7)
    }
    OUT(0) OUT(1) OUT(2) OUT(3) OUT(4) OUT(5) OUT(6) OUT(7)
}

/* Edge tile: c[0..mr)[0..nr) combined with t. */
static void store(const float *t, int64_t mr, int64_t nr, float alpha,
                  float beta, int first, float *c, int64_t ldc)
{
    for (int64_t i = 0; i < mr; i++) {
        float *ci = c + i * ldc;
        const float *ti = t + i * NR;
        for (int64_t j = 0; j < nr; j += 16) {
            __mmask16 k = (__mmask16)(nr - j >= 16 ? 0xFFFF
                                                   : (1u << (nr - j)) - 1u);
            _mm512_mask_storeu_ps(ci + j, k,
                                  combine(_mm512_loadu_ps(ti + j), ci + j, k,
                                          alpha, beta, first));
        }
    }
}

void mn_train_sgemm_avx512(int trans_a, int trans_b, int64_t m, int64_t n,
                     int64_t k, float alpha, const float *a, int64_t lda,
                     const float *b, int64_t ldb, float beta, float *c,
                     int64_t ldc, float *scratch)
{
    float t[MR * NR] __attribute__((aligned(64)));
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0) {
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++)
                c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
        return;
    }
    int64_t R = tile_rows(m);
    int64_t mc_max = min64(MC, rup(m, R)), kc_max = min64(KC, k);
    float *pa = scratch, *pb = scratch + mc_max * kc_max;
    for (int64_t j0 = 0; j0 < n; j0 += NC) {
        int64_t nc = min64(NC, n - j0);
        for (int64_t p0 = 0; p0 < k; p0 += KC) {
            int64_t kc = min64(KC, k - p0);
            int first = p0 == 0;
            pack_b(trans_b, b, ldb, p0, kc, j0, nc, pb);
            for (int64_t i0 = 0; i0 < m; i0 += MC) {
                int64_t mc = min64(MC, m - i0);
                pack_a(trans_a, a, lda, i0, mc, p0, kc, R, pa);
                for (int64_t jr = 0; jr < nc; jr += NR)
                    for (int64_t ir = 0; ir < mc; ir += R) {
                        int64_t mr = min64(R, mc - ir), nr = min64(NR, nc - jr);
                        float *cc = c + (i0 + ir) * ldc + j0 + jr;
                        float *tt = mr == R && nr == NR ? NULL : t;
                        if (R == 8)
                            kernel8(kc, pa + ir * kc, pb + jr * kc, tt, cc,
                                    ldc, alpha, beta, first);
                        else
                            kernel12(kc, pa + ir * kc, pb + jr * kc, tt, cc,
                                     ldc, alpha, beta, first);
                        if (tt)
                            store(t, mr, nr, alpha, beta, first, cc, ldc);
                    }
            }
        }
    }
}
