/* OTO-style group-sparse training (mn_prune_oto_train) and the removal of
 * the zero groups (mn_prune, method oto) on a freshly initialized, narrow
 * resnet8 trained on a slice of Fashion-MNIST: the groups channel pruning
 * would remove end exactly zero (most by training, not by the final
 * projection), the loss still falls, removing them leaves the outputs
 * unchanged (< 1e-5) and meets the MAC target, the same seed gives the
 * same bytes, and bad options fail with a message. */
#include <stdlib.h>
#include <string.h>
#include "core/graph.h"
#include "minnow/prune.h"
#include "test.h"

#define NEVAL 256

static mn_graph *tiny_resnet(uint64_t seed)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    mn_arch_opts ao = {.width_mult = 0.5f, .seed = seed};
    CHECK_OK(mn_arch_build("resnet8", &ao, &g, &ctx), &ctx);
    return g;
}

static mn_prune_finetune_opts train_opts(uint64_t seed)
{
    mn_prune_finetune_opts fo = {.data = "fashion-mnist:train",
                                 .epochs = 3, .batch = 64, .limit = 1024,
                                 .lr = 0.05f, .seed = seed, .threads = 1};
    return fo;
}

/* The first NEVAL test images (as training reads them: no normalization
 * metadata on a built model). */
static float *eval_batch(int64_t *y)
{
    mn_ctx ctx = {{0}};
    mn_dataset *d = NULL;
    mn_data_opts dopt;
    memset(&dopt, 0, sizeof dopt);
    float *x = malloc((size_t)NEVAL * 784 * sizeof *x);
    CHECK_OK(mn_dataset_open("fashion-mnist:test", &dopt, &d, &ctx), &ctx);
    if (d)
        CHECK_OK(mn_dataset_read(d, 0, NEVAL, x, y, &ctx), &ctx);
    mn_dataset_destroy(d);
    return x;
}

/* Logits of g on the batch (copied) and the mean cross-entropy. */
static float *logits(mn_graph *g, const float *x, const int64_t *y,
                     double *loss)
{
    mn_ctx ctx = {{0}};
    mn_session *s = NULL;
    mn_session_opts so = {.batch = NEVAL, .threads = 1};
    mn_tensor *in = NULL;
    int64_t d[4] = {NEVAL, 1, 28, 28};
    float *out = NULL;
    *loss = 1e9;
    CHECK_OK(mn_tensor_create(MN_DT_F32, 4, d, &in, &ctx), &ctx);
    if (!in)
        return NULL;
    memcpy(in->data, x, (size_t)NEVAL * 784 * sizeof *x);
    const mn_tensor *ins[1] = {in};
    if (mn_session_create(g, &so, &s, &ctx) == MN_OK &&
        mn_session_run(s, ins, 1, &ctx) == MN_OK) {
        const mn_tensor *o = mn_session_output(s, 0);
        out = malloc((size_t)NEVAL * 10 * sizeof *out);
        memcpy(out, o->data, (size_t)NEVAL * 10 * sizeof *out);
        CHECK_OK(mn_loss_softmax_ce(out, y, NEVAL, 10, 0, NULL, loss, NULL,
                                    &ctx), &ctx);
    } else {
        mn_test_fail(__FILE__, __LINE__, "run: %s", ctx.msg);
    }
    mn_session_destroy(s);
    mn_tensor_destroy(in);
    return out;
}

/* Channels method channel would remove from g with options o. */
static int64_t channel_choice(const mn_graph *g, const mn_prune_opts *o)
{
    mn_ctx ctx = {{0}};
    mn_graph *c = NULL;
    mn_prune_opts oc = *o;
    mn_prune_report r;
    int64_t n = -1;
    oc.method = MN_PRUNE_CHANNEL;
    CHECK_OK(mn_graph_clone(g, &c, &ctx), &ctx);
    if (c && mn_prune(c, &oc, &r, &ctx) == MN_OK) {
        n = r.channels_removed;
        mn_prune_report_free(&r);
    }
    mn_graph_destroy(c);
    return n;
}

TEST(prune_oto_zeroes_the_selected_groups_and_keeps_learning)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = tiny_resnet(1);
    mn_prune_opts o;
    mn_prune_oto_opts oo = {.lambda = 3}; /* strong: zero before the bound */
    mn_prune_finetune_opts fo = train_opts(5);
    mn_prune_oto_result res;
    mn_prune_report r;
    int64_t y[NEVAL];
    double loss0, loss1, loss2;
    float *x = eval_batch(y), *a = NULL, *b = NULL;
    if (!g)
        goto done;
    mn_prune_opts_default(&o);
    o.method = MN_PRUNE_OTO;
    o.sparsity = 0.5;
    int64_t want = channel_choice(g, &o);
    free(logits(g, x, y, &loss0));
    CHECK_OK(mn_prune_oto_train(g, &o, &oo, &fo, &res, &ctx), &ctx);
    CHECK_EQ_INT(res.train.steps, 3 * (1024 / 64));
    CHECK(want > 0);
    CHECK_EQ_INT(res.selected, want);
    CHECK_EQ_INT(res.by_step + res.by_bound, res.selected);
    /* the group-lasso and half-space steps did the work, not the bound */
    if (!(res.by_step >= res.selected * 9 / 10))
        mn_test_fail(__FILE__, __LINE__, "only %lld of %lld selected groups "
                     "reached zero by the steps", (long long)res.by_step,
                     (long long)res.selected);
    CHECK(res.zero >= res.selected);
    CHECK_NEAR(res.train.sparsity, (double)res.zero / (double)res.groups,
               1e-12);
    a = logits(g, x, y, &loss1);
    /* trained from scratch with half the channels pushed out: still learns
     * (48 steps: 2.31 → 1.9) */
    if (!(loss1 < loss0 - 0.25))
        mn_test_fail(__FILE__, __LINE__, "loss %g before, %g after", loss0,
                     loss1);
    /* removal: exactly the zero groups, outputs unchanged */
    CHECK_OK(mn_prune(g, &o, &r, &ctx), &ctx);
    CHECK_EQ_INT(r.channels_removed, res.zero);
    CHECK(r.macs_after < 0.6 * r.macs_before);
    CHECK(r.params_after < r.params_before);
    b = logits(g, x, y, &loss2);
    if (a && b) {
        double d = 0;
        for (int i = 0; i < NEVAL * 10; i++)
            if (fabs((double)a[i] - b[i]) > d)
                d = fabs((double)a[i] - b[i]);
        if (!(d < 1e-5))
            mn_test_fail(__FILE__, __LINE__, "removing the zero groups moved "
                         "the outputs by %g", d);
    }
    mn_prune_report_free(&r);
