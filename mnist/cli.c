/*
 * mnist/cli.c — helpers shared by the subcommands (see cli.h).
 */
#define _GNU_SOURCE /* getopt_long's optind, mkstemp */

#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetch.h"
#include "idx.h"

/* ---- Messages ---------------------------------------------------------------------- */

void cli_usage(const command *cmd, FILE *out, int full)
{
    fprintf(out, "usage: mnist %s %s\n", cmd->name, cmd->usage);
    if (full)
        fprintf(out, "\n%s.\n\n%s", cmd->summary, cmd->help);
}

int cli_bad_option(const command *cmd, char **argv)
{
    fprintf(stderr, "mnist %s: unknown option or missing value: '%s'\n", cmd->name,
            argv[optind - 1]);
    cli_usage(cmd, stderr, 0);
    return EXIT_USAGE;
}

int cli_usage_error(const command *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mnist %s: ", cmd->name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    cli_usage(cmd, stderr, 0);
    return EXIT_USAGE;
}

int cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("mnist: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return EXIT_ERROR;
}

int cli_fail(const char *context)
{
    if (context)
        return cli_error("%s: %s", context, nn_last_error());
    return cli_error("%s", nn_last_error());
}

/* ---- Option values ------------------------------------------------------------------ */

int cli_parse_int(const command *cmd, const char *option, const char *text, int min, int max,
                  int *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (end == text || *end || errno == ERANGE)
        return cli_usage_error(cmd, "%s: '%s' is not an integer", option, text);
    if (v < min || v > max)
        return cli_usage_error(cmd, "%s: %s is out of range (%d to %d)", option, text, min, max);
    *out = (int)v;
    return EXIT_OK;
}

int cli_parse_u64(const command *cmd, const char *option, const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (end == text || *end || errno == ERANGE || strchr(text, '-'))
        return cli_usage_error(cmd, "%s: '%s' is not a non-negative integer", option, text);
    *out = (uint64_t)v;
    return EXIT_OK;
}

int cli_parse_positive_float(const command *cmd, const char *option, const char *text,
                             float *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end || errno == ERANGE)
        return cli_usage_error(cmd, "%s: '%s' is not a number", option, text);
    if (!(v > 0) || !isfinite((float)v) || (float)v <= 0)
        return cli_usage_error(cmd, "%s: %s must be a positive finite number", option, text);
    *out = (float)v;
    return EXIT_OK;
}

int cli_has_suffix(const char *path, const char *suffix)
{
    size_t n = strlen(path), k = strlen(suffix);
    return n > k && strcmp(path + n - k, suffix) == 0;
}

/* ---- Output files ---------------------------------------------------------------------- */

/* Creates "<path>.tmp-XXXXXX" beside path (its name in tmp): the descriptor, or -1 with
 * the message left (`what` prefixes it, e.g. "--out"). */
static int make_temp(const char *what, const char *path, char *tmp, size_t size)
{
    int n = snprintf(tmp, size, "%s.tmp-XXXXXX", path);
    if (n < 0 || (size_t)n >= size) {
        cli_error("%s%s%s: path too long", what, *what ? " " : "", path);
        return -1;
    }
    int fd = mkstemp(tmp);
    if (fd < 0)
        cli_error("%s%s%s: cannot create a file there: %s", what, *what ? " " : "", path,
                  strerror(errno));
    return fd;
}

int cli_temp_name(const char *path, char *tmp, size_t size)
{
    int fd = make_temp("", path, tmp, size);
    if (fd < 0)
        return EXIT_ERROR;
    close(fd);
    return EXIT_OK;
}

int cli_check_writable(const char *what, const char *path)
{
    struct stat sb;
    if (!*path)
        return cli_error("%s: the path is empty", what);
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return cli_error("%s %s: is a directory", what, path);
    char tmp[MNIST_PATH_MAX + 32];
    int fd = make_temp(what, path, tmp, sizeof tmp);
    if (fd < 0)
        return EXIT_ERROR;
    close(fd);
    unlink(tmp);
    return EXIT_OK;
}

FILE *cli_temp_open(const char *path, char *tmp, size_t size)
{
    int fd = make_temp("", path, tmp, size);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        cli_error("%s: cannot create a file there: %s", path, strerror(errno));
        close(fd);
        unlink(tmp);
    }
    return f;
}

