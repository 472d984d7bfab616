/* The float32 channel-vector depthwise kernel (x86/dwconv_cv_avx512.c)
 * against the plane kernel (x86/dwconv_avx512.c) it stands in for on
 * small planes: the same bits, on random shapes (channel counts across
 * 16-channel blocks and tails, kernels 1×1 to 7×7, strides 1 and 2,
 * uneven padding, channel multiplier 2, every activation, with and
 * without bias) with signed zeros in the input and, in some cases, an
 * infinite weight (a tap in the top or bottom padding is skipped by
 * both, one in the left or right padding multiplies a zero in both, so
 * the same outputs are NaN; a NaN's sign, though, follows whichever
 * operand order the compiler gave each kernel's instructions, so NaNs
 * match as NaNs). Runs where the CPU has AVX-512. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/dispatch.h"
#include "kernels/gemm.h"
#include "kernels/kernels_f32.h"
#include "test.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static int64_t rint64(int64_t lo, int64_t hi)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return lo + (int64_t)(rng % (uint64_t)(hi - lo + 1));
}

static float rfloat(void) { return (float)rint64(-1000, 1000) / 997.0f; }

static int one_case(int it)
{
    mn_conv_params p = {.n = 1, .dh = 1, .dw = 1};
    int64_t mult = rint64(1, 4) == 1 ? 2 : 1;
    p.c = rint64(1, 40);
    p.m = p.group = p.c;
    p.m *= mult;
    p.kh = rint64(1, 7);
    p.kw = rint64(1, 7);
    p.sh = rint64(1, 2);
    p.sw = rint64(1, 2);
    p.pt = rint64(0, p.kh / 2 + 1);
    p.pl = rint64(0, p.kw / 2 + 1);
    int64_t pb = rint64(0, p.kh / 2), pr = rint64(0, p.kw / 2);
    p.h = rint64(1, 20);
    p.w = rint64(1, p.sw == 1 ? 17 : 33);
    int64_t eh = p.h + p.pt + pb - p.kh, ew = p.w + p.pl + pr - p.kw;
    if (eh < 0 || ew < 0)
        return 0;
    p.oh = eh / p.sh + 1;
    p.ow = ew / p.sw + 1;
    mn_dwconv_cv_fn cv = mn_dwconv_cv_f32_active(&p);
    mn_dwconv_plane_fn plane = mn_dwconv_f32_active(&p);
    if (!cv || !plane)
        return 0;
    int64_t khw = p.kh * p.kw, ohw = p.oh * p.ow;
    float *x = malloc(sizeof(float) * (size_t)(p.c * p.h * p.w));
    float *w = malloc(sizeof(float) * (size_t)(p.m * khw));
    float *b = malloc(sizeof(float) * (size_t)p.m);
    float *ya = malloc(sizeof(float) * (size_t)(p.m * ohw));
    float *yb = malloc(sizeof(float) * (size_t)(p.m * ohw));
    float *t = mn_malloc_aligned(mn_dwconv_cv_f32_scratch(&p));
    int bad = 0;
    if (!x || !w || !b || !ya || !yb || !t) {
        CHECK(!"out of memory");
        goto out;
    }
    for (int64_t i = 0; i < p.c * p.h * p.w; i++)
        x[i] = rint64(0, 5) == 0 ? (rint64(0, 1) ? -0.0f : 0.0f) : rfloat();
    for (int64_t i = 0; i < p.m * khw; i++)
        w[i] = rint64(0, 9) == 0 ? -0.0f : rfloat();
    if (it % 7 == 3) /* an infinite tap: NaN from padding zeros, alike */
        w[rint64(0, p.m * khw - 1)] = INFINITY;
    for (int64_t i = 0; i < p.m; i++)
        b[i] = rfloat();
    const float *bias = it % 3 ? b : NULL;
    mn_act act = {(mn_act_kind)(it % MN_ACT_COUNT), 0.0f, 6.0f};
    if (act.kind == MN_ACT_HARDSIGMOID || act.kind == MN_ACT_HARDSWISH)
        act.lo = 1.0f / 6.0f, act.hi = 0.5f;
    memset(ya, 0x7F, sizeof(float) * (size_t)(p.m * ohw));
    memset(yb, 0x3C, sizeof(float) * (size_t)(p.m * ohw));
    for (int64_t m = 0; m < p.m; m++)
        plane(&p, x + m / mult * p.h * p.w, w + m * khw, bias ? bias[m] : 0.0f,
              &act, ya + m * ohw);
    for (int64_t m0 = 0; m0 < p.m; m0 += 16)
        cv(&p, x, w + m0 * khw, bias, &act, m0,
           p.m - m0 < 16 ? (int)(p.m - m0) : 16, yb, t);
    for (int64_t i = 0; i < p.m * ohw; i++)
        bad += memcmp(&ya[i], &yb[i], sizeof *ya) != 0 &&
               !(isnan(ya[i]) && isnan(yb[i]));
    if (bad) {
        mn_test_fail(__FILE__, __LINE__,
                     "c%lld x%lld %lldx%lld k%lldx%lld s%lld,%lld pads "
                     "%lld,%lld act %d bias %d: cv differs from the plane "
                     "kernel",
                     (long long)p.c, (long long)mult, (long long)p.h,
                     (long long)p.w, (long long)p.kh, (long long)p.kw,
                     (long long)p.sh, (long long)p.sw, (long long)p.pt,
                     (long long)p.pl, (int)act.kind, bias != NULL);
    }
out:
    free(x), free(w), free(b), free(ya), free(yb);
    mn_free_aligned(t);
    return bad ? -1 : 1;
}

TEST(kernels_dwconv_cv_matches_plane_kernel)
{
    if (mn_isa_detect() < MN_ISA_AVX512)
        return;
    mn_isa_force(MN_ISA_AVX512);
    int ran = 0, bad = 0;
    for (int it = 0; it < 400 && bad < 3; it++) {
        int r = one_case(it);
        ran += r != 0;
        bad += r < 0;
    }
    CHECK(ran >= 200); /* most random shapes are small planes */
    mn_isa_force(MN_ISA_COUNT);
}
