/* minnow — make trained CNNs small and fast for edge devices.
 *
 * Public API. Every fallible call returns mn_status and writes a human
 * message (naming file, node and cause) into an mn_ctx; the library never
 * prints, aborts or exits. Objects come in _create/_load and _destroy pairs;
 * _destroy(NULL) is a no-op. */
#ifndef MINNOW_H
#define MINNOW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MN_VERSION "0.1.0"

typedef enum mn_status {
    MN_OK = 0,
    MN_ERR_PARSE = 1,       /* malformed file or tensor */
    MN_ERR_SHAPE = 2,       /* shapes or dtypes do not fit */
    MN_ERR_UNSUPPORTED = 3, /* valid but not supported by minnow */
    MN_ERR_IO = 4,          /* open/read/write failed */
    MN_ERR_OOM = 5,         /* allocation failed or size limit exceeded */
    MN_ERR_ARG = 6,         /* bad argument from the caller */
    MN_ERR_RUNTIME = 7,     /* data-dependent failure while running */
    MN_STATUS_COUNT
} mn_status;

/* Element types; values are ONNX TensorProto.DataType numbers. */
typedef enum mn_dtype {
    MN_DT_UNDEF = 0,
    MN_DT_F32 = 1,
    MN_DT_U8 = 2,
    MN_DT_I8 = 3,
    MN_DT_U16 = 4,
    MN_DT_I16 = 5,
    MN_DT_I32 = 6,
    MN_DT_I64 = 7,
    MN_DT_STRING = 8,
    MN_DT_BOOL = 9,
    MN_DT_F16 = 10,
    MN_DT_F64 = 11,
    MN_DT_U32 = 12,
    MN_DT_U64 = 13,
    /* 14..20 (complex, bfloat16, float8) are not supported: no traits. */
    MN_DT_U4 = 21, /* 4-bit, two per byte, low nibble first (as ONNX) */
    MN_DT_I4 = 22,
    MN_DT_COUNT
} mn_dtype;

#define MN_MAX_DIMS 8

/* A dense tensor. `data` is owned by whoever created it (see mn_tensor_*). */
typedef struct mn_tensor {
    mn_dtype dtype;
    int ndim;
    int64_t dims[MN_MAX_DIMS];
    void *data;
    int owns_data; /* 1: mn_tensor_destroy frees data */
} mn_tensor;

/* Error context: holds the last message. Stack-allocate and zero it. */
typedef struct mn_ctx {
    char msg[1024];
} mn_ctx;

const char *mn_status_str(mn_status st);
const char *mn_dtype_name(mn_dtype dt);
/* Bytes per element; 0 for undefined, string, unsupported numbers and the
 * sub-byte types (int4/uint4), which only mn_dtype_bits and
 * mn_tensor_nbytes describe: code that indexes elements by byte size thus
 * refuses 4-bit tensors instead of misreading them. */
size_t mn_dtype_size(mn_dtype dt);
/* Bits per element (4 for int4/uint4); 0 for undefined/string/unknown. */
int mn_dtype_bits(mn_dtype dt);
/* Storage bytes of n elements, rounded up to whole bytes (SIZE_MAX on
 * overflow; 0 for dtypes without traits). */
size_t mn_dtype_nbytes(mn_dtype dt, size_t n);

/* ---- tensors ---- */
int64_t mn_tensor_numel(const mn_tensor *t);
size_t mn_tensor_nbytes(const mn_tensor *t); /* rounds up (4-bit types) */
/* Allocates a zeroed tensor that owns its data. */
mn_status mn_tensor_create(mn_dtype dt, int ndim, const int64_t *dims,
                           mn_tensor **out, mn_ctx *ctx);
mn_status mn_tensor_clone(const mn_tensor *src, mn_tensor **out, mn_ctx *ctx);
void mn_tensor_destroy(mn_tensor *t);

/* .npy (v1/v2/v3, little-endian, C order) and ONNX TensorProto .pb files. */
mn_status mn_tensor_load_npy(const char *path, mn_tensor **out, mn_ctx *ctx);
mn_status mn_tensor_save_npy(const char *path, const mn_tensor *t, mn_ctx *ctx);
mn_status mn_tensor_load_pb(const char *path, mn_tensor **out, char **name,
                            mn_ctx *ctx);
mn_status mn_tensor_load_npy_mem(const void *buf, size_t len, mn_tensor **out,
                                 mn_ctx *ctx);
