/* The dense direct 8-bit convolution (src/kernels/qdirect.h) against the
 * reference int8 convolution, bit for bit: the driver forced on random
 * shapes the automatic choice may refuse (1..13 channels per group, so
 * quads padded with zero weights), odd widths, padding, strides 1-3,
 * dilation, groups, several images, int32 output with the zero-point
 * correction and requantized uint8/int8 output (narrowed bounds), one
 * thread and the pool; and QLinearConv / ConvInteger through prepare on
 * ResNet-like layers, where prepare must pick the direct kernel at the
 * VNNI level, against the reference path (1 and 2 threads, every level). */
#include <stdlib.h>
#include <string.h>
#include "core/pool.h"
#include "kernels/qdirect.h"
#include "q8_test_util.h"

/* One random convolution through mn_q8_direct_run (uint8 x, zero point
 * zp, int8 weights) against mn_ref_conv2d_q8. */
static void check_direct(const mn_kernels_q8 *kr, const mn_conv_params *p,
                         int out_mode, mn_pool *pool, int tiles)
{
    mn_ctx ctx = {{0}};
    mn_q8_direct *d = NULL;
    int64_t cg = p->c / p->group, mg = p->m / p->group;
    int64_t k = cg * p->kh * p->kw, ohw = p->oh * p->ow;
    int64_t nx = p->n * p->c * p->h * p->w, ny = p->n * p->m * ohw;
    int32_t zp = (int32_t)otu_int(0, 255);
    CHECK_OK(mn_q8_direct_create(kr, p, tiles, &d, &ctx), &ctx);
    if (!d)
        return;
    CHECK(d->cv == (tiles == MN_Q8D_CHANNEL));
    size_t a_group = (mn_q8_direct_a_bytes(kr, d, mg) + 63) / 64 * 64;
    uint8_t *x = malloc((size_t)nx), *w = malloc((size_t)(p->m * k));
    uint8_t *a = mn_malloc_aligned(a_group * (size_t)p->group);
    int32_t *acc = malloc((size_t)ny * 4), *rowsum = malloc((size_t)p->m * 4);
    int32_t *addi = malloc((size_t)p->m * 4);
    int32_t *add = malloc((size_t)p->m * 4);
    float *mult = malloc((size_t)p->m * 4);
    char *y = malloc((size_t)ny * 4 + 64);
    void *rs = malloc(mn_ref_conv2d_q8_scratch(p) + 64);
    void *sc = mn_malloc_aligned(mn_q8_direct_scratch(d));
    if (!x || !w || !a || !acc || !rowsum || !addi || !add || !mult || !y ||
        !rs || !sc) {
        CHECK(0);
        goto out;
    }
    for (int64_t i = 0; i < nx; i++)
        x[i] = (uint8_t)otu_rand();
    for (int64_t i = 0; i < p->m * k; i++)
        w[i] = (uint8_t)otu_rand();
    for (int64_t g = 0; g < p->group; g++)
        mn_q8_direct_pack_a(kr, d, mg, w + g * mg * k, 0,
                            a + (size_t)g * a_group);
    mn_q8_rowsum(p->m, k, w, k, 0, rowsum);
    mn_q8_operand xo = {.data = x, .zp = &zp, .n_zp = 1};
    mn_q8_operand wo = {.data = w, .is_signed = 1, .n_zp = 1};
    mn_ref_conv2d_q8(p, &xo, &wo, acc, rs);
    for (int64_t r = 0; r < p->m; r++) {
        addi[r] = -zp * rowsum[r];
        add[r] = (int32_t)(otu_int(-5000, 5000) - (int64_t)zp * rowsum[r]);
        mult[r] = 0.0004f + 0.003f * otu_float();
    }
    mn_qgemm_epi e = {.add = add, .mult = out_mode ? mult : NULL,
                      .add_i32 = addi, .yzp = out_mode == 2 ? -7 : 9,
                      .lo = out_mode == 2 ? -100 : 0,
                      .hi = out_mode == 2 ? 127 : 200,
                      .out_signed = out_mode == 2};
    int es = out_mode ? 1 : 4;
    memset(y, 0x5A, (size_t)ny * 4 + 64);
    mn_q8_direct_run(kr, pool, d, a, a_group, x, (uint8_t)zp, 0, &e, y, sc);
    int bad = 0;
    for (int64_t i = 0; i < ny; i++) {
        int64_t r = i / ohw % p->m;
        int32_t want = acc[i], got;
        if (out_mode) {
            uint8_t b = (uint8_t)y[i];
            got = out_mode == 2 ? (int8_t)b : b;
            /* the reference's requantization, from its int32 sum: add
             * holds bias − zp·rowsum, acc = Σ(x − zp)·w */
            want = mn_ref_requantize((int64_t)acc[i] + (int64_t)add[r] +
                                         (int64_t)zp * rowsum[r],
                                     mult[r], (int32_t)e.yzp, (int32_t)e.lo,
                                     (int32_t)e.hi);
        } else {
            memcpy(&got, y + i * 4, 4);
        }
        bad += got != want;
    }
    for (int i = 0; i < 64; i++) /* nothing written past y */
        bad += (uint8_t)y[ny * es + i] != 0x5A;
    if (bad)
        mn_test_fail(__FILE__, __LINE__,
                     "direct n%lld c%lld m%lld g%lld %lldx%lld k%lldx%lld "
                     "s%lld,%lld d%lld p%lld,%lld out%d tiles%d: %d wrong",
                     (long long)p->n, (long long)p->c, (long long)p->m,
                     (long long)p->group, (long long)p->h, (long long)p->w,
                     (long long)p->kh, (long long)p->kw, (long long)p->sh,
                     (long long)p->sw, (long long)p->dh, (long long)p->pt,
                     (long long)p->pl, out_mode, tiles, bad);
out:
    free(x), free(w), free(acc), free(rowsum), free(addi), free(add);
    free(mult), free(y), free(rs);
    mn_free_aligned(a);
    mn_free_aligned(sc);
    mn_q8_direct_destroy(d);
}

