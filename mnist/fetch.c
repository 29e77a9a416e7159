/*
 * mnist/fetch.c — the fetch procedure: find what is missing or wrong, obtain it into a
 * temporary directory inside the data directory, decompress, verify, rename into place.
 * The sources themselves (npm, curl, Debian) are in sources.c.
 */
#define _XOPEN_SOURCE 700 /* nftw, mkdtemp */

#include "fetch.h"

#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <openssl/evp.h>

#include "idx.h"
#include "internal.h"

const char *const mnist_file_names[MNIST_FILE_COUNT] = {
    "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
};

/* Checksums from /work/shared/DATA.md, of the uncompressed files. */
static const mnist_source builtin_sources[] = {
    {"mnist", {
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    }, mnist_obtain_mnist, NULL},
    {"fashion", {
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    }, mnist_obtain_fashion, "/usr/share/datasets/fashion-mnist"},
};

const mnist_source *mnist_source_find(const char *dataset)
{
    for (size_t i = 0; i < sizeof builtin_sources / sizeof builtin_sources[0]; i++)
        if (dataset && strcmp(dataset, builtin_sources[i].dataset) == 0)
            return &builtin_sources[i];
    nn_fail(NN_ERR_INVALID_ARGUMENT, "unknown data set '%s' (known: mnist, fashion)",
            dataset ? dataset : "(null)");
    return NULL;
}

/* ---- SHA-256 ------------------------------------------------------------------ */

static nn_status digest_stream(FILE *f, const char *path, unsigned char md[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(ctx);
        return nn_fail(NN_ERR_UNSUPPORTED, "%s: OpenSSL cannot start a SHA-256 digest", path);
    }
    static _Thread_local unsigned char buf[1 << 16];
    size_t n;
    int ok = 1;
    while (ok && (n = fread(buf, 1, sizeof buf, f)) > 0)
        ok = EVP_DigestUpdate(ctx, buf, n);
    unsigned len = 0;
    ok = ok && !ferror(f) && EVP_DigestFinal_ex(ctx, md, &len) && len == 32;
    EVP_MD_CTX_free(ctx);
    return ok ? NN_OK : nn_fail(NN_ERR_IO, "%s: cannot read it for its checksum", path);
}

