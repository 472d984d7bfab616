/* minnow — export a model as self-contained C99 source for microcontrollers.
 *
 * mn_graph_export_c writes NAME.h (the API: NAME_run, input/output shape
 * macros, NAME_ARENA_BYTES) and NAME.c (weights as static const arrays at
 * their true width — float32, or int8/uint8 with int32 bias and exact
 * requantization multipliers for integer models — stored as a bitmask plus
 * the non-zero values when that is smaller; one static arena whose offsets
 * come from minnow's own memory planner; portable kernels for exactly the
 * ops the model uses). The integer kernels reproduce minnow's reference
 * integer arithmetic bit for bit. See docs/c-export.md. */
#ifndef MINNOW_C_EXPORT_H
#define MINNOW_C_EXPORT_H

#include "minnow/minnow.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mn_c_export_opts {
    /* C identifier prefix of the generated symbols and file names; NULL:
     * from the output path (NAME.c) or the model's name ("model"). */
    const char *name;
    int dense; /* 1: never store weights as bitmask + values */
} mn_c_export_opts;

/* What an export produced (for reports); may be passed as NULL. */
typedef struct mn_c_export_info {
    size_t arena_bytes;   /* the static arena */
    size_t weight_bytes;  /* bytes of all static const data */
    int sparse_tensors;   /* weight tensors stored as bitmask + values */
    int steps;            /* kernel calls in NAME_run */
} mn_c_export_info;

/* path ending in ".c": writes that file and the .h beside it; otherwise
 * path is a directory (created when missing) that receives NAME.c and
 * NAME.h. The graph is compiled for batch 1 after the standard clean-up
 * passes (BatchNorm folded). Everything is generated in memory first and
 * written atomically (temp + rename): an op the C backend does not support
 * fails with MN_ERR_UNSUPPORTED naming the node, and nothing is written. */
mn_status mn_graph_export_c(const mn_graph *g, const char *path,
                            const mn_c_export_opts *opts,
                            mn_c_export_info *info, mn_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif
