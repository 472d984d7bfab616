/* C export (src/io/c_export*.c): graphs built here cover the ops the model
 * tests (tests/c_export_test.sh) do not reach — grouped strided conv,
 * LeakyRelu, Tanh, Sigmoid, AveragePool with count_include_pad, ceil-mode
 * MaxPool, standalone BatchNorm, broadcast Sub/Div, Concat, Gemm with
 * transB = 0, alpha and beta, Softmax; QuantizeLinear, QLinearConv with
 * per-channel scales and non-zero weight zero points, uint8 MaxPool,
 * QLinearMatMul, DequantizeLinear, with scales that are powers of two so
 * that requantization hits exact .5 ties. Each is exported, compiled with
 * the system C compiler (-std=c99 -Wall -Wextra -Werror), run, and compared
 * with mn_session_run: float within 1e-5·max(1, |y|), integer bit for bit.
 * Also: an unsupported op fails naming the node and writes nothing. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "test.h"
#include "core/graph.h"
#include "kernels/dispatch.h"
#include "minnow/c_export.h"

static uint32_t cx_rng = 12345;
static uint32_t rnd(void)
{
    cx_rng = cx_rng * 1664525u + 1013904223u;
    return cx_rng >> 8;
}

static int val(mn_graph *g, const char *name)
{
    mn_ctx ctx = {{0}};
    int idx = mn_graph_find_value(g, name);
    if (idx < 0)
        CHECK_OK(mn_graph_add_value(g, name, MN_DT_UNDEF, -1, NULL, &idx,
                                    &ctx), &ctx);
    return idx;
}

/* A constant; values drawn uniformly from [lo, hi] (float: step 1/8). */
static mn_tensor *cst(mn_graph *g, const char *name, mn_dtype dt, int ndim,
                      const int64_t *dims, int lo, int hi)
{
    mn_ctx ctx = {{0}};
    mn_tensor *t = NULL;
    int idx = -1;
    CHECK_OK(mn_graph_add_value(g, name, dt, ndim, dims, &idx, &ctx), &ctx);
    CHECK_OK(mn_tensor_create(dt, ndim, dims, &t, &ctx), &ctx);
    if (idx >= 0)
        g->values[idx].init = t;
    for (int64_t i = 0; t && i < mn_tensor_numel(t); i++) {
        int v = lo + (int)(rnd() % (uint32_t)(hi - lo + 1));
        switch (dt) {
        case MN_DT_F32: ((float *)t->data)[i] = (float)v / 8.0f; break;
        case MN_DT_I8: ((int8_t *)t->data)[i] = (int8_t)v; break;
        case MN_DT_U8: ((uint8_t *)t->data)[i] = (uint8_t)v; break;
        case MN_DT_I32: ((int32_t *)t->data)[i] = v; break;
        default: break;
        }
    }
    return t;
}

static mn_node *node(mn_graph *g, const char *op, const char *ins,
                     const char *out)
{
    mn_ctx ctx = {{0}};
    int in[12], n_in = 0, o = val(g, out), ni = -1;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", ins);
    for (char *s = strtok(buf, ","); s && n_in < 12; s = strtok(NULL, ","))
        in[n_in++] = s[0] == '-' ? -1 : val(g, s);
    CHECK_OK(mn_graph_add_node(g, out, op, "", 13, in, n_in, &o, 1, &ni,
                               &ctx), &ctx);
    return ni >= 0 ? &g->nodes[ni] : NULL;
}

static void ints(mn_node *n, const char *name, const int64_t *v, int cnt)
{
    mn_ctx ctx = {{0}};
    mn_attr *a = NULL;
    CHECK_OK(mn_node_add_attr(n, name, cnt ? MN_ATTR_INTS : MN_ATTR_INT, &a,
                              &ctx), &ctx);
    if (a && cnt)
        CHECK_OK(mn_attr_set_ints(a, v, cnt, &ctx), &ctx);
    else if (a)
        a->i = v[0];
}

static void flt(mn_node *n, const char *name, float v)
{
    mn_ctx ctx = {{0}};
    mn_attr *a = NULL;
    CHECK_OK(mn_node_add_attr(n, name, MN_ATTR_FLOAT, &a, &ctx), &ctx);
    if (a)
        a->f = v;
}

