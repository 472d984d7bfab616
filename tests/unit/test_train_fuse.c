/* The tape's fused chains (src/train/tape_fuse.c) and the GELU kernels
 * they run (src/train/tkern*.c):
 *   - the plan finds GELU's exported erf form (Div, Erf, Add, Mul, Mul) and
 *     leaves it alone when an intermediate value has a second consumer or
 *     is a graph output;
 *   - a tape with the fused step computes the session's (unfused) forward
 *     within 2e-6·(1 + |y|), and its gradients pass finite differences
 *     (test_train.c's pattern graph and the architectures' checks);
 *   - the GELU kernels (portable and AVX-512) against double-precision
 *     x·Φ(x) and Φ(x) + x·φ(x) on [-10, 10]: within 4e-7 + 4e-6·|exact|
 *     (the gradient cancels to 0 near x = -0.75, so an absolute part). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "grad_check.h"
#include "kernels/dispatch.h"
#include "test.h"
#include "train/arch.h"
#include "train/tape.h"
#include "train/tape_fuse.h"
#include "train/tkern.h"

/* x → Conv → GELU (erf form) → GAP → Dense; with `leak` the Erf output
 * also feeds a second consumer (a Mul that is added to the result). */
static mn_graph *gelu_graph(int leak, mn_ctx *ctx)
{
    mn_ab b;
    mn_graph *g = NULL;
    mn_arch_opts o = {.channels = 2, .height = 5, .width = 5, .classes = 3,
                      .seed = 9};
    int x = ab_begin(&b, "gelu", &o, ctx);
    int y = ab_conv(&b, x, 2, 4, 3, 1, 1, 1);
    int z = ab_act(&b, y, "Gelu");
    if (leak) {
        /* the Erf output (z's producer chain: Div, Erf, ...) reused */
        int erf_out = -1;
        for (int i = 0; i < b.g->n_nodes; i++)
            if (b.g->nodes[i].op == MN_OP_ERF)
                erf_out = b.g->nodes[i].out[0];
        z = ab_add(&b, z, ab_mul(&b, erf_out, y));
    }
    z = ab_flatten(&b, ab_gap(&b, z));
    z = ab_dense(&b, z, 4, 3);
    if (ab_end(&b, z, &g) != MN_OK)
        return NULL;
    return g;
}

static int count_roles(const mn_tape_fusion *f, int n, int role)
{
    int c = 0;
    for (int i = 0; i < n; i++)
        c += role >= 0 ? f->role[i] >= 0 : f->role[i] == role;
    return c;
}

TEST(train_fuse_plan_finds_gelu)
{
    mn_ctx ctx = {{0}};
    mn_tape_fusion f;
    mn_graph *g = gelu_graph(0, &ctx);
    CHECK(g != NULL);
    if (!g)
        return;
    CHECK_OK(mn_tape_fuse_plan(g, &f, &ctx), &ctx);
    CHECK_EQ_INT(f.n_nodes, 1);
    CHECK_EQ_INT(count_roles(&f, g->n_nodes, MN_FUSE_ABSORBED), 4);
    CHECK_EQ_INT(count_roles(&f, g->n_nodes, 0), 1);
    if (f.n_nodes == 1) {
        CHECK(f.nodes[0].op == MN_OP_GELU);
        CHECK_EQ_INT(f.nodes[0].n_in, 1);
        /* the fused node reads the Conv's output */
        for (int i = 0; i < g->n_nodes; i++)
            if (g->nodes[i].op == MN_OP_CONV)
                CHECK_EQ_INT(f.nodes[0].in[0], g->nodes[i].out[0]);
    }
    mn_tape_fusion_free(&f);
    mn_graph_destroy(g);

    g = gelu_graph(1, &ctx);
    CHECK(g != NULL);
    if (!g)
        return;
    CHECK_OK(mn_tape_fuse_plan(g, &f, &ctx), &ctx);
    CHECK_EQ_INT(f.n_nodes, 0);
    CHECK_EQ_INT(count_roles(&f, g->n_nodes, MN_FUSE_SELF), g->n_nodes);
    mn_tape_fusion_free(&f);
    /* an intermediate that is a graph output is not fused away either */
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op == MN_OP_ERF) {
            g->n_outputs = 1;
            g->outputs[0] = g->nodes[i].out[0];
        }
    CHECK_OK(mn_tape_fuse_plan(g, &f, &ctx), &ctx);
    CHECK_EQ_INT(f.n_nodes, 0);
    mn_tape_fusion_free(&f);
    mn_graph_destroy(g);
}

