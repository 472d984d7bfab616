/* The op table: opcode → definition, and ONNX op_type → opcode. Each entry is
 * defined in its op family's file (src/ops/<family>.c). */
#include <string.h>
#include "ops/ops.h"

#define X(sym) extern const mn_op_def sym;
#define MN_OPDEFS(_) \
    _(mn_opdef_conv) _(mn_opdef_gemm) _(mn_opdef_matmul) _(mn_opdef_batchnorm) \
    _(mn_opdef_maxpool) _(mn_opdef_avgpool) _(mn_opdef_globalavgpool) \
    _(mn_opdef_layernorm) _(mn_opdef_relu) _(mn_opdef_leakyrelu) \
    _(mn_opdef_clip) _(mn_opdef_sigmoid) _(mn_opdef_hardsigmoid) \
    _(mn_opdef_hardswish) _(mn_opdef_tanh) _(mn_opdef_erf) _(mn_opdef_gelu) \
    _(mn_opdef_add) _(mn_opdef_sub) _(mn_opdef_mul) _(mn_opdef_div) \
    _(mn_opdef_pow) _(mn_opdef_sqrt) _(mn_opdef_reducemean) \
    _(mn_opdef_softmax) _(mn_opdef_flatten) _(mn_opdef_reshape) \
    _(mn_opdef_transpose) _(mn_opdef_concat) _(mn_opdef_split) \
    _(mn_opdef_slice) _(mn_opdef_squeeze) _(mn_opdef_unsqueeze) \
    _(mn_opdef_shape) _(mn_opdef_gather) _(mn_opdef_constant) \
    _(mn_opdef_identity) _(mn_opdef_dropout) _(mn_opdef_pad) \
    _(mn_opdef_quantizelinear) _(mn_opdef_dequantizelinear) \
    _(mn_opdef_dynamicquantizelinear) _(mn_opdef_qlinearconv) \
    _(mn_opdef_qlinearmatmul) _(mn_opdef_convinteger) \
    _(mn_opdef_matmulinteger) _(mn_opdef_exp) _(mn_opdef_log) \
    _(mn_opdef_neg) _(mn_opdef_abs) _(mn_opdef_reciprocal) \
    _(mn_opdef_reducesum) _(mn_opdef_reducemax) _(mn_opdef_max) \
    _(mn_opdef_min) _(mn_opdef_cast) _(mn_opdef_expand) \
    _(mn_opdef_constantofshape) _(mn_opdef_prelu) _(mn_opdef_logsoftmax) \
    _(mn_opdef_qlinearadd) _(mn_opdef_qlinearmul) \
    _(mn_opdef_qlinearglobalavgpool) _(mn_opdef_qlinearconcat) \
    _(mn_opdef_qlinearsigmoid) _(mn_opdef_qlinearleakyrelu)
MN_OPDEFS(X)
#undef X

