/* Per-layer speed of the sparse float32 kernels against the dense ones, on
 * ResNet-18's convolution shapes at 224×224, fashion_cnn's, and two fully
 * connected layers at batch 1, over weight sparsities (random pattern, as
 * magnitude pruning of a trained layer gives); then the same for int8
 * QLinearConv ("q8_layers": ResNet-18's 3×3 and 1×1/2 layers, resnet8's
 * at 28×28 with 16-64 channels), each a one-node session compiled with
 * MN_SPARSE_DENSE and MN_SPARSE_FORCE (the whole op as the runtime runs
 * it: padding, packing, kernel, requantization). Dense and sparse run
 * alternately, one call each, many times: both see the same load, and the
 * ratio of their medians is what the automatic choice needs (the break-even
 * density, src/ops/conv_sparse.h). Prints one JSON object.
 * Built and run by bench/sparse_bench.sh:
 *   cc -O2 -Iinclude -Isrc bench/sparse_layer_bench.c build/libminnow.a ...
 * usage: sparse_layer_bench [REPS] [THREADS] [f32|q8]   (default 21 1,
 * both) */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench_util.h"
#include "core/pool.h"
#include "core/session.h"
#include "kernels/dispatch.h"
#include "kernels/gemm.h"
#include "kernels/spmm_f32.h"

typedef bench_layer layer;
#define CONV BENCH_CONV
#define FC BENCH_FC
#define CONV_ROW(...) CONV(__VA_ARGS__),

static const layer layers[] = {
    BENCH_RESNET18_CONVS(CONV_ROW)
    CONV("fashion 3x3 1->32 @28", 1, 28, 32, 3, 1, 1),
    CONV("fashion 3x3 32->64 @14", 32, 14, 64, 3, 1, 1),
    CONV("fashion 3x3 64->128 @7", 64, 7, 128, 3, 1, 1),
    FC("r18 fc 512->1000", 1000, 512),
    FC("fashion fc1 1152->64", 64, 1152),
};

