/* minnow prune MODEL --sparsity F
 *     [--method magnitude|random|nm|channel|zero|oto] [--scope layer|global] [--nm N:M] [--criterion l1|l2|bn|taylor]
 *     [--target-macs R] [--min-channels N] [--round-to N] [--pin-unresolved]
 *     [--keep-first] [--keep-last] [--seed S]
 *     [--finetune-epochs N --data SPEC [--gradual] [--lr F] [--batch N]
 *      [--threads N] [--distill | --teacher T.onnx] [--distill-alpha A]
 *      [--distill-temperature T]]
 *     [--oto-epochs N --data SPEC [--oto-lambda F] [--oto-epsilon F]]
 *     -o OUT.onnx [--json]
 *
 * Unstructured methods zero weights in place (the ONNX file keeps its dense
 * size); channel and zero remove channels, so the file, the parameters and
 * the MACs shrink. oto first trains with group sparsity until the channels
 * channel pruning would remove are exactly zero (mn_prune_oto_train), then
 * removes them. Fine-tuning trains channel-pruned models as dense models
 * (mn_train_run) and the others with the mask held (mn_prune_finetune).
 * OUT is written atomically and only on success. See docs/pruning.md. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "minnow/mnw.h"
#include "minnow/prune.h"
#include "minnow/train.h"

static const char *const USAGE =
    "MODEL --sparsity F [--method magnitude|random|nm|channel|zero|oto]\n"
    "       [--scope layer|global] [--nm N:M] [--criterion l1|l2|bn|taylor]\n"
    "       [--target-macs R] [--min-channels N] [--round-to N]\n"
    "       [--pin-unresolved] [--keep-first] [--keep-last] [--seed S]\n"
    "       [--finetune-epochs N --data SPEC [--gradual] [--lr F]\n"
    "        [--batch N] [--threads N] [--distill | --teacher T.onnx]\n"
    "        [--distill-alpha A] [--distill-temperature T]]\n"
    "       [--oto-epochs N --data SPEC [--oto-lambda F] [--oto-epsilon F]]\n"
    "       -o OUT.onnx [--json]\n"
    "  --sparsity F     unstructured: fraction of weights zeroed; channel:\n"
    "                   fraction of channels removed (in [0, 1))\n"
    "  --target-macs R  channel: remove channels until MACs <= R x original\n"
    "  --round-to N     channel: keep a multiple of N channels per group\n"
    "  zero             remove channel groups that are exactly zero (after\n"
    "                   group-sparse training); outputs do not change\n"
    "  oto              Only-Train-Once: train --oto-epochs N on --data with\n"
    "                   group sparsity over the channels channel pruning\n"
    "                   would remove (--sparsity F or --target-macs R,\n"
    "                   --criterion, --scope), driving them to exactly zero\n"
    "                   (proximal group-lasso step lr*F of --oto-lambda, 0.1;\n"
    "                   half-space projection, --oto-epsilon, 0), then\n"
    "                   remove them; --finetune-epochs trains on after\n"
    "  --finetune-epochs N --data SPEC  train afterwards: channel-pruned\n"
    "                   models as dense models, the others with the mask\n"
    "                   held so pruned weights stay zero\n"
    "  --gradual        magnitude: start dense and raise the sparsity to F\n"
    "                   over the first 2/3 of fine-tuning (cubic schedule)\n"
    "  --distill        fine-tune with knowledge distillation from MODEL as\n"
    "                   it was before pruning (--teacher: another model);\n"
    "                   loss (1-A)*CE + A*T^2*KL, A 0.7 and T 4 by default";

static long long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
}

static int parse_double(const char *opt, const char *v, double *out)
{
    char *end;
    errno = 0;
    if (!v) {
        fprintf(stderr, "minnow: %s needs a value\n", opt);
        return 0;
    }
    *out = strtod(v, &end);
    if (errno || *end || end == v) {
        fprintf(stderr, "minnow: %s: '%s' is not a number\n", opt, v);
        return 0;
    }
    return 1;
}

static int parse_nm(const char *v, int *n, int *m)
{
    char *end;
    long a = strtol(v ? v : "", &end, 10), b;
    if (end == v || *end != ':')
        return 0;
    const char *p = end + 1;
    b = strtol(p, &end, 10);
    if (end == p || *end || a < 1 || b < 2 || a >= b || b > 256) {
        fprintf(stderr, "minnow: --nm: '%s' is not N:M with 1 <= N < M <= "
                        "256\n", v);
        return 0;
    }
    *n = (int)a;
    *m = (int)b;
    return 1;
}

typedef struct oto_run {
    int epochs;
    mn_prune_oto_result res;
} oto_run;

typedef struct tuned {
    int epochs, gradual, masked;
    const mn_graph *teacher; /* distillation; NULL: none */
    const char *teacher_path;
    float alpha, temperature;
    double train_accuracy, test_accuracy, seconds;
} tuned;

