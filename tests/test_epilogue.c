/*
 * test_epilogue.c — nn_sgemm_ex with fused biases (per column, per row) + activation,
 * and nn_vec_activate.
 *
 * Tolerances: an epilogue result may differ from act(reference + bias) by the GEMM bound
 * of gemm_reference.h (every activation here is 1-Lipschitz) plus ACT_TOL * max(1, |want|)
 * for the activation itself, ACT_TOL = 2e-6.  The fused epilogue must also give the very
 * bits of nn_sgemm followed by the bias add and nn_vec_activate: the layer library relies
 * on that identity.
 */
#include "gemm_reference.h"

#define ACT_TOL 2e-6

static const char *const act_names[] = {"none", "relu", "sigmoid", "tanh"};
#define N_ACTS 4

static double act_ref(nn_activation act, double x) {
    switch (act) {
    case NN_ACT_RELU: return x > 0 ? x : 0;
    case NN_ACT_SIGMOID: return 1 / (1 + exp(-x));
    case NN_ACT_TANH: return tanh(x);
    default: return x;
    }
}

static double act_tolerance(double want) { return ACT_TOL * fmax(1.0, fabs(want)); }

static float *random_bias(int N, uint64_t seed) {
    test_rng rng = {seed};
    float *bias = test_alloc((size_t)N * sizeof *bias);
    fill_uniform(bias, (size_t)N, &rng);
    return bias;
}

static struct criterion_test_params isa_params(void) {
    static nn_isa isas[NN_ISA_COUNT];
    for (int i = 0; i < NN_ISA_COUNT; i++) isas[i] = (nn_isa)i;
    return cr_make_param_array(nn_isa, isas, NN_ISA_COUNT);
}

/* ---- Fused epilogue against the reference --------------------------------------- */

/* M x N x K; 3 x 8219 has N past every NC (8192 at most), so the bias of a later
 * column block is used; the last has K = 0, where C = act(beta * C + bias). */
static const int epilogue_shapes[][3] = {{1, 1, 1},      {7, 13, 5},     {33, 17, 9},
                                         {64, 100, 37},  {129, 67, 300}, {300, 257, 64},
                                         {3, 8219, 20},  {5, 9, 0}};
#define N_EPILOGUE_SHAPES ((int)(sizeof epilogue_shapes / sizeof epilogue_shapes[0]))

static gemm_spec epilogue_spec(int shape) {
    const int *s = epilogue_shapes[shape];
    int combo = shape % 2 ? 3 : 0; /* NN and TT */
    return (gemm_spec){.ta = trans_a_of(combo), .tb = trans_b_of(combo), .M = s[0], .N = s[1],
                       .K = s[2], .alpha = shape % 3 ? 1.0f : -1.5f, .beta = shape % 2 ? 0.0f : 1.0f,
                       .pad_a = 1, .pad_b = 2, .pad_c = 3, .seed = 0xE1Full};
}

static void verify_epilogue(const gemm_case *gc, const float *c, const nn_gemm_epilogue *ep,
                            nn_isa isa, int threads) {
    const gemm_spec *s = &gc->spec;
    for (int i = 0; i < s->M; i++)
        for (int j = 0; j < s->N; j++) {
            size_t at = (size_t)i * (size_t)s->N + j;
            double pre = gc->ref[at] + (ep->bias ? ep->bias[j] : 0.0) +
                         (ep->row_bias ? ep->row_bias[i] : 0.0);
            double want = act_ref(ep->activation, pre);
            double got = c[(size_t)i * (size_t)gc->c0.ld + j];
            double tol = gc->bound[at] + act_tolerance(want);
            if (!(fabs(got - want) <= tol))
                cr_assert_fail("%s act=%s bias=%s row_bias=%s: C[%d][%d] = %.9g, want %.9g "
                               "(tolerance %.3g)", gemm_case_label(gc, isa, threads),
                               act_names[ep->activation], ep->bias ? "yes" : "no",
                               ep->row_bias ? "yes" : "no", i, j, got, want, tol);
        }
    gemm_case_verify_padding(gc, c, isa, threads);
}

/* Every activation, with each of the biases or none (bit 0: per column, bit 1: per
 * row), on 1 and 3 threads. */
