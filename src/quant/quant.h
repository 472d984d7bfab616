/* Internal contract of the quantization passes (src/quant/).
 *
 *  observer.c  streaming histograms with bounded memory
 *  calib.c     range choice from a histogram (min–max, percentile, KL, MSE),
 *              quantization parameters, and the calibration run itself
 *  qdq.c       int8 QDQ insertion (the static int8 pass)
 *  lower.c     QDQ patterns → integer operators; op counting
 *  dynamic.c   dynamic-range int8
 *  fp16.c      float16 weights
 *  weights.c   symmetric weight quantization, int4 weight-only mode
 *  equalize.c  cross-layer equalization (data-free weight rescaling)
 *  bias_correct.c  empirical bias correction from calibration data
 *  analyze.c   per-layer sensitivity (--analyze), mixed precision
 *  qutil.c     graph-editing helpers shared by the passes; mn_quantize */
#ifndef MN_QUANT_QUANT_H
#define MN_QUANT_QUANT_H

#include "core/graph.h"
#include "minnow/quant.h"

/* ---- observer ----
 * A histogram of `bins` equal bins over [-range, range] (bins divisible by
 * 4), plus the exact min, max and count. The first finite non-zero batch
 * sets range to its largest |x|; a later batch beyond it doubles the range
 * (merging bin pairs, which is exact) as often as needed. Memory is fixed at
 * init: it does not depend on how much data is observed. Non-finite values
 * are counted and ignored. */
typedef struct mn_observer {
    int bins;
    double range;         /* 0 until a non-zero value was seen */
    uint64_t *hist;       /* bins counts */
    uint64_t zeros_early; /* zeros seen while range was 0 */
    double min, max;      /* of the finite values seen (0 when none) */
    uint64_t count;       /* finite values seen */
    uint64_t nonfinite;
} mn_observer;

mn_status mn_observer_init(mn_observer *o, int bins, mn_ctx *ctx);
void mn_observer_update(mn_observer *o, const float *x, int64_t n);
void mn_observer_free(mn_observer *o);
size_t mn_observer_bytes(const mn_observer *o);

/* ---- ranges and parameters ---- */
typedef struct mn_calib_cfg {
    mn_calib_method method;
    double percentile; /* in (0, 100] */
    mn_dtype qt;       /* target type: U8, I8 or I16 */
} mn_calib_cfg;

/* The clip range [*lo, *hi] for an observed tensor; lo ≤ 0 ≤ hi always. */
mn_status mn_calib_range(const mn_observer *o, const mn_calib_cfg *c,
                         float *lo, float *hi, mn_ctx *ctx);
/* Affine parameters for [lo, hi] (lo ≤ 0 ≤ hi) in qt (U8, I8 or I16; I16 is
 * symmetric with zero point 0); 0 is exactly representable. */
void mn_quant_params(float lo, float hi, mn_dtype qt, float *scale,
                     int32_t *zp);
/* Symmetric scale for max |w| over `levels/2 - 1` steps (127 for int8). */
float mn_quant_sym_scale(float absmax, int qmax);
/* round-half-even(x / s) + zp saturated to [qmin, qmax], as QuantizeLinear. */
int32_t mn_quant_value(float x, float s, int32_t zp, int32_t qmin,
                       int32_t qmax);

/* Calibration run: feeds `count` samples of `spec` through g (fp32) and
 * updates observers[k] with the values of value index vals[k]. */
typedef struct mn_calib_run {
    const char *spec;
    int64_t count; /* 0 → default */
    int batch, threads;
    mn_data_opts data;
} mn_calib_run;

mn_status mn_calib_observe(const mn_graph *g, const mn_calib_run *r,
                           const int *vals, mn_observer *obs, int n,
                           int64_t *samples, mn_ctx *ctx);

/* The same data loop for up to MN_CALIB_MAX_GRAPHS graphs with one input
 * of the same shape (input shape and data options from gs[0]): each batch
 * of cnt samples runs through a session per graph (every value kept), then
 * fn sees the sessions. */
#define MN_CALIB_MAX_GRAPHS 4
typedef mn_status (*mn_calib_fn)(void *user, mn_session *const *s,
                                 int ng, int64_t cnt, mn_ctx *ctx);
mn_status mn_calib_foreach(const mn_graph *const *gs, int ng,
                           const mn_calib_run *r, mn_calib_fn fn, void *user,
                           int64_t *samples, mn_ctx *ctx);

/* ---- graph helpers (qutil.c) ---- */
/* Adds an initializer named after base (made unique) holding a copy of the
 * data. */
mn_status mn_q_add_const(mn_graph *g, const char *base, mn_dtype dt, int ndim,
                         const int64_t *dims, const void *data, int *idx,
                         mn_ctx *ctx);
/* Adds a fresh value named after base (made unique) with dt and, when
 * like >= 0, the shape of value `like`. */
mn_status mn_q_add_value(mn_graph *g, const char *base, mn_dtype dt, int like,
                         int *idx, mn_ctx *ctx);
/* Adds a node named after `base` (made unique among nodes) at the graph's
 * ai.onnx opset. */
mn_status mn_q_add_node(mn_graph *g, const char *base, const char *op,
                        const int *in, int n_in, const int *out, int n_out,
                        int *idx, mn_ctx *ctx);
mn_status mn_q_set_attr_int(mn_graph *g, int ni, const char *name, int64_t v,
                            mn_ctx *ctx);
