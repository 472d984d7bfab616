/* The fast 8-bit kernels against the reference ones, bit for bit, at every
 * ISA level the CPU has: the int8 GEMM (src/kernels/qgemm.h) on random
 * shapes with odd m/n/k and tails, plain and transposed activations,
 * zero points, per-row scales, narrowed (ReLU-like) bounds, int32 output;
 * QLinearConv / ConvInteger through their prepare hook on random convs
 * (grouped, depthwise, strided, padded, dilated; uint8/int8 activations,
 * int8 or zero-point-128 uint8 weights) against the reference path, with
 * one and two threads; and a quantized fashion_cnn session: identical
 * outputs for ref / fast, 1 / 2 threads, and no allocation in run. */
#include <stdlib.h>
#include <string.h>
#include "test.h"
#include "ops_test_util.h"
#include "minnow/minnow.h"
#include "minnow/quant.h"
#include "core/pool.h"
#include "kernels/qgemm.h"
#include "q8_test_util.h"

extern long mn_test_allocs;
extern const mn_op_def mn_opdef_qlinearmatmul;

/* ---- the GEMM ---- */

typedef struct gcase {
    int64_t m, n, k;
    int trans, out_i32, out_signed, narrow;
    uint8_t wflip, xflip;
} gcase;

static void check_gemm(const gcase *c, mn_pool *pool)
{
    const mn_kernels_q8 *kr = mn_kernels_q8_active();
    int64_t m = c->m, n = c->n, k = c->k;
    uint8_t *w = malloc((size_t)(m * k)), *x = malloc((size_t)(k * n));
    int16_t *w16 = malloc((size_t)(m * k) * 2);
    int16_t *x16 = malloc((size_t)(k * n) * 2);
    int32_t *acc = malloc((size_t)(m * n) * 4), *rs = malloc((size_t)m * 4);
    int32_t *bias = malloc((size_t)m * 4), *addi = malloc((size_t)m * 4);
    int32_t *add = malloc((size_t)m * 4);
    float *mult = malloc((size_t)m * 4);
    size_t ysz = (size_t)(m * n) * 4;
    char *y = malloc(ysz), *want = malloc(ysz);
    void *a = mn_malloc_aligned(mn_q8_pack_a_bytes(kr, m, k));
    void *scr = mn_malloc_aligned(mn_q8_thread_scratch(kr, n, k));
    if (!w || !x || !w16 || !x16 || !acc || !rs || !bias || !addi || !add ||
        !mult || !y || !want || !a || !scr) {
        CHECK(0);
        goto out;
    }
    int32_t xzp = (int32_t)otu_int(0, 255); /* after the flip */
    for (int64_t i = 0; i < m * k; i++)
        w[i] = (uint8_t)otu_rand();
    /* x stored [k][n] (plain) or [n][k] (transposed) */
    for (int64_t i = 0; i < k * n; i++)
        x[i] = (uint8_t)otu_rand();
    for (int64_t i = 0; i < m; i++)
        for (int64_t p = 0; p < k; p++)
            w16[i * k + p] = (int8_t)(w[i * k + p] ^ c->wflip);
    for (int64_t p = 0; p < k; p++)
        for (int64_t j = 0; j < n; j++) {
            uint8_t v = c->trans ? x[j * k + p] : x[p * n + j];
            x16[p * n + j] = (int16_t)((v ^ c->xflip) - xzp);
        }
    mn_ref_gemm_s16s32(m, n, k, w16, x16, acc);
    mn_q8_pack_a(kr, m, k, w, k, c->wflip, a, rs);
    double yzp = (double)otu_int(c->out_signed ? -128 : 0,
                                 c->out_signed ? 127 : 255);
    double lo = c->out_signed ? -128 : 0, hi = c->out_signed ? 127 : 255;
    if (c->narrow) { /* a fused ReLU6-like clamp */
        lo = yzp < hi ? yzp : hi;
        hi = lo + 40 < hi ? lo + 40 : hi;
    }
    for (int64_t i = 0; i < m; i++) {
        bias[i] = (int32_t)otu_int(-3000, 3000);
        int64_t corr = -(int64_t)xzp * rs[i];
        add[i] = (int32_t)(bias[i] + corr);
        addi[i] = (int32_t)corr;
        /* mostly inside the output range, some saturating */
        mult[i] = (0.001f + 0.003f * (otu_float() + 1)) / sqrtf((float)k);
    }
    mn_qgemm_epi e = {.add = add, .mult = c->out_i32 ? NULL : mult,
                      .add_i32 = addi, .yzp = yzp, .lo = lo, .hi = hi,
                      .out_signed = c->out_signed};
    mn_q8_bsrc bs = {.kind = c->trans ? MN_Q8B_TRANS : MN_Q8B_MATRIX,
                     .b = x, .ldb = c->trans ? k : n, .flip = c->xflip};
    /* y[i][j] row-major, or transposed (as QLinearMatMul stores) */
    int64_t ys_r = c->trans ? 1 : n, ys_c = c->trans ? m : 1;
    memset(y, 0xC3, ysz);
    mn_q8_gemm_run(kr, pool, m, n, k, a, &bs, &e, 0, y, ys_r, ys_c, scr);
    int bad = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            int64_t at = i * ys_r + j * ys_c;
            if (c->out_i32) {
                int32_t g;
                memcpy(&g, y + at * 4, 4);
                bad += g != acc[i * n + j];
            } else {
                int32_t r = mn_ref_requantize((int64_t)acc[i * n + j] + bias[i],
                                              mult[i], (int32_t)yzp,
                                              (int32_t)lo, (int32_t)hi);
                int32_t g = c->out_signed ? (int8_t)y[at] : (uint8_t)y[at];
                bad += g != r;
            }
        }
    if (bad)
        mn_test_fail(__FILE__, __LINE__,
                     "%s m%lld n%lld k%lld trans%d i32 %d: %d wrong", kr->name,
                     (long long)m, (long long)n, (long long)k, c->trans,
                     c->out_i32, bad);
