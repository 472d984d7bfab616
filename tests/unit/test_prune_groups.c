/* Structured pruning: dependency groups found on the PyTorch-exported peer
 * models (residual Adds, depthwise convs, SE blocks, LayerNorm, Gemm after
 * Flatten/GlobalAveragePool) and fashion_cnn; removing channel groups that
 * are exactly zero must not change the outputs (< 1e-5) while MACs and
 * parameters drop; criteria must keep the channels an independent ranking
 * keeps; the MAC target must be met; group-lasso helpers must do what
 * their formulas say; an unresolvable coupling must fail naming the layer. */
#include <stdlib.h>
#include <string.h>
#include "core/graph.h"
#include "minnow/prune.h"
#include "test.h"

#define FASHION "models/fashion_cnn.onnx"

/* Runs g on x (any batch) and returns a copy of output 0. */
static float *run(mn_graph *g, const mn_tensor *x, int64_t *n)
{
    mn_ctx ctx = {{0}};
    mn_session *s = NULL;
    mn_session_opts so = {.batch = (int)x->dims[0], .threads = 1};
    float *out = NULL;
    const mn_tensor *in[1] = {x};
    if (mn_session_create(g, &so, &s, &ctx) != MN_OK ||
        mn_session_run(s, in, 1, &ctx) != MN_OK) {
        mn_test_fail(__FILE__, __LINE__, "run: %s", ctx.msg);
        mn_session_destroy(s);
        return NULL;
    }
    const mn_tensor *y = mn_session_output(s, 0);
    *n = mn_tensor_numel(y);
    out = malloc((size_t)*n * sizeof *out);
    memcpy(out, y->data, (size_t)*n * sizeof *out);
    mn_session_destroy(s);
    return out;
}

static double max_diff(const float *a, const float *b, int64_t n)
{
    double d = 0;
    for (int64_t i = 0; i < n; i++)
        if (fabs((double)a[i] - b[i]) > d)
            d = fabs((double)a[i] - b[i]);
    return d;
}

/* Flat array of every float initializer and its layout. */
typedef struct flat {
    mn_param_ref lay[512];
    int n;
    float *p;
    int64_t total;
} flat;

static void flat_make(mn_graph *g, flat *f)
{
    memset(f, 0, sizeof *f);
    for (int v = 0; v < g->n_values && f->n < 512; v++)
        if (g->values[v].init && g->values[v].init->dtype == MN_DT_F32) {
            f->lay[f->n].name = g->values[v].name;
            f->lay[f->n].offset = f->total;
            f->lay[f->n].numel = mn_tensor_numel(g->values[v].init);
            f->total += f->lay[f->n++].numel;
        }
    f->p = malloc((size_t)f->total * sizeof(float) + 4);
    for (int k = 0; k < f->n; k++)
        memcpy(f->p + f->lay[k].offset,
               g->values[mn_graph_find_value(g, f->lay[k].name)].init->data,
               (size_t)f->lay[k].numel * sizeof(float));
}

static void flat_store(mn_graph *g, const flat *f)
{
    for (int k = 0; k < f->n; k++)
        memcpy(g->values[mn_graph_find_value(g, f->lay[k].name)].init->data,
               f->p + f->lay[k].offset,
               (size_t)f->lay[k].numel * sizeof(float));
}

static mn_tensor *load_input(const char *stem)
{
    char path[1024];
    mn_ctx ctx = {{0}};
    mn_tensor *x = NULL;
    snprintf(path, sizeof path, "%s/peers/%s.input.npy", mn_test_data_dir(),
             stem);
    CHECK_OK(mn_tensor_load_npy(path, &x, &ctx), &ctx);
    return x;
}

