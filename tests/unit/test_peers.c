/* PyTorch-exported models (tests/data/peers, made by
 * scripts/gen_peer_models.py) must give ONNX Runtime's outputs within 1e-4,
 * before and after the clean-up passes, and at another batch size. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/graph.h"
#include "test.h"

static double max_abs_diff(const mn_tensor *a, const mn_tensor *b)
{
    double m = 0;
    int64_t n = mn_tensor_numel(a);
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)((const float *)a->data)[i] -
                        (double)((const float *)b->data)[i]);
        if (d > m || isnan(d))
            m = isnan(d) ? INFINITY : d;
    }
    return m;
}

static int same_shape(const mn_tensor *a, const mn_tensor *b)
{
    if (a->ndim != b->ndim || a->dtype != b->dtype)
        return 0;
    for (int k = 0; k < a->ndim; k++)
        if (a->dims[k] != b->dims[k])
            return 0;
    return 1;
}

/* Runs g on x and compares output 0 with want. Returns the max difference
 * or -1 on error (reported). */
static double run_and_compare(const mn_graph *g, const mn_tensor *x,
                              const mn_tensor *want, const char *what)
{
    mn_ctx ctx = {{0}};
    mn_session *s = NULL;
    mn_session_opts o = {.n_input_shapes = 1,
                         .input_shapes = (const mn_tensor *const *)&x};
    double d = -1;
    if (mn_session_create(g, &o, &s, &ctx) != MN_OK ||
        mn_session_run(s, (const mn_tensor *const *)&x, 1, &ctx) != MN_OK) {
        mn_test_fail(__FILE__, __LINE__, "%s: %s", what, ctx.msg);
        goto out;
    }
    if (!same_shape(mn_session_output(s, 0), want)) {
        mn_test_fail(__FILE__, __LINE__, "%s: output shape differs", what);
        goto out;
    }
    d = max_abs_diff(mn_session_output(s, 0), want);
out:
    mn_session_destroy(s);
    return d;
}

TEST(peer_models_match_onnxruntime)
{
    char dir[1024], path[2048];
    snprintf(dir, sizeof dir, "%s/peers", mn_test_data_dir());
    DIR *d = opendir(dir);
    int models = 0;
    if (!d) {
        mn_test_fail(__FILE__, __LINE__, "no %s", dir);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".onnx"))
            continue;
        char stem[512];
        snprintf(stem, sizeof stem, "%.*s", (int)(l - 5), e->d_name);
        mn_ctx ctx = {{0}};
        mn_graph *g = NULL;
        mn_tensor *x = NULL, *want = NULL;
        snprintf(path, sizeof path, "%s/%s.input.npy", dir, stem);
        if (mn_tensor_load_npy(path, &x, &ctx) != MN_OK) {
            mn_test_fail(__FILE__, __LINE__, "%s", ctx.msg);
            continue;
        }
        snprintf(path, sizeof path, "%s/%s.ort.npy", dir, stem);
        CHECK_OK(mn_tensor_load_npy(path, &want, &ctx), &ctx);
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        CHECK_OK(mn_graph_load_onnx(path, &g, &ctx), &ctx);
        if (g && want) {
            models++;
            double d0 = run_and_compare(g, x, want, stem);
            if (d0 < 0 || d0 > 1e-4)
                mn_test_fail(__FILE__, __LINE__, "%s: max |minnow - ORT| = %g",
                             stem, d0);
            CHECK_OK(mn_graph_optimize(g, &ctx), &ctx);
            double d1 = run_and_compare(g, x, want, stem);
            if (d1 < 0 || d1 > 1e-4)
                mn_test_fail(__FILE__, __LINE__,
                             "%s optimized: max |minnow - ORT| = %g", stem, d1);
            /* batch 1: the first sample alone gives the first row */
            if (x->dims[0] > 1) {
                mn_tensor x1 = *x, w1 = *want;
                x1.dims[0] = 1;
                w1.dims[0] = 1;
                double d2 = run_and_compare(g, &x1, &w1, stem);
                if (d2 < 0 || d2 > 1e-4)
                    mn_test_fail(__FILE__, __LINE__,
                                 "%s batch 1: max diff %g", stem, d2);
            }
        }
        mn_graph_destroy(g);
        mn_tensor_destroy(x);
        mn_tensor_destroy(want);
    }
    closedir(d);
    CHECK(models >= 5);
}