nn_status mnist_sha256_file(const char *path, char hex[65])
{
    hex[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f)
        return nn_fail(NN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char md[32];
    nn_status st = digest_stream(f, path, md);
    fclose(f);
    if (st != NN_OK)
        return st;
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return NN_OK;
}

nn_status mnist_check_sha256(const char *path, const char *expected_hex)
{
    char hex[65];
    nn_status st = mnist_sha256_file(path, hex);
    if (st == NN_OK && strcmp(hex, expected_hex) != 0)
        st = nn_fail(NN_ERR_FORMAT, "%s: SHA-256 mismatch: expected %s, got %s",
                     path, expected_hex, hex);
    return st;
}

/* ---- Files and directories ------------------------------------------------------- */

/* mkdir -p */
static nn_status make_dirs(const char *dir)
{
    char buf[MNIST_PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: path too long", dir);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return nn_fail(NN_ERR_IO, "%s: cannot create directory: %s", buf, strerror(errno));
        *p = c;
        if (c == '\0')
            break;
    }
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return nn_fail(NN_ERR_IO, "%s: not a directory", dir);
    return NN_OK;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static void remove_tree(const char *dir)
{
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Copies src (raw or gzip) to dst uncompressed, at most MNIST_IDX_MAX_BYTES + 64. */
static nn_status decompress(const char *src, const char *dst)
{
    errno = 0;
    gzFile in = gzopen(src, "rb");
    if (!in)
        return nn_fail(NN_ERR_IO, "%s: cannot open: %s", src, errno ? strerror(errno) : "?");
    FILE *out = fopen(dst, "wb");
    if (!out) {
        gzclose_r(in);
        return nn_fail(NN_ERR_IO, "%s: cannot create: %s", dst, strerror(errno));
    }
    static _Thread_local unsigned char buf[1 << 16];
    size_t total = 0;
    int n;
    while ((n = gzread(in, buf, sizeof buf)) > 0 && total <= MNIST_IDX_MAX_BYTES) {
        total += (size_t)n;
        if (fwrite(buf, 1, (size_t)n, out) != (size_t)n)
            break;
    }
    int err = Z_OK;
    const char *msg = gzerror(in, &err);
    int bad_out = ferror(out) | fclose(out);
    gzclose_r(in);
    if (n < 0 || (err != Z_OK && err != Z_BUF_ERROR))
        return nn_fail(NN_ERR_FORMAT, "%s: cannot decompress: %s", src, msg);
    if (total > MNIST_IDX_MAX_BYTES)
        return nn_fail(NN_ERR_FORMAT, "%s: decompresses to more than %zu bytes", src,
                       MNIST_IDX_MAX_BYTES);
    return bad_out ? nn_fail(NN_ERR_IO, "%s: write failed", dst) : NN_OK;
}

/* ---- Fetch ------------------------------------------------------------------------ */

static void say(FILE *log, const char *name, const char *what)
{
    if (log)
        fprintf(log, "%s: %s\n", name, what);
}

/* Sets want[i] for each file missing or wrong in dir; returns how many, or -1. */
static int find_wanted(const mnist_source *src, const char *dir, int want[], FILE *log)
{
    int count = 0;
    for (int i = 0; i < MNIST_FILE_COUNT; i++) {
        char path[MNIST_PATH_MAX];
        if (mnist_join(path, sizeof path, dir, mnist_file_names[i]) != NN_OK)
            return -1;
        want[i] = access(path, F_OK) != 0;
        if (!want[i] && mnist_check_sha256(path, src->sha256[i]) != NN_OK) {
            say(log, mnist_file_names[i], "wrong checksum, fetching it again");
            want[i] = 1;
        } else if (!want[i]) {
            say(log, mnist_file_names[i], "ok (cached)");
        }
        count += want[i];
    }
    return count;
}

/* Decompresses the obtained file i into tmp_dir, verifies it, renames it into dir. */
static nn_status install(const mnist_source *src, const char *dir, const char *tmp_dir,
                         int i, const char *from, FILE *log)
{
    char part[MNIST_PATH_MAX], final[MNIST_PATH_MAX];
    nn_status st = mnist_join(part, sizeof part, tmp_dir, "download.part");
    if (st == NN_OK)
        st = mnist_join(final, sizeof final, dir, mnist_file_names[i]);
    if (st == NN_OK)
        st = decompress(from, part);
    char hex[65];
    if (st == NN_OK)
        st = mnist_sha256_file(part, hex);
    if (st == NN_OK && strcmp(hex, src->sha256[i]) != 0)
        st = nn_fail(NN_ERR_FORMAT, "%s (%s): SHA-256 mismatch: expected %s, got %s; the "
                     "download was deleted", mnist_file_names[i], from, src->sha256[i], hex);
    if (st == NN_OK && rename(part, final) != 0)
        st = nn_fail(NN_ERR_IO, "%s: cannot rename into place: %s", final, strerror(errno));
    remove(part);
    if (st == NN_OK)
        say(log, mnist_file_names[i], "ok (fetched, SHA-256 verified)");
    return st;
}

static nn_status obtain_and_install(const mnist_source *src, const char *dir,
                                    const char *tmp_dir, const int want[], FILE *log)
{
    char (*path)[MNIST_PATH_MAX] = calloc(MNIST_FILE_COUNT, MNIST_PATH_MAX);
    if (!path)
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "out of memory");
    nn_status st = src->obtain(src, tmp_dir, want, path);
    for (int i = 0; st == NN_OK && i < MNIST_FILE_COUNT; i++)
        if (want[i])
            st = install(src, dir, tmp_dir, i, path[i], log);
    free(path);
    return st;
}

nn_status mnist_fetch(const mnist_source *src, const char *dir, FILE *log)
{
    int want[MNIST_FILE_COUNT];
    nn_status st = make_dirs(dir);
    if (st != NN_OK)
        return st;
    int count = find_wanted(src, dir, want, log);
    if (count <= 0)
        return count < 0 ? NN_ERR_INVALID_ARGUMENT : NN_OK;
    char tmp_dir[MNIST_PATH_MAX];
    if ((st = mnist_join(tmp_dir, sizeof tmp_dir, dir, ".fetch-XXXXXX")) != NN_OK)
        return st;
    if (!mkdtemp(tmp_dir))
        return nn_fail(NN_ERR_IO, "%s: cannot create a temporary directory: %s", dir,
                       strerror(errno));
    st = obtain_and_install(src, dir, tmp_dir, want, log);
    remove_tree(tmp_dir);
    return st;
}

nn_status mnist_verify(const mnist_source *src, const char *dir)
{
    for (int i = 0; i < MNIST_FILE_COUNT; i++) {
        char path[MNIST_PATH_MAX], hint[MNIST_PATH_MAX + 64];
        nn_status st = mnist_join(path, sizeof path, dir, mnist_file_names[i]);
        if (st != NN_OK)
            return st;
        mnist_fetch_hint(hint, sizeof hint, src->dataset, dir);
        if (access(path, F_OK) != 0)
            return nn_fail(NN_ERR_IO, "%s: missing (%s)", path, hint);
        if ((st = mnist_check_sha256(path, src->sha256[i])) == NN_ERR_FORMAT)
            return nn_fail(st, "%s: SHA-256 mismatch: not the %s file (%s)", path,
                           src->dataset, hint);
        if (st != NN_OK)
            return st;
    }
    return NN_OK;
}
