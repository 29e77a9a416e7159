/*
 * layers/layer_pool.c — 2-D pooling per channel: max and mean over size x size windows
 * moved by stride, no padding.
 *
 * Shapes per sample: x [C, H, W], y [C, OH, OW] with OH = (H - size) / stride + 1 (OW
 * likewise).  No parameters.
 *
 * Max pooling keeps, for each output value, the offset of its winner within the
 * sample's input (0 .. C*H*W - 1) in l->scratch [batch, C, OH, OW], stored as a float:
 * exact, since infer refuses inputs of 2^24 floats or more.  Backward needs that forward
 * (of the same batch) and routes each dy to its winner.  The first maximum in row-major
 * window order wins ties; the first NaN wins over any number (takes_over), so a NaN
 * input reaches the output and fit's NaN check.
 */
#include "internal.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum { POOL_MAX_INDEX = 1 << 24 }; /* integers below this are exact in a float */

static nn_status pool_infer(nn_layer *l, nn_shape in)
{
    char got[64];
    nn_shape_format(in, got, sizeof got);
    int size = l->cfg.pool.size, stride = l->cfg.pool.stride;
    if (in.rank != 3 || nn_shape_size(in) == 0)
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       NN_LAYER_FMT ": expects a C x H x W input, got %s%s", NN_LAYER_ARGS(l),
                       got, in.rank == 1 ? "; add nn_reshape(nn_shape_3d(C, H, W)) first" : "");
    if (size > in.dims[1] || size > in.dims[2])
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       NN_LAYER_FMT ": window size %d is larger than the %d x %d input (%s)",
                       NN_LAYER_ARGS(l), size, in.dims[1], in.dims[2], got);
    if (nn_shape_size(in) >= POOL_MAX_INDEX)
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       NN_LAYER_FMT ": input %s holds 2^24 or more values per sample",
                       NN_LAYER_ARGS(l), got);
    l->in = in;
    l->out = nn_shape_3d(in.dims[0], (in.dims[1] - size) / stride + 1,
                         (in.dims[2] - size) / stride + 1);
    return NN_OK;
}

/* "size=2 stride=2" */
static int pool_describe(const nn_layer *l, char *buf, size_t size)
{
    return snprintf(buf, size, "size=%d stride=%d", l->cfg.pool.size, l->cfg.pool.stride);
}

/* ---- Max --------------------------------------------------------------------------- */

static size_t maxpool_scratch_per_sample(const nn_layer *l) { return nn_shape_size(l->out); }

/* Whether v takes over from the running winner `best` (the rule above): larger, or the
 * first NaN. */
static inline int takes_over(float v, float best)
{
    return (v > best) | ((v != v) & (best == best));
}

/* t ? v : best through the bits, so that no branch is left to mispredict: winners are
 * data-dependent, and GCC compiled the plain ?: on floats into jumps (measured: max
 * pooling cost more than the convolution before it). */
static inline float take_if(int t, float v, float best)
{
    uint32_t a, b, mask = 0u - (uint32_t)t;
    memcpy(&a, &v, sizeof a);
    memcpy(&b, &best, sizeof b);
    a = (a & mask) | (b & ~mask);
    memcpy(&v, &a, sizeof v);
    return v;
}

/* The winner of one window with top-left corner x0 in plane x [H, W] (row length w): its
 * offset in the plane, without branches (take_if). */
static int window_argmax(const float *x, int w, int size, int x0)
{
    int best_at = x0;
    float best = x[x0];
    for (int i = 0; i < size; i++)
        for (int j = 0; j < size; j++) {
            int at = x0 + i * w + j;
            float v = x[at];
            int take = takes_over(v, best);
            best = take_if(take, v, best);
            best_at = take ? at : best_at;
        }
    return best_at;
}

/* One output row of 2 x 2 windows at stride 2, the common case: input rows top and
 * bottom (w floats apart, top starting at plane offset first_at), y[ox] and its
 * winner's plane offset. */
