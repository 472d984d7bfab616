/* Calibration methods: the clip range of a tensor from its histogram
 * (observer.c), and the affine parameters for a range.
 *
 *  minmax      the exact min and max seen.
 *  percentile  |x| clipped at the p-th percentile of |x| (interpolated in
 *              its bin); both sides clipped at ±T.
 *  entropy     TensorRT's KL-divergence threshold search on the |x|
 *              histogram: for every candidate threshold i (in bins) the
 *              reference P (bins below i, outliers added to the last bin)
 *              is compared with Q (the same bins merged into as many chunks
 *              as the target has levels on that side, then spread back over
 *              the chunk's non-empty bins); the smallest KL(P‖Q) wins.
 *              The zero bin counts as its neighbour (ReLU's spike at 0
 *              would otherwise dominate the divergence), and the |x|
 *              histogram is box-smoothed over one quantization step at the
 *              full range (used/nq bins) before the search: structure finer
 *              than a step (point masses from constant image backgrounds,
 *              combs from 8-bit inputs) is lost by any threshold, but
 *              unsmoothed it makes KL prefer the threshold just above a
 *              spike, where the spike gets a chunk of its own (this cut
 *              MobileNetV2's first ReLU6 from 6 to 0.72, 37 % top-1).
 *  mse         the range [a·min, a·max], a ∈ (0, 1], that minimizes the
 *              expected squared error of quantize→dequantize over the
 *              histogram (bin centres, clipping included).
 * Every range contains 0, so zero is exact after quantization. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "quant/quant.h"

#define MSE_STEPS 128
#define KL_EPS 1e-12

static void qlimits(mn_dtype qt, int32_t *qmin, int32_t *qmax)
{
    switch (qt) {
    case MN_DT_I8: *qmin = -128, *qmax = 127; break;
    case MN_DT_I16: *qmin = -32768, *qmax = 32767; break;
    default: *qmin = 0, *qmax = 255; break;
    }
}

int32_t mn_quant_value(float x, float s, int32_t zp, int32_t qmin,
                       int32_t qmax)
{
    float v = rintf(x / s) + (float)zp; /* as QuantizeLinear computes it */
    if (v != v)
        return zp;
    return v < (float)qmin ? qmin : v > (float)qmax ? qmax : (int32_t)v;
}

void mn_quant_params(float lo, float hi, mn_dtype qt, float *scale,
                     int32_t *zp)
{
    int32_t qmin, qmax;
    double s;
    lo = lo < 0 ? lo : 0;
    hi = hi > 0 ? hi : 0;
    if (qt == MN_DT_I16) {
        double a = -lo > hi ? -lo : hi;
        s = a / 32767.0;
        *scale = s > 0 && isfinite(s) ? (float)s : 1.0f;
        *zp = 0;
        return;
    }
    qlimits(qt, &qmin, &qmax);
    s = ((double)hi - (double)lo) / (double)(qmax - qmin);
    *scale = s > 0 && isfinite(s) && (float)s > 0 ? (float)s : 1.0f;
    {
        double z = rint((double)qmin - (double)lo / (double)*scale);
        *zp = z < qmin ? qmin : z > qmax ? qmax : (int32_t)z;
    }
}

float mn_quant_sym_scale(float absmax, int qmax)
{
    float s = absmax / (float)qmax;
    return s > 0 && isfinite(s) ? s : 1.0f;
}

/* |x| histogram: half bins over [0, range]; returns the bin count used
 * (last non-empty + 1). */
static int fold_abs(const mn_observer *o, double *ah)
{
    int half = o->bins / 2, used = 0;
    for (int i = 0; i < half; i++) {
        ah[i] = (double)o->hist[half + i] + (double)o->hist[half - 1 - i];
        if (ah[i] > 0)
            used = i + 1;
    }
    return used;
}

static double percentile_threshold(const double *ah, int used, double width,
                                   double p)
{
    double total = 0, want, cum = 0;
    for (int i = 0; i < used; i++)
        total += ah[i];
    want = total * p / 100.0;
    for (int i = 0; i < used; i++) {
        if (cum + ah[i] >= want && ah[i] > 0)
            return ((double)i + (want - cum) / ah[i]) * width;
        cum += ah[i];
    }
    return (double)used * width;
}

/* TensorRT's search; returns the threshold in bins. pre[i] = sum ah[0..i),
 * nzc[i] = non-empty bins among ah[0..i). */
static int kl_threshold(const double *ah, int used, int nq, const double *pre,
                        const int *nzc)
{
    double best = INFINITY;
    int best_i = used;
    for (int i = nq; i <= used; i++) {
        double outl = pre[used] - pre[i], total = pre[used], qtot = pre[i];
        double kl = 0;
        if (qtot <= 0)
            continue;
        for (int k = 0; k < nq; k++) {
            int s = (int)((int64_t)k * i / nq);
            int e = (int)((int64_t)(k + 1) * i / nq);
            double csum = pre[e] - pre[s];
            int nz = nzc[e] - nzc[s];
            for (int j = s; j < e; j++) {
                double p = ah[j] + (j == i - 1 ? outl : 0);
                double q;
                if (p <= 0)
                    continue;
                q = ah[j] > 0 ? csum / nz / qtot : 0;
                p /= total;
                if (q < KL_EPS)
                    q = KL_EPS;
                kl += p * log(p / q);
            }
        }
        if (kl < best) {
            best = kl;
            best_i = i;
        }
    }
    return best_i;
}