static void on_epoch(void *user, const mn_train_progress *p)
{
    (void)user;
    if (p->epoch_done)
        fprintf(stderr, "fine-tune epoch %d/%d  loss %.4f  train %.2f %%  "
                        "test %.2f %%  %.0f s\n",
                p->epoch, p->epochs, p->loss, 100 * p->accuracy,
                100 * p->test_accuracy, p->seconds);
}

static void on_masked_epoch(void *user, int epoch, int epochs, double acc,
                            double sparsity, double seconds)
{
    (void)user;
    fprintf(stderr, "fine-tune epoch %d/%d  train %.2f %%  sparsity %.1f %%  "
                    "%.0f s\n", epoch, epochs, 100 * acc, 100 * sparsity,
            seconds);
}

static int is_structured(mn_prune_method m)
{
    return m == MN_PRUNE_CHANNEL || m == MN_PRUNE_ZERO || m == MN_PRUNE_OTO;
}

static cJSON *json_oto(const oto_run *ot)
{
    const mn_prune_oto_result *x = &ot->res;
    cJSON *f = cJSON_CreateObject();
    cJSON_AddNumberToObject(f, "epochs", ot->epochs);
    cJSON_AddNumberToObject(f, "lambda", x->lambda);
    cJSON_AddNumberToObject(f, "epsilon", x->epsilon);
    cJSON_AddNumberToObject(f, "groups", (double)x->groups);
    cJSON_AddNumberToObject(f, "groups_selected", (double)x->selected);
    cJSON_AddNumberToObject(f, "zero_at", x->zero_at);
    cJSON_AddNumberToObject(f, "groups_zeroed_by_step", (double)x->by_step);
    cJSON_AddNumberToObject(f, "groups_zeroed_by_bound", (double)x->by_bound);
    cJSON_AddNumberToObject(f, "groups_zero", (double)x->zero);
    cJSON_AddNumberToObject(f, "train_accuracy", x->train.train_accuracy);
    if (x->train.test_accuracy >= 0)
        cJSON_AddNumberToObject(f, "test_accuracy", x->train.test_accuracy);
    else
        cJSON_AddNullToObject(f, "test_accuracy");
    cJSON_AddNumberToObject(f, "seconds", x->train.seconds);
    return f;
}

