/*
 * layers/internal.h — what the layer library's own files share; never installed.
 *
 * Files: rng.c init.c (random numbers, initializers), layer_*.c (one family each),
 * loss.c, optimizer.c, metrics.c, model.c (build, compile, summary), train.c
 * (forward, backward, fit, evaluate, predict), model_file.c and
 * model_file_load.c (safetensors save and load).
 */
#ifndef NN_LAYERS_INTERNAL_H
#define NN_LAYERS_INTERNAL_H

#include <nn/layers.h>

/* ---- rng.c: the documented generator behind every random choice -------------------
 * SplitMix64 (Steele, Lea, Flood 2014): state += 0x9e3779b97f4a7c15, then the
 * variant-13 mix.  Uniforms take the top 53 bits; normals are Box-Muller pairs in
 * double precision.  The same seed gives the same numbers on every machine whose libm
 * rounds log/cos/sin the same way (glibc does). */
typedef struct nn_rng {
    uint64_t state;
    int has_spare;
    double spare;
} nn_rng;

void nn_rng_seed(nn_rng *rng, uint64_t seed);
uint64_t nn_rng_next(nn_rng *rng);
double nn_rng_uniform(nn_rng *rng);              /* [0, 1) */
double nn_rng_normal(nn_rng *rng);               /* N(0, 1) */
uint32_t nn_rng_below(nn_rng *rng, uint32_t n);  /* uniform in [0, n), unbiased; n > 0 */

/* ---- shape.c ---- */
/* "32x13x13" into buf (snprintf rules). */
int nn_shape_format(nn_shape s, char *buf, size_t size);

/* ---- init.c ---- */
/* Fills `count` weights of a layer with fan_in inputs and fan_out outputs. */
void nn_init_fill(nn_init init, float *w, size_t count, int fan_in, int fan_out, nn_rng *rng);
const char *nn_init_name(nn_init init);                 /* "he_normal", ... */
nn_status nn_init_parse(const char *name, nn_init *init);

/* ---- Layers ------------------------------------------------------------------------
 * A layer is a small vtable plus its configuration.  The model owns the memory: it
 * points params/grads into its flat parameter and gradient buffers and scratch into its
 * workspace, all allocated once at compile.  forward/backward never allocate.
 */
typedef struct nn_layer_ops {
    const char *kind; /* "dense", "relu", "sigmoid", "tanh", "softmax", "dropout",
                         "flatten", "reshape", "conv2d", "maxpool2d",
                         "avgpool2d": also the name in model files */

    /* Output shape for input shape `in` (also stores both in the layer), or an error
     * whose message names the layer: "layer 2 (dense): ...". */
    nn_status (*infer)(nn_layer *l, nn_shape in);

    /* Parameters (weights first, then bias) and per-sample scratch floats; NULL: 0. */
    size_t (*param_count)(const nn_layer *l);
    size_t (*scratch_per_sample)(const nn_layer *l);

    /* Scratch floats needed once whatever the batch (conv2d's column matrix), placed
     * after the per-sample scratch in l->scratch; NULL: 0. */
    size_t (*scratch_fixed)(const nn_layer *l);

    /* Fills l->params from the generator (NULL: no parameters). */
    void (*init_params)(nn_layer *l, nn_rng *rng);

    /* y [batch x out] from x [batch x in].  `training` turns on dropout and keeps what
     * backward needs that y does not hold (max pooling's winners): backward follows a
     * training forward of the same batch. */
    nn_status (*forward)(nn_layer *l, const float *x, float *y, int batch, int training);

    /* From dy [batch x out]: writes (not adds) the parameter gradients of this batch into
     * l->grads and, when dx != NULL, dx [batch x in].  x and y are this batch's forward
     * input and output. */
    nn_status (*backward)(nn_layer *l, const float *x, const float *y, const float *dy,
                          float *dx, int batch);

    /* Hyperparameters for the summary, e.g. "units=256 init=he_normal" (snprintf rules). */
    int (*describe)(const nn_layer *l, char *buf, size_t size);
} nn_layer_ops;

struct nn_layer {
    const nn_layer_ops *ops;
    int index;              /* position in the model: messages, tensor names */
    nn_shape in, out;       /* per sample, set by infer */
    float *params, *grads;  /* param_count floats each, inside the model's buffers */
    float *scratch;         /* scratch_per_sample * max_batch + scratch_fixed floats */
    nn_rng *rng;            /* the model's training generator (dropout masks) */

    /* Dense or Conv2D followed by ReLU/Sigmoid/Tanh: compile sets `fused` on the Dense or
     * Conv2D layer (its GEMM epilogue applies the activation) and `fused_into_previous`
     * on the activation layer, whose forward the model then skips (its output is the
     * previous layer's); its backward still runs, from y, exactly as unfused. */
    nn_activation fused;
    int fused_into_previous;

    /* ReLU followed by MaxPool2D: compile sets `backward_in_next` on the ReLU and
     * `relu_backward` on the pooling layer, whose backward then routes dy to a winner
     * only where the pooled value is > 0 (the ReLU's mask at that winner) and writes the
     * ReLU's input gradient directly: the two gradients share one buffer and the model
     * skips the ReLU's backward, a pass over the largest activations of a CNN.  The bits
     * are those of the two backwards apart. */
    int backward_in_next;
    int relu_backward;

    /* Flatten or Reshape after another layer: compile sets `view`, and the layer's output
     * and gradient are the previous layer's buffers (the same floats under another
     * shape), so the model runs neither its forward nor its backward: no copies. */
    int view;

