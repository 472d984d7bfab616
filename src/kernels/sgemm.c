/* The float32 GEMM driver: cache blocking, B packing, the thread split and
 * the GEMV shortcut around the ISA tile kernels (kernels_f32.h).
 *
 * Loop nest per thread region (BLIS order with A read in place):
 *   for j0 (NC columns)  for p0 (k block)  pack B[p0:+kc, j0:+nc]
 *     for i0 (MR rows: the A micro-panel, MR×kc, stays in L1)
 *       for jr (NR columns: a packed B panel, streamed from L2)  tile
 * A is row-major weights, so it needs no packing (transposed A is copied
 * once). The k blocks depend on k only, and each tile sums its k block in
 * order, so every element of C has the same arithmetic for any split:
 * results are identical for any thread count. Threads get disjoint
 * regions of C (columns first, rows when there are few columns).
 * B is packed on every call (into the caller's or the pool's scratch): for
 * convolutions B is the input, but a constant B (Gemm/MatMul weights)
 * could be packed once at load — that waits for an op prepare hook. */
#include <string.h>
#include "kernels/dispatch.h"
#include "kernels/kernels_f32.h"

#define KC 256  /* k block: an 8-row A micro-panel of 8 KiB stays in L1 */
#define NC 384  /* columns per B block: ≤ 384 KiB, in L2 beside the A rows and
                 * C it meets (768 let a weight-sized B block thrash a 1 MiB
                 * L2: a 49-row MatMul on 9 MB of weights, 1.73 -> 1.53 ms) */
/* Smaller products run on one thread: waking a worker costs ~1 µs, and on
 * a busy machine a worker preempted inside a task stalls the caller. */
#define MIN_PAR_MACS 1048576.0
/* A GEMV reads every weight once (memory bound): two threads read twice
 * as fast from the shared cache already at a fraction of that size (the
 * fully connected layer of a ResNet-18, 512 KMACs). */
#define MIN_PAR_MACS_GEMV 131072.0
/* A GEMV on a weight source decodes the weight in blocks of this many
 * output columns (a multiple of every level's 4·vec, the GEMV split's
 * granularity), all of k each, into the thread's scratch. */
#define GEMV_COLS 64

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t round_up(int64_t v, int64_t m) { return ceil_div(v, m) * m; }

const mn_kernels_f32 *mn_kernels_f32_active(void)
{
    mn_isa isa = mn_isa_active();
    const mn_kernels_f32 *k = NULL;
    if (isa >= MN_ISA_AVX512)
        k = mn_kernels_f32_avx512();
    if (!k && isa >= MN_ISA_AVX2)
        k = mn_kernels_f32_avx2();
    return k;
}

mn_dwconv_plane_fn mn_dwconv_f32_active(const mn_conv_params *p)
{
    return mn_isa_active() >= MN_ISA_AVX512 ? mn_dwconv_f32_avx512(p) : NULL;
}

mn_dwconv_cv_fn mn_dwconv_cv_f32_active(const mn_conv_params *p)
{
    return mn_dwconv_f32_active(p) && mn_dwconv_cv_f32_can(p)
               ? mn_dwconv_cv_f32_avx512
               : NULL;
}

/* k block length: k split into equal blocks of at most KC. */
static int64_t k_block(int64_t k)
{
    return k <= 0 ? 0 : ceil_div(k, ceil_div(k, KC));
}

size_t mn_sgemm_thread_scratch(const mn_kernels_f32 *kr, int64_t n,
                               int64_t k)
{
    return (size_t)(k_block(k) * round_up(min64(NC, n), kr->nr)) *
               sizeof(float) + 64;
}

size_t mn_sgemm_wsrc_extra(const mn_kernels_f32 *kr, int64_t m, int64_t n,
                           int64_t k, int a_w, int b_w)
{
    int64_t f = 0, kk = k > 0 ? k : 1;
    if (a_w) /* the micro-panel; A's row (m 1) or rows (n 1) for GEMVs */
        f = max64(max64((int64_t)kr->mr * KC, m == 1 ? kk : 0),
                  n == 1 ? GEMV_COLS * kk : 0);
    else if (b_w) /* blocks of B's columns (m 1), B's column (n 1) */
        f = max64(m == 1 ? GEMV_COLS * kk : 0, n == 1 ? kk : 0);
    return (size_t)round_up(f, 16) * sizeof(float);
}

