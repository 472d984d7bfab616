/* 4-bit weights: ONNX INT4/UINT4 packing through a file, opset-21
 * blocked DequantizeLinear against a naive loop, and the int4 scale choice
 * against max scaling. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ops/ops.h"
#include "ops_test_util.h"
#include "quant/quant.h"
#include "quant_build_util.h"
#include "test.h"

extern const mn_op_def mn_opdef_dequantizelinear;

/* ONNX layout of code i: low nibble first. */
static int nibble(const mn_tensor *t, int64_t i, int is_signed)
{
    int v = (((const uint8_t *)t->data)[i >> 1] >> (i & 1 ? 4 : 0)) & 15;
    return is_signed && v > 7 ? v - 16 : v;
}

TEST(int4_packing_round_trips_through_onnx)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL, *h = NULL;
    int64_t dq[2] = {3, 5}, ds[2] = {3, 1}, du[1] = {7};
    int8_t codes[15];
    uint8_t packed[8], ucodes[4] = {0x21, 0x43, 0x65, 0xf7};
    int vq, vs, vu, vo, node;
    char path[512];
    for (int i = 0; i < 15; i++)
        codes[i] = (int8_t)(i % 16 - 8); /* -8 .. 6 */
    mn_q_pack_int4(codes, 15, packed);
    CHECK_EQ_INT(packed[7] >> 4, 0); /* odd count: last high nibble 0 */
    CHECK_EQ_INT(packed[0], 0x98);   /* -8 → 8 low, -7 → 9 high */
    float sc[3] = {0.5f, 0.25f, 2.0f};
    CHECK_OK(mn_graph_create(&g, &ctx), &ctx);
    if (!g)
        return;
    CHECK_OK(mn_q_add_const(g, "q", MN_DT_I4, 2, dq, packed, &vq, &ctx),
             &ctx);
    CHECK_OK(mn_q_add_const(g, "s", MN_DT_F32, 2, ds, sc, &vs, &ctx), &ctx);
    CHECK_OK(mn_q_add_const(g, "u", MN_DT_U4, 1, du, ucodes, &vu, &ctx),
             &ctx);
    CHECK_OK(mn_q_add_value(g, "w", MN_DT_F32, -1, &vo, &ctx), &ctx);
    CHECK_OK(mn_q_add_node(g, "dq", "DequantizeLinear", (int[]){vq, vs}, 2,
                           &vo, 1, &node, &ctx), &ctx);
    CHECK_OK(mn_q_set_attr_int(g, node, "block_size", 5, &ctx), &ctx);
    CHECK_OK(mn_q_add_output(g, vo, &ctx), &ctx);
    g->opset = 21;
    g->nodes[node].opset = 21;
    g->ir_version = 10;
    /* u is unused by any node: keep it alive as a second output */
    CHECK_OK(mn_q_add_output(g, vu, &ctx), &ctx);
    mn_graph_relink(g);
    snprintf(path, sizeof path, "%s/int4.onnx", mn_test_tmp_dir());
    CHECK_OK(mn_graph_save_onnx(g, path, &ctx), &ctx);
    CHECK_OK(mn_graph_load_onnx(path, &h, &ctx), &ctx);
    if (h) {
        int q = mn_graph_find_value(h, g->values[vq].name);
        int u = mn_graph_find_value(h, g->values[vu].name);
        const mn_tensor *t = q >= 0 ? h->values[q].init : NULL;
        const mn_tensor *tu = u >= 0 ? h->values[u].init : NULL;
        CHECK(t && t->dtype == MN_DT_I4 && t->ndim == 2 && t->dims[1] == 5);
        CHECK(t && mn_tensor_nbytes(t) == 8);
        for (int i = 0; t && i < 15; i++) {
            CHECK_EQ_INT(nibble(t, i, 1), codes[i]);
            CHECK_EQ_INT((int)mn_tensor_get_i64(t, i), codes[i]);
        }
        CHECK(t && !memcmp(t->data, packed, 8));
        CHECK(tu && tu->dtype == MN_DT_U4 && mn_tensor_nbytes(tu) == 4);
        for (int i = 0; tu && i < 7; i++)
            CHECK_EQ_INT((int)mn_tensor_get_i64(tu, i), i + 1);
        /* the 8th nibble (0xf) is past the 7 values: cleared on load */
        CHECK(tu && ((uint8_t *)tu->data)[3] == 0x07);
        CHECK_EQ_INT((int)h->opset, 21);
    }
    mn_graph_destroy(h);
    mn_graph_destroy(g);
}

