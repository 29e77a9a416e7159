/*
 * mnist/cmd_eval.c — `mnist eval MODEL`: a saved model on the test set: loss, accuracy,
 * per-class precision/recall/F1 and the confusion matrix, as text or JSON.
 */
#define _GNU_SOURCE /* getopt_long */

#include <getopt.h>
#include <string.h>

#include "commands.h"
#include "fetch.h"
#include "report.h"

#define EVAL_BATCH 1000 /* images per forward pass */

typedef struct eval_options {
    const char *dataset, *data_dir, *model;
    int threads, json;
    char dir[MNIST_PATH_MAX];
} eval_options;

static int parse_options(int argc, char **argv, eval_options *o)
{
    static const struct option options[] = {
        {"dataset", required_argument, NULL, 'd'}, {"data-dir", required_argument, NULL, 'D'},
        {"threads", required_argument, NULL, 't'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    const command *cmd = &cmd_eval;
    *o = (eval_options){.dataset = "mnist"};
    int c, rc = EXIT_OK;
    while (rc == EXIT_OK && (c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (c == 'd')
            o->dataset = optarg;
        else if (c == 'D')
            o->data_dir = optarg;
        else if (c == 't')
            rc = cli_parse_int(cmd, "--threads", optarg, 1, 1024, &o->threads);
        else if (c == 'j')
            o->json = 1;
        else if (c == 'h')
            return cli_usage(cmd, stdout, 1), -1;
        else
            return cli_bad_option(cmd, argv);
    }
    if (rc != EXIT_OK)
        return rc;
    if (optind + 1 != argc)
        return cli_usage_error(cmd, optind == argc ? "which model? (e.g. models/mlp.safetensors)"
                                                   : "one model file only");
    o->model = argv[optind];
    if ((rc = cli_data_dir(cmd, o->dataset, o->data_dir, o->dir, sizeof o->dir)) != EXIT_OK)
        return rc;
    return cli_set_threads(o->threads);
}

static int evaluate(const eval_options *o, nn_model *m, const cli_split *test)
{
    int rc = cli_check_model(m, o->model, test->rows * test->cols, o->dataset);
    if (rc != EXIT_OK)
        return rc;
    nn_dataset data = cli_dataset(test, 0, test->count);
    nn_evaluation ev;
    if (nn_model_evaluate(m, &data, &ev) != NN_OK)
        return cli_fail(o->model);
    if (o->json)
        rc = report_eval_json(stdout, o->model, o->dataset, &ev) == 0
                 ? EXIT_OK : cli_error("out of memory writing the JSON report");
    else
        report_eval_text(stdout, o->model, o->dataset, &ev);
    nn_evaluation_free(&ev);
    return rc;
}

static int eval_main(const command *cmd, int argc, char **argv)
{
    (void)cmd;
    eval_options o;
    int rc = parse_options(argc, argv, &o);
    if (rc != EXIT_OK)
        return rc < 0 ? EXIT_OK : rc;
    nn_model *m = NULL;
    if (nn_model_load(&m, o.model, EVAL_BATCH) != NN_OK)
        return cli_fail(NULL);
    cli_split test;
    if ((rc = cli_load_split(o.dir, "t10k", &test)) == EXIT_OK)
        rc = evaluate(&o, m, &test);
    cli_split_free(&test);
    nn_model_free(m);
    return rc;
}

const command cmd_eval = {
    "eval", "evaluate a saved model on the test set",
    "MODEL [--dataset D] [--data-dir DIR] [--threads N] [--json]",
    "  MODEL            a model file written by mnist train (models/mlp.safetensors)\n"
    "  --dataset NAME   mnist (default) or fashion: the test set to use\n"
    "  --data-dir DIR   where the IDX files are (default: data/NAME)\n"
    "  --threads N      threads (default: as for train)\n"
    "  --json           one JSON object: test_loss, test_accuracy, precision, recall, f1\n"
    "                   (macro averages), per_class, confusion (rows: true class)\n"
    "Prints the test loss and accuracy, then per class precision, recall, F1 and the\n"
    "number of test images, then the confusion matrix.\n",
    eval_main,
};
