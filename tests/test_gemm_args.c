/*
 * test_gemm_args.c — what nn_sgemm and nn_sgemm_ex accept and refuse: bad arguments
 * return NN_ERR_INVALID_ARGUMENT with a message and leave C alone; degenerate shapes
 * (M = 0, N = 0, K = 0, alpha = 0) succeed, with NULL pointers where nothing is read.
 */
#include "gemm_reference.h"

#define BUF 256 /* floats in each operand buffer: more than any call below needs */

/* One call that must be refused.  Each size is chosen so that the wrong check (e.g. lda
 * against K when A is transposed) would let it through. */
typedef struct bad_call {
    const char *what;
    int ta, tb, M, N, K, lda, ldb, ldc;
    int null_a, null_b, null_c;
} bad_call;

static const bad_call bad_calls[] = {
    {"negative M", 0, 0, -1, 5, 6, 6, 5, 5, 0, 0, 0},
    {"negative N", 0, 0, 4, -1, 6, 6, 5, 5, 0, 0, 0},
    {"negative K", 0, 0, 4, 5, -1, 6, 5, 5, 0, 0, 0},
    {"lda < K, A as stored (lda >= M)", 0, 0, 4, 5, 6, 5, 5, 5, 0, 0, 0},
    {"lda < M, A transposed (lda >= K)", 1, 0, 8, 5, 3, 7, 5, 5, 0, 0, 0},
    {"lda = 0", 0, 0, 4, 5, 6, 0, 5, 5, 0, 0, 0},
    {"negative lda, A transposed", 1, 0, 4, 5, 6, -4, 5, 5, 0, 0, 0},
    {"ldb < N, B as stored (ldb >= K)", 0, 0, 4, 5, 3, 3, 4, 5, 0, 0, 0},
    {"ldb < K, B transposed (ldb >= N)", 0, 1, 4, 3, 6, 6, 5, 3, 0, 0, 0},
    {"ldc < N", 0, 0, 4, 5, 6, 6, 5, 4, 0, 0, 0},
    {"NULL A", 0, 0, 4, 5, 6, 6, 5, 5, 1, 0, 0},
    {"NULL B", 0, 0, 4, 5, 6, 6, 5, 5, 0, 1, 0},
    {"NULL C", 0, 0, 4, 5, 6, 6, 5, 5, 0, 0, 1},
    {"trans_a = 7", 7, 0, 4, 5, 6, 6, 5, 5, 0, 0, 0},
    {"trans_b = 7", 0, 7, 4, 5, 6, 6, 5, 5, 0, 0, 0},
    {"trans_a = -1", -1, 0, 4, 5, 6, 6, 5, 5, 0, 0, 0},
};
#define N_BAD_CALLS ((int)(sizeof bad_calls / sizeof bad_calls[0]))

typedef struct operands {
    float a[BUF], b[BUF], c[BUF], c_before[BUF];
} operands;

static void operands_init(operands *o) {
    test_rng rng = {42};
    fill_uniform(o->a, BUF, &rng);
    fill_uniform(o->b, BUF, &rng);
    fill_uniform(o->c, BUF, &rng);
    memcpy(o->c_before, o->c, sizeof o->c);
}

static nn_status call_bad(const bad_call *b, operands *o, int use_ex,
                          const nn_gemm_epilogue *ep) {
    const float *A = b->null_a ? NULL : o->a, *B = b->null_b ? NULL : o->b;
    float *C = b->null_c ? NULL : o->c;
    if (use_ex)
        return nn_sgemm_ex((nn_trans)b->ta, (nn_trans)b->tb, b->M, b->N, b->K, 1.0f, A, b->lda,
                           B, b->ldb, 0.5f, C, b->ldc, ep);
    return nn_sgemm((nn_trans)b->ta, (nn_trans)b->tb, b->M, b->N, b->K, 1.0f, A, b->lda, B,
                    b->ldb, 0.5f, C, b->ldc);
}