static mn_graph *load(const char *stem)
{
    char path[1024];
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    if (!strcmp(stem, "fashion_cnn"))
        snprintf(path, sizeof path, "%s", FASHION);
    else
        snprintf(path, sizeof path, "%s/peers/%s.onnx", mn_test_data_dir(),
                 stem);
    CHECK_OK(mn_graph_load_onnx(path, &g, &ctx), &ctx);
    return g;
}

TEST(prune_groups_found_on_peer_models)
{
    static const struct {
        const char *stem;
        int64_t classes, groups;
    } want[] = {
        /* stem+layer1 stream, layer1.c1, layer2.c1, layer2 stream+proj */
        {"resnet_tiny", 16 + 16 + 32 + 32, 4},
        /* 16 (f0 + f3 residual), 16, 64, 24 (f4/f5 residual), 96, 96,
         * 32 (f6/f7 residual), 128, 128 */
        {"mobilenetv2_tiny", 600, 9},
        /* only the MLP hidden channels: the rest meets LayerNorm */
        {"convnext_tiny_style_op17", 96 + 192, 2},
        {"convnext_tiny_style_op13", 96 + 192, 2},
        /* 32, 64, 128 conv channels and the 64 fc1 features */
        {"fashion_cnn", 32 + 64 + 128 + 64, 4},
    };
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        mn_ctx ctx = {{0}};
        mn_graph *g = load(want[k].stem);
        mn_prune_groups *gr = NULL;
        char name[256];
        if (!g)
            continue;
        CHECK_OK(mn_prune_groups_analyze(g, 0, &gr, &ctx), &ctx);
        if (gr) {
            if (mn_prune_groups_count(gr) != want[k].classes)
                mn_test_fail(__FILE__, __LINE__, "%s: %lld channels, want %lld",
                             want[k].stem,
                             (long long)mn_prune_groups_count(gr),
                             (long long)want[k].classes);
            CHECK(strlen(mn_prune_groups_name(gr, 0, name, sizeof name)) > 2);
        }
        mn_prune_groups_destroy(gr);
        /* the report agrees */
        mn_prune_opts o;
        mn_prune_report r;
        mn_prune_opts_default(&o);
        o.method = MN_PRUNE_CHANNEL;
        o.sparsity = 0.5;
        CHECK_OK(mn_prune(g, &o, &r, &ctx), &ctx);
        CHECK_EQ_INT(r.groups, want[k].groups);
        CHECK(r.macs_after < r.macs_before && r.params_after < r.params_before);
        mn_prune_report_free(&r);
        mn_graph_destroy(g);
    }
}

/* Zeroes the zero-invariant parameters of every third channel group, then
 * removes the zero groups: outputs must not move. */
