/*
 * test_train.c — fit: learning (XOR, three Gaussian blobs), the last partial batch, a NaN
 * stopping training with the weights from before the batch, history, bit-identical
 * weights for 1, 2 and 3 threads, fused == unfused, and no allocation in the training step.
 *
 * The allocation count: this executable defines malloc, calloc, realloc, aligned_alloc,
 * posix_memalign and memalign, which glibc lets a program interpose for the whole
 * process (the library's and the engine's calls included); each counts, then calls the
 * glibc implementation (__libc_*).  Not under AddressSanitizer, which owns malloc.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nn/layers.h>

#include "../layers/internal.h"

#if defined(__SANITIZE_ADDRESS__)
#define NN_COUNT_MALLOC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NN_COUNT_MALLOC 0
#endif
#endif
#ifndef NN_COUNT_MALLOC
#define NN_COUNT_MALLOC 1
#endif

/* ---- Counting allocations --------------------------------------------------------------- */

static atomic_long allocations;

#if NN_COUNT_MALLOC
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

void *malloc(size_t n)
{
    atomic_fetch_add(&allocations, 1);
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    atomic_fetch_add(&allocations, 1);
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    atomic_fetch_add(&allocations, 1);
    return __libc_realloc(p, n);
}

void *memalign(size_t align, size_t n)
{
    atomic_fetch_add(&allocations, 1);
    return __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
    atomic_fetch_add(&allocations, 1);
    return __libc_memalign(align, n);
}

int posix_memalign(void **p, size_t align, size_t n)
{
    atomic_fetch_add(&allocations, 1);
    *p = __libc_memalign(align, n);
    return *p ? 0 : 12; /* ENOMEM */
}
#endif

/* ---- Data ---------------------------------------------------------------------------- */

static uint64_t lcg_state;

static double uniform01(void)
{
    lcg_state = lcg_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(lcg_state >> 11) * 0x1.0p-53;
}

