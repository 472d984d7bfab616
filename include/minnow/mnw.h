/* minnow — its own deployable model file (.mnw) and format-neutral loading.
 *
 * A .mnw file holds one mn_graph: values, nodes with every attribute,
 * metadata, and the constant tensors at their true width (float32,
 * float16, int8/uint8, int32, ...; int8/uint8 tensors whose values all fit
 * in 4 bits are packed two per byte; tensors with many zeros are stored as
 * a bitmask plus the non-zero values when that is smaller). Blobs are
 * 64-byte aligned, the file is versioned and carries a CRC-32 that the
 * loader checks. Loading expands everything into ordinary dense tensors.
 * The layout is specified in docs/mnw-format.md. */
#ifndef MINNOW_MNW_H
#define MINNOW_MNW_H

#include "minnow/minnow.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mn_mnw_opts {
    int dense;    /* 1: never use a sparse (bitmask or gaps) layout */
    int no_pack4; /* 1: keep int8/uint8 at 8 bits even when they fit 4 */
    int no_gaps;  /* 1: sparse tensors use the bitmask layout only (files
                     that minnow before format 1.1 reads) */
    int v1_1;     /* 1: only what format 1.1 readers read: no half-width
                     values, no deflated sections, blobs of 64 bytes or
                     more at multiples of 64 */
} mn_mnw_opts;

/* Writes g atomically (temp file + rename). opts NULL: defaults (sparse
 * and 4-bit packing chosen per tensor whenever they are smaller). The same
 * graph always gives the same bytes. */
mn_status mn_graph_save_mnw(const mn_graph *g, const char *path,
                            const mn_mnw_opts *opts, mn_ctx *ctx);
/* The same into a malloc'd buffer (free with free()). */
mn_status mn_graph_save_mnw_mem(const mn_graph *g, const mn_mnw_opts *opts,
                                void **buf, size_t *len, mn_ctx *ctx);

/* Loads a .mnw file; every size, offset and reference is checked and the
 * checksum verified, so hostile files fail with a message naming the file
 * (MN_ERR_PARSE, or MN_ERR_UNSUPPORTED for a newer format version). */
mn_status mn_graph_load_mnw(const char *path, mn_graph **out, mn_ctx *ctx);
mn_status mn_graph_load_mnw_mem(const void *buf, size_t len, const char *label,
                                mn_graph **out, mn_ctx *ctx);

/* 1 when the bytes start like a .mnw file (the magic "MNW1"). */
int mn_mnw_is_mnw(const void *buf, size_t len);

/* Loads a model of any format minnow reads, chosen by the file's first
 * bytes (not its name): .mnw, else ONNX. */
mn_status mn_graph_load_any(const char *path, mn_graph **out, mn_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif
