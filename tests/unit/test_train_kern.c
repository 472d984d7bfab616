/* Training's vector kernels (src/train/tkern*.c) against the portable ones
 * on random lengths including tails, and the threaded elementwise forward
 * (src/train/grad_split.c) against the op table's forward: bit for bit,
 * on tensors large enough to be split over two threads.
 * Tolerance of AVX-512 vs portable: sums within 1e-5·Σ|terms| (16 lanes
 * in both; the vector forms fuse multiply-adds), elementwise results within
 * 1e-6 relative, Relu/Clip gradients exact. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "grad_check.h"
#include "kernels/dispatch.h"
#include "ops/ops.h"
#include "test.h"
#include "train/grad.h"
#include "train/tkern.h"

static float frand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) & 0xFFFFFF) / (float)0x1000000 * 4.0f - 2.0f;
}

static int close_rel(float a, float b, float scale, float tol)
{
    return fabsf(a - b) <= tol * (scale + 1e-30f);
}

TEST(train_kern_avx512_matches_portable)
{
    const mn_tkern *r = &mn_tkern_ref, *v = &mn_tkern_avx512;
    if (mn_isa_detect() < MN_ISA_AVX512 || !v->sum)
        return; /* nothing to compare on this CPU */
    static const int64_t lens[] = {1, 5, 15, 16, 17, 31, 49, 100, 196, 784,
                                   1001};
    uint64_t s = 7;
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        int64_t n = lens[li];
        float *x = malloc((size_t)n * 4), *g = malloc((size_t)n * 4);
        float *y1 = malloc((size_t)n * 4), *y2 = malloc((size_t)n * 4);
        float sabs = 0, sq = 0;
        for (int64_t i = 0; i < n; i++) {
            x[i] = frand(&s);
            g[i] = frand(&s);
            x[i] = i % 7 == 3 ? 0.0f : x[i]; /* exact zeros for Relu */
            sabs += fabsf(x[i]) + fabsf(g[i]);
            sq += (x[i] - 0.3f) * (x[i] - 0.3f);
        }
        CHECK(close_rel(r->sum(x, n), v->sum(x, n), sabs, 1e-5f));
        CHECK(close_rel(r->sumsq_dev(x, n, 0.3f), v->sumsq_dev(x, n, 0.3f),
                        sq, 1e-5f));
        float a1, b1, a2, b2;
        r->bn_bwd_sums(x, g, n, 0.3f, 1.7f, &a1, &b1);
        v->bn_bwd_sums(x, g, n, 0.3f, 1.7f, &a2, &b2);
        CHECK(close_rel(a1, a2, sabs, 1e-5f));
        CHECK(close_rel(b1, b2, 4 * sabs * sabs, 1e-5f));
        CHECK(close_rel(r->dot(x, g, n), v->dot(x, g, n), sabs * sabs,
                        1e-5f));
        memcpy(y1, g, (size_t)n * 4);
        memcpy(y2, g, (size_t)n * 4);
        r->axpy(0.7f, x, y1, n);
        v->axpy(0.7f, x, y2, n);
        for (int64_t i = 0; i < n; i++)
            CHECK(close_rel(y1[i], y2[i], fabsf(y1[i]) + 1, 1e-6f));
        r->affine(x, y1, n, 0.3f, 1.7f, -0.2f);
        v->affine(x, y2, n, 0.3f, 1.7f, -0.2f);
        for (int64_t i = 0; i < n; i++)
            CHECK(close_rel(y1[i], y2[i], fabsf(y1[i]) + 1, 1e-6f));
        r->bn_bwd_dx(x, g, y1, n, 0.3f, 1.7f, 0.9f, 0.1f, -0.4f);
        v->bn_bwd_dx(x, g, y2, n, 0.3f, 1.7f, 0.9f, 0.1f, -0.4f);
        for (int64_t i = 0; i < n; i++)
            CHECK(close_rel(y1[i], y2[i], fabsf(y1[i]) + 1, 1e-6f));
        x[0] = -0.0f;
        r->relu_fwd(x, y1, n);
        v->relu_fwd(x, y2, n);
        CHECK(memcmp(y1, y2, (size_t)n * 4) == 0);
        r->relu_bwd(x, g, y1, n);
        v->relu_bwd(x, g, y2, n);
        CHECK(memcmp(y1, y2, (size_t)n * 4) == 0);
        x[n - 1] = NAN;
        r->clip_fwd(x, y1, n, -0.5f, 1.0f);
        v->clip_fwd(x, y2, n, -0.5f, 1.0f);
        CHECK(memcmp(y1, y2, (size_t)n * 4) == 0);
        CHECK(isnan(y2[n - 1]) && (n == 1 || signbit(y2[0])));
        r->clip_fwd(x, y1, n, -0.0f, INFINITY);
        v->clip_fwd(x, y2, n, -0.0f, INFINITY);
        CHECK(memcmp(y1, y2, (size_t)n * 4) == 0);
        x[n - 1] = 0.5f;
        r->clip_bwd(x, g, y1, n, -0.5f, 1.0f);
        v->clip_bwd(x, g, y2, n, -0.5f, 1.0f);
        CHECK(memcmp(y1, y2, (size_t)n * 4) == 0);
        free(x);
        free(g);
        free(y1);
        free(y2);
    }
}

