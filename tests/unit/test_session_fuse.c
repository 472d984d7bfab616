/* Tests of the session's step fusion (src/core/session_fuse.c): GELU's
 * exported erf chain runs in its producer's store (after a Conv) or as one
 * Gelu step (after an Add), gives the unfused chain's values, and the
 * chain's other steps become views; an int8 graph's Cast + Gather lookup
 * runs as its producer's in-place table pass; an int8 residual
 * QLinearAdd runs in its convolution's store. */
#include "core/pattern.h"
#include "core/session.h"
#include "kernels/dispatch.h"
#include "passes_test_util.h"

/* y = Mul(Mul(x, Add(Erf(Div(x, √2)), 1)), ½), operand orders varied by
 * `flip`; returns y. */
static int gelu_chain(mn_graph *g, const char *p, int x, int flip)
{
    char nm[8][32];
    int64_t d[4] = {1, 4, 6, 7};
    for (int k = 0; k < 8; k++)
        snprintf(nm[k], sizeof nm[k], "%s%d", p, k);
    int sq2 = fconst(g, nm[0], 0, NULL, 1.41421356f, 1.41421356f);
    int one = fconst(g, nm[1], 0, NULL, 1.0f, 1.0f);
    int half = fconst(g, nm[2], 0, NULL, 0.5f, 0.5f);
    int dv = val(g, nm[3], 4, d), e = val(g, nm[4], 4, d);
    int a = val(g, nm[5], 4, d), m = val(g, nm[6], 4, d);
    int y = val(g, nm[7], 4, d);
    node(g, "", "Div", (int[]){x, sq2}, 2, &dv, 1);
    node(g, "", "Erf", &dv, 1, &e, 1);
    node(g, "", "Add", flip ? (int[]){one, e} : (int[]){e, one}, 2, &a, 1);
    node(g, "", "Mul", flip ? (int[]){a, x} : (int[]){x, a}, 2, &m, 1);
    node(g, "", "Mul", flip ? (int[]){half, m} : (int[]){m, half}, 2, &y, 1);
    return y;
}

TEST(session_fuses_gelu_chain_into_producer_and_one_step)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    int64_t xd[4] = {1, 3, 6, 7}, wd[4] = {4, 3, 3, 3}, cd[4] = {1, 4, 6, 7};
    int64_t bd[3] = {4, 1, 1};
    CHECK_OK(mn_graph_create(&g, &ctx), &ctx);
    if (!g)
        return;
    int x = val(g, "x", 4, xd), w = fconst(g, "w", 4, wd, -0.5f, 0.5f);
    int c = val(g, "c", 4, cd), b = fconst(g, "b", 3, bd, -1.0f, 1.0f);
    int ab = val(g, "ab", 4, cd);
    int conv = node(g, "conv", "Conv", (int[]){x, w}, 2, &c, 1);
    attr_is(g, conv, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    int y1 = gelu_chain(g, "g1_", c, 0);     /* after a Conv: fused */
    node(g, "add", "Add", (int[]){y1, b}, 2, &ab, 1);
    int y2 = gelu_chain(g, "g2_", ab, 1);    /* after an Add: one step */
    set_io(g, &x, 1, &y2, 1);
    CHECK_OK(mn_graph_toposort(g, &ctx), &ctx);
    /* the matcher finds both chains, and not from another node */
    int chain[5], xv, found = 0;
    for (int i = 0; i < g->n_nodes; i++)
        found += mn_pattern_gelu(g, i, chain, &xv);
    CHECK_EQ_INT(found, 2);
    mn_session *fs, *us;
    mn_tensor *in[2];
    if (fused_and_plain(g, 1, 1, 0, &fs, &us, in)) {
        const float *f = mn_session_output(fs, 0)->data;
        const float *u = mn_session_output(us, 0)->data;
        for (int i = 0; i < 4 * 6 * 7; i++)
            if (fabsf(f[i] - u[i]) > 2e-6f * (1.0f + fabsf(u[i]))) {
                mn_test_fail(__FILE__, __LINE__, "element %d: fused %g, "
                             "chain %g", i, f[i], u[i]);
                break;
            }
        /* the Conv's store applies GELU; the first chain is all views;
         * the second chain's Div runs (as Gelu), the rest are views */
        int conv_gelu = 0, views = 0, run_div = 0;
        for (int k = 0; k < mn_session_num_steps(fs); k++) {
            mn_step_info si;
            mn_session_step_info(fs, k, &si);
            const mn_node *n = &g->nodes[si.node];
            conv_gelu += n->op == MN_OP_CONV && si.act.kind == MN_FUSED_GELU;
            views += si.view;
            run_div += n->op == MN_OP_DIV && !si.view;
        }
        CHECK_EQ_INT(conv_gelu, 1);
        CHECK_EQ_INT(views, 9);
        CHECK_EQ_INT(run_div, 1);
    }
    fused_and_plain_free(fs, us, in);
    mn_graph_destroy(g);
}