static void maxpool_row_2x2(const float *restrict top, const float *restrict bottom, int w,
                            int first_at, int ow, float *restrict y, float *restrict winner)
{
    for (size_t ox = 0; ox < (size_t)ow; ox++) {
        float a = top[2 * ox], b = top[2 * ox + 1], c = bottom[2 * ox], d = bottom[2 * ox + 1];
        float best = a;
        int off = 0, t = takes_over(b, best);
        best = take_if(t, b, best), off = t ? 1 : off;
        t = takes_over(c, best);
        best = take_if(t, c, best), off = t ? w : off;
        t = takes_over(d, best);
        best = take_if(t, d, best), off = t ? w + 1 : off;
        y[ox] = best;
        winner[ox] = (float)(first_at + 2 * (int)ox + off);
    }
}

typedef struct pool_job {
    nn_layer *l;
    const float *x, *dy, *pooled; /* pooled: the forward's y, read by backward */
    float *y, *dx;
} pool_job;

/* Samples [first, end): y = window maxima of x, scratch = their offsets. */
static void maxpool_forward_samples(void *ctx, size_t first, size_t end)
{
    const pool_job *j = ctx;
    const nn_layer *l = j->l;
    int c = l->in.dims[0], h = l->in.dims[1], w = l->in.dims[2];
    int oh = l->out.dims[1], ow = l->out.dims[2];
    int size = l->cfg.pool.size, stride = l->cfg.pool.stride;
    size_t in_n = nn_shape_size(l->in), out_n = nn_shape_size(l->out);
    for (size_t n = first; n < end; n++)
        for (int ch = 0; ch < c; ch++) {
            size_t plane = (size_t)ch * (size_t)h * (size_t)w;
            const float *xp = j->x + n * in_n + plane;
            size_t o = n * out_n + (size_t)ch * (size_t)oh * (size_t)ow;
            if (size == 2 && stride == 2) {
                for (int oy = 0; oy < oh; oy++, o += (size_t)ow) {
                    const float *top = xp + (size_t)(2 * oy) * (size_t)w;
                    maxpool_row_2x2(top, top + w, w, (int)plane + 2 * oy * w, ow, j->y + o,
                                    l->scratch + o);
                }
                continue;
            }
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++, o++) {
                    int at = window_argmax(xp, w, size, oy * stride * w + ox * stride);
                    j->y[o] = xp[at];
                    l->scratch[o] = (float)(plane + (size_t)at);
                }
        }
}

/* y [batch, C, OH, OW] = window maxima of x [batch, C, H, W]; scratch = their offsets. */
static nn_status maxpool_forward(nn_layer *l, const float *x, float *y, int batch, int training)
{
    (void)training;
    pool_job job = {.l = l, .x = x, .y = y};
    nn_parallel_ranges((size_t)batch, (size_t)batch * nn_shape_size(l->in),
                       maxpool_forward_samples, &job);
    return NN_OK;
}

/* The gradient that reaches a winner: dy, or with the ReLU folded in, dy where the
 * pooled value is > 0 and 0 elsewhere. */
static inline float routed(const nn_layer *l, float dy, float pooled)
{
    return !l->relu_backward || pooled > 0.0f ? dy : 0.0f;
}

/* Samples [first, end): dx = 0, then each dy added at its winner; with the ReLU before
 * folded in (l->relu_backward), only where the winner, y, is > 0: the ReLU's mask there,
 * the same for every window that winner wins.  Zeroed sample by sample, so the adds find
 * the sample's dx in cache. */
static void maxpool_backward_samples(void *ctx, size_t first, size_t end)
{
    const pool_job *j = ctx;
    const nn_layer *l = j->l;
    size_t in_n = nn_shape_size(l->in), out_n = nn_shape_size(l->out);
    for (size_t n = first; n < end; n++) {
        float *dxn = j->dx + n * in_n;
        const float *dyn = j->dy + n * out_n, *yn = j->pooled + n * out_n;
        const float *at = l->scratch + n * out_n;
        memset(dxn, 0, in_n * sizeof *dxn);
        for (size_t o = 0; o < out_n; o++)
            dxn[(size_t)at[o]] += routed(l, dyn[o], yn[o]);
    }
}

