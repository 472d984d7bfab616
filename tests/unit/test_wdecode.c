/* Compressed weights decoded on the fly (src/kernels/wsrc.h,
 * src/core/session_wdecode.c): a session that keeps float16/int4 weights
 * compact must give the same bits as one that folds them to float32, for
 * every thread count and ISA level (AVX-512, AVX2, reference), on random
 * layers
 * (Conv of every path: 1×1, k×k stride 1/2, grouped, depthwise, dilated;
 * Gemm transB 0/1 incl. one row and one column; stacked MatMul) and
 * every DequantizeLinear layout (per tensor with zero points, per axis on
 * either axis, blocked with and without inner elements, a 2-D view plus
 * Reshape, float32 and float16 scales). */
#include <stdlib.h>
#include <string.h>
#include "core/session.h"
#include "kernels/dispatch.h"
#include "ops/ops.h"
#include "quant/quant.h"
#include "ops_test_util.h"
#include "quant_build_util.h"
#include "test.h"

extern long mn_test_allocs;

typedef struct enc {
    int f16;      /* float16 values + Cast (else int4/uint4 + DQ) */
    int u4, zp;   /* uint4 codes; zero points */
    int sf16;     /* float16 scales (DQ gives float16, then Cast) */
    int mode;     /* 0 per tensor, 1 per axis, 2 blocked */
    int axis;     /* of the quantized tensor */
    int64_t blk;
    int view2d;   /* quantized as [d0, rest], Reshape back */
} enc;

static uint64_t wd_rng = 12345;

static uint32_t rnd(void)
{
    wd_rng = wd_rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(wd_rng >> 33);
}

static float rndf(float lo, float hi)
{
    return lo + (hi - lo) * (float)(rnd() & 0xffffff) / 16777216.0f;
}

static int add_const(qb *b, const char *nm, mn_dtype dt, int nd,
                     const int64_t *d, const void *data)
{
    mn_ctx ctx = {{0}};
    int v = -1;
    if (mn_q_add_const(b->g, nm, dt, nd, d, data, &v, &ctx) != MN_OK)
        mn_test_fail(__FILE__, __LINE__, "%s", ctx.msg);
    return v;
}

static int add_node1(qb *b, const char *op, const int *in, int n_in)
{
    mn_ctx ctx = {{0}};
    int out = -1, ni = -1;
    if (mn_q_add_value(b->g, op, MN_DT_F32, -1, &out, &ctx) != MN_OK ||
        mn_q_add_node(b->g, op, op, in, n_in, &out, 1, &ni, &ctx) != MN_OK)
        mn_test_fail(__FILE__, __LINE__, "%s", ctx.msg);
    return ni;
}

/* Random packed 4-bit values of n elements (odd n: last high nibble 0). */
static void *nibbles(int64_t n)
{
    uint8_t *p = malloc((size_t)(n + 1) / 2 + 1);
    for (int64_t i = 0; p && i < (n + 1) / 2; i++)
        p[i] = (uint8_t)rnd();
    if (p && (n & 1))
        p[n / 2] &= 0x0f;
    return p;
}

