/* AVX-512 float32 kernels: the 8×48 GEMM tile (24 zmm accumulators, A
 * broadcast from row-major weights, B from packed 48-wide panels or a plain
 * matrix) and the two GEMV shapes.
 * Tails use masked loads and stores, so every instantiation computes each
 * element with the same instruction sequence. Built with -mavx512f/bw/vl/dq
 * -mfma (Makefile rule for *_avx512.c); compiled empty otherwise. */
#include "kernels/kernels_f32.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX512DQ__) && defined(__FMA__)
#include "kernels/x86/avx512_util.h"

#define MR 8
#define NV 3 /* vectors per tile row: NR = 48 */
#define VL MN_VL16

/* The store of one accumulator vector (see mn_tile_epi). */
MN_INLINE void store_vec(__m512 r, float *cp, __mmask16 m, float brow,
                         const float *bcol, const float *res,
                         const mn_tile_epi *e)
{
    if (e->alpha != 1.0f)
        r = _mm512_mul_ps(r, _mm512_set1_ps(e->alpha));
    if (e->accumulate)
        r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(m, cp));
    else if (e->beta != 0.0f)
        r = _mm512_fmadd_ps(_mm512_set1_ps(e->beta),
                            _mm512_maskz_loadu_ps(m, cp), r);
    if (e->last) {
        if (e->bias_row)
            r = _mm512_add_ps(r, _mm512_set1_ps(brow));
        if (bcol)
            r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(m, bcol));
        if (res)
            r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(m, res));
        r = mn_act512(r, &e->act);
    }
    _mm512_mask_storeu_ps(cp, m, r);
}

/* Accumulators are named variables cIV (row I, vector V) guarded by
 * compile-time conditions, so both gcc and clang keep all 24 in registers
 * (arrays indexed in loops were spilled unless fully unrolled). */
#define ACC_DECL(I)                                                         \
    __m512 c##I##0 = _mm512_setzero_ps(), c##I##1 = c##I##0, c##I##2 = c##I##0;
#define ACC_FMA(I)                                                          \
    if (mr > I) {                                                           \
        __m512 av = _mm512_set1_ps(a[I * lda + p]);                         \
        c##I##0 = _mm512_fmadd_ps(av, b0, c##I##0);                         \
        if (nv > 1)                                                         \
            c##I##1 = _mm512_fmadd_ps(av, b1, c##I##1);                     \
        if (nv > 2)                                                         \
            c##I##2 = _mm512_fmadd_ps(av, b2, c##I##2);                     \
    }
#define ACC_STORE(I)                                                        \
    if (mr > I) {                                                           \
        float br = e->bias_row ? e->bias_row[I] : 0.0f;                     \
        float *cr = c + I * ldc;                                            \
        const float *bc = e->bias_col;                                      \
        const float *rr = e->res ? e->res + I * ldc : NULL;                 \
        store_vec(c##I##0, cr, nv == 1 ? ml : full, br, bc, rr, e);         \
        if (nv > 1)                                                         \
            store_vec(c##I##1, cr + VL, nv == 2 ? ml : full, br,            \
                      bc ? bc + VL : NULL, rr ? rr + VL : NULL, e);         \
        if (nv > 2)                                                         \
            store_vec(c##I##2, cr + 2 * VL, ml, br,                         \
                      bc ? bc + 2 * VL : NULL, rr ? rr + 2 * VL : NULL, e); \
    }

/* Row p of B at b + p·ldb, or at b + boff[p] when boff is not NULL (the
 * direct convolution: each tap's row of a padded input; the two are
 * instantiated separately, so the test folds away). */
MN_INLINE void tile_body(const int mr, const int nv, int64_t kc, const float *a,
                         int64_t lda, const float *b, int64_t ldb,
                         const int64_t *boff, float *c, int64_t ldc, int nr,
                         const mn_tile_epi *e)
{
    const float *b_at = b;
    const __mmask16 ml = mn_tail_mask16(nr - (nv - 1) * VL);
    const __mmask16 full = (__mmask16)0xFFFF;
    ACC_DECL(0) ACC_DECL(1) ACC_DECL(2) ACC_DECL(3)
    ACC_DECL(4) ACC_DECL(5) ACC_DECL(6) ACC_DECL(7)
    for (int64_t p = 0; p < kc; p++) {
        __m512 b0, b1 = _mm512_setzero_ps(), b2 = b1;
        if (boff)
            b = b_at + boff[p];
        b0 = _mm512_maskz_loadu_ps(nv == 1 ? ml : full, b);
        if (nv > 1)
            b1 = _mm512_maskz_loadu_ps(nv == 2 ? ml : full, b + VL);
        if (nv > 2)
            b2 = _mm512_maskz_loadu_ps(ml, b + 2 * VL);
        if (!boff)
            b += ldb;
        ACC_FMA(0) ACC_FMA(1) ACC_FMA(2) ACC_FMA(3)
        ACC_FMA(4) ACC_FMA(5) ACC_FMA(6) ACC_FMA(7)
    }
    ACC_STORE(0) ACC_STORE(1) ACC_STORE(2) ACC_STORE(3)
    ACC_STORE(4) ACC_STORE(5) ACC_STORE(6) ACC_STORE(7)
}

#define TILE(R, V)                                                          \
    static void tile_##R##_##V(int64_t kc, const float *a, int64_t lda,     \
                               const float *b, int64_t ldb, float *c,       \
                               int64_t ldc, int nr, const mn_tile_epi *e)   \
    {                                                                       \
        tile_body(R, V, kc, a, lda, b, ldb, NULL, c, ldc, nr, e);           \
    }                                                                       \
    static void tile_off_##R##_##V(int64_t kc, const float *a, int64_t lda, \
                                   const float *b, const int64_t *boff,     \
                                   float *c, int64_t ldc, int nr,           \
                                   const mn_tile_epi *e)                    \
    {                                                                       \
        tile_body(R, V, kc, a, lda, b, 0, boff, c, ldc, nr, e);             \
    }
