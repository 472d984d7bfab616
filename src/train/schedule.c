/* Learning-rate schedules: constant, step decay and cosine (each with an
 * optional linear warm-up), and one-cycle as PyTorch's OneCycleLR with
 * cosine annealing (start lr/25, peak lr, end lr/(25·1e4)). */
#include <math.h>
#include "minnow/train.h"

#define PI 3.14159265358979323846

float mn_lr_at(const mn_lr_opts *o, float lr, int64_t step,
               int64_t per_epoch, int64_t total)
{
    double t = (double)step, T = total > 0 ? (double)total : 1.0;
    double pe = per_epoch > 0 ? (double)per_epoch : 1.0;
    if (o->kind == MN_LR_ONECYCLE) {
        double pct = o->pct > 0 && o->pct < 1 ? o->pct : 0.3;
        double up = pct * T - 1, lo = lr / 25.0, end = lo / 1e4;
        if (up < 1)
            up = 1;
        if (t <= up) {
            double c = (1 - cos(PI * t / up)) / 2;
            return (float)(lo + (lr - lo) * c);
        }
        double down = T - 1 - up;
        double f = down > 0 ? (t - up) / down : 1.0;
        if (f > 1)
            f = 1;
        return (float)(end + (lr - end) * (1 + cos(PI * f)) / 2);
    }
    double warm = o->warmup_epochs > 0 ? o->warmup_epochs * pe : 0;
    if (warm > 0 && t < warm)
        return (float)(lr * (t + 1) / warm);
    switch (o->kind) {
    case MN_LR_STEP: {
        double se = o->step_epochs > 0 ? o->step_epochs : 1;
        double g = o->gamma > 0 ? o->gamma : 0.1;
        return (float)(lr * pow(g, floor(t / pe / se)));
    }
    case MN_LR_COSINE: {
        double span = T - warm, f = span > 1 ? (t - warm) / (span - 1) : 1;
        double lo = lr * o->min_ratio;
        if (f > 1)
            f = 1;
        return (float)(lo + (lr - lo) * (1 + cos(PI * f)) / 2);
    }
    default:
        return lr;
    }
}
