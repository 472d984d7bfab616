/* Reference sparse 8-bit convolution kernel (the oracle of the VNNI one,
 * and what runs at MINNOW_ISA=ref or without VNNI when sparse is forced):
 * plain loops over quad-CSR rows, the store through mn_qgemm_store1; see
 * src/kernels/spmm_q8.h for the contract. */
#include <string.h>
#include "kernels/spmm_q8.h"

static void conv_ref(int64_t mr, const int32_t *ptr, const int32_t *off,
                     const int32_t *w4, const uint8_t *base,
                     const mn_spq8_tile *t, int32_t *part, int64_t ldp,
                     int first, int last, const mn_qgemm_epi *e, int64_t row0,
                     void *y, int64_t rs)
{
    int32_t acc[64];
    int es = e->mult ? 1 : 4, nl = 16 * t->nv;
    for (int64_t i = 0; i < mr; i++) {
        for (int l = 0; l < nl; l++)
            acc[l] = first ? 0 : part[i * ldp + l];
        for (int32_t x = ptr[i]; x < ptr[i + 1]; x++) {
            const uint8_t *pq = base + off[x];
            int8_t w[4];
            memcpy(w, &w4[x], 4);
            for (int l = 0; l < nl; l++)
                for (int k = 0; k < 4; k++)
                    acc[l] += (int32_t)pq[4 * l + k] * w[k];
        }
        if (!last) {
            memcpy(part + i * ldp, acc, (size_t)nl * sizeof *acc);
            continue;
        }
        for (int v = 0; v < t->nv; v++)
            for (int l = 0, rank = 0; l < 16; l++)
                if (t->mask[v] >> l & 1)
                    mn_qgemm_store1(e, row0 + i, acc[16 * v + l],
                                    (char *)y +
                                        (i * rs + t->yoff[v] + rank++) * es);
    }
}

static const mn_spq8_kernels kernels = {
    .name = "ref",
    .conv = conv_ref,
};

const mn_spq8_kernels *mn_spq8_kernels_ref(void) { return &kernels; }
