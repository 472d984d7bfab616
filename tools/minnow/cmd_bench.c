/* minnow bench MODEL [--threads N] [--runs N] [--warmup N] [--batch N]
 *              [--weights compact|float] [--profile] [--json]: latency percentiles (and the fastest
 *              run) on a fixed random input, and the process CPU time per
 *              run; --profile adds the time per op type and per node
 *              (with its MACs and GMAC/s). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "core/session.h"
#include "minnow/mnw.h"

static const char *const USAGE =
    "MODEL [--threads N] [--runs N] [--warmup N] [--batch N] "
    "[--weights compact|float] [--profile] [--json]";

#define PROF_TOP 15

typedef struct prof_row {
    const char *name, *op, *kernel;
    double ms;
    int64_t macs; /* multiply-accumulates of one run (0: none counted) */
} prof_row;

/* The node's MACs per run from the model statistics (0 when not listed). */
static int64_t node_macs(const mn_model_stats *ms, const char *name)
{
    for (int i = 0; ms && i < ms->n_layers; i++)
        if (!strcmp(ms->layers[i].name, name))
            return ms->layers[i].macs;
    return 0;
}

static int cmp_row(const void *a, const void *b)
{
    double x = ((const prof_row *)a)->ms, y = ((const prof_row *)b)->ms;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The profile of `runs` runs: ms per run by op type and by node, slowest
 * first, as text or into o. */
static int report_profile(const mn_graph *g, const mn_session *s,
                          long long runs, cJSON *o)
{
    int n = mn_session_num_steps(s), nop = 0, node;
    double sec, total = 0;
    prof_row *st = calloc((size_t)n + 1, sizeof *st);
    prof_row *op = calloc((size_t)n + 1, sizeof *op);
    mn_model_stats ms;
    int have_ms = mn_model_stats_compute(g, &ms, NULL) == MN_OK;
    if (!st || !op) {
        free(st), free(op);
        if (have_ms)
            mn_model_stats_free(&ms);
        return 0;
    }
    for (int k = 0; mn_session_profile_step(s, k, &node, &sec); k++) {
        const mn_node *nd = &g->nodes[node];
        const char *kern = mn_session_node_kernel(s, node);
        st[k] = (prof_row){nd->name && nd->name[0] ? nd->name : "?",
                           nd->op_type, kern ? kern : "",
                           sec * 1e3 / (double)runs, 0};
        if (have_ms && nd->name && nd->name[0])
            st[k].macs = node_macs(&ms, nd->name);
        total += st[k].ms;
        int j = 0;
        while (j < nop && strcmp(op[j].op, nd->op_type))
            j++;
        if (j == nop)
            op[nop++] = (prof_row){"", nd->op_type, "", 0.0, 0};
        op[j].ms += st[k].ms;
    }
    qsort(st, (size_t)n, sizeof *st, cmp_row);
    qsort(op, (size_t)nop, sizeof *op, cmp_row);
    double share = total > 0 ? 100.0 / total : 0.0;
    if (o) {
        cJSON *p = cJSON_AddObjectToObject(o, "profile");
        cJSON *bo = cJSON_AddArrayToObject(p, "by_op");
        cJSON *nd = cJSON_AddArrayToObject(p, "nodes");
        cJSON_AddNumberToObject(p, "steps_ms", total);
        for (int j = 0; j < nop; j++) {
            cJSON *r = cJSON_CreateObject();
            cJSON_AddStringToObject(r, "op", op[j].op);
            cJSON_AddNumberToObject(r, "ms", op[j].ms);
            cJSON_AddNumberToObject(r, "share", op[j].ms * share / 100.0);
            cJSON_AddItemToArray(bo, r);
        }
        for (int k = 0; k < n; k++) {
            cJSON *r = cJSON_CreateObject();
            cJSON_AddStringToObject(r, "name", st[k].name);
            cJSON_AddStringToObject(r, "op", st[k].op);
            cJSON_AddStringToObject(r, "kernel", st[k].kernel);
            cJSON_AddNumberToObject(r, "ms", st[k].ms);
            cJSON_AddNumberToObject(r, "share", st[k].ms * share / 100.0);
            cJSON_AddNumberToObject(r, "macs", (double)st[k].macs);
            cJSON_AddNumberToObject(r, "gmacs_per_s",
                                    st[k].ms > 0 ? (double)st[k].macs /
                                                       (st[k].ms * 1e6)
                                                 : 0.0);
            cJSON_AddItemToArray(nd, r);
        }
    } else {
        printf("\nprofile (ms per run, %.3f ms in steps)\n%-28s %9s %6s\n",
               total, "op", "ms", "%");
        for (int j = 0; j < nop; j++)
            printf("%-28s %9.3f %6.1f\n", op[j].op, op[j].ms,
                   op[j].ms * share);
        printf("\nslowest nodes\n%-40s %-22s %-8s %9s %6s %8s\n", "node",
               "op", "kernel", "ms", "%", "GMAC/s");
        for (int k = 0; k < n && k < PROF_TOP; k++) {
            printf("%-40.40s %-22.22s %-8.8s %9.3f %6.1f", st[k].name,
                   st[k].op, st[k].kernel, st[k].ms, st[k].ms * share);
            if (st[k].macs > 0 && st[k].ms > 0)
                printf(" %8.1f\n", (double)st[k].macs / (st[k].ms * 1e6));
            else
                printf(" %8s\n", "");
        }
    }
    free(st);
    free(op);
    if (have_ms)
        mn_model_stats_free(&ms);
    return 1;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Deterministic inputs: uniform [-1, 1) floats from a fixed LCG seed. */
static void fill_input(mn_tensor *t, uint64_t seed)
{
    int64_t n = mn_tensor_numel(t);
    uint64_t x = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    for (int64_t i = 0; i < n; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        double u = (double)(x >> 11) / 9007199254740992.0;
        if (t->dtype == MN_DT_F32)
            ((float *)t->data)[i] = (float)(2 * u - 1);
        else if (t->dtype == MN_DT_U8)
            ((uint8_t *)t->data)[i] = (uint8_t)(u * 256);
        else if (t->dtype == MN_DT_I8)
            ((int8_t *)t->data)[i] = (int8_t)(u * 256 - 128);
    }
}

int cmd_bench(int argc, char **argv)
{
    const char *path = NULL;
    long long threads = 1, runs = 50, warmup = 5, batch = 1;
    int json = 0, profile = 0, rc = CLI_ERR, n_in = 0;
    int weights = MN_WEIGHTS_AUTO;
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    mn_session *s = NULL;
    mn_tensor *ins[64] = {0};
    double *lat = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json"))
            json = 1;
        else if (!strcmp(a, "--profile"))
            profile = 1;
        else if (!strcmp(a, "--threads")) {
            if (!cli_parse_int(a, v, 1, 256, &threads))
                return CLI_USAGE;
            i++;
        } else if (!strcmp(a, "--runs")) {
            if (!cli_parse_int(a, v, 1, 1000000, &runs))
                return CLI_USAGE;
            i++;
        } else if (!strcmp(a, "--warmup")) {
            if (!cli_parse_int(a, v, 0, 1000000, &warmup))
                return CLI_USAGE;
            i++;
        } else if (!strcmp(a, "--batch")) {
            if (!cli_parse_int(a, v, 1, 4096, &batch))
                return CLI_USAGE;
            i++;
        } else if (!strcmp(a, "--weights")) {
            if (!cli_parse_weights(v, &weights))
                return CLI_USAGE;
            i++;
        } else if (!strcmp(a, "--help"))
            return cli_usage("bench", USAGE), CLI_OK;
        else if (a[0] == '-' || path)
            return cli_usage("bench", USAGE);
        else
            path = a;
    }
    if (!path)
        return cli_usage("bench", USAGE);
    if (!cli_load_model(path, &g, &ctx))
        return cli_fail(&ctx);
    if (mn_graph_optimize(g, &ctx) != MN_OK)
        goto fail;
    {
        mn_session_opts o = {.batch = (int)batch, .threads = (int)threads,
                             .weights = weights};
        if (mn_session_create(g, &o, &s, &ctx) != MN_OK)
            goto fail;
    }
    n_in = mn_graph_num_inputs(g);
    if (n_in > 64) {
        fprintf(stderr, "minnow: %s: too many inputs\n", path);
        goto out;
    }
    for (int i = 0; i < n_in; i++) {
        const mn_tensor *m = mn_session_input(s, i);
        if (mn_tensor_create(m->dtype, m->ndim, m->dims, &ins[i], &ctx) != MN_OK)
            goto fail;
        fill_input(ins[i], (uint64_t)i + 1);
    }
    lat = malloc((size_t)runs * sizeof *lat);
    if (!lat)
        goto out;
    double cpu0 = 0;
    for (long long k = 0; k < warmup + runs; k++) {
        if (k == warmup) {
            cpu0 = cli_cpu_seconds();
            mn_session_profile(s, profile);
        }
        double t0 = cli_now();
        if (mn_session_run(s, (const mn_tensor *const *)ins, n_in, &ctx) !=
            MN_OK)
            goto fail;
        if (k >= warmup)
            lat[k - warmup] = (cli_now() - t0) * 1e3;
    }
    /* CPU time of the process (all threads) per run: unlike wall time it
     * hardly moves when other jobs share the cores */
    double cpu_ms = (cli_cpu_seconds() - cpu0) * 1e3 / (double)runs;
    double mean = 0;
    for (long long k = 0; k < runs; k++)
        mean += lat[k];
    mean /= (double)runs;
    qsort(lat, (size_t)runs, sizeof *lat, cmp_d);
    double p50 = lat[(runs - 1) / 2], p95 = lat[(size_t)((double)(runs - 1) * 0.95)];
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "p50_ms", p50);
        /* the fastest run: the one least disturbed on a shared machine */
        cJSON_AddNumberToObject(o, "min_ms", lat[0]);
        cJSON_AddNumberToObject(o, "p95_ms", p95);
        cJSON_AddNumberToObject(o, "mean_ms", mean);
        cJSON_AddNumberToObject(o, "cpu_ms", cpu_ms);
        cJSON_AddNumberToObject(o, "runs", (double)runs);
        cJSON_AddNumberToObject(o, "threads", (double)threads);
        cJSON_AddNumberToObject(o, "arena_bytes",
                                (double)mn_session_arena_bytes(s));
        cJSON_AddNumberToObject(o, "peak_rss_bytes", (double)cli_peak_rss());
        cJSON_AddStringToObject(o, "weights", mn_session_weights_compact(s)
                                                  ? "compact" : "float");
        cJSON_AddNumberToObject(o, "resident_weight_bytes",
                                (double)mn_session_weight_bytes(s));
        if (profile && !report_profile(g, s, runs, o)) {
            cJSON_Delete(o);
            goto out;
        }
        cli_print_json(o);
        cJSON_Delete(o);
    } else {
        printf("model      %s\nthreads    %lld\nruns       %lld\n", path,
               threads, runs);
        printf("p50        %.3f ms\np95        %.3f ms\nmean       %.3f ms\n"
               "min        %.3f ms\n", p50, p95, mean, lat[0]);
        printf("cpu        %.3f ms per run (all threads)\n", cpu_ms);
        printf("arena      %zu bytes\npeak RSS   %lld bytes\n",
               mn_session_arena_bytes(s), cli_peak_rss());
        printf("weights    %s, %zu bytes resident\n",
               mn_session_weights_compact(s) ? "compact" : "float",
               mn_session_weight_bytes(s));
        if (profile && !report_profile(g, s, runs, NULL))
            goto out;
    }
    rc = CLI_OK;
    goto out;
fail:
    rc = cli_fail(&ctx);
out:
    free(lat);
    for (int i = 0; i < 64; i++)
        mn_tensor_destroy(ins[i]);
    mn_session_destroy(s);
    mn_graph_destroy(g);
    return rc;
}
