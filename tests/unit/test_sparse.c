/* Sparse float32 kernels (src/kernels/spmm_f32*, src/ops/conv_sparse.c):
 * the AVX-512 kernels against the reference ones, the sparse convolution
 * and Gemm drivers against the dense ones at every ISA level, over random
 * shapes (odd sizes, pixel tails, groups, strides, k blocks), sparsities
 * 0/50/90/99 % and all-zero rows; then sessions: forced sparse vs forced
 * dense on pruned Conv/Gemm graphs with fused residual Add and ReLU, the
 * automatic choice, and run() without allocation.
 *
 * Tolerance: sums run in another order than the dense kernels', so
 * elements agree within 1e-5·(1 + Σ|terms|) (float rounding of a sum of
 * at most a few thousand terms is far below that), checked per element
 * against the sum of absolute products computed in double. */
#include <stdlib.h>
#include <string.h>
#include "core/pool.h"
#include "core/session.h"
#include "kernels/dispatch.h"
#include "kernels/kernels_f32.h"
#include "kernels/spmm_f32.h"
#include "ops/ops.h"
#include "ops_test_util.h"
#include "test.h"

extern long mn_test_allocs;

#define REL_TOL 1e-5

/* w[i] zeroed with probability sparsity; rows listed in zero_rows (every
 * 5th row when sparsity > 0) are all zero. */
static void random_sparse(float *w, int64_t m, int64_t k, double sparsity)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t p = 0; p < k; p++) {
            int zero = (double)(otu_rand() % 10000) < sparsity * 10000.0 ||
                       (sparsity > 0 && i % 5 == 4);
            w[i * k + p] = zero ? 0.0f : otu_float();
        }
}

static const double sparsities[] = {0.0, 0.5, 0.9, 0.99};

/* ---- kernels: AVX-512 vs reference ---- */

TEST(sparse_panel_kernel_vs_ref)
{
    const mn_spmm_kernels *ref = mn_spmm_kernels_ref();
    const mn_spmm_kernels *fast = mn_spmm_kernels_avx512();
    mn_ctx ctx = {{0}};
    if (!fast || mn_isa_detect() < MN_ISA_AVX512)
        fast = ref; /* still checks ref against the naive sum */
    otu_seed(11);
    for (int iter = 0; iter < 80; iter++) {
        int nt = 16 * (int)otu_int(1, 4);
        int64_t nc = otu_int(1, nt), mr = otu_int(1, 13), kc = otu_int(1, 70);
        double sp = sparsities[iter % 4];
        int first = iter % 3 != 0, last = iter % 2 == 0;
        mn_act act = {(mn_act_kind)(iter % MN_ACT_COUNT), -0.5f, 0.7f};
        if (act.kind == MN_ACT_HARDSWISH || act.kind == MN_ACT_HARDSIGMOID)
            act.lo = 0.2f, act.hi = 0.5f;
        int64_t ldy = nc + otu_int(0, 5);
        float *w = malloc((size_t)(mr * kc) * sizeof *w);
        float *panel = malloc((size_t)(kc * nt) * sizeof *panel);
        float *bias = malloc((size_t)mr * sizeof *bias);
        float *res = malloc((size_t)(mr * ldy) * sizeof *res);
        float *y0 = malloc((size_t)(mr * ldy) * sizeof *y0);
        float *y1 = malloc((size_t)(mr * ldy) * sizeof *y1);
        mn_spmat_f32 *s = NULL;
        random_sparse(w, mr, kc, sp);
        for (int64_t i = 0; i < kc * nt; i++)
            panel[i] = i % nt < nc ? otu_float() : 0.0f;
        for (int64_t i = 0; i < mr; i++)
            bias[i] = otu_float();
        for (int64_t i = 0; i < mr * ldy; i++) {
            res[i] = otu_float();
            y0[i] = y1[i] = otu_float(); /* the partial sum when !first */
        }
        CHECK_OK(mn_spmat_f32_create(w, mr, kc, kc, 0, 0, &s, &ctx), &ctx);
        if (!s)
            break;
        ref->panel(mr, s->ptr, s->idx, s->val, panel, nt, nc, bias,
                   iter % 4 ? res : NULL, ldy, y0, first, last, &act);
        fast->panel(mr, s->ptr, s->idx, s->val, panel, nt, nc, bias,
                    iter % 4 ? res : NULL, ldy, y1, first, last, &act);
        for (int64_t i = 0; i < mr; i++)
            for (int64_t j = 0; j < ldy; j++) {
                double mag = 1.0;
                for (int64_t p = 0; p < kc; p++)
                    mag += fabs((double)w[i * kc + p] * panel[p * nt + j % nt]);
                CHECK_NEAR(y1[i * ldy + j], y0[i * ldy + j], REL_TOL * mag);
            }
        mn_spmat_f32_destroy(s);
        free(w), free(panel), free(bias), free(res), free(y0), free(y1);
    }
}

