/*
 * mnist/image.c — reading a picture (PNG through libpng's simplified API, or PGM P5/P2
 * parsed here) and turning it into a 28 x 28 input the way MNIST itself was made.
 *
 * MNIST (LeCun, Bottou, Bengio, Haffner 1998, and the data set's page): NIST's bilevel
 * digits were "size normalized to fit in a 20x20 pixel box while preserving their aspect
 * ratio", which anti-aliasing turned into gray levels, then "centered in a 28x28 image by
 * computing the center of mass of the pixels, and translating the image so as to position
 * this point at the center of the 28x28 field".  mnist_preprocess does the same steps:
 * polarity, bounding box, scale to fit 20 x 20, center of mass, place.
 */
#define _POSIX_C_SOURCE 200809L

#include "image.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The largest side accepted: far beyond any photo of a digit, and a cap on what a forged
 * header can make us allocate (64 MiB). */
#define MAX_SIDE 8192

/* ---- Loading ------------------------------------------------------------------------ */

void mnist_image_free(mnist_image *image)
{
    if (!image)
        return;
    free(image->pixels);
    image->pixels = NULL;
    image->width = image->height = 0;
}

/* Checked before anything is allocated, so a header promising 10^9 x 10^9 costs nothing. */
static nn_status check_size(const char *path, const char *kind, long w, long h)
{
    if (w < 1 || h < 1)
        return nn_fail(NN_ERR_FORMAT, "%s: %s of %ld x %ld pixels is empty", path, kind, w, h);
    if (w > MAX_SIDE || h > MAX_SIDE)
        return nn_fail(NN_ERR_FORMAT, "%s: %s of %ld x %ld pixels is too large (at most %d x %d)",
                       path, kind, w, h, MAX_SIDE, MAX_SIDE);
    return NN_OK;
}

static nn_status alloc_image(mnist_image *out, long w, long h)
{
    out->pixels = malloc((size_t)w * (size_t)h);
    if (!out->pixels)
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "no memory for a %ld x %ld image", w, h);
    out->width = (int)w;
    out->height = (int)h;
    return NN_OK;
}

/* libpng converts every bit depth and color type to 8-bit gray and composites alpha on
 * the background given (white: a transparent canvas reads as paper). */
static nn_status load_png(FILE *f, const char *path, mnist_image *out)
{
    png_image png;
    memset(&png, 0, sizeof png);
    png.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_stdio(&png, f))
        return nn_fail(NN_ERR_FORMAT, "%s: bad PNG: %s", path, png.message);
    nn_status st = check_size(path, "PNG", (long)png.width, (long)png.height);
    if (st == NN_OK)
        st = alloc_image(out, (long)png.width, (long)png.height);
    if (st != NN_OK) {
        png_image_free(&png);
        return st;
    }
    png.format = PNG_FORMAT_GRAY;
    png_color white = {255, 255, 255};
    if (!png_image_finish_read(&png, &white, out->pixels, 0, NULL)) {
        png_image_free(&png);
        mnist_image_free(out);
        return nn_fail(NN_ERR_FORMAT, "%s: bad PNG: %s", path, png.message);
    }
    return NN_OK;
}

/* Skips white space and '#' comments (to the end of the line) in a PGM header. */
static void skip_space(FILE *f)
{
    int c;
    while ((c = getc(f)) != EOF) {
        if (c == '#') {
            while ((c = getc(f)) != EOF && c != '\n' && c != '\r')
                ;
        } else if (!isspace(c)) {
            ungetc(c, f);
            return;
        }
    }
}

/* An unsigned decimal after optional white space; -1 if there is none.  Values past
 * 10^9 saturate there (the callers reject them as too large). */
static long read_number(FILE *f)
{
    skip_space(f);
    long v = -1;
    int c;
    while ((c = getc(f)) != EOF && isdigit(c))
        v = v < 0 ? c - '0' : v < 1000000000L ? v * 10 + (c - '0') : v;
    if (c != EOF)
        ungetc(c, f);
    return v;
}

