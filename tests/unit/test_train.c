/* Training core: whole-graph gradients through the tape (SiLU, squeeze-
 * excitation, residual fan-out, BatchNorm in training mode) against finite
 * differences; losses; optimizers; schedules; architectures; trainer
 * determinism. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "minnow/train.h"
#include "ops/ops.h"
#include "grad_check.h"
#include "test.h"
#include "train/arch.h"
#include "train/tape.h"

/* A small graph with the patterns the architectures use. */
static mn_graph *pattern_graph(mn_ctx *ctx)
{
    mn_ab b;
    mn_graph *g = NULL;
    mn_arch_opts o = {.channels = 2, .height = 6, .width = 6, .classes = 3,
                      .seed = 5};
    int x = ab_begin(&b, "patterns", &o, ctx);
    int y = ab_conv_bn_act(&b, x, 2, 4, 3, 1, 1, "SiLU");
    int z = ab_conv_bn_act(&b, y, 4, 4, 3, 1, 4, "HardSwish"); /* dw */
    z = ab_se(&b, z, 4, 2, "Relu", "Sigmoid");
    z = ab_add(&b, z, y); /* y feeds two consumers */
    z = ab_scale(&b, z, 4, 0.5f);
    z = ab_maxpool(&b, z, 2, 2, 0);
    z = ab_act(&b, z, "Gelu");
    z = ab_flatten(&b, ab_gap(&b, z));
    z = ab_dense(&b, z, 4, 3);
    if (ab_end(&b, z, &g) != MN_OK)
        return NULL;
    return g;
}

/* Method and tolerance: gc_net_run (grad_check.h), h = 1e-2. */
TEST(train_tape_gradients_match_finite_differences)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = pattern_graph(&ctx);
    static const int64_t y[5] = {0, 2, 1, 1, 0};
    gc_net_opts go = {.batch = 5, .y = y, .x_seed = 3, .h = 1e-2,
                      .per_tensor = 12};
    gc_net_result r;
    CHECK(g != NULL);
    if (!g)
        return;
    gc_net_run("patterns", g, &go, &r);
    CHECK(r.checked > 60);
    CHECK_EQ_INT(r.bad, 0);
    mn_graph_destroy(g);
}

TEST(train_loss_cross_entropy)
{
    mn_ctx ctx = {{0}};
    float z[6] = {0, 0, 0, 1, 2, 3};
    int64_t y[2] = {1, 2};
    float d[6];
    double l;
    int64_t hits;
    CHECK_OK(mn_loss_softmax_ce(z, y, 2, 3, 0, d, &l, &hits, &ctx), &ctx);
    double l2 = -(3 - log(exp(1) + exp(2) + exp(3)));
    CHECK_NEAR(l, (log(3.0) + l2) / 2, 1e-6);
    CHECK_EQ_INT(hits, 1); /* row 0 ties → index 0 */
    CHECK_NEAR(d[0], (1.0 / 3) / 2, 1e-6);
    CHECK_NEAR(d[1], (1.0 / 3 - 1) / 2, 1e-6);
    /* smoothing 0.3 over 3 classes: target 0.1 / 0.8 */
    CHECK_OK(mn_loss_softmax_ce(z, y, 1, 3, 0.3f, d, &l, NULL, &ctx), &ctx);
    CHECK_NEAR(l, log(3.0), 1e-6); /* uniform p: loss = log k */
    CHECK_NEAR(d[1], (1.0 / 3 - 0.8), 1e-6);
    y[0] = 3;
    CHECK(mn_loss_softmax_ce(z, y, 1, 3, 0, d, &l, NULL, &ctx) == MN_ERR_ARG);
    CHECK(strstr(ctx.msg, "out of range") != NULL);
    z[0] = NAN;
    y[0] = 0;
    CHECK(mn_loss_softmax_ce(z, y, 1, 3, 0, d, &l, NULL, &ctx) ==
          MN_ERR_RUNTIME);
}

