/* The efficientnetv2-tiny and convnext-tiny architectures: whole-network
 * gradients (every op they use: Conv incl. depthwise, BatchNorm in training
 * mode, Sigmoid·x, squeeze-excitation Mul broadcasting, Transpose,
 * LayerNormalization, MatMul + bias, Div/Erf/Add/Mul of GELU, layer scale,
 * residual Add, GlobalAveragePool, Flatten, Gemm) against central finite
 * differences; training on a few hundred Fashion-MNIST images lowers the
 * loss; the exported ONNX file gives the trained graph's logits. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "minnow/train.h"
#include "grad_check.h"
#include "test.h"
#include "train/arch.h"
#include "train/tape.h"

/* Tolerance as in test_train.c's pattern check, |a - n| <= 1e-3 +
 * 3e-2·max(|a|, |n|), but with h = 1e-3: the late stages are 1×1 maps, so
 * BatchNorm normalizes over only the 4 samples of the batch and the loss
 * curves enough that h = 1e-2 (and for some seeds 3e-3) leaves a ~7 %
 * truncation error; the error shrinks with h (checked over 15 seeds), as
 * it must for a correct rule. Float rounding of the loss (~1e-6) over 2h
 * stays below 5e-4, under atol. The networks are smooth (no ReLU or
 * MaxPool), so no kink can sit inside a difference. Layer scales start at
 * 0.5 instead of 1e-6 so the gradients inside the ConvNeXt branches are
 * large enough to be measured. */
static void check_arch_gradients(const char *name)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    mn_arch_opts o = {.channels = 2, .height = 12, .width = 12,
                      .classes = 3, .width_mult = 0.25f, .depth = 1,
                      .seed = 21};
    static const int64_t y[4] = {0, 2, 1, 2};
    gc_net_opts go = {.batch = 4, .y = y, .x_seed = 8, .h = 1e-3,
                      .per_tensor = 5, .stagger = 1, .layer_scale = 0.5f};
    gc_net_result r;
    CHECK_OK(mn_arch_build(name, &o, &g, &ctx), &ctx);
    if (!g)
        return;
    gc_net_run(name, g, &go, &r);
    CHECK(r.tensors > 30);
    CHECK(r.checked > 150);
    CHECK_EQ_INT(r.bad, 0);
    mn_graph_destroy(g);
}

TEST(train_arch_efficientnet_gradients)
{
    check_arch_gradients("efficientnetv2-tiny");
}

TEST(train_arch_convnext_gradients) { check_arch_gradients("convnext-tiny"); }

/* Structure: the ops each architecture is made of, and the sizes for
 * 28×28×1 and 32×32×3 inputs (logits [N, 10] from both). */
static int count_op(const mn_graph *g, const char *op)
{
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        n += !strcmp(g->nodes[i].op_type, op);
    return n;
}

TEST(train_arch_new_families_structure)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    mn_arch_opts o = {.seed = 1};
    CHECK_OK(mn_arch_build("convnext-tiny", &o, &g, &ctx), &ctx);
    if (g) {
        /* 8 blocks: 2 MatMuls, a 7×7 depthwise conv, one Erf each */
        CHECK_EQ_INT(count_op(g, "MatMul"), 16);
        CHECK_EQ_INT(count_op(g, "Erf"), 8);
        /* LayerNorms: stem 1, downsampling 2, blocks 8, head 1 */
        CHECK_EQ_INT(count_op(g, "LayerNormalization"), 12);
        CHECK_EQ_INT(count_op(g, "BatchNormalization"), 0);
        int dw7 = 0;
        for (int i = 0; i < g->n_nodes; i++) {
            const mn_node *n = &g->nodes[i];
            if (!strcmp(n->op_type, "Conv") &&
                mn_node_attr_int(n, "group", 1) > 1 &&
                g->values[n->in[1]].init->dims[3] == 7)
                dw7++;
        }
        CHECK_EQ_INT(dw7, 8);
        CHECK(g->opset >= 17);
    }
    mn_graph_destroy(g);
    g = NULL;
    CHECK_OK(mn_arch_build("efficientnetv2-tiny", &o, &g, &ctx), &ctx);
    if (g) {
        /* SE in the 6 MBConv blocks: GAP + Sigmoid gate each, plus the
         * head's GAP; SiLU = Sigmoid·x after every conv-BN with an
         * activation and inside SE */
        CHECK_EQ_INT(count_op(g, "GlobalAveragePool"), 7);
        CHECK_EQ_INT(count_op(g, "BatchNormalization"),
                     1 + 1 + 2 * 4 + 3 * 6 + 1);
        CHECK_EQ_INT(count_op(g, "Sigmoid"),
                     1 + 1 + 4 + 6 * 2 + 6 * 2 + 1);
    }
    mn_graph_destroy(g);
    for (int k = 0; k < 2; k++)
        for (int rgb = 0; rgb < 2; rgb++) {
            const char *name = k ? "convnext-tiny" : "efficientnetv2-tiny";
            mn_session *s = NULL;
            mn_arch_opts ao = {.channels = rgb ? 3 : 1,
                               .height = rgb ? 32 : 28, .width_mult = 0.5f,
                               .seed = 2};
            g = NULL;
            CHECK_OK(mn_arch_build(name, &ao, &g, &ctx), &ctx);
            mn_session_opts so = {.batch = 3};
            if (g)
                CHECK_OK(mn_session_create(g, &so, &s, &ctx), &ctx);
            if (s) {
                const mn_tensor *in = mn_session_input(s, 0);
                mn_tensor *x = NULL;
                CHECK_OK(mn_tensor_create(MN_DT_F32, in->ndim, in->dims, &x,
                                          &ctx), &ctx);
                CHECK_OK(mn_session_run(s, (const mn_tensor *const[]){x}, 1,
                                        &ctx), &ctx);
                const mn_tensor *yv = mn_session_output(s, 0);
                CHECK_EQ_INT(yv->dims[0], 3);
                CHECK_EQ_INT(yv->dims[1], 10);
                mn_tensor_destroy(x);
            }
            mn_session_destroy(s);
            mn_graph_destroy(g);
        }
}

