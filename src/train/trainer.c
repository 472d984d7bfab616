/* The trainer: a graph's trainable initializers gathered into one flat
 * parameter array (and one flat gradient array), BatchNorm running
 * statistics into a flat state array, a tape at the training batch size,
 * an optimizer, and checkpoints of all of it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "minnow/train.h"
#include "train/tape.h"

enum { ROLE_NONE = 0, ROLE_PARAM = 1, ROLE_STATE = 2 };

typedef struct tslot {
    int value;
    int64_t off, numel;
} tslot;

struct mn_trainer {
    mn_graph *g;
    mn_trainer_opts o;
    mn_tpool *pool;
    tslot *params, *states;
    int n_params, n_states;
    float *P, *G, *S;
    int64_t nP, nS;
    uint8_t *decay;
    mn_optim *opt;
    mn_tape *tape;       /* training, batch o.batch */
    mn_tape *eval;       /* inference, cached by batch size */
    float *dlogits;      /* scratch for the distillation gradient */
    int classes;
    uint64_t nsteps;
};

/* Which initializer inputs of a node train, and which get weight decay. */
static int input_role(const mn_node *n, int j, const mn_tensor *t,
                      int *decay)
{
    *decay = 0;
    switch (n->op) {
    case MN_OP_CONV:
        *decay = j == 1;
        return j >= 1 ? ROLE_PARAM : ROLE_NONE;
    case MN_OP_GEMM:
    case MN_OP_MATMUL:
        *decay = t->ndim >= 2 && (n->op == MN_OP_MATMUL || j == 1);
        return j <= 2 ? ROLE_PARAM : ROLE_NONE;
    case MN_OP_BATCHNORM:
        return j == 1 || j == 2 ? ROLE_PARAM : j >= 3 ? ROLE_STATE : ROLE_NONE;
    case MN_OP_LAYERNORM:
        return j >= 1 ? ROLE_PARAM : ROLE_NONE;
    case MN_OP_PRELU:
        return j == 1 ? ROLE_PARAM : ROLE_NONE;
    case MN_OP_ADD:
    case MN_OP_SUB:
    case MN_OP_MUL:
    case MN_OP_DIV:
        return mn_tensor_numel(t) > 1 ? ROLE_PARAM : ROLE_NONE;
    default:
        return ROLE_NONE;
    }
}

static mn_status collect(mn_trainer *t, mn_ctx *ctx)
{
    mn_graph *g = t->g;
    unsigned char *role = mn_calloc((size_t)g->n_values + 1, 1);
    unsigned char *dec = mn_calloc((size_t)g->n_values + 1, 1);
    mn_status st = MN_OK;
    if (!role || !dec) {
        st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        goto out;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const mn_node *n = &g->nodes[i];
        for (int j = 0; j < n->n_in; j++) {
            int v = n->in[j], d;
            if (v < 0 || !g->values[v].init ||
                g->values[v].init->dtype != MN_DT_F32)
                continue;
            int r = input_role(n, j, g->values[v].init, &d);
            if (r == ROLE_PARAM && role[v] != ROLE_STATE) {
                role[v] = ROLE_PARAM;
                dec[v] |= (unsigned char)d;
            } else if (r == ROLE_STATE) {
                role[v] = ROLE_STATE;
            }
        }
    }
    for (int v = 0; v < g->n_values; v++) {
        if (role[v] == ROLE_PARAM)
            t->n_params++;
        else if (role[v] == ROLE_STATE)
            t->n_states++;
    }
    t->params = mn_calloc((size_t)t->n_params + 1, sizeof *t->params);
    t->states = mn_calloc((size_t)t->n_states + 1, sizeof *t->states);
    if (!t->params || !t->states) {
        st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        goto out;
    }
    int ip = 0, is = 0;
    for (int v = 0; v < g->n_values; v++) {
        if (role[v] == ROLE_NONE)
            continue;
        int64_t k = mn_tensor_numel(g->values[v].init);
        tslot *s = role[v] == ROLE_PARAM ? &t->params[ip++]
                                         : &t->states[is++];
        int64_t *tot = role[v] == ROLE_PARAM ? &t->nP : &t->nS;
        s->value = v;
        s->off = *tot;
        s->numel = k;
        *tot += k;
    }
    t->P = mn_malloc_aligned((size_t)(t->nP + 16) * sizeof(float));
    t->G = mn_malloc_aligned((size_t)(t->nP + 16) * sizeof(float));
    t->S = mn_malloc_aligned((size_t)(t->nS + 16) * sizeof(float));
    t->decay = mn_calloc((size_t)t->nP + 1, 1);
    if (!t->P || !t->G || !t->S || !t->decay) {
        st = mn_error(ctx, MN_ERR_OOM, "out of memory (%lld parameters)",
                      (long long)t->nP);
        goto out;
    }
    memset(t->G, 0, (size_t)t->nP * sizeof(float));
    for (int i = 0; i < t->n_params; i++) {
        const tslot *s = &t->params[i];
        memcpy(t->P + s->off, g->values[s->value].init->data,
               (size_t)s->numel * sizeof(float));
        memset(t->decay + s->off, dec[s->value], (size_t)s->numel);
    }
    for (int i = 0; i < t->n_states; i++) {
        const tslot *s = &t->states[i];
        memcpy(t->S + s->off, g->values[s->value].init->data,
               (size_t)s->numel * sizeof(float));
    }
out:
    free(role);
    free(dec);
    return st;
}