mn_status mn_tensor_load_pb_mem(const void *buf, size_t len, mn_tensor **out,
                                char **name, mn_ctx *ctx);

/* ---- graphs ---- */
typedef struct mn_graph mn_graph;

mn_status mn_graph_load_onnx(const char *path, mn_graph **out, mn_ctx *ctx);
mn_status mn_graph_load_onnx_mem(const void *buf, size_t len, const char *label,
                                 mn_graph **out, mn_ctx *ctx);
/* Writes atomically (temp file + rename). */
mn_status mn_graph_save_onnx(const mn_graph *g, const char *path, mn_ctx *ctx);
void mn_graph_destroy(mn_graph *g);

/* Standard clean-up passes: constant folding, BatchNorm folding, Identity/
 * Dropout removal, dead-node elimination. Idempotent. */
mn_status mn_graph_optimize(mn_graph *g, mn_ctx *ctx);

int mn_graph_num_inputs(const mn_graph *g);  /* non-initializer inputs */
int mn_graph_num_outputs(const mn_graph *g);
const char *mn_graph_input_name(const mn_graph *g, int i);
const char *mn_graph_output_name(const mn_graph *g, int i);
/* dims of the declared input; -1 for a symbolic/unknown dimension */
mn_status mn_graph_input_shape(const mn_graph *g, int i, int *ndim,
                               int64_t *dims, mn_dtype *dt);
/* metadata_props lookup; NULL when absent. Borrowed. */
const char *mn_graph_meta(const mn_graph *g, const char *key);
mn_status mn_graph_set_meta(mn_graph *g, const char *key, const char *value,
                            mn_ctx *ctx);

/* ---- sessions: compile once, run many ---- */
typedef struct mn_session mn_session;

typedef struct mn_session_opts {
    int batch;    /* value for a symbolic leading dimension; 0 → 1 */
    int threads;  /* 0 → 1 */
    /* Optional concrete input shapes (e.g. from conformance data). */
    int n_input_shapes;
    const mn_tensor *const *input_shapes; /* only dtype/ndim/dims are read */
    /* Keep every intermediate value alive after run (no memory reuse):
     * training, calibration and debugging read them. */
    int keep_values;
    /* Run ops in training mode (BatchNorm uses batch statistics, Dropout
     * drops); forwards see it as mn_exec.training. */
    int training;
    /* Sparse kernels for constant float32 Conv/Gemm/MatMul weights:
     * MN_SPARSE_AUTO picks them per layer where the weight is sparse enough
     * to be faster (docs/sparse.md); MINNOW_SPARSE=auto|dense|sparse in the
     * environment overrides AUTO (only AUTO), for tests and benchmarks. */
    int sparse;
    /* Constant weights stored compressed (float16 values, or int4 codes +
     * DequantizeLinear scales) of Conv/Gemm/MatMul layers:
     * MN_WEIGHTS_COMPACT keeps them so and the kernels decode the panels
     * they need on the fly (the same bits as float32 weights);
     * MN_WEIGHTS_FLOAT folds them to float32 at compile;
     * MN_WEIGHTS_AUTO is the default below, or MINNOW_WEIGHTS=compact|float
     * from the environment. Training and keep_values sessions fold. */
    int weights;
} mn_session_opts;

enum {
    MN_SPARSE_AUTO = 0,  /* per layer, by measured sparsity */
    MN_SPARSE_DENSE = 1, /* never sparse */
    MN_SPARSE_FORCE = 2  /* sparse for every eligible layer */
};

enum {
    MN_WEIGHTS_AUTO = 0,    /* MINNOW_WEIGHTS, else MN_WEIGHTS_DEFAULT */
    MN_WEIGHTS_COMPACT = 1, /* keep float16/int4 weights compressed */
    MN_WEIGHTS_FLOAT = 2    /* fold them to float32 at compile */
};
#define MN_WEIGHTS_DEFAULT MN_WEIGHTS_COMPACT

/* The session borrows g; g must outlive it and not be modified meanwhile. */
mn_status mn_session_create(const mn_graph *g, const mn_session_opts *opts,
                            mn_session **out, mn_ctx *ctx);
void mn_session_destroy(mn_session *s);
/* inputs bind in graph-input order; outputs are views into the session
 * (valid until the next run or destroy). No allocation happens here. */
mn_status mn_session_run(mn_session *s, const mn_tensor *const *inputs,
                         int n_inputs, mn_ctx *ctx);
