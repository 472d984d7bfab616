/* Per-layer speed of the sparse float32 kernels against the dense ones, on
 * ResNet-18's convolution shapes at 224×224, fashion_cnn's, and two fully
 * connected layers at batch 1, over weight sparsities (random pattern, as
 * magnitude pruning of a trained layer gives). Dense and sparse run
 * alternately, one call each, many times: both see the same load, and the
 * ratio of their medians is what the automatic choice needs (the break-even
 * density, src/ops/conv_sparse.h). Prints one JSON object.
 * Built and run by bench/sparse_bench.sh:
 *   cc -O2 -Iinclude -Isrc bench/sparse_layer_bench.c build/libminnow.a ...
 * usage: sparse_layer_bench [REPS] [THREADS]   (default 21 1) */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench_util.h"
#include "core/pool.h"
#include "kernels/dispatch.h"
#include "kernels/gemm.h"
#include "kernels/spmm_f32.h"

typedef struct layer {
    const char *name;
    int kind; /* 0: conv; 1: fully connected (batch 1, x·W^T) */
    mn_conv_params p;
    int64_t fc_out, fc_in;
} layer;

#define CONV(nm, C, H, M, K, S, P)                                          \
    {nm, 0, BENCH_CONV_PARAMS(C, H, M, K, S, P), 0, 0}
#define FC(nm, O, I) {nm, 1, {0}, O, I}

static const layer layers[] = {
    CONV("r18 conv1 7x7/2 3->64 @224", 3, 224, 64, 7, 2, 3),
    CONV("r18 3x3 64->64 @56", 64, 56, 64, 3, 1, 1),
    CONV("r18 3x3/2 64->128 @56", 64, 56, 128, 3, 2, 1),
    CONV("r18 1x1/2 64->128 @56", 64, 56, 128, 1, 2, 0),
    CONV("r18 3x3 128->128 @28", 128, 28, 128, 3, 1, 1),
    CONV("r18 3x3 256->256 @14", 256, 14, 256, 3, 1, 1),
    CONV("r18 3x3 512->512 @7", 512, 7, 512, 3, 1, 1),
    CONV("fashion 3x3 1->32 @28", 1, 28, 32, 3, 1, 1),
    CONV("fashion 3x3 32->64 @14", 32, 14, 64, 3, 1, 1),
    CONV("fashion 3x3 64->128 @7", 64, 7, 128, 3, 1, 1),
    FC("r18 fc 512->1000", 1000, 512),
    FC("fashion fc1 1152->64", 64, 1152),
};

static const double sparsities[] = {0.0, 0.5, 0.7, 0.8, 0.9, 0.95};

static uint32_t rng = 12345;
static float frand1(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (float)(rng >> 8) / 8388608.0f - 1.0f;
}

static float *frand(int64_t n, double sparsity)
{
    float *p = mn_malloc_aligned((size_t)n * sizeof *p + 64);
    for (int64_t i = 0; p && i < n; i++) {
        float v = frand1();
        p[i] = (double)(v + 1.0f) * 0.5 < sparsity ? 0.0f : frand1();
    }
    return p;
}

/* Median dense and sparse seconds of one layer at one sparsity. */
static int run(const layer *L, double sp, mn_pool *pool, int reps,
               double *dense, double *sparse, double *dbest, double *sbest)
{
    mn_ctx ctx = {{0}};
    const mn_conv_params *p = &L->p;
    int64_t m = L->kind ? L->fc_out : p->m;
    int64_t k = L->kind ? L->fc_in : p->c * p->kh * p->kw;
    int64_t nx = L->kind ? k : p->c * p->h * p->w;
    int64_t ny = L->kind ? m : m * p->oh * p->ow;
    size_t sb = L->kind ? mn_sgemm_scratch(0, 1, 1, m, k)
                        : mn_conv2d_f32_scratch(p);
    size_t ss = L->kind ? 0 : mn_spconv_f32_scratch(p);
    float *w = frand(m * k, sp), *x = frand(nx, 0), *b = frand(m, 0);
    float *y = frand(ny, 0);
    void *scr = mn_malloc_aligned((sb > ss ? sb : ss) + 64);
    double *td = malloc((size_t)reps * sizeof *td);
    double *ts = malloc((size_t)reps * sizeof *ts);
    mn_spmat_f32 *s = NULL;
    mn_act relu = {MN_ACT_RELU, 0, 0};
    mn_epilogue epi = {.bias = b, .bias_per_col = 1, .act = relu};
    if (!w || !x || !b || !y || !scr || !td || !ts ||
        mn_spmat_f32_create(w, m, k, k, 0,
                            L->kind ? 0 : mn_spconv_f32_kblock(p), &s,
                            &ctx) != MN_OK)
        return -1;
    for (int r = -2; r < reps; r++) {
        double t0 = bench_now();
        if (L->kind)
            mn_sgemm(pool, 0, 1, 1, m, k, 1.0f, x, k, w, k, 0.0f, y, m, &epi,
                     scr);
        else
            mn_conv2d_f32(pool, p, x, w, b, &relu, NULL, y, scr);
        double t1 = bench_now();
        if (L->kind)
            mn_spgemm_f32(pool, s, 1, x, b, NULL, &relu, y);
        else
            mn_spconv_f32(pool, p, s, x, b, &relu, NULL, y, scr);
        double t2 = bench_now();
        if (r >= 0) {
            td[r] = t1 - t0;
            ts[r] = t2 - t1;
        }
    }
    bench_best_median(td, reps, dbest, dense);
    bench_best_median(ts, reps, sbest, sparse);
    mn_spmat_f32_destroy(s);
    mn_free_aligned(w);
    mn_free_aligned(x);
    mn_free_aligned(b);
    mn_free_aligned(y);
    mn_free_aligned(scr);
    free(td);
    free(ts);
    return 0;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 21;
    int threads = argc > 2 ? atoi(argv[2]) : 1;
    mn_ctx ctx = {{0}};
    mn_pool *pool = NULL;
    if (reps < 1)
        reps = 1;
    if (threads > 1 && mn_pool_create(threads, 0, &pool, &ctx) != MN_OK) {
        fprintf(stderr, "sparse_layer_bench: %s\n", ctx.msg);
        return 1;
    }
    printf("{\"isa\": \"%s\", \"threads\": %d, \"reps\": %d, \"layers\": [",
           mn_isa_name(mn_isa_active()), threads, reps);
    for (size_t i = 0; i < sizeof layers / sizeof *layers; i++) {
        printf("%s\n  {\"layer\": \"%s\", \"points\": [", i ? "," : "",
               layers[i].name);
        for (size_t j = 0; j < sizeof sparsities / sizeof *sparsities; j++) {
            double d, s, db, sb;
            if (run(&layers[i], sparsities[j], pool, reps, &d, &s, &db,
                    &sb) != 0) {
                fprintf(stderr, "sparse_layer_bench: out of memory\n");
                return 1;
            }
            printf("%s{\"sparsity\": %.2f, \"dense_ms\": %.4f, "
                   "\"sparse_ms\": %.4f, \"speedup\": %.3f, "
                   "\"dense_best_ms\": %.4f, \"sparse_best_ms\": %.4f, "
                   "\"speedup_best\": %.3f}",
                   j ? ", " : "", sparsities[j], d * 1e3, s * 1e3, d / s,
                   db * 1e3, sb * 1e3, db / sb);
            fflush(stdout);
        }
        printf("]}");
    }
    printf("\n]}\n");
    mn_pool_destroy(pool);
    return 0;
}
