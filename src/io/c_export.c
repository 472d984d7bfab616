/* C export driver: mn_graph_export_c.
 *
 * The graph is cloned, cleaned up (mn_graph_optimize folds BatchNorm and
 * constants) and compiled into a session for batch 1. The session's steps
 * are replayed as C: views (Reshape, Flatten, fused activations) cost
 * nothing, every other step becomes one kernel call (c_export_ops.c).
 * Tensor lifetimes are taken from the steps exactly as the session does and
 * placed by minnow's planner (mn_plan_arena) — without the per-step scratch
 * buffers minnow's GEMM kernels need, since the generated direct-loop
 * kernels need none — so the generated arena is at most the session's.
 * Both files are generated in memory before anything touches the disk. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "io/c_export_int.h"
#include "io/onnx_tensor.h"

static const char *io_name(int out, int i, char *buf)
{
    if (i == 0)
        return out ? "output" : "input";
    snprintf(buf, 24, "%s%d", out ? "output" : "input", i);
    return buf;
}

const char *cx_value_expr(cx *c, int v, char *buf)
{
    const mn_tensor *t = mn_session_value(c->s, v);
    const char *ty = cx_ctype(t->dtype);
    int r = c->root[v];
    char nb[24];
    if (!ty) {
        snprintf(buf, 96, "/* %s */ NULL", mn_dtype_name(t->dtype));
        return NULL;
    }
    switch (mn_session_value_kind(c->s, r)) {
    case MN_VK_INPUT:
        for (int i = 0; i < c->g->n_inputs; i++)
            if (c->g->inputs[i] == r)
                snprintf(buf, 96, "((const %s *)%s)", ty, io_name(0, i, nb));
        return buf;
    case MN_VK_CONST: /* r's bytes (v may be a view of it) */
        if (c->carr[r] < 0)
            c->carr[r] = cx_array(c, t->dtype,
                                  mn_session_value(c->s, r)->data,
                                  (size_t)mn_tensor_numel(t));
        snprintf(buf, 96, "((const %s *)k%d)", ty, c->carr[r]);
        return buf;
    default:
        snprintf(buf, 96, "((%s *)(A + %zu))", ty, c->off[r]);
        return buf;
    }
}

/* Lifetimes of the runtime values as the session's plan_memory sees them
 * (views share their root's bytes), placed by mn_plan_arena. */
static mn_status plan(cx *c)
{
    const mn_graph *g = c->g;
    int nv = g->n_values, ns = mn_session_num_steps(c->s), nb = 0;
    int *first = mn_malloc((size_t)(nv + 1) * sizeof *first);
    int *last = mn_malloc((size_t)(nv + 1) * sizeof *last);
    int *buf_of = mn_malloc((size_t)(nv + 1) * sizeof *buf_of);
    mn_plan_buf *bufs = mn_calloc((size_t)(nv + 1), sizeof *bufs);
    mn_status st = MN_OK;
    if (!first || !last || !buf_of || !bufs) {
        st = mn_error(c->ctx, MN_ERR_OOM, "out of memory");
        goto out;
    }
    for (int v = 0; v < nv; v++) {
        c->root[v] = v;
        first[v] = last[v] = buf_of[v] = -1;
    }
    for (int k = 0; k < ns; k++) {
        mn_step_info si;
        mn_session_step_info(c->s, k, &si);
        const mn_node *n = &g->nodes[si.node];
        if (si.view)
            c->root[n->out[0]] = c->root[n->in[si.view_slot]];
        for (int j = 0; j < n->n_out; j++)
            if (n->out[j] >= 0 && first[n->out[j]] < 0)
                first[n->out[j]] = k;
        for (int j = 0; j < n->n_in; j++) {
            int v = n->in[j];
            if (v >= 0 && mn_session_value_kind(c->s, v) == MN_VK_RUNTIME &&
                last[c->root[v]] < k)
                last[c->root[v]] = k;
        }
        /* a fused Mul's factor is read by the Conv after it */
        int f = si.in_scale;
        if (f >= 0 && mn_session_value_kind(c->s, f) == MN_VK_RUNTIME &&
            last[c->root[f]] < k)
            last[c->root[f]] = k;
    }
    for (int i = 0; i < g->n_outputs; i++) {
        int v = g->outputs[i];
        if (mn_session_value_kind(c->s, v) == MN_VK_RUNTIME)
            last[c->root[v]] = ns;
    }
    for (int v = 0; v < nv; v++) {
        if (mn_session_value_kind(c->s, v) != MN_VK_RUNTIME ||
            c->root[v] != v || first[v] < 0)
            continue;
        bufs[nb].bytes = mn_tensor_nbytes(mn_session_value(c->s, v));
        bufs[nb].first = first[v];
        bufs[nb].last = last[v] >= first[v] ? last[v] : first[v];
        buf_of[v] = nb++;
    }
    c->arena_bytes = mn_plan_arena(bufs, nb);
    for (int v = 0; v < nv; v++)
        if (buf_of[v] >= 0)
            c->off[v] = bufs[buf_of[v]].offset;
out:
    free(first);
    free(last);
    free(buf_of);
    free(bufs);
    return st;
}