static void check_epilogues(const gemm_case *gc, nn_isa isa, const float *bias,
                            const float *row_bias) {
    for (int act = 0; act < N_ACTS; act++)
        for (int use_bias = 0; use_bias < 4; use_bias++)
            for (int threads = 1; threads <= 3; threads += 2) {
                nn_gemm_epilogue ep = {use_bias & 1 ? bias : NULL, (nn_activation)act,
                                       use_bias & 2 ? row_bias : NULL};
                float *c = gemm_case_run_ex(gc, isa, threads, 1, &ep);
                verify_epilogue(gc, c, &ep, isa, threads);
                free(c);
            }
}

ParameterizedTestParameters(epilogue, matches_reference) { return isa_params(); }

ParameterizedTest(nn_isa *isa, epilogue, matches_reference) {
    require_isa(*isa);
    for (int shape = 0; shape < N_EPILOGUE_SHAPES; shape++) {
        gemm_case gc;
        gemm_case_init(&gc, epilogue_spec(shape));
        float *bias = random_bias(gc.spec.N, 0xB1A5ull + (uint64_t)shape);
        float *row_bias = random_bias(gc.spec.M, 0x50Bull + (uint64_t)shape);
        check_epilogues(&gc, *isa, bias, row_bias);
        free(bias);
        free(row_bias);
        gemm_case_free(&gc);
    }
}

/* ---- Fused == separate, bit for bit ------------------------------------------------ */

/* What a layer does without fusion: C[i][j] += row_bias[i], C[i][j] += bias[j], then
 * nn_vec_activate per row. */
static void apply_separately(float *c, int M, int N, int ldc, const nn_gemm_epilogue *ep) {
    for (int i = 0; i < M; i++) {
        float *row = c + (size_t)i * (size_t)ldc;
        if (ep->row_bias)
            for (int j = 0; j < N; j++) row[j] += ep->row_bias[i];
        if (ep->bias)
            for (int j = 0; j < N; j++) row[j] += ep->bias[j];
        nn_status st = nn_vec_activate(ep->activation, (size_t)N, row);
        cr_assert(st == NN_OK, "nn_vec_activate(%s, %d): status %d: %s", act_names[ep->activation],
                  N, st, nn_last_error());
    }
}

static void check_fused_equals_separate(const gemm_case *gc, nn_isa isa, int threads,
                                        const nn_gemm_epilogue *ep) {
    size_t bytes = gc->c0.extent * sizeof(float);
    float *fused = gemm_case_run_ex(gc, isa, threads, 1, ep);
    float *separate = gemm_case_run(gc, isa, threads);
    apply_separately(separate, gc->spec.M, gc->spec.N, gc->c0.ld, ep);
    cr_assert(memcmp(fused, separate, bytes) == 0,
              "%s act=%s bias=%s row_bias=%s: nn_sgemm_ex differs from nn_sgemm + biases + "
              "nn_vec_activate", gemm_case_label(gc, isa, threads), act_names[ep->activation],
              ep->bias ? "yes" : "no", ep->row_bias ? "yes" : "no");
    free(fused);
    free(separate);
}

/* M x N x K: small-path, edge-tile and packed, multithreaded shapes, N past NC. */
static const int identity_shapes[][3] = {{3, 5, 7},      {33, 17, 9},     {17, 67, 129},
                                         {129, 67, 300}, {300, 257, 519}, {64, 1000, 288},
                                         {3, 8219, 20}};
#define N_IDENTITY_SHAPES ((int)(sizeof identity_shapes / sizeof identity_shapes[0]))

ParameterizedTestParameters(epilogue, fused_equals_separate) { return isa_params(); }

ParameterizedTest(nn_isa *isa, epilogue, fused_equals_separate) {
    require_isa(*isa);
    for (int shape = 0; shape < N_IDENTITY_SHAPES; shape++) {
        const int *s = identity_shapes[shape];
        gemm_case gc;
        gemm_case_init(&gc, (gemm_spec){.ta = trans_a_of(shape % 4), .tb = trans_b_of(shape % 4),
                                        .M = s[0], .N = s[1], .K = s[2], .alpha = 1.0f,
                                        .beta = shape % 2 ? 1.0f : 0.0f, .pad_c = 5, .seed = 0x1Dull});
        float *bias = random_bias(s[1], 0xB1A5ull), *row_bias = random_bias(s[0], 0x50Bull);
        for (int act = 0; act < N_ACTS; act++)
            for (int use_bias = 0; use_bias < 4; use_bias++)
                for (int threads = 1; threads <= 2; threads++) {
                    nn_gemm_epilogue ep = {use_bias & 1 ? bias : NULL, (nn_activation)act,
                                           use_bias & 2 ? row_bias : NULL};
                    check_fused_equals_separate(&gc, *isa, threads, &ep);
                }
        free(bias);
        free(row_bias);
        gemm_case_free(&gc);
    }
}