/* The weight of dims wd as a decode chain of constants; its value. */
static int add_weight(qb *b, int nd, const int64_t *wd, const enc *e)
{
    mn_ctx ctx = {{0}};
    int64_t n = 1, qd[MN_MAX_DIMS], sd[MN_MAX_DIMS];
    int qn = nd, ni, v;
    for (int k = 0; k < nd; k++)
        n *= wd[k];
    memcpy(qd, wd, sizeof qd[0] * (size_t)nd);
    if (e->view2d) {
        qn = 2;
        qd[1] = n / wd[0];
    }
    if (e->f16) {
        uint16_t *h = malloc((size_t)n * 2);
        for (int64_t i = 0; h && i < n; i++)
            h[i] = mn_f64_to_f16(rndf(-1, 1));
        v = add_const(b, "wh", MN_DT_F16, qn, qd, h);
        free(h);
        ni = add_node1(b, "Cast", &v, 1);
        mn_q_set_attr_int(b->g, ni, "to", MN_DT_F32, &ctx);
    } else {
        mn_dtype qt = e->u4 ? MN_DT_U4 : MN_DT_I4;
        int axis = e->axis < qn ? e->axis : qn - 1, sn = qn, in[3];
        int64_t ns = 1;
        void *q = nibbles(n);
        in[0] = add_const(b, "wq", qt, qn, qd, q);
        free(q);
        memcpy(sd, qd, sizeof sd);
        if (e->mode == 0)
            sn = 0;
        else if (e->mode == 1)
            sn = 1, sd[0] = qd[axis];
        else
            sd[axis] = (qd[axis] + e->blk - 1) / e->blk;
        for (int k = 0; k < sn; k++)
            ns *= sd[k];
        float *s = malloc((size_t)ns * 4);
        uint16_t *sh = malloc((size_t)ns * 2);
        for (int64_t i = 0; s && sh && i < ns; i++) {
            s[i] = rndf(0.001f, 0.2f);
            sh[i] = mn_f64_to_f16(s[i]);
        }
        in[1] = add_const(b, "ws", e->sf16 ? MN_DT_F16 : MN_DT_F32, sn, sd,
                          e->sf16 ? (void *)sh : (void *)s);
        free(s);
        free(sh);
        if (e->zp) {
            void *z = nibbles(ns);
            in[2] = add_const(b, "wz", qt, sn, sd, z);
            free(z);
        }
        ni = add_node1(b, "DequantizeLinear", in, e->zp ? 3 : 2);
        if (e->mode)
            mn_q_set_attr_int(b->g, ni, "axis", axis, &ctx);
        if (e->mode == 2)
            mn_q_set_attr_int(b->g, ni, "block_size", e->blk, &ctx);
        if (e->sf16) {
            v = b->g->nodes[ni].out[0];
            ni = add_node1(b, "Cast", &v, 1);
            mn_q_set_attr_int(b->g, ni, "to", MN_DT_F32, &ctx);
        }
    }
    v = b->g->nodes[ni].out[0];
    if (e->view2d) {
        int in[2] = {v, add_const(b, "shape", MN_DT_I64, 1,
                                  (int64_t[]){nd}, wd)};
        ni = add_node1(b, "Reshape", in, 2);
        v = b->g->nodes[ni].out[0];
    }
    return v;
}

static void random_enc(enc *e, int nd)
{
    static const int64_t blks[] = {3, 16, 32, 128};
    memset(e, 0, sizeof *e);
    e->f16 = rnd() % 4 == 0;
    e->u4 = rnd() % 3 == 0;
    e->zp = rnd() % 3 == 0;
    e->sf16 = rnd() % 2;
    e->mode = (int)(rnd() % 3);
    e->view2d = nd > 2 && rnd() % 2;
    e->axis = (int)(rnd() % 2);
    e->blk = blks[rnd() % 4];
}

/* Output of a session of g on x; its weight bytes and compactness. */
static mn_tensor *run(const mn_graph *g, const mn_tensor *x, int threads,
                      int weights, size_t *wb, int *c)
{
    mn_ctx ctx = {{0}};
    mn_session *s = NULL;
    mn_tensor *y = NULL;
    const mn_tensor *shapes[1] = {x};
    mn_session_opts o = {.threads = threads, .n_input_shapes = 1,
                         .input_shapes = shapes, .weights = weights,
                         .sparse = MN_SPARSE_DENSE};
    if (mn_session_create(g, &o, &s, &ctx) == MN_OK &&
        mn_session_run(s, &x, 1, &ctx) == MN_OK) {
        mn_tensor_clone(mn_session_output(s, 0), &y, &ctx);
        *wb = mn_session_weight_bytes(s);
        *c = mn_session_weights_compact(s);
    }
    if (!y)
        mn_test_fail(__FILE__, __LINE__, "run: %s", ctx.msg);
    mn_session_destroy(s);
    return y;
}