/* Depthwise plane kernels: AVX-512 against portable on planes with column
 * tails (widths 3..37), kernels 3×3 and 7×5: outputs within
 * 1e-6·Σ|terms|, weight sums within 1e-5·Σ|terms|. */
TEST(train_kern_dw_planes_match)
{
    const mn_tkern *r = &mn_tkern_ref, *v = &mn_tkern_avx512;
    if (mn_isa_detect() < MN_ISA_AVX512 || !v->dw_plane)
        return;
    static const int64_t ows[] = {3, 7, 14, 16, 17, 37};
    static const int64_t ks[][2] = {{3, 3}, {7, 5}};
    uint64_t s = 11;
    for (size_t a = 0; a < sizeof ows / sizeof ows[0]; a++)
        for (size_t b = 0; b < 2; b++) {
            int64_t ow = ows[a], oh = ows[a] % 5 + 2, kh = ks[b][0],
                    kw = ks[b][1];
            int64_t ldx = ow + kw - 1, np = (oh + kh - 1) * ldx;
            float *xp = malloc((size_t)np * 4), *w = malloc(35 * 4);
            float *g = malloc((size_t)(oh * ow) * 4);
            float *y1 = malloc((size_t)(oh * ow) * 4),
                  *y2 = malloc((size_t)(oh * ow) * 4);
            float d1[35], d2[35], sabs = 0;
            for (int64_t i = 0; i < np; i++)
                xp[i] = frand(&s);
            float wabs = 0.25f;
            for (int64_t i = 0; i < kh * kw; i++) {
                w[i] = frand(&s);
                wabs += 2 * fabsf(w[i]); /* |x| <= 2 */
            }
            for (int64_t i = 0; i < oh * ow; i++) {
                g[i] = frand(&s);
                sabs += 2 * fabsf(g[i]);
            }
            r->dw_plane(xp, ldx, w, kh, kw, 0.25f, y1, oh, ow);
            v->dw_plane(xp, ldx, w, kh, kw, 0.25f, y2, oh, ow);
            for (int64_t i = 0; i < oh * ow; i++)
                CHECK(close_rel(y1[i], y2[i], wabs, 1e-6f));
            r->dw_plane_wgrad(xp, ldx, g, oh, ow, kh, kw, d1);
            v->dw_plane_wgrad(xp, ldx, g, oh, ow, kh, kw, d2);
            for (int64_t i = 0; i < kh * kw; i++)
                CHECK(close_rel(d1[i], d2[i], sabs, 1e-5f));
            free(xp);
            free(w);
            free(g);
            free(y1);
            free(y2);
        }
}