/* x as [outer, D, inner]: y = (x - zp[o, d/B, i]) * s[o, d/B, i] (blocked)
 * or per axis (B = 0: parameter d). */
static void naive_dq(const mn_tensor *x, const float *s, const int *zp,
                     int64_t outer, int64_t D, int64_t inner, int64_t B,
                     double *y)
{
    int64_t nb = B ? (D + B - 1) / B : D;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t d = 0; d < D; d++)
            for (int64_t i = 0; i < inner; i++) {
                int64_t at = (o * D + d) * inner + i;
                int64_t p = B ? (o * nb + d / B) * inner + i : d;
                y[at] = ((double)mn_tensor_get_i64(x, at) - zp[p]) * s[p];
            }
}

TEST(dequantizelinear_blocked_matches_naive_loop)
{
    otu_seed(21);
    for (int it = 0; it < 40; it++) {
        mn_dtype dt = it % 2 ? MN_DT_I4 : MN_DT_I8;
        int rank = 1 + (int)otu_int(0, 2), axis = (int)otu_int(0, rank - 1);
        int64_t dx[3], ds[3], B = otu_int(1, 7), outer = 1, inner = 1, D;
        int blocked = it % 4 < 3, use_zp = it % 3 == 0;
        mn_ctx ctx = {{0}};
        mn_node n;
        mn_tensor out[1];
        for (int k = 0; k < rank; k++)
            dx[k] = otu_int(1, 9); /* odd sizes, partial last blocks */
        D = dx[axis];
        for (int k = 0; k < axis; k++)
            outer *= dx[k];
        for (int k = axis + 1; k < rank; k++)
            inner *= dx[k];
        memcpy(ds, dx, sizeof ds);
        ds[axis] = blocked ? (D + B - 1) / B : D;
        mn_tensor *x = otu_tensor(dt, rank, dx);
        mn_tensor *s = otu_tensor(MN_DT_F32, blocked ? rank : 1,
                                  blocked ? ds : &D);
        mn_tensor *z = otu_tensor(dt, blocked ? rank : 1, blocked ? ds : &D);
        int64_t nx = mn_tensor_numel(x), ns = mn_tensor_numel(s);
        double *want = malloc((size_t)nx * sizeof *want);
        int *zi = malloc((size_t)ns * sizeof *zi);
        int8_t *c = malloc((size_t)(nx > ns ? nx : ns));
        if (!x || !s || !z || !want || !zi || !c)
            goto next;
        for (int64_t i = 0; i < nx; i++)
            c[i] = (int8_t)otu_int(-8, 7);
        if (dt == MN_DT_I4)
            mn_q_pack_int4(c, nx, x->data);
        else
            memcpy(x->data, c, (size_t)nx);
        for (int64_t i = 0; i < ns; i++) {
            ((float *)s->data)[i] = 0.01f + (float)otu_int(1, 100) / 64.0f;
            c[i] = (int8_t)(use_zp ? otu_int(-8, 7) : 0);
            zi[i] = c[i];
        }
        if (dt == MN_DT_I4)
            mn_q_pack_int4(c, ns, z->data);
        else
            memcpy(z->data, c, (size_t)ns);
        naive_dq(x, s->data, zi, outer, D, inner, blocked ? B : 0, want);
        otu_node(&n, "DequantizeLinear");
        n.opset = 21;
        otu_int_attr(&n, "axis", axis);
        if (blocked)
            otu_int_attr(&n, "block_size", B);
        {
            const mn_tensor *in[3] = {x, s, z};
            CHECK_OK(otu_run(&mn_opdef_dequantizelinear, &n, in,
                             use_zp ? 3 : 2, out, 1, &ctx), &ctx);
        }
        CHECK(out[0].dtype == MN_DT_F32);
        for (int64_t i = 0; out[0].data && i < nx; i++)
            if (((float *)out[0].data)[i] != (float)want[i]) {
                CHECK_NEAR(((float *)out[0].data)[i], want[i], 0);
                break;
            }
        otu_out_free(out, 1);
        if (blocked) { /* a scale of the wrong extent is refused */
            mn_tensor bad = *s;
            bad.dims[axis] += 1;
            const mn_tensor *in[2] = {x, &bad};
            CHECK(otu_run(&mn_opdef_dequantizelinear, &n, in, 2, out, 1,
                          &ctx) == MN_ERR_SHAPE);
            otu_out_free(out, 1);
        }
        otu_node_free(&n);
    next:
        free(want);
        free(zi);
        free(c);
        mn_tensor_destroy(x);
        mn_tensor_destroy(s);
        mn_tensor_destroy(z);
    }
}