/* Packs like mn_bsrc_pack_matrix, decoding the weight source: a row of B
 * (untransposed: nc columns at once) or a column (transposed: kc values)
 * into a buffer, then into the panels. */
static void pack_wsrc(const mn_bsrc *bs, int64_t p0, int64_t kc, int64_t j0,
                      int64_t nc, int nr, int vec, float *dst)
{
    const mn_wsrc *w = ((const mn_wsrc_bsrc *)bs)->w;
    float buf[(NC > KC ? NC : KC) + 64];
    if (!bs->trans) {
        for (int64_t p = 0; p < kc; p++) {
            mn_wsrc_decode(w, (p0 + p) * w->cols + j0, nc, buf);
            for (int64_t jr = 0; jr < nc; jr += nr) {
                int64_t wd = min64(nr, nc - jr), wp = round_up(wd, vec);
                float *dp = dst + jr * kc + p * wp;
                memcpy(dp, buf + jr, (size_t)wd * sizeof *dp);
                for (int64_t j = wd; j < wp; j++)
                    dp[j] = 0.0f;
            }
        }
        return;
    }
    for (int64_t jr = 0; jr < nc; jr += nr) {
        int64_t wd = min64(nr, nc - jr), wp = round_up(wd, vec);
        float *d = dst + jr * kc;
        for (int64_t j = 0; j < wd; j++) {
            mn_wsrc_decode(w, (j0 + jr + j) * w->cols + p0, kc, buf);
            for (int64_t p = 0; p < kc; p++)
                d[p * wp + j] = buf[p];
        }
        for (int64_t p = 0; p < kc; p++)
            for (int64_t j = wd; j < wp; j++)
                d[p * wp + j] = 0.0f;
    }
}

void mn_wsrc_bsrc_init(mn_wsrc_bsrc *s, const mn_wsrc *w, int trans)
{
    memset(s, 0, sizeof *s);
    s->base.pack = pack_wsrc;
    s->base.trans = trans;
    s->w = w;
}

void mn_bsrc_pack_matrix(const mn_bsrc *s, int64_t p0, int64_t kc,
                         int64_t j0, int64_t nc, int nr, int vec, float *dst)
{
    for (int64_t jr = 0; jr < nc; jr += nr) {
        int64_t w = min64(nr, nc - jr), wp = round_up(w, vec);
        float *d = dst + jr * kc;
        if (!s->trans) {
            for (int64_t p = 0; p < kc; p++) {
                float *dp = d + p * wp;
                memcpy(dp, s->b + (p0 + p) * s->ldb + j0 + jr,
                       (size_t)w * sizeof *dp);
                for (int64_t j = w; j < wp; j++)
                    dp[j] = 0.0f;
            }
        } else {
            for (int64_t j = 0; j < w; j++) {
                const float *src = s->b + (j0 + jr + j) * s->ldb + p0;
                for (int64_t p = 0; p < kc; p++)
                    d[p * wp + j] = src[p];
            }
            for (int64_t p = 0; p < kc; p++)
                for (int64_t j = w; j < wp; j++)
                    d[p * wp + j] = 0.0f;
        }
    }
}

typedef struct job {
    const mn_kernels_f32 *kr;
    int64_t m, n, k, kcb;
    float alpha, beta;
    const float *a;
    int64_t lda;
    const mn_wsrc *aw; /* A from a weight source (rows from aw_row0) */
    int64_t aw_row0;
    const mn_bsrc *bs;
    const mn_wsrc *bw; /* B's weight source (bs is its mn_wsrc_bsrc) */
    float *c;
    int64_t ldc;
    mn_epilogue epi;
    int direct; /* tiles read B in place (plain, untransposed, m <= MR) */
    int gemv;   /* 1: m == 1 on a plain matrix; 2: n == 1 (A times a
                   contiguous column, into a contiguous column of C) */
    int64_t tm, tn, ntn; /* region size, regions along n */
    mn_pool *pool;       /* NULL: the one region uses scratch0 */
    float *scratch0;
} job;

/* y[j] for rows [j, j + n) of the weight source w (row length k = its
 * cols) dotted with x, straight from the compressed rows (mn_wsrc_dot),
 * stored as gemv_t stores. */