/* A fully connected layer forced on random_layer (NULL: all random). */
typedef struct fc_force {
    enc e;
    int64_t rows, k, n;
} fc_force;
static const fc_force *force;

/* A random layer with a random encoding of its weight: its graph, input. */
static mn_graph *random_layer(int kind, mn_tensor **xo, char *what,
                              size_t wl)
{
    mn_ctx ctx = {{0}};
    qb b = {0};
    enc e;
    int vx, vw, ni, in[3], nin = 2;
    int64_t xd[4], wd[4];
    int xn, wn;
    mn_graph_create(&b.g, &ctx);
    if (!b.g)
        return NULL;
    b.g->opset = 21;
    if (kind == 0) { /* Conv */
        int64_t g = 1, c, m, k = 1 + 2 * (rnd() % 3), s = 1 + rnd() % 2;
        int dw = rnd() % 5 == 0, dil = rnd() % 8 == 0 ? 2 : 1;
        c = 1 + rnd() % 24;
        m = 1 + rnd() % 40;
        if (dw) {
            g = c;
            m = c * (1 + rnd() % 2);
        } else if (rnd() % 4 == 0) {
            g = 2;
            c *= 2;
            m = 2 * (1 + rnd() % 20);
        }
        xd[0] = 1 + rnd() % 2, xd[1] = c;
        xd[2] = 3 + rnd() % 14 + (dil == 2 ? 8 : 0);
        xd[3] = 3 + rnd() % 14 + (dil == 2 ? 8 : 0);
        wd[0] = m, wd[1] = c / g, wd[2] = k, wd[3] = k;
        xn = wn = 4;
        random_enc(&e, 4);
        snprintf(what, wl, "Conv x[%lld,%lld,%lld,%lld] w[%lld,%lld,%lld,"
                 "%lld] s%lld g%lld d%d", (long long)xd[0], (long long)c,
                 (long long)xd[2], (long long)xd[3], (long long)m,
                 (long long)(c / g), (long long)k, (long long)k,
                 (long long)s, (long long)g, dil);
        vx = qb_value(&b, "x", xn, xd);
        vw = add_weight(&b, wn, wd, &e);
        in[0] = vx, in[1] = vw;
        if (rnd() % 2) {
            float bias[80];
            for (int i = 0; i < m; i++)
                bias[i] = rndf(-1, 1);
            in[nin++] = add_const(&b, "bias", MN_DT_F32, 1, &m, bias);
        }
        ni = add_node1(&b, "Conv", in, nin);
        qb_attr(&b, ni, "strides", MN_ATTR_INTS, 0, (int64_t[]){s, s}, 2);
        qb_attr(&b, ni, "dilations", MN_ATTR_INTS, 0,
                (int64_t[]){dil, dil}, 2);
        qb_attr(&b, ni, "pads", MN_ATTR_INTS, 0,
                (int64_t[]){k / 2, k / 2, k / 2, k / 2}, 4);
        qb_attr(&b, ni, "group", MN_ATTR_INT, g, NULL, 0);
        if (rnd() % 2) { /* a fused Relu */
            int v = b.g->nodes[ni].out[0];
            ni = add_node1(&b, "Relu", &v, 1);
        }
    } else { /* Gemm (kind 1) or MatMul (kind 2) */
        int64_t rows = rnd() % 3 == 0 ? 1 : 1 + rnd() % 20;
        int64_t k = 1 + rnd() % 300, n = rnd() % 5 == 0 ? 1 : 1 + rnd() % 90;
        int tb = kind == 1 && rnd() % 2;
        if (force)
            rows = force->rows, k = force->k, n = force->n, tb = 1;
        if (kind == 2 && rnd() % 2) { /* stacked [2, rows, k] */
            xd[0] = 2, xd[1] = rows, xd[2] = k;
            xn = 3;
        } else {
            xd[0] = rows, xd[1] = k;
            xn = 2;
        }
        wd[0] = tb ? n : k, wd[1] = tb ? k : n;
        wn = 2;
        random_enc(&e, 2);
        if (force)
            e = force->e;
        snprintf(what, wl, "%s x[%lld,%lld] w[%lld,%lld] transB %d",
                 kind == 1 ? "Gemm" : "MatMul", (long long)rows,
                 (long long)k, (long long)wd[0], (long long)wd[1], tb);
        vx = qb_value(&b, "x", xn, xd);
        vw = add_weight(&b, wn, wd, &e);
        in[0] = vx, in[1] = vw;
        if (kind == 1 && rnd() % 2) {
            float *bias = malloc((size_t)n * 4);
            for (int i = 0; bias && i < n; i++)
                bias[i] = rndf(-1, 1);
            in[nin++] = add_const(&b, "bias", MN_DT_F32, 1, &n, bias);
            free(bias);
        }
        ni = add_node1(&b, kind == 1 ? "Gemm" : "MatMul", in, nin);
        if (tb)
            qb_attr(&b, ni, "transB", MN_ATTR_INT, 1, NULL, 0);
    }
    size_t l = strlen(what);
    if (e.f16)
        snprintf(what + l, wl - l, " fp16%s", e.view2d ? " 2-D+Reshape" : "");
    else
        snprintf(what + l, wl - l, " %s%s%s%s mode %d axis %d blk %lld",
                 e.u4 ? "uint4" : "int4", e.zp ? " zp" : "",
                 e.sf16 ? " f16-scales" : "",
                 e.view2d ? " 2-D+Reshape" : "", e.mode, e.axis,
                 (long long)e.blk);
    qb_io(&b, vx, b.g->nodes[ni].out[0]);
    *xo = otu_random(MN_DT_F32, xn, xd);
    return b.g;
}

