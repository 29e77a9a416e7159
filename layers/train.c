/*
 * layers/train.c — the compiled model at work: forward, backward and one optimizer step;
 * fit (shuffled minibatches, history, validation), evaluate and predict.
 *
 * Nothing here allocates between the start and the end of an epoch: every buffer was
 * carved out at compile (model.c, model_buffers.h).  fit allocates its shuffle order and
 * the history arrays once, before the first epoch.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model_buffers.h"

/* ---- Forward, loss, backward, step -------------------------------------------------------- */

/* What layer i reads: the batch itself for layer 0, else the previous output. */
static const float *layer_input(const nn_model *m, int i, const float *x)
{
    return i == 0 ? x : m->buffers->act[i - 1];
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* now_seconds(), read only when the model is being profiled. */
static double profile_clock(const nn_model *m) { return m->profile ? now_seconds() : 0; }

/* act[i] for every layer from x [batch x in].  A fused activation's output already sits in
 * act[i] (= act[i - 1]), written by the Dense epilogue; a view's is its input, and a
 * pooling fused into a convolution's was written by the convolution. */
static nn_status forward(nn_model *m, const float *x, int batch, int training)
{
    for (int i = 0; i < m->count; i++) {
        nn_layer *l = m->layers[i];
        if (nn_layer_borrows_output(l))
            continue;
        double start = profile_clock(m);
        nn_status st = l->ops->forward(l, layer_input(m, i, x), m->buffers->act[i], batch, training);
        if (st != NN_OK)
            return st;
        if (m->profile && training)
            m->profile->forward[i] += profile_clock(m) - start;
    }
    return NN_OK;
}

/* The last layer whose backward runs: the one before a softmax fused with cross-entropy. */
static int first_backward(const nn_model *m)
{
    return nn_model_fused_softmax_ce(m) ? m->count - 2 : m->count - 1;
}

/* The batch's mean loss of the last forward; with want_grad, also the gradient that
 * backward starts from (with respect to the logits under softmax + cross-entropy). */
static double loss_of(nn_model *m, const float *x, nn_targets t, int batch, int want_grad)
{
    struct nn_model_buffers *b = m->buffers;
    int last = m->count - 1, start = first_backward(m);
    const float *logits = nn_model_fused_softmax_ce(m) ? layer_input(m, last, x) : NULL;
    float *dy = want_grad ? b->grad[start >= 0 ? start : last] : NULL;
    return nn_loss_compute(m->loss, b->act[last], logits, t, batch, (int)b->out_size, dy);
}

/* grad[i - 1] from grad[i], last to first; layer 0 gets dx = NULL. */
static nn_status backward(nn_model *m, const float *x, int batch)
{
    struct nn_model_buffers *b = m->buffers;
    for (int i = first_backward(m); i >= 0; i--) {
        nn_layer *l = m->layers[i];
        float *dx = i > 0 ? b->grad[i - 1] : NULL;
        if ((!dx && !l->grads) || l->backward_in_next || l->view || l->pooled_by)
            continue; /* nothing to learn or pass on, done by a neighbour, or a view */
        double start = profile_clock(m);
        nn_status st = l->ops->backward(l, layer_input(m, i, x), b->act[i], b->grad[i], dx, batch);
        if (st != NN_OK)
            return st;
        if (m->profile)
            m->profile->backward[i] += profile_clock(m) - start;
    }
    return NN_OK;
}

/* 1 when outputs can be scored against classes: labels, or one-hot targets of width >= 2. */
static int classifies(const nn_model *m, nn_targets t)
{
    return t.labels != NULL || m->buffers->out_size >= 2;
}

/* One training step on the gathered batch: forward, loss, backward, one optimizer pass
 * over the flat parameter buffer.  A non-finite loss returns before anything is updated. */
static nn_status train_step(nn_model *m, nn_targets t, int batch, float lr, double *loss)
{
    struct nn_model_buffers *b = m->buffers;
    const float *x = b->batch_x;
    nn_status st = forward(m, x, batch, 1);
    if (st != NN_OK)
        return st;
    double start = profile_clock(m);
    *loss = loss_of(m, x, t, batch, 1);
    if (!isfinite(*loss))
        return NN_ERR_NUMERIC; /* the caller names epoch and batch */
    if (classifies(m, t))
        nn_confusion_add(b->confusion, (int)b->out_size, b->act[m->count - 1], t, batch);
    if (m->profile)
        m->profile->loss += profile_clock(m) - start;
    st = backward(m, x, batch);
    if (st != NN_OK)
        return st;
    start = profile_clock(m);
    if (m->param_count)
        st = nn_optimizer_step(&m->optimizer, lr, ++m->steps, m->params, m->grads,
                               m->optimizer_state, m->param_count);
    if (m->profile) {
        m->profile->update += profile_clock(m) - start;
        m->profile->steps++;
    }
    return st;
}

/* ---- Datasets -------------------------------------------------------------------------- */

static nn_status check_dataset(const nn_model *m, const nn_dataset *d, const char *what)
{
    int in = (int)m->buffers->in_size, out = (int)m->buffers->out_size;
    if (!d->x || d->count < 1)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: no samples (x is NULL or count is %d)",
                       what, d->count);
    if (d->features != in)
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       "%s: samples have %d features, the model takes %d", what, d->features, in);
    if (!d->labels == !d->y)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: give either labels or targets y, not %s",
                       what, d->labels ? "both" : "neither");
    if (d->targets != out)
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       "%s: %d %s, the model has %d outputs", what, d->targets,
                       d->labels ? "classes" : "targets per sample", out);
    for (int i = 0; d->labels && i < d->count; i++)
        if (d->labels[i] < 0 || d->labels[i] >= out)
            return nn_fail(NN_ERR_INVALID_ARGUMENT,
                           "%s: label %d of sample %d is outside [0, %d)", what,
                           (int)d->labels[i], i, out);
    return NN_OK;
}

