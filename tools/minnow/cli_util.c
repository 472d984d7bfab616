/* Helpers shared by the CLI commands. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include "cli.h"
#include "minnow/mnw.h"
#include "minnow/quant.h"
#include "minnow/train.h"

int cli_fail(const mn_ctx *ctx)
{
    fprintf(stderr, "minnow: %s\n", ctx->msg[0] ? ctx->msg : "error");
    return CLI_ERR;
}

int cli_usage(const char *cmd, const char *usage)
{
    fprintf(stderr, "usage: minnow %s %s\n", cmd, usage);
    return CLI_USAGE;
}

int cli_parse_int(const char *opt, const char *s, long long lo, long long hi,
                  long long *out)
{
    char *end;
    long long v;
    errno = 0;
    if (!s) {
        fprintf(stderr, "minnow: %s needs a value\n", opt);
        return 0;
    }
    v = strtoll(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi) {
        fprintf(stderr, "minnow: %s: '%s' is not an integer in [%lld, %lld]\n",
                opt, s, lo, hi);
        return 0;
    }
    *out = v;
    return 1;
}

int cli_parse_floats(const char *s, float *out, int max)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        if (n == max)
            return -1;
        out[n++] = strtof(p, &end);
        if (end == p)
            return -1;
        p = end;
        if (*p == ',')
            p++;
        else if (*p)
            return -1;
    }
    return n;
}

int cli_load_model(const char *path, mn_graph **g, mn_ctx *ctx)
{
    /* ONNX or .mnw (by magic), then QDQ patterns lowered to the integer
     * operators that deploy them: what runs is what ships. */
    if (mn_graph_load_any(path, g, ctx) != MN_OK)
        return 0;
    if (mn_quant_lower(*g, NULL, ctx) != MN_OK) {
        mn_graph_destroy(*g);
        *g = NULL;
        return 0;
    }
    return 1;
}

void cli_print_json(cJSON *obj)
{
    char *s = cJSON_PrintUnformatted(obj);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double cli_cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

long long cli_peak_rss(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (long long)ru.ru_maxrss * 1024;
}

void cli_model_norm(const mn_graph *g, float mean[4], int *n_mean,
                    float std[4], int *n_std)
{
    const char *m = mn_graph_meta(g, "minnow.mean");
    const char *s = mn_graph_meta(g, "minnow.std");
    float mv[4], sv[4];
    int nm, ns;
    if (!m || !s)
        return;
    nm = cli_parse_floats(m, mv, 4);
    ns = cli_parse_floats(s, sv, 4);
    if (nm > 0 && ns > 0) {
        memcpy(mean, mv, sizeof mv);
        memcpy(std, sv, sizeof sv);
        *n_mean = nm;
        *n_std = ns;
    }
}

void cli_json_distill(cJSON *obj, const char *teacher, double alpha,
                      double temperature)
{
    cJSON *d;
    if (!teacher) {
        cJSON_AddNullToObject(obj, "distill");
        return;
    }
    if (!(alpha > 0))
        alpha = MN_DISTILL_DEFAULT_ALPHA;
    if (!(temperature > 0))
        temperature = MN_DISTILL_DEFAULT_TEMPERATURE;
    d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "teacher", teacher);
    /* float options printed without float→double noise (0.7, not 0.69999) */
    cJSON_AddNumberToObject(d, "alpha", round(alpha * 1e6) / 1e6);
    cJSON_AddNumberToObject(d, "temperature", round(temperature * 1e6) / 1e6);
    cJSON_AddItemToObject(obj, "distill", d);
}

int cli_parse_weights(const char *s, int *out)
{
    if (s && !strcmp(s, "compact"))
        *out = MN_WEIGHTS_COMPACT;
    else if (s && !strcmp(s, "float"))
        *out = MN_WEIGHTS_FLOAT;
    else {
        fprintf(stderr, "minnow: --weights: '%s' is not compact or float\n",
                s ? s : "");
        return 0;
    }
    return 1;
}
