/*
 * engine/pool.c — max pooling over planes [H, W]: size x size windows moved by stride,
 * no padding, forward and backward.  2 x 2 windows at stride 2 (the common case) run the
 * ISA's kernels, a plane at a time; other windows plain loops with the same rule
 * (simd/pool.h).  The 2 x 2 backward writes each window's four dx values outright, so dx
 * is written once, not zeroed and then added to (the windows do not overlap).
 *
 * The plain loop (branch-free, in layers/ before) against the AVX-512 kernel, the MNIST
 * CNN's first pooling (64 x 32 x 26 x 26, winners kept) in a training step at 2 threads:
 * 0.30 -> 0.19 ms, now bound by reading conv1's 5.5 MB output.  Inference, which keeps
 * no winners: the CNN at batch 1000 from 15.3-16.0k to 18.3-18.7k images/s on one
 * thread.  Kernels take a plane's rows at once: one call per row of 13 windows cost
 * half of that gain in call overhead.
 */
#include <string.h>

#include "internal.h"
#include "pool.h"

enum { MAX_EXACT_OFFSET = 1 << 24 }; /* integers below this are exact in a float */

/* The winner of one window with top-left corner x0 in plane x (row length w): its offset
 * in the plane. */
static int window_argmax(const float *x, int w, int size, int x0)
{
    int best_at = x0;
    float best = x[x0];
    for (int i = 0; i < size; i++)
        for (int j = 0; j < size; j++) {
            int at = x0 + i * w + j;
            int take = nn_pool_takes_over(x[at], best);
            best = nn_pool_take_if(take, x[at], best);
            best_at = take ? at : best_at;
        }
    return best_at;
}

/* The arguments both directions share: in_out are x and y (forward) or dy and dx
 * (backward), named in messages; with winners, offsets must stay exact in a float. */
static nn_status check_pool(const char *fn, int planes, int h, int w, int size, int stride,
                            const float *winner, const char *const names[2],
                            const void *const in_out[2])
{
    if (planes < 0 || h < 1 || w < 1 || size < 1 || stride < 1)
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       "%s: planes %d, height %d, width %d, size %d, stride %d (planes must "
                       "be >= 0, the rest >= 1)", fn, planes, h, w, size, stride);
    if (size > h || size > w)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: window %d is larger than the %d x %d input",
                       fn, size, h, w);
    if (winner && (long long)planes * h * w >= MAX_EXACT_OFFSET)
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       "%s: %d planes of %d x %d hold 2^24 or more values, too many for "
                       "exact float offsets", fn, planes, h, w);
    for (int i = 0; i < 2; i++)
        if (planes > 0 && !in_out[i])
            return nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn, names[i]);
    return NN_OK;
}

nn_status nn_maxpool2d_forward(int planes, int h, int w, int size, int stride, const float *x,
                               float *y, float *winner)
{
    const char *const names[2] = {"x", "y"};
    const void *const in_out[2] = {x, y};
    nn_status status = check_pool("nn_maxpool2d_forward", planes, h, w, size, stride, winner,
                                  names, in_out);
    const nn_gemm_plan *plan;
    if (status != NN_OK || (status = nn_gemm_plan_get(&plan)) != NN_OK)
        return status;
    int oh = (h - size) / stride + 1, ow = (w - size) / stride + 1;
    size_t plane_out = (size_t)oh * (size_t)ow;
    for (int p = 0; p < planes; p++) {
        size_t plane_at = (size_t)p * (size_t)h * (size_t)w;
        const float *xp = x + plane_at;
        float *yp = y + (size_t)p * plane_out, *win = winner ? winner + (size_t)p * plane_out : NULL;
        int win_at = win ? (int)plane_at : 0; /* below 2^24 when winners are kept */
        if (size == 2 && stride == 2) {
            plan->k->maxpool_2x2_rows(oh, ow, xp, w, win_at, yp, win);
            continue;
        }
        for (int oy = 0, o = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++, o++) {
                int at = window_argmax(xp, w, size, oy * stride * w + ox * stride);
                yp[o] = xp[at];
                if (win)
                    win[o] = (float)(win_at + at);
            }
    }
    return NN_OK;
}

/* The general windows: dx = 0, then each routed dy added at its winner. */
static void scatter_to_winners(size_t inputs, size_t outputs, const float *dy,
                               const float *winner, const float *relu_y, float *dx)
{
    memset(dx, 0, inputs * sizeof *dx);
    for (size_t o = 0; o < outputs; o++)
        dx[(size_t)winner[o]] += relu_y && !(relu_y[o] > 0.0f) ? 0.0f : dy[o];
}

nn_status nn_maxpool2d_backward(int planes, int h, int w, int size, int stride, const float *dy,
                                const float *winner, const float *relu_y, float *dx)
{
    static const char fn[] = "nn_maxpool2d_backward";
    const char *const names[2] = {"dy", "dx"};
    const void *const in_out[2] = {dy, dx};
    nn_status status = check_pool(fn, planes, h, w, size, stride, winner, names, in_out);
    if (status == NN_OK && planes > 0 && !winner)
        status = nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: winner is NULL", fn);
    const nn_gemm_plan *plan;
    if (status != NN_OK || (status = nn_gemm_plan_get(&plan)) != NN_OK)
        return status;
    int oh = (h - size) / stride + 1, ow = (w - size) / stride + 1;
    size_t plane_in = (size_t)h * (size_t)w, plane_out = (size_t)oh * (size_t)ow;
    if (size != 2 || stride != 2) {
        scatter_to_winners((size_t)planes * plane_in, (size_t)planes * plane_out, dy, winner,
                           relu_y, dx);
        return NN_OK;
    }
    for (int p = 0; p < planes; p++) {
        float *dxp = dx + (size_t)p * plane_in;
        size_t o = (size_t)p * plane_out;
        if (h % 2 || w % 2) /* the last row or column is in no window */
            memset(dxp, 0, plane_in * sizeof *dxp);
        plan->k->maxpool_2x2_backward_rows(oh, ow, dy + o, winner + o, relu_y ? relu_y + o : NULL,
                                           w, (int)((size_t)p * plane_in), dxp);
    }
    return NN_OK;
}
