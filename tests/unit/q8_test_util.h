/* Helpers for the 8-bit kernel tests (test_kernels_q8.c, test_sparse_q8.c):
 * the ISA levels to force, random QLinearConv / ConvInteger cases (odd
 * sizes, groups, depthwise, pointwise, strides, dilation, padding; a
 * weight sparsity), running an op through infer → scratch → prepare →
 * forward as a session does, and the check that the prepared kernels give
 * the reference path's bytes. Header-only: each test file gets its own
 * copies of these static functions. */
#ifndef MN_TEST_Q8_TEST_UTIL_H
#define MN_TEST_Q8_TEST_UTIL_H

#include <stdlib.h>
#include <string.h>
#include "core/pool.h"
#include "kernels/qgemm.h"
#include "ops/ops.h"
#include "ops/qprep.h"
#include "ops_test_util.h"
#include "test.h"

extern const mn_op_def mn_opdef_qlinearconv, mn_opdef_convinteger;

/* The fast levels this CPU has (each forced in turn). */
static inline int fast_levels(mn_isa *lv)
{
    int n = 0;
    mn_isa cpu = mn_isa_detect();
    if (cpu >= MN_ISA_AVX2 && mn_kernels_q8_avx2())
        lv[n++] = MN_ISA_AVX2;
    if (cpu >= MN_ISA_AVX512VNNI && mn_kernels_q8_avx512vnni())
        lv[n++] = MN_ISA_AVX512VNNI;
    return n;
}

typedef struct cparams {
    int64_t n, c, h, w, m, kh, kw, s, d, pt, pl, pb, pr, group;
    int xs, wu, ys, per_channel, bias;
    double sparsity; /* fraction of weights set to zero */
    int want;        /* the state the VNNI level must build (0: any; 4:
                        channel-vector depthwise, on a CPU with VBMI; 5:
                        row tiles of a batch of 1×1 images) */
} cparams;

static inline cparams random_conv(int kind)
{
    cparams q = {.n = otu_int(1, 2), .h = otu_int(1, 12), .w = otu_int(1, 12),
                 .kh = otu_int(1, 5), .kw = otu_int(1, 5), .s = otu_int(1, 2),
                 .d = otu_int(1, 2), .pt = otu_int(0, 2), .pl = otu_int(0, 2),
                 .pb = otu_int(0, 2), .pr = otu_int(0, 2)};
    q.group = kind == 0 ? 1 : otu_int(2, 3);
    q.c = q.group * otu_int(1, 12);
    q.m = q.group * otu_int(1, 20);
    if (kind == 2) { /* depthwise */
        q.c = q.group = otu_int(2, 9);
        q.m = q.c * otu_int(1, 2);
    }
    if (kind == 3) { /* pointwise */
        q.kh = q.kw = q.s = 1;
        q.pt = q.pl = q.pb = q.pr = 0;
    }
    q.xs = (int)otu_int(0, 1);
    q.wu = (int)otu_int(0, 3) == 0; /* uint8 weights, zero point 128 */
    q.ys = (int)otu_int(0, 1);
    q.per_channel = (int)otu_int(0, 1);
    q.bias = (int)otu_int(0, 1);
    return q;
}

/* infer → scratch → prepare (session option `sparse`, MN_SPARSE_*) →
 * forward with x a run-time value (its data hidden until forward), as a
 * session does. Returns the output bytes (caller frees) or NULL; *fast:
 * 0 when prepare built no state, 1 for dense GEMM kernels, 2 for sparse
 * ones (the kernel name prepare gave), 3 for the direct convolution. */