TEST(train_loss_distill)
{
    mn_ctx ctx = {{0}};
    float s[4] = {0.5f, -1, 2, 0.25f}, t[4] = {1, 0, -1, 0.5f}, d[4];
    double l, lp, lm;
    /* KL of identical distributions is 0 */
    CHECK_OK(mn_loss_distill(t, t, 2, 2, 2.0f, d, &l, &ctx), &ctx);
    CHECK_NEAR(l, 0, 1e-9);
    CHECK_OK(mn_loss_distill(s, t, 2, 2, 3.0f, d, &l, &ctx), &ctx);
    CHECK(l > 0);
    for (int i = 0; i < 4; i++) {
        float keep = s[i];
        s[i] = keep + 1e-2f;
        mn_loss_distill(s, t, 2, 2, 3.0f, NULL, &lp, &ctx);
        s[i] = keep - 1e-2f;
        mn_loss_distill(s, t, 2, 2, 3.0f, NULL, &lm, &ctx);
        s[i] = keep;
        CHECK_NEAR(d[i], (lp - lm) / 2e-2, 1e-4);
    }
}

TEST(train_optimizers)
{
    mn_ctx ctx = {{0}};
    mn_optim *op = NULL;
    float w[2] = {1, 1}, g[2];
    uint8_t mask[2] = {1, 0};
    /* SGD momentum 0.5, Nesterov off, wd 0.1 on w[0] only */
    mn_optim_opts o = {.kind = MN_OPTIM_SGD, .momentum = 0.5f,
                       .weight_decay = 0.1f};
    CHECK_OK(mn_optim_create(&o, 2, mask, &op, &ctx), &ctx);
    g[0] = g[1] = 1;
    CHECK_OK(mn_optim_step(op, w, g, 0.1f, NULL, &ctx), &ctx);
    CHECK_NEAR(w[0], 1 - 0.1 * 1.1, 1e-6);
    CHECK_NEAR(w[1], 0.9, 1e-6);
    g[0] = g[1] = 1;
    CHECK_OK(mn_optim_step(op, w, g, 0.1f, NULL, &ctx), &ctx);
    /* buf = 0.5·1 + 1 = 1.5 for w[1] */
    CHECK_NEAR(w[1], 0.9 - 0.15, 1e-6);
    mn_optim_destroy(op);
    /* Adam: first step moves by lr·sign(g) */
    mn_optim_opts a = {.kind = MN_OPTIM_ADAM};
    CHECK_OK(mn_optim_create(&a, 2, NULL, &op, &ctx), &ctx);
    w[0] = w[1] = 0;
    g[0] = 3;
    g[1] = -0.01f;
    CHECK_OK(mn_optim_step(op, w, g, 0.01f, NULL, &ctx), &ctx);
    CHECK_NEAR(w[0], -0.01, 1e-6);
    CHECK_NEAR(w[1], 0.01, 1e-5);
    mn_optim_destroy(op);
    /* AdamW decays the weight itself; clipping scales to the norm */
    mn_optim_opts aw = {.kind = MN_OPTIM_ADAMW, .weight_decay = 0.5f,
                        .clip_norm = 1.0f};
    double norm;
    CHECK_OK(mn_optim_create(&aw, 2, NULL, &op, &ctx), &ctx);
    w[0] = w[1] = 2;
    g[0] = 3;
    g[1] = 4;
    CHECK_OK(mn_optim_step(op, w, g, 0.1f, &norm, &ctx), &ctx);
    CHECK_NEAR(norm, 5, 1e-6);
    CHECK_NEAR(g[0], 0.6, 1e-5);
    CHECK_NEAR(w[0], 2 - 0.1 * 0.5 * 2 - 0.1, 1e-5);
    g[0] = INFINITY;
    CHECK(mn_optim_step(op, w, g, 0.1f, NULL, &ctx) == MN_ERR_RUNTIME);
    mn_optim_destroy(op);
}

