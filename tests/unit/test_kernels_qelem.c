/* The elementwise 8-bit kernels (src/kernels/qelem.h) at every ISA level
 * the CPU has against the reference table, byte for byte (float output:
 * bit for bit), on lengths 0..300 (vector bodies and tails) and one long
 * run: quantization including NaN, ±inf, ±0, halves (round half to even)
 * and saturation; dequantization; QLinearAdd's fixed point over random
 * ratios (shifts 14..30) and zero points; the running maxima (8-bit, and
 * float32 with NaN on either side); the stride-2 window maxima;
 * QLinearMul elementwise and with b broadcast, over ratios up to
 * overflow, ±inf and NaN; the 256-byte table lookup (in place too); byte
 * sums. Plus the arithmetic of the reference itself on hand-checked
 * values. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "test.h"
#include "ops_test_util.h"
#include "kernels/qelem.h"

static float special(int64_t i, float s)
{
    static const float v[] = {0.0f, -0.0f, 0.5f, 1.5f, 2.5f, -0.5f, -2.5f,
                              1e30f, -1e30f, 127.5f, 128.5f, -128.5f};
    switch (i % 7) {
    case 0: return NAN;
    case 1: return i & 8 ? INFINITY : -INFINITY;
    case 2: return v[(i / 7) % 12] * s; /* exact halves of the scale */
    default: return (otu_float() * 2.0f - 1.0f) * 300.0f * s;
    }
}