static inline char *run_op(const mn_op_def *def, const mn_node *nd,
                           const mn_tensor *const *in, int n_in,
                           mn_pool *pool, int sparse, size_t *nbytes,
                           int *fast)
{
    mn_ctx ctx = {{0}};
    mn_tensor x = *in[0], out = {0}, *op = &out;
    const mn_tensor *cin[9];
    mn_prepared pp = {0};
    mn_prepare_info pi = {.sparse = sparse};
    void *priv, *scr = NULL;
    char *y = NULL;
    memcpy(cin, in, sizeof *cin * (size_t)n_in);
    x.data = NULL;
    cin[0] = &x;
    CHECK_OK(def->infer(nd, cin, n_in, &op, 1, &ctx), &ctx);
    size_t sb = def->scratch(nd, cin, n_in, (const mn_tensor *const *)&op, 1);
    CHECK_OK(def->prepare(nd, cin, n_in, (const mn_tensor *const *)&op, 1,
                          &pi, &pp, &ctx), &ctx);
    if (pp.scratch_bytes > sb) /* as the session sizes the step's scratch */
        sb = pp.scratch_bytes;
    priv = pp.priv;
    *fast = !priv ? 0 : pp.kernel && !strcmp(pp.kernel, "sparse") ? 2
                      : ((const mn_q8_prep *)priv)->dc ? 3
                      : ((const mn_q8_prep *)priv)->dwq ? 4
                      : ((const mn_q8_prep *)priv)->rw ? 5 : 1;
    *nbytes = mn_tensor_nbytes(&out);
    y = malloc(*nbytes ? *nbytes : 1);
    scr = mn_malloc_aligned(sb ? sb : 1);
    if (y && scr) {
        memset(y, 0xC3, *nbytes);
        out.data = y;
        x.data = in[0]->data;
        mn_exec ex = {.ctx = &ctx, .scratch = scr, .scratch_bytes = sb,
                      .pool = pool, .priv = priv};
        CHECK_OK(def->forward(nd, cin, n_in, &op, 1, &ex), &ctx);
    }
    mn_free_aligned(scr);
    if (pp.release)
        pp.release(priv);
    return y;
}

/* Zeroes a fraction `sparsity` of the weights (the stored zero: 0, or 128
 * for uint8 weights), and every 5th output channel whole. */
static inline void sparsify(mn_tensor *w, int wu, double sparsity)
{
    int64_t n = mn_tensor_numel(w), per = n / w->dims[0];
    if (sparsity <= 0)
        return;
    for (int64_t i = 0; i < n; i++)
        if ((double)(otu_rand() % 10000) < sparsity * 10000.0 ||
            i / per % 5 == 4)
            ((uint8_t *)w->data)[i] = wu ? 128 : 0;
}

/* Runs q (QLinearConv when qlinear, else ConvInteger) through the
 * reference path (ISA ref, dense) and then at every level lv[0..nl) (with
 * MN_ISA_REF first when sparse is forced), one thread and the pool, with
 * the session option `sparse`; every run must give the reference's bytes
 * and have built the state expected (sparse kernels when forced on a
 * non-depthwise conv). */
static inline void check_conv(const cparams *q, int qlinear, mn_pool *pool,
                              const mn_isa *lv, int nl, int sparse)
{
    mn_node nd;
    int64_t shh = q->h + q->pt + q->pb - q->d * (q->kh - 1) - 1;
    int64_t sww = q->w + q->pl + q->pr - q->d * (q->kw - 1) - 1;
    if (shh < 0 || sww < 0)
        return;
    otu_node(&nd, qlinear ? "QLinearConv" : "ConvInteger");
    otu_ints(&nd, "strides", (int64_t[]){q->s, q->s}, 2);
    otu_ints(&nd, "dilations", (int64_t[]){q->d, q->d}, 2);
    otu_ints(&nd, "pads", (int64_t[]){q->pt, q->pl, q->pb, q->pr}, 4);
    otu_int_attr(&nd, "group", q->group);
    int64_t nch = q->per_channel ? q->m : 1;
    mn_dtype xdt = q->xs ? MN_DT_I8 : MN_DT_U8;
    mn_dtype wdt = q->wu ? MN_DT_U8 : MN_DT_I8;
    mn_tensor *x = otu_random(xdt, 4, (int64_t[]){q->n, q->c, q->h, q->w});
    mn_tensor *w = otu_random(wdt, 4,
                              (int64_t[]){q->m, q->c / q->group, q->kh, q->kw});
    mn_tensor *xz = otu_random(xdt, 0, NULL);
    mn_tensor *wz = nch == 1 ? otu_tensor(wdt, 0, NULL)
                             : otu_tensor(wdt, 1, &nch);
    for (int64_t i = 0; wz && q->wu && i < nch; i++)
        ((uint8_t *)wz->data)[i] = 128;
    mn_tensor *yz = otu_random(q->ys ? MN_DT_I8 : MN_DT_U8, 0, NULL);
    mn_tensor *xsc = otu_tensor(MN_DT_F32, 0, NULL);
    mn_tensor *wsc = nch == 1 ? otu_tensor(MN_DT_F32, 0, NULL)
                              : otu_tensor(MN_DT_F32, 1, &nch);
    mn_tensor *ysc = otu_tensor(MN_DT_F32, 0, NULL);
    mn_tensor *b = q->bias ? otu_tensor(MN_DT_I32, 1, &q->m) : NULL;
    sparsify(w, q->wu, q->sparsity);
    ((float *)xsc->data)[0] = 0.02f + 0.01f * otu_float();
    for (int64_t i = 0; i < nch; i++)
        ((float *)wsc->data)[i] = 0.006f + 0.004f * otu_float();
    ((float *)ysc->data)[0] = 0.05f + 0.3f * (otu_float() + 1);
    for (int64_t i = 0; b && i < q->m; i++)
        ((int32_t *)b->data)[i] = (int32_t)otu_int(-20000, 20000);
    const mn_tensor *qin[9] = {x, xsc, xz, w, wsc, wz, ysc, yz, b};
    const mn_tensor *cin[4] = {x, w, xz, wz};
    const mn_op_def *def = qlinear ? &mn_opdef_qlinearconv
                                   : &mn_opdef_convinteger;
    const mn_tensor *const *in = qlinear ? qin : cin;
    int n_in = qlinear ? (q->bias ? 9 : 8) : 4, fast = 0;
    int forced = sparse == MN_SPARSE_FORCE;
    int dwise = q->group > 1 && q->group == q->c && q->m % q->c == 0;
    size_t nr = 0, nf = 0;
    mn_isa levels[MN_ISA_COUNT + 1];
    int nlv = 0;
    if (forced)
        levels[nlv++] = MN_ISA_REF;
    for (int l = 0; l < nl; l++)
        levels[nlv++] = lv[l];
    mn_isa_force(MN_ISA_REF);
    char *ref = run_op(def, &nd, in, n_in, NULL, MN_SPARSE_DENSE, &nr, &fast);
    CHECK(!fast);
    for (int l = 0; l < nlv && ref; l++) {
        mn_isa_force(levels[l]);
        for (int t = 0; t < 2; t++) {
            char *got = run_op(def, &nd, in, n_in, t ? pool : NULL, sparse,
                               &nf, &fast);
            if (forced && !dwise)
                CHECK_EQ_INT(fast, 2);
            else if (levels[l] != MN_ISA_REF)
                CHECK(fast);
            if (q->want && levels[l] == MN_ISA_AVX512VNNI &&
                (q->want != 4 || mn_cpu_has_avx512vbmi()))
                CHECK_EQ_INT(fast, q->want);
            CHECK(got && nf == nr);
            if (got && nf == nr && memcmp(got, ref, nr) != 0)
                mn_test_fail(__FILE__, __LINE__,
                             "%s %s%s: c%lld m%lld g%lld %lldx%lld k%lldx%lld "
                             "s%lld d%lld xs%d wu%d sparsity %.2f differs "
                             "from ref", def->name, mn_isa_name(levels[l]),
                             fast == 2 ? " sparse" : "", (long long)q->c,
                             (long long)q->m, (long long)q->group,
                             (long long)q->h, (long long)q->w,
                             (long long)q->kh, (long long)q->kw,
                             (long long)q->s, (long long)q->d, q->xs, q->wu,
                             q->sparsity);
            free(got);
        }
    }
    mn_isa_force(MN_ISA_COUNT);
    free(ref);
    mn_tensor *all[] = {x, w, xz, wz, yz, xsc, wsc, ysc, b};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        mn_tensor_destroy(all[i]);
    otu_node_free(&nd);
}

#endif