/* Runs node 0 of g on in[] with the training forward `fw` (two threads)
 * and the op table's forward; the outputs must be identical. */
static void fwd_case(const char *what, mn_forward_fn fw, mn_graph *g,
                     mn_tensor **in, int n_in, int ond, const int64_t *odims)
{
    mn_ctx ctx = {0};
    mn_tpool *pool = NULL;
    mn_tensor *y1 = NULL, *y2 = NULL;
    const mn_node *n = &g->nodes[0];
    CHECK_OK(mn_tpool_create(2, &pool, &ctx), &ctx);
    CHECK_OK(mn_tensor_create(MN_DT_F32, ond, odims, &y1, &ctx), &ctx);
    CHECK_OK(mn_tensor_create(MN_DT_F32, ond, odims, &y2, &ctx), &ctx);
    mn_texec te;
    memset(&te, 0, sizeof te);
    te.ex.ctx = &ctx;
    te.pool = pool;
    const mn_op_def *def = mn_op_get(n->op);
    const mn_tensor *ci[4];
    for (int i = 0; i < n_in; i++)
        ci[i] = in[i];
    size_t sb = def->scratch ? def->scratch(n, ci, n_in,
                                            (const mn_tensor *const *)&y1, 1)
                             : 0;
    mn_exec ex = {.ctx = &ctx, .scratch = sb ? malloc(sb) : NULL,
                  .scratch_bytes = sb};
    CHECK_OK(def->forward(n, ci, n_in, &y1, 1, &ex), &ctx);
    CHECK_OK(fw(n, ci, n_in, &y2, 1, &te.ex), &ctx);
    if (memcmp(y1->data, y2->data, mn_tensor_nbytes(y1)) != 0)
        mn_test_fail(__FILE__, __LINE__, "%s: training forward differs",
                     what);
    free(ex.scratch);
    mn_tensor_destroy(y1);
    mn_tensor_destroy(y2);
    for (int i = 0; i < n_in; i++)
        mn_tensor_destroy(in[i]);
    mn_graph_destroy(g);
    mn_tpool_destroy(pool);
}

static void split_case(const char *what, mn_graph *g, mn_tensor **in,
                       int n_in, const int64_t *odims)
{
    fwd_case(what, mn_train_split_forward, g, in, n_in, 4, odims);
}

/* The depthwise 7×7 training forward (padded planes, two threads) against
 * the op table's Conv: within 2e-6·(1 + |y|). */
TEST(train_dwconv_forward_matches_op_table)
{
    static const int64_t xd[4] = {3, 5, 14, 14}, wd[4] = {5, 1, 7, 7},
                         bd[1] = {5}, ks[2] = {7, 7}, pads[4] = {3, 3, 3, 3};
    mn_ctx ctx = {0};
    mn_tpool *pool = NULL;
    mn_tensor *y1 = NULL, *y2 = NULL;
    mn_graph *g = gc_graph("Conv", 13, 3, 1);
    gc_attr_ints(g, "kernel_shape", ks, 2);
    gc_attr_ints(g, "pads", pads, 4);
    gc_attr_int(g, "group", 5);
    mn_tensor *in[3] = {gc_rand(4, xd, 31, -2, 2, 0),
                        gc_rand(4, wd, 32, -1, 1, 0),
                        gc_rand(1, bd, 33, -1, 1, 0)};
    const mn_tensor *ci[3] = {in[0], in[1], in[2]};
    const mn_node *n = gc_node(g);
    const mn_grad_def *gd = mn_grad_get(MN_OP_CONV);
    CHECK_OK(mn_tpool_create(2, &pool, &ctx), &ctx);
    CHECK_OK(mn_tensor_create(MN_DT_F32, 4, xd, &y1, &ctx), &ctx);
    CHECK_OK(mn_tensor_create(MN_DT_F32, 4, xd, &y2, &ctx), &ctx);
    const mn_tensor *co[1] = {y1};
    size_t sb = gd->forward_scratch(n, ci, 3, co, 1, 2);
    mn_texec te;
    memset(&te, 0, sizeof te);
    te.ex.ctx = &ctx;
    te.ex.scratch = mn_malloc_aligned(sb + 64);
    te.ex.scratch_bytes = sb;
    te.pool = pool;
    const mn_op_def *conv = mn_op_get(MN_OP_CONV);
    size_t osb = conv->scratch(n, ci, 3, co, 1); /* as a session sizes it */
    mn_exec ex = {.ctx = &ctx, .scratch = mn_malloc_aligned(osb + 64),
                  .scratch_bytes = osb};
    CHECK_OK(conv->forward(n, ci, 3, &y1, 1, &ex), &ctx);
    CHECK_OK(gd->forward(n, ci, 3, &y2, 1, &te.ex), &ctx);
    const float *a = y1->data, *b = y2->data;
    for (int64_t i = 0; i < mn_tensor_numel(y1); i++)
        CHECK(fabsf(a[i] - b[i]) <= 2e-6f * (1 + fabsf(a[i])));
    mn_free_aligned(te.ex.scratch);
    mn_free_aligned(ex.scratch);
    mn_tensor_destroy(y1);
    mn_tensor_destroy(y2);
    for (int i = 0; i < 3; i++)
        mn_tensor_destroy(in[i]);
    mn_graph_destroy(g);
    mn_tpool_destroy(pool);
}