/* nn_sgemm_ex with a NULL epilogue is nn_sgemm: 129 x 67 x 300, 2 threads. */
Test(epilogue, null_epilogue_is_plain_gemm) {
    gemm_case gc;
    gemm_case_init(&gc, (gemm_spec){.M = 129, .N = 67, .K = 300, .alpha = -1.5f, .beta = 1.0f, .seed = 5});
    FOR_EACH_SUPPORTED_ISA(isa) {
        float *ex = gemm_case_run_ex(&gc, isa, 2, 1, NULL);
        float *plain = gemm_case_run(&gc, isa, 2);
        cr_assert(memcmp(ex, plain, gc.c0.extent * sizeof(float)) == 0,
                  "%s: nn_sgemm_ex(epilogue NULL) differs from nn_sgemm", gemm_case_label(&gc, isa, 2));
        free(ex);
        free(plain);
    }
    gemm_case_free(&gc);
}

/* ---- nn_vec_activate ------------------------------------------------------------- */

/* Edge values, a fine grid over [-30, 30] and random points in [-10, 10]. */
static size_t activation_inputs(float **out) {
    static const float edges[] = {0.0f,  1e-30f, 1e-8f, 0.5f,  1.0f,   8.0f,   9.0f,  15.0f,
                                  20.0f, 40.0f,  87.0f, 88.0f, 89.0f,  100.0f, 1e3f,  1e30f,
                                  FLT_MAX, FLT_MIN};
    const size_t n_edges = sizeof edges / sizeof edges[0], n_grid = 3841, n_random = 1001;
    size_t n = 0;
    float *x = test_alloc((2 * n_edges + n_grid + n_random) * sizeof *x);
    test_rng rng = {0xAC7ull};
    for (size_t i = 0; i < n_edges; i++) {
        x[n++] = edges[i];
        x[n++] = -edges[i];
    }
    for (size_t i = 0; i < n_grid; i++) x[n++] = -30.0f + (float)i / 64.0f;
    for (size_t i = 0; i < n_random; i++) x[n++] = 10.0f * test_rng_uniform(&rng);
    *out = x;
    return n;
}

/* The range every activation must stay in, whatever the input. */
static int in_range(nn_activation act, float y) {
    switch (act) {
    case NN_ACT_RELU: return y >= 0.0f;
    case NN_ACT_SIGMOID: return y >= 0.0f && y <= 1.0f;
    case NN_ACT_TANH: return y >= -1.0f && y <= 1.0f;
    default: return 1;
    }
}

static void check_activation(nn_isa isa, nn_activation act, const float *x, size_t n) {
    float *y = float_copy(x, n);
    nn_status st = nn_vec_activate(act, n, y);
    cr_assert(st == NN_OK, "%s %s: status %d: %s", nn_isa_name(isa), act_names[act], st, nn_last_error());
    for (size_t i = 0; i < n; i++) {
        double want = act_ref(act, (double)x[i]);
        cr_assert(fabs(y[i] - want) <= act_tolerance(want) && in_range(act, y[i]),
                  "%s %s(%.9g) = %.9g, want %.9g", nn_isa_name(isa), act_names[act], (double)x[i],
                  (double)y[i], want);
    }
    free(y);
}

ParameterizedTestParameters(vec_activate, matches_libm) { return isa_params(); }

/* Includes +-0, +-100 (sigmoid 0 / 1, tanh +-1, no NaN) and +-FLT_MAX. */
ParameterizedTest(nn_isa *isa, vec_activate, matches_libm) {
    float *x;
    size_t n = activation_inputs(&x);
    require_isa(*isa);
    use_engine(*isa, 1);
    for (int act = 0; act < N_ACTS; act++) check_activation(*isa, (nn_activation)act, x, n);
    free(x);
}