static void zero_groups_keep_outputs(const char *stem, const char *input)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = load(stem);
    mn_tensor *x = input ? load_input(input) : NULL;
    mn_prune_groups *gr = NULL;
    mn_prune_opts o;
    mn_prune_report r;
    flat f;
    int64_t na = 0, nb = 0, picked = 0;
    float *a = NULL, *b = NULL, *a0 = NULL;
    if (!g)
        goto done;
    if (!x) { /* fashion: a deterministic pseudo-image */
        int64_t d[4] = {2, 1, 28, 28};
        CHECK_OK(mn_tensor_create(MN_DT_F32, 4, d, &x, &ctx), &ctx);
        for (int64_t i = 0; i < mn_tensor_numel(x); i++)
            ((float *)x->data)[i] = (float)((i * 37 % 101) - 50) / 40.0f;
    }
    a0 = run(g, x, &na);
    CHECK_OK(mn_prune_groups_analyze(g, 0, &gr, &ctx), &ctx);
    if (!gr)
        goto done;
    flat_make(g, &f);
    CHECK_OK(mn_prune_groups_bind(gr, f.lay, f.n, &ctx), &ctx);
    for (int64_t c = 0; c < mn_prune_groups_count(gr); c += 3) {
        const int64_t *idx;
        int64_t k = mn_prune_groups_indices(gr, c, &idx);
        CHECK(k > 0);
        for (int64_t j = 0; j < k; j++)
            f.p[idx[j]] = 0.0f;
        picked++;
    }
    double *nrm = malloc((size_t)mn_prune_groups_count(gr) * sizeof *nrm);
    mn_prune_groups_norms(gr, f.p, nrm);
    for (int64_t c = 0; c < mn_prune_groups_count(gr); c++)
        CHECK((c % 3 == 0) == (nrm[c] == 0.0));
    free(nrm);
    flat_store(g, &f);
    free(f.p);
    mn_prune_groups_destroy(gr);
    a = run(g, x, &na);
    CHECK(a && a0 && max_diff(a, a0, na) > 1e-4); /* zeroing mattered */
    mn_prune_opts_default(&o);
    o.method = MN_PRUNE_ZERO;
    CHECK_OK(mn_prune(g, &o, &r, &ctx), &ctx);
    /* every picked group goes, except where a group would be emptied */
    CHECK(r.channels_removed >= picked - r.groups &&
          r.channels_removed <= picked);
    CHECK(r.macs_after < r.macs_before);
    CHECK(r.params_after < r.params_before);
    b = run(g, x, &nb);
    CHECK_EQ_INT(na, nb);
    if (a && b && na == nb) {
        double d = max_diff(a, b, na);
        if (!(d < 1e-5))
            mn_test_fail(__FILE__, __LINE__, "%s: removing zero groups moved "
                         "the outputs by %g", stem, d);
    }
    mn_prune_report_free(&r);
done:
    free(a);
    free(b);
    free(a0);
    mn_tensor_destroy(x);
    mn_graph_destroy(g);
}

TEST(prune_zero_groups_outputs_unchanged_resnet)
{
    zero_groups_keep_outputs("resnet_tiny", "resnet_tiny");
}

TEST(prune_zero_groups_outputs_unchanged_mobilenetv2)
{
    zero_groups_keep_outputs("mobilenetv2_tiny", "mobilenetv2_tiny");
}

TEST(prune_zero_groups_outputs_unchanged_efficientnet_se)
{
    zero_groups_keep_outputs("efficientnet_style", "efficientnet_style");
}

TEST(prune_zero_groups_outputs_unchanged_convnext)
{
    zero_groups_keep_outputs("convnext_tiny_style_op17",
                             "convnext_tiny_style_op17");
    zero_groups_keep_outputs("convnext_tiny_style_op13",
                             "convnext_tiny_style_op13");
}

TEST(prune_zero_groups_outputs_unchanged_fashion)
{
    zero_groups_keep_outputs("fashion_cnn", NULL);
}

TEST(prune_zero_method_keeps_nonzero_model_intact)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = load("resnet_tiny");
    mn_prune_opts o;
    mn_prune_report r;
    if (!g)
        return;
    mn_prune_opts_default(&o);
    o.method = MN_PRUNE_ZERO;
    CHECK_OK(mn_prune(g, &o, &r, &ctx), &ctx);
    CHECK_EQ_INT(r.channels_removed, 0);
    CHECK_EQ_INT(r.macs_after, r.macs_before);
    mn_prune_report_free(&r);
    mn_graph_destroy(g);
}

/* Output-channel slices of weight `name` ([C, ...]) of g, as kept. */
static const mn_tensor *weight(mn_graph *g, const char *name)
{
    int v = mn_graph_find_value(g, name);
    return v >= 0 ? g->values[v].init : NULL;
}

/* Checks that pruned tensor t holds exactly the rows of the original o
 * (dim 0) with the `keep` largest keys, in their original order. */
