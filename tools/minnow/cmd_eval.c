/* minnow eval MODEL --data SPEC [--limit N] [--batch N] [--threads N]
 *             [--mean a,b,c] [--std a,b,c] [--json] */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "minnow/mnw.h"

static const char *const USAGE =
    "MODEL --data SPEC [--limit N] [--batch N] [--threads N] "
    "[--mean M[,M,M]] [--std S[,S,S]] [--weights compact|float] [--json]";

int cmd_eval(int argc, char **argv)
{
    const char *path = NULL, *spec = NULL;
    long long limit = 0, batch = 32, threads = 1;
    int json = 0, rc;
    mn_data_opts dopts = {0};
    mn_eval_result r = {0};
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--data") && v) {
            spec = v;
            i++;
        } else if (!strcmp(a, "--limit")) {
            if (!cli_parse_int(a, v, 1, (long long)1 << 40, &limit))
                return CLI_USAGE;
            i++;
        } else if (!strcmp(a, "--batch")) {
            if (!cli_parse_int(a, v, 1, 4096, &batch))
                return CLI_USAGE;
            i++;
        } else if (!strcmp(a, "--threads")) {
            if (!cli_parse_int(a, v, 1, 256, &threads))
                return CLI_USAGE;
            i++;
        } else if (!strcmp(a, "--mean") && v) {
            if ((dopts.n_mean = cli_parse_floats(v, dopts.mean, 4)) <= 0)
                return cli_usage("eval", USAGE);
            i++;
        } else if (!strcmp(a, "--std") && v) {
            if ((dopts.n_std = cli_parse_floats(v, dopts.std, 4)) <= 0)
                return cli_usage("eval", USAGE);
            i++;
        } else if (!strcmp(a, "--weights")) {
            int w;
            if (!cli_parse_weights(v, &w))
                return CLI_USAGE;
            /* the evaluation's sessions take MINNOW_WEIGHTS (their
             * options are mn_eval_accuracy's) */
            setenv("MINNOW_WEIGHTS", v, 1);
            i++;
        } else if (!strcmp(a, "--help")) {
            return cli_usage("eval", USAGE), CLI_OK;
        } else if (a[0] == '-' || path) {
            return cli_usage("eval", USAGE);
        } else {
            path = a;
        }
    }
    if (!path || !spec)
        return cli_usage("eval", USAGE);
    dopts.limit = limit;
    if (!cli_load_model(path, &g, &ctx))
        return cli_fail(&ctx);
    if (mn_eval_accuracy(g, spec, &dopts, (int)batch, (int)threads, &r, &ctx) !=
        MN_OK) {
        mn_graph_destroy(g);
        return cli_fail(&ctx);
    }
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "accuracy", r.accuracy);
        if (r.top5 >= 0)
            cJSON_AddNumberToObject(o, "top5", r.top5);
        else
            cJSON_AddNullToObject(o, "top5");
        cJSON_AddNumberToObject(o, "samples", (double)r.samples);
        cJSON_AddNumberToObject(o, "seconds", r.seconds);
        cli_print_json(o);
        cJSON_Delete(o);
    } else {
        printf("model     %s\ndata      %s\nsamples   %lld\n", path, spec,
               (long long)r.samples);
        printf("top-1     %.2f %%\n", 100.0 * r.accuracy);
        if (r.top5 >= 0)
            printf("top-5     %.2f %%\n", 100.0 * r.top5);
        printf("seconds   %.2f\n", r.seconds);
    }
    rc = CLI_OK;
    mn_graph_destroy(g);
    return rc;
}
