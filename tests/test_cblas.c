/*
 * tests/test_cblas.c — cblas_sgemm: both orders, every transpose (ConjTrans included),
 * every kernel set, against the double reference of gemm_reference.h; the exact mapping
 * onto nn_sgemm; and argument errors reported as the reference CBLAS does.
 */
#include "gemm_reference.h"

#include <criterion/redirect.h>

#include <nn/cblas.h>

/* The CBLAS spelling of an nn transpose; ConjTrans means Trans for real matrices, and
 * `conj` picks it so both spellings are exercised. */
static enum CBLAS_TRANSPOSE cblas_trans(nn_trans t, int conj)
{
    if (t == NN_NO_TRANS)
        return CblasNoTrans;
    return conj ? CblasConjTrans : CblasTrans;
}

/*
 * Runs one row-major case of gemm_reference.h through cblas_sgemm in `order`, then
 * verifies C (values and padding) against the reference.  A column-major caller holding
 * the same buffers sees every matrix transposed, so it asks for
 * C^T (N x M) = op(B)^T (N x K) op(A)^T (K x M): M and N, A and B trade places, with
 * the same transposes and leading dimensions, and the same memory must come out.
 */
static void check_cblas_case(enum CBLAS_ORDER order, gemm_spec spec, int conj, nn_isa isa)
{
    gemm_case gc;
    gemm_case_init(&gc, spec);
    float *c = float_copy(gc.c0.data, gc.c0.extent);
    enum CBLAS_TRANSPOSE ta = cblas_trans(spec.ta, conj), tb = cblas_trans(spec.tb, conj);
    if (order == CblasRowMajor)
        cblas_sgemm(order, ta, tb, spec.M, spec.N, spec.K, spec.alpha, gc.a.data, gc.a.ld,
                    gc.b.data, gc.b.ld, spec.beta, c, gc.c0.ld);
    else
        cblas_sgemm(order, tb, ta, spec.N, spec.M, spec.K, spec.alpha, gc.b.data, gc.b.ld,
                    gc.a.data, gc.a.ld, spec.beta, c, gc.c0.ld);
    gemm_case_verify(&gc, c, isa, nn_get_num_threads());
    free(c);
    gemm_case_free(&gc);
}

/* Small, skinny, K = 0 (C = beta C), and large enough to be packed and threaded.
 * (Empty C has its own test below.) */
static const int shapes[][3] = {
    { 1, 1, 1 },   { 2, 3, 4 },    { 7, 5, 3 },     { 17, 33, 9 }, { 1, 70, 37 },
    { 70, 1, 37 }, { 5, 6, 0 },    { 31, 29, 300 }, { 130, 75, 260 },
};
static const float alpha_beta[][2] = { { 1.0f, 0.0f }, { 0.75f, -0.5f }, { -1.25f, 1.0f } };

/* Every kernel set x shape x transpose pair (NoTrans, Trans, ConjTrans) x alpha/beta. */
static void check_order(enum CBLAS_ORDER order)
{
    FOR_EACH_SUPPORTED_ISA(isa)
    {
        use_engine(isa, 0);
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int combo = 0; combo < 4; combo++)
                for (int conj = 0; conj < 2; conj++)
                    for (int ab = 0; ab < 3; ab++) {
                        if (conj && combo == 0)
                            continue; /* no transpose to spell differently */
                        gemm_spec spec = { trans_a_of(combo), trans_b_of(combo),
                                           shapes[s][0], shapes[s][1], shapes[s][2],
                                           alpha_beta[ab][0], alpha_beta[ab][1],
                                           /* pads */ 3, 1, 2, /* seed */ 7 + (uint64_t)ab };
                        check_cblas_case(order, spec, conj, isa);
                    }
    }
}

Test(cblas, row_major_matches_reference) { check_order(CblasRowMajor); }

Test(cblas, column_major_matches_reference) { check_order(CblasColMajor); }

/* The mapping adds no arithmetic: a row-major call is nn_sgemm itself, a column-major
 * one nn_sgemm with A and B, M and N swapped, and ConjTrans is Trans, bit for bit. */