static mn_status make_tape(mn_trainer *t, int batch, int grads,
                           mn_tape **out, mn_ctx *ctx)
{
    int nb = t->n_params + t->n_states;
    mn_tape_bind *b = mn_calloc((size_t)nb + 1, sizeof *b);
    mn_status st;
    if (!b)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    for (int i = 0; i < t->n_params; i++) {
        b[i].value = t->params[i].value;
        b[i].data = t->P + t->params[i].off;
        b[i].grad = grads ? t->G + t->params[i].off : NULL;
    }
    for (int i = 0; i < t->n_states; i++) {
        b[t->n_params + i].value = t->states[i].value;
        b[t->n_params + i].data = t->S + t->states[i].off;
    }
    st = mn_tape_create(t->g, batch, b, nb, t->pool, out, ctx);
    free(b);
    return st;
}

mn_status mn_trainer_create(mn_graph *g, const mn_trainer_opts *o,
                            mn_trainer **out, mn_ctx *ctx)
{
    mn_trainer *t;
    mn_status st;
    *out = NULL;
    if (!o || o->batch < 1)
        return mn_error(ctx, MN_ERR_ARG, "training batch size %d",
                        o ? o->batch : 0);
    t = mn_calloc(1, sizeof *t);
    if (!t)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    t->g = g;
    t->o = *o;
    if ((st = mn_tpool_create(o->threads > 0 ? o->threads : 1, &t->pool,
                              ctx)) != MN_OK ||
        (st = collect(t, ctx)) != MN_OK)
        goto fail;
    if (t->nP == 0) {
        st = mn_error(ctx, MN_ERR_ARG, "%s: the model has no trainable "
                      "float weights", g->source ? g->source : "model");
        goto fail;
    }
    if ((st = make_tape(t, o->batch, 1, &t->tape, ctx)) != MN_OK)
        goto fail;
    const mn_tensor *y = mn_tape_output(t->tape, 0);
    if (y->ndim != 2 || y->dims[0] != o->batch) {
        char s[128];
        st = mn_error(ctx, MN_ERR_UNSUPPORTED,
                      "training needs [batch, classes] logits; output is %s",
                      mn_shape_str(y, s, sizeof s));
        goto fail;
    }
    t->classes = (int)y->dims[1];
    t->dlogits = mn_malloc((size_t)o->batch * t->classes * sizeof(float));
    if (!t->dlogits) {
        st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        goto fail;
    }
    if ((st = mn_optim_create(&o->optim, t->nP, t->decay, &t->opt, ctx)) !=
        MN_OK)
        goto fail;
    *out = t;
    return MN_OK;
fail:
    mn_trainer_destroy(t);
    return st;
}

void mn_trainer_destroy(mn_trainer *t)
{
    if (!t)
        return;
    mn_tape_destroy(t->tape);
    mn_tape_destroy(t->eval);
    mn_optim_destroy(t->opt);
    mn_tpool_destroy(t->pool);
    mn_free_aligned(t->P);
    mn_free_aligned(t->G);
    mn_free_aligned(t->S);
    free(t->decay);
    free(t->dlogits);
    free(t->params);
    free(t->states);
    free(t);
}

int64_t mn_trainer_num_params(const mn_trainer *t) { return t->nP; }
int mn_trainer_classes(const mn_trainer *t) { return t->classes; }
float *mn_trainer_params(mn_trainer *t) { return t->P; }
float *mn_trainer_grads(mn_trainer *t) { return t->G; }
int mn_trainer_num_tensors(const mn_trainer *t) { return t->n_params; }

