/* Gradient checks: Conv (plain, strided, padded, dilated, grouped,
 * depthwise with and without a channel multiplier, depthwise at stride 1
 * on padded planes, pointwise, 1-D, a batch larger than the backward's
 * chunk count, several samples' GEMMs run as one on small planes with
 * tails), Gemm and MatMul. */
#include "grad_check.h"
#include "test.h"

typedef struct conv_case {
    const char *name;
    int64_t n, c, h, w, m, k, s, d, pad, group;
    int bias;
} conv_case;

static void conv_check(const conv_case *cc, uint64_t seed)
{
    mn_graph *g = gc_graph("Conv", 13, cc->bias ? 3 : 2, 1);
    int64_t xd[4] = {cc->n, cc->c, cc->h, cc->w};
    int64_t wd[4] = {cc->m, cc->c / cc->group, cc->k, cc->k};
    int64_t bd[1] = {cc->m};
    int64_t ks[2] = {cc->k, cc->k}, st[2] = {cc->s, cc->s};
    int64_t dl[2] = {cc->d, cc->d};
    int64_t pads[4] = {cc->pad, cc->pad, cc->pad > 0 ? cc->pad - 1 : 0,
                       cc->pad};
    mn_tensor *in[3];
    gc_attr_ints(g, "kernel_shape", ks, 2);
    gc_attr_ints(g, "strides", st, 2);
    gc_attr_ints(g, "dilations", dl, 2);
    gc_attr_ints(g, "pads", pads, 4);
    gc_attr_int(g, "group", cc->group);
    in[0] = gc_rand(4, xd, seed, -1, 1, 0);
    in[1] = gc_rand(4, wd, seed + 1, -1, 1, 0);
    in[2] = cc->bias ? gc_rand(1, bd, seed + 2, -1, 1, 0) : NULL;
    GC_CHECK(cc->name, g, in, cc->bias ? 3 : 2, 7u, NULL);
}

