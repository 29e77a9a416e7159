/*
 * mnist/cmd_compare.c — `mnist compare`: the report's two networks side by side.
 *
 * Trains the MLP and the CNN with their own defaults (train.h) on one split of the data,
 * or with --reuse loads the models a previous `mnist train` or `compare` saved, with the
 * histories saved beside them.  Then it evaluates each final model on the training,
 * validation and test images (the same measure for all three columns, unlike the running
 * training loss of an epoch line), prints one table and draws both histories in one plot.
 */
#define _GNU_SOURCE /* getopt_long */

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "plot.h"
#include "train.h"

enum { NETS = 2, COMPARE_BATCH = 1000 };
static const char *const net_names[NETS] = {"mlp", "cnn"};

typedef struct compare_options {
    train_options base;        /* data set, directory, split, seed, threads */
    const char *path[NETS];    /* model files */
    const char *plot;
    int reuse, json;
} compare_options;

/* Whether h holds a history (training filled it, or the file beside the model did):
 * a record never filled, or freed after a failed read, has no arrays. */
static int has_history(const train_record *h) { return h->seconds != NULL; }

/* ---- Options ------------------------------------------------------------------------- */

enum { OPT_DATASET = 256, OPT_DATA_DIR, OPT_MLP, OPT_CNN, OPT_REUSE, OPT_PLOT, OPT_JSON,
       OPT_THREADS, OPT_SEED, OPT_VAL, OPT_HELP };

static const struct option long_options[] = {
    {"dataset", required_argument, NULL, OPT_DATASET},
    {"data-dir", required_argument, NULL, OPT_DATA_DIR},
    {"mlp", required_argument, NULL, OPT_MLP},
    {"cnn", required_argument, NULL, OPT_CNN},
    {"reuse", no_argument, NULL, OPT_REUSE},
    {"plot", required_argument, NULL, OPT_PLOT},
    {"json", no_argument, NULL, OPT_JSON},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"val", required_argument, NULL, OPT_VAL},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static int apply_option(int c, const char *arg, compare_options *o)
{
    const command *cmd = &cmd_compare;
    train_options *b = &o->base;
    switch (c) {
    case OPT_DATASET: b->dataset = arg; return EXIT_OK;
    case OPT_DATA_DIR: b->data_dir = arg; return EXIT_OK;
    case OPT_MLP: o->path[0] = arg; return EXIT_OK;
    case OPT_CNN: o->path[1] = arg; return EXIT_OK;
    case OPT_REUSE: o->reuse = 1; return EXIT_OK;
    case OPT_PLOT: o->plot = arg; return EXIT_OK;
    case OPT_JSON: o->json = 1; return EXIT_OK;
    case OPT_THREADS: return cli_parse_int(cmd, "--threads", arg, 1, 1024, &b->threads);
    case OPT_SEED: return cli_parse_u64(cmd, "--seed", arg, &b->seed);
    case OPT_VAL: return cli_parse_int(cmd, "--val", arg, 0, INT_MAX, &b->val);
    }
    return EXIT_USAGE;
}

/* Defaults (models/mlp.safetensors, models/cnn.safetensors, models/compare.png), then the
 * checks: with --reuse the models must exist; otherwise every output must be writable. */
static int check_options(compare_options *o)
{
    static const char *const default_path[NETS] = {"models/mlp.safetensors",
                                                   "models/cnn.safetensors"};
    const command *cmd = &cmd_compare;
    for (int i = 0; i < NETS; i++)
        if (!o->path[i])
            o->path[i] = default_path[i];
    if (!o->plot)
        o->plot = "models/compare.png";
    const char *why;
    if (plot_check_path(o->plot, &why) != 0)
        return cli_usage_error(cmd, "--plot %s: %s", o->plot, why);
    int rc = cli_data_dir(cmd, o->base.dataset, o->base.data_dir, o->base.dir,
                          sizeof o->base.dir);
    if (rc != EXIT_OK)
        return rc;
    if (cli_make_models_dir(o->plot) != EXIT_OK)
        return EXIT_ERROR;
    for (int i = 0; i < NETS && rc == EXIT_OK; i++) {
        if (!o->reuse && cli_make_models_dir(o->path[i]) != EXIT_OK)
            return EXIT_ERROR;
        if (o->reuse && access(o->path[i], R_OK) != 0)
            return cli_error("--reuse: %s: %s; train it first: mnist train --model %s%s%s",
                             o->path[i], strerror(errno), net_names[i],
                             strcmp(o->path[i], default_path[i]) ? " --out " : "",
                             strcmp(o->path[i], default_path[i]) ? o->path[i] : "");
        if (!o->reuse)
            rc = cli_check_writable(i ? "--cnn" : "--mlp", o->path[i]);
    }
    if (rc == EXIT_OK)
        rc = cli_check_writable("--plot", o->plot);
    return rc == EXIT_OK ? cli_set_threads(o->base.threads) : rc;
}

