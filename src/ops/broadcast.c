/* Broadcast iteration shared by the elementwise op families: shape
 * collapsing and the odometer over all but the innermost dimension. */
#include "ops/broadcast.h"
#include "core/pool.h"

/* 1 when input x (right-aligned to rank nd) is broadcast along output dim i. */
static int is_bcast(const mn_tensor *x, int nd, int i, int64_t d)
{
    int k = i - (nd - x->ndim);
    return k < 0 || (x->dims[k] == 1 && d != 1);
}

void mn_bcast_init(mn_bcast *bc, const mn_tensor *out, const mn_tensor *a,
                   const mn_tensor *b)
{
    int nd = out->ndim, m = 0;
    int ba[MN_MAX_DIMS], bb[MN_MAX_DIMS];
    bc->numel = 1;
    for (int i = 0; i < nd; i++) {
        int64_t d = out->dims[i];
        bc->numel *= d;
        if (d == 1)
            continue;
        int fa = is_bcast(a, nd, i, d), fb = b ? is_bcast(b, nd, i, d) : 0;
        if (m > 0 && ba[m - 1] == fa && bb[m - 1] == fb) {
            bc->dims[m - 1] *= d;
            continue;
        }
        bc->dims[m] = d;
        ba[m] = fa;
        bb[m] = fb;
        m++;
    }
    if (m == 0) {
        bc->dims[0] = 1;
        ba[0] = bb[0] = 1; /* single element: offset 0 in both */
        m = 1;
    }
    bc->ndim = m;
    int64_t ra = 1, rb = 1;
    for (int i = m - 1; i >= 0; i--) {
        bc->sa[i] = ba[i] ? 0 : ra;
        bc->sb[i] = bb[i] ? 0 : rb;
        if (!ba[i])
            ra *= bc->dims[i];
        if (!bb[i])
            rb *= bc->dims[i];
    }
}

int mn_bcast_run(const mn_bcast *bc, mn_bcast_fn fn, void *arg)
{
    return mn_bcast_run_range(bc, fn, arg, 0, bc->numel);
}

int mn_bcast_run_range(const mn_bcast *bc, mn_bcast_fn fn, void *arg,
                       int64_t e0, int64_t e1)
{
    int nd = bc->ndim, last = nd - 1;
    int64_t idx[MN_MAX_DIMS] = {0};
    int64_t n = bc->dims[last], ia = 0, ib = 0, o = e0;
    if (e1 > bc->numel)
        e1 = bc->numel;
    if (e0 < 0 || e0 >= e1)
        return 0;
    /* the odometer at element e0: run r, offset off within it */
    int64_t r = e0 / n, off = e0 % n;
    for (int k = last - 1; k >= 0; k--) {
        idx[k] = r % bc->dims[k];
        r /= bc->dims[k];
        ia += idx[k] * bc->sa[k];
        ib += idx[k] * bc->sb[k];
    }
    for (;;) {
        int64_t len = n - off < e1 - o ? n - off : e1 - o;
        int rc = fn(arg, o, ia + off * bc->sa[last], bc->sa[last],
                    ib + off * bc->sb[last], bc->sb[last], len);
        if (rc)
            return rc;
        o += len;
        off = 0;
        if (o >= e1)
            return 0;
        int k = last - 1;
        for (; k >= 0; k--) {
            ia += bc->sa[k];
            ib += bc->sb[k];
            if (++idx[k] < bc->dims[k])
                break;
            ia -= bc->sa[k] * bc->dims[k];
            ib -= bc->sb[k] * bc->dims[k];
            idx[k] = 0;
        }
        if (k < 0)
            return 0;
    }
}

typedef struct expand_arg {
    const float *src;
    float *dst;
} expand_arg;

static int expand_run(void *arg, int64_t o, int64_t ia, int64_t sa,
                      int64_t ib, int64_t sb, int64_t n)
{
    const expand_arg *p = arg;
    (void)ib;
    (void)sb;
    for (int64_t i = 0; i < n; i++)
        p->dst[o + i] = p->src[ia + i * sa];
    return 0;
}

void mn_bcast_expand_f32(const mn_tensor *src, const mn_tensor *shape,
                         float *dst)
{
    mn_bcast bc;
    expand_arg p = {src->data, dst};
    mn_bcast_init(&bc, shape, src, NULL);
    mn_bcast_run(&bc, expand_run, &p);
}

typedef struct bcast_job {
    const mn_bcast *bc;
    mn_bcast_fn fn;
    void *arg;
    int64_t per_task;
} bcast_job;

static void bcast_task(void *varg, int64_t t, int thread)
{
    const bcast_job *J = varg;
    (void)thread;
    mn_bcast_run_range(J->bc, J->fn, J->arg, t * J->per_task,
                       (t + 1) * J->per_task);
}

#define PAR_MIN_ELEMS 65536

int mn_bcast_run_pool(const mn_bcast *bc, mn_bcast_fn fn, void *arg,
                      struct mn_pool *pool, int64_t line)
{
    int64_t parts = 4 * (int64_t)mn_pool_threads(pool);
    if (parts <= 4 || bc->numel < PAR_MIN_ELEMS)
        return mn_bcast_run(bc, fn, arg);
    bcast_job J = {bc, fn, arg, (bc->numel / parts + line) / line * line};
    mn_pool_run(pool, bcast_task, &J,
                (bc->numel + J.per_task - 1) / J.per_task);
    return 0;
}
