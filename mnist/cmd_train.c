/*
 * mnist/cmd_train.c — `mnist train`: options, then data, model, one fit (each epoch's
 * line printed as it ends), the test set, the model file and its history, log, plot,
 * JSON.  The pipeline is shared with `mnist compare` through train.h.
 *
 * Every option is checked, and every output path tried, before the data is read: a bad
 * command line costs nothing and never touches an existing model file.  The model is
 * written (atomically, by nn_model_save) only after training and testing succeeded.
 */
#define _GNU_SOURCE /* getopt_long */

#include <getopt.h>
#include <limits.h>
#include <string.h>

#include "commands.h"
#include "plot.h"
#include "progress.h"
#include "train.h"

/* ---- Models ---------------------------------------------------------------------------- */

static const model_spec models[] = {
    /* The report's well-fitting network: He, He, Glorot uniform; ReLU, ReLU, softmax. */
    {"mlp", "784-256-256-10", {256, 256}, 0, "sgd", "constant", 15, 100},
    /* The report's overfitting network (its figures 5-6, with batch 5 and 30 epochs). */
    {"mlp32", "784-32-10", {32, 0}, 0, "sgd", "constant", 15, 100},
    /* Conv(32, 3x3)-ReLU-MaxPool(2), Conv(64, 3x3)-ReLU-MaxPool(2), Dense(128)-ReLU,
     * Dense(10)-softmax; Adam 1e-3, batch 64, 3 epochs.  The rate follows a cosine from
     * 1e-3 down to 0 over the steps: at a constant 1e-3 the last epoch's validation
     * accuracy swings by half a point from seed to seed. */
    {"cnn", "conv32-conv64-128-10", {0, 0}, 1, "adam", "cosine", 3, 64},
};
#define MODEL_COUNT (sizeof models / sizeof models[0])

const model_spec *train_find_model(const char *name)
{
    for (size_t i = 0; i < MODEL_COUNT; i++)
        if (strcmp(models[i].name, name) == 0)
            return &models[i];
    return NULL;
}

/* Appends layers while every previous one was accepted. */
static nn_status add(nn_model *m, nn_status st, nn_layer *layer)
{
    if (st != NN_OK) {
        nn_layer_free(layer);
        return st;
    }
    return nn_model_add(m, layer);
}

/* Two convolution blocks (He normal, no padding), flattened into a dense ReLU layer. */
static nn_status add_conv_blocks(nn_model *m)
{
    nn_status st = NN_OK;
    static const int filters[2] = {32, 64};
    for (int i = 0; i < 2; i++) {
        st = add(m, st, nn_conv2d(filters[i], 3, 1, 0, NN_INIT_HE_NORMAL));
        st = add(m, st, nn_relu());
        st = add(m, st, nn_maxpool2d(2, 2));
    }
    st = add(m, st, nn_flatten());
    st = add(m, st, nn_dense(128, NN_INIT_HE_NORMAL));
    return add(m, st, nn_relu());
}

/* The spec's layers (He normal before ReLU, Glorot uniform before the softmax), compiled. */
static int build_model(const model_spec *spec, int rows, int cols, const nn_optimizer *opt,
                       int batch, uint64_t seed, nn_model **out)
{
    nn_model *m = NULL;
    nn_shape input = spec->convolutional ? nn_shape_3d(1, rows, cols) : nn_shape_1d(rows * cols);
    if (nn_model_create(&m, input) != NN_OK)
        return cli_fail("building the model");
    nn_status st = spec->convolutional ? add_conv_blocks(m) : NN_OK;
    for (int i = 0; i < 2 && spec->hidden[i]; i++) {
        st = add(m, st, nn_dense(spec->hidden[i], NN_INIT_HE_NORMAL));
        st = add(m, st, nn_relu());
    }
    st = add(m, st, nn_dense(10, NN_INIT_GLOROT_UNIFORM));
    st = add(m, st, nn_softmax());
    if (st == NN_OK)
        st = nn_model_watch(m, NN_METRIC_ACCURACY);
    if (st == NN_OK)
        st = nn_model_compile(m, opt, NN_LOSS_CROSS_ENTROPY, batch, seed);
    if (st != NN_OK) {
        nn_model_free(m);
        return cli_fail("building the model");
    }
    *out = m;
    return EXIT_OK;
}

/* ---- Options ------------------------------------------------------------------------------ */

