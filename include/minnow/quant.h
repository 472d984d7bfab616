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
 *  - int4: weight-only, 4-bit weights (ONNX INT4, packed two per byte)
 *    with a scale per group of consecutive input weights (blocked
 *    DequantizeLinear; the model becomes ai.onnx opset 21), activations
 *    float.
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
    MN_QUANT_INT4 = 4,    /* 4-bit grouped weights (opset 21), float acts */
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
#define MN_QUANT_DEFAULT_GROUP 128

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
    /* Passes before quantizing (after BatchNorm folding), both off by
     * default: cross-layer equalization (mn_quant_equalize, default
     * options) and, int8/int16x8 only, empirical bias correction from the
     * calibration data (mn_quant_bias_correct). */
    int equalize;
    int bias_correct;
    /* int4: scales per group of this many consecutive weights along the
     * reduction axis (0 → MN_QUANT_DEFAULT_GROUP; -1 → per output channel;
     * per_tensor → one scale); scales are float16 (scale_f16 0 or 1) or
     * float32 (scale_f16 -1). Defaults (128, float16) measured on resnet8,
     * mobilenetv2 and fashion_cnn: see docs/quantization.md. */
    int group;
    int scale_f16;
} mn_quant_opts;

#define MN_QUANT_MAX_OP_KINDS 16

typedef struct mn_quant_report {
    mn_quant_mode mode;
    int quantized_layers; /* Conv/Gemm/MatMul with quantized weights */
    int kept_float;       /* such layers left in float (--keep-float) */
    /* --keep-float names of elementwise ops between quantized tensors,
     * which run as integer operators anyway (QLinearAdd, ...: ONNX Runtime
     * fuses DequantizeLinear-op-QuantizeLinear the same way): how many,
     * and the index in opts->keep_float of the first (-1: none). */
    int keep_float_int, keep_float_int_first;
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
    /* opts->equalize: pairs rescaled, pairs skipped for a clipping
     * activation, and the mean weight range spread before/after (see
     * mn_equalize_report); opts->bias_correct: layers corrected. */
    int eq_pairs, eq_skipped_clip;
    double eq_spread_before, eq_spread_after;
    int bias_corrected;
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

/* ---- cross-layer equalization (Nagel et al. 2019) ----
 * For consecutive layers L1 → f → L2 (Conv of any group count, or Gemm;
 * f a chain of ReLU, LeakyRelu, PRelu, Clip(0, inf), Identity, Dropout,
 * MaxPool, AveragePool), output channel c of L1 is divided by s_c and input
 * channel c of L2 multiplied by s_c with s_c = sqrt(r1_c / r2_c) (ranges
 * = max |w| of the channel), so both become sqrt(r1_c r2_c). The fp32
 * function is unchanged (up to rounding). A Clip with a finite max (ReLU6)
 * is not homogeneous: such pairs are skipped, not approximated. Run it
 * after BatchNorm folding (mn_graph_optimize). */
typedef struct mn_equalize_opts {
    int iterations;   /* sweeps over all pairs; 0 → 4 */
    double max_scale; /* s_c clamped to [1/max_scale, max_scale]; 0 → 1e4 */
} mn_equalize_opts;

typedef struct mn_equalize_report {
    int pairs;        /* layer pairs rescaled */
    int skipped_clip; /* pairs left alone: a ReLU6-like Clip between */
    /* Mean over the pairs' first layers of max_c r_c / mean_c r_c of the
     * output-channel ranges (1 = every channel spans the tensor's range). */
    double spread_before, spread_after;
} mn_equalize_report;

/* opts and rep may be NULL. */
mn_status mn_quant_equalize(mn_graph *g, const mn_equalize_opts *opts,
                            mn_equalize_report *rep, mn_ctx *ctx);

/* ---- bias correction (Nagel et al. 2019, empirical) ----
 * For each Conv and Gemm that o would quantize (MatMul layers are not
 * corrected), the expected error E[(W_q - W) x] per output channel, over the
 * calibration data of o (fp32 activations x, W_q the weights as o
 * quantizes them), is subtracted from the bias (a zero bias is added when
 * there is none). Memory: per-channel sums only. *corrected (may be NULL)
 * gets the number of layers changed. */
mn_status mn_quant_bias_correct(mn_graph *g, const mn_quant_opts *o,
                                int *corrected, mn_ctx *ctx);

/* ---- sensitivity analysis and mixed precision (analyze.c) ---- */
typedef struct mn_quant_layer_sens {
    char name[160];
    char op[32];
    /* Only this layer quantized (as o quantizes it, integer kernels):
     * SQNR of its output (after an absorbed ReLU/Clip) against fp32 over
     * the calibration data, in dB (+inf: no error); held-out top-1 and its
     * drop from fp32 in percentage points. */
    double sqnr_db;
    double accuracy;
    double drop;
} mn_quant_layer_sens;

typedef struct mn_quant_analysis {
    int n;                       /* layers, most sensitive first */
    mn_quant_layer_sens *layers; /* by drop, then by SQNR (lowest first) */
    double fp32_accuracy;        /* held-out */
    double quant_accuracy;       /* held-out, every layer quantized */
    int64_t eval_samples, calib_samples;
} mn_quant_analysis;

/* Ranks the layers o would quantize (int8 or int16x8; o->equalize and
 * o->bias_correct apply) by sensitivity. eval_spec: labelled held-out
 * data that must not overlap o->calib_spec's samples (same source and
 * overlapping SPEC@A:B slices → MN_ERR_ARG); eval_count 0: all of it.
 * Free *out with mn_quant_analysis_free. */
mn_status mn_quant_analyze(const mn_graph *g, const mn_quant_opts *o,
                           const char *eval_spec, int64_t eval_count,
                           mn_quant_analysis *out, mn_ctx *ctx);
void mn_quant_analysis_free(mn_quant_analysis *a);

typedef struct mn_mixed_result {
    int n_float;     /* a->layers[0 .. n_float) were kept in float */
    int steps;       /* quantize + evaluate rounds */
    double accuracy; /* held-out, final model */
    double drop;     /* percentage points below fp32 */
} mn_mixed_result;

/* Greedy mixed precision: quantizes copies of g with the 0, 1, 2, ... most
 * sensitive layers of a (from mn_quant_analyze with the same o and data)
 * kept in float until the held-out drop is <= max_drop percentage points;
 * *out gets that graph (in the worst case the optimized fp32 model), rep
 * its quantization report. */
mn_status mn_quant_mixed(const mn_graph *g, const mn_quant_opts *o,
                         const char *eval_spec, int64_t eval_count,
                         double max_drop, const mn_quant_analysis *a,
                         mn_graph **out, mn_quant_report *rep,
                         mn_mixed_result *res, mn_ctx *ctx);

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