static void print_json(const char *in, const char *out, const mn_prune_opts *o,
                       const mn_prune_report *r, long long ib, long long ob,
                       const tuned *ft, const oto_run *ot)
{
    cJSON *j = cJSON_CreateObject(), *ls = cJSON_CreateArray();
    int structured = is_structured(r->method);
    cJSON_AddStringToObject(j, "model", in);
    cJSON_AddStringToObject(j, "output", out);
    cJSON_AddStringToObject(j, "method", mn_prune_method_name(r->method));
    cJSON_AddStringToObject(j, "scope",
                            o->scope == MN_PRUNE_GLOBAL ? "global" : "layer");
    if (r->method == MN_PRUNE_CHANNEL || r->method == MN_PRUNE_OTO)
        cJSON_AddStringToObject(j, "criterion",
                                mn_prune_criterion_name(o->criterion));
    else
        cJSON_AddNullToObject(j, "criterion");
    cJSON_AddNumberToObject(j, "sparsity_requested", o->sparsity);
    cJSON_AddNumberToObject(j, "sparsity", r->sparsity);
    if (r->method == MN_PRUNE_NM) {
        cJSON_AddNumberToObject(j, "n", r->n);
        cJSON_AddNumberToObject(j, "m", r->m);
    }
    cJSON_AddNumberToObject(j, "params_before", (double)r->params_before);
    cJSON_AddNumberToObject(j, "params_after", (double)r->params_after);
    cJSON_AddNumberToObject(j, "nonzero_before", (double)r->nonzero_before);
    cJSON_AddNumberToObject(j, "nonzero_after", (double)r->nonzero_after);
    cJSON_AddNumberToObject(j, "macs_before", (double)r->macs_before);
    cJSON_AddNumberToObject(j, "macs_after", (double)r->macs_after);
    cJSON_AddNumberToObject(j, "input_bytes", (double)ib);
    cJSON_AddNumberToObject(j, "output_bytes", (double)ob);
    if (structured) {
        cJSON_AddNumberToObject(j, "groups", r->groups);
        cJSON_AddNumberToObject(j, "channels", (double)r->channels);
        cJSON_AddNumberToObject(j, "channels_removed",
                                (double)r->channels_removed);
        cJSON_AddNumberToObject(j, "channels_pinned",
                                (double)r->channels_pinned);
        cJSON_AddNumberToObject(j, "target_macs_ratio", o->target_macs_ratio);
        cJSON_AddBoolToObject(j, "target_reached", r->target_reached);
        cJSON_AddNumberToObject(j, "bn_fallback_groups",
                                r->bn_fallback_groups);
    }
    if (ft) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddNumberToObject(f, "epochs", ft->epochs);
        cJSON_AddStringToObject(f, "kind", ft->masked ? "masked" : "dense");
        cJSON_AddBoolToObject(f, "gradual", ft->gradual);
        cli_json_distill(f, ft->teacher ? ft->teacher_path : NULL, ft->alpha,
                         ft->temperature);
        cJSON_AddNumberToObject(f, "train_accuracy", ft->train_accuracy);
        if (ft->test_accuracy >= 0)
            cJSON_AddNumberToObject(f, "test_accuracy", ft->test_accuracy);
        else
            cJSON_AddNullToObject(f, "test_accuracy");
        cJSON_AddNumberToObject(f, "seconds", ft->seconds);
        cJSON_AddItemToObject(j, "finetune", f);
    } else {
        cJSON_AddNullToObject(j, "finetune");
    }
    if (ot)
        cJSON_AddItemToObject(j, "oto", json_oto(ot));
    else
        cJSON_AddNullToObject(j, "oto");
    cJSON_AddStringToObject(j, "note", r->note);
    for (int i = 0; i < r->n_layers; i++) {
        const mn_prune_layer *L = &r->layers[i];
        cJSON *l = cJSON_CreateObject();
        cJSON_AddStringToObject(l, "name", L->name);
        cJSON_AddStringToObject(l, "op", L->op);
        cJSON_AddNumberToObject(l, "params", (double)L->params);
        cJSON_AddNumberToObject(l, "zeros_before", (double)L->zeros_before);
        cJSON_AddNumberToObject(l, "zeros_after", (double)L->zeros_after);
        cJSON_AddNumberToObject(l, "channels_before",
                                (double)L->channels_before);
        cJSON_AddNumberToObject(l, "channels_after", (double)L->channels_after);
        cJSON_AddNumberToObject(l, "macs_before", (double)L->macs_before);
        cJSON_AddNumberToObject(l, "macs_after", (double)L->macs_after);
        cJSON_AddBoolToObject(l, "skipped", L->skipped);
        cJSON_AddItemToArray(ls, l);
    }
    cJSON_AddItemToObject(j, "layers", ls);
    cli_print_json(j);
    cJSON_Delete(j);
}