/* A C identifier from s (up to 63 characters). */
static void c_ident(const char *s, char *out)
{
    size_t k = 0;
    if (!(s[0] >= 'a' && s[0] <= 'z') && !(s[0] >= 'A' && s[0] <= 'Z') &&
        s[0] != '_')
        out[k++] = 'm', out[k++] = '_';
    for (; *s && k < 63; s++)
        out[k++] = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                           (*s >= '0' && *s <= '9') || *s == '_'
                       ? *s
                       : '_';
    out[k] = 0;
}

/* s with the characters that could end a C string or comment replaced. */
static const char *safe(const char *s, char *buf, size_t len)
{
    size_t k = 0;
    for (; s && *s && k + 1 < len; s++)
        buf[k++] = (*s == '"' || *s == '\\' || *s == '*' || *s == '\n' ||
                    (unsigned char)*s < 32)
                       ? '_'
                       : *s;
    buf[k] = 0;
    return buf;
}

static void signature(const cx *c, cx_buf *b)
{
    const mn_graph *g = c->g;
    char nb[24];
    cx_printf(b, "int %s_run(", c->name);
    for (int i = 0; i < g->n_inputs; i++)
        cx_printf(b, "%sconst %s *%s", i ? ", " : "",
                  cx_ctype(mn_session_input(c->s, i)->dtype),
                  io_name(0, i, nb));
    for (int i = 0; i < g->n_outputs; i++)
        cx_printf(b, ", %s *%s",
                  cx_ctype(mn_session_output(c->s, i)->dtype),
                  io_name(1, i, nb));
    cx_puts(b, ")");
}

static void shape_macros(const cx *c, cx_buf *b, const char *up, int out,
                         int i, const mn_tensor *t)
{
    char pre[200];
    if (i == 0)
        snprintf(pre, sizeof pre, "%s_%s", up, out ? "OUTPUT" : "INPUT");
    else
        snprintf(pre, sizeof pre, "%s_%s%d", up, out ? "OUTPUT" : "INPUT", i);
    char nm[200];
    cx_printf(b, "#define %s_NAME \"%s\"\n", pre,
              safe(c->g->values[out ? c->g->outputs[i] : c->g->inputs[i]].name,
                   nm, sizeof nm));
    cx_printf(b, "#define %s_TYPE %s\n#define %s_NDIM %d\n#define %s_SHAPE {",
              pre, cx_ctype(t->dtype), pre, t->ndim, pre);
    for (int d = 0; d < t->ndim; d++)
        cx_printf(b, "%s%lld", d ? ", " : "", (long long)t->dims[d]);
    cx_printf(b, "}\n#define %s_SIZE %lld /* elements */\n", pre,
              (long long)mn_tensor_numel(t));
}

static void gen_header(const cx *c, cx_buf *b)
{
    char up[64], src[300];
    size_t i;
    for (i = 0; c->name[i] && i < 63; i++)
        up[i] = (char)(c->name[i] >= 'a' && c->name[i] <= 'z'
                           ? c->name[i] - 'a' + 'A' : c->name[i]);
    up[i] = 0;
    cx_printf(b,
              "/* %s.h: generated by minnow %s from %s. Do not edit.\n"
              " * C99, no malloc: NAME_run uses one static arena of\n"
              " * %s_ARENA_BYTES bytes, so it is not reentrant. See minnow's\n"
              " * docs/c-export.md. */\n"
              "#ifndef %s_H\n#define %s_H\n\n#include <stdint.h>\n\n"
              "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n",
              c->name, MN_VERSION, safe(c->g->source, src, sizeof src), up,
              up, up);
    for (int k = 0; k < c->g->n_inputs; k++)
        shape_macros(c, b, up, 0, k, mn_session_input(c->s, k));
    for (int k = 0; k < c->g->n_outputs; k++)
        shape_macros(c, b, up, 1, k, mn_session_output(c->s, k));
    cx_printf(b, "#define %s_ARENA_BYTES %zu\n#define %s_WEIGHT_BYTES %zu\n\n",
              up, c->arena_bytes, up, c->data_bytes);
    cx_puts(b, "/* Runs the model on batch 1; returns 0. */\n");
    signature(c, b);
    cx_puts(b, ";\n\n#ifdef __cplusplus\n}\n#endif\n#endif\n");
}