/* Training on 384 Fashion-MNIST images (skipped without the data): the
 * last epoch's loss is well below the first's (ConvNeXt's blocks start as
 * near-identities, layer scale 1e-6, so it gets batch 16 and lr 1e-2 to
 * take 96 steps: measured 2.18 -> 1.58, test accuracy 0.58), the test accuracy beats
 * chance, and the ONNX file written and read back gives the trained
 * graph's logits exactly. */
typedef struct epoch_log {
    double loss[8];
    int n;
} epoch_log;

static void log_epoch(void *user, const mn_train_progress *p)
{
    epoch_log *l = user;
    if (p->epoch_done && l->n < 8)
        l->loss[l->n++] = p->loss;
}

static void logits_of(const mn_graph *g, const float *x, int n, float *out)
{
    mn_ctx ctx = {{0}};
    mn_session *s = NULL;
    mn_tensor *in = NULL;
    mn_session_opts so = {.batch = n};
    CHECK_OK(mn_session_create(g, &so, &s, &ctx), &ctx);
    if (!s)
        return;
    const mn_tensor *want = mn_session_input(s, 0);
    CHECK_OK(mn_tensor_create(MN_DT_F32, want->ndim, want->dims, &in, &ctx),
             &ctx);
    if (in) {
        memcpy(in->data, x, mn_tensor_nbytes(in));
        CHECK_OK(mn_session_run(s, (const mn_tensor *const[]){in}, 1, &ctx),
                 &ctx);
        const mn_tensor *y = mn_session_output(s, 0);
        memcpy(out, y->data, mn_tensor_nbytes(y));
    }
    mn_tensor_destroy(in);
    mn_session_destroy(s);
}

static void train_and_export(const char *name, int batch, float lr)
{
    mn_ctx ctx = {{0}};
    mn_train_opts o;
    mn_train_result r;
    mn_graph *g = NULL, *back = NULL;
    epoch_log log = {{0}, 0};
    char path[512];
    mn_train_opts_default(&o);
    o.arch = name;
    o.arch_opts.width_mult = 0.25f;
    o.arch_opts.depth = 1;
    o.data = "fashion-mnist";
    o.limit = 384;
    o.test_limit = 500;
    o.epochs = 4;
    o.batch = batch;
    o.threads = 2;
    o.seed = 5;
    o.optim.kind = MN_OPTIM_ADAMW;
    o.optim.weight_decay = 0.05f;
    o.lr = lr;
    o.progress = log_epoch;
    o.user = &log;
    CHECK_OK(mn_train_run(&o, &g, &r, &ctx), &ctx);
    if (!g)
        return;
    CHECK_EQ_INT(log.n, 4);
    CHECK(log.loss[3] < 0.75 * log.loss[0]);
    CHECK(r.test_accuracy > 0.4); /* chance is 0.1 */
    snprintf(path, sizeof path, "%s/%s.onnx", mn_test_tmp_dir(), name);
    CHECK_OK(mn_graph_save_onnx(g, path, &ctx), &ctx);
    CHECK_OK(mn_graph_load_onnx(path, &back, &ctx), &ctx);
    if (back) {
        enum { N = 5 };
        static float x[N * 28 * 28], a[N * 10], b[N * 10];
        mn_rng rr;
        mn_rng_seed(&rr, 2, 0, 0);
        for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
            x[i] = 2 * mn_rng_uniform(&rr) - 1;
        logits_of(g, x, N, a);
        logits_of(back, x, N, b);
        CHECK(memcmp(a, b, sizeof a) == 0);
        CHECK(mn_graph_meta(back, "minnow.mean") != NULL);
    }
    mn_graph_destroy(back);
    mn_graph_destroy(g);
}

static int have_fashion(void)
{
    return access("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz",
                  R_OK) == 0 || getenv("MINNOW_DATA_DIR");
}

TEST(train_arch_efficientnet_learns_and_exports)
{
    if (have_fashion())
        train_and_export("efficientnetv2-tiny", 32, 3e-3f);
}

TEST(train_arch_convnext_learns_and_exports)
{
    if (have_fashion())
        train_and_export("convnext-tiny", 16, 1e-2f);
}
