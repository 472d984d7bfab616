/* ONNX backend-test runner (see conformance.h). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "ops/ops.h"
#include "eval/conformance.h"

#define MAX_IO 32

static int file_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

static int compare(const mn_tensor *got, const mn_tensor *want, char *why,
                   size_t len)
{
    char a[128], b[128];
    if (got->ndim != want->ndim) {
        /* A scalar and a 1-element 1-D tensor are not the same shape. */
        snprintf(why, len, "shape %s, expected %s", mn_shape_str(got, a, sizeof a),
                 mn_shape_str(want, b, sizeof b));
        return 0;
    }
    for (int k = 0; k < got->ndim; k++)
        if (got->dims[k] != want->dims[k]) {
            snprintf(why, len, "shape %s, expected %s",
                     mn_shape_str(got, a, sizeof a),
                     mn_shape_str(want, b, sizeof b));
            return 0;
        }
    if (got->dtype != want->dtype) {
        snprintf(why, len, "dtype %s, expected %s", mn_dtype_name(got->dtype),
                 mn_dtype_name(want->dtype));
        return 0;
    }
    int64_t n = mn_tensor_numel(got);
    for (int64_t i = 0; i < n; i++) {
        double x, y;
        if (got->dtype == MN_DT_F32) {
            x = ((const float *)got->data)[i];
            y = ((const float *)want->data)[i];
        } else if (got->dtype == MN_DT_F64) {
            x = ((const double *)got->data)[i];
            y = ((const double *)want->data)[i];
        } else if (got->dtype == MN_DT_F16) {
            /* compare bits after conversion is the op's job; exact here */
            x = ((const uint16_t *)got->data)[i];
            y = ((const uint16_t *)want->data)[i];
        } else {
            size_t es = mn_dtype_size(got->dtype);
            if (memcmp((const char *)got->data + (size_t)i * es,
                       (const char *)want->data + (size_t)i * es, es) != 0) {
                snprintf(why, len, "element %lld differs", (long long)i);
                return 0;
            }
            continue;
        }
        if (isnan(x) && isnan(y))
            continue;
        if (isinf(x) || isinf(y)) {
            if (x == y)
                continue;
        } else if (fabs(x - y) <= 1e-7 + 1e-3 * fabs(y)) {
            continue;
        }
        snprintf(why, len, "element %lld: %.9g, expected %.9g", (long long)i, x,
                 y);
        return 0;
    }
    return 1;
}

static int is_int(mn_dtype dt)
{
    return dt == MN_DT_I64 || dt == MN_DT_I32;
}

static int has_int_inputs(const mn_graph *g, mn_tensor **ins, int n)
{
    for (int i = 0; i < n && i < g->n_inputs; i++)
        if (is_int(ins[i]->dtype))
            return 1;
    return 0;
}

/* Clones g with its integer inputs turned into initializers holding the
 * test data; compacts ins to the remaining inputs. Returns their count. */
static int bind_int_inputs(const mn_graph *g, mn_tensor **ins, int n,
                           mn_graph **out)
{
    mn_ctx ctx = {{0}};
    mn_graph *c = NULL;
    int w = 0;
    *out = NULL;
    if (mn_graph_clone(g, &c, &ctx) != MN_OK)
        return n;
    for (int i = 0; i < n; i++) {
        if (is_int(ins[i]->dtype)) {
            mn_value *v = &c->values[c->inputs[i]];
            if (mn_tensor_clone(ins[i], &v->init, &ctx) != MN_OK) {
                mn_graph_destroy(c);
                return n;
            }
            mn_tensor_destroy(ins[i]);
            ins[i] = NULL;
            continue;
        }
        c->inputs[w] = c->inputs[i];
        ins[w++] = ins[i];
    }
    for (int i = w; i < n; i++)
        ins[i] = NULL;
    c->n_inputs = w;
    mn_graph_relink(c);
    *out = c;
    return w;
}

