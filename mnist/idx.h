/*
 * mnist/idx.h — reading MNIST-style IDX files (raw or gzip-compressed, transparently).
 *
 * IDX: a big-endian header (magic 0x00000800 | rank, the type byte 0x08 = unsigned byte),
 * then `rank` 32-bit dimensions, then exactly dims[0] * ... * dims[rank-1] bytes.
 * Labels are rank 1 (magic 0x00000801), images rank 3 (magic 0x00000803).
 *
 * Every function returns an nn_status and on failure leaves a message for
 * nn_last_error() that starts with the file's path and says what is wrong, e.g.
 *   "data/mnist/train-labels-idx1-ubyte: truncated: header promises 60000 labels, file has 59990".
 */
#ifndef NN_MNIST_IDX_H
#define NN_MNIST_IDX_H

#include <stddef.h>
#include <stdint.h>

#include <nn/engine.h>

/* The largest payload accepted (dims multiplied): 1 GiB, 20x the MNIST training images. */
#define MNIST_IDX_MAX_BYTES ((size_t)1 << 30)

/* The program and command named in "file missing" messages. */
#define MNIST_PROGRAM "build/bin/mnist"

/* One IDX array of unsigned bytes. */
typedef struct mnist_idx {
    int rank;       /* 1 to 3 */
    int dims[3];    /* dims[0] is the item count; all > 0 */
    size_t size;    /* bytes in data: the product of the dims */
    uint8_t *data;  /* malloc'd; free with mnist_idx_free */
} mnist_idx;

/* A data set split: count images of rows x cols bytes (row-major, 0 = background) and
 * count labels in 0..9. */
typedef struct mnist_set {
    int count, rows, cols;
    uint8_t *images; /* count * rows * cols */
    uint8_t *labels; /* count */
} mnist_set;

/* Reads the IDX file at `path` of the given rank (1 labels, 3 images); checks the magic,
 * every dimension (> 0, payload <= MNIST_IDX_MAX_BYTES) and that the file holds exactly
 * the promised bytes.  On failure *out is left empty. */
nn_status mnist_idx_read(const char *path, int rank, mnist_idx *out);
void mnist_idx_free(mnist_idx *idx);

/* Loads DIR/PREFIX-images-idx3-ubyte and DIR/PREFIX-labels-idx1-ubyte (prefix "train" or
 * "t10k"), checks that the counts agree and every label is < 10.  A missing file gives
 * NN_ERR_IO and a message with the command that fetches it.  On failure *out is empty. */
nn_status mnist_load(const char *dir, const char *prefix, mnist_set *out);
void mnist_set_free(mnist_set *set);

/* Writes DIR/NAME into buf; NN_ERR_INVALID_ARGUMENT if it does not fit. */
nn_status mnist_join(char *buf, size_t size, const char *dir, const char *name);

#endif