TEST(sparse_spmv_kernel_vs_naive)
{
    const mn_spmm_kernels *ks[2] = {mn_spmm_kernels_ref(),
                                    mn_spmm_kernels_avx512()};
    mn_ctx ctx = {{0}};
    otu_seed(12);
    for (int iter = 0; iter < 60; iter++) {
        int64_t m = otu_int(1, 40), k = otu_int(1, 300);
        double sp = sparsities[iter % 4];
        float *w = malloc((size_t)(m * k) * sizeof *w);
        float *x = malloc((size_t)k * sizeof *x);
        float *bias = malloc((size_t)m * sizeof *bias);
        float *y = malloc((size_t)m * sizeof *y);
        mn_act act = {iter % 2 ? MN_ACT_RELU : MN_ACT_NONE, 0, 0};
        mn_spmat_f32 *s = NULL;
        random_sparse(w, m, k, sp);
        for (int64_t p = 0; p < k; p++)
            x[p] = otu_float();
        for (int64_t i = 0; i < m; i++)
            bias[i] = otu_float();
        CHECK_OK(mn_spmat_f32_create(w, m, k, k, 0, 0, &s, &ctx), &ctx);
        for (int v = 0; s && v < 2; v++) {
            if (!ks[v] || (v && mn_isa_detect() < MN_ISA_AVX512))
                continue;
            ks[v]->spmv(m, s->ptr, s->idx, s->val, x, bias, NULL, &act, y);
            for (int64_t i = 0; i < m; i++) {
                double want = bias[i], mag = 1.0;
                for (int64_t p = 0; p < k; p++) {
                    want += (double)w[i * k + p] * x[p];
                    mag += fabs((double)w[i * k + p] * x[p]);
                }
                if (act.kind == MN_ACT_RELU && want < 0)
                    want = 0;
                CHECK_NEAR(y[i], want, REL_TOL * mag);
            }
        }
        mn_spmat_f32_destroy(s);
        free(w), free(x), free(bias), free(y);
    }
}

/* ---- drivers: sparse vs dense ---- */

static mn_conv_params random_params(int iter)
{
    mn_conv_params p = {.n = otu_int(1, 2), .dh = 1, .dw = 1, .group = 1};
    int kind = iter % 5;
    p.group = kind == 3 ? 2 : 1;
    p.c = p.group * otu_int(1, 12);
    p.m = p.group * otu_int(1, 20);
    p.h = otu_int(1, 19);
    p.w = otu_int(1, 23);
    p.kh = kind == 1 ? 1 : otu_int(1, 3);
    p.kw = kind == 1 ? 1 : otu_int(1, 3);
    p.sh = kind == 2 ? 2 : 1;
    p.sw = kind == 2 ? otu_int(1, 2) : 1;
    p.pt = kind == 1 ? 0 : otu_int(0, p.kh - 1);
    p.pl = kind == 1 ? 0 : otu_int(0, p.kw - 1);
    if (kind == 4) { /* a big k: several k blocks */
        p.c = 300;
        p.kh = p.kw = 3;
        p.pt = p.pl = 1;
    }
    if (p.h + 2 * p.pt < p.kh)
        p.h = p.kh;
    if (p.w + 2 * p.pl < p.kw)
        p.w = p.kw;
    p.oh = (p.h + 2 * p.pt - p.kh) / p.sh + 1;
    p.ow = (p.w + 2 * p.pl - p.kw) / p.sw + 1;
    return p;
}

