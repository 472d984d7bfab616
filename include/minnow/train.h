/* minnow training API: losses, optimizers and learning-rate schedules over
 * flat parameter arrays, a trainer that runs any mn_graph forward and
 * backward on the CPU, architectures built by name, and whole training
 * runs (data, augmentation, epochs, checkpoints) as used by `minnow train`.
 *
 * Training runs the same graph IR through the same op table as inference;
 * the backward rules sit beside the forwards (src/train). A trained graph
 * is an ordinary inference graph (BatchNormalization with running
 * statistics) that every exporter writes. */
#ifndef MINNOW_TRAIN_H
#define MINNOW_TRAIN_H

#include "minnow/minnow.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- losses (mean over the batch) ---- */

/* Softmax cross-entropy of logits [n×k] against labels in [0, k), with
 * label smoothing: target = (1-s)·onehot + s/k. dlogits [n×k] (may be
 * NULL) receives dLoss/dlogits; *correct (may be NULL) counts argmax hits.
 * A label out of range is MN_ERR_ARG; a non-finite loss MN_ERR_RUNTIME. */
mn_status mn_loss_softmax_ce(const float *logits, const int64_t *labels,
                             int64_t n, int k, float smoothing,
                             float *dlogits, double *loss, int64_t *correct,
                             mn_ctx *ctx);
/* Knowledge distillation (Hinton): T²·KL(softmax(t/T) ‖ softmax(s/T)) of
 * student logits s against teacher logits t; dstudent may be NULL. */
mn_status mn_loss_distill(const float *student, const float *teacher,
                          int64_t n, int k, float temperature,
                          float *dstudent, double *loss, mn_ctx *ctx);

/* ---- optimizers over flat arrays ---- */

typedef enum mn_optim_kind {
    MN_OPTIM_SGD = 0,   /* momentum, optional Nesterov; L2 weight decay */
    MN_OPTIM_ADAM = 1,  /* L2 weight decay added to the gradient */
    MN_OPTIM_ADAMW = 2, /* decoupled weight decay */
    MN_OPTIM_COUNT
} mn_optim_kind;

typedef struct mn_optim_opts {
    mn_optim_kind kind;
    float momentum;     /* SGD; 0.9 typical */
    int nesterov;
    float beta1, beta2, eps; /* Adam; 0 → 0.9, 0.999, 1e-8 */
    float weight_decay; /* applied where decay_mask is 1 */
    float clip_norm;    /* > 0: scale gradients to this global L2 norm */
} mn_optim_opts;

typedef struct mn_optim mn_optim;

/* n parameters; decay_mask[i] (may be NULL: all 1) selects weight decay. */
mn_status mn_optim_create(const mn_optim_opts *o, int64_t n,
                          const uint8_t *decay_mask, mn_optim **out,
                          mn_ctx *ctx);
void mn_optim_destroy(mn_optim *op);
/* One update of params from grads at learning rate lr; clips grads in
 * place first when clip_norm > 0. *grad_norm (may be NULL) gets the norm
 * before clipping. Non-finite gradients are MN_ERR_RUNTIME (params kept). */
mn_status mn_optim_step(mn_optim *op, float *params, float *grads, float lr,
                        double *grad_norm, mn_ctx *ctx);
/* State for checkpoints: the moment arrays (m, then v for Adam) and the
 * step count; state_floats() floats. */
int64_t mn_optim_state_floats(const mn_optim *op);
float *mn_optim_state(mn_optim *op);
int64_t *mn_optim_steps(mn_optim *op);

/* ---- learning-rate schedules ---- */

typedef enum mn_lr_kind {
    MN_LR_CONSTANT = 0,
    MN_LR_STEP = 1,     /* ×gamma every step_epochs */
    MN_LR_COSINE = 2,   /* cosine from lr to lr·min_ratio */
    MN_LR_ONECYCLE = 3, /* up from lr/25 to lr over pct of the run, cosine
                           down to lr/(25·1e4) (PyTorch OneCycleLR) */
    MN_LR_COUNT
} mn_lr_kind;