static mn_graph *new_graph(const int64_t *xdims, const char *out)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    int x = -1;
    CHECK_OK(mn_graph_create(&g, &ctx), &ctx);
    free(g->source);
    g->source = mn_strdup("test_c_export");
    g->opset = 13;
    CHECK_OK(mn_graph_add_value(g, "x", MN_DT_F32, 4, xdims, &x, &ctx), &ctx);
    g->inputs = malloc(sizeof(int));
    g->outputs = malloc(sizeof(int));
    g->inputs[0] = x;
    g->outputs[0] = val(g, out);
    g->n_inputs = g->n_outputs = 1;
    return g;
}

static mn_graph *float_graph(void)
{
    static const int64_t xd[4] = {1, 4, 7, 9}, wd[4] = {6, 2, 3, 3},
                         c6[1] = {6}, cb[3] = {12, 1, 1}, wg[2] = {96, 5},
                         c5[1] = {5}, one = 1, zero = 0;
    mn_graph *g = new_graph(xd, "sm");
    mn_node *n;
    cst(g, "w", MN_DT_F32, 4, wd, -8, 8);
    cst(g, "b", MN_DT_F32, 1, c6, -8, 8);
    n = node(g, "Conv", "x,w,b", "c1");
    ints(n, "group", (const int64_t[]){2}, 0);
    ints(n, "strides", (const int64_t[]){2, 1}, 2);
    ints(n, "pads", (const int64_t[]){1, 0, 1, 2}, 4);
    ints(n, "dilations", (const int64_t[]){1, 2}, 2);
    flt(node(g, "LeakyRelu", "c1", "l1"), "alpha", 0.1f);
    n = node(g, "AveragePool", "l1", "a1");
    ints(n, "kernel_shape", (const int64_t[]){3, 2}, 2);
    ints(n, "pads", (const int64_t[]){1, 1, 1, 0}, 4);
    ints(n, "count_include_pad", &one, 0);
    cst(g, "bn_s", MN_DT_F32, 1, c6, 1, 16);
    cst(g, "bn_b", MN_DT_F32, 1, c6, -8, 8);
    cst(g, "bn_m", MN_DT_F32, 1, c6, -8, 8);
    cst(g, "bn_v", MN_DT_F32, 1, c6, 1, 16);
    node(g, "BatchNormalization", "a1,bn_s,bn_b,bn_m,bn_v", "bn");
    node(g, "Tanh", "bn", "t1");
    n = node(g, "MaxPool", "t1", "m1");
    ints(n, "kernel_shape", (const int64_t[]){2, 2}, 2);
    ints(n, "strides", (const int64_t[]){2, 2}, 2);
    ints(n, "ceil_mode", &one, 0);
    node(g, "Sigmoid", "m1", "s1");
    n = node(g, "Concat", "m1,s1", "cc");
    ints(n, "axis", &one, 0);
    cst(g, "sub_c", MN_DT_F32, 0, NULL, -8, 8);
    node(g, "Sub", "cc,sub_c", "d1");
    cst(g, "div_c", MN_DT_F32, 3, cb, 4, 16);
    node(g, "Div", "d1,div_c", "d2"); /* broadcast over the 12 channels */
    n = node(g, "Flatten", "d2", "f1");
    ints(n, "axis", &one, 0);
    cst(g, "wg", MN_DT_F32, 2, wg, -8, 8);
    cst(g, "bg", MN_DT_F32, 1, c5, -8, 8);
    n = node(g, "Gemm", "f1,wg,bg", "g1");
    ints(n, "transB", &zero, 0);
    flt(n, "alpha", 0.5f);
    flt(n, "beta", 2.0f);
    node(g, "Softmax", "g1", "sm");
    return g;
}