static int parse_options(int argc, char **argv, compare_options *o)
{
    *o = (compare_options){.base = train_options_default(&cmd_compare)};
    int c, rc;
    while ((c = getopt_long(argc, argv, "+", long_options, NULL)) != -1) {
        if (c == OPT_HELP)
            return cli_usage(&cmd_compare, stdout, 1), -1;
        if (c == '?' || c == ':')
            return cli_bad_option(&cmd_compare, argv);
        if ((rc = apply_option(c, optarg, o)) != EXIT_OK)
            return rc;
    }
    if (optind < argc)
        return cli_usage_error(&cmd_compare, "unexpected argument '%s'", argv[optind]);
    return check_options(o);
}

/* ---- One network ----------------------------------------------------------------------- */

/* Trains network i with its defaults into o->path[i] (which also saves its history). */
static int train_net(const compare_options *o, int i, const train_data *d, train_record *h)
{
    train_options t = o->base;
    t.model = net_names[i];
    t.out = o->path[i];
    int rc = train_check_options(&t);
    if (rc == EXIT_OK)
        rc = train_record_init(h, &t, d);
    FILE *info = o->json ? stderr : stdout;
    if (rc == EXIT_OK) {
        fprintf(info, "\n");
        rc = train_run(&t, d, h, info);
    }
    return rc;
}

/* The whole of a small text file (a history) into a NUL-terminated buffer, or NULL. */
static char *read_small_file(const char *path)
{
    enum { LIMIT = 1 << 20 };
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *text = malloc(LIMIT + 1);
    size_t n = text ? fread(text, 1, LIMIT + 1, f) : 0;
    fclose(f);
    if (text && n <= LIMIT) {
        text[n] = '\0';
        return text;
    }
    free(text);
    return NULL;
}

/* The history saved beside model i into h; if absent or unreadable, h stays empty and
 * a note says so. */
static void load_history(const compare_options *o, int i, train_record *h)
{
    char path[MNIST_PATH_MAX];
    if (train_history_path(o->path[i], path, sizeof path) != EXIT_OK)
        return;
    char *text = read_small_file(path);
    int ok = text && report_read_train_json(text, h) == 0;
    free(text);
    if (!ok) {
        train_record_free(h);
        fprintf(stderr, "mnist compare: no training history for %s (%s missing or not a "
                        "history): seconds per epoch and the plot's %s curves are left out\n",
                o->path[i], path, net_names[i]);
    }
}

