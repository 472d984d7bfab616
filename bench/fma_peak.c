/* Measures the fp32 FMA peak of one core: independent chains of AVX-512
 * (or AVX2) fused multiply-adds, enough of them to cover the FMA latency
 * on every port. Prints {"isa", "gflops", "ghz_equiv_64"}: GFLOP/s per core
 * (2 flops per lane per FMA). Built by bench/runtime_bench.sh with
 * -O2 -march=native. */
#define _POSIX_C_SOURCE 200809L
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

#if defined(__AVX512F__)
#define VEC __m512
#define LANES 16
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
#define ADD _mm512_add_ps
#define STORE _mm512_storeu_ps
#define ISA "avx512"
#else
#define VEC __m256
#define LANES 8
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
#define ADD _mm256_add_ps
#define STORE _mm256_storeu_ps
#define ISA "avx2"
#endif

/* 12 named accumulators (arrays get spilled); 12 chains × 4-cycle latency
 * covers two FMA ports. */
#define CHAINS 12
#define DECL(i) VEC a##i = SET1((float)i);
#define STEP(i) a##i = FMA(a##i, x, y);

static float run(long iters)
{
    VEC x = SET1(0.999999f), y = SET1(1e-7f);
    DECL(0) DECL(1) DECL(2) DECL(3) DECL(4) DECL(5)
    DECL(6) DECL(7) DECL(8) DECL(9) DECL(10) DECL(11)
    for (long it = 0; it < iters; it++) {
        STEP(0) STEP(1) STEP(2) STEP(3) STEP(4) STEP(5)
        STEP(6) STEP(7) STEP(8) STEP(9) STEP(10) STEP(11)
        /* keeps the chains in registers and the loop from being folded */
        __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3),
                         "+v"(a4), "+v"(a5), "+v"(a6), "+v"(a7), "+v"(a8),
                         "+v"(a9), "+v"(a10), "+v"(a11));
    }
    VEC s = ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7)));
    s = ADD(s, ADD(ADD(a8, a9), ADD(a10, a11)));
    float out[LANES];
    STORE(out, s);
    return out[0];
}

int main(void)
{
    long iters = 1000000;
    double best = 0;
    float sink = 0;
    sink += run(iters); /* warm up the clock */
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now();
        sink += run(iters);
        double t = now() - t0;
        double gf = (double)iters * CHAINS * LANES * 2 / t / 1e9;
        if (gf > best)
            best = gf;
    }
    printf("{\"isa\": \"%s\", \"gflops\": %.1f, \"sink\": %g}\n", ISA, best,
           (double)sink * 0);
    return 0;
}