typedef struct mn_lr_opts {
    mn_lr_kind kind;
    float warmup_epochs; /* linear warm-up from 0 (constant/step/cosine) */
    float step_epochs, gamma;
    float min_ratio;
    float pct;           /* one-cycle rise fraction; 0 → 0.3 */
} mn_lr_opts;

/* Learning rate at `step` (0-based) of `total` steps, `per_epoch` steps an
 * epoch, for base rate lr. */
float mn_lr_at(const mn_lr_opts *o, float lr, int64_t step,
               int64_t per_epoch, int64_t total);

/* ---- the trainer: one graph, flat parameters, forward/backward ---- */

typedef struct mn_trainer mn_trainer;

typedef struct mn_trainer_opts {
    int batch;            /* training batch size */
    int threads;          /* 0 → 1 */
    uint64_t seed;        /* Dropout masks */
    float label_smoothing;
    mn_optim_opts optim;
    /* Distillation: loss = (1-alpha)·CE + alpha·KD(T) when teacher logits
     * are given to mn_trainer_step. */
    float distill_alpha, distill_temperature;
} mn_trainer_opts;

typedef struct mn_step_result {
    double loss;
    int64_t correct;   /* argmax hits in the batch */
    double grad_norm;
} mn_step_result;

/* g is borrowed and must outlive the trainer; its float weights (Conv,
 * Gemm, MatMul, BatchNorm/LayerNorm scale and bias, non-scalar Add/Mul
 * operands) become the trainable parameters; weight decay goes to the
 * weights of Conv/Gemm/MatMul only. mn_trainer_sync writes them back. */
mn_status mn_trainer_create(mn_graph *g, const mn_trainer_opts *o,
                            mn_trainer **out, mn_ctx *ctx);
void mn_trainer_destroy(mn_trainer *t);
/* One optimization step on n = batch samples x (N×C×H×W) with labels y;
 * teacher (n×classes, may be NULL) adds the distillation term. */
mn_status mn_trainer_step(mn_trainer *t, const float *x, const int64_t *y,
                          const float *teacher, float lr, mn_step_result *r,
                          mn_ctx *ctx);
/* Inference-mode logits for n samples (any n): a view valid until the
 * next call. */
mn_status mn_trainer_predict(mn_trainer *t, const float *x, int n,
                             const float **logits, int *classes,
                             mn_ctx *ctx);
/* Copies parameters and running statistics into g's initializers. */
void mn_trainer_sync(mn_trainer *t);
int64_t mn_trainer_num_params(const mn_trainer *t);
float *mn_trainer_params(mn_trainer *t);
float *mn_trainer_grads(mn_trainer *t);
int mn_trainer_classes(const mn_trainer *t); /* logits per sample */
/* The trainable initializers, in the order of the flat arrays: tensor i
 * (0 <= i < mn_trainer_num_tensors) is graph value mn_trainer_tensor(...)
 * (-1 when i is out of range), its elements at [*offset, *offset + *numel)
 * of mn_trainer_params / mn_trainer_grads. */
int mn_trainer_num_tensors(const mn_trainer *t);
int mn_trainer_tensor(const mn_trainer *t, int i, int64_t *offset,
                      int64_t *numel);

/* ---- distillation teacher ---- */

#define MN_DISTILL_DEFAULT_ALPHA 0.7f
#define MN_DISTILL_DEFAULT_TEMPERATURE 4.0f

/* A private copy of g run in inference mode (BatchNorm running statistics,
 * no Dropout) for batches of up to `batch` samples. */
typedef struct mn_teacher mn_teacher;
mn_status mn_teacher_create(const mn_graph *g, int batch, int threads,
                            mn_teacher **out, mn_ctx *ctx);
/* Logits [n×classes] for x (a view valid until the next call); a teacher
 * whose class count differs from `classes` is MN_ERR_ARG. */
mn_status mn_teacher_logits(mn_teacher *te, const float *x, int n,
                            int classes, const float **logits, mn_ctx *ctx);