static void check_level(const mn_kernels_qelem *k)
{
    const mn_kernels_qelem *r = mn_kernels_qelem_ref();
    enum { MAX = 4099 };
    float *x = malloc(MAX * sizeof *x), *fa = malloc(MAX * sizeof *fa);
    float *fb = malloc(MAX * sizeof *fb);
    uint8_t *a = malloc(MAX), *b = malloc(MAX), *ya = malloc(MAX + 1),
            *yb = malloc(MAX + 1);
    if (!x || !fa || !fb || !a || !b || !ya || !yb) {
        CHECK(0);
        goto out;
    }
    for (int64_t n = 0; n <= MAX; n = n < 300 ? n + 1 : MAX + 1) {
        int i8 = (int)(n & 1);
        float s = 0.01f + otu_float() * 0.5f;
        int32_t zp = i8 ? (int32_t)otu_int(-128, 127) : (int32_t)otu_int(0, 255);
        for (int64_t i = 0; i < n; i++) {
            x[i] = special(i + n, s);
            a[i] = (uint8_t)otu_rand();
            b[i] = (uint8_t)otu_rand();
        }
        /* quantize: one byte past the end stays untouched */
        ya[n] = yb[n] = 0xA5;
        r->quantize(x, n, s, zp, i8, ya);
        k->quantize(x, n, s, zp, i8, yb);
        CHECK(memcmp(ya, yb, (size_t)n + 1) == 0);
        r->dequantize(a, n, i8, s, zp, fa);
        k->dequantize(a, n, i8, s, zp, fb);
        CHECK(memcmp(fa, fb, (size_t)n * sizeof *fa) == 0);
        mn_qadd_fixed p = {
            .ma = (int32_t)otu_int(1 << 20, (1 << 22) - 1),
            .mb = (int32_t)otu_int(1, (1 << 22) - 1),
            .za = i8 ? (int32_t)otu_int(-128, 127) : (int32_t)otu_int(0, 255),
            .zb = i8 ? (int32_t)otu_int(-128, 127) : (int32_t)otu_int(0, 255),
            .zc = i8 ? (int32_t)otu_int(-128, 127) : (int32_t)otu_int(0, 255),
            .shift = (int32_t)otu_int(14, 30)};
        if (n & 2) /* ratios near 1: outputs span the whole range */
            p.shift = 21 + (int32_t)otu_int(0, 1);
        r->qadd(a, b, n, &p, i8, ya);
        k->qadd(a, b, n, &p, i8, yb);
        CHECK(memcmp(ya, yb, (size_t)n + 1) == 0);
        memcpy(ya, a, (size_t)n);
        memcpy(yb, a, (size_t)n);
        r->vmax(ya, b, n, i8);
        k->vmax(yb, b, n, i8);
        CHECK(memcmp(ya, yb, (size_t)n + 1) == 0);
        /* stride-2 window maxima over k = 1..4 taps: n / 2 outputs read
         * a[0 .. 2·(n/2) − 2 + k) (within a, whose tail is random) */
        for (int kk = 1; kk <= 4 && n >= 4; kk++) {
            int64_t no = (n - kk) / 2 + 1;
            ya[no] = yb[no] = 0x5A;
            r->hmax2(a, no, kk, i8, ya);
            k->hmax2(a, no, kk, i8, yb);
            CHECK(memcmp(ya, yb, (size_t)no + 1) == 0);
        }
        /* whole stride-2 MaxPool rows over 1..5 input rows (a, b and
         * shifted copies), k = 1..4, left padding 0..3, right windows
         * running past the row: padding columns are skipped */
        for (int kk = 1; kk <= 4 && n >= 2 && k->maxrow2; kk++) {
            int nr = 1 + (int)((n + kk) % 5);
            int64_t w = n / 2, c0 = -(int64_t)((n + kk) % 4);
            int64_t no = (w - c0) / 2 + 1;
            const void *rw[5] = {a, b, a + n / 2, b + 1, a + 3};
            ya[no] = yb[no] = 0x5A;
            r->maxrow2(rw, nr, w, c0, no, kk, i8, ya);
            k->maxrow2(rw, nr, w, c0, no, kk, i8, yb);
            CHECK(memcmp(ya, yb, (size_t)no + 1) == 0);
        }
        /* float running max with NaN on either side, ±0 ties */
        for (int64_t i = 0; i < n; i++) {
            fa[i] = special(i + 3 * n, 1.0f);
            if (i % 11 == 5)
                fa[i] = i & 1 ? 0.0f : -0.0f;
        }
        memcpy(fb, fa, (size_t)n * sizeof *fa);
        r->vmaxf(fa, x, n);
        k->vmaxf(fb, x, n);
        CHECK(memcmp(fa, fb, (size_t)n * sizeof *fa) == 0);
        static const float ratios[] = {1e-3f, 0.0371f, 1.0f, 1.0f / 255.0f,
                                       77.7f, 1e30f, -0.5f, INFINITY,
                                       NAN, 0.0f};
        mn_qmul_p mp = {.za = (int32_t)(i8 ? otu_int(-128, 127)
                                           : otu_int(0, 255)),
                        .zb = (int32_t)(i8 ? otu_int(-128, 127)
                                           : otu_int(0, 255)),
                        .zc = (int32_t)(i8 ? otu_int(-128, 127)
                                           : otu_int(0, 255)),
                        .ratio = n % 3 ? ratios[(n / 3) % 10]
                                       : otu_float() * 0.01f};
        /* elementwise, one b for all, b per run of 1-40 elements (runs
         * shorter than a vector, ones crossing each 16-lane step) */
        int64_t runs[] = {0, n, 1 + n % 40, 16 + n % 7, 17 + n % 23};
        for (int bc = 0; bc < 5; bc++) {
            ya[n] = yb[n] = 0xA5;
            r->qmul(a, b, n, runs[bc], &mp, i8, ya);
            k->qmul(a, b, n, runs[bc], &mp, i8, yb);
            CHECK(memcmp(ya, yb, (size_t)n + 1) == 0);
        }
        uint8_t t[256];
        for (int v = 0; v < 256; v++)
            t[v] = (uint8_t)otu_rand();
        r->lut8(t, a, n, ya);
        k->lut8(t, a, n, yb);
        CHECK(memcmp(ya, yb, (size_t)n + 1) == 0);
        memcpy(yb, a, (size_t)n); /* in place */
        k->lut8(t, yb, n, yb);
        CHECK(memcmp(ya, yb, (size_t)n + 1) == 0);
        CHECK(r->sum8(a, n, i8) == k->sum8(a, n, i8));
        /* the sums of runs of a: 1..19 of n / 19 values (0 to 215) */
        if (n > 0) {
            int32_t sa[19], sb[19];
            int64_t np = 1 + n % 19, len = n / np;
            r->sums8(a, np, len, i8, sa);
            k->sums8(a, np, len, i8, sb);
            CHECK(memcmp(sa, sb, (size_t)np * sizeof *sa) == 0);
        }
    }
    /* QLinearAdd's rounding at the boundary: with ma = 2^13 − 1 and shift
     * 14 the remainder equals half (2^13 − 1) exactly, which must round
     * down (> half rounds up), and just above it */
    for (int i8 = 0; i8 < 2; i8++) {
        mn_qadd_fixed p = {.ma = 8191, .mb = 8193, .za = 0, .zb = 0,
                           .zc = i8 ? -3 : 3, .shift = 14};
        for (int i = 0; i < 37; i++) {
            a[i] = (uint8_t)(i % 3);
            b[i] = (uint8_t)(i / 3 % 3);
        }
        ya[37] = yb[37] = 0xA5;
        r->qadd(a, b, 37, &p, i8, ya);
        k->qadd(a, b, 37, &p, i8, yb);
        CHECK(memcmp(ya, yb, 38) == 0);
    }
out:
    free(x), free(fa), free(fb), free(a), free(b), free(ya), free(yb);
}

