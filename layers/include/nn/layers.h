/*
 * <nn/layers.h> — the layer library: a declarative sequential model on the nn engine.
 *
 *   nn_model *m;
 *   nn_model_create(&m, nn_shape_1d(784));
 *   nn_model_add(m, nn_dense(256, NN_INIT_HE_NORMAL));  nn_model_add(m, nn_relu());
 *   nn_model_add(m, nn_dense(10, NN_INIT_GLOROT_UNIFORM)); nn_model_add(m, nn_softmax());
 *   nn_model_watch(m, NN_METRIC_ACCURACY);
 *   nn_optimizer sgd = nn_sgd(0.04f);
 *   nn_model_compile(m, &sgd, NN_LOSS_CROSS_ENTROPY, 100);
 *   nn_model_fit(m, &train, &val, &(nn_fit_options){.epochs = 15, .batch = 100, .seed = 1}, &hist);
 *
 * Conventions: as <nn/engine.h>.  Every function that can fail returns an nn_status and
 * leaves a message in nn_last_error().  Activations are row-major, batch first:
 * [batch x features], images [batch x C x H x W].  Shapes below are per sample.
 */
#ifndef NN_LAYERS_H
#define NN_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#include <nn/engine.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Shapes and data ------------------------------------------------------------ */

enum { NN_MAX_RANK = 4 };

/* The shape of one sample: rank 1 (features) up to rank 3 (C x H x W). */
typedef struct nn_shape {
    int rank;
    int dims[NN_MAX_RANK];
} nn_shape;

nn_shape nn_shape_1d(int n);
nn_shape nn_shape_3d(int c, int h, int w);
/* Floats in one sample of this shape (0 for an invalid shape). */
size_t nn_shape_size(nn_shape s);

/*
 * A dataset is plain memory owned by the caller: `count` rows of `features` floats,
 * and either integer class labels or a float target matrix.  Nothing is copied.
 */
typedef struct nn_dataset {
    const float *x;         /* count x features, row-major */
    const int32_t *labels;  /* count labels in [0, classes), or NULL */
    const float *y;         /* count x targets, or NULL when labels are given */
    int count, features;
    int targets;            /* width of y, or the number of classes with labels */
} nn_dataset;

/* Rows [first, first + count) of d, without copying. */
nn_status nn_dataset_rows(const nn_dataset *d, int first, int count, nn_dataset *view);

/* ---- Layers --------------------------------------------------------------------- */

typedef struct nn_layer nn_layer;

typedef enum nn_init {
    NN_INIT_HE_NORMAL = 0,   /* N(0, 2 / fan_in) */
    NN_INIT_GLOROT_UNIFORM,  /* U(-l, l), l = sqrt(6 / (fan_in + fan_out)) */
    NN_INIT_GLOROT_NORMAL,   /* N(0, 2 / (fan_in + fan_out)) */
    NN_INIT_LECUN_NORMAL,    /* N(0, 1 / fan_in) */
    NN_INIT_ZEROS,
} nn_init;

/* Each constructor returns a layer for nn_model_add, or NULL (with nn_last_error) on a
 * bad hyperparameter.  Biases start at zero. */
nn_layer *nn_dense(int units, nn_init init); /* Y = X W + b, W stored [in x out] */
nn_layer *nn_relu(void);
nn_layer *nn_sigmoid(void);
nn_layer *nn_tanh(void);
nn_layer *nn_softmax(void);                  /* over the features of each sample */
nn_layer *nn_dropout(float rate);            /* inverted dropout; identity outside fit */
nn_layer *nn_flatten(void);
nn_layer *nn_reshape(nn_shape shape);

/* 2-D convolution of a C x H x W input into filters x OH x OW, with a square kernel,
 * zero padding on every side, OH = (H + 2 padding - kernel) / stride + 1 (OW likewise).
 * W stored [filters, C * kernel * kernel], b [filters].  NN_INIT_HE_NORMAL is the usual
 * choice before ReLU. */