/* Output size with pads pt/pl before and pb/pr after; 0 if empty. */
static int geometry(mn_conv_params *p, int64_t pb, int64_t pr)
{
    int64_t eh = p->dh * (p->kh - 1) + 1, ew = p->dw * (p->kw - 1) + 1;
    int64_t hh = p->h + p->pt + pb - eh, ww = p->w + p->pl + pr - ew;
    if (hh < 0 || ww < 0)
        return 0;
    p->oh = hh / p->sh + 1;
    p->ow = ww / p->sw + 1;
    return 1;
}

TEST(qdirect_forced_vs_ref)
{
    const mn_kernels_q8 *kr = mn_kernels_q8_avx512vnni();
    mn_ctx ctx = {{0}};
    mn_pool *pool = NULL;
    if (!kr || mn_isa_detect() < MN_ISA_AVX512VNNI)
        return; /* no direct kernel on this CPU */
    CHECK_OK(mn_pool_create(2, 0, &pool, &ctx), &ctx);
    otu_seed(31);
    int ran = 0;
    for (int it = 0; it < 300; it++) {
        mn_conv_params p = {.n = otu_int(1, 2), .h = otu_int(1, 20),
                            .w = otu_int(1, 40), .kh = otu_int(1, 5),
                            .kw = otu_int(1, 5), .sh = otu_int(1, 3),
                            .dh = otu_int(1, 2), .pt = otu_int(0, 2),
                            .pl = otu_int(0, 2), .group = otu_int(1, 2)};
        p.sw = it % 5 ? p.sh : otu_int(1, 3);
        p.dw = it % 7 ? p.dh : otu_int(1, 2);
        p.c = p.group * otu_int(1, 13);
        p.m = p.group * otu_int(1, 21);
        if (it % 10 == 0) { /* wide channel counts, more row panels */
            p.c = p.group * otu_int(14, 70);
            p.m = p.group * otu_int(20, 70);
        }
        if (!geometry(&p, otu_int(0, 2), otu_int(0, 2)) ||
            !mn_q8_direct_can(kr, &p))
            continue;
        check_direct(kr, &p, it % 3, it % 2 ? pool : NULL, MN_Q8D_PIXEL);
        check_direct(kr, &p, (it + 1) % 3, it % 2 ? NULL : pool,
                     MN_Q8D_CHANNEL);
        ran++;
    }
    CHECK(ran > 200);
    /* work enough for the pool: several pixel tiles and row ranges, a
     * stride-2 and a 1×1 stride-2 layer, an odd width */
    mn_conv_params big[] = {
        {.n = 1, .c = 64, .h = 30, .w = 31, .m = 72, .kh = 3, .kw = 3,
         .sh = 1, .sw = 1, .dh = 1, .dw = 1, .pt = 1, .pl = 1, .group = 1},
        {.n = 2, .c = 36, .h = 29, .w = 33, .m = 40, .kh = 3, .kw = 3,
         .sh = 2, .sw = 2, .dh = 1, .dw = 1, .pt = 1, .pl = 1, .group = 1},
        {.n = 1, .c = 132, .h = 15, .w = 15, .m = 100, .kh = 1, .kw = 1,
         .sh = 2, .sw = 2, .dh = 1, .dw = 1, .group = 1},
        {.n = 1, .c = 3, .h = 45, .w = 71, .m = 16, .kh = 7, .kw = 7,
         .sh = 2, .sw = 2, .dh = 1, .dw = 1, .pt = 3, .pl = 3, .group = 1},
        /* rows of 64+ dwords (the 64-wide x4 builder), its tail */
        {.n = 1, .c = 8, .h = 5, .w = 150, .m = 9, .kh = 3, .kw = 3,
         .sh = 1, .sw = 1, .dh = 1, .dw = 1, .pt = 1, .pl = 1, .group = 1},
        {.n = 1, .c = 5, .h = 6, .w = 261, .m = 11, .kh = 3, .kw = 3,
         .sh = 2, .sw = 2, .dh = 1, .dw = 1, .pt = 1, .pl = 1, .group = 1},
        {.n = 1, .c = 7, .h = 5, .w = 140, .m = 8, .kh = 5, .kw = 5,
         .sh = 2, .sw = 2, .dh = 1, .dw = 2, .pt = 2, .pl = 3, .group = 1},
        {.n = 1, .c = 12, .h = 3, .w = 200, .m = 10, .kh = 1, .kw = 1,
         .sh = 1, .sw = 1, .dh = 1, .dw = 1, .group = 1},
        /* small images (channel-vector tiles by default): a channel
         * panel's tail (100 = 3·32 + 4), a pixel tail (49, 196 = 8k + 4) */
        {.n = 1, .c = 96, .h = 7, .w = 7, .m = 100, .kh = 3, .kw = 3,
         .sh = 1, .sw = 1, .dh = 1, .dw = 1, .pt = 1, .pl = 1, .group = 1},
        {.n = 1, .c = 40, .h = 14, .w = 14, .m = 70, .kh = 1, .kw = 1,
         .sh = 1, .sw = 1, .dh = 1, .dw = 1, .group = 1},
        /* inputs of 1 to 3 channels (column quads, q8_x4.h's taps4): an
         * RGB stem, a grayscale 5×5, a 4-wide kernel (one whole quad),
         * stride 4 (the portable row builder), rows past 64 dwords */
        {.n = 1, .c = 3, .h = 66, .w = 81, .m = 16, .kh = 3, .kw = 3,
         .sh = 2, .sw = 2, .dh = 1, .dw = 1, .pt = 1, .pl = 1, .group = 1},
        {.n = 2, .c = 1, .h = 28, .w = 28, .m = 20, .kh = 5, .kw = 5,
         .sh = 1, .sw = 1, .dh = 1, .dw = 1, .pt = 2, .pl = 2, .group = 1},
        {.n = 1, .c = 2, .h = 19, .w = 37, .m = 33, .kh = 4, .kw = 4,
         .sh = 2, .sw = 2, .dh = 1, .dw = 1, .pt = 1, .pl = 2, .group = 1},
        {.n = 1, .c = 3, .h = 40, .w = 52, .m = 12, .kh = 8, .kw = 8,
         .sh = 4, .sw = 4, .dh = 1, .dw = 1, .pt = 2, .pl = 2, .group = 1},
        {.n = 1, .c = 3, .h = 9, .w = 300, .m = 8, .kh = 3, .kw = 3,
         .sh = 1, .sw = 1, .dh = 1, .dw = 1, .pt = 1, .pl = 1, .group = 1}};
    for (size_t i = 0; i < sizeof big / sizeof *big; i++) {
        if (!geometry(&big[i], big[i].pt, big[i].pl))
            continue;
        for (int mode = 0; mode < 3; mode++)
            for (int t = MN_Q8D_PIXEL; t <= MN_Q8D_CHANNEL; t++) {
                check_direct(kr, &big[i], mode, NULL, t);
                check_direct(kr, &big[i], mode, pool, t);
            }
    }
    mn_pool_destroy(pool);
}

