/*
 * test_fetch.c — fetching and verification (mnist/fetch.c) without a network: SHA-256 of
 * known inputs, good and bad checksums, and mnist_fetch driven by a test source whose
 * "download" copies files made here (raw or gzip) and counts its calls: everything
 * fetched and decompressed, cached files not fetched again, a wrong file replaced, a
 * bad download rejected and deleted, temporary directories cleaned.  The real
 * data/mnist/ is checked against the compiled-in checksums when fetched.
 */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw, open_memstream */

#include <criterion/criterion.h>
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "fetch.h"
#include "idx.h"

#include "temp_dir.h"



TestSuite(fetch, .init = temp_dir_make, .fini = temp_dir_remove);

static void path_of(char *buf, const char *rel) { snprintf(buf, 512, "%s/%s", dir, rel); }

static void write_file(const char *rel, const void *bytes, size_t n, int gzip)
{
    char path[512];
    path_of(path, rel);
    if (gzip) {
        gzFile f = gzopen(path, "wb");
        cr_assert_not_null(f);
        cr_assert_eq(gzwrite(f, bytes, (unsigned)n), (int)n);
        cr_assert_eq(gzclose(f), Z_OK);
        return;
    }
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(bytes, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

/* ---- SHA-256 -------------------------------------------------------------------------- */

Test(fetch, sha256_of_known_inputs)
{
    char path[512], hex[65];
    write_file("abc", "abc", 3, 0);
    path_of(path, "abc");
    cr_assert_eq(mnist_sha256_file(path, hex), NN_OK, "%s", nn_last_error());
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    write_file("empty", "", 0, 0);
    path_of(path, "empty");
    cr_assert_eq(mnist_sha256_file(path, hex), NN_OK);
    cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

Test(fetch, check_sha256_good_and_bad)
{
    char path[512];
    write_file("abc", "abc", 3, 0);
    path_of(path, "abc");
    const char *good = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const char *bad = "0000000000000000000000000000000000000000000000000000000000000000";
    cr_assert_eq(mnist_check_sha256(path, good), NN_OK);
    cr_assert_eq(mnist_check_sha256(path, bad), NN_ERR_FORMAT);
    const char *msg = nn_last_error();
    cr_assert(strstr(msg, path) && strstr(msg, "SHA-256 mismatch") && strstr(msg, good) &&
              strstr(msg, bad), "%s", msg);
    path_of(path, "absent");
    cr_assert_eq(mnist_check_sha256(path, good), NN_ERR_IO);
    cr_assert(strstr(nn_last_error(), "absent"), "%s", nn_last_error());
}

Test(fetch, builtin_sources)
{
    const mnist_source *m = mnist_source_find("mnist"), *f = mnist_source_find("fashion");
    cr_assert(m && f);
    cr_assert_str_eq(m->sha256[0],
                     "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db");
    cr_assert_str_eq(f->sha256[3],
                     "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34");
    cr_assert_null(mnist_source_find("kmnist"));
    cr_assert(strstr(nn_last_error(), "unknown data set 'kmnist'"), "%s", nn_last_error());
}

/* ---- mnist_fetch with a test source ------------------------------------------------------- */

/* The "remote" copies live in dir/remote/<name> (odd files gzip-compressed); content of
 * file i is 1000 + 100 * i bytes of (i + 7 * k) % 251. */
typedef struct remote {
    char sha[MNIST_FILE_COUNT][65];
    int calls;
    int wanted[MNIST_FILE_COUNT]; /* how often each file was asked for */
    int fail;                     /* obtain() fails */
} remote;

static remote rem;

static size_t content(int i, uint8_t *buf)
{
    size_t n = 1000 + 100 * (size_t)i;
    for (size_t k = 0; k < n; k++)
        buf[k] = (uint8_t)((i + 7 * k) % 251);
    return n;
}

static nn_status test_obtain(const mnist_source *src, const char *tmp_dir,
                             const int want[MNIST_FILE_COUNT],
                             char path[MNIST_FILE_COUNT][MNIST_PATH_MAX])
{
    (void)src;
    rem.calls++;
    cr_assert_eq(access(tmp_dir, W_OK), 0, "obtain gets a writable temporary directory");
    if (rem.fail)
        return NN_ERR_IO;
    for (int i = 0; i < MNIST_FILE_COUNT; i++) {
        rem.wanted[i] += want[i];
        snprintf(path[i], MNIST_PATH_MAX, "%s/remote/%s", dir, mnist_file_names[i]);
    }
    return NN_OK;
}

/* Writes the remote files, computes their uncompressed checksums into the source. */
static mnist_source make_source(void)
{
    char rel[128], plain[512];
    uint8_t buf[2000];
    memset(&rem, 0, sizeof rem);
    path_of(plain, "remote");
    cr_assert_eq(mkdir(plain, 0700), 0);
    mnist_source src = {"test", {0}, test_obtain, NULL};
    for (int i = 0; i < MNIST_FILE_COUNT; i++) {
        size_t n = content(i, buf);
        write_file("plain", buf, n, 0);
        path_of(plain, "plain");
        cr_assert_eq(mnist_sha256_file(plain, rem.sha[i]), NN_OK);
        src.sha256[i] = rem.sha[i];
        snprintf(rel, sizeof rel, "remote/%s", mnist_file_names[i]);
        write_file(rel, buf, n, i % 2);
    }
    return src;
}

/* Runs mnist_fetch into dir/out/data, returns its status; *log gets what it printed. */
static nn_status fetch_into(const mnist_source *src, char **log)
{
    char out[512];
    size_t size;
    path_of(out, "out/data");
    FILE *f = open_memstream(log, &size);
    nn_status st = mnist_fetch(src, out, f);
    fclose(f);
    return st;
}

/* No .fetch-* temporary directory is left in dir/out/data. */
static void assert_no_temp_dirs(void)
{
    char out[512];
    path_of(out, "out/data");
    DIR *d = opendir(out);
    cr_assert_not_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        cr_assert(strncmp(e->d_name, ".fetch-", 7) != 0, "left behind: %s", e->d_name);
    closedir(d);
}

static void assert_installed(int i)
{
    char rel[128], path[512];
    uint8_t want[2000], got[2100];
    size_t n = content(i, want);
    snprintf(rel, sizeof rel, "out/data/%s", mnist_file_names[i]);
    path_of(path, rel);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s not installed", path);
    size_t m = fread(got, 1, sizeof got, f);
    fclose(f);
    cr_assert_eq(m, n, "%s: %zu bytes, want %zu (stored uncompressed)", path, m, n);
    cr_assert_arr_eq(got, want, n);
}

Test(fetch, fetches_decompresses_and_caches)
{
    mnist_source src = make_source();
    char *log = NULL;
    cr_assert_eq(fetch_into(&src, &log), NN_OK, "%s", nn_last_error());
    cr_assert_eq(rem.calls, 1);
    for (int i = 0; i < MNIST_FILE_COUNT; i++) {
        cr_assert_eq(rem.wanted[i], 1);
        assert_installed(i);
    }
    cr_assert(strstr(log, "train-images-idx3-ubyte: ok (fetched, SHA-256 verified)"), "%s", log);
    free(log);
    assert_no_temp_dirs();

    cr_assert_eq(fetch_into(&src, &log), NN_OK, "%s", nn_last_error());
    cr_assert_eq(rem.calls, 1, "cached files are not fetched again");
    cr_assert(strstr(log, "t10k-labels-idx1-ubyte: ok (cached)"), "%s", log);
    free(log);
    char out[512];
    path_of(out, "out/data");
    cr_assert_eq(mnist_verify(&src, out), NN_OK, "%s", nn_last_error());
}

Test(fetch, refetches_only_a_wrong_file)
{
    mnist_source src = make_source();
    char *log = NULL;
    cr_assert_eq(fetch_into(&src, &log), NN_OK, "%s", nn_last_error());
    free(log);
    write_file("out/data/t10k-images-idx3-ubyte", "junk", 4, 0);
    char out[512];
    path_of(out, "out/data");
    cr_assert_eq(mnist_verify(&src, out), NN_ERR_FORMAT);
    cr_assert(strstr(nn_last_error(), "t10k-images-idx3-ubyte: SHA-256 mismatch"), "%s",
              nn_last_error());
    cr_assert_eq(fetch_into(&src, &log), NN_OK, "%s", nn_last_error());
    cr_assert_eq(rem.calls, 2);
    cr_assert_eq(rem.wanted[2], 2);
    cr_assert_eq(rem.wanted[0] + rem.wanted[1] + rem.wanted[3], 3);
    cr_assert(strstr(log, "t10k-images-idx3-ubyte: wrong checksum, fetching it again"), "%s", log);
    free(log);
    assert_installed(2);
}

Test(fetch, bad_download_is_rejected_and_deleted)
{
    mnist_source src = make_source();
    const char *bad = "1111111111111111111111111111111111111111111111111111111111111111";
    src.sha256[1] = bad;
    char *log = NULL;
    cr_assert_eq(fetch_into(&src, &log), NN_ERR_FORMAT);
    free(log);
    const char *msg = nn_last_error();
    cr_assert(strstr(msg, "train-labels-idx1-ubyte") && strstr(msg, "SHA-256 mismatch") &&
              strstr(msg, bad) && strstr(msg, rem.sha[1]), "%s", msg);
    char path[512];
    path_of(path, "out/data/train-labels-idx1-ubyte");
    cr_assert_neq(access(path, F_OK), 0, "a file with a bad checksum was kept");
    assert_no_temp_dirs();
}

Test(fetch, failing_source_cleans_up)
{
    mnist_source src = make_source();
    rem.fail = 1;
    char *log = NULL;
    cr_assert_eq(fetch_into(&src, &log), NN_ERR_IO);
    free(log);
    cr_assert_eq(rem.calls, 1);
    assert_no_temp_dirs();
}

Test(fetch, verify_names_the_missing_file_and_the_command)
{
    const mnist_source *src = mnist_source_find("mnist");
    cr_assert_eq(mnist_verify(src, dir), NN_ERR_IO);
    char want[256];
    snprintf(want, sizeof want,
             "train-images-idx3-ubyte: missing (run: build/bin/mnist fetch --dataset mnist "
             "--data-dir %s)", dir);
    cr_assert(strstr(nn_last_error(), want), "%s", nn_last_error());
}

Test(fetch, unwritable_data_dir)
{
    mnist_source src = make_source();
    write_file("file", "x", 1, 0);
    char out[512];
    path_of(out, "file/data");
    cr_assert_eq(mnist_fetch(&src, out, NULL), NN_ERR_IO);
    cr_assert(strstr(nn_last_error(), "file/data"), "%s", nn_last_error());
    cr_assert_eq(rem.calls, 0);
}

/* ---- The real data set, when fetched ------------------------------------------------------- */

Test(fetch, real_mnist_is_cached_and_verified)
{
    char data[1024];
    const char *slash = strrchr(__FILE__, '/');
    snprintf(data, sizeof data, "%.*s/../data/mnist", slash ? (int)(slash - __FILE__) : 1,
             slash ? __FILE__ : ".");
    if (access(data, F_OK) != 0)
        cr_skip_test("%s not fetched (build/bin/mnist fetch)", data);
    const mnist_source *src = mnist_source_find("mnist");
    cr_assert_eq(mnist_verify(src, data), NN_OK, "%s", nn_last_error());
    char *log = NULL;
    size_t size;
    FILE *f = open_memstream(&log, &size);
    cr_assert_eq(mnist_fetch(src, data, f), NN_OK, "%s", nn_last_error());
    fclose(f);
    for (int i = 0; i < MNIST_FILE_COUNT; i++)
        cr_assert(strstr(log, mnist_file_names[i]) && !strstr(log, "fetched"), "%s", log);
    free(log);
}
