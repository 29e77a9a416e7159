/*
 * layers/layer_activation.c — ReLU, sigmoid, tanh and softmax, over any input shape
 * (the output has the input's shape; softmax normalizes over all features of a sample).
 *
 * ReLU, sigmoid and tanh copy x to y and call nn_vec_activate, the very kernels of the
 * GEMM epilogue, so a Dense layer with the activation fused gives the same bits as the
 * two layers apart.  Their backward needs only y:
 *   relu dx = dy (y > 0),  sigmoid dx = dy y (1 - y),  tanh dx = dy (1 - y^2).
 * When compile fuses one into the Dense before it, the model skips its forward but still
 * runs this backward, from the Dense layer's output.
 */
#include "internal.h"

#include <math.h>
#include <string.h>

static size_t sample_size(const nn_layer *l) { return nn_shape_size(l->in); }

static nn_status same_shape_infer(nn_layer *l, nn_shape in)
{
    if (nn_shape_size(in) == 0)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, NN_LAYER_FMT ": invalid input shape",
                       NN_LAYER_ARGS(l));
    l->in = in;
    l->out = in;
    return NN_OK;
}

static int no_describe(const nn_layer *l, char *buf, size_t size)
{
    (void)l;
    if (size > 0)
        buf[0] = '\0';
    return 0;
}

/* ---- ReLU, sigmoid, tanh ---------------------------------------------------------- */

/* y [batch x n] = act(x [batch x n]) */
static nn_status activation_forward(nn_layer *l, const float *x, float *y, int batch,
                                    int training)
{
    (void)training;
    size_t count = (size_t)batch * sample_size(l);
    if (y != x)
        memcpy(y, x, count * sizeof *y);
    return nn_vec_activate(l->cfg.activation.act, count, y);
}

/* dx, y, dy: count floats each. */
static void relu_backward(float *restrict dx, const float *restrict y,
                          const float *restrict dy, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        float g = dy[i]; /* loaded unconditionally: the select vectorizes */
        dx[i] = y[i] > 0.0f ? g : 0.0f;
    }
}

static void sigmoid_backward(float *restrict dx, const float *restrict y,
                             const float *restrict dy, size_t count)
{
    for (size_t i = 0; i < count; i++)
        dx[i] = dy[i] * y[i] * (1.0f - y[i]);
}

static void tanh_backward(float *restrict dx, const float *restrict y,
                          const float *restrict dy, size_t count)
{
    for (size_t i = 0; i < count; i++)
        dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

typedef struct backward_job {
    nn_activation act;
    float *dx;
    const float *y, *dy;
} backward_job;

/* Elements [first, end): each is independent, so any cut gives the same bits. */
static void backward_range(void *ctx, size_t first, size_t end)
{
    const backward_job *j = ctx;
    float *dx = j->dx + first;
    const float *y = j->y + first, *dy = j->dy + first;
    size_t count = end - first;
    switch (j->act) {
    case NN_ACT_RELU: relu_backward(dx, y, dy, count); break;
    case NN_ACT_SIGMOID: sigmoid_backward(dx, y, dy, count); break;
    case NN_ACT_TANH: tanh_backward(dx, y, dy, count); break;
    case NN_ACT_NONE: memcpy(dx, dy, count * sizeof *dx); break;
    }
}

/* dx [batch x n] from y, dy [batch x n]; x is not needed.  Memory-bound (a convolution's
 * activations are megabytes), so it runs on every thread. */
static nn_status activation_backward(nn_layer *l, const float *x, const float *y,
                                     const float *dy, float *dx, int batch)
{
    (void)x;
    if (!dx)
        return NN_OK;
    size_t count = (size_t)batch * sample_size(l);
    backward_job job = {l->cfg.activation.act, dx, y, dy};
    nn_parallel_ranges(count, count, backward_range, &job);
    return NN_OK;
}

#define ACTIVATION_OPS(name)                                                                \
    static const nn_layer_ops name##_ops = {                                                \
        .kind = #name,                                                                      \
        .infer = same_shape_infer,                                                          \
        .forward = activation_forward,                                                      \
        .backward = activation_backward,                                                    \
        .describe = no_describe,                                                            \
    }

ACTIVATION_OPS(relu);
ACTIVATION_OPS(sigmoid);
ACTIVATION_OPS(tanh);

static nn_layer *activation_new(const nn_layer_ops *ops, nn_activation act)
{
    nn_layer *l = nn_layer_new(ops);
    if (l)
        l->cfg.activation.act = act;
    return l;
}

nn_layer *nn_relu(void) { return activation_new(&relu_ops, NN_ACT_RELU); }
nn_layer *nn_sigmoid(void) { return activation_new(&sigmoid_ops, NN_ACT_SIGMOID); }
nn_layer *nn_tanh(void) { return activation_new(&tanh_ops, NN_ACT_TANH); }

/* ---- Softmax ----------------------------------------------------------------------- */

/* y [n] = exp(x - max x) / sum exp(x - max x): stable for any finite x. */
static void softmax_row(float *restrict y, const float *restrict x, size_t n)
{
    float max = x[0];
    for (size_t j = 1; j < n; j++)
        max = x[j] > max ? x[j] : max;
    float sum = 0.0f;
    for (size_t j = 0; j < n; j++) {
        y[j] = expf(x[j] - max);
        sum += y[j];
    }
    float inv = 1.0f / sum;
    for (size_t j = 0; j < n; j++)
        y[j] *= inv;
}

/* y [batch x n] = softmax of each row of x [batch x n] */
static nn_status softmax_forward(nn_layer *l, const float *x, float *y, int batch, int training)
{
    (void)training;
    size_t n = sample_size(l);
    for (int r = 0; r < batch; r++)
        softmax_row(y + (size_t)r * n, x + (size_t)r * n, n);
    return NN_OK;
}

/* dx [n] = y (dy - sum(dy y)) */
static void softmax_backward_row(float *restrict dx, const float *restrict y,
                                 const float *restrict dy, size_t n)
{
    float dot = 0.0f;
    for (size_t j = 0; j < n; j++)
        dot += dy[j] * y[j];
    for (size_t j = 0; j < n; j++)
        dx[j] = y[j] * (dy[j] - dot);
}

/* dx [batch x n] from y, dy [batch x n] */
static nn_status softmax_backward(nn_layer *l, const float *x, const float *y, const float *dy,
                                  float *dx, int batch)
{
    (void)x;
    if (!dx)
        return NN_OK;
    size_t n = sample_size(l);
    for (int r = 0; r < batch; r++) {
        size_t at = (size_t)r * n;
        softmax_backward_row(dx + at, y + at, dy + at, n);
    }
    return NN_OK;
}

static const nn_layer_ops softmax_ops = {
    .kind = "softmax",
    .infer = same_shape_infer,
    .forward = softmax_forward,
    .backward = softmax_backward,
    .describe = no_describe,
};

nn_layer *nn_softmax(void) { return nn_layer_new(&softmax_ops); }
