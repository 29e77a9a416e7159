/*
 * test_conv.c — nn_conv2d_forward / backward_data / backward_weights against a naive
 * direct convolution in double, on random shapes, for every supported ISA; bit-identical
 * results for 1, 2, 3 threads on the MNIST layers; bad descriptors.
 *
 * Tolerance: each result is a sum of L products (forward: L = K = C*KH*KW, plus the
 * bias; backward-data: L <= OC*KH*KW; backward-weights: L = batch*OH*OW), checked per
 * element like the GEMM tests:
 *   |got - ref| <= 2 * (L + 2) * FLT_EPSILON * sum |terms|   (+ 2e-6 max(1,|ref|) for act)
 * where sum |terms| is the same sum over the absolute values, computed in double.
 */
#include "gemm_reference.h"

#define CONV_BOUND_C 2.0
#define ACT_TOL 2e-6

/* ---- Naive reference ------------------------------------------------------------ */

typedef struct conv_data {
    nn_conv2d_desc d;
    int oh, ow, K, P;
    size_t nx, nw, ny;
    float *x, *w, *b, *dy;
} conv_data;

static conv_data conv_data_new(nn_conv2d_desc d, uint64_t seed) {
    conv_data c = {.d = d};
    cr_assert(nn_conv2d_output_size(&d, &c.oh, &c.ow) == NN_OK, "%s", nn_last_error());
    c.K = d.in_channels * d.kernel_h * d.kernel_w;
    c.P = c.oh * c.ow;
    c.nx = (size_t)d.batch * d.in_channels * d.height * d.width;
    c.nw = (size_t)d.out_channels * c.K;
    c.ny = (size_t)d.batch * d.out_channels * c.P;
    test_rng rng = {seed};
    c.x = test_alloc(c.nx * sizeof(float));
    c.w = test_alloc(c.nw * sizeof(float));
    c.b = test_alloc((size_t)d.out_channels * sizeof(float));
    c.dy = test_alloc(c.ny * sizeof(float));
    fill_uniform(c.x, c.nx, &rng);
    fill_uniform(c.w, c.nw, &rng);
    fill_uniform(c.b, (size_t)d.out_channels, &rng);
    fill_uniform(c.dy, c.ny, &rng);
    return c;
}

static void conv_data_free(conv_data *c) {
    free(c->x);
    free(c->w);
    free(c->b);
    free(c->dy);
}

/* Calls f(ctx, xi, wi, yi) for every (input, weight, output) triple of the convolution,
 * in index form: xi into x, wi into w, yi into y (padding taps are skipped). */
typedef void (*tap_fn)(void *ctx, size_t xi, size_t wi, size_t yi);

static void for_each_tap(const conv_data *c, tap_fn f, void *ctx) {
    const nn_conv2d_desc *d = &c->d;
    for (int n = 0; n < d->batch; n++)
        for (int oc = 0; oc < d->out_channels; oc++)
            for (int oh = 0; oh < c->oh; oh++)
                for (int ow = 0; ow < c->ow; ow++)
                    for (int ch = 0; ch < d->in_channels; ch++)
                        for (int ki = 0; ki < d->kernel_h; ki++)
                            for (int kj = 0; kj < d->kernel_w; kj++) {
                                int ih = oh * d->stride_h - d->pad_h + ki * d->dilation_h;
                                int iw = ow * d->stride_w - d->pad_w + kj * d->dilation_w;
                                if (ih < 0 || ih >= d->height || iw < 0 || iw >= d->width)
                                    continue;
                                size_t xi = (((size_t)n * d->in_channels + ch) * d->height + ih)
                                            * d->width + iw;
                                size_t wi = (size_t)oc * c->K
                                            + ((size_t)ch * d->kernel_h + ki) * d->kernel_w + kj;
                                size_t yi = (((size_t)n * d->out_channels + oc) * c->oh + oh)
                                            * c->ow + ow;
                                f(ctx, xi, wi, yi);
                            }
}

typedef struct ref_acc {
    const conv_data *c;
    double *val, *mag;
} ref_acc;

static void tap_forward(void *ctx, size_t xi, size_t wi, size_t yi) {
    ref_acc *a = ctx;
    double t = (double)a->c->x[xi] * a->c->w[wi];
    a->val[yi] += t;
    a->mag[yi] += fabs(t);
}

