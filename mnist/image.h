/*
 * mnist/image.h — pictures of digits in, MNIST-style 28 x 28 inputs out.
 *
 * The one place that turns a picture into what the models were trained on; `mnist
 * predict` and the drawing mode both call it, so a digit is seen the same way by both.
 */
#ifndef NN_MNIST_IMAGE_H
#define NN_MNIST_IMAGE_H

#include <stdint.h>

#include <nn/engine.h>

/* An 8-bit grayscale picture, row-major, 0 = black, 255 = white. */
typedef struct mnist_image {
    int width, height;
    uint8_t *pixels; /* width * height bytes, owned */
} mnist_image;

/* Reads a PNG (any bit depth or color type; alpha composited on white) or a binary or
 * ASCII PGM (P5/P2) of any size into grayscale.  Errors name the file and the problem. */
nn_status mnist_image_load(const char *path, mnist_image *out);
void mnist_image_free(mnist_image *image);

/*
 * MNIST's own preparation of a digit: ink is what differs from the background (a picture
 * whose border is mostly light is dark-on-light and gets inverted, so ink is bright);
 * the ink's bounding box is scaled to fit 20 x 20 keeping its aspect ratio (area-averaged,
 * anti-aliased), then placed in a 28 x 28 field so that its center of mass is at the
 * center; values scaled to [0, 1], as the training inputs are.
 * A picture with no ink is an error (NN_ERR_INVALID_ARGUMENT: "the image is blank").
 */
nn_status mnist_preprocess(const mnist_image *image, float out[784]);

#endif /* NN_MNIST_IMAGE_H */