/* The targets of rows [first, first + n) of d, in place. */
static nn_targets targets_of(const nn_dataset *d, int first)
{
    return (nn_targets){
        .labels = d->labels ? d->labels + first : NULL,
        .y = d->y ? d->y + (size_t)first * (size_t)d->targets : NULL,
    };
}

/* The rows of one gather: random rows of a large training set are memory-latency
 * bound, ~5% of a 2-thread MNIST step when copied on one thread. */
typedef struct gather_job {
    struct nn_model_buffers *b;
    const nn_dataset *d;
    const int *order;
} gather_job;

static void gather_rows(void *ctx, size_t first, size_t end)
{
    const gather_job *j = ctx;
    size_t in = j->b->in_size, width = j->b->out_size;
    for (size_t r = first; r < end; r++) {
        size_t row = (size_t)j->order[r];
        memcpy(j->b->batch_x + r * in, j->d->x + row * in, in * sizeof(float));
        if (j->d->labels)
            j->b->batch_labels[r] = j->d->labels[row];
        else
            memcpy(j->b->batch_y + r * width, j->d->y + row * width, width * sizeof(float));
    }
}

/* The batch's rows order[0..n) into the contiguous batch buffers. */
static nn_targets gather(nn_model *m, const nn_dataset *d, const int *order, int n)
{
    struct nn_model_buffers *b = m->buffers;
    gather_job job = {b, d, order};
    nn_parallel_ranges((size_t)n, (size_t)n * b->in_size, gather_rows, &job);
    return (nn_targets){.labels = d->labels ? b->batch_labels : NULL,
                        .y = d->labels ? NULL : b->batch_y};
}

/* ---- Evaluation without allocation ------------------------------------------------------ */

/* Samples per forward when nothing is trained (evaluate, predict, validation): as many as
 * let the widest layer's input and output fit the L2 caches of the cores together, so
 * each activation is read back from cache by the next layer, not from memory; but at
 * least MIN_INFER_CHUNK (Dense layers' GEMMs need rows; the MLP loses a sixth of its
 * speed in chunks of 128) and at most max_batch.  The cores, not the threads in use, so
 * that a loss summed chunk by chunk does not depend on the thread count.  Measured on
 * the MNIST CNN (conv1's output is 86 KB a sample) at batch 1000, 2 threads: chunks of
 * 1000 -> 64 samples, 22.5k -> 28.2k images/s. */
enum { MIN_INFER_CHUNK = 64 };

