/* AVX2 + FMA float32 kernels: the 6×16 GEMM tile (12 ymm accumulators, A
 * broadcast from row-major weights, B from packed 16-wide panels or a plain
 * matrix) and the two GEMV shapes. Tails use vmaskmov loads and stores
 * (masked-off lanes never fault), so every instantiation computes each
 * element with the same instruction sequence. Built with -mavx2 -mfma
 * (Makefile rule for *_avx2.c); compiled empty otherwise. */
#include "kernels/kernels_f32.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#define MR 6
#define NV 2 /* vectors per tile row: NR = 16 */
#define VL 8
#define INLINE static inline __attribute__((always_inline))

static const int32_t mask_tab[2 * VL] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                         0,  0,  0,  0,  0,  0,  0,  0};

/* The first n lanes (n clamped to [0, 8]). */
INLINE __m256i tail_mask(int64_t n)
{
    n = n < 0 ? 0 : n > VL ? VL : n;
    return _mm256_loadu_si256((const __m256i *)(mask_tab + VL - n));
}

/* e^x as in avx512_util.h; 2^n is built in the exponent field, so x is
 * clamped to where that stays a normal float (e^-87 is tiny enough for
 * sigmoid and SiLU). */
INLINE __m256 exp_vec(__m256 x)
{
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)),
                      _mm256_set1_ps(88.0f));
    __m256 n = _mm256_round_ps(
        _mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606765330187e-06f), r);
    __m256 p = _mm256_set1_ps(1.0f / 720.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(
        _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

INLINE __m256 sigmoid_vec(__m256 x)
{
    __m256 one = _mm256_set1_ps(1.0f);
    return _mm256_div_ps(
        one, _mm256_add_ps(one, exp_vec(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

/* Φ(x) as mn_normal_cdf512 (avx512_util.h). */
INLINE __m256 normal_cdf_vec(__m256 x)
{
    static const float c[10] = {0.17087277f,  -0.82215223f, 1.48851587f,
                                -1.13520398f, 0.27886807f,  -0.18628806f,
                                0.09678418f,  0.37409196f,  1.00002368f,
                                -1.26551223f};
    __m256 one = _mm256_set1_ps(1.0f);
    __m256 z = _mm256_mul_ps(
        _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x),
        _mm256_set1_ps(0.70710678118654752f));
    __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(z, _mm256_set1_ps(0.5f),
                                                  one));
    __m256 p = _mm256_set1_ps(c[0]);
    for (int i = 1; i < 10; i++)
        p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(c[i]));
    __m256 q = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), t),
                             exp_vec(_mm256_fnmadd_ps(z, z, p)));
    __m256 pos = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ);
    return _mm256_blendv_ps(q, _mm256_sub_ps(one, q), pos);
}

INLINE __m256 act_vec(__m256 r, const mn_act *act)
{
    switch (act->kind) {
    case MN_ACT_RELU:
        return _mm256_max_ps(r, _mm256_setzero_ps());
    case MN_ACT_CLIP:
        return _mm256_min_ps(_mm256_max_ps(r, _mm256_set1_ps(act->lo)),
                             _mm256_set1_ps(act->hi));
    case MN_ACT_SIGMOID:
        return sigmoid_vec(r);
    case MN_ACT_SILU:
        return _mm256_mul_ps(r, sigmoid_vec(r));
    case MN_ACT_HARDSIGMOID:
    case MN_ACT_HARDSWISH: {
        __m256 t = _mm256_min_ps(
            _mm256_max_ps(_mm256_fmadd_ps(_mm256_set1_ps(act->lo), r,
                                          _mm256_set1_ps(act->hi)),
                          _mm256_setzero_ps()),
            _mm256_set1_ps(1.0f));
        return act->kind == MN_ACT_HARDSWISH ? _mm256_mul_ps(r, t) : t;
    }
    case MN_ACT_GELU:
        return _mm256_mul_ps(r, normal_cdf_vec(r));
    default:
        return r;
    }
}