/* The ops: ResNet-like layers (3×3 stride 1 and 2, 1×1 stride 2, odd
 * channel counts that still take the direct kernel) through prepare,
 * against the reference path at every level, 1 and 2 threads; at the
 * VNNI level prepare must have chosen the direct kernel. */
TEST(qdirect_ops_pick_direct_and_match_ref)
{
    mn_isa lv[4];
    int nl = fast_levels(lv);
    mn_ctx ctx = {{0}};
    mn_pool *pool = NULL;
    CHECK_OK(mn_pool_create(2, 0, &pool, &ctx), &ctx);
    cparams cs[] = {
        {.n = 1, .c = 64, .h = 20, .w = 19, .m = 64, .kh = 3, .kw = 3, .s = 1,
         .d = 1, .pt = 1, .pl = 1, .pb = 1, .pr = 1, .group = 1, .bias = 1,
         .per_channel = 1},
        {.n = 2, .c = 33, .h = 17, .w = 23, .m = 45, .kh = 3, .kw = 3, .s = 2,
         .d = 1, .pt = 1, .pl = 1, .pb = 1, .pr = 1, .group = 1, .xs = 1,
         .ys = 1},
        {.n = 1, .c = 132, .h = 14, .w = 13, .m = 70, .kh = 1, .kw = 1,
         .s = 2, .d = 1, .group = 1, .wu = 1, .per_channel = 1},
        {.n = 1, .c = 60, .h = 9, .w = 11, .m = 26, .kh = 3, .kw = 3, .s = 1,
         .d = 2, .pt = 2, .pl = 2, .pb = 2, .pr = 2, .group = 2, .bias = 1},
        {.n = 1, .c = 48, .h = 12, .w = 12, .m = 52, .kh = 1, .kw = 1,
         .s = 1, .d = 1, .group = 1, .xs = 1, .bias = 1}};
    otu_seed(32);
    for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) {
        cs[i].want = 3;
        check_conv(&cs[i], 1, pool, lv, nl, MN_SPARSE_AUTO);
        check_conv(&cs[i], 0, pool, lv, nl, MN_SPARSE_AUTO);
    }
    mn_pool_destroy(pool);
}

