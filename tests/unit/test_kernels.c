/* Fast kernels (src/kernels/) against the reference kernels, at every ISA
 * level the CPU has (forced through the dispatcher), plus the dispatcher
 * itself and thread-count independence of whole sessions (the thread pool:
 * test_pool.c).
 *
 * Tolerance. The fast and the reference kernels add the same products in
 * different orders (k blocking, FMA contraction). Any order of summing k
 * float terms is within γ_k·Σ|terms| of the exact sum (Higham, Accuracy and
 * Stability, 3.1), γ_k = k·u/(1 - k·u), u = 2^-24; the alpha scaling, beta·c
 * bias and residual adds four more roundings. So two correct sums differ
 * by at most 2·γ_{k+4}·S, S = Σ_p |alpha·a·b| + |beta·c| + |bias| +
 * |residual|, computed per element in double. The activations are
 * Lipschitz with constant ≤ 1.5 (HardSwish; ReLU/clip 1, SiLU 1.1), and the
 * vector kernels' exp is within ~1e-7 relative, hence the final bound
 * 1.5·2·γ_{k+4}·S + 2e-6·|result| + 1e-7. The bound is rigorous
 * (a correct kernel cannot fail it) yet tight enough to catch a dropped or
 * doubled product: with inputs in [-1, 1) and k = 600, S ≈ 150 and the
 * bound is ≈ 0.01, while an average product is 0.25. Results with 1 and 2
 * threads must be bit-identical. */
#include <stdlib.h>
#include <string.h>
#include "core/pool.h"
#include "kernels/dispatch.h"
#include "kernels/gemm.h"
#include "kernels/kernels_f32.h"
#include "test.h"

extern long mn_test_allocs;

static uint64_t krng = 0x2545F4914F6CDD1Dull;

static uint32_t krand(void)
{
    krng ^= krng << 13;
    krng ^= krng >> 7;
    krng ^= krng << 17;
    return (uint32_t)(krng >> 16);
}

static int64_t kint(int64_t lo, int64_t hi)
{
    return lo + (int64_t)(krand() % (uint32_t)(hi - lo + 1));
}

static float kfloat(void)
{
    return (float)(krand() & 0xFFFFFF) / 8388608.0f - 1.0f;
}

static float *frand(int64_t n)
{
    float *p = mn_malloc_aligned((size_t)(n > 0 ? n : 1) * sizeof *p);
    for (int64_t i = 0; p && i < n; i++)
        p[i] = kfloat();
    return p;
}

static double tol_of(int64_t k, double s)
{
    double u = 1.0 / 16777216.0, kk = (double)(k + 4) * u;
    return 2.0 * kk / (1.0 - kk) * s;
}

/* The fast levels to test: those the CPU has. */
static const mn_isa fast_levels[] = {MN_ISA_AVX2, MN_ISA_AVX512};
#define N_FAST ((int)(sizeof fast_levels / sizeof *fast_levels))

static int use_level(mn_isa l)
{
    return mn_isa_force(l) == l;
}

/* The activation in double (the oracle for all levels). */
static float act_ref(const mn_act *a, float v)
{
    double x = v;
    switch (a->kind) {
    case MN_ACT_RELU: return v > 0.0f ? v : 0.0f;
    case MN_ACT_CLIP: return v < a->lo ? a->lo : v > a->hi ? a->hi : v;
    case MN_ACT_SIGMOID: return (float)(1.0 / (1.0 + exp(-x)));
    case MN_ACT_SILU: return (float)(x / (1.0 + exp(-x)));
    case MN_ACT_HARDSIGMOID: {
        double t = a->lo * x + a->hi;
        return (float)(t < 0 ? 0 : t > 1 ? 1 : t);
    }
    case MN_ACT_HARDSWISH: {
        double t = a->lo * x + a->hi;
        return (float)(x * (t < 0 ? 0 : t > 1 ? 1 : t));
    }
    case MN_ACT_GELU: return (float)(0.5 * x * erfc(-x * M_SQRT1_2));
    default: return v;
    }
}

static mn_act make_act(int kind)
{
    mn_act a = {(mn_act_kind)kind, -0.5f, 0.75f};
    if (kind == MN_ACT_HARDSIGMOID || kind == MN_ACT_HARDSWISH) {
        a.lo = kind == MN_ACT_HARDSWISH ? 1.0f / 6.0f : 0.2f; /* alpha */
        a.hi = 0.5f;                                          /* beta */
    }
    return a;
}