int mn_session_num_outputs(const mn_session *s);
const mn_tensor *mn_session_output(const mn_session *s, int i);
const mn_tensor *mn_session_input(const mn_session *s, int i); /* shape/dtype expected */
size_t mn_session_arena_bytes(const mn_session *s);
/* Bytes of constant data a session holds while it runs: the graph's
 * initializers it borrows, the constants it folded (float32 copies of
 * compressed weights among them under MN_WEIGHTS_FLOAT) and the weights
 * its steps packed (8-bit GEMM/direct panels, float32 channel-vector
 * panels). */
size_t mn_session_weight_bytes(const mn_session *s);
/* 1 when the session keeps weights compressed (MN_WEIGHTS_COMPACT after
 * MINNOW_WEIGHTS; never in training or keep_values sessions). */
int mn_session_weights_compact(const mn_session *s);
/* Profiling: on != 0 makes every later run add each step's wall time to
 * the step's sum; the call clears the sums. mn_session_profile_step reads
 * step k's node index and summed seconds (0 past the last step). Steps run
 * in order; fused steps (views) take no time. No allocation. */
void mn_session_profile(mn_session *s, int on);
int mn_session_profile_step(const mn_session *s, int k, int *node,
                            double *seconds);

/* ---- model statistics (minnow info) ---- */
typedef struct mn_layer_stats {
    char name[128];
    char op[32];
    int64_t params, nonzero_params, macs;
    mn_dtype dtype; /* dtype of the layer's main weight, or of its output */
    char kernel[8]; /* "sparse"/"dense" for Conv/Gemm/MatMul as a default
                       session runs them, "" otherwise */
    /* QLinearConv / QLinearMatMul: the quantization parameters (quant 1):
     * input and output scale and zero point, and the weight scales
     * (w_scales of them: 1 per tensor, else per channel) with their range */
    int quant, w_scales;
    float x_scale, y_scale, w_scale_min, w_scale_max;
    int32_t x_zero_point, y_zero_point;
} mn_layer_stats;

#define MN_STATS_MAX_WKINDS 8

typedef struct mn_model_stats {
    int64_t params, nonzero_params, macs;
    int64_t arena_bytes;
    int nodes;
    /* constants' bytes in memory, by dtype (int4 counts packed) */
    int64_t weight_bytes;
    int n_weight_kinds;
    struct {
        mn_dtype dtype;
        int64_t bytes;
    } weight_kinds[MN_STATS_MAX_WKINDS];
    int n_layers;
    mn_layer_stats *layers; /* owned; free with mn_model_stats_free */
} mn_model_stats;

mn_status mn_model_stats_compute(const mn_graph *g, mn_model_stats *out,
                                 mn_ctx *ctx);
void mn_model_stats_free(mn_model_stats *st);

/* ---- data sets ---- */
typedef struct mn_dataset mn_dataset;

typedef struct mn_data_opts {
    int n_mean, n_std;       /* 0 → take from the model's metadata or 0/1 */
    float mean[4], std[4];
    int height, width, channels; /* target; 0 → data's own */
    int64_t limit;           /* 0 → all */
} mn_data_opts;

mn_status mn_dataset_open(const char *spec, const mn_data_opts *opts,
                          mn_dataset **out, mn_ctx *ctx);
void mn_dataset_destroy(mn_dataset *d);
int64_t mn_dataset_size(const mn_dataset *d);
int mn_dataset_num_classes(const mn_dataset *d); /* 0 when unlabelled */
/* Sample shape (C,H,W) after preprocessing. */
void mn_dataset_sample_shape(const mn_dataset *d, int *c, int *h, int *w);
/* Reads samples [first, first+n) as N×C×H×W floats into x (caller-sized)
 * and their labels into y (may be NULL). */
mn_status mn_dataset_read(mn_dataset *d, int64_t first, int64_t n, float *x,
                          int64_t *y, mn_ctx *ctx);

/* ---- evaluation ---- */
typedef struct mn_eval_result {
    double accuracy, top5; /* top5 < 0 when fewer than 5 classes */
    int64_t samples;
    double seconds;
} mn_eval_result;

mn_status mn_eval_accuracy(const mn_graph *g, const char *data_spec,
                           const mn_data_opts *opts, int batch, int threads,
                           mn_eval_result *out, mn_ctx *ctx);

#ifdef __cplusplus
}
#endif

#include "minnow/train.h"
#endif