TEST(sparse_conv_vs_dense_every_isa)
{
    mn_ctx ctx = {{0}};
    mn_pool *pool = NULL;
    CHECK_OK(mn_pool_create(2, 0, &pool, &ctx), &ctx);
    otu_seed(13);
    for (int iter = 0; iter < 40; iter++) {
        mn_conv_params p = random_params(iter);
        int64_t k = p.c / p.group * p.kh * p.kw;
        int64_t nx = p.n * p.c * p.h * p.w, ny = p.n * p.m * p.oh * p.ow;
        double sp = sparsities[iter % 4];
        float *x = malloc((size_t)nx * sizeof *x);
        float *w = malloc((size_t)(p.m * k) * sizeof *w);
        float *b = malloc((size_t)p.m * sizeof *b);
        float *res = malloc((size_t)ny * sizeof *res);
        float *yd = malloc((size_t)ny * sizeof *yd);
        float *ys = malloc((size_t)ny * sizeof *ys);
        float *yp = malloc((size_t)ny * sizeof *yp);
        mn_act act = {iter % 3 ? MN_ACT_RELU : MN_ACT_SILU, 0, 0};
        const float *r = iter % 2 ? res : NULL;
        mn_spmat_f32 *s = NULL;
        for (int64_t i = 0; i < nx; i++)
            x[i] = otu_float();
        for (int64_t i = 0; i < ny; i++)
            res[i] = otu_float();
        for (int64_t i = 0; i < p.m; i++)
            b[i] = otu_float();
        random_sparse(w, p.m, k, sp);
        CHECK_OK(mn_spmat_f32_create(w, p.m, k, k, 0, mn_spconv_f32_kblock(&p),
                                     &s, &ctx),
                 &ctx);
        for (int isa = MN_ISA_REF; s && isa <= MN_ISA_AVX512; isa++) {
            if (mn_isa_force((mn_isa)isa) != (mn_isa)isa)
                continue;
            size_t sb = mn_conv2d_f32_scratch(&p);
            size_t ss = mn_spconv_f32_scratch(&p);
            void *scr = mn_malloc_aligned(sb > ss ? sb : ss);
            mn_conv2d_f32(NULL, &p, x, w, b, &act, r, yd, scr);
            mn_spconv_f32(NULL, &p, s, x, b, &act, r, ys, scr);
            mn_spconv_f32(pool, &p, s, x, b, &act, r, yp, scr);
            /* any thread count: the same bits */
            CHECK(memcmp(ys, yp, (size_t)ny * sizeof *ys) == 0);
            double tol = REL_TOL * (1.0 + 2.0 * (double)k);
            int bad = 0;
            for (int64_t i = 0; i < ny && bad < 3; i++)
                if (!(fabs(ys[i] - yd[i]) <= tol)) {
                    bad++;
                    CHECK_NEAR(ys[i], yd[i], tol);
                }
            mn_free_aligned(scr);
        }
        mn_isa_force(MN_ISA_COUNT);
        mn_spmat_f32_destroy(s);
        free(x), free(w), free(b), free(res), free(yd), free(ys), free(yp);
    }
    mn_pool_destroy(pool);
}

TEST(sparse_gemm_vs_dense)
{
    mn_ctx ctx = {{0}};
    otu_seed(14);
    for (int iter = 0; iter < 30; iter++) {
        int64_t rows = otu_int(1, 9), n = otu_int(1, 150), k = otu_int(1, 200);
        int trans = iter % 2; /* B as k×n (Gemm transB 0, MatMul) or n×k */
        float *w = malloc((size_t)(n * k) * sizeof *w);
        float *bt = malloc((size_t)(n * k) * sizeof *bt);
        float *x = malloc((size_t)(rows * k) * sizeof *x);
        float *bias = malloc((size_t)n * sizeof *bias);
        float *yd = malloc((size_t)(rows * n) * sizeof *yd);
        float *ys = malloc((size_t)(rows * n) * sizeof *ys);
        mn_epilogue epi = {.bias = bias, .bias_per_col = 1,
                           .act = {MN_ACT_RELU, 0, 0}};
        mn_spmat_f32 *s = NULL;
        random_sparse(w, n, k, sparsities[iter % 4]); /* n×k */
        for (int64_t i = 0; i < n; i++)
            for (int64_t p = 0; p < k; p++)
                bt[p * n + i] = w[i * k + p];
        for (int64_t i = 0; i < rows * k; i++)
            x[i] = otu_float();
        for (int64_t i = 0; i < n; i++)
            bias[i] = otu_float();
        CHECK_OK(mn_spmat_f32_create(trans ? bt : w, n, k, trans ? n : k,
                                     trans, 0, &s, &ctx),
                 &ctx);
        void *scr = mn_malloc_aligned(mn_sgemm_scratch(0, 1, rows, n, k));
        mn_sgemm(NULL, 0, 1, rows, n, k, 1.0f, x, k, w, k, 0.0f, yd, n, &epi,
                 scr);
        if (s)
            mn_spgemm_f32(NULL, s, rows, x, bias, NULL, &epi.act, ys);
        for (int64_t i = 0; s && i < rows * n; i++)
            CHECK_NEAR(ys[i], yd[i], REL_TOL * (1.0 + 2.0 * (double)k));
        mn_free_aligned(scr);
        mn_spmat_f32_destroy(s);
        free(w), free(bt), free(x), free(bias), free(yd), free(ys);
    }
}