nn_layer *nn_conv2d(int filters, int kernel, int stride, int padding, nn_init init);
/* Max and mean over size x size windows, per channel: C x H x W into C x OH x OW with
 * OH = (H - size) / stride + 1 (no padding).  A NaN in a window wins the max. */
nn_layer *nn_maxpool2d(int size, int stride);
nn_layer *nn_avgpool2d(int size, int stride);

/* Frees a layer that was never added to a model. */
void nn_layer_free(nn_layer *layer);

/* ---- Losses, metrics, optimizers --------------------------------------------------- */

typedef enum nn_loss {
    NN_LOSS_MSE = 0,          /* mean over the batch of sum_j (y_j - t_j)^2 / 2 */
    NN_LOSS_CROSS_ENTROPY,    /* mean over the batch of -sum_j t_j log y_j; fused with a
                                 final softmax into (p - t) / batch, via log-sum-exp */
} nn_loss;

typedef enum nn_metric {
    NN_METRIC_ACCURACY = 0,
    NN_METRIC_PRECISION,      /* macro average over classes */
    NN_METRIC_RECALL,         /* macro average over classes */
    NN_METRIC_F1,             /* macro average over classes */
    NN_METRIC_COUNT
} nn_metric;

const char *nn_metric_name(nn_metric metric); /* "accuracy", "precision", ... */

typedef enum nn_schedule_kind {
    NN_SCHEDULE_CONSTANT = 0,
    NN_SCHEDULE_STEP,         /* lr * gamma^floor(epoch / step_epochs), whole epochs */
    NN_SCHEDULE_COSINE,       /* min_lr + (lr - min_lr) (1 + cos(pi e / epochs)) / 2, with
                                 e = min(epoch, epochs) counted in fractions of an epoch
                                 (per step): min_lr from `epochs` on */
} nn_schedule_kind;

typedef struct nn_schedule {
    nn_schedule_kind kind;
    int step_epochs;          /* STEP */
    float gamma;              /* STEP */
    int epochs;               /* COSINE: the epoch at which min_lr is reached */
    float min_lr;             /* COSINE */
} nn_schedule;

/* The learning rate for base rate lr after `epoch` epochs of training (0-based, and
 * fractional within an epoch: fit asks before every step with epoch + batch / batches,
 * so a cosine decays step by step while a step schedule changes at whole epochs). */
float nn_schedule_lr(const nn_schedule *s, float lr, double epoch);

typedef enum nn_optimizer_kind {
    NN_OPT_SGD = 0,           /* momentum, Nesterov and (L2) weight decay optional */
    NN_OPT_ADAM,              /* bias-corrected moments, eps outside the square root */
    NN_OPT_ADAMW,             /* Adam with decoupled weight decay */
} nn_optimizer_kind;

typedef struct nn_optimizer {
    nn_optimizer_kind kind;
    float lr;
    float momentum;           /* SGD */
    int nesterov;             /* SGD */
    float weight_decay;       /* SGD, Adam: L2 added to the gradient; AdamW: decoupled */
    float beta1, beta2, eps;  /* Adam, AdamW */
    nn_schedule schedule;
} nn_optimizer;

nn_optimizer nn_sgd(float lr);                       /* plain SGD, constant rate */
nn_optimizer nn_adam(float lr);                      /* beta1 0.9, beta2 0.999, eps 1e-8 */
nn_optimizer nn_adamw(float lr, float weight_decay);

/* ---- The sequential model ------------------------------------------------------- */

typedef struct nn_model nn_model;

/* A model taking samples of shape `input`. */
nn_status nn_model_create(nn_model **model, nn_shape input);
void nn_model_free(nn_model *model);

/* Appends a layer; the model owns it from now on, even when this fails.  Shapes are
 * inferred layer to layer: a mismatch is an error naming the layer. */
nn_status nn_model_add(nn_model *model, nn_layer *layer);