static void tap_data(void *ctx, size_t xi, size_t wi, size_t yi) {
    ref_acc *a = ctx;
    double t = (double)a->c->dy[yi] * a->c->w[wi];
    a->val[xi] += t;
    a->mag[xi] += fabs(t);
}

static void tap_weights(void *ctx, size_t xi, size_t wi, size_t yi) {
    ref_acc *a = ctx;
    double t = (double)a->c->dy[yi] * a->c->x[xi];
    a->val[wi] += t;
    a->mag[wi] += fabs(t);
}

static ref_acc ref_new(const conv_data *c, size_t n) {
    ref_acc a = {c, calloc(n, sizeof(double)), calloc(n, sizeof(double))};
    cr_assert(a.val && a.mag, "out of memory");
    return a;
}

static void ref_free(ref_acc *a) {
    free(a->val);
    free(a->mag);
}

static void check_close(const char *what, const float *got, const ref_acc *a, size_t n,
                        double len, const char *label) {
    for (size_t i = 0; i < n; i++) {
        double tol = CONV_BOUND_C * (len + 2) * FLT_EPSILON * a->mag[i];
        cr_assert(fabs(got[i] - a->val[i]) <= tol, "%s %s[%zu]: got %.9g want %.9g (tol %.3g)",
                  label, what, i, got[i], a->val[i], tol);
    }
}

/* ---- Random shapes -------------------------------------------------------------- */

static int pick(test_rng *rng, const int *v, int n) { return v[test_rng_next(rng) % (uint64_t)n]; }

static nn_conv2d_desc random_desc(test_rng *rng) {
    static const int kernels[] = {1, 3, 5}, strides[] = {1, 2}, pads[] = {0, 1, 2},
                     dils[] = {1, 2}, sizes[] = {1, 3, 5, 6, 7, 9, 11, 13};
    for (;;) {
        nn_conv2d_desc d = {
            .batch = 1 + (int)(test_rng_next(rng) % 20), /* groups of up to 3 samples */
            .in_channels = 1 + (int)(test_rng_next(rng) % 4),
            .out_channels = 1 + (int)(test_rng_next(rng) % 4),
            .height = pick(rng, sizes, 8), .width = pick(rng, sizes, 8),
            .kernel_h = pick(rng, kernels, 3), .kernel_w = pick(rng, kernels, 3),
            .stride_h = pick(rng, strides, 2), .stride_w = pick(rng, strides, 2),
            .pad_h = pick(rng, pads, 3), .pad_w = pick(rng, pads, 3),
            .dilation_h = pick(rng, dils, 2), .dilation_w = pick(rng, dils, 2),
        };
        if (nn_conv2d_output_size(&d, NULL, NULL) == NN_OK)
            return d;
    }
}

static const char *desc_label(const nn_conv2d_desc *d, nn_isa isa, const char *extra) {
    static char buf[256];
    snprintf(buf, sizeof buf,
             "[%s %s] %dx%dx%dx%d -> %d k%dx%d s%dx%d p%dx%d d%dx%d", nn_isa_name(isa), extra,
             d->batch, d->in_channels, d->height, d->width, d->out_channels, d->kernel_h,
             d->kernel_w, d->stride_h, d->stride_w, d->pad_h, d->pad_w, d->dilation_h,
             d->dilation_w);
    return buf;
}

/* Workspace of exactly the size asked for (ASan sees a write past it). */
static float *workspace_for(const nn_conv2d_desc *d) {
    size_t n = nn_conv2d_workspace_floats(d);
    cr_assert(n > 0, "workspace_floats = 0: %s", nn_last_error());
    return test_alloc(n * sizeof(float));
}

static double relu_d(double v) { return v > 0 ? v : 0; }