static double gaussian(void)
{
    double u = uniform01() + 1e-12, v = uniform01();
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* n samples of `features` uniform values in [-1, 1) and labels in [0, classes). */
static void random_data(float *x, int32_t *labels, int n, int features, int classes,
                        uint64_t seed)
{
    lcg_state = seed;
    for (int i = 0; i < n * features; i++)
        x[i] = (float)(2 * uniform01() - 1);
    for (int i = 0; i < n; i++)
        labels[i] = (int32_t)(uniform01() * classes);
}

/* A dense/relu/dense/softmax classifier compiled with Adam. */
static nn_model *classifier(int in, int hidden, int classes, int max_batch, uint64_t seed)
{
    nn_model *m;
    cr_assert_eq(nn_model_create(&m, nn_shape_1d(in)), NN_OK);
    cr_assert_eq(nn_model_add(m, nn_dense(hidden, NN_INIT_HE_NORMAL)), NN_OK);
    cr_assert_eq(nn_model_add(m, nn_relu()), NN_OK);
    cr_assert_eq(nn_model_add(m, nn_dense(classes, NN_INIT_GLOROT_UNIFORM)), NN_OK);
    cr_assert_eq(nn_model_add(m, nn_softmax()), NN_OK);
    cr_assert_eq(nn_model_watch(m, NN_METRIC_ACCURACY), NN_OK);
    nn_optimizer adam = nn_adam(0.01f);
    cr_assert_eq(nn_model_compile(m, &adam, NN_LOSS_CROSS_ENTROPY, max_batch, seed), NN_OK,
                 "%s", nn_last_error());
    return m;
}

/* ---- Learning -------------------------------------------------------------------------- */

Test(learn, xor_with_tanh_sigmoid_mse)
{
    const float x[8] = {0, 0, 0, 1, 1, 0, 1, 1}, y[4] = {0, 1, 1, 0};
    nn_model *m;
    cr_assert_eq(nn_model_create(&m, nn_shape_1d(2)), NN_OK);
    cr_assert_eq(nn_model_add(m, nn_dense(8, NN_INIT_GLOROT_UNIFORM)), NN_OK);
    cr_assert_eq(nn_model_add(m, nn_tanh()), NN_OK);
    cr_assert_eq(nn_model_add(m, nn_dense(1, NN_INIT_GLOROT_UNIFORM)), NN_OK);
    cr_assert_eq(nn_model_add(m, nn_sigmoid()), NN_OK);
    nn_optimizer sgd = nn_sgd(0.5f);
    sgd.momentum = 0.9f;
    cr_assert_eq(nn_model_compile(m, &sgd, NN_LOSS_MSE, 4, 7), NN_OK, "%s", nn_last_error());
    nn_dataset d = {.x = x, .y = y, .count = 4, .features = 2, .targets = 1};
    nn_history h;
    cr_assert_eq(nn_model_fit(m, &d, NULL, &(nn_fit_options){.epochs = 1000, .batch = 4, .seed = 3},
                              &h), NN_OK, "%s", nn_last_error());
    float out[4];
    cr_assert_eq(nn_model_predict(m, x, 4, out), NN_OK);
    for (int i = 0; i < 4; i++)
        cr_assert((out[i] > 0.5f) == (y[i] > 0.5f), "XOR(%g, %g) = %g", x[2 * i], x[2 * i + 1],
                  out[i]);
    cr_assert_lt(h.train_loss[999], h.train_loss[0] / 10, "loss %g -> %g", h.train_loss[0],
                 h.train_loss[999]);
    cr_assert(isnan(h.val_loss[0]), "no validation set");
    nn_history_free(&h);
    nn_model_free(m);
}

enum { BLOBS = 3, PER_BLOB = 100 };

/* Three Gaussian blobs in 2-D, centres on a circle, sigma 0.5. */
static void blobs(float *x, int32_t *labels)
{
    const double cx[BLOBS] = {2, -1, -1}, cy[BLOBS] = {0, 1.732, -1.732};
    lcg_state = 2024;
    for (int c = 0; c < BLOBS; c++)
        for (int i = 0; i < PER_BLOB; i++) {
            int r = c * PER_BLOB + i;
            x[2 * r] = (float)(cx[c] + 0.5 * gaussian());
            x[2 * r + 1] = (float)(cy[c] + 0.5 * gaussian());
            labels[r] = c;
        }
}

Test(learn, gaussian_blobs_relu_softmax_cross_entropy)
{
    float x[2 * BLOBS * PER_BLOB];
    int32_t labels[BLOBS * PER_BLOB];
    blobs(x, labels);
    nn_model *m = classifier(2, 16, BLOBS, 32, 5);
    nn_dataset d = {.x = x, .labels = labels, .count = BLOBS * PER_BLOB, .features = 2,
                    .targets = BLOBS};
    nn_history h;
    cr_assert_eq(nn_model_fit(m, &d, &d, &(nn_fit_options){.epochs = 20, .batch = 32, .seed = 9},
                              &h), NN_OK, "%s", nn_last_error());
    cr_assert_eq(h.epochs, 20);
    float acc = h.train_metric[NN_METRIC_ACCURACY][19];
    cr_assert_gt(acc, 0.95f, "training accuracy %g", acc);
    cr_assert_gt(h.val_metric[NN_METRIC_ACCURACY][19], 0.95f);
    cr_assert_null(h.train_metric[NN_METRIC_F1], "F1 was not watched");
    cr_assert_lt(h.val_loss[19], h.val_loss[0]);
    cr_assert_geq(h.seconds[0], 0.0f);
    nn_evaluation e;
    cr_assert_eq(nn_model_evaluate(m, &d, &e), NN_OK);
    cr_assert_float_eq(e.loss, h.val_loss[19], 1e-6, "evaluate is the validation path");
    cr_assert_float_eq(e.metric[NN_METRIC_ACCURACY], h.val_metric[NN_METRIC_ACCURACY][19], 1e-6);
    nn_evaluation_free(&e);
    nn_history_free(&h);
    nn_model_free(m);
}

/* ---- Batches, progress and NaN -------------------------------------------------------------- */

typedef struct progress_log {
    int calls, batches[8], sizes_ok;
    float loss[8];
} progress_log;

static void log_progress(const nn_progress *p, void *user)
{
    progress_log *log = user;
    if (log->calls < 8) {
        log->batches[log->calls] = p->batch;
        log->loss[log->calls] = p->loss;
    }
    log->sizes_ok = p->batches == 3 && p->epochs == 1;
    log->calls++;
}

Test(fit, last_partial_batch_is_used)
{
    float x[10 * 4];
    int32_t labels[10];
    random_data(x, labels, 10, 4, 3, 1);
    nn_model *m = classifier(4, 5, 3, 4, 1);
    nn_dataset d = {.x = x, .labels = labels, .count = 10, .features = 4, .targets = 3};
    progress_log log = {0};
    nn_fit_options o = {.epochs = 1, .batch = 4, .seed = 1, .progress = log_progress, .user = &log};
    nn_history h;
    cr_assert_eq(nn_model_fit(m, &d, NULL, &o, &h), NN_OK, "%s", nn_last_error());
    cr_assert_eq(log.calls, 3, "10 samples in batches of 4: 4 + 4 + 2");
    cr_assert(log.sizes_ok);
    cr_assert(log.batches[0] == 0 && log.batches[2] == 2);
    cr_assert_eq(m->steps, 3);
    cr_assert_float_eq(h.train_loss[0], log.loss[2], 1e-7, "history = final running mean");
    nn_history_free(&h);
    nn_model_free(m);
}

static float *params_snapshot;

/* Copies the weights before every batch: the last copy is from before the failing one. */
static void snapshot(const nn_progress *p, void *user)
{
    (void)p;
    nn_model *m = user;
    memcpy(params_snapshot, m->params, m->param_count * sizeof(float));
}

Test(fit, nan_stops_with_last_finite_weights)
{
    enum { N = 40 };
    float x[N * 3];
    int32_t labels[N];
    random_data(x, labels, N, 3, 2, 2);
    /* No activation between: the engine's vector ReLU/tanh/sigmoid map NaN to a finite
     * value (see the report), which would hide it from the loss. */
    nn_model *m;
    cr_assert_eq(nn_model_create(&m, nn_shape_1d(3)), NN_OK);
    cr_assert_eq(nn_model_add(m, nn_dense(4, NN_INIT_HE_NORMAL)), NN_OK);
    cr_assert_eq(nn_model_add(m, nn_dense(2, NN_INIT_HE_NORMAL)), NN_OK);
    cr_assert_eq(nn_model_add(m, nn_softmax()), NN_OK);
    nn_optimizer adam = nn_adam(0.01f);
    cr_assert_eq(nn_model_compile(m, &adam, NN_LOSS_CROSS_ENTROPY, 8, 2), NN_OK);
    x[17 * 3 + 1] = NAN;
    params_snapshot = malloc(m->param_count * sizeof(float));
    float before[64];
    memcpy(before, m->params, m->param_count * sizeof(float));
    memcpy(params_snapshot, m->params, m->param_count * sizeof(float));
    nn_dataset d = {.x = x, .labels = labels, .count = N, .features = 3, .targets = 2};
    nn_fit_options o = {.epochs = 3, .batch = 8, .seed = 4, .progress = snapshot, .user = m};
    nn_history h;
    cr_assert_eq(nn_model_fit(m, &d, NULL, &o, &h), NN_ERR_NUMERIC, "%s", nn_last_error());
    const char *e = nn_last_error();
    cr_assert(strstr(e, "epoch 1/3") && strstr(e, "batch ") && strstr(e, "loss is nan"), "%s", e);
    cr_assert_eq(h.epochs, 0, "no epoch completed");
    cr_assert(memcmp(params_snapshot, m->params, m->param_count * sizeof(float)) == 0,
              "the weights are those from before the failing batch");
    for (size_t i = 0; i < m->param_count; i++)
        cr_assert(isfinite(m->params[i]));
    /* A batch before the failing one did train, unless it was the first. */
    int batch = 0;
    cr_assert_eq(sscanf(strstr(e, "batch "), "batch %d", &batch), 1);
    cr_assert_eq(m->steps, batch - 1);
    if (batch > 1)
        cr_assert(memcmp(before, m->params, m->param_count * sizeof(float)) != 0);
    nn_history_free(&h);
    free(params_snapshot);
    nn_model_free(m);
}

Test(fit, rejects_bad_options_and_data)
{
    float x[8 * 3];
    int32_t labels[8];
    random_data(x, labels, 8, 3, 2, 3);
    nn_model *m = classifier(3, 4, 2, 4, 1);
    nn_dataset d = {.x = x, .labels = labels, .count = 8, .features = 3, .targets = 2};
    nn_fit_options o = {.epochs = 1, .batch = 5};
    cr_assert_eq(nn_model_fit(m, &d, NULL, &o, NULL), NN_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(nn_last_error(), "batch is 5"), "%s", nn_last_error());
    o = (nn_fit_options){.epochs = 0, .batch = 4};
    cr_assert_eq(nn_model_fit(m, &d, NULL, &o, NULL), NN_ERR_INVALID_ARGUMENT);
    o.epochs = 1;
    nn_dataset wrong = d;
    wrong.features = 4;
    cr_assert_eq(nn_model_fit(m, &wrong, NULL, &o, NULL), NN_ERR_INVALID_ARGUMENT);
    cr_assert_eq(nn_model_fit(m, &d, &wrong, &o, NULL), NN_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(nn_last_error(), "validation"), "%s", nn_last_error());
    wrong = d;
    wrong.count = 0;
    cr_assert_eq(nn_model_fit(m, &wrong, NULL, &o, NULL), NN_ERR_INVALID_ARGUMENT);
    labels[5] = 2;
    cr_assert_eq(nn_model_fit(m, &d, NULL, &o, NULL), NN_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(nn_last_error(), "sample 5"), "%s", nn_last_error());
    cr_assert_eq(m->steps, 0);
    nn_model_free(m);
}

/* ---- Determinism and fusion ----------------------------------------------------------------- */

enum { DET_N = 300, DET_IN = 784, DET_HIDDEN = 64, DET_CLASSES = 10 };

static void train_mnist_like(int threads, float *params_out, size_t *count)
{
    cr_assert_eq(nn_set_num_threads(threads), NN_OK);
    static float x[DET_N * DET_IN];
    static int32_t labels[DET_N];
    random_data(x, labels, DET_N, DET_IN, DET_CLASSES, 11);
    nn_model *m = classifier(DET_IN, DET_HIDDEN, DET_CLASSES, 64, 3);
    nn_dataset d = {.x = x, .labels = labels, .count = DET_N, .features = DET_IN,
                    .targets = DET_CLASSES};
    cr_assert_eq(nn_model_fit(m, &d, NULL, &(nn_fit_options){.epochs = 3, .batch = 64, .seed = 5},
                              NULL), NN_OK, "%s", nn_last_error());
    memcpy(params_out, m->params, m->param_count * sizeof(float));
    *count = m->param_count;
    nn_model_free(m);
}

Test(determinism, same_weights_for_1_2_3_threads)
{
    enum { P = DET_IN * DET_HIDDEN + DET_HIDDEN + DET_HIDDEN * DET_CLASSES + DET_CLASSES };
    static float w[3][P];
    size_t n = 0;
    for (int t = 1; t <= 3; t++)
        train_mnist_like(t, w[t - 1], &n);
    cr_assert_eq(n, (size_t)P);
    cr_assert(memcmp(w[0], w[1], sizeof w[0]) == 0, "1 vs 2 threads");
    cr_assert(memcmp(w[0], w[2], sizeof w[0]) == 0, "1 vs 3 threads");
}

/* dense+activation fused (epilogue) against the same net with a no-op dropout between,
 * which stops fusion: same predictions, same weights after training. */
static nn_model *maybe_fused(int fused, nn_layer *act)
{
    nn_model *m;
    cr_assert_eq(nn_model_create(&m, nn_shape_1d(6)), NN_OK);
    cr_assert_eq(nn_model_add(m, nn_dense(9, NN_INIT_GLOROT_NORMAL)), NN_OK);
    if (!fused)
        cr_assert_eq(nn_model_add(m, nn_dropout(0.0f)), NN_OK);
    cr_assert_eq(nn_model_add(m, act), NN_OK);
    cr_assert_eq(nn_model_add(m, nn_dense(3, NN_INIT_GLOROT_NORMAL)), NN_OK);
    cr_assert_eq(nn_model_add(m, nn_softmax()), NN_OK);
    nn_optimizer sgd = nn_sgd(0.2f);
    cr_assert_eq(nn_model_compile(m, &sgd, NN_LOSS_CROSS_ENTROPY, 8, 77), NN_OK);
    cr_assert_eq(m->layers[0]->fused != NN_ACT_NONE, fused);
    return m;
}

Test(fusion, fused_equals_unfused)
{
    float x[20 * 6];
    int32_t labels[20];
    random_data(x, labels, 20, 6, 3, 8);
    nn_dataset d = {.x = x, .labels = labels, .count = 20, .features = 6, .targets = 3};
    nn_layer *(*acts[3])(void) = {nn_relu, nn_sigmoid, nn_tanh};
    for (int a = 0; a < 3; a++) {
        nn_model *f = maybe_fused(1, acts[a]()), *u = maybe_fused(0, acts[a]());
        float pf[60], pu[60];
        cr_assert_eq(nn_model_predict(f, x, 20, pf), NN_OK);
        cr_assert_eq(nn_model_predict(u, x, 20, pu), NN_OK);
        cr_assert(memcmp(pf, pu, sizeof pf) == 0, "activation %d: predictions differ", a);
        nn_fit_options o = {.epochs = 2, .batch = 8, .seed = 1};
        cr_assert_eq(nn_model_fit(f, &d, NULL, &o, NULL), NN_OK);
        cr_assert_eq(nn_model_fit(u, &d, NULL, &o, NULL), NN_OK);
        cr_assert(memcmp(f->params, u->params, f->param_count * sizeof(float)) == 0,
                  "activation %d: trained weights differ", a);
        nn_model_free(f);
        nn_model_free(u);
    }
}

/* ---- No allocation in the training step --------------------------------------------------- */

typedef struct window {
    int open_at, close_at, epoch;
    long at_open, inside;
} window;

/* Counts allocations from after batch `open_at` to after batch `close_at` of `epoch`: the
 * training steps of the batches in between, and this callback itself. */
static void watch_window(const nn_progress *p, void *user)
{
    window *w = user;
    if (p->epoch != w->epoch)
        return;
    if (p->batch == w->open_at)
        w->at_open = atomic_load(&allocations);
    if (p->batch == w->close_at)
        w->inside = atomic_load(&allocations) - w->at_open;
}

static long allocations_of_fit(nn_model *m, const nn_dataset *d, int epochs, int batch)
{
    long before = atomic_load(&allocations);
    nn_status st = nn_model_fit(m, d, d, &(nn_fit_options){.epochs = epochs, .batch = batch,
                                                          .seed = 2}, NULL);
    long used = atomic_load(&allocations) - before;
    cr_assert_eq(st, NN_OK, "%s", nn_last_error());
    return used;
}

Test(memory, no_allocation_in_the_training_step)
{
#if !NN_COUNT_MALLOC
    cr_skip_test("allocation counting is off under AddressSanitizer");
#endif
    enum { N = 1000, IN = 100 };
    static float x[N * IN];
    static int32_t labels[N];
    random_data(x, labels, N, IN, 10, 6);
    nn_model *m = classifier(IN, 64, 10, 100, 1);
    nn_dataset d = {.x = x, .labels = labels, .count = N, .features = IN, .targets = 10};
    nn_dataset d10, d100;
    cr_assert_eq(nn_dataset_rows(&d, 0, 100, &d10), NN_OK);
    cr_assert_eq(nn_dataset_rows(&d, 0, N, &d100), NN_OK);

    long before = atomic_load(&allocations);
    /* Warm-up, with validation in chunks of max_batch: GEMM workspaces, thread teams. */
    cr_assert_eq(nn_model_fit(m, &d, &d, &(nn_fit_options){.epochs = 1, .batch = 10, .seed = 1},
                              NULL), NN_OK);
    cr_assert_gt(atomic_load(&allocations), before, "the counter counts (fit's shuffle order)");

    window w = {.open_at = 1, .close_at = 98, .epoch = 1};
    nn_fit_options o = {.epochs = 2, .batch = 10, .seed = 1, .progress = watch_window, .user = &w};
    cr_assert_eq(nn_model_fit(m, &d, NULL, &o, NULL), NN_OK);
    cr_assert_eq(w.inside, 0, "%ld allocations in 97 training steps", w.inside);

    /* A whole fit (with validation) allocates as often for 10 batches as for 100. */
    long small = allocations_of_fit(m, &d10, 2, 10), large = allocations_of_fit(m, &d100, 2, 10);
    cr_assert_eq(small, large, "10 batches: %ld allocations, 100 batches: %ld", small, large);
    nn_model_free(m);
}