int mn_trainer_tensor(const mn_trainer *t, int i, int64_t *offset,
                      int64_t *numel)
{
    if (i < 0 || i >= t->n_params)
        return -1;
    *offset = t->params[i].off;
    *numel = t->params[i].numel;
    return t->params[i].value;
}

/* Index of the first NaN/inf in v[0..n), or -1. */
static int64_t first_nonfinite(const float *v, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return i;
    return -1;
}

mn_status mn_trainer_step(mn_trainer *t, const float *x, const int64_t *y,
                          const float *teacher, float lr, mn_step_result *r,
                          mn_ctx *ctx)
{
    mn_step_result res = {0};
    int n = t->o.batch, k = t->classes;
    uint64_t seed = t->o.seed ^ (++t->nsteps * 0x2545F4914F6CDD1Dull);
    mn_status st = mn_tape_forward(t->tape, x, 1, seed, ctx);
    if (st != MN_OK)
        return st;
    const float *logits = mn_tape_output(t->tape, 0)->data;
    float *dl = mn_tape_output_grad(t->tape);
    float a = teacher ? t->o.distill_alpha : 0.0f;
    if ((st = mn_loss_softmax_ce(logits, y, n, k, t->o.label_smoothing, dl,
                                 &res.loss, &res.correct, ctx)) != MN_OK)
        return st;
    if (teacher && a > 0) {
        double kd;
        if ((st = mn_loss_distill(logits, teacher, n, k,
                                  t->o.distill_temperature, t->dlogits, &kd,
                                  ctx)) != MN_OK)
            return st;
        for (int64_t i = 0; i < (int64_t)n * k; i++)
            dl[i] = (1 - a) * dl[i] + a * t->dlogits[i];
        res.loss = (1 - a) * res.loss + a * kd;
    }
    if ((st = mn_tape_backward(t->tape, ctx)) != MN_OK)
        return st;
    if ((st = mn_optim_step(t->opt, t->P, t->G, lr, &res.grad_norm, ctx)) !=
        MN_OK)
        return st;
    /* Finite gradients can still overflow the weights (a huge learning
     * rate); stop here so NaN never reaches a checkpoint or a model. */
    int64_t bad = first_nonfinite(t->P, t->nP);
    if (bad >= 0)
        return mn_error(ctx, MN_ERR_RUNTIME,
                        "weight %lld is not finite after the update (lr %g, "
                        "gradient norm %g): training diverged; lower the "
                        "learning rate", (long long)bad, lr, res.grad_norm);
    if ((bad = first_nonfinite(t->S, t->nS)) >= 0)
        return mn_error(ctx, MN_ERR_RUNTIME,
                        "running statistic %lld is not finite: training "
                        "diverged; lower the learning rate", (long long)bad);
    if (r)
        *r = res;
    return MN_OK;
}

mn_status mn_trainer_predict(mn_trainer *t, const float *x, int n,
                             const float **logits, int *classes, mn_ctx *ctx)
{
    mn_status st;
    if (!t->eval || mn_tape_batch(t->eval) != n) {
        mn_tape_destroy(t->eval);
        t->eval = NULL;
        if ((st = make_tape(t, n, 0, &t->eval, ctx)) != MN_OK)
            return st;
    }
    if ((st = mn_tape_forward(t->eval, x, 0, 0, ctx)) != MN_OK)
        return st;
    *logits = mn_tape_output(t->eval, 0)->data;
    *classes = t->classes;
    return MN_OK;
}

void mn_trainer_sync(mn_trainer *t)
{
    for (int i = 0; i < t->n_params; i++) {
        const tslot *s = &t->params[i];
        memcpy(t->g->values[s->value].init->data, t->P + s->off,
               (size_t)s->numel * sizeof(float));
    }
    for (int i = 0; i < t->n_states; i++) {
        const tslot *s = &t->states[i];
        memcpy(t->g->values[s->value].init->data, t->S + s->off,
               (size_t)s->numel * sizeof(float));
    }
}

/* ---- checkpoints ---- */

#define CKPT_MAGIC "MNCKPT01"

static uint64_t layout_hash(const mn_trainer *t)
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < t->n_params + t->n_states; i++) {
        const tslot *s = i < t->n_params ? &t->params[i]
                                         : &t->states[i - t->n_params];
        const char *nm = t->g->values[s->value].name;
        for (; nm && *nm; nm++)
            h = (h ^ (unsigned char)*nm) * 1099511628211ull;
        h = (h ^ (uint64_t)s->numel) * 1099511628211ull;
    }
    return h;
}

