/* minnow quantize MODEL --mode dynamic|int8|float16|int16x8|int4
 *     [--group G] [--scale-f16] [--calib SPEC]
 *     [--calib-count N] [--calib-method minmax|percentile|entropy|mse]
 *     [--percentile P] [--per-tensor] [--act-int8] [--keep-float NODE,...]
 *     [--keep-first-last] [--strict] [--equalize] [--bias-correct]
 *     [--analyze] [--max-drop PP] [--eval-data SPEC [--eval-count N]]
 *     [--format qop|qdq] [--batch N] [--threads N] [--mean M] [--std S]
 *     [--eval SPEC [--eval-limit N]] -o OUT.onnx [--json]
 *
 * Writes OUT atomically and only when quantization succeeded. --eval
 * measures the quantized model's accuracy in this process (int8 QDQ as
 * lowered to integer operators, i.e. with the integer kernels).
 * --analyze ranks the layers by sensitivity on held-out data (--eval-data,
 * disjoint from --calib); -o is then optional. --max-drop PP keeps the
 * most sensitive layers in float until the held-out drop is <= PP.
 * int4: --group G (default 128; 0 = one scale per output channel) and
 * --scale-f16 / --scale-f32 (float16 scales, the default, or float32). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "minnow/mnw.h"
#include "minnow/quant.h"
#include "quant_analysis.h"

static const char *const USAGE =
    "MODEL --mode dynamic|int8|float16|int16x8|int4 [--calib SPEC]\n"
    "       [--calib-count N] [--group G] [--scale-f16|--scale-f32]\n"
    "       [--calib-method minmax|percentile|entropy|mse] [--percentile P]\n"
    "       [--per-tensor] [--act-int8] [--keep-float NODE,...]\n"
    "       [--keep-first-last] [--strict] [--equalize] [--bias-correct]\n"
    "       [--analyze] [--max-drop PP] [--eval-data SPEC [--eval-count N]]\n"
    "       [--format qop|qdq] [--batch N] [--threads N]\n"
    "       [--mean M[,M,M]] [--std S[,S,S]] [--eval SPEC [--eval-limit N]]\n"
    "       [-o OUT.onnx] [--json]   (-o is required unless --analyze)";

/* Splits "a,b,c" into a NULL-terminated array of copies (one allocation). */
static char **split_names(const char *s, int *n)
{
    size_t len = strlen(s), cnt = 1;
    char **v, *buf;
    for (size_t i = 0; i < len; i++)
        cnt += s[i] == ',';
    v = malloc((cnt + 1) * sizeof *v + len + 1);
    if (!v)
        return NULL;
    buf = (char *)(v + cnt + 1);
    memcpy(buf, s, len + 1);
    *n = 0;
    for (char *p = buf, *e; p; p = e) {
        e = strchr(p, ',');
        if (e)
            *e++ = '\0';
        if (*p)
            v[(*n)++] = p;
    }
    v[*n] = NULL;
    return v;
}

static long long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
}