static const mn_op_def *const table[MN_OP_COUNT] = {
    [MN_OP_CONV] = &mn_opdef_conv,
    [MN_OP_GEMM] = &mn_opdef_gemm,
    [MN_OP_MATMUL] = &mn_opdef_matmul,
    [MN_OP_BATCHNORM] = &mn_opdef_batchnorm,
    [MN_OP_MAXPOOL] = &mn_opdef_maxpool,
    [MN_OP_AVGPOOL] = &mn_opdef_avgpool,
    [MN_OP_GLOBALAVGPOOL] = &mn_opdef_globalavgpool,
    [MN_OP_LAYERNORM] = &mn_opdef_layernorm,
    [MN_OP_RELU] = &mn_opdef_relu,
    [MN_OP_LEAKYRELU] = &mn_opdef_leakyrelu,
    [MN_OP_CLIP] = &mn_opdef_clip,
    [MN_OP_SIGMOID] = &mn_opdef_sigmoid,
    [MN_OP_HARDSIGMOID] = &mn_opdef_hardsigmoid,
    [MN_OP_HARDSWISH] = &mn_opdef_hardswish,
    [MN_OP_TANH] = &mn_opdef_tanh,
    [MN_OP_ERF] = &mn_opdef_erf,
    [MN_OP_GELU] = &mn_opdef_gelu,
    [MN_OP_ADD] = &mn_opdef_add,
    [MN_OP_SUB] = &mn_opdef_sub,
    [MN_OP_MUL] = &mn_opdef_mul,
    [MN_OP_DIV] = &mn_opdef_div,
    [MN_OP_POW] = &mn_opdef_pow,
    [MN_OP_SQRT] = &mn_opdef_sqrt,
    [MN_OP_REDUCEMEAN] = &mn_opdef_reducemean,
    [MN_OP_SOFTMAX] = &mn_opdef_softmax,
    [MN_OP_FLATTEN] = &mn_opdef_flatten,
    [MN_OP_RESHAPE] = &mn_opdef_reshape,
    [MN_OP_TRANSPOSE] = &mn_opdef_transpose,
    [MN_OP_CONCAT] = &mn_opdef_concat,
    [MN_OP_SPLIT] = &mn_opdef_split,
    [MN_OP_SLICE] = &mn_opdef_slice,
    [MN_OP_SQUEEZE] = &mn_opdef_squeeze,
    [MN_OP_UNSQUEEZE] = &mn_opdef_unsqueeze,
    [MN_OP_SHAPE] = &mn_opdef_shape,
    [MN_OP_GATHER] = &mn_opdef_gather,
    [MN_OP_CONSTANT] = &mn_opdef_constant,
    [MN_OP_IDENTITY] = &mn_opdef_identity,
    [MN_OP_DROPOUT] = &mn_opdef_dropout,
    [MN_OP_PAD] = &mn_opdef_pad,
    [MN_OP_QUANTIZELINEAR] = &mn_opdef_quantizelinear,
    [MN_OP_DEQUANTIZELINEAR] = &mn_opdef_dequantizelinear,
    [MN_OP_DYNAMICQUANTIZELINEAR] = &mn_opdef_dynamicquantizelinear,
    [MN_OP_QLINEARCONV] = &mn_opdef_qlinearconv,
    [MN_OP_QLINEARMATMUL] = &mn_opdef_qlinearmatmul,
    [MN_OP_CONVINTEGER] = &mn_opdef_convinteger,
    [MN_OP_MATMULINTEGER] = &mn_opdef_matmulinteger,
    [MN_OP_EXP] = &mn_opdef_exp,
    [MN_OP_LOG] = &mn_opdef_log,
    [MN_OP_NEG] = &mn_opdef_neg,
    [MN_OP_ABS] = &mn_opdef_abs,
    [MN_OP_RECIPROCAL] = &mn_opdef_reciprocal,
    [MN_OP_REDUCESUM] = &mn_opdef_reducesum,
    [MN_OP_REDUCEMAX] = &mn_opdef_reducemax,
    [MN_OP_MAX] = &mn_opdef_max,
    [MN_OP_MIN] = &mn_opdef_min,
    [MN_OP_CAST] = &mn_opdef_cast,
    [MN_OP_EXPAND] = &mn_opdef_expand,
    [MN_OP_CONSTANTOFSHAPE] = &mn_opdef_constantofshape,
    [MN_OP_PRELU] = &mn_opdef_prelu,
    [MN_OP_LOGSOFTMAX] = &mn_opdef_logsoftmax,
    [MN_OP_QLINEARADD] = &mn_opdef_qlinearadd,
    [MN_OP_QLINEARMUL] = &mn_opdef_qlinearmul,
    [MN_OP_QLINEARGLOBALAVGPOOL] = &mn_opdef_qlinearglobalavgpool,
    [MN_OP_QLINEARCONCAT] = &mn_opdef_qlinearconcat,
    [MN_OP_QLINEARSIGMOID] = &mn_opdef_qlinearsigmoid,
    [MN_OP_QLINEARLEAKYRELU] = &mn_opdef_qlinearleakyrelu,
};

const mn_op_def *mn_op_get(mn_opcode op)
{
    if ((int)op <= 0 || op >= MN_OP_COUNT)
        return NULL;
    return table[op];
}

mn_opcode mn_op_lookup(const char *domain, const char *op_type)
{
    int ms;
    if (!op_type)
        return MN_OP_UNKNOWN;
    ms = domain && !strcmp(domain, "com.microsoft");
    if (domain && domain[0] && strcmp(domain, "ai.onnx") != 0) {
        /* ONNX Runtime's contrib domain carries Q/DQ for int16 before
         * opset 21, with the standard semantics. */
        if (ms && (!strcmp(op_type, "QuantizeLinear") ||
                   !strcmp(op_type, "DequantizeLinear")))
            return !strcmp(op_type, "QuantizeLinear") ? MN_OP_QUANTIZELINEAR
                                                      : MN_OP_DEQUANTIZELINEAR;
        if (!ms)
            return MN_OP_UNKNOWN;
    }
    /* ops flagged MN_OPF_MS_DOMAIN exist only in com.microsoft */
    for (int i = 1; i < MN_OP_COUNT; i++)
        if (table[i] && !ms == !(table[i]->flags & MN_OPF_MS_DOMAIN) &&
            strcmp(table[i]->name, op_type) == 0)
            return (mn_opcode)i;
    return MN_OP_UNKNOWN;
}