TEST(session_leaves_gelu_chain_with_a_shared_intermediate)
{
    /* the Erf's output is also a graph output: nothing is fused */
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    int64_t d[4] = {1, 4, 6, 7};
    CHECK_OK(mn_graph_create(&g, &ctx), &ctx);
    if (!g)
        return;
    int x = val(g, "x", 4, d);
    int y = gelu_chain(g, "g_", x, 0);
    int e = mn_graph_find_value(g, "g_4");
    set_io(g, &x, 1, (int[]){y, e}, 2);
    CHECK_OK(mn_graph_toposort(g, &ctx), &ctx);
    int chain[5], xv, found = 0;
    for (int i = 0; i < g->n_nodes; i++)
        found += mn_pattern_gelu(g, i, chain, &xv);
    CHECK_EQ_INT(found, 0);
    mn_graph_destroy(g);
}

/* A constant tensor of dtype dt (1-byte or int32 elements) from raw
 * bytes. */
static int rconst(mn_graph *g, const char *name, mn_dtype dt, int ndim,
                  const int64_t *dims, const void *bytes)
{
    mn_ctx ctx = {{0}};
    int idx = -1;
    mn_tensor *t = NULL;
    if (mn_graph_add_value(g, name, dt, ndim, dims, &idx, &ctx) != MN_OK ||
        mn_tensor_create(dt, ndim, dims, &t, &ctx) != MN_OK)
        return -1;
    memcpy(t->data, bytes, mn_tensor_nbytes(t));
    g->values[idx].init = t;
    return idx;
}

/* A constant 8-bit tensor (dtype u8 or i8) with the given bytes: a scalar
 * when n is 1, else 1-D. */
static int bconst(mn_graph *g, const char *name, mn_dtype dt, int64_t n,
                  const uint8_t *bytes)
{
    return rconst(g, name, dt, n > 1, &n, bytes);
}

/* x → QuantizeLinear → q [→ Reshape when `reshape`] → Cast(int32) →
 * Gather(T[256], ·) → y, an int8 graph's lookup activation; q also a
 * graph output when `shared`. Returns the session's steps that carry a
 * table; checks y = T[q] by the byte and against the unfused session. */
