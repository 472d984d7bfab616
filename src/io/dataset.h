/* Internal contract between the data set front end (dataset.c) and the
 * readers of each source kind (idx.c, cifar.c, image_folder.c).
 *
 * A reader opens its files, validates them once, and then hands out samples
 * as 8-bit pixels; dataset.c converts channels, resizes and normalises them
 * into floats batch by batch, so a data set in memory costs its uint8 pixels
 * and no more. Readers are not thread-safe (a sample may be decoded into a
 * buffer the reader reuses). */
#ifndef MN_IO_DATASET_H
#define MN_IO_DATASET_H

#include "core/status.h"

/* One sample's pixels, borrowed from the reader until its next call.
 * Channels: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA. */
typedef struct mn_ds_image {
    const uint8_t *pix;
    int c, h, w;
    int interleaved; /* 1: HWC (decoded images); 0: CHW planes */
} mn_ds_image;

typedef struct mn_ds_reader_vt {
    mn_status (*image)(void *impl, int64_t i, mn_ds_image *img, mn_ctx *ctx);
    int64_t (*label)(const void *impl, int64_t i);
    void (*destroy)(void *impl);
} mn_ds_reader_vt;

/* An opened source. c/h/w are the natural sample shape (for folders: that
 * of the first image, with c 1 for gray and 3 for colour images). Labels are
 * validated by the reader to lie in [0, classes). */
typedef struct mn_ds_reader {
    const mn_ds_reader_vt *vt;
    void *impl;
    int64_t n;
    int classes;
    int c, h, w;
} mn_ds_reader;

mn_status mn_ds_idx_open(const char *images, const char *labels, int classes,
                         mn_ds_reader *out, mn_ctx *ctx);
mn_status mn_ds_cifar_open(const char *dir, int train, mn_ds_reader *out,
                           mn_ctx *ctx);
mn_status mn_ds_folder_open(const char *dir, mn_ds_reader *out, mn_ctx *ctx);

#endif