static void rows_kept(const mn_tensor *o, const mn_tensor *t, const double *key,
                      int64_t keep)
{
    int64_t C = o->dims[0], inner = mn_tensor_numel(o) / C, q = 0;
    CHECK_EQ_INT(t->dims[0], keep);
    for (int64_t c = 0; c < C && q < t->dims[0]; c++) {
        int64_t larger = 0;
        for (int64_t d = 0; d < C; d++)
            larger += key[d] > key[c] || (key[d] == key[c] && d > c);
        if (larger >= keep)
            continue; /* removed: among the C - keep smallest */
        CHECK(!memcmp((const float *)t->data + q * inner,
                      (const float *)o->data + c * inner,
                      (size_t)inner * sizeof(float)));
        q++;
    }
    CHECK_EQ_INT(q, keep);
}

TEST(prune_channel_bn_criterion_keeps_largest_gamma)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = load("fashion_cnn");
    mn_tensor *g0 = NULL, *w0 = NULL;
    mn_prune_opts o;
    mn_prune_report r;
    double key[32];
    if (!g)
        return;
    CHECK_OK(mn_tensor_clone(weight(g, "features.1.weight"), &g0, &ctx), &ctx);
    CHECK_OK(mn_tensor_clone(weight(g, "features.0.weight"), &w0, &ctx), &ctx);
    if (!g0 || !w0 || g0->dims[0] != 32)
        goto done;
    for (int c = 0; c < 32; c++)
        key[c] = fabs(((const float *)g0->data)[c]);
    mn_prune_opts_default(&o);
    o.method = MN_PRUNE_CHANNEL;
    o.criterion = MN_PRUNE_BN;
    o.sparsity = 0.25;
    CHECK_OK(mn_prune(g, &o, &r, &ctx), &ctx);
    CHECK_EQ_INT(r.bn_fallback_groups, 1); /* fc1's features have no BN */
    rows_kept(g0, weight(g, "features.1.weight"), key, 24);
    rows_kept(w0, weight(g, "features.0.weight"), key, 24);
    CHECK_EQ_INT(r.channels_removed, 8 + 16 + 32 + 16);
    mn_prune_report_free(&r);
done:
    mn_tensor_destroy(g0);
    mn_tensor_destroy(w0);
    mn_graph_destroy(g);
}

TEST(prune_channel_taylor_uses_given_gradients)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = load("fashion_cnn");
    mn_tensor *w0 = NULL;
    mn_prune_opts o;
    mn_prune_report r;
    mn_prune_grad gd;
    double key[32];
    if (!g)
        return;
    CHECK_OK(mn_tensor_clone(weight(g, "features.0.weight"), &w0, &ctx), &ctx);
    if (!w0)
        goto done;
    mn_prune_opts_default(&o);
    o.method = MN_PRUNE_CHANNEL;
    o.criterion = MN_PRUNE_TAYLOR;
    o.sparsity = 0.25;
    /* no gradient: refused */
    CHECK_EQ_INT(mn_prune(g, &o, NULL, &ctx), MN_ERR_ARG);
    CHECK(strstr(ctx.msg, "gradients") != NULL);
    /* synthetic gradient dL/dw = -w for conv1 only: channel c scores
     * (sum of w^2 over its filter)^2 */
    float *gw = malloc(288 * sizeof *gw);
    for (int i = 0; i < 288; i++)
        gw[i] = -((const float *)w0->data)[i];
    for (int c = 0; c < 32; c++) {
        double s = 0;
        for (int i = 0; i < 9; i++)
            s += (double)gw[c * 9 + i] * ((const float *)w0->data)[c * 9 + i];
        key[c] = s * s;
    }
    gd = (mn_prune_grad){"features.0.weight", gw, 288};
    o.grads = &gd;
    o.n_grads = 1;
    CHECK_OK(mn_prune(g, &o, &r, &ctx), &ctx);
    rows_kept(w0, weight(g, "features.0.weight"), key, 24);
    mn_prune_report_free(&r);
    free(gw);
done:
    mn_tensor_destroy(w0);
    mn_graph_destroy(g);
}