/* The fused tape forward against the session running the five ops. */
TEST(train_fuse_tape_matches_session)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = gelu_graph(0, &ctx);
    mn_tape *t = NULL;
    mn_session *s = NULL;
    CHECK(g != NULL);
    if (!g)
        return;
    mn_session_opts so = {.batch = 3};
    CHECK_OK(mn_session_create(g, &so, &s, &ctx), &ctx);
    CHECK_OK(mn_tape_create(g, 3, NULL, 0, NULL, &t, &ctx), &ctx);
    if (s && t) {
        mn_tensor *x = gc_rand(4, mn_tape_input(t)->dims, 4, -3, 3, 0);
        CHECK_OK(mn_tape_forward(t, x->data, 0, 0, &ctx), &ctx);
        const mn_tensor *xi[1] = {x};
        CHECK_OK(mn_session_run(s, xi, 1, &ctx), &ctx);
        const mn_tensor *a = mn_tape_output(t, 0), *b = mn_session_output(s, 0);
        CHECK_EQ_INT((int)mn_tensor_numel(a), (int)mn_tensor_numel(b));
        const float *pa = a->data, *pb = b->data;
        for (int64_t i = 0; i < mn_tensor_numel(a); i++)
            CHECK(fabsf(pa[i] - pb[i]) <= 2e-6f * (1.0f + fabsf(pb[i])));
        /* the chain's intermediates are not computed */
        for (int i = 0; i < g->n_nodes; i++)
            if (g->nodes[i].op == MN_OP_ERF)
                CHECK(mn_tape_value(t, g->nodes[i].out[0])->data == NULL);
        mn_tensor_destroy(x);
    }
    mn_tape_destroy(t);
    mn_session_destroy(s);
    mn_graph_destroy(g);
}

TEST(train_kern_gelu_accuracy)
{
    enum { N = 4001 };
    float *x = malloc(N * 4), *g = malloc(N * 4), *y = malloc(N * 4);
    for (int i = 0; i < N; i++) {
        x[i] = -10.0f + 20.0f * (float)i / (N - 1);
        g[i] = 1.0f;
    }
    const mn_tkern *ks[2] = {&mn_tkern_ref, &mn_tkern_avx512};
    int nk = mn_isa_detect() >= MN_ISA_AVX512 && ks[1]->gelu_fwd ? 2 : 1;
    for (int kk = 0; kk < nk; kk++)
        for (int pass = 0; pass < 2; pass++) {
            if (pass == 0)
                ks[kk]->gelu_fwd(x, y, N);
            else
                ks[kk]->gelu_bwd(x, g, y, N);
            for (int i = 0; i < N; i++) {
                double xv = x[i], cdf = 0.5 * erfc(-xv / sqrt(2.0));
                double pdf = exp(-0.5 * xv * xv) / sqrt(2 * M_PI);
                double e = pass == 0 ? xv * cdf : cdf + xv * pdf;
                if (fabs(y[i] - e) > 4e-7 + 4e-6 * fabs(e))
                    mn_test_fail(__FILE__, __LINE__,
                                 "gelu %s %s(%g): %.9g, exact %.9g",
                                 kk ? "avx512" : "portable",
                                 pass ? "bwd" : "fwd", xv, y[i], e);
            }
        }
    free(x);
    free(g);
    free(y);
}