Test(cblas, is_exactly_nn_sgemm_on_the_mapped_problem)
{
    enum { M = 37, N = 29, K = 41, LD = 48, SIZE = LD * LD };
    test_rng rng = { 99 };
    float *A = test_alloc(SIZE * sizeof *A), *B = test_alloc(SIZE * sizeof *B),
          *C0 = test_alloc(SIZE * sizeof *C0);
    fill_uniform(A, SIZE, &rng);
    fill_uniform(B, SIZE, &rng);
    fill_uniform(C0, SIZE, &rng);
    for (int combo = 0; combo < 4; combo++) {
        nn_trans ta = trans_a_of(combo), tb = trans_b_of(combo);
        enum CBLAS_TRANSPOSE cta = cblas_trans(ta, 1), ctb = cblas_trans(tb, 0);
        float *got = float_copy(C0, SIZE), *want = float_copy(C0, SIZE);
        cblas_sgemm(CblasRowMajor, cta, ctb, M, N, K, 0.5f, A, LD, B, LD, 2.0f, got, LD);
        cr_assert_eq(nn_sgemm(ta, tb, M, N, K, 0.5f, A, LD, B, LD, 2.0f, want, LD), NN_OK);
        cr_assert(memcmp(got, want, SIZE * sizeof *got) == 0, "row-major, combo %d", combo);

        memcpy(got, C0, SIZE * sizeof *got);
        memcpy(want, C0, SIZE * sizeof *want);
        cblas_sgemm(CblasColMajor, cta, ctb, M, N, K, 0.5f, A, LD, B, LD, 2.0f, got, LD);
        cr_assert_eq(nn_sgemm(tb, ta, N, M, K, 0.5f, B, LD, A, LD, 2.0f, want, LD), NN_OK);
        cr_assert(memcmp(got, want, SIZE * sizeof *got) == 0, "column-major, combo %d", combo);
        free(got);
        free(want);
    }
    free(A);
    free(B);
    free(C0);
}

/* M = 0 or N = 0 is a valid call that reads and writes nothing, in either order. */
Test(cblas, empty_c_is_a_silent_no_op, .init = cr_redirect_stderr)
{
    static const int sizes[][2] = { { 0, 5 }, { 4, 0 }, { 0, 0 } };
    float A[32], B[32], C[32], before[32];
    for (int i = 0; i < 32; i++)
        A[i] = B[i] = C[i] = before[i] = (float)i;
    for (int o = 0; o < 2; o++)
        for (int s = 0; s < 3; s++) {
            enum CBLAS_ORDER order = o ? CblasColMajor : CblasRowMajor;
            cblas_sgemm(order, CblasNoTrans, CblasTrans, sizes[s][0], sizes[s][1], 3, 1.0f, A, 8,
                        B, 8, 0.0f, C, 8);
            cr_assert(memcmp(C, before, sizeof C) == 0, "order %d M=%d N=%d wrote C", order,
                      sizes[s][0], sizes[s][1]);
        }
    fflush(stderr);
    cr_assert_stderr_eq_str("");
}

/* ---- Bad arguments: reference parameter numbers, C untouched, no exit ---------- */

struct bad_call {
    int order, ta, tb, M, N, K, lda, ldb, ldc;
    int param; /* what the reference xerbla reports */
};

#define ROW CblasRowMajor
#define COL CblasColMajor
#define NT CblasNoTrans
#define TR CblasTrans