TEST(prune_channel_mac_target_met_and_shapes_consistent)
{
    static const char *const stems[] = {"fashion_cnn", "resnet_tiny",
                                        "mobilenetv2_tiny",
                                        "efficientnet_style"};
    for (size_t k = 0; k < sizeof stems / sizeof stems[0]; k++)
        for (int scope = 0; scope < 2; scope++) {
            mn_ctx ctx = {{0}};
            mn_graph *g = load(stems[k]);
            mn_prune_opts o;
            mn_prune_report r;
            mn_model_stats st;
            if (!g)
                continue;
            mn_prune_opts_default(&o);
            o.method = MN_PRUNE_CHANNEL;
            o.scope = (mn_prune_scope)scope;
            o.criterion = MN_PRUNE_L2;
            o.target_macs_ratio = 0.5;
            CHECK_OK(mn_prune(g, &o, &r, &ctx), &ctx);
            CHECK(r.target_reached);
            if (!(r.macs_after <= 0.5 * r.macs_before &&
                  r.macs_after > 0.3 * r.macs_before))
                mn_test_fail(__FILE__, __LINE__, "%s scope %d: MACs %lld → "
                             "%lld for a 0.5 target", stems[k], scope,
                             (long long)r.macs_before,
                             (long long)r.macs_after);
            /* the report's per-layer estimate adds up to the measured total */
            int64_t sum = 0;
            for (int i = 0; i < r.n_layers; i++)
                sum += r.layers[i].macs_after;
            CHECK_EQ_INT(sum, r.macs_after);
            CHECK_OK(mn_model_stats_compute(g, &st, &ctx), &ctx);
            CHECK_EQ_INT(st.macs, r.macs_after);
            mn_model_stats_free(&st);
            mn_prune_report_free(&r);
            mn_graph_destroy(g);
        }
}

TEST(prune_channel_fashion_shapes)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = load("fashion_cnn");
    mn_prune_opts o;
    mn_prune_report r;
    if (!g)
        return;
    mn_prune_opts_default(&o);
    o.method = MN_PRUNE_CHANNEL;
    o.sparsity = 0.5;
    CHECK_OK(mn_prune(g, &o, &r, &ctx), &ctx);
    const mn_tensor *w2 = weight(g, "features.4.weight");
    const mn_tensor *f1 = weight(g, "fc1.weight");
    const mn_tensor *f2 = weight(g, "fc2.weight");
    CHECK(w2 && w2->dims[0] == 32 && w2->dims[1] == 16);
    /* Flatten of 64 channels × 3×3 */
    CHECK(f1 && f1->dims[0] == 32 && f1->dims[1] == 64 * 9);
    CHECK(f2 && f2->dims[0] == 10 && f2->dims[1] == 32);
    /* MACs by hand: 16·28²·9 + 32·14²·16·9 + 64·7²... (pool after each) */
    int64_t want = 16LL * 28 * 28 * 9 + 32LL * 14 * 14 * 16 * 9 +
                   64LL * 7 * 7 * 32 * 9 + 32LL * 576 + 10LL * 32;
    CHECK_EQ_INT(r.macs_after, want);
    CHECK(r.layers[4].skipped); /* fc2's outputs are the graph output */
    mn_prune_report_free(&r);
    mn_graph_destroy(g);
}

