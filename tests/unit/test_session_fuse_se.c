/* The session's squeeze-excite fusion (src/core/session_fuse.c
 * fuse_scale): y = x · f, f [N, C, 1, 1], read only by a 1×1 Conv whose
 * GEMM packs its input, runs as that Conv multiplying the input's rows as
 * it packs them (mn_conv2d_f32_scaled) with the same bits as the Mul then
 * the Conv, also where the plain GEMM would read its input in place; the
 * Mul becomes a view of x. Not fused when y has another reader, for one
 * output channel (a GEMV), on the channel-vector path, or at the
 * reference level. */
#include <string.h>
#include "core/session.h"
#include "kernels/dispatch.h"
#include "passes_test_util.h"
#include "test.h"

/* x [n, 12, hw, hw] → GAP → Sigmoid → f; y = Mul(x, f) (f first when
 * swap); z = Conv1×1(y) to m channels (+ bias) → Relu; extra: y also a
 * graph output. */
static mn_graph *se_graph(int64_t n, int64_t hw, int64_t m, int swap,
                          int extra)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    int64_t xd[4] = {n, 12, hw, hw}, fd[4] = {n, 12, 1, 1};
    int64_t wd[4] = {m, 12, 1, 1}, bd[1] = {m}, zd[4] = {n, m, hw, hw};
    CHECK_OK(mn_graph_create(&g, &ctx), &ctx);
    if (!g)
        return NULL;
    int x = val(g, "x", 4, xd), p = val(g, "p", 4, fd), f = val(g, "f", 4, fd);
    int y = val(g, "y", 4, xd), z = val(g, "z", 4, zd), r = val(g, "r", 4, zd);
    int w = fconst(g, "w", 4, wd, -1.0f, 1.0f);
    int b = fconst(g, "b", 1, bd, -0.5f, 0.5f);
    node(g, "gap", "GlobalAveragePool", &x, 1, &p, 1);
    node(g, "sig", "Sigmoid", &p, 1, &f, 1);
    node(g, "mul", "Mul", swap ? (int[]){f, x} : (int[]){x, f}, 2, &y, 1);
    node(g, "conv", "Conv", (int[]){y, w, b}, 3, &z, 1);
    node(g, "relu", "Relu", &z, 1, &r, 1);
    set_io(g, &x, 1, extra ? (int[]){r, y} : (int[]){r}, extra ? 2 : 1);
    CHECK_OK(mn_graph_toposort(g, &ctx), &ctx);
    return g;
}

/* Runs g fused and unfused on the same input, twice, outputs the same
 * bytes; returns the Convs that took a fused scale, -1 on a failure
 * (reported). */
static int run_se(mn_graph *g, int threads)
{
    mn_session *fs, *us;
    mn_tensor *in[2];
    int fused = -1;
    if (fused_and_plain(g, threads, 2, 1, &fs, &us, in)) {
        fused = 0;
        int views = 0;
        for (int k = 0; k < mn_session_num_steps(fs); k++) {
            mn_step_info si;
            mn_session_step_info(fs, k, &si);
            if (g->nodes[si.node].op == MN_OP_MUL)
                views += si.view;
            if (si.in_scale >= 0) {
                fused++;
                CHECK(g->nodes[si.node].op == MN_OP_CONV && !si.view);
            }
        }
        CHECK_EQ_INT(views, fused);
    }
    fused_and_plain_free(fs, us, in);
    return fused;
}

TEST(session_fuses_squeeze_excite_mul_into_conv_bit_exact)
{
    /* 36×36 planes (1296 floats, not a multiple of the 48-column panels),
     * 20 output channels (two 8-row tiles and a tail), batch 1 and 2 */
    int fast = mn_isa_active() >= MN_ISA_AVX2; /* MINNOW_ISA may lower it */
    for (int64_t n = 1; n <= 2; n++)
        for (int swap = 0; swap < 2; swap++) {
            mn_graph *g = se_graph(n, 36, 20, swap, 0);
            if (!g)
                continue;
            CHECK_EQ_INT(run_se(g, 1), fast);
            CHECK_EQ_INT(run_se(g, 2), fast);
            mn_graph_destroy(g);
        }
    /* 30×30 (900 floats, which the plain GEMM reads in place) and 8
     * output channels (one tile row, likewise): packed when fused */
    mn_graph *g = se_graph(1, 30, 20, 0, 0);
    if (g) {
        CHECK_EQ_INT(run_se(g, 2), fast);
        mn_graph_destroy(g);
    }
    g = se_graph(2, 36, 8, 1, 0);
    if (g) {
        CHECK_EQ_INT(run_se(g, 1), fast);
        mn_graph_destroy(g);
    }
    g = se_graph(1, 36, 1, 0, 0); /* one output channel: a GEMV */
    if (g) {
        CHECK_EQ_INT(run_se(g, 1), 0);
        mn_graph_destroy(g);
    }
    /* 14×14: the channel-vector path where the level has it (AVX-512),
     * else the GEMM's */
    g = se_graph(1, 14, 20, 0, 0);
    if (g) {
        CHECK_EQ_INT(run_se(g, 1), fast && mn_isa_active() < MN_ISA_AVX512);
        mn_graph_destroy(g);
    }
    g = se_graph(1, 36, 20, 0, 1); /* y also a graph output */
    if (g) {
        CHECK_EQ_INT(run_se(g, 1), 0);
        mn_graph_destroy(g);
    }
    g = se_graph(1, 36, 20, 0, 0); /* the reference level: no GEMM */
    if (g) {
        mn_isa_force(MN_ISA_REF);
        CHECK_EQ_INT(run_se(g, 1), 0);
        mn_isa_force(MN_ISA_COUNT);
        mn_graph_destroy(g);
    }
}