out:
    free(w), free(x), free(w16), free(x16), free(acc), free(rs);
    free(bias), free(addi), free(add), free(mult), free(y), free(want);
    mn_free_aligned(a);
    mn_free_aligned(scr);
}

TEST(kernels_q8_gemm_vs_reference)
{
    mn_isa lv[4];
    int nl = fast_levels(lv);
    mn_ctx ctx = {{0}};
    mn_pool *pool = NULL;
    if (mn_isa_detect() >= MN_ISA_AVX2)
        CHECK(nl >= 1); /* an x86-64 build has the AVX2 kernels */
    CHECK_OK(mn_pool_create(2, 0, &pool, &ctx), &ctx);
    for (int l = 0; l < nl; l++) {
        mn_isa_force(lv[l]);
        CHECK(mn_kernels_q8_active() != NULL);
        otu_seed(500 + (uint64_t)l);
        for (int it = 0; it < 120; it++) {
            gcase c = {.m = otu_int(1, 40), .n = otu_int(1, 80),
                       .k = otu_int(1, 70), .trans = it % 3 == 2,
                       .out_i32 = it % 5 == 4,
                       .out_signed = (int)otu_int(0, 1),
                       .narrow = it % 7 == 3,
                       .wflip = otu_int(0, 1) ? 0x80 : 0,
                       .xflip = otu_int(0, 1) ? 0x80 : 0};
            check_gemm(&c, it % 2 ? pool : NULL);
        }
        /* big enough to tile and split over the pool; k tails */
        gcase big[] = {{.m = 67, .n = 1100, .k = 291},
                       {.m = 200, .n = 49, .k = 1155, .out_signed = 1},
                       {.m = 9, .n = 700, .k = 3, .trans = 1},
                       {.m = 130, .n = 530, .k = 577, .out_i32 = 1}};
        for (size_t i = 0; i < sizeof big / sizeof *big; i++) {
            check_gemm(&big[i], NULL);
            check_gemm(&big[i], pool);
        }
    }
    mn_isa_force(MN_ISA_COUNT);
    mn_pool_destroy(pool);
}

