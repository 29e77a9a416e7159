/*
 * layers/layer_dense.c — the fully connected layer: Y = X W + b, W stored [in x out].
 *
 * Parameters: W (in x out floats) then b (out floats).  Forward is one GEMM whose
 * epilogue adds b and, when compile fused the next activation into this layer
 * (l->fused != NN_ACT_NONE), applies it.  Backward is two GEMMs and a column sum.
 *
 * Fused backward: when l->fused != NN_ACT_NONE, the model runs the activation layer's
 * backward first (from this layer's output, which is the activation's output), so the
 * dy this backward receives is already the gradient with respect to the
 * pre-activation X W + b.  Nothing here differs between fused and unfused.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static const char *const fused_names[] = {"none", "relu", "sigmoid", "tanh"};

static int dense_in(const nn_layer *l) { return l->in.dims[0]; }
static int dense_out(const nn_layer *l) { return l->out.dims[0]; }

static nn_status dense_infer(nn_layer *l, nn_shape in)
{
    if (in.rank != 1 || nn_shape_size(in) == 0) {
        char got[64];
        nn_shape_format(in, got, sizeof got);
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       NN_LAYER_FMT ": expects a flat input, got %s; add nn_flatten() before it",
                       NN_LAYER_ARGS(l), got);
    }
    l->in = in;
    l->out = nn_shape_1d(l->cfg.dense.units);
    return NN_OK;
}

static size_t dense_param_count(const nn_layer *l)
{
    return (size_t)dense_in(l) * (size_t)dense_out(l) + (size_t)dense_out(l);
}

/* W from the initializer, b = 0. */
static void dense_init_params(nn_layer *l, nn_rng *rng)
{
    int in = dense_in(l), out = dense_out(l);
    size_t wcount = (size_t)in * (size_t)out;
    nn_init_fill(l->cfg.dense.init, l->params, wcount, in, out, rng);
    memset(l->params + wcount, 0, (size_t)out * sizeof *l->params);
}

/* y [batch x out] = act(x [batch x in] W [in x out] + b [out]) */
static nn_status dense_forward(nn_layer *l, const float *x, float *y, int batch, int training)
{
    (void)training;
    int in = dense_in(l), out = dense_out(l);
    const float *w = l->params, *b = w + (size_t)in * (size_t)out;
    nn_gemm_epilogue epilogue = {.bias = b, .activation = l->fused};
    return nn_sgemm_ex(NN_NO_TRANS, NN_NO_TRANS, batch, out, in, 1.0f, x, in, w, out, 0.0f, y,
                       out, &epilogue);
}

/* db [out] = sum over rows of dy [batch x out], rows in order: deterministic, and the
 * inner loop over contiguous columns vectorizes. */
static void column_sums(float *restrict db, const float *restrict dy, int batch, int out)
{
    memset(db, 0, (size_t)out * sizeof *db);
    for (int r = 0; r < batch; r++) {
        const float *restrict row = dy + (size_t)r * (size_t)out;
        for (int j = 0; j < out; j++)
            db[j] += row[j];
    }
}

/* x [batch x in], dy [batch x out] (w.r.t. the pre-activation when fused): writes
 * dW [in x out] = x^T dy, db [out] = column sums of dy and, if dx, dx [batch x in] = dy W^T. */
static nn_status dense_backward(nn_layer *l, const float *x, const float *y, const float *dy,
                                float *dx, int batch)
{
    (void)y;
    int in = dense_in(l), out = dense_out(l);
    size_t wcount = (size_t)in * (size_t)out;
    const float *w = l->params;
    float *dw = l->grads, *db = l->grads + wcount;
    nn_status st = nn_sgemm(NN_TRANS, NN_NO_TRANS, in, out, batch, 1.0f, x, in, dy, out, 0.0f,
                            dw, out);
    if (st != NN_OK)
        return st;
    column_sums(db, dy, batch, out);
    if (!dx)
        return NN_OK;
    return nn_sgemm(NN_NO_TRANS, NN_TRANS, batch, in, out, 1.0f, dy, out, w, out, 0.0f, dx, in);
}

/* "units=256 init=he_normal", plus " fused=relu" when an activation is fused. */
static int dense_describe(const nn_layer *l, char *buf, size_t size)
{
    const char *init = nn_init_name(l->cfg.dense.init);
    if (l->fused == NN_ACT_NONE)
        return snprintf(buf, size, "units=%d init=%s", l->cfg.dense.units, init);
    return snprintf(buf, size, "units=%d init=%s fused=%s", l->cfg.dense.units, init,
                    fused_names[l->fused]);
}

static const nn_layer_ops dense_ops = {
    .kind = "dense",
    .infer = dense_infer,
    .param_count = dense_param_count,
    .init_params = dense_init_params,
    .forward = dense_forward,
    .backward = dense_backward,
    .describe = dense_describe,
};

nn_layer *nn_dense(int units, nn_init init)
{
    if (units < 1) {
        nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_dense: units must be at least 1, got %d", units);
        return NULL;
    }
    if ((int)init < 0 || init > NN_INIT_ZEROS) {
        nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_dense: unknown initializer %d", (int)init);
        return NULL;
    }
    nn_layer *l = nn_layer_new(&dense_ops);
    if (l) {
        l->cfg.dense.units = units;
        l->cfg.dense.init = init;
    }
    return l;
}