enum { OPT_DATASET = 256, OPT_DATA_DIR, OPT_MODEL, OPT_EPOCHS, OPT_BATCH, OPT_OPTIMIZER, OPT_LR,
       OPT_SCHEDULE, OPT_THREADS, OPT_SEED, OPT_OUT, OPT_LOG, OPT_PLOT, OPT_JSON, OPT_VAL,
       OPT_HELP };

static const struct option long_options[] = {
    {"dataset", required_argument, NULL, OPT_DATASET},
    {"data-dir", required_argument, NULL, OPT_DATA_DIR},
    {"model", required_argument, NULL, OPT_MODEL},
    {"epochs", required_argument, NULL, OPT_EPOCHS},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"optimizer", required_argument, NULL, OPT_OPTIMIZER},
    {"lr", required_argument, NULL, OPT_LR},
    {"schedule", required_argument, NULL, OPT_SCHEDULE},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"out", required_argument, NULL, OPT_OUT},
    {"log", required_argument, NULL, OPT_LOG},
    {"plot", required_argument, NULL, OPT_PLOT},
    {"json", no_argument, NULL, OPT_JSON},
    {"val", required_argument, NULL, OPT_VAL},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* One option's value into o; EXIT_OK or EXIT_USAGE. */
static int apply_option(int c, const char *arg, train_options *o)
{
    const command *cmd = o->cmd;
    switch (c) {
    case OPT_DATASET: o->dataset = arg; return EXIT_OK;
    case OPT_DATA_DIR: o->data_dir = arg; return EXIT_OK;
    case OPT_MODEL: o->model = arg; return EXIT_OK;
    case OPT_OPTIMIZER: o->optimizer = arg; return EXIT_OK;
    case OPT_SCHEDULE: o->schedule = arg; return EXIT_OK;
    case OPT_OUT: o->out = arg; return EXIT_OK;
    case OPT_LOG: o->log = arg; return EXIT_OK;
    case OPT_PLOT: o->plot = arg; return EXIT_OK;
    case OPT_JSON: o->json = 1; return EXIT_OK;
    case OPT_EPOCHS: return cli_parse_int(cmd, "--epochs", arg, 1, 100000, &o->epochs);
    case OPT_BATCH: return cli_parse_int(cmd, "--batch", arg, 1, 65536, &o->batch);
    case OPT_THREADS: return cli_parse_int(cmd, "--threads", arg, 1, 1024, &o->threads);
    case OPT_VAL: return cli_parse_int(cmd, "--val", arg, 0, INT_MAX, &o->val);
    case OPT_SEED: return cli_parse_u64(cmd, "--seed", arg, &o->seed);
    case OPT_LR:
        o->lr_given = 1;
        return cli_parse_positive_float(cmd, "--lr", arg, &o->lr);
    }
    return EXIT_USAGE;
}

train_options train_options_default(const command *cmd)
{
    return (train_options){.cmd = cmd, .dataset = "mnist", .model = "mlp", .val = 10000,
                           .seed = 1};
}

/* Names and paths: model, optimizer, data set, the plot's type, every output path. */
int train_check_options(train_options *o)
{
    const command *cmd = o->cmd;
    if (!(o->spec = train_find_model(o->model)))
        return cli_usage_error(cmd, "--model: unknown model '%s' (available: mlp, mlp32, cnn)",
                               o->model);
    /* The model's own defaults for what the command line left out. */
    if (!o->optimizer)
        o->optimizer = o->spec->optimizer;
    if (!o->schedule)
        o->schedule = o->spec->schedule;
    if (!o->epochs)
        o->epochs = o->spec->epochs;
    if (!o->batch)
        o->batch = o->spec->batch;
    if (strcmp(o->optimizer, "sgd") != 0 && strcmp(o->optimizer, "adam") != 0)
        return cli_usage_error(cmd, "--optimizer: unknown optimizer '%s' (available: sgd, adam)",
                               o->optimizer);
    if (strcmp(o->schedule, "constant") != 0 && strcmp(o->schedule, "cosine") != 0)
        return cli_usage_error(cmd, "--schedule: unknown schedule '%s' (available: constant, "
                               "cosine)", o->schedule);
    if (!o->lr_given)
        o->lr = strcmp(o->optimizer, "adam") == 0 ? 1e-3f : 0.04f;
    const char *why;
    if (o->plot && plot_check_path(o->plot, &why) != 0)
        return cli_usage_error(cmd, "--plot %s: %s", o->plot, why);
    int rc = cli_data_dir(cmd, o->dataset, o->data_dir, o->dir, sizeof o->dir);
    if (rc != EXIT_OK)
        return rc;
    if (!o->out) {
        snprintf(o->default_out, sizeof o->default_out, "models/%s.safetensors", o->spec->name);
        o->out = o->default_out;
    }
    const char *const names[] = {"--out", "--log", "--plot"};
    const char *const paths[] = {o->out, o->log, o->plot};
    for (int i = 0; i < 3 && rc == EXIT_OK; i++)
        if (paths[i] && (rc = cli_make_models_dir(paths[i])) == EXIT_OK)
            rc = cli_check_writable(names[i], paths[i]);
    return rc == EXIT_OK ? cli_set_threads(o->threads) : rc;
}

