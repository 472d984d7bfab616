/* Sparse 8-bit drivers: building the quad-CSR weight, and the product's
 * tile loop (panels packed per k block by the dense path's packer, then
 * the ISA panel kernel over every row), threaded over the pool. Contract
 * and format in spmm_q8.h. */
#include <stdlib.h>
#include <string.h>
#include "kernels/dispatch.h"
#include "kernels/spmm_q8.h"

/* One k block's panel (qb quads × nt columns × 4 bytes) stays in L1:
 * every non-zero quad of every row reads one of its rows. */
#define PANEL_BYTES (32 * 1024)
#define MAX_NT 64 /* columns per panel (4 vectors) */
/* Panels packed per call (the packer's cost is per call and per output
 * row run, as in spmm_f32.c). */
#define SUPER 4
/* Smaller products run on one thread (MIN_PAR_MACS in qgemm.c). */
#define MIN_PAR_MACS 1048576.0

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

const mn_spq8_kernels *mn_spq8_kernels_active(void)
{
    const mn_spq8_kernels *k = NULL;
    if (mn_isa_active() >= MN_ISA_AVX512VNNI)
        k = mn_spq8_kernels_avx512vnni();
    return k ? k : mn_spq8_kernels_ref();
}

/* Element (i, p) as int8. */
static int8_t elem(const uint8_t *w, int64_t i, int64_t p, int64_t ldw,
                   int trans, uint8_t flip)
{
    return (int8_t)((trans ? w[p * ldw + i] : w[i * ldw + p]) ^ flip);
}

/* Quad q of row i as 4 bytes (zero past k); returns whether any is
 * non-zero. */
static int quad(const uint8_t *w, int64_t i, int64_t q, int64_t k,
                int64_t ldw, int trans, uint8_t flip, int8_t v[4])
{
    int nz = 0;
    for (int t = 0; t < 4; t++) {
        int64_t p = 4 * q + t;
        v[t] = p < k ? elem(w, i, p, ldw, trans, flip) : 0;
        nz |= v[t] != 0;
    }
    return nz;
}

int64_t mn_q8_count_nonzero_quads(const uint8_t *w, int64_t m, int64_t k,
                                  int64_t ldw, int trans, uint8_t flip)
{
    int64_t nz = 0, kq = ceil_div(k, 4);
    int8_t v[4];
    for (int64_t i = 0; i < m; i++)
        for (int64_t q = 0; q < kq; q++)
            nz += quad(w, i, q, k, ldw, trans, flip, v);
    return nz;
}

void mn_spmat_q8_destroy(mn_spmat_q8 *s)
{
    if (!s)
        return;
    mn_free_aligned(s->ptr);
    mn_free_aligned(s->qidx);
    mn_free_aligned(s->w4);
    free(s);
}

static int64_t panel_width(int64_t n)
{
    return n >= 48 ? MAX_NT : ceil_div(n, 16) * 16;
}

mn_status mn_spmat_q8_create(const uint8_t *w, int64_t m, int64_t k,
                             int64_t ldw, int trans, uint8_t flip, int64_t n,
                             mn_spmat_q8 **out, mn_ctx *ctx)
{
    mn_spmat_q8 *s;
    int8_t v[4];
    *out = NULL;
    if (m <= 0 || k <= 0 || n <= 0)
        return mn_error(ctx, MN_ERR_ARG, "sparse int8 weight of %lldx%lld",
                        (long long)m, (long long)k);
    int64_t kq = ceil_div(k, 4), nt = panel_width(n);
    int64_t qmax = PANEL_BYTES / (nt * 4);
    int64_t qb = kq <= qmax ? kq : ceil_div(kq, ceil_div(kq, qmax));
    int64_t nqb = ceil_div(kq, qb);
    int64_t nnzq = mn_q8_count_nonzero_quads(w, m, k, ldw, trans, flip);
    if (nnzq >= INT32_MAX || nqb * m >= INT32_MAX)
        return mn_error(ctx, MN_ERR_OOM,
                        "sparse int8 weight with %lld quads is too large",
                        (long long)nnzq);
    s = calloc(1, sizeof *s);
    if (!s)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    *s = (mn_spmat_q8){.m = m, .k = k, .kq = kq, .qb = qb, .nqb = nqb,
                       .n = n, .nt = nt, .nnzq = nnzq};
    s->ptr = mn_malloc_aligned((size_t)(nqb * m + 1) * sizeof *s->ptr);
    s->qidx = mn_malloc_aligned((size_t)(nnzq + 1) * sizeof *s->qidx);
    s->w4 = mn_malloc_aligned((size_t)(nnzq + 1) * sizeof *s->w4);
    if (!s->ptr || !s->qidx || !s->w4) {
        mn_spmat_q8_destroy(s);
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    }
    int32_t e = 0;
    for (int64_t b = 0; b < nqb; b++) {
        int64_t q0 = b * qb, q1 = min64(kq, q0 + qb);
        for (int64_t i = 0; i < m; i++) {
            s->ptr[b * m + i] = e;
            for (int64_t q = q0; q < q1; q++)
                if (quad(w, i, q, k, ldw, trans, flip, v)) {
                    s->qidx[e] = (int32_t)(q - q0);
                    memcpy(&s->w4[e++], v, 4);
                }
        }
    }
    s->ptr[nqb * m] = e;
    *out = s;
    return MN_OK;
}