/* Σe² + (Σe)² of x quantized with s in [lo, hi], computed here. */
static double crit(const float *x, int n, float s, int lo, int hi)
{
    double e2 = 0, e1 = 0;
    for (int i = 0; i < n; i++) {
        double q = rint((double)(x[i] / s));
        q = q < lo ? lo : q > hi ? hi : q;
        double d = x[i] - s * q;
        e2 += d * d;
        e1 += d;
    }
    return e2 + e1 * e1;
}

TEST(int4_scale_choice_never_worse_than_max_scaling)
{
    float x[200];
    int8_t q[200];
    otu_seed(4);
    for (int it = 0; it < 300; it++) {
        int n = 1 + (int)otu_int(0, 199), f16 = it % 2;
        double err, mse = 0, sum = 0;
        float mx = 0;
        for (int i = 0; i < n; i++) {
            float u = otu_float();
            /* heavy tails every other round: clipping should then pay */
            x[i] = it % 3 ? u : u * u * u * 4.0f;
            mx = fmaxf(mx, fabsf(x[i]));
        }
        float s = mn_q_int4_group(x, n, 1, f16, q, &err);
        float sm = mx / 7.0f;
        if (f16)
            sm = mn_f16_to_f32(mn_q_f32_to_f16(sm));
        CHECK(s > 0);
        CHECK(err <= crit(x, n, sm, -7, 7) * (1 + 1e-9) + 1e-12);
        for (int i = 0; i < n; i++) {
            CHECK(q[i] >= -8 && q[i] <= 7);
            double d = x[i] - (double)s * q[i];
            mse += d * d;
            sum += d;
        }
        CHECK_NEAR(err, mse + sum * sum, 1e-9 * (1 + err));
        if (f16)
            CHECK(mn_f16_to_f32(mn_q_f32_to_f16(s)) == s);
    }
    /* strided view (a column of a row-major matrix) and an all-zero group */
    for (int i = 0; i < 40; i++)
        x[i] = (float)(i % 4) * 0.1f;
    float s4 = mn_q_int4_group(x + 1, 10, 4, 0, q, NULL);
    for (int i = 0; i < 10; i++)
        CHECK_EQ_INT(q[i], (int)rintf(0.1f / s4));
    memset(x, 0, sizeof x);
    CHECK(mn_q_int4_group(x, 7, 1, 0, q, NULL) == 1.0f && q[3] == 0);
}

/* Runs g on x; output k copied (NULL on failure). */
static mn_tensor *run_graph(const mn_graph *g, const mn_tensor *x, int k)
{
    mn_ctx ctx = {{0}};
    mn_session *s = NULL;
    mn_tensor *y = NULL;
    const mn_tensor *shapes[1] = {x};
    mn_session_opts o = {.n_input_shapes = 1, .input_shapes = shapes};
    CHECK_OK(mn_session_create(g, &o, &s, &ctx), &ctx);
    if (s && mn_session_run(s, &x, 1, &ctx) == MN_OK)
        mn_tensor_clone(mn_session_output(s, k), &y, &ctx);
    mn_session_destroy(s);
    return y;
}