/* The tile's requantizing store against the portable one
 * (mn_qgemm_store1 → mn_ref_requantize) on edge multipliers: exact
 * half-way products (mult 0.5, 1.5: round half to even), huge and tiny
 * ones (saturation at either end), ±inf and NaN products (0 · inf), zero;
 * narrowed bounds and both output types. */
TEST(qdirect_store_edges)
{
    const mn_kernels_q8 *kr = mn_kernels_q8_avx512vnni();
    if (!kr || mn_isa_detect() < MN_ISA_AVX512VNNI)
        return;
    static const float mults[8] = {0.5f, 1.5f, 1e30f, -1e30f, 1e-12f,
                                   1.0f / 0.0f, -1.0f / 0.0f, 0.0f};
    int32_t a[8], off[1] = {0};
    uint8_t base[256 + 128];
    int32_t add[8];
    float mult[8];
    int32_t addi[8] = {0};
    otu_seed(33);
    for (int it = 0; it < 40; it++) {
        for (int i = 0; i < 8; i++)
            a[i] = (int32_t)otu_rand();
        for (size_t i = 0; i < sizeof base; i++)
            base[i] = (uint8_t)(it % 4 == 0 ? 0 : otu_rand());
        for (int i = 0; i < 8; i++) {
            /* every other row 0 on all-zero input: 0 · ±inf = NaN */
            add[i] = it % 4 == 0 && i % 2 ? 0 : (int32_t)otu_int(-600, 600);
            mult[i] = mults[(i + it) % 8];
            if (it % 4 == 0 && i == 0) { /* acc 0: a float32 tie */
                uint32_t bits = 0x3ad86581u; /* 30588·m: 50.5 in float */
                add[i] = 30588;
                memcpy(&mult[i], &bits, 4);
            }
        }
        int sgn = it % 2;
        mn_qgemm_epi e = {.add = add, .mult = mult, .add_i32 = addi,
                          .yzp = sgn ? otu_int(-128, 127) : otu_int(0, 255),
                          .lo = sgn ? -128 : 0, .hi = sgn ? 127 : 255,
                          .out_signed = sgn};
        if (it % 3 == 2) { /* a fused ReLU6-like range */
            e.lo = e.yzp > 200 ? 200 : e.yzp < -100 ? -100 : e.yzp;
            e.hi = e.lo + 27;
        }
        uint16_t mask[2] = {0xFFFF, (uint16_t)(it % 5 ? 0xFFFF : 0x0F0F)};
        int64_t yoff[2] = {0, 16};
        uint8_t y[8 * 40], want[8 * 40];
        memset(y, 0xA5, sizeof y);
        memset(want, 0xA5, sizeof want);
        kr->direct(1, a, off, base, 8, mask, yoff, &e, 0, y, 40);
        for (int i = 0; i < 8; i++)
            for (int l = 0, n = 0; l < 32; l++) {
                if (!(mask[l / 16] >> (l % 16) & 1))
                    continue;
                int32_t acc = 0;
                for (int t = 0; t < 4; t++)
                    acc += (int32_t)base[4 * l + t] *
                           (int8_t)((uint32_t)a[i] >> (8 * t));
                mn_qgemm_store1(&e, i, acc, &want[i * 40 + n++]);
            }
        CHECK(memcmp(y, want, sizeof y) == 0);
    }
}