static void check_forward(const conv_data *c, nn_isa isa, int with_bias, int relu) {
    const nn_conv2d_desc *d = &c->d;
    float *y = test_alloc(c->ny * sizeof(float)), *ws = workspace_for(d);
    for (size_t i = 0; i < c->ny; i++) y[i] = NAN; /* overwritten, never read */
    nn_status st = nn_conv2d_forward(d, c->x, c->w, with_bias ? c->b : NULL,
                                     relu ? NN_ACT_RELU : NN_ACT_NONE, y, ws);
    const char *label = desc_label(d, isa, relu ? "fwd bias relu" : with_bias ? "fwd bias" : "fwd");
    cr_assert(st == NN_OK, "%s: %s", label, nn_last_error());
    ref_acc a = ref_new(c, c->ny);
    for_each_tap(c, tap_forward, &a);
    for (size_t i = 0; with_bias && i < c->ny; i++) {
        float b = c->b[(i / (size_t)c->P) % (size_t)d->out_channels];
        a.val[i] += b;
        a.mag[i] += fabs(b);
    }
    for (size_t i = 0; i < c->ny; i++) {
        double want = relu ? relu_d(a.val[i]) : a.val[i];
        double tol = CONV_BOUND_C * (c->K + 3) * FLT_EPSILON * a.mag[i]
                     + (relu ? ACT_TOL * fmax(1.0, fabs(want)) : 0.0);
        cr_assert(fabs(y[i] - want) <= tol, "%s y[%zu]: got %.9g want %.9g (tol %.3g)", label,
                  i, y[i], want, tol);
    }
    ref_free(&a);
    free(y);
    free(ws);
}

static void check_backward(const conv_data *c, nn_isa isa) {
    const nn_conv2d_desc *d = &c->d;
    float *dx = test_alloc(c->nx * sizeof(float)), *dw = test_alloc(c->nw * sizeof(float));
    float *db = test_alloc((size_t)d->out_channels * sizeof(float)), *ws = workspace_for(d);
    for (size_t i = 0; i < c->nx; i++) dx[i] = NAN;
    for (size_t i = 0; i < c->nw; i++) dw[i] = NAN;
    const char *label = desc_label(d, isa, "bwd");
    cr_assert(nn_conv2d_backward_data(d, c->dy, c->w, dx, ws) == NN_OK, "%s: %s", label,
              nn_last_error());
    cr_assert(nn_conv2d_backward_weights(d, c->x, c->dy, dw, db, ws) == NN_OK, "%s: %s", label,
              nn_last_error());
    ref_acc a = ref_new(c, c->nx);
    for_each_tap(c, tap_data, &a);
    check_close("dx", dx, &a, c->nx, (double)d->out_channels * d->kernel_h * d->kernel_w, label);
    ref_free(&a);
    a = ref_new(c, c->nw);
    for_each_tap(c, tap_weights, &a);
    check_close("dw", dw, &a, c->nw, (double)d->batch * c->P, label);
    ref_free(&a);
    for (int oc = 0; oc < d->out_channels; oc++) {
        double sum = 0, mag = 0;
        for (int n = 0; n < d->batch; n++)
            for (int p = 0; p < c->P; p++) {
                double v = c->dy[((size_t)n * d->out_channels + oc) * c->P + p];
                sum += v;
                mag += fabs(v);
            }
        cr_assert(fabs(db[oc] - sum) <= CONV_BOUND_C * FLT_EPSILON * mag,
                  "%s db[%d]: got %.9g want %.9g", label, oc, db[oc], sum);
    }
    free(dx);
    free(dw);
    free(db);
    free(ws);
}

#define N_RANDOM 60

Test(conv, random_shapes_every_isa) {
    FOR_EACH_SUPPORTED_ISA(isa) {
        use_engine(isa, 2);
        test_rng rng = {0xC0417ull};
        for (int i = 0; i < N_RANDOM; i++) {
            nn_conv2d_desc d = random_desc(&rng);
            conv_data c = conv_data_new(d, 1000 + (uint64_t)i);
            check_forward(&c, isa, i % 3 != 0, i % 3 == 2);
            check_backward(&c, isa);
            conv_data_free(&c);
        }
    }
}

/* The column matrix of a 1x1 convolution with stride 1 and no padding is x itself. */
Test(conv, one_by_one_is_a_gemm) {
    nn_conv2d_desc d = {.batch = 2, .in_channels = 3, .height = 4, .width = 5, .out_channels = 2,
                   .kernel_h = 1, .kernel_w = 1, .stride_h = 1, .stride_w = 1,
                   .dilation_h = 1, .dilation_w = 1};
    conv_data c = conv_data_new(d, 7);
    check_forward(&c, nn_get_isa(), 1, 1);
    check_backward(&c, nn_get_isa());
    conv_data_free(&c);
}

/* col2im sums at most 32 taps per pass (NN_SUM_SHIFTED_TERMS): a 7x7 kernel (49 taps),
 * with padding and dilation, needs two on every ISA. */
