/* Unit tests for the com.microsoft quantized ops (qelementwise.c,
 * qpool.c): bit-exact against outputs ONNX Runtime 1.x gave for fixed
 * cases (produced with bench/peers/ort_run.js, see
 * scripts/check_qops_ort.py for the random comparison), within one unit of
 * the float definition on random shapes with broadcasting, exact layout
 * equivalences (GlobalAveragePool NHWC vs NCHW, Concat copy), and
 * shape-inference errors; the op table finds them only in their domain. */
#include "test.h"
#include "ops_test_util.h"
#include "core/pool.h"
#include "kernels/qelem.h"

extern const mn_op_def mn_opdef_qlinearadd, mn_opdef_qlinearmul,
    mn_opdef_qlinearglobalavgpool, mn_opdef_qlinearconcat,
    mn_opdef_qlinearsigmoid, mn_opdef_qlinearleakyrelu;

static mn_tensor *fscal(float v)
{
    mn_tensor *t = otu_tensor(MN_DT_F32, 0, NULL);
    if (t)
        *(float *)t->data = v;
    return t;
}

static mn_tensor *zscal(mn_dtype dt, int v)
{
    mn_tensor *t = otu_tensor(dt, 0, NULL);
    if (t && dt == MN_DT_I8)
        *(int8_t *)t->data = (int8_t)v;
    else if (t)
        *(uint8_t *)t->data = (uint8_t)v;
    return t;
}

static mn_tensor *vec8(mn_dtype dt, int64_t n, const int *v)
{
    mn_tensor *t = otu_tensor(dt, 1, &n);
    for (int64_t i = 0; t && i < n; i++) {
        if (dt == MN_DT_I8)
            ((int8_t *)t->data)[i] = (int8_t)v[i];
        else
            ((uint8_t *)t->data)[i] = (uint8_t)v[i];
    }
    return t;
}

static int64_t get8(const mn_tensor *t, int64_t i)
{
    return mn_tensor_get_i64(t, i);
}

static void free_all(mn_tensor **t, int n)
{
    for (int i = 0; i < n; i++)
        mn_tensor_destroy(t[i]);
}

static const int GA[16] = {0, 1, 7, 100, 127, 128, 129, 200,
                           250, 255, 3, 64, 77, 190, 222, 41};
static const int GB[16] = {255, 254, 9, 100, 128, 127, 3, 60,
                           250, 0, 31, 164, 17, 90, 122, 141};

/* QLinearAdd / QLinearMul on GA, GB with fixed parameters: ORT's bytes. */
TEST(qlinear_add_mul_match_ort)
{
    static const int want_add[16] = {0, 0, 0, 61, 103, 104, 66, 170,
                                     255, 218, 0, 38, 8, 167, 216, 3};
    static const int want_mul[16] = {0, 0, 255, 126, 96, 95, 54, 0,
                                     255, 0, 255, 23, 255, 0, 51, 70};
    for (int mul = 0; mul < 2; mul++) {
        mn_ctx ctx = {{0}};
        mn_node nd;
        mn_tensor out;
        mn_tensor *in[8] = {vec8(MN_DT_U8, 16, GA), fscal(0.0473f),
                            zscal(MN_DT_U8, 121), vec8(MN_DT_U8, 16, GB),
                            fscal(0.0121f), zscal(MN_DT_U8, 133),
                            fscal(mul ? 0.0137f : 0.0391f),
                            zscal(MN_DT_U8, 97)};
        otu_node(&nd, mul ? "QLinearMul" : "QLinearAdd");
        CHECK_OK(otu_run(mul ? &mn_opdef_qlinearmul : &mn_opdef_qlinearadd,
                         &nd, (const mn_tensor *const *)in, 8, &out, 1,
                         &ctx), &ctx);
        for (int i = 0; i < 16; i++)
            CHECK_EQ_INT(get8(&out, i), (mul ? want_mul : want_add)[i]);
        otu_out_free(&out, 1);
        free_all(in, 8);
    }
}

