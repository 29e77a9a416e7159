/*
 * layers/layer_shape.c — layers that move values without learning: dropout, flatten,
 * reshape.
 *
 * Dropout is inverted: in training each value is kept with probability 1 - rate and
 * scaled by 1 / (1 - rate), so outside training the layer is the identity.  The scaled
 * mask (0 or 1 / (1 - rate) per value) stays in l->scratch for backward, which is only
 * valid after a training forward of the same batch.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static size_t sample_size(const nn_layer *l) { return nn_shape_size(l->in); }

static int no_describe(const nn_layer *l, char *buf, size_t size)
{
    (void)l;
    if (size > 0)
        buf[0] = '\0';
    return 0;
}

static nn_status check_input(const nn_layer *l, nn_shape in)
{
    if (nn_shape_size(in) == 0)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, NN_LAYER_FMT ": invalid input shape",
                       NN_LAYER_ARGS(l));
    return NN_OK;
}

/* y [batch x n] = x; dx = dy when dx != NULL: flatten, reshape, dropout outside training. */
static nn_status copy_forward(nn_layer *l, const float *x, float *y, int batch, int training)
{
    (void)training;
    if (y != x)
        memcpy(y, x, (size_t)batch * sample_size(l) * sizeof *y);
    return NN_OK;
}

static nn_status copy_backward(nn_layer *l, const float *x, const float *y, const float *dy,
                               float *dx, int batch)
{
    (void)x, (void)y;
    if (dx && dx != dy)
        memcpy(dx, dy, (size_t)batch * sample_size(l) * sizeof *dx);
    return NN_OK;
}

/* ---- Dropout ----------------------------------------------------------------------- */

static nn_status dropout_infer(nn_layer *l, nn_shape in)
{
    nn_status st = check_input(l, in);
    if (st == NN_OK)
        l->in = l->out = in;
    return st;
}

static size_t dropout_scratch_per_sample(const nn_layer *l) { return sample_size(l); }

/* mask [count]: 0 with probability rate, else 1 / (1 - rate). */
static void dropout_draw_mask(float *mask, size_t count, float rate, nn_rng *rng)
{
    float scale = 1.0f / (1.0f - rate);
    for (size_t i = 0; i < count; i++)
        mask[i] = nn_rng_uniform(rng) < rate ? 0.0f : scale;
}

/* out [count] = in [count] * mask [count] */
static void multiply(float *restrict out, const float *restrict in, const float *restrict mask,
                     size_t count)
{
    for (size_t i = 0; i < count; i++)
        out[i] = in[i] * mask[i];
}

/* y [batch x n] = x [batch x n] * mask in training, x otherwise. */
static nn_status dropout_forward(nn_layer *l, const float *x, float *y, int batch, int training)
{
    if (!training)
        return copy_forward(l, x, y, batch, training);
    size_t count = (size_t)batch * sample_size(l);
    dropout_draw_mask(l->scratch, count, l->cfg.dropout.rate, l->rng);
    multiply(y, x, l->scratch, count);
    return NN_OK;
}

/* dx [batch x n] = dy [batch x n] * the mask of the last training forward. */
static nn_status dropout_backward(nn_layer *l, const float *x, const float *y, const float *dy,
                                  float *dx, int batch)
{
    (void)x, (void)y;
    if (dx)
        multiply(dx, dy, l->scratch, (size_t)batch * sample_size(l));
    return NN_OK;
}

static int dropout_describe(const nn_layer *l, char *buf, size_t size)
{
    return snprintf(buf, size, "rate=%g", (double)l->cfg.dropout.rate);
}

static const nn_layer_ops dropout_ops = {
    .kind = "dropout",
    .infer = dropout_infer,
    .scratch_per_sample = dropout_scratch_per_sample,
    .forward = dropout_forward,
    .backward = dropout_backward,
    .describe = dropout_describe,
};

nn_layer *nn_dropout(float rate)
{
    if (!(rate >= 0.0f && rate < 1.0f)) {
        nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_dropout: rate must be in [0, 1), got %g",
                (double)rate);
        return NULL;
    }
    nn_layer *l = nn_layer_new(&dropout_ops);
    if (l)
        l->cfg.dropout.rate = rate;
    return l;
}

/* ---- Flatten ----------------------------------------------------------------------- */

static nn_status flatten_infer(nn_layer *l, nn_shape in)
{
    nn_status st = check_input(l, in);
    if (st != NN_OK)
        return st;
    l->in = in;
    l->out = nn_shape_1d((int)nn_shape_size(in));
    return NN_OK;
}

static const nn_layer_ops flatten_ops = {
    .kind = "flatten",
    .infer = flatten_infer,
    .forward = copy_forward,
    .backward = copy_backward,
    .describe = no_describe,
};

nn_layer *nn_flatten(void) { return nn_layer_new(&flatten_ops); }

/* ---- Reshape ----------------------------------------------------------------------- */

static nn_status reshape_infer(nn_layer *l, nn_shape in)
{
    nn_status st = check_input(l, in);
    if (st != NN_OK)
        return st;
    nn_shape to = l->cfg.reshape.shape;
    if (nn_shape_size(to) != nn_shape_size(in)) {
        char from[64], into[64];
        nn_shape_format(in, from, sizeof from);
        nn_shape_format(to, into, sizeof into);
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       NN_LAYER_FMT ": cannot reshape %s (%zu values) into %s (%zu values)",
                       NN_LAYER_ARGS(l), from, nn_shape_size(in), into, nn_shape_size(to));
    }
    l->in = in;
    l->out = to;
    return NN_OK;
}

/* "shape=1x28x28" */
static int reshape_describe(const nn_layer *l, char *buf, size_t size)
{
    char shape[64];
    nn_shape_format(l->cfg.reshape.shape, shape, sizeof shape);
    return snprintf(buf, size, "shape=%s", shape);
}

static const nn_layer_ops reshape_ops = {
    .kind = "reshape",
    .infer = reshape_infer,
    .forward = copy_forward,
    .backward = copy_backward,
    .describe = reshape_describe,
};

nn_layer *nn_reshape(nn_shape shape)
{
    if (nn_shape_size(shape) == 0) {
        nn_fail(NN_ERR_INVALID_ARGUMENT,
                "nn_reshape: the shape needs rank 1 to %d and every dimension >= 1",
                NN_MAX_RANK);
        return NULL;
    }
    nn_layer *l = nn_layer_new(&reshape_ops);
    if (l)
        l->cfg.reshape.shape = shape;
    return l;
}
