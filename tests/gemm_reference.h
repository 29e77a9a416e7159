/*
 * tests/gemm_reference.h — shared by the Criterion tests: a seeded data generator, padded
 * matrices, a double-precision reference GEMM with a per-element error bound, and
 * gemm_case / run_case, which run the engine on one problem and assert it is right.
 *
 * Everything is static inline: each test file is its own executable.
 *
 * The error bound (the usual forward bound of a dot product of length K, plus the
 * alpha and beta roundings), checked per element of C:
 *
 *   |C - ref| <= GEMM_BOUND_C * (K + 2) * FLT_EPSILON
 *                * (|alpha| * sum_k |op(A)_ik| |op(B)_kj| + |beta| * |C0_ij|)
 *
 * with GEMM_BOUND_C = 2.  It holds for any summation order, with or without FMA, for
 * alpha folded into packing or applied at the end.  When beta == 0 the C0 term is left
 * out (C0 is then NaN in these tests and must not leak into the result).
 */
#ifndef NN_TESTS_GEMM_REFERENCE_H
#define NN_TESTS_GEMM_REFERENCE_H

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nn/engine.h>

#define GEMM_BOUND_C 2.0

/* ---- Deterministic data ------------------------------------------------------- */

/* splitmix64: a seeded generator, so every run sees the same numbers (no rand()). */
typedef struct test_rng {
    uint64_t state;
} test_rng;

static inline uint64_t test_rng_next(test_rng *rng) {
    uint64_t z = (rng->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [-1, 1) on a 2^-23 grid (every value exact in float). */
static inline float test_rng_uniform(test_rng *rng) {
    int32_t m = (int32_t)(test_rng_next(rng) >> 40); /* 0 .. 2^24 - 1 */
    return (float)(m - (1 << 23)) / (float)(1 << 23);
}

static inline void fill_uniform(float *x, size_t n, test_rng *rng) {
    for (size_t i = 0; i < n; i++) x[i] = test_rng_uniform(rng);
}

static inline void *test_alloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    cr_assert(p != NULL, "out of memory allocating %zu bytes", bytes);
    return p;
}

static inline float *float_copy(const float *x, size_t n) {
    float *y = test_alloc(n * sizeof *y);
    memcpy(y, x, n * sizeof *y);
    return y;
}

/* ---- Padded matrices ---------------------------------------------------------- */

/* A rows x cols row-major matrix with leading dimension ld >= cols.  It is allocated to
 * its exact extent, (rows - 1) * ld + cols floats, so AddressSanitizer sees a read past
 * the last element; the padding between rows holds `pad_value`. */
typedef struct test_matrix {
    int rows, cols, ld;
    size_t extent;
    float *data;
} test_matrix;

static inline size_t matrix_extent(int rows, int cols, int ld) {
    return rows > 0 && cols > 0 ? (size_t)(rows - 1) * (size_t)ld + (size_t)cols : 0;
}

static inline test_matrix matrix_new(int rows, int cols, int ld, float pad_value) {
    test_matrix m = {rows, cols, ld, matrix_extent(rows, cols, ld), NULL};
    m.data = test_alloc(m.extent * sizeof(float));
    for (size_t i = 0; i < m.extent; i++) m.data[i] = pad_value;
    return m;
}

static inline void matrix_fill(test_matrix *m, test_rng *rng) {
    for (int r = 0; r < m->rows; r++)
        fill_uniform(m->data + (size_t)r * (size_t)m->ld, (size_t)m->cols, rng);
}

static inline void matrix_fill_value(test_matrix *m, float value) {
    for (int r = 0; r < m->rows; r++)
        for (int c = 0; c < m->cols; c++) m->data[(size_t)r * (size_t)m->ld + c] = value;
}

static inline void matrix_free(test_matrix *m) {
    free(m->data);
    m->data = NULL;
}

/* First padding element of `got` whose bits differ from `want` (same shape), or -1. */
static inline long matrix_padding_changed(const test_matrix *want, const float *got) {
    if (want->extent == 0) return -1; /* no rows or no columns: nothing stored at all */
    for (int r = 0; r + 1 < want->rows; r++) {
        size_t row = (size_t)r * (size_t)want->ld;
        for (int c = want->cols; c < want->ld; c++)
            if (memcmp(&want->data[row + c], &got[row + c], sizeof(float)) != 0)
                return (long)(row + (size_t)c);
    }
    return -1;
}

/* ---- One GEMM problem ----------------------------------------------------------- */

/* C = alpha * op(A) op(B) + beta * C with op(A) M x K, op(B) K x N.  Each leading
 * dimension is its minimum plus its pad; beta == 0 fills C with NaN. */
typedef struct gemm_spec {
    nn_trans ta, tb;
    int M, N, K;
    float alpha, beta;
    int pad_a, pad_b, pad_c;
    uint64_t seed;
} gemm_spec;

static inline const char *trans_name(nn_trans t) { return t == NN_NO_TRANS ? "N" : "T"; }

static inline int imax(int a, int b) { return a > b ? a : b; }

/* Stored shape of A: M x K, or K x M when transposed (BLAS-style minimum ld >= 1). */
static inline void stored_shape(nn_trans t, int rows, int cols, int pad, int *r, int *c,
                                int *ld) {
    *r = t == NN_NO_TRANS ? rows : cols;
    *c = t == NN_NO_TRANS ? cols : rows;
    *ld = imax(1, *c) + pad;
}

typedef struct gemm_case {
    gemm_spec spec;
    test_matrix a, b, c0; /* padding: NaN in A and B (a read of it shows), -777 in C */
    double *ref, *bound;  /* M x N, dense */
} gemm_case;

#define GEMM_PAD_C (-777.0f)

/* op(X) as a dense double matrix, rows x cols (the reference reads it contiguously). */
static inline double *op_dense(const test_matrix *x, nn_trans t, int rows, int cols) {
    double *d = test_alloc((size_t)rows * (size_t)cols * sizeof *d);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            size_t at = t == NN_NO_TRANS ? (size_t)r * (size_t)x->ld + (size_t)c
                                         : (size_t)c * (size_t)x->ld + (size_t)r;
            d[(size_t)r * (size_t)cols + c] = x->data[at];
        }
    return d;
}

