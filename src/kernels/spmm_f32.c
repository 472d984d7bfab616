/* Sparse float32 drivers: building the blocked-CSR weight, the
 * convolution's tile loop (panel packing through the dense path's im2col
 * source, then the ISA panel kernel per k block) and the Gemm row loop,
 * threaded over the pool. Contract and format in spmm_f32.h. */
#include <stdlib.h>
#include <string.h>
#include "kernels/dispatch.h"
#include "kernels/kernels_f32.h"
#include "kernels/spmm_f32.h"

/* One k block's im2col panel stays in L1 (every non-zero reads one panel
 * row): 32 KiB beat 16, 24, 64 and 256 KiB on ResNet-18's 3×3 layers
 * (bench/sparse_layer_bench.c; at 256 KiB, 2-3× slower at low sparsity). */
#define PANEL_BYTES (32 * 1024)
#define MAX_NT 64 /* output pixels per panel (4 vectors) */
/* Panels packed per call: the packer's cost is per call and per output
 * row run, so it gathers 256 pixels at once (64 at a time made packing
 * cost more than the sparse sums at 90 % sparsity). */
#define SUPER 4
/* Smaller products run on one thread (as MIN_PAR_MACS in sgemm.c). */
#define MIN_PAR_MACS 262144.0

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

const mn_spmm_kernels *mn_spmm_kernels_active(void)
{
    const mn_spmm_kernels *k = NULL;
    if (mn_isa_active() >= MN_ISA_AVX512)
        k = mn_spmm_kernels_avx512();
    return k ? k : mn_spmm_kernels_ref();
}

int64_t mn_f32_count_nonzero(const float *w, int64_t n)
{
    int64_t nz = 0;
    for (int64_t i = 0; i < n; i++)
        nz += w[i] != 0.0f;
    return nz;
}

void mn_spmat_f32_destroy(mn_spmat_f32 *s)
{
    if (!s)
        return;
    mn_free_aligned(s->ptr);
    mn_free_aligned(s->idx);
    mn_free_aligned(s->val);
    free(s);
}

mn_status mn_spmat_f32_create(const float *w, int64_t m, int64_t k,
                              int64_t ld, int trans, int64_t kb,
                              mn_spmat_f32 **out, mn_ctx *ctx)
{
    mn_spmat_f32 *s;
    int64_t nnz = 0;
    *out = NULL;
    if (m <= 0 || k <= 0)
        return mn_error(ctx, MN_ERR_ARG, "sparse weight of %lldx%lld",
                        (long long)m, (long long)k);
    if (kb <= 0 || kb > k)
        kb = k;
    for (int64_t i = 0; i < m; i++)
        for (int64_t p = 0; p < k; p++)
            nnz += (trans ? w[p * ld + i] : w[i * ld + p]) != 0.0f;
    int64_t nkb = ceil_div(k, kb);
    if (nnz >= INT32_MAX || nkb * m >= INT32_MAX)
        return mn_error(ctx, MN_ERR_OOM,
                        "sparse weight with %lld non-zeros is too large",
                        (long long)nnz);
    s = calloc(1, sizeof *s);
    if (!s)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    s->m = m;
    s->k = k;
    s->kb = kb;
    s->nkb = nkb;
    s->nnz = nnz;
    s->ptr = mn_malloc_aligned((size_t)(nkb * m + 1) * sizeof *s->ptr);
    s->idx = mn_malloc_aligned((size_t)(nnz + 1) * sizeof *s->idx);
    s->val = mn_malloc_aligned((size_t)(nnz + 1) * sizeof *s->val);
    if (!s->ptr || !s->idx || !s->val) {
        mn_spmat_f32_destroy(s);
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    }
    int32_t e = 0;
    for (int64_t b = 0; b < nkb; b++) {
        int64_t p0 = b * kb, p1 = min64(k, p0 + kb);
        for (int64_t i = 0; i < m; i++) {
            s->ptr[b * m + i] = e;
            for (int64_t p = p0; p < p1; p++) {
                float v = trans ? w[p * ld + i] : w[i * ld + p];
                if (v != 0.0f) {
                    s->idx[e] = (int32_t)(p - p0);
                    s->val[e++] = v;
                }
            }
        }
    }
    s->ptr[nkb * m] = e;
    *out = s;
    return MN_OK;
}

/* ---- convolution ---- */

static int tile_width(const mn_conv_params *p)
{
    int64_t n = p->oh * p->ow;
    return n >= 48 ? MAX_NT : (int)ceil_div(n, 16) * 16;
}

int64_t mn_spconv_f32_kblock(const mn_conv_params *p)
{
    int64_t k = p->c / p->group * p->kh * p->kw;
    int64_t kmax = PANEL_BYTES / ((int64_t)tile_width(p) * 4);
    return k <= kmax ? k : ceil_div(k, ceil_div(k, kmax)); /* equal blocks */
}

/* Output pixels packed per call: SUPER panels of 64, or one narrower. */
static int64_t super_width(const mn_conv_params *p)
{
    int nt = tile_width(p);
    return nt == MAX_NT ? (int64_t)nt * SUPER : nt;
}

size_t mn_spconv_f32_scratch(const mn_conv_params *p)
{
    return (size_t)(mn_spconv_f32_kblock(p) * super_width(p)) *
               sizeof(float) + 64;
}

