/*
 * test_image.c — pictures in (mnist/image.c), MNIST-style 28 x 28 inputs out.
 *
 * Shapes drawn here at several sizes and both polarities must come out as MNIST's digits
 * are: inside a 20 x 20 box (long side 19 to 20 pixels), center of mass within half a
 * pixel of (14, 14), values in [0, 1], the same whichever way round the ink is.  PNGs
 * (gray, RGB, RGBA on a transparent canvas, 16-bit) written with libpng and PGMs (P5, P2,
 * comments, maxval 65535) written here must read back right; empty, truncated, foreign,
 * absurdly large and missing files must fail with a message, never crash.  When data/mnist
 * has been fetched, real test digits written as PGM must survive the round trip nearly
 * unchanged: MNIST's digits are already what the preprocessing makes.
 */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw */

#include <criterion/criterion.h>
#include <ftw.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "idx.h"
#include "image.h"

#include "temp_dir.h"



TestSuite(image, .init = temp_dir_make, .fini = temp_dir_remove);

static const char *in_dir(const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

/* ---- Drawing ------------------------------------------------------------------------- */

static mnist_image canvas(int w, int h, uint8_t paper)
{
    mnist_image im = {w, h, malloc((size_t)w * (size_t)h)};
    cr_assert_not_null(im.pixels);
    memset(im.pixels, paper, (size_t)w * (size_t)h);
    return im;
}

static void rect(mnist_image *im, int x0, int y0, int x1, int y1, uint8_t ink)
{
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            im->pixels[y * im->width + x] = ink;
}

static void disc(mnist_image *im, double cx, double cy, double r, uint8_t ink)
{
    for (int y = 0; y < im->height; y++)
        for (int x = 0; x < im->width; x++)
            if ((x + 0.5 - cx) * (x + 0.5 - cx) + (y + 0.5 - cy) * (y + 0.5 - cy) <= r * r)
                im->pixels[y * im->width + x] = ink;
}

/* A thick "1": a stem, a flag to the upper left and a foot, within 60% of the picture. */
static void one(mnist_image *im, uint8_t ink)
{
    int w = im->width, h = im->height, t = (w < h ? w : h) / 8 + 1;
    int cx = w / 2, top = h / 5, bottom = h - h / 5;
    rect(im, cx - t / 2, top, cx - t / 2 + t, bottom, ink);
    for (int i = 0; i < w / 6; i++)
        rect(im, cx - i - t / 2, top + i * (h / 10) / (w / 6 + 1), cx - i - t / 2 + t,
             top + i * (h / 10) / (w / 6 + 1) + t, ink);
    rect(im, cx - w / 6, bottom - t, cx + w / 6, bottom, ink);
}

enum shape { RECT, DISC, ONE, SHAPES };

/* The shape, off-center (a box and center of mass to find), ink on paper. */
static mnist_image draw(enum shape s, int w, int h, uint8_t paper, uint8_t ink)
{
    mnist_image im = canvas(w, h, paper);
    if (s == RECT)
        rect(&im, w / 6, h / 4, w / 6 + w / 2, h / 4 + h / 3, ink);
    else if (s == DISC)
        disc(&im, w * 0.4, h * 0.55, (w < h ? w : h) * 0.3, ink);
    else
        one(&im, ink);
    return im;
}

/* ---- Measuring an output ------------------------------------------------------------- */

typedef struct stats {
    int box_w, box_h;      /* of the pixels > 0 */
    double cx, cy;         /* intensity-weighted, pixel indices */
    float min, max;
} stats;

static stats measure(const float out[784])
{
    stats s = {0, 0, 0, 0, 1e9f, -1e9f};
    int x0 = 28, y0 = 28, x1 = -1, y1 = -1;
    double sum = 0;
    for (int y = 0; y < 28; y++)
        for (int x = 0; x < 28; x++) {
            float v = out[y * 28 + x];
            s.min = v < s.min ? v : s.min, s.max = v > s.max ? v : s.max;
            sum += v, s.cx += v * x, s.cy += v * y;
            if (v > 0)
                x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1, y0 = y < y0 ? y : y0,
                y1 = y > y1 ? y : y1;
        }
    s.cx /= sum, s.cy /= sum;
    s.box_w = x1 - x0 + 1, s.box_h = y1 - y0 + 1;
    return s;
}

static void check_mnist_like(const float out[784], const char *what)
{
    stats s = measure(out);
    int side = s.box_w > s.box_h ? s.box_w : s.box_h;
    cr_expect(s.min >= 0.0f && s.max <= 1.0f, "%s: values in [%g, %g]", what, s.min, s.max);
    cr_expect(s.max > 0.9f, "%s: strongest ink %g", what, s.max);
    cr_expect(side >= 19 && side <= 20, "%s: box %d x %d", what, s.box_w, s.box_h);
    cr_expect(fabs(s.cx - 14) <= 0.5 + 1e-6 && fabs(s.cy - 14) <= 0.5 + 1e-6, "%s: center of mass (%g, %g)",
              what, s.cx, s.cy);
}

static double mean_abs_diff(const float *a, const float *b, int n)
{
    double d = 0;
    for (int i = 0; i < n; i++)
        d += fabs((double)a[i] - b[i]);
    return d / n;
}

/* ---- Preprocessing -------------------------------------------------------------------- */

Test(image, shapes_of_every_size_and_polarity_come_out_mnist_like)
{
    static const int sizes[][2] = {{28, 28}, {100, 300}, {500, 200}, {64, 64}, {1000, 700}};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (int s = 0; s < SHAPES; s++) {
            int w = sizes[k][0], h = sizes[k][1];
            mnist_image dark_on_light = draw(s, w, h, 255, 0);
            mnist_image light_on_dark = draw(s, w, h, 0, 255);
            float a[784], b[784];
            char what[64];
            snprintf(what, sizeof what, "shape %d, %d x %d", s, w, h);
            cr_assert_eq(mnist_preprocess(&dark_on_light, a), NN_OK, "%s", nn_last_error());
            cr_assert_eq(mnist_preprocess(&light_on_dark, b), NN_OK, "%s", nn_last_error());
            check_mnist_like(a, what);
            check_mnist_like(b, what);
            cr_expect(mean_abs_diff(a, b, 784) < 0.01, "%s: polarities differ by %g", what,
                      mean_abs_diff(a, b, 784));
            mnist_image_free(&dark_on_light);
            mnist_image_free(&light_on_dark);
        }
}

Test(image, aspect_ratio_is_kept)
{
    mnist_image im = canvas(300, 300, 255);
    rect(&im, 100, 30, 140, 270, 0); /* 40 x 240: 20 * 40 / 240 = 3.3 pixels wide */
    float out[784];
    cr_assert_eq(mnist_preprocess(&im, out), NN_OK, "%s", nn_last_error());
    stats s = measure(out);
    cr_expect_eq(s.box_h, 20);
    cr_expect(s.box_w == 4, "box %d x %d", s.box_w, s.box_h); /* 3.3 centered on 4 */
    /* Area averaging: the rectangle's total ink is kept (3.33 x 20 pixels of full ink). */
    double total = 0;
    for (int i = 0; i < 784; i++)
        total += out[i];
    cr_expect(fabs(total - 20 * 40 / 12.0) < 1.0, "total ink %g", total);
    mnist_image_free(&im);
}

Test(image, gray_noisy_paper_is_not_ink)
{
    /* A photo: light gray paper with noise, a pencil-gray digit. */
    mnist_image im = draw(ONE, 400, 400, 0, 255);
    mnist_image paper = canvas(400, 400, 0);
    srand(7);
    for (int i = 0; i < 400 * 400; i++)
        paper.pixels[i] = im.pixels[i] ? (uint8_t)(90 + rand() % 11) : (uint8_t)(190 + rand() % 21);
    float out[784];
    cr_assert_eq(mnist_preprocess(&paper, out), NN_OK, "%s", nn_last_error());
    check_mnist_like(out, "noisy paper");
    mnist_image_free(&im);
    mnist_image_free(&paper);
}

Test(image, blank_pictures_are_refused)
{
    static const uint8_t levels[] = {0, 128, 255};
    for (size_t i = 0; i < sizeof levels; i++) {
        mnist_image im = canvas(50, 40, levels[i]);
        im.pixels[3 * 50 + 7] ^= 20; /* a speck of dust is not a digit */
        float out[784];
        cr_expect_eq(mnist_preprocess(&im, out), NN_ERR_INVALID_ARGUMENT);
        cr_expect_str_eq(nn_last_error(), "the image is blank");
        mnist_image_free(&im);
    }
}

Test(image, degenerate_pictures_do_not_crash)
{
    float out[784];
    mnist_image dot = canvas(1, 1, 0);
    cr_expect_eq(mnist_preprocess(&dot, out), NN_ERR_INVALID_ARGUMENT);
    mnist_image_free(&dot);
    /* A one-pixel line across a large picture: 1 x 2000 becomes 1 x 20. */
    mnist_image line = canvas(2000, 2000, 255);
    rect(&line, 1000, 0, 1001, 2000, 0);
    cr_assert_eq(mnist_preprocess(&line, out), NN_OK, "%s", nn_last_error());
    stats s = measure(out);
    cr_expect(s.box_w == 1 && s.box_h == 20, "box %d x %d", s.box_w, s.box_h);
    mnist_image_free(&line);
    mnist_image tiny = canvas(3, 5, 0);
    tiny.pixels[7] = 255;
    cr_assert_eq(mnist_preprocess(&tiny, out), NN_OK, "%s", nn_last_error());
    check_mnist_like(out, "one bright pixel");
    mnist_image_free(&tiny);
}

/* ---- PNG ------------------------------------------------------------------------------ */

static void write_png(const char *path, png_uint_32 format, int w, int h, const void *pixels)
{
    png_image png;
    memset(&png, 0, sizeof png);
    png.version = PNG_IMAGE_VERSION;
    png.width = (png_uint_32)w, png.height = (png_uint_32)h, png.format = format;
    cr_assert(png_image_write_to_file(&png, path, 0, pixels, 0, NULL), "%s", png.message);
}

static mnist_image load_ok(const char *path)
{
    mnist_image im;
    cr_assert_eq(mnist_image_load(path, &im), NN_OK, "%s", nn_last_error());
    return im;
}

static void expect_pixels(const mnist_image *im, const mnist_image *want, int tolerance)
{
    cr_assert_eq(im->width, want->width);
    cr_assert_eq(im->height, want->height);
    for (int i = 0; i < im->width * im->height; i++)
        cr_assert(abs(im->pixels[i] - want->pixels[i]) <= tolerance, "pixel %d: %d, want %d", i,
                  im->pixels[i], want->pixels[i]);
}

Test(image, png_gray_round_trip)
{
    mnist_image want = draw(DISC, 37, 53, 250, 3);
    for (int i = 0; i < 37; i++)
        want.pixels[i] = (uint8_t)(i * 7); /* a ramp: every level must survive */
    write_png(in_dir("gray.png"), PNG_FORMAT_GRAY, 37, 53, want.pixels);
    mnist_image im = load_ok(in_dir("gray.png"));
    expect_pixels(&im, &want, 0);
    mnist_image_free(&im);
    mnist_image_free(&want);
}

Test(image, png_rgb_becomes_gray)
{
    mnist_image want = draw(ONE, 60, 80, 255, 0);
    uint8_t *rgb = malloc(60 * 80 * 3);
    for (int i = 0; i < 60 * 80; i++)
        rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = want.pixels[i];
    write_png(in_dir("rgb.png"), PNG_FORMAT_RGB, 60, 80, rgb);
    mnist_image im = load_ok(in_dir("rgb.png"));
    expect_pixels(&im, &want, 1);
    free(rgb);
    mnist_image_free(&im);
    mnist_image_free(&want);
}

Test(image, png_transparent_canvas_reads_as_white_paper)
{
    /* A drawing app's export: black opaque strokes, the rest transparent (and black). */
    mnist_image want = draw(ONE, 90, 90, 255, 0);
    uint8_t *rgba = calloc(90 * 90, 4);
    for (int i = 0; i < 90 * 90; i++)
        rgba[4 * i + 3] = want.pixels[i] == 0 ? 255 : 0;
    write_png(in_dir("rgba.png"), PNG_FORMAT_RGBA, 90, 90, rgba);
    mnist_image im = load_ok(in_dir("rgba.png"));
    expect_pixels(&im, &want, 0);
    float a[784], b[784];
    cr_assert_eq(mnist_preprocess(&im, a), NN_OK, "%s", nn_last_error());
    cr_assert_eq(mnist_preprocess(&want, b), NN_OK, "%s", nn_last_error());
    cr_expect(mean_abs_diff(a, b, 784) == 0);
    free(rgba);
    mnist_image_free(&im);
    mnist_image_free(&want);
}

Test(image, png_16_bit)
{
    mnist_image want = draw(RECT, 40, 30, 255, 0);
    uint16_t *wide = malloc(40 * 30 * sizeof *wide);
    for (int i = 0; i < 40 * 30; i++)
        wide[i] = want.pixels[i] ? 65535 : 0;
    write_png(in_dir("16.png"), PNG_FORMAT_LINEAR_Y, 40, 30, wide);
    mnist_image im = load_ok(in_dir("16.png"));
    expect_pixels(&im, &want, 0);
    free(wide);
    mnist_image_free(&im);
    mnist_image_free(&want);
}

/* ---- PGM ------------------------------------------------------------------------------ */

static void write_file(const char *path, const void *bytes, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(bytes, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

static void write_text(const char *path, const char *text) { write_file(path, text, strlen(text)); }

Test(image, pgm_p5_8_bit)
{
    mnist_image want = draw(DISC, 31, 17, 0, 200);
    char head[64];
    int n = snprintf(head, sizeof head, "P5\n# made by test_image\n31 17\n255\n");
    uint8_t *file = malloc((size_t)n + 31 * 17);
    memcpy(file, head, (size_t)n);
    memcpy(file + n, want.pixels, 31 * 17);
    write_file(in_dir("a.pgm"), file, (size_t)n + 31 * 17);
    mnist_image im = load_ok(in_dir("a.pgm"));
    expect_pixels(&im, &want, 0);
    free(file);
    mnist_image_free(&im);
    mnist_image_free(&want);
}

Test(image, pgm_p5_16_bit_is_scaled)
{
    /* Big-endian samples 0, 257, 32896, 65535 -> 0, 1, 128, 255. */
    static const uint8_t file[] = "P5 2 2 65535\n\x00\x00\x01\x01\x80\x80\xff\xff";
    write_file(in_dir("b.pgm"), file, sizeof file - 1);
    mnist_image im = load_ok(in_dir("b.pgm"));
    cr_assert_eq(im.width, 2);
    cr_assert_eq(im.height, 2);
    uint8_t want[4] = {0, 1, 128, 255};
    cr_expect_arr_eq(im.pixels, want, 4);
    mnist_image_free(&im);
}

Test(image, pgm_p2_with_comments)
{
    write_text(in_dir("c.pgm"), "P2\n# a comment\n3 # width\n2\n# maxval next\n65535\n"
                                "0 65535 32768\n# mid-raster comment\n  257 1 65534\n");
    mnist_image im = load_ok(in_dir("c.pgm"));
    cr_assert_eq(im.width, 3);
    cr_assert_eq(im.height, 2);
    uint8_t want[6] = {0, 255, 128, 1, 0, 255};
    cr_expect_arr_eq(im.pixels, want, 6);
    mnist_image_free(&im);
    write_text(in_dir("d.pgm"), "P2 2 1 15 0 15");
    im = load_ok(in_dir("d.pgm"));
    uint8_t want15[2] = {0, 255};
    cr_expect_arr_eq(im.pixels, want15, 2);
    mnist_image_free(&im);
}

/* ---- Bad files ------------------------------------------------------------------------ */

static void expect_error(const char *name, nn_status want, const char *phrase)
{
    mnist_image im = {1, 1, (uint8_t *)"x"};
    nn_status st = mnist_image_load(in_dir(name), &im);
    const char *msg = nn_last_error();
    cr_expect_eq(st, want, "%s: status %d (%s)", name, st, msg);
    cr_expect_null(im.pixels, "%s: pixels left behind", name);
    cr_expect_not_null(strstr(msg, in_dir(name)), "%s: message '%s' does not name it", name, msg);
    cr_expect_not_null(strstr(msg, phrase), "%s: message '%s' lacks '%s'", name, msg, phrase);
}

Test(image, foreign_and_empty_files)
{
    write_text(in_dir("empty.png"), "");
    expect_error("empty.png", NN_ERR_FORMAT, "not a PNG or PGM image");
    write_text(in_dir("x.gif"), "GIF89a\x01\x00\x01\x00");
    expect_error("x.gif", NN_ERR_FORMAT, "not a PNG or PGM image");
    write_text(in_dir("p6.ppm"), "P6 1 1 255\nabc");
    expect_error("p6.ppm", NN_ERR_FORMAT, "not a PNG or PGM image");
    write_text(in_dir("p"), "P");
    expect_error("p", NN_ERR_FORMAT, "not a PNG or PGM image");
}

Test(image, missing_file)
{
    expect_error("no-such.png", NN_ERR_IO, "No such file or directory");
}

Test(image, truncated_png)
{
    mnist_image im = draw(DISC, 200, 200, 255, 0);
    write_png(in_dir("whole.png"), PNG_FORMAT_GRAY, 200, 200, im.pixels);
    mnist_image_free(&im);
    FILE *f = fopen(in_dir("whole.png"), "rb");
    uint8_t buf[65536];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    static const size_t cuts[] = {8, 20, 33, 60};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_file(in_dir("cut.png"), buf, cuts[i]);
        expect_error("cut.png", NN_ERR_FORMAT, "bad PNG");
    }
    write_file(in_dir("cut.png"), buf, n / 2);
    expect_error("cut.png", NN_ERR_FORMAT, "bad PNG");
    buf[n / 2] ^= 0x55; /* corrupt the compressed data */
    write_file(in_dir("bad.png"), buf, n);
    expect_error("bad.png", NN_ERR_FORMAT, "bad PNG");
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

Test(image, huge_png_header_is_refused_before_allocating)
{
    uint8_t px[4] = {0};
    write_png(in_dir("small.png"), PNG_FORMAT_GRAY, 2, 2, px);
    FILE *f = fopen(in_dir("small.png"), "rb");
    uint8_t buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    /* IHDR: signature (8), length (4), "IHDR" (4), width, height at 16 and 20, CRC at 29. */
    put_be32(buf + 16, 100000), put_be32(buf + 20, 100000);
    put_be32(buf + 29, (uint32_t)crc32(0, buf + 12, 17));
    write_file(in_dir("huge.png"), buf, n);
    expect_error("huge.png", NN_ERR_FORMAT, "too large");
}

Test(image, bad_pgm_files)
{
    write_text(in_dir("t5.pgm"), "P5 10 10 255\n0123456789");
    expect_error("t5.pgm", NN_ERR_FORMAT, "truncated PGM: 10 of 100 pixels");
    write_text(in_dir("t5w.pgm"), "P5 2 2 65535\n\x01\x02\x03");
    expect_error("t5w.pgm", NN_ERR_FORMAT, "truncated PGM: 1 of 4 pixels");
    write_text(in_dir("t2.pgm"), "P2 3 3 255 1 2 3 4");
    expect_error("t2.pgm", NN_ERR_FORMAT, "truncated PGM: 4 of 9 pixels");
    write_text(in_dir("h.pgm"), "P5 1");
    expect_error("h.pgm", NN_ERR_FORMAT, "no height");
    write_text(in_dir("h2.pgm"), "P2\n# only a comment");
    expect_error("h2.pgm", NN_ERR_FORMAT, "no width");
    write_text(in_dir("huge.pgm"), "P5 100000 100000 255\n");
    expect_error("huge.pgm", NN_ERR_FORMAT, "too large");
    write_text(in_dir("huger.pgm"), "P5 99999999999999999999999 2 255\n");
    expect_error("huger.pgm", NN_ERR_FORMAT, "too large");
    write_text(in_dir("zero.pgm"), "P5 0 5 255\n");
    expect_error("zero.pgm", NN_ERR_FORMAT, "empty");
    write_text(in_dir("m0.pgm"), "P5 1 1 0\n\x00");
    expect_error("m0.pgm", NN_ERR_FORMAT, "maxval 0");
    write_text(in_dir("m7.pgm"), "P2 1 1 70000 5");
    expect_error("m7.pgm", NN_ERR_FORMAT, "maxval 70000");
    write_text(in_dir("over.pgm"), "P2 2 1 15 3 16");
    expect_error("over.pgm", NN_ERR_FORMAT, "above maxval");
    write_text(in_dir("junk.pgm"), "P2 2 1 15 3 x");
    expect_error("junk.pgm", NN_ERR_FORMAT, "not a number");
    write_text(in_dir("nosp.pgm"), "P5 1 1 255x");
    expect_error("nosp.pgm", NN_ERR_FORMAT, "no space after maxval");
}

Test(image, a_directory_is_not_an_image)
{
    expect_error("", NN_ERR_IO, "directory");
}

/* ---- Real MNIST digits, when fetched -------------------------------------------------- */

/* The repository root, from this file's path (CMake compiles it by absolute path). */
static void repo_path(char *buf, size_t size, const char *rel)
{
    const char *slash = strrchr(__FILE__, '/');
    int len = slash ? (int)(slash - __FILE__) : 1;
    snprintf(buf, size, "%.*s/../%s", len, slash ? __FILE__ : ".", rel);
}

/* A real digit as someone might hand it to us: enlarged by `factor` (nearest neighbour),
 * dark on light paper, off-center on a w x h page. */
static mnist_image on_paper(const uint8_t digit[784], double factor, int w, int h)
{
    mnist_image im = canvas(w, h, 255);
    int side = (int)(28 * factor), ox = w / 7, oy = h / 9;
    cr_assert(ox + side <= w && oy + side <= h);
    for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++)
            im.pixels[(oy + y) * w + ox + x] =
                (uint8_t)(255 - digit[(int)(y / factor) * 28 + (int)(x / factor)]);
    return im;
}

/* Mean |out - digit| over the first 20 test digits, each made into a picture by make(). */
static double real_difference(const mnist_set *set, double factor, int w, int h)
{
    double total = 0, worst = 0;
    for (int k = 0; k < 20; k++) {
        const uint8_t *digit = set->images + (size_t)k * 784;
        mnist_image im = on_paper(digit, factor, w, h);
        float out[784], want[784];
        cr_assert_eq(mnist_preprocess(&im, out), NN_OK, "%s", nn_last_error());
        for (int i = 0; i < 784; i++)
            want[i] = digit[i] / 255.0f;
        double d = mean_abs_diff(out, want, 784);
        total += d, worst = d > worst ? d : worst;
        mnist_image_free(&im);
    }
    cr_log_info("real MNIST x%.1f on %d x %d paper: mean |difference| %.4f, worst %.4f", factor,
                w, h, total / 20, worst);
    cr_expect(worst < 0.15, "x%.1f: worst digit's mean |difference| %g", factor, worst);
    return total / 20;
}

/* MNIST's digits already fit 20 x 20 with their center of mass at the center: written out
 * as PGM and read back through the whole pipeline, they must come back nearly as they
 * were; enlarged, inverted and moved on a page, they must come back close. */
Test(image, real_mnist_digits_survive_preprocessing)
{
    char data[1024];
    repo_path(data, sizeof data, "data/mnist");
    if (access(data, F_OK) != 0)
        cr_skip_test("%s not fetched (build/bin/mnist fetch)", data);
    mnist_set set;
    cr_assert_eq(mnist_load(data, "t10k", &set), NN_OK, "%s", nn_last_error());
    double total = 0, worst = 0;
    for (int k = 0; k < 20; k++) {
        const uint8_t *digit = set.images + (size_t)k * 784;
        uint8_t file[784 + 16];
        memcpy(file, "P5 28 28 255\n", 13);
        memcpy(file + 13, digit, 784);
        write_file(in_dir("real.pgm"), file, 13 + 784);
        mnist_image im = load_ok(in_dir("real.pgm"));
        float out[784], want[784];
        cr_assert_eq(mnist_preprocess(&im, out), NN_OK, "%s", nn_last_error());
        for (int i = 0; i < 784; i++)
            want[i] = digit[i] / 255.0f;
        double d = mean_abs_diff(out, want, 784);
        total += d, worst = d > worst ? d : worst;
        mnist_image_free(&im);
    }
    cr_log_info("real MNIST as PGM: mean |difference| %.4f over 20 digits, worst %.4f",
                total / 20, worst);
    cr_expect(total / 20 < 0.02, "as PGM: mean |difference| %g", total / 20);
    cr_expect(worst < 0.05, "as PGM: worst digit's mean |difference| %g", worst);
    cr_expect(real_difference(&set, 5.0, 200, 160) < 0.02);
    cr_expect(real_difference(&set, 2.6, 120, 90) < 0.08);
    cr_expect(real_difference(&set, 11.3, 400, 500) < 0.08);
    mnist_set_free(&set);
}