/* sigmoid(+-inf) = 1 / 0, tanh(+-inf) = +-1 (within ACT_TOL), relu(+-inf) = inf / 0. */
Test(vec_activate, saturates_at_infinity) {
    const float x[2] = {INFINITY, -INFINITY};
    FOR_EACH_SUPPORTED_ISA(isa) {
        use_engine(isa, 1);
        for (int act = 1; act < N_ACTS; act++) {
            float y[2] = {x[0], x[1]};
            cr_assert(nn_vec_activate((nn_activation)act, 2, y) == NN_OK, "%s", nn_last_error());
            for (int i = 0; i < 2; i++) {
                double want = act_ref((nn_activation)act, x[i]);
                cr_assert(y[i] == want || fabs(y[i] - want) <= ACT_TOL, "%s %s(%g) = %g",
                          nn_isa_name(isa), act_names[act], (double)x[i], (double)y[i]);
            }
        }
    }
}

/* A NaN input stays NaN through every activation, so a NaN reaches the loss and stops
 * training instead of turning into a plausible number. */
Test(vec_activate, nan_stays_nan) {
    FOR_EACH_SUPPORTED_ISA(isa) {
        use_engine(isa, 1);
        for (int act = 0; act < N_ACTS; act++) {
            float y[19];
            for (int i = 0; i < 19; i++)
                y[i] = NAN;
            cr_assert(nn_vec_activate((nn_activation)act, 19, y) == NN_OK, "%s", nn_last_error());
            for (int i = 0; i < 19; i++)
                cr_assert(isnan(y[i]), "%s %s(NaN) = %g at %d", nn_isa_name(isa), act_names[act],
                          (double)y[i], i);
        }
    }
}

/* Activating x[off .. off + n) alone gives the bits of activating the whole array, and
 * writes nothing outside the range: offsets 0..16, lengths 0..40, 63, 64, 65, 129. */
static void check_sub_ranges(nn_isa isa, nn_activation act, const float *x, const float *full) {
    static const size_t lengths[] = {63, 64, 65, 129};
    enum { LEN = 160 };
    for (size_t off = 0; off <= 16; off++)
        for (size_t k = 0; k < 45; k++) {
            size_t n = k <= 40 ? k : lengths[k - 41];
            float y[LEN];
            memcpy(y, x, sizeof y);
            cr_assert(nn_vec_activate(act, n, y + off) == NN_OK, "%s", nn_last_error());
            for (size_t i = 0; i < LEN; i++) {
                const float *want = i >= off && i < off + n ? &full[i] : &x[i];
                cr_assert(memcmp(&y[i], want, sizeof(float)) == 0,
                          "%s %s on [%zu, %zu): element %zu is %.9g, want %.9g", nn_isa_name(isa),
                          act_names[act], off, off + n, i, (double)y[i], (double)*want);
            }
        }
}

Test(vec_activate, same_bits_at_any_offset_and_length) {
    enum { LEN = 160 };
    float x[LEN], full[LEN];
    test_rng rng = {0x0FF5E7ull};
    for (int i = 0; i < LEN; i++) x[i] = 12.0f * test_rng_uniform(&rng);
    FOR_EACH_SUPPORTED_ISA(isa) {
        use_engine(isa, 1);
        for (int act = 0; act < N_ACTS; act++) {
            memcpy(full, x, sizeof x);
            cr_assert(nn_vec_activate((nn_activation)act, LEN, full) == NN_OK, "%s", nn_last_error());
            check_sub_ranges(isa, (nn_activation)act, x, full);
        }
    }
}

/* An unknown activation or a NULL vector is refused with a message; n = 0 is fine. */
Test(vec_activate, bad_arguments_refused) {
    float x[4] = {1, -1, 2, -2};
    nn_status st = nn_vec_activate((nn_activation)42, 4, x);
    cr_assert(st == NN_ERR_INVALID_ARGUMENT, "activation 42: status %d", st);
    cr_assert(nn_last_error()[0] != '\0', "activation 42: no message");
    cr_assert(x[1] == -1.0f && x[3] == -2.0f, "activation 42 modified x");
    st = nn_vec_activate(NN_ACT_RELU, 4, NULL);
    cr_assert(st == NN_ERR_INVALID_ARGUMENT, "NULL x with n = 4: status %d", st);
    st = nn_vec_activate(NN_ACT_RELU, 0, x);
    cr_assert(st == NN_OK && x[1] == -1.0f, "n = 0: status %d: %s", st, nn_last_error());
}