typedef struct pgm_header {
    int ascii; /* P2 rather than P5 */
    long width, height, maxval;
} pgm_header;

static nn_status read_pgm_header(FILE *f, const char *path, pgm_header *h)
{
    static const char *const what[3] = {"width", "height", "maxval"};
    long *field[3] = {&h->width, &h->height, &h->maxval};
    for (int i = 0; i < 3; i++) {
        *field[i] = read_number(f);
        if (*field[i] < 0)
            return nn_fail(NN_ERR_FORMAT, "%s: bad PGM header: no %s", path, what[i]);
    }
    nn_status st = check_size(path, "PGM", h->width, h->height);
    if (st != NN_OK)
        return st;
    if (h->maxval < 1 || h->maxval > 65535)
        return nn_fail(NN_ERR_FORMAT, "%s: bad PGM header: maxval %ld (1 to 65535)", path,
                       h->maxval);
    /* P5: exactly one white-space byte separates the header from the raster. */
    if (!h->ascii && !isspace(getc(f)))
        return nn_fail(NN_ERR_FORMAT, "%s: bad PGM header: no space after maxval", path);
    return NN_OK;
}

/* Reads pixel i's value: two big-endian bytes when maxval > 255 (P5), else one, or a
 * decimal (P2).  -1 at the end of the file, -2 on anything else that is not a number. */
static long read_sample(FILE *f, const pgm_header *h)
{
    if (h->ascii) {
        long v = read_number(f);
        return v >= 0 ? v : feof(f) ? -1 : -2;
    }
    int hi = h->maxval > 255 ? getc(f) : 0, lo = getc(f);
    return hi == EOF || lo == EOF ? -1 : (long)hi << 8 | lo;
}

static nn_status read_pgm_raster(FILE *f, const char *path, const pgm_header *h, uint8_t *px)
{
    size_t n = (size_t)h->width * (size_t)h->height;
    for (size_t i = 0; i < n; i++) {
        long v = read_sample(f, h);
        if (v == -1)
            return nn_fail(ferror(f) ? NN_ERR_IO : NN_ERR_FORMAT,
                           "%s: truncated PGM: %zu of %zu pixels", path, i, n);
        if (v < 0 || v > h->maxval)
            return nn_fail(NN_ERR_FORMAT, "%s: bad PGM pixel %zu: %s (maxval %ld)", path, i,
                           v < 0 ? "not a number" : "above maxval", h->maxval);
        px[i] = (uint8_t)((v * 255 + h->maxval / 2) / h->maxval);
    }
    return NN_OK;
}

/* f is just past the magic "P5" or "P2". */
static nn_status load_pgm(FILE *f, const char *path, int ascii, mnist_image *out)
{
    pgm_header h = {.ascii = ascii};
    nn_status st = read_pgm_header(f, path, &h);
    if (st == NN_OK)
        st = alloc_image(out, h.width, h.height);
    if (st == NN_OK && (st = read_pgm_raster(f, path, &h, out->pixels)) != NN_OK)
        mnist_image_free(out);
    return st;
}

static const uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

/* Chooses the reader from the first bytes, not the file name. */
static nn_status load_stream(FILE *f, const char *path, mnist_image *out)
{
    uint8_t magic[8] = {0};
    size_t n = fread(magic, 1, sizeof magic, f);
    if (ferror(f))
        return nn_fail(NN_ERR_IO, "%s: %s", path, strerror(errno));
    if (n == sizeof magic && memcmp(magic, png_signature, sizeof magic) == 0) {
        rewind(f);
        return load_png(f, path, out);
    }
    if (n >= 2 && magic[0] == 'P' && (magic[1] == '5' || magic[1] == '2')) {
        if (fseek(f, 2, SEEK_SET) != 0)
            return nn_fail(NN_ERR_IO, "%s: %s", path, strerror(errno));
        return load_pgm(f, path, magic[1] == '2', out);
    }
    return nn_fail(NN_ERR_FORMAT, "%s: %snot a PNG or PGM image", path,
                   n == 0 ? "empty file, " : "");
}

