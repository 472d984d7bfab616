/* minnow info MODEL [--optimize] [--weights compact|float] [--json]: what
 * a model costs. */
#include <cjson/cJSON.h>
#include <string.h>
#include "cli.h"
#include "minnow/mnw.h"
#include "ops/ops.h"

static const char *const USAGE =
    "MODEL [--optimize] [--weights compact|float] [--json]";

static cJSON *io_json(const mn_graph *g, const mn_session *s, int outputs)
{
    cJSON *arr = cJSON_CreateArray();
    int n = outputs ? mn_graph_num_outputs(g) : mn_graph_num_inputs(g);
    for (int i = 0; i < n; i++) {
        const mn_tensor *t = outputs ? mn_session_output(s, i)
                                     : mn_session_input(s, i);
        cJSON *o = cJSON_CreateObject();
        cJSON *shape = cJSON_CreateArray();
        int64_t dims[MN_MAX_DIMS];
        int nd = 0;
        if (!outputs) {
            mn_graph_input_shape(g, i, &nd, dims, NULL);
        } else {
            nd = t->ndim;
            memcpy(dims, t->dims, sizeof dims);
        }
        for (int k = 0; k < nd; k++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)dims[k]));
        cJSON_AddStringToObject(o, "name", outputs ? mn_graph_output_name(g, i)
                                                   : mn_graph_input_name(g, i));
        cJSON_AddItemToObject(o, "shape", shape);
        cJSON_AddStringToObject(o, "dtype", mn_dtype_name(t->dtype));
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