/* ---- the ops, through prepare ---- */

TEST(kernels_q8_qlinearconv_fast_vs_ref)
{
    mn_isa lv[4];
    int nl = fast_levels(lv);
    mn_ctx ctx = {{0}};
    mn_pool *pool = NULL;
    CHECK_OK(mn_pool_create(2, 0, &pool, &ctx), &ctx);
    otu_seed(77);
    for (int it = 0; it < 160; it++) {
        cparams q = random_conv(it % 4);
        check_conv(&q, 1, pool, lv, nl, MN_SPARSE_AUTO);
    }
    /* one with work enough for the pool */
    cparams big = {.n = 2, .c = 32, .h = 20, .w = 19, .m = 40, .kh = 3,
                   .kw = 3, .s = 1, .d = 1, .pt = 1, .pl = 1, .pb = 1,
                   .pr = 1, .group = 1, .per_channel = 1, .bias = 1};
    check_conv(&big, 1, pool, lv, nl, MN_SPARSE_AUTO);
    /* stride 2 with output rows of 16+ columns (the vector gather of the
     * im2col packing), odd width, padding, 7×7 and 1×1 */
    cparams s2[] = {{.n = 1, .c = 3, .h = 45, .w = 71, .m = 16, .kh = 7,
                     .kw = 7, .s = 2, .d = 1, .pt = 3, .pl = 3, .pb = 3,
                     .pr = 3, .group = 1, .per_channel = 1, .bias = 1},
                    {.n = 1, .c = 8, .h = 34, .w = 67, .m = 24, .kh = 1,
                     .kw = 1, .s = 2, .d = 1, .group = 1, .xs = 1}};
    for (size_t i = 0; i < sizeof s2 / sizeof s2[0]; i++)
        check_conv(&s2[i], 1, pool, lv, nl, MN_SPARSE_AUTO);
    /* a MatMul lowered to QLinearConv: 1×1 images, the batch folded into
     * one GEMM (transposed B, transposed store), small and threaded */
    cparams mm[] = {{.n = 37, .c = 13, .h = 1, .w = 1, .m = 21, .kh = 1,
                     .kw = 1, .s = 1, .d = 1, .group = 1, .per_channel = 1,
                     .bias = 1, .xs = 1},
                    {.n = 300, .c = 64, .h = 1, .w = 1, .m = 130, .kh = 1,
                     .kw = 1, .s = 1, .d = 1, .group = 1, .per_channel = 1,
                     .bias = 1, .ys = 1},
                    /* one image: the GEMV (odd quad counts, row tails,
                     * big enough for the pool) */
                    {.n = 1, .c = 13, .h = 1, .w = 1, .m = 21, .kh = 1,
                     .kw = 1, .s = 1, .d = 1, .group = 1, .per_channel = 1,
                     .bias = 1, .xs = 1},
                    {.n = 1, .c = 1283, .h = 1, .w = 1, .m = 1001, .kh = 1,
                     .kw = 1, .s = 1, .d = 1, .group = 1, .per_channel = 1,
                     .bias = 1, .ys = 1},
                    {.n = 1, .c = 40, .h = 1, .w = 1, .m = 8, .kh = 1,
                     .kw = 1, .s = 1, .d = 1, .group = 1, .bias = 1},
                    /* row tiles (uint8 x, whole quads, 8+ images): image
                     * and channel tails, big enough for the pool */
                    {.n = 37, .c = 96, .h = 1, .w = 1, .m = 65, .kh = 1,
                     .kw = 1, .s = 1, .d = 1, .group = 1, .per_channel = 1,
                     .bias = 1, .want = 5},
                    {.n = 9, .c = 12, .h = 1, .w = 1, .m = 33, .kh = 1,
                     .kw = 1, .s = 1, .d = 1, .group = 1, .ys = 1,
                     .want = 5},
                    {.n = 203, .c = 256, .h = 1, .w = 1, .m = 96, .kh = 1,
                     .kw = 1, .s = 1, .d = 1, .group = 1, .wu = 1,
                     .per_channel = 1, .want = 5}};
    for (size_t i = 0; i < sizeof mm / sizeof mm[0]; i++) {
        check_conv(&mm[i], 1, pool, lv, nl, MN_SPARSE_AUTO);
        check_conv(&mm[i], 0, pool, lv, nl, MN_SPARSE_AUTO); /* int32 out */
    }
    /* depthwise ones big enough for the pool: 3×3 and 5×5 (strides 1, 2),
     * 7×7 (strides 1, 2), dilated with channel multiplier 2, planes
     * narrower than a vector (the VBMI kernel's 64-byte row loads) */
    cparams dw[] = {{.n = 1, .c = 48, .h = 23, .w = 21, .m = 48, .kh = 3,
                     .kw = 3, .s = 1, .d = 1, .pt = 1, .pl = 1, .pb = 1,
                     .pr = 1, .group = 48, .per_channel = 1, .bias = 1},
                    {.n = 2, .c = 40, .h = 30, .w = 33, .m = 40, .kh = 7,
                     .kw = 7, .s = 2, .d = 1, .pt = 3, .pl = 3, .pb = 3,
                     .pr = 3, .group = 40, .xs = 1, .ys = 1},
                    {.n = 1, .c = 24, .h = 17, .w = 40, .m = 48, .kh = 5,
                     .kw = 5, .s = 1, .d = 2, .pt = 4, .pl = 4, .pb = 4,
                     .pr = 4, .group = 24, .wu = 1, .per_channel = 1},
                    {.n = 1, .c = 32, .h = 31, .w = 29, .m = 32, .kh = 3,
                     .kw = 3, .s = 2, .d = 1, .pt = 1, .pl = 1, .pb = 1,
                     .pr = 1, .group = 32, .xs = 1, .per_channel = 1},
                    {.n = 1, .c = 32, .h = 19, .w = 37, .m = 32, .kh = 5,
                     .kw = 5, .s = 1, .d = 1, .pt = 2, .pl = 2, .pb = 2,
                     .pr = 2, .group = 32, .bias = 1},
                    {.n = 1, .c = 32, .h = 19, .w = 37, .m = 32, .kh = 5,
                     .kw = 5, .s = 2, .d = 1, .pt = 2, .pl = 2, .pb = 1,
                     .pr = 1, .group = 32, .ys = 1},
                    {.n = 1, .c = 24, .h = 14, .w = 50, .m = 24, .kh = 7,
                     .kw = 7, .s = 1, .d = 1, .pt = 3, .pl = 3, .pb = 3,
                     .pr = 3, .group = 24, .per_channel = 1, .bias = 1},
                    {.n = 1, .c = 24, .h = 9, .w = 7, .m = 24, .kh = 3,
                     .kw = 3, .s = 1, .d = 1, .pt = 1, .pl = 1, .pb = 1,
                     .pr = 1, .group = 24, .xs = 1, .bias = 1}};
    for (size_t i = 0; i < sizeof dw / sizeof *dw; i++)
        check_conv(&dw[i], 1, pool, lv, nl, MN_SPARSE_AUTO);
    /* small planes (channel-vector tiles): several 32-channel tiles and a
     * tail, a tile of 17-32 channels, 5×5 and 7×7 (two quads per row),
     * stride 2 with uneven padding, channel multiplier 2, non-square
     * kernels, 16 columns, int8 activations and output, int32 output */
    cparams cv[] = {{.n = 2, .c = 72, .h = 14, .w = 14, .m = 72, .kh = 3,
                     .kw = 3, .s = 1, .d = 1, .pt = 1, .pl = 1, .pb = 1,
                     .pr = 1, .group = 72, .per_channel = 1, .bias = 1,
                     .want = 4},
                    {.n = 1, .c = 24, .h = 7, .w = 7, .m = 24, .kh = 7,
                     .kw = 7, .s = 1, .d = 1, .pt = 3, .pl = 3, .pb = 3,
                     .pr = 3, .group = 24, .xs = 1, .ys = 1, .want = 4},
                    {.n = 1, .c = 33, .h = 15, .w = 16, .m = 66, .kh = 5,
                     .kw = 5, .s = 2, .d = 1, .pt = 2, .pl = 1, .pb = 1,
                     .pr = 2, .group = 33, .wu = 1, .bias = 1, .want = 4},
                    {.n = 1, .c = 40, .h = 9, .w = 16, .m = 40, .kh = 2,
                     .kw = 6, .s = 1, .d = 1, .pt = 0, .pl = 3, .pb = 1,
                     .pr = 2, .group = 40, .per_channel = 1, .want = 4},
                    {.n = 1, .c = 20, .h = 31, .w = 30, .m = 20, .kh = 3,
                     .kw = 3, .s = 2, .d = 1, .pt = 1, .pl = 0, .pb = 0,
                     .pr = 1, .group = 20, .xs = 1, .per_channel = 1,
                     .want = 4}};
    for (size_t i = 0; i < sizeof cv / sizeof *cv; i++) {
        check_conv(&cv[i], 1, pool, lv, nl, MN_SPARSE_AUTO);
        cv[i].want = 0;
        check_conv(&cv[i], 0, pool, lv, nl, MN_SPARSE_AUTO); /* int32 */
    }
    mn_pool_destroy(pool);
}