TEST(prune_group_lasso_prox_and_halfspace)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = load("resnet_tiny");
    mn_prune_groups *gr = NULL;
    flat f;
    if (!g)
        return;
    CHECK_OK(mn_prune_groups_analyze(g, 0, &gr, &ctx), &ctx);
    if (!gr)
        goto done;
    flat_make(g, &f);
    CHECK_OK(mn_prune_groups_bind(gr, f.lay, f.n, &ctx), &ctx);
    int64_t nc = mn_prune_groups_count(gr);
    double *n0 = malloc((size_t)nc * sizeof *n0);
    double *n1 = malloc((size_t)nc * sizeof *n1);
    mn_prune_groups_norms(gr, f.p, n0);
    /* group 0 = stem channel 0 and its residual stream: conv weights
     * 27 + 144, two BatchNorms' gamma and beta */
    const int64_t *idx;
    CHECK_EQ_INT(mn_prune_groups_indices(gr, 0, &idx), 27 + 144 + 4);
    double s = 0;
    for (int64_t j = 0; j < 175; j++)
        s += (double)f.p[idx[j]] * f.p[idx[j]];
    CHECK_NEAR(n0[0], sqrt(s), 1e-9 * sqrt(s));
    /* prox with t = half the smallest norm halves... each norm shrinks by t */
    double t = n0[0];
    for (int64_t c = 1; c < nc; c++)
        if (n0[c] < t)
            t = n0[c];
    t *= 0.5;
    float *keep = malloc((size_t)f.total * sizeof *keep);
    memcpy(keep, f.p, (size_t)f.total * sizeof *keep);
    CHECK_EQ_INT(mn_prune_groups_prox(gr, NULL, f.p, t), 0);
    mn_prune_groups_norms(gr, f.p, n1);
    for (int64_t c = 0; c < nc; c++)
        CHECK_NEAR(n1[c], n0[c] - t, 1e-5 * n0[c]);
    /* t above every norm: all groups zero */
    CHECK_EQ_INT(mn_prune_groups_prox(gr, NULL, f.p, 1e9), nc);
    mn_prune_groups_norms(gr, f.p, n1);
    for (int64_t c = 0; c < nc; c++)
        CHECK(n1[c] == 0.0);
    /* half-space: flip the sign of groups 0 and 5 only */
    memcpy(f.p, keep, (size_t)f.total * sizeof *keep);
    for (int c = 0; c < 6; c += 5) {
        int64_t k = mn_prune_groups_indices(gr, c, &idx);
        for (int64_t j = 0; j < k; j++)
            f.p[idx[j]] = -f.p[idx[j]];
    }
    /* a selection without group 5 leaves it */
    float *flip = malloc((size_t)f.total * sizeof *flip);
    memcpy(flip, f.p, (size_t)f.total * sizeof *flip);
    uint8_t *sel = calloc((size_t)nc, 1);
    sel[0] = sel[1] = 1;
    CHECK_EQ_INT(mn_prune_groups_halfspace(gr, sel, keep, f.p, 0.1), 1);
    mn_prune_groups_norms(gr, f.p, n1);
    for (int64_t c = 0; c < nc; c++)
        CHECK((n1[c] == 0.0) == (c == 0));
    memcpy(f.p, flip, (size_t)f.total * sizeof *flip);
    CHECK_EQ_INT(mn_prune_groups_halfspace(gr, NULL, keep, f.p, 0.1), 2);
    mn_prune_groups_norms(gr, f.p, n1);
    for (int64_t c = 0; c < nc; c++)
        CHECK((n1[c] == 0.0) == (c == 0 || c == 5));
    /* prox on the selection only */
    memcpy(f.p, keep, (size_t)f.total * sizeof *keep);
    CHECK_EQ_INT(mn_prune_groups_prox(gr, sel, f.p, 1e9), 2);
    mn_prune_groups_norms(gr, f.p, n1);
    for (int64_t c = 0; c < nc; c++)
        CHECK((n1[c] == 0.0) == (c < 2) && (c < 2 || n1[c] == n0[c]));
    free(flip);
    free(sel);
    free(keep);
    free(n0);
    free(n1);
    free(f.p);
done:
    mn_prune_groups_destroy(gr);
    mn_graph_destroy(g);
}

/* input [N,3,6,6] → Conv(8) → Relu → Conv(8) → Flatten(axis=2) → output:
 * the flatten folds channels into the symbolic batch axis, which minnow
 * cannot map. */