static int parse_options(int argc, char **argv, train_options *o)
{
    /* optimizer, epochs and batch come from the model unless given (check_options). */
    *o = train_options_default(&cmd_train);
    int c, rc;
    while ((c = getopt_long(argc, argv, "+", long_options, NULL)) != -1) {
        if (c == OPT_HELP)
            return cli_usage(&cmd_train, stdout, 1), -1;
        if (c == '?' || c == ':')
            return cli_bad_option(&cmd_train, argv);
        if ((rc = apply_option(c, optarg, o)) != EXIT_OK)
            return rc;
    }
    if (optind < argc)
        return cli_usage_error(&cmd_train, "unexpected argument '%s'", argv[optind]);
    return train_check_options(o);
}

/* ---- Training ------------------------------------------------------------------------------ */

int train_load_data(const train_options *o, train_data *d)
{
    memset(d, 0, sizeof *d);
    if (cli_load_split(o->dir, "train", &d->train) != EXIT_OK ||
        cli_load_split(o->dir, "t10k", &d->test) != EXIT_OK)
        return EXIT_ERROR;
    if (o->val >= d->train.count)
        return cli_usage_error(o->cmd, "--val %d leaves no training images (the training "
                               "set in %s has %d)", o->val, o->dir, d->train.count);
    if (d->test.rows != d->train.rows || d->test.cols != d->train.cols)
        return cli_error("%s: the test images are %dx%d, the training images %dx%d", o->dir,
                         d->test.rows, d->test.cols, d->train.rows, d->train.cols);
    int fit_count = d->train.count - o->val;
    d->fit = cli_dataset(&d->train, 0, fit_count);
    d->val = cli_dataset(&d->train, fit_count, o->val);
    d->test_set = cli_dataset(&d->test, 0, d->test.count);
    return EXIT_OK;
}

void train_free_data(train_data *d)
{
    cli_split_free(&d->train);
    cli_split_free(&d->test);
}

/* What fit's callbacks share: the bar, and the record each finished epoch goes into. */
typedef struct fit_context {
    progress_bar bar;
    train_record *r;
} fit_context;

static void on_batch(const nn_progress *p, void *user)
{
    progress_update(&((fit_context *)user)->bar, p);
}

static void on_epoch(const nn_history *h, int e, void *user)
{
    fit_context *ctx = user;
    train_record *r = ctx->r;
    progress_clear(&ctx->bar);
    r->seconds[e] = h->seconds[e];
    r->train_loss[e] = h->train_loss[e];
    r->train_accuracy[e] = h->train_metric[NN_METRIC_ACCURACY][e];
    r->val_loss[e] = h->val_loss[e];
    r->val_accuracy[e] = h->val_metric[NN_METRIC_ACCURACY][e];
    r->done = e + 1;
    report_epoch_line(ctx->bar.out, r, e);
}

static int fit(nn_model *m, const train_options *o, const train_data *d, FILE *info,
               train_record *r)
{
    fit_context ctx = {.r = r};
    progress_init(&ctx.bar, info, o->batch);
    nn_fit_options fo = {.epochs = o->epochs, .batch = o->batch, .seed = o->seed,
                         .progress = on_batch, .epoch_end = on_epoch, .user = &ctx};
    nn_history h;
    nn_status st = nn_model_fit(m, &d->fit, o->val > 0 ? &d->val : NULL, &fo, &h);
    progress_clear(&ctx.bar);
    nn_history_free(&h);
    return st == NN_OK ? EXIT_OK : cli_fail("training");
}