static int compare_floats(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The median of v[0 .. n), n >= 1; NaN when out of memory. */
static float median(const float *v, int n)
{
    float *sorted = malloc((size_t)n * sizeof *sorted);
    if (!sorted)
        return NAN;
    memcpy(sorted, v, (size_t)n * sizeof *v);
    qsort(sorted, (size_t)n, sizeof *sorted, compare_floats);
    float m = n % 2 ? sorted[n / 2] : 0.5f * (sorted[n / 2 - 1] + sorted[n / 2]);
    free(sorted);
    return m;
}

/* Loads model i and measures it on the three splits (an empty split: NaN). */
static int evaluate_net(const compare_options *o, int i, const train_data *d, compare_row *row)
{
    nn_model *m = NULL;
    if (nn_model_load(&m, o->path[i], COMPARE_BATCH) != NN_OK)
        return cli_fail(NULL);
    int rc = cli_check_model(m, o->path[i], d->train.rows * d->train.cols, o->base.dataset);
    row->params = nn_model_param_count(m);
    const nn_dataset *sets[3] = {&d->fit, &d->val, &d->test_set};
    for (int k = 0; k < 3 && rc == EXIT_OK; k++) {
        row->loss[k] = row->accuracy[k] = NAN;
        nn_evaluation ev;
        if (sets[k]->count == 0)
            continue;
        if (nn_model_evaluate(m, sets[k], &ev) != NN_OK)
            rc = cli_fail(o->path[i]);
        else {
            row->loss[k] = ev.loss;
            row->accuracy[k] = ev.metric[NN_METRIC_ACCURACY];
            nn_evaluation_free(&ev);
        }
    }
    nn_model_free(m);
    return rc;
}

/* Network i trained (or reused) and measured into its row, its history into h. */
static int run_net(const compare_options *o, int i, const train_data *d, train_record *h,
                   compare_row *row)
{
    *row = (compare_row){.model = net_names[i], .path = o->path[i],
                         .seconds_per_epoch = NAN, .images_per_second = NAN};
    int rc = EXIT_OK;
    if (o->reuse)
        load_history(o, i, h);
    else
        rc = train_net(o, i, d, h);
    if (rc != EXIT_OK)
        return rc;
    if (has_history(h)) {
        h->model = net_names[i];
        h->dataset = o->base.dataset;
        row->epochs = h->done;
        row->seconds_per_epoch = median(h->seconds, h->done);
        row->images_per_second = h->train_count / row->seconds_per_epoch;
    }
    return evaluate_net(o, i, d, row);
}

/* ---- The command ---------------------------------------------------------------------- */

/* Both histories in one plot (only those known). */
static int plot_both(const compare_options *o, const train_record h[NETS], FILE *info)
{
    const train_record *runs[NETS];
    int n = 0;
    for (int i = 0; i < NETS; i++)
        if (has_history(&h[i]))
            runs[n++] = &h[i];
    if (n == 0)
        return EXIT_OK;
    int rc = plot_histories(runs, n, o->plot);
    if (rc == EXIT_OK)
        fprintf(info, "plot written to %s\n", o->plot);
    return rc;
}

static int compare_main(const command *cmd, int argc, char **argv)
{
    (void)cmd;
    compare_options o;
    int rc = parse_options(argc, argv, &o);
    if (rc != EXIT_OK)
        return rc < 0 ? EXIT_OK : rc;
    train_data d;
    if ((rc = train_load_data(&o.base, &d)) != EXIT_OK)
        return train_free_data(&d), rc;
    train_record h[NETS] = {0};
    compare_row rows[NETS];
    for (int i = 0; i < NETS && rc == EXIT_OK; i++)
        rc = run_net(&o, i, &d, &h[i], rows + i);
    FILE *info = o.json ? stderr : stdout;
    if (rc == EXIT_OK) {
        report_compare_text(info, o.base.dataset, rows, NETS);
        rc = plot_both(&o, h, info);
    }
    if (rc == EXIT_OK && o.json && report_compare_json(stdout, o.base.dataset, rows, NETS) != 0)
        rc = cli_error("out of memory writing the JSON report");
    for (int i = 0; i < NETS; i++)
        train_record_free(&h[i]);
    train_free_data(&d);
    return rc;
}

const command cmd_compare = {
    "compare", "train the MLP and the CNN (or reuse them) and compare them side by side",
    "[--reuse] [--mlp FILE] [--cnn FILE] [--plot FILE] [--dataset D] [--data-dir DIR]\n"
    "                   [--val N] [--seed N] [--threads N] [--json]",
    "  --reuse          load the models (and the histories saved beside them) instead of\n"
    "                   training them\n"
    "  --mlp FILE       the MLP's model file (default models/mlp.safetensors)\n"
    "  --cnn FILE       the CNN's model file (default models/cnn.safetensors)\n"
    "  --plot FILE      both histories, .png or .svg (default models/compare.png)\n"
    "  --dataset NAME   mnist (default) or fashion\n"
    "  --data-dir DIR   where the IDX files are (default: data/NAME)\n"
    "  --val N          the last N training images validate (default 10000)\n"
    "  --seed N         initial weights and shuffling (default 1)\n"
    "  --threads N      threads (default: as for train)\n"
    "  --json           the table as one JSON object on stdout (the rest on stderr)\n"
    "Each network trains with its own defaults (see mnist train --help): mlp 15 epochs of\n"
    "SGD at batch 100, cnn 3 epochs of Adam at batch 64.  Loss and accuracy are the final\n"
    "model's, measured on each split after training; seconds per epoch is the median\n"
    "epoch of the training history (validation not included).\n",
    compare_main,
};