static void print_report(const char *in, const char *out, const mn_quant_opts *o,
                         const mn_quant_report *r, long long ib, long long ob,
                         const mn_eval_result *ev, int json,
                         const mn_quant_analysis *an,
                         const mn_mixed_result *mx, double max_drop)
{
    double ratio = ob > 0 ? (double)ib / (double)ob : 0;
    int calib = o->mode == MN_QUANT_INT8 || o->mode == MN_QUANT_INT16X8;
    if (json) {
        cJSON *j = cJSON_CreateObject(), *k = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "model", in);
        cJSON_AddStringToObject(j, "output", out);
        cJSON_AddStringToObject(j, "mode", mn_quant_mode_name(o->mode));
        if (calib)
            cJSON_AddStringToObject(j, "format", o->format == MN_QFORMAT_QOP
                                                     ? "qop"
                                                     : "qdq");
        else
            cJSON_AddNullToObject(j, "format");
        if (calib) {
            cJSON_AddStringToObject(j, "calib_method",
                                    mn_calib_method_name(o->method));
            cJSON_AddNumberToObject(j, "calib_samples",
                                    (double)r->calib_samples);
            cJSON_AddNumberToObject(j, "calib_seconds", r->calib_seconds);
            cJSON_AddNumberToObject(j, "observer_bytes",
                                    (double)r->observer_bytes);
        } else {
            cJSON_AddNullToObject(j, "calib_method");
            cJSON_AddNumberToObject(j, "calib_samples", 0);
        }
        cJSON_AddNumberToObject(j, "quantized_layers", r->quantized_layers);
        cJSON_AddNumberToObject(j, "kept_float", r->kept_float);
        cJSON_AddNumberToObject(j, "tensors", r->tensors);
        cJSON_AddNumberToObject(j, "integer_ops", r->integer_ops);
        cJSON_AddNumberToObject(j, "float_ops", r->float_ops);
        for (int i = 0; i < r->n_float_kinds; i++)
            cJSON_AddNumberToObject(k, r->float_kinds[i].op,
                                    r->float_kinds[i].count);
        cJSON_AddItemToObject(j, "float_op_types", k);
        cJSON_AddNumberToObject(j, "input_bytes", (double)ib);
        cJSON_AddNumberToObject(j, "output_bytes", (double)ob);
        cJSON_AddNumberToObject(j, "size_ratio", ratio);
        cJSON_AddNumberToObject(j, "weight_bytes_before",
                                (double)r->weight_bytes_before);
        cJSON_AddNumberToObject(j, "weight_bytes_after",
                                (double)r->weight_bytes_after);
        cJSON_AddNumberToObject(j, "seconds", r->seconds);
        if (ev) {
            cJSON_AddNumberToObject(j, "accuracy", ev->accuracy);
            cJSON_AddNumberToObject(j, "eval_samples", (double)ev->samples);
        }
        cJSON_AddBoolToObject(j, "equalize", o->equalize != 0);
        if (o->equalize) {
            cJSON_AddNumberToObject(j, "eq_pairs", r->eq_pairs);
            cJSON_AddNumberToObject(j, "eq_skipped_clip", r->eq_skipped_clip);
            cJSON_AddNumberToObject(j, "eq_spread_before",
                                    r->eq_spread_before);
            cJSON_AddNumberToObject(j, "eq_spread_after", r->eq_spread_after);
        }
        cJSON_AddBoolToObject(j, "bias_correct", o->bias_correct != 0);
        cJSON_AddNumberToObject(j, "bias_corrected", r->bias_corrected);
        if (an)
            cli_quant_analysis_json(j, an, mx, max_drop);
        cJSON_AddNumberToObject(j, "peak_rss_bytes", (double)cli_peak_rss());
        cli_print_json(j);
        cJSON_Delete(j);
        return;
    }
    if (an)
        cli_quant_analysis_print(an, mx, max_drop);
    printf("model        %s\noutput       %s\n", in, out);
    printf("mode         %s%s\n", mn_quant_mode_name(o->mode),
           !calib                       ? ""
           : o->format == MN_QFORMAT_QOP ? " (integer operators)"
                                         : " (QDQ)");
    if (calib)
        printf("calibration  %s, %lld samples, %.2f s, %zu bytes of "
               "histograms\n",
               mn_calib_method_name(o->method), (long long)r->calib_samples,
               r->calib_seconds, r->observer_bytes);
    printf("layers       %d quantized, %d kept in float\n",
           r->quantized_layers, r->kept_float);
    if (o->equalize)
        printf("equalization %d layer pairs (%d skipped: ReLU6-like clip), "
               "weight range spread %.2f → %.2f\n", r->eq_pairs,
               r->eq_skipped_clip, r->eq_spread_before, r->eq_spread_after);
    if (o->bias_correct)
        printf("bias corr.   %d layers\n", r->bias_corrected);
    if (calib) {
        printf("tensors      %d activation tensors quantized\n", r->tensors);
        printf("integer ops  %d\n", r->integer_ops);
        printf("float ops    %d left between DequantizeLinear and "
               "QuantizeLinear%s", r->float_ops,
               o->mode == MN_QUANT_INT8 && o->format == MN_QFORMAT_QDQ
                   ? " (as integer operators)"
                   : "");
        for (int i = 0; i < r->n_float_kinds; i++)
            printf("%s %s×%d", i ? "," : ":", r->float_kinds[i].op,
                   r->float_kinds[i].count);
        printf("\n");
    } else if (o->mode == MN_QUANT_FLOAT16) {
        printf("tensors      %d weight tensors stored as float16\n",
               r->tensors);
    }
    printf("size         %lld → %lld bytes (%.2fx smaller)\n", ib, ob, ratio);
    if (ev)
        printf("accuracy     %.2f %% top-1 on %lld samples\n",
               100.0 * ev->accuracy, (long long)ev->samples);
    printf("seconds      %.2f\n", r->seconds);
}