/* GlobalAveragePool over [2,2,3,3] and int8 Sigmoid: ORT's bytes. */
TEST(qlinear_gap_sigmoid_match_ort)
{
    static const int want_sig[16] = {-127, -127, -127, -59, 17,  20,
                                     23,   121,  126,  127, -127, -112,
                                     -100, 118,  125,  -122};
    int64_t d4[4] = {2, 2, 3, 3};
    mn_ctx ctx = {{0}};
    mn_node nd;
    mn_tensor out;
    mn_tensor *x = otu_tensor(MN_DT_U8, 4, d4);
    int xi[16];
    for (int i = 0; i < 36; i++)
        ((uint8_t *)x->data)[i] = (uint8_t)(i * 37 % 256);
    {
        mn_tensor *in[5] = {x, fscal(0.0473f), zscal(MN_DT_U8, 121),
                            fscal(0.0111f), zscal(MN_DT_U8, 7)};
        static const int want[4] = {0, 0, 51, 16};
        otu_node(&nd, "QLinearGlobalAveragePool");
        CHECK_OK(otu_run(&mn_opdef_qlinearglobalavgpool, &nd,
                         (const mn_tensor *const *)in, 5, &out, 1, &ctx),
                 &ctx);
        CHECK_EQ_INT(out.ndim, 4);
        CHECK_EQ_INT(out.dims[2], 1);
        for (int i = 0; i < 4; i++)
            CHECK_EQ_INT(get8(&out, i), want[i]);
        otu_out_free(&out, 1);
        free_all(in, 5);
    }
    for (int i = 0; i < 16; i++)
        xi[i] = GA[i] - 128;
    {
        mn_tensor *in[5] = {vec8(MN_DT_I8, 16, xi), fscal(0.0473f),
                            zscal(MN_DT_I8, -7), fscal(1.0f / 255),
                            zscal(MN_DT_I8, -128)};
        otu_node(&nd, "QLinearSigmoid");
        CHECK_OK(otu_run(&mn_opdef_qlinearsigmoid, &nd,
                         (const mn_tensor *const *)in, 5, &out, 1, &ctx),
                 &ctx);
        for (int i = 0; i < 16; i++)
            CHECK_EQ_INT(get8(&out, i), want_sig[i]);
        otu_out_free(&out, 1);
        free_all(in, 5);
    }
}

static int64_t qref(double v, int64_t zp, int i8)
{
    double r = nearbyint(v) + (double)zp, lo = i8 ? -128 : 0,
           hi = i8 ? 127 : 255;
    return (int64_t)(r < lo ? lo : r > hi ? hi : r);
}

/* Random broadcast shapes, both types: within one unit of the float
 * definition (QLinearAdd rounds in fixed point), mostly exact. */
TEST(qlinear_add_mul_random_within_one)
{
    otu_seed(11);
    for (int it = 0; it < 40; it++) {
        int i8 = it & 1, mul = (it >> 1) & 1;
        mn_dtype dt = i8 ? MN_DT_I8 : MN_DT_U8;
        int64_t da[4] = {otu_int(1, 3), otu_int(1, 5), otu_int(1, 4),
                         otu_int(1, 7)};
        int64_t db[4] = {da[0], da[1], da[2], da[3]};
        mn_ctx ctx = {{0}};
        mn_node nd;
        mn_tensor out;
        int64_t exact = 0, cnt;
        for (int k = 0; k < 4; k++)
            if (otu_int(0, 2) == 0)
                db[k] = 1;
        float sa = 0.01f + 0.1f * (otu_float() + 1);
        float sb = 0.01f + 0.1f * (otu_float() + 1);
        float sc = 0.02f + 0.2f * (otu_float() + 1);
        int za = (int)otu_int(i8 ? -60 : 60, i8 ? 60 : 190);
        int zb = (int)otu_int(i8 ? -60 : 60, i8 ? 60 : 190);
        int zc = (int)otu_int(i8 ? -60 : 60, i8 ? 60 : 190);
        mn_tensor *in[8] = {otu_random(dt, 4, da), fscal(sa), zscal(dt, za),
                            otu_random(dt, 4, db), fscal(sb), zscal(dt, zb),
                            fscal(sc), zscal(dt, zc)};
        otu_node(&nd, mul ? "QLinearMul" : "QLinearAdd");
        CHECK_OK(otu_run(mul ? &mn_opdef_qlinearmul : &mn_opdef_qlinearadd,
                         &nd, (const mn_tensor *const *)in, 8, &out, 1,
                         &ctx), &ctx);
        cnt = mn_tensor_numel(&out);
        CHECK_EQ_INT(cnt, mn_tensor_numel(in[0]));
        for (int64_t i = 0; i < cnt; i++) {
            /* output index → input indices (b broadcast on size-1 dims) */
            int64_t r = i, ib = 0, mb = 1;
            for (int k = 3; k >= 0; k--) {
                int64_t c = r % da[k];
                r /= da[k];
                ib += (db[k] == 1 ? 0 : c) * mb;
                mb *= db[k];
            }
            double va = sa * (double)(get8(in[0], i) - za);
            double vb = sb * (double)(get8(in[3], ib) - zb);
            int64_t want = qref((mul ? va * vb : va + vb) / sc, zc, i8);
            int64_t d = get8(&out, i) - want;
            CHECK(d >= -1 && d <= 1);
            exact += d == 0;
        }
        CHECK(exact * 10 >= cnt * 9);
        otu_out_free(&out, 1);
        free_all(in, 8);
    }
}