/* dx [batch, C, H, W] = 0, then each dy [batch, C, OH, OW] added at its winner. */
static nn_status maxpool_backward(nn_layer *l, const float *x, const float *y, const float *dy,
                                  float *dx, int batch)
{
    (void)x;
    if (!dx)
        return NN_OK;
    pool_job job = {.l = l, .pooled = y, .dy = dy, .dx = dx};
    nn_parallel_ranges((size_t)batch, (size_t)batch * nn_shape_size(l->in),
                       maxpool_backward_samples, &job);
    return NN_OK;
}

static const nn_layer_ops maxpool_ops = {
    .kind = "maxpool2d",
    .infer = pool_infer,
    .scratch_per_sample = maxpool_scratch_per_sample,
    .forward = maxpool_forward,
    .backward = maxpool_backward,
    .describe = pool_describe,
};

/* ---- Average ----------------------------------------------------------------------- */

/* y [batch, C, OH, OW] = window means of x [batch, C, H, W]. */
static nn_status avgpool_forward(nn_layer *l, const float *x, float *y, int batch, int training)
{
    (void)training;
    int h = l->in.dims[1], w = l->in.dims[2], oh = l->out.dims[1], ow = l->out.dims[2];
    int size = l->cfg.pool.size, stride = l->cfg.pool.stride;
    int planes = batch * l->in.dims[0];
    float scale = 1.0f / (float)(size * size);
    for (int p = 0; p < planes; p++) {
        const float *xp = x + (size_t)p * (size_t)h * (size_t)w;
        float *yp = y + (size_t)p * (size_t)oh * (size_t)ow;
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                float sum = 0.0f;
                for (int i = 0; i < size; i++)
                    for (int j = 0; j < size; j++)
                        sum += xp[(oy * stride + i) * w + ox * stride + j];
                yp[oy * ow + ox] = sum * scale;
            }
    }
    return NN_OK;
}

/* dx [batch, C, H, W] = 0, then dy / size^2 added over each window. */
static nn_status avgpool_backward(nn_layer *l, const float *x, const float *y, const float *dy,
                                  float *dx, int batch)
{
    (void)x, (void)y;
    if (!dx)
        return NN_OK;
    int h = l->in.dims[1], w = l->in.dims[2], oh = l->out.dims[1], ow = l->out.dims[2];
    int size = l->cfg.pool.size, stride = l->cfg.pool.stride;
    int planes = batch * l->in.dims[0];
    float scale = 1.0f / (float)(size * size);
    memset(dx, 0, (size_t)planes * (size_t)h * (size_t)w * sizeof *dx);
    for (int p = 0; p < planes; p++) {
        float *dxp = dx + (size_t)p * (size_t)h * (size_t)w;
        const float *dyp = dy + (size_t)p * (size_t)oh * (size_t)ow;
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                float g = dyp[oy * ow + ox] * scale;
                for (int i = 0; i < size; i++)
                    for (int j = 0; j < size; j++)
                        dxp[(oy * stride + i) * w + ox * stride + j] += g;
            }
    }
    return NN_OK;
}

static const nn_layer_ops avgpool_ops = {
    .kind = "avgpool2d",
    .infer = pool_infer,
    .forward = avgpool_forward,
    .backward = avgpool_backward,
    .describe = pool_describe,
};

/* ---- Constructors ------------------------------------------------------------------ */

static nn_layer *pool_new(const nn_layer_ops *ops, const char *who, int size, int stride)
{
    if (size < 1 || stride < 1) {
        nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: %s must be at least 1, got %d", who,
                size < 1 ? "size" : "stride", size < 1 ? size : stride);
        return NULL;
    }
    nn_layer *l = nn_layer_new(ops);
    if (l) {
        l->cfg.pool.size = size;
        l->cfg.pool.stride = stride;
    }
    return l;
}

nn_layer *nn_maxpool2d(int size, int stride)
{
    return pool_new(&maxpool_ops, "nn_maxpool2d", size, stride);
}

nn_layer *nn_avgpool2d(int size, int stride)
{
    return pool_new(&avgpool_ops, "nn_avgpool2d", size, stride);
}
