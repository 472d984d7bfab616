/* Per-layer speed of weights decoded on the fly (src/kernels/wsrc.h)
 * against the same layer on float32 weights: ResNet-18's convolution
 * shapes at 224×224 and fully connected layers at batch 1 (GEMV: memory
 * bound, where reading 2 or 0.5 bytes per weight instead of 4 should
 * pay), for float16 weights and int4 weights (groups of 128 along the
 * reduction, float16 scales: minnow quantize --mode int4's default). The
 * float32 weights are the decoded ones, so both compute the same bits
 * (checked here too). The two run alternately, one call each, REPS times;
 * best and median times and float/compact ratios. Prints one JSON object.
 * Built and run by bench/wdecode_bench.sh:
 *   cc -O2 -Iinclude -Isrc bench/wdecode_layer_bench.c build/libminnow.a ...
 * usage: wdecode_layer_bench [REPS] [THREADS] [NAME]   (default 21 1;
 * NAME: only the layers whose name contains it) */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench_util.h"
#include "core/pool.h"
#include "kernels/dispatch.h"
#include "kernels/gemm.h"
#include "ops/ops.h"

typedef bench_layer layer;
#define CONV BENCH_CONV
#define FC BENCH_FC
#define CONV_ROW(...) CONV(__VA_ARGS__),

static const layer layers[] = {
    BENCH_RESNET18_CONVS(CONV_ROW)
    FC("r18 fc 512->1000", 1000, 512),
    FC("fc 2048->1000 (r50)", 1000, 2048),
    FC("fc 4096->4096 (vgg)", 4096, 4096),
};

static float frand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* A weight source of rows×cols: float16 values, or int4 codes with
 * float16 scales per 128 consecutive values of a row (per row when the
 * row is shorter); arrays malloc'd into *q, *sc. */