#define TILE_ROW(R) TILE(R, 1) TILE(R, 2) TILE(R, 3)
TILE_ROW(1) TILE_ROW(2) TILE_ROW(3) TILE_ROW(4)
TILE_ROW(5) TILE_ROW(6) TILE_ROW(7) TILE_ROW(8)

typedef void (*tile_fn)(int64_t, const float *, int64_t, const float *,
                        int64_t, float *, int64_t, int, const mn_tile_epi *);
#define TROW(R) {tile_##R##_1, tile_##R##_2, tile_##R##_3}
static const tile_fn tiles[MR][NV] = {TROW(1), TROW(2), TROW(3), TROW(4),
                                      TROW(5), TROW(6), TROW(7), TROW(8)};

static void sgemm_tile(int64_t kc, const float *a, int64_t lda,
                       const float *b, int64_t ldb, float *c, int64_t ldc,
                       int mr, int nr, const mn_tile_epi *e)
{
    tiles[mr - 1][(nr + VL - 1) / VL - 1](kc, a, lda, b, ldb, c, ldc, nr, e);
}

typedef void (*tile_off_fn)(int64_t, const float *, int64_t, const float *,
                            const int64_t *, float *, int64_t, int,
                            const mn_tile_epi *);
#define TOROW(R) {tile_off_##R##_1, tile_off_##R##_2, tile_off_##R##_3}
static const tile_off_fn tiles_off[MR][NV] = {
    TOROW(1), TOROW(2), TOROW(3), TOROW(4),
    TOROW(5), TOROW(6), TOROW(7), TOROW(8)};

static void sgemm_tile_off(int64_t kc, const float *a, int64_t lda,
                           const float *b, const int64_t *boff, float *c,
                           int64_t ldc, int mr, int nr, const mn_tile_epi *e)
{
    tiles_off[mr - 1][(nr + VL - 1) / VL - 1](kc, a, lda, b, boff, c, ldc, nr,
                                              e);
}

/* ---- GEMV ---- */

static void gemv_n(int64_t k, int64_t n, const float *x, const float *b,
                   int64_t ldb, float *y, const mn_tile_epi *e)
{
    float brow = e->bias_row ? e->bias_row[0] : 0.0f;
    for (int64_t j = 0; j < n; j += 4 * VL) {
        __m512 acc[4];
        __mmask16 m[4];
        #pragma GCC unroll 8
        for (int v = 0; v < 4; v++) {
            acc[v] = _mm512_setzero_ps();
            m[v] = mn_tail_mask16(n - j - v * VL);
        }
        const float *bp = b + j;
        if (n - j >= 4 * VL) {
            for (int64_t p = 0; p < k; p++, bp += ldb) {
                __m512 xv = _mm512_set1_ps(x[p]);
                #pragma GCC unroll 8
                for (int v = 0; v < 4; v++)
                    acc[v] = _mm512_fmadd_ps(xv, _mm512_loadu_ps(bp + v * VL),
                                             acc[v]);
            }
        } else {
            for (int64_t p = 0; p < k; p++, bp += ldb) {
                __m512 xv = _mm512_set1_ps(x[p]);
                #pragma GCC unroll 8
                for (int v = 0; v < 4; v++)
                    acc[v] = _mm512_fmadd_ps(
                        xv, _mm512_maskz_loadu_ps(m[v], bp + v * VL), acc[v]);
            }
        }
        #pragma GCC unroll 8
        for (int v = 0; v < 4; v++)
            if (m[v])
                store_vec(acc[v], y + j + v * VL, m[v], brow,
                          e->bias_col ? e->bias_col + j + v * VL : NULL,
                          e->res ? e->res + j + v * VL : NULL, e);
    }
}