/* ---- sessions ---- */

static int add_val(mn_graph *g, const char *name, int nd, const int64_t *d)
{
    mn_ctx ctx = {{0}};
    int v = -1;
    if (mn_graph_add_value(g, name, MN_DT_F32, nd, d, &v, &ctx) != MN_OK)
        mn_test_fail(__FILE__, __LINE__, "%s", ctx.msg);
    return v;
}

static int add_const(mn_graph *g, const char *name, int nd, const int64_t *d,
                     double sparsity)
{
    mn_ctx ctx = {{0}};
    int v = add_val(g, name, nd, d);
    if (v < 0 ||
        mn_tensor_create(MN_DT_F32, nd, d, &g->values[v].init, &ctx) != MN_OK)
        return -1;
    mn_tensor *t = g->values[v].init;
    int64_t n = mn_tensor_numel(t), rows = t->dims[0];
    random_sparse(t->data, rows, n / rows, sparsity);
    return v;
}

/* x [1,8,10,10] → Conv 3×3 (pruned, bias) → Add x → Relu → Flatten-free
 * Gemm: the conv output goes to the output y1 too; x2 [2,40] → Gemm
 * (pruned W [30,40], transB 1, bias [30]) → Relu → y2. */
static mn_graph *pruned_graph(double sparsity)
{
    mn_ctx ctx = {{0}};
    mn_graph *g;
    int nd;
    if (mn_graph_create(&g, &ctx) != MN_OK)
        return NULL;
    int x = add_val(g, "x", 4, (int64_t[]){1, 8, 10, 10});
    int w = add_const(g, "w", 4, (int64_t[]){8, 8, 3, 3}, sparsity);
    int b = add_const(g, "b", 1, (int64_t[]){8}, 0.0);
    int c = add_val(g, "c", -1, NULL), a = add_val(g, "a", -1, NULL);
    int y1 = add_val(g, "y1", -1, NULL);
    int x2 = add_val(g, "x2", 2, (int64_t[]){2, 40});
    int w2 = add_const(g, "w2", 2, (int64_t[]){30, 40}, sparsity);
    int b2 = add_const(g, "b2", 1, (int64_t[]){30}, 0.0);
    int h = add_val(g, "h", -1, NULL), y2 = add_val(g, "y2", -1, NULL);
    mn_graph_add_node(g, "conv", "Conv", "", 13, (int[]){x, w, b}, 3, &c, 1,
                      &nd, &ctx);
    otu_ints(&g->nodes[nd], "pads", (int64_t[]){1, 1, 1, 1}, 4);
    mn_graph_add_node(g, "add", "Add", "", 13, (int[]){c, x}, 2, &a, 1, &nd,
                      &ctx);
    mn_graph_add_node(g, "relu", "Relu", "", 13, &a, 1, &y1, 1, &nd, &ctx);
    mn_graph_add_node(g, "fc", "Gemm", "", 13, (int[]){x2, w2, b2}, 3, &h, 1,
                      &nd, &ctx);
    otu_int_attr(&g->nodes[nd], "transB", 1);
    mn_graph_add_node(g, "relu2", "Relu", "", 13, &h, 1, &y2, 1, &nd, &ctx);
    g->inputs = malloc(2 * sizeof(int));
    g->outputs = malloc(2 * sizeof(int));
    g->inputs[0] = x, g->inputs[1] = x2;
    g->outputs[0] = y1, g->outputs[1] = y2;
    g->n_inputs = g->n_outputs = 2;
    mn_graph_relink(g);
    if (mn_graph_toposort(g, &ctx) != MN_OK) {
        mn_test_fail(__FILE__, __LINE__, "%s", ctx.msg);
        mn_graph_destroy(g);
        return NULL;
    }
    return g;
}