int cmd_quantize(int argc, char **argv)
{
    const char *path = NULL, *out = NULL, *mode = NULL, *method = NULL;
    const char *format = NULL, *eval = NULL, *eval_data = NULL;
    long long eval_count = 0;
    double max_drop = -1;
    int analyze = 0, have_max_drop = 0;
    mn_quant_analysis an = {0};
    mn_mixed_result mx = {0};
    mn_graph *mixed = NULL;
    char **keep = NULL;
    long long count = 0, batch = 0, threads = 1, limit = 0;
    mn_eval_result ev;
    int json = 0, rc = CLI_ERR, calib, int4_opt = 0;
    mn_quant_opts o = {0};
    mn_quant_report r;
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (!strcmp(a, "--json")) {
            json = 1;
            takes = 0;
        } else if (!strcmp(a, "--per-tensor")) {
            o.per_tensor = 1;
            takes = 0;
        } else if (!strcmp(a, "--act-int8")) {
            o.act_signed = 1;
            takes = 0;
        } else if (!strcmp(a, "--keep-first-last")) {
            o.keep_first_last = 1;
            takes = 0;
        } else if (!strcmp(a, "--strict")) {
            o.strict = 1;
            takes = 0;
        } else if (!strcmp(a, "--equalize")) {
            o.equalize = 1;
            takes = 0;
        } else if (!strcmp(a, "--bias-correct")) {
            o.bias_correct = 1;
            takes = 0;
        } else if (!strcmp(a, "--scale-f16") || !strcmp(a, "--scale-f32")) {
            o.scale_f16 = a[8] == '1' ? 1 : -1;
            int4_opt = 1;
            takes = 0;
        } else if (!strcmp(a, "--analyze")) {
            analyze = 1;
            takes = 0;
        } else if (!strcmp(a, "--help")) {
            cli_usage("quantize", USAGE);
            free(keep);
            return CLI_OK;
        } else if (!v && a[0] == '-') {
            fprintf(stderr, "minnow: %s needs a value\n", a);
            goto usage;
        } else if (!strcmp(a, "--mode")) {
            mode = v;
        } else if (!strcmp(a, "--calib")) {
            o.calib_spec = v;
        } else if (!strcmp(a, "--calib-count")) {
            if (!cli_parse_int(a, v, 1, (long long)1 << 40, &count))
                goto usage;
        } else if (!strcmp(a, "--calib-method")) {
            method = v;
        } else if (!strcmp(a, "--percentile")) {
            char *end;
            o.percentile = strtod(v, &end);
            if (*end || !(o.percentile > 0 && o.percentile <= 100)) {
                fprintf(stderr, "minnow: --percentile: '%s' is not in "
                                "(0, 100]\n", v);
                goto usage;
            }
        } else if (!strcmp(a, "--keep-float")) {
            free(keep);
            if (!(keep = split_names(v, &o.n_keep_float))) {
                fprintf(stderr, "minnow: out of memory\n");
                return CLI_ERR;
            }
            o.keep_float = (const char *const *)keep;
        } else if (!strcmp(a, "--group")) {
            long long gsz;
            if (!cli_parse_int(a, v, 0, 1 << 20, &gsz))
                goto usage;
            o.group = gsz ? (int)gsz : -1; /* 0: per output channel */
            int4_opt = 1;
        } else if (!strcmp(a, "--format")) {
            format = v;
        } else if (!strcmp(a, "--eval")) {
            eval = v;
        } else if (!strcmp(a, "--eval-data")) {
            eval_data = v;
        } else if (!strcmp(a, "--eval-count")) {
            if (!cli_parse_int(a, v, 1, (long long)1 << 40, &eval_count))
                goto usage;
        } else if (!strcmp(a, "--max-drop")) {
            char *end;
            max_drop = strtod(v, &end);
            have_max_drop = 1;
            if (*end || !(max_drop >= 0 && max_drop <= 100)) {
                fprintf(stderr, "minnow: --max-drop: '%s' is not an accuracy "
                                "drop in percentage points in [0, 100]\n", v);
                free(keep);
                return CLI_ERR;
            }
        } else if (!strcmp(a, "--eval-limit")) {
            if (!cli_parse_int(a, v, 1, (long long)1 << 40, &limit))
                goto usage;
        } else if (!strcmp(a, "--batch")) {
            if (!cli_parse_int(a, v, 1, 4096, &batch))
                goto usage;
        } else if (!strcmp(a, "--threads")) {
            if (!cli_parse_int(a, v, 1, 256, &threads))
                goto usage;
        } else if (!strcmp(a, "--mean")) {
            if ((o.data.n_mean = cli_parse_floats(v, o.data.mean, 4)) <= 0)
                goto usage;
        } else if (!strcmp(a, "--std")) {
            if ((o.data.n_std = cli_parse_floats(v, o.data.std, 4)) <= 0)
                goto usage;
        } else if (!strcmp(a, "-o")) {
            out = v;
        } else if (a[0] == '-' || path) {
            goto usage;
        } else {
            path = a;
            takes = 0;
        }
        i += takes;
    }
    if (!path || (!out && !analyze) || !mode)
        goto usage;
    if (mn_quant_mode_parse(mode, &o.mode, &ctx) != MN_OK ||
        (method && mn_calib_method_parse(method, &o.method, &ctx) != MN_OK) ||
        (format && mn_quant_format_parse(format, &o.format, &ctx) != MN_OK)) {
        rc = cli_fail(&ctx);
        goto done;
    }
    if (int4_opt && o.mode != MN_QUANT_INT4) {
        fprintf(stderr, "minnow: --group and --scale-f16/--scale-f32 need --mode int4\n");
        goto done;
    }
    calib = o.mode == MN_QUANT_INT8 || o.mode == MN_QUANT_INT16X8;
    if (calib && !o.calib_spec) {
        fprintf(stderr, "minnow: --mode %s needs calibration data: "
                        "--calib SPEC (e.g. fashion-mnist:train)\n", mode);
        goto done;
    }
    if (!calib && (o.calib_spec || method))
        fprintf(stderr, "minnow: warning: --mode %s uses no calibration "
                        "data; --calib and --calib-method are ignored\n",
                mode);
    if ((analyze || have_max_drop) && !eval_data) {
        fprintf(stderr, "minnow: --%s needs held-out labelled data: "
                        "--eval-data SPEC (e.g. fashion-mnist:train@50000:, "
                        "disjoint from --calib)\n",
                analyze ? "analyze" : "max-drop");
        goto done;
    }
    if ((analyze || have_max_drop) && !calib) {
        fprintf(stderr, "minnow: --%s needs --mode int8 or int16x8\n",
                analyze ? "analyze" : "max-drop");
        goto done;
    }
    if (eval_data && (strstr(eval_data, ":test") ||
                      !strcmp(eval_data, "fashion-mnist")))
        fprintf(stderr, "minnow: warning: --eval-data %s is a test split; "
                        "choosing layers on it biases the test accuracy "
                        "(use a slice of the training data)\n", eval_data);
    o.calib_count = count;
    o.batch = (int)batch;
    o.threads = (int)threads;
    memset(&r, 0, sizeof r);
    if (mn_graph_load_any(path, &g, &ctx) != MN_OK ||
        ((analyze || have_max_drop) &&
         mn_quant_analyze(g, &o, eval_data, eval_count, &an, &ctx) !=
             MN_OK) ||
        (have_max_drop &&
         mn_quant_mixed(g, &o, eval_data, eval_count, max_drop, &an, &mixed,
                        &r, &mx, &ctx) != MN_OK)) {
        rc = cli_fail(&ctx);
        goto done;
    }
    if (mixed) {
        mn_graph_destroy(g);
        g = mixed;
        mixed = NULL;
    }
    if (!out) { /* --analyze only */
        if (json) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "model", path);
            cJSON_AddStringToObject(j, "mode", mn_quant_mode_name(o.mode));
            cli_quant_analysis_json(j, &an, NULL, 0);
            cli_print_json(j);
            cJSON_Delete(j);
        } else {
            cli_quant_analysis_print(&an, NULL, 0);
        }
        rc = CLI_OK;
        goto done;
    }
    if ((!have_max_drop && mn_quantize(g, &o, &r, &ctx) != MN_OK) ||
        (eval && mn_quant_eval_accuracy(g, eval, &o.data, limit, 32,
                                        (int)threads, &ev, &ctx) != MN_OK) ||
        mn_graph_save_onnx(g, out, &ctx) != MN_OK) {
        rc = cli_fail(&ctx);
        goto done;
    }
    if (r.float_ops > 0)
        fprintf(stderr, "minnow: warning: %d ops stay float between "
                        "DequantizeLinear and QuantizeLinear (--strict "
                        "refuses)\n", r.float_ops);
    /* an elementwise op between quantized tensors is requantized anyway:
     * say so rather than ignore the request silently */
    if (r.keep_float_int > 0)
        fprintf(stderr, "minnow: warning: --keep-float %s%s: its inputs and "
                "output are quantized, so it runs as an integer operator "
                "(ONNX Runtime fuses DequantizeLinear-op-QuantizeLinear the "
                "same way); keep its neighbouring layers in float to keep it "
                "float\n", keep[r.keep_float_int_first],
                r.keep_float_int > 1 ? " (and others)" : "");
    print_report(path, out, &o, &r, file_size(path), file_size(out),
                 eval ? &ev : NULL, json, an.n ? &an : NULL,
                 have_max_drop ? &mx : NULL, max_drop);
    rc = CLI_OK;
done:
    mn_quant_analysis_free(&an);
    mn_graph_destroy(mixed);
    mn_graph_destroy(g);
    free(keep);
    return rc;
usage:
    free(keep);
    return cli_usage("quantize", USAGE);
}