static mn_graph *int8_graph(void)
{
    static const int64_t xd[4] = {1, 3, 6, 5}, wd[4] = {4, 3, 3, 3},
                         c4[1] = {4}, bd[2] = {24, 7}, c7[1] = {7},
                         one = 1;
    mn_graph *g = new_graph(xd, "y");
    mn_node *n;
    /* powers of two: acc·mult and x/scale land on .5 ties */
    mn_tensor *t = cst(g, "xs", MN_DT_F32, 0, NULL, 0, 0);
    *(float *)t->data = 0.25f;
    cst(g, "xz", MN_DT_I8, 0, NULL, -3, 3);
    node(g, "QuantizeLinear", "x,xs,xz", "xq");
    cst(g, "w", MN_DT_I8, 4, wd, -10, 10);
    t = cst(g, "ws", MN_DT_F32, 1, c4, 0, 0);
    for (int i = 0; i < 4; i++)
        ((float *)t->data)[i] = 1.0f / (float)(8 << i);
    cst(g, "wz", MN_DT_I8, 1, c4, -2, 2);
    t = cst(g, "ys", MN_DT_F32, 0, NULL, 0, 0);
    *(float *)t->data = 0.5f;
    cst(g, "yz", MN_DT_U8, 0, NULL, 100, 130);
    cst(g, "qb", MN_DT_I32, 1, c4, -300, 300);
    n = node(g, "QLinearConv", "xq,xs,xz,w,ws,wz,ys,yz,qb", "qc");
    ints(n, "pads", (const int64_t[]){1, 1, 1, 1}, 4);
    n = node(g, "MaxPool", "qc", "qm");
    ints(n, "kernel_shape", (const int64_t[]){2, 2}, 2);
    ints(n, "strides", (const int64_t[]){2, 2}, 2);
    n = node(g, "Flatten", "qm", "qf");
    ints(n, "axis", &one, 0);
    cst(g, "bm", MN_DT_I8, 2, bd, -40, 40);
    t = cst(g, "bs", MN_DT_F32, 1, c7, 0, 0);
    for (int i = 0; i < 7; i++)
        ((float *)t->data)[i] = 1.0f / (float)(16 << (i % 3));
    cst(g, "bz", MN_DT_I8, 0, NULL, 0, 0);
    t = cst(g, "zs", MN_DT_F32, 0, NULL, 0, 0);
    *(float *)t->data = 2.0f;
    cst(g, "zz", MN_DT_I8, 0, NULL, -5, 5);
    node(g, "QLinearMatMul", "qf,ys,yz,bm,bs,bz,zs,zz", "mm");
    node(g, "DequantizeLinear", "mm,zs,zz", "y");
    return g;
}

/* Exports g, compiles it with a driver, runs it on `count` inputs and
 * compares with the session (exact: bitwise). */
static void export_and_compare(mn_graph *g, const char *name, int count,
                               int exact)
{
    mn_ctx ctx = {{0}};
    mn_session *s = NULL;
    mn_c_export_info info;
    char dir[512], cmd[2048], path[600];
    snprintf(dir, sizeof dir, "%s/cx_%s", mn_test_tmp_dir(), name);
    CHECK_OK(mn_graph_toposort(g, &ctx), &ctx);
    CHECK_OK(mn_graph_export_c(g, dir, &(mn_c_export_opts){.name = name},
                               &info, &ctx), &ctx);
    CHECK(info.arena_bytes > 0 && info.steps > 0);
    CHECK_OK(mn_session_create(g, NULL, &s, &ctx), &ctx);
    if (!s)
        return;
    const mn_tensor *xin = mn_session_input(s, 0);
    const mn_tensor *yout = mn_session_output(s, 0);
    int64_t nx = mn_tensor_numel(xin), ny = mn_tensor_numel(yout);
    float *x = malloc((size_t)nx * sizeof *x);
    float *ref = malloc((size_t)(ny * count) * sizeof *ref);
    snprintf(path, sizeof path, "%s/x.raw", dir);
    FILE *f = fopen(path, "wb");
    for (int c = 0; c < count; c++) {
        for (int64_t i = 0; i < nx; i++) /* eighths: x / 0.25 ties */
            x[i] = (float)((int)(rnd() % 33) - 16) / 8.0f;
        fwrite(x, sizeof *x, (size_t)nx, f);
        mn_tensor t = *xin;
        t.data = x;
        const mn_tensor *tp = &t;
        CHECK_OK(mn_session_run(s, &tp, 1, &ctx), &ctx);
        memcpy(ref + c * ny, mn_session_output(s, 0)->data,
               (size_t)ny * sizeof *ref);
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/drv.c", dir);
    f = fopen(path, "w");
    fprintf(f,
            "#include <stdio.h>\n#include \"%s.h\"\n"
            "int main(int argc, char **argv)\n{\n"
            "    static float x[%lld], y[%lld];\n"
            "    FILE *fi = fopen(argv[1], \"rb\"), *fo = fopen(argv[2], \"wb\");\n"
            "    (void)argc;\n    if (!fi || !fo)\n        return 2;\n"
            "    while (fread(x, 4, %lld, fi) == %lld) {\n"
            "        %s_run(x, y);\n        fwrite(y, 4, %lld, fo);\n    }\n"
            "    fclose(fi);\n    return fclose(fo) != 0;\n}\n",
            name, (long long)nx, (long long)ny, (long long)nx, (long long)nx,
            name, (long long)ny);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "cc -std=c99 -Wall -Wextra -Werror -O2 -o %s/drv %s/drv.c "
             "%s/%s.c -lm && %s/drv %s/x.raw %s/y.raw",
             dir, dir, dir, name, dir, dir, dir);
    CHECK_EQ_INT(system(cmd), 0);
    snprintf(path, sizeof path, "%s/y.raw", dir);
    float *got = calloc((size_t)(ny * count), sizeof *got);
    f = fopen(path, "rb");
    size_t rd = f ? fread(got, sizeof *got, (size_t)(ny * count), f) : 0;
    if (f)
        fclose(f);
    CHECK_EQ_INT(rd, ny * count);
    int bad = 0;
    for (int64_t i = 0; i < ny * count && bad < 5; i++) {
        double tol = exact ? 0.0 : 1e-5 * fmax(1.0, fabs(ref[i]));
        if (exact ? memcmp(&got[i], &ref[i], 4) != 0
                  : !(fabs(got[i] - ref[i]) <= tol)) {
            mn_test_fail(__FILE__, __LINE__, "%s: y[%lld] = %.9g, minnow %.9g",
                         name, (long long)i, got[i], ref[i]);
            bad++;
        }
    }
    free(x);
    free(ref);
    free(got);
    mn_session_destroy(s);
}

