/*
 * mnist/cli.h — what the subcommands of `mnist` share: the command table entry, exit
 * codes, strict option-value parsing, output-path checks, atomic text files, and the
 * data sets as float matrices.
 *
 * Errors: functions that return int return EXIT_OK or the exit status to use, having
 * printed "mnist: <message>" (or "mnist CMD: <message>" plus usage for EXIT_USAGE).
 */
#ifndef NN_MNIST_CLI_H
#define NN_MNIST_CLI_H

#include <stdint.h>
#include <stdio.h>

#include <nn/layers.h>

enum { EXIT_OK = 0, EXIT_ERROR = 1, EXIT_USAGE = 2 };

typedef struct command {
    const char *name;
    const char *summary;
    const char *usage; /* options, after "mnist NAME " */
    const char *help;  /* what the options do */
    int (*run)(const struct command *cmd, int argc, char **argv);
} command;

/* "usage: mnist NAME USAGE", and with full the summary and the help text. */
void cli_usage(const command *cmd, FILE *out, int full);

/* For getopt_long's '?': names the bad option, prints usage; returns EXIT_USAGE. */
int cli_bad_option(const command *cmd, char **argv);

/* "mnist CMD: <message>" and the short usage on stderr; returns EXIT_USAGE. */
int cli_usage_error(const command *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "mnist: <message>" on stderr; returns EXIT_ERROR. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "mnist: <nn_last_error()>" (prefixed with context when not NULL); returns EXIT_ERROR. */
int cli_fail(const char *context);

/* Strict parsers for option values: the whole text must be a number within [min, max];
 * otherwise a usage error naming the option ("--batch: 'x' is not an integer").
 * Return EXIT_OK or EXIT_USAGE. */
int cli_parse_int(const command *cmd, const char *option, const char *text, int min, int max,
                  int *out);
int cli_parse_u64(const command *cmd, const char *option, const char *text, uint64_t *out);
int cli_parse_positive_float(const command *cmd, const char *option, const char *text,
                             float *out);

/* 1 if path ends with suffix (case-sensitive). */
int cli_has_suffix(const char *path, const char *suffix);

/* Creates the directory models/ when path lies in it (the default home of model files,
 * histories and plots); other paths are left to cli_check_writable.  Returns EXIT_OK or
 * EXIT_ERROR with a message. */
int cli_make_models_dir(const char *path);

/* Checks, before any work, that a file can be created at path: its directory exists and
 * takes a new file (tried with a temporary file, removed at once), and path is not a
 * directory.  Returns EXIT_OK or EXIT_ERROR with a message naming what and path. */
int cli_check_writable(const char *what, const char *path);

/* Atomic text files: cli_temp_open creates a temporary file beside path (its name in
 * tmp, size >= strlen(path) + 16); cli_temp_commit closes it and renames it onto path,
 * cli_temp_discard closes and removes it.  Return EXIT_OK or EXIT_ERROR (message). */
FILE *cli_temp_open(const char *path, char *tmp, size_t size);
int cli_temp_commit(FILE *f, const char *tmp, const char *path);
void cli_temp_discard(FILE *f, const char *tmp);
/* The temporary file's name only, created empty and closed (for programs that write it). */
int cli_temp_name(const char *path, char *tmp, size_t size);

/* Resolves --dataset/--data-dir: checks the data set's name and writes the directory
 * (data/NAME unless dir is given) into buf.  Returns EXIT_OK or EXIT_USAGE. */
int cli_data_dir(const command *cmd, const char *dataset, const char *dir, char *buf,
                 size_t size);

/*
 * One split of a data set as the model sees it.  Pixels are converted once, at load,
 * into a float matrix (pixel / 255): measured simpler and fast enough (the per-batch
 * gather copies floats either way; 60000 x 784 floats = 188 MB).
 */
typedef struct cli_split {
    float *x;        /* count x features, values in [0, 1]; nn_malloc'd */
    int32_t *labels; /* count labels 0..9 */
    int count, rows, cols;
} cli_split;

/* Loads DIR/PREFIX-{images,labels} (prefix "train" or "t10k") and converts it. */
int cli_load_split(const char *dir, const char *prefix, cli_split *out);
void cli_split_free(cli_split *s);

/* Rows [first, first + count) of s as a labelled nn_dataset of 10 classes. */
nn_dataset cli_dataset(const cli_split *s, int first, int count);

/* Checks that a loaded model takes `features` inputs and gives 10 class scores, so that
 * data of another shape is a clear error and never read out of bounds.  Returns EXIT_OK
 * or EXIT_ERROR with a message naming the model file. */
int cli_check_model(nn_model *model, const char *path, int features, const char *data_name);

/* Sets the thread count (threads > 0) or keeps the default (0). */
int cli_set_threads(int threads);

#endif /* NN_MNIST_CLI_H */
