/* Sparse 8-bit convolution drivers: building the quad-CSR weight and its
 * x4 offsets, rewriting each group's input as x4 (padded, stride phases, 4
 * channels interleaved), and the tile loop (tiles of virtual pixels × row
 * chunks) over the pool. Contract and formats in spmm_q8.h. */
#include <stdlib.h>
#include <string.h>
#include "kernels/dispatch.h"
#include "kernels/spmm_q8.h"

/* One block's reads for one tile (its channel quads' windows of x4) stay
 * in L1. */
#define BLOCK_BYTES (32 * 1024)
#define MAX_NT 64 /* virtual pixels per tile (4 vectors) */
#define TILES 4   /* tiles per task */
/* Smaller convolutions run on one thread (MIN_PAR_MACS in qgemm.c). */
#define MIN_PAR_MACS 1048576.0

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static size_t round64(size_t v) { return (v + 63) / 64 * 64; }

const mn_spq8_kernels *mn_spq8_kernels_active(void)
{
    const mn_spq8_kernels *k = NULL;
    if (mn_isa_active() >= MN_ISA_AVX512VNNI)
        k = mn_spq8_kernels_avx512vnni();
    return k ? k : mn_spq8_kernels_ref();
}

/* The quad (channels 4·c4 .. 4·c4 + 3 at tap ki, kj) of output channel r
 * as int8 (zero past the group's channels); returns whether any is
 * non-zero. */
static int quad(const mn_conv_params *p, const uint8_t *w, int64_t r,
                int64_t c4, int64_t ki, int64_t kj, uint8_t flip, int8_t v[4])
{
    int64_t cg = p->c / p->group;
    int nz = 0;
    for (int t = 0; t < 4; t++) {
        int64_t c = 4 * c4 + t;
        v[t] = c < cg ? (int8_t)(w[((r * cg + c) * p->kh + ki) * p->kw + kj] ^
                                 flip)
                      : 0;
        nz |= v[t] != 0;
    }
    return nz;
}

void mn_spconv_q8_count(const mn_conv_params *p, const uint8_t *w,
                        uint8_t flip, int64_t *nzq, int64_t *nq)
{
    int64_t c4n = ceil_div(p->c / p->group, 4), nz = 0;
    int8_t v[4];
    for (int64_t r = 0; r < p->m; r++)
        for (int64_t c4 = 0; c4 < c4n; c4++)
            for (int64_t ki = 0; ki < p->kh; ki++)
                for (int64_t kj = 0; kj < p->kw; kj++)
                    nz += quad(p, w, r, c4, ki, kj, flip, v);
    *nzq = nz;
    *nq = p->m * c4n * p->kh * p->kw;
}

void mn_spconv_q8_destroy(mn_spconv_q8 *s)
{
    if (!s)
        return;
    mn_free_aligned(s->ptr);
    mn_free_aligned(s->off);
    mn_free_aligned(s->w4);
    free(s);
}

/* x4 geometry and the channel-quad blocks. */
static void geometry(mn_spconv_q8 *s, const mn_conv_params *p)
{
    s->p = *p;
    s->m = p->m;
    mn_q8_x4_init(p, &s->g);
    s->c4n = s->g.c4n;
    s->hp = s->g.hp;
    s->wp = s->g.wp;
    s->hq = s->g.hq;
    s->wq = s->g.wq;
    s->nvp = s->g.nvp;
    s->nt = s->nvp >= 48 ? MAX_NT : ceil_div(s->nvp, 16) * 16;
    /* a tile reads, per channel quad, nt + (tap rows)·wq dwords of each
     * stride phase its taps use */
    int64_t rows = (p->kh - 1) * p->dh / p->sh + 1;
    int64_t phases = min64(p->sh, p->kh) * min64(p->sw, p->kw);
    int64_t window = 4 * phases * (s->nt + rows * s->wq);
    int64_t cb = BLOCK_BYTES / window > 1 ? BLOCK_BYTES / window : 1;
    s->cb = s->c4n <= cb ? s->c4n : ceil_div(s->c4n, ceil_div(s->c4n, cb));
    s->nqb = ceil_div(s->c4n, s->cb);
}