static double act_tol(double sum_tol, float want)
{
    return 1.5 * sum_tol + 2e-6 * fabs((double)want) + 1e-7;
}

/* ---- GEMM ---- */

typedef struct gcase {
    int ta, tb;
    int64_t m, n, k;
    float alpha, beta;
    int bias;  /* 0 none, 1 per row, 2 per column */
    int act;   /* mn_act_kind */
    int ldc1;  /* ldc = 1 when n == 1 (the matrix-vector path) */
    int res;   /* add a residual matrix */
} gcase;

/* Returns the number of mismatching elements (0 when all good). */
static int gemm_case(const gcase *g, mn_pool *pool2)
{
    int64_t m = g->m, n = g->n, k = g->k;
    int64_t lda = (g->ta ? m : k) + 2, ldb = (g->tb ? k : n) + 1;
    int64_t ldc = g->ldc1 && n == 1 ? 1 : n + 3;
    int64_t arows = g->ta ? k : m, brows = g->tb ? n : k;
    float *a = frand(arows * lda), *b = frand(brows * ldb);
    float *c0 = frand(m * ldc), *bias = frand(m > n ? m : n);
    float *res = frand(m * ldc);
    float *want = frand(m * ldc), *got = frand(m * ldc), *got2 = frand(m * ldc);
    size_t sref = mn_ref_gemm_f32_scratch(m, n, k) + 64;
    size_t sfast = mn_sgemm_scratch(g->ta, g->tb, m, n, k) + 64;
    void *s1 = mn_malloc_aligned(sref > sfast ? sref : sfast);
    mn_act act = make_act(g->act);
    mn_epilogue epi = {.bias = g->bias ? bias : NULL,
                       .bias_per_col = g->bias == 2,
                       .residual = g->res ? res : NULL, .act = act};
    int bad = 0;
    if (!a || !b || !c0 || !bias || !res || !want || !got || !got2 || !s1) {
        CHECK(!"out of memory");
        goto out;
    }
    memcpy(want, c0, (size_t)(m * ldc) * sizeof *want);
    for (int64_t i = 0; i < m * ldc; i++) /* beta 0: c must not be read */
        got[i] = got2[i] = g->beta == 0.0f && i % ldc < n ? NAN : c0[i];
    mn_ref_gemm_f32(g->ta, g->tb, m, n, k, g->alpha, a, lda, b, ldb, g->beta,
                    want, ldc, s1);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            float v = want[i * ldc + j];
            if (g->bias)
                v += bias[g->bias == 2 ? j : i];
            if (g->res)
                v += res[i * ldc + j];
            want[i * ldc + j] = act_ref(&act, v);
        }
    mn_sgemm(NULL, g->ta, g->tb, m, n, k, g->alpha, a, lda, b, ldb, g->beta,
             got, ldc, &epi, s1);
    mn_sgemm(pool2, g->ta, g->tb, m, n, k, g->alpha, a, lda, b, ldb, g->beta,
             got2, ldc, &epi, s1);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < ldc; j++) {
            int64_t ij = i * ldc + j;
            if (j >= n) { /* padding columns are never written */
                bad += got[ij] != c0[ij] || got2[ij] != c0[ij];
                continue;
            }
            double s = fabs((double)g->beta * c0[ij]) +
                       (g->bias ? fabs(bias[g->bias == 2 ? j : i]) : 0.0) +
                       (g->res ? fabs(res[ij]) : 0.0);
            for (int64_t p = 0; p < k; p++) {
                double av = g->ta ? a[p * lda + i] : a[i * lda + p];
                double bv = g->tb ? b[j * ldb + p] : b[p * ldb + j];
                s += fabs((double)g->alpha * av * bv);
            }
            if (!(fabs((double)got[ij] - want[ij]) <=
                  act_tol(tol_of(k, s), want[ij]))) {
                if (bad < 3)
                    mn_test_fail(__FILE__, __LINE__,
                                 "gemm %s ta%d tb%d %lldx%lldx%lld [%lld,%lld]"
                                 ": got %.9g want %.9g (tol %.3g)",
                                 mn_isa_name(mn_isa_active()), g->ta, g->tb,
                                 (long long)m, (long long)n, (long long)k,
                                 (long long)i, (long long)j, (double)got[ij],
                                 (double)want[ij], tol_of(k, s));
                bad++;
            }
            if (memcmp(&got[ij], &got2[ij], sizeof *got) != 0) {
                if (bad < 3)
                    mn_test_fail(__FILE__, __LINE__,
                                 "gemm %lldx%lldx%lld: 2 threads differ",
                                 (long long)m, (long long)n, (long long)k);
                bad++;
            }
        }