done:
    free(a);
    free(b);
    free(x);
    mn_graph_destroy(g);
}

TEST(prune_oto_mac_target_met)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = tiny_resnet(2);
    mn_prune_opts o;
    mn_prune_finetune_opts fo = train_opts(7);
    mn_prune_oto_result res;
    mn_prune_report r;
    if (!g)
        return;
    mn_prune_opts_default(&o);
    o.method = MN_PRUNE_OTO;
    o.criterion = MN_PRUNE_BN;
    o.scope = MN_PRUNE_GLOBAL;
    o.target_macs_ratio = 0.4;
    fo.epochs = 1;
    CHECK_OK(mn_prune_oto_train(g, &o, NULL, &fo, &res, &ctx), &ctx);
    CHECK(res.selected > 0);
    CHECK_EQ_INT(res.by_step + res.by_bound, res.selected);
    CHECK(res.by_bound > 0); /* default lambda, 16 steps: the bound decides */
    CHECK_OK(mn_prune(g, &o, &r, &ctx), &ctx);
    CHECK(r.target_reached);
    CHECK(r.macs_after <= 0.4 * r.macs_before);
    CHECK(r.macs_after > 0.2 * r.macs_before);
    mn_prune_report_free(&r);
    mn_graph_destroy(g);
}

/* Trains and prunes with seed s; returns the ONNX file's bytes. */
static char *oto_bytes(uint64_t s, long *len)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = tiny_resnet(3);
    mn_prune_opts o;
    mn_prune_finetune_opts fo = train_opts(s);
    mn_prune_oto_result res;
    char path[1024];
    char *buf = NULL;
    *len = 0;
    if (!g)
        return NULL;
    mn_prune_opts_default(&o);
    o.method = MN_PRUNE_OTO;
    o.sparsity = 0.3;
    fo.epochs = 1;
    fo.limit = 512;
    snprintf(path, sizeof path, "%s/oto_%llu.onnx", mn_test_tmp_dir(),
             (unsigned long long)s);
    CHECK_OK(mn_prune_oto_train(g, &o, NULL, &fo, &res, &ctx), &ctx);
    CHECK_OK(mn_prune(g, &o, NULL, &ctx), &ctx);
    CHECK_OK(mn_graph_save_onnx(g, path, &ctx), &ctx);
    mn_graph_destroy(g);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    rewind(f);
    buf = malloc((size_t)*len + 1);
    if (fread(buf, 1, (size_t)*len, f) != (size_t)*len)
        *len = -1;
    fclose(f);
    remove(path);
    return buf;
}

TEST(prune_oto_deterministic)
{
    long n1, n2, n3;
    char *a = oto_bytes(11, &n1), *b = oto_bytes(11, &n2),
         *c = oto_bytes(12, &n3);
    CHECK(a && b && c && n1 > 1000);
    CHECK(n1 == n2 && a && b && !memcmp(a, b, (size_t)n1));
    CHECK(n1 != n3 || (a && c && memcmp(a, c, (size_t)n1))); /* seed matters */
    free(a);
    free(b);
    free(c);
}

TEST(prune_oto_bad_options)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = tiny_resnet(4);
    mn_prune_opts o;
    mn_prune_oto_opts oo = {0};
    mn_prune_finetune_opts fo = train_opts(1);
    mn_prune_oto_result res;
    if (!g)
        return;
    mn_prune_opts_default(&o);
    o.method = MN_PRUNE_OTO;
    o.sparsity = 1.0;
    CHECK_EQ_INT(mn_prune_oto_train(g, &o, &oo, &fo, &res, &ctx), MN_ERR_ARG);
    CHECK(strstr(ctx.msg, "sparsity 1") != NULL);
    o.sparsity = 0;
    CHECK_EQ_INT(mn_prune_oto_train(g, &o, &oo, &fo, &res, &ctx), MN_ERR_ARG);
    CHECK(strstr(ctx.msg, "MAC target") != NULL);
    o.sparsity = 0.5;
    o.criterion = MN_PRUNE_TAYLOR;
    CHECK_EQ_INT(mn_prune_oto_train(g, &o, &oo, &fo, &res, &ctx), MN_ERR_ARG);
    o.criterion = MN_PRUNE_L1;
    oo.epsilon = 1.0;
    CHECK_EQ_INT(mn_prune_oto_train(g, &o, &oo, &fo, &res, &ctx), MN_ERR_ARG);
    oo.epsilon = 0;
    fo.data = "nosuchset";
    CHECK(mn_prune_oto_train(g, &o, &oo, &fo, &res, &ctx) != MN_OK);
    CHECK(strstr(ctx.msg, "nosuchset") != NULL);
    mn_graph_destroy(g);
}