/* Convolutions on small planes run several samples as one GEMM
 * (grad_conv.c's batch_samples): against the op table's Conv, within
 * 1e-5·(1 + |y|) (the op table sums in another order), on batches whose
 * last sub-batch is partial: pointwise 7×7, 3×3 stride 2 to 7×7, 2×2
 * stride 2 to 4×4, 3×3 on 16×16 (two samples per GEMM). */
TEST(train_conv_batched_forward_matches_op_table)
{
    static const struct {
        int64_t n, c, h, m, k, s, pad;
    } cs[] = {{37, 20, 7, 24, 1, 1, 0}, {13, 6, 14, 8, 3, 2, 1},
              {29, 5, 8, 12, 2, 2, 0}, {5, 3, 16, 4, 3, 1, 1}};
    mn_ctx ctx = {0};
    mn_tpool *pool = NULL;
    CHECK_OK(mn_tpool_create(2, &pool, &ctx), &ctx);
    for (size_t ci = 0; ci < sizeof cs / sizeof cs[0]; ci++) {
        int64_t o = (cs[ci].h + 2 * cs[ci].pad - cs[ci].k) / cs[ci].s + 1;
        int64_t xd[4] = {cs[ci].n, cs[ci].c, cs[ci].h, cs[ci].h};
        int64_t wd[4] = {cs[ci].m, cs[ci].c, cs[ci].k, cs[ci].k};
        int64_t bd[1] = {cs[ci].m}, yd[4] = {cs[ci].n, cs[ci].m, o, o};
        int64_t ks[2] = {cs[ci].k, cs[ci].k}, st[2] = {cs[ci].s, cs[ci].s};
        int64_t pads[4] = {cs[ci].pad, cs[ci].pad, cs[ci].pad, cs[ci].pad};
        mn_tensor *y1 = NULL, *y2 = NULL;
        mn_graph *g = gc_graph("Conv", 13, 3, 1);
        gc_attr_ints(g, "kernel_shape", ks, 2);
        gc_attr_ints(g, "strides", st, 2);
        gc_attr_ints(g, "pads", pads, 4);
        mn_tensor *in[3] = {gc_rand(4, xd, 50 + ci, -2, 2, 0),
                            gc_rand(4, wd, 60 + ci, -1, 1, 0),
                            gc_rand(1, bd, 70 + ci, -1, 1, 0)};
        const mn_tensor *cin[3] = {in[0], in[1], in[2]};
        const mn_node *n = gc_node(g);
        const mn_grad_def *gd = mn_grad_get(MN_OP_CONV);
        CHECK_OK(mn_tensor_create(MN_DT_F32, 4, yd, &y1, &ctx), &ctx);
        CHECK_OK(mn_tensor_create(MN_DT_F32, 4, yd, &y2, &ctx), &ctx);
        const mn_tensor *co[1] = {y1};
        size_t sb = gd->forward_scratch(n, cin, 3, co, 1, 2);
        const mn_op_def *def = mn_op_get(MN_OP_CONV);
        size_t ob = def->scratch ? def->scratch(n, cin, 3, co, 1) : 0;
        mn_texec te;
        memset(&te, 0, sizeof te);
        te.ex.ctx = &ctx;
        te.ex.scratch = mn_malloc_aligned(sb + 64);
        te.ex.scratch_bytes = sb;
        te.pool = pool;
        mn_exec ex = {.ctx = &ctx, .scratch = mn_malloc_aligned(ob + 64),
                      .scratch_bytes = ob};
        CHECK_OK(def->forward(n, cin, 3, &y1, 1, &ex), &ctx);
        CHECK_OK(gd->forward(n, cin, 3, &y2, 1, &te.ex), &ctx);
        const float *a = y1->data, *b = y2->data;
        int64_t bad = 0;
        for (int64_t i = 0; i < mn_tensor_numel(y1); i++)
            bad += !(fabsf(a[i] - b[i]) <= 1e-5f * (1 + fabsf(a[i])));
        if (bad)
            mn_test_fail(__FILE__, __LINE__, "case %d: %lld outputs differ",
                         (int)ci, (long long)bad);
        mn_free_aligned(te.ex.scratch);
        mn_free_aligned(ex.scratch);
        mn_tensor_destroy(y1);
        mn_tensor_destroy(y2);
        for (int i = 0; i < 3; i++)
            mn_tensor_destroy(in[i]);
        mn_graph_destroy(g);
    }
    mn_tpool_destroy(pool);
}