static int run_lut_graph(int i8, int shared, int reshape)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    int64_t d[4] = {1, 3, 9, 11};
    uint8_t tb[256], zp = i8 ? 0xF6 /* -10 */ : 128, tables = 0;
    mn_dtype dt = i8 ? MN_DT_I8 : MN_DT_U8;
    for (int v = 0; v < 256; v++)
        tb[v] = (uint8_t)(v * 37 + 11);
    CHECK_OK(mn_graph_create(&g, &ctx), &ctx);
    if (!g)
        return -1;
    int64_t dr[4] = {1, 3, 99, 1}, four = 4;
    int x = val(g, "x", 4, d), q = val(g, "q", 4, d);
    int c = val(g, "c", 4, reshape ? dr : d);
    int y = val(g, "y", 4, reshape ? dr : d), r = q;
    int s = fconst(g, "s", 0, NULL, 0.01f, 0.01f);
    int z = bconst(g, "z", dt, 1, &zp), t = bconst(g, "T", dt, 256, tb);
    node(g, "quant", "QuantizeLinear", (int[]){x, s, z}, 3, &q, 1);
    if (reshape) {
        int sh = rconst(g, "shape", MN_DT_I64, 1, &four, dr);
        r = val(g, "r", 4, dr);
        node(g, "reshape", "Reshape", (int[]){q, sh}, 2, &r, 1);
    }
    attr_i(g, node(g, "cast", "Cast", &r, 1, &c, 1), "to", 6 /* INT32 */);
    node(g, "gather", "Gather", (int[]){t, c}, 2, &y, 1);
    set_io(g, &x, 1, shared ? (int[]){y, q} : (int[]){y}, shared ? 2 : 1);
    CHECK_OK(mn_graph_toposort(g, &ctx), &ctx);
    mn_session *fs, *us;
    mn_tensor *in[2];
    if (fused_and_plain(g, 2, 1, 0, &fs, &us, in)) {
        const uint8_t *f = mn_session_output(fs, 0)->data;
        const uint8_t *u = mn_session_output(us, 0)->data;
        const uint8_t *qb = mn_session_value(us, q)->data;
        int bad = 0;
        for (int i = 0; i < 3 * 9 * 11; i++)
            bad += f[i] != u[i] || u[i] != tb[qb[i]];
        CHECK_EQ_INT(bad, 0);
        for (int k = 0; k < mn_session_num_steps(fs); k++) {
            mn_step_info si;
            mn_session_step_info(fs, k, &si);
            tables += si.lut != NULL;
            if (si.lut) /* the Quantize applies it; the rest are views */
                CHECK(g->nodes[si.node].op == MN_OP_QUANTIZELINEAR);
            else if (!shared)
                CHECK(g->nodes[si.node].op == MN_OP_QUANTIZELINEAR ||
                      si.view);
        }
    }
    fused_and_plain_free(fs, us, in);
    mn_graph_destroy(g);
    return tables;
}

TEST(session_fuses_byte_table_lookup_into_producer)
{
    CHECK_EQ_INT(run_lut_graph(0, 0, 0), 1);
    CHECK_EQ_INT(run_lut_graph(1, 0, 0), 1); /* int8: negative bytes wrap */
    CHECK_EQ_INT(run_lut_graph(0, 1, 0), 0); /* q is read twice: no fusion */
    /* through a Reshape (a view of q's buffer), and not when q, which it
     * shows, has another reader */
    CHECK_EQ_INT(run_lut_graph(0, 0, 1), 1);
    CHECK_EQ_INT(run_lut_graph(1, 0, 1), 1);
    CHECK_EQ_INT(run_lut_graph(0, 1, 1), 0);
}

/* x → QuantizeLinear → q → QLinearConv (kind 0: 3×3 pad 1, 1: 1×1,
 * 2: depthwise 3×3; C → C channels) → c → QLinearAdd(c, q) (or (q, c)
 * when `swap`) → a [→ Cast + Gather lookup when `lut`] → Dequantize → y.
 * Runs fused (threads) and unfused; checks y bit for bit and that the add
 * ran in the conv's store. Returns the number of fused adds. `wide`:
 * both add inputs at zero point 0 (−128) and scale ratios 2^-8.08, past
 * the bound of the fused add's vector form (mn_qadd_fixed_vec_ok). */