static void print_text(const char *in, const char *out, const mn_prune_opts *o,
                       const mn_prune_report *r, long long ib, long long ob,
                       const tuned *ft, const oto_run *ot)
{
    int structured = is_structured(r->method);
    printf("model        %s\noutput       %s\n", in, out);
    printf("method       %s", mn_prune_method_name(r->method));
    if (r->method == MN_PRUNE_NM)
        printf(" %d:%d", r->n, r->m);
    if (r->method == MN_PRUNE_CHANNEL || r->method == MN_PRUNE_OTO)
        printf(", criterion %s", mn_prune_criterion_name(o->criterion));
    if (r->method != MN_PRUNE_NM && r->method != MN_PRUNE_ZERO)
        printf(", scope %s", o->scope == MN_PRUNE_GLOBAL ? "global" : "layer");
    printf("\n\n%-40s %-8s %10s %10s %10s %12s %12s\n", "layer", "op",
           "params", structured ? "ch before" : "zeros", structured
                                                            ? "ch after"
                                                            : "sparsity",
           "MACs before", "MACs after");
    for (int i = 0; i < r->n_layers; i++) {
        const mn_prune_layer *L = &r->layers[i];
        if (structured)
            printf("%-40.40s %-8.8s %10lld %10lld %10lld %12lld %12lld%s\n",
                   L->name, L->op, (long long)L->params,
                   (long long)L->channels_before, (long long)L->channels_after,
                   (long long)L->macs_before, (long long)L->macs_after,
                   L->skipped ? "  (pinned)" : "");
        else
            printf("%-40.40s %-8.8s %10lld %10lld %9.1f%% %12lld %12lld%s\n",
                   L->name, L->op, (long long)L->params,
                   (long long)L->zeros_after,
                   L->params ? 100.0 * (double)L->zeros_after /
                                   (double)L->params
                             : 0.0,
                   (long long)L->macs_before, (long long)L->macs_after,
                   L->skipped ? "  (kept)" : "");
    }
    printf("\nparams       %lld → %lld\n", (long long)r->params_before,
           (long long)r->params_after);
    printf("non-zero     %lld → %lld", (long long)r->nonzero_before,
           (long long)r->nonzero_after);
    if (!structured)
        printf(" (%.1f %% of the pruned layers' weights zero)",
               100.0 * r->sparsity);
    printf("\n");
    printf("MACs         %lld → %lld", (long long)r->macs_before,
           (long long)r->macs_after);
    if (r->macs_before > 0)
        printf(" (%.1f %% fewer)", 100.0 * (1.0 - (double)r->macs_after /
                                                      (double)r->macs_before));
    printf("\nfile bytes   %lld → %lld%s\n", ib, ob,
           structured ? "" : " (ONNX stores weights densely)");
    if (structured) {
        printf("channels     %lld removed of %lld removable in %d groups; "
               "%lld pinned\n", (long long)r->channels_removed,
               (long long)r->channels, r->groups,
               (long long)r->channels_pinned);
        if (!r->target_reached)
            printf("warning      MAC target %.3g not reached\n",
                   o->target_macs_ratio);
        if (r->bn_fallback_groups)
            printf("criterion    %d groups without BatchNormalization scored "
                   "by L2\n", r->bn_fallback_groups);
    }
    if (r->note[0])
        printf("note         %s\n", r->note);
    if (ot) {
        printf("oto          %d epochs, lambda %g: %lld of %lld groups "
               "driven to zero (%lld by the group-lasso/half-space steps, "
               "%lld by the norm bound); train %.2f %%", ot->epochs,
               ot->res.lambda, (long long)ot->res.selected,
               (long long)ot->res.groups, (long long)ot->res.by_step,
               (long long)ot->res.by_bound,
               100 * ot->res.train.train_accuracy);
        if (ot->res.train.test_accuracy >= 0)
            printf(", test %.2f %%", 100 * ot->res.train.test_accuracy);
        printf("\n");
    }
    if (ft && ft->test_accuracy >= 0)
        printf("fine-tuned   %d epochs%s: train %.2f %%, test %.2f %%\n",
               ft->epochs, ft->gradual ? " (gradual)" : "",
               100 * ft->train_accuracy, 100 * ft->test_accuracy);
    else if (ft)
        printf("fine-tuned   %d epochs%s: train %.2f %%\n", ft->epochs,
               ft->gradual ? " (gradual)" : "", 100 * ft->train_accuracy);
}

/* Training and test specs for a masked fine-tune: "...:train" tests on
 * "...:test"; a bare fashion-mnist / cifar10:DIR trains on its train
 * split. te is empty when there is no test split. */