TEST(int4_opset_21_keeps_reduce_and_split_meaning)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    int64_t dx[3] = {2, 4, 3}, ax[1] = {1};
    int vx, vr, va, vb, nr, ns;
    mn_tensor *x = otu_random(MN_DT_F32, 3, dx), *y0[3] = {0}, *y1[3] = {0};
    CHECK_OK(mn_graph_create(&g, &ctx), &ctx);
    if (!g || !x)
        goto out;
    g->opset = 13;
    CHECK_OK(mn_graph_add_value(g, "x", MN_DT_F32, 3, dx, &vx, &ctx), &ctx);
    g->values[vx].is_input = 1;
    g->inputs = malloc(sizeof(int));
    g->inputs[0] = vx;
    g->n_inputs = 1;
    CHECK_OK(mn_q_add_value(g, "r", MN_DT_F32, -1, &vr, &ctx), &ctx);
    CHECK_OK(mn_q_add_value(g, "a", MN_DT_F32, -1, &va, &ctx), &ctx);
    CHECK_OK(mn_q_add_value(g, "b", MN_DT_F32, -1, &vb, &ctx), &ctx);
    CHECK_OK(mn_q_add_node(g, "mean", "ReduceMean", &vx, 1, &vr, 1, &nr,
                           &ctx), &ctx);
    {
        mn_attr *a = NULL;
        CHECK_OK(mn_node_add_attr(&g->nodes[nr], "axes", MN_ATTR_INTS, &a,
                                  &ctx), &ctx);
        if (a)
            CHECK_OK(mn_attr_set_ints(a, ax, 1, &ctx), &ctx);
    }
    CHECK_OK(mn_q_add_node(g, "split", "Split", &vx, 1, (int[]){va, vb}, 2,
                           &ns, &ctx), &ctx);
    CHECK_OK(mn_q_set_attr_int(g, ns, "axis", 1, &ctx), &ctx);
    CHECK_OK(mn_q_add_output(g, vr, &ctx), &ctx);
    CHECK_OK(mn_q_add_output(g, va, &ctx), &ctx);
    CHECK_OK(mn_q_add_output(g, vb, &ctx), &ctx);
    mn_graph_relink(g);
    for (int k = 0; k < 3; k++)
        y0[k] = run_graph(g, x, k);
    CHECK_OK(mn_q_require_opset(g, 21, &ctx), &ctx);
    CHECK_EQ_INT((int)g->opset, 21);
    CHECK_EQ_INT(g->nodes[nr].opset, 21);
    CHECK_EQ_INT(g->nodes[nr].n_in, 2); /* axes became an input */
    CHECK(!mn_node_attr(&g->nodes[nr], "axes"));
    CHECK_EQ_INT((int)mn_node_attr_int(&g->nodes[ns], "num_outputs", 0), 2);
    for (int k = 0; k < 3; k++) {
        y1[k] = run_graph(g, x, k);
        CHECK(y0[k] && y1[k] && mn_tensor_numel(y0[k]) ==
                                    mn_tensor_numel(y1[k]));
        if (y0[k] && y1[k])
            CHECK(!memcmp(y0[k]->data, y1[k]->data,
                          mn_tensor_nbytes(y0[k])));
    }
    CHECK(y0[0] && y0[0]->dims[1] == 1); /* mean over axis 1, kept */
out:
    for (int k = 0; k < 3; k++) {
        mn_tensor_destroy(y0[k]);
        mn_tensor_destroy(y1[k]);
    }
    mn_tensor_destroy(x);
    mn_graph_destroy(g);
}

/* A 1×1 Conv whose input channels span several groups: the INT4 weight
 * keeps its 4-D shape and DequantizeLinear is blocked along axis 1 (scales
 * [M, C/G, 1, 1]); no Reshape, and the codes dequantize to what each
 * group's scale gives. */
TEST(int4_pointwise_conv_blocks_along_axis_1)
{
    enum { M = 6, C = 12, G = 4 };
    qb b = {.rng = 11};
    mn_ctx ctx = {{0}};
    int64_t dx[4] = {1, C, 3, 3}, dw[4] = {M, C, 1, 1};
    mn_quant_opts o = {.mode = MN_QUANT_INT4, .group = G, .scale_f16 = -1};
    mn_quant_report r;
    mn_tensor *x = NULL, *ref = NULL, *got = NULL;
    float w[M * C];
    int vx, vw, vy, ni = -1, dq = -1;
    CHECK_OK(mn_graph_create(&b.g, &ctx), &ctx);
    if (!b.g)
        return;
    vx = qb_value(&b, "x", 4, dx);
    vw = qb_weight(&b, "w", 4, dw, -1, 1);
    ni = qb_node(&b, "pw", "Conv", (int[]){vx, vw}, 2, &vy);
    qb_io(&b, vx, vy);
    memcpy(w, b.g->values[vw].init->data, sizeof w);
    CHECK_OK(mn_tensor_create(MN_DT_F32, 4, dx, &x, &ctx), &ctx);
    for (int i = 0; x && i < C * 9; i++)
        ((float *)x->data)[i] = qb_rand(&b, -1, 1);
    ref = qb_run(b.g, x);
    CHECK_OK(mn_quantize(b.g, &o, &r, &ctx), &ctx);
    for (int k = 0; k < b.g->n_nodes; k++) {
        CHECK(strcmp(b.g->nodes[k].op_type, "Reshape") != 0);
        if (!strcmp(b.g->nodes[k].op_type, "DequantizeLinear"))
            dq = k;
    }
    ni = -1;
    for (int k = 0; k < b.g->n_nodes; k++)
        if (!strcmp(b.g->nodes[k].op_type, "Conv"))
            ni = k;
    CHECK(dq >= 0 && ni >= 0);
    if (dq >= 0 && ni >= 0) {
        const mn_node *n = &b.g->nodes[dq];
        const mn_tensor *q = b.g->values[n->in[0]].init;
        const mn_tensor *s = b.g->values[n->in[1]].init;
        CHECK_EQ_INT(b.g->nodes[ni].in[1], n->out[0]);
        CHECK(q && q->dtype == MN_DT_I4 && q->ndim == 4 && q->dims[1] == C);
        CHECK(s && s->ndim == 4 && s->dims[0] == M && s->dims[1] == C / G &&
              s->dims[2] == 1 && s->dims[3] == 1);
        CHECK_EQ_INT(mn_node_attr_int(n, "axis", -9), 1);
        CHECK_EQ_INT(mn_node_attr_int(n, "block_size", -9), G);
        for (int m = 0; q && s && m < M; m++)
            for (int j = 0; j < C / G; j++) {
                float sc = ((const float *)s->data)[m * (C / G) + j];
                CHECK_NEAR(sc, mn_q_int4_group(w + m * C + j * G, G, 1, 0,
                                               NULL, NULL), 0);
                for (int k = 0; k < G; k++) {
                    int at = m * C + j * G + k;
                    CHECK_EQ_INT((int)mn_tensor_get_i64(q, at),
                                 mn_quant_value(w[at], sc, 0, -8, 7));
                }
            }
    }
    got = qb_run(b.g, x);
    CHECK(qb_rel_diff(ref, got) < 0.2);
    CHECK(qb_rel_diff(ref, got) > 0);
    mn_tensor_destroy(x);
    mn_tensor_destroy(ref);
    mn_tensor_destroy(got);
    mn_graph_destroy(b.g);
}

