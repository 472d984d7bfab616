/* Training data in memory: a data set read once through mn_dataset and
 * kept as 8-bit pixels (or as floats for npy specs), per-channel
 * statistics, and minibatches with augmentation (random crop after zero
 * padding, horizontal flip) and normalization. */
#ifndef MN_TRAIN_DATA_H
#define MN_TRAIN_DATA_H

#include "core/status.h"
#include "train/rng.h"

typedef struct mn_tdata {
    int64_t n;
    int c, h, w, classes;
    uint8_t *u8;  /* n·c·h·w pixels, or NULL */
    float *f;     /* npy: n·c·h·w preprocessed floats, or NULL */
    int64_t *y;
} mn_tdata;

/* limit 0: all samples. c/h/w 0: the data's own. */
mn_status mn_tdata_load(const char *spec, int64_t limit, int c, int h, int w,
                        mn_tdata **out, mn_ctx *ctx);
void mn_tdata_destroy(mn_tdata *d);
/* Per-channel mean and standard deviation of p/255 (0 and 1 for npy). */
void mn_tdata_stats(const mn_tdata *d, float *mean, float *std);
/* Samples idx[0..n) into x (n·c·h·w, normalized) and y. crop_pad > 0
 * shifts each image by up to ±crop_pad pixels (zero pixels fill in), flip
 * mirrors half of them; both draw from r (NULL: no augmentation). */
void mn_tdata_batch(const mn_tdata *d, const int64_t *idx, int n,
                    const float *mean, const float *std, int crop_pad,
                    int flip, mn_rng *r, float *x, int64_t *y);

#endif