    /* Conv2D followed by MaxPool2D, directly or through a ReLU fused into it: compile
     * points the convolution's `fused_pool` at the pooling layer and the pooling's
     * `pooled_by` at the convolution.  The convolution then runs the engine's fused calls
     * (nn_conv2d_forward_maxpool / _backward_maxpool): its output buffer holds the pooled
     * values (the pooling's output and gradient buffers are the convolution's), the
     * winners go to the pooling's scratch, and the model skips the pooling.  The bits are
     * those of the layers apart. */
    nn_layer *fused_pool, *pooled_by;

    union {
        struct { int units; nn_init init; } dense;
        struct { nn_activation act; } activation; /* relu, sigmoid, tanh */
        struct { float rate; } dropout;
        struct { nn_shape shape; } reshape;
        struct { int filters, kernel, stride, padding; nn_init init; } conv;
        struct { int size, stride; } pool; /* maxpool2d, avgpool2d */
    } cfg;
};

/* Allocates a zeroed layer with these ops (NULL and a message if out of memory). */
nn_layer *nn_layer_new(const nn_layer_ops *ops);

/* Whether the layer's output is another layer's buffer, written by that layer or the
 * same floats under another shape (a fused activation, a view, a pooling fused into a
 * convolution), so that the model runs no forward for it. */
static inline int nn_layer_borrows_output(const nn_layer *l)
{
    return l->fused_into_previous || l->view || l->pooled_by;
}

/* Floats per sample of the output the layer stores: its own, or the fused pooling's. */
static inline size_t nn_layer_stored_out(const nn_layer *l)
{
    return nn_shape_size(l->fused_pool ? l->fused_pool->out : l->out);
}

/* Runs fn(ctx, first, end) over [0, count) cut into one contiguous range per thread;
 * `floats` is the work's size, under which (or inside a parallel region) it runs on the
 * calling thread without entering OpenMP (even an if(0) region allocates a team there).
 * The items must be independent: the results may not depend on the cut. */
typedef void (*nn_range_fn)(void *ctx, size_t first, size_t end);
void nn_parallel_ranges(size_t count, size_t floats, nn_range_fn fn, void *ctx);

/* "layer %d (%s)" prefix for messages. */
#define NN_LAYER_FMT "layer %d (%s)"
#define NN_LAYER_ARGS(l) (l)->index, (l)->ops->kind

/* ---- loss.c ---- */
typedef struct nn_targets {
    const int32_t *labels; /* batch labels, or NULL */
    const float *y;        /* batch x width targets, or NULL */
} nn_targets;

/* The batch's mean loss for outputs y [batch x width].  When dy != NULL, also writes the
 * gradient with respect to y; or, when `logits` != NULL (a final softmax whose input was
 * `logits`, with cross-entropy), computes the loss from the logits by log-sum-exp and
 * writes the gradient with respect to the logits, (p - t) / batch. */
double nn_loss_compute(nn_loss loss, const float *y, const float *logits, nn_targets t,
                       int batch, int width, float *dy);
const char *nn_loss_name(nn_loss loss);                  /* "mse", "cross_entropy" */
nn_status nn_loss_parse(const char *name, nn_loss *loss);

/* ---- optimizer.c ---- */
/* Floats of optimizer state per parameter: 0 (SGD), 1 (momentum), 2 (Adam, AdamW). */
int nn_optimizer_state_per_param(const nn_optimizer *o);

/* One update of n parameters with learning rate lr; `step` counts updates from 1 (Adam's
 * bias correction); state holds state_per_param * n floats, zero before the first step. */
nn_status nn_optimizer_step(const nn_optimizer *o, float lr, int64_t step, float *params,
                            const float *grads, float *state, size_t n);
nn_status nn_optimizer_check(const nn_optimizer *o); /* a readable error for bad settings */
const char *nn_optimizer_name(nn_optimizer_kind kind); /* "sgd", "adam", "adamw" */
nn_status nn_optimizer_parse(const char *name, nn_optimizer_kind *kind);

/* ---- metrics.c ---- */
/* Adds the batch's argmax predictions of y [batch x classes] against labels (or the
 * argmax of one-hot targets) to confusion[true * classes + predicted]. */
void nn_confusion_add(int64_t *confusion, int classes, const float *y, nn_targets t, int batch);

/* Accuracy and macro precision/recall/F1 into metric[], and per class into the three
 * arrays (each may be NULL).  A class never predicted has precision 0 (likewise). */
void nn_metrics_from_confusion(const int64_t *confusion, int classes,
                               float metric[NN_METRIC_COUNT], float *precision,
                               float *recall, float *f1);

/* ---- train.c: where a training step spends its time (bench/ sets it) ----
 * When a model's `profile` is set, each training step adds its wall time per phase:
 * forward and backward per layer (arrays of the model's layer count, caller-owned),
 * the loss, and the optimizer update.  Unset, a step reads no clock. */
typedef struct nn_step_profile {
    double *forward, *backward;
    double loss, update;
    int64_t steps;
} nn_step_profile;

/* ---- model.c: the model, as model_file.c needs to see it ---- */
struct nn_model {
    nn_shape input;
    nn_layer **layers;
    int count, capacity;
    int watched[NN_METRIC_COUNT];

    int compiled;
    nn_optimizer optimizer;
    nn_loss loss;
    int max_batch;
    uint64_t seed;
    size_t param_count;
    float *params, *grads, *optimizer_state; /* flat, 64-byte aligned */
    int64_t steps;                            /* optimizer updates so far */

    struct nn_model_buffers *buffers;         /* activations and workspace (model.c) */
    nn_step_profile *profile;                 /* NULL, or where fit adds step times */
};

#endif /* NN_LAYERS_INTERNAL_H */