static int inference_chunk(const nn_model *m)
{
    size_t widest = 1;
    for (int i = 0; i < m->count; i++) {
        const nn_layer *l = m->layers[i];
        if (nn_layer_borrows_output(l))
            continue; /* no buffer of its own */
        size_t floats = nn_shape_size(l->in) + nn_layer_stored_out(l);
        widest = floats > widest ? floats : widest;
    }
    nn_engine_info info;
    size_t fit = nn_engine_info_get(&info) == NN_OK
                     ? info.l2_bytes * (size_t)info.physical_cores / (widest * sizeof(float))
                     : (size_t)m->max_batch;
    size_t chunk = fit > MIN_INFER_CHUNK ? fit : MIN_INFER_CHUNK;
    return chunk < (size_t)m->max_batch ? (int)chunk : m->max_batch;
}

/* Mean loss over d and its confusion matrix in m->buffers->confusion (zeroed first), in
 * inference chunks, with training off (no dropout).  Sets *scored when it could score
 * classes. */
static nn_status evaluate_into(nn_model *m, const nn_dataset *d, double *loss, int *scored)
{
    struct nn_model_buffers *b = m->buffers;
    size_t width = b->out_size;
    memset(b->confusion, 0, width * width * sizeof(int64_t));
    double sum = 0;
    int chunk = inference_chunk(m);
    for (int first = 0; first < d->count; first += chunk) {
        int n = d->count - first < chunk ? d->count - first : chunk;
        nn_targets t = targets_of(d, first);
        const float *x = d->x + (size_t)first * b->in_size;
        nn_status st = forward(m, x, n, 0);
        if (st != NN_OK)
            return st;
        sum += loss_of(m, x, t, n, 0) * n;
        if (classifies(m, t))
            nn_confusion_add(b->confusion, (int)width, b->act[m->count - 1], t, n);
    }
    *loss = sum / d->count;
    *scored = classifies(m, targets_of(d, 0));
    return NN_OK;
}

static nn_status check_compiled(const nn_model *m, const char *fn)
{
    if (!m)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: NULL model", fn);
    if (!m->compiled)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: compile the model first (nn_model_compile)", fn);
    return NN_OK;
}

/* ---- Fit ----------------------------------------------------------------------------------- */

/* One epoch's figures, as the history stores them. */
typedef struct epoch_result {
    float loss, val_loss;
    float metric[NN_METRIC_COUNT], val_metric[NN_METRIC_COUNT];
} epoch_result;

static nn_status check_fit(const nn_model *m, const nn_dataset *train, const nn_dataset *val,
                           const nn_fit_options *o)
{
    nn_status st = check_compiled(m, "nn_model_fit");
    if (st != NN_OK)
        return st;
    if (!train || !o)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_model_fit: NULL training set or options");
    if (o->epochs < 1)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_model_fit: epochs is %d, must be >= 1", o->epochs);
    if (o->batch < 1 || o->batch > m->max_batch)
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       "nn_model_fit: batch is %d, must be in [1, %d] (the max_batch of compile)",
                       o->batch, m->max_batch);
    st = check_dataset(m, train, "nn_model_fit: training set");
    if (st == NN_OK && val)
        st = check_dataset(m, val, "nn_model_fit: validation set");
    return st;
}

static void free_history(nn_history *h)
{
    free(h->train_loss);
    free(h->val_loss);
    free(h->seconds);
    for (int k = 0; k < NN_METRIC_COUNT; k++) {
        free(h->train_metric[k]);
        free(h->val_metric[k]);
    }
    memset(h, 0, sizeof *h);
}

void nn_history_free(nn_history *history)
{
    if (history)
        free_history(history);
}

static nn_status alloc_history(const nn_model *m, int epochs, nn_history *h)
{
    size_t bytes = (size_t)epochs * sizeof(float);
    int ok = (h->train_loss = malloc(bytes)) && (h->val_loss = malloc(bytes)) &&
             (h->seconds = malloc(bytes));
    for (int k = 0; ok && k < NN_METRIC_COUNT; k++)
        if (m->watched[k])
            ok = (h->train_metric[k] = malloc(bytes)) && (h->val_metric[k] = malloc(bytes));
    if (!ok) {
        free_history(h);
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "nn_model_fit: cannot allocate the history");
    }
    return NN_OK;
}

