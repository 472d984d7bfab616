/* Reference float32 GEMM: cache-blocked (BLIS loop order) with packed
 * panels and a 6×16 register-tile micro-kernel written in plain C so that
 * the compiler vectorizes it for whatever target it builds for. Packing
 * handles transposes and zero-pads edge tiles, so the micro-kernel has no
 * bounds checks. */
#include <string.h>
#include "kernels/ref/ref_kernels_conv.h"

#define MR 6
#define NR 16
#define KC 256
#define MC 96   /* multiple of MR: the packed A block stays in L2 */
#define NC 2048 /* multiple of NR: the packed B panel stays in L3 */

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

size_t mn_ref_gemm_f32_scratch(int64_t m, int64_t n, int64_t k)
{
    if (m <= 0 || n <= 0 || k <= 0)
        return 0;
    int64_t mc = min64(MC, round_up(m, MR));
    int64_t kc = min64(KC, k);
    int64_t nc = min64(NC, round_up(n, NR));
    return (size_t)(mc * kc + kc * nc) * sizeof(float);
}

/* dst: ceil(mc/MR) panels, each kc×MR (k-major), rows past m zeroed. */
static void pack_a(int trans, const float *a, int64_t lda, int64_t i0,
                   int64_t mc, int64_t p0, int64_t kc, float *dst)
{
    for (int64_t ir = 0; ir < mc; ir += MR) {
        int64_t mr = min64(MR, mc - ir);
        float *d = dst + ir * kc;
        if (!trans) {
            for (int64_t i = 0; i < mr; i++) {
                const float *s = a + (i0 + ir + i) * lda + p0;
                for (int64_t p = 0; p < kc; p++)
                    d[p * MR + i] = s[p];
            }
        } else {
            for (int64_t p = 0; p < kc; p++) {
                const float *s = a + (p0 + p) * lda + i0 + ir;
                for (int64_t i = 0; i < mr; i++)
                    d[p * MR + i] = s[i];
            }
        }
        for (int64_t i = mr; i < MR; i++)
            for (int64_t p = 0; p < kc; p++)
                d[p * MR + i] = 0.0f;
    }
}

/* dst: ceil(nc/NR) panels, each kc×NR (k-major), columns past n zeroed. */
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

/* acc[MR][NR] = Σ_p a[p][i] · b[p][j] over one packed A and B panel. */
static void ukernel(int64_t kc, const float *restrict a,
                    const float *restrict b, float acc[MR][NR])
{
    float t[MR][NR];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++)
            t[i][j] = 0.0f;
    for (int64_t p = 0; p < kc; p++) {
        const float *ap = a + p * MR, *bp = b + p * NR;
        for (int i = 0; i < MR; i++) {
            float av = ap[i];
            for (int j = 0; j < NR; j++)
                t[i][j] += av * bp[j];
        }
    }
    memcpy(acc, t, sizeof t);
}

/* Writes the valid mr×nr part of a tile: the first K block applies beta
 * (beta == 0 never reads c), later blocks accumulate. */
static void store_tile(float acc[MR][NR], int64_t mr, int64_t nr,
                       float alpha, float beta, int first, float *c,
                       int64_t ldc)
{
    for (int64_t i = 0; i < mr; i++) {
        float *ci = c + i * ldc;
        const float *ti = acc[i];
        if (!first) {
            for (int64_t j = 0; j < nr; j++)
                ci[j] += alpha * ti[j];
        } else if (beta == 0.0f) {
            for (int64_t j = 0; j < nr; j++)
                ci[j] = alpha * ti[j];
        } else {
            for (int64_t j = 0; j < nr; j++)
                ci[j] = alpha * ti[j] + beta * ci[j];
        }
    }
}

static void scale_c(int64_t m, int64_t n, float beta, float *c, int64_t ldc)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
}

void mn_ref_gemm_f32(int trans_a, int trans_b, int64_t m, int64_t n,
                     int64_t k, float alpha, const float *a, int64_t lda,
                     const float *b, int64_t ldb, float beta, float *c,
                     int64_t ldc, float *scratch)
{
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0) {
        scale_c(m, n, beta, c, ldc);
        return;
    }
    int64_t mc_max = min64(MC, round_up(m, MR));
    int64_t kc_max = min64(KC, k);
    float *pa = scratch, *pb = scratch + mc_max * kc_max;
    float acc[MR][NR];
    for (int64_t j0 = 0; j0 < n; j0 += NC) {
        int64_t nc = min64(NC, n - j0);
        for (int64_t p0 = 0; p0 < k; p0 += KC) {
            int64_t kc = min64(KC, k - p0);
            int first = p0 == 0;
            pack_b(trans_b, b, ldb, p0, kc, j0, nc, pb);
            for (int64_t i0 = 0; i0 < m; i0 += MC) {
                int64_t mc = min64(MC, m - i0);
                pack_a(trans_a, a, lda, i0, mc, p0, kc, pa);
                for (int64_t jr = 0; jr < nc; jr += NR) {
                    int64_t nr = min64(NR, nc - jr);
                    for (int64_t ir = 0; ir < mc; ir += MR) {
                        int64_t mr = min64(MR, mc - ir);
                        ukernel(kc, pa + ir * kc, pb + jr * kc, acc);
                        store_tile(acc, mr, nr, alpha, beta, first,
                                   c + (i0 + ir) * ldc + j0 + jr, ldc);
                    }
                }
            }
        }
    }
}