out:
    mn_free_aligned(a);
    mn_free_aligned(b);
    mn_free_aligned(c0);
    mn_free_aligned(bias);
    mn_free_aligned(res);
    mn_free_aligned(want);
    mn_free_aligned(got);
    mn_free_aligned(got2);
    mn_free_aligned(s1);
    return bad;
}

static mn_pool *pool2_create(void)
{
    mn_ctx ctx = {{0}};
    mn_pool *p = NULL;
    CHECK_OK(mn_pool_create(2, 0, &p, &ctx), &ctx);
    return p;
}

TEST(kernels_sgemm_vs_reference)
{
    static const int64_t ms[] = {1, 2, 7, 8, 9, 15, 16, 17, 33, 50};
    static const int64_t ns[] = {1, 5, 16, 17, 47, 48, 49, 95, 130};
    static const int64_t ks[] = {0, 1, 3, 16, 31, 256, 257, 300};
    mn_pool *pool = pool2_create();
    int tested = 0;
    for (int l = 0; l < N_FAST; l++) {
        if (!use_level(fast_levels[l]))
            continue;
        const mn_kernels_f32 *kr = mn_kernels_f32_active();
        CHECK(kr != NULL);
        if (kr)
            CHECK(strcmp(kr->name, mn_isa_name(fast_levels[l])) == 0);
        krng = 77 + (uint64_t)l;
        for (int t = 0; t < 160; t++) {
            gcase g = {.ta = t % 4 == 1, .tb = t % 3 == 2,
                       .m = ms[kint(0, 9)], .n = ns[kint(0, 8)],
                       .k = ks[kint(0, 7)], .alpha = 1.0f, .beta = 0.0f,
                       .bias = (int)kint(0, 2),
                       .act = (int)kint(0, MN_ACT_COUNT - 1),
                       .ldc1 = t % 2, .res = t % 3 == 1};
            if (t % 5 == 3)
                g.alpha = 0.5f;
            if (t % 7 == 4)
                g.beta = t % 2 ? 1.0f : -0.75f;
            CHECK_EQ_INT(gemm_case(&g, pool), 0);
            tested++;
        }
        /* blocks: several k blocks and column blocks, both thread splits */
        gcase big[] = {
            {0, 0, 20, 800, 600, 1.0f, 0.0f, 1, 1, 0, 1},
            {0, 0, 130, 70, 520, 1.0f, 0.0f, 1, 2, 0, 0},
            {0, 1, 3, 1000, 130, 1.0f, 1.0f, 2, 0, 0, 1},
            {1, 1, 37, 41, 43, 0.5f, 0.25f, 0, 0, 0, 0},
            /* GEMV, GEMV with B^T, matrix·vector: big enough to be
             * threaded (sgemm.c's MIN_PAR_MACS) */
            {0, 0, 1, 4000, 700, 1.0f, 0.0f, 2, 1, 0, 1},
            {0, 1, 1, 3999, 700, 1.0f, 0.0f, 2, 0, 0, 1},
            {0, 1, 4000, 1, 300, 1.0f, 0.0f, 1, 1, 1, 1},
        };
        for (size_t i = 0; i < sizeof big / sizeof *big; i++)
            CHECK_EQ_INT(gemm_case(&big[i], pool), 0);
    }
    mn_isa_force(MN_ISA_COUNT);
    mn_pool_destroy(pool);
    if (mn_isa_detect() >= MN_ISA_AVX2)
        CHECK(tested > 0);
}

/* The reference level through mn_sgemm: the epilogue applied after it. */
TEST(kernels_sgemm_ref_level_epilogue)
{
    mn_isa_force(MN_ISA_REF);
    CHECK(mn_kernels_f32_active() == NULL);
    krng = 5;
    for (int t = 0; t < 30; t++) {
        gcase g = {.ta = t % 2, .tb = t % 3 == 0, .m = kint(1, 20),
                   .n = kint(1, 40), .k = kint(0, 50), .alpha = 1.0f,
                   .bias = t % 3, .act = (t / 3) % MN_ACT_COUNT,
                   .res = t % 4 == 0};
        CHECK_EQ_INT(gemm_case(&g, NULL), 0);
    }
    mn_isa_force(MN_ISA_COUNT);
}

/* ---- convolution ---- */