/* The fast tables this CPU runs: lv[0] AVX2, lv[1] AVX-512 VBMI (NULL:
 * not built or not on this CPU). */
static void fast_levels(const mn_kernels_qelem *lv[2])
{
    lv[0] = mn_isa_detect() >= MN_ISA_AVX2 ? mn_kernels_qelem_avx2() : NULL;
    lv[1] = mn_cpu_has_avx512vbmi() ? mn_kernels_qelem_avx512vbmi() : NULL;
}

TEST(qelem_fast_levels_match_ref)
{
    const mn_kernels_qelem *lv[2];
    otu_seed(21);
    fast_levels(lv);
    /* at least run the ref */
    check_level(lv[0] ? lv[0] : mn_kernels_qelem_ref());
    if (lv[1])
        check_level(lv[1]);
}

/* Quantization where x / s lands within a few ulps of a half-integer (and
 * on it), over random scales, zero points and both signs: the kernels
 * that multiply by 1/s must still round as the division does. */
TEST(qelem_quantize_near_halves)
{
    const mn_kernels_qelem *r = mn_kernels_qelem_ref();
    const mn_kernels_qelem *lv[2];
    enum { N = 4096 };
    float *x = malloc(N * sizeof *x);
    uint8_t *ya = malloc(N), *yb = malloc(N);
    fast_levels(lv);
    otu_seed(23);
    int bad = 0;
    for (int it = 0; it < 60 && x && ya && yb; it++) {
        int i8 = it & 1;
        /* scales over many binades, mantissas random */
        float s = ldexpf(1.0f + otu_float(), (int)otu_int(-20, 4));
        int32_t zp = i8 ? (int32_t)otu_int(-128, 127)
                        : (int32_t)otu_int(0, 255);
        for (int64_t i = 0; i < N; i++) {
            float h = (float)otu_int(-300, 300) + 0.5f;
            float v = h * s;
            for (int64_t u = otu_int(-6, 6); u > 0; u--)
                v = nextafterf(v, INFINITY);
            for (int64_t u = otu_int(-6, 6); u > 0; u--)
                v = nextafterf(v, -INFINITY);
            x[i] = v;
        }
        r->quantize(x, N, s, zp, i8, ya);
        for (int l = 0; l < 2; l++) {
            if (!lv[l])
                continue;
            lv[l]->quantize(x, N, s, zp, i8, yb);
            bad += memcmp(ya, yb, N) != 0;
        }
    }
    CHECK(x && ya && yb);
    CHECK(bad == 0);
    free(x), free(ya), free(yb);
}

/* QLinearAdd's rounding shift on every (a, b) byte pair, for shifts 1 to
 * 30 (small shifts make exact halves common, on both signs of the sum)
 * and multipliers up to 2^22: the fast levels against the reference. */