/* compact vs float bits, 1-3 threads, at the default ISA level, AVX2
 * and the reference level */
static int check_layer(const mn_graph *g, const mn_tensor *x,
                       const char *what)
{
    static const mn_isa levels[] = {MN_ISA_COUNT, MN_ISA_AVX2, MN_ISA_REF};
    int bad = 0;
    for (int isa = 0; isa < 3; isa++) {
        mn_isa_force(levels[isa]);
        size_t wb_f = 0, wb_c = 0;
        int cf = 1, cc = 0;
        mn_tensor *ref = run(g, x, 1, MN_WEIGHTS_FLOAT, &wb_f, &cf);
        for (int t = 1; ref && t <= 3; t++) {
            mn_tensor *y = run(g, x, t, MN_WEIGHTS_COMPACT, &wb_c, &cc);
            if (!y || mn_tensor_nbytes(y) != mn_tensor_nbytes(ref) ||
                memcmp(y->data, ref->data, mn_tensor_nbytes(ref))) {
                mn_test_fail(__FILE__, __LINE__,
                             "%s: compact weights differ from folded "
                             "(%d threads, isa %s)", what, t,
                             mn_isa_name(mn_isa_active()));
                bad = 1;
            }
            mn_tensor_destroy(y);
        }
        /* the folded float32 copy is gone */
        if (ref && (cf || !cc || wb_c >= wb_f)) {
            mn_test_fail(__FILE__, __LINE__,
                         "%s: resident weight bytes compact %zu, float %zu",
                         what, wb_c, wb_f);
            bad = 1;
        }
        mn_tensor_destroy(ref);
    }
    mn_isa_force(MN_ISA_COUNT);
    return bad;
}

