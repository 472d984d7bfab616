/* minnow export MODEL --format onnx -o PATH [--optimize]: writes the model
 * (after the standard clean-up passes when --optimize is given) atomically.
 * The mnw and C formats come with the quantization and deployment work. */
#include <string.h>
#include "cli.h"

static const char *const USAGE = "MODEL --format onnx|mnw|c -o PATH [--optimize]";

int cmd_export(int argc, char **argv)
{
    const char *path = NULL, *out = NULL, *fmt = "onnx";
    int optimize = 0;
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--format") && i + 1 < argc)
            fmt = argv[++i];
        else if (!strcmp(argv[i], "-o") && i + 1 < argc)
            out = argv[++i];
        else if (!strcmp(argv[i], "--optimize"))
            optimize = 1;
        else if (!strcmp(argv[i], "--help"))
            return cli_usage("export", USAGE), CLI_OK;
        else if (argv[i][0] == '-' || path)
            return cli_usage("export", USAGE);
        else
            path = argv[i];
    }
    if (!path || !out)
        return cli_usage("export", USAGE);
    if (strcmp(fmt, "onnx") != 0) {
        if (!strcmp(fmt, "mnw") || !strcmp(fmt, "c")) {
            fprintf(stderr, "minnow: export --format %s is not implemented yet "
                            "(only onnx)\n", fmt);
            return CLI_ERR;
        }
        fprintf(stderr, "minnow: unknown export format '%s' (onnx, mnw, c)\n",
                fmt);
        return CLI_USAGE;
    }
    if (mn_graph_load_onnx(path, &g, &ctx) != MN_OK)
        return cli_fail(&ctx);
    if ((optimize && mn_graph_optimize(g, &ctx) != MN_OK) ||
        mn_graph_save_onnx(g, out, &ctx) != MN_OK) {
        mn_graph_destroy(g);
        return cli_fail(&ctx);
    }
    mn_graph_destroy(g);
    return CLI_OK;
}
