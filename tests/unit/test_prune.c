/* Unstructured pruning, N:M, the polynomial schedule and flat masks: the
 * zeros must be exactly where an independent computation over the
 * original weights puts them (smallest |w| per layer / globally, the n
 * largest of every m input channels kept), counts must match the requested
 * sparsity, the same seed must give the same file bytes, and bad input must
 * fail without touching the graph. */
#include <stdlib.h>
#include <string.h>
#include "core/graph.h"
#include "minnow/prune.h"
#include "test.h"

#define FASHION "models/fashion_cnn.onnx"

typedef struct wref {
    const char *name;
    int64_t n;
    float *orig; /* copy of the weights before pruning */
    const float *now;
} wref;

/* The five weights of fashion_cnn (3 Conv + 2 Gemm), in graph order. */
static int weights(mn_graph *g, wref *w, int max)
{
    int k = 0;
    for (int i = 0; i < g->n_nodes && k < max; i++) {
        const mn_node *n = &g->nodes[i];
        if ((n->op != MN_OP_CONV && n->op != MN_OP_GEMM) || n->n_in < 2)
            continue;
        mn_tensor *t = g->values[n->in[1]].init;
        w[k].name = g->values[n->in[1]].name;
        w[k].n = mn_tensor_numel(t);
        w[k].orig = malloc((size_t)w[k].n * sizeof(float));
        memcpy(w[k].orig, t->data, (size_t)w[k].n * sizeof(float));
        w[k].now = t->data;
        k++;
    }
    return k;
}

static void free_weights(wref *w, int n)
{
    for (int k = 0; k < n; k++)
        free(w[k].orig);
}

static int64_t zeros_of(const float *x, int64_t n)
{
    int64_t z = 0;
    for (int64_t i = 0; i < n; i++)
        z += x[i] == 0.0f;
    return z;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* k-th smallest |w| (0-based) of the concatenation of w[0..n). */
static float kth_abs(const wref *w, int n, int64_t k)
{
    int64_t tot = 0, at = 0;
    for (int j = 0; j < n; j++)
        tot += w[j].n;
    float *a = malloc((size_t)tot * sizeof *a);
    for (int j = 0; j < n; j++)
        for (int64_t i = 0; i < w[j].n; i++)
            a[at++] = fabsf(w[j].orig[i]);
    qsort(a, (size_t)tot, sizeof *a, cmp_float);
    float v = a[k];
    free(a);
    return v;
}

TEST(prune_magnitude_per_layer_zeroes_the_smallest)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    mn_prune_opts o;
    mn_prune_report r;
    wref w[8];
    CHECK_OK(mn_graph_load_onnx(FASHION, &g, &ctx), &ctx);
    if (!g)
        return;
    int nw = weights(g, w, 8);
    CHECK_EQ_INT(nw, 5);
    mn_prune_opts_default(&o);
    o.sparsity = 0.7;
    CHECK_OK(mn_prune(g, &o, &r, &ctx), &ctx);
    CHECK_EQ_INT(r.n_layers, 5);
    for (int k = 0; k < nw; k++) {
        int64_t want = llround(0.7 * (double)w[k].n);
        CHECK_EQ_INT(zeros_of(w[k].now, w[k].n), want);
        CHECK_EQ_INT(r.layers[k].zeros_after, want);
        /* every pruned |w| <= the threshold <= every kept |w| */
        float thr = kth_abs(&w[k], 1, want - 1);
        for (int64_t i = 0; i < w[k].n; i++) {
            if (w[k].now[i] == 0.0f)
                CHECK(fabsf(w[k].orig[i]) <= thr);
            else
                CHECK(fabsf(w[k].orig[i]) >= thr &&
                      w[k].now[i] == w[k].orig[i]);
        }
    }
    CHECK_NEAR(r.sparsity, 0.7, 1e-4);
    CHECK_EQ_INT(r.params_after, r.params_before);
    CHECK_EQ_INT(r.macs_after, r.macs_before);
    CHECK(r.nonzero_after < r.nonzero_before - 100000);
    mn_prune_report_free(&r);
    free_weights(w, nw);
    mn_graph_destroy(g);
}