TEST(wdecode_compact_weights_match_folded_bits)
{
    int failed = 0;
    wd_rng = 2026;
    /* batch-1 Linear layers on the fused GEMV (dot products straight from
     * float16 / int4 rows): blocked int4 along whole rows */
    for (int it = 0; it < 12 && failed < 5; it++) {
        static const int64_t ks[] = {64, 200, 512, 1000};
        fc_force f = {.e = {.f16 = it % 6 == 5, .u4 = it % 3 == 1,
                            .sf16 = it % 2, .mode = 2, .axis = 1,
                            .blk = it % 4 == 0 ? 16 : it % 4 == 1 ? 32 : 128},
                      .rows = 1, .k = ks[it % 4], .n = 1 + rnd() % 150};
        char what[300];
        mn_tensor *x = NULL;
        force = &f;
        mn_graph *g = random_layer(1, &x, what, sizeof what);
        force = NULL;
        CHECK(g && x);
        if (g && x)
            failed += check_layer(g, x, what);
        mn_tensor_destroy(x);
        mn_graph_destroy(g);
    }
    for (int it = 0; it < 90 && failed < 5; it++) {
        char what[300];
        mn_tensor *x = NULL;
        mn_graph *g = random_layer(it % 3, &x, what, sizeof what);
        CHECK(g && x);
        if (g && x)
            failed += check_layer(g, x, what);
        mn_tensor_destroy(x);
        mn_graph_destroy(g);
    }
}

/* A Conv whose int4 weight chain (minnow's own int4 mode) also feeds a
 * second consumer: that chain must be folded (the other reader needs the
 * float32 values), and everything still agrees. */
static mn_graph *shared_weight_graph(int share, mn_tensor **xo)
{
    mn_ctx ctx = {{0}};
    qb b = {0};
    enc e = {.mode = 2, .axis = 1, .blk = 16, .sf16 = 1, .view2d = 1};
    int64_t xd[4] = {1, 8, 9, 9}, wd[4] = {12, 8, 3, 3};
    mn_graph_create(&b.g, &ctx);
    if (!b.g)
        return NULL;
    b.g->opset = 21;
    int vx = qb_value(&b, "x", 4, xd), vw = add_weight(&b, 4, wd, &e);
    int ni = add_node1(&b, "Conv", (int[]){vx, vw}, 2);
    qb_attr(&b, ni, "pads", MN_ATTR_INTS, 0, (int64_t[]){1, 1, 1, 1}, 4);
    int vy = b.g->nodes[ni].out[0];
    if (share) { /* y + ReduceSum(w) broadcast: a second reader of w */
        int vs = b.g->nodes[add_node1(&b, "ReduceSum", &vw, 1)].out[0];
        vy = b.g->nodes[add_node1(&b, "Add", (int[]){vy, vs}, 2)].out[0];
    }
    qb_io(&b, vx, vy);
    *xo = otu_random(MN_DT_F32, 4, xd);
    return b.g;
}

