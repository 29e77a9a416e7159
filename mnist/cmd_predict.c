/*
 * mnist/cmd_predict.c — `mnist predict MODEL IMAGE...`: each picture prepared the way
 * MNIST digits were (image.h, the one place that does it), then classified:
 *   digit.png: 7 (p=0.9812)
 *     0 0.0001  1 0.0003  2 0.0011  3 0.0004  4 0.0000  5 0.0002  6 0.0000  7 0.9812  ...
 * A picture that cannot be read is reported and skipped; the exit status is then 1.
 */
#define _GNU_SOURCE /* getopt_long */

#include <getopt.h>

#include "commands.h"
#include "image.h"

#define PIXELS 784 /* 28 x 28, what mnist_preprocess makes */

static int parse_options(int argc, char **argv, int *threads)
{
    static const struct option options[] = {
        {"threads", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const command *cmd = &cmd_predict;
    int c, rc;
    *threads = 0;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (c == 't' && (rc = cli_parse_int(cmd, "--threads", optarg, 1, 1024, threads)) != EXIT_OK)
            return rc;
        if (c == 'h')
            return cli_usage(cmd, stdout, 1), -1;
        if (c != 't')
            return cli_bad_option(cmd, argv);
    }
    if (argc - optind < 2)
        return cli_usage_error(cmd, "give a model file and at least one image");
    return cli_set_threads(*threads);
}

static void print_prediction(const char *file, const float p[10])
{
    int best = 0;
    for (int k = 1; k < 10; k++)
        if (p[k] > p[best])
            best = k;
    printf("%s: %d (p=%.4f)\n", file, best, (double)p[best]);
    for (int k = 0; k < 10; k++)
        printf("  %d %.4f", k, (double)p[k]);
    putchar('\n');
}

/* One picture: load, preprocess, predict, print.  EXIT_OK or EXIT_ERROR (reported). */
static int predict_one(nn_model *m, const char *file)
{
    mnist_image image;
    if (mnist_image_load(file, &image) != NN_OK)
        return cli_fail(NULL);
    float x[PIXELS], p[10];
    nn_status st = mnist_preprocess(&image, x);
    mnist_image_free(&image);
    if (st != NN_OK)
        return cli_fail(file);
    if (nn_model_predict(m, x, 1, p) != NN_OK)
        return cli_fail(file);
    print_prediction(file, p);
    return EXIT_OK;
}

static int predict_main(const command *cmd, int argc, char **argv)
{
    (void)cmd;
    int threads, rc = parse_options(argc, argv, &threads);
    if (rc != EXIT_OK)
        return rc < 0 ? EXIT_OK : rc;
    const char *path = argv[optind];
    nn_model *m = NULL;
    if (nn_model_load(&m, path, 1) != NN_OK)
        return cli_fail(NULL);
    if (cli_check_model(m, path, PIXELS, "28x28 image") != EXIT_OK)
        return nn_model_free(m), EXIT_ERROR;
    int failed = 0; /* a bad picture is reported, the others are still classified */
    for (int i = optind + 1; i < argc; i++)
        failed |= predict_one(m, argv[i]) != EXIT_OK;
    nn_model_free(m);
    return failed ? EXIT_ERROR : EXIT_OK;
}

const command cmd_predict = {
    "predict", "classify pictures of digits (PNG or PGM, any size) with a saved model",
    "MODEL IMAGE... [--threads N]",
    "  MODEL            a model file written by mnist train (models/mlp.safetensors)\n"
    "  IMAGE            PNG or PGM, any size, dark on light or light on dark\n"
    "  --threads N      threads (default: as for train)\n"
    "Each picture is prepared like the MNIST digits: grayscale, the digit's bounding box\n"
    "scaled into 20x20 keeping its aspect ratio, centered by its center of mass in 28x28.\n"
    "Prints \"FILE: DIGIT (p=PROBABILITY)\" and the ten class probabilities.\n",
    predict_main,
};
