/*
 * mnist/idx.c — the IDX reader: header, dimensions and payload checks, then the
 * image/label pairing of mnist_load.  zlib's gzread reads raw and gzip files alike.
 */
#define _POSIX_C_SOURCE 200809L

#include "idx.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "internal.h"

#define IDX_UBYTE 0x08
#define READ_CHUNK ((size_t)1 << 20) /* the payload buffer grows by doubling from here */

nn_status mnist_join(char *buf, size_t size, const char *dir, const char *name)
{
    int n = snprintf(buf, size, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= size)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "%s/%s: path too long", dir, name);
    return NN_OK;
}

static const char *item_noun(int rank)
{
    return rank == 1 ? "labels" : rank == 3 ? "images" : "items";
}

/* Reads up to n bytes; returns the count read, or -1 on a gzip/read error. */
static long read_some(gzFile f, uint8_t *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        size_t want = n - got < ((size_t)1 << 30) ? n - got : ((size_t)1 << 30);
        int r = gzread(f, buf + got, (unsigned)want);
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (long)got;
}

static nn_status gz_failure(gzFile f, const char *path)
{
    int err = Z_OK;
    const char *msg = gzerror(f, &err);
    if (err == Z_ERRNO)
        return nn_fail(NN_ERR_IO, "%s: read failed: %s", path, strerror(errno));
    return nn_fail(NN_ERR_FORMAT, "%s: corrupt gzip data: %s", path, msg);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static nn_status read_magic(gzFile f, const char *path, int rank)
{
    uint8_t b[4];
    long n = read_some(f, b, sizeof b);
    if (n < 0)
        return gz_failure(f, path);
    if (n < 4)
        return nn_fail(NN_ERR_FORMAT, "%s: truncated header: file has %ld bytes, an IDX header "
                       "needs %d", path, n, 4 + 4 * rank);
    uint32_t magic = be32(b), want = 0x800u | (uint32_t)rank;
    if (magic != want)
        return nn_fail(NN_ERR_FORMAT, "%s: bad magic 0x%08x (expected 0x%08x, an IDX file of %s)",
                       path, (unsigned)magic, (unsigned)want, item_noun(rank));
    return NN_OK;
}

/* Reads the dimensions into idx and checks each is in 1..INT_MAX and the payload fits. */
static nn_status read_dims(gzFile f, const char *path, mnist_idx *idx)
{
    uint8_t b[12];
    long need = 4L * idx->rank, n = read_some(f, b, (size_t)need);
    if (n < 0)
        return gz_failure(f, path);
    if (n < need)
        return nn_fail(NN_ERR_FORMAT, "%s: truncated header: %ld of %ld dimension bytes",
                       path, n, need);
    idx->size = 1;
    for (int i = 0; i < idx->rank; i++) {
        uint32_t d = be32(b + 4 * i);
        if (d == 0 || d > INT_MAX)
            return nn_fail(NN_ERR_FORMAT, "%s: dimension %d is %u (must be 1 to %d)",
                           path, i, (unsigned)d, INT_MAX);
        idx->dims[i] = (int)d;
        if (d > MNIST_IDX_MAX_BYTES / idx->size)
            return nn_fail(NN_ERR_FORMAT, "%s: dimensions promise more than %zu bytes of data",
                           path, MNIST_IDX_MAX_BYTES);
        idx->size *= d;
    }
    return NN_OK;
}

static nn_status truncated(gzFile f, const char *path, const mnist_idx *idx, size_t got)
{
    int err = Z_OK;
    gzerror(f, &err);
    const char *gz = err == Z_BUF_ERROR ? " (gzip stream cut short)" : "";
    if (idx->rank == 1)
        return nn_fail(NN_ERR_FORMAT, "%s: truncated: header promises %d labels, file has %zu%s",
                       path, idx->dims[0], got, gz);
    if (idx->rank == 3)
        return nn_fail(NN_ERR_FORMAT, "%s: truncated: header promises %d images of %dx%d "
                       "(%zu bytes), file has %zu bytes%s", path, idx->dims[0], idx->dims[1],
                       idx->dims[2], idx->size, got, gz);
    return nn_fail(NN_ERR_FORMAT, "%s: truncated: header promises %zu bytes, file has %zu%s",
                   path, idx->size, got, gz);
}

/* Grows *buf (capacity *cap, holding len bytes) towards size. */
static nn_status grow(uint8_t **buf, size_t *cap, size_t size)
{
    size_t next = *cap == 0 ? READ_CHUNK : 2 * *cap;
    if (next > size)
        next = size;
    uint8_t *p = realloc(*buf, next);
    if (!p)
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "out of memory reading %zu bytes", size);
    *buf = p;
    *cap = next;
    return NN_OK;
}

/* Reads exactly idx->size bytes and checks nothing follows.  The buffer grows as data
 * arrives, so a short file that promises a gigabyte does not get one allocated. */