TEST(wdecode_session_rules)
{
    mn_ctx ctx = {{0}};
    mn_tensor *x = NULL, *x2 = NULL;
    mn_graph *g = shared_weight_graph(0, &x);
    mn_graph *g2 = shared_weight_graph(1, &x2);
    size_t wb_c = 0, wb_f = 0;
    int c = 0;
    CHECK(g && x && g2 && x2);
    if (!g || !x || !g2 || !x2)
        goto out;
    /* run allocates nothing with compact weights either */
    {
        mn_session *s = NULL;
        const mn_tensor *shapes[1] = {x};
        mn_session_opts o = {.threads = 2, .n_input_shapes = 1,
                             .input_shapes = shapes,
                             .weights = MN_WEIGHTS_COMPACT};
        CHECK_OK(mn_session_create(g, &o, &s, &ctx), &ctx);
        if (s) {
            CHECK(mn_session_weights_compact(s));
            long before = mn_test_allocs;
            CHECK_OK(mn_session_run(s, (const mn_tensor *const *)&x, 1, &ctx),
                     &ctx);
            CHECK_EQ_INT(mn_test_allocs - before, 0);
        }
        mn_session_destroy(s);
    }
    /* training and keep_values sessions fold */
    for (int k = 0; k < 2; k++) {
        mn_session *s = NULL;
        const mn_tensor *shapes[1] = {x};
        mn_session_opts o = {.n_input_shapes = 1, .input_shapes = shapes,
                             .weights = MN_WEIGHTS_COMPACT,
                             .training = k == 0, .keep_values = k == 1};
        CHECK_OK(mn_session_create(g, &o, &s, &ctx), &ctx);
        CHECK(s && !mn_session_weights_compact(s));
        mn_session_destroy(s);
    }
    /* a shared chain is folded: compact and float hold the same bytes */
    mn_tensor *yf = run(g2, x2, 1, MN_WEIGHTS_FLOAT, &wb_f, &c);
    mn_tensor *yc = run(g2, x2, 2, MN_WEIGHTS_COMPACT, &wb_c, &c);
    CHECK(yf && yc && !memcmp(yf->data, yc->data, mn_tensor_nbytes(yf)));
    CHECK(c == 1 && wb_c == wb_f);
    mn_tensor_destroy(yf);
    mn_tensor_destroy(yc);
    /* ... while the unshared one drops the float32 copy: 12·72 floats */
    yf = run(g, x, 1, MN_WEIGHTS_FLOAT, &wb_f, &c);
    yc = run(g, x, 1, MN_WEIGHTS_COMPACT, &wb_c, &c);
    CHECK(yf && yc && !memcmp(yf->data, yc->data, mn_tensor_nbytes(yf)));
    CHECK(wb_f - wb_c >= 12 * 72 * sizeof(float));
    mn_tensor_destroy(yf);
    mn_tensor_destroy(yc);
out:
    mn_tensor_destroy(x);
    mn_tensor_destroy(x2);
    mn_graph_destroy(g);
    mn_graph_destroy(g2);
}

/* minnow's own float16 and int4 modes on a small CNN: the compact session
 * keeps every Conv/Gemm weight compressed (resident bytes near the file's
 * initializers) and gives the folded session's bits. */
TEST(wdecode_quantized_modes_stay_compact)
{
    mn_ctx ctx = {{0}};
    for (int mode = 0; mode < 3; mode++) {
        mn_graph *g = NULL;
        CHECK_OK(mn_graph_load_onnx("models/zoo/resnet8.onnx", &g, &ctx),
                 &ctx);
        if (!g)
            return;
        mn_quant_opts o = {.mode = mode ? MN_QUANT_INT4 : MN_QUANT_FLOAT16,
                           .group = mode == 2 ? 0 : 32,
                           .scale_f16 = mode == 2 ? -1 : 1};
        mn_quant_report r;
        CHECK_OK(mn_quantize(g, &o, &r, &ctx), &ctx);
        int64_t xd[4] = {1, 1, 28, 28};
        mn_tensor *x = otu_random(MN_DT_F32, 4, xd);
        size_t wb_f = 0, wb_c = 0, init = 0;
        int c = 0;
        for (int v = 0; v < g->n_values; v++)
            if (g->values[v].init)
                init += mn_tensor_nbytes(g->values[v].init);
        mn_tensor *yf = run(g, x, 1, MN_WEIGHTS_FLOAT, &wb_f, &c);
        mn_tensor *yc = run(g, x, 2, MN_WEIGHTS_COMPACT, &wb_c, &c);
        CHECK(yf && yc && !memcmp(yf->data, yc->data, mn_tensor_nbytes(yf)));
        /* only small folded constants (float16 biases' Casts) remain */
        CHECK(wb_c < init + init / 8);
        CHECK(wb_f > init + (mode ? 4 : 1) * (init - init / 4));
        mn_tensor_destroy(yf);
        mn_tensor_destroy(yc);
        mn_tensor_destroy(x);
        mn_graph_destroy(g);
    }
}