TEST(grad_conv_variants)
{
    static const conv_case cases[] = {
        {"conv 3x3 pad", 2, 3, 5, 5, 4, 3, 1, 1, 1, 1, 1},
        {"conv stride 2", 2, 3, 7, 6, 4, 3, 2, 1, 1, 1, 1},
        {"conv dilation 2", 1, 2, 7, 7, 3, 3, 1, 2, 2, 1, 0},
        {"conv grouped", 2, 4, 5, 5, 6, 3, 1, 1, 1, 2, 1},
        {"conv depthwise", 2, 3, 6, 6, 3, 3, 2, 1, 1, 3, 1},
        {"conv depthwise x2", 2, 2, 5, 5, 4, 3, 1, 1, 1, 2, 0},
        {"conv depthwise 5x5 dil", 1, 3, 8, 8, 3, 5, 1, 2, 2, 3, 1},
        /* stride 1, one output per channel: the padded-plane path */
        {"conv depthwise 3x3 s1", 2, 3, 5, 6, 3, 3, 1, 1, 1, 3, 1},
        {"conv depthwise 7x7 s1", 2, 2, 5, 4, 2, 7, 1, 1, 3, 2, 0},
        {"conv depthwise 5x5 wide", 1, 2, 3, 21, 2, 5, 1, 1, 2, 2, 1},
        {"conv pointwise", 3, 5, 4, 4, 6, 1, 1, 1, 0, 1, 1},
        {"conv 1x1 stride 2", 2, 4, 5, 5, 3, 1, 2, 1, 0, 1, 1},
        {"conv batch 11", 11, 2, 4, 4, 3, 3, 1, 1, 1, 1, 1},
        /* 16×16 planes: sub-batches of 2 samples, 3 per backward chunk */
        {"conv batch 40 16x16", 40, 2, 16, 16, 2, 3, 1, 1, 1, 1, 1},
        {"conv 2x2 stride 2", 5, 3, 8, 8, 4, 2, 2, 1, 0, 1, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        conv_check(&cases[i], 100 + i);
}

TEST(grad_conv_1d)
{
    mn_graph *g = gc_graph("Conv", 13, 3, 1);
    int64_t xd[3] = {2, 3, 9}, wd[3] = {4, 3, 3}, bd[1] = {4};
    int64_t pads[2] = {1, 2}, st[1] = {2};
    mn_tensor *in[3];
    gc_attr_ints(g, "pads", pads, 2);
    gc_attr_ints(g, "strides", st, 1);
    in[0] = gc_rand(3, xd, 7, -1, 1, 0);
    in[1] = gc_rand(3, wd, 8, -1, 1, 0);
    in[2] = gc_rand(1, bd, 9, -1, 1, 0);
    GC_CHECK("conv 1d", g, in, 3, 7u, NULL);
}

TEST(grad_conv_single_thread_same_as_two)
{
    /* The same case with 1 and 3 threads must pass (the backward's chunks
     * do not depend on the thread count). */
    for (int t = 1; t <= 3; t += 2) {
        mn_graph *g = gc_graph("Conv", 13, 3, 1);
        int64_t xd[4] = {9, 2, 5, 5}, wd[4] = {3, 2, 3, 3}, bd[1] = {3};
        int64_t pads[4] = {1, 1, 1, 1};
        mn_tensor *in[3];
        gc_opts o = {.threads = t};
        gc_attr_ints(g, "pads", pads, 4);
        in[0] = gc_rand(4, xd, 70, -1, 1, 0);
        in[1] = gc_rand(4, wd, 71, -1, 1, 0);
        in[2] = gc_rand(1, bd, 72, -1, 1, 0);
        GC_CHECK("conv threads", g, in, 3, 7u, &o);
    }
}

static void gemm_check(const char *name, int ta, int tb, int cdims,
                       float alpha, float beta)
{
    mn_graph *g = gc_graph("Gemm", 13, 3, 1);
    int64_t M = 3, K = 5, N = 4;
    int64_t ad[2] = {ta ? K : M, ta ? M : K};
    int64_t bd[2] = {tb ? N : K, tb ? K : N};
    int64_t cd[2] = {cdims == 2 ? M : N, N};
    mn_tensor *in[3];
    gc_attr_int(g, "transA", ta);
    gc_attr_int(g, "transB", tb);
    gc_attr_float(g, "alpha", alpha);
    gc_attr_float(g, "beta", beta);
    in[0] = gc_rand(2, ad, 31, -1, 1, 0);
    in[1] = gc_rand(2, bd, 32, -1, 1, 0);
    in[2] = cdims == 2 ? gc_rand(2, cd, 33, -1, 1, 0)
                       : gc_rand(1, cd + 1, 33, -1, 1, 0);
    GC_CHECK(name, g, in, 3, 7u, NULL);
}

TEST(grad_gemm)
{
    gemm_check("gemm", 0, 0, 1, 1.0f, 1.0f);
    gemm_check("gemm transB", 0, 1, 1, 1.0f, 1.0f);
    gemm_check("gemm transA", 1, 0, 2, 0.5f, 2.0f);
    gemm_check("gemm transA transB", 1, 1, 1, 1.5f, 0.5f);
}

static void matmul_check(const char *name, int na, const int64_t *ad, int nb,
                         const int64_t *bd)
{
    mn_graph *g = gc_graph("MatMul", 13, 2, 1);
    mn_tensor *in[2];
    in[0] = gc_rand(na, ad, 41, -1, 1, 0);
    in[1] = gc_rand(nb, bd, 42, -1, 1, 0);
    GC_CHECK(name, g, in, 2, 3u, NULL);
}

TEST(grad_matmul)
{
    matmul_check("matmul 2d", 2, (int64_t[]){3, 4}, 2, (int64_t[]){4, 5});
    matmul_check("matmul 3d x 2d", 3, (int64_t[]){2, 3, 4}, 2,
                 (int64_t[]){4, 5});
    matmul_check("matmul batched", 3, (int64_t[]){2, 3, 4}, 3,
                 (int64_t[]){2, 4, 2});
    matmul_check("matmul broadcast a", 2, (int64_t[]){3, 4}, 3,
                 (int64_t[]){2, 4, 2});
    matmul_check("matmul 1d", 1, (int64_t[]){4}, 2, (int64_t[]){4, 3});
}