TEST(prune_magnitude_global_one_threshold_keep_first_last)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    mn_prune_opts o;
    mn_prune_report r;
    wref w[8];
    CHECK_OK(mn_graph_load_onnx(FASHION, &g, &ctx), &ctx);
    if (!g)
        return;
    int nw = weights(g, w, 8);
    mn_prune_opts_default(&o);
    o.sparsity = 0.9;
    o.scope = MN_PRUNE_GLOBAL;
    o.keep_first = o.keep_last = 1;
    CHECK_OK(mn_prune(g, &o, &r, &ctx), &ctx);
    /* first and last untouched; the three middle ones share a threshold */
    CHECK(!memcmp(w[0].now, w[0].orig, (size_t)w[0].n * sizeof(float)));
    CHECK(!memcmp(w[4].now, w[4].orig, (size_t)w[4].n * sizeof(float)));
    CHECK(r.layers[0].skipped && r.layers[4].skipped);
    int64_t tot = w[1].n + w[2].n + w[3].n, z = 0;
    int64_t want = llround(0.9 * (double)tot);
    for (int k = 1; k < 4; k++)
        z += zeros_of(w[k].now, w[k].n);
    CHECK_EQ_INT(z, want);
    float thr = kth_abs(&w[1], 3, want - 1);
    for (int k = 1; k < 4; k++)
        for (int64_t i = 0; i < w[k].n; i++)
            CHECK(w[k].now[i] == 0.0f ? fabsf(w[k].orig[i]) <= thr
                                      : fabsf(w[k].orig[i]) >= thr);
    /* global differs from per-layer: layers end up unequally sparse */
    CHECK(r.layers[1].zeros_after * w[3].n != r.layers[3].zeros_after * w[1].n);
    mn_prune_report_free(&r);
    free_weights(w, nw);
    mn_graph_destroy(g);
}

TEST(prune_nm_keeps_n_largest_of_m_input_channels)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    mn_prune_opts o;
    mn_prune_report r;
    wref w[8];
    CHECK_OK(mn_graph_load_onnx(FASHION, &g, &ctx), &ctx);
    if (!g)
        return;
    int nw = weights(g, w, 8);
    mn_prune_opts_default(&o);
    o.method = MN_PRUNE_NM;
    o.n = 2;
    o.m = 4;
    CHECK_OK(mn_prune(g, &o, &r, &ctx), &ctx);
    CHECK_EQ_INT(r.n, 2);
    CHECK_EQ_INT(r.m, 4);
    /* conv1 has one input channel: left alone */
    CHECK(r.layers[0].skipped);
    CHECK_EQ_INT(zeros_of(w[0].now, w[0].n), zeros_of(w[0].orig, w[0].n));
    /* conv2 [64,32,3,3]: blocks of 4 input channels at each (o, ky, kx) */
    int64_t O = 64, I = 32, S = 9, bad = 0;
    for (int64_t oc = 0; oc < O; oc++)
        for (int64_t s = 0; s < S; s++)
            for (int64_t i0 = 0; i0 < I; i0 += 4) {
                float a[4];
                int nz = 0;
                for (int j = 0; j < 4; j++) {
                    int64_t at = (oc * I + i0 + j) * S + s;
                    a[j] = fabsf(w[1].orig[at]);
                    nz += w[1].now[at] != 0.0f;
                }
                for (int j = 0; j < 4; j++) {
                    int64_t at = (oc * I + i0 + j) * S + s;
                    int larger = 0;
                    for (int q = 0; q < 4; q++)
                        larger += a[q] > a[j] || (a[q] == a[j] && q < j);
                    bad += (larger < 2) != (w[1].now[at] != 0.0f);
                }
                bad += nz != 2;
            }
    CHECK_EQ_INT(bad, 0);
    /* fc1 Gemm (transB, [64, 1152]): blocks run along the 1152 inputs */
    for (int64_t row = 0; row < 64; row++)
        for (int64_t i0 = 0; i0 < 1152; i0 += 4)
            CHECK_EQ_INT(zeros_of(&w[3].now[row * 1152 + i0], 4), 2);
    CHECK_NEAR(r.sparsity, 0.5, 1e-9);
    mn_prune_report_free(&r);
    free_weights(w, nw);
    mn_graph_destroy(g);
}

TEST(prune_nm_pattern_from_sparsity)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    mn_prune_opts o;
    mn_prune_report r;
    CHECK_OK(mn_graph_load_onnx(FASHION, &g, &ctx), &ctx);
    if (!g)
        return;
    mn_prune_opts_default(&o);
    o.method = MN_PRUNE_NM;
    o.sparsity = 0.875; /* → 1:8 */
    CHECK_OK(mn_prune(g, &o, &r, &ctx), &ctx);
    CHECK_EQ_INT(r.n, 1);
    CHECK_EQ_INT(r.m, 8);
    CHECK_NEAR(r.sparsity, 0.875, 1e-9);
    mn_prune_report_free(&r);
    o.sparsity = 0.7; /* → 3:10 */
    CHECK_OK(mn_prune(g, &o, &r, &ctx), &ctx);
    CHECK_EQ_INT(r.n, 3);
    CHECK_EQ_INT(r.m, 10);
    mn_prune_report_free(&r);
    mn_graph_destroy(g);
}