nn_status mnist_image_load(const char *path, mnist_image *out)
{
    if (!path || !out)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "mnist_image_load: NULL argument");
    out->width = out->height = 0;
    out->pixels = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return nn_fail(NN_ERR_IO, "%s: %s", path, strerror(errno));
    nn_status st = load_stream(f, path, out);
    fclose(f);
    return st;
}

/* ---- Preprocessing ------------------------------------------------------------------ */

#define BOX 20                /* MNIST's digits fit a 20 x 20 box ...                    */
#define SIDE 28               /* ... in a 28 x 28 field ...                              */
#define CENTER 14             /* ... with the center of mass at pixel (14, 14).          */
#define MIN_CONTRAST 32       /* ink must differ from the paper by this much (of 255)     */
#define INK_FRACTION 0.1      /* the bounding box ignores ink fainter than this (noise)   */

/* How to read ink off the picture: ink = (v - background) / range, v inverted first for
 * dark-on-light pictures, clipped to [0, 1]; bright ink on a dark field, as in MNIST. */
typedef struct ink_map {
    const mnist_image *image;
    int invert;
    float background, range;
} ink_map;

static float ink_at(const ink_map *m, int x, int y)
{
    if (x < 0 || y < 0 || x >= m->image->width || y >= m->image->height)
        return 0.0f;
    float v = m->image->pixels[(size_t)y * (size_t)m->image->width + (size_t)x];
    v = (m->invert ? 255.0f - v : v) - m->background;
    return v <= 0.0f ? 0.0f : v >= m->range ? 1.0f : v / m->range;
}

/* The picture's outermost rows and columns: whether they are mostly light (mean > 127)
 * and their median level. */
static void border_levels(const mnist_image *image, int *light, int *median)
{
    int w = image->width, h = image->height;
    long hist[256] = {0}, count = 0, sum = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if (y == 0 || y == h - 1 || x == 0 || x == w - 1) {
                uint8_t v = image->pixels[(size_t)y * (size_t)w + (size_t)x];
                hist[v]++, count++, sum += v;
            }
    *light = sum > 127 * count;
    *median = 0;
    for (long below = hist[0]; below * 2 < count; below += hist[++*median])
        ;
}

/* The border is the paper: mostly light means dark ink on light paper, to invert.  The
 * paper's level (the border's median, robust to strokes that touch the edge) is then
 * subtracted and the strongest ink stretched to full scale: MNIST's sources were bilevel,
 * so its strokes are full intensity whatever pen or photo made ours. */
static nn_status polarity(const mnist_image *image, ink_map *m)
{
    int median;
    border_levels(image, &m->invert, &median);
    m->image = image;
    m->background = (float)(m->invert ? 255 - median : median);
    int peak = 0;
    for (size_t i = 0; i < (size_t)image->width * (size_t)image->height; i++) {
        int v = m->invert ? 255 - image->pixels[i] : image->pixels[i];
        peak = v > peak ? v : peak;
    }
    m->range = (float)peak - m->background;
    if (m->range < MIN_CONTRAST)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "the image is blank");
    return NN_OK;
}

typedef struct box {
    int x0, y0, x1, y1; /* half-open: [x0, x1) x [y0, y1) */
} box;

/* The smallest box holding every pixel with more than INK_FRACTION of full ink. */
static void bounding_box(const ink_map *m, box *b)
{
    *b = (box){m->image->width, m->image->height, 0, 0};
    for (int y = 0; y < m->image->height; y++)
        for (int x = 0; x < m->image->width; x++)
            if (ink_at(m, x, y) > INK_FRACTION) {
                b->x0 = x < b->x0 ? x : b->x0, b->x1 = x + 1 > b->x1 ? x + 1 : b->x1;
                b->y0 = y < b->y0 ? y : b->y0, b->y1 = y + 1 > b->y1 ? y + 1 : b->y1;
            }
}

