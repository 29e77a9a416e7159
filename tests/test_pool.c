/*
 * test_pool.c — nn_maxpool2d_forward and _backward against the rules written out
 * plainly, on every supported ISA: the 2 x 2 stride-2 kernels at every row length up to
 * 35 outputs (tails of the 8- and 16-lane vectors, odd widths and heights), other
 * windows and strides (overlapping: the gradient sums), ties and NaNs, with and without
 * a folded ReLU; and the argument errors.
 */
#include "gemm_reference.h"

/* Scan the window in row-major order: the first value starts as the winner, a NaN
 * winner stays, and a value takes over when it is a NaN or larger. */
static void reference(int planes, int h, int w, int size, int stride, const float *x,
                      float *y, float *winner) {
    int oh = (h - size) / stride + 1, ow = (w - size) / stride + 1;
    for (int p = 0; p < planes; p++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                int best = -1;
                for (int i = 0; i < size; i++)
                    for (int j = 0; j < size; j++) {
                        int at = p * h * w + (oy * stride + i) * w + ox * stride + j;
                        if (best < 0 || (!isnan(x[best]) && (isnan(x[at]) || x[at] > x[best])))
                            best = at;
                    }
                int o = (p * oh + oy) * ow + ox;
                y[o] = x[best];
                winner[o] = (float)best;
            }
}

/* Values from five levels (ties everywhere), a NaN in about one in `nan_every`. */
static void fill_levels(float *x, size_t n, int nan_every, test_rng *rng) {
    for (size_t i = 0; i < n; i++) {
        uint64_t r = test_rng_next(rng);
        x[i] = nan_every && r % (uint64_t)nan_every == 0 ? NAN : (float)((int)((r >> 33) % 5) - 2);
    }
}

/* dx = 0, then each dy added at its winner; with relu_y, only where relu_y > 0. */
static void reference_backward(size_t nx, size_t ny, const float *dy, const float *winner,
                               const float *relu_y, float *dx) {
    for (size_t i = 0; i < nx; i++)
        dx[i] = 0.0f;
    for (size_t o = 0; o < ny; o++)
        if (!relu_y || relu_y[o] > 0.0f)
            dx[(size_t)winner[o]] += dy[o];
}

/* The backward from the forward's winners, on random dy (some -0, to check it comes out
 * +0 as from a zeroed dx), into a dx that starts as NaN, with and without the ReLU. */
static void check_backward(nn_isa isa, int planes, int h, int w, int size, int stride,
                           const float *y, const float *winner, test_rng *rng) {
    int oh = (h - size) / stride + 1, ow = (w - size) / stride + 1;
    size_t nx = (size_t)planes * h * w, ny = (size_t)planes * oh * ow;
    float *dy = test_alloc(ny * sizeof *dy), *dx = test_alloc(nx * sizeof *dx);
    float *want = test_alloc(nx * sizeof *want);
    fill_uniform(dy, ny, rng);
    for (size_t o = 0; o < ny; o += 5)
        dy[o] = -0.0f;
    for (int relu = 0; relu < 2; relu++) {
        const float *relu_y = relu ? y : NULL;
        for (size_t i = 0; i < nx; i++)
            dx[i] = NAN;
        reference_backward(nx, ny, dy, winner, relu_y, want);
        cr_assert(nn_maxpool2d_backward(planes, h, w, size, stride, dy, winner, relu_y, dx) ==
                      NN_OK, "%s", nn_last_error());
        for (size_t i = 0; i < nx; i++)
            cr_assert(memcmp(&dx[i], &want[i], sizeof dx[i]) == 0,
                      "[%s] backward%s, %d planes %dx%d, window %d stride %d, dx[%zu] = %g, "
                      "want %g", nn_isa_name(isa), relu ? " with the ReLU" : "", planes, h, w,
                      size, stride, i, dx[i], want[i]);
    }
    free(dy), free(dx), free(want);
}

