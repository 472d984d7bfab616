/* Float GEMM for training: the runtime's SGEMM (src/kernels/sgemm.c: ISA
 * dispatch, MINNOW_ISA, reference fallback) called single-threaded per
 * sample by the convolution rules, and a threaded form that cuts C into
 * tiles threads compute in their own scratch. Every element of C sums
 * over k in the same order whatever the tiling, so the result is the same
 * for any thread count. */
#include <string.h>
#include "kernels/gemm.h"
#include "train/grad.h"
#include "train/sgemm.h"

size_t mn_train_sgemm_scratch(int64_t m, int64_t n, int64_t k)
{
    /* op(a) = aᵀ costs a transposed copy of a: the larger case */
    size_t a = mn_sgemm_scratch(0, 0, m, n, k);
    size_t b = mn_sgemm_scratch(1, 0, m, n, k);
    return (a > b ? a : b) + 64;
}

void mn_train_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
              float alpha, const float *a, int64_t lda, const float *b,
              int64_t ldb, float beta, float *c, int64_t ldc, float *scratch)
{
    mn_sgemm(NULL, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c,
             ldc, NULL, scratch);
}

typedef struct gemm_job {
    int ta, tb;
    int64_t m, n, k, tm, tn, ntn; /* tile sizes, tiles along n */
    float alpha, beta;
    const float *a, *b;
    float *c;
    int64_t lda, ldb, ldc;
    mn_tpool *p;
} gemm_job;

static void gemm_task(void *arg, int64_t t, int thread)
{
    const gemm_job *j = arg;
    int64_t i0 = (t / j->ntn) * j->tm, j0 = (t % j->ntn) * j->tn;
    int64_t mm = j->m - i0 < j->tm ? j->m - i0 : j->tm;
    int64_t nn = j->n - j0 < j->tn ? j->n - j0 : j->tn;
    const float *a = j->ta ? j->a + i0 : j->a + i0 * j->lda;
    const float *b = j->tb ? j->b + j0 * j->ldb : j->b + j0;
    mn_train_sgemm(j->ta, j->tb, mm, nn, j->k, j->alpha, a, j->lda, b, j->ldb,
             j->beta, j->c + i0 * j->ldc + j0, j->ldc,
             mn_tpool_scratch(j->p, thread));
}

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

#define TR_B 16    /* square blocks: 16 rows of 64 bytes */
#define TR_COLS 64 /* columns of a per task */

typedef struct tr_job {
    int64_t rows, cols, lda, ldt, ntc; /* ntc: tasks per matrix */
    const float *a;
    float *t;
} tr_job;

static void tr_task(void *arg, int64_t task, int thread)
{
    const tr_job *jb = arg;
    int64_t b = task / jb->ntc;
    tr_job m = *jb, *j = &m;
    int64_t c0 = task % jb->ntc * TR_COLS;
    int64_t c1 = c0 + TR_COLS < j->cols ? c0 + TR_COLS : j->cols;
    (void)thread;
    j->a += b * j->rows * j->lda;
    j->t += b * j->cols * j->ldt;
    for (int64_t r0 = 0; r0 < j->rows; r0 += TR_B) {
        int64_t r1 = r0 + TR_B < j->rows ? r0 + TR_B : j->rows;
        for (int64_t cb = c0; cb < c1; cb += TR_B) {
            int64_t ce = cb + TR_B < c1 ? cb + TR_B : c1;
            for (int64_t c = cb; c < ce; c++) {
                float *tr = j->t + c * j->ldt;
                const float *ac = j->a + c;
                for (int64_t r = r0; r < r1; r++)
                    tr[r] = ac[r * j->lda];
            }
        }
    }
}

static void transpose(mn_tpool *p, int64_t batch, int64_t rows, int64_t cols,
                      const float *a, int64_t lda, float *t, int64_t ldt)
{
    tr_job j = {.rows = rows, .cols = cols, .lda = lda, .ldt = ldt,
                .ntc = ceil_div(cols, TR_COLS), .a = a, .t = t};
    if (batch <= 0 || rows <= 0 || cols <= 0)
        return;
    if (batch * rows * cols < 1 << 15)
        p = NULL; /* not worth waking the pool */
    mn_tpool_run(p, tr_task, &j, batch * j.ntc);
}

void mn_ttranspose(mn_tpool *p, int64_t rows, int64_t cols, const float *a,
                   int64_t lda, float *t, int64_t ldt)
{
    transpose(p, 1, rows, cols, a, lda, t, ldt);
}

void mn_ttranspose_batch(mn_tpool *p, int64_t batch, int64_t rows,
                         int64_t cols, const float *a, float *t)
{
    transpose(p, batch, rows, cols, a, cols, t, rows);
}

mn_status mn_tgemm(mn_tpool *p, int trans_a, int trans_b, int64_t m,
                   int64_t n, int64_t k, float alpha, const float *a,
                   int64_t lda, const float *b, int64_t ldb, float beta,
                   float *c, int64_t ldc, mn_ctx *ctx)
{
    int threads = mn_tpool_threads(p);
    if (m <= 0 || n <= 0)
        return MN_OK;
    if (!p) {
        float *s = mn_malloc_aligned(mn_train_sgemm_scratch(m, n, k) + 64);
        if (!s)
            return mn_error(ctx, MN_ERR_OOM, "out of memory (GEMM scratch)");
        mn_train_sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c,
                 ldc, s);
        mn_free_aligned(s);
        return MN_OK;
    }
    gemm_job j = {.ta = trans_a, .tb = trans_b, .m = m, .n = n, .k = k,
                  .alpha = alpha, .beta = beta, .a = a, .b = b, .c = c,
                  .lda = lda, .ldb = ldb, .ldc = ldc, .p = p};
    /* Tiles: columns first (A panels are small in training GEMMs), in
     * multiples of 16; rows in multiples of 6; about 4 tiles per thread. */
    int64_t want = threads > 1 ? 4 * threads : 1;
    double flops = (double)m * (double)n * (double)k;
    if (flops < 1 << 17)
        want = 1;
    int64_t tn = ceil_div(ceil_div(n, want), 16) * 16;
    if (tn < 64)
        tn = 64;
    if (tn > 2048)
        tn = 2048;
    if (tn > n)
        tn = n;
    int64_t ntn = ceil_div(n, tn);
    int64_t tm = m;
    if (ntn < want) {
        int64_t rows = ceil_div(want, ntn);
        tm = ceil_div(ceil_div(m, rows), 6) * 6;
        if (tm < 24)
            tm = 24;
        if (tm > m)
            tm = m;
    }
    if (tm > 96 * 8)
        tm = 96 * 8;
    /* a tile's GEMM must fit the thread's scratch */
    while (tm > 6 && mn_train_sgemm_scratch(tm, tn, k) > MN_TPOOL_SCRATCH)
        tm = ceil_div(tm / 2, 6) * 6;
    if (mn_train_sgemm_scratch(tm, tn, k) > MN_TPOOL_SCRATCH)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "GEMM %lldx%lldx%lld: tile scratch too large",
                        (long long)m, (long long)n, (long long)k);
    j.tm = tm;
    j.tn = tn;
    j.ntn = ntn;
    mn_tpool_run(p, gemm_task, &j, ceil_div(m, tm) * ntn);
    return MN_OK;
}