typedef struct ckpt_head {
    char magic[8];
    uint64_t layout, nP, nS, nO;
    int64_t epoch, opt_steps;
    uint64_t nsteps;
} ckpt_head;

mn_status mn_trainer_save(mn_trainer *t, const char *path, int64_t epoch,
                          mn_ctx *ctx)
{
    char tmp[4096];
    FILE *f;
    ckpt_head h;
    int ok;
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return mn_error(ctx, MN_ERR_ARG, "checkpoint path too long");
    memset(&h, 0, sizeof h);
    memcpy(h.magic, CKPT_MAGIC, 8);
    h.layout = layout_hash(t);
    h.nP = (uint64_t)t->nP;
    h.nS = (uint64_t)t->nS;
    h.nO = (uint64_t)mn_optim_state_floats(t->opt);
    h.epoch = epoch;
    h.opt_steps = *mn_optim_steps(t->opt);
    h.nsteps = t->nsteps;
    f = fopen(tmp, "wb");
    if (!f)
        return mn_error(ctx, MN_ERR_IO, "%s: cannot write", tmp);
    ok = fwrite(&h, sizeof h, 1, f) == 1 &&
         fwrite(t->P, sizeof(float), (size_t)t->nP, f) == (size_t)t->nP &&
         fwrite(t->S, sizeof(float), (size_t)t->nS, f) == (size_t)t->nS &&
         fwrite(mn_optim_state(t->opt), sizeof(float), (size_t)h.nO, f) ==
             (size_t)h.nO;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return mn_error(ctx, MN_ERR_IO, "%s: cannot write checkpoint", path);
    }
    return MN_OK;
}

mn_status mn_trainer_load(mn_trainer *t, const char *path, int64_t *epoch,
                          mn_ctx *ctx)
{
    FILE *f = fopen(path, "rb");
    ckpt_head h;
    mn_status st = MN_OK;
    if (!f)
        return mn_error(ctx, MN_ERR_IO, "%s: cannot open checkpoint", path);
    if (fread(&h, sizeof h, 1, f) != 1 || memcmp(h.magic, CKPT_MAGIC, 8)) {
        st = mn_error(ctx, MN_ERR_PARSE, "%s: not a minnow checkpoint", path);
        goto out;
    }
    if (h.epoch < 0 || h.opt_steps < 0) {
        st = mn_error(ctx, MN_ERR_PARSE,
                      "%s: corrupt checkpoint (epoch %lld, %lld optimizer "
                      "steps)", path, (long long)h.epoch,
                      (long long)h.opt_steps);
        goto out;
    }
    if (h.layout != layout_hash(t) || h.nP != (uint64_t)t->nP ||
        h.nS != (uint64_t)t->nS ||
        h.nO != (uint64_t)mn_optim_state_floats(t->opt)) {
        st = mn_error(ctx, MN_ERR_ARG,
                      "%s: the checkpoint is for a different model or "
                      "optimizer (%llu parameters, this run has %lld)",
                      path, (unsigned long long)h.nP, (long long)t->nP);
        goto out;
    }
    if (fread(t->P, sizeof(float), (size_t)t->nP, f) != (size_t)t->nP ||
        fread(t->S, sizeof(float), (size_t)t->nS, f) != (size_t)t->nS ||
        fread(mn_optim_state(t->opt), sizeof(float), (size_t)h.nO, f) !=
            (size_t)h.nO) {
        st = mn_error(ctx, MN_ERR_PARSE, "%s: checkpoint is truncated", path);
        goto out;
    }
    if (fgetc(f) != EOF) {
        st = mn_error(ctx, MN_ERR_PARSE,
                      "%s: trailing bytes after the checkpoint", path);
        goto out;
    }
    int64_t bw = first_nonfinite(t->P, t->nP);
    int64_t bs = first_nonfinite(t->S, t->nS);
    if (bw >= 0 || bs >= 0) {
        st = mn_error(ctx, MN_ERR_PARSE,
                      "%s: the checkpoint holds a value that is not finite "
                      "(%s %lld)", path,
                      bw >= 0 ? "weight" : "running statistic",
                      (long long)(bw >= 0 ? bw : bs));
        goto out;
    }
    *mn_optim_steps(t->opt) = h.opt_steps;
    t->nsteps = h.nsteps;
    if (epoch)
        *epoch = h.epoch;
out:
    fclose(f);
    return st;
}