/* Asserts the call was refused as an invalid argument, said why, and left C alone. */
static void expect_refused(nn_status st, const operands *o, const char *what, const char *fn) {
    cr_assert(st == NN_ERR_INVALID_ARGUMENT, "%s(%s): status %d (%s), want invalid argument",
              fn, what, st, nn_status_string(st));
    cr_assert(nn_last_error() != NULL && nn_last_error()[0] != '\0',
              "%s(%s): refused without a message", fn, what);
    cr_assert(memcmp(o->c, o->c_before, sizeof o->c) == 0, "%s(%s): C was modified", fn, what);
}

ParameterizedTestParameters(gemm_args, bad_arguments_refused) {
    static nn_isa isas[NN_ISA_COUNT];
    for (int i = 0; i < NN_ISA_COUNT; i++) isas[i] = (nn_isa)i;
    return cr_make_param_array(nn_isa, isas, NN_ISA_COUNT);
}

/* Every row of bad_calls, through nn_sgemm and nn_sgemm_ex (with and without epilogue). */
ParameterizedTest(nn_isa *isa, gemm_args, bad_arguments_refused) {
    const nn_gemm_epilogue relu = {.activation = NN_ACT_RELU};
    operands o;
    require_isa(*isa);
    use_engine(*isa, 2);
    operands_init(&o);
    for (int i = 0; i < N_BAD_CALLS; i++) {
        expect_refused(call_bad(&bad_calls[i], &o, 0, NULL), &o, bad_calls[i].what, "nn_sgemm");
        expect_refused(call_bad(&bad_calls[i], &o, 1, NULL), &o, bad_calls[i].what, "nn_sgemm_ex");
        expect_refused(call_bad(&bad_calls[i], &o, 1, &relu), &o, bad_calls[i].what,
                       "nn_sgemm_ex+relu");
    }
}

/* An epilogue with an activation outside nn_activation is refused: 4x5x6. */
Test(gemm_args, bad_activation_refused) {
    static const int bad_acts[] = {-1, NN_ACT_TANH + 1, 42};
    bad_call ok = {"activation", 0, 0, 4, 5, 6, 6, 5, 5, 0, 0, 0};
    operands o;
    operands_init(&o);
    for (int i = 0; i < 3; i++) {
        nn_gemm_epilogue ep = {.activation = (nn_activation)bad_acts[i]};
        expect_refused(call_bad(&ok, &o, 1, &ep), &o, "activation out of range", "nn_sgemm_ex");
    }
}

/* A failing call leaves its message; a later successful call leaves it alone. */
Test(gemm_args, message_survives_success) {
    operands o;
    char msg[512];
    operands_init(&o);
    expect_refused(call_bad(&bad_calls[0], &o, 0, NULL), &o, bad_calls[0].what, "nn_sgemm");
    snprintf(msg, sizeof msg, "%s", nn_last_error());
    cr_assert(nn_sgemm(NN_NO_TRANS, NN_NO_TRANS, 4, 5, 6, 1.0f, o.a, 6, o.b, 5, 0.0f, o.c, 5) == NN_OK,
              "valid 4x5x6 call failed: %s", nn_last_error());
    cr_assert_str_eq(nn_last_error(), msg, "message changed by a successful call");
}

/* M = 0 or N = 0 (or both, or also K = 0): nothing to do, NULL pointers accepted. */
Test(gemm_args, empty_output_accepts_null) {
    static const int shapes[][3] = {{0, 5, 6}, {4, 0, 6}, {0, 0, 6}, {0, 5, 0}, {4, 0, 0}};
    FOR_EACH_SUPPORTED_ISA(isa) {
        use_engine(isa, 3);
        for (int i = 0; i < 5; i++)
            for (int combo = 0; combo < 4; combo++) {
                int M = shapes[i][0], N = shapes[i][1], K = shapes[i][2];
                nn_trans ta = trans_a_of(combo), tb = trans_b_of(combo);
                int lda = imax(1, ta == NN_NO_TRANS ? K : M), ldb = imax(1, tb == NN_NO_TRANS ? N : K);
                nn_status st = nn_sgemm(ta, tb, M, N, K, 1.0f, NULL, lda, NULL, ldb, 0.0f, NULL, imax(1, N));
                cr_assert(st == NN_OK, "%s op=%s%s %dx%dx%d with NULL pointers: status %d: %s",
                          nn_isa_name(isa), trans_name(ta), trans_name(tb), M, N, K, st, nn_last_error());
            }
    }
}