/* ---- the product ---- */

/* Columns per task (one packing call): SUPER panels, or one narrower. */
static int64_t super_width(const mn_spmat_q8 *s)
{
    return s->nt == MAX_NT ? s->nt * SUPER : s->nt;
}

size_t mn_q8_spgemm_scratch(const mn_spmat_q8 *s, int64_t m)
{
    size_t panel = (size_t)(s->qb * 4 * super_width(s));
    size_t part = s->nqb > 1 ? (size_t)(m * super_width(s)) * 4 : 0;
    return (panel + 63) / 64 * 64 + part + 64;
}

typedef struct spq8_job {
    const mn_spq8_kernels *kr;
    const mn_spmat_q8 *s;
    const mn_q8_bsrc *bs;
    const mn_qgemm_epi *e;
    char *y;
    int64_t r0, m, rs, cs;
    int esize;
    mn_pool *pool;
    void *scratch;
    int64_t sw, ntiles, nmc, mchunk; /* columns per task, tiles, row chunks */
} spq8_job;

/* Task t: (column tile, row chunk). */
static void spq8_task(void *arg, int64_t t, int thread)
{
    const spq8_job *J = arg;
    const mn_spmat_q8 *s = J->s;
    int64_t mc = t % J->nmc, tile = t / J->nmc;
    int64_t j0 = tile * J->sw, nc = min64(J->sw, s->n - j0);
    int64_t i0 = mc * J->mchunk, mr = min64(J->mchunk, J->m - i0);
    int nt = (int)s->nt;
    if (mr <= 0)
        return;
    uint8_t *panel = J->pool ? mn_pool_scratch(J->pool, thread) : J->scratch;
    int32_t *part = (int32_t *)(panel + (s->qb * 4 * J->sw + 63) / 64 * 64);
    int64_t row = J->r0 + i0;
    for (int64_t b = 0; b < s->nqb; b++) {
        int64_t q0 = b * s->qb, nq = min64(s->qb, s->kq - q0);
        mn_q8_pack_b(J->bs, s->k, q0, nq, j0, nc, nt, panel);
        for (int64_t q = 0; q * nt < nc; q++) {
            int64_t jq = j0 + q * nt;
            J->kr->panel(mr, s->ptr + b * s->m + row, s->qidx, s->w4,
                         panel + q * nq * nt * 4, nt, min64(nt, nc - q * nt),
                         part + q * nt, J->sw, b == 0, b == s->nqb - 1, J->e,
                         row, J->y + (i0 * J->rs + jq * J->cs) * J->esize,
                         J->rs, J->cs);
        }
    }
}

void mn_q8_spgemm_run(mn_pool *pool, const mn_spmat_q8 *s, int64_t r0,
                      int64_t m, const mn_q8_bsrc *bs, const mn_qgemm_epi *e,
                      void *y, int64_t rs, int64_t cs, void *scratch)
{
    spq8_job J = {.kr = mn_spq8_kernels_active(), .s = s, .bs = bs, .e = e,
                  .y = y, .r0 = r0, .m = m, .rs = rs, .cs = cs,
                  .esize = e->mult ? 1 : 4, .scratch = scratch,
                  .sw = super_width(s)};
    if (m <= 0)
        return;
    int64_t nnzq = s->ptr[s->nqb * s->m]; /* all rows; r0.. is a share */
    double macs = 4.0 * (double)nnzq * (double)m / (double)s->m *
                  (double)s->n;
    int threads = mn_pool_threads(pool);
    if (macs < MIN_PAR_MACS ||
        mn_pool_scratch_bytes(pool) < mn_q8_spgemm_scratch(s, m))
        threads = 1;
    J.pool = threads > 1 ? pool : NULL;
    J.ntiles = ceil_div(s->n, J.sw);
    /* fewer tiles than threads (small late layers): split the rows too;
     * each chunk packs its own panels, so no more chunks than threads */
    J.nmc = J.ntiles >= threads ? 1
                                : min64(ceil_div(threads, J.ntiles),
                                        ceil_div(m, 16));
    if (J.nmc < 1)
        J.nmc = 1;
    J.mchunk = ceil_div(m, J.nmc);
    mn_pool_run(J.pool, spq8_task, &J, J.ntiles * J.nmc);
}