/* ref = alpha * op(A) op(B) + beta * C0 in double, and the bound stated at the top. */
static inline void reference_gemm(gemm_case *gc) {
    const gemm_spec *s = &gc->spec;
    double *a = op_dense(&gc->a, s->ta, s->M, s->K);  /* M x K */
    nn_trans tb_t = s->tb == NN_NO_TRANS ? NN_TRANS : NN_NO_TRANS;
    double *bt = op_dense(&gc->b, tb_t, s->N, s->K); /* N x K: op(B) transposed */
    double tol = GEMM_BOUND_C * (s->K + 2) * FLT_EPSILON;
    for (int i = 0; i < s->M; i++)
        for (int j = 0; j < s->N; j++) {
            const double *ai = a + (size_t)i * (size_t)s->K, *bj = bt + (size_t)j * (size_t)s->K;
            double dot = 0, mag = 0;
            for (int k = 0; k < s->K; k++) {
                dot += ai[k] * bj[k];
                mag += fabs(ai[k] * bj[k]);
            }
            double ref = (double)s->alpha * dot, size = fabs((double)s->alpha) * mag;
            if (s->beta != 0.0f) {
                double c0 = gc->c0.data[(size_t)i * (size_t)gc->c0.ld + j];
                ref += (double)s->beta * c0;
                size += fabs((double)s->beta * c0);
            }
            gc->ref[(size_t)i * (size_t)s->N + j] = ref;
            gc->bound[(size_t)i * (size_t)s->N + j] = tol * size;
        }
    free(a);
    free(bt);
}