Test(conv, kernel_of_more_taps_than_one_col2im_pass) {
    nn_conv2d_desc d = {.batch = 2, .in_channels = 2, .height = 12, .width = 19, .out_channels = 3,
                        .kernel_h = 7, .kernel_w = 7, .stride_h = 1, .stride_w = 1,
                        .pad_h = 3, .pad_w = 2, .dilation_h = 1, .dilation_w = 2};
    FOR_EACH_SUPPORTED_ISA(isa) {
        use_engine(isa, 2);
        conv_data c = conv_data_new(d, 49);
        check_backward(&c, isa);
        conv_data_free(&c);
    }
}

/* 3x3 kernels at stride 1 with 16 or more channels on both sides run all three passes by
 * Winograd's F(4x4, 3x3) (engine/winograd.c); random such shapes,
 * against the same reference and bounds: sizes that cut the last 4 x 4 tile short, padding
 * 0-2, channel counts that leave a short block of transform lanes, batches that leave a
 * short chunk. */
static nn_conv2d_desc random_winograd_desc(test_rng *rng) {
    static const int sizes[] = {3, 4, 5, 7, 8, 11, 13, 17};
    nn_conv2d_desc d = {.batch = 1 + (int)(test_rng_next(rng) % 19),
                        .in_channels = 16 + (int)(test_rng_next(rng) % 25),
                        .out_channels = 16 + (int)(test_rng_next(rng) % 25),
                        .height = pick(rng, sizes, 8), .width = pick(rng, sizes, 8),
                        .kernel_h = 3, .kernel_w = 3, .stride_h = 1, .stride_w = 1,
                        .pad_h = (int)(test_rng_next(rng) % 3), .pad_w = (int)(test_rng_next(rng) % 3),
                        .dilation_h = 1, .dilation_w = 1};
    return d;
}

Test(conv, winograd_shapes_every_isa) {
    FOR_EACH_SUPPORTED_ISA(isa) {
        use_engine(isa, 2);
        test_rng rng = {0x3A3ull};
        for (int i = 0; i < 16; i++) {
            conv_data c = conv_data_new(random_winograd_desc(&rng), 3000 + (uint64_t)i);
            check_forward(&c, isa, i % 3 != 0, i % 3 == 2);
            check_backward(&c, isa);
            conv_data_free(&c);
        }
    }
}

/* One input channel, 3x3, stride 1, no padding: AVX-512's conv1ch_3x3_weights sums the
 * weight and bias gradient block by block of 2 x 2 outputs; odd output sizes leave a row
 * or column of outputs in no block. */
Test(conv, single_channel_weight_gradient_every_isa) {
    static const int shapes[][4] = {{64, 28, 28, 32}, {5, 11, 12, 5}, {3, 9, 41, 7}, {2, 4, 3, 3}};
    FOR_EACH_SUPPORTED_ISA(isa) {
        use_engine(isa, 2);
        for (int i = 0; i < 4; i++) {
            nn_conv2d_desc d = {.batch = shapes[i][0], .in_channels = 1, .height = shapes[i][1],
                                .width = shapes[i][2], .out_channels = shapes[i][3],
                                .kernel_h = 3, .kernel_w = 3, .stride_h = 1, .stride_w = 1,
                                .dilation_h = 1, .dilation_w = 1};
            conv_data c = conv_data_new(d, 4000 + (uint64_t)i);
            check_backward(&c, isa);
            conv_data_free(&c);
        }
    }
}

/* ---- Max pooling fused after the convolution -------------------------------------- */

/* The separate path's results, to compare the fused calls' bits with. */
typedef struct pooled_run {
    float *y, *winners, *dx, *dw, *db;
} pooled_run;

static pooled_run pooled_run_new(const conv_data *c, size_t pooled) {
    pooled_run r = {test_alloc(pooled * sizeof(float)), test_alloc(pooled * sizeof(float)),
                    test_alloc(c->nx * sizeof(float)), test_alloc(c->nw * sizeof(float)),
                    test_alloc((size_t)c->d.out_channels * sizeof(float))};
    return r;
}

static void pooled_run_free(pooled_run *r) {
    free(r->y), free(r->winners), free(r->dx), free(r->dw), free(r->db);
}

/* nn_conv2d_forward, nn_maxpool2d_forward per sample, then nn_maxpool2d_backward per
 * sample and the two backward calls: what the fused calls must equal. */
