/* Op codes: one entry per op minnow knows. Values are explicit and only grow
 * at the end (saved files and tables index by them). */
#ifndef MN_OPS_OPCODES_H
#define MN_OPS_OPCODES_H

typedef enum mn_opcode {
    MN_OP_UNKNOWN = 0,
    /* conv / linear / pooling / normalization */
    MN_OP_CONV = 1,
    MN_OP_GEMM = 2,
    MN_OP_MATMUL = 3,
    MN_OP_BATCHNORM = 4,
    MN_OP_MAXPOOL = 5,
    MN_OP_AVGPOOL = 6,
    MN_OP_GLOBALAVGPOOL = 7,
    MN_OP_LAYERNORM = 8,
    /* activations */
    MN_OP_RELU = 9,
    MN_OP_LEAKYRELU = 10,
    MN_OP_CLIP = 11,
    MN_OP_SIGMOID = 12,
    MN_OP_HARDSIGMOID = 13,
    MN_OP_HARDSWISH = 14,
    MN_OP_TANH = 15,
    MN_OP_ERF = 16,
    MN_OP_GELU = 17,
    /* binary elementwise with broadcasting */
    MN_OP_ADD = 18,
    MN_OP_SUB = 19,
    MN_OP_MUL = 20,
    MN_OP_DIV = 21,
    MN_OP_POW = 22,
    MN_OP_SQRT = 23,
    /* reductions / normalizers */
    MN_OP_REDUCEMEAN = 24,
    MN_OP_SOFTMAX = 25,
    /* shape and data movement */
    MN_OP_FLATTEN = 26,
    MN_OP_RESHAPE = 27,
    MN_OP_TRANSPOSE = 28,
    MN_OP_CONCAT = 29,
    MN_OP_SPLIT = 30,
    MN_OP_SLICE = 31,
    MN_OP_SQUEEZE = 32,
    MN_OP_UNSQUEEZE = 33,
    MN_OP_SHAPE = 34,
    MN_OP_GATHER = 35,
    MN_OP_CONSTANT = 36,
    MN_OP_IDENTITY = 37,
    MN_OP_DROPOUT = 38,
    MN_OP_PAD = 39,
    /* quantized */
    MN_OP_QUANTIZELINEAR = 40,
    MN_OP_DEQUANTIZELINEAR = 41,
    MN_OP_DYNAMICQUANTIZELINEAR = 42,
    MN_OP_QLINEARCONV = 43,
    MN_OP_QLINEARMATMUL = 44,
    MN_OP_CONVINTEGER = 45,
    MN_OP_MATMULINTEGER = 46,
    /* beyond the first set: common in exported CNNs */
    MN_OP_EXP = 47,
    MN_OP_LOG = 48,
    MN_OP_NEG = 49,
    MN_OP_ABS = 50,
    MN_OP_RECIPROCAL = 51,
    MN_OP_REDUCESUM = 52,
    MN_OP_REDUCEMAX = 53,
    MN_OP_MAX = 54,
    MN_OP_MIN = 55,
    MN_OP_CAST = 56,
    MN_OP_EXPAND = 57,
    MN_OP_CONSTANTOFSHAPE = 58,
    MN_OP_PRELU = 59,
    MN_OP_LOGSOFTMAX = 60,
    /* ONNX Runtime's com.microsoft quantized ops (integer-only graphs) */
    MN_OP_QLINEARADD = 61,
    MN_OP_QLINEARMUL = 62,
    MN_OP_QLINEARGLOBALAVGPOOL = 63,
    MN_OP_QLINEARCONCAT = 64,
    MN_OP_QLINEARSIGMOID = 65,
    MN_OP_QLINEARLEAKYRELU = 66,
    MN_OP_COUNT
} mn_opcode;

#endif