/* QLinearAdd of same-shape tensors big enough for the pool's chunks
 * (with a partial last chunk): the same bytes as one thread, uint8 and
 * int8. */
TEST(qlinear_add_pool_matches_one_thread)
{
    mn_ctx ctx = {{0}};
    mn_pool *pool = NULL;
    CHECK_OK(mn_pool_create(2, 0, &pool, &ctx), &ctx);
    otu_seed(12);
    for (int i8 = 0; i8 < 2; i8++) {
        mn_dtype dt = i8 ? MN_DT_I8 : MN_DT_U8;
        int64_t d[4] = {1, 37, 41, 53}; /* 80 401 elements */
        mn_node nd;
        mn_tensor out, o2 = {0}, *op = &o2;
        mn_tensor *in[8] = {otu_random(dt, 4, d), fscal(0.031f),
                            zscal(dt, i8 ? -5 : 120), otu_random(dt, 4, d),
                            fscal(0.047f), zscal(dt, i8 ? 9 : 131),
                            fscal(0.06f), zscal(dt, i8 ? 3 : 127)};
        otu_node(&nd, "QLinearAdd");
        CHECK_OK(otu_run(&mn_opdef_qlinearadd, &nd,
                         (const mn_tensor *const *)in, 8, &out, 1, &ctx),
                 &ctx);
        CHECK_OK(mn_opdef_qlinearadd.infer(&nd, (const mn_tensor *const *)in,
                                           8, &op, 1, &ctx), &ctx);
        size_t nb = mn_tensor_nbytes(&o2);
        o2.data = malloc(nb);
        if (o2.data && out.data) {
            mn_exec ex = {.ctx = &ctx, .pool = pool};
            memset(o2.data, 0xC3, nb);
            CHECK_OK(mn_opdef_qlinearadd.forward(
                         &nd, (const mn_tensor *const *)in, 8, &op, 1, &ex),
                     &ctx);
            CHECK(memcmp(o2.data, out.data, nb) == 0);
        }
        free(o2.data);
        otu_out_free(&out, 1);
        free_all(in, 8);
        otu_node_free(&nd);
    }
    mn_pool_destroy(pool);
}

