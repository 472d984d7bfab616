/* Optimizers over one flat parameter array: SGD with momentum (optionally
 * Nesterov) and Adam / AdamW, with per-element weight-decay masks and
 * gradient clipping by global norm. The update rules follow PyTorch's
 * torch.optim so hyper-parameters carry over. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/status.h"
#include "minnow/train.h"

struct mn_optim {
    mn_optim_opts o;
    int64_t n;
    uint8_t *mask;  /* NULL: decay everywhere */
    float *state;   /* m[n] (SGD momentum buffer / Adam first moment),
                       then v[n] for Adam */
    int64_t nstate;
    int64_t steps;
};

mn_status mn_optim_create(const mn_optim_opts *o, int64_t n,
                          const uint8_t *decay_mask, mn_optim **out,
                          mn_ctx *ctx)
{
    mn_optim *op;
    *out = NULL;
    if (!o || (unsigned)o->kind >= MN_OPTIM_COUNT || n < 0)
        return mn_error(ctx, MN_ERR_ARG, "bad optimizer options");
    if (o->momentum < 0 || o->momentum >= 1 || o->weight_decay < 0 ||
        o->clip_norm < 0)
        return mn_error(ctx, MN_ERR_ARG,
                        "optimizer: momentum %g, weight decay %g, clip %g",
                        o->momentum, o->weight_decay, o->clip_norm);
    op = mn_calloc(1, sizeof *op);
    if (!op)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    op->o = *o;
    if (op->o.beta1 == 0)
        op->o.beta1 = 0.9f;
    if (op->o.beta2 == 0)
        op->o.beta2 = 0.999f;
    if (op->o.eps == 0)
        op->o.eps = 1e-8f;
    op->n = n;
    op->nstate = o->kind == MN_OPTIM_SGD ? n : 2 * n;
    op->state = mn_calloc((size_t)op->nstate + 1, sizeof *op->state);
    if (decay_mask) {
        op->mask = mn_malloc((size_t)n + 1);
        if (op->mask)
            memcpy(op->mask, decay_mask, (size_t)n);
    }
    if (!op->state || (decay_mask && !op->mask)) {
        mn_optim_destroy(op);
        return mn_error(ctx, MN_ERR_OOM, "out of memory (optimizer state)");
    }
    *out = op;
    return MN_OK;
}

void mn_optim_destroy(mn_optim *op)
{
    if (!op)
        return;
    free(op->state);
    free(op->mask);
    free(op);
}

int64_t mn_optim_state_floats(const mn_optim *op) { return op->nstate; }
float *mn_optim_state(mn_optim *op) { return op->state; }
int64_t *mn_optim_steps(mn_optim *op) { return &op->steps; }

mn_status mn_optim_step(mn_optim *op, float *w, float *g, float lr,
                        double *grad_norm, mn_ctx *ctx)
{
    const mn_optim_opts *o = &op->o;
    int64_t n = op->n;
    double ss = 0;
    for (int64_t i = 0; i < n; i++)
        ss += (double)g[i] * g[i];
    double norm = sqrt(ss);
    if (grad_norm)
        *grad_norm = norm;
    if (!isfinite(norm))
        return mn_error(ctx, MN_ERR_RUNTIME,
                        "gradients are not finite: training diverged; "
                        "lower the learning rate");
    if (o->clip_norm > 0 && norm > o->clip_norm) {
        float s = (float)(o->clip_norm / (norm + 1e-6));
        for (int64_t i = 0; i < n; i++)
            g[i] *= s;
    }
    op->steps++;
    float wd = o->weight_decay;
    float *m = op->state;
    if (o->kind == MN_OPTIM_SGD) {
        float mu = o->momentum;
        for (int64_t i = 0; i < n; i++) {
            float gi = g[i];
            if (wd != 0 && (!op->mask || op->mask[i]))
                gi += wd * w[i];
            float b = mu * m[i] + gi;
            m[i] = b;
            w[i] -= lr * (o->nesterov ? gi + mu * b : b);
        }
        return MN_OK;
    }
    float *v = op->state + n;
    float b1 = o->beta1, b2 = o->beta2;
    double c1 = 1.0 - pow(b1, (double)op->steps);
    double c2 = 1.0 - pow(b2, (double)op->steps);
    float step = (float)(lr / c1), rc2 = (float)(1.0 / sqrt(c2));
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i];
        int dec = wd != 0 && (!op->mask || op->mask[i]);
        if (dec && o->kind == MN_OPTIM_ADAMW)
            w[i] -= lr * wd * w[i];
        else if (dec)
            gi += wd * w[i];
        m[i] = b1 * m[i] + (1 - b1) * gi;
        v[i] = b2 * v[i] + (1 - b2) * gi * gi;
        w[i] -= step * m[i] / (sqrtf(v[i]) * rc2 + o->eps);
    }
    return MN_OK;
}