static void split_specs(const char *data, char *tr, char *te, size_t len)
{
    size_t n = strlen(data);
    snprintf(tr, len, "%s", data);
    te[0] = 0;
    if (n > 6 && !strcmp(data + n - 6, ":train")) {
        snprintf(te, len, "%.*s:test", (int)(n - 6), data);
    } else if (!strcmp(data, "fashion-mnist") ||
               (!strncmp(data, "cifar10:", 8) &&
                (n < 5 || strcmp(data + n - 5, ":test")))) {
        snprintf(tr, len, "%s:train", data);
        snprintf(te, len, "%s:test", data);
    }
}

/* Dense fine-tuning of a channel-pruned model (minnow/train.h). */
static mn_status finetune_dense(mn_graph **g, const char *data, tuned *ft,
                                double lr, long long batch, long long threads,
                                uint64_t seed, mn_ctx *ctx)
{
    mn_train_opts to;
    mn_train_result res;
    mn_graph *out = NULL;
    mn_train_opts_default(&to);
    to.init = *g;
    to.data = data;
    to.epochs = ft->epochs;
    to.lr = (float)lr;
    to.batch = (int)batch;
    to.threads = (int)threads;
    to.seed = seed ? seed : 1;
    to.progress = on_epoch;
    to.teacher = ft->teacher;
    to.distill_alpha = ft->alpha;
    to.distill_temperature = ft->temperature;
    cli_model_norm(*g, to.mean, &to.n_mean, to.std, &to.n_std);
    mn_status st = mn_train_run(&to, &out, &res, ctx);
    if (st != MN_OK)
        return st;
    mn_graph_destroy(*g);
    *g = out;
    ft->train_accuracy = res.train_accuracy;
    ft->test_accuracy = res.test_accuracy;
    ft->seconds = res.seconds;
    return MN_OK;
}

/* Library training options of both the masked and the group-sparse runs:
 * tr/te receive the training and test specs (see split_specs). */
static void run_opts(mn_prune_finetune_opts *fo, const char *data, char *tr,
                     char *te, size_t len, int epochs, double lr,
                     long long batch, long long threads, uint64_t seed)
{
    memset(fo, 0, sizeof *fo);
    split_specs(data, tr, te, len);
    fo->data = tr;
    fo->test_data = te[0] ? te : NULL;
    fo->epochs = epochs;
    fo->batch = (int)batch;
    fo->threads = (int)threads;
    fo->lr = (float)lr;
    fo->seed = seed ? seed : 1;
}

/* Fine-tuning with the pruning mask held (or, gradual, rising from 0 to
 * the requested sparsity over the first two thirds of the steps). */
static mn_status finetune_masked(mn_graph *g, const mn_prune_opts *o,
                                 const char *data, tuned *ft, double lr,
                                 long long batch, long long threads,
                                 mn_ctx *ctx)
{
    char tr[1024], te[1024];
    mn_prune_finetune_opts fo;
    mn_prune_finetune_result res;
    mn_status st;
    run_opts(&fo, data, tr, te, sizeof tr, ft->epochs, lr, batch, threads,
             o->seed);
    fo.progress = on_masked_epoch;
    fo.teacher = ft->teacher;
    fo.distill_alpha = ft->alpha;
    fo.distill_temperature = ft->temperature;
    ft->masked = 1;
    if (ft->gradual) {
        mn_dataset *d = NULL;
        mn_data_opts dopt;
        memset(&dopt, 0, sizeof dopt);
        if ((st = mn_dataset_open(tr, &dopt, &d, ctx)) != MN_OK)
            return st;
        int64_t steps = mn_dataset_size(d) / batch * ft->epochs;
        mn_dataset_destroy(d);
        fo.schedule.final_sparsity = o->sparsity;
        fo.schedule.end_step = steps * 2 / 3 > 1 ? steps * 2 / 3 : 1;
        fo.schedule.frequency = fo.schedule.end_step / 10 > 1
                                    ? fo.schedule.end_step / 10
                                    : 1;
    }
    fprintf(stderr, "fine-tuning %d epochs on %s with the pruning mask "
                    "held%s%s%s\n", ft->epochs, tr,
            ft->gradual ? " (sparsity rising gradually)" : "",
            ft->teacher ? ", distilling from " : "",
            ft->teacher ? ft->teacher_path : "");
    if ((st = mn_prune_finetune(g, o, &fo, &res, ctx)) != MN_OK)
        return st;
    ft->train_accuracy = res.train_accuracy;
    ft->test_accuracy = res.test_accuracy;
    ft->seconds = res.seconds;
    return MN_OK;
}

