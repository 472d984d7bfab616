/* Throughput of minnow's int8 convolution GEMM (src/kernels/qgemm.h:
 * uint8 activations packed by implicit im2col × packed int8 weights,
 * requantized to uint8 in the store) on the ResNet-50 conv shapes, at each
 * ISA level the CPU has (AVX-512 VNNI, AVX2) and for the reference kernel
 * (int16 GEMM to int32, no requantization: it flatters the reference), for
 * 1 and 2 threads (the reference is single-threaded). Prints one JSON
 * object; per shape GOPS = 2·MACs / time, from the best (minimum) and the
 * median of many repetitions. Built and run by bench/q8_bench.sh:
 *   cc -O2 -Iinclude -Isrc bench/q8_gemm_bench.c build/libminnow.a -lm -lpthread
 * usage: q8_gemm_bench [THREADS...]   (default 1 2) */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench_util.h"
#include "core/pool.h"
#include "kernels/qgemm.h"

typedef struct shape {
    const char *name;
    mn_conv_params p;
} shape;

#define CONV(nm, C, H, M, K, S, P) {nm, BENCH_CONV_PARAMS(C, H, M, K, S, P)},

static const shape shapes[] = {BENCH_RESNET50_CONVS(CONV)};

static uint8_t *brand(int64_t n)
{
    uint8_t *p = mn_malloc_aligned((size_t)n + 64);
    uint32_t s = 12345;
    for (int64_t i = 0; p && i < n; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = (uint8_t)(s >> 24);
    }
    return p;
}

/* One shape at one level (kr NULL: the reference) `reps` times. */
static int run_shape(const mn_conv_params *p, const mn_kernels_q8 *kr,
                     mn_pool *pool, int reps, double *best, double *med)
{
    int64_t k = p->c * p->kh * p->kw, n = p->oh * p->ow;
    int64_t nw = p->m * k, nx = p->c * p->h * p->w, ny = p->m * n;
    uint8_t *w = brand(nw), *x = brand(nx);
    char *y = mn_malloc_aligned((size_t)ny * 4 + 64);
    size_t sb = kr ? mn_q8_thread_scratch(kr, n, k)
                   : mn_ref_conv2d_q8_scratch(p);
    uint8_t *xp = mn_malloc_aligned(mn_q8_pad_bytes(p));
    void *s = mn_malloc_aligned(sb + 64);
    void *a = kr ? mn_malloc_aligned(mn_q8_pack_a_bytes(kr, p->m, k)) : NULL;
    int32_t *rs = malloc((size_t)p->m * 4);
    double *add = calloc((size_t)p->m, 8), *mult = calloc((size_t)p->m, 8);
    double *t = malloc((size_t)reps * sizeof *t);
    if (!w || !x || !xp || !y || !s || (kr && !a) || !rs || !add || !mult ||
        !t)
        return -1;
    for (int64_t i = 0; i < p->m; i++)
        mult[i] = 0.001;
    if (kr)
        mn_q8_pack_a(kr, p->m, k, w, k, 0, a, rs);
    mn_qgemm_epi e = {.add = add, .mult = mult, .add_i32 = rs, .yzp = 3,
                      .lo = 0, .hi = 255};
    int32_t zp = 7;
    mn_q8_operand xo = {x, 0, &zp, 1}, wo = {w, 1, NULL, 1};
    mn_q8_bsrc bs = {.kind = MN_Q8B_IM2COL, .b = xp, .p = p};
    int pw = p->kh == 1 && p->kw == 1 && p->sh == 1 && p->pt == 0;
    if (pw) {
        bs.kind = MN_Q8B_MATRIX;
        bs.b = x;
        bs.ldb = p->h * p->w;
    }
    for (int r = -2; r < reps; r++) {
        double t0 = bench_now();
        if (kr && !pw) /* part of the op's work: timed */
            mn_q8_pad_input(p, x, 7, xp);
        if (kr)
            mn_q8_gemm_run(kr, pool, p->m, n, k, a, &bs, &e, 0, y, n, 1, s);
        else
            mn_ref_conv2d_q8(p, &xo, &wo, (int32_t *)y, s);
        if (r >= 0)
            t[r] = bench_now() - t0;
    }
    bench_best_median(t, reps, best, med);
    mn_free_aligned(w);
    mn_free_aligned(x);
    mn_free_aligned(xp);
    mn_free_aligned(y);
    mn_free_aligned(s);
    mn_free_aligned(a);
    free(rs), free(add), free(mult), free(t);
    return 0;
}

int main(int argc, char **argv)
{
    int threads[8] = {1, 2}, nt = 2, first = 1;
    if (argc > 1) {
        nt = 0;
        for (int i = 1; i < argc && nt < 8; i++)
            threads[nt++] = atoi(argv[i]);
    }
    const mn_kernels_q8 *levels[3] = {NULL, NULL, NULL};
    int nl = 0;
    mn_isa cpu = mn_isa_detect();
    if (cpu >= MN_ISA_AVX512VNNI && mn_kernels_q8_avx512vnni())
        levels[nl++] = mn_kernels_q8_avx512vnni();
    if (cpu >= MN_ISA_AVX2 && mn_kernels_q8_avx2())
        levels[nl++] = mn_kernels_q8_avx2();
    levels[nl++] = NULL; /* the reference */
    printf("{\"cpu_isa\": \"%s\", \"results\": [", mn_isa_name(cpu));
    for (int ti = 0; ti < nt; ti++) {
        mn_ctx ctx = {{0}};
        mn_pool *pool = NULL;
        if (threads[ti] > 1 &&
            mn_pool_create(threads[ti], 0, &pool, &ctx) != MN_OK) {
            fprintf(stderr, "q8_gemm_bench: %s\n", ctx.msg);
            return 1;
        }
        for (int l = 0; l < nl; l++) {
            if (!levels[l] && threads[ti] > 1)
                continue;
            for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
                const mn_conv_params *p = &shapes[i].p;
                double best, med;
                double ops = 2.0 * (double)(p->m * p->c * p->kh * p->kw) *
                             (double)(p->oh * p->ow);
                if (run_shape(p, levels[l], pool, levels[l] ? 20 : 3, &best,
                              &med) != 0) {
                    fprintf(stderr, "q8_gemm_bench: out of memory\n");
                    return 1;
                }
                printf("%s\n  {\"shape\": \"%s\", \"kernel\": \"%s\", "
                       "\"threads\": %d, \"gop\": %.4f, \"best_ms\": %.4f, "
                       "\"median_ms\": %.4f, \"gops_best\": %.1f, "
                       "\"gops_median\": %.1f}",
                       first ? "" : ",", shapes[i].name,
                       levels[l] ? levels[l]->name : "ref (int16, int32 out)",
                       threads[ti], ops / 1e9, best * 1e3, med * 1e3,
                       ops / best / 1e9, ops / med / 1e9);
                first = 0;
            }
        }
        mn_pool_destroy(pool);
    }
    printf("\n]}\n");
    return 0;
}