/* LeakyRelu and Sigmoid on every code: the float definition exactly. */
TEST(qlinear_activations_every_code)
{
    for (int it = 0; it < 4; it++) {
        int i8 = it & 1, leaky = it >> 1;
        mn_dtype dt = i8 ? MN_DT_I8 : MN_DT_U8;
        int codes[256];
        float sx = 0.043f, sy = leaky ? 0.031f : 1.0f / 256;
        int zx = i8 ? 3 : 131, zy = i8 ? -20 : 40;
        mn_ctx ctx = {{0}};
        mn_node nd;
        mn_tensor out;
        for (int j = 0; j < 256; j++)
            codes[j] = i8 ? j - 128 : j;
        mn_tensor *in[5] = {vec8(dt, 256, codes), fscal(sx), zscal(dt, zx),
                            fscal(sy), zscal(dt, zy)};
        otu_node(&nd, leaky ? "QLinearLeakyRelu" : "QLinearSigmoid");
        if (leaky)
            otu_float_attr(&nd, "alpha", 0.25f);
        CHECK_OK(otu_run(leaky ? &mn_opdef_qlinearleakyrelu
                               : &mn_opdef_qlinearsigmoid,
                         &nd, (const mn_tensor *const *)in, 5, &out, 1,
                         &ctx), &ctx);
        for (int j = 0; j < 256; j++) {
            float x = sx * (float)(codes[j] - zx);
            float f = leaky ? (x >= 0 ? x : x * 0.25f)
                            : 1.0f / (1.0f + expf(-x));
            CHECK_EQ_INT(get8(&out, j), qref(rintf(f / sy), zy, i8));
        }
        otu_out_free(&out, 1);
        otu_node_free(&nd);
        free_all(in, 5);
    }
}

/* NHWC (channels_last) gives the NCHW result on the transposed input;
 * random values stay within one unit of the exact mean. */
TEST(qlinear_gap_layouts)
{
    int64_t d[4] = {2, 5, 3, 7}, dl[4] = {2, 3, 7, 5};
    mn_ctx ctx = {{0}};
    mn_node nc, nl;
    mn_tensor o1, o2;
    otu_seed(5);
    mn_tensor *x = otu_random(MN_DT_I8, 4, d);
    mn_tensor *xl = otu_tensor(MN_DT_I8, 4, dl);
    for (int n = 0; n < 2; n++)
        for (int c = 0; c < 5; c++)
            for (int p = 0; p < 21; p++)
                ((int8_t *)xl->data)[(n * 21 + p) * 5 + c] =
                    ((int8_t *)x->data)[(n * 5 + c) * 21 + p];
    mn_tensor *in[5] = {x, fscal(0.05f), zscal(MN_DT_I8, -3), fscal(0.01f),
                        zscal(MN_DT_I8, 2)};
    mn_tensor *inl[5] = {xl, in[1], in[2], in[3], in[4]};
    otu_node(&nc, "QLinearGlobalAveragePool");
    otu_node(&nl, "QLinearGlobalAveragePool");
    otu_int_attr(&nl, "channels_last", 1);
    CHECK_OK(otu_run(&mn_opdef_qlinearglobalavgpool, &nc,
                     (const mn_tensor *const *)in, 5, &o1, 1, &ctx), &ctx);
    CHECK_OK(otu_run(&mn_opdef_qlinearglobalavgpool, &nl,
                     (const mn_tensor *const *)inl, 5, &o2, 1, &ctx), &ctx);
    CHECK_EQ_INT(o2.dims[3], 5);
    CHECK_EQ_INT(o2.dims[1], 1);
    for (int i = 0; i < 10; i++) {
        double s = 0;
        for (int p = 0; p < 21; p++)
            s += ((int8_t *)x->data)[i * 21 + p] + 3;
        int64_t want = qref(0.05 * s / 21 / 0.01, 2, 1);
        CHECK_EQ_INT(get8(&o1, i), get8(&o2, i));
        CHECK(llabs(get8(&o1, i) - want) <= 1);
    }
    otu_out_free(&o1, 1);
    otu_out_free(&o2, 1);
    otu_node_free(&nl);
    free_all(in, 5);
    mn_tensor_destroy(xl);
}

/* Concat along axis 1: the input with the output's parameters is copied,
 * the other requantized. */