/* Builds the inputs of `spec` and their reference result. */
static inline void gemm_case_init(gemm_case *gc, gemm_spec spec) {
    int r, c, ld;
    test_rng rng = {spec.seed ^ ((uint64_t)spec.M << 40) ^ ((uint64_t)spec.N << 20) ^ (uint64_t)spec.K};
    gc->spec = spec;
    stored_shape(spec.ta, spec.M, spec.K, spec.pad_a, &r, &c, &ld);
    gc->a = matrix_new(r, c, ld, NAN);
    stored_shape(spec.tb, spec.K, spec.N, spec.pad_b, &r, &c, &ld);
    gc->b = matrix_new(r, c, ld, NAN);
    gc->c0 = matrix_new(spec.M, spec.N, imax(1, spec.N) + spec.pad_c, GEMM_PAD_C);
    matrix_fill(&gc->a, &rng);
    matrix_fill(&gc->b, &rng);
    if (spec.beta == 0.0f) matrix_fill_value(&gc->c0, NAN);
    else matrix_fill(&gc->c0, &rng);
    gc->ref = test_alloc((size_t)spec.M * (size_t)spec.N * sizeof(double));
    gc->bound = test_alloc((size_t)spec.M * (size_t)spec.N * sizeof(double));
    reference_gemm(gc);
}

static inline void gemm_case_free(gemm_case *gc) {
    matrix_free(&gc->a);
    matrix_free(&gc->b);
    matrix_free(&gc->c0);
    free(gc->ref);
    free(gc->bound);
}

/* "avx2/3t NT M=.. N=.. K=.. alpha=.. beta=.. lda=.. ldb=.. ldc=.." for messages. */
static inline const char *gemm_case_label(const gemm_case *gc, nn_isa isa, int threads) {
    static char buf[256];
    const gemm_spec *s = &gc->spec;
    snprintf(buf, sizeof buf, "%s/%dt op=%s%s M=%d N=%d K=%d alpha=%g beta=%g lda=%d ldb=%d ldc=%d",
             nn_isa_name(isa), threads, trans_name(s->ta), trans_name(s->tb), s->M, s->N, s->K,
             (double)s->alpha, (double)s->beta, gc->a.ld, gc->b.ld, gc->c0.ld);
    return buf;
}

/* Selects the kernel set and the thread count, asserting both are accepted. */
static inline void use_engine(nn_isa isa, int threads) {
    nn_status st = nn_set_isa(isa);
    cr_assert(st == NN_OK, "nn_set_isa(%s) = %d: %s", nn_isa_name(isa), st, nn_last_error());
    st = nn_set_num_threads(threads);
    cr_assert(st == NN_OK, "nn_set_num_threads(%d) = %d: %s", threads, st, nn_last_error());
}

/* Runs nn_sgemm (epilogue == NULL and !use_ex) or nn_sgemm_ex on a fresh copy of C0
 * with the given ISA and threads; asserts NN_OK and returns C (free it). */
static inline float *gemm_case_run_ex(const gemm_case *gc, nn_isa isa, int threads, int use_ex,
                                      const nn_gemm_epilogue *epilogue) {
    const gemm_spec *s = &gc->spec;
    float *c = float_copy(gc->c0.data, gc->c0.extent);
    nn_status st;
    use_engine(isa, threads);
    if (use_ex)
        st = nn_sgemm_ex(s->ta, s->tb, s->M, s->N, s->K, s->alpha, gc->a.data, gc->a.ld,
                         gc->b.data, gc->b.ld, s->beta, c, gc->c0.ld, epilogue);
    else
        st = nn_sgemm(s->ta, s->tb, s->M, s->N, s->K, s->alpha, gc->a.data, gc->a.ld,
                      gc->b.data, gc->b.ld, s->beta, c, gc->c0.ld);
    cr_assert(st == NN_OK, "%s: status %d: %s", gemm_case_label(gc, isa, threads), st,
              nn_last_error());
    return c;
}