static void gemv_t_wsrc(const mn_wsrc_kernels *wk, const mn_wsrc *w,
                        int64_t r0, int64_t n, const float *x, float *y,
                        const mn_tile_epi *e)
{
    float d[GEMV_COLS];
    for (int64_t j = 0; j < n; j += GEMV_COLS) {
        int64_t c = min64(GEMV_COLS, n - j);
        wk->dot_rows(w, r0 + j, c, x, d);
        for (int64_t t = 0; t < c; t++)
            mn_gemv_store1(e, y, j + t, d[t]);
    }
}

/* The fused dot kernels for w when they repeat J's gemv_t. */
static const mn_wsrc_kernels *fused_dot(const job *J, const mn_wsrc *w)
{
    return J->kr == mn_kernels_f32_avx512() && w->cols == J->k
               ? mn_wsrc_dot(w)
               : NULL;
}

/* n == 1: c[i] = A[i,:]·b, rows [i_lo, i_hi), as gemv_t with A as B. */
static void run_gemv_col(const job *J, int64_t i_lo, int64_t i_hi,
                         float *buf)
{
    mn_tile_epi e = {.alpha = J->alpha, .beta = J->beta, .last = 1,
                     .act = J->epi.act};
    if (J->epi.bias) {
        if (J->epi.bias_per_col)
            e.bias_row = J->epi.bias;
        else
            e.bias_col = J->epi.bias + i_lo;
    }
    e.res = J->epi.residual ? J->epi.residual + i_lo : NULL; /* ldc == 1 */
    const float *x = J->bs->b;
    if (J->bw) { /* B, one column of k, from its weight source */
        mn_wsrc_decode(J->bw, 0, J->k, buf);
        x = buf;
    }
    const mn_wsrc_kernels *wk = J->aw ? fused_dot(J, J->aw) : NULL;
    if (wk) { /* rows of A dotted from their compressed form */
        gemv_t_wsrc(wk, J->aw, J->aw_row0 + i_lo, i_hi - i_lo, x,
                    J->c + i_lo, &e);
        return;
    }
    if (J->aw) { /* A in blocks of rows from its weight source */
        const float *bc = e.bias_col, *res = e.res;
        for (int64_t i = i_lo; i < i_hi; i += GEMV_COLS) {
            int64_t w = min64(GEMV_COLS, i_hi - i);
            e.bias_col = bc ? bc + (i - i_lo) : NULL;
            e.res = res ? res + (i - i_lo) : NULL;
            mn_wsrc_rows(J->aw, J->aw_row0 + i, w, 0, J->k, buf, J->k);
            J->kr->gemv_t(J->k, w, x, buf, J->k, J->c + i, &e);
        }
        return;
    }
    J->kr->gemv_t(J->k, i_hi - i_lo, x, J->a + i_lo * J->lda, J->lda,
                  J->c + i_lo, &e);
}

static void run_gemv(const job *J, int64_t j_lo, int64_t j_hi, float *buf)
{
    mn_tile_epi e = {.alpha = J->alpha, .beta = J->beta, .last = 1,
                     .act = J->epi.act};
    if (J->epi.bias) {
        if (J->epi.bias_per_col)
            e.bias_col = J->epi.bias + j_lo;
        else
            e.bias_row = J->epi.bias;
    }
    e.res = J->epi.residual ? J->epi.residual + j_lo : NULL; /* m == 1 */
    const mn_bsrc *s = J->bs;
    const float *x = J->a;
    if (J->aw) { /* A's one row from its weight source */
        mn_wsrc_decode(J->aw, J->aw_row0 * J->k, J->k, buf);
        x = buf;
    }
    const mn_wsrc_kernels *wk = J->bw && s->trans ? fused_dot(J, J->bw)
                                                  : NULL;
    if (wk) { /* rows of B (output features) dotted compressed */
        gemv_t_wsrc(wk, J->bw, j_lo, j_hi - j_lo, x, J->c + j_lo, &e);
        return;
    }
    if (J->bw) {
        /* blocks of GEMV_COLS columns of B decoded, all of k each: every
         * column's sum is the same as on the float32 matrix */
        const float *bc = e.bias_col, *res = e.res;
        for (int64_t j = j_lo; j < j_hi; j += GEMV_COLS) {
            int64_t w = min64(GEMV_COLS, j_hi - j);
            e.bias_col = bc ? bc + (j - j_lo) : NULL;
            e.res = res ? res + (j - j_lo) : NULL;
            if (!s->trans) {
                mn_wsrc_rows(J->bw, 0, J->k, j, w, buf, w);
                J->kr->gemv_n(J->k, w, x, buf, w, J->c + j, &e);
            } else {
                mn_wsrc_rows(J->bw, j, w, 0, J->k, buf, J->k);
                J->kr->gemv_t(J->k, w, x, buf, J->k, J->c + j, &e);
            }
        }
        return;
    }
    if (!s->trans)
        J->kr->gemv_n(J->k, j_hi - j_lo, x, s->b + j_lo, s->ldb,
                      J->c + j_lo, &e);
    else
        J->kr->gemv_t(J->k, j_hi - j_lo, x, s->b + j_lo * s->ldb, s->ldb,
                      J->c + j_lo, &e);
}

