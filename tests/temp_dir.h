/*
 * tests/temp_dir.h — a fresh temporary directory for each test, removed with all it
 * holds afterwards:  TestSuite(name, .init = temp_dir_make, .fini = temp_dir_remove);
 * The including file defines _XOPEN_SOURCE >= 700 (mkdtemp, nftw) before any include,
 * or _GNU_SOURCE when it runs programs there (temp_dir_spawn: posix_spawn, environ).
 */
#ifndef NN_TESTS_TEMP_DIR_H
#define NN_TESTS_TEMP_DIR_H

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

static char dir[64]; /* this test's directory */

static void temp_dir_make(void)
{
    snprintf(dir, sizeof dir, "/tmp/nn-test-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static int temp_dir_remove_entry(const char *p, const struct stat *s, int f, struct FTW *w)
{
    (void)s, (void)f, (void)w;
    return remove(p);
}

static void temp_dir_remove(void) { nftw(dir, temp_dir_remove_entry, 8, FTW_DEPTH | FTW_PHYS); }

#ifdef _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <string.h>
#include <unistd.h>

/* Starts argv (argv[0] a path) in this test's directory: stdin from /dev/null, stdout
 * to out_fd, stderr to the file .stderr there.  Returns its pid. */
static inline pid_t temp_dir_spawn(char **argv, int out_fd)
{
    char err_path[128];
    snprintf(err_path, sizeof err_path, "%s/.stderr", dir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    char cwd[4096];
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    cr_assert_eq(chdir(dir), 0);
    pid_t pid;
    int e = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    cr_assert_eq(chdir(cwd), 0);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(e, 0, "cannot run %s: %s (build the mnist target first)", argv[0], strerror(e));
    return pid;
}
#endif

#endif /* NN_TESTS_TEMP_DIR_H */
