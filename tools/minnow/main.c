/* minnow — command-line entry point: dispatches to one file per command. */
#include <stdio.h>
#include <string.h>
#include "cli.h"

static const struct {
    const char *name;
    cli_cmd_fn fn;
    const char *help;
} cmds[] = {
    {"info", cmd_info, "params, non-zeros, MACs per layer, file and arena bytes"},
    {"run", cmd_run, "run a model on .npy/.pb inputs, write .npy outputs"},
    {"eval", cmd_eval, "top-1/top-5 accuracy over a data spec"},
    {"export", cmd_export, "write the model as ONNX"},
    {"bench", cmd_bench, "batch-1 latency percentiles"},
    {"conformance", cmd_conformance, "run ONNX backend test directories"},
    {"train", cmd_train, "train an architecture or fine-tune a model"},
    {"quantize", cmd_quantize,
     "post-training quantization: int8, int16x8, dynamic, float16, int4"},
    {"prune", cmd_prune, "prune weights (unstructured, N:M) or remove channels"},
};

static void usage(FILE *f)
{
    fprintf(f, "minnow %s — make trained CNNs small and fast\n\n"
               "usage: minnow COMMAND MODEL [options]\n\ncommands:\n",
            MN_VERSION);
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        fprintf(f, "  %-12s %s\n", cmds[i].name, cmds[i].help);
    fprintf(f, "\n'minnow COMMAND --help' shows a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("minnow %s\n", MN_VERSION);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(argv[1], cmds[i].name))
            return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "minnow: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}