static void run_region(const job *J, int64_t i_lo, int64_t i_hi,
                       int64_t j_lo, int64_t j_hi, float *bp)
{
    float *ap = NULL; /* the decoded A micro-panel (aw) */
    if (J->aw) {
        ap = bp;
        bp += (int64_t)J->kr->mr * KC;
    }
    const mn_kernels_f32 *kr = J->kr;
    const int MR = kr->mr, NR = kr->nr;
    const float *bias_r = J->epi.bias && !J->epi.bias_per_col ? J->epi.bias
                                                               : NULL;
    const float *bias_c = J->epi.bias && J->epi.bias_per_col ? J->epi.bias
                                                              : NULL;
    for (int64_t j0 = j_lo; j0 < j_hi; j0 += NC) {
        int64_t nc = min64(NC, j_hi - j0);
        /* panels of equal width in whole vectors (49 columns: 32 + 17, not
         * 48 + 1, whose one-vector tile is bound by its broadcasts) */
        int64_t tw = ceil_div(nc, ceil_div(nc, NR));
        tw = min64(NR, round_up(tw, kr->vec));
        for (int64_t p0 = 0; p0 < J->k || p0 == 0; p0 += J->kcb) {
            int64_t kc = min64(J->kcb, J->k - p0);
            mn_tile_epi e = {.alpha = J->alpha, .beta = J->beta,
                             .accumulate = p0 > 0, .last = p0 + kc >= J->k,
                             .act = J->epi.act};
            if (!J->direct)
                J->bs->pack(J->bs, p0, kc, j0, nc, (int)tw, kr->vec, bp);
            for (int64_t i0 = i_lo; i0 < i_hi; i0 += MR) {
                int mr = (int)min64(MR, i_hi - i0);
                const float *a = J->a + i0 * J->lda + p0;
                int64_t lda = J->lda;
                float *crow = J->c + i0 * J->ldc;
                if (ap) { /* decoded once, used by every column tile */
                    mn_wsrc_rows(J->aw, J->aw_row0 + i0, mr, p0, kc, ap, kc);
                    a = ap;
                    lda = kc;
                }
                e.bias_row = bias_r ? bias_r + i0 : NULL;
                for (int64_t jr = 0; jr < nc; jr += tw) {
                    int w = (int)min64(tw, nc - jr);
                    const float *b;
                    int64_t ldb;
                    if (J->direct) {
                        b = J->bs->b + p0 * J->bs->ldb + j0 + jr;
                        ldb = J->bs->ldb;
                    } else {
                        b = bp + jr * kc;
                        ldb = round_up(w, kr->vec);
                    }
                    e.bias_col = bias_c ? bias_c + j0 + jr : NULL;
                    e.res = J->epi.residual
                                ? J->epi.residual + i0 * J->ldc + j0 + jr
                                : NULL;
                    kr->tile(kc, a, lda, b, ldb, crow + j0 + jr, J->ldc, mr,
                             w, &e);
                }
            }
            if (J->k == 0)
                break;
        }
    }
}

static void task(void *arg, int64_t t, int thread)
{
    const job *J = arg;
    int64_t i_lo = (t / J->ntn) * J->tm, j_lo = (t % J->ntn) * J->tn;
    int64_t i_hi = min64(J->m, i_lo + J->tm), j_hi = min64(J->n, j_lo + J->tn);
    float *bp = J->pool ? mn_pool_scratch(J->pool, thread) : J->scratch0;
    if (J->gemv == 1) {
        run_gemv(J, j_lo, j_hi, bp);
        return;
    }
    if (J->gemv == 2) {
        run_gemv_col(J, i_lo, i_hi, bp);
        return;
    }
    run_region(J, i_lo, i_hi, j_lo, j_hi, bp);
}