static double mse_of(const mn_observer *o, const int *nzb, int n_nz,
                     float lo, float hi, mn_dtype qt)
{
    float s;
    int32_t zp, qmin, qmax;
    double err = 0, w = 2.0 * o->range / o->bins;
    mn_quant_params(lo, hi, qt, &s, &zp);
    qlimits(qt, &qmin, &qmax);
    for (int k = 0; k < n_nz; k++) {
        int b = nzb[k];
        double c = -o->range + ((double)b + 0.5) * w;
        int32_t q = mn_quant_value((float)c, s, zp, qmin, qmax);
        double d = c - (double)(q - zp) * (double)s;
        err += (double)o->hist[b] * d * d;
    }
    return err;
}

mn_status mn_calib_range(const mn_observer *o, const mn_calib_cfg *c,
                         float *lo, float *hi, mn_ctx *ctx)
{
    double mn = o->min < 0 ? o->min : 0, mx = o->max > 0 ? o->max : 0;
    double t = -1;
    void *buf = NULL;
    mn_status st = MN_OK;
    *lo = (float)mn;
    *hi = (float)mx;
    if (o->count == 0 || o->range == 0 || c->method == MN_CALIB_MINMAX)
        return MN_OK;
    if (c->method == MN_CALIB_MSE) {
        int *nzb = mn_malloc((size_t)o->bins * sizeof *nzb), n_nz = 0;
        double best = INFINITY;
        if (!nzb)
            return mn_error(ctx, MN_ERR_OOM, "out of memory");
        for (int b = 0; b < o->bins; b++)
            if (o->hist[b])
                nzb[n_nz++] = b;
        for (int k = MSE_STEPS; k >= 1; k--) {
            double a = (double)k / MSE_STEPS;
            double e = mse_of(o, nzb, n_nz, (float)(a * mn), (float)(a * mx),
                              c->qt);
            if (e < best) {
                best = e;
                *lo = (float)(a * mn);
                *hi = (float)(a * mx);
            }
        }
        free(nzb);
        return MN_OK;
    }
    {
        int half = o->bins / 2, used;
        double width = o->range / half;
        double *ah, *pre;
        int *nzc;
        size_t bytes = (size_t)(half + 1) * (2 * sizeof(double) + sizeof(int));
        buf = mn_malloc(bytes);
        if (!buf)
            return mn_error(ctx, MN_ERR_OOM, "out of memory");
        ah = buf;
        pre = ah + half + 1;
        nzc = (int *)(pre + half + 1);
        used = fold_abs(o, ah);
        /* the zero bin (ReLU's spike) would dominate KL and drive the
         * threshold down to nq bins; like NVIDIA's implementation, give it
         * its neighbour's count for the search */
        if (c->method == MN_CALIB_ENTROPY && used > 1)
            ah[0] = ah[1];
        if (c->method == MN_CALIB_PERCENTILE) {
            double p = c->percentile > 0 && c->percentile <= 100
                           ? c->percentile
                           : MN_QUANT_DEFAULT_PERCENTILE;
            t = percentile_threshold(ah, used, width, p);
        } else if (c->method == MN_CALIB_ENTROPY) {
            int levels = c->qt == MN_DT_I16 ? 65536 : 256;
            int nq = mn < 0 ? levels / 2 : levels;
            int h = (used + nq - 1) / nq / 2;
            pre[0] = 0;
            for (int i = 0; i < used; i++)
                pre[i + 1] = pre[i] + ah[i];
            /* smooth below the quantization step (see the header) */
            for (int i = 0; i < used && h > 0; i++) {
                int a = i - h < 0 ? 0 : i - h;
                int b = i + h + 1 > used ? used : i + h + 1;
                ah[i] = (pre[b] - pre[a]) / (double)(b - a);
            }
            nzc[0] = 0;
            for (int i = 0; i < used; i++) {
                pre[i + 1] = pre[i] + ah[i];
                nzc[i + 1] = nzc[i] + (ah[i] > 0);
            }
            if (used > nq)
                t = kl_threshold(ah, used, nq, pre, nzc) * width;
        } else {
            st = mn_error(ctx, MN_ERR_ARG, "unknown calibration method %d",
                          (int)c->method);
        }
    }
    free(buf);
    if (st == MN_OK && t >= 0) {
        if (mn < -t)
            *lo = (float)-t;
        if (mx > t)
            *hi = (float)t;
    }
    return st;
}
