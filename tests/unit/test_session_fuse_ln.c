/* The session's LayerNorm fusion (src/core/session_fuse.c fuse_ln,
 * mn_pattern_layernorm): the nine ops PyTorch exports below opset 17 run
 * as one step with the same bits as the ops one by one (the portable
 * loop and the AVX-512 kernel alike), the other eight steps become views;
 * no fusion when a value of the chain has another reader or the scale is
 * not a constant. */
#include <string.h>
#include "core/session.h"
#include "kernels/dispatch.h"
#include "passes_test_util.h"
#include "test.h"

/* x [1, 3, 5, n] → LayerNorm chain over the last axis → y; extra: d also
 * a graph output (a second reader); gamma_in: the scale a graph input. */
static mn_graph *ln_graph(int64_t n, int extra, int gamma_in)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    int64_t xd[4] = {1, 3, 5, n}, rd[4] = {1, 3, 5, 1}, cd[1] = {n};
    CHECK_OK(mn_graph_create(&g, &ctx), &ctx);
    if (!g)
        return NULL;
    int x = val(g, "x", 4, xd), m = val(g, "m", 4, rd), d = val(g, "d", 4, xd);
    int p = val(g, "p", 4, xd), v = val(g, "v", 4, rd), a = val(g, "a", 4, rd);
    int s = val(g, "s", 4, rd), q = val(g, "q", 4, xd), t = val(g, "t", 4, xd);
    int y = val(g, "y", 4, xd);
    int two = fconst(g, "two", 0, NULL, 2.0f, 2.0f);
    int eps = fconst(g, "eps", 0, NULL, 1e-6f, 1e-6f);
    int gm = gamma_in ? val(g, "gamma", 1, cd) : fconst(g, "gamma", 1, cd, 0.5f, 1.5f);
    int bt = fconst(g, "beta", 1, cd, -1.0f, 1.0f);
    attr_is(g, node(g, "rm1", "ReduceMean", &x, 1, &m, 1), "axes",
            (int64_t[]){-1}, 1);
    node(g, "sub", "Sub", (int[]){x, m}, 2, &d, 1);
    node(g, "pow", "Pow", (int[]){d, two}, 2, &p, 1);
    /* the last axis counted from the front: the same axis */
    attr_is(g, node(g, "rm2", "ReduceMean", &p, 1, &v, 1), "axes",
            (int64_t[]){3}, 1);
    node(g, "add", "Add", (int[]){eps, v}, 2, &a, 1); /* either order */
    node(g, "sqrt", "Sqrt", &a, 1, &s, 1);
    node(g, "div", "Div", (int[]){d, s}, 2, &q, 1);
    node(g, "mul", "Mul", (int[]){gm, q}, 2, &t, 1);
    node(g, "addb", "Add", (int[]){t, bt}, 2, &y, 1);
    int ins[2] = {x, gm};
    set_io(g, ins, gamma_in ? 2 : 1, extra ? (int[]){y, d} : (int[]){y},
           extra ? 2 : 1);
    CHECK_OK(mn_graph_toposort(g, &ctx), &ctx);
    return g;
}

/* Runs g fused and unfused on the same input(s), outputs the same bytes;
 * returns the fused LayerNorm steps, -1 on a failure (reported). */
static int run_ln(mn_graph *g, int threads)
{
    mn_session *fs, *us;
    mn_tensor *in[2];
    int fused = -1;
    if (fused_and_plain(g, threads, 1, 1, &fs, &us, in)) {
        fused = 0;
        int views = 0;
        for (int k = 0; k < mn_session_num_steps(fs); k++) {
            mn_step_info si;
            mn_session_step_info(fs, k, &si);
            views += si.view;
            if (si.ln_gamma >= 0) {
                fused++;
                CHECK(g->nodes[si.node].op == MN_OP_ADD && !si.view);
            }
        }
        CHECK_EQ_INT(views, fused ? 8 : 0); /* the chain's first 8 steps */
    }
    fused_and_plain_free(fs, us, in);
    return fused;
}

TEST(session_fuses_layernorm_chain_bit_exact)
{
    /* rows of 37 (two 16-blocks and a tail), 16, 5 (tail only), 200 */
    const int64_t ns[] = {37, 16, 5, 200};
    const mn_isa lv[] = {MN_ISA_REF, MN_ISA_AVX512};
    for (size_t l = 0; l < sizeof lv / sizeof *lv; l++) {
        if (lv[l] > mn_isa_detect())
            continue;
        mn_isa_force(lv[l]);
        for (size_t i = 0; i < sizeof ns / sizeof *ns; i++) {
            mn_graph *g = ln_graph(ns[i], 0, 0);
            if (!g)
                continue;
            CHECK_EQ_INT(run_ln(g, 1), 1);
            CHECK_EQ_INT(run_ln(g, 2), 1);
            mn_graph_destroy(g);
        }
        mn_isa_force(MN_ISA_COUNT);
    }
    mn_graph *g = ln_graph(37, 1, 0); /* d read by a graph output too */
    if (g) {
        CHECK_EQ_INT(run_ln(g, 1), 0);
        mn_graph_destroy(g);
    }
    g = ln_graph(37, 0, 1); /* the scale a run-time input */
    if (g) {
        CHECK_EQ_INT(run_ln(g, 1), 0);
        mn_graph_destroy(g);
    }
}