static void on_oto_epoch(void *user, int epoch, int epochs, double acc,
                         double zero, double seconds)
{
    (void)user;
    fprintf(stderr, "group-sparse epoch %d/%d  train %.2f %%  groups zero "
                    "%.1f %%  %.0f s\n", epoch, epochs, 100 * acc, 100 * zero,
            seconds);
}

/* Group-sparse training before the removal of the zero groups. */
static mn_status train_oto(mn_graph *g, const mn_prune_opts *o,
                           const char *data, oto_run *ot, double lambda,
                           double eps, double lr, long long batch,
                           long long threads, mn_ctx *ctx)
{
    char tr[1024], te[1024];
    mn_prune_finetune_opts fo;
    /* not given (NaN): the library's default (its 0); --oto-lambda 0: no
     * proximal step (its < 0) */
    mn_prune_oto_opts oo = {.lambda = isnan(lambda) ? 0
                                      : lambda == 0 ? -1
                                                    : lambda,
                            .epsilon = eps};
    run_opts(&fo, data, tr, te, sizeof tr, ot->epochs, lr, batch, threads,
             o->seed);
    fo.progress = on_oto_epoch;
    fprintf(stderr, "group-sparse training %d epochs on %s\n", ot->epochs,
            tr);
    return mn_prune_oto_train(g, o, &oo, &fo, &ot->res, ctx);
}

