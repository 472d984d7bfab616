/* Timing helpers shared by the C micro-benchmarks (gemm_bench.c,
 * q8_gemm_bench.c, sparse_layer_bench.c): a monotonic clock, best and
 * median of a set of repetitions, and the convolution shapes they time.
 * Header-only so each benchmark still builds from its one .c file (see the
 * cc lines in runtime_bench.sh, q8_bench.sh, sparse_bench.sh). */
#ifndef MN_BENCH_UTIL_H
#define MN_BENCH_UTIL_H

#include <stdlib.h>
#include <time.h>
#include "kernels/ref/ref_kernels_conv.h"

static inline double bench_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static inline int bench_cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Sorts t[0..n) and gives the minimum (the estimate least disturbed by
 * other processes) and the median. */
static inline void bench_best_median(double *t, int n, double *best,
                                     double *med)
{
    qsort(t, (size_t)n, sizeof *t, bench_cmp_d);
    *best = t[0];
    *med = t[n / 2];
}

/* mn_conv_params of a square batch-1 convolution: C input channels at
 * H×H, M filters K×K, stride S, padding P. */
#define BENCH_CONV_PARAMS(C, H, M, K, S, P)                                 \
    {.n = 1, .c = C, .h = H, .w = H, .m = M, .kh = K, .kw = K, .sh = S,     \
     .sw = S, .dh = 1, .dw = 1, .pt = P, .pl = P, .group = 1,               \
     .oh = (H + 2 * P - K) / S + 1, .ow = (H + 2 * P - K) / S + 1}

/* A layer of the per-layer benchmarks: a convolution, or a batch-1 fully
 * connected layer x·W^T with W fc_out × fc_in. */
typedef struct bench_layer {
    const char *name;
    int kind; /* 0: conv; 1: fully connected (batch 1, x·W^T) */
    mn_conv_params p;
    int64_t fc_out, fc_in;
} bench_layer;

#define BENCH_CONV(nm, C, H, M, K, S, P)                                    \
    {nm, 0, BENCH_CONV_PARAMS(C, H, M, K, S, P), 0, 0}
#define BENCH_FC(nm, O, I) {nm, 1, {0}, O, I}

/* ResNet-18's distinct convolution shapes at 224×224 (the per-layer
 * benchmarks' common rows): X(name, C, H, M, K, S, P). */
#define BENCH_RESNET18_CONVS(X)                                             \
    X("r18 conv1 7x7/2 3->64 @224", 3, 224, 64, 7, 2, 3)                    \
    X("r18 3x3 64->64 @56", 64, 56, 64, 3, 1, 1)                            \
    X("r18 3x3/2 64->128 @56", 64, 56, 128, 3, 2, 1)                        \
    X("r18 1x1/2 64->128 @56", 64, 56, 128, 1, 2, 0)                        \
    X("r18 3x3 128->128 @28", 128, 28, 128, 3, 1, 1)                        \
    X("r18 3x3 256->256 @14", 256, 14, 256, 3, 1, 1)                        \
    X("r18 3x3 512->512 @7", 512, 7, 512, 3, 1, 1)

/* The ResNet-50 convolution shapes at 224×224: X(name, C, H, M, K, S, P). */
#define BENCH_RESNET50_CONVS(X)                                             \
    X("conv stem 7x7/2 3->64 @224", 3, 224, 64, 7, 2, 3)                    \
    X("conv 3x3 64->64 @56", 64, 56, 64, 3, 1, 1)                           \
    X("conv 1x1 64->256 @56", 64, 56, 256, 1, 1, 0)                         \
    X("conv 3x3 128->128 @28", 128, 28, 128, 3, 1, 1)                       \
    X("conv 3x3 256->256 @14", 256, 14, 256, 3, 1, 1)                       \
    X("conv 1x1 1024->256 @14", 1024, 14, 256, 1, 1, 0)                     \
    X("conv 3x3 512->512 @7", 512, 7, 512, 3, 1, 1)

#endif
