/* Optimizing must not change what any ONNX backend test model computes:
 * every model of Debian's libonnx-testdata that minnow runs gives
 * bit-identical outputs before and after mn_graph_optimize (folding
 * evaluates the same kernels). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/passes.h"
#include "test.h"

static mn_tensor *load_pb(const char *dir, const char *name)
{
    char path[1024];
    mn_ctx ctx = {{0}};
    mn_tensor *t = NULL;
    snprintf(path, sizeof path, "%s/test_data_set_0/%s", dir, name);
    if (mn_tensor_load_pb(path, &t, NULL, &ctx) != MN_OK)
        return NULL;
    return t;
}

/* Runs g on the test set in dir; returns the outputs (caller destroys) or 0
 * when the model does not run (unsupported op, ...). */
static int run_test_set(const mn_graph *g, const char *dir, mn_tensor **outs,
                        int max_out, char *err, size_t errlen)
{
    char name[32];
    mn_ctx ctx = {{0}};
    mn_session *s = NULL;
    mn_tensor *xs[16] = {0};
    int n = g->n_inputs, ok = 0;
    if (n > 16 || g->n_outputs > max_out)
        return 0;
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "input_%d.pb", i);
        if (!(xs[i] = load_pb(dir, name)))
            goto out;
    }
    mn_session_opts o = {.n_input_shapes = n,
                         .input_shapes = (const mn_tensor *const *)xs};
    if (mn_session_create(g, &o, &s, &ctx) != MN_OK ||
        mn_session_run(s, (const mn_tensor *const *)xs, n, &ctx) != MN_OK)
        goto out;
    for (int i = 0; i < g->n_outputs; i++)
        if (mn_tensor_clone(mn_session_output(s, i), &outs[i], &ctx) != MN_OK)
            goto out;
    ok = 1;
out:
    if (!ok)
        snprintf(err, errlen, "%s", ctx.msg);
    mn_session_destroy(s);
    for (int i = 0; i < 16; i++)
        mn_tensor_destroy(xs[i]);
    return ok;
}

/* Every ONNX backend test model minnow runs must give bit-identical outputs
 * after optimizing (folding evaluates the same kernels). Returns how many
 * ran. */
static int check_test_models(const char *root)
{
    char dir[1024], path[1200], err[1024];
    DIR *d = opendir(root);
    int ran = 0;
    struct dirent *e;
    if (!d) {
        mn_test_fail(__FILE__, __LINE__, "no %s", root);
        return 0;
    }
    while ((e = readdir(d))) {
        mn_ctx ctx = {{0}};
        mn_graph *g = NULL;
        mn_tensor *a[8] = {0}, *b[8] = {0};
        if (strncmp(e->d_name, "test_", 5))
            continue;
        snprintf(dir, sizeof dir, "%s/%s", root, e->d_name);
        snprintf(path, sizeof path, "%s/model.onnx", dir);
        if (mn_graph_load_onnx(path, &g, &ctx) != MN_OK)
            continue;
        if (run_test_set(g, dir, a, 8, err, sizeof err)) {
            ran++;
            if (mn_graph_optimize(g, &ctx) != MN_OK)
                mn_test_fail(__FILE__, __LINE__, "%s: %s", e->d_name, ctx.msg);
            else if (!run_test_set(g, dir, b, 8, err, sizeof err))
                mn_test_fail(__FILE__, __LINE__, "%s after optimize: %s",
                             e->d_name, err);
            for (int i = 0; b[0] && i < g->n_outputs; i++) {
                size_t nb = mn_tensor_nbytes(a[i]);
                int same = a[i]->dtype == b[i]->dtype &&
                           a[i]->ndim == b[i]->ndim &&
                           nb == mn_tensor_nbytes(b[i]);
                for (int k = 0; same && k < a[i]->ndim; k++)
                    same = a[i]->dims[k] == b[i]->dims[k];
                if (same && nb && memcmp(a[i]->data, b[i]->data, nb))
                    same = 0;
                if (!same)
                    mn_test_fail(__FILE__, __LINE__,
                                 "%s: output %d changed by optimize",
                                 e->d_name, i);
            }
        }
        for (int i = 0; i < 8; i++) {
            mn_tensor_destroy(a[i]);
            mn_tensor_destroy(b[i]);
        }
        mn_graph_destroy(g);
    }
    closedir(d);
    if (getenv("MN_TEST_VERBOSE"))
        fprintf(stderr, "  %s: %d ran\n", root, ran);
    return ran;
}

TEST(passes_keep_every_onnx_test_model_result)
{
    const char *base = "/usr/share/libonnx-testdata/data";
    static const char *const sub[] = {"node", "pytorch-converted",
                                      "pytorch-operator", "simple"};
    char root[512];
    int ran[4];
    for (int i = 0; i < 4; i++) {
        snprintf(root, sizeof root, "%s/%s", base, sub[i]);
        ran[i] = check_test_models(root);
    }
    CHECK(ran[0] > 100);
    CHECK(ran[1] > 10);
}