int cmd_prune(int argc, char **argv)
{
    const char *path = NULL, *out = NULL, *data = NULL;
    long long epochs = 0, seed = 0, minch = 1, batch = 128, threads = 1;
    double lr = MN_PRUNE_DEFAULT_FT_LR, sp = NAN;
    long long oto_epochs = 0;
    double oto_lambda = NAN, oto_eps = 0;
    oto_run ot;
    int json = 0, rc = CLI_ERR, method = MN_PRUNE_MAGNITUDE;
    mn_prune_opts o;
    mn_prune_report r;
    tuned ft;
    mn_status st = MN_OK;
    int gradual = 0, distill = 0;
    const char *teacher_path = NULL;
    double alpha = 0, temp = 0;
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL, *teacher = NULL;
    mn_prune_opts_default(&o);
    memset(&r, 0, sizeof r);
    memset(&ft, 0, sizeof ft);
    memset(&ot, 0, sizeof ot);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (!strcmp(a, "--json")) {
            json = 1;
            takes = 0;
        } else if (!strcmp(a, "--keep-first")) {
            o.keep_first = 1;
            takes = 0;
        } else if (!strcmp(a, "--keep-last")) {
            o.keep_last = 1;
            takes = 0;
        } else if (!strcmp(a, "--gradual")) {
            gradual = 1;
            takes = 0;
        } else if (!strcmp(a, "--distill")) {
            distill = 1;
            takes = 0;
        } else if (!strcmp(a, "--teacher")) {
            if (!v)
                goto usage;
            teacher_path = v;
        } else if (!strcmp(a, "--distill-alpha")) {
            if (!parse_double(a, v, &alpha) || !(alpha > 0 && alpha <= 1)) {
                fprintf(stderr, "minnow: --distill-alpha must be in (0, 1]\n");
                goto usage;
            }
        } else if (!strcmp(a, "--distill-temperature")) {
            if (!parse_double(a, v, &temp) || !(temp > 0)) {
                fprintf(stderr, "minnow: --distill-temperature must be "
                                "positive\n");
                goto usage;
            }
        } else if (!strcmp(a, "--pin-unresolved")) {
            o.pin_unresolved = 1;
            takes = 0;
        } else if (!strcmp(a, "--help")) {
            cli_usage("prune", USAGE);
            return CLI_OK;
        } else if (!v && a[0] == '-') {
            fprintf(stderr, "minnow: %s needs a value\n", a);
            goto usage;
        } else if (!strcmp(a, "--sparsity")) {
            if (!parse_double(a, v, &sp))
                goto usage;
        } else if (!strcmp(a, "--method")) {
            if ((method = mn_prune_method_parse(v)) < 0) {
                fprintf(stderr, "minnow: --method: '%s' is not magnitude, "
                                "random, nm, channel, zero or oto\n", v);
                goto usage;
            }
        } else if (!strcmp(a, "--scope")) {
            if (strcmp(v, "layer") && strcmp(v, "global")) {
                fprintf(stderr, "minnow: --scope: '%s' is not layer or "
                                "global\n", v);
                goto usage;
            }
            o.scope = strcmp(v, "global") ? MN_PRUNE_LAYER : MN_PRUNE_GLOBAL;
        } else if (!strcmp(a, "--nm")) {
            if (!parse_nm(v, &o.n, &o.m))
                goto usage;
        } else if (!strcmp(a, "--criterion")) {
            int c = mn_prune_criterion_parse(v);
            if (c < 0) {
                fprintf(stderr, "minnow: --criterion: '%s' is not l1, l2, bn "
                                "or taylor\n", v);
                goto usage;
            }
            o.criterion = (mn_prune_criterion)c;
        } else if (!strcmp(a, "--target-macs")) {
            if (!parse_double(a, v, &o.target_macs_ratio))
                goto usage;
        } else if (!strcmp(a, "--min-channels")) {
            if (!cli_parse_int(a, v, 1, 1 << 20, &minch))
                goto usage;
        } else if (!strcmp(a, "--round-to")) {
            long long rt;
            if (!cli_parse_int(a, v, 1, 1 << 16, &rt))
                goto usage;
            o.round_to = (int)rt;
        } else if (!strcmp(a, "--seed")) {
            if (!cli_parse_int(a, v, 0, INT64_MAX, &seed))
                goto usage;
        } else if (!strcmp(a, "--finetune-epochs")) {
            if (!cli_parse_int(a, v, 0, 100000, &epochs))
                goto usage;
        } else if (!strcmp(a, "--oto-epochs")) {
            if (!cli_parse_int(a, v, 1, 100000, &oto_epochs))
                goto usage;
        } else if (!strcmp(a, "--oto-lambda")) {
            if (!parse_double(a, v, &oto_lambda) ||
                !(oto_lambda >= 0 && isfinite(oto_lambda))) {
                fprintf(stderr, "minnow: --oto-lambda must be >= 0\n");
                goto usage;
            }
        } else if (!strcmp(a, "--oto-epsilon")) {
            if (!parse_double(a, v, &oto_eps) ||
                !(oto_eps >= 0 && oto_eps < 1)) {
                fprintf(stderr, "minnow: --oto-epsilon must be in [0, 1)\n");
                goto usage;
            }
        } else if (!strcmp(a, "--data")) {
            data = v;
        } else if (!strcmp(a, "--lr")) {
            if (!parse_double(a, v, &lr))
                goto usage;
        } else if (!strcmp(a, "--batch")) {
            if (!cli_parse_int(a, v, 1, 4096, &batch))
                goto usage;
        } else if (!strcmp(a, "--threads")) {
            if (!cli_parse_int(a, v, 1, 256, &threads))
                goto usage;
        } else if (!strcmp(a, "-o")) {
            out = v;
        } else if (a[0] == '-' || path) {
            fprintf(stderr, "minnow: unexpected argument '%s'\n", a);
            goto usage;
        } else {
            path = a;
            takes = 0;
        }
        i += takes;
    }
    o.method = (mn_prune_method)method;
    o.seed = (uint64_t)seed;
    o.min_channels = (int)minch;
    int needs_sp = method == MN_PRUNE_MAGNITUDE || method == MN_PRUNE_RANDOM ||
                   (method == MN_PRUNE_NM && !o.n) ||
                   ((method == MN_PRUNE_CHANNEL || method == MN_PRUNE_OTO) &&
                    o.target_macs_ratio == 0);
    if (!path || !out)
        goto usage;
    if (needs_sp && isnan(sp)) {
        fprintf(stderr, "minnow: --method %s needs --sparsity F%s\n",
                mn_prune_method_name(o.method),
                method == MN_PRUNE_CHANNEL || method == MN_PRUNE_OTO
                    ? " or --target-macs R"
                    : "");
        goto usage;
    }
    if ((method == MN_PRUNE_OTO) != (oto_epochs > 0) ||
        (method != MN_PRUNE_OTO && (!isnan(oto_lambda) || oto_eps != 0))) {
        fprintf(stderr, "minnow: --method oto trains with group sparsity "
                        "first: it needs --oto-epochs N --data SPEC, and "
                        "--oto-* options need --method oto\n");
        goto usage;
    }
    if ((epochs > 0 || oto_epochs > 0) != (data != NULL)) {
        fprintf(stderr, "minnow: --data SPEC goes with --finetune-epochs N "
                        "or --oto-epochs N\n");
        goto usage;
    }
    o.sparsity = isnan(sp) ? 0 : sp;
    if (!isnan(sp) && !(sp >= 0 && sp < 1)) {
        fprintf(stderr, "minnow: --sparsity %g is outside [0, 1)\n", sp);
        return CLI_ERR;
    }
    if ((method == MN_PRUNE_CHANNEL || method == MN_PRUNE_OTO) &&
        o.criterion == MN_PRUNE_TAYLOR) {
        fprintf(stderr, "minnow: --criterion taylor needs gradients, which "
                        "`minnow prune` cannot compute yet (the training "
                        "engine does not expose its parameter layout); "
                        "library callers pass them in mn_prune_opts.grads\n");
        return CLI_ERR;
    }
    if (gradual && (epochs < 1 || method != MN_PRUNE_MAGNITUDE)) {
        fprintf(stderr, "minnow: --gradual prunes by magnitude while "
                        "fine-tuning: it needs --method magnitude and "
                        "--finetune-epochs N --data SPEC\n");
        goto usage;
    }
    if ((distill || teacher_path) && epochs < 1) {
        fprintf(stderr, "minnow: --distill and --teacher distil while "
                        "fine-tuning: they need --finetune-epochs N "
                        "--data SPEC\n");
        goto usage;
    }
    ot.epochs = (int)oto_epochs;
    if (mn_graph_load_any(path, &g, &ctx) != MN_OK ||
        ((distill || teacher_path) &&
         mn_graph_load_any(teacher_path ? teacher_path : path, &teacher,
                           &ctx) != MN_OK) ||
        (method == MN_PRUNE_OTO &&
         train_oto(g, &o, data, &ot, oto_lambda, oto_eps, lr, batch,
                   threads, &ctx) != MN_OK) ||
        (!gradual && mn_prune(g, &o, &r, &ctx) != MN_OK)) {
        rc = cli_fail(&ctx);
        goto done;
    }
    if (epochs > 0) {
        ft.epochs = (int)epochs;
        ft.gradual = gradual;
        ft.teacher = teacher;
        ft.teacher_path = teacher_path ? teacher_path : path;
        ft.alpha = alpha > 0 ? (float)alpha : MN_DISTILL_DEFAULT_ALPHA;
        ft.temperature = temp > 0 ? (float)temp
                                  : MN_DISTILL_DEFAULT_TEMPERATURE;
        if (is_structured(o.method))
            st = finetune_dense(&g, data, &ft, lr, batch, threads, o.seed,
                                &ctx);
        else
            st = finetune_masked(g, &o, data, &ft, lr, batch, threads, &ctx);
        /* gradual: the report of the (idempotent) magnitude pass on the
         * result */
        if (st == MN_OK && gradual)
            st = mn_prune(g, &o, &r, &ctx);
        if (st != MN_OK) {
            rc = cli_fail(&ctx);
            goto done;
        }
    }
    if (mn_graph_save_onnx(g, out, &ctx) != MN_OK) {
        rc = cli_fail(&ctx);
        goto done;
    }
    if (json)
        print_json(path, out, &o, &r, file_size(path), file_size(out),
                   epochs > 0 ? &ft : NULL, oto_epochs > 0 ? &ot : NULL);
    else
        print_text(path, out, &o, &r, file_size(path), file_size(out),
                   epochs > 0 ? &ft : NULL, oto_epochs > 0 ? &ot : NULL);
    rc = CLI_OK;
done:
    mn_prune_report_free(&r);
    mn_graph_destroy(g);
    mn_graph_destroy(teacher);
    return rc;
usage:
    return cli_usage("prune", USAGE);
}