static inline float *gemm_case_run(const gemm_case *gc, nn_isa isa, int threads) {
    return gemm_case_run_ex(gc, isa, threads, 0, NULL);
}

/* Asserts the padding of C still holds its sentinel. */
static inline void gemm_case_verify_padding(const gemm_case *gc, const float *c, nn_isa isa,
                                            int threads) {
    long at = matrix_padding_changed(&gc->c0, c);
    cr_assert(at < 0, "%s: padding of C overwritten at offset %ld (row %ld col %ld): %g",
              gemm_case_label(gc, isa, threads), at, at / gc->c0.ld, at % gc->c0.ld,
              at < 0 ? 0.0 : (double)c[at]);
}

/* Asserts C is within the bound of the reference everywhere and the padding intact. */
static inline void gemm_case_verify(const gemm_case *gc, const float *c, nn_isa isa, int threads) {
    const gemm_spec *s = &gc->spec;
    for (int i = 0; i < s->M; i++)
        for (int j = 0; j < s->N; j++) {
            double got = c[(size_t)i * (size_t)gc->c0.ld + j];
            double ref = gc->ref[(size_t)i * (size_t)s->N + j];
            double bound = gc->bound[(size_t)i * (size_t)s->N + j];
            if (!(fabs(got - ref) <= bound))
                cr_assert_fail("%s: C[%d][%d] = %.9g, reference %.9g, |error| %.3g > bound %.3g",
                               gemm_case_label(gc, isa, threads), i, j, got, ref,
                               fabs(got - ref), bound);
        }
    gemm_case_verify_padding(gc, c, isa, threads);
}

/* Runs the engine on one built case and checks it against the reference. */
static inline void gemm_case_check(const gemm_case *gc, nn_isa isa, int threads) {
    float *c = gemm_case_run(gc, isa, threads);
    gemm_case_verify(gc, c, isa, threads);
    free(c);
}

/* Builds, runs and checks one problem: the building block of the GEMM tests. */
static inline void run_case(nn_isa isa, int threads, gemm_spec spec) {
    gemm_case gc;
    gemm_case_init(&gc, spec);
    gemm_case_check(&gc, isa, threads);
    gemm_case_free(&gc);
}

/* Loops `isa` over every kernel set this machine supports. */
#define FOR_EACH_SUPPORTED_ISA(isa)                                                          \
    for (nn_isa isa = NN_ISA_SCALAR; isa < NN_ISA_COUNT; isa = (nn_isa)(isa + 1))         \
        if (!nn_isa_supported(isa)) {                                                       \
        } else

/* The four transpose combinations, numbered 0..3 as NN, NT, TN, TT. */
static inline nn_trans trans_a_of(int combo) { return (combo & 2) ? NN_TRANS : NN_NO_TRANS; }
static inline nn_trans trans_b_of(int combo) { return (combo & 1) ? NN_TRANS : NN_NO_TRANS; }

/* Skips the running test when this machine cannot run `isa`. */
static inline void require_isa(nn_isa isa) {
    if (!nn_isa_supported(isa)) cr_skip_test("%s is not supported here", nn_isa_name(isa));
}

/* Parameters for tests run once per kernel set and transpose combination. */
typedef struct isa_combo {
    nn_isa isa;
    int combo; /* 0..3: NN, NT, TN, TT */
} isa_combo;

/* Every ISA x every combination (unsupported sets skip themselves with require_isa).
 * Builds no engine state: it runs in Criterion's parent process. */
static inline struct criterion_test_params isa_combo_params(void) {
    static isa_combo params[NN_ISA_COUNT * 4];
    for (int i = 0; i < NN_ISA_COUNT * 4; i++) params[i] = (isa_combo){(nn_isa)(i / 4), i % 4};
    return cr_make_param_array(isa_combo, params, NN_ISA_COUNT * 4);
}

#endif /* NN_TESTS_GEMM_REFERENCE_H */
