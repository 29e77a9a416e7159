/*
 * mnist/plot.c — training curves through gnuplot (see plot.h).
 */
#define _GNU_SOURCE /* posix_spawn file actions, environ */

#include "plot.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "fetch.h"

extern char **environ;

int plot_check_path(const char *path, const char **why)
{
    if (!cli_has_suffix(path, ".png") && !cli_has_suffix(path, ".svg"))
        return *why = "the plot's name must end in .png or .svg", -1;
    for (const char *p = path; *p; p++)
        if ((unsigned char)*p < 0x20)
            return *why = "the plot's name holds a control character", -1;
    return 0;
}

/* A gnuplot single-quoted string: '' stands for a quote inside. */
static void put_quoted(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputc('\'', f);
        fputc(*s, f);
    }
    fputc('\'', f);
}

static void put_terminal(FILE *f, const char *path)
{
    if (cli_has_suffix(path, ".svg"))
        fputs("set terminal svg size 1100,440 dynamic enhanced font 'Helvetica,13'\n", f);
    else
        fputs("if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
              "  set terminal pngcairo size 1100,440 enhanced font 'Sans,10'\n"
              "} else {\n"
              "  set terminal png size 1100,440 enhanced\n"
              "}\n", f);
}

/* $data<i>: epoch, train loss, train accuracy %, val loss, val accuracy % (NaN: none). */
static void put_data(FILE *f, const train_record *r, int i)
{
    fprintf(f, "$data%d << EOD\n", i);
    for (int e = 0; e < r->done; e++)
        fprintf(f, "%d %.6g %.6g %.6g %.6g\n", e + 1, (double)r->train_loss[e],
                100.0 * r->train_accuracy[e], (double)r->val_loss[e], 100.0 * r->val_accuracy[e]);
    fputs("EOD\n", f);
}

/* One panel: per run, training (solid) and validation (dashed) in the run's colour; a
 * single run is told apart by colour instead (blue training, red validation). */
static void put_panel(FILE *f, const train_record *const runs[], int n, const char *title,
                      const char *ylabel, int train_col, int val_col, const char *key)
{
    static const char *const colour[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd"};
    fprintf(f, "set title '%s'\nset ylabel '%s'\nset key %s\nplot ", title, ylabel, key);
    for (int i = 0; i < n; i++) {
        const char *name = n > 1 ? runs[i]->model : "";
        const char *train_colour = colour[i % 4], *val_colour = n > 1 ? train_colour : colour[1];
        fprintf(f, "%s$data%d using 1:%d with linespoints pt 7 ps 0.6 lw 2 lc rgb '%s' "
                   "title '%s%straining'", i ? ", " : "", i, train_col, train_colour, name,
                n > 1 ? " " : "");
        if (runs[i]->val_count > 0)
            fprintf(f, ", $data%d using 1:%d with linespoints pt 5 ps 0.6 lw 2 dt %d lc rgb "
                       "'%s' title '%s%svalidation'", i, val_col, n > 1 ? 2 : 1, val_colour,
                    name, n > 1 ? " " : "");
    }
    fputc('\n', f);
}

static void put_title(FILE *f, const train_record *const runs[], int n)
{
    const train_record *r = runs[0];
    if (n == 1) {
        fprintf(f, "set multiplot layout 1,2 title '%s on %s: batch %d, %s lr %g, %d of %d "
                   "epochs'\n", r->model, r->dataset, r->batch, r->optimizer, (double)r->lr,
                r->done, r->epochs);
        return;
    }
    fputs("set multiplot layout 1,2 title '", f);
    for (int i = 0; i < n; i++)
        fprintf(f, "%s%s (%d epochs)", i ? " vs " : "", runs[i]->model, runs[i]->done);
    fprintf(f, " on %s'\n", r->dataset);
}

static void put_script(FILE *f, const train_record *const runs[], int n, const char *path,
                       const char *tmp)
{
    put_terminal(f, path);
    fputs("set output ", f);
    put_quoted(f, tmp);
    fputc('\n', f);
    int most = 0;
    for (int i = 0; i < n; i++) {
        put_data(f, runs[i], i);
        most = runs[i]->done > most ? runs[i]->done : most;
    }
    put_title(f, runs, n);
    fputs("set grid\nset xlabel 'epoch'\nset xrange [0.5:*]\n", f);
    /* A tic per epoch while the labels fit side by side (half-panel width), then every 5. */
    fprintf(f, "set xtics %d\n", most <= 20 ? 1 : 5);
    put_panel(f, runs, n, "Cost (cross-entropy)", "loss", 2, 4, "top right");
    put_panel(f, runs, n, "Accuracy", "accuracy (%)", 3, 5, "bottom right");
    fputs("unset multiplot\nset output\n", f);
}

/* ---- Running gnuplot -------------------------------------------------------------------- */

/* Starts gnuplot reading its script from a pipe; *in is the pipe's writing end. */
static int spawn_gnuplot(pid_t *pid, FILE **in)
{
    int fds[2];
    if (pipe(fds) != 0)
        return cli_error("--plot: pipe: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[0], STDIN_FILENO);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    char *argv[] = {"gnuplot", NULL};
    int err = posix_spawnp(pid, "gnuplot", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[0]);
    if (err != 0) {
        close(fds[1]);
        if (err == ENOENT)
            return cli_error("--plot: gnuplot is not installed, so no plot was drawn; "
                             "install it with:  apt-get install gnuplot-nox");
        return cli_error("--plot: cannot start gnuplot: %s", strerror(err));
    }
    *in = fdopen(fds[1], "w");
    if (!*in) {
        close(fds[1]);
        waitpid(*pid, NULL, 0);
        return cli_error("--plot: fdopen: %s", strerror(errno));
    }
    return EXIT_OK;
}

/* Writes the script, closes the pipe and waits for gnuplot; EXIT_OK if it succeeded. */
static int feed_gnuplot(pid_t pid, FILE *in, const train_record *const runs[], int n,
                        const char *path, const char *tmp)
{
    struct sigaction ignore = {.sa_handler = SIG_IGN}, old;
    sigaction(SIGPIPE, &ignore, &old); /* a gnuplot that dies early is an error, not a kill */
    put_script(in, runs, n, path, tmp);
    int failed = ferror(in);
    failed |= fclose(in) != 0;
    sigaction(SIGPIPE, &old, NULL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return cli_error("--plot: gnuplot failed drawing %s (exit status %d; its messages "
                         "are above)", path, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    if (failed)
        return cli_error("--plot: could not send the script to gnuplot");
    return EXIT_OK;
}

int plot_histories(const train_record *const runs[], int n, const char *path)
{
    char tmp[MNIST_PATH_MAX + 32];
    if (cli_temp_name(path, tmp, sizeof tmp) != EXIT_OK)
        return EXIT_ERROR;
    pid_t pid;
    FILE *in;
    int rc = spawn_gnuplot(&pid, &in);
    if (rc == EXIT_OK)
        rc = feed_gnuplot(pid, in, runs, n, path, tmp);
    struct stat sb;
    if (rc == EXIT_OK && (stat(tmp, &sb) != 0 || sb.st_size == 0))
        rc = cli_error("--plot: gnuplot wrote nothing to %s", path);
    if (rc == EXIT_OK) {
        chmod(tmp, 0644);
        if (rename(tmp, path) != 0)
            rc = cli_error("--plot: %s: cannot rename into place: %s", path, strerror(errno));
    }
    if (rc != EXIT_OK)
        unlink(tmp);
    return rc;
}

int plot_history(const train_record *r, const char *path)
{
    const train_record *runs[1] = {r};
    return plot_histories(runs, 1, path);
}
