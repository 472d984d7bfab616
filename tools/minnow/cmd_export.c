/* minnow export MODEL --format onnx|mnw -o PATH [--optimize] [--dense]:
 * writes the model (after the standard clean-up passes when --optimize is
 * given) atomically, as ONNX or as minnow's own .mnw file (weights at
 * their true width, 4-bit packing and sparse storage chosen per tensor;
 * --dense turns sparse storage off). MODEL may be ONNX or .mnw. The C
 * format comes with the deployment work. */
#include <string.h>
#include "cli.h"
#include "minnow/mnw.h"

static const char *const USAGE =
    "MODEL --format onnx|mnw|c -o PATH [--optimize] [--dense]";

int cmd_export(int argc, char **argv)
{
    const char *path = NULL, *out = NULL, *fmt = "onnx";
    int optimize = 0;
    mn_mnw_opts mo = {0};
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    mn_status st;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--format") && i + 1 < argc)
            fmt = argv[++i];
        else if (!strcmp(argv[i], "-o") && i + 1 < argc)
            out = argv[++i];
        else if (!strcmp(argv[i], "--optimize"))
            optimize = 1;
        else if (!strcmp(argv[i], "--dense"))
            mo.dense = 1;
        else if (!strcmp(argv[i], "--help"))
            return cli_usage("export", USAGE), CLI_OK;
        else if (argv[i][0] == '-' || path)
            return cli_usage("export", USAGE);
        else
            path = argv[i];
    }
    if (!path || !out)
        return cli_usage("export", USAGE);
    if (strcmp(fmt, "onnx") != 0 && strcmp(fmt, "mnw") != 0) {
        if (!strcmp(fmt, "c")) {
            fprintf(stderr, "minnow: export --format c is not implemented yet "
                            "(onnx, mnw)\n");
            return CLI_ERR;
        }
        fprintf(stderr, "minnow: unknown export format '%s' (onnx, mnw, c)\n",
                fmt);
        return CLI_USAGE;
    }
    if (mn_graph_load_any(path, &g, &ctx) != MN_OK)
        return cli_fail(&ctx);
    st = optimize ? mn_graph_optimize(g, &ctx) : MN_OK;
    if (st == MN_OK)
        st = !strcmp(fmt, "mnw") ? mn_graph_save_mnw(g, out, &mo, &ctx)
                                 : mn_graph_save_onnx(g, out, &ctx);
    mn_graph_destroy(g);
    return st == MN_OK ? CLI_OK : cli_fail(&ctx);
}