typedef struct ccase {
    int64_t n, c, h, w, m, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, group;
    int bias, act, res;
} ccase;

static mn_conv_params conv_params(const ccase *cc)
{
    mn_conv_params p = {.n = cc->n, .c = cc->c, .h = cc->h, .w = cc->w,
                        .m = cc->m, .kh = cc->kh, .kw = cc->kw, .sh = cc->sh,
                        .sw = cc->sw, .dh = cc->dh, .dw = cc->dw,
                        .pt = cc->pt, .pl = cc->pl, .group = cc->group};
    int64_t eh = cc->h + cc->pt + cc->pb - cc->dh * (cc->kh - 1) - 1;
    int64_t ew = cc->w + cc->pl + cc->pr - cc->dw * (cc->kw - 1) - 1;
    p.oh = eh < 0 ? 0 : eh / cc->sh + 1;
    p.ow = ew < 0 ? 0 : ew / cc->sw + 1;
    return p;
}

/* Σ |terms| of output (n, m, i, j), in double. */
static double conv_abs_sum(const mn_conv_params *p, const float *x,
                           const float *w, const float *b, int64_t n,
                           int64_t m, int64_t i, int64_t j)
{
    int64_t cg = p->c / p->group, mg = p->m / p->group, g = m / mg;
    double s = b ? fabs(b[m]) : 0.0;
    for (int64_t c = 0; c < cg; c++)
        for (int64_t ki = 0; ki < p->kh; ki++)
            for (int64_t kj = 0; kj < p->kw; kj++) {
                int64_t ih = i * p->sh - p->pt + ki * p->dh;
                int64_t iw = j * p->sw - p->pl + kj * p->dw;
                if (ih < 0 || ih >= p->h || iw < 0 || iw >= p->w)
                    continue;
                s += fabs((double)w[((m * cg + c) * p->kh + ki) * p->kw + kj] *
                          x[((n * p->c + g * cg + c) * p->h + ih) * p->w + iw]);
            }
    return s;
}

/* got (1 thread) and got2 (pool2) against want within the float tolerance
 * of each output's sum, and bit-identical to each other; the failures. */
static int conv_check(const mn_conv_params *p, const char *path,
                      const float *x, const float *w, const float *b,
                      const float *res, const float *want, const float *got,
                      const float *got2)
{
    int64_t k = (p->c / p->group) * p->kh * p->kw;
    int bad = 0;
    for (int64_t in = 0; in < p->n; in++)
        for (int64_t m = 0; m < p->m; m++)
            for (int64_t i = 0; i < p->oh; i++)
                for (int64_t j = 0; j < p->ow; j++) {
                    int64_t o = ((in * p->m + m) * p->oh + i) * p->ow + j;
                    double tol = tol_of(k, conv_abs_sum(p, x, w, b, in, m, i,
                                                        j) +
                                               (res ? fabs(res[o]) : 0.0));
                    if (!(fabs((double)got[o] - want[o]) <=
                          act_tol(tol, want[o]))) {
                        if (bad < 3)
                            mn_test_fail(
                                __FILE__, __LINE__,
                                "conv %s %s c%lld m%lld %lldx%lld k%lldx%lld "
                                "s%lld,%lld g%lld at [%lld,%lld,%lld,%lld]: "
                                "got %.9g want %.9g",
                                path, mn_isa_name(mn_isa_active()),
                                (long long)p->c, (long long)p->m,
                                (long long)p->h, (long long)p->w,
                                (long long)p->kh, (long long)p->kw,
                                (long long)p->sh, (long long)p->sw,
                                (long long)p->group, (long long)in,
                                (long long)m, (long long)i, (long long)j,
                                (double)got[o], (double)want[o]);
                        bad++;
                    }
                    if (memcmp(&got[o], &got2[o], sizeof *got) != 0) {
                        if (bad < 3)
                            mn_test_fail(__FILE__, __LINE__,
                                         "conv %s: 2 threads differ", path);
                        bad++;
                    }
                }
    return bad;
}

/* p through mn_conv2d_f32 and, where the level has it, the channel-vector
 * path on packed weights (conv_cv_f32.c), 1 and 2 threads each, against
 * the reference convolution; the two paths must agree bit for bit. */