TEST(qlinear_concat)
{
    int64_t d0[3] = {2, 3, 4}, d1[3] = {2, 2, 4};
    mn_ctx ctx = {{0}};
    mn_node nd;
    mn_tensor out;
    otu_seed(9);
    mn_tensor *in[8] = {fscal(0.02f), zscal(MN_DT_U8, 100),
                        otu_random(MN_DT_U8, 3, d0), fscal(0.02f),
                        zscal(MN_DT_U8, 100), otu_random(MN_DT_U8, 3, d1),
                        fscal(0.013f), zscal(MN_DT_U8, 77)};
    otu_node(&nd, "QLinearConcat");
    otu_int_attr(&nd, "axis", 1);
    CHECK_OK(otu_run(&mn_opdef_qlinearconcat, &nd,
                     (const mn_tensor *const *)in, 8, &out, 1, &ctx), &ctx);
    CHECK_EQ_INT(out.dims[1], 5);
    for (int n = 0; n < 2; n++)
        for (int j = 0; j < 20; j++) {
            int64_t got = get8(&out, n * 20 + j);
            if (j < 12)
                CHECK_EQ_INT(got, get8(in[2], n * 12 + j));
            else {
                float v = 0.013f * (float)(get8(in[5], n * 8 + j - 12) - 77);
                CHECK_EQ_INT(got, qref(rintf(v / 0.02f), 100, 0));
            }
        }
    otu_out_free(&out, 1);
    otu_node_free(&nd);
    free_all(in, 8);
}

TEST(qlinear_infer_errors_and_domain)
{
    int64_t d[2] = {2, 3}, e[2] = {2, 4};
    mn_ctx ctx = {{0}};
    mn_node nd;
    mn_tensor o, *op = &o;
    mn_tensor *a = otu_tensor(MN_DT_U8, 2, d), *b = otu_tensor(MN_DT_U8, 2, e);
    mn_tensor *bi = otu_tensor(MN_DT_I8, 2, d), *s = fscal(0.1f);
    mn_tensor *z = zscal(MN_DT_U8, 1), *zi = zscal(MN_DT_I8, 1);
    const mn_tensor *in[8] = {a, s, z, b, s, z, s, z};
    otu_node(&nd, "QLinearAdd");
    memset(&o, 0, sizeof o);
    CHECK_EQ_INT(mn_opdef_qlinearadd.infer(&nd, in, 8, &op, 1, &ctx),
                 MN_ERR_SHAPE); /* [2,3] + [2,4] */
    in[3] = bi;
    CHECK_EQ_INT(mn_opdef_qlinearadd.infer(&nd, in, 8, &op, 1, &ctx),
                 MN_ERR_UNSUPPORTED); /* uint8 + int8 */
    in[3] = a;
    in[5] = zi;
    CHECK_EQ_INT(mn_opdef_qlinearadd.infer(&nd, in, 8, &op, 1, &ctx),
                 MN_ERR_SHAPE); /* zero point type */
    in[5] = z;
    in[4] = a;
    CHECK_EQ_INT(mn_opdef_qlinearadd.infer(&nd, in, 8, &op, 1, &ctx),
                 MN_ERR_UNSUPPORTED); /* scale not float */
    in[4] = s;
    CHECK_EQ_INT(mn_opdef_qlinearadd.infer(&nd, in, 8, &op, 1, &ctx), MN_OK);
    CHECK_EQ_INT(o.dtype, MN_DT_U8);
    {
        const mn_tensor *gi[5] = {a, s, z, s, z}; /* rank 2 */
        CHECK_EQ_INT(mn_opdef_qlinearglobalavgpool.infer(&nd, gi, 5, &op, 1,
                                                         &ctx),
                     MN_ERR_SHAPE);
    }
    CHECK_EQ_INT(mn_op_lookup("com.microsoft", "QLinearAdd"),
                 MN_OP_QLINEARADD);
    CHECK_EQ_INT(mn_op_lookup("", "QLinearAdd"), MN_OP_UNKNOWN);
    CHECK_EQ_INT(mn_op_lookup("com.microsoft", "Add"), MN_OP_UNKNOWN);
    CHECK_EQ_INT(mn_op_lookup("com.microsoft", "QuantizeLinear"),
                 MN_OP_QUANTIZELINEAR);
    CHECK_EQ_INT(mn_op_lookup("", "Add"), MN_OP_ADD);
    mn_tensor_destroy(a);
    mn_tensor_destroy(b);
    mn_tensor_destroy(bi);
    mn_tensor_destroy(s);
    mn_tensor_destroy(z);
    mn_tensor_destroy(zi);
}