static int run_qadd_graph(int i8, int kind, int swap, int lut, int threads,
                          int wide)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    enum { C = 12, H = 13, W = 11 };
    int64_t d[4] = {1, C, H, W}, k = kind == 1 ? 1 : 3;
    int64_t wd[4] = {C, kind == 2 ? 1 : C, k, k}, cd[1] = {C};
    mn_dtype dt = i8 ? MN_DT_I8 : MN_DT_U8;
    uint8_t zq = i8 ? 0xFB /* -5 */ : 121, zc = i8 ? 7 : 133;
    if (wide)
        zq = zc = i8 ? 0x80 : 0;
    uint8_t za = i8 ? 0xFE : 119, tb[256];
    int8_t w[C * C * 9], wz = 0;
    int32_t bias[C];
    int fused = 0;
    for (int i = 0; i < C * C * 9; i++)
        w[i] = (int8_t)(frand(-1, 1) * 90);
    for (int i = 0; i < C; i++)
        bias[i] = (int32_t)(frand(-1, 1) * 3000);
    for (int v = 0; v < 256; v++)
        tb[v] = (uint8_t)(v * 29 + 3);
    CHECK_OK(mn_graph_create(&g, &ctx), &ctx);
    if (!g)
        return -1;
    int x = val(g, "x", 4, d), q = val(g, "q", 4, d), c = val(g, "c", 4, d);
    int a = val(g, "a", 4, d), y = val(g, "y", 4, d);
    float sqv = wide ? 0.05f : 0.02f, sav = wide ? 0.05f * 270.0f : 0.04f;
    int sq = fconst(g, "sq", 0, NULL, sqv, sqv);
    int sw = fconst(g, "sw", 1, cd, 0.002f, 0.006f);
    int sc = fconst(g, "sc", 0, NULL, 0.05f, 0.05f);
    int sa = fconst(g, "sa", 0, NULL, sav, sav);
    int zqv = rconst(g, "zq", dt, 0, NULL, &zq);
    int zcv = rconst(g, "zc", dt, 0, NULL, &zc);
    int zav = rconst(g, "za", dt, 0, NULL, &za);
    int wv = rconst(g, "w", MN_DT_I8, 4, wd, w);
    int wzv = rconst(g, "wz", MN_DT_I8, 0, NULL, &wz);
    int bv = rconst(g, "b", MN_DT_I32, 1, cd, bias);
    node(g, "quant", "QuantizeLinear", (int[]){x, sq, zqv}, 3, &q, 1);
    int cv = node(g, "conv", "QLinearConv",
                  (int[]){q, sq, zqv, wv, sw, wzv, sc, zcv, bv}, 9, &c, 1);
    if (k == 3)
        attr_is(g, cv, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    if (kind == 2)
        attr_i(g, cv, "group", C);
    int an = -1;
    CHECK_OK(mn_graph_add_node(g, "add", "QLinearAdd", "com.microsoft", 1,
                               swap ? (int[]){q, sq, zqv, c, sc, zcv, sa, zav}
                                    : (int[]){c, sc, zcv, q, sq, zqv, sa, zav},
                               8, &a, 1, &an, &ctx),
             &ctx);
    int dq_in = a;
    if (lut) {
        int ci = val(g, "ci", 4, d), li = val(g, "li", 4, d);
        int t = rconst(g, "T", dt, 1, (int64_t[]){256}, tb);
        attr_i(g, node(g, "cast", "Cast", &a, 1, &ci, 1), "to", 6);
        node(g, "gather", "Gather", (int[]){t, ci}, 2, &li, 1);
        dq_in = li;
    }
    node(g, "dq", "DequantizeLinear", (int[]){dq_in, sa, zav}, 3, &y, 1);
    set_io(g, &x, 1, &y, 1);
    CHECK_OK(mn_graph_toposort(g, &ctx), &ctx);
    mn_session *fs, *us;
    mn_tensor *in[2];
    if (fused_and_plain(g, threads, 1, 0, &fs, &us, in)) {
        const float *f = mn_session_output(fs, 0)->data;
        const float *u = mn_session_output(us, 0)->data;
        CHECK(memcmp(f, u, sizeof(float) * C * H * W) == 0);
        for (int s = 0; s < mn_session_num_steps(fs); s++) {
            mn_step_info si;
            mn_session_step_info(fs, s, &si);
            const mn_node *n = &g->nodes[si.node];
            if (n->op == MN_OP_QLINEARCONV && si.residual == q) {
                fused++;
                CHECK((si.lut != NULL) == (lut != 0));
            }
            if (n->op == MN_OP_QLINEARADD)
                CHECK(si.view == (fused > 0));
        }
    }
    fused_and_plain_free(fs, us, in);
    mn_graph_destroy(g);
    return fused;
}