static nn_status read_payload(gzFile f, const char *path, mnist_idx *idx)
{
    size_t cap = 0, len = 0;
    nn_status st = NN_OK;
    while (st == NN_OK && len < idx->size) {
        if (len == cap && (st = grow(&idx->data, &cap, idx->size)) != NN_OK)
            break;
        long n = read_some(f, idx->data + len, cap - len);
        if (n < 0)
            st = gz_failure(f, path);
        else if (n == 0)
            st = truncated(f, path, idx, len);
        len += n > 0 ? (size_t)n : 0;
    }
    uint8_t extra;
    long n = st == NN_OK ? read_some(f, &extra, 1) : 0;
    if (n < 0)
        st = gz_failure(f, path);
    else if (n > 0)
        st = nn_fail(NN_ERR_FORMAT, "%s: trailing data after the %d %s the header promises",
                     path, idx->dims[0], item_noun(idx->rank));
    return st;
}

nn_status mnist_idx_read(const char *path, int rank, mnist_idx *out)
{
    memset(out, 0, sizeof *out);
    if (rank < 1 || rank > 3)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: IDX rank %d not supported (1 to 3)",
                       path, rank);
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return nn_fail(NN_ERR_IO, "%s: cannot open: %s", path,
                       errno ? strerror(errno) : "out of memory");
    gzbuffer(f, 1 << 17);
    out->rank = rank;
    nn_status st = read_magic(f, path, rank);
    if (st == NN_OK)
        st = read_dims(f, path, out);
    if (st == NN_OK)
        st = read_payload(f, path, out);
    gzclose_r(f);
    if (st != NN_OK)
        mnist_idx_free(out);
    return st;
}

void mnist_idx_free(mnist_idx *idx)
{
    free(idx->data);
    memset(idx, 0, sizeof *idx);
}

void mnist_fetch_hint(char *buf, size_t size, const char *dataset, const char *dir)
{
    if (!dataset) {
        const char *base = strrchr(dir, '/');
        dataset = strcmp(base ? base + 1 : dir, "fashion") == 0 ? "fashion" : "mnist";
    }
    char standard[64];
    snprintf(standard, sizeof standard, "data/%s", dataset);
    if (strcmp(dir, standard) == 0)
        snprintf(buf, size, "run: %s fetch --dataset %s", MNIST_PROGRAM, dataset);
    else
        snprintf(buf, size, "run: %s fetch --dataset %s --data-dir %s", MNIST_PROGRAM,
                 dataset, dir);
}

static nn_status check_present(const char *path, const char *dir)
{
    struct stat sb;
    if (stat(path, &sb) == 0 || errno != ENOENT)
        return NN_OK; /* other problems are reported by the read itself */
    char hint[320];
    mnist_fetch_hint(hint, sizeof hint, NULL, dir);
    return nn_fail(NN_ERR_IO, "%s: missing (%s)", path, hint);
}

static nn_status check_pair(const char *ipath, const mnist_idx *img,
                            const char *lpath, const mnist_idx *lab)
{
    if (img->dims[0] != lab->dims[0])
        return nn_fail(NN_ERR_FORMAT, "%s has %d images but %s has %d labels",
                       ipath, img->dims[0], lpath, lab->dims[0]);
    for (int i = 0; i < lab->dims[0]; i++)
        if (lab->data[i] >= 10)
            return nn_fail(NN_ERR_FORMAT, "%s: label %d at index %d is out of range (0 to 9)",
                           lpath, lab->data[i], i);
    return NN_OK;
}

/* Reads both files of a split into img and lab (both empty on failure). */
static nn_status read_pair(const char *dir, const char *prefix, mnist_idx *img, mnist_idx *lab)
{
    char ipath[4096], lpath[4096], iname[256], lname[256];
    memset(img, 0, sizeof *img);
    memset(lab, 0, sizeof *lab);
    snprintf(iname, sizeof iname, "%s-images-idx3-ubyte", prefix);
    snprintf(lname, sizeof lname, "%s-labels-idx1-ubyte", prefix);
    nn_status st = mnist_join(ipath, sizeof ipath, dir, iname);
    if (st == NN_OK)
        st = mnist_join(lpath, sizeof lpath, dir, lname);
    if (st == NN_OK)
        st = check_present(ipath, dir);
    if (st == NN_OK)
        st = check_present(lpath, dir);
    if (st == NN_OK)
        st = mnist_idx_read(ipath, 3, img);
    if (st == NN_OK)
        st = mnist_idx_read(lpath, 1, lab);
    if (st == NN_OK)
        st = check_pair(ipath, img, lpath, lab);
    if (st != NN_OK) {
        mnist_idx_free(img);
        mnist_idx_free(lab);
    }
    return st;
}

nn_status mnist_load(const char *dir, const char *prefix, mnist_set *out)
{
    memset(out, 0, sizeof *out);
    if (!dir || !prefix || !*prefix || strlen(prefix) > 64)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "mnist_load: need a directory and a prefix "
                       "such as \"train\" or \"t10k\"");
    mnist_idx img, lab;
    nn_status st = read_pair(dir, prefix, &img, &lab);
    if (st != NN_OK)
        return st;
    out->count = img.dims[0];
    out->rows = img.dims[1];
    out->cols = img.dims[2];
    out->images = img.data;
    out->labels = lab.data;
    return NN_OK;
}

void mnist_set_free(mnist_set *set)
{
    free(set->images);
    free(set->labels);
    memset(set, 0, sizeof *set);
}