TEST(kernels_q8_convinteger_fast_vs_ref)
{
    mn_isa lv[4];
    int nl = fast_levels(lv);
    otu_seed(78);
    for (int it = 0; it < 80; it++) {
        cparams q = random_conv(it % 4);
        check_conv(&q, 0, NULL, lv, nl, MN_SPARSE_AUTO);
    }
}

TEST(kernels_q8_qlinearmatmul_fast_vs_ref)
{
    mn_isa lv[4];
    int nl = fast_levels(lv);
    mn_ctx ctx = {{0}};
    mn_pool *pool = NULL;
    mn_node nd;
    CHECK_OK(mn_pool_create(2, 0, &pool, &ctx), &ctx);
    otu_node(&nd, "QLinearMatMul");
    otu_seed(79);
    for (int it = 0; it < 80; it++) {
        int64_t bt = otu_int(1, 3), m = otu_int(1, 40), k = otu_int(1, 90);
        int64_t n = otu_int(1, 50);
        if (it == 79)
            m = 300, k = 500, n = 70; /* enough for the pool */
        int64_t per_col = otu_int(0, 1) ? n : 1;
        int as = (int)otu_int(0, 1), bu = otu_int(0, 3) == 0;
        int ys = (int)otu_int(0, 1);
        mn_dtype adt = as ? MN_DT_I8 : MN_DT_U8, bdt = bu ? MN_DT_U8 : MN_DT_I8;
        mn_tensor *a = otu_random(adt, 3, (int64_t[]){bt, m, k});
        mn_tensor *b = otu_random(bdt, 2, (int64_t[]){k, n});
        mn_tensor *az = otu_random(adt, 0, NULL);
        mn_tensor *bz = per_col > 1 ? otu_tensor(bdt, 1, &per_col)
                                    : otu_tensor(bdt, 0, NULL);
        for (int64_t i = 0; bu && i < per_col; i++)
            ((uint8_t *)bz->data)[i] = 128;
        mn_tensor *yz = otu_random(ys ? MN_DT_I8 : MN_DT_U8, 0, NULL);
        mn_tensor *asc = otu_tensor(MN_DT_F32, 0, NULL);
        mn_tensor *bsc = per_col > 1 ? otu_tensor(MN_DT_F32, 1, &per_col)
                                     : otu_tensor(MN_DT_F32, 0, NULL);
        mn_tensor *ysc = otu_tensor(MN_DT_F32, 0, NULL);
        ((float *)asc->data)[0] = 0.02f + 0.01f * otu_float();
        for (int64_t i = 0; i < per_col; i++)
            ((float *)bsc->data)[i] = 0.006f + 0.004f * otu_float();
        ((float *)ysc->data)[0] = 0.05f + 0.3f * (otu_float() + 1);
        const mn_tensor *in[8] = {a, asc, az, b, bsc, bz, ysc, yz};
        size_t nr = 0, nf = 0;
        int fast = 0;
        mn_isa_force(MN_ISA_REF);
        char *ref = run_op(&mn_opdef_qlinearmatmul, &nd, in, 8, NULL,
                           MN_SPARSE_AUTO, &nr, &fast);
        CHECK(!fast);
        for (int l = 0; l < nl && ref; l++) {
            mn_isa_force(lv[l]);
            for (int t = 0; t < 2; t++) {
                char *got = run_op(&mn_opdef_qlinearmatmul, &nd, in, 8,
                                   t ? pool : NULL, MN_SPARSE_AUTO, &nf,
                                   &fast);
                CHECK(fast);
                if (!got || nf != nr || memcmp(got, ref, nr) != 0)
                    mn_test_fail(__FILE__, __LINE__,
                                 "QLinearMatMul %s %lldx%lldx%lld x%lld: "
                                 "differs from ref", mn_isa_name(lv[l]),
                                 (long long)m, (long long)k, (long long)n,
                                 (long long)bt);
                free(got);
            }
        }
        mn_isa_force(MN_ISA_COUNT);
        free(ref);
        mn_tensor *all[] = {a, b, az, bz, yz, asc, bsc, ysc};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++)
            mn_tensor_destroy(all[i]);
    }
    otu_node_free(&nd);
    mn_pool_destroy(pool);
}