TEST(session_fuses_int8_residual_add_into_conv)
{
    static const mn_isa levels[] = {MN_ISA_REF, MN_ISA_AVX2,
                                    MN_ISA_AVX512VNNI};
    for (int l = 0; l < 3; l++) {
        if (levels[l] > mn_isa_detect())
            continue;
        mn_isa_force(levels[l]);
        for (int i = 0; i < 24; i++)
            CHECK_EQ_INT(run_qadd_graph(i % 2, i / 2 % 3, i / 6 % 2,
                                        i / 12 % 2, 1 + i % 3 % 2, 0), 1);
    }
    mn_isa_force(MN_ISA_COUNT);
}

/* An add past the vector form's bound stays a step of its own, with the
 * same bytes. */
TEST(session_keeps_residual_add_past_the_bound_unfused)
{
    static const mn_isa levels[] = {MN_ISA_REF, MN_ISA_AVX512VNNI};
    for (int l = 0; l < 2; l++) {
        if (levels[l] > mn_isa_detect())
            continue;
        mn_isa_force(levels[l]);
        for (int i = 0; i < 6; i++)
            CHECK_EQ_INT(run_qadd_graph(i % 2, i / 2 % 3, 0, 0, 1, 1), 0);
    }
    mn_isa_force(MN_ISA_COUNT);
}

/* x [1,4,6,24] → MatMul(W [24,7]) → Add(bias [7], either order) → GELU
 * chain (gelu) or Relu: the bias and the activation run in the MatMul's
 * store (the Add and the chain become views); Relu's result is the
 * unfused session's bit for bit, GELU's within the fused GELU's rounding. */
static void run_matmul_bias(int gelu, int flip)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    int64_t xd[4] = {1, 4, 6, 24}, wd[2] = {24, 7}, bd[1] = {7};
    int64_t yd[4] = {1, 4, 6, 7};
    CHECK_OK(mn_graph_create(&g, &ctx), &ctx);
    if (!g)
        return;
    int x = val(g, "x", 4, xd), w = fconst(g, "w", 2, wd, -0.5f, 0.5f);
    int b = fconst(g, "b", 1, bd, -1.0f, 1.0f);
    int m = val(g, "m", 4, yd), a = val(g, "a", 4, yd), y = -1;
    node(g, "mm", "MatMul", (int[]){x, w}, 2, &m, 1);
    node(g, "bias", "Add", flip ? (int[]){b, m} : (int[]){m, b}, 2, &a, 1);
    if (gelu) {
        y = gelu_chain(g, "g_", a, flip);
    } else {
        y = val(g, "y", 4, yd);
        node(g, "relu", "Relu", &a, 1, &y, 1);
    }
    set_io(g, &x, 1, &y, 1);
    CHECK_OK(mn_graph_toposort(g, &ctx), &ctx);
    mn_session *fs, *us;
    mn_tensor *in[2];
    if (fused_and_plain(g, 1, 1, 0, &fs, &us, in)) {
        const float *f = mn_session_output(fs, 0)->data;
        const float *u = mn_session_output(us, 0)->data;
        int bad = 0;
        for (int i = 0; i < 4 * 6 * 7; i++)
            bad += gelu ? !(fabsf(f[i] - u[i]) <= 2e-6f * (1.0f + fabsf(u[i])))
                        : memcmp(&f[i], &u[i], sizeof *f) != 0;
        CHECK_EQ_INT(bad, 0);
        int fused = 0, views = 0;
        for (int k = 0; k < mn_session_num_steps(fs); k++) {
            mn_step_info si;
            mn_session_step_info(fs, k, &si);
            const mn_node *n = &g->nodes[si.node];
            fused += n->op == MN_OP_MATMUL && si.bias == b &&
                     si.act.kind == (gelu ? MN_FUSED_GELU : MN_FUSED_RELU);
            views += si.view;
        }
        CHECK_EQ_INT(fused, 1);
        CHECK_EQ_INT(views, gelu ? 6 : 2);
    }
    fused_and_plain_free(fs, us, in);
    mn_graph_destroy(g);
}

TEST(session_fuses_matmul_bias_and_activation)
{
    for (int flip = 0; flip < 2; flip++) {
        run_matmul_bias(0, flip);
        run_matmul_bias(1, flip);
    }
}
