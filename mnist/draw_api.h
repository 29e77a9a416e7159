/*
 * mnist/draw_api.h — what `mnist draw` answers, apart from HTTP: the models it serves
 * and the JSON of its two API calls.  draw_server.c carries these over HTTP.
 *
 *   GET  /api/models   {"models": [{"name": "mlp", "file": "models/mlp.safetensors",
 *                       "loaded": true}, {"name": "cnn", ..., "loaded": false,
 *                       "hint": "train it with: mnist train --model cnn"}]}
 *   POST /api/predict  {"width": W, "height": H, "pixels": [W*H integers 0..255]}
 *                      (grayscale, row-major, either polarity, as `mnist predict` takes)
 *               200 -> {"image": [784 integers 0..255: the 28x28 input the models see],
 *                       "models": [{"name": "mlp", "probabilities": [10], "guess": 7}, ...]}
 *               200 -> {"blank": true} when the picture has no ink
 *               400 -> {"error": "..."} for malformed JSON or a bad field
 */
#ifndef NN_MNIST_DRAW_API_H
#define NN_MNIST_DRAW_API_H

#include <pthread.h>
#include <stddef.h>

#include <nn/layers.h>

#define DRAW_MAX_SIDE 512              /* widest and tallest picture accepted */
#define DRAW_MAX_BODY (2u << 20)       /* bytes: a 512 x 512 picture as JSON fits */

typedef struct draw_model {
    const char *name;     /* "mlp" or "cnn" */
    const char *path;     /* its model file */
    char hint[256];       /* how to train it, shown when the file is missing */
    nn_model *model;      /* NULL when the file is missing */
    pthread_mutex_t lock; /* nn_model_predict runs in the model's own buffers */
} draw_model;

/* An HTTP status and its JSON body (malloc'd; free() it, or hand it to the server). */
typedef struct draw_reply {
    int status;
    char *body;
} draw_reply;

/* The models served, loaded or not. */
draw_reply draw_api_models(const draw_model *models, int count);

/* Parses a picture, prepares it with mnist_preprocess (exactly as `mnist predict`
 * does) and runs every loaded model on it; safe to call from many threads at once. */
draw_reply draw_api_predict(draw_model *models, int count, const char *body, size_t size);

/* {"error": message} with the given status. */
draw_reply draw_api_error(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* NN_MNIST_DRAW_API_H */