TEST(qelem_qadd_rounding_all_pairs)
{
    const mn_kernels_qelem *r = mn_kernels_qelem_ref();
    const mn_kernels_qelem *lv[2];
    uint8_t *a = malloc(65536), *b = malloc(65536);
    uint8_t *ya = malloc(65536), *yb = malloc(65536);
    fast_levels(lv);
    otu_seed(29);
    int bad = 0;
    for (int i = 0; a && b && i < 65536; i++) {
        a[i] = (uint8_t)i;
        b[i] = (uint8_t)(i >> 8);
    }
    static const int32_t shifts[] = {1, 2, 3, 5, 9, 14, 21, 30};
    for (int si = 0; a && b && ya && yb && si < 8; si++)
        for (int i8 = 0; i8 < 2; i8++) {
            mn_qadd_fixed p = {
                .ma = (int32_t)otu_int(1, (1 << 22) - 1),
                .mb = (int32_t)otu_int(1, (1 << 22) - 1),
                .za = i8 ? (int32_t)otu_int(-128, 127) : (int32_t)otu_int(0, 255),
                .zb = i8 ? (int32_t)otu_int(-128, 127) : (int32_t)otu_int(0, 255),
                .zc = i8 ? (int32_t)otu_int(-128, 127) : (int32_t)otu_int(0, 255),
                .shift = shifts[si]};
            if (si % 2) /* small multipliers: sums near zero, both signs */
                p.ma = (int32_t)otu_int(1, 7), p.mb = (int32_t)otu_int(1, 7);
            r->qadd(a, b, 65536, &p, i8, ya);
            for (int l = 0; l < 2; l++) {
                if (!lv[l])
                    continue;
                lv[l]->qadd(a, b, 65536, &p, i8, yb);
                bad += memcmp(ya, yb, 65536) != 0;
            }
        }
    CHECK(a && b && ya && yb);
    CHECK(bad == 0);
    free(a), free(b), free(ya), free(yb);
}

TEST(qelem_ref_arithmetic)
{
    const mn_kernels_qelem *r = mn_kernels_qelem_ref();
    const float x[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, NAN, INFINITY,
                       -INFINITY, 1000.0f, -3.0f};
    uint8_t u[10];
    int8_t s[10];
    static const uint8_t wu[] = {10, 12, 12, 10, 8, 10, 255, 0, 255, 7};
    static const int8_t ws[] = {0, 2, 2, 0, -2, 0, 127, -128, 127, -3};
    r->quantize(x, 10, 1.0f, 10, 0, u);
    r->quantize(x, 10, 1.0f, 0, 1, s);
    CHECK(memcmp(u, wu, sizeof wu) == 0);
    CHECK(memcmp(s, ws, sizeof ws) == 0);
    float f[2];
    const int8_t q[2] = {-128, 127};
    r->dequantize(q, 2, 1, 0.5f, -1, f);
    CHECK(f[0] == -63.5f && f[1] == 64.0f);
    /* a + b with both ratios 1 (ma = mb = 2^21, shift 21): exact sums,
     * saturated at 255 */
    mn_qadd_fixed p = {1 << 21, 1 << 21, 0, 0, 0, 21};
    const uint8_t a[3] = {1, 100, 200}, b[3] = {2, 100, 100};
    uint8_t y[3];
    r->qadd(a, b, 3, &p, 0, y);
    CHECK(y[0] == 3 && y[1] == 200 && y[2] == 255);
    /* halves round away from zero: (1 + 0)·0.5 = 0.5 → 1, -0.5 → -1 */
    mn_qadd_fixed h = {1 << 20, 1 << 20, 0, 0, 0, 21};
    const int8_t ha[2] = {1, -1}, hb[2] = {0, 0};
    int8_t hy[2];
    r->qadd(ha, hb, 2, &h, 1, hy);
    CHECK(hy[0] == 1 && hy[1] == -1);
    /* QLinearMul: (3 - 1)·(5 - 1)·0.25 = 2 → + zc 10 = 12; 2.5 rounds to
     * even 2; the saturation of a huge product; NaN ratio gives zc */
    mn_qmul_p mq = {1, 1, 10, 0.25f};
    const uint8_t ma[3] = {3, 6, 255}, mb[3] = {5, 3, 255};
    uint8_t my[3];
    r->qmul(ma, mb, 3, 0, &mq, 0, my);
    CHECK(my[0] == 12 && my[1] == 12 && my[2] == 255);
    mq.ratio = NAN;
    r->qmul(ma, mb, 1, 1, &mq, 0, my);
    CHECK(my[0] == 10);
    /* int8 lookups index by the byte: -1 reads entry 255 */
    uint8_t t[256], li[2] = {0xFF, 3}, lo[2];
    for (int v = 0; v < 256; v++)
        t[v] = (uint8_t)(255 - v);
    r->lut8(t, li, 2, lo);
    CHECK(lo[0] == 0 && lo[1] == 252);
    const int8_t sv[3] = {-128, 127, -1};
    CHECK(r->sum8(sv, 3, 1) == -2 && r->sum8(sv, 3, 0) == 128 + 127 + 255);
}