static void record_epoch(const nn_model *m, nn_history *h, int epoch, const epoch_result *r,
                         double seconds)
{
    h->train_loss[epoch] = r->loss;
    h->val_loss[epoch] = r->val_loss;
    h->seconds[epoch] = (float)seconds;
    for (int k = 0; k < NN_METRIC_COUNT; k++) {
        if (m->watched[k]) {
            h->train_metric[k][epoch] = r->metric[k];
            h->val_metric[k][epoch] = r->val_metric[k];
        }
    }
    h->epochs = epoch + 1;
}

/* order = a permutation of [0, n), Fisher-Yates from a generator seeded with seed. */
static void shuffle(int *order, int n, uint64_t seed)
{
    nn_rng rng;
    nn_rng_seed(&rng, seed);
    for (int i = 0; i < n; i++)
        order[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)nn_rng_below(&rng, (uint32_t)i + 1);
        int tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
}

static void metrics_or_nan(const nn_model *m, int scored, float metric[NN_METRIC_COUNT])
{
    for (int k = 0; k < NN_METRIC_COUNT; k++)
        metric[k] = NAN;
    if (scored)
        nn_metrics_from_confusion(m->buffers->confusion, (int)m->buffers->out_size, metric,
                                  NULL, NULL, NULL);
}

static nn_status numeric_failure(double loss, int epoch, int epochs, int batch, int batches)
{
    return nn_fail(NN_ERR_NUMERIC,
                   "nn_model_fit: epoch %d/%d, batch %d/%d: loss is %s; training stopped, the "
                   "model keeps the weights from before this batch (try a smaller learning rate "
                   "or check the data for NaN/Inf)",
                   epoch + 1, epochs, batch + 1, batches, isnan(loss) ? "nan" : "inf");
}

/* One pass over the shuffled training set, the last partial batch included. */
static nn_status train_epoch(nn_model *m, const nn_dataset *train, const nn_fit_options *o,
                             int epoch, int *order, epoch_result *r)
{
    struct nn_model_buffers *b = m->buffers;
    int batches = (train->count + o->batch - 1) / o->batch;
    shuffle(order, train->count, o->seed + (uint64_t)epoch);
    memset(b->confusion, 0, b->out_size * b->out_size * sizeof(int64_t));
    double sum = 0;
    int seen = 0;
    for (int k = 0; k < batches; k++) {
        int first = k * o->batch;
        int n = train->count - first < o->batch ? train->count - first : o->batch;
        nn_targets t = gather(m, train, order + first, n);
        double loss = 0;
        float lr = nn_schedule_lr(&m->optimizer.schedule, m->optimizer.lr,
                                  epoch + (double)k / batches);
        nn_status st = train_step(m, t, n, lr, &loss);
        if (st == NN_ERR_NUMERIC && !isfinite(loss))
            return numeric_failure(loss, epoch, o->epochs, k, batches);
        if (st != NN_OK)
            return st;
        sum += loss * n;
        seen += n;
        if (o->progress)
            o->progress(&(nn_progress){.epoch = epoch, .epochs = o->epochs, .batch = k,
                                       .batches = batches, .loss = (float)(sum / seen)},
                        o->user);
    }
    r->loss = (float)(sum / seen);
    metrics_or_nan(m, classifies(m, targets_of(train, 0)), r->metric);
    return NN_OK;
}

static nn_status validate_epoch(nn_model *m, const nn_dataset *val, epoch_result *r)
{
    r->val_loss = NAN;
    metrics_or_nan(m, 0, r->val_metric);
    if (!val)
        return NN_OK;
    double loss;
    int scored;
    nn_status st = evaluate_into(m, val, &loss, &scored);
    if (st != NN_OK)
        return st;
    r->val_loss = (float)loss;
    metrics_or_nan(m, scored, r->val_metric);
    return NN_OK;
}

/*
 * Randomness: epoch e shuffles with a generator seeded from options->seed + e (so an
 * epoch's order depends on nothing else); dropout draws from the model's training
 * generator, seeded once per fit call from options->seed ^ DROPOUT_STREAM.
 */
#define DROPOUT_STREAM 0xd1b54a32d192ed03ull