/* Every call is M=2, N=3, K=4 with ample leading dimensions (8) except for what is bad. */
ParameterizedTestParameters(cblas, bad_argument)
{
    static struct bad_call calls[] = {
        { 0, NT, NT, 2, 3, 4, 8, 8, 8, 1 },     /* Order */
        { 200, 0, 0, 2, 3, 4, 8, 8, 8, 1 },     /* Order is checked first */
        { COL, 110, NT, 2, 3, 4, 8, 8, 8, 2 },  /* TransA */
        { ROW, NT, 114, 2, 3, 4, 8, 8, 8, 3 },  /* TransB */
        { ROW, -1, -1, 2, 3, 4, 8, 8, 8, 2 },   /* TransA before TransB */
        { COL, NT, NT, -1, 3, 4, 8, 8, 8, 4 },  /* M */
        { ROW, NT, NT, -1, 3, 4, 8, 8, 8, 4 },
        { COL, NT, NT, 2, -1, 4, 8, 8, 8, 5 },  /* N */
        { ROW, NT, NT, 2, -1, 4, 8, 8, 8, 5 },
        { COL, NT, NT, 2, 3, -1, 8, 8, 8, 6 },  /* K */
        { ROW, TR, TR, 2, 3, -1, 8, 8, 8, 6 },
        { COL, NT, NT, -1, -1, 4, 8, 8, 8, 4 }, /* both: column-major checks M first, */
        { ROW, NT, NT, -1, -1, 4, 8, 8, 8, 5 }, /* row-major N, as the reference does */
        { COL, NT, NT, 2, 3, 4, 1, 8, 8, 9 },   /* lda < M (column-major A is M x K) */
        { COL, TR, NT, 2, 3, 4, 3, 8, 8, 9 },   /* lda < K */
        { ROW, NT, NT, 2, 3, 4, 3, 8, 8, 9 },   /* lda < K (row-major A is M x K) */
        { ROW, TR, NT, 2, 3, 4, 1, 8, 8, 9 },   /* lda < M */
        { COL, NT, NT, 2, 3, 4, 8, 3, 8, 11 },  /* ldb < K */
        { COL, NT, TR, 2, 3, 4, 8, 2, 8, 11 },  /* ldb < N */
        { ROW, NT, NT, 2, 3, 4, 8, 2, 8, 11 },  /* ldb < N */
        { ROW, NT, TR, 2, 3, 4, 8, 3, 8, 11 },  /* ldb < K */
        { COL, NT, NT, 2, 3, 4, 1, 1, 8, 9 },   /* both: column-major checks lda first, */
        { ROW, NT, NT, 2, 3, 4, 1, 1, 8, 11 },  /* row-major ldb */
        { COL, NT, NT, 2, 3, 4, 8, 8, 1, 14 },  /* ldc < M */
        { ROW, NT, NT, 2, 3, 4, 8, 8, 2, 14 },  /* ldc < N */
        { COL, NT, NT, 0, 0, 0, 0, 8, 8, 9 },   /* leading dimensions are >= 1 even */
        { ROW, NT, NT, 0, 0, 0, 8, 8, 0, 14 },  /* for empty matrices */
    };
    return cr_make_param_array(struct bad_call, calls, sizeof calls / sizeof calls[0]);
}

ParameterizedTest(struct bad_call *c, cblas, bad_argument, .init = cr_redirect_stderr)
{
    float A[64], B[64], C[64], before[64];
    for (int i = 0; i < 64; i++) {
        A[i] = B[i] = 1.0f;
        C[i] = before[i] = (float)i;
    }
    cblas_sgemm(c->order, c->ta, c->tb, c->M, c->N, c->K, 1.0f, A, c->lda, B, c->ldb, 0.0f, C,
                c->ldc);
    cr_assert(memcmp(C, before, sizeof C) == 0, "C was written");

    char want[80];
    snprintf(want, sizeof want, "Parameter %d to routine cblas_sgemm was incorrect\n", c->param);
    fflush(stderr);
    cr_assert_stderr_eq_str(want);
}

/* A valid column-major call gives the right numbers and prints nothing. */
Test(cblas, valid_call_is_silent, .init = cr_redirect_stderr)
{
    /* Column-major A = [1 3 5; 2 4 6] (2x3), B = [1 1; 0 1; 0 1] (3x2). */
    float A[6] = { 1, 2, 3, 4, 5, 6 }, B[6] = { 1, 0, 0, 1, 1, 1 }, C[4] = { 0 };
    cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, 2, 2, 3, 1.0f, A, 2, B, 3, 0.0f, C, 2);
    const float want[4] = { 1, 2, 9, 12 }; /* A B = [1 9; 2 12], column-major */
    cr_assert(memcmp(C, want, sizeof C) == 0, "C = %g %g %g %g", C[0], C[1], C[2], C[3]);
    fflush(stderr);
    cr_assert_stderr_eq_str("");
}

/* What CBLAS does not check, a NULL matrix, is refused by nn_sgemm: its message goes
 * to stderr, C is untouched, and the program goes on. */
Test(cblas, null_matrix_is_reported_not_a_crash, .init = cr_redirect_stderr)
{
    float B[16] = { 0 }, C[16], before[16];
    for (int i = 0; i < 16; i++)
        C[i] = before[i] = (float)i;
    cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, 2, 2, 2, 1.0f, NULL, 2, B, 2, 0.0f,
                C, 2);
    cr_assert(memcmp(C, before, sizeof C) == 0, "C was written");

    char line[256] = "";
    fflush(stderr);
    FILE *err = cr_get_redirected_stderr();
    cr_assert(fgets(line, sizeof line, err) != NULL, "nothing was printed");
    cr_assert(strncmp(line, "cblas_sgemm: ", 13) == 0 && strlen(line) > 14, "printed: %s", line);
}
