/* Internal: protobuf-c helpers and TensorProto <-> mn_tensor conversion,
 * shared by the ONNX importer/exporter (onnx_import.c, onnx_export.c) and
 * the .pb tensor reader (tensor_pb.c). Messages written by these helpers
 * name the cause only; callers prefix file, initializer or node. */
#ifndef MN_IO_ONNX_TENSOR_H
#define MN_IO_ONNX_TENSOR_H

#include "core/status.h"
#include "onnx.pb-c.h"

/* Deepest message nesting accepted (protobuf-c itself recurses without a
 * limit, so hostile input could overflow the stack). */
#define MN_PB_MAX_DEPTH 100

/* Unpacks an untrusted protobuf: checks nesting depth first, then unpacks
 * with an allocator whose total is bounded by a multiple of len. Free the
 * result with protobuf_c_message_free_unpacked(msg, NULL). */
mn_status mn_pb_unpack(const ProtobufCMessageDescriptor *desc, const void *buf,
                       size_t len, ProtobufCMessage **out, mn_ctx *ctx);
/* Packs a message into a malloc'd buffer (free with free()). */
mn_status mn_pb_pack(const ProtobufCMessage *msg, void **buf, size_t *len,
                     mn_ctx *ctx);

/* Reads a whole regular file into a malloc'd buffer (free with free()). */
mn_status mn_pb_read_file(const char *path, void **buf, size_t *len,
                          mn_ctx *ctx);
/* Writes buf to path atomically: a temp file in the same directory
 * (path + ".tmp.XXXXXX"), then rename; the temp file is removed on error. */
mn_status mn_pb_write_atomic(const char *path, const void *buf, size_t len,
                             mn_ctx *ctx);
/* malloc'd directory part of path ("." when it has none), or NULL (OOM). */
char *mn_pb_dirname(const char *path);

/* TensorProto → new tensor (owns its data). ext_dir: directory for
 * external data (data_location EXTERNAL), or NULL to refuse it. Checks
 * dtype, rank, dims and that the data present matches the shape before
 * allocating. String tensors → MN_ERR_UNSUPPORTED. */
mn_status mn_pb_tensor_decode(const Onnx__TensorProto *tp, const char *ext_dir,
                              mn_tensor **out, mn_ctx *ctx);
/* mn_tensor → TensorProto (initialized here) with raw_data. tp borrows
 * t->data and name; *dims_buf receives a malloc'd dims array and *copy a
 * malloc'd byte-swapped copy (big-endian hosts only, else NULL): free both
 * after packing. */
mn_status mn_pb_tensor_encode(const mn_tensor *t, const char *name,
                              Onnx__TensorProto *tp, int64_t **dims_buf,
                              void **copy, mn_ctx *ctx);

#endif