/* Float16 scales bring float16 biases (+ Cast) when that saves bytes;
 * --scale-f32 (scale_f16 < 0) keeps both float32. */
TEST(int4_f16_mode_stores_biases_as_float16)
{
    enum { M = 48, C = 8 };
    for (int f32 = 0; f32 < 2; f32++) {
        qb b = {.rng = 5};
        mn_ctx ctx = {{0}};
        int64_t dx[4] = {1, C, 2, 2}, dw[4] = {M, C, 1, 1}, db[1] = {M};
        mn_quant_opts o = {.mode = MN_QUANT_INT4, .scale_f16 = f32 ? -1 : 0};
        mn_quant_report r;
        mn_tensor *x = NULL, *ref = NULL, *got = NULL;
        float bias[M];
        int vx, vw, vb, vy, p;
        CHECK_OK(mn_graph_create(&b.g, &ctx), &ctx);
        if (!b.g)
            return;
        vx = qb_value(&b, "x", 4, dx);
        vw = qb_weight(&b, "w", 4, dw, -1, 1);
        vb = qb_weight(&b, "b", 1, db, -3, 3);
        qb_node(&b, "pw", "Conv", (int[]){vx, vw, vb}, 3, &vy);
        qb_io(&b, vx, vy);
        memcpy(bias, b.g->values[vb].init->data, sizeof bias);
        CHECK_OK(mn_tensor_create(MN_DT_F32, 4, dx, &x, &ctx), &ctx);
        for (int i = 0; x && i < C * 4; i++)
            ((float *)x->data)[i] = qb_rand(&b, -1, 1);
        ref = qb_run(b.g, x);
        CHECK_OK(mn_quantize(b.g, &o, &r, &ctx), &ctx);
        vb = mn_graph_find_value(b.g, "b");
        p = vb >= 0 ? b.g->values[vb].producer : -1;
        if (f32) {
            CHECK(vb >= 0 && b.g->values[vb].init &&
                  b.g->values[vb].init->dtype == MN_DT_F32);
        } else {
            CHECK(p >= 0 && !strcmp(b.g->nodes[p].op_type, "Cast"));
            if (p >= 0) {
                const mn_tensor *h = b.g->values[b.g->nodes[p].in[0]].init;
                CHECK(h && h->dtype == MN_DT_F16 && mn_tensor_numel(h) == M);
                for (int i = 0; h && i < M; i++)
                    CHECK_EQ_INT(((const uint16_t *)h->data)[i],
                                 mn_q_f32_to_f16(bias[i]));
            }
        }
        got = qb_run(b.g, x);
        CHECK(qb_rel_diff(ref, got) < 0.2);
        mn_tensor_destroy(x);
        mn_tensor_destroy(ref);
        mn_tensor_destroy(got);
        mn_graph_destroy(b.g);
    }
}
