/* GEMM and convolution throughput of minnow's fp32 kernels on the shapes
 * that dominate ResNet-50 at 224×224, for 1 and 2 threads. Prints one JSON
 * object: per shape the GFLOP/s from the best (minimum) wall time of many
 * short repetitions — the estimate least disturbed by other processes —
 * and the median. Built and run by bench/runtime_bench.sh:
 *   cc -O2 -Iinclude -Isrc bench/gemm_bench.c build/libminnow.a -lm -lpthread
 * usage: gemm_bench [THREADS...]   (default 1 2) */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench_util.h"
#include "core/pool.h"
#include "kernels/dispatch.h"
#include "kernels/gemm.h"

typedef struct shape {
    const char *name;
    int kind; /* 0: plain GEMM m×n×k; 1: conv */
    int64_t m, n, k;
    mn_conv_params p;
} shape;

#define CONV(nm, C, H, M, K, S, P)                                          \
    {nm, 1, 0, 0, 0, BENCH_CONV_PARAMS(C, H, M, K, S, P)},

static const shape shapes[] = {
    {"gemm 64x3136x576", 0, 64, 3136, 576, {0}},
    {"gemm 256x784x1152", 0, 256, 784, 1152, {0}},
    {"gemm 512x196x2304", 0, 512, 196, 2304, {0}},
    {"gemm 512x49x4608", 0, 512, 49, 4608, {0}},
    BENCH_RESNET50_CONVS(CONV)
};

static float *frand(int64_t n)
{
    float *p = mn_malloc_aligned((size_t)n * sizeof *p + 64);
    uint32_t s = 12345;
    for (int64_t i = 0; p && i < n; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = (float)(s >> 8) / 8388608.0f - 1.0f;
    }
    return p;
}

/* Runs one shape `reps` times; fills best and median seconds. */
static int run_shape(const shape *sh, mn_pool *pool, int reps, double *best,
                     double *med, double *flop)
{
    const mn_conv_params *p = &sh->p;
    int64_t na, nb, nc;
    size_t sb;
    if (sh->kind == 0) {
        na = sh->m * sh->k;
        nb = sh->k * sh->n;
        nc = sh->m * sh->n;
        sb = mn_sgemm_scratch(0, 0, sh->m, sh->n, sh->k);
        *flop = 2.0 * (double)sh->m * (double)sh->n * (double)sh->k;
    } else {
        na = p->m * p->c * p->kh * p->kw;
        nb = p->c * p->h * p->w;
        nc = p->m * p->oh * p->ow;
        sb = mn_conv2d_f32_scratch(p);
        *flop = 2.0 * (double)na * (double)(p->oh * p->ow);
    }
    float *a = frand(na), *b = frand(nb), *c = frand(nc), *bias = frand(1024);
    void *s = mn_malloc_aligned(sb + 64);
    double *t = malloc((size_t)reps * sizeof *t);
    if (!a || !b || !c || !bias || !s || !t)
        return -1;
    mn_act relu = {MN_ACT_RELU, 0, 0};
    for (int r = -2; r < reps; r++) {
        double t0 = bench_now();
        if (sh->kind == 0)
            mn_sgemm(pool, 0, 0, sh->m, sh->n, sh->k, 1.0f, a, sh->k, b,
                     sh->n, 0.0f, c, sh->n, NULL, s);
        else
            mn_conv2d_f32(pool, p, b, a, bias, &relu, NULL, c, s);
        if (r >= 0)
            t[r] = bench_now() - t0;
    }
    bench_best_median(t, reps, best, med);
    mn_free_aligned(a);
    mn_free_aligned(b);
    mn_free_aligned(c);
    mn_free_aligned(bias);
    mn_free_aligned(s);
    free(t);
    return 0;
}

int main(int argc, char **argv)
{
    int threads[8] = {1, 2}, nt = 2;
    if (argc > 1) {
        nt = 0;
        for (int i = 1; i < argc && nt < 8; i++)
            threads[nt++] = atoi(argv[i]);
    }
    printf("{\"isa\": \"%s\", \"results\": [", mn_isa_name(mn_isa_active()));
    int first = 1;
    for (int ti = 0; ti < nt; ti++) {
        mn_ctx ctx = {{0}};
        mn_pool *pool = NULL;
        if (threads[ti] > 1 &&
            mn_pool_create(threads[ti], 0, &pool, &ctx) != MN_OK) {
            fprintf(stderr, "gemm_bench: %s\n", ctx.msg);
            return 1;
        }
        for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
            double best, med, flop;
            if (run_shape(&shapes[i], pool, 30, &best, &med, &flop) != 0) {
                fprintf(stderr, "gemm_bench: out of memory\n");
                return 1;
            }
            printf("%s\n  {\"shape\": \"%s\", \"threads\": %d, "
                   "\"gflop\": %.4f, \"best_ms\": %.4f, \"median_ms\": %.4f, "
                   "\"gflops_best\": %.1f, \"gflops_median\": %.1f}",
                   first ? "" : ",", shapes[i].name, threads[ti], flop / 1e9,
                   best * 1e3, med * 1e3, flop / best / 1e9,
                   flop / med / 1e9);
            first = 0;
        }
        mn_pool_destroy(pool);
    }
    printf("\n]}\n");
    return 0;
}