mn_status mn_spconv_q8_create(const mn_conv_params *p, const uint8_t *w,
                              uint8_t flip, mn_spconv_q8 **out, mn_ctx *ctx)
{
    mn_spconv_q8 *s;
    int64_t nzq, nq;
    int8_t v[4];
    *out = NULL;
    s = calloc(1, sizeof *s);
    if (!s)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    geometry(s, p);
    mn_spconv_q8_count(p, w, flip, &nzq, &nq);
    s->nnzq = nzq;
    s->nq = nq;
    if (nzq >= INT32_MAX || s->nqb * s->m >= INT32_MAX ||
        mn_q8_x4_bytes(&s->g) + 4096 >= INT32_MAX) {
        mn_spconv_q8_destroy(s);
        return mn_error(ctx, MN_ERR_OOM,
                        "sparse int8 convolution is too large (%lld quads)",
                        (long long)nzq);
    }
    s->ptr = mn_malloc_aligned((size_t)(s->nqb * s->m + 1) * sizeof *s->ptr);
    s->off = mn_malloc_aligned((size_t)(nzq + 1) * sizeof *s->off);
    s->w4 = mn_malloc_aligned((size_t)(nzq + 1) * sizeof *s->w4);
    if (!s->ptr || !s->off || !s->w4) {
        mn_spconv_q8_destroy(s);
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    }
    int32_t e = 0;
    for (int64_t b = 0; b < s->nqb; b++) {
        int64_t c0 = b * s->cb, c1 = min64(s->c4n, c0 + s->cb);
        for (int64_t r = 0; r < s->m; r++) {
            s->ptr[b * s->m + r] = e;
            for (int64_t c4 = c0; c4 < c1; c4++)
                for (int64_t ki = 0; ki < p->kh; ki++)
                    for (int64_t kj = 0; kj < p->kw; kj++) {
                        if (!quad(p, w, r, c4, ki, kj, flip, v))
                            continue;
                        s->off[e] = (int32_t)mn_q8_x4_offset(&s->g, c4,
                                                             ki, kj);
                        memcpy(&s->w4[e++], v, 4);
                    }
        }
    }
    s->ptr[s->nqb * s->m] = e;
    *out = s;
    return MN_OK;
}

/* ---- scratch: x4 (q8_x4.h), then one task's partial sums ---- */

static size_t part_offset(const mn_spconv_q8 *s)
{
    return round64(mn_q8_x4_scratch(&s->g));
}

size_t mn_spconv_q8_scratch(const mn_spconv_q8 *s)
{
    return part_offset(s) + mn_spconv_q8_thread_scratch(s);
}

size_t mn_spconv_q8_thread_scratch(const mn_spconv_q8 *s)
{
    int64_t mg = s->m / s->p.group;
    return s->nqb > 1 ? (size_t)(mg * TILES * s->nt) * 4 : 0;
}

/* ---- the tile loop ---- */

/* Tile tt's lanes: which are output pixels, and where they go. */
static void tile_lanes(const mn_spconv_q8 *s, int64_t tt, mn_spq8_tile *t)
{
    int64_t v0 = tt * s->nt, ow = s->p.ow;
    t->nv = (int)(s->nt / 16);
    for (int v = 0; v < t->nv; v++) {
        t->mask[v] = 0;
        t->yoff[v] = 0;
        for (int l = 15; l >= 0; l--) {
            int64_t vp = v0 + 16 * v + l;
            if (vp < s->nvp && vp % s->wq < ow) {
                t->mask[v] |= (uint16_t)(1u << l);
                t->yoff[v] = vp / s->wq * ow + vp % s->wq;
            }
        }
    }
}