static void gen_source(const cx *c, const char *hname, cx_buf *b,
                       const cx_buf *run)
{
    char src[300];
    cx_printf(b,
              "/* %s.c: generated by minnow %s from %s. Do not edit.\n"
              " * %d kernel calls, %zu arena bytes, %zu bytes of constants"
              " (%d tensors as bitmask + non-zeros). */\n"
              "#include <float.h>\n#include <math.h>\n#include <stddef.h>\n"
              "#include <stdint.h>\n#include <string.h>\n#include \"%s\"\n\n",
              c->name, MN_VERSION, safe(c->g->source, src, sizeof src),
              c->calls, c->arena_bytes,
              c->data_bytes, c->sparse_tensors, hname);
    cx_printf(b, "static union {\n    double align_d;\n    int64_t align_i;\n"
                 "    unsigned char b[%zu];\n} arena;\n\n",
              c->arena_bytes ? c->arena_bytes : 1);
    cx_emit_kernels(c, b);
    if (c->data.len)
        cx_puts(b, c->data.p);
    cx_puts(b, "\n");
    signature(c, b);
    cx_puts(b, "\n{\n    unsigned char *A = arena.b;\n    (void)A;\n");
    if (run->len)
        cx_puts(b, run->p);
    cx_puts(b, "    return 0;\n}\n");
}

static mn_status generate(cx *c, mn_ctx *ctx)
{
    mn_status st;
    char e[96], nb[24];
    if ((st = plan(c)) != MN_OK)
        return st;
    for (int i = 0; i < c->g->n_inputs; i++)
        if (!cx_ctype(mn_session_input(c->s, i)->dtype))
            return mn_error(ctx, MN_ERR_UNSUPPORTED,
                            "%s: C export: input '%s' of type %s",
                            c->g->source,
                            c->g->values[c->g->inputs[i]].name,
                            mn_dtype_name(mn_session_input(c->s, i)->dtype));
    for (int k = 0; k < mn_session_num_steps(c->s); k++) {
        mn_step_info si;
        mn_session_step_info(c->s, k, &si);
        if (si.view)
            continue;
        st = si.ln_gamma >= 0 ? cx_emit_ln_fused(c, &si)
                              : cx_emit_step(c, &si);
        if (st != MN_OK)
            return st;
        if (si.qadd_node >= 0) {
            /* the session's fused residual QLinearAdd, as its own call
             * (in place: its output shares the conv's buffer) */
            mn_step_info ai = {.node = si.qadd_node, .residual = -1,
                               .in_scale = -1,
                               .qadd_node = -1};
            if ((st = cx_emit_step(c, &ai)) != MN_OK)
                return st;
        }
        if (si.lut && !cx_emit_lut(c, si.lut, c->g->nodes[si.node].out[0],
                                   c->g->nodes[si.node].out[0]))
            return mn_error(ctx, MN_ERR_OOM, "out of memory");
    }
    for (int i = 0; i < c->g->n_outputs; i++) {
        int v = c->g->outputs[i];
        const mn_tensor *t = mn_session_value(c->s, v);
        if (!cx_value_expr(c, v, e))
            return mn_error(ctx, MN_ERR_UNSUPPORTED,
                            "%s: C export: output '%s' of type %s",
                            c->g->source, c->g->values[v].name,
                            mn_dtype_name(t->dtype));
        cx_printf(&c->body, "    memcpy(%s, %s, %zu);\n", io_name(1, i, nb),
                  e, mn_tensor_nbytes(t));
    }
    if (c->data.oom || c->body.oom)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    return MN_OK;
}

/* Writes both files, or neither. */
static mn_status write_files(const char *dir, const char *base,
                             const cx_buf *h, const cx_buf *src, mn_ctx *ctx)
{
    size_t dl = strlen(dir), bl = strlen(base);
    char *hp = mn_malloc(dl + bl + 4), *cp = mn_malloc(dl + bl + 4);
    int made_dir = 0;
    mn_status st = MN_OK;
    if (!hp || !cp) {
        st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        goto out;
    }
    snprintf(hp, dl + bl + 4, "%s%s.h", dir, base);
    snprintf(cp, dl + bl + 4, "%s%s.c", dir, base);
    if (dl && mkdir(dir, 0755) == 0)
        made_dir = 1;
    else if (dl && errno != EEXIST) {
        st = mn_error(ctx, MN_ERR_IO, "%s: cannot create directory: %s", dir,
                      strerror(errno));
        goto out;
    }
    if ((st = mn_pb_write_atomic(hp, h->p, h->len, ctx)) != MN_OK)
        goto undo;
    if ((st = mn_pb_write_atomic(cp, src->p, src->len, ctx)) != MN_OK) {
        unlink(hp);
        goto undo;
    }
    goto out;
undo:
    if (made_dir)
        rmdir(dir);
out:
    free(hp);
    free(cp);
    return st;
}

