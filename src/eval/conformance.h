/* Runs one ONNX backend test directory (model.onnx + test_data_set_N/
 * input_K.pb, output_K.pb) through the runtime and compares the outputs the
 * way ONNX's backend tests do (rtol 1e-3, atol 1e-7 for floats; exact for
 * integers and bools). */
#ifndef MN_EVAL_CONFORMANCE_H
#define MN_EVAL_CONFORMANCE_H

#include "minnow/minnow.h"

typedef enum mn_conf_verdict {
    MN_CONF_PASS = 0,
    MN_CONF_FAIL = 1,
    MN_CONF_SKIP = 2 /* the model needs something minnow does not claim */
} mn_conf_verdict;

/* Never fails itself: the verdict and a one-line reason go to *verdict and
 * why (empty on pass). */
void mn_conformance_run(const char *dir, mn_conf_verdict *verdict, char *why,
                        size_t why_len);

#endif
