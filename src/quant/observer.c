/* Streaming histogram observer for calibration.
 *
 * Memory is one array of `bins` counters fixed at init, whatever the number
 * of images: the histogram covers [-range, range]; when a batch holds a value
 * beyond it, range doubles as often as needed and each doubling merges bin
 * pairs into the middle half, which is exact (no interpolation): old bin j
 * lands in new bin bins/4 + j/2. Zero lies on the edge between the two
 * middle bins; zeros count in the upper one ([0, width)). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "quant/quant.h"

mn_status mn_observer_init(mn_observer *o, int bins, mn_ctx *ctx)
{
    memset(o, 0, sizeof *o);
    if (bins < 8 || bins % 4 != 0 || bins > (1 << 24))
        return mn_error(ctx, MN_ERR_ARG,
                        "histogram bins must be a multiple of 4 in [8, 2^24], "
                        "not %d", bins);
    o->hist = mn_calloc((size_t)bins, sizeof *o->hist);
    if (!o->hist)
        return mn_error(ctx, MN_ERR_OOM, "out of memory (histogram)");
    o->bins = bins;
    return MN_OK;
}

void mn_observer_free(mn_observer *o)
{
    if (!o)
        return;
    free(o->hist);
    memset(o, 0, sizeof *o);
}

size_t mn_observer_bytes(const mn_observer *o)
{
    return sizeof *o + (size_t)o->bins * sizeof *o->hist;
}

/* Doubles the range once: bin pairs merge into the middle half. */
static void grow_once(mn_observer *o)
{
    int n = o->bins;
    uint64_t *h = o->hist;
    /* new[n/4 + j/2] += old[j], in place: upper targets t read old bins
     * j = 2t - n/2 >= t, so go up; lower targets read j + 1 <= t, so go
     * down. */
    for (int t = n / 2; t < 3 * n / 4; t++) {
        int j = 2 * (t - n / 4);
        h[t] = h[j] + h[j + 1];
    }
    for (int t = n / 2 - 1; t >= n / 4; t--) {
        int j = 2 * (t - n / 4);
        h[t] = h[j] + h[j + 1];
    }
    memset(h, 0, (size_t)(n / 4) * sizeof *h);
    memset(h + 3 * n / 4, 0, (size_t)(n / 4) * sizeof *h);
    o->range *= 2.0;
}

static int bin_of(const mn_observer *o, double x)
{
    double f = (x + o->range) / (2.0 * o->range) * (double)o->bins;
    int b = f <= 0 ? 0 : f >= (double)o->bins ? o->bins - 1 : (int)f;
    return b;
}

void mn_observer_update(mn_observer *o, const float *x, int64_t n)
{
    double amax = 0;
    int first = o->count == 0;
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        if (!isfinite(v)) {
            o->nonfinite++;
            continue;
        }
        if (first) {
            o->min = o->max = v;
            first = 0;
        }
        if (v < o->min)
            o->min = v;
        if (v > o->max)
            o->max = v;
        if (fabs((double)v) > amax)
            amax = fabs((double)v);
    }
    if (o->range == 0 && amax > 0) {
        o->range = amax;
        o->hist[o->bins / 2] += o->zeros_early;
        o->zeros_early = 0;
    }
    while (o->range > 0 && amax > o->range)
        grow_once(o);
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        if (!isfinite(v))
            continue;
        o->count++;
        if (o->range == 0)
            o->zeros_early++;
        else
            o->hist[bin_of(o, v)]++;
    }
}
