/*
 * test_gemm_cube.c — nn_sgemm against the double reference on small shapes, one thread:
 * the full 0..33 cube of M, N, K for every ISA and transpose combination, an alpha/beta
 * grid on a sparser cube, and leading dimensions far larger than needed.
 * Every run_case (gemm_reference.h) checks its own result: it cr_asserts the status,
 * each element of C against the bound stated there, and that C's padding is untouched.
 */
#include "gemm_reference.h"

#define CUBE_MAX 33

/* 0..3 floats of padding per leading dimension, varied with the shape (0 = minimum ld). */
static int pad_for(int M, int N, int K, int which) { return (M * 7 + N * 5 + K * 3 + which) % 4; }

/* Cube problem: alpha alternates 1 / -1.5, beta cycles 1, -1.5, 0 (C full of NaN). */
static gemm_spec cube_spec(int combo, int M, int N, int K) {
    static const float betas[3] = {1.0f, -1.5f, 0.0f};
    return (gemm_spec){.ta = trans_a_of(combo), .tb = trans_b_of(combo), .M = M, .N = N, .K = K,
                       .alpha = (M + K) % 2 ? -1.5f : 1.0f, .beta = betas[(M + N + K) % 3],
                       .pad_a = pad_for(M, N, K, 0), .pad_b = pad_for(M, N, K, 1),
                       .pad_c = pad_for(M, N, K, 2), .seed = 0xC0BEull};
}

ParameterizedTestParameters(gemm_cube, full_0_to_33) { return isa_combo_params(); }

/* M, N, K each in 0..33: 39304 problems, every edge-tile shape of any MR x NR <= 32. */
ParameterizedTest(isa_combo *p, gemm_cube, full_0_to_33) {
    require_isa(p->isa);
    for (int M = 0; M <= CUBE_MAX; M++)
        for (int N = 0; N <= CUBE_MAX; N++)
            for (int K = 0; K <= CUBE_MAX; K++) run_case(p->isa, 1, cube_spec(p->combo, M, N, K));
}

ParameterizedTestParameters(gemm_cube, alpha_beta_grid) { return isa_combo_params(); }

/* alpha, beta in {0, 1, -1.5} (beta = 0: NaN in C; alpha = beta = 0: exact zeros) on
 * M, N, K in {0, 1, 2, 3, 7, 8, 9, 16, 17, 33}. */
ParameterizedTest(isa_combo *p, gemm_cube, alpha_beta_grid) {
    static const int sizes[] = {0, 1, 2, 3, 7, 8, 9, 16, 17, 33};
    static const float scales[] = {0.0f, 1.0f, -1.5f};
    const int ns = (int)(sizeof sizes / sizeof sizes[0]);
    require_isa(p->isa);
    for (int ab = 0; ab < 9; ab++)
        for (int m = 0; m < ns; m++)
            for (int n = 0; n < ns; n++)
                for (int k = 0; k < ns; k++) {
                    gemm_spec s = cube_spec(p->combo, sizes[m], sizes[n], sizes[k]);
                    s.alpha = scales[ab / 3];
                    s.beta = scales[ab % 3];
                    run_case(p->isa, 1, s);
                }
}

ParameterizedTestParameters(gemm_cube, wide_leading_dimensions) { return isa_combo_params(); }

/* lda, ldb, ldc far above their minimum (+37, +64, +129), padding NaN in A and B and a
 * sentinel in C that must survive; shapes 5x7x3, 33x17x29, 64x64x64, 100x3x50. */
ParameterizedTest(isa_combo *p, gemm_cube, wide_leading_dimensions) {
    static const int shapes[][3] = {{5, 7, 3}, {33, 17, 29}, {64, 64, 64}, {100, 3, 50}};
    require_isa(p->isa);
    for (int i = 0; i < 4; i++) {
        gemm_spec s = cube_spec(p->combo, shapes[i][0], shapes[i][1], shapes[i][2]);
        s.pad_a = 37;
        s.pad_b = 64;
        s.pad_c = 129;
        run_case(p->isa, 1, s);
    }
}