/* The one node reading value v, or -1 when not exactly one (graph outputs
 * count as readers). */
int mn_q_sole_reader(const mn_graph *g, int v);
/* Makes the graph's ai.onnx opset at least 13 (needed for per-axis
 * QuantizeLinear); fails when a node's meaning would change. */
mn_status mn_q_require_opset13(mn_graph *g, mn_ctx *ctx);
/* Makes the graph's ai.onnx opset at least `want` (≤ 21): as
 * mn_q_require_opset13, then rewrites what changed up to `want` (Reduce*
 * axes attribute → input at 18, Split gets num_outputs at 18) and refuses
 * ops whose meaning changed otherwise (RoiAlign, DFT, GridSample,
 * GroupNormalization). */
mn_status mn_q_require_opset(mn_graph *g, int want, mn_ctx *ctx);
/* Sum of initializer bytes. */
int64_t mn_q_weight_bytes(const mn_graph *g);
/* 1 when node ni stays float: listed in opts->keep_float, or the first or
 * last quantizable layer with opts->keep_first_last. */
int mn_q_keep_float(const mn_graph *g, const mn_quant_opts *o, int ni);

/* Appends value v to the graph outputs. */
mn_status mn_q_add_output(mn_graph *g, int v, mn_ctx *ctx);
/* Copies src's attributes (numbers, number lists, strings) to dst. */
mn_status mn_q_copy_attrs(mn_node *dst, const mn_node *src, mn_ctx *ctx);

/* ---- weights (weights.c) ----
 * Symmetric integer weights in [-qmax, qmax] with one scale per index of
 * `axis` (one in all when per_tensor): *wq is int8, or uint8 holding
 * value + offset when offset is non-zero; *scales (caller frees) has *ns
 * values. */
mn_status mn_q_weight_sym(const mn_tensor *w, int axis, int per_tensor,
                          int qmax, int offset, mn_tensor **wq,
                          float **scales, int64_t *ns, mn_ctx *ctx);
/* DequantizeLinear(q, scale[, zero point]) of new constants named after
 * base; ns == 1 is per tensor (scalar parameters), else per `axis`. The
 * DQ output value goes to *out. */
mn_status mn_q_dq_const(mn_graph *g, const char *base, const mn_tensor *qv,
                        const float *scales, const void *zps, int64_t ns,
                        int axis, int *out, mn_ctx *ctx);

/* int4 (weights.c): codes in [-8, 7] for x[0], x[stride], ...
 * (n values) into q (may be NULL) with the scale of a deterministic grid
 * that minimises Σe² + (Σe)² (e = x - s·q); the grid includes max|x|/7, so
 * the choice is never worse than max scaling; f16: scales rounded to
 * float16 first. Returns the scale (1 for an all-zero group); *err (may be
 * NULL) gets Σe² + (Σe)². */
float mn_q_int4_group(const float *x, int64_t n, int64_t stride, int f16,
                      int8_t *q, double *err);
/* Packs n codes in [-8, 7] two per byte, low nibble first, as ONNX INT4
 * (an odd count leaves the last high nibble 0). dst has (n + 1) / 2
 * bytes. */
void mn_q_pack_int4(const int8_t *q, int64_t n, uint8_t *dst);

/* ---- passes ---- */
mn_status mn_quant_int8(mn_graph *g, const mn_quant_opts *o,
                        mn_quant_report *rep, mn_ctx *ctx);
mn_status mn_quant_dynamic(mn_graph *g, const mn_quant_opts *o,
                           mn_quant_report *rep, mn_ctx *ctx);
mn_status mn_quant_fp16(mn_graph *g, const mn_quant_opts *o,
                        mn_quant_report *rep, mn_ctx *ctx);
mn_status mn_quant_int4(mn_graph *g, const mn_quant_opts *o,
                        mn_quant_report *rep, mn_ctx *ctx);

/* A layer whose weights can be quantized: Conv with constant weight (and
 * bias), Gemm with constant B (transA 0), MatMul with a constant 2-D B.
 * Fills the weight slot, the bias slot (-1 none) and the weight's
 * output-channel axis. */
typedef struct mn_qlayer {
    int w_slot, b_slot;
    int w_axis; /* axis of the weight that indexes output channels */
} mn_qlayer;
int mn_q_layer(const mn_graph *g, int ni, mn_qlayer *l);

/* Data-movement ops that run on quantized tensors unchanged: MaxPool,
 * Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Identity. */
int mn_q_is_pass_op(const mn_node *n);

/* float32 → float16 bits, round to nearest even (fp16.c). */
uint16_t mn_q_f32_to_f16(float f);
/* A weight scale moved to the nearest float16 value when float16 holds it
 * as a normal number (2^-14 .. 65504), else s unchanged: .mnw then stores
 * the scales at half width. The scale changes by at most 2^-11 of itself,
 * so max|w|/s stays below 127.5 and no weight clips (fp16.c). */
float mn_q_scale_f16_grid(float s);
/* 1 when every value of float32 t is NaN or within float16's range. */
int mn_q_fits_fp16(const mn_tensor *t);
/* Float32 constant v becomes a float16 initializer and Cast(to float)
 * producing v (fp16.c); the caller checks the values fit. */
mn_status mn_q_const_to_fp16(mn_graph *g, int v, mn_ctx *ctx);

#endif