/* Dot products of R rows of b with x; each row's arithmetic is the same
 * for any R (two interleaved accumulators, then one reduction). */
MN_INLINE void dot_rows(const int R, int64_t k, const float *b, int64_t ldb,
                     const float *x, float *out)
{
    __m512 acc[4][2];
    #pragma GCC unroll 8
    for (int r = 0; r < R; r++)
        acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    int64_t p = 0;
    for (; p + 2 * VL <= k; p += 2 * VL) {
        __m512 x0 = _mm512_loadu_ps(x + p), x1 = _mm512_loadu_ps(x + p + VL);
        #pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            const float *br = b + r * ldb + p;
            acc[r][0] = _mm512_fmadd_ps(_mm512_loadu_ps(br), x0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(_mm512_loadu_ps(br + VL), x1, acc[r][1]);
        }
    }
    for (; p < k; p += VL) {
        __mmask16 m = mn_tail_mask16(k - p);
        __m512 x0 = _mm512_maskz_loadu_ps(m, x + p);
        #pragma GCC unroll 8
        for (int r = 0; r < R; r++)
            acc[r][0] = _mm512_fmadd_ps(
                _mm512_maskz_loadu_ps(m, b + r * ldb + p), x0, acc[r][0]);
    }
    #pragma GCC unroll 8
    for (int r = 0; r < R; r++)
        out[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc[r][0], acc[r][1]));
}

static void gemv_t(int64_t k, int64_t n, const float *x, const float *b,
                   int64_t ldb, float *y, const mn_tile_epi *e)
{
    float d[4];
    for (int64_t j = 0; j < n;) {
        int r = n - j >= 4 ? 4 : 1;
        if (r == 4)
            dot_rows(4, k, b + j * ldb, ldb, x, d);
        else
            dot_rows(1, k, b + j * ldb, ldb, x, d);
        for (int i = 0; i < r; i++, j++)
            mn_gemv_store1(e, y, j, d[i]);
    }
}

static void act_apply(const mn_act *a, const float *x, const float *res,
                      float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i += VL) {
        __mmask16 m = mn_tail_mask16(n - i);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        if (res)
            v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, res + i));
        _mm512_mask_storeu_ps(y + i, m, mn_act512(v, a));
    }
}

static void even_lanes(const float *src, float *dst, int64_t n)
{
    const __m512i idx = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14,
                                         12, 10, 8, 6, 4, 2, 0);
    for (int64_t j = 0; j < n; j += VL) {
        int64_t in = 2 * (n - j) - 1; /* inputs left to read */
        __m512 lo = _mm512_maskz_loadu_ps(mn_tail_mask16(in), src + 2 * j);
        __m512 hi = _mm512_maskz_loadu_ps(mn_tail_mask16(in - VL),
                                          src + 2 * j + VL);
        _mm512_mask_storeu_ps(dst + j, mn_tail_mask16(n - j),
                              _mm512_permutex2var_ps(lo, idx, hi));
    }
}

static void scale_row(const float *src, float s, float *dst, int64_t n)
{
    const __m512 sv = _mm512_set1_ps(s);
    int64_t j = 0;
    for (; j + VL <= n; j += VL)
        _mm512_storeu_ps(dst + j, _mm512_mul_ps(_mm512_loadu_ps(src + j), sv));
    if (j < n) {
        __mmask16 m = mn_tail_mask16(n - j);
        _mm512_mask_storeu_ps(dst + j, m,
                              _mm512_mul_ps(_mm512_maskz_loadu_ps(m, src + j),
                                            sv));
    }
}

static const mn_kernels_f32 kernels = {
    .name = "avx512",
    .mr = MR,
    .nr = NV * VL,
    .vec = VL,
    .tile = sgemm_tile,
    .tile_off = sgemm_tile_off,
    .gemv_n = gemv_n,
    .gemv_t = gemv_t,
    .act = act_apply,
    .even = even_lanes,
    .scale = scale_row,
};

const mn_kernels_f32 *mn_kernels_f32_avx512(void) { return &kernels; }

#else
const mn_kernels_f32 *mn_kernels_f32_avx512(void) { return 0; }
#endif
