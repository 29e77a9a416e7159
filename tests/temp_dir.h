/*
 * tests/temp_dir.h — a fresh temporary directory for each test, removed with all it
 * holds afterwards:  TestSuite(name, .init = temp_dir_make, .fini = temp_dir_remove);
 * The including file defines _XOPEN_SOURCE >= 700 (mkdtemp, nftw) before any include.
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

#endif /* NN_TESTS_TEMP_DIR_H */