mn_status mn_graph_export_c(const mn_graph *g0, const char *path,
                            const mn_c_export_opts *opts,
                            mn_c_export_info *info, mn_ctx *ctx)
{
    mn_graph *g = NULL;
    mn_session *s = NULL;
    /* the constants are read as float32 tensors: fold compressed weights */
    mn_session_opts so = {.batch = 1, .threads = 1,
                          .weights = MN_WEIGHTS_FLOAT};
    cx c = {0};
    cx_buf h = {0}, src = {0};
    char ident[64], *dir = NULL, *base = NULL;
    mn_status st;
    size_t pl = path ? strlen(path) : 0;
    if (!path || !pl)
        return mn_error(ctx, MN_ERR_ARG, "C export: no output path");
    /* NAME.c, or a directory */
    int cfile = pl > 2 && !strcmp(path + pl - 2, ".c");
    dir = mn_strdup(path);
    if (!dir)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    if (cfile) {
        char *sl = strrchr(dir, '/');
        base = mn_strdup(sl ? sl + 1 : dir);
        if (base)
            base[strlen(base) - 2] = 0;
        if (sl)
            sl[1] = 0;
        else
            dir[0] = 0;
    } else {
        const char *src_name = g0->source ? g0->source : "model";
        const char *sl = strrchr(src_name, '/');
        char tmp[64];
        snprintf(tmp, sizeof tmp, "%s", sl ? sl + 1 : src_name);
        char *dot = strchr(tmp, '.');
        if (dot && dot != tmp)
            *dot = 0;
        c_ident(opts && opts->name ? opts->name : tmp, ident);
        base = mn_strdup(ident);
        char *d2 = mn_malloc(pl + 2);
        if (d2)
            snprintf(d2, pl + 2, "%s%s", path, path[pl - 1] == '/' ? "" : "/");
        free(dir);
        dir = d2;
    }
    if (!dir || !base || !base[0]) {
        st = mn_error(ctx, dir && base ? MN_ERR_ARG : MN_ERR_OOM,
                      "%s: C export: bad output name", path);
        goto done;
    }
    c_ident(opts && opts->name ? opts->name : base, ident);
    if ((st = mn_graph_clone(g0, &g, ctx)) != MN_OK ||
        (st = mn_graph_optimize(g, ctx)) != MN_OK ||
        (st = mn_session_create(g, &so, &s, ctx)) != MN_OK)
        goto done;
    c.g = g;
    c.s = s;
    c.ctx = ctx;
    c.name = ident;
    c.dense = opts && opts->dense;
    c.root = mn_malloc((size_t)(g->n_values + 1) * sizeof *c.root);
    c.carr = mn_malloc((size_t)(g->n_values + 1) * sizeof *c.carr);
    c.off = mn_calloc((size_t)(g->n_values + 1), sizeof *c.off);
    if (!c.root || !c.carr || !c.off) {
        st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        goto done;
    }
    for (int v = 0; v < g->n_values; v++)
        c.carr[v] = -1;
    if ((st = generate(&c, ctx)) != MN_OK)
        goto done;
    char hname[512];
    if (strlen(base) > 400) {
        st = mn_error(ctx, MN_ERR_ARG, "%s: C export: name too long", path);
        goto done;
    }
    snprintf(hname, sizeof hname, "%s.h", base);
    gen_header(&c, &h);
    gen_source(&c, hname, &src, &c.body);
    if (h.oom || src.oom) {
        st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        goto done;
    }
    if ((st = write_files(dir, base, &h, &src, ctx)) != MN_OK)
        goto done;
    if (info) {
        info->arena_bytes = c.arena_bytes;
        info->weight_bytes = c.data_bytes;
        info->sparse_tensors = c.sparse_tensors;
        info->steps = c.calls;
    }
done:
    cx_buf_free(&h);
    cx_buf_free(&src);
    cx_buf_free(&c.data);
    cx_buf_free(&c.body);
    free(c.root);
    free(c.carr);
    free(c.off);
    mn_session_destroy(s);
    mn_graph_destroy(g);
    free(dir);
    free(base);
    return st;
}
