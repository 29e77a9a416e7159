/*
 * test_idx.c — the IDX reader (mnist/idx.c): valid raw and gzip files written here, and
 * every kind of bad file a user can hand it: bad magic, truncated header or data,
 * trailing bytes, image/label count mismatch, labels >= 10, absurd dimensions, missing
 * files.  Each must fail with a message naming the file and the problem, never crash.
 * The real MNIST in data/mnist/ is checked when it has been fetched (skipped otherwise).
 */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw */

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "idx.h"

#include "temp_dir.h"



TestSuite(idx, .init = temp_dir_make, .fini = temp_dir_remove);

/* ---- Writing test files ------------------------------------------------------------- */

typedef struct idx_file {
    uint32_t magic;
    int rank;
    uint32_t dims[3];
    const uint8_t *data;
    size_t data_len; /* may differ from the dims' product, to make bad files */
    int gzip;
} idx_file;

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void write_bytes(const char *name, const uint8_t *bytes, size_t n, int gzip)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (gzip) {
        gzFile f = gzopen(path, "wb");
        cr_assert_not_null(f);
        cr_assert_eq(gzwrite(f, bytes, (unsigned)n), (int)n);
        cr_assert_eq(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        cr_assert_not_null(f);
        cr_assert_eq(fwrite(bytes, 1, n, f), n);
        cr_assert_eq(fclose(f), 0);
    }
}

static void write_idx(const char *name, idx_file f)
{
    size_t header = 4 + 4 * (size_t)f.rank;
    uint8_t *bytes = malloc(header + f.data_len + 1);
    put_be32(bytes, f.magic);
    for (int i = 0; i < f.rank; i++)
        put_be32(bytes + 4 + 4 * i, f.dims[i]);
    if (f.data_len)
        memcpy(bytes + header, f.data, f.data_len);
    write_bytes(name, bytes, header + f.data_len, f.gzip);
    free(bytes);
}

/* A valid split "s" of n images of 2x3 (pixel = 10 * image + position) and labels i % 10. */
enum { ROWS = 2, COLS = 3 };
static uint8_t pixels[64 * ROWS * COLS], labels[64];

static void write_split(const char *prefix, int n_images, int n_labels, int gzip)
{
    char name[64];
    for (int i = 0; i < 64 * ROWS * COLS; i++)
        pixels[i] = (uint8_t)(10 * (i / (ROWS * COLS)) + i % (ROWS * COLS));
    for (int i = 0; i < 64; i++)
        labels[i] = (uint8_t)(i % 10);
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
    write_idx(name, (idx_file){0x803, 3, {(uint32_t)n_images, ROWS, COLS}, pixels,
                               (size_t)n_images * ROWS * COLS, gzip});
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
    write_idx(name, (idx_file){0x801, 1, {(uint32_t)n_labels}, labels, (size_t)n_labels, gzip});
}

/* Expects mnist_load(dir, "s") to fail with `status` and a message containing both
 * `file` (a name in dir, or NULL) and `text`. */
static void expect_load_error(nn_status status, const char *file, const char *text)
{
    mnist_set set;
    memset(&set, 0xab, sizeof set);
    nn_status st = mnist_load(dir, "s", &set);
    const char *msg = nn_last_error();
    cr_assert_eq(st, status, "status %d, message: %s", st, msg);
    cr_assert_null(set.images);
    cr_assert_null(set.labels);
    cr_assert_eq(set.count, 0);
    if (file) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", dir, file);
        cr_assert(strstr(msg, path), "message does not name %s: %s", path, msg);
    }
    cr_assert(strstr(msg, text), "message lacks \"%s\": %s", text, msg);
}

/* ---- Valid files ----------------------------------------------------------------------- */

static void check_valid(int gzip)
{
    write_split("s", 12, 12, gzip);
    mnist_set set;
    cr_assert_eq(mnist_load(dir, "s", &set), NN_OK, "%s", nn_last_error());
    cr_assert_eq(set.count, 12);
    cr_assert_eq(set.rows, ROWS);
    cr_assert_eq(set.cols, COLS);
    cr_assert_arr_eq(set.images, pixels, 12 * ROWS * COLS);
    cr_assert_arr_eq(set.labels, labels, 12);
    mnist_set_free(&set);
    cr_assert_null(set.images);
}

Test(idx, reads_raw_files) { check_valid(0); }
Test(idx, reads_gzip_files) { check_valid(1); }

