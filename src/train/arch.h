/* Helpers that build architectures directly as mn_graph: each call adds a
 * node (and its seeded initializers) and returns the output value index.
 * Errors stick: after the first failure every call returns -1 and the
 * status stays in b->st, so builders read as straight-line code and check
 * once at the end. */
#ifndef MN_TRAIN_ARCH_H
#define MN_TRAIN_ARCH_H

#include "core/graph.h"
#include "minnow/train.h"
#include "train/rng.h"

typedef struct mn_ab {
    mn_graph *g;
    mn_ctx *ctx;
    mn_status st;
    mn_rng rng;
    int counter;
} mn_ab;

/* Starts a graph with input "input" [N, c, h, w]. Returns the input. */
int ab_begin(mn_ab *b, const char *name, const mn_arch_opts *o, mn_ctx *ctx);
/* Marks v as the output "logits" and finishes; returns b->st. On failure
 * the graph is destroyed. */
mn_status ab_end(mn_ab *b, int v, mn_graph **out);

/* Conv without bias unless `bias`; He-normal (fan_out) weights. */
int ab_conv(mn_ab *b, int x, int cin, int cout, int k, int stride,
            int group, int bias);
int ab_bn(mn_ab *b, int x, int c);
/* op: "Relu", "Relu6" (Clip 0..6), "HardSwish", "SiLU" (x·sigmoid x),
 * "Gelu" (erf form), "Sigmoid", "HardSigmoid". */
int ab_act(mn_ab *b, int x, const char *op);
int ab_conv_bn_act(mn_ab *b, int x, int cin, int cout, int k, int stride,
                   int group, const char *act);
int ab_add(mn_ab *b, int x, int y);
int ab_mul(mn_ab *b, int x, int y);
int ab_maxpool(mn_ab *b, int x, int k, int stride, int pad);
int ab_gap(mn_ab *b, int x);          /* GlobalAveragePool */
int ab_flatten(mn_ab *b, int x);
int ab_dense(mn_ab *b, int x, int in, int out);  /* Gemm, transB */
int ab_transpose(mn_ab *b, int x, const int64_t *perm, int n);
int ab_layernorm(mn_ab *b, int x, int c); /* over the last axis */
int ab_matmul_w(mn_ab *b, int x, int in, int out); /* x·W + bias */
/* Per-channel scale [c,1,1] initialized to `init` (layer scale). */
int ab_scale(mn_ab *b, int x, int c, float init);
/* Squeeze-and-excitation: GAP → 1×1 conv (squeeze) → act → 1×1 conv →
 * gate ("Sigmoid" or "HardSigmoid") → multiply. */
int ab_se(mn_ab *b, int x, int c, int squeeze, const char *act,
          const char *gate);

/* Channels scaled by the width multiplier, rounded to a multiple of 8
 * (at least 8) as MobileNets do. */
int ab_make_div(float c, float mult);

/* Builders, one per family file. */
mn_status mn_arch_thesis_cnn(const mn_arch_opts *o, mn_graph **out,
                             mn_ctx *ctx);
mn_status mn_arch_resnet(const char *name, const mn_arch_opts *o,
                         mn_graph **out, mn_ctx *ctx);
mn_status mn_arch_mobilenet(const char *name, const mn_arch_opts *o,
                            mn_graph **out, mn_ctx *ctx);
mn_status mn_arch_efficientnet(const char *name, const mn_arch_opts *o,
                               mn_graph **out, mn_ctx *ctx);
mn_status mn_arch_convnext(const char *name, const mn_arch_opts *o,
                           mn_graph **out, mn_ctx *ctx);

#endif