typedef struct spq8_job {
    const mn_spq8_kernels *kr;
    const mn_spconv_q8 *s;
    const uint8_t *x4;
    const mn_qgemm_epi *e;
    char *y;         /* the group's first output channel */
    int64_t row0;    /* its epilogue row */
    int esize;
    mn_pool *pool;
    int32_t *part0;  /* partial sums of the calling thread without pool */
    int64_t ntiles, ntasks_px, nmc, mchunk;
} spq8_job;

/* Task t: (TILES tiles of virtual pixels, row chunk). */
static void spq8_task(void *arg, int64_t t, int thread)
{
    const spq8_job *J = arg;
    const mn_spconv_q8 *s = J->s;
    int64_t mc = t % J->nmc, tk = t / J->nmc, mg = s->m / s->p.group;
    int64_t i0 = mc * J->mchunk, mr = min64(J->mchunk, mg - i0);
    int64_t t0 = tk * TILES, t1 = min64(J->ntiles, t0 + TILES);
    int64_t ohw = s->p.oh * s->p.ow, ldp = TILES * s->nt;
    int32_t *part = J->pool ? mn_pool_scratch(J->pool, thread) : J->part0;
    mn_spq8_tile tl[TILES];
    if (mr <= 0)
        return;
    for (int64_t tt = t0; tt < t1; tt++)
        tile_lanes(s, tt, &tl[tt - t0]);
    int64_t row = J->row0 + i0;
    char *y = J->y + i0 * ohw * J->esize;
    for (int64_t b = 0; b < s->nqb; b++)
        for (int64_t tt = t0; tt < t1; tt++)
            J->kr->conv(mr, s->ptr + b * s->m + row, s->off, s->w4,
                        J->x4 + tt * s->nt * 4, &tl[tt - t0],
                        part + (tt - t0) * s->nt, ldp, b == 0,
                        b == s->nqb - 1, J->e, row, y, ohw);
}

void mn_spconv_q8_run(mn_pool *pool, const mn_spconv_q8 *s, const uint8_t *x,
                      uint8_t xpad, uint8_t flip, const mn_qgemm_epi *e,
                      void *y, void *scratch)
{
    const mn_conv_params *p = &s->p;
    int64_t cg = p->c / p->group, mg = s->m / p->group;
    int64_t ohw = p->oh * p->ow;
    spq8_job J = {.kr = mn_spq8_kernels_active(), .s = s, .e = e,
                  .esize = e->mult ? 1 : 4,
                  .part0 = (int32_t *)((char *)scratch + part_offset(s))};
    double macs = 4.0 * (double)s->nnzq / (double)p->group *
                  (double)s->nvp;
    int threads = mn_pool_threads(pool);
    if (macs < MIN_PAR_MACS ||
        mn_pool_scratch_bytes(pool) < mn_spconv_q8_thread_scratch(s))
        threads = 1;
    J.pool = threads > 1 ? pool : NULL;
    J.ntiles = ceil_div(s->nvp, s->nt);
    J.ntasks_px = ceil_div(J.ntiles, TILES);
    /* fewer pixel tasks than threads (small late layers): split the rows
     * too, no more chunks than threads */
    J.nmc = J.ntasks_px >= threads ? 1
                                   : min64(ceil_div(threads, J.ntasks_px),
                                           ceil_div(mg, 16));
    if (J.nmc < 1)
        J.nmc = 1;
    J.mchunk = ceil_div(mg, J.nmc);
    for (int64_t img = 0; img < p->n; img++)
        for (int64_t g = 0; g < p->group; g++) {
            J.x4 = mn_q8_x4_build(pool, &s->g,
                                  x + (img * p->c + g * cg) * p->h * p->w,
                                  xpad, flip, 0, scratch);
            J.row0 = g * mg;
            J.y = (char *)y + (img * s->m + g * mg) * ohw * J.esize;
            mn_pool_run(J.pool, spq8_task, &J, J.ntasks_px * J.nmc);
        }
}