/* MatMul with a shared weight (Linear on [N, H, W, C]) runs as one
 * threaded GEMM in training: the same bits as the op table's. */
TEST(train_matmul_forward_matches_op_table)
{
    static const int64_t ad[4] = {3, 7, 11, 37}, bd[2] = {37, 70},
                         yd[4] = {3, 7, 11, 70};
    mn_tensor *in[2] = {gc_rand(4, ad, 21, -2, 2, 0),
                        gc_rand(2, bd, 22, -2, 2, 0)};
    fwd_case("MatMul", mn_grad_get(MN_OP_MATMUL)->forward,
             gc_graph("MatMul", 13, 2, 1), in, 2, 4, yd);
}

/* Transpose in training: batched 2-D perms run blocked over the pool,
 * others the op table's; the same bits either way. */
TEST(train_transpose_forward_matches_op_table)
{
    static const int64_t xd[4] = {6, 40, 17, 19};
    static const int64_t perms[5][4] = {{0, 2, 3, 1}, {0, 3, 1, 2},
                                        {0, 1, 3, 2}, {2, 0, 1, 3},
                                        {0, 3, 2, 1}};
    for (int i = 0; i < 5; i++) {
        int64_t yd[4];
        for (int k = 0; k < 4; k++)
            yd[k] = xd[perms[i][k]];
        mn_graph *g = gc_graph("Transpose", 13, 1, 1);
        gc_attr_ints(g, "perm", perms[i], 4);
        mn_tensor *in[1] = {gc_rand(4, xd, 40 + (uint64_t)i, -2, 2, 0)};
        fwd_case("Transpose", mn_grad_get(MN_OP_TRANSPOSE)->forward, g, in,
                 1, 4, yd);
    }
}