/* QLinearMul of a [n, C, H, W] tensor by a per-channel [n, C, 1, 1] one
 * (a squeeze-excite scale), either operand first: whole planes per kernel
 * call, ranges of whole planes per task. The bytes of the reference
 * arithmetic (mn_qmul1) element by element, at one and two threads, for
 * planes shorter than a vector, of 49 and 196, and at every ISA level. */
TEST(qlinear_mul_per_channel_planes_exact)
{
    mn_ctx ctx = {{0}};
    mn_pool *pool = NULL;
    mn_isa lv[MN_ISA_COUNT];
    int nl = 0;
    CHECK_OK(mn_pool_create(2, 0, &pool, &ctx), &ctx);
    for (int l = 0; l < MN_ISA_COUNT; l++)
        if (l <= (int)mn_isa_detect())
            lv[nl++] = (mn_isa)l;
    otu_seed(13);
    const int64_t planes[][3] = {{37, 7, 7}, {40, 14, 14}, {300, 3, 3},
                                 {700, 10, 13}};
    for (int it = 0; it < 16; it++) {
        int i8 = it & 1, swap = (it >> 1) & 1;
        const int64_t *pl = planes[(it >> 2) & 3];
        mn_dtype dt = i8 ? MN_DT_I8 : MN_DT_U8;
        int64_t dx[4] = {1, pl[0], pl[1], pl[2]}, ds[4] = {1, pl[0], 1, 1};
        int za = (int)otu_int(i8 ? -60 : 60, i8 ? 60 : 190);
        int zb = (int)otu_int(i8 ? -60 : 60, i8 ? 60 : 190);
        int zc = (int)otu_int(i8 ? -60 : 60, i8 ? 60 : 190);
        float sa = 0.01f + 0.1f * (otu_float() + 1);
        float sb = 0.003f + 0.01f * (otu_float() + 1);
        float sc = 0.02f + 0.05f * (otu_float() + 1);
        mn_tensor *x = otu_random(dt, 4, dx), *s = otu_random(dt, 4, ds);
        mn_tensor *in[8] = {swap ? s : x, fscal(sa), zscal(dt, za),
                            swap ? x : s, fscal(sb), zscal(dt, zb),
                            fscal(sc), zscal(dt, zc)};
        mn_qmul_p p = {za, zb, zc, sa * sb / sc};
        mn_node nd;
        otu_node(&nd, "QLinearMul");
        for (int l = 0; l < nl; l++)
            for (int t = 0; t < 2; t++) {
                mn_tensor out;
                mn_isa_force(lv[l]);
                CHECK_OK(otu_run_pool(&mn_opdef_qlinearmul, &nd,
                                      (const mn_tensor *const *)in, 8, &out,
                                      1, t ? pool : NULL, &ctx), &ctx);
                int64_t hw = pl[1] * pl[2], bad = 0;
                for (int64_t i = 0; i < mn_tensor_numel(&out); i++) {
                    int64_t vx = get8(x, i), vs = get8(s, i / hw);
                    int32_t want = mn_qmul1(&p, (int32_t)(swap ? vs : vx),
                                            (int32_t)(swap ? vx : vs), i8);
                    bad += get8(&out, i) != want;
                }
                if (bad)
                    mn_test_fail(__FILE__, __LINE__,
                                 "%s C%lld %lldx%lld i8 %d swap %d threads "
                                 "%d: %lld wrong", mn_isa_name(lv[l]),
                                 (long long)pl[0], (long long)pl[1],
                                 (long long)pl[2], i8, swap, t + 1,
                                 (long long)bad);
                otu_out_free(&out, 1);
            }
        mn_isa_force(MN_ISA_COUNT);
        otu_node_free(&nd);
        free_all(in, 8);
    }
    mn_pool_destroy(pool);
}