int cmd_info(int argc, char **argv)
{
    const char *path = NULL;
    int json = 0, optimize = 0, rc = CLI_ERR, weights = MN_WEIGHTS_AUTO;
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    mn_session *s = NULL;
    mn_model_stats st = {0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--optimize"))
            optimize = 1;
        else if (!strcmp(argv[i], "--weights")) {
            if (!cli_parse_weights(i + 1 < argc ? argv[++i] : NULL, &weights))
                return CLI_USAGE;
        }
        else if (!strcmp(argv[i], "--help"))
            return cli_usage("info", USAGE), CLI_OK;
        else if (argv[i][0] == '-' || path)
            return cli_usage("info", USAGE);
        else
            path = argv[i];
    }
    if (!path)
        return cli_usage("info", USAGE);
    if (mn_graph_load_any(path, &g, &ctx) != MN_OK)
        return cli_fail(&ctx);
    if (optimize && mn_graph_optimize(g, &ctx) != MN_OK)
        goto fail;
    if (mn_model_stats_compute(g, &st, &ctx) != MN_OK)
        goto fail;
    {
        mn_session_opts o = {.batch = 1, .threads = 1, .weights = weights};
        if (mn_session_create(g, &o, &s, &ctx) != MN_OK)
            goto fail;
    }
    long long file_bytes = 0;
    {
        FILE *f = fopen(path, "rb");
        if (f) {
            fseek(f, 0, SEEK_END);
            file_bytes = ftell(f);
            fclose(f);
        }
    }
    if (json) {
        cJSON *o = cJSON_CreateObject(), *layers = cJSON_CreateArray();
        cJSON_AddNumberToObject(o, "params", (double)st.params);
        cJSON_AddNumberToObject(o, "nonzero_params", (double)st.nonzero_params);
        cJSON_AddNumberToObject(o, "macs", (double)st.macs);
        cJSON_AddNumberToObject(o, "file_bytes", (double)file_bytes);
        cJSON_AddNumberToObject(o, "arena_bytes", (double)st.arena_bytes);
        cJSON *wk = cJSON_CreateObject();
        for (int k = 0; k < st.n_weight_kinds; k++)
            cJSON_AddNumberToObject(wk, mn_dtype_name(st.weight_kinds[k].dtype),
                                    (double)st.weight_kinds[k].bytes);
        cJSON_AddNumberToObject(o, "weight_bytes", (double)st.weight_bytes);
        cJSON_AddItemToObject(o, "weight_bytes_by_dtype", wk);
        cJSON_AddNumberToObject(o, "resident_weight_bytes",
                                (double)mn_session_weight_bytes(s));
        cJSON_AddStringToObject(o, "weights", mn_session_weights_compact(s)
                                                  ? "compact" : "float");
        cJSON_AddNumberToObject(o, "nodes", st.nodes);
        cJSON_AddBoolToObject(o, "batchnorm_folded", optimize);
        cJSON_AddItemToObject(o, "inputs", io_json(g, s, 0));
        cJSON_AddItemToObject(o, "outputs", io_json(g, s, 1));
        for (int i = 0; i < st.n_layers; i++) {
            const mn_layer_stats *L = &st.layers[i];
            cJSON *l = cJSON_CreateObject();
            cJSON_AddStringToObject(l, "name", L->name);
            cJSON_AddStringToObject(l, "op", L->op);
            cJSON_AddNumberToObject(l, "params", (double)L->params);
            cJSON_AddNumberToObject(l, "nonzero_params", (double)L->nonzero_params);
            cJSON_AddNumberToObject(l, "macs", (double)L->macs);
            cJSON_AddStringToObject(l, "dtype", mn_dtype_name(L->dtype));
            if (L->kernel[0])
                cJSON_AddStringToObject(l, "kernel", L->kernel);
            if (L->quant) {
                cJSON *q = cJSON_CreateObject();
                cJSON_AddNumberToObject(q, "x_scale", L->x_scale);
                cJSON_AddNumberToObject(q, "x_zero_point", L->x_zero_point);
                cJSON_AddNumberToObject(q, "w_scales", L->w_scales);
                cJSON_AddNumberToObject(q, "w_scale_min", L->w_scale_min);
                cJSON_AddNumberToObject(q, "w_scale_max", L->w_scale_max);
                cJSON_AddNumberToObject(q, "y_scale", L->y_scale);
                cJSON_AddNumberToObject(q, "y_zero_point", L->y_zero_point);
                cJSON_AddItemToObject(l, "quant", q);
            }
            cJSON_AddItemToArray(layers, l);
        }
        cJSON_AddItemToObject(o, "layers", layers);
        cli_print_json(o);
        cJSON_Delete(o);
    } else {
        printf("model        %s\n", path);
        printf("file bytes   %lld\n", file_bytes);
        printf("nodes        %d%s\n", st.nodes,
               optimize ? " (after clean-up passes)" : "");
        for (int i = 0; i < mn_graph_num_inputs(g); i++) {
            char b[128];
            const mn_tensor *t = mn_session_input(s, i);
            printf("input        %s %s %s\n", mn_graph_input_name(g, i),
                   mn_dtype_name(t->dtype), mn_shape_str(t, b, sizeof b));
        }
        for (int i = 0; i < mn_graph_num_outputs(g); i++) {
            char b[128];
            const mn_tensor *t = mn_session_output(s, i);
            printf("output       %s %s %s\n", mn_graph_output_name(g, i),
                   mn_dtype_name(t->dtype), mn_shape_str(t, b, sizeof b));
        }
        printf("\n%-40s %-20s %-8s %12s %12s %14s  %s\n", "layer", "op",
               "dtype", "params", "nonzero", "MACs", "kernel");
        for (int i = 0; i < st.n_layers; i++) {
            const mn_layer_stats *L = &st.layers[i];
            printf("%-40.40s %-20.20s %-8s %12lld %12lld %14lld  %s\n",
                   L->name, L->op, mn_dtype_name(L->dtype),
                   (long long)L->params, (long long)L->nonzero_params,
                   (long long)L->macs, L->kernel[0] ? L->kernel : "-");
        }
        printf("\nparams       %lld (non-zero %lld)%s\n", (long long)st.params,
               (long long)st.nonzero_params,
               optimize ? ", BatchNorm folded" : "");
        printf("MACs         %lld (batch 1)\n", (long long)st.macs);
        printf("arena bytes  %lld (planned, batch 1)\n",
               (long long)st.arena_bytes);
        printf("weights      %lld bytes in memory (", (long long)st.weight_bytes);
        for (int k = 0; k < st.n_weight_kinds; k++)
            printf("%s%s %lld", k ? ", " : "",
                   mn_dtype_name(st.weight_kinds[k].dtype),
                   (long long)st.weight_kinds[k].bytes);
        printf("); the rest of the file: %lld bytes\n",
               file_bytes - (long long)st.weight_bytes);
        printf("resident     %zu bytes of constants while running (%s "
               "weights)\n",
               mn_session_weight_bytes(s),
               mn_session_weights_compact(s) ? "compact" : "float");
        for (int i = 0, first = 1; i < st.n_layers; i++) {
            const mn_layer_stats *L = &st.layers[i];
            if (!L->quant)
                continue;
            if (first)
                printf("\n%-40s %12s %5s %24s %12s %5s\n", "quantized layer",
                       "x scale", "x zp", "w scales (count: range)",
                       "y scale", "y zp");
            first = 0;
            printf("%-40.40s %12.6g %5d %5d: %8.3g..%-8.3g %12.6g %5d\n",
                   L->name, L->x_scale, L->x_zero_point, L->w_scales,
                   L->w_scale_min, L->w_scale_max, L->y_scale,
                   L->y_zero_point);
        }
    }
    rc = CLI_OK;
    goto out;
fail:
    rc = cli_fail(&ctx);
out:
    mn_session_destroy(s);
    mn_model_stats_free(&st);
    mn_graph_destroy(g);
    return rc;
}