TEST(train_schedules)
{
    /* PyTorch OneCycleLR: peak at step pct·total - 1 */
    mn_lr_opts oc = {.kind = MN_LR_ONECYCLE, .pct = 0.26f};
    CHECK_NEAR(mn_lr_at(&oc, 1.0f, 0, 10, 100), 1.0 / 25, 1e-6);
    CHECK_NEAR(mn_lr_at(&oc, 1.0f, 25, 10, 100), 1.0, 1e-6);
    CHECK_NEAR(mn_lr_at(&oc, 1.0f, 99, 10, 100), 1.0 / 25 / 1e4, 1e-9);
    mn_lr_opts co = {.kind = MN_LR_COSINE, .warmup_epochs = 1,
                     .min_ratio = 0.1f};
    CHECK_NEAR(mn_lr_at(&co, 2.0f, 0, 10, 110), 0.2, 1e-6);
    CHECK_NEAR(mn_lr_at(&co, 2.0f, 10, 10, 110), 2.0, 1e-6);
    CHECK_NEAR(mn_lr_at(&co, 2.0f, 109, 10, 110), 0.2, 1e-6);
    mn_lr_opts sd = {.kind = MN_LR_STEP, .step_epochs = 2, .gamma = 0.5f};
    CHECK_NEAR(mn_lr_at(&sd, 1.0f, 39, 10, 100), 0.5, 1e-6);
    CHECK_NEAR(mn_lr_at(&sd, 1.0f, 40, 10, 100), 0.25, 1e-6);
}

TEST(train_arch_unknown_name)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    CHECK(mn_arch_build("resnet9000", NULL, &g, &ctx) == MN_ERR_ARG);
    CHECK(g == NULL);
    CHECK(strstr(ctx.msg, "resnet9000") && strstr(ctx.msg, "mobilenetv2"));
}

TEST(train_archs_build_and_run)
{
    for (int i = 0; i < mn_arch_count(); i++) {
        mn_ctx ctx = {{0}};
        mn_graph *g = NULL;
        mn_session *s = NULL;
        mn_arch_opts o = {.channels = i % 2 ? 3 : 1,
                          .height = i % 2 ? 32 : 28, .seed = 1};
        const char *name = mn_arch_name(i);
        CHECK_OK(mn_arch_build(name, &o, &g, &ctx), &ctx);
        if (!g)
            continue;
        mn_session_opts so = {.batch = 2};
        CHECK_OK(mn_session_create(g, &so, &s, &ctx), &ctx);
        if (s) {
            const mn_tensor *in = mn_session_input(s, 0);
            mn_tensor *x = NULL;
            CHECK_OK(mn_tensor_create(MN_DT_F32, in->ndim, in->dims, &x, &ctx),
                     &ctx);
            CHECK_OK(mn_session_run(s, (const mn_tensor *const[]){x}, 1, &ctx),
                     &ctx);
            const mn_tensor *y = mn_session_output(s, 0);
            CHECK_EQ_INT(y->ndim, 2);
            CHECK_EQ_INT(y->dims[0], 2);
            CHECK_EQ_INT(y->dims[1], 10);
            mn_tensor_destroy(x);
        }
        mn_session_destroy(s);
        mn_graph_destroy(g);
    }
}

/* Trains thesis-cnn for a few steps on random data twice per thread count;
 * all runs must give bit-identical parameters (reductions do not depend on
 * the thread count), and the loss must fall on a fixed batch. */
