/*
 * mnist/progress.h — the progress bar of `mnist train`, fed by nn_model_fit's per-batch
 * callback.  On a terminal it redraws one line with \r at most 10 times a second:
 *   epoch 3/15 [#########.........]  312/500  61234 img/s  ETA 0.4 s  loss 0.1234
 * and erases it before the epoch's summary line.  Elsewhere it draws nothing.
 */
#ifndef NN_MNIST_PROGRESS_H
#define NN_MNIST_PROGRESS_H

#include <stdio.h>

#include <nn/layers.h>

typedef struct progress_bar {
    FILE *out;
    int enabled;         /* out is a terminal */
    int batch;           /* images per batch, for images/s */
    int epoch, epochs;   /* 0-based epoch and total, as the user sees them */
    double start, last;  /* this epoch's start, the last redraw (monotonic seconds) */
    int drawn;           /* a bar is on screen */
} progress_bar;

/* A bar on out, drawn only when out is a terminal. */
void progress_init(progress_bar *bar, FILE *out, int batch);

/* Feeds the bar from nn_fit_options.progress (bar = its user data); an epoch's first
 * batch restarts its clock. */
void progress_update(progress_bar *bar, const nn_progress *p);

/* Erases the bar, so the next line starts clean. */
void progress_clear(progress_bar *bar);

/* Monotonic seconds. */
double progress_now(void);

#endif /* NN_MNIST_PROGRESS_H */