static void make_src(mn_wsrc *w, int int4, int64_t rows, int64_t cols,
                     unsigned *seed, void **q, void **sc)
{
    int64_t n = rows * cols;
    memset(w, 0, sizeof *w);
    w->rows = rows;
    w->cols = cols;
    if (!int4) {
        uint16_t *h = malloc((size_t)n * 2);
        for (int64_t i = 0; i < n; i++)
            h[i] = mn_f64_to_f16(frand(seed) * 0.1);
        w->kind = MN_WSRC_F16;
        w->q = *q = h;
        *sc = NULL;
        return;
    }
    int64_t blk = cols < 128 ? cols : 128, nb = (cols + blk - 1) / blk;
    uint8_t *c = malloc((size_t)(n + 1) / 2);
    uint16_t *s = malloc((size_t)(rows * nb) * 2);
    for (int64_t i = 0; i < (n + 1) / 2; i++)
        c[i] = (uint8_t)(frand(seed) * 127.0f + 128.0f);
    for (int64_t i = 0; i < rows * nb; i++)
        s[i] = mn_f64_to_f16(0.01 + 0.005 * frand(seed));
    w->kind = MN_WSRC_Q4;
    w->q = *q = c;
    w->is_signed = 1;
    w->pc = cols;
    w->inner = 1;
    w->blk = blk;
    w->scale = *sc = s;
    w->scale_f16 = 1;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 21;
    int threads = argc > 2 ? atoi(argv[2]) : 1;
    const char *only = argc > 3 ? argv[3] : NULL;
    int first = 1;
    mn_pool *pool = NULL;
    mn_ctx ctx = {{0}};
    unsigned seed = 7;
    if (reps < 1)
        reps = 1;
    if (threads > 1 && mn_pool_create(threads, 16u << 20, &pool, &ctx))
        return 1;
    printf("{\"isa\": \"%s\", \"threads\": %d, \"reps\": %d, \"layers\": [",
           mn_isa_name(mn_isa_active()), threads, reps);
    for (size_t li = 0; li < sizeof layers / sizeof layers[0]; li++) {
        const layer *L = &layers[li];
        if (only && !strstr(L->name, only))
            continue;
        const mn_conv_params *p = &L->p;
        int64_t rows = L->kind ? L->fc_out : p->m;
        int64_t cols = L->kind ? L->fc_in : p->c / p->group * p->kh * p->kw;
        int64_t nx = L->kind ? L->fc_in : p->n * p->c * p->h * p->w;
        int64_t ny = L->kind ? L->fc_out : p->n * p->m * p->oh * p->ow;
        float *x = malloc((size_t)nx * 4), *b = malloc((size_t)rows * 4);
        float *y0 = malloc((size_t)ny * 4), *y1 = malloc((size_t)ny * 4);
        float *wf = malloc((size_t)(rows * cols) * 4);
        mn_act relu = {MN_ACT_RELU, 0, 0};
        mn_epilogue epi = {.bias = b, .bias_per_col = 1};
        for (int64_t i = 0; i < nx; i++)
            x[i] = frand(&seed);
        for (int64_t i = 0; i < rows; i++)
            b[i] = frand(&seed) * 0.1f;
        printf("%s\n  {\"layer\": \"%s\", \"weights\": %lld, \"encodings\": [",
               first ? "" : ",", L->name, (long long)(rows * cols));
        first = 0;
        for (int int4 = 0; int4 < 2; int4++) {
            mn_wsrc w;
            void *q, *sc;
            make_src(&w, int4, rows, cols, &seed, &q, &sc);
            mn_wsrc_decode(&w, 0, rows * cols, wf);
            size_t sf = L->kind ? mn_sgemm_scratch(0, 1, 1, rows, cols)
                                : mn_conv2d_f32_scratch(p);
            size_t sw = L->kind ? mn_sgemm_wsrc_scratch(0, 1, 1, rows, cols,
                                                        &w)
                                : mn_conv2d_f32_wsrc_scratch(p, &w);
            void *s0 = mn_malloc_aligned(sf + 64), *s1 =
                                                    mn_malloc_aligned(sw + 64);
            double *tf = malloc(sizeof(double) * (size_t)reps);
            double *tc = malloc(sizeof(double) * (size_t)reps);
            for (int r = -2; r < reps; r++) { /* 2 warm-up calls */
                double t0 = bench_now();
                if (L->kind)
                    mn_sgemm(pool, 0, 1, 1, rows, cols, 1.0f, x, cols, wf,
                             cols, 0.0f, y0, rows, &epi, s0);
                else
                    mn_conv2d_f32(pool, p, x, wf, b, &relu, NULL, y0, s0);
                double t1 = bench_now();
                if (L->kind)
                    mn_sgemm_wsrc(pool, 0, 1, 1, rows, cols, 1.0f, x, cols,
                                  &w, 0.0f, y1, rows, &epi, s1);
                else
                    mn_conv2d_f32_wsrc(pool, p, x, &w, b, &relu, NULL, y1,
                                       s1);
                double t2 = bench_now();
                if (r >= 0) {
                    tf[r] = (t1 - t0) * 1e3;
                    tc[r] = (t2 - t1) * 1e3;
                }
            }
            double fb, fm, cb, cm;
            bench_best_median(tf, reps, &fb, &fm);
            bench_best_median(tc, reps, &cb, &cm);
            int same = !memcmp(y0, y1, (size_t)ny * 4);
            printf("%s\n    {\"weights\": \"%s\", \"float_best_ms\": %.4f, "
                   "\"float_median_ms\": %.4f, \"compact_best_ms\": %.4f, "
                   "\"compact_median_ms\": %.4f, \"speedup_best\": %.3f, "
                   "\"speedup_median\": %.3f, \"compact_bytes\": %zu, "
                   "\"float_bytes\": %lld, \"same_bits\": %s}",
                   int4 ? "," : "", int4 ? "int4" : "fp16", fb, fm, cb, cm,
                   fb / cb, fm / cm, mn_wsrc_bytes(&w),
                   (long long)(rows * cols * 4), same ? "true" : "false");
            free(tf);
            free(tc);
            mn_free_aligned(s0);
            mn_free_aligned(s1);
            free(q);
            free(sc);
        }
        printf("]}");
        free(x);
        free(b);
        free(y0);
        free(y1);
        free(wf);
    }
    printf("\n]}\n");
    mn_pool_destroy(pool);
    return 0;
}
