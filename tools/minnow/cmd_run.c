/* minnow run MODEL [-i [NAME=]PATH]... -o OUTDIR [--threads N]:
 * inputs from .npy or ONNX TensorProto .pb files, outputs as OUTDIR/<name>.npy */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "minnow/mnw.h"

static const char *const USAGE =
    "MODEL [-i [NAME=]PATH]... -o OUTDIR [--threads N] [--batch N] "
    "[--weights compact|float]";

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* Output names become file names: keep them to a safe alphabet. */
static void safe_name(const char *in, char *out, size_t len)
{
    size_t j = 0;
    for (size_t i = 0; in[i] && j + 1 < len; i++) {
        char c = in[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
        out[j] = ok && !(c == '.' && j == 0) ? c : '_';
        j++;
    }
    out[j] = 0;
    if (!j)
        snprintf(out, len, "output");
}

int cmd_run(int argc, char **argv)
{
    const char *path = NULL, *outdir = NULL;
    const char *in_spec[64];
    int n_spec = 0, rc = CLI_ERR;
    long long threads = 1;
    int weights = MN_WEIGHTS_AUTO;
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    mn_session *s = NULL;
    mn_tensor *ins[64] = {0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-i") && i + 1 < argc) {
            if (n_spec == 64)
                return cli_usage("run", USAGE);
            in_spec[n_spec++] = argv[++i];
        } else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
            outdir = argv[++i];
        } else if (!strcmp(argv[i], "--threads")) {
            if (!cli_parse_int("--threads", i + 1 < argc ? argv[++i] : NULL, 1,
                               256, &threads))
                return CLI_USAGE;
        } else if (!strcmp(argv[i], "--weights")) {
            if (!cli_parse_weights(i + 1 < argc ? argv[++i] : NULL, &weights))
                return CLI_USAGE;
        } else if (!strcmp(argv[i], "--help")) {
            return cli_usage("run", USAGE), CLI_OK;
        } else if (argv[i][0] == '-' || path) {
            return cli_usage("run", USAGE);
        } else {
            path = argv[i];
        }
    }
    if (!path || !outdir)
        return cli_usage("run", USAGE);
    if (!cli_load_model(path, &g, &ctx))
        return cli_fail(&ctx);
    int n_in = mn_graph_num_inputs(g);
    if (n_spec != n_in) {
        fprintf(stderr, "minnow: %s has %d inputs, %d given with -i\n", path,
                n_in, n_spec);
        goto out;
    }
    for (int k = 0; k < n_spec; k++) {
        const char *spec = in_spec[k], *eq = strchr(spec, '='), *file = spec;
        int slot = k;
        mn_tensor *t = NULL;
        if (eq) {
            char name[512];
            size_t l = (size_t)(eq - spec);
            snprintf(name, sizeof name, "%.*s", (int)(l < 511 ? l : 511), spec);
            file = eq + 1;
            slot = -1;
            for (int j = 0; j < n_in; j++)
                if (!strcmp(mn_graph_input_name(g, j), name))
                    slot = j;
            if (slot < 0) {
                fprintf(stderr, "minnow: %s has no input named '%s'\n", path,
                        name);
                goto out;
            }
        }
        if (ins[slot]) {
            fprintf(stderr, "minnow: input %d ('%s') given twice\n", slot,
                    mn_graph_input_name(g, slot));
            goto out;
        }
        mn_status st = ends_with(file, ".pb")
                           ? mn_tensor_load_pb(file, &t, NULL, &ctx)
                           : mn_tensor_load_npy(file, &t, &ctx);
        if (st != MN_OK)
            goto fail;
        ins[slot] = t;
    }
    {
        mn_session_opts o = {.threads = (int)threads, .weights = weights,
                             .n_input_shapes = n_in,
                             .input_shapes = (const mn_tensor *const *)ins};
        if (mn_session_create(g, &o, &s, &ctx) != MN_OK)
            goto fail;
    }
    if (mn_session_run(s, (const mn_tensor *const *)ins, n_in, &ctx) != MN_OK)
        goto fail;
    if (mkdir(outdir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "minnow: cannot create %s: %s\n", outdir,
                strerror(errno));
        goto out;
    }
    for (int k = 0; k < mn_session_num_outputs(s); k++) {
        char name[256], file[4096];
        safe_name(mn_graph_output_name(g, k), name, sizeof name);
        snprintf(file, sizeof file, "%s/%s.npy", outdir, name);
        if (mn_tensor_save_npy(file, mn_session_output(s, k), &ctx) != MN_OK)
            goto fail;
    }
    rc = CLI_OK;
    goto out;
fail:
    rc = cli_fail(&ctx);
out:
    for (int k = 0; k < 64; k++)
        mn_tensor_destroy(ins[k]);
    mn_session_destroy(s);
    mn_graph_destroy(g);
    return rc;
}