/* C = beta * C exactly when nothing is added (K = 0 or alpha = 0), on a 7 x 9 C with
 * ldc = 12; beta = 0 starts from NaN and must give zeros.  A and B are passed as given
 * (NULL, or full of NaN) and must not be read. */
enum { SCALE_M = 7, SCALE_N = 9, SCALE_LDC = 12 };

static void check_scaled_once(const char *what, nn_isa isa, int threads, int K, float alpha,
                              const float *A, const float *B, float beta) {
    test_rng rng = {7};
    test_matrix c = matrix_new(SCALE_M, SCALE_N, SCALE_LDC, GEMM_PAD_C), c0;
    matrix_fill(&c, &rng);
    if (beta == 0.0f) matrix_fill_value(&c, NAN);
    c0 = c;
    c0.data = float_copy(c.data, c.extent);
    use_engine(isa, threads);
    nn_status st = nn_sgemm(NN_NO_TRANS, NN_TRANS, SCALE_M, SCALE_N, K, alpha, A, imax(1, K), B,
                            imax(1, K), beta, c.data, SCALE_LDC);
    cr_assert(st == NN_OK, "%s %s/%dt beta=%g: status %d: %s", what, nn_isa_name(isa), threads,
              (double)beta, st, nn_last_error());
    for (int i = 0; i < SCALE_M; i++)
        for (int j = 0; j < SCALE_N; j++) {
            float got = c.data[i * SCALE_LDC + j];
            float want = beta == 0.0f ? 0.0f : beta * c0.data[i * SCALE_LDC + j];
            cr_assert(got == want, "%s %s/%dt beta=%g: C[%d][%d] = %g, want %g", what,
                      nn_isa_name(isa), threads, (double)beta, i, j, (double)got, (double)want);
        }
    cr_assert(matrix_padding_changed(&c0, c.data) < 0, "%s %s/%dt: padding of C changed", what,
              nn_isa_name(isa), threads);
    matrix_free(&c);
    matrix_free(&c0);
}

/* For beta in {0, 1, -1.5}, every ISA, 1 and 3 threads. */
static void check_scaled_by_beta(const char *what, int K, float alpha, const float *A,
                                 const float *B) {
    static const float betas[3] = {0.0f, 1.0f, -1.5f};
    FOR_EACH_SUPPORTED_ISA(isa) {
        for (int threads = 1; threads <= 3; threads += 2)
            for (int i = 0; i < 3; i++) check_scaled_once(what, isa, threads, K, alpha, A, B, betas[i]);
    }
}

Test(gemm_args, k_zero_scales_c_by_beta) { check_scaled_by_beta("K=0, A=B=NULL", 0, 1.0f, NULL, NULL); }

Test(gemm_args, alpha_zero_with_null_a_b) {
    check_scaled_by_beta("alpha=0, K=6, A=B=NULL", 6, 0.0f, NULL, NULL);
}

Test(gemm_args, alpha_zero_ignores_nan_in_a_b) {
    float nan_a[7 * 6], nan_b[9 * 6];
    for (int i = 0; i < 7 * 6; i++) nan_a[i] = NAN;
    for (int i = 0; i < 9 * 6; i++) nan_b[i] = NAN;
    check_scaled_by_beta("alpha=0, K=6, A=B=NaN", 6, 0.0f, nan_a, nan_b);
}