/* ---- a quantized model in a session ---- */

static mn_graph *quantized_fashion(int act_signed)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    mn_tensor *t = NULL;
    char path[512], spec[600];
    snprintf(path, sizeof path, "%s/q8_calib.npy", mn_test_tmp_dir());
    snprintf(spec, sizeof spec, "npy:%s", path);
    CHECK_OK(mn_tensor_create(MN_DT_F32, 4, (int64_t[]){16, 1, 28, 28}, &t,
                              &ctx), &ctx);
    if (!t)
        return NULL;
    otu_seed(9);
    for (int64_t i = 0; i < mn_tensor_numel(t); i++)
        ((float *)t->data)[i] = (otu_float() + 1) / 2;
    CHECK_OK(mn_tensor_save_npy(path, t, &ctx), &ctx);
    mn_tensor_destroy(t);
    mn_quant_opts o = {.mode = MN_QUANT_INT8, .calib_spec = spec,
                       .calib_count = 16, .act_signed = act_signed};
    mn_quant_report r;
    if (mn_graph_load_onnx("models/fashion_cnn.onnx", &g, &ctx) != MN_OK ||
        mn_graph_optimize(g, &ctx) != MN_OK ||
        mn_quant_format_parse("qop", &o.format, &ctx) != MN_OK ||
        mn_quantize(g, &o, &r, &ctx) != MN_OK) {
        mn_test_fail(__FILE__, __LINE__, "%s", ctx.msg);
        mn_graph_destroy(g);
        return NULL;
    }
    return g;
}

