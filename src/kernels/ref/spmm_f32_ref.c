/* Reference sparse float32 kernels (the oracle of the AVX-512 ones, and
 * what runs at MINNOW_ISA=ref): plain loops over blocked-CSR rows, see
 * src/kernels/spmm_f32.h for the contract. */
#include "kernels/kernels_f32.h"
#include "kernels/spmm_f32.h"

static void panel_ref(int64_t mr, const int32_t *ptr, const int32_t *idx,
                      const float *val, const float *panel, int nt,
                      int64_t nc, const float *bias, const float *res,
                      int64_t ldy, float *y, int first, int last,
                      const mn_act *act)
{
    float acc[64];
    for (int64_t i = 0; i < mr; i++) {
        float *yr = y + i * ldy;
        for (int64_t j = 0; j < nt; j++)
            acc[j] = first ? (bias ? bias[i] : 0.0f) : j < nc ? yr[j] : 0.0f;
        for (int32_t e = ptr[i]; e < ptr[i + 1]; e++) {
            const float *pr = panel + (int64_t)idx[e] * nt;
            float w = val[e];
            for (int64_t j = 0; j < nt; j++)
                acc[j] += w * pr[j];
        }
        if (last) {
            for (int64_t j = 0; j < nc; j++) {
                float v = acc[j] + (res ? res[i * ldy + j] : 0.0f);
                yr[j] = act ? mn_act_scalar(act, v) : v;
            }
        } else {
            for (int64_t j = 0; j < nc; j++)
                yr[j] = acc[j];
        }
    }
}

static void spmv_ref(int64_t mr, const int32_t *ptr, const int32_t *idx,
                     const float *val, const float *x, const float *bias,
                     const float *res, const mn_act *act, float *y)
{
    for (int64_t i = 0; i < mr; i++) {
        float acc = 0.0f;
        for (int32_t e = ptr[i]; e < ptr[i + 1]; e++)
            acc += val[e] * x[idx[e]];
        acc += (bias ? bias[i] : 0.0f) + (res ? res[i] : 0.0f);
        y[i] = act ? mn_act_scalar(act, acc) : acc;
    }
}

static const mn_spmm_kernels kernels = {
    .name = "ref",
    .panel = panel_ref,
    .spmv = spmv_ref,
};

const mn_spmm_kernels *mn_spmm_kernels_ref(void) { return &kernels; }