/* Splits C into regions, up to 4 per thread so that the pool can balance
 * them when a thread falls behind (or one region on one thread). Columns
 * first (each region then packs only its own B columns), rows when there
 * are few columns. */
static void partition(job *J, int threads)
{
    const mn_kernels_f32 *kr = J->kr;
    double macs = (double)J->m * (double)J->n * (double)(J->k ? J->k : 1);
    J->tm = J->m;
    J->tn = J->n;
    if (threads > 1 &&
        macs >= (J->gemv ? MIN_PAR_MACS_GEMV : MIN_PAR_MACS)) {
        int64_t gran = J->gemv ? 4 * kr->vec : kr->vec, parts = 4 * threads;
        if (J->gemv == 2) {
            J->tm = round_up(ceil_div(J->m, parts), 4);
        } else if (J->gemv || J->n >= threads * 2 * (int64_t)kr->nr ||
                   J->m < threads * (int64_t)kr->mr) {
            while (parts > threads && !J->gemv &&
                   J->n < parts * 2 * (int64_t)kr->nr)
                parts -= threads;
            J->tn = round_up(ceil_div(J->n, parts), gran);
        } else {
            while (parts > threads && J->m < parts * 2 * (int64_t)kr->mr)
                parts -= threads;
            J->tm = round_up(ceil_div(J->m, parts), kr->mr);
        }
    }
    J->ntn = ceil_div(J->n, J->tn);
}

void mn_sgemm_run(const mn_kernels_f32 *kr, mn_pool *pool, int64_t m,
                  int64_t n, int64_t k, float alpha, const float *a,
                  int64_t lda, const mn_wsrc *aw, int64_t aw_row0,
                  const mn_bsrc *bs, float beta, float *c, int64_t ldc,
                  const mn_epilogue *epi, void *scratch)
{
    if (m <= 0 || n <= 0)
        return;
    job J = {.kr = kr, .m = m, .n = n, .k = k, .kcb = k_block(k),
             .alpha = alpha, .beta = beta, .a = a, .lda = lda, .aw = aw,
             .aw_row0 = aw_row0, .bs = bs, .c = c, .ldc = ldc, .pool = pool,
             .scratch0 = scratch};
    if (epi)
        J.epi = *epi;
    int plain = bs->pack == mn_bsrc_pack_matrix;
    if (bs->pack == pack_wsrc)
        J.bw = ((const mn_wsrc_bsrc *)bs)->w;
    if ((plain || J.bw) && m == 1 && k > 0)
        J.gemv = 1;
    else if ((plain || J.bw) && n == 1 && k > 0 && ldc == 1 &&
             (bs->trans || J.bw || bs->ldb == 1))
        J.gemv = 2; /* b's column is contiguous either way */
    /* B read in place: one row panel (nothing to reuse a packed copy for),
     * or rows of at most 1024 floats (pointwise convs on ≤ 32×32 planes):
     * then kc consecutive rows are a short contiguous stream, and packing
     * them costs more (a memcpy per 48-column row) than it saves */
    J.direct = plain && !bs->trans && (m <= kr->mr || bs->ldb <= 1024);
    if (pool && mn_pool_scratch_bytes(pool) <
                    mn_sgemm_thread_scratch(kr, n, k) +
                        mn_sgemm_wsrc_extra(kr, m, n, k, aw != NULL,
                                            J.bw != NULL))
        pool = J.pool = NULL; /* a huge k: the caller's scratch, alone */
    partition(&J, mn_pool_threads(pool));
    mn_pool_run(pool, task, &J, ceil_div(m, J.tm) * J.ntn);
}

/* ---- public entry ---- */

size_t mn_sgemm_scratch(int trans_a, int trans_b, int64_t m, int64_t n,
                        int64_t k)
{
    const mn_kernels_f32 *kr = mn_kernels_f32_active();
    (void)trans_b;
    if (m <= 0 || n <= 0)
        return 0;
    if (!kr)
        return mn_ref_gemm_f32_scratch(m, n, k);
    size_t s = mn_sgemm_thread_scratch(kr, n, k);
    if (trans_a)
        s += (size_t)round_up(m * k, 16) * sizeof(float);
    return s;
}