void mn_teacher_destroy(mn_teacher *te);
/* Checkpoint: parameters, running statistics, optimizer state and the
 * caller's progress counters; written atomically. Loading checks that the
 * parameter layout matches, that the file is complete and that every value
 * is finite; after a failed load the trainer's parameters are undefined
 * (destroy it). mn_trainer_step fails once a weight is no longer finite,
 * so a diverged run never reaches a checkpoint. */
mn_status mn_trainer_save(mn_trainer *t, const char *path, int64_t epoch,
                          mn_ctx *ctx);
mn_status mn_trainer_load(mn_trainer *t, const char *path, int64_t *epoch,
                          mn_ctx *ctx);

/* ---- architectures by name ---- */

typedef struct mn_arch_opts {
    int channels, height, width; /* input; 0 → 1×28×28 */
    int classes;                 /* 0 → 10 */
    float width_mult;            /* 0 → 1 */
    int depth;                   /* blocks per stage where it applies; 0 → default */
    uint64_t seed;               /* weight initialization */
} mn_arch_opts;

/* Builds an inference graph (input "input" [N,C,H,W], output "logits"
 * [N,classes]) with seeded He-initialized weights. Unknown name →
 * MN_ERR_ARG listing the known ones. */
mn_status mn_arch_build(const char *name, const mn_arch_opts *o,
                        mn_graph **out, mn_ctx *ctx);
int mn_arch_count(void);
const char *mn_arch_name(int i);

/* ---- whole training runs ---- */

typedef struct mn_train_progress {
    int epoch, epochs;         /* 1-based epoch in progress */
    int64_t batch, batches;    /* within the epoch */
    double loss, accuracy;     /* running averages over the epoch */
    double images_per_s, lr;
    int epoch_done;            /* 1 at the end of an epoch (test_accuracy set) */
    double test_accuracy;      /* < 0 when not evaluated */
    double seconds;
} mn_train_progress;

typedef struct mn_train_opts {
    const char *arch;          /* or NULL with init */
    const mn_graph *init;      /* model to fine-tune (copied), or NULL */
    mn_arch_opts arch_opts;
    const char *data;          /* training data spec */
    const char *test_data;     /* NULL: derived from data (":train"→":test") */
    int64_t limit, test_limit; /* 0 → all samples */
    int epochs, batch, threads;
    float lr;
    uint64_t seed;
    mn_optim_opts optim;
    mn_lr_opts sched;
    float label_smoothing;
    int crop_pad;              /* random crop after zero padding by this */
    int flip;                  /* random horizontal flip */
    int n_mean, n_std;         /* 0 → computed from the training data */
    float mean[4], std[4];
    /* Knowledge distillation: with a teacher the loss is
     * (1-alpha)·CE + alpha·T²·KL(teacher‖student at temperature T); the
     * teacher sees the same normalized, augmented batch. */
    const mn_graph *teacher;   /* borrowed; NULL: no distillation */
    float distill_alpha;       /* 0 → 0.7 */
    float distill_temperature; /* 0 → 4 */
    const char *checkpoint;    /* written after every epoch; NULL: none */
    int resume;                /* continue from checkpoint when it exists */
    int stop_epoch;            /* > 0: stop after this epoch (as if
                                  interrupted; the schedule still spans
                                  `epochs`) */
    void (*progress)(void *user, const mn_train_progress *p);
    void *user;
} mn_train_opts;

typedef struct mn_train_result {
    double train_accuracy, test_accuracy, final_loss;
    int epochs;                /* epochs run in total (incl. resumed) */
    double seconds, images_per_s;
    int64_t params;
} mn_train_result;

/* Fills o with the defaults `minnow train` uses (SGD momentum 0.9
 * Nesterov, weight decay 5e-4, one-cycle, label smoothing 0.1, batch 128,
 * crop padding 2, no flip for 1-channel data). */
void mn_train_opts_default(mn_train_opts *o);
/* Runs training and returns the trained inference graph (metadata
 * minnow.mean/std/input_size set) in *out. */
mn_status mn_train_run(const mn_train_opts *o, mn_graph **out,
                       mn_train_result *res, mn_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif
