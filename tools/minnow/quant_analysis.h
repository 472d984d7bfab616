/* `minnow quantize --analyze / --max-drop` output (quant_analysis.c). */
#ifndef MN_CLI_QUANT_ANALYSIS_H
#define MN_CLI_QUANT_ANALYSIS_H

#include "minnow/quant.h"

struct cJSON;
/* Adds "analysis" (and "mixed" when m) members to the JSON object j. */
void cli_quant_analysis_json(struct cJSON *j, const mn_quant_analysis *a,
                             const mn_mixed_result *m, double max_drop);
void cli_quant_analysis_print(const mn_quant_analysis *a,
                              const mn_mixed_result *m, double max_drop);

#endif
