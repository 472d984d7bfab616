/* Output of `minnow quantize --analyze` / `--max-drop`: the per-layer
 * sensitivity table (most sensitive first) and the mixed-precision result,
 * as text or as JSON members of the command's one object. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include "cli.h"
#include "minnow/quant.h"
#include "quant_analysis.h"

static void add_num_or_null(cJSON *o, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

void cli_quant_analysis_json(cJSON *j, const mn_quant_analysis *a,
                             const mn_mixed_result *m, double max_drop)
{
    cJSON *an = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    cJSON_AddNumberToObject(an, "fp32_accuracy", a->fp32_accuracy);
    cJSON_AddNumberToObject(an, "quant_accuracy", a->quant_accuracy);
    cJSON_AddNumberToObject(an, "drop", 100.0 * (a->fp32_accuracy -
                                                 a->quant_accuracy));
    cJSON_AddNumberToObject(an, "eval_samples", (double)a->eval_samples);
    cJSON_AddNumberToObject(an, "calib_samples", (double)a->calib_samples);
    for (int k = 0; k < a->n; k++) {
        cJSON *l = cJSON_CreateObject();
        cJSON_AddStringToObject(l, "name", a->layers[k].name);
        cJSON_AddStringToObject(l, "op", a->layers[k].op);
        add_num_or_null(l, "sqnr_db", a->layers[k].sqnr_db);
        cJSON_AddNumberToObject(l, "accuracy", a->layers[k].accuracy);
        cJSON_AddNumberToObject(l, "drop", a->layers[k].drop);
        cJSON_AddItemToArray(arr, l);
    }
    cJSON_AddItemToObject(an, "layers", arr);
    cJSON_AddItemToObject(j, "analysis", an);
    if (m) {
        cJSON *mx = cJSON_CreateObject(), *names = cJSON_CreateArray();
        cJSON_AddNumberToObject(mx, "max_drop", max_drop);
        for (int k = 0; k < m->n_float; k++)
            cJSON_AddItemToArray(names,
                                 cJSON_CreateString(a->layers[k].name));
        cJSON_AddItemToObject(mx, "float_layers", names);
        cJSON_AddNumberToObject(mx, "accuracy", m->accuracy);
        cJSON_AddNumberToObject(mx, "drop", m->drop);
        cJSON_AddNumberToObject(mx, "steps", m->steps);
        cJSON_AddItemToObject(j, "mixed", mx);
    }
}

void cli_quant_analysis_print(const mn_quant_analysis *a,
                              const mn_mixed_result *m, double max_drop)
{
    printf("sensitivity  held-out %lld samples: fp32 %.2f %%, all "
           "quantized %.2f %% (drop %.2f pp); SQNR on %lld calibration "
           "samples\n",
           (long long)a->eval_samples, 100.0 * a->fp32_accuracy,
           100.0 * a->quant_accuracy,
           100.0 * (a->fp32_accuracy - a->quant_accuracy),
           (long long)a->calib_samples);
    printf("  %-4s %-40s %-8s %10s %10s %9s\n", "rank", "layer (only it "
           "quantized)", "op", "SQNR dB", "accuracy", "drop pp");
    for (int k = 0; k < a->n; k++)
        printf("  %-4d %-40s %-8s %10.2f %9.2f%% %9.2f\n", k + 1,
               a->layers[k].name, a->layers[k].op, a->layers[k].sqnr_db,
               100.0 * a->layers[k].accuracy, a->layers[k].drop);
    if (m) {
        printf("mixed        budget %.2f pp: %d layer%s kept in float", max_drop,
               m->n_float, m->n_float == 1 ? "" : "s");
        for (int k = 0; k < m->n_float; k++)
            printf("%s%s", k ? ", " : " (", a->layers[k].name);
        printf("%s; held-out %.2f %% (drop %.2f pp)%s\n",
               m->n_float ? ")" : "", 100.0 * m->accuracy, m->drop,
               m->drop <= max_drop ? "" : " — budget not met");
    }
}
