/* minnow train --arch NAME | --init MODEL.onnx --data SPEC --epochs N
 *              [--batch N] [--lr F] [--seed S] [--threads N] -o OUT.onnx
 *              [--json] and the tuning options listed in USAGE.
 * Progress goes to stderr: a live bar on a terminal, one line per epoch
 * otherwise; --json prints one summary object on stdout. A checkpoint
 * (OUT.onnx.ckpt unless --checkpoint) is written after every epoch;
 * --resume continues from it. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "minnow/mnw.h"
#include "minnow/train.h"

static const char *const USAGE =
    "--arch NAME | --init MODEL.onnx --data SPEC --epochs N -o OUT.onnx\n"
    "    [--batch N] [--lr F] [--seed S] [--threads N] [--json]\n"
    "    [--test-data SPEC] [--limit N] [--test-limit N]\n"
    "    [--width F] [--depth N] [--optimizer sgd|adam|adamw]\n"
    "    [--momentum F] [--no-nesterov] [--wd F] [--clip F]\n"
    "    [--schedule onecycle|cosine|step|constant] [--warmup EPOCHS]\n"
    "    [--label-smoothing F] [--crop-pad N] [--flip|--no-flip]\n"
    "    [--mean M[,M,M]] [--std S[,S,S]]\n"
    "    [--checkpoint PATH | --no-checkpoint] [--resume]\n"
    "    [--teacher T.onnx [--distill-alpha A] [--distill-temperature T]]\n"
    "  --teacher T.onnx  knowledge distillation: loss (1-A)*CE +\n"
    "                    A*T^2*KL(teacher || student), A 0.7, T 4 by default;\n"
    "                    the teacher sees the same augmented batch\n"
    "  --init and --teacher models bring their input normalization\n"
    "  (minnow.mean/std) unless --mean/--std are given";

typedef struct prog {
    int tty;
    double last;
} prog;

static void on_progress(void *user, const mn_train_progress *p)
{
    prog *pg = user;
    if (p->epoch_done) {
        if (pg->tty)
            fputc('\r', stderr);
        fprintf(stderr,
                "epoch %d/%d  loss %.4f  train %.2f %%  test %s%.2f %%  "
                "%.0f img/s  lr %.4g  %.0f s%s\n",
                p->epoch, p->epochs, p->loss, 100 * p->accuracy,
                p->test_accuracy < 0 ? "-" : "",
                p->test_accuracy < 0 ? 0 : 100 * p->test_accuracy,
                p->images_per_s, p->lr, p->seconds, pg->tty ? "          " : "");
        fflush(stderr);
        return;
    }
    if (!pg->tty || (p->seconds - pg->last < 0.25 && p->batch != p->batches))
        return;
    pg->last = p->seconds;
    int w = 24, fill = (int)(w * p->batch / (p->batches ? p->batches : 1));
    char bar[32];
    for (int i = 0; i < w; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[w] = 0;
    fprintf(stderr, "\repoch %d/%d [%s] %lld/%lld  loss %.4f  acc %.2f %%  "
            "%.0f img/s ", p->epoch, p->epochs, bar, (long long)p->batch,
            (long long)p->batches, p->loss, 100 * p->accuracy,
            p->images_per_s);
    fflush(stderr);
}

static int parse_float(const char *opt, const char *v, float lo, float hi,
                       float *out)
{
    char *end;
    if (!v) {
        fprintf(stderr, "minnow: %s needs a value\n", opt);
        return 0;
    }
    float f = strtof(v, &end);
    if (*end || end == v || !(f >= lo && f <= hi)) {
        fprintf(stderr, "minnow: %s: '%s' is not a number in [%g, %g]\n",
                opt, v, lo, hi);
        return 0;
    }
    *out = f;
    return 1;
}

int cmd_train(int argc, char **argv)
{
    mn_train_opts o;
    mn_train_result r;
    mn_ctx ctx = {{0}};
    mn_graph *init = NULL, *g = NULL, *teacher = NULL;
    const char *outp = NULL, *initp = NULL, *ckpt = NULL, *teachp = NULL;
    char ckbuf[4096];
    int json = 0, no_ckpt = 0, rc = CLI_ERR, have_epochs = 0;
    long long v;
    prog pg = {0};
    mn_train_opts_default(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int used = 1;
        if (!strcmp(a, "--json")) {
            json = 1;
            used = 0;
        } else if (!strcmp(a, "--resume")) {
            o.resume = 1;
            used = 0;
        } else if (!strcmp(a, "--no-checkpoint")) {
            no_ckpt = 1;
            used = 0;
        } else if (!strcmp(a, "--no-nesterov")) {
            o.optim.nesterov = 0;
            used = 0;
        } else if (!strcmp(a, "--flip") || !strcmp(a, "--no-flip")) {
            o.flip = a[2] == 'f';
            used = 0;
        } else if (!strcmp(a, "--help")) {
            cli_usage("train", USAGE);
            fprintf(stderr, "architectures:");
            for (int k = 0; k < mn_arch_count(); k++)
                fprintf(stderr, " %s", mn_arch_name(k));
            fprintf(stderr, "\n");
            return CLI_OK;
        } else if (!val) {
            return cli_usage("train", USAGE);
        } else if (!strcmp(a, "--arch")) {
            o.arch = val;
        } else if (!strcmp(a, "--init")) {
            initp = val;
        } else if (!strcmp(a, "--teacher")) {
            teachp = val;
        } else if (!strcmp(a, "--distill-alpha")) {
            if (!parse_float(a, val, 1e-6f, 1, &o.distill_alpha))
                return CLI_USAGE;
        } else if (!strcmp(a, "--distill-temperature")) {
            if (!parse_float(a, val, 1e-3f, 1000, &o.distill_temperature))
                return CLI_USAGE;
        } else if (!strcmp(a, "--data")) {
            o.data = val;
        } else if (!strcmp(a, "--test-data")) {
            o.test_data = val;
        } else if (!strcmp(a, "-o")) {
            outp = val;
        } else if (!strcmp(a, "--checkpoint")) {
            ckpt = val;
        } else if (!strcmp(a, "--epochs")) {
            if (!cli_parse_int(a, val, 0, 100000, &v))
                return CLI_USAGE;
            o.epochs = (int)v;
            have_epochs = 1;
        } else if (!strcmp(a, "--batch")) {
            if (!cli_parse_int(a, val, 1, 65536, &v))
                return CLI_USAGE;
            o.batch = (int)v;
        } else if (!strcmp(a, "--threads")) {
            if (!cli_parse_int(a, val, 1, 256, &v))
                return CLI_USAGE;
            o.threads = (int)v;
        } else if (!strcmp(a, "--seed")) {
            if (!cli_parse_int(a, val, 0, (long long)1 << 62, &v))
                return CLI_USAGE;
            o.seed = (uint64_t)v;
        } else if (!strcmp(a, "--limit") || !strcmp(a, "--test-limit")) {
            if (!cli_parse_int(a, val, 1, (long long)1 << 40, &v))
                return CLI_USAGE;
            *(a[2] == 'l' ? &o.limit : &o.test_limit) = v;
        } else if (!strcmp(a, "--depth")) {
            if (!cli_parse_int(a, val, 1, 64, &v))
                return CLI_USAGE;
            o.arch_opts.depth = (int)v;
        } else if (!strcmp(a, "--crop-pad")) {
            if (!cli_parse_int(a, val, 0, 64, &v))
                return CLI_USAGE;
            o.crop_pad = (int)v;
        } else if (!strcmp(a, "--lr")) {
            if (!parse_float(a, val, 1e-9f, 100, &o.lr))
                return CLI_USAGE;
        } else if (!strcmp(a, "--width")) {
            if (!parse_float(a, val, 0.1f, 8, &o.arch_opts.width_mult))
                return CLI_USAGE;
        } else if (!strcmp(a, "--momentum")) {
            if (!parse_float(a, val, 0, 0.999f, &o.optim.momentum))
                return CLI_USAGE;
        } else if (!strcmp(a, "--wd")) {
            if (!parse_float(a, val, 0, 1, &o.optim.weight_decay))
                return CLI_USAGE;
        } else if (!strcmp(a, "--clip")) {
            if (!parse_float(a, val, 0, 1e6f, &o.optim.clip_norm))
                return CLI_USAGE;
        } else if (!strcmp(a, "--warmup")) {
            if (!parse_float(a, val, 0, 1000, &o.sched.warmup_epochs))
                return CLI_USAGE;
        } else if (!strcmp(a, "--label-smoothing")) {
            if (!parse_float(a, val, 0, 0.99f, &o.label_smoothing))
                return CLI_USAGE;
        } else if (!strcmp(a, "--optimizer")) {
            if (!strcmp(val, "sgd"))
                o.optim.kind = MN_OPTIM_SGD;
            else if (!strcmp(val, "adam"))
                o.optim.kind = MN_OPTIM_ADAM;
            else if (!strcmp(val, "adamw"))
                o.optim.kind = MN_OPTIM_ADAMW;
            else
                return cli_usage("train", USAGE);
        } else if (!strcmp(a, "--schedule")) {
            static const char *const names[] = {"constant", "step", "cosine",
                                                "onecycle"};
            int k = 0;
            while (k < 4 && strcmp(val, names[k]))
                k++;
            if (k == 4)
                return cli_usage("train", USAGE);
            o.sched.kind = (mn_lr_kind)k;
            if (k == MN_LR_STEP && o.sched.step_epochs == 0) {
                o.sched.step_epochs = 5;
                o.sched.gamma = 0.1f;
            }
        } else if (!strcmp(a, "--mean")) {
            if ((o.n_mean = cli_parse_floats(val, o.mean, 4)) <= 0)
                return cli_usage("train", USAGE);
        } else if (!strcmp(a, "--std")) {
            if ((o.n_std = cli_parse_floats(val, o.std, 4)) <= 0)
                return cli_usage("train", USAGE);
        } else {
            return cli_usage("train", USAGE);
        }
        i += used;
    }
    if ((!o.arch == !initp) || !o.data || !outp || !have_epochs) {
        fprintf(stderr, "minnow: train needs %s\n",
                !o.arch == !initp ? "exactly one of --arch and --init"
                : !o.data         ? "--data"
                : !outp           ? "-o OUT.onnx"
                                  : "--epochs");
        return cli_usage("train", USAGE);
    }
    int own_norm = o.n_mean > 0 || o.n_std > 0;
    if (initp) {
        if (mn_graph_load_any(initp, &init, &ctx) != MN_OK)
            return cli_fail(&ctx);
        o.init = init;
        if (!own_norm)
            cli_model_norm(init, o.mean, &o.n_mean, o.std, &o.n_std);
    }
    if (teachp) {
        if (mn_graph_load_any(teachp, &teacher, &ctx) != MN_OK) {
            rc = cli_fail(&ctx);
            goto out;
        }
        o.teacher = teacher;
        if (!own_norm && !o.n_mean)
            cli_model_norm(teacher, o.mean, &o.n_mean, o.std, &o.n_std);
    }
    if (!no_ckpt) {
        if (!ckpt) {
            snprintf(ckbuf, sizeof ckbuf, "%s.ckpt", outp);
            ckpt = ckbuf;
        }
        o.checkpoint = ckpt;
    }
    if (o.resume) {
        if (no_ckpt) {
            fprintf(stderr, "minnow: --resume needs a checkpoint; it cannot "
                            "go with --no-checkpoint\n");
            rc = CLI_USAGE;
            goto out;
        }
        if (access(ckpt, F_OK) != 0)
            fprintf(stderr, "minnow: --resume: no checkpoint at %s yet; "
                            "training from the first epoch\n", ckpt);
    }
    pg.tty = isatty(2);
    o.progress = on_progress;
    o.user = &pg;
    if (mn_train_run(&o, &g, &r, &ctx) != MN_OK) {
        if (pg.tty)
            fputc('\n', stderr);
        rc = cli_fail(&ctx);
        goto out;
    }
    if (mn_graph_save_onnx(g, outp, &ctx) != MN_OK) {
        rc = cli_fail(&ctx);
        goto out;
    }
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "train_accuracy", r.train_accuracy);
        if (r.test_accuracy >= 0)
            cJSON_AddNumberToObject(j, "test_accuracy", r.test_accuracy);
        else
            cJSON_AddNullToObject(j, "test_accuracy");
        cJSON_AddNumberToObject(j, "epochs", r.epochs);
        cJSON_AddNumberToObject(j, "seconds", r.seconds);
        cJSON_AddNumberToObject(j, "images_per_s", r.images_per_s);
        cJSON_AddNumberToObject(j, "params", (double)r.params);
        cJSON_AddNumberToObject(j, "final_loss", r.final_loss);
        cli_json_distill(j, teachp, o.distill_alpha, o.distill_temperature);
        cli_print_json(j);
        cJSON_Delete(j);
    } else {
        printf("model     %s (%s)\n", outp, o.arch ? o.arch : initp);
        printf("params    %lld\n", (long long)r.params);
        printf("epochs    %d\n", r.epochs);
        printf("train     %.2f %%\n", 100 * r.train_accuracy);
        if (r.test_accuracy >= 0)
            printf("test      %.2f %%\n", 100 * r.test_accuracy);
        printf("seconds   %.1f (%.0f images/s)\n", r.seconds, r.images_per_s);
    }
    rc = CLI_OK;
out:
    mn_graph_destroy(g);
    mn_graph_destroy(init);
    mn_graph_destroy(teacher);
    return rc;
}
