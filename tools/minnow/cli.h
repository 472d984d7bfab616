/* Shared helpers for the minnow command-line tool. Exit codes: 0 success,
 * 1 user/input error (message on stderr), 2 bad usage. */
#ifndef MN_CLI_H
#define MN_CLI_H

#include <stdio.h>
#include "minnow/minnow.h"

#define CLI_OK 0
#define CLI_ERR 1
#define CLI_USAGE 2

typedef int (*cli_cmd_fn)(int argc, char **argv);

int cmd_info(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_conformance(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_prune(int argc, char **argv);

/* Prints "minnow: <msg>" to stderr and returns CLI_ERR. */
int cli_fail(const mn_ctx *ctx);
int cli_usage(const char *cmd, const char *usage);
/* Parses a positive integer option value; returns 0 on error. */
int cli_parse_int(const char *opt, const char *s, long long lo, long long hi,
                  long long *out);
/* Parses "a,b,c" floats; returns count or -1. */
int cli_parse_floats(const char *s, float *out, int max);
/* --weights compact|float → MN_WEIGHTS_COMPACT / MN_WEIGHTS_FLOAT in *out;
 * 0 (after a message) when s is neither. */
int cli_parse_weights(const char *s, int *out);
/* The input normalization a model carries (metadata minnow.mean and
 * minnow.std, as `minnow train` writes it); leaves the outputs untouched
 * when it has none. */
void cli_model_norm(const mn_graph *g, float mean[4], int *n_mean,
                    float std[4], int *n_std);
/* Loads ONNX or .mnw (by magic bytes) and lowers QDQ patterns to integer
 * operators, as deployed. Returns 0 on failure (message in ctx). */
int cli_load_model(const char *path, mn_graph **g, mn_ctx *ctx);
/* Prints a JSON string (cJSON-rendered) on stdout, then a newline. */
struct cJSON;
void cli_print_json(struct cJSON *obj);
/* Adds "distill": {"teacher", "alpha", "temperature"} to obj, or null when
 * teacher is NULL; alpha/temperature 0 mean the library defaults. */
void cli_json_distill(struct cJSON *obj, const char *teacher, double alpha,
                      double temperature);
/* Current wall time in seconds (monotonic). */
double cli_now(void);
/* CPU seconds the process (all threads) has used. */
double cli_cpu_seconds(void);
/* Peak resident set size of this process in bytes (0 if unknown). */
long long cli_peak_rss(void);

#endif