static void check_shape(nn_isa isa, int planes, int h, int w, int size, int stride,
                        int nan_every, uint64_t seed) {
    int oh = (h - size) / stride + 1, ow = (w - size) / stride + 1;
    size_t nx = (size_t)planes * h * w, ny = (size_t)planes * oh * ow;
    float *x = test_alloc(nx * sizeof *x), *y = test_alloc(ny * sizeof *y);
    float *win = test_alloc(ny * sizeof *win), *y_only = test_alloc(ny * sizeof *y_only);
    float *want_y = test_alloc(ny * sizeof *want_y), *want_win = test_alloc(ny * sizeof *want_win);
    test_rng rng = {seed};
    fill_levels(x, nx, nan_every, &rng);
    reference(planes, h, w, size, stride, x, want_y, want_win);
    cr_assert(nn_maxpool2d_forward(planes, h, w, size, stride, x, y, win) == NN_OK, "%s",
              nn_last_error());
    cr_assert(nn_maxpool2d_forward(planes, h, w, size, stride, x, y_only, NULL) == NN_OK);
    for (size_t o = 0; o < ny; o++) {
        cr_assert(win[o] == want_win[o] && memcmp(&y[o], &want_y[o], sizeof y[o]) == 0,
                  "[%s] %d planes %dx%d, window %d stride %d, output %zu: %g at %g, want %g at %g",
                  nn_isa_name(isa), planes, h, w, size, stride, o, y[o], win[o], want_y[o],
                  want_win[o]);
        cr_assert(memcmp(&y_only[o], &want_y[o], sizeof y[o]) == 0,
                  "[%s] without winners, output %zu differs", nn_isa_name(isa), o);
    }
    check_backward(isa, planes, h, w, size, stride, y, win, &rng);
    free(x), free(y), free(win), free(y_only), free(want_y), free(want_win);
}

Test(maxpool, two_by_two_stride_two_every_row_length) {
    FOR_EACH_SUPPORTED_ISA(isa) {
        cr_assert(nn_set_isa(isa) == NN_OK);
        for (int w = 2; w <= 71; w++)
            for (int h = 2; h <= 5; h++)
                check_shape(isa, 1 + w % 3, h, w, 2, 2, w % 2 ? 7 : 0, (uint64_t)(w * 8 + h));
    }
}

Test(maxpool, other_windows_and_strides) {
    FOR_EACH_SUPPORTED_ISA(isa) {
        cr_assert(nn_set_isa(isa) == NN_OK);
        for (int size = 1; size <= 3; size++)
            for (int stride = 1; stride <= 3; stride++)
                for (int w = size; w <= size + 9; w += 3)
                    check_shape(isa, 2, size + 4, w, size, stride, stride == 2 ? 5 : 0,
                                (uint64_t)(size * 100 + stride * 10 + w));
    }
}

Test(maxpool, bad_arguments) {
    float x[16] = {0}, y[4], win[4];
    cr_assert(nn_maxpool2d_forward(1, 4, 4, 0, 2, x, y, win) == NN_ERR_INVALID_ARGUMENT);
    cr_assert(nn_maxpool2d_forward(1, 4, 4, 2, 0, x, y, win) == NN_ERR_INVALID_ARGUMENT);
    cr_assert(nn_maxpool2d_forward(-1, 4, 4, 2, 2, x, y, win) == NN_ERR_INVALID_ARGUMENT);
    cr_assert(nn_maxpool2d_forward(1, 4, 4, 5, 1, x, y, win) == NN_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(nn_last_error(), "larger than the 4 x 4 input"), "%s", nn_last_error());
    cr_assert(nn_maxpool2d_forward(1, 4, 4, 2, 2, NULL, y, win) == NN_ERR_INVALID_ARGUMENT);
    cr_assert(nn_maxpool2d_forward(1 << 12, 64, 64, 2, 2, x, y, win) == NN_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(nn_last_error(), "2^24"), "%s", nn_last_error());
    cr_assert(nn_maxpool2d_forward(0, 4, 4, 2, 2, NULL, NULL, NULL) == NN_OK);
    cr_assert(nn_maxpool2d_backward(1, 4, 4, 2, 2, y, NULL, NULL, x) == NN_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(nn_last_error(), "winner is NULL"), "%s", nn_last_error());
    cr_assert(nn_maxpool2d_backward(1, 4, 4, 2, 2, NULL, win, NULL, x) == NN_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(nn_last_error(), "dy is NULL"), "%s", nn_last_error());
    cr_assert(nn_maxpool2d_backward(1, 4, 4, 3, 0, y, win, NULL, x) == NN_ERR_INVALID_ARGUMENT);
}
