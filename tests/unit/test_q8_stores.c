/* The AVX-512 VNNI 8-bit stores — the direct pixel tile (whole 32-pixel
 * blocks and lane-masked ones), the channel-vector tile (whole 8 × 32
 * tiles and partial ones), the rows tile of 1×1 batches and the GEMM tile
 * (contiguous and strided columns) — against mn_qgemm_store1, the
 * portable epilogue, in their two fast forms:
 *   - the fused residual add's vector form (x86/qadd_avx512.h, qres16),
 *     over random fixed points: scale ratios from 2^-14 to 256, zero
 *     points at the type's ends and inside, both output types, narrowed
 *     conv bounds, exact ties, and cases mn_qadd_fixed_vec_ok takes close
 *     to its bound;
 *   - the unclamped requantization with saturating narrowing
 *     (mn_qgemm_epi.fast), on multipliers that tie (0.5, 1.5), saturate
 *     at either end, and ordinary ones, both output types. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/qgemm.h"
#include "ops_test_util.h"
#include "test.h"

enum { CH = 32, RS = 41, RES = CH * RS * 4 + 64 };

typedef struct qres_case {
    mn_qadd_fixed fx;
    int32_t add[CH];
    float mult[CH];
    mn_qgemm_epi e;
    uint8_t buf[2 * RES], want[2 * RES]; /* y, then the residual at + RES */
} qres_case;

/* Uniform in [0, 1). */
static float u01(void)
{
    return 0.5f * (otu_float() + 1.0f);
}

/* The products of a[i] (4 int8) and the 4 bytes at x. */
static int32_t dot4(int32_t a, const uint8_t *x)
{
    int32_t acc = 0;
    for (int t = 0; t < 4; t++)
        acc += (int32_t)x[t] * (int8_t)((uint32_t)a >> (8 * t));
    return acc;
}

/* A random fixed point the vector form takes (0: the draw was refused;
 * *slack: 2^31 minus its bound). */
static int draw(qres_case *c, int sgn, int mode, int64_t *slack)
{
    /* mode 1, ties: powers of two (1/2 · ra: every odd b − zb a half,
     * negative ones included); mode 2, edge: both ratios in [2^-9,
     * 2^-2) and both zero points at an end, where the bound refuses some
     * and takes others close to it */
    int edge = mode == 2;
    float ra = edge        ? exp2f(-9.0f + 7.0f * u01())
               : mode == 1 ? exp2f((float)otu_int(-8, 7))
                           : exp2f(-14.0f + 22.0f * u01());
    float rb = mode == 1   ? ra * exp2f((float)otu_int(-3, 0))
               : edge || otu_int(0, 1) ? ra * (0.5f + u01())
                                       : exp2f(-14.0f + 22.0f * u01());
    if (!mn_qadd_fixed_init(ra, rb, &c->fx))
        return 0;
    int32_t lo = sgn ? -128 : 0, hi = sgn ? 127 : 255;
    int ends = edge ? 2 : (int)otu_int(0, 2);
    c->fx.za = ends ? (otu_int(0, 1) ? lo : hi) : otu_int(lo, hi);
    c->fx.zb = ends == 2 ? (otu_int(0, 1) ? lo : hi) : otu_int(lo, hi);
    c->fx.zc = otu_int(lo, hi);
    if (!mn_qadd_fixed_vec_ok(&c->fx, sgn))
        return 0;
    int64_t ea = c->fx.za - lo > hi - c->fx.za ? c->fx.za - lo : hi - c->fx.za;
    int64_t eb = c->fx.zb - lo > hi - c->fx.zb ? c->fx.zb - lo : hi - c->fx.zb;
    *slack = ((int64_t)1 << 31) - ((int64_t)c->fx.ma * ea +
                                   (int64_t)c->fx.mb * eb +
                                   ((int64_t)1 << (c->fx.shift - 1)));
    for (int i = 0; i < CH; i++) {
        c->add[i] = (int32_t)otu_int(-3000, 3000);
        c->mult[i] = 0.01f + 0.05f * u01();
    }
    mn_qgemm_epi e = {.add = c->add, .mult = c->mult,
                      .yzp = otu_int(lo, hi), .lo = lo, .hi = hi,
                      .out_signed = sgn, .res = &c->fx, .res_off = RES};
    if (otu_int(0, 3) == 0) { /* a conv with a fused ReLU-like range */
        e.lo = e.yzp;
        e.hi = e.lo + otu_int(0, hi - (int32_t)e.lo);
    }
    c->e = e;
    for (size_t i = 0; i < sizeof c->buf; i++)
        c->buf[i] = (uint8_t)(i < RES ? 0xA5 : otu_rand());
    memcpy(c->want, c->buf, sizeof c->want);
    return 1;
}