static void print_header(FILE *info, const train_options *o, const train_record *r)
{
    fprintf(info, "training %s (%s) on %s: %d train / %d val / %d test images; %s lr %g "
                  "(%s), batch %d, %d epochs, seed %llu; %d threads, %s\n",
            o->spec->name, o->spec->shape, o->dataset, r->train_count, r->val_count,
            r->test_count, o->optimizer, (double)o->lr, o->schedule, o->batch, o->epochs,
            (unsigned long long)o->seed, r->threads, r->isa);
}

static int test_model(nn_model *m, const train_data *d, train_record *r, FILE *info)
{
    nn_evaluation ev;
    if (nn_model_evaluate(m, &d->test_set, &ev) != NN_OK)
        return cli_fail("testing");
    r->test_loss = ev.loss;
    r->test_accuracy = ev.metric[NN_METRIC_ACCURACY];
    nn_evaluation_free(&ev);
    fprintf(info, "test  loss %.4f acc %.2f%%  (%d images)\n", (double)r->test_loss,
            100.0 * r->test_accuracy, r->test_count);
    return EXIT_OK;
}

static int write_log(const char *path, const train_record *r)
{
    char tmp[MNIST_PATH_MAX + 32];
    FILE *f = cli_temp_open(path, tmp, sizeof tmp);
    if (!f)
        return EXIT_ERROR;
    report_train_csv(f, r);
    return cli_temp_commit(f, tmp, path);
}

int train_history_path(const char *model_path, char *buf, size_t size)
{
    static const char suffix[] = ".safetensors";
    size_t stem = strlen(model_path);
    if (cli_has_suffix(model_path, suffix))
        stem -= sizeof suffix - 1;
    int n = snprintf(buf, size, "%.*s.history.json", (int)stem, model_path);
    if (n < 0 || (size_t)n >= size)
        return cli_error("%s: the path is too long", model_path);
    return EXIT_OK;
}

/* The history beside the model, as `--json` prints it (`mnist compare --reuse` reads it). */
static int write_history(const char *model_path, const train_record *r)
{
    char path[MNIST_PATH_MAX], tmp[MNIST_PATH_MAX + 32];
    if (train_history_path(model_path, path, sizeof path) != EXIT_OK)
        return EXIT_ERROR;
    FILE *f = cli_temp_open(path, tmp, sizeof tmp);
    if (!f)
        return EXIT_ERROR;
    if (report_train_json(f, r) != 0) {
        cli_temp_discard(f, tmp);
        return cli_error("out of memory writing %s", path);
    }
    return cli_temp_commit(f, tmp, path);
}

/* After training: the model file and its history, then log, plot and JSON; the first
 * failure decides the exit status, but the JSON is printed whenever the model was saved. */
static int save_outputs(nn_model *m, const train_options *o, const train_record *r, FILE *info)
{
    if (nn_model_save(m, o->out) != NN_OK)
        return cli_fail(o->out);
    fprintf(info, "model saved to %s\n", o->out);
    int rc = write_history(o->out, r);
    if (o->log && (rc = write_log(o->log, r)) == EXIT_OK)
        fprintf(info, "history written to %s\n", o->log);
    if (o->plot && rc == EXIT_OK && (rc = plot_history(r, o->plot)) == EXIT_OK)
        fprintf(info, "plot written to %s\n", o->plot);
    if (o->json && report_train_json(stdout, r) != 0 && rc == EXIT_OK)
        rc = cli_error("out of memory writing the JSON report");
    return rc;
}

int train_record_init(train_record *r, const train_options *o, const train_data *d)
{
    *r = (train_record){.model = o->spec->name, .dataset = o->dataset,
                        .optimizer = o->optimizer, .schedule = o->schedule,
                        .isa = nn_isa_name(nn_get_isa()), .epochs = o->epochs,
                        .batch = o->batch, .threads = nn_get_num_threads(),
                        .train_count = d->fit.count, .val_count = o->val,
                        .test_count = d->test.count, .lr = o->lr, .seed = o->seed};
    if (train_record_alloc(r) != 0)
        return cli_error("out of memory");
    return EXIT_OK;
}

