/* Internals of the C source exporter (src/io/c_export*.c): a growing text
 * buffer, the exporter state shared by the driver (c_export.c), the per-op
 * emitters (c_export_ops.c), the constant-array writer (c_export_data.c)
 * and the kernel texts (c_export_kernels.c). */
#ifndef MN_IO_C_EXPORT_INT_H
#define MN_IO_C_EXPORT_INT_H

#include "minnow/c_export.h"
#include "core/session.h"
#include "core/status.h"

typedef struct cx_buf {
    char *p;
    size_t len, cap;
    int oom;
} cx_buf;

void cx_printf(cx_buf *b, const char *fmt, ...) MN_PRINTF(2, 3);
void cx_puts(cx_buf *b, const char *s);
void cx_buf_free(cx_buf *b);

/* Kernels the generated file may contain; each is emitted at most once and
 * only when a step uses it. */
typedef enum cx_kernel {
    CXK_ACT = 0,      /* act_f32(): the activation switch */
    CXK_CONV_F32,
    CXK_GEMM_F32,
    CXK_UNARY_F32,
    CXK_BINARY_F32,
    CXK_AFFINE_F32,
    CXK_MAXPOOL_F32,
    CXK_MAXPOOL_I8,
    CXK_MAXPOOL_U8,
    CXK_AVGPOOL_F32,
    CXK_GAP_F32,
    CXK_CONCAT,
    CXK_SOFTMAX_F32,
    CXK_TRANSPOSE,
    CXK_REDUCEMEAN_F32,
    CXK_LAYERNORM_F32,
    CXK_LD8,          /* CX_LD8(): read an int8 or uint8 element */
    CXK_RINT,         /* cx_rint_f32(): round half to even, no libm */
    CXK_REQUANT,      /* cx_requant(): minnow's mn_ref_requantize */
    CXK_QUANT,
    CXK_DEQUANT,
    CXK_QCONV,
    CXK_QGEMM,
    CXK_QADD,         /* QLinearAdd (ONNX Runtime's fixed point) */
    CXK_QGAP,         /* QLinearGlobalAveragePool (NCHW) */
    CXK_LUT8,         /* lut8(): a 256-byte table over bytes */
    CXK_QMUL,         /* QLinearMul, one operand maybe per outer row */
    CXK_COUNT
} cx_kernel;

/* Activation kinds of the generated act_f32 (1..7 are mn_fused_act_kind,
 * 7 GELU). */
enum {
    CXA_LEAKY = 8,
    CXA_TANH = 9,
    CXA_SQUARE = 10,
    CXA_POW = 11, /* powf(v, lo) */
    CXA_SQRT = 12,
    CXA_ERF = 13,
    CXA_COUNT = 14
};

typedef struct cx {
    const mn_graph *g;
    const mn_session *s;
    mn_ctx *ctx;
    const char *name;       /* C prefix */
    int dense;
    int *root;              /* value → value owning its bytes */
    size_t *off;            /* root runtime value → arena offset */
    size_t arena_bytes;
    int *carr;              /* constant value → array number, or -1 */
    cx_buf data;            /* static const arrays */
    cx_buf body;            /* statements of NAME_run */
    unsigned char used[CXK_COUNT];
    unsigned act_used;      /* bit k: activation kind k appears */
    int n_arrays;
    size_t data_bytes;
    int sparse_tensors, calls;
    int cur_node;           /* node being emitted, for messages */
} cx;

/* An error naming the node being emitted: "<file>: node '<n>' (<op>): C
 * export: <cause>" (MN_ERR_UNSUPPORTED). */
mn_status cx_fail(cx *c, const char *fmt, ...) MN_PRINTF(2, 3);

/* The C expression for value v's data, cast to its element type
 * ("((float *)(A + 128))", "in0", "k12"). buf has room for 96 bytes. */
const char *cx_value_expr(cx *c, int v, char *buf);
const char *cx_ctype(mn_dtype dt); /* "float", "int8_t", ... or NULL */

/* Writes `static const TYPE kN[] = {...};` for n elements of dtype dt from
 * data and returns N (the array's number), or -1 when out of memory. */
int cx_array(cx *c, mn_dtype dt, const void *data, size_t n);
/* A weight matrix of rows × cols (dt F32, I8 or U8): dense, or (unless
 * dense was asked) bitmask + non-zero values + row starts when smaller.
 * Sets *vals, *mask and *rowp to array numbers (mask/rowp -1 when dense). */
int cx_matrix(cx *c, mn_dtype dt, const void *data, size_t rows, size_t cols,
              int *vals, int *mask, int *rowp);

static inline const mn_tensor *cx_t(const cx *c, int v)
{
    return mn_session_value(c->s, v);
}
static inline int cx_is_const(const cx *c, int v)
{
    return v >= 0 && mn_session_value_kind(c->s, v) == MN_VK_CONST;
}
/* A float literal for the generated code (buf: 40 bytes). */
const char *cx_fl(float v, char *buf);
/* "kN" for array N, "NULL" for -1 (buf: 24 bytes). */
const char *cx_arr(int id, char *buf);
/* n int64 geometry values as a static const int32_t array; its number. */
int cx_geom(cx *c, const int64_t *v, int n);
/* Transpose, ReduceMean, LayerNormalization, Pow, Sqrt, Erf
 * (c_export_ops_extra.c); MN_ERR_UNSUPPORTED for any other op. */
mn_status cx_emit_extra(cx *c, const mn_node *n);
/* y = T[x] over value x's bytes (y may be x); 0 when out of memory. */
int cx_emit_lut(cx *c, const uint8_t *t, int x, int y);

/* Emits the code for step (node ni with its fused act and residual). */
mn_status cx_emit_step(cx *c, const mn_step_info *si);
/* A LayerNorm chain the session fused into step si (si->ln_gamma >= 0):
 * one layernorm_f32 call over the chain's input. */
mn_status cx_emit_ln_fused(cx *c, const mn_step_info *si);

/* Appends the used kernels' source to b. */
void cx_emit_kernels(const cx *c, cx_buf *b);

#endif