int cli_temp_commit(FILE *f, const char *tmp, const char *path)
{
    int failed = ferror(f);
    if (fclose(f) != 0 || failed) {
        unlink(tmp);
        return cli_error("%s: write failed: %s", path, strerror(errno));
    }
    chmod(tmp, 0644);
    if (rename(tmp, path) != 0) {
        int err = errno;
        unlink(tmp);
        return cli_error("%s: cannot rename the finished file into place: %s", path,
                         strerror(err));
    }
    return EXIT_OK;
}

void cli_temp_discard(FILE *f, const char *tmp)
{
    if (f)
        fclose(f);
    unlink(tmp);
}

/* ---- Data ----------------------------------------------------------------------------- */

int cli_data_dir(const command *cmd, const char *dataset, const char *dir, char *buf,
                 size_t size)
{
    if (strcmp(dataset, "mnist") != 0 && strcmp(dataset, "fashion") != 0)
        return cli_usage_error(cmd, "--dataset: unknown data set '%s' (available: mnist, fashion)",
                               dataset);
    int n = dir && *dir ? snprintf(buf, size, "%s", dir) : snprintf(buf, size, "data/%s", dataset);
    if (n < 0 || (size_t)n >= size)
        return cli_usage_error(cmd, "--data-dir: path too long");
    return EXIT_OK;
}

int cli_load_split(const char *dir, const char *prefix, cli_split *out)
{
    memset(out, 0, sizeof *out);
    mnist_set set;
    if (mnist_load(dir, prefix, &set) != NN_OK)
        return cli_fail(NULL);
    size_t features = (size_t)set.rows * (size_t)set.cols, n = (size_t)set.count * features;
    /* Not nn_malloc: its huge pages pay for buffers walked every step, but training reads
     * 64 rows of this a step, and faulting its 188 MB in as huge pages took 0.02-0.47 s
     * here (the kernel compacts memory for them) against 6 ms an epoch saved. */
    out->x = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    out->labels = malloc((size_t)set.count * sizeof(int32_t));
    if (!out->x || !out->labels) {
        mnist_set_free(&set);
        cli_split_free(out);
        return cli_error("%s: out of memory converting %d images to floats", dir, set.count);
    }
    for (size_t i = 0; i < n; i++)
        out->x[i] = (float)set.images[i] * (1.0f / 255.0f);
    for (int i = 0; i < set.count; i++)
        out->labels[i] = set.labels[i];
    out->count = set.count, out->rows = set.rows, out->cols = set.cols;
    mnist_set_free(&set);
    return EXIT_OK;
}

void cli_split_free(cli_split *s)
{
    free(s->x);
    free(s->labels);
    memset(s, 0, sizeof *s);
}

nn_dataset cli_dataset(const cli_split *s, int first, int count)
{
    size_t features = (size_t)s->rows * (size_t)s->cols;
    return (nn_dataset){.x = s->x + (size_t)first * features, .labels = s->labels + first,
                        .count = count, .features = (int)features, .targets = 10};
}

/* ---- Models and threads ----------------------------------------------------------------- */

int cli_check_model(nn_model *model, const char *path, int features, const char *data_name)
{
    nn_shape out = nn_model_output_shape(model);
    if (nn_shape_size(out) != 10)
        return cli_error("%s: the model gives %zu outputs per sample, the %s data has 10 "
                         "classes: it was not trained on this data set",
                         path, nn_shape_size(out), data_name);
    /* The library has no input-shape getter: one blank sample through evaluate checks
     * the input size with the library's own message. */
    float *x = calloc((size_t)features, sizeof *x);
    if (!x)
        return cli_error("out of memory");
    int32_t label = 0;
    nn_dataset probe = {.x = x, .labels = &label, .count = 1, .features = features, .targets = 10};
    nn_evaluation ev;
    nn_status st = nn_model_evaluate(model, &probe, &ev);
    nn_evaluation_free(&ev);
    free(x);
    if (st != NN_OK)
        return cli_error("%s does not fit the %s data (%s): it was trained on data of "
                         "another shape", path, data_name, nn_last_error());
    return EXIT_OK;
}

int cli_make_models_dir(const char *path)
{
    if (strncmp(path, "models/", 7) == 0 && mkdir("models", 0755) != 0 && errno != EEXIST)
        return cli_error("cannot create the directory models/: %s", strerror(errno));
    return EXIT_OK;
}

int cli_set_threads(int threads)
{
    if (threads > 0 && nn_set_num_threads(threads) != NN_OK)
        return cli_fail("--threads");
    return EXIT_OK;
}
