/*
 * mnist/train.h — the training pipeline behind `mnist train`, shared with `mnist compare`:
 * the networks, their options and defaults, the data split, and one run (build, fit,
 * test, save the model and its history).
 */
#ifndef NN_MNIST_TRAIN_H
#define NN_MNIST_TRAIN_H

#include "cli.h"
#include "fetch.h"
#include "report.h"

/* A network `--model` names, with the defaults it trains with. */
typedef struct model_spec {
    const char *name, *shape;  /* "mlp", "784-256-256-10" */
    int hidden[2];             /* dense stacks: hidden ReLU layers' units; 0 ends the list */
    int convolutional;         /* the CNN: images in as 1 x rows x cols */
    const char *optimizer;     /* defaults, where the command line gives none */
    const char *schedule;
    int epochs, batch;
} model_spec;

/* The spec named `name`, or NULL. */
const model_spec *train_find_model(const char *name);

typedef struct train_options {
    const command *cmd;        /* whose usage errors name */
    const char *dataset, *data_dir, *model, *optimizer, *schedule, *out, *log, *plot;
    int epochs, batch, threads, val, json, lr_given;
    float lr;
    uint64_t seed;
    const model_spec *spec;
    char dir[MNIST_PATH_MAX], default_out[64];
} train_options;

/* The command line's defaults: mnist, mlp, 10000 validation images, seed 1. */
train_options train_options_default(const command *cmd);

/* Resolves the model and its defaults for what was not given, checks every name and
 * output path (creating models/ for the default --out) and sets the threads. */
int train_check_options(train_options *o);

/* The data: training (minus the last o->val images, which validate) and test. */
typedef struct train_data {
    cli_split train, test;
    nn_dataset fit, val, test_set;
} train_data;

int train_load_data(const train_options *o, train_data *d);
void train_free_data(train_data *d);

/* r's configuration from o and d, and its per-epoch arrays; EXIT_OK or EXIT_ERROR. */
int train_record_init(train_record *r, const train_options *o, const train_data *d);

/* Builds o->spec, trains it with a progress bar and a line per epoch on info, tests it,
 * and saves the model to o->out with its history beside it (train_history_path); then
 * o->log, o->plot and o->json.  Returns EXIT_OK or the exit status (message printed). */
int train_run(const train_options *o, const train_data *d, train_record *r, FILE *info);

/* Where the history of the model at `model_path` is kept: the path with ".safetensors"
 * replaced by (or, without it, followed by) ".history.json".  EXIT_OK, or EXIT_ERROR
 * when it does not fit in size. */
int train_history_path(const char *model_path, char *buf, size_t size);

#endif /* NN_MNIST_TRAIN_H */