/* The store of one accumulator vector (see mn_tile_epi). */
INLINE void store_vec(__m256 r, float *cp, __m256i m, float brow,
                      const float *bcol, const float *res,
                      const mn_tile_epi *e)
{
    if (e->alpha != 1.0f)
        r = _mm256_mul_ps(r, _mm256_set1_ps(e->alpha));
    if (e->accumulate)
        r = _mm256_add_ps(r, _mm256_maskload_ps(cp, m));
    else if (e->beta != 0.0f)
        r = _mm256_fmadd_ps(_mm256_set1_ps(e->beta), _mm256_maskload_ps(cp, m),
                            r);
    if (e->last) {
        if (e->bias_row)
            r = _mm256_add_ps(r, _mm256_set1_ps(brow));
        if (bcol)
            r = _mm256_add_ps(r, _mm256_maskload_ps(bcol, m));
        if (res)
            r = _mm256_add_ps(r, _mm256_maskload_ps(res, m));
        r = act_vec(r, &e->act);
    }
    _mm256_maskstore_ps(cp, m, r);
}

/* Accumulators are named variables cIV (row I, vector V) guarded by
 * compile-time conditions, so both gcc and clang keep them in registers. */
#define ACC_DECL(I) __m256 c##I##0 = _mm256_setzero_ps(), c##I##1 = c##I##0;
#define ACC_FMA(I)                                                          \
    if (mr > I) {                                                           \
        __m256 av = _mm256_broadcast_ss(a + I * lda + p);                   \
        c##I##0 = _mm256_fmadd_ps(av, b0, c##I##0);                         \
        if (nv > 1)                                                         \
            c##I##1 = _mm256_fmadd_ps(av, b1, c##I##1);                     \
    }
#define ACC_STORE(I)                                                        \
    if (mr > I) {                                                           \
        float br = e->bias_row ? e->bias_row[I] : 0.0f;                     \
        float *cr = c + I * ldc;                                            \
        const float *bc = e->bias_col;                                      \
        const float *rr = e->res ? e->res + I * ldc : NULL;                 \
        store_vec(c##I##0, cr, nv == 1 ? ml : full, br, bc, rr, e);         \
        if (nv > 1)                                                         \
            store_vec(c##I##1, cr + VL, ml, br, bc ? bc + VL : NULL,        \
                      rr ? rr + VL : NULL, e);                              \
    }

INLINE void tile_body(const int mr, const int nv, int64_t kc, const float *a,
                      int64_t lda, const float *b, int64_t ldb, float *c,
                      int64_t ldc, int nr, const mn_tile_epi *e)
{
    const __m256i ml = tail_mask(nr - (nv - 1) * VL);
    const __m256i full = tail_mask(VL);
    ACC_DECL(0) ACC_DECL(1) ACC_DECL(2) ACC_DECL(3) ACC_DECL(4) ACC_DECL(5)
    for (int64_t p = 0; p < kc; p++) {
        __m256 b0, b1 = _mm256_setzero_ps();
        if (nv == 1) {
            b0 = _mm256_maskload_ps(b, ml);
        } else {
            b0 = _mm256_loadu_ps(b);
            b1 = _mm256_maskload_ps(b + VL, ml);
        }
        b += ldb;
        ACC_FMA(0) ACC_FMA(1) ACC_FMA(2) ACC_FMA(3) ACC_FMA(4) ACC_FMA(5)
    }
    ACC_STORE(0) ACC_STORE(1) ACC_STORE(2) ACC_STORE(3) ACC_STORE(4)
    ACC_STORE(5)
}

#define TILE(R, V)                                                          \
    static void tile_##R##_##V(int64_t kc, const float *a, int64_t lda,     \
                               const float *b, int64_t ldb, float *c,       \
                               int64_t ldc, int nr, const mn_tile_epi *e)   \
    {                                                                       \
        tile_body(R, V, kc, a, lda, b, ldb, c, ldc, nr, e);                 \
    }
#define TILE_ROW(R) TILE(R, 1) TILE(R, 2)
TILE_ROW(1) TILE_ROW(2) TILE_ROW(3) TILE_ROW(4) TILE_ROW(5) TILE_ROW(6)

typedef void (*tile_fn)(int64_t, const float *, int64_t, const float *,
                        int64_t, float *, int64_t, int, const mn_tile_epi *);
#define TROW(R) {tile_##R##_1, tile_##R##_2}
static const tile_fn tiles[MR][NV] = {TROW(1), TROW(2), TROW(3),
                                      TROW(4), TROW(5), TROW(6)};

static void sgemm_tile(int64_t kc, const float *a, int64_t lda,
                       const float *b, int64_t ldb, float *c, int64_t ldc,
                       int mr, int nr, const mn_tile_epi *e)
{
    tiles[mr - 1][(nr + VL - 1) / VL - 1](kc, a, lda, b, ldb, c, ldc, nr, e);
}