nn_status nn_model_fit(nn_model *model, const nn_dataset *train, const nn_dataset *val,
                       const nn_fit_options *options, nn_history *history)
{
    if (history)
        memset(history, 0, sizeof *history);
    nn_status st = check_fit(model, train, val, options);
    if (st != NN_OK)
        return st;
    if (options->epoch_end && !history)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_model_fit: epoch_end needs a history to report");
    int *order = malloc((size_t)train->count * sizeof *order);
    if (!order)
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "nn_model_fit: cannot allocate the shuffle order");
    if (history && (st = alloc_history(model, options->epochs, history)) != NN_OK) {
        free(order);
        return st;
    }
    nn_rng_seed(&model->buffers->rng, options->seed ^ DROPOUT_STREAM);
    for (int epoch = 0; epoch < options->epochs && st == NN_OK; epoch++) {
        epoch_result r;
        double start = now_seconds();
        st = train_epoch(model, train, options, epoch, order, &r);
        double seconds = now_seconds() - start; /* training only: shuffle, gather, steps */
        if (st == NN_OK)
            st = validate_epoch(model, val, &r);
        if (st == NN_OK && history)
            record_epoch(model, history, epoch, &r, seconds);
        if (st == NN_OK && options->epoch_end)
            options->epoch_end(history, epoch, options->user);
    }
    free(order);
    return st;
}

/* ---- Evaluate and predict --------------------------------------------------------------- */

void nn_evaluation_free(nn_evaluation *evaluation)
{
    if (!evaluation)
        return;
    free(evaluation->confusion);
    free(evaluation->precision);
    free(evaluation->recall);
    free(evaluation->f1);
    memset(evaluation, 0, sizeof *evaluation);
}

/* Copies the confusion matrix into out and fills the per-class and macro metrics. */
static nn_status score_classes(const nn_model *m, nn_evaluation *out)
{
    int c = (int)m->buffers->out_size;
    out->classes = c;
    out->confusion = malloc((size_t)c * (size_t)c * sizeof(int64_t));
    out->precision = malloc((size_t)c * sizeof(float));
    out->recall = malloc((size_t)c * sizeof(float));
    out->f1 = malloc((size_t)c * sizeof(float));
    if (!out->confusion || !out->precision || !out->recall || !out->f1) {
        nn_evaluation_free(out);
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "nn_model_evaluate: out of memory");
    }
    memcpy(out->confusion, m->buffers->confusion, (size_t)c * (size_t)c * sizeof(int64_t));
    nn_metrics_from_confusion(out->confusion, c, out->metric, out->precision, out->recall, out->f1);
    return NN_OK;
}

nn_status nn_model_evaluate(nn_model *model, const nn_dataset *data, nn_evaluation *out)
{
    if (out)
        memset(out, 0, sizeof *out);
    nn_status st = check_compiled(model, "nn_model_evaluate");
    if (st != NN_OK)
        return st;
    if (!data || !out)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_model_evaluate: NULL dataset or result");
    if ((st = check_dataset(model, data, "nn_model_evaluate")) != NN_OK)
        return st;
    double loss;
    int scored;
    if ((st = evaluate_into(model, data, &loss, &scored)) != NN_OK)
        return st;
    out->loss = (float)loss;
    for (int k = 0; k < NN_METRIC_COUNT; k++)
        out->metric[k] = NAN;
    return scored ? score_classes(model, out) : NN_OK;
}

nn_status nn_model_predict(nn_model *model, const float *x, int count, float *out)
{
    nn_status st = check_compiled(model, "nn_model_predict");
    if (st != NN_OK)
        return st;
    if (count < 0 || (count > 0 && (!x || !out)))
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       "nn_model_predict: need x and out for %d samples", count);
    struct nn_model_buffers *b = model->buffers;
    int chunk = inference_chunk(model);
    for (int first = 0; first < count; first += chunk) {
        int n = count - first < chunk ? count - first : chunk;
        if ((st = forward(model, x + (size_t)first * b->in_size, n, 0)) != NN_OK)
            return st;
        memcpy(out + (size_t)first * b->out_size, b->act[model->count - 1],
               (size_t)n * b->out_size * sizeof(float));
    }
    return NN_OK;
}