static void run_separately(const conv_data *c, int size, int stride, nn_activation act,
                           const float *dy, int relu_mask, pooled_run *r) {
    const nn_conv2d_desc *d = &c->d;
    size_t plane = (size_t)c->oh * c->ow, per_out = (size_t)d->out_channels * plane;
    size_t per_pooled = (size_t)d->out_channels * (size_t)((c->oh - size) / stride + 1) *
                        (size_t)((c->ow - size) / stride + 1);
    float *full = test_alloc(c->ny * sizeof(float)), *dfull = test_alloc(c->ny * sizeof(float));
    float *ws = workspace_for(d);
    cr_assert(nn_conv2d_forward(d, c->x, c->w, c->b, act, full, ws) == NN_OK, "%s", nn_last_error());
    for (int n = 0; n < d->batch; n++) {
        size_t o = (size_t)n * per_out, p = (size_t)n * per_pooled;
        cr_assert(nn_maxpool2d_forward(d->out_channels, c->oh, c->ow, size, stride, full + o,
                                       r->y + p, r->winners + p) == NN_OK);
        cr_assert(nn_maxpool2d_backward(d->out_channels, c->oh, c->ow, size, stride, dy + p,
                                        r->winners + p, relu_mask ? r->y + p : NULL,
                                        dfull + o) == NN_OK);
    }
    cr_assert(nn_conv2d_backward_weights(d, c->x, dfull, r->dw, r->db, ws) == NN_OK);
    cr_assert(nn_conv2d_backward_data(d, dfull, c->w, r->dx, ws) == NN_OK);
    free(full), free(dfull), free(ws);
}

static void assert_same_bits(const float *got, const float *want, size_t n, const char *what,
                             const char *label) {
    for (size_t i = 0; i < n; i++)
        cr_assert(memcmp(&got[i], &want[i], sizeof got[i]) == 0, "%s %s[%zu]: %.9g, want %.9g",
                  label, what, i, got[i], want[i]);
}