void mn_act_f32(const mn_act *act, const float *x, float *y, int64_t n)
{
    const mn_kernels_f32 *kr = mn_kernels_f32_active();
    if (kr && kr->act) {
        kr->act(act, x, NULL, y, n);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        y[i] = mn_act_scalar(act, x[i]);
}

void mn_act_apply(const mn_act *act, const float *residual, float *y,
                  int64_t n)
{
    const mn_kernels_f32 *kr = mn_kernels_f32_active();
    if (kr && kr->act && act && act->kind != MN_ACT_NONE) {
        kr->act(act, y, residual, y, n);
        return;
    }
    if (residual)
        for (int64_t i = 0; i < n; i++)
            y[i] += residual[i];
    if (!act || act->kind == MN_ACT_NONE)
        return;
    for (int64_t i = 0; i < n; i++)
        y[i] = mn_act_scalar(act, y[i]);
}

void mn_sgemm(mn_pool *pool, int trans_a, int trans_b, int64_t m, int64_t n,
              int64_t k, float alpha, const float *a, int64_t lda,
              const float *b, int64_t ldb, float beta, float *c, int64_t ldc,
              const mn_epilogue *epi, void *scratch)
{
    const mn_kernels_f32 *kr = mn_kernels_f32_active();
    if (m <= 0 || n <= 0)
        return;
    if (!kr) {
        mn_ref_gemm_f32(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb,
                        beta, c, ldc, scratch);
        if (epi && (epi->bias || epi->residual ||
                    epi->act.kind != MN_ACT_NONE))
            for (int64_t i = 0; i < m; i++) {
                float *ci = c + i * ldc;
                if (epi->bias)
                    for (int64_t j = 0; j < n; j++)
                        ci[j] += epi->bias[epi->bias_per_col ? j : i];
                mn_act_apply(&epi->act,
                             epi->residual ? epi->residual + i * ldc : NULL,
                             ci, n);
            }
        return;
    }
    float *s = scratch;
    if (trans_a) {
        /* op(a) is a's transpose: copy it row-major once */
        for (int64_t i = 0; i < m; i++)
            for (int64_t p = 0; p < k; p++)
                s[i * k + p] = a[p * lda + i];
        a = s;
        lda = k;
        s += round_up(m * k, 16);
    }
    mn_bsrc bs = {.pack = mn_bsrc_pack_matrix, .b = b, .ldb = ldb,
                  .trans = trans_b};
    mn_sgemm_run(kr, pool, m, n, k, alpha, a, lda, NULL, 0, &bs, beta, c, ldc,
                 epi, s);
}

/* ---- B from a weight source ---- */

static size_t b_floats(const mn_wsrc *bw)
{
    return (size_t)round_up(bw->rows * bw->cols, 16);
}

size_t mn_sgemm_wsrc_scratch(int trans_a, int trans_b, int64_t m, int64_t n,
                             int64_t k, const mn_wsrc *bw)
{
    const mn_kernels_f32 *kr = mn_kernels_f32_active();
    if (m <= 0 || n <= 0)
        return 0;
    if (!kr || trans_a) /* B decoded whole, then mn_sgemm */
        return b_floats(bw) * sizeof(float) +
               mn_sgemm_scratch(trans_a, trans_b, m, n, k);
    return mn_sgemm_thread_scratch(kr, n, k) +
           mn_sgemm_wsrc_extra(kr, m, n, k, 0, 1);
}

void mn_sgemm_wsrc(mn_pool *pool, int trans_a, int trans_b, int64_t m,
                   int64_t n, int64_t k, float alpha, const float *a,
                   int64_t lda, const mn_wsrc *bw, float beta, float *c,
                   int64_t ldc, const mn_epilogue *epi, void *scratch)
{
    const mn_kernels_f32 *kr = mn_kernels_f32_active();
    if (m <= 0 || n <= 0)
        return;
    if (!kr || trans_a) {
        float *b = scratch;
        mn_wsrc_decode(bw, 0, bw->rows * bw->cols, b);
        mn_sgemm(pool, trans_a, trans_b, m, n, k, alpha, a, lda, b, bw->cols,
                 beta, c, ldc, epi, b + b_floats(bw));
        return;
    }
    mn_wsrc_bsrc bs;
    mn_wsrc_bsrc_init(&bs, bw, trans_b);
    mn_sgemm_run(kr, pool, m, n, k, alpha, a, lda, NULL, 0, &bs.base, beta,
                 c, ldc, epi, scratch);
}