static long file_bytes(const char *path, unsigned char **buf)
{
    FILE *f = fopen(path, "rb");
    long n;
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = malloc((size_t)n + 1);
    if (fread(*buf, 1, (size_t)n, f) != (size_t)n)
        n = -1;
    fclose(f);
    return n;
}

/* Random pruning with seed s saved to a file; returns its bytes. */
static long random_pruned(uint64_t seed, const char *name, unsigned char **buf)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    mn_prune_opts o;
    mn_prune_report r;
    char path[512];
    long n = -1;
    if (mn_graph_load_onnx(FASHION, &g, &ctx) != MN_OK)
        return -1;
    mn_prune_opts_default(&o);
    o.method = MN_PRUNE_RANDOM;
    o.sparsity = 0.8;
    o.seed = seed;
    snprintf(path, sizeof path, "%s/%s", mn_test_tmp_dir(), name);
    if (mn_prune(g, &o, &r, &ctx) == MN_OK &&
        mn_graph_save_onnx(g, path, &ctx) == MN_OK) {
        CHECK_NEAR(r.sparsity, 0.8, 1e-4);
        n = file_bytes(path, buf);
    }
    mn_prune_report_free(&r);
    mn_graph_destroy(g);
    return n;
}

TEST(prune_random_same_seed_same_bytes)
{
    unsigned char *a = NULL, *b = NULL, *c = NULL;
    long na = random_pruned(7, "r7a.onnx", &a);
    long nb = random_pruned(7, "r7b.onnx", &b);
    long nc = random_pruned(8, "r8.onnx", &c);
    CHECK(na > 0 && na == nb);
    CHECK(na > 0 && nb > 0 && !memcmp(a, b, (size_t)na));
    CHECK(nc > 0 && (nc != na || memcmp(a, c, (size_t)na) != 0));
    free(a);
    free(b);
    free(c);
}

TEST(prune_bad_input_leaves_graph_untouched)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL, *e = NULL;
    mn_prune_opts o;
    const double bad[] = {1.0, -0.1, 1.5, NAN};
    int v[2], ni;
    int64_t dims[4] = {1, 3, 4, 4};
    CHECK_OK(mn_graph_load_onnx(FASHION, &g, &ctx), &ctx);
    if (!g)
        return;
    wref w[8];
    int nw = weights(g, w, 8);
    mn_prune_opts_default(&o);
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        o.sparsity = bad[k];
        ctx.msg[0] = 0;
        CHECK_EQ_INT(mn_prune(g, &o, NULL, &ctx), MN_ERR_ARG);
        CHECK(strstr(ctx.msg, "outside [0, 1)") != NULL);
    }
    o.method = MN_PRUNE_CHANNEL;
    o.sparsity = 0.5;
    o.target_macs_ratio = 1.2;
    CHECK_EQ_INT(mn_prune(g, &o, NULL, &ctx), MN_ERR_ARG);
    for (int k = 0; k < nw; k++)
        CHECK(!memcmp(w[k].now, w[k].orig, (size_t)w[k].n * sizeof(float)));
    free_weights(w, nw);
    mn_graph_destroy(g);

    /* a graph without any prunable layer (Relu only) */
    CHECK_OK(mn_graph_create(&e, &ctx), &ctx);
    if (!e)
        return;
    free(e->source);
    e->source = strdup("relu_only.onnx");
    CHECK_OK(mn_graph_add_value(e, "x", MN_DT_F32, 4, dims, &v[0], &ctx), &ctx);
    CHECK_OK(mn_graph_add_value(e, "y", MN_DT_F32, 4, dims, &v[1], &ctx), &ctx);
    CHECK_OK(mn_graph_add_node(e, "relu", "Relu", "", 13, &v[0], 1, &v[1], 1,
                               &ni, &ctx), &ctx);
    e->inputs = malloc(sizeof(int));
    e->outputs = malloc(sizeof(int));
    e->inputs[0] = v[0];
    e->outputs[0] = v[1];
    e->n_inputs = e->n_outputs = 1;
    mn_graph_relink(e);
    mn_prune_opts_default(&o);
    o.sparsity = 0.5;
    CHECK_EQ_INT(mn_prune(e, &o, NULL, &ctx), MN_ERR_ARG);
    CHECK(strstr(ctx.msg, "relu_only.onnx") && strstr(ctx.msg, "no prunable"));
    o.method = MN_PRUNE_CHANNEL;
    CHECK(mn_prune(e, &o, NULL, &ctx) != MN_OK);
    CHECK(strstr(ctx.msg, "no removable channel") != NULL);
    mn_graph_destroy(e);
}

