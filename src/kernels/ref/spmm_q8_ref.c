/* Reference sparse 8-bit kernel (the oracle of the VNNI one, and what runs
 * at MINNOW_ISA=ref or without VNNI when sparse is forced): plain loops
 * over quad-CSR rows, the store through mn_qgemm_store1; see
 * src/kernels/spmm_q8.h for the contract. */
#include <string.h>
#include "kernels/spmm_q8.h"

static void panel_ref(int64_t mr, const int32_t *ptr, const int32_t *qidx,
                      const int32_t *w4, const uint8_t *panel, int nt,
                      int64_t nc, int32_t *part, int64_t ldp, int first,
                      int last, const mn_qgemm_epi *e, int64_t row0, void *y,
                      int64_t rs, int64_t cs)
{
    int32_t acc[64];
    int es = e->mult ? 1 : 4;
    for (int64_t i = 0; i < mr; i++) {
        for (int64_t j = 0; j < nc; j++)
            acc[j] = first ? 0 : part[i * ldp + j];
        for (int32_t x = ptr[i]; x < ptr[i + 1]; x++) {
            const uint8_t *pq = panel + (int64_t)qidx[x] * nt * 4;
            int8_t w[4];
            memcpy(w, &w4[x], 4);
            for (int64_t j = 0; j < nc; j++)
                for (int t = 0; t < 4; t++)
                    acc[j] += (int32_t)pq[j * 4 + t] * w[t];
        }
        for (int64_t j = 0; j < nc; j++) {
            if (last)
                mn_qgemm_store1(e, row0 + i, acc[j],
                                (char *)y + (i * rs + j * cs) * es);
            else
                part[i * ldp + j] = acc[j];
        }
    }
}

static const mn_spq8_kernels kernels = {
    .name = "ref",
    .panel = panel_ref,
};

const mn_spq8_kernels *mn_spq8_kernels_ref(void) { return &kernels; }
