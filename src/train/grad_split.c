/* A threaded forward for elementwise ops in training: the op table's own
 * forward run on slices of the tensors, one slice per task, so the result
 * is the op table's bit for bit whatever the thread count.
 *   - unary ops (output shape = input 0's; further inputs are scalars such
 *     as Clip's bounds): contiguous element ranges;
 *   - binary ops with both operands of the output's shape: element ranges;
 *   - binary ops that broadcast: ranges of the outermost output dimension,
 *     each operand sliced where it spans that dimension and passed whole
 *     where it broadcasts along it.
 * Float Relu and Clip slices run the vector kernels of tkern.h (same
 * bits). */
#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <string.h>
#include "train/grad.h"
#include "train/tkern.h"

#define SPLIT_CHUNK 16384 /* elements per task of the element-range form */

typedef struct split_job {
    const mn_node *n;
    mn_forward_fn fw;
    const mn_tensor *const *in;
    mn_tensor *out;
    int n_in;
    int flat;         /* element ranges (else outer-dimension ranges) */
    int64_t total;    /* elements, or outer rows */
    int64_t per;      /* elements or rows per task */
    mn_ctx *ctx;
    atomic_int st;    /* a failure (float ops do not fail) */
} split_job;

/* t sliced to [i0, i1) along dimension 0 of out (or whole when t
 * broadcasts along it); flat: element range of a full-shape tensor. */
static mn_tensor slice(const mn_tensor *t, const mn_tensor *out, int flat,
                       int64_t i0, int64_t i1)
{
    mn_tensor v = *t;
    v.owns_data = 0;
    size_t es = mn_dtype_size(t->dtype);
    if (flat) {
        v.ndim = 1;
        v.dims[0] = i1 - i0;
        v.data = (char *)t->data + (size_t)i0 * es;
        return v;
    }
    if (t->ndim == out->ndim && t->ndim > 0 && t->dims[0] == out->dims[0] &&
        out->dims[0] > 1) {
        size_t row = (size_t)(mn_tensor_numel(t) / t->dims[0]) * es;
        v.dims[0] = i1 - i0;
        v.data = (char *)t->data + (size_t)i0 * row;
    }
    return v;
}

static void split_task(void *arg, int64_t task, int thread)
{
    split_job *j = arg;
    int64_t i0 = task * j->per;
    int64_t i1 = i0 + j->per < j->total ? i0 + j->per : j->total;
    mn_tensor ins[8], y;
    const mn_tensor *ip[8];
    mn_exec ex = {.ctx = j->ctx};
    (void)thread;
    for (int i = 0; i < j->n_in; i++) {
        if (!j->in[i]) {
            ip[i] = NULL;
            continue;
        }
        /* unary: only input 0 is elementwise; the rest are scalars */
        int whole = j->flat && i > 0 && !mn_same_dims(j->in[i], j->out);
        ins[i] = whole ? *j->in[i] : slice(j->in[i], j->out, j->flat, i0, i1);
        ip[i] = &ins[i];
    }
    y = slice(j->out, j->out, j->flat, i0, i1);
    mn_tensor *yp = &y;
    mn_status st = j->fw(j->n, ip, j->n_in, &yp, 1, &ex);
    if (st != MN_OK)
        atomic_store(&j->st, (int)st);
}

static mn_status relu_f32(const mn_node *n, const mn_tensor *const *in,
                          int n_in, mn_tensor *const *out, int n_out,
                          mn_exec *ex)
{
    (void)n, (void)n_in, (void)n_out, (void)ex;
    mn_tkern_get()->relu_fwd(mn_f32(in[0]), mn_f32(out[0]),
                             mn_tensor_numel(in[0]));
    return MN_OK;
}

/* Float Clip with float scalar bounds (or none: ±∞, which never clamp, as
 * the op table's absent bounds); *lo, *hi receive them. */
static int clip_f32_bounds(const mn_node *n, const mn_tensor *const *in,
                           int n_in, float *lo, float *hi)
{
    *lo = -INFINITY;
    *hi = INFINITY;
    if (n->opset < 11) {
        *lo = mn_node_attr_float(n, "min", -FLT_MAX);
        *hi = mn_node_attr_float(n, "max", FLT_MAX);
        return 1;
    }
    for (int i = 1; i < n_in && i < 3; i++) {
        const mn_tensor *b = in[i];
        if (!b)
            continue;
        if (b->dtype != MN_DT_F32 || mn_tensor_numel(b) != 1 || !b->data)
            return 0;
        *(i == 1 ? lo : hi) = mn_f32(b)[0];
    }
    return 1;
}

static mn_status clip_f32(const mn_node *n, const mn_tensor *const *in,
                          int n_in, mn_tensor *const *out, int n_out,
                          mn_exec *ex)
{
    float lo, hi;
    (void)n_out, (void)ex;
    clip_f32_bounds(n, in, n_in, &lo, &hi);
    mn_tkern_get()->clip_fwd(mn_f32(in[0]), mn_f32(out[0]),
                             mn_tensor_numel(in[0]), lo, hi);
    return MN_OK;
}

mn_status mn_train_split_forward(const mn_node *n, const mn_tensor *const *in,
                                 int n_in, mn_tensor *const *out, int n_out,
                                 mn_exec *ex)
{
    const mn_op_def *def = mn_op_get(n->op);
    mn_tpool *pool = mn_texec_of(ex)->pool;
    split_job j = {.n = n, .fw = def->forward, .in = in, .out = out[0],
                   .n_in = n_in, .ctx = ex->ctx};
    int64_t cnt = mn_tensor_numel(out[0]);
    int binary = n_in == 2 && in[1] && mn_tensor_numel(in[1]) > 1;
    atomic_init(&j.st, MN_OK);
    if (n_out != 1 || n_in > 8 || mn_tpool_threads(pool) < 2 ||
        cnt < 2 * SPLIT_CHUNK || out[0]->dtype != MN_DT_F32 ||
        in[0]->dtype != MN_DT_F32)
        return def->forward(n, in, n_in, out, n_out, ex);
    float lo, hi;
    if (n->op == MN_OP_RELU)
        j.fw = relu_f32;
    else if (n->op == MN_OP_CLIP && clip_f32_bounds(n, in, n_in, &lo, &hi))
        j.fw = clip_f32;
    if (!binary ||
        (mn_same_dims(in[0], out[0]) && mn_same_dims(in[1], out[0]))) {
        if (!mn_same_dims(in[0], out[0]))
            return def->forward(n, in, n_in, out, n_out, ex);
        for (int i = 1; i < n_in; i++)
            if (in[i] && !mn_same_dims(in[i], out[0]) &&
                mn_tensor_numel(in[i]) != 1)
                return def->forward(n, in, n_in, out, n_out, ex);
        j.flat = 1;
        j.total = cnt;
        j.per = SPLIT_CHUNK;
    } else {
        if (out[0]->ndim < 1 || out[0]->dims[0] < 2)
            return def->forward(n, in, n_in, out, n_out, ex);
        j.total = out[0]->dims[0];
        int64_t row = cnt / j.total;
        j.per = (SPLIT_CHUNK + row - 1) / row;
    }
    mn_tpool_run(pool, split_task, &j, (j.total + j.per - 1) / j.per);
    return (mn_status)atomic_load(&j.st);
}
