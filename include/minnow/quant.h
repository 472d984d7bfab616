/* minnow — post-training quantization (public API).
 *
 * mn_quantize rewrites an fp32 graph in place into one of the standard
 * quantized ONNX forms that ONNX Runtime runs and minnow's own runtime runs:
 *  - int8: QDQ (QuantizeLinear/DequantizeLinear around every quantized
 *    tensor; weights int8 per output channel, symmetric; activations per
 *    tensor, asymmetric uint8 or int8, ranges from calibration), lowered by
 *    default to integer operators (QLinearConv) so that evaluation runs the
 *    integer kernels;
 *  - dynamic: int8 weights, activations quantized at run time
 *    (DynamicQuantizeLinear + ConvInteger/MatMulInteger + scale multiply);
 *  - float16: weights stored as float16 initializers, Cast to float;
 *  - int16x8: as int8 with int16 activations (QDQ, com.microsoft Q/DQ);
 *  - int4: weight-only, 4-bit values per output channel in int8 containers
 *    (ONNX has no 4-bit type before opset 21; packing needs minnow's own
 *    file format).
 * The graph is first run through mn_graph_optimize (BatchNorm folding). */
#ifndef MINNOW_QUANT_H
#define MINNOW_QUANT_H

#include "minnow/minnow.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mn_quant_mode {
    MN_QUANT_INT8 = 0,
    MN_QUANT_DYNAMIC = 1,
    MN_QUANT_FLOAT16 = 2,
    MN_QUANT_INT16X8 = 3, /* int16 activations (QDQ only), int8 weights */
    MN_QUANT_INT4 = 4,    /* 4-bit weights in int8 containers, float acts */
    MN_QUANT_MODE_COUNT
} mn_quant_mode;

typedef enum mn_calib_method {
    MN_CALIB_MINMAX = 0,
    MN_CALIB_PERCENTILE = 1,
    MN_CALIB_ENTROPY = 2, /* KL divergence, TensorRT-style */
    MN_CALIB_MSE = 3,
    MN_CALIB_METHOD_COUNT
} mn_calib_method;

/* The default (0) writes integer operators: minnow and ONNX Runtime then
 * both evaluate the file with integer kernels. */
typedef enum mn_quant_format {
    MN_QFORMAT_QOP = 0, /* QDQ patterns lowered to QLinearConv & co. */
    MN_QFORMAT_QDQ = 1, /* QuantizeLinear/DequantizeLinear pairs */
    MN_QFORMAT_COUNT
} mn_quant_format;

#define MN_QUANT_DEFAULT_CALIB_COUNT 512
#define MN_QUANT_DEFAULT_PERCENTILE 99.99
#define MN_QUANT_DEFAULT_BINS 8192

typedef struct mn_quant_opts {
    mn_quant_mode mode;
    mn_quant_format format;
    /* Calibration (int8): a data spec (see mn_dataset_open), the number of
     * samples to use (0 → MN_QUANT_DEFAULT_CALIB_COUNT, capped at the data
     * set size) and how a tensor's range is chosen from its histogram. */
    const char *calib_spec;
    int64_t calib_count;
    mn_calib_method method;
    double percentile; /* MN_CALIB_PERCENTILE: 0 → 99.99 */
    int bins;          /* histogram bins (even); 0 → MN_QUANT_DEFAULT_BINS */
    int batch;         /* calibration batch; 0 → 32 */
    int threads;
    mn_data_opts data; /* mean/std override; 0 → the model's metadata */
    int per_tensor;    /* weights per tensor instead of per output channel */
    int act_signed;    /* int8 activations instead of uint8 */
    /* Nodes (by name) kept in float; keep_first_last also keeps the first
     * and the last quantizable layer in float. */
    int n_keep_float;
    const char *const *keep_float;
    int keep_first_last;
    /* int8: fail (MN_ERR_UNSUPPORTED, naming the op types) when any op
     * would stay float between DequantizeLinear and QuantizeLinear. */
    int strict;
} mn_quant_opts;

#define MN_QUANT_MAX_OP_KINDS 16

typedef struct mn_quant_report {
    mn_quant_mode mode;
    int quantized_layers; /* Conv/Gemm/MatMul with quantized weights */
    int kept_float;       /* such layers left in float (--keep-float) */
    int tensors;          /* activation tensors given quantization params */
    int integer_ops;      /* integer-kernel nodes after lowering */
    /* Nodes still computing in float between a DequantizeLinear and a
     * QuantizeLinear (int8), by op type; for the QDQ format counted on the
     * graph as lowered to integer operators. */
    int float_ops;
    int n_float_kinds;
    struct {
        char op[32];
        int count;
    } float_kinds[MN_QUANT_MAX_OP_KINDS];
    int64_t calib_samples;
    size_t observer_bytes;   /* memory of all histograms together */
    int64_t weight_bytes_before, weight_bytes_after; /* initializer bytes */
    double calib_seconds, seconds;
} mn_quant_report;

/* Quantizes g in place. opts NULL: int8 needs calibration data, so NULL
 * opts fail with MN_ERR_ARG. rep may be NULL. On failure g may be partly
 * rewritten: quantize a clone when the original must survive. */
mn_status mn_quantize(mn_graph *g, const mn_quant_opts *opts,
                      mn_quant_report *rep, mn_ctx *ctx);

/* Rewrites QDQ patterns into integer operators (QLinearConv for Conv, Gemm
 * and MatMul; MaxPool and reshapes run directly on quantized tensors) and
 * removes redundant Q/DQ pairs. *lowered (may be NULL) gets the number of
 * rewrites. Idempotent; a graph without QDQ patterns is left unchanged. */
mn_status mn_quant_lower(mn_graph *g, int *lowered, mn_ctx *ctx);

/* mn_eval_accuracy of a quantized graph as it deploys: a graph with QDQ
 * int8 patterns runs lowered to integer operators (on a copy), so the
 * integer kernels compute the accuracy. limit 0: every sample. */
mn_status mn_quant_eval_accuracy(const mn_graph *g, const char *data_spec,
                                 const mn_data_opts *opts, int64_t limit,
                                 int batch, int threads, mn_eval_result *out,
                                 mn_ctx *ctx);

/* Counts, for a (lowered) graph, the integer-kernel nodes and the float
 * nodes between DequantizeLinear and QuantizeLinear into rep's integer_ops,
 * float_ops and float_kinds. */
void mn_quant_count_ops(const mn_graph *g, mn_quant_report *rep);

/* Names ↔ enums: "int8", "dynamic", "float16", "int16x8", "int4";
 * "minmax", "percentile", "entropy", "mse"; "qdq", "qop". Parse returns
 * MN_ERR_ARG (message lists the choices) for an unknown name. */
const char *mn_quant_mode_name(mn_quant_mode m);
const char *mn_calib_method_name(mn_calib_method m);
mn_status mn_quant_mode_parse(const char *s, mn_quant_mode *out, mn_ctx *ctx);
mn_status mn_calib_method_parse(const char *s, mn_calib_method *out,
                                mn_ctx *ctx);
mn_status mn_quant_format_parse(const char *s, mn_quant_format *out,
                                mn_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif
