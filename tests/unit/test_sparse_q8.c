/* Sparse 8-bit kernels (src/kernels/spmm_q8*, the sparse path of
 * src/ops/qconv.c): the VNNI kernel against the reference one on random
 * tiles (partial lanes, partial sums, every output type, empty rows);
 * QLinearConv / ConvInteger forced sparse against the dense reference
 * path, bit for bit, at ISA ref and every fast level, 1 and 2 threads,
 * over random shapes (odd channel counts, channels not a multiple of 4,
 * several channel blocks, strides, dilation, padding, groups) and weight
 * sparsities 0, 0.1, 0.5, 0.9 and 1; the sparse layout; the automatic
 * rule; then sessions: forced sparse equals dense and run()
 * allocates nothing, and the automatic choice follows the density. */
#include <stdlib.h>
#include <string.h>
#include "core/session.h"
#include "kernels/spmm_q8.h"
#include "ops/conv_sparse.h"
#include "q8_test_util.h"

extern long mn_test_allocs;

static const double q8_sparsities[] = {0.0, 0.1, 0.5, 0.9, 1.0};

/* ---- the kernel: VNNI vs reference ---- */

TEST(sparse_q8_conv_kernel_vs_ref)
{
    const mn_spq8_kernels *ref = mn_spq8_kernels_ref();
    const mn_spq8_kernels *fast = mn_spq8_kernels_avx512vnni();
    if (!fast || mn_isa_detect() < MN_ISA_AVX512VNNI)
        return; /* nothing to compare on this CPU */
    otu_seed(21);
    for (int iter = 0; iter < 150; iter++) {
        mn_spq8_tile t = {.nv = (int)otu_int(1, 4)};
        int64_t mr = otu_int(1, 11), span = otu_int(1, 3000), ny = 0;
        int64_t ldp = 16 * t.nv + otu_int(0, 3) * 16;
        int first = iter % 3 != 0, last = iter % 2 == 0;
        int out = iter % 3; /* uint8, int8, int32 */
        for (int v = 0; v < t.nv; v++) { /* random real lanes, packed */
            t.mask[v] = iter % 4 ? (uint16_t)otu_rand() : 0xFFFF;
            t.yoff[v] = ny;
            ny += __builtin_popcount(t.mask[v]);
        }
        int64_t rs = ny + otu_int(0, 5), nq = mr * otu_int(0, 40);
        size_t ybytes = (size_t)(mr * rs + 1) * 4;
        uint8_t *base = malloc((size_t)(4 * span + 64 * t.nv));
        int32_t *ptr = malloc((size_t)(mr + 1) * 4);
        int32_t *off = malloc((size_t)(nq + 1) * 4);
        int32_t *w4 = malloc((size_t)(nq + 1) * 4);
        int32_t *p0 = malloc((size_t)(mr * ldp) * 4);
        int32_t *p1 = malloc((size_t)(mr * ldp) * 4);
        char *y0 = malloc(ybytes), *y1 = malloc(ybytes);
        int32_t *add = malloc((size_t)mr * 4);
        float *mult = malloc((size_t)mr * 4);
        int32_t *addi = malloc((size_t)mr * 4);
        for (int64_t i = 0; i < 4 * span + 64 * t.nv; i++)
            base[i] = (uint8_t)otu_rand();
        for (int64_t i = 0; i < nq; i++) {
            off[i] = (int32_t)(4 * otu_int(0, span - 1));
            w4[i] = (int32_t)otu_rand();
        }
        ptr[0] = 0; /* rows of random lengths, some empty */
        for (int64_t i = 1; i < mr; i++)
            ptr[i] = (int32_t)otu_int(ptr[i - 1], nq);
        ptr[mr] = (int32_t)nq;
        for (int64_t i = 0; i < mr * ldp; i++)
            p0[i] = p1[i] = (int32_t)otu_int(-100000, 100000);
        for (int64_t i = 0; i < mr; i++) {
            add[i] = (int32_t)otu_int(-30000, 30000);
            mult[i] = 0.0005f + 0.002f * (otu_float() + 1);
            addi[i] = (int32_t)otu_int(-30000, 30000);
        }
        memset(y0, 0x5A, ybytes);
        memset(y1, 0x5A, ybytes);
        mn_qgemm_epi e = {.add = add, .mult = out == 2 ? NULL : mult,
                          .add_i32 = addi, .yzp = out == 1 ? -3 : 7,
                          .lo = out == 1 ? -128 : 0, .hi = out == 1 ? 127 : 255,
                          .out_signed = out == 1};
        ref->conv(mr, ptr, off, w4, base, &t, p0, ldp, first, last, &e, 0, y0,
                  rs);
        fast->conv(mr, ptr, off, w4, base, &t, p1, ldp, first, last, &e, 0,
                   y1, rs);
        if (last) {
            CHECK(memcmp(y0, y1, ybytes) == 0);
        } else {
            for (int64_t i = 0; i < mr; i++)
                CHECK(memcmp(p0 + i * ldp, p1 + i * ldp,
                             (size_t)(16 * t.nv) * 4) == 0);
        }
        free(base), free(ptr), free(off), free(w4), free(p0), free(p1);
        free(y0), free(y1), free(add), free(mult), free(addi);
    }
}

/* ---- the ops, forced sparse, against the dense reference ---- */

TEST(sparse_q8_conv_vs_dense_ref)
{
    mn_isa lv[4];
    int nl = fast_levels(lv);
    mn_ctx ctx = {{0}};
    mn_pool *pool = NULL;
    CHECK_OK(mn_pool_create(2, 0, &pool, &ctx), &ctx);
    otu_seed(22);
    for (int it = 0; it < 100; it++) {
        cparams q = random_conv(it % 4 == 2 ? 0 : it % 4); /* no depthwise */
        q.sparsity = q8_sparsities[it % 5];
        check_conv(&q, it % 7 != 6, pool, lv, nl, MN_SPARSE_FORCE);
    }
    /* k not a multiple of 4 over several k blocks, odd channel counts,
     * groups; big enough for the pool; a depthwise one stays dense */
    cparams big[] = {
        {.n = 1, .c = 70, .h = 9, .w = 11, .m = 37, .kh = 3, .kw = 3, .s = 1,
         .d = 1, .pt = 1, .pl = 1, .pb = 1, .pr = 1, .group = 1, .bias = 1,
         .per_channel = 1},
        {.n = 2, .c = 66, .h = 13, .w = 10, .m = 46, .kh = 3, .kw = 3,
         .s = 2, .d = 1, .pt = 1, .pl = 0, .pb = 1, .pr = 1, .group = 2,
         .xs = 1, .ys = 1},
        {.n = 1, .c = 64, .h = 24, .w = 23, .m = 64, .kh = 3, .kw = 3,
         .s = 1, .d = 1, .pt = 1, .pl = 1, .pb = 1, .pr = 1, .group = 1,
         .bias = 1, .wu = 1},
        {.n = 1, .c = 131, .h = 17, .w = 19, .m = 75, .kh = 1, .kw = 1,
         .s = 1, .d = 1, .group = 1, .bias = 1, .per_channel = 1},
        {.n = 1, .c = 24, .h = 17, .w = 20, .m = 24, .kh = 3, .kw = 3,
         .s = 1, .d = 1, .pt = 1, .pl = 1, .pb = 1, .pr = 1, .group = 24},
        /* several channel blocks (partial sums): see the next test */
        {.n = 1, .c = 402, .h = 7, .w = 7, .m = 21, .kh = 3, .kw = 3,
         .s = 1, .d = 1, .pt = 1, .pl = 1, .pb = 1, .pr = 1, .group = 1,
         .bias = 1, .xs = 1},
        {.n = 2, .c = 522, .h = 9, .w = 8, .m = 13, .kh = 3, .kw = 3,
         .s = 2, .d = 1, .pt = 1, .pl = 1, .pb = 0, .pr = 1, .group = 1,
         .wu = 1, .per_channel = 1}};
    for (size_t i = 0; i < sizeof big / sizeof *big; i++)
        for (int sp = 0; sp < 5; sp++) {
            big[i].sparsity = q8_sparsities[sp];
            check_conv(&big[i], 1, pool, lv, nl, MN_SPARSE_FORCE);
        }
    mn_pool_destroy(pool);
}

/* The geometry the cases above rely on: k cut into several channel
 * blocks, stride phases, the virtual pixels' row padding. */
TEST(sparse_q8_layout)
{
    mn_ctx ctx = {{0}};
    mn_spconv_q8 *s = NULL;
    mn_conv_params p = {.n = 1, .c = 402, .h = 7, .w = 7, .m = 21, .oh = 7,
                        .ow = 7, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1,
                        .dw = 1, .pt = 1, .pl = 1, .group = 1};
    uint8_t *w = calloc((size_t)(21 * 402 * 9), 1);
    if (!w)
        return;
    w[0] = 1;               /* row 0, channel 0, tap (0, 0) */
    w[21 * 402 * 9 - 1] = 5; /* row 20, channel 401, tap (2, 2) */
    CHECK_OK(mn_spconv_q8_create(&p, w, 0, &s, &ctx), &ctx);
    if (s) {
        CHECK(s->nqb > 1);
        CHECK_EQ_INT(s->c4n, 101);
        CHECK_EQ_INT(s->wq, 9);             /* 7 + 2 padding columns */
        CHECK_EQ_INT(s->nvp, 6 * 9 + 7);
        CHECK_EQ_INT(s->nnzq, 2);
        CHECK_EQ_INT(s->off[0], 0);
        /* quad 100 (channels 400..403) at tap (2, 2) */
        CHECK_EQ_INT(s->off[1], (100 * 9 * 9 + 2 * 9 + 2) * 4);
        CHECK_EQ_INT(s->w4[1], 5 << 8); /* channel 401 = byte 1 */
    }
    mn_spconv_q8_destroy(s);
    free(w);
}

/* ---- sessions ---- */

static int q8_val(mn_graph *g, const char *name, mn_dtype dt, int nd,
                  const int64_t *d, int constant)
{
    mn_ctx ctx = {{0}};
    int v = -1;
    CHECK_OK(mn_graph_add_value(g, name, dt, nd, d, &v, &ctx), &ctx);
    if (v >= 0 && constant)
        CHECK_OK(mn_tensor_create(dt, nd, d, &g->values[v].init, &ctx),
                 &ctx);
    return v;
}

/* x uint8 [1,24,15,13] → QLinearConv 3×3 pad 1 (int8 weights [40,24,3,3],
 * sparsity sp, per-channel scales, bias) → y uint8. */
static mn_graph *q8_conv_graph(double sp)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    int64_t m = 40, one = 1;
    int nd, y;
    CHECK_OK(mn_graph_create(&g, &ctx), &ctx);
    if (!g)
        return NULL;
    int in[9] = {
        q8_val(g, "x", MN_DT_U8, 4, (int64_t[]){1, 24, 15, 13}, 0),
        q8_val(g, "xs", MN_DT_F32, 0, &one, 1),
        q8_val(g, "xz", MN_DT_U8, 0, &one, 1),
        q8_val(g, "w", MN_DT_I8, 4, (int64_t[]){40, 24, 3, 3}, 1),
        q8_val(g, "ws", MN_DT_F32, 1, &m, 1),
        q8_val(g, "wz", MN_DT_I8, 1, &m, 1),
        q8_val(g, "ys", MN_DT_F32, 0, &one, 1),
        q8_val(g, "yz", MN_DT_U8, 0, &one, 1),
        q8_val(g, "b", MN_DT_I32, 1, &m, 1)};
    y = q8_val(g, "y", MN_DT_U8, -1, NULL, 0);
    for (int i = 0; i < 9; i++)
        if (in[i] < 0 || (i && !g->values[in[i]].init)) {
            mn_graph_destroy(g);
            return NULL;
        }
    mn_tensor *w = g->values[in[3]].init;
    for (int64_t i = 0; i < mn_tensor_numel(w); i++)
        ((int8_t *)w->data)[i] = (int8_t)otu_rand();
    sparsify(w, 0, sp);
    *(float *)g->values[in[1]].init->data = 0.02f;
    *(uint8_t *)g->values[in[2]].init->data = 9;
    for (int64_t i = 0; i < m; i++) {
        ((float *)g->values[in[4]].init->data)[i] = 0.003f + 0.0001f * i;
        ((int32_t *)g->values[in[8]].init->data)[i] =
            (int32_t)otu_int(-3000, 3000);
    }
    *(float *)g->values[in[6]].init->data = 0.2f;
    *(uint8_t *)g->values[in[7]].init->data = 100;
    CHECK_OK(mn_graph_add_node(g, "conv", "QLinearConv", "", 13, in, 9, &y,
                               1, &nd, &ctx), &ctx);
    otu_ints(&g->nodes[nd], "pads", (int64_t[]){1, 1, 1, 1}, 4);
    g->inputs = malloc(sizeof(int));
    g->outputs = malloc(sizeof(int));
    g->inputs[0] = in[0];
    g->outputs[0] = y;
    g->n_inputs = g->n_outputs = 1;
    mn_graph_relink(g);
    CHECK_OK(mn_graph_toposort(g, &ctx), &ctx);
    return g;
}

TEST(sparse_q8_session_matches_dense_without_allocating)
{
    mn_ctx ctx = {{0}};
    mn_tensor *x = NULL;
    otu_seed(23);
    mn_graph *g = q8_conv_graph(0.8);
    CHECK_OK(mn_tensor_create(MN_DT_U8, 4, (int64_t[]){1, 24, 15, 13}, &x,
                              &ctx), &ctx);
    if (!g || !x)
        goto out;
    for (int64_t i = 0; i < mn_tensor_numel(x); i++)
        ((uint8_t *)x->data)[i] = (uint8_t)otu_rand();
    for (int threads = 1; threads <= 2; threads++) {
        mn_session *sd = NULL, *ss = NULL;
        mn_session_opts od = {.threads = threads, .sparse = MN_SPARSE_DENSE};
        mn_session_opts os = {.threads = threads, .sparse = MN_SPARSE_FORCE};
        CHECK_OK(mn_session_create(g, &od, &sd, &ctx), &ctx);
        CHECK_OK(mn_session_create(g, &os, &ss, &ctx), &ctx);
        if (sd && ss) {
            const char *kd = mn_session_node_kernel(sd, 0);
            const char *ks = mn_session_node_kernel(ss, 0);
            CHECK(kd && !strcmp(kd, "dense"));
            CHECK(ks && !strcmp(ks, "sparse"));
            CHECK_OK(mn_session_run(sd, (const mn_tensor *const *)&x, 1,
                                    &ctx), &ctx);
            long before = mn_test_allocs;
            for (int rep = 0; rep < 3; rep++)
                CHECK_OK(mn_session_run(ss, (const mn_tensor *const *)&x, 1,
                                        &ctx), &ctx);
            CHECK_EQ_INT(mn_test_allocs - before, 0);
            const mn_tensor *a = mn_session_output(sd, 0);
            const mn_tensor *b = mn_session_output(ss, 0);
            CHECK(memcmp(a->data, b->data, mn_tensor_nbytes(a)) == 0);
            int64_t distinct = 0; /* a real output, not a constant one */
            for (int64_t i = 1; i < mn_tensor_numel(a); i++)
                distinct += ((const uint8_t *)a->data)[i] !=
                            ((const uint8_t *)a->data)[i - 1];
            CHECK(distinct > mn_tensor_numel(a) / 4);
        }
        mn_session_destroy(sd);
        mn_session_destroy(ss);
    }
out:
    mn_tensor_destroy(x);
    mn_graph_destroy(g);
}

TEST(sparse_q8_auto_choice_follows_density)
{
    mn_ctx ctx = {{0}};
    otu_seed(24);
    mn_graph *g95 = q8_conv_graph(0.95), *g0 = q8_conv_graph(0.0);
    mn_session *s95 = NULL, *s0 = NULL, *s95d = NULL;
    mn_session_opts o = {.sparse = MN_SPARSE_AUTO};
    mn_session_opts od = {.sparse = MN_SPARSE_DENSE};
    if (!g95 || !g0 || getenv("MINNOW_SPARSE"))
        goto out;
    CHECK_OK(mn_session_create(g95, &o, &s95, &ctx), &ctx);
    CHECK_OK(mn_session_create(g0, &o, &s0, &ctx), &ctx);
    CHECK_OK(mn_session_create(g95, &od, &s95d, &ctx), &ctx);
    if (!s95 || !s0 || !s95d)
        goto out;
    const char *k0 = mn_session_node_kernel(s0, 0);
    const char *k95 = mn_session_node_kernel(s95, 0);
    const char *k95d = mn_session_node_kernel(s95d, 0);
    CHECK(k0 && !strcmp(k0, "dense"));
    CHECK(k95d && !strcmp(k95d, "dense"));
    CHECK(k95 && !strcmp(k95, mn_isa_active() >= MN_ISA_AVX512VNNI
                                  ? "sparse" : "dense"));
out:
    mn_session_destroy(s95);
    mn_session_destroy(s0);
    mn_session_destroy(s95d);
    mn_graph_destroy(g95);
    mn_graph_destroy(g0);
}

/* The rule itself (src/ops/conv_sparse.h), at the level it was measured. */
TEST(sparse_q8_rule)
{
    mn_prepare_info a = {.sparse = MN_SPARSE_AUTO};
    mn_prepare_info f = {.sparse = MN_SPARSE_FORCE};
    mn_prepare_info d = {.sparse = MN_SPARSE_DENSE};
    int vnni = mn_isa_active() >= MN_ISA_AVX512VNNI;
    CHECK_EQ_INT(mn_sparse_q8_wanted(&a, 9, 1e9, 34, 100), vnni);
    CHECK_EQ_INT(mn_sparse_q8_wanted(&a, 9, 1e9, 50, 100), 0);
    CHECK_EQ_INT(mn_sparse_q8_wanted(&a, 9, 1e6, 59, 100), vnni);
    CHECK_EQ_INT(mn_sparse_q8_wanted(&a, 9, 1e6, 76, 100), 0);
    CHECK_EQ_INT(mn_sparse_q8_wanted(&a, 1, 1e6, 10, 100), 0); /* 1×1 */
    CHECK_EQ_INT(mn_sparse_q8_wanted(&f, 1, 1e9, 100, 100), 1);
    CHECK_EQ_INT(mn_sparse_q8_wanted(&d, 9, 1e6, 0, 100), 0);
}
