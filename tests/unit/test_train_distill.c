/* Knowledge distillation: the teacher's logits are its inference-mode
 * outputs, a teacher with another class count is refused, and training
 * with alpha = 1 pulls a student's predictions onto the teacher's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "minnow/train.h"
#include "test.h"
#include "train/arch.h"

enum { B = 16, K = 10 };

static void batch(float *x, int64_t *y)
{
    mn_rng r;
    mn_rng_seed(&r, 5, 0, 0);
    for (int i = 0; i < B * 28 * 28; i++)
        x[i] = mn_rng_uniform(&r);
    for (int i = 0; i < B; i++)
        y[i] = (i * 7) % K;
}

static mn_graph *net(uint64_t seed, int classes, mn_ctx *ctx)
{
    mn_graph *g = NULL;
    mn_arch_opts ao = {.width_mult = 0.25f, .seed = seed, .classes = classes};
    CHECK_OK(mn_arch_build("thesis-cnn", &ao, &g, ctx), ctx);
    return g;
}

/* Mean KL(softmax(t) ‖ softmax(s)) over the batch, at temperature 1. */
static double mean_kl(const float *t, const float *s)
{
    double kl = 0;
    for (int i = 0; i < B; i++) {
        double mt = -INFINITY, ms = -INFINITY, zt = 0, zs = 0;
        for (int k = 0; k < K; k++) {
            mt = fmax(mt, t[i * K + k]);
            ms = fmax(ms, s[i * K + k]);
        }
        for (int k = 0; k < K; k++) {
            zt += exp(t[i * K + k] - mt);
            zs += exp(s[i * K + k] - ms);
        }
        for (int k = 0; k < K; k++) {
            double lp = t[i * K + k] - mt - log(zt);
            double lq = s[i * K + k] - ms - log(zs);
            kl += exp(lp) * (lp - lq);
        }
    }
    return kl / B;
}

TEST(train_teacher_logits_are_inference_outputs)
{
    mn_ctx ctx = {{0}};
    static float x[B * 28 * 28];
    int64_t y[B];
    mn_graph *g = net(9, K, &ctx), *g7 = net(9, 7, &ctx);
    mn_trainer *t = NULL;
    mn_teacher *te = NULL, *te7 = NULL;
    mn_trainer_opts to = {.batch = B};
    const float *a = NULL, *b = NULL;
    int k = 0;
    batch(x, y);
    CHECK_OK(mn_teacher_create(g, B, 1, &te, &ctx), &ctx);
    CHECK_OK(mn_trainer_create(g, &to, &t, &ctx), &ctx);
    if (te && t) {
        CHECK_OK(mn_teacher_logits(te, x, B, K, &a, &ctx), &ctx);
        CHECK_OK(mn_trainer_predict(t, x, B, &b, &k, &ctx), &ctx);
        CHECK_EQ_INT(k, K);
        CHECK(a && b && memcmp(a, b, sizeof(float) * B * K) == 0);
    }
    /* a 7-class teacher cannot teach a 10-class student */
    CHECK_OK(mn_teacher_create(g7, B, 1, &te7, &ctx), &ctx);
    if (te7) {
        CHECK(mn_teacher_logits(te7, x, B, K, &a, &ctx) == MN_ERR_ARG);
        CHECK(strstr(ctx.msg, "7 classes") != NULL);
    }
    mn_teacher_destroy(te);
    mn_teacher_destroy(te7);
    mn_trainer_destroy(t);
    mn_graph_destroy(g);
    mn_graph_destroy(g7);
}

/* A teacher that has memorized other labels for the batch (so its
 * predictions are far from uniform and from the labels). */
static mn_graph *trained_teacher(const float *x, mn_ctx *ctx)
{
    mn_graph *g = net(9, K, ctx);
    mn_trainer *t = NULL;
    mn_trainer_opts to = {.batch = B, .seed = 2,
                          .optim = {.kind = MN_OPTIM_SGD, .momentum = 0.9f}};
    int64_t yt[B];
    for (int i = 0; i < B; i++)
        yt[i] = (i * 3 + 1) % K;
    CHECK_OK(mn_trainer_create(g, &to, &t, ctx), ctx);
    for (int s = 0; t && s < 40; s++)
        CHECK_OK(mn_trainer_step(t, x, yt, NULL, 0.05f, NULL, ctx), ctx);
    if (t)
        mn_trainer_sync(t);
    mn_trainer_destroy(t);
    return g;
}

/* Student and teacher start from different weights; 40 steps of pure
 * distillation (alpha 1, T 1) on one batch must cut the KL between their
 * predictions at least twentyfold, while 40 steps on the labels alone (no
 * teacher) leave it far larger. */
static double kl_after(int distill, double *kl0)
{
    mn_ctx ctx = {{0}};
    static float x[B * 28 * 28];
    int64_t y[B];
    mn_graph *gt, *gs = net(10, K, &ctx);
    mn_teacher *te = NULL;
    mn_trainer *st = NULL;
    mn_trainer_opts to = {.batch = B, .seed = 1, .distill_alpha = 1,
                          .distill_temperature = 1,
                          .optim = {.kind = MN_OPTIM_SGD, .momentum = 0.9f}};
    const float *tl = NULL, *sl = NULL;
    float tcopy[B * K];
    double kl = -1;
    int k;
    batch(x, y);
    gt = trained_teacher(x, &ctx);
    CHECK_OK(mn_teacher_create(gt, B, 1, &te, &ctx), &ctx);
    CHECK_OK(mn_trainer_create(gs, &to, &st, &ctx), &ctx);
    if (te && st) {
        CHECK_OK(mn_teacher_logits(te, x, B, K, &tl, &ctx), &ctx);
        memcpy(tcopy, tl, sizeof tcopy);
        CHECK_OK(mn_trainer_predict(st, x, B, &sl, &k, &ctx), &ctx);
        *kl0 = mean_kl(tcopy, sl);
        for (int s = 0; s < 40; s++) {
            mn_step_result r;
            CHECK_OK(mn_trainer_step(st, x, y, distill ? tcopy : NULL, 0.02f,
                                     &r, &ctx), &ctx);
        }
        CHECK_OK(mn_trainer_predict(st, x, B, &sl, &k, &ctx), &ctx);
        kl = mean_kl(tcopy, sl);
    }
    mn_teacher_destroy(te);
    mn_trainer_destroy(st);
    mn_graph_destroy(gt);
    mn_graph_destroy(gs);
    return kl;
}

TEST(train_distillation_pulls_student_to_teacher)
{
    double kl0 = 0, kl0b = 0;
    double kd = kl_after(1, &kl0), ce = kl_after(0, &kl0b);
    CHECK_NEAR(kl0, kl0b, 0);
    CHECK(kl0 > 0.5);
    CHECK(kd >= 0 && kd < kl0 / 20);
    CHECK(ce > 2 * kd);
}