static mn_tensor *run_session(const mn_graph *g, int threads, mn_isa isa,
                              long *allocs)
{
    mn_ctx ctx = {{0}};
    mn_session *s = NULL;
    mn_tensor *x = NULL, *y = NULL;
    mn_isa_force(isa);
    mn_session_opts o = {.batch = 8, .threads = threads};
    CHECK_OK(mn_session_create(g, &o, &s, &ctx), &ctx);
    if (!s)
        goto out;
    const mn_tensor *in = mn_session_input(s, 0);
    CHECK_OK(mn_tensor_create(in->dtype, in->ndim, in->dims, &x, &ctx), &ctx);
    if (!x)
        goto out;
    otu_seed(31);
    for (int64_t i = 0; i < mn_tensor_numel(x); i++)
        ((float *)x->data)[i] = (otu_float() + 1) / 2;
    long before = mn_test_allocs;
    for (int rep = 0; rep < 2; rep++)
        CHECK_OK(mn_session_run(s, (const mn_tensor *const *)&x, 1, &ctx),
                 &ctx);
    *allocs = mn_test_allocs - before;
    CHECK_OK(mn_tensor_clone(mn_session_output(s, 0), &y, &ctx), &ctx);
out:
    mn_tensor_destroy(x);
    mn_session_destroy(s);
    mn_isa_force(MN_ISA_COUNT);
    return y;
}

