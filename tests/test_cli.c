/*
 * test_cli.c — the `mnist` command itself (build/bin/mnist, or NN_MNIST_BIN), run as a
 * user runs it: exit codes, messages, files written and files left alone.
 *
 * Data is a tiny synthetic IDX set written here (200 training, 50 test images of 28 x 28,
 * each class a bright bar at its own height), so the suite needs no download and stays
 * fast.  Bad input of every kind must give a clear message and a non-zero exit, with
 * option errors (exit 2) found before any data is read, and an existing model file never
 * overwritten by a run that fails.
 */
#define _GNU_SOURCE /* mkdtemp, nftw; temp_dir_spawn (posix_spawn, environ) */

#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nn/layers.h>


#define TRAIN_COUNT 200
#define TEST_COUNT 50
#define SIDE 28

#include "temp_dir.h"

static char out_text[1 << 16], err_text[1 << 16];


TestSuite(cli, .init = temp_dir_make, .fini = temp_dir_remove, .timeout = 120);

/* ---- Files ---------------------------------------------------------------------------- */

/* dir/name into a static buffer (two in rotation, so two paths can be held at once). */
static const char *path_of(const char *name)
{
    static char bufs[4][256];
    static int next;
    char *p = bufs[next++ % 4];
    snprintf(p, 256, "%s/%s", dir, name);
    return p;
}

static void write_file(const char *path, const void *bytes, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot create %s", path);
    cr_assert_eq(fwrite(bytes, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

/* The whole file into a malloc'd, NUL-terminated buffer (NULL if unreadable). */
static char *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    buf[got] = '\0';
    if (size)
        *size = got;
    return buf;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* One split: images of class k have a bright bar across rows 2k+4..2k+5. */
static void write_split(const char *sub, const char *prefix, int count, int label_count)
{
    size_t n = (size_t)count * SIDE * SIDE;
    uint8_t *img = calloc(16 + n, 1), *lab = calloc(8 + (size_t)label_count, 1);
    put_be32(img, 0x803), put_be32(img + 4, (uint32_t)count);
    put_be32(img + 8, SIDE), put_be32(img + 12, SIDE);
    put_be32(lab, 0x801), put_be32(lab + 4, (uint32_t)label_count);
    for (int i = 0; i < count; i++) {
        int k = i % 10, row = 2 * k + 4;
        for (int c = 4; c < 24; c++) {
            img[16 + (size_t)i * SIDE * SIDE + (size_t)row * SIDE + (size_t)c] = 255;
            img[16 + (size_t)i * SIDE * SIDE + (size_t)(row + 1) * SIDE + (size_t)c] = 200;
        }
    }
    for (int i = 0; i < label_count; i++)
        lab[8 + i] = (uint8_t)(i % 10);
    char name[512];
    snprintf(name, sizeof name, "%s/%s/%s-images-idx3-ubyte", dir, sub, prefix);
    write_file(name, img, 16 + n);
    snprintf(name, sizeof name, "%s/%s/%s-labels-idx1-ubyte", dir, sub, prefix);
    write_file(name, lab, 8 + (size_t)label_count);
    free(img);
    free(lab);
}

/* dir/sub holding a valid synthetic data set; returns its path. */
static const char *make_data(const char *sub)
{
    const char *d = path_of(sub);
    mkdir(d, 0755);
    write_split(sub, "train", TRAIN_COUNT, TRAIN_COUNT);
    write_split(sub, "t10k", TEST_COUNT, TEST_COUNT);
    return d;
}

/* ---- Running the binary ------------------------------------------------------------------ */

static const char *binary(void)
{
    static char path[4096];
    const char *env = getenv("NN_MNIST_BIN");
    if (env && *env)
        return env;
    snprintf(path, sizeof path, "%s", __FILE__);
    char *slash = strrchr(path, '/');
    snprintf(slash ? slash : path, sizeof path - (size_t)(slash ? slash - path : 0),
             "/../build/bin/mnist");
    return path;
}

static void slurp(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, size - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
}

/* Runs mnist with the NULL-terminated arguments (cwd: the test's directory); stdout and
 * stderr land in out_text and err_text.  Returns the exit status (-1 if it crashed). */
static int run(const char *first, ...)
{
    char *argv[40];
    int argc = 0;
    argv[argc++] = (char *)binary();
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && argc < 39; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    const char *out = path_of(".stdout");
    int out_fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(out_fd, 0, "%s: %s", out, strerror(errno));
    pid_t pid = temp_dir_spawn(argv, out_fd);
    close(out_fd);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    slurp(out, out_text, sizeof out_text);
    slurp(path_of(".stderr"), err_text, sizeof err_text);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#define assert_has(text, needle)                                                       \
    cr_assert_not_null(strstr(text, needle), "expected '%s' in:\n%s", needle, text)

/* ---- Usage and option values ----------------------------------------------------------- */

Test(cli, no_command_or_unknown_command_is_a_usage_error)
{
    cr_assert_eq(run(NULL), 2);
    assert_has(err_text, "usage: mnist COMMAND");
    cr_assert_eq(run("frobnicate", NULL), 2);
    assert_has(err_text, "unknown command 'frobnicate'");
}

Test(cli, help_lists_every_option_and_exits_0)
{
    cr_assert_eq(run("train", "--help", NULL), 0);
    assert_has(out_text, "--epochs");
    assert_has(out_text, "pixel / 255");
    cr_assert_eq(run("eval", "--help", NULL), 0);
    assert_has(out_text, "--json");
    cr_assert_eq(run("predict", "--help", NULL), 0);
    assert_has(out_text, "IMAGE");
}

Test(cli, unknown_flag_prints_usage_and_exits_2)
{
    cr_assert_eq(run("train", "--bogus", NULL), 2);
    assert_has(err_text, "'--bogus'");
    assert_has(err_text, "usage: mnist train");
    cr_assert_eq(run("eval", "m.safetensors", "--frob", NULL), 2);
    assert_has(err_text, "usage: mnist eval");
    cr_assert_eq(run("train", "--epochs", NULL), 2); /* missing value */
    cr_assert_eq(run("train", "stray", NULL), 2);
}

/* Each bad value exits 2 naming its option, before any data is read: the data
 * directory given does not exist, so reading it would exit 1 instead. */
Test(cli, bad_option_values_exit_2_before_reading_data)
{
    static const char *const bad[][3] = {
        {"--threads", "0", "--threads"},   {"--batch", "0", "--batch"},
        {"--lr", "-0.01", "--lr"},         {"--lr", "0", "--lr"},
        {"--lr", "fast", "not a number"},  {"--epochs", "3x", "not an integer"},
        {"--epochs", "0", "--epochs"},     {"--seed", "-4", "--seed"},
        {"--val", "-1", "--val"},          {"--batch", "99999999999", "--batch"},
        {"--model", "resnet", "unknown model 'resnet' (available: mlp"},
        {"--optimizer", "rmsprop", "unknown optimizer"},
        {"--plot", "curves.jpg", ".png or .svg"},
        {"--dataset", "cifar", "unknown data set"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = run("train", "--data-dir", "no-such-dir", "--out", "m.safetensors", bad[i][0],
                     bad[i][1], NULL);
        cr_assert_eq(rc, 2, "%s %s: exit %d, stderr:\n%s", bad[i][0], bad[i][1], rc, err_text);
        assert_has(err_text, bad[i][2]);
    }
    cr_assert_eq(run("eval", "m.safetensors", "--threads", "0", NULL), 2);
    assert_has(err_text, "--threads");
}

/* ---- Data -------------------------------------------------------------------------------- */

Test(cli, missing_data_names_the_file_and_the_fetch_command)
{
    mkdir(path_of("empty"), 0755);
    cr_assert_eq(run("train", "--data-dir", "empty", "--out", "m.safetensors", NULL), 1);
    assert_has(err_text, "empty/train-images-idx3-ubyte: missing");
    assert_has(err_text, "mnist fetch --dataset mnist --data-dir empty");
    cr_assert_eq(access(path_of("m.safetensors"), F_OK), -1, "no model may be written");
}

Test(cli, truncated_idx_file_is_a_clear_error)
{
    make_data("d");
    cr_assert_eq(truncate(path_of("d/train-images-idx3-ubyte"), 16 + 28 * 28 * 150), 0);
    cr_assert_eq(run("train", "--data-dir", "d", "--val", "50", "--out", "m.safetensors", NULL), 1);
    assert_has(err_text, "train-images-idx3-ubyte");
    assert_has(err_text, "truncated");
}

Test(cli, image_and_label_counts_that_disagree_are_an_error)
{
    const char *d = path_of("d");
    mkdir(d, 0755);
    write_split("d", "train", TRAIN_COUNT, TRAIN_COUNT - 10);
    write_split("d", "t10k", TEST_COUNT, TEST_COUNT);
    cr_assert_eq(run("train", "--data-dir", "d", "--val", "50", "--out", "m.safetensors", NULL), 1);
    assert_has(err_text, "200 images");
    assert_has(err_text, "190 labels");
}

Test(cli, val_that_leaves_no_training_images_is_refused)
{
    make_data("d");
    cr_assert_neq(run("train", "--data-dir", "d", "--out", "m.safetensors", NULL), 0);
    assert_has(err_text, "--val 10000");
    cr_assert_eq(access(path_of("m.safetensors"), F_OK), -1);
}

/* ---- Output paths ------------------------------------------------------------------------ */

Test(cli, unwritable_output_paths_fail_before_training)
{
    make_data("d");
    write_file(path_of("plain"), "x", 1);
    const char *paths[] = {"/nonexistent-dir/x.safetensors", "plain/x.safetensors", "d"};
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(run("train", "--data-dir", "d", "--val", "50", "--out", paths[i], NULL), 1);
        assert_has(err_text, paths[i]);
        cr_assert_null(strstr(out_text, "epoch 1/"), "%s: trained before failing", paths[i]);
    }
    cr_assert_eq(run("train", "--data-dir", "d", "--val", "50", "--out", "m.safetensors", "--log",
                     "plain/h.csv", NULL), 1);
    assert_has(err_text, "--log plain/h.csv");
    cr_assert_eq(run("train", "--data-dir", "d", "--val", "50", "--out", "m.safetensors", "--plot",
                     "/nonexistent-dir/p.png", NULL), 1);
    assert_has(err_text, "--plot /nonexistent-dir/p.png");
    cr_assert_eq(access(path_of("m.safetensors"), F_OK), -1);
}

Test(cli, a_failed_run_leaves_an_existing_model_file_alone)
{
    static const char precious[] = "an earlier model, not to be lost";
    write_file(path_of("m.safetensors"), precious, sizeof precious);
    make_data("d");
    cr_assert_eq(truncate(path_of("d/t10k-labels-idx1-ubyte"), 20), 0);
    cr_assert_eq(run("train", "--data-dir", "d", "--val", "50", "--out", "m.safetensors", NULL), 1);
    cr_assert_eq(run("train", "--data-dir", "nowhere", "--out", "m.safetensors", NULL), 1);
    cr_assert_eq(run("train", "--data-dir", "d", "--out", "m.safetensors", "--lr", "-1", NULL), 2);
    size_t n;
    char *bytes = read_file(path_of("m.safetensors"), &n);
    cr_assert_not_null(bytes);
    cr_assert_eq(n, sizeof precious);
    cr_assert_eq(memcmp(bytes, precious, n), 0, "the model file was overwritten");
    free(bytes);
}

Test(cli, a_diverging_run_stops_with_a_message_and_saves_nothing)
{
    static const char precious[] = "an earlier model";
    write_file(path_of("m.safetensors"), precious, sizeof precious);
    make_data("d");
    cr_assert_eq(run("train", "--data-dir", "d", "--val", "50", "--epochs", "3", "--out",
                     "m.safetensors", "--lr", "1e30", NULL), 1);
    assert_has(err_text, "training: nn_model_fit: epoch 1/3, batch ");
    assert_has(err_text, "loss is nan");
    size_t n;
    char *bytes = read_file(path_of("m.safetensors"), &n);
    cr_assert(bytes && n == sizeof precious && memcmp(bytes, precious, n) == 0,
              "the model file was overwritten");
    free(bytes);
}

/* ---- A real (tiny) run -------------------------------------------------------------------- */

static void train_tiny(const char *extra, const char *extra_value)
{
    make_data("d");
    int rc = run("train", "--data-dir", "d", "--val", "50", "--epochs", "2", "--batch", "20",
                 "--threads", "1", "--out", "m.safetensors", "--log", "h.csv", extra, extra_value,
                 NULL);
    cr_assert_eq(rc, 0, "exit %d, stderr:\n%s", rc, err_text);
}

Test(cli, train_prints_epoch_lines_tests_and_saves)
{
    train_tiny(NULL, NULL);
    assert_has(out_text, "150 train / 50 val / 50 test images");
    assert_has(out_text, "epoch 1/2  train loss ");
    assert_has(out_text, "epoch 2/2  train loss ");
    assert_has(out_text, "  val loss ");
    assert_has(out_text, "test  loss ");
    assert_has(out_text, "model saved to m.safetensors");
    cr_assert_null(strchr(out_text, '\r'), "no progress bar when stdout is not a terminal");
    cr_assert_eq(access(path_of("m.safetensors"), R_OK), 0);
    char *csv = read_file(path_of("h.csv"), NULL);
    cr_assert_not_null(csv);
    cr_assert_eq(strncmp(csv, "epoch,train_loss,train_accuracy,val_loss,val_accuracy,seconds\n1,", 64), 0,
                 "%s", csv);
    assert_has(csv, "\n2,");
    free(csv);
}

Test(cli, train_json_is_one_object_on_stdout)
{
    train_tiny("--json", NULL);
    const char *keys[] = {"\"model\":\"mlp\"", "\"dataset\":\"mnist\"", "\"epochs\":2",
                          "\"batch\":20", "\"threads\":1", "\"isa\":\"", "\"seed\":1",
                          "\"epoch_seconds\":[", "\"train_loss\":[", "\"train_accuracy\":[",
                          "\"val_loss\":[", "\"val_accuracy\":[", "\"test_loss\":",
                          "\"test_accuracy\":"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_has(out_text, keys[i]);
    size_t n = strlen(out_text);
    cr_assert(n > 2 && out_text[0] == '{' && out_text[n - 2] == '}' && out_text[n - 1] == '\n',
              "stdout is not one JSON object:\n%s", out_text);
    cr_assert_eq(strchr(out_text, '\n'), out_text + n - 1, "more than one line on stdout:\n%s",
                 out_text);
    assert_has(err_text, "epoch 2/2");
}

/* Whether gnuplot can be found in PATH. */
static int have_gnuplot(void)
{
    const char *path = getenv("PATH");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path ? path : "/usr/bin:/bin");
    for (char *d = strtok(buf, ":"); d; d = strtok(NULL, ":")) {
        char exe[4200];
        snprintf(exe, sizeof exe, "%s/gnuplot", d);
        if (access(exe, X_OK) == 0)
            return 1;
    }
    return 0;
}

Test(cli, plot_is_drawn_or_gnuplot_is_asked_for)
{
    make_data("d");
    int rc = run("train", "--data-dir", "d", "--val", "50", "--epochs", "2", "--batch", "50",
                 "--out", "m.safetensors", "--plot", "curves.svg", NULL);
    cr_assert_eq(access(path_of("m.safetensors"), R_OK), 0, "the model is saved either way");
    if (!have_gnuplot()) {
        cr_assert_eq(rc, 1);
        assert_has(err_text, "apt-get install gnuplot-nox");
        return;
    }
    cr_assert_eq(rc, 0, "stderr:\n%s", err_text);
    char *svg = read_file(path_of("curves.svg"), NULL);
    cr_assert_not_null(svg);
    assert_has(svg, "<svg");
    assert_has(svg, "validation");
    free(svg);
}

/* ---- eval ---------------------------------------------------------------------------------- */

Test(cli, eval_prints_accuracy_per_class_table_and_confusion_matrix)
{
    train_tiny(NULL, NULL);
    int rc = run("eval", "m.safetensors", "--data-dir", "d", NULL);
    cr_assert_eq(rc, 0, "stderr:\n%s", err_text);
    assert_has(out_text, "accuracy");
    assert_has(out_text, "precision    recall        f1  support");
    assert_has(out_text, "confusion matrix");
    cr_assert_eq(run("eval", "--json", "m.safetensors", "--data-dir", "d", NULL), 0);
    assert_has(out_text, "\"test_loss\":");
    assert_has(out_text, "\"test_accuracy\":");
    assert_has(out_text, "\"per_class\":[{\"class\":0,");
    assert_has(out_text, "\"confusion\":[[");
}

/* A model for 10x10 pictures, made with the library, cannot be evaluated on 28x28 data. */
Test(cli, eval_refuses_a_model_of_another_shape)
{
    make_data("d");
    nn_model *m;
    cr_assert_eq(nn_model_create(&m, nn_shape_1d(100)), NN_OK);
    cr_assert_eq(nn_model_add(m, nn_dense(10, NN_INIT_GLOROT_UNIFORM)), NN_OK);
    cr_assert_eq(nn_model_add(m, nn_softmax()), NN_OK);
    nn_optimizer sgd = nn_sgd(0.1f);
    cr_assert_eq(nn_model_compile(m, &sgd, NN_LOSS_CROSS_ENTROPY, 10, 1), NN_OK);
    cr_assert_eq(nn_model_save(m, path_of("small.safetensors")), NN_OK);
    nn_model_free(m);
    cr_assert_eq(run("eval", "small.safetensors", "--data-dir", "d", NULL), 1);
    assert_has(err_text, "small.safetensors does not fit the mnist data");
    assert_has(err_text, "100");
    cr_assert_eq(run("predict", "small.safetensors", "x.pgm", NULL), 1);
    assert_has(err_text, "does not fit");
}

Test(cli, eval_of_a_missing_or_corrupt_model_file_fails_clearly)
{
    make_data("d");
    cr_assert_eq(run("eval", "absent.safetensors", "--data-dir", "d", NULL), 1);
    assert_has(err_text, "absent.safetensors");
    write_file(path_of("junk.safetensors"), "\x10\0\0\0\0\0\0\0{\"a\":", 13);
    cr_assert_eq(run("eval", "junk.safetensors", "--data-dir", "d", NULL), 1);
    assert_has(err_text, "junk.safetensors");
    cr_assert_eq(run("eval", NULL), 2);
}

/* ---- predict -------------------------------------------------------------------------------- */

/* A binary PGM of a class-k bar (as in the training data), dark on light, 56 x 56. */
static void write_pgm(const char *name, int k)
{
    enum { W = 56 };
    uint8_t px[W * W];
    memset(px, 255, sizeof px);
    for (int r = 2 * (2 * k + 4); r < 2 * (2 * k + 6); r++)
        for (int c = 8; c < 48; c++)
            px[r * W + c] = 0;
    char head[32];
    int n = snprintf(head, sizeof head, "P5\n%d %d\n255\n", W, W);
    FILE *f = fopen(path_of(name), "wb");
    cr_assert_not_null(f);
    fwrite(head, 1, (size_t)n, f);
    fwrite(px, 1, sizeof px, f);
    fclose(f);
}

Test(cli, predict_prints_the_class_and_ten_probabilities)
{
    train_tiny(NULL, NULL);
    write_pgm("bar.pgm", 3);
    int rc = run("predict", "m.safetensors", "bar.pgm", NULL);
    cr_assert_eq(rc, 0, "stderr:\n%s", err_text);
    assert_has(out_text, "bar.pgm: ");
    assert_has(out_text, " (p=");
    assert_has(out_text, " 9 0.");
    write_file(path_of("broken.png"), "\x89PNG\r\n\x1a\n", 8);
    cr_assert_eq(run("predict", "m.safetensors", "broken.png", "bar.pgm", NULL), 1);
    assert_has(err_text, "broken.png");
    assert_has(out_text, "bar.pgm: "); /* the good picture is still classified */
    cr_assert_eq(run("predict", "m.safetensors", NULL), 2);
}

/* ---- compare ------------------------------------------------------------------------------- */

/* Trains both networks on the tiny data into the test's directory; 0 or the exit status. */
static int compare_tiny(const char *extra)
{
    make_data("d");
    return run("compare", "--data-dir", "d", "--val", "50", "--threads", "1", "--mlp",
               "mlp.safetensors", "--cnn", "cnn.safetensors", "--plot", "both.svg", extra, NULL);
}

Test(cli, compare_trains_both_prints_one_table_and_plots_both)
{
    int rc = compare_tiny(NULL);
    if (!have_gnuplot()) {
        cr_assert_eq(rc, 1);
        assert_has(err_text, "apt-get install gnuplot-nox");
        return;
    }
    cr_assert_eq(rc, 0, "exit %d, stderr:\n%s", rc, err_text);
    assert_has(out_text, "training mlp (784-256-256-10)");
    assert_has(out_text, "training cnn (conv32-conv64-128-10)");
    const char *rows[] = {"parameters                   269322         225034",
                          "epochs                           15              3",
                          "seconds per epoch", "images/s", "train accuracy", "val loss",
                          "test accuracy", "plot written to both.svg"};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        assert_has(out_text, rows[i]);
    const char *files[] = {"mlp.safetensors", "cnn.safetensors", "mlp.history.json",
                           "cnn.history.json", "both.svg"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        cr_assert_eq(access(path_of(files[i]), R_OK), 0, "%s is missing", files[i]);
    char *svg = read_file(path_of("both.svg"), NULL);
    assert_has(svg, "cnn validation");
    free(svg);

    /* --reuse: the same table without training; a broken history only loses its columns */
    char table[4096];
    snprintf(table, sizeof table, "%s", strstr(out_text, "parameters"));
    cr_assert_eq(run("compare", "--data-dir", "d", "--val", "50", "--mlp", "mlp.safetensors",
                     "--cnn", "cnn.safetensors", "--plot", "both.svg", "--reuse", NULL), 0,
                 "stderr:\n%s", err_text);
    cr_assert_null(strstr(out_text, "training "), "--reuse trained:\n%s", out_text);
    cr_assert_str_eq(strstr(out_text, "parameters"), table);
    write_file(path_of("cnn.history.json"), "{\"epochs\": \"three\"}", 19);
    cr_assert_eq(run("compare", "--data-dir", "d", "--val", "50", "--mlp", "mlp.safetensors",
                     "--cnn", "cnn.safetensors", "--plot", "both.svg", "--reuse", NULL), 0,
                 "stderr:\n%s", err_text);
    assert_has(err_text, "no training history for cnn.safetensors");
    assert_has(out_text, "epochs                           15            n/a");
}

Test(cli, compare_reuse_without_models_names_the_training_command)
{
    make_data("d");
    cr_assert_eq(run("compare", "--data-dir", "d", "--reuse", "--cnn", "none.safetensors",
                     "--mlp", "none.safetensors", NULL), 1);
    assert_has(err_text, "none.safetensors");
    assert_has(err_text, "mnist train --model mlp --out none.safetensors");
    cr_assert_eq(run("compare", "--plot", "table.txt", NULL), 2);
    assert_has(err_text, ".png or .svg");
}