static int float_order(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The same winners in each sample, in whatever order the engine keeps them (NCHW, or
 * channels-last where Winograd's tiles pool them). */
static void assert_same_winners(const float *got, const float *want, size_t per_sample,
                                int batch, const char *label) {
    float *g = test_alloc(per_sample * sizeof(float)), *w = test_alloc(per_sample * sizeof(float));
    for (int n = 0; n < batch; n++) {
        memcpy(g, got + (size_t)n * per_sample, per_sample * sizeof(float));
        memcpy(w, want + (size_t)n * per_sample, per_sample * sizeof(float));
        qsort(g, per_sample, sizeof(float), float_order);
        qsort(w, per_sample, sizeof(float), float_order);
        assert_same_bits(g, w, per_sample, "winners (sorted in each sample)", label);
    }
    free(g), free(w);
}

/* The fused calls on 1, 2 and 3 threads against the separate path, bit for bit: with a
 * ReLU (its mask applied backward), without, and with a tanh (which Winograd's tiles do
 * not pool); the backward without dx or db too. */
static void check_fused_pooling(const conv_data *c, nn_isa isa, int size, int stride) {
    const nn_conv2d_desc *d = &c->d;
    if (size > c->oh || size > c->ow)
        return;
    size_t pooled = (size_t)d->batch * d->out_channels * (size_t)((c->oh - size) / stride + 1) *
                    (size_t)((c->ow - size) / stride + 1);
    float *dy = test_alloc(pooled * sizeof(float));
    test_rng rng = {pooled};
    fill_uniform(dy, pooled, &rng);
    size_t ws_floats = nn_conv2d_maxpool_workspace_floats(d);
    cr_assert(ws_floats > nn_conv2d_workspace_floats(d), "%s", nn_last_error());
    float *ws = test_alloc(ws_floats * sizeof(float));
    static const nn_activation acts[] = {NN_ACT_NONE, NN_ACT_RELU, NN_ACT_TANH};
    static const char *const act_labels[] = {"fused", "fused relu", "fused tanh"};
    for (int a = 0; a < 3; a++) {
        nn_activation act = acts[a];
        int relu = act == NN_ACT_RELU;
        pooled_run want = pooled_run_new(c, pooled), got = pooled_run_new(c, pooled);
        use_engine(isa, 1);
        run_separately(c, size, stride, act, dy, relu, &want);
        for (int threads = 1; threads <= 3; threads++) {
            use_engine(isa, threads);
            char label[300];
            snprintf(label, sizeof label, "%s pool %d/%d, %d threads",
                     desc_label(d, isa, act_labels[a]), size, stride, threads);
            cr_assert(nn_conv2d_forward_maxpool(d, size, stride, c->x, c->w, c->b, act, got.y,
                                                got.winners, ws) == NN_OK, "%s", nn_last_error());
            assert_same_bits(got.y, want.y, pooled, "y", label);
            assert_same_winners(got.winners, want.winners, pooled / (size_t)d->batch, d->batch,
                                label);
            cr_assert(nn_conv2d_backward_maxpool(d, size, stride, c->x, c->w, dy, got.winners,
                                                 relu ? got.y : NULL, got.dx, got.dw, got.db,
                                                 ws) == NN_OK, "%s", nn_last_error());
            assert_same_bits(got.dx, want.dx, c->nx, "dx", label);
            assert_same_bits(got.dw, want.dw, c->nw, "dw", label);
            assert_same_bits(got.db, want.db, (size_t)d->out_channels, "db", label);
            cr_assert(nn_conv2d_backward_maxpool(d, size, stride, c->x, c->w, dy, got.winners,
                                                 relu ? got.y : NULL, NULL, got.dw, NULL,
                                                 ws) == NN_OK, "%s", nn_last_error());
            assert_same_bits(got.dw, want.dw, c->nw, "dw without dx and db", label);
            cr_assert(nn_conv2d_backward_maxpool(d, size, stride, c->x, c->w, dy, got.winners,
                                                 relu ? got.y : NULL, NULL, got.dw, got.db,
                                                 ws) == NN_OK, "%s", nn_last_error());
            assert_same_bits(got.dw, want.dw, c->nw, "dw without dx", label);
            assert_same_bits(got.db, want.db, (size_t)d->out_channels, "db without dx", label);
        }
        pooled_run_free(&want), pooled_run_free(&got);
    }
    free(dy), free(ws);
}

Test(conv, fused_max_pooling_gives_the_bits_of_the_separate_calls) {
    static const int windows[][2] = {{2, 2}, {3, 2}, {2, 1}};
    FOR_EACH_SUPPORTED_ISA(isa) {
        test_rng rng = {0x9001ull};
        for (int i = 0; i < 12; i++) {
            conv_data c = conv_data_new(random_desc(&rng), 2000 + (uint64_t)i);
            check_fused_pooling(&c, isa, windows[i % 3][0], windows[i % 3][1]);
            conv_data_free(&c);
        }
        nn_conv2d_desc mnist2 = {.batch = 9, .in_channels = 32, .height = 13, .width = 13,
                                 .out_channels = 64, .kernel_h = 3, .kernel_w = 3, .stride_h = 1,
                                 .stride_w = 1, .dilation_h = 1, .dilation_w = 1};
        conv_data c = conv_data_new(mnist2, 77);
        check_fused_pooling(&c, isa, 2, 2); /* pooled and unpooled in Winograd's tiles */
        check_fused_pooling(&c, isa, 3, 2); /* Winograd, pooled apart */
        conv_data_free(&c);
        nn_conv2d_desc padded = {.batch = 37, .in_channels = 17, .height = 10, .width = 12,
                                 .out_channels = 20, .kernel_h = 3, .kernel_w = 3, .stride_h = 1,
                                 .stride_w = 1, .pad_h = 1, .pad_w = 2, .dilation_h = 1,
                                 .dilation_w = 1};
        c = conv_data_new(padded, 78);
        check_fused_pooling(&c, isa, 2, 2);
        conv_data_free(&c);
        /* one input channel: AVX-512's conv1ch_3x3_maxpool (MNIST's conv1; rows of an odd
         * length; more than 16 windows a row; more windows than one strip of 256, its
         * boundary inside a row) */
        static const int first_layers[][3] = {{9, 28, 28}, {5, 11, 12}, {3, 9, 41}, {2, 40, 37}};
        for (int f = 0; f < 4; f++) {
            nn_conv2d_desc first = {.batch = first_layers[f][0], .in_channels = 1,
                                    .height = first_layers[f][1], .width = first_layers[f][2],
                                    .out_channels = 32 - 9 * f, .kernel_h = 3, .kernel_w = 3,
                                    .stride_h = 1, .stride_w = 1, .dilation_h = 1,
                                    .dilation_w = 1};
            c = conv_data_new(first, 79 + (uint64_t)f);
            check_fused_pooling(&c, isa, 2, 2);
            conv_data_free(&c);
        }
    }
}

Test(conv, fused_max_pooling_bad_windows) {
    nn_conv2d_desc d = {.batch = 1, .in_channels = 1, .height = 6, .width = 6, .out_channels = 1,
                        .kernel_h = 3, .kernel_w = 3, .stride_h = 1, .stride_w = 1,
                        .dilation_h = 1, .dilation_w = 1};
    float x[36] = {0}, w[9] = {0}, y[16], win[16], ws[4096];
    cr_assert(nn_conv2d_maxpool_workspace_floats(&d) <= 4096);
    cr_assert(nn_conv2d_forward_maxpool(&d, 5, 1, x, w, NULL, NN_ACT_NONE, y, win, ws) ==
              NN_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(nn_last_error(), "larger than the 4 x 4 convolution output"), "%s",
              nn_last_error());
    cr_assert(nn_conv2d_forward_maxpool(&d, 2, 0, x, w, NULL, NN_ACT_NONE, y, win, ws) ==
              NN_ERR_INVALID_ARGUMENT);
    cr_assert(nn_conv2d_backward_maxpool(&d, 2, 2, x, w, y, NULL, NULL, NULL, w, NULL, ws) ==
              NN_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(nn_last_error(), "winners is NULL"), "%s", nn_last_error());
}

/* ---- Same bits for 1, 2, 3 threads -------------------------------------------------- */

typedef struct conv_outputs {
    float *y, *dx, *dw, *db;
} conv_outputs;

static conv_outputs run_all(const conv_data *c, int threads) {
    conv_outputs o = {test_alloc(c->ny * sizeof(float)), test_alloc(c->nx * sizeof(float)),
                      test_alloc(c->nw * sizeof(float)),
                      test_alloc((size_t)c->d.out_channels * sizeof(float))};
    float *ws = workspace_for(&c->d);
    cr_assert(nn_set_num_threads(threads) == NN_OK);
    cr_assert(nn_conv2d_forward(&c->d, c->x, c->w, c->b, NN_ACT_RELU, o.y, ws) == NN_OK, "%s",
              nn_last_error());
    cr_assert(nn_conv2d_backward_data(&c->d, c->dy, c->w, o.dx, ws) == NN_OK, "%s",
              nn_last_error());
    cr_assert(nn_conv2d_backward_weights(&c->d, c->x, c->dy, o.dw, o.db, ws) == NN_OK, "%s",
              nn_last_error());
    free(ws);
    return o;
}

static void outputs_free(conv_outputs *o) {
    free(o->y);
    free(o->dx);
    free(o->dw);
    free(o->db);
}

static void check_same_bits(nn_conv2d_desc d) {
    FOR_EACH_SUPPORTED_ISA(isa) {
        cr_assert(nn_set_isa(isa) == NN_OK);
        conv_data c = conv_data_new(d, 0x5EED);
        conv_outputs one = run_all(&c, 1);
        for (int t = 2; t <= 3; t++) {
            conv_outputs o = run_all(&c, t);
            const char *label = desc_label(&d, isa, t == 2 ? "2 threads" : "3 threads");
            cr_assert(memcmp(one.y, o.y, c.ny * sizeof(float)) == 0, "%s: y differs", label);
            cr_assert(memcmp(one.dx, o.dx, c.nx * sizeof(float)) == 0, "%s: dx differs", label);
            cr_assert(memcmp(one.dw, o.dw, c.nw * sizeof(float)) == 0, "%s: dw differs", label);
            cr_assert(memcmp(one.db, o.db, (size_t)d.out_channels * sizeof(float)) == 0,
                      "%s: db differs", label);
            outputs_free(&o);
        }
        outputs_free(&one);
        conv_data_free(&c);
    }
    nn_set_num_threads(0);
}

Test(conv, mnist_layer1_same_bits_for_1_2_3_threads) {
    check_same_bits((nn_conv2d_desc){.batch = 64, .in_channels = 1, .height = 28, .width = 28,
                                .out_channels = 32, .kernel_h = 3, .kernel_w = 3,
                                .stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1});
}

Test(conv, mnist_layer2_same_bits_for_1_2_3_threads) {
    check_same_bits((nn_conv2d_desc){.batch = 64, .in_channels = 32, .height = 13, .width = 13,
                                .out_channels = 64, .kernel_h = 3, .kernel_w = 3,
                                .stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1});
}

/* ---- Bad descriptors ---------------------------------------------------------------- */

static nn_conv2d_desc good_desc(void) {
    return (nn_conv2d_desc){.batch = 2, .in_channels = 3, .height = 8, .width = 8,
                       .out_channels = 4, .kernel_h = 3, .kernel_w = 3, .stride_h = 1,
                       .stride_w = 1, .pad_h = 1, .pad_w = 1, .dilation_h = 1, .dilation_w = 1};
}

static void expect_invalid(nn_conv2d_desc d, const char *needle) {
    int oh = -5, ow = -5;
    nn_status st = nn_conv2d_output_size(&d, &oh, &ow);
    cr_assert(st == NN_ERR_INVALID_ARGUMENT, "status %d for '%s'", st, needle);
    cr_assert(strstr(nn_last_error(), needle) != NULL, "message '%s' lacks '%s'",
              nn_last_error(), needle);
    cr_assert(oh == -5 && ow == -5, "outputs written on failure");
    cr_assert(nn_conv2d_workspace_floats(&d) == 0);
    float dummy[4] = {0};
    st = nn_conv2d_forward(&d, dummy, dummy, NULL, NN_ACT_NONE, dummy, dummy);
    cr_assert(st == NN_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(nn_last_error(), "nn_conv2d_forward") != NULL, "%s", nn_last_error());
    st = nn_conv2d_backward_data(&d, dummy, dummy, dummy, dummy);
    cr_assert(st == NN_ERR_INVALID_ARGUMENT);
    st = nn_conv2d_backward_weights(&d, dummy, dummy, dummy, NULL, dummy);
    cr_assert(st == NN_ERR_INVALID_ARGUMENT);
}

Test(conv, bad_descriptors) {
    nn_conv2d_desc d = good_desc();
    d.stride_h = 0;
    expect_invalid(d, "stride_h = 0");
    d = good_desc();
    d.stride_w = -1;
    expect_invalid(d, "stride_w = -1");
    d = good_desc();
    d.pad_w = -1;
    expect_invalid(d, "pad_w = -1");
    d = good_desc();
    d.batch = 0;
    expect_invalid(d, "batch = 0");
    d = good_desc();
    d.in_channels = -3;
    expect_invalid(d, "in_channels = -3");
    d = good_desc();
    d.dilation_w = 0;
    expect_invalid(d, "dilation_w = 0");
    d = good_desc();
    d.kernel_h = 11; /* 8 + 2 * 1 = 10 < 11 */
    expect_invalid(d, "kernel_h = 11");
    d = good_desc();
    d.dilation_w = 5; /* span 11 > 10 */
    expect_invalid(d, "larger than the padded input");
}

Test(conv, null_arguments) {
    nn_conv2d_desc d = good_desc();
    float f[1] = {0};
    cr_assert(nn_conv2d_output_size(NULL, NULL, NULL) == NN_ERR_INVALID_ARGUMENT);
    cr_assert(nn_conv2d_forward(&d, NULL, f, NULL, NN_ACT_NONE, f, f) == NN_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(nn_last_error(), "x is NULL") != NULL, "%s", nn_last_error());
    cr_assert(nn_conv2d_forward(&d, f, f, NULL, (nn_activation)99, f, f)
              == NN_ERR_INVALID_ARGUMENT);
    cr_assert(nn_conv2d_backward_data(&d, f, f, f, NULL) == NN_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(nn_last_error(), "workspace is NULL") != NULL, "%s", nn_last_error());
    cr_assert(nn_conv2d_backward_weights(&d, f, f, NULL, NULL, f) == NN_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(nn_last_error(), "dw is NULL") != NULL, "%s", nn_last_error());
}

Test(conv, output_size) {
    nn_conv2d_desc d = good_desc();
    int oh, ow;
    cr_assert(nn_conv2d_output_size(&d, &oh, &ow) == NN_OK);
    cr_assert(oh == 8 && ow == 8);
    d.stride_h = 2;
    d.dilation_w = 2; /* (8 + 2 - 4 - 1) / 1 + 1 = 6 */
    cr_assert(nn_conv2d_output_size(&d, &oh, &ow) == NN_OK);
    cr_assert(oh == 4 && ow == 6, "%d x %d", oh, ow);
    /* 27 column-matrix rows of 24 floats, each in 2 lines rounded up to 3 (odd) */
    size_t want = NN_CONV2D_GROUPS * ((size_t)27 * 48 + (size_t)d.out_channels * (27 + 1));
    cr_assert(nn_conv2d_workspace_floats(&d) == want, "%zu, want %zu",
              nn_conv2d_workspace_floats(&d), want);
}
