/* minnow export MODEL --format onnx|mnw -o PATH [--optimize] [--dense]:
 * writes the model (after the standard clean-up passes when --optimize is
 * given) atomically, as ONNX or as minnow's own .mnw file (weights at
 * their true width, 4-bit packing and sparse storage chosen per tensor;
 * --dense turns sparse storage off). MODEL may be ONNX or .mnw.
 * --format c writes self-contained C99 source (NAME.c + NAME.h; -o is a
 * directory or NAME.c; --name sets the C prefix): docs/c-export.md. */
#include <string.h>
#include "cli.h"
#include "minnow/c_export.h"
#include "minnow/mnw.h"

static const char *const USAGE =
    "MODEL --format onnx|mnw|c -o PATH [--optimize] [--dense] "
    "[--name NAME] [--json]";

int cmd_export(int argc, char **argv)
{
    const char *path = NULL, *out = NULL, *fmt = "onnx";
    int optimize = 0, json = 0;
    mn_mnw_opts mo = {0};
    mn_c_export_opts co = {0};
    mn_c_export_info ci = {0};
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
            mo.dense = co.dense = 1;
        else if (!strcmp(argv[i], "--name") && i + 1 < argc)
            co.name = argv[++i];
        else if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--help"))
            return cli_usage("export", USAGE), CLI_OK;
        else if (argv[i][0] == '-' || path)
            return cli_usage("export", USAGE);
        else
            path = argv[i];
    }
    if (!path || !out)
        return cli_usage("export", USAGE);
    if (strcmp(fmt, "onnx") != 0 && strcmp(fmt, "mnw") != 0 &&
        strcmp(fmt, "c") != 0) {
        fprintf(stderr, "minnow: unknown export format '%s' (onnx, mnw, c)\n",
                fmt);
        return CLI_USAGE;
    }
    if (mn_graph_load_any(path, &g, &ctx) != MN_OK)
        return cli_fail(&ctx);
    st = optimize ? mn_graph_optimize(g, &ctx) : MN_OK;
    if (st == MN_OK && !strcmp(fmt, "c")) {
        st = mn_graph_export_c(g, out, &co, &ci, &ctx);
        if (st == MN_OK && json)
            printf("{\"arena_bytes\": %zu, \"weight_bytes\": %zu, "
                   "\"sparse_tensors\": %d, \"steps\": %d}\n",
                   ci.arena_bytes, ci.weight_bytes, ci.sparse_tensors,
                   ci.steps);
        else if (st == MN_OK)
            printf("%s: %d kernel calls, arena %zu bytes, constants %zu "
                   "bytes (%d tensors sparse)\n",
                   out, ci.steps, ci.arena_bytes, ci.weight_bytes,
                   ci.sparse_tensors);
    } else if (st == MN_OK)
        st = !strcmp(fmt, "mnw") ? mn_graph_save_mnw(g, out, &mo, &ctx)
                                 : mn_graph_save_onnx(g, out, &ctx);
    mn_graph_destroy(g);
    return st == MN_OK ? CLI_OK : cli_fail(&ctx);
}