/* One store form (0-1 direct pixel tile: whole block, masked; 2-3
 * channel-vector tile: whole, partial; 4 rows tile; 5-6 GEMM tile at
 * column stride 1, 3) on random weights and activations with c->e into
 * c->buf, and mn_qgemm_store1 into c->want; whether they agree. */
static int run_form(const mn_kernels_q8 *kr, qres_case *c, int form)
{
    int32_t a[CH], off[1] = {0};
    uint8_t base[4 * 32 + 64];
    for (int i = 0; i < CH; i++)
        a[i] = (int32_t)otu_rand();
    for (size_t i = 0; i < sizeof base; i++)
        base[i] = (uint8_t)otu_rand();
    if (form <= 1) {
        uint16_t mask[2] = {0xFFFF, form ? 0x0F0F : 0xFFFF};
        int64_t yoff[2] = {0, 16};
        kr->direct(1, a, off, base, 8, mask, yoff, &c->e, 0, c->buf, RS);
        for (int i = 0; i < 8; i++)
            for (int l = 0, n = 0; l < 32; l++)
                if (mask[l / 16] >> (l % 16) & 1)
                    mn_qgemm_store1(&c->e, i, dot4(a[i], base + 4 * l),
                                    c->want + i * RS + n++);
    } else if (form <= 3) {
        int np = form == 2 ? 8 : (int)otu_int(1, 8);
        int nc = form == 2 ? 32 : (int)otu_int(1, 32);
        const uint8_t *px[8];
        for (int j = 0; j < 8; j++)
            px[j] = base + 4 * (j < np ? 3 * j : 0);
        kr->direct_cv(1, a, off, px, np, nc, &c->e, 0, c->buf, RS, a, 1);
        for (int i = 0; i < nc; i++)
            for (int j = 0; j < np; j++)
                mn_qgemm_store1(&c->e, i, dot4(a[i], px[j]),
                                c->want + i * RS + j);
    } else if (form == 4) { /* pixel j's channels at j·RS */
        int np = (int)otu_int(1, 8), nc = (int)otu_int(1, 32);
        const uint8_t *px[8];
        for (int j = 0; j < 8; j++)
            px[j] = base + 4 * (j < np ? 2 * j : 0);
        kr->rows_cv(1, a, off, px, np, nc, &c->e, 0, c->buf, RS, a, 1);
        for (int i = 0; i < nc; i++)
            for (int j = 0; j < np; j++)
                mn_qgemm_store1(&c->e, i, dot4(a[i], px[j]),
                                c->want + j * RS + i);
    } else {
        int mr = kr->mr < CH ? kr->mr : CH;
        int nr = kr->nr < 32 ? kr->nr : 32;
        int64_t cs = form == 5 ? 1 : 3, rs = form == 5 ? RS : 1;
        kr->tile(1, a, base, mr, nr, &c->e, 0, c->buf, rs, cs);
        for (int i = 0; i < mr; i++)
            for (int j = 0; j < nr; j++)
                mn_qgemm_store1(&c->e, i, dot4(a[i], base + 4 * j),
                                c->want + i * rs + j * cs);
    }
    return memcmp(c->buf, c->want, RES) == 0;
}

/* The VNNI kernels in *kr and a case to fill, or NULL: no VNNI on this
 * CPU (nothing to test), or out of memory (a failed check). */
static qres_case *new_case(const mn_kernels_q8 **kr)
{
    *kr = mn_kernels_q8_avx512vnni();
    if (!*kr || mn_isa_detect() < MN_ISA_AVX512VNNI)
        return NULL;
    qres_case *c = malloc(sizeof *c);
    CHECK(c != NULL);
    return c;
}

TEST(qres_vector_form_matches_portable_store)
{
    const mn_kernels_q8 *kr;
    qres_case *c = new_case(&kr);
    if (!c)
        return;
    int ran = 0, near = 0;
    otu_seed(91);
    for (int it = 0; it < 3000 && ran < 400; it++) {
        int sgn = it % 2, form = ran % 7;
        int64_t slack;
        if (!draw(c, sgn, it % 3, &slack))
            continue;
        ran++;
        near += slack < ((int64_t)1 << 28);
        if (!run_form(kr, c, form))
            mn_test_fail(__FILE__, __LINE__,
                         "form %d sgn %d ma %d mb %d shift %d za %d zb %d",
                         form, sgn, c->fx.ma, c->fx.mb, c->fx.shift,
                         c->fx.za, c->fx.zb);
    }
    CHECK(ran >= 400);
    CHECK(near >= 10); /* the bound's edge is exercised */
    free(c);
}