/* Overlap of the source pixel [p, p + 1) with the interval [a, b). */
static double overlap(int p, double a, double b)
{
    double lo = p > a ? p : a, hi = p + 1 < b ? p + 1 : b;
    return hi > lo ? hi - lo : 0.0;
}

/* The mean ink over the source rectangle [ax, bx) x [ay, by): each source pixel weighted
 * by the area it shares with it (area averaging, which is what anti-aliases). */
static double area_mean(const ink_map *m, double ax, double bx, double ay, double by)
{
    double sum = 0.0;
    for (int y = (int)floor(ay); y < by; y++) {
        double wy = overlap(y, ay, by);
        for (int x = (int)floor(ax); x < bx; x++)
            sum += wy * overlap(x, ax, bx) * ink_at(m, x, y);
    }
    return sum / ((bx - ax) * (by - ay));
}

/* Scales the box to fit BOX x BOX keeping its aspect ratio, into digit (*dw x *dh bytes,
 * row stride BOX): the long side becomes BOX pixels; the short side's pixels, rounded up
 * so that no ink is cropped, are centered on the box.  Rounded to bytes as MNIST's
 * images were. */
static void scale_to_fit(const ink_map *m, const box *b, uint8_t digit[BOX * BOX], int *dw,
                         int *dh)
{
    int bw = b->x1 - b->x0, bh = b->y1 - b->y0;
    double step = (double)(bw > bh ? bw : bh) / BOX; /* source pixels per output pixel */
    *dw = (int)ceil(bw / step - 1e-6), *dh = (int)ceil(bh / step - 1e-6);
    double sx = b->x0 + (bw - *dw * step) / 2, sy = b->y0 + (bh - *dh * step) / 2;
    for (int j = 0; j < *dh; j++)
        for (int i = 0; i < *dw; i++) {
            double v = area_mean(m, sx + i * step, sx + (i + 1) * step, sy + j * step,
                                 sy + (j + 1) * step);
            digit[j * BOX + i] = (uint8_t)lround(255.0 * (v > 1.0 ? 1.0 : v));
        }
}

/* The intensity-weighted mean pixel position (x, y); 0 if the digit has no ink left. */
static int center_of_mass(const uint8_t digit[BOX * BOX], int dw, int dh, double *cx, double *cy)
{
    double sum = 0.0, sx = 0.0, sy = 0.0;
    for (int j = 0; j < dh; j++)
        for (int i = 0; i < dw; i++) {
            double v = digit[j * BOX + i];
            sum += v, sx += v * i, sy += v * j;
        }
    if (sum <= 0.0)
        return 0;
    *cx = sx / sum, *cy = sy / sum;
    return 1;
}

/* Shifts the digit by whole pixels so its center of mass lands nearest (CENTER, CENTER),
 * as MNIST did; what would fall outside the field is clipped. */
static void place(const uint8_t digit[BOX * BOX], int dw, int dh, double cx, double cy,
                  float out[SIDE * SIDE])
{
    int ox = (int)floor(CENTER - cx + 0.5), oy = (int)floor(CENTER - cy + 0.5);
    memset(out, 0, sizeof(float) * SIDE * SIDE);
    for (int j = 0; j < dh; j++)
        for (int i = 0; i < dw; i++) {
            int x = i + ox, y = j + oy;
            if (x >= 0 && x < SIDE && y >= 0 && y < SIDE)
                out[y * SIDE + x] = digit[j * BOX + i] / 255.0f;
        }
}

nn_status mnist_preprocess(const mnist_image *image, float out[784])
{
    if (!image || !out || !image->pixels || image->width < 1 || image->height < 1)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "mnist_preprocess: no image");
    ink_map m;
    nn_status st = polarity(image, &m);
    if (st != NN_OK)
        return st;
    box b;
    bounding_box(&m, &b);
    uint8_t digit[BOX * BOX];
    int dw, dh;
    double cx, cy;
    scale_to_fit(&m, &b, digit, &dw, &dh);
    if (!center_of_mass(digit, dw, dh, &cx, &cy))
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "the image is blank");
    place(digit, dw, dh, cx, cy, out);
    return NN_OK;
}