TEST(kernels_q8_session_identical_and_no_alloc)
{
    mn_isa lv[4];
    int nl = fast_levels(lv);
    for (int sgn = 0; sgn < 2; sgn++) {
        mn_graph *g = quantized_fashion(sgn);
        long a = -1;
        if (!g)
            continue;
        mn_tensor *ref = run_session(g, 1, MN_ISA_REF, &a);
        CHECK_EQ_INT(a, 0);
        for (int l = 0; l < nl && ref; l++)
            for (int t = 1; t <= 2; t++) {
                mn_tensor *y = run_session(g, t, lv[l], &a);
                CHECK_EQ_INT(a, 0);
                CHECK(y && mn_tensor_nbytes(y) == mn_tensor_nbytes(ref) &&
                      memcmp(y->data, ref->data, mn_tensor_nbytes(ref)) == 0);
                mn_tensor_destroy(y);
            }
        mn_tensor_destroy(ref);
        mn_graph_destroy(g);
    }
}

/* The vector plane padder against mn_q8_pad_input + the flip, on widths
 * around 64 and 128, every pad combination up to 3 and both flips: every
 * byte of the plane and the 64 after it. */
TEST(kernels_q8_pad_plane_vs_portable)
{
    const mn_kernels_q8 *kr = mn_kernels_q8_avx512vnni();
    if (!kr || !kr->pad || mn_isa_detect() < MN_ISA_AVX512VNNI)
        return;
    static const int64_t ws[] = {1, 7, 14, 63, 64, 65, 112, 127, 128, 130};
    otu_seed(71);
    for (int it = 0; it < 60; it++) {
        mn_conv_params p = {.n = 1, .c = 1, .m = 1, .group = 1};
        p.h = otu_int(1, 9);
        p.w = ws[it % 10];
        p.kh = p.kw = it % 3 == 0 ? 5 : 3;
        p.sh = p.sw = it % 4 == 3 ? 2 : 1;
        p.dh = p.dw = 1;
        p.pt = otu_int(0, 3);
        p.pl = otu_int(0, 3);
        int64_t pb = otu_int(0, 3), pr = otu_int(0, 3);
        p.oh = (p.h + p.pt + pb - p.kh) / p.sh + 1;
        p.ow = (p.w + p.pl + pr - p.kw) / p.sw + 1;
        if (p.oh < 1 || p.ow < 1)
            continue;
        size_t nb = mn_q8_pad_bytes(&p);
        uint8_t *x = malloc((size_t)(p.h * p.w));
        uint8_t *a = malloc(nb), *b = malloc(nb);
        if (!x || !a || !b) {
            CHECK(0);
            free(x), free(a), free(b);
            return;
        }
        for (int64_t i = 0; i < p.h * p.w; i++)
            x[i] = (uint8_t)otu_rand();
        uint8_t pad = (uint8_t)otu_rand(), flip = it % 2 ? 0x80 : 0;
        memset(a, 0x11, nb);
        memset(b, 0x22, nb);
        mn_q8_pad_input(&p, x, pad, a);
        for (size_t i = 0; i < nb - 64; i++)
            a[i] ^= flip;
        for (size_t i = nb - 64; i < nb; i++)
            a[i] = pad ^ flip;
        kr->pad(&p, x, pad, flip, b);
        CHECK(memcmp(a, b, nb) == 0);
        free(x), free(a), free(b);
    }
}