TEST(train_split_forward_matches_op_table)
{
    static const int64_t big[4] = {5, 16, 23, 21}, ch[4] = {1, 16, 1, 1},
                         row[3] = {16, 1, 1}, sc[1] = {1};
    mn_tensor *in[3];
    in[0] = gc_rand(4, big, 1, -2, 2, 0);
    split_case("Relu", gc_graph("Relu", 14, 1, 1), in, 1, big);
    in[0] = gc_rand(4, big, 2, -8, 8, 0);
    in[1] = gc_rand(1, sc, 3, 0, 0.1f, 0);
    in[2] = gc_rand(1, sc, 4, 5.9f, 6, 0);
    float *xc = in[0]->data; /* NaN, ±0, ±∞ and a bound itself */
    xc[5] = NAN, xc[6] = -0.0f, xc[7] = 0.0f, xc[8] = INFINITY;
    xc[9] = -INFINITY, xc[10] = mn_f32(in[1])[0];
    split_case("Clip", gc_graph("Clip", 13, 3, 1), in, 3, big);
    in[0] = gc_rand(4, big, 12, -8, 8, 0);
    in[1] = gc_rand(1, sc, 13, -0.1f, 0.1f, 0);
    xc = in[0]->data;
    xc[5] = NAN, xc[6] = -0.0f, xc[8] = INFINITY, xc[9] = -INFINITY;
    split_case("Clip (min only)", gc_graph("Clip", 13, 2, 1), in, 2, big);
    in[0] = gc_rand(4, big, 5, -2, 2, 0);
    in[1] = gc_rand(4, big, 6, -2, 2, 0);
    split_case("Add", gc_graph("Add", 13, 2, 1), in, 2, big);
    in[0] = gc_rand(4, big, 7, -2, 2, 0);
    in[1] = gc_rand(4, ch, 8, -2, 2, 0);
    split_case("Mul [N,C,H,W]·[1,C,1,1]", gc_graph("Mul", 13, 2, 1), in, 2,
               big);
    in[0] = gc_rand(3, row, 9, -2, 2, 0);
    in[1] = gc_rand(4, big, 10, -2, 2, 0);
    split_case("Mul [C,1,1]·[N,C,H,W]", gc_graph("Mul", 13, 2, 1), in, 2,
               big);
    in[0] = gc_rand(4, big, 11, -4, 4, 0);
    split_case("Sigmoid", gc_graph("Sigmoid", 13, 1, 1), in, 1, big);
}

/* mn_ttranspose against the element-by-element definition: random shapes
 * with tails of the 16×16 blocks and 64-column tasks, row strides wider
 * than the rows, one thread and two; exact (a copy). */
TEST(train_transpose_matches_definition)
{
    mn_ctx ctx = {0};
    mn_tpool *pool = NULL;
    uint64_t s = 99;
    CHECK_OK(mn_tpool_create(2, &pool, &ctx), &ctx);
    static const int64_t shapes[][2] = {{1, 1}, {1, 37}, {37, 1}, {16, 16},
                                        {17, 65}, {300, 129}, {129, 300},
                                        {6272, 24}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int th = 0; th < 2; th++) {
            int64_t r = shapes[si][0], c = shapes[si][1];
            int64_t lda = c + 3, ldt = r + 5;
            float *a = malloc((size_t)(r * lda) * 4);
            float *t = malloc((size_t)(c * ldt) * 4);
            for (int64_t i = 0; i < r * lda; i++)
                a[i] = frand(&s);
            for (int64_t i = 0; i < c * ldt; i++)
                t[i] = -7.0f;
            mn_ttranspose(th ? pool : NULL, r, c, a, lda, t, ldt);
            int64_t bad = 0;
            for (int64_t i = 0; i < c; i++)
                for (int64_t k = 0; k < ldt; k++)
                    bad += t[i * ldt + k] != (k < r ? a[k * lda + i] : -7.0f);
            if (bad)
                mn_test_fail(__FILE__, __LINE__,
                             "%lldx%lld, %d threads: %lld elements wrong",
                             (long long)r, (long long)c, th + 1,
                             (long long)bad);
            free(a);
            free(t);
        }
    mn_tpool_destroy(pool);
}