/* A squeeze-excite product the session fuses into the 1×1 Conv after it
 * (36×36 planes: that Conv's GEMM packs its input): the export passes the
 * factor to conv_f32 and emits no Mul. */
static mn_graph *se_graph(void)
{
    static const int64_t xd[4] = {1, 12, 36, 36}, wd[4] = {20, 12, 1, 1},
                         c20[1] = {20};
    mn_graph *g = new_graph(xd, "r");
    cst(g, "w", MN_DT_F32, 4, wd, -8, 8);
    cst(g, "b", MN_DT_F32, 1, c20, -8, 8);
    node(g, "GlobalAveragePool", "x", "p");
    node(g, "Sigmoid", "p", "f");
    node(g, "Mul", "f,x", "y");
    node(g, "Conv", "y,w,b", "z");
    node(g, "Relu", "z", "r");
    return g;
}

TEST(c_export_fused_squeeze_excite)
{
    mn_graph *g = se_graph();
    char path[600], line[512];
    export_and_compare(g, "se", 3, 0);
    snprintf(path, sizeof path, "%s/cx_se/se.c", mn_test_tmp_dir());
    FILE *f = fopen(path, "r");
    int scaled = 0, muls = 0;
    while (f && fgets(line, sizeof line, f)) {
        const char *cv = strstr(line, "    conv_f32(");
        const char *a2 = cv ? strstr(cv, ", ") : NULL;
        if (a2 && strncmp(a2 + 2, "NULL", 4) != 0)
            scaled++; /* the second argument: the factor, not NULL */
        if (strstr(line, "    binary_f32(") || strstr(line, "    mul_f32("))
            muls++;
    }
    if (f)
        fclose(f);
    CHECK(f != NULL);
    /* fused on the GEMM levels (not at MINNOW_ISA=ref) */
    int fused = mn_isa_active() >= MN_ISA_AVX2;
    CHECK_EQ_INT(scaled, fused);
    CHECK_EQ_INT(muls, !fused);
    mn_graph_destroy(g);
}

TEST(c_export_float_ops_match_session)
{
    mn_graph *g = float_graph();
    export_and_compare(g, "fops", 6, 0);
    mn_graph_destroy(g);
}

TEST(c_export_int8_ops_bit_exact)
{
    mn_graph *g = int8_graph();
    export_and_compare(g, "qops", 200, 1);
    mn_graph_destroy(g);
}

TEST(c_export_unsupported_op_writes_nothing)
{
    static const int64_t xd[4] = {1, 2, 3, 3};
    mn_ctx ctx = {{0}};
    char dir[512];
    struct stat sb;
    mn_graph *g = new_graph(xd, "y");
    node(g, "Relu", "x", "r");
    node(g, "Exp", "r", "y");
    CHECK_OK(mn_graph_toposort(g, &ctx), &ctx);
    snprintf(dir, sizeof dir, "%s/cx_bad", mn_test_tmp_dir());
    CHECK_EQ_INT(mn_graph_export_c(g, dir, NULL, NULL, &ctx),
                 MN_ERR_UNSUPPORTED);
    CHECK(strstr(ctx.msg, "node 'y'") != NULL);
    CHECK(strstr(ctx.msg, "Exp") != NULL);
    CHECK(stat(dir, &sb) != 0);
    mn_graph_destroy(g);
}