static const char *node_kernel(const mn_session *s, const mn_graph *g,
                               const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i].name, name))
            return mn_session_node_kernel(s, i);
    return NULL;
}

TEST(sparse_session_matches_dense_without_allocating)
{
    mn_ctx ctx = {{0}};
    otu_seed(15);
    mn_graph *g = pruned_graph(0.9);
    mn_tensor *in[2] = {NULL, NULL};
    if (!g)
        return;
    CHECK_OK(mn_tensor_create(MN_DT_F32, 4, (int64_t[]){1, 8, 10, 10}, &in[0],
                              &ctx),
             &ctx);
    CHECK_OK(mn_tensor_create(MN_DT_F32, 2, (int64_t[]){2, 40}, &in[1], &ctx),
             &ctx);
    for (int j = 0; j < 2 && in[j]; j++)
        for (int64_t i = 0; i < mn_tensor_numel(in[j]); i++)
            ((float *)in[j]->data)[i] = otu_float();
    for (int threads = 1; threads <= 2; threads++) {
        mn_session *sd = NULL, *ss = NULL;
        mn_session_opts od = {.threads = threads, .sparse = MN_SPARSE_DENSE};
        mn_session_opts os = {.threads = threads, .sparse = MN_SPARSE_FORCE};
        CHECK_OK(mn_session_create(g, &od, &sd, &ctx), &ctx);
        CHECK_OK(mn_session_create(g, &os, &ss, &ctx), &ctx);
        if (!sd || !ss) {
            mn_session_destroy(sd);
            mn_session_destroy(ss);
            break;
        }
        const char *kd = node_kernel(sd, g, "conv");
        const char *ks = node_kernel(ss, g, "conv");
        const char *kg = node_kernel(ss, g, "fc");
        CHECK(kd && !strcmp(kd, "dense"));
        CHECK(ks && !strcmp(ks, "sparse"));
        CHECK(kg && !strcmp(kg, "sparse"));
        CHECK_OK(mn_session_run(sd, (const mn_tensor *const *)in, 2, &ctx),
                 &ctx);
        long before = mn_test_allocs;
        for (int rep = 0; rep < 3; rep++)
            CHECK_OK(mn_session_run(ss, (const mn_tensor *const *)in, 2, &ctx),
                     &ctx);
        CHECK_EQ_INT(mn_test_allocs - before, 0);
        for (int o = 0; o < 2; o++) {
            const mn_tensor *a = mn_session_output(sd, o);
            const mn_tensor *b = mn_session_output(ss, o);
            CHECK_EQ_INT(mn_tensor_numel(a), mn_tensor_numel(b));
            int64_t n = mn_tensor_numel(a), nonzero = 0;
            for (int64_t i = 0; i < n; i++) {
                float u = ((const float *)a->data)[i];
                nonzero += u != 0.0f;
                CHECK_NEAR(((const float *)b->data)[i], u, 1e-4);
            }
            CHECK(nonzero > n / 10); /* ReLU left real values to compare */
        }
        mn_session_destroy(sd);
        mn_session_destroy(ss);
    }
    mn_tensor_destroy(in[0]);
    mn_tensor_destroy(in[1]);
    mn_graph_destroy(g);
}

TEST(sparse_auto_choice_follows_density)
{
    mn_ctx ctx = {{0}};
    otu_seed(16);
    mn_graph *g95 = pruned_graph(0.95), *g0 = pruned_graph(0.0);
    mn_session *s95 = NULL, *s0 = NULL;
    mn_session_opts o = {.sparse = MN_SPARSE_AUTO};
    if (!g95 || !g0 || getenv("MINNOW_SPARSE"))
        goto out;
    CHECK_OK(mn_session_create(g95, &o, &s95, &ctx), &ctx);
    CHECK_OK(mn_session_create(g0, &o, &s0, &ctx), &ctx);
    if (!s95 || !s0)
        goto out;
    const char *k0 = node_kernel(s0, g0, "conv");
    const char *k95 = node_kernel(s95, g95, "conv");
    CHECK(k0 && !strcmp(k0, "dense"));
    CHECK(k95 && !strcmp(k95, mn_isa_active() >= MN_ISA_AVX512 ? "sparse"
                                                               : "dense"));
out:
    mn_session_destroy(s95);
    mn_session_destroy(s0);
    mn_graph_destroy(g95);
    mn_graph_destroy(g0);
}
