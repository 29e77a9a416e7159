/*
 * test_gemm_large.c — nn_sgemm on shapes big enough to be blocked, packed and threaded:
 * odd and prime sizes with 1, 2 and 3 threads, shapes straddling the cache blocks of each
 * ISA, bit-identical results whatever the thread count, and calls from inside an OpenMP
 * parallel region.  Error bound: see gemm_reference.h.
 */
#include "gemm_reference.h"

#include <omp.h>

/* alpha and beta per transpose combination (beta = 0 puts NaN in C). */
static gemm_spec large_spec(int combo, int M, int N, int K, uint64_t seed) {
    static const float alphas[4] = {1.0f, -1.5f, 1.0f, -1.5f};
    static const float betas[4] = {0.0f, 1.0f, -1.5f, 0.0f};
    return (gemm_spec){.ta = trans_a_of(combo), .tb = trans_b_of(combo), .M = M, .N = N, .K = K,
                       .alpha = alphas[combo], .beta = betas[combo], .pad_a = combo,
                       .pad_b = 3 - combo, .pad_c = 1 + combo % 2, .seed = seed};
}

/* One reference per combination, checked on every ISA with 1, 2 and 3 threads. */
static void check_all_engines(int M, int N, int K) {
    for (int combo = 0; combo < 4; combo++) {
        gemm_case gc;
        gemm_case_init(&gc, large_spec(combo, M, N, K, 0x1A26Eull));
        FOR_EACH_SUPPORTED_ISA(isa) {
            for (int threads = 1; threads <= 3; threads++) gemm_case_check(&gc, isa, threads);
        }
        gemm_case_free(&gc);
    }
}

/* M x N x K: odd and prime sizes, and skinny ones with a 1. */
static const int odd_shapes[][3] = {
    {97, 127, 211}, {127, 97, 257}, {211, 257, 97}, {257, 331, 127}, {331, 211, 331},
    {1, 331, 257},  {331, 1, 211},  {257, 211, 1},  {7, 331, 331},   {331, 331, 9},
};
#define N_ODD_SHAPES ((int)(sizeof odd_shapes / sizeof odd_shapes[0]))

ParameterizedTestParameters(gemm_large, odd_and_prime_sizes) {
    static int index[N_ODD_SHAPES];
    for (int i = 0; i < N_ODD_SHAPES; i++) index[i] = i;
    return cr_make_param_array(int, index, N_ODD_SHAPES);
}

ParameterizedTest(int *shape, gemm_large, odd_and_prime_sizes) {
    const int *s = odd_shapes[*shape];
    check_all_engines(s[0], s[1], s[2]);
}

ParameterizedTestParameters(gemm_large, cache_block_edges) {
    static nn_isa isas[NN_ISA_COUNT];
    for (int i = 0; i < NN_ISA_COUNT; i++) isas[i] = (nn_isa)i;
    return cr_make_param_array(nn_isa, isas, NN_ISA_COUNT);
}

/* Shapes one past the ISA's own MC, KC, NC and MR/NR, so every blocking loop takes a
 * partial last step and beta is applied once across several KC blocks:
 *   (2 MC + 1) x (2 NR + 3) x (2 KC + 1),  (MR + 1) x (NC + 1) x (KC - 1),
 *   (MC - 1) x (NR - 1) x (KC + 1). */
ParameterizedTest(nn_isa *isa, gemm_large, cache_block_edges) {
    nn_engine_info info;
    require_isa(*isa);
    use_engine(*isa, 1);
    cr_assert(nn_engine_info_get(&info) == NN_OK, "nn_engine_info_get: %s", nn_last_error());
    const int shapes[3][3] = {{2 * info.mc + 1, 2 * info.nr + 3, 2 * info.kc + 1},
                              {info.mr + 1, info.nc + 1, info.kc - 1},
                              {info.mc - 1, imax(1, info.nr - 1), info.kc + 1}};
    for (int i = 0; i < 3; i++)
        for (int combo = 0; combo < 4; combo++) {
            gemm_case gc;
            gemm_case_init(&gc, large_spec(combo, shapes[i][0], shapes[i][1], shapes[i][2], 0xB10Cull));
            for (int threads = 1; threads <= 3; threads++) gemm_case_check(&gc, *isa, threads);
            gemm_case_free(&gc);
        }
}

/* Shapes large enough to be split across threads: 300x257x519, 1000x37x200, 64x7744x288. */
static const int threaded_shapes[][3] = {{300, 257, 519}, {1000, 37, 200}, {64, 7744, 288}};

ParameterizedTestParameters(gemm_large, same_bits_for_1_2_3_threads) {
    static int index[3 * 4]; /* shape * 4 + combo */
    for (int i = 0; i < 12; i++) index[i] = i;
    return cr_make_param_array(int, index, 12);
}

/* Per ISA: 1 thread is checked against the reference, 2 and 3 threads must give the very
 * same bits (no reduction whose order depends on the thread count). */
ParameterizedTest(int *param, gemm_large, same_bits_for_1_2_3_threads) {
    const int *s = threaded_shapes[*param / 4];
    gemm_case gc;
    gemm_case_init(&gc, large_spec(*param % 4, s[0], s[1], s[2], 0xD37Eull));
    FOR_EACH_SUPPORTED_ISA(isa) {
        float *one = gemm_case_run(&gc, isa, 1);
        gemm_case_verify(&gc, one, isa, 1);
        for (int threads = 2; threads <= 3; threads++) {
            float *many = gemm_case_run(&gc, isa, threads);
            cr_assert(memcmp(one, many, gc.c0.extent * sizeof(float)) == 0,
                      "%s: result differs from the 1-thread result",
                      gemm_case_label(&gc, isa, threads));
            free(many);
        }
        free(one);
    }
    gemm_case_free(&gc);
}

/* Engine calls made from inside an OpenMP parallel region (engine set to 3 threads) must
 * run, give the right answer and the same bits as a call from outside: 300x257x519. */
Test(gemm_large, call_from_parallel_region) {
    gemm_case gc;
    gemm_case_init(&gc, large_spec(1, 300, 257, 519, 0x0E5Dull));
    FOR_EACH_SUPPORTED_ISA(isa) {
        float *outside = gemm_case_run(&gc, isa, 3);
        float *inside[2] = {float_copy(gc.c0.data, gc.c0.extent), float_copy(gc.c0.data, gc.c0.extent)};
        nn_status status[2] = {NN_OK, NN_OK};
        const gemm_spec *s = &gc.spec;
#pragma omp parallel num_threads(2)
        {
            int t = omp_get_thread_num();
            status[t] = nn_sgemm(s->ta, s->tb, s->M, s->N, s->K, s->alpha, gc.a.data, gc.a.ld,
                                 gc.b.data, gc.b.ld, s->beta, inside[t], gc.c0.ld);
        }
        for (int t = 0; t < 2; t++) {
            cr_assert(status[t] == NN_OK, "%s: call from thread %d: status %d",
                      gemm_case_label(&gc, isa, 3), t, status[t]);
            cr_assert(memcmp(outside, inside[t], gc.c0.extent * sizeof(float)) == 0,
                      "%s: call from thread %d of a parallel region differs from outside",
                      gemm_case_label(&gc, isa, 3), t);
            free(inside[t]);
        }
        gemm_case_verify(&gc, outside, isa, 3);
        free(outside);
    }
    gemm_case_free(&gc);
}
