/* Internal ONNX I/O entry points not (yet) in the public header: in-memory
 * export for round trips (tests, fuzzing) and TensorProto writers. */
#ifndef MN_IO_ONNX_IO_H
#define MN_IO_ONNX_IO_H

#include "core/graph.h"

/* Serializes g as an ONNX ModelProto into a malloc'd buffer (free()). */
mn_status mn_graph_save_onnx_mem(const mn_graph *g, void **buf, size_t *len,
                                 mn_ctx *ctx);
/* Writes t as a serialized TensorProto named `name` (may be NULL);
 * the file is written atomically. */
mn_status mn_tensor_save_pb(const char *path, const mn_tensor *t,
                            const char *name, mn_ctx *ctx);
mn_status mn_tensor_save_pb_mem(const mn_tensor *t, const char *name,
                                void **buf, size_t *len, mn_ctx *ctx);

#endif