/* The unclamped requantization (e.fast) in every store form. */
TEST(q8_fast_requant_matches_portable_store)
{
    const mn_kernels_q8 *kr;
    qres_case *c = new_case(&kr);
    if (!c)
        return;
    static const float ties[4] = {0.5f, 1.5f, 0.25f, 2.5f};
    otu_seed(93);
    for (int it = 0; it < 420; it++) {
        int sgn = it % 2, form = it % 7, kind = it / 7 % 3;
        int32_t lo = sgn ? -128 : 0, hi = sgn ? 127 : 255;
        for (int i = 0; i < CH; i++) {
            c->add[i] = (int32_t)otu_int(-3000, 3000);
            /* ties; saturation at either end (|mult| up to 200);
             * ordinary scales */
            c->mult[i] = kind == 0   ? ties[(i + it) % 4]
                         : kind == 1 ? (otu_int(0, 1) ? 1 : -1) *
                                           (0.5f + 200.0f * u01())
                                     : 0.0005f + 0.03f * u01();
        }
        mn_qgemm_epi e = {.add = c->add, .mult = c->mult,
                          .yzp = otu_int(lo, hi), .lo = lo, .hi = hi,
                          .out_signed = sgn};
        e.fast = mn_q8_epi_fast(&e, CH, 4);
        CHECK(e.fast);
        c->e = e;
        for (size_t i = 0; i < sizeof c->buf; i++)
            c->buf[i] = (uint8_t)(i < RES ? 0xA5 : otu_rand());
        memcpy(c->want, c->buf, sizeof c->want);
        if (!run_form(kr, c, form))
            mn_test_fail(__FILE__, __LINE__, "form %d sgn %d kind %d", form,
                         sgn, kind);
    }
    free(c);
}

/* The fast form's bound: refused for a non-finite multiplier or products
 * that may reach 2^30, taken below. */
TEST(q8_fast_requant_bound)
{
    int32_t add[2] = {0, 1000};
    float mult[2] = {0.01f, 0.02f};
    mn_qgemm_epi e = {.add = add, .mult = mult};
    CHECK(mn_q8_epi_fast(&e, 2, 64));
    mult[1] = 1.0f / 0.0f;
    CHECK(!mn_q8_epi_fast(&e, 2, 64));
    mult[1] = 0.0f / 0.0f;
    CHECK(!mn_q8_epi_fast(&e, 2, 64));
    mult[1] = 1e3f; /* (1000 + 64·32640)·1000 > 2^30 */
    CHECK(!mn_q8_epi_fast(&e, 2, 64));
    mult[1] = 1e3f / 4.0f; /* 2089960·250 < 2^30 */
    CHECK(mn_q8_epi_fast(&e, 2, 64));
    e.mult = NULL; /* int32 output */
    CHECK(!mn_q8_epi_fast(&e, 2, 64));
}

/* The bound refuses the fixed points whose sum and half leave int32 (both
 * ratios just under 2^-8, zero points at the ends), takes ratios from 1/4
 * up whatever the zero points. */
TEST(qres_bound_refuses_int32_overflow)
{
    mn_qadd_fixed fx;
    CHECK(mn_qadd_fixed_init(0x1.fffp-9f, 0x1.ffep-9f, &fx));
    fx.za = 0, fx.zb = 0, fx.zc = 0;
    CHECK((int64_t)fx.ma * 255 + (int64_t)fx.mb * 255 +
              ((int64_t)1 << (fx.shift - 1)) >=
          ((int64_t)1 << 31));
    CHECK(!mn_qadd_fixed_vec_ok(&fx, 0));
    fx.za = fx.zb = -128;
    CHECK(!mn_qadd_fixed_vec_ok(&fx, 1));
    fx.za = fx.zb = 128; /* 127 from either end */
    CHECK(mn_qadd_fixed_vec_ok(&fx, 0));
    otu_seed(92);
    for (int it = 0; it < 2000; it++) {
        float ra = exp2f(-2.0f + 10.0f * u01());
        float rb = exp2f(-14.0f + 22.0f * u01());
        if (!mn_qadd_fixed_init(it % 2 ? ra : rb, it % 2 ? rb : ra, &fx))
            continue;
        int sgn = it % 3 == 0;
        fx.za = sgn ? -128 : 255, fx.zb = sgn ? 127 : 0;
        CHECK(mn_qadd_fixed_vec_ok(&fx, sgn));
    }
}