/* ---- GEMV ---- */

static void gemv_n(int64_t k, int64_t n, const float *x, const float *b,
                   int64_t ldb, float *y, const mn_tile_epi *e)
{
    float brow = e->bias_row ? e->bias_row[0] : 0.0f;
    for (int64_t j = 0; j < n; j += 4 * VL) {
        __m256 acc[4];
        __m256i m[4];
        #pragma GCC unroll 8
        for (int v = 0; v < 4; v++) {
            acc[v] = _mm256_setzero_ps();
            m[v] = tail_mask(n - j - v * VL);
        }
        const float *bp = b + j;
        if (n - j >= 4 * VL) {
            for (int64_t p = 0; p < k; p++, bp += ldb) {
                __m256 xv = _mm256_broadcast_ss(x + p);
                #pragma GCC unroll 8
                for (int v = 0; v < 4; v++)
                    acc[v] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(bp + v * VL),
                                             acc[v]);
            }
        } else {
            for (int64_t p = 0; p < k; p++, bp += ldb) {
                __m256 xv = _mm256_broadcast_ss(x + p);
                #pragma GCC unroll 8
                for (int v = 0; v < 4; v++)
                    acc[v] = _mm256_fmadd_ps(
                        xv, _mm256_maskload_ps(bp + v * VL, m[v]), acc[v]);
            }
        }
        for (int v = 0; v < 4 && n - j - v * VL > 0; v++)
            store_vec(acc[v], y + j + v * VL, m[v], brow,
                      e->bias_col ? e->bias_col + j + v * VL : NULL,
                      e->res ? e->res + j + v * VL : NULL, e);
    }
}

INLINE float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Dot products of R rows of b with x; each row's arithmetic is the same
 * for any R (two interleaved accumulators, then one reduction). */
INLINE void dot_rows(const int R, int64_t k, const float *b, int64_t ldb,
                     const float *x, float *out)
{
    __m256 acc[4][2];
    #pragma GCC unroll 8
    for (int r = 0; r < R; r++)
        acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    int64_t p = 0;
    for (; p + 2 * VL <= k; p += 2 * VL) {
        __m256 x0 = _mm256_loadu_ps(x + p), x1 = _mm256_loadu_ps(x + p + VL);
        #pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            const float *br = b + r * ldb + p;
            acc[r][0] = _mm256_fmadd_ps(_mm256_loadu_ps(br), x0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(_mm256_loadu_ps(br + VL), x1, acc[r][1]);
        }
    }
    for (; p < k; p += VL) {
        __m256i m = tail_mask(k - p);
        __m256 x0 = _mm256_maskload_ps(x + p, m);
        #pragma GCC unroll 8
        for (int r = 0; r < R; r++)
            acc[r][0] = _mm256_fmadd_ps(_mm256_maskload_ps(b + r * ldb + p, m),
                                        x0, acc[r][0]);
    }
    #pragma GCC unroll 8
    for (int r = 0; r < R; r++)
        out[r] = hsum(_mm256_add_ps(acc[r][0], acc[r][1]));
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
        __m256i m = tail_mask(n - i);
        __m256 v = _mm256_maskload_ps(x + i, m);
        if (res)
            v = _mm256_add_ps(v, _mm256_maskload_ps(res + i, m));
        _mm256_maskstore_ps(y + i, m, act_vec(v, a));
    }
}

static void scale_row(const float *src, float s, float *dst, int64_t n)
{
    const __m256 sv = _mm256_set1_ps(s);
    int64_t j = 0;
    for (; j + VL <= n; j += VL)
        _mm256_storeu_ps(dst + j, _mm256_mul_ps(_mm256_loadu_ps(src + j), sv));
    if (j < n) {
        __m256i m = tail_mask(n - j);
        _mm256_maskstore_ps(dst + j, m,
                            _mm256_mul_ps(_mm256_maskload_ps(src + j, m), sv));
    }
}

static const mn_kernels_f32 kernels = {
    .name = "avx2",
    .mr = MR,
    .nr = NV * VL,
    .vec = VL,
    .tile = sgemm_tile,
    .gemv_n = gemv_n,
    .gemv_t = gemv_t,
    .act = act_apply,
    .scale = scale_row,
};

const mn_kernels_f32 *mn_kernels_f32_avx2(void) { return &kernels; }

#else
const mn_kernels_f32 *mn_kernels_f32_avx2(void) { return 0; }
#endif
