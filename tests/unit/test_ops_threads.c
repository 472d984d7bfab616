/* Ops outside the convolution kernels that split their work over the
 * session's pool (binary.c: float elementwise ops over element ranges;
 * pool.c: GlobalAveragePool and the fast 2-D MaxPool over planes): with a
 * 2-thread pool they must give exactly the bytes they give on one thread,
 * which the op tests check against naive loops. Shapes are large enough to
 * be split (the ops' thresholds are 64 Ki elements) and cut the innermost
 * broadcast runs mid-way. GlobalAveragePool is also checked against a
 * float64 mean on planes long enough for its unrolled loop and tail. The
 * int8 glue (QLinearAdd, QLinearMul, QLinearGlobalAveragePool) too. */
#include "core/pool.h"
#include "ops_test_util.h"
#include "test.h"

extern const mn_op_def mn_opdef_add, mn_opdef_sub, mn_opdef_mul,
    mn_opdef_div, mn_opdef_max, mn_opdef_min, mn_opdef_maxpool,
    mn_opdef_globalavgpool;

/* Runs def on in with no pool and with pool; 1 when both succeed with the
 * same output shape and bytes. */
static int same_on_pool(const mn_op_def *def, const mn_node *nd,
                        const mn_tensor *const *in, int n_in, mn_pool *pool)
{
    mn_ctx ctx = {{0}};
    mn_tensor o1[1], o2[1];
    mn_status s1 = otu_run_pool(def, nd, in, n_in, o1, 1, NULL, &ctx);
    mn_status s2 = otu_run_pool(def, nd, in, n_in, o2, 1, pool, &ctx);
    int ok = s1 == MN_OK && s2 == MN_OK;
    if (ok) {
        size_t nb = mn_tensor_nbytes(&o1[0]);
        ok = nb == mn_tensor_nbytes(&o2[0]) && nb > 0 &&
             memcmp(o1[0].data, o2[0].data, nb) == 0;
    }
    otu_out_free(o1, 1);
    otu_out_free(o2, 1);
    return ok;
}

TEST(ops_binary_two_threads_same_bytes)
{
    static const struct {
        int na, nb;
        int64_t a[4], b[4];
    } shapes[] = {
        {4, 4, {3, 37, 29, 31}, {1, 37, 1, 1}}, /* SE scale: runs of 899 */
        {1, 1, {100003}, {100003}},             /* one run */
        {3, 3, {5, 1, 17011}, {5, 13, 1}},      /* both broadcast */
        {2, 1, {257, 301}, {301}},              /* a row for every row */
        {4, 4, {1, 40, 41, 43}, {1, 40, 41, 43}},
    };
    const mn_op_def *defs[] = {&mn_opdef_add, &mn_opdef_sub, &mn_opdef_mul,
                               &mn_opdef_div, &mn_opdef_max, &mn_opdef_min};
    const char *names[] = {"Add", "Sub", "Mul", "Div", "Max", "Min"};
    mn_ctx ctx = {{0}};
    mn_pool *pool = NULL;
    CHECK_OK(mn_pool_create(2, 0, &pool, &ctx), &ctx);
    otu_seed(71);
    for (size_t s = 0; pool && s < sizeof shapes / sizeof *shapes; s++) {
        mn_tensor *a = otu_random(MN_DT_F32, shapes[s].na, shapes[s].a);
        mn_tensor *b = otu_random(MN_DT_F32, shapes[s].nb, shapes[s].b);
        const mn_tensor *in[2] = {a, b};
        for (size_t k = 0; a && b && k < sizeof defs / sizeof *defs; k++) {
            mn_node nd;
            otu_node(&nd, names[k]);
            if (!same_on_pool(defs[k], &nd, in, 2, pool))
                mn_test_fail(__FILE__, __LINE__, "%s shape %zu: 2 threads "
                             "differ from 1", names[k], s);
            otu_node_free(&nd);
        }
        mn_tensor_destroy(a);
        mn_tensor_destroy(b);
    }
    mn_pool_destroy(pool);
}

TEST(ops_pooling_two_threads_same_bytes)
{
    static const int64_t xs[][4] = {{1, 64, 112, 112}, {2, 13, 61, 57},
                                    {1, 96, 28, 27}};
    static const mn_dtype dts[] = {MN_DT_F32, MN_DT_U8, MN_DT_I8};
    mn_ctx ctx = {{0}};
    mn_pool *pool = NULL;
    CHECK_OK(mn_pool_create(2, 0, &pool, &ctx), &ctx);
    otu_seed(72);
    for (size_t s = 0; pool && s < sizeof xs / sizeof *xs; s++) {
        for (size_t d = 0; d < sizeof dts / sizeof *dts; d++) {
            mn_tensor *x = otu_random(dts[d], 4, xs[s]);
            const mn_tensor *in[1] = {x};
            for (int win = 0; x && win < 2; win++) {
                /* the stem's 3×3/2 pad 1, and the plain 2×2/2 */
                int64_t k[2] = {3 - win, 3 - win}, st[2] = {2, 2};
                int64_t pads[4] = {1 - win, 1 - win, 1 - win, 1 - win};
                mn_node nd;
                otu_node(&nd, "MaxPool");
                otu_ints(&nd, "kernel_shape", k, 2);
                otu_ints(&nd, "strides", st, 2);
                otu_ints(&nd, "pads", pads, 4);
                if (!same_on_pool(&mn_opdef_maxpool, &nd, in, 1, pool))
                    mn_test_fail(__FILE__, __LINE__, "MaxPool %s shape %zu "
                                 "k%d: 2 threads differ from 1",
                                 mn_dtype_name(dts[d]), s, (int)k[0]);
                otu_node_free(&nd);
            }
            if (x && dts[d] == MN_DT_F32) {
                mn_node nd;
                otu_node(&nd, "GlobalAveragePool");
                if (!same_on_pool(&mn_opdef_globalavgpool, &nd, in, 1, pool))
                    mn_test_fail(__FILE__, __LINE__, "GlobalAveragePool "
                                 "shape %zu: 2 threads differ from 1", s);
                otu_node_free(&nd);
            }
            mn_tensor_destroy(x);
        }
    }
    mn_pool_destroy(pool);
}