TEST(prune_schedule_polynomial)
{
    mn_ctx ctx = {{0}};
    mn_prune_schedule s = {.initial_sparsity = 0.1, .final_sparsity = 0.9,
                           .begin_step = 100, .end_step = 1100,
                           .frequency = 100};
    CHECK_OK(mn_prune_schedule_check(&s, &ctx), &ctx);
    CHECK_NEAR(mn_prune_schedule_sparsity(&s, 0), 0.0, 0);
    CHECK_NEAR(mn_prune_schedule_sparsity(&s, 100), 0.1, 1e-12);
    /* t = 600: p = 0.5, 0.9 - 0.8 * 0.5^3 = 0.8 */
    CHECK_NEAR(mn_prune_schedule_sparsity(&s, 600), 0.8, 1e-12);
    CHECK_NEAR(mn_prune_schedule_sparsity(&s, 699), 0.8, 1e-12);
    /* t = 300: p = 0.2, 0.9 - 0.8 * 0.8^3 = 0.4904 */
    CHECK_NEAR(mn_prune_schedule_sparsity(&s, 350), 0.4904, 1e-12);
    CHECK_NEAR(mn_prune_schedule_sparsity(&s, 1100), 0.9, 1e-12);
    CHECK_NEAR(mn_prune_schedule_sparsity(&s, 5000), 0.9, 1e-12);
    CHECK(mn_prune_schedule_due(&s, 100) && mn_prune_schedule_due(&s, 700));
    CHECK(!mn_prune_schedule_due(&s, 150) && !mn_prune_schedule_due(&s, 99));
    CHECK(mn_prune_schedule_due(&s, 1100) && !mn_prune_schedule_due(&s, 1200));
    s.power = 1; /* linear */
    CHECK_NEAR(mn_prune_schedule_sparsity(&s, 600), 0.5, 1e-12);
    s.initial_sparsity = 0.95;
    CHECK_EQ_INT(mn_prune_schedule_check(&s, &ctx), MN_ERR_ARG);
    s.initial_sparsity = 0;
    s.end_step = 100;
    CHECK_EQ_INT(mn_prune_schedule_check(&s, &ctx), MN_ERR_ARG);
}

TEST(prune_mask_on_flat_params)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    mn_prune_mask *m = NULL;
    mn_prune_opts o;
    mn_param_ref lay[64];
    int nl = 0;
    int64_t total = 0;
    CHECK_OK(mn_graph_load_onnx(FASHION, &g, &ctx), &ctx);
    if (!g)
        return;
    /* a flat array holding every float initializer, in value order */
    for (int v = 0; v < g->n_values && nl < 64; v++)
        if (g->values[v].init && g->values[v].init->dtype == MN_DT_F32) {
            lay[nl].name = g->values[v].name;
            lay[nl].offset = total;
            lay[nl].numel = mn_tensor_numel(g->values[v].init);
            total += lay[nl++].numel;
        }
    float *p = malloc((size_t)total * sizeof *p);
    for (int k = 0; k < nl; k++)
        memcpy(p + lay[k].offset,
               g->values[mn_graph_find_value(g, lay[k].name)].init->data,
               (size_t)lay[k].numel * sizeof *p);
    mn_prune_opts_default(&o);
    CHECK_OK(mn_prune_mask_create(g, &o, lay, nl, p, &m, &ctx), &ctx);
    if (!m)
        goto done;
    CHECK_NEAR(mn_prune_mask_sparsity(m), 0.0, 0);
    CHECK_OK(mn_prune_mask_update(m, p, 0.5, &ctx), &ctx);
    CHECK_NEAR(mn_prune_mask_sparsity(m), 0.5, 1e-4);
    /* a training step moves everything; apply restores the zeros */
    float *before = malloc((size_t)total * sizeof *p);
    memcpy(before, p, (size_t)total * sizeof *p);
    for (int64_t i = 0; i < total; i++)
        p[i] += 1e-3f;
    mn_prune_mask_apply(m, p);
    int64_t wrong = 0;
    for (int64_t i = 0; i < total; i++)
        wrong += (before[i] == 0.0f) != (p[i] == 0.0f);
    /* biases and BatchNorm parameters are not masked: only weights */
    CHECK_EQ_INT(wrong, 0);
    /* rising sparsity never revives a pruned weight */
    CHECK_OK(mn_prune_mask_update(m, p, 0.8, &ctx), &ctx);
    CHECK_NEAR(mn_prune_mask_sparsity(m), 0.8, 1e-4);
    for (int64_t i = 0; i < total; i++)
        if (before[i] == 0.0f)
            CHECK(p[i] == 0.0f);
    free(before);
    /* a layout missing a weight is refused, naming it */
    mn_prune_mask_destroy(m);
    m = NULL;
    CHECK_EQ_INT(mn_prune_mask_create(g, &o, lay, 1, p, &m, &ctx), MN_ERR_ARG);
    CHECK(strstr(ctx.msg, "parameter layout") != NULL);