/* Adds a metric to report in fit and evaluate (the loss is always reported). */
nn_status nn_model_watch(nn_model *model, nn_metric metric);

/* Chooses optimizer and loss and allocates every buffer for batches of up to
 * max_batch samples: after this, training allocates nothing.  Initializes the
 * parameters from `seed` (the same seed gives the same model on every machine). */
nn_status nn_model_compile(nn_model *model, const nn_optimizer *optimizer, nn_loss loss,
                           int max_batch, uint64_t seed);

/* What fit reports after each batch. */
typedef struct nn_progress {
    int epoch, epochs;        /* 0-based epoch, total */
    int batch, batches;       /* 0-based batch within the epoch, total */
    float loss;               /* running mean training loss of this epoch */
} nn_progress;

typedef struct nn_history nn_history;

typedef struct nn_fit_options {
    int epochs;
    int batch;                /* <= max_batch; the last partial batch is used, not dropped */
    uint64_t seed;            /* shuffling and dropout */
    void (*progress)(const nn_progress *p, void *user); /* after each batch; may be NULL */
    /* After each epoch, once its entries of the history are recorded (0..epoch); may be
     * NULL.  Needs a history: fit refuses epoch_end with history == NULL. */
    void (*epoch_end)(const nn_history *history, int epoch, void *user);
    void *user;               /* passed to both callbacks */
} nn_fit_options;

/* Per-epoch history: loss and every watched metric, training and validation
 * (validation entries are NaN without validation data).  Free with nn_history_free. */
struct nn_history {
    int epochs;
    float *train_loss, *val_loss;
    float *train_metric[NN_METRIC_COUNT], *val_metric[NN_METRIC_COUNT]; /* NULL unless watched */
    float *seconds;           /* wall time of each epoch's training (shuffle, gather,
                                 steps), without the validation pass */
};

void nn_history_free(nn_history *history);

/* Trains on `train` (shuffled minibatches), evaluating `val` (may be NULL) after each
 * epoch.  A NaN or Inf loss stops training with NN_ERR_NUMERIC naming the epoch and
 * batch; the model keeps its last finite weights.  `history` may be NULL. */
nn_status nn_model_fit(nn_model *model, const nn_dataset *train, const nn_dataset *val,
                       const nn_fit_options *options, nn_history *history);

/* Loss and metrics over a dataset, with the confusion matrix when the data has labels. */
typedef struct nn_evaluation {
    float loss;
    float metric[NN_METRIC_COUNT]; /* every metric, watched or not (labels only) */
    int classes;
    int64_t *confusion;            /* classes x classes, row = true class; NULL without labels */
    float *precision, *recall, *f1; /* per class; NULL without labels */
} nn_evaluation;

nn_status nn_model_evaluate(nn_model *model, const nn_dataset *data, nn_evaluation *out);
void nn_evaluation_free(nn_evaluation *evaluation);

/* out (count x output size) = the model's output for `count` samples of x. */
nn_status nn_model_predict(nn_model *model, const float *x, int count, float *out);

/* A Keras-like table of layers, output shapes and parameter counts (snprintf rules). */
int nn_model_summary(const nn_model *model, char *buf, size_t size);

/* Output shape and parameter count, for programs that need them. */
nn_shape nn_model_output_shape(const nn_model *model);
size_t nn_model_param_count(const nn_model *model);

/* ---- Model files (safetensors) ----------------------------------------------------- */

/* Writes weights (tensors "layers.<i>.weight" / "layers.<i>.bias", float32, little
 * endian) with the architecture and training configuration in __metadata__.  Atomic:
 * a temporary file in the same directory, then rename. */
nn_status nn_model_save(const nn_model *model, const char *path);

/* Rebuilds and compiles (for max_batch) a model saved by nn_model_save. */
nn_status nn_model_load(nn_model **model, const char *path, int max_batch);

#ifdef __cplusplus
}
#endif

#endif /* NN_LAYERS_H */