Test(idx, reads_one_array)
{
    uint8_t data[5] = {1, 2, 3, 4, 5};
    write_idx("a", (idx_file){0x801, 1, {5}, data, 5, 0});
    mnist_idx idx;
    char path[256];
    snprintf(path, sizeof path, "%s/a", dir);
    cr_assert_eq(mnist_idx_read(path, 1, &idx), NN_OK, "%s", nn_last_error());
    cr_assert_eq(idx.rank, 1);
    cr_assert_eq(idx.dims[0], 5);
    cr_assert_eq(idx.size, 5);
    cr_assert_arr_eq(idx.data, data, 5);
    mnist_idx_free(&idx);
    cr_assert_eq(mnist_idx_read(path, 4, &idx), NN_ERR_INVALID_ARGUMENT);
}

/* ---- Bad headers ------------------------------------------------------------------------ */

Test(idx, bad_magic)
{
    write_split("s", 4, 4, 0);
    write_idx("s-images-idx3-ubyte", (idx_file){0x12345678, 3, {4, ROWS, COLS}, pixels,
                                                4 * ROWS * COLS, 0});
    expect_load_error(NN_ERR_FORMAT, "s-images-idx3-ubyte", "bad magic 0x12345678");
}

Test(idx, labels_file_where_images_expected)
{
    write_split("s", 4, 4, 1);
    write_idx("s-images-idx3-ubyte", (idx_file){0x801, 1, {4}, labels, 4, 1});
    expect_load_error(NN_ERR_FORMAT, "s-images-idx3-ubyte", "expected 0x00000803");
}

Test(idx, empty_file)
{
    write_split("s", 4, 4, 0);
    write_bytes("s-labels-idx1-ubyte", labels, 0, 0);
    expect_load_error(NN_ERR_FORMAT, "s-labels-idx1-ubyte", "truncated header");
}

Test(idx, truncated_dimensions)
{
    write_split("s", 4, 4, 0);
    uint8_t bytes[10] = {0, 0, 8, 3, 0, 0, 0, 4, 0, 0}; /* 2 of the 12 dimension bytes */
    write_bytes("s-images-idx3-ubyte", bytes, sizeof bytes, 0);
    expect_load_error(NN_ERR_FORMAT, "s-images-idx3-ubyte", "truncated header: 6 of 12");
}

Test(idx, zero_dimension)
{
    write_split("s", 4, 4, 0);
    write_idx("s-images-idx3-ubyte", (idx_file){0x803, 3, {4, 0, COLS}, pixels, 0, 0});
    expect_load_error(NN_ERR_FORMAT, "s-images-idx3-ubyte", "dimension 1 is 0");
}

Test(idx, dimension_above_int_max)
{
    write_split("s", 4, 4, 0);
    write_idx("s-labels-idx1-ubyte", (idx_file){0x801, 1, {0xffffffffu}, labels, 4, 0});
    expect_load_error(NN_ERR_FORMAT, "s-labels-idx1-ubyte", "dimension 0 is 4294967295");
}

Test(idx, huge_dimensions)
{
    write_split("s", 4, 4, 0);
    write_idx("s-images-idx3-ubyte",
              (idx_file){0x803, 3, {0x7fffffff, 0x7fffffff, 28}, pixels, 16, 0});
    expect_load_error(NN_ERR_FORMAT, "s-images-idx3-ubyte", "more than 1073741824 bytes");
}

/* A header that promises exactly the 1 GiB cap on a tiny file: a clear truncation
 * error, and (the buffer grows with the data) no gigabyte allocated. */
Test(idx, huge_promise_on_a_short_file)
{
    write_split("s", 4, 4, 0);
    write_idx("s-images-idx3-ubyte", (idx_file){0x803, 3, {1u << 20, 32, 32}, pixels, 100, 0});
    expect_load_error(NN_ERR_FORMAT, "s-images-idx3-ubyte",
                      "truncated: header promises 1048576 images of 32x32 (1073741824 bytes), "
                      "file has 100 bytes");
}

/* ---- Bad payloads ------------------------------------------------------------------------ */

Test(idx, truncated_labels)
{
    write_split("s", 10, 10, 0);
    write_idx("s-labels-idx1-ubyte", (idx_file){0x801, 1, {10}, labels, 7, 0});
    expect_load_error(NN_ERR_FORMAT, "s-labels-idx1-ubyte",
                      "truncated: header promises 10 labels, file has 7");
}

Test(idx, truncated_images_gzip)
{
    write_split("s", 10, 10, 1);
    write_idx("s-images-idx3-ubyte", (idx_file){0x803, 3, {10, ROWS, COLS}, pixels, 50, 1});
    expect_load_error(NN_ERR_FORMAT, "s-images-idx3-ubyte",
                      "header promises 10 images of 2x3 (60 bytes), file has 50 bytes");
}