/* The channel-vector tile's store (requantized in channel lanes, then
 * transposed) against the portable one on the same edge multipliers, for
 * 1..8 pixels × 1..32 channels, int32 output, and a fused residual add
 * (mn_qgemm_store1 adds it from the same offset). */
TEST(qdirect_cv_store_edges)
{
    const mn_kernels_q8 *kr = mn_kernels_q8_avx512vnni();
    if (!kr || !kr->direct_cv || mn_isa_detect() < MN_ISA_AVX512VNNI)
        return;
    static const float mults[8] = {0.5f, 1.5f, 1e30f, -1e30f, 1e-12f,
                                   1.0f / 0.0f, -1.0f / 0.0f, 0.0f};
    enum { RS = 11, CH = 32 };
    int32_t a[CH], off[1] = {0}, add[CH], addi[CH];
    float mult[CH];
    uint8_t base[8 * 4 + 64];
    /* y, then the residual at y + RES */
    enum { RES = CH * RS * 4 + 64 };
    uint8_t buf[2 * RES];
    otu_seed(34);
    for (int it = 0; it < 120; it++) {
        int np = 1 + it % 8, nc = 1 + (it * 7) % 32, mode = it % 4;
        for (int i = 0; i < CH; i++) {
            a[i] = (int32_t)otu_rand();
            add[i] = (int32_t)otu_int(-600, 600);
            addi[i] = (int32_t)otu_int(-100000, 100000);
            mult[i] = it % 3 ? 0.003f + 0.002f * otu_float()
                             : mults[(i + it) % 8];
        }
        for (size_t i = 0; i < sizeof base; i++)
            base[i] = (uint8_t)otu_rand();
        const uint8_t *px[8];
        for (int j = 0; j < 8; j++)
            px[j] = base + 4 * (j < np ? j : 0);
        int sgn = mode == 2;
        mn_qadd_fixed fx;
        CHECK(mn_qadd_fixed_init(0.9f + 0.5f * otu_float(),
                                 0.8f + 0.6f * otu_float(), &fx));
        fx.za = otu_int(0, 255), fx.zb = otu_int(0, 255);
        fx.zc = sgn ? otu_int(-128, 127) : otu_int(0, 255);
        if (sgn)
            fx.za -= 128, fx.zb -= 128;
        mn_qgemm_epi e = {.add = add, .mult = mode ? mult : NULL,
                          .add_i32 = addi,
                          .yzp = sgn ? otu_int(-128, 127) : otu_int(0, 255),
                          .lo = sgn ? -128 : 0, .hi = sgn ? 127 : 255,
                          .out_signed = sgn};
        if (mode == 3) { /* a fused residual add, ReLU6-like range */
            e.res = &fx;
            e.res_off = RES;
            e.lo = e.yzp > 200 ? 200 : (int32_t)e.yzp;
            e.hi = e.lo + 40;
        }
        for (size_t i = 0; i < sizeof buf; i++)
            buf[i] = (uint8_t)(i < RES ? 0xA5 : otu_rand());
        uint8_t want[2 * RES]; /* store1 reads the residual at + RES */
        memcpy(want, buf, sizeof want);
        kr->direct_cv(1, a, off, px, np, nc, &e, 0, buf, RS, a, 1);
        int es = mode ? 1 : 4;
        for (int i = 0; i < nc; i++)
            for (int j = 0; j < np; j++) {
                int32_t acc = 0;
                for (int t = 0; t < 4; t++)
                    acc += (int32_t)px[j][t] *
                           (int8_t)((uint32_t)a[i] >> (8 * t));
                mn_qgemm_store1(&e, i, acc, want + (i * RS + j) * es);
            }
        if (memcmp(buf, want, RES))
            mn_test_fail(__FILE__, __LINE__, "cv store np%d nc%d mode%d",
                         np, nc, mode);
    }
}