static int conv_case(const ccase *cc, mn_pool *pool2)
{
    mn_conv_params p = conv_params(cc);
    int64_t nx = p.n * p.c * p.h * p.w, nw = p.m * (p.c / p.group) * p.kh * p.kw;
    int64_t ny = p.n * p.m * p.oh * p.ow;
    float *x = frand(nx), *w = frand(nw), *b = frand(p.m);
    float *want = frand(ny), *got = frand(ny), *got2 = frand(ny);
    float *res = cc->res ? frand(ny) : NULL, *wp = NULL;
    size_t sref = mn_ref_conv2d_f32_scratch(&p) + 64;
    size_t sfast = mn_conv2d_f32_scratch(&p) + 64;
    int cv = mn_conv_cv_f32_can(&p);
    if (cv && mn_conv_cv_f32_scratch(&p) > sfast)
        sfast = mn_conv_cv_f32_scratch(&p);
    void *s1 = mn_malloc_aligned(sref > sfast ? sref : sfast);
    mn_act act = make_act(cc->act);
    const float *bias = cc->bias ? b : NULL;
    int bad = 0;
    if (cv)
        wp = mn_malloc_aligned(mn_conv_cv_f32_packed_floats(&p) * 4);
    if (!x || !w || !b || !want || !got || !got2 || !s1 ||
        (cc->res && !res) || (cv && !wp)) {
        CHECK(!"out of memory");
        goto out;
    }
    mn_ref_conv2d_f32(&p, x, w, bias, want, s1);
    for (int64_t i = 0; i < ny; i++) {
        want[i] = act_ref(&act, want[i] + (res ? res[i] : 0.0f));
        got[i] = got2[i] = NAN; /* every output must be written */
    }
    mn_conv2d_f32(NULL, &p, x, w, bias, &act, res, got, s1);
    mn_conv2d_f32(pool2, &p, x, w, bias, &act, res, got2, s1);
    bad += conv_check(&p, "fast", x, w, bias, res, want, got, got2);
    if (cv) { /* the same bits as the fast path's */
        mn_conv_cv_f32_pack(&p, w, wp);
        mn_conv_cv_f32(NULL, &p, x, wp, bias, &act, res, got2, s1);
        bad += conv_check(&p, "cv", x, w, bias, res, want, got2, got);
        for (int64_t i = 0; i < ny; i++)
            got[i] = NAN;
        mn_conv_cv_f32(pool2, &p, x, wp, bias, &act, res, got, s1);
        bad += conv_check(&p, "cv", x, w, bias, res, want, got, got2);
    }
out:
    mn_free_aligned(x);
    mn_free_aligned(w);
    mn_free_aligned(b);
    mn_free_aligned(want);
    mn_free_aligned(got);
    mn_free_aligned(got2);
    mn_free_aligned(res);
    mn_free_aligned(wp);
    mn_free_aligned(s1);
    return bad;
}

/* n, c, h, w, m, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, group, bias, act,
 * residual */