/* Planes of 1 to 40 elements (every tail length of the 8-way loop) and of
 * 3001: the mean in float64 within a few float ulps. */
TEST(ops_globalavgpool_vs_double)
{
    mn_ctx ctx = {{0}};
    otu_seed(73);
    for (int64_t sz = 1; sz <= 41; sz++) {
        int64_t hw = sz == 41 ? 3001 : sz;
        mn_tensor *x = otu_random(MN_DT_F32, 4, (int64_t[]){1, 5, 1, hw});
        const mn_tensor *in[1] = {x};
        mn_tensor out[1];
        mn_node nd;
        otu_node(&nd, "GlobalAveragePool");
        CHECK_OK(otu_run(&mn_opdef_globalavgpool, &nd, in, 1, out, 1, &ctx),
                 &ctx);
        for (int p = 0; x && out[0].data && p < 5; p++) {
            double s = 0;
            for (int64_t i = 0; i < hw; i++)
                s += ((const float *)x->data)[p * hw + i];
            CHECK_NEAR(((float *)out[0].data)[p], s / (double)hw,
                       1e-7 * (1 + fabs(s / (double)hw)));
        }
        otu_out_free(out, 1);
        mn_tensor_destroy(x);
        otu_node_free(&nd);
    }
}

extern const mn_op_def mn_opdef_qlinearadd, mn_opdef_qlinearmul,
    mn_opdef_qlinearglobalavgpool;

/* A scalar: float32 v, or an 8-bit zero point z of type dt. */
static mn_tensor *scalar(mn_dtype dt, double v)
{
    mn_tensor *t = otu_tensor(dt, 0, NULL);
    if (t && dt == MN_DT_F32)
        *(float *)t->data = (float)v;
    else if (t && dt == MN_DT_U8)
        *(uint8_t *)t->data = (uint8_t)v;
    else if (t)
        *(int8_t *)t->data = (int8_t)v;
    return t;
}

/* The int8 graph's glue on the pool: QLinearAdd and QLinearMul (the SE
 * scale's one value per channel, and same shapes) over element ranges,
 * QLinearGlobalAveragePool over planes — the same bytes as one thread. */
TEST(ops_qlinear_two_threads_same_bytes)
{
    static const int64_t sa[4] = {1, 64, 57, 31}, sb[4] = {1, 64, 1, 1};
    mn_ctx ctx = {{0}};
    mn_pool *pool = NULL;
    CHECK_OK(mn_pool_create(2, 0, &pool, &ctx), &ctx);
    otu_seed(73);
    for (int i8 = 0; pool && i8 < 2; i8++) {
        mn_dtype dt = i8 ? MN_DT_I8 : MN_DT_U8;
        mn_tensor *a = otu_random(dt, 4, sa), *b = otu_random(dt, 4, sb);
        mn_tensor *a2 = otu_random(dt, 4, sa);
        mn_tensor *s1 = scalar(MN_DT_F32, 0.031), *s2 = scalar(MN_DT_F32, 0.02);
        mn_tensor *s3 = scalar(MN_DT_F32, 0.05);
        mn_tensor *z1 = scalar(dt, i8 ? -3 : 120), *z2 = scalar(dt, i8 ? 7 : 131);
        mn_tensor *z3 = scalar(dt, i8 ? 0 : 128);
        const mn_tensor *bc[8] = {a, s1, z1, b, s2, z2, s3, z3};
        const mn_tensor *same[8] = {a, s1, z1, a2, s2, z2, s3, z3};
        const mn_tensor *gap[5] = {a, s1, z1, s3, z3};
        mn_node nd;
        otu_node(&nd, "QLinearMul");
        CHECK(same_on_pool(&mn_opdef_qlinearmul, &nd, bc, 8, pool));
        CHECK(same_on_pool(&mn_opdef_qlinearmul, &nd, same, 8, pool));
        otu_node_free(&nd);
        otu_node(&nd, "QLinearAdd");
        CHECK(same_on_pool(&mn_opdef_qlinearadd, &nd, same, 8, pool));
        otu_node_free(&nd);
        otu_node(&nd, "QLinearGlobalAveragePool");
        CHECK(same_on_pool(&mn_opdef_qlinearglobalavgpool, &nd, gap, 5, pool));
        otu_node_free(&nd);
        mn_tensor *all[] = {a, b, a2, s1, s2, s3, z1, z2, z3};
        for (size_t k = 0; k < sizeof all / sizeof *all; k++)
            mn_tensor_destroy(all[k]);
    }
    mn_pool_destroy(pool);
}
