/* Losses for training: softmax cross-entropy with label smoothing and the
 * soft-target distillation loss. Both are means over the batch; log-sums
 * are computed in double around the row maximum. */
#include <math.h>
#include <stdlib.h>
#include "core/status.h"
#include "minnow/train.h"

/* log Σ exp(z_j / T) and the softmax p_j = exp(z_j/T - lse). */
static double log_softmax_row(const float *z, int k, double invt, double *p)
{
    double mx = -INFINITY, s = 0;
    for (int j = 0; j < k; j++)
        if (z[j] * invt > mx)
            mx = z[j] * invt;
    for (int j = 0; j < k; j++) {
        p[j] = exp(z[j] * invt - mx);
        s += p[j];
    }
    for (int j = 0; j < k; j++)
        p[j] /= s;
    return mx + log(s);
}

#define LOSS_MAX_K 65536

mn_status mn_loss_softmax_ce(const float *logits, const int64_t *labels,
                             int64_t n, int k, float smoothing,
                             float *dlogits, double *loss, int64_t *correct,
                             mn_ctx *ctx)
{
    double total = 0, *p;
    int64_t hits = 0;
    if (n < 1 || k < 1 || k > LOSS_MAX_K)
        return mn_error(ctx, MN_ERR_ARG, "loss over %lld×%d logits",
                        (long long)n, k);
    if (!(smoothing >= 0.0f && smoothing < 1.0f))
        return mn_error(ctx, MN_ERR_ARG, "label smoothing %g", smoothing);
    p = mn_malloc((size_t)k * sizeof *p);
    if (!p)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    double off = (double)smoothing / k, on = 1.0 - smoothing + off;
    for (int64_t i = 0; i < n; i++) {
        const float *z = logits + i * k;
        int64_t y = labels[i];
        if (y < 0 || y >= k) {
            free(p);
            return mn_error(ctx, MN_ERR_ARG,
                            "label %lld of sample %lld is out of range "
                            "[0, %d)", (long long)y, (long long)i, k);
        }
        double lse = log_softmax_row(z, k, 1.0, p);
        int arg = 0;
        for (int j = 0; j < k; j++) {
            double q = j == y ? on : off;
            total -= q * (z[j] - lse);
            if (z[j] > z[arg])
                arg = j;
            if (dlogits)
                dlogits[i * k + j] = (float)((p[j] - q) / (double)n);
        }
        hits += arg == y;
    }
    free(p);
    total /= (double)n;
    if (loss)
        *loss = total;
    if (correct)
        *correct = hits;
    if (!isfinite(total))
        return mn_error(ctx, MN_ERR_RUNTIME,
                        "the loss is not finite (%g): training diverged; "
                        "lower the learning rate", total);
    return MN_OK;
}

mn_status mn_loss_distill(const float *student, const float *teacher,
                          int64_t n, int k, float temperature,
                          float *dstudent, double *loss, mn_ctx *ctx)
{
    double total = 0, *ps, *pt;
    if (n < 1 || k < 1 || k > LOSS_MAX_K)
        return mn_error(ctx, MN_ERR_ARG, "loss over %lld×%d logits",
                        (long long)n, k);
    if (!(temperature > 0.0f))
        return mn_error(ctx, MN_ERR_ARG, "distillation temperature %g",
                        temperature);
    ps = mn_malloc(2 * (size_t)k * sizeof *ps);
    if (!ps)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    pt = ps + k;
    double t = temperature, invt = 1.0 / t;
    for (int64_t i = 0; i < n; i++) {
        double ls = log_softmax_row(student + i * k, k, invt, ps);
        double lt = log_softmax_row(teacher + i * k, k, invt, pt);
        for (int j = 0; j < k; j++) {
            if (pt[j] > 0)
                total += pt[j] * ((teacher[i * k + j] * invt - lt) -
                                  (student[i * k + j] * invt - ls));
            /* d/ds of T²·KL = T·(p_s - p_t) */
            if (dstudent)
                dstudent[i * k + j] = (float)(t * (ps[j] - pt[j]) / n);
        }
    }
    free(ps);
    total = total * t * t / (double)n;
    if (loss)
        *loss = total;
    if (!isfinite(total))
        return mn_error(ctx, MN_ERR_RUNTIME,
                        "the distillation loss is not finite (%g)", total);
    return MN_OK;
}