static const ccase conv_fixed[] = {
    {1, 5, 11, 11, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, /* 3×3 */
    {1, 3, 23, 21, 8, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3, 1, 1, 1, 0},  /* stem */
    {2, 16, 13, 13, 24, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 2, 1}, /* 1×1 */
    {1, 16, 14, 14, 32, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0}, /* 1×1 /2 */
    {1, 6, 9, 10, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 0, 0},   /* groups */
    {1, 4, 12, 12, 5, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1, 1, 0, 0},  /* dilated */
    {1, 4, 9, 8, 6, 3, 2, 2, 1, 1, 1, 0, 1, 2, 0, 1, 1, 1, 0},   /* uneven pad */
    {1, 7, 1, 40, 5, 1, 5, 1, 2, 1, 1, 0, 2, 0, 2, 1, 1, 0, 0},  /* 1-D */
    {1, 64, 7, 7, 70, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0}, /* 7×7 maps */
    {1, 3, 3, 3, 2, 5, 5, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0},   /* empty out */
    /* depthwise: 3×3, 5×5, 7×7, strides 1 and 2, multiplier, dilation */
    {1, 8, 17, 17, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 8, 1, 2, 1},
    {1, 6, 33, 70, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 6, 1, 1, 0},
    {2, 5, 14, 14, 5, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 5, 1, 0, 0},
    {1, 4, 15, 131, 4, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2, 4, 1, 1, 0},
    {1, 3, 20, 9, 3, 7, 7, 1, 1, 1, 1, 3, 3, 3, 3, 3, 0, 0, 0},
    {1, 3, 19, 19, 3, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3, 3, 1, 2, 0},
    {1, 4, 9, 9, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4, 1, 0, 0},   /* mult 2 */
    {1, 4, 12, 12, 4, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 4, 1, 0, 0}, /* dilated */
    {1, 4, 12, 12, 4, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 4, 1, 0, 0}, /* stride 3 */
    {1, 4, 10, 12, 4, 3, 3, 1, 1, 1, 1, 0, 2, 1, 0, 4, 1, 1, 0}, /* uneven */
    /* big enough to be threaded (MIN_PAR_MACS, the depthwise threshold) */
    {1, 32, 30, 30, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {1, 64, 56, 56, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 64, 1, 2, 0},
    {1, 48, 40, 40, 48, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2, 48, 1, 4, 1},
    {1, 200, 14, 14, 200, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 200, 1, 2, 1}, /* cv */
    /* channel-vector panels 48 + 32 + 32 (112 = 2·48 + 16), threaded */
    {1, 24, 14, 14, 112, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    /* direct path: stride 2 on odd sizes with a residual, threaded; more
     * than 256 taps (several k blocks) with a residual; few channels
     * (split over positions); two groups with a residual */
    {1, 32, 29, 31, 40, 3, 3, 2, 2, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1},
    {2, 40, 12, 12, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1},
    {1, 16, 40, 40, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0},
    {1, 12, 16, 16, 12, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2, 2, 1, 1, 1},
    /* direct path in row tiles (outputs of whole vectors, >= 2): 32 wide
     * with two k blocks, a residual, threaded; a stem-like 7×7 stride 2
     * to 48 wide with a residual; 80 wide (5 vectors: 3 + 2) */
    {1, 32, 32, 32, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {1, 3, 96, 96, 16, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3, 1, 1, 1, 1},
    {1, 4, 6, 80, 10, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 2, 0},
};

static void random_conv(ccase *cc)
{
    int dw = kint(0, 2) == 0;
    memset(cc, 0, sizeof *cc);
    cc->n = kint(1, 2);
    cc->c = kint(1, 12);
    cc->h = kint(1, 20);
    cc->w = kint(1, 40);
    cc->kh = kint(1, 5);
    cc->kw = kint(1, 5);
    cc->sh = kint(1, 2);
    cc->sw = kint(1, 2);
    cc->dh = kint(1, 2);
    cc->dw = kint(1, 2);
    cc->pt = kint(0, 2);
    cc->pl = kint(0, 2);
    cc->pb = kint(0, 2);
    cc->pr = kint(0, 2);
    cc->group = 1;
    cc->m = kint(1, 20);
    if (dw) {
        cc->c = kint(2, 12);
        cc->group = cc->c;
        cc->m = cc->c * kint(1, 2);
    } else if (kint(0, 3) == 0 && cc->c % 2 == 0 && cc->m % 2 == 0) {
        cc->group = 2;
    }
    cc->bias = (int)kint(0, 1);
    cc->act = (int)kint(0, MN_ACT_COUNT - 1);
    cc->res = kint(0, 2) == 0;
}

TEST(kernels_conv_vs_reference)
{
    mn_pool *pool = pool2_create();
    for (int l = 0; l < N_FAST; l++) {
        if (!use_level(fast_levels[l]))
            continue;
        krng = 991 + (uint64_t)l;
        for (size_t i = 0; i < sizeof conv_fixed / sizeof *conv_fixed; i++)
            CHECK_EQ_INT(conv_case(&conv_fixed[i], pool), 0);
        for (int t = 0; t < 120; t++) {
            ccase cc;
            random_conv(&cc);
            CHECK_EQ_INT(conv_case(&cc, pool), 0);
        }
    }
    mn_isa_force(MN_ISA_COUNT);
    mn_pool_destroy(pool);
}

/* Direct-path convolutions big enough to be threaded (the random ones
 * above mostly are not): both task splits (positions when the input planes
 * outweigh the weights, channels otherwise), tails in both, k blocks, a
 * residual, strides 1 and 2, 1 vs 2 threads bit-identical. */
TEST(kernels_conv_direct_threaded_random)
{
    mn_pool *pool = pool2_create();
    for (int l = 0; l < N_FAST; l++) {
        const mn_kernels_f32 *kr;
        if (!use_level(fast_levels[l]) || !(kr = mn_kernels_f32_active()) ||
            !kr->tile_off)
            continue; /* no direct path at this level (AVX2) */
        krng = 4242 + (uint64_t)l;
        for (int t = 0; t < 24; t++) {
            ccase cc = {.n = 1, .group = 1, .dh = 1, .dw = 1};
            cc.kh = cc.kw = kint(2, 5);
            cc.sh = cc.sw = kint(1, 2);
            cc.pt = cc.pl = cc.pb = cc.pr = kint(0, cc.kh / 2);
            cc.h = kint(cc.kh + 3, 40);
            cc.w = kint(cc.kw + 3, 44);
            /* few inputs and many outputs, or the reverse */
            cc.c = t % 2 ? kint(1, 8) : kint(24, 64);
            cc.m = t % 2 ? kint(40, 90) : kint(9, 30);
            cc.bias = (int)kint(0, 1);
            cc.act = (int)kint(0, MN_ACT_COUNT - 1);
            cc.res = (int)kint(0, 1);
            mn_conv_params p = conv_params(&cc);
            /* above the direct path's threading threshold (256 KMACs) */
            while ((double)cc.m * (double)(p.oh * p.ow) *
                       (double)(cc.c * cc.kh * cc.kw) < 300000.0)
                cc.m += 16;
            p = conv_params(&cc);
            CHECK(mn_conv_direct_f32_ok(kr, &p));
            CHECK_EQ_INT(conv_case(&cc, pool), 0);
        }
    }
    mn_isa_force(MN_ISA_COUNT);
    mn_pool_destroy(pool);
}

/* The depthwise kernel really is the AVX-512 one for strides 1/2 (and
 * falls back for others), so the cases above exercise it. */
/* Stride-1/2 undilated k×k convolutions take the direct path at the
 * AVX-512 level (so the cases above exercise it), the others do not. */
TEST(kernels_conv_direct_dispatch)
{
    ccase cc = conv_fixed[0];
    mn_conv_params p = conv_params(&cc);
    if (use_level(MN_ISA_AVX512)) {
        const mn_kernels_f32 *kr = mn_kernels_f32_active();
        CHECK(mn_conv_direct_f32_ok(kr, &p));
        p.sh = p.sw = 2;
        CHECK(mn_conv_direct_f32_ok(kr, &p));
        p.dh = p.dw = 2; /* dilated */
        CHECK(!mn_conv_direct_f32_ok(kr, &p));
        cc = conv_fixed[2]; /* 1×1: a plain GEMM */
        p = conv_params(&cc);
        CHECK(!mn_conv_direct_f32_ok(kr, &p));
        cc = conv_fixed[10]; /* depthwise */
        p = conv_params(&cc);
        CHECK(!mn_conv_direct_f32_ok(kr, &p));
    }
    if (use_level(MN_ISA_AVX2)) {
        p = conv_params(&conv_fixed[0]);
        CHECK(!mn_conv_direct_f32_ok(mn_kernels_f32_active(), &p));
    }
    mn_isa_force(MN_ISA_COUNT);
}

TEST(kernels_depthwise_dispatch)
{
    ccase cc = conv_fixed[10];
    mn_conv_params p = conv_params(&cc);
    if (use_level(MN_ISA_AVX512)) {
        CHECK(mn_dwconv_f32_active(&p) != NULL);
        p.sw = 3;
        CHECK(mn_dwconv_f32_active(&p) == NULL);
    }
    if (use_level(MN_ISA_AVX2))
        CHECK(mn_dwconv_f32_active(&p) == NULL);
    mn_isa_force(MN_ISA_COUNT);
}

/* ---- dispatcher ---- */

TEST(dispatch_levels_and_env)
{
    mn_isa cpu = mn_isa_detect();
    CHECK(cpu >= MN_ISA_REF && cpu < MN_ISA_COUNT);
    CHECK_EQ_INT(mn_isa_parse("ref"), MN_ISA_REF);
    CHECK_EQ_INT(mn_isa_parse("avx2"), MN_ISA_AVX2);
    CHECK_EQ_INT(mn_isa_parse("avx512"), MN_ISA_AVX512VNNI);
    CHECK_EQ_INT(mn_isa_parse("avx512f"), MN_ISA_AVX512);
    CHECK_EQ_INT(mn_isa_parse("sse9"), MN_ISA_COUNT);
    CHECK_EQ_INT(mn_isa_parse(NULL), MN_ISA_COUNT);
    CHECK(strcmp(mn_isa_name(MN_ISA_AVX2), "avx2") == 0);
    /* forcing never goes above the CPU */
    CHECK_EQ_INT(mn_isa_force(MN_ISA_AVX512VNNI), cpu);
    CHECK_EQ_INT(mn_isa_active(), cpu);
    CHECK_EQ_INT(mn_isa_force(MN_ISA_REF), MN_ISA_REF);
    CHECK(mn_kernels_f32_active() == NULL);
    /* MINNOW_ISA caps the default level */
    const char *old = getenv("MINNOW_ISA");
    char saved[32] = "";
    if (old)
        snprintf(saved, sizeof saved, "%s", old);
    setenv("MINNOW_ISA", "ref", 1);
    CHECK_EQ_INT(mn_isa_force(MN_ISA_COUNT), MN_ISA_REF);
    setenv("MINNOW_ISA", "avx2", 1);
    CHECK_EQ_INT(mn_isa_force(MN_ISA_COUNT),
                 cpu < MN_ISA_AVX2 ? cpu : MN_ISA_AVX2);
    setenv("MINNOW_ISA", "bogus", 1); /* ignored */
    CHECK_EQ_INT(mn_isa_force(MN_ISA_COUNT), cpu);
    if (old)
        setenv("MINNOW_ISA", saved, 1);
    else
        unsetenv("MINNOW_ISA");
    mn_isa_force(MN_ISA_COUNT);
}

/* ---- whole sessions: 2 threads give the bits of 1, allocate nothing ---- */

static mn_tensor *session_output(const char *model, int threads, int isa,
                                 int64_t *runs_allocs)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    mn_session *s = NULL;
    mn_tensor *x = NULL, *y = NULL;
    char path[512];
    snprintf(path, sizeof path, "%s/peers/%s", mn_test_data_dir(), model);
    mn_isa_force((mn_isa)isa);
    if (mn_graph_load_onnx(path, &g, &ctx) != MN_OK ||
        mn_graph_optimize(g, &ctx) != MN_OK) {
        mn_test_fail(__FILE__, __LINE__, "%s", ctx.msg);
        goto out;
    }
    /* batch 16: enough work per op for the kernels to use the pool */
    mn_session_opts o = {.batch = 16, .threads = threads};
    CHECK_OK(mn_session_create(g, &o, &s, &ctx), &ctx);
    if (!s)
        goto out;
    const mn_tensor *in = mn_session_input(s, 0);
    CHECK_OK(mn_tensor_create(in->dtype, in->ndim, in->dims, &x, &ctx), &ctx);
    if (!x)
        goto out;
    krng = 4242;
    for (int64_t i = 0; i < mn_tensor_numel(x); i++)
        ((float *)x->data)[i] = kfloat();
    long before = mn_test_allocs;
    for (int rep = 0; rep < 2; rep++)
        CHECK_OK(mn_session_run(s, (const mn_tensor *const *)&x, 1, &ctx),
                 &ctx);
    *runs_allocs = mn_test_allocs - before;
    CHECK_OK(mn_tensor_clone(mn_session_output(s, 0), &y, &ctx), &ctx);
out:
    mn_tensor_destroy(x);
    mn_session_destroy(s);
    mn_graph_destroy(g);
    mn_isa_force(MN_ISA_COUNT);
    return y;
}

TEST(session_threads_bit_identical_and_no_alloc)
{
    static const char *models[] = {"resnet_tiny.onnx", "mobilenetv2_tiny.onnx",
                                   "efficientnet_style.onnx"};
    for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
        int64_t a1 = -1, a2 = -1, ar = -1;
        mn_tensor *y1 = session_output(models[i], 1, MN_ISA_COUNT, &a1);
        mn_tensor *y2 = session_output(models[i], 2, MN_ISA_COUNT, &a2);
        mn_tensor *yr = session_output(models[i], 1, MN_ISA_REF, &ar);
        CHECK(y1 && y2 && yr);
        CHECK_EQ_INT(a1, 0);
        CHECK_EQ_INT(a2, 0);
        CHECK_EQ_INT(ar, 0);
        if (y1 && y2 && yr) {
            int64_t n = mn_tensor_numel(y1);
            CHECK_EQ_INT(mn_tensor_numel(y2), n);
            CHECK(memcmp(y1->data, y2->data, mn_tensor_nbytes(y1)) == 0);
            /* and the fast path agrees with the reference one */
            const float *f = y1->data, *r = yr->data;
            double e = 0;
            for (int64_t j = 0; j < n; j++) {
                double d = fabs((double)f[j] - r[j]) / (1.0 + fabs(r[j]));
                e = d > e || d != d ? d : e;
            }
            CHECK(e < 1e-4);
        }
        mn_tensor_destroy(y1);
        mn_tensor_destroy(y2);
        mn_tensor_destroy(yr);
    }
}