int train_run(const train_options *o, const train_data *d, train_record *r, FILE *info)
{
    nn_optimizer opt = strcmp(o->optimizer, "adam") == 0 ? nn_adam(o->lr) : nn_sgd(o->lr);
    if (strcmp(o->schedule, "cosine") == 0) /* from lr down to 0 at the end of training */
        opt.schedule = (nn_schedule){.kind = NN_SCHEDULE_COSINE, .epochs = o->epochs};
    nn_model *m = NULL;
    int rc = build_model(o->spec, d->train.rows, d->train.cols, &opt, o->batch, o->seed, &m);
    if (rc != EXIT_OK)
        return rc;
    print_header(info, o, r);
    rc = fit(m, o, d, info, r);
    if (rc == EXIT_OK)
        rc = test_model(m, d, r, info);
    if (rc == EXIT_OK)
        rc = save_outputs(m, o, r, info);
    nn_model_free(m);
    return rc;
}

static int train_main(const command *cmd, int argc, char **argv)
{
    (void)cmd;
    train_options o;
    int rc = parse_options(argc, argv, &o);
    if (rc != EXIT_OK)
        return rc < 0 ? EXIT_OK : rc;
    train_data d;
    if ((rc = train_load_data(&o, &d)) != EXIT_OK)
        return train_free_data(&d), rc;
    train_record r;
    rc = train_record_init(&r, &o, &d);
    if (rc == EXIT_OK)
        rc = train_run(&o, &d, &r, o.json ? stderr : stdout);
    train_record_free(&r);
    train_free_data(&d);
    return rc;
}

const command cmd_train = {
    "train", "train a network on the training set, test it, save it",
    "[--dataset D] [--data-dir DIR] [--model mlp|mlp32|cnn] [--epochs N] [--batch N]\n"
    "                   [--optimizer sgd|adam] [--lr X] [--schedule constant|cosine]\n"
    "                   [--threads N] [--seed N] [--val N]\n"
    "                   [--out FILE] [--log FILE.csv] [--plot FILE.png|FILE.svg] [--json]",
    "  --dataset NAME   mnist (default) or fashion\n"
    "  --data-dir DIR   where the IDX files are (default: data/NAME; see mnist fetch)\n"
    "  --model NAME     mlp: 784-256-256-10, ReLU, ReLU, softmax; He, He, Glorot uniform\n"
    "                   (default, the report's well-fitting network); mlp32: 784-32-10\n"
    "                   (the report's overfitting one, with --batch 5 --epochs 30);\n"
    "                   cnn: conv32-conv64 (3x3, ReLU, 2x2 max pooling), dense 128, 10\n"
    "  --epochs N       passes over the training set (default 15; cnn: 3)\n"
    "  --batch N        images per step (default 100; cnn: 64)\n"
    "  --optimizer NAME sgd (default) or adam (cnn's default)\n"
    "  --lr X           learning rate, > 0 (default 0.04 for sgd, 0.001 for adam)\n"
    "  --schedule NAME  constant (default) or cosine (cnn's default): after t epochs\n"
    "                   (counted step by step) the rate is lr (1 + cos(pi t / epochs)) / 2\n"
    "  --threads N      threads (default: NN_NUM_THREADS, OMP_NUM_THREADS, else the\n"
    "                   physical cores)\n"
    "  --seed N         initial weights and shuffling (default 1)\n"
    "  --val N          the last N training images validate, the rest train (default\n"
    "                   10000; 0: no validation)\n"
    "  --out FILE       the model file (default models/MODEL.safetensors), written\n"
    "                   atomically once training and testing succeeded, and beside it\n"
    "                   its history as JSON (MODEL.history.json, for mnist compare)\n"
    "  --log FILE.csv   the history: epoch,train_loss,train_accuracy,val_loss,\n"
    "                   val_accuracy,seconds\n"
    "  --plot FILE      training vs validation loss and accuracy per epoch, .png or .svg,\n"
    "                   drawn by gnuplot (apt-get install gnuplot-nox)\n"
    "  --json           one JSON object with the configuration and history on stdout;\n"
    "                   the progress and epoch lines go to stderr\n"
    "Pixels are converted once, at load, to floats in [0, 1] (pixel / 255): simpler than\n"
    "per batch and fast enough (60000 x 784 floats = 188 MB).  On a terminal a progress\n"
    "bar shows each epoch; then one line per epoch, the test result, the saved model.\n",
    train_main,
};