static void run_set(const mn_graph *g, const char *set_dir,
                    mn_conf_verdict *verdict, char *why, size_t why_len)
{
    mn_tensor *ins[MAX_IO] = {0}, *wants[MAX_IO] = {0};
    int n_in = 0, n_want = 0;
    mn_session *s = NULL;
    mn_graph *gc = NULL;
    mn_ctx ctx = {{0}};
    mn_status st;
    char path[4096];
    *verdict = MN_CONF_FAIL;
    for (n_in = 0; n_in < MAX_IO; n_in++) {
        snprintf(path, sizeof path, "%s/input_%d.pb", set_dir, n_in);
        if (!file_exists(path))
            break;
        if ((st = mn_tensor_load_pb(path, &ins[n_in], NULL, &ctx)) != MN_OK) {
            *verdict = st == MN_ERR_UNSUPPORTED ? MN_CONF_SKIP : MN_CONF_FAIL;
            snprintf(why, why_len, "%s", ctx.msg);
            goto out;
        }
    }
    for (n_want = 0; n_want < MAX_IO; n_want++) {
        snprintf(path, sizeof path, "%s/output_%d.pb", set_dir, n_want);
        if (!file_exists(path))
            break;
        if ((st = mn_tensor_load_pb(path, &wants[n_want], NULL, &ctx)) != MN_OK) {
            *verdict = st == MN_ERR_UNSUPPORTED ? MN_CONF_SKIP : MN_CONF_FAIL;
            snprintf(why, why_len, "%s", ctx.msg);
            goto out;
        }
    }
    if (n_in != g->n_inputs) {
        snprintf(why, why_len, "%d input files for %d graph inputs", n_in,
                 g->n_inputs);
        goto out;
    }
    {
        mn_session_opts o = {.batch = 1,
                             .threads = 1,
                             .n_input_shapes = n_in,
                             .input_shapes = (const mn_tensor *const *)ins};
        st = mn_session_create(g, &o, &s, &ctx);
        if (st == MN_ERR_UNSUPPORTED && has_int_inputs(g, ins, n_in)) {
            /* minnow compiles for concrete shapes: inputs that carry shapes,
             * axes or pads must be known at compile time. Bind the test's
             * integer inputs as constants and compile again. */
            n_in = bind_int_inputs(g, ins, n_in, &gc);
            o.n_input_shapes = n_in;
            st = gc ? mn_session_create(gc, &o, &s, &ctx) : MN_ERR_OOM;
            if (gc)
                g = gc;
        }
    }
    if (st != MN_OK) {
        *verdict = st == MN_ERR_UNSUPPORTED ? MN_CONF_SKIP : MN_CONF_FAIL;
        snprintf(why, why_len, "%s", ctx.msg);
        goto out;
    }
    if ((st = mn_session_run(s, (const mn_tensor *const *)ins, n_in, &ctx)) !=
        MN_OK) {
        snprintf(why, why_len, "%s", ctx.msg);
        goto out;
    }
    if (n_want != mn_session_num_outputs(s)) {
        snprintf(why, why_len, "%d expected outputs, model has %d", n_want,
                 mn_session_num_outputs(s));
        goto out;
    }
    for (int k = 0; k < n_want; k++) {
        char w[512];
        if (!compare(mn_session_output(s, k), wants[k], w, sizeof w)) {
            snprintf(why, why_len, "output %d ('%s'): %s", k,
                     mn_graph_output_name(g, k), w);
            goto out;
        }
    }
    *verdict = MN_CONF_PASS;
    why[0] = 0;
out:
    mn_session_destroy(s);
    mn_graph_destroy(gc);
    for (int i = 0; i < MAX_IO; i++) {
        mn_tensor_destroy(ins[i]);
        mn_tensor_destroy(wants[i]);
    }
}

void mn_conformance_run(const char *dir, mn_conf_verdict *verdict, char *why,
                        size_t why_len)
{
    char path[4096];
    mn_graph *g = NULL;
    mn_ctx ctx = {{0}};
    mn_status st;
    int sets = 0;
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    st = mn_graph_load_onnx(path, &g, &ctx);
    if (st != MN_OK) {
        *verdict = st == MN_ERR_UNSUPPORTED ? MN_CONF_SKIP : MN_CONF_FAIL;
        snprintf(why, why_len, "%s", ctx.msg);
        return;
    }
    *verdict = MN_CONF_PASS;
    why[0] = 0;
    for (int k = 0; k < 64; k++) {
        snprintf(path, sizeof path, "%s/test_data_set_%d", dir, k);
        if (!file_exists(path))
            break;
        sets++;
        run_set(g, path, verdict, why, why_len);
        if (*verdict != MN_CONF_PASS)
            break;
    }
    if (!sets) {
        *verdict = MN_CONF_SKIP;
        snprintf(why, why_len, "%s: no test_data_set_0", dir);
    }
    mn_graph_destroy(g);
}