static void run_steps(int threads, float *out, int64_t nout, double *l0,
                      double *l1)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    mn_trainer *t = NULL;
    mn_arch_opts ao = {.width_mult = 0.25f, .seed = 9};
    mn_trainer_opts to = {.batch = 16, .threads = threads, .seed = 1,
                          .label_smoothing = 0.1f,
                          .optim = {.kind = MN_OPTIM_SGD, .momentum = 0.9f,
                                    .nesterov = 1, .weight_decay = 5e-4f}};
    static float x[16 * 28 * 28];
    int64_t y[16];
    mn_rng r;
    mn_rng_seed(&r, 4, 0, 0);
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
        x[i] = mn_rng_uniform(&r);
    for (int i = 0; i < 16; i++)
        y[i] = i % 10;
    CHECK_OK(mn_arch_build("thesis-cnn", &ao, &g, &ctx), &ctx);
    CHECK_OK(mn_trainer_create(g, &to, &t, &ctx), &ctx);
    if (!t) {
        mn_graph_destroy(g);
        return;
    }
    for (int s = 0; s < 12; s++) {
        mn_step_result res;
        CHECK_OK(mn_trainer_step(t, x, y, NULL, 0.02f, &res, &ctx), &ctx);
        if (s == 0)
            *l0 = res.loss;
        *l1 = res.loss;
    }
    CHECK_EQ_INT(mn_trainer_num_params(t), nout);
    if (mn_trainer_num_params(t) == nout)
        memcpy(out, mn_trainer_params(t), (size_t)nout * sizeof *out);
    mn_trainer_destroy(t);
    mn_graph_destroy(g);
}

TEST(train_trainer_deterministic_and_learns)
{
    /* width 0.25: 8/16/32 channels; 32·3·3 = 288 → 64 → 10 */
    int64_t np = (8 * 9 + 8 * 2) + (16 * 8 * 9 + 16 * 2) +
                 (32 * 16 * 9 + 32 * 2) + (288 * 64 + 64) + (64 * 10 + 10);
    float *a = calloc((size_t)np, 4), *b = calloc((size_t)np, 4),
          *c = calloc((size_t)np, 4);
    double l0, l1, m0, m1;
    run_steps(1, a, np, &l0, &l1);
    run_steps(1, b, np, &m0, &m1);
    CHECK(memcmp(a, b, (size_t)np * 4) == 0);
    run_steps(2, c, np, &m0, &m1);
    CHECK(memcmp(a, c, (size_t)np * 4) == 0);
    CHECK(l0 > 2.0);        /* ~log 10 at the start */
    CHECK(l1 < 0.7 * l0);   /* memorizes one batch */
    free(a);
    free(b);
    free(c);
}

/* The training GEMM (AVX-512 where available) against a double-precision
 * triple loop, over transposes, alpha/beta, edge tiles and k > one block;
 * relative error bound 1e-5·√k. */
#include "train/sgemm.h"
TEST(train_sgemm_matches_reference)
{
    static const int64_t shapes[][3] = {{1, 1, 1},   {13, 33, 7},
                                        {12, 32, 256}, {50, 70, 300},
                                        {145, 40, 9},  {3, 2100, 17},
                                        {16, 49, 20},  {64, 33, 300},
                                        {33, 40, 5}};
    mn_rng r;
    mn_rng_seed(&r, 11, 0, 0);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int tr = 0; tr < 4; tr++) {
            int64_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
            int ta = tr & 1, tb = tr >> 1;
            float *a = malloc((size_t)(m * k) * 4), *b = malloc((size_t)(k * n) * 4);
            float *c = malloc((size_t)(m * n) * 4), *c0 = malloc((size_t)(m * n) * 4);
            float *sc = mn_malloc_aligned(mn_train_sgemm_scratch(m, n, k) + 64);
            for (int64_t i = 0; i < m * k; i++)
                a[i] = 2 * mn_rng_uniform(&r) - 1;
            for (int64_t i = 0; i < k * n; i++)
                b[i] = 2 * mn_rng_uniform(&r) - 1;
            for (int64_t i = 0; i < m * n; i++)
                c[i] = c0[i] = 2 * mn_rng_uniform(&r) - 1;
            float alpha = 0.75f, beta = tr == 3 ? 0.0f : 0.5f;
            mn_train_sgemm(ta, tb, m, n, k, alpha, a, ta ? m : k, b, tb ? k : n,
                     beta, c, n, sc);
            double worst = 0;
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < n; j++) {
                    double acc = 0;
                    for (int64_t p = 0; p < k; p++)
                        acc += (double)(ta ? a[p * m + i] : a[i * k + p]) *
                               (tb ? b[j * k + p] : b[p * n + j]);
                    double want = alpha * acc + beta * c0[i * n + j];
                    double e = fabs(c[i * n + j] - want);
                    if (e > worst)
                        worst = e;
                }
            CHECK(worst <= 1e-5 * sqrt((double)k) + 1e-6);
            free(a);
            free(b);
            free(c);
            free(c0);
            mn_free_aligned(sc);
        }
}