static mn_graph *unresolvable(void)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    int x, w1, c1, r1, w2, c2, y, ni;
    int64_t dx[4] = {-1, 3, 6, 6}, dw1[4] = {8, 3, 3, 3}, dw2[4] = {8, 8, 1, 1};
    if (mn_graph_create(&g, &ctx) != MN_OK)
        return NULL;
    free(g->source);
    g->source = strdup("unresolvable.onnx");
    mn_graph_add_value(g, "x", MN_DT_F32, 4, dx, &x, &ctx);
    g->values[x].dim_param[0] = strdup("N");
    mn_graph_add_value(g, "w1", MN_DT_F32, 4, dw1, &w1, &ctx);
    mn_graph_add_value(g, "w2", MN_DT_F32, 4, dw2, &w2, &ctx);
    mn_graph_add_value(g, "c1", MN_DT_F32, -1, NULL, &c1, &ctx);
    mn_graph_add_value(g, "r1", MN_DT_F32, -1, NULL, &r1, &ctx);
    mn_graph_add_value(g, "c2", MN_DT_F32, -1, NULL, &c2, &ctx);
    mn_graph_add_value(g, "y", MN_DT_F32, -1, NULL, &y, &ctx);
    mn_tensor_create(MN_DT_F32, 4, dw1, &g->values[w1].init, &ctx);
    mn_tensor_create(MN_DT_F32, 4, dw2, &g->values[w2].init, &ctx);
    for (int i = 0; i < 8 * 27; i++)
        ((float *)g->values[w1].init->data)[i] = (float)((i * 7) % 11) - 5;
    for (int i = 0; i < 64; i++)
        ((float *)g->values[w2].init->data)[i] = (float)((i * 5) % 9) - 4;
    int in1[2] = {x, w1}, in2[2] = {r1, w2};
    mn_graph_add_node(g, "conv1", "Conv", "", 13, in1, 2, &c1, 1, &ni, &ctx);
    mn_graph_add_node(g, "relu", "Relu", "", 13, &c1, 1, &r1, 1, &ni, &ctx);
    mn_graph_add_node(g, "conv2", "Conv", "", 13, in2, 2, &c2, 1, &ni, &ctx);
    mn_graph_add_node(g, "fold", "Flatten", "", 13, &c2, 1, &y, 1, &ni, &ctx);
    mn_attr *a;
    mn_node_add_attr(&g->nodes[ni], "axis", MN_ATTR_INT, &a, &ctx);
    a->i = 2;
    g->inputs = malloc(sizeof(int));
    g->outputs = malloc(sizeof(int));
    g->inputs[0] = x;
    g->outputs[0] = y;
    g->n_inputs = g->n_outputs = 1;
    mn_graph_relink(g);
    return g;
}

TEST(prune_channel_unresolvable_coupling_names_layer)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = unresolvable();
    mn_prune_opts o;
    mn_prune_report r;
    if (!g)
        return;
    mn_prune_opts_default(&o);
    o.method = MN_PRUNE_CHANNEL;
    o.sparsity = 0.5;
    CHECK_EQ_INT(mn_prune(g, &o, &r, &ctx), MN_ERR_UNSUPPORTED);
    CHECK(strstr(ctx.msg, "unresolvable.onnx") && strstr(ctx.msg, "'fold'") &&
          strstr(ctx.msg, "Flatten"));
    /* pinning instead: conv1's channels still go, conv2's stay */
    o.pin_unresolved = 1;
    CHECK_OK(mn_prune(g, &o, &r, &ctx), &ctx);
    CHECK_EQ_INT(r.channels_removed, 4);
    CHECK_EQ_INT(r.channels_pinned, 3 + 8);
    CHECK(strstr(r.note, "fold") != NULL);
    const mn_tensor *w2 = weight(g, "w2");
    CHECK(w2 && w2->dims[0] == 8 && w2->dims[1] == 4);
    mn_prune_report_free(&r);
    mn_graph_destroy(g);
}
