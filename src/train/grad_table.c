/* The backward-rule table: opcode → mn_grad_def, beside the op table's
 * forwards. An opcode without an entry cannot carry a gradient; the tape
 * reports it by name when a gradient would have to flow through it. */
#include "train/grad.h"

static const mn_grad_def *const table[MN_OP_COUNT] = {
    [MN_OP_CONV] = &mn_grad_conv,
    [MN_OP_GEMM] = &mn_grad_gemm,
    [MN_OP_MATMUL] = &mn_grad_matmul,
    [MN_OP_BATCHNORM] = &mn_grad_batchnorm,
    [MN_OP_MAXPOOL] = &mn_grad_maxpool,
    [MN_OP_AVGPOOL] = &mn_grad_avgpool,
    [MN_OP_GLOBALAVGPOOL] = &mn_grad_globalavgpool,
    [MN_OP_LAYERNORM] = &mn_grad_layernorm,
    [MN_OP_RELU] = &mn_grad_relu,
    [MN_OP_LEAKYRELU] = &mn_grad_leakyrelu,
    [MN_OP_CLIP] = &mn_grad_clip,
    [MN_OP_SIGMOID] = &mn_grad_sigmoid,
    [MN_OP_HARDSIGMOID] = &mn_grad_hardsigmoid,
    [MN_OP_HARDSWISH] = &mn_grad_hardswish,
    [MN_OP_TANH] = &mn_grad_tanh,
    [MN_OP_ERF] = &mn_grad_erf,
    [MN_OP_GELU] = &mn_grad_gelu,
    [MN_OP_ADD] = &mn_grad_add,
    [MN_OP_SUB] = &mn_grad_sub,
    [MN_OP_MUL] = &mn_grad_mul,
    [MN_OP_DIV] = &mn_grad_div,
    [MN_OP_POW] = &mn_grad_pow,
    [MN_OP_SQRT] = &mn_grad_sqrt,
    [MN_OP_REDUCEMEAN] = &mn_grad_reducemean,
    [MN_OP_SOFTMAX] = &mn_grad_softmax,
    [MN_OP_FLATTEN] = &mn_grad_view,
    [MN_OP_RESHAPE] = &mn_grad_view,
    [MN_OP_TRANSPOSE] = &mn_grad_transpose,
    [MN_OP_CONCAT] = &mn_grad_concat,
    [MN_OP_SPLIT] = &mn_grad_split,
    [MN_OP_SLICE] = &mn_grad_slice,
    [MN_OP_SQUEEZE] = &mn_grad_view,
    [MN_OP_UNSQUEEZE] = &mn_grad_view,
    [MN_OP_IDENTITY] = &mn_grad_view,
    [MN_OP_DROPOUT] = &mn_grad_dropout,
    [MN_OP_PAD] = &mn_grad_pad,
    [MN_OP_EXP] = &mn_grad_exp,
    [MN_OP_LOG] = &mn_grad_log,
    [MN_OP_NEG] = &mn_grad_neg,
    [MN_OP_ABS] = &mn_grad_abs,
    [MN_OP_RECIPROCAL] = &mn_grad_reciprocal,
    [MN_OP_REDUCESUM] = &mn_grad_reducesum,
    [MN_OP_MAX] = &mn_grad_max,
    [MN_OP_MIN] = &mn_grad_min,
    [MN_OP_EXPAND] = &mn_grad_expand,
    [MN_OP_PRELU] = &mn_grad_prelu,
    [MN_OP_LOGSOFTMAX] = &mn_grad_logsoftmax,
};

const mn_grad_def *mn_grad_get(mn_opcode op)
{
    if ((int)op <= 0 || op >= MN_OP_COUNT)
        return NULL;
    return table[op];
}