/* A gzip file cut in the middle of its compressed stream. */
Test(idx, cut_gzip_stream)
{
    write_split("s", 64, 64, 1);
    char path[256];
    snprintf(path, sizeof path, "%s/s-images-idx3-ubyte", dir);
    FILE *f = fopen(path, "rb");
    uint8_t buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    cr_assert_gt(n, 40);
    write_bytes("s-images-idx3-ubyte", buf, n - 12, 0); /* drop the trailer and a bit */
    expect_load_error(NN_ERR_FORMAT, "s-images-idx3-ubyte", "truncated");
}

Test(idx, corrupt_gzip_stream)
{
    write_split("s", 64, 64, 1);
    uint8_t bytes[64] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    for (int i = 10; i < 64; i++)
        bytes[i] = (uint8_t)(0xff - i);
    write_bytes("s-labels-idx1-ubyte", bytes, sizeof bytes, 0);
    mnist_set set;
    cr_assert_neq(mnist_load(dir, "s", &set), NN_OK);
    cr_assert(strstr(nn_last_error(), "s-labels-idx1-ubyte"), "%s", nn_last_error());
}

Test(idx, trailing_bytes)
{
    write_split("s", 10, 10, 0);
    write_idx("s-labels-idx1-ubyte", (idx_file){0x801, 1, {9}, labels, 10, 0});
    expect_load_error(NN_ERR_FORMAT, "s-labels-idx1-ubyte",
                      "trailing data after the 9 labels the header promises");
}

Test(idx, trailing_bytes_gzip)
{
    write_split("s", 10, 10, 1);
    write_idx("s-images-idx3-ubyte", (idx_file){0x803, 3, {9, ROWS, COLS}, pixels, 60, 1});
    expect_load_error(NN_ERR_FORMAT, "s-images-idx3-ubyte", "trailing data after the 9 images");
}

Test(idx, count_mismatch)
{
    write_split("s", 12, 11, 0);
    expect_load_error(NN_ERR_FORMAT, NULL, "has 12 images but");
    cr_assert(strstr(nn_last_error(), "s-labels-idx1-ubyte has 11 labels"), "%s",
              nn_last_error());
}

Test(idx, label_out_of_range)
{
    write_split("s", 12, 12, 0);
    labels[7] = 10;
    write_idx("s-labels-idx1-ubyte", (idx_file){0x801, 1, {12}, labels, 12, 0});
    expect_load_error(NN_ERR_FORMAT, "s-labels-idx1-ubyte", "label 10 at index 7 is out of range");
}

/* ---- Missing files ------------------------------------------------------------------------ */

Test(idx, missing_file_says_how_to_fetch)
{
    write_split("s", 4, 4, 0);
    char path[256];
    snprintf(path, sizeof path, "%s/s-labels-idx1-ubyte", dir);
    cr_assert_eq(unlink(path), 0);
    char want[256];
    snprintf(want, sizeof want, "missing (run: build/bin/mnist fetch --dataset mnist --data-dir %s)",
             dir);
    expect_load_error(NN_ERR_IO, "s-labels-idx1-ubyte", want);
}

Test(idx, missing_default_dir_names_the_dataset)
{
    mnist_set set;
    cr_assert_eq(mnist_load("/nonexistent/data/fashion", "train", &set), NN_ERR_IO);
    cr_assert(strstr(nn_last_error(), "/nonexistent/data/fashion/train-images-idx3-ubyte: "
                     "missing (run: build/bin/mnist fetch --dataset fashion --data-dir"),
              "%s", nn_last_error());
}

/* ---- The real data set, when fetched ----------------------------------------------------- */

/* The repository root, from this file's path (CMake compiles it by absolute path). */
static void repo_path(char *buf, size_t size, const char *rel)
{
    const char *slash = strrchr(__FILE__, '/');
    int len = slash ? (int)(slash - __FILE__) : 1;
    snprintf(buf, size, "%.*s/../%s", len, slash ? __FILE__ : ".", rel);
}

static void check_real(const char *prefix, int count, const int want[10])
{
    char data[1024];
    repo_path(data, sizeof data, "data/mnist");
    if (access(data, F_OK) != 0)
        cr_skip_test("%s not fetched (build/bin/mnist fetch)", data);
    mnist_set set;
    cr_assert_eq(mnist_load(data, prefix, &set), NN_OK, "%s", nn_last_error());
    cr_assert_eq(set.count, count);
    cr_assert_eq(set.rows, 28);
    cr_assert_eq(set.cols, 28);
    int hist[10] = {0};
    for (int i = 0; i < set.count; i++)
        hist[set.labels[i]]++;
    cr_assert_arr_eq(hist, want, sizeof hist);
    mnist_set_free(&set);
}

/* Label counts from /work/shared/DATA.md. */
Test(idx, real_mnist_train)
{
    static const int want[10] = {5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949};
    check_real("train", 60000, want);
}

Test(idx, real_mnist_test)
{
    static const int want[10] = {980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009};
    check_real("t10k", 10000, want);
}