static const layer q8_layers[] = {
    CONV("r18 3x3 64->64 @56", 64, 56, 64, 3, 1, 1),
    CONV("r18 3x3/2 64->128 @56", 64, 56, 128, 3, 2, 1),
    CONV("r18 1x1/2 64->128 @56", 64, 56, 128, 1, 2, 0),
    CONV("r18 3x3 128->128 @28", 128, 28, 128, 3, 1, 1),
    CONV("r18 1x1/2 128->256 @28", 128, 28, 256, 1, 2, 0),
    CONV("r18 3x3 256->256 @14", 256, 14, 256, 3, 1, 1),
    CONV("r18 3x3 512->512 @7", 512, 7, 512, 3, 1, 1),
    CONV("r8 3x3 16->16 @28", 16, 28, 16, 3, 1, 1),
    CONV("r8 3x3/2 16->32 @28", 16, 28, 32, 3, 2, 1),
    CONV("r8 1x1/2 16->32 @28", 16, 28, 32, 1, 2, 0),
    CONV("r8 3x3 32->32 @14", 32, 14, 32, 3, 1, 1),
    CONV("r8 3x3/2 32->64 @14", 32, 14, 64, 3, 2, 1),
    CONV("r8 3x3 64->64 @7", 64, 7, 64, 3, 1, 1),
    CONV("r8-wide 3x3 32->32 @28", 32, 28, 32, 3, 1, 1),
    CONV("r8-wide 3x3 64->64 @14", 64, 14, 64, 3, 1, 1),
    CONV("r8-wide 3x3 64->64 @28", 64, 28, 64, 3, 1, 1),
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

/* ---- int8: one QLinearConv node per session ---- */

/* A constant (n values of dtype dt, filled by the caller) or an input. */
static int q8_value(mn_graph *g, const char *name, mn_dtype dt, int nd,
                    const int64_t *d, int constant)
{
    mn_ctx ctx = {{0}};
    int v = -1;
    if (mn_graph_add_value(g, name, dt, nd, d, &v, &ctx) != MN_OK)
        return -1;
    if (constant &&
        mn_tensor_create(dt, nd, d, &g->values[v].init, &ctx) != MN_OK)
        return -1;
    return v;
}

/* x uint8 [1,C,H,W] → QLinearConv (int8 weights, sparsity sp, per-channel
 * scales, int32 bias) → y uint8. */
static mn_graph *q8_graph(const mn_conv_params *p, double sp)
{
    mn_ctx ctx = {{0}};
    mn_graph *g;
    int nd, y;
    int64_t m = p->m, one = 1;
    if (mn_graph_create(&g, &ctx) != MN_OK)
        return NULL;
    int in[9] = {
        q8_value(g, "x", MN_DT_U8, 4, (int64_t[]){1, p->c, p->h, p->w}, 0),
        q8_value(g, "xs", MN_DT_F32, 0, &one, 1),
        q8_value(g, "xz", MN_DT_U8, 0, &one, 1),
        q8_value(g, "w", MN_DT_I8, 4,
                 (int64_t[]){p->m, p->c / p->group, p->kh, p->kw}, 1),
        q8_value(g, "ws", MN_DT_F32, 1, &m, 1),
        q8_value(g, "wz", MN_DT_I8, 1, &m, 1),
        q8_value(g, "ys", MN_DT_F32, 0, &one, 1),
        q8_value(g, "yz", MN_DT_U8, 0, &one, 1),
        q8_value(g, "b", MN_DT_I32, 1, &m, 1)};
    y = q8_value(g, "y", MN_DT_U8, -1, NULL, 0);
    for (int i = 0; i < 9; i++)
        if (in[i] < 0)
            goto fail;
    mn_tensor *w = g->values[in[3]].init;
    for (int64_t i = 0; i < mn_tensor_numel(w); i++)
        ((int8_t *)w->data)[i] = (double)(frand1() + 1.0f) * 0.5 < sp
                                     ? 0 : (int8_t)(frand1() * 127.0f);
    *(float *)g->values[in[1]].init->data = 0.02f;
    *(uint8_t *)g->values[in[2]].init->data = 3;
    for (int64_t i = 0; i < m; i++) {
        ((float *)g->values[in[4]].init->data)[i] = 0.004f;
        ((int32_t *)g->values[in[8]].init->data)[i] = (int32_t)(i * 37 % 900);
    }
    *(float *)g->values[in[6]].init->data = 0.3f;
    *(uint8_t *)g->values[in[7]].init->data = 10;
    if (mn_graph_add_node(g, "conv", "QLinearConv", "", 13, in, 9, &y, 1,
                          &nd, &ctx) != MN_OK)
        goto fail;
    int64_t pads[4] = {p->pt, p->pl, p->pt, p->pl}, st[2] = {p->sh, p->sw};
    mn_attr *a;
    if (mn_node_add_attr(&g->nodes[nd], "pads", MN_ATTR_INTS, &a, &ctx) ||
        mn_attr_set_ints(a, pads, 4, &ctx) ||
        mn_node_add_attr(&g->nodes[nd], "strides", MN_ATTR_INTS, &a, &ctx) ||
        mn_attr_set_ints(a, st, 2, &ctx))
        goto fail;
    g->inputs = malloc(sizeof(int));
    g->outputs = malloc(sizeof(int));
    if (!g->inputs || !g->outputs)
        goto fail;
    g->inputs[0] = in[0];
    g->outputs[0] = y;
    g->n_inputs = g->n_outputs = 1;
    mn_graph_relink(g);
    if (mn_graph_toposort(g, &ctx) == MN_OK)
        return g;
fail:
    fprintf(stderr, "sparse_layer_bench: %s\n", ctx.msg);
    mn_graph_destroy(g);
    return NULL;
}

/* Median and best dense / sparse seconds of one int8 layer (and a check
 * that both give the same bytes). */
static int run_q8(const layer *L, double sp, int threads, int reps,
                  double *dense, double *sparse, double *dbest, double *sbest)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = q8_graph(&L->p, sp);
    mn_session *s[2] = {NULL, NULL};
    mn_tensor *x = NULL;
    double *t[2] = {malloc((size_t)reps * sizeof(double)),
                    malloc((size_t)reps * sizeof(double))};
    int rc = -1;
    const mn_conv_params *p = &L->p;
    if (!g || !t[0] || !t[1] ||
        mn_tensor_create(MN_DT_U8, 4, (int64_t[]){1, p->c, p->h, p->w}, &x,
                         &ctx) != MN_OK)
        goto out;
    for (int64_t i = 0; i < mn_tensor_numel(x); i++)
        ((uint8_t *)x->data)[i] = (uint8_t)(frand1() * 127.0f + 128.0f);
    for (int v = 0; v < 2; v++) {
        mn_session_opts o = {.threads = threads,
                             .sparse = v ? MN_SPARSE_FORCE : MN_SPARSE_DENSE};
        if (mn_session_create(g, &o, &s[v], &ctx) != MN_OK)
            goto out;
    }
    for (int r = -2; r < reps; r++)
        for (int v = 0; v < 2; v++) {
            double t0 = bench_now();
            if (mn_session_run(s[v], (const mn_tensor *const *)&x, 1,
                               &ctx) != MN_OK)
                goto out;
            if (r >= 0)
                t[v][r] = bench_now() - t0;
        }
    if (memcmp(mn_session_output(s[0], 0)->data,
               mn_session_output(s[1], 0)->data,
               mn_tensor_nbytes(mn_session_output(s[0], 0))) != 0) {
        fprintf(stderr, "sparse_layer_bench: %s: sparse != dense\n",
                L->name);
        goto out;
    }
    bench_best_median(t[0], reps, dbest, dense);
    bench_best_median(t[1], reps, sbest, sparse);
    rc = 0;
out:
    if (rc && ctx.msg[0])
        fprintf(stderr, "sparse_layer_bench: %s\n", ctx.msg);
    mn_session_destroy(s[0]);
    mn_session_destroy(s[1]);
    mn_graph_destroy(g);
    mn_tensor_destroy(x);
    free(t[0]);
    free(t[1]);
    return rc;
}

static void print_points(const char *name, size_t i, int q8, mn_pool *pool,
                         int threads, int reps)
{
    printf("%s\n  {\"layer\": \"%s\", \"points\": [", i ? "," : "", name);
    for (size_t j = 0; j < sizeof sparsities / sizeof *sparsities; j++) {
        double d, s, db, sb;
        if ((q8 ? run_q8(&q8_layers[i], sparsities[j], threads, reps, &d, &s,
                         &db, &sb)
                : run(&layers[i], sparsities[j], pool, reps, &d, &s, &db,
                      &sb)) != 0) {
            fprintf(stderr, "sparse_layer_bench: %s failed\n", name);
            exit(1);
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

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 21;
    int threads = argc > 2 ? atoi(argv[2]) : 1;
    char only = argc > 3 ? argv[3][0] : 0;
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
    for (size_t i = 0; only != 'q' && i < sizeof layers / sizeof *layers;
         i++)
        print_points(layers[i].name, i, 0, pool, threads, reps);
    printf("\n], \"q8_layers\": [");
    for (size_t i = 0;
         only != 'f' && i < sizeof q8_layers / sizeof *q8_layers; i++)
        print_points(q8_layers[i].name, i, 1, pool, threads, reps);
    printf("\n]}\n");
    mn_pool_destroy(pool);
    return 0;
}