typedef struct spconv_job {
    const mn_spmm_kernels *kr;
    mn_pool *pool;
    const mn_conv_params *p;
    const mn_spmat_f32 *s;
    const float *x, *b, *res;
    const mn_act *act;
    float *y;
    void *scratch;
    int nt;
    int64_t sw;                  /* pixels per task (a packing call) */
    int64_t ntiles, nmc, mchunk; /* pixel tiles, row chunks, rows/chunk */
} spconv_job;

/* Task t: (image, group, pixel tile, row chunk). */
static void spconv_task(void *arg, int64_t t, int thread)
{
    const spconv_job *J = arg;
    const mn_conv_params *p = J->p;
    const mn_spmat_f32 *s = J->s;
    int64_t mc = t % J->nmc, tile = t / J->nmc % J->ntiles;
    int64_t g = t / J->nmc / J->ntiles % p->group;
    int64_t in = t / J->nmc / J->ntiles / p->group;
    int64_t cg = p->c / p->group, mg = p->m / p->group;
    int64_t npix = p->oh * p->ow, j0 = tile * J->sw;
    int64_t nc = min64(J->sw, npix - j0);
    int64_t m0 = mc * J->mchunk, mr = min64(J->mchunk, mg - m0);
    float *panel = J->pool ? mn_pool_scratch(J->pool, thread) : J->scratch;
    mn_conv_bsrc src;
    if (mr <= 0)
        return;
    mn_conv_bsrc_init(&src, p, J->x + (in * p->c + g * cg) * p->h * p->w);
    int64_t row0 = g * mg + m0, yo = (in * p->m + row0) * npix + j0;
    for (int64_t b = 0; b < s->nkb; b++) {
        int64_t p0 = b * s->kb, kc = min64(s->kb, s->k - p0);
        /* panel q (pixels j0 + q·nt) at panel + q·nt·kc, kc × nt */
        src.base.pack(&src.base, p0, kc, j0, nc, J->nt, J->nt, panel);
        for (int64_t q = 0; q * J->nt < nc; q++) {
            int64_t off = yo + q * J->nt;
            J->kr->panel(mr, s->ptr + b * s->m + row0, s->idx, s->val,
                         panel + q * J->nt * kc, J->nt,
                         min64(J->nt, nc - q * J->nt),
                         J->b ? J->b + row0 : NULL,
                         J->res ? J->res + off : NULL, npix, J->y + off,
                         b == 0, b == s->nkb - 1, J->act);
        }
    }
}

void mn_spconv_f32(mn_pool *pool, const mn_conv_params *p,
                   const mn_spmat_f32 *s, const float *x, const float *b,
                   const mn_act *act, const float *residual, float *y,
                   void *scratch)
{
    spconv_job J = {.kr = mn_spmm_kernels_active(), .p = p, .s = s, .x = x,
                    .b = b, .res = residual, .act = act, .y = y,
                    .scratch = scratch, .nt = tile_width(p)};
    int64_t npix = p->oh * p->ow, mg = p->m / p->group;
    double macs = (double)s->nnz * (double)npix * (double)p->n;
    int threads = mn_pool_threads(pool);
    if (macs < MIN_PAR_MACS ||
        mn_pool_scratch_bytes(pool) < mn_spconv_f32_scratch(p))
        threads = 1;
    J.pool = threads > 1 ? pool : NULL;
    J.sw = super_width(p);
    J.ntiles = ceil_div(npix, J.sw);
    /* fewer tiles than threads (late, small layers): also split the rows,
     * so that every thread gets work; each chunk packs its own panels, so
     * no more chunks than threads */
    int64_t base = p->n * p->group * J.ntiles;
    J.nmc = base >= threads ? 1 : min64(ceil_div(threads, base),
                                        ceil_div(mg, 16));
    if (J.nmc < 1)
        J.nmc = 1;
    J.mchunk = ceil_div(mg, J.nmc);
    mn_pool_run(J.pool, spconv_task, &J, base * J.nmc);
}

/* ---- Gemm / MatMul ---- */

#define GEMM_ROWS 64 /* sparse rows (output features) per task */

typedef struct spgemm_job {
    const mn_spmm_kernels *kr;
    const mn_spmat_f32 *s;
    const float *x, *bias, *res;
    const mn_act *act;
    float *y;
    int64_t nchunks;
} spgemm_job;

static void spgemm_task(void *arg, int64_t t, int thread)
{
    const spgemm_job *J = arg;
    const mn_spmat_f32 *s = J->s;
    int64_t r = t / J->nchunks, i0 = t % J->nchunks * GEMM_ROWS;
    (void)thread;
    J->kr->spmv(min64(GEMM_ROWS, s->m - i0), s->ptr + i0, s->idx, s->val,
                J->x + r * s->k, J->bias ? J->bias + i0 : NULL,
                J->res ? J->res + r * s->m + i0 : NULL, J->act,
                J->y + r * s->m + i0);
}

void mn_spgemm_f32(mn_pool *pool, const mn_spmat_f32 *s, int64_t rows,
                   const float *x, const float *bias, const float *res,
                   const mn_act *act, float *y)
{
    spgemm_job J = {.kr = mn_spmm_kernels_active(), .s = s, .x = x,
                    .bias = bias, .res = res, .act = act, .y = y,
                    .nchunks = ceil_div(s->m, GEMM_ROWS)};
    double macs = (double)s->nnz * (double)rows;
    mn_pool_run(macs >= MIN_PAR_MACS ? pool : NULL, spgemm_task, &J,
                rows * J.nchunks);
}