done:
    mn_prune_mask_destroy(m);
    free(p);
    mn_graph_destroy(g);
}

/* Zero positions of every prunable weight, concatenated. */
static uint8_t *zero_map(mn_graph *g, int64_t *n)
{
    wref w[8];
    int nw = weights(g, w, 8);
    int64_t tot = 0, at = 0;
    for (int k = 0; k < nw; k++)
        tot += w[k].n;
    uint8_t *z = malloc((size_t)tot);
    for (int k = 0; k < nw; k++)
        for (int64_t i = 0; i < w[k].n; i++)
            z[at++] = w[k].now[i] == 0.0f;
    free_weights(w, nw);
    *n = tot;
    return z;
}

TEST(prune_finetune_keeps_the_zeros)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    mn_prune_opts o;
    mn_prune_finetune_opts fo = {.data = "fashion-mnist:train", .epochs = 1,
                                 .batch = 64, .limit = 512, .seed = 3,
                                 .lr = 0.02f};
    mn_prune_finetune_result fr;
    wref w[8];
    int64_t n0, n1, same = 0, kept = 0;
    CHECK_OK(mn_graph_load_onnx(FASHION, &g, &ctx), &ctx);
    if (!g)
        return;
    mn_prune_opts_default(&o);
    o.sparsity = 0.8;
    CHECK_OK(mn_prune(g, &o, NULL, &ctx), &ctx);
    uint8_t *z0 = zero_map(g, &n0);
    int nw = weights(g, w, 8); /* copies of the pruned weights */
    CHECK_OK(mn_prune_finetune(g, &o, &fo, &fr, &ctx), &ctx);
    CHECK_EQ_INT(fr.steps, 8);
    CHECK_NEAR(fr.sparsity, 0.8, 1e-4);
    uint8_t *z1 = zero_map(g, &n1);
    CHECK(n0 == n1 && !memcmp(z0, z1, (size_t)n0));
    /* the surviving weights trained */
    for (int k = 0; k < nw; k++)
        for (int64_t i = 0; i < w[k].n; i++)
            if (w[k].orig[i] != 0.0f) {
                kept++;
                same += w[k].now[i] == w[k].orig[i];
            }
    CHECK(kept > 0 && same < kept / 10);
    free_weights(w, nw);
    free(z0);
    free(z1);
    mn_graph_destroy(g);
}

TEST(prune_finetune_gradual_schedule_reaches_final_sparsity)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    mn_prune_opts o;
    mn_prune_finetune_opts fo = {
        .data = "fashion-mnist:train", .test_data = "fashion-mnist:test",
        .test_limit = 500, .epochs = 1, .batch = 64, .limit = 512, .seed = 3,
        .schedule = {.initial_sparsity = 0.2, .final_sparsity = 0.6,
                     .begin_step = 1, .end_step = 6, .frequency = 2}};
    mn_prune_finetune_result fr;
    wref w[8];
    CHECK_OK(mn_graph_load_onnx(FASHION, &g, &ctx), &ctx);
    if (!g)
        return;
    mn_prune_opts_default(&o);
    o.keep_first = 1;
    CHECK_OK(mn_prune_finetune(g, &o, &fo, &fr, &ctx), &ctx);
    CHECK_NEAR(fr.sparsity, 0.6, 1e-4);
    CHECK(fr.test_accuracy > 0.5 && fr.test_accuracy <= 1.0);
    int nw = weights(g, w, 8);
    CHECK_EQ_INT(zeros_of(w[0].now, w[0].n), 0); /* kept first layer */
    for (int k = 1; k < nw; k++)
        CHECK_EQ_INT(zeros_of(w[k].now, w[k].n), llround(0.6 * (double)w[k].n));
    free_weights(w, nw);
    mn_graph_destroy(g);
}