/* End to end on 512 Fashion-MNIST images (skipped without the data):
 * training beats chance, the preprocessing lands in the metadata, the same
 * seed gives bit-identical weights, and a run resumed from its epoch-1
 * checkpoint ends exactly where the uninterrupted run does. */
#include <unistd.h>
static mn_graph *small_run(int stop, const char *ckpt, int resume,
                           mn_train_result *r)
{
    mn_ctx ctx = {{0}};
    mn_train_opts o;
    mn_graph *g = NULL;
    mn_train_opts_default(&o);
    o.arch = "thesis-cnn";
    o.arch_opts.width_mult = 0.25f;
    o.data = "fashion-mnist";
    o.limit = 512;
    o.test_limit = 500;
    o.epochs = 2;
    o.stop_epoch = stop;
    o.batch = 64;
    o.lr = 0.05f;
    o.threads = 2;
    o.seed = 3;
    o.sched.kind = MN_LR_COSINE;
    o.checkpoint = ckpt;
    o.resume = resume;
    CHECK_OK(mn_train_run(&o, &g, r, &ctx), &ctx);
    return g;
}

static int same_weights(const mn_graph *a, const mn_graph *b)
{
    if (!a || !b || a->n_values != b->n_values)
        return 0;
    for (int v = 0; v < a->n_values; v++) {
        const mn_tensor *x = a->values[v].init, *y = b->values[v].init;
        if (!x != !y)
            return 0;
        if (x && (mn_tensor_nbytes(x) != mn_tensor_nbytes(y) ||
                  memcmp(x->data, y->data, mn_tensor_nbytes(x))))
            return 0;
    }
    return 1;
}

TEST(train_run_end_to_end_reproducible_and_resumable)
{
    if (access("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz",
               R_OK) != 0 && !getenv("MINNOW_DATA_DIR"))
        return;
    char ck[512];
    mn_train_result r1, r2, r3;
    snprintf(ck, sizeof ck, "%s/run.ckpt", mn_test_tmp_dir());
    mn_graph *a = small_run(2, NULL, 0, &r1);
    mn_graph *b = small_run(2, NULL, 0, &r2);
    CHECK(r1.test_accuracy > 0.4); /* chance is 0.1 */
    CHECK_EQ_INT(r1.epochs, 2);
    CHECK(same_weights(a, b));
    CHECK(r1.test_accuracy == r2.test_accuracy);
    if (a) {
        CHECK(mn_graph_meta(a, "minnow.mean") != NULL);
        CHECK(mn_graph_meta(a, "minnow.std") != NULL);
        const char *sz = mn_graph_meta(a, "minnow.input_size");
        CHECK(sz && !strcmp(sz, "1,28,28"));
    }
    mn_graph *c = small_run(1, ck, 0, &r3);
    mn_graph_destroy(c);
    c = small_run(2, ck, 1, &r3);
    CHECK(same_weights(a, c));
    CHECK(r3.test_accuracy == r1.test_accuracy);
    mn_graph_destroy(a);
    mn_graph_destroy(b);
    mn_graph_destroy(c);
}