/* x4 built by bands of rows (2 threads, 3 to 9 bands) is byte for byte the
 * x4 built by planes, on shapes with padding, strides 1 and 2, a 1×1 whose
 * planes are the input rows (bands of columns then), int8 flips, and
 * bands outnumbering the rows. */
TEST(qdirect_x4_bands_match_planes)
{
    mn_ctx ctx = {{0}};
    mn_pool *pool = NULL;
    if (mn_isa_detect() < MN_ISA_AVX512)
        return; /* bands need the vector row builder */
    CHECK_OK(mn_pool_create(2, 1 << 20, &pool, &ctx), &ctx);
    otu_seed(57);
    int banded = 0;
    for (int it = 0; it < 40; it++) {
        mn_conv_params p = {.n = 1, .group = 1, .dh = 1, .dw = 1};
        p.kh = p.kw = it % 4 == 0 ? 1 : 3;
        p.sh = p.sw = it % 3 == 2 ? 2 : 1;
        p.pt = p.pl = p.kh == 1 ? 0 : otu_int(0, 1);
        p.c = otu_int(40, 90);
        p.m = 8;
        p.h = it % 5 == 4 ? 2 : otu_int(20, 60);
        p.w = otu_int(20, 90);
        if (!geometry(&p, p.pt, p.pl))
            continue;
        mn_q8_x4 g;
        mn_q8_x4_init(&p, &g);
        size_t sb = mn_q8_x4_scratch(&g);
        banded += mn_q8_x4_bytes(&g) >= 65536; /* the pool's threshold */
        uint8_t *x = malloc((size_t)(p.c * p.h * p.w));
        uint8_t *s0 = mn_malloc_aligned(sb), *s1 = mn_malloc_aligned(sb);
        if (!x || !s0 || !s1) {
            CHECK(0);
            free(x), mn_free_aligned(s0), mn_free_aligned(s1);
            break;
        }
        for (int64_t i = 0; i < p.c * p.h * p.w; i++)
            x[i] = (uint8_t)otu_rand();
        memset(s0, 0x3C, sb);
        memset(s1, 0x3C, sb);
        uint8_t pad = (uint8_t)otu_rand(), flip = it % 2 ? 0x80 : 0;
        uint8_t *a = mn_q8_x4_build(pool, &g, x, pad, flip, 0, s0);
        uint8_t *b = mn_q8_x4_build(pool, &g, x, pad, flip,
                                    (int)otu_int(3, 9), s1);
        CHECK(a - s0 == b - s1);
        CHECK(memcmp(a, b, mn_q8_x4_bytes(&g) + MN_Q8_X4_SLACK) == 0);
        free(x), mn_free_aligned(s0), mn_free_aligned(s1);
    }
    CHECK(banded >= 20);
    mn_pool_destroy(pool);
}
