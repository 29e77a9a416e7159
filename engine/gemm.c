/*
 * engine/gemm.c — the portable SGEMM driver: BLIS's five loops around a microkernel.
 *
 *   for jc in N by NC:           B block  (KC x NC, packed, shared by the team)
 *     for pc in K by KC:
 *       for ic in M by MC:       A block  (MC x KC, packed, shared by the team)
 *         for each MR x NR tile of the block, split evenly over the team:
 *           gemm_tile (microkernel), then the epilogue on the last pc step
 *
 * Determinism: KC depends on K and the kernel set only, and every element of C is
 * summed over k in the same order by exactly one thread, so the result is the same
 * bits whatever the number of threads.
 */
#define _POSIX_C_SOURCE 200809L
#include <omp.h>
#include <pthread.h>
#include <stdint.h>

#include "internal.h"

typedef struct gemm_job {
    const nn_gemm_kernels *k;
    int M, N, K, mc, kc, nc;
    float alpha, beta;
    const float *A, *B;
    ptrdiff_t a_rs, a_cs, b_rs, b_cs; /* op(A)(i,k) = A[i*a_rs + k*a_cs], likewise B */
    float *C;
    ptrdiff_t ldc;
    const nn_gemm_epilogue *epilogue;
    int a_in_place, b_in_place; /* read by the tiles from A or B as stored, not packed */
    float *packed_a, *packed_b;
} gemm_job;

/* Packing an operand pays when the tiles reuse it: A once per NR panel of the block,
 * B once per MR panel.  Below this many uses, an operand whose rows are contiguous
 * along the tile (A not transposed, B not transposed) is read in place. */
enum { MIN_REUSE_TO_PACK = 3 };

static int min_int(int a, int b) { return a < b ? a : b; }
static int ceil_div(int a, int b) { return (a + b - 1) / b; }
static int round_up(int a, int b) { return ceil_div(a, b) * b; }

/* Splits `count` items over the team: this thread's half-open range. */
static void share(int count, int tid, int threads, int *first, int *end)
{
    *first = (int)((int64_t)count * tid / threads);
    *end = (int)((int64_t)count * (tid + 1) / threads);
}

/* Block sizes for this problem: the plan's, shrunk so the blocks are even (K = 784
 * with KC = 192 runs five blocks of 157, not four of 192 and one of 16). */
static int balanced_block(int extent, int block, int multiple)
{
    int blocks = ceil_div(extent, block);
    return round_up(ceil_div(extent, blocks), multiple);
}

/* Each thread packs its share of the block's panels (MR rows or NR columns each). */
static void pack_a_share(const gemm_job *j, int ic, int pc, int mc, int kc, int tid, int threads)
{
    int mr = j->k->mr, first, end;
    if (j->a_in_place)
        return;
    share(ceil_div(mc, mr), tid, threads, &first, &end);
    if (first == end)
        return;
    int rows = min_int(end * mr, mc) - first * mr;
    const float *a = j->A + (ptrdiff_t)(ic + first * mr) * j->a_rs + (ptrdiff_t)pc * j->a_cs;
    j->k->pack_a(rows, kc, a, j->a_rs, j->a_cs, j->packed_a + (ptrdiff_t)first * mr * kc);
}

static void pack_b_share(const gemm_job *j, int pc, int jc, int kc, int nc, int tid, int threads)
{
    int nr = j->k->nr, first, end;
    if (j->b_in_place)
        return;
    share(ceil_div(nc, nr), tid, threads, &first, &end);
    if (first == end)
        return;
    int cols = min_int(end * nr, nc) - first * nr;
    const float *b = j->B + (ptrdiff_t)pc * j->b_rs + (ptrdiff_t)(jc + first * nr) * j->b_cs;
    j->k->pack_b(kc, cols, b, j->b_rs, j->b_cs, j->packed_b + (ptrdiff_t)first * nr * kc);
}

/* This thread's tiles of the packed MC x NC block, B panel outer so that each
 * KC x NR panel of B stays in L1 while the A panels stream past it. */
static void macro_kernel(const gemm_job *j, int ic, int jc, int pc, int mc, int nc, int kc,
                         float beta, int last_k, int tid, int threads)
{
    const nn_gemm_kernels *k = j->k;
    int tiles_m = ceil_div(mc, k->mr), first, end;
    share(tiles_m * ceil_div(nc, k->nr), tid, threads, &first, &end);
    const float *bias = j->epilogue ? j->epilogue->bias : NULL;
    /* In place: tiles read A from row ic + ir, column pc (B likewise); packed: panels. */
    ptrdiff_t lda = j->a_in_place ? j->a_rs : 0, ldb = j->b_in_place ? j->b_rs : 0;
    const float *a0 = j->a_in_place ? j->A + (ptrdiff_t)ic * lda + pc : j->packed_a;
    const float *b0 = j->b_in_place ? j->B + (ptrdiff_t)pc * ldb + jc : j->packed_b;
    for (int t = first; t < end; t++) {
        int ir = (t % tiles_m) * k->mr, jr = (t / tiles_m) * k->nr;
        int m = min_int(k->mr, mc - ir), n = min_int(k->nr, nc - jr);
        float *c = j->C + (ptrdiff_t)(ic + ir) * j->ldc + jc + jr;
        k->gemm_tile(m, n, kc, a0 + (ptrdiff_t)ir * (lda ? lda : kc), lda,
                     b0 + (ptrdiff_t)jr * (ldb ? 1 : kc), ldb, c, j->ldc, j->alpha, beta);
        if (last_k && j->epilogue)
            k->epilogue(m, n, c, j->ldc, bias ? bias + jc + jr : NULL, (int)j->epilogue->activation);
    }
}

/* One thread's part of the whole product.  Called inside the team's parallel region,
 * or directly when the team is one thread (the barriers then do nothing). */
static void gemm_team_member(const gemm_job *j, int tid, int threads)
{
    for (int jc = 0; jc < j->N; jc += j->nc) {
        int nc = min_int(j->nc, j->N - jc);
        for (int pc = 0; pc < j->K; pc += j->kc) {
            int kc = min_int(j->kc, j->K - pc);
            float beta = pc == 0 ? j->beta : 1.0f;
            pack_b_share(j, pc, jc, kc, nc, tid, threads);
            for (int ic = 0; ic < j->M; ic += j->mc) {
                int mc = min_int(j->mc, j->M - ic);
                pack_a_share(j, ic, pc, mc, kc, tid, threads);
#pragma omp barrier
                macro_kernel(j, ic, jc, pc, mc, nc, kc, beta, pc + kc == j->K, tid, threads);
#pragma omp barrier
            }
        }
    }
}

/* ---- Workspace: per calling thread, grown when needed, freed when the thread ends. */

static _Thread_local float *workspace;
static _Thread_local size_t workspace_floats;
static pthread_key_t workspace_key;
static pthread_once_t workspace_key_once = PTHREAD_ONCE_INIT;

static void make_workspace_key(void) { pthread_key_create(&workspace_key, nn_free); }

static float *gemm_workspace(size_t floats)
{
    if (floats > workspace_floats) {
        pthread_once(&workspace_key_once, make_workspace_key);
        float *grown = nn_malloc(floats * sizeof(float));
        if (!grown)
            return NULL;
        nn_free(workspace);
        workspace = grown;
        workspace_floats = floats;
        pthread_setspecific(workspace_key, workspace);
    }
    return workspace;
}

/* ---- Arguments and the cases that need no product --------------------------------- */

/* A leading dimension must cover the stored row: at least max(1, extent). */
static nn_status check_ld(const char *name, int ld, int extent)
{
    int least = extent > 1 ? extent : 1;
    if (ld >= least)
        return NN_OK;
    return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_sgemm: %s=%d is below %d", name, ld, least);
}

static nn_status check_args(nn_trans ta, nn_trans tb, int M, int N, int K, float alpha,
                            const float *A, int lda, const float *B, int ldb,
                            const float *C, int ldc, const nn_gemm_epilogue *ep)
{
    nn_status status;
    if ((ta != NN_NO_TRANS && ta != NN_TRANS) || (tb != NN_NO_TRANS && tb != NN_TRANS))
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       "nn_sgemm: transpose flags must be NN_NO_TRANS or NN_TRANS (got %d, %d)",
                       (int)ta, (int)tb);
    if (M < 0 || N < 0 || K < 0)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_sgemm: negative size M=%d N=%d K=%d", M, N, K);
    if ((status = check_ld("lda", lda, ta == NN_TRANS ? M : K)) != NN_OK ||
        (status = check_ld("ldb", ldb, tb == NN_TRANS ? K : N)) != NN_OK ||
        (status = check_ld("ldc", ldc, N)) != NN_OK)
        return status;
    int reads_ab = M > 0 && N > 0 && K > 0 && alpha != 0.0f;
    if (reads_ab && (!A || !B))
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_sgemm: %s is NULL with M=%d N=%d K=%d",
                       A ? "B" : "A", M, N, K);
    if (M > 0 && N > 0 && !C)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_sgemm: C is NULL with M=%d N=%d", M, N);
    if (ep && (ep->activation < NN_ACT_NONE || ep->activation > NN_ACT_TANH))
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_sgemm: unknown activation %d", (int)ep->activation);
    return NN_OK;
}

/* C = beta * C (beta == 0 writes zeros, whatever C held), then the epilogue. */
static void scale_only(const nn_gemm_kernels *k, int M, int N, float beta, float *C, int ldc,
                       const nn_gemm_epilogue *ep)
{
    for (int i = 0; i < M; i++) {
        float *row = C + (ptrdiff_t)i * ldc;
        for (int j = 0; j < N; j++)
            row[j] = beta == 0.0f ? 0.0f : beta * row[j];
        if (ep)
            k->epilogue(1, N, row, ldc, ep->bias, (int)ep->activation);
    }
}

nn_status nn_sgemm_ex(nn_trans ta, nn_trans tb, int M, int N, int K, float alpha,
                      const float *A, int lda, const float *B, int ldb, float beta,
                      float *C, int ldc, const nn_gemm_epilogue *ep)
{
    nn_status status = check_args(ta, tb, M, N, K, alpha, A, lda, B, ldb, C, ldc, ep);
    const nn_gemm_plan *plan;
    if (status == NN_OK)
        status = nn_gemm_plan_get(&plan);
    if (status != NN_OK || M == 0 || N == 0)
        return status;
    if (K == 0 || alpha == 0.0f) {
        unsigned fp = nn_fp_enter_ftz(); /* the float mode of every engine kernel */
        scale_only(plan->k, M, N, beta, C, ldc, ep);
        nn_fp_restore(fp);
        return NN_OK;
    }

    const nn_gemm_kernels *k = plan->k;
    gemm_job j = {
        .k = k, .M = M, .N = N, .K = K, .alpha = alpha, .beta = beta, .A = A, .B = B,
        .a_rs = ta == NN_TRANS ? 1 : lda, .a_cs = ta == NN_TRANS ? lda : 1,
        .b_rs = tb == NN_TRANS ? 1 : ldb, .b_cs = tb == NN_TRANS ? ldb : 1,
        .C = C, .ldc = ldc, .epilogue = ep,
        .kc = balanced_block(K, plan->kc, 1),
        .mc = balanced_block(M, plan->mc, k->mr),
        .nc = balanced_block(N, plan->nc, k->nr),
    };
    j.a_in_place = ta == NN_NO_TRANS && ceil_div(j.nc, k->nr) < MIN_REUSE_TO_PACK;
    j.b_in_place = tb == NN_NO_TRANS && ceil_div(j.mc, k->mr) < MIN_REUSE_TO_PACK;
    /* Packed B starts on a cache line, so every NR-wide row of a B panel is aligned. */
    size_t a_floats = ((size_t)j.mc * j.kc + 15) / 16 * 16, b_floats = (size_t)j.nc * j.kc;
    j.packed_a = gemm_workspace(a_floats + b_floats);
    if (!j.packed_a)
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "nn_sgemm: cannot allocate %zu bytes of packing space",
                       (a_floats + b_floats) * sizeof(float));
    j.packed_b = j.packed_a + a_floats;

    int threads = nn_threads_for(2.0 * M * N * K);
    if (threads == 1) {
        unsigned fp = nn_fp_enter_ftz();
        gemm_team_member(&j, 0, 1);
        nn_fp_restore(fp);
        return NN_OK;
    }
#pragma omp parallel num_threads(threads)
    {
        unsigned fp = nn_fp_enter_ftz();
        gemm_team_member(&j, omp_get_thread_num(), omp_get_num_threads());
        nn_fp_restore(fp);
    }
    return NN_OK;
}

nn_status nn_sgemm(nn_trans ta, nn_trans tb, int M, int N, int K, float alpha,
                   const float *A, int lda, const float *B, int ldb, float beta,
                   float *C, int ldc)
{
    return nn_sgemm_ex(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, NULL);
}

nn_status nn_vec_activate(nn_activation activation, size_t n, float *x)
{
    const nn_gemm_plan *plan;
    if (activation < NN_ACT_NONE || activation > NN_ACT_TANH)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_vec_activate: unknown activation %d", (int)activation);
    if (n > 0 && !x)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_vec_activate: x is NULL with n=%zu", n);
    nn_status status = nn_gemm_plan_get(&plan);
    if (status == NN_OK && n > 0) {
        unsigned fp = nn_fp_enter_ftz(); /* as in the fused epilogue: same bits */
        plan->k->activate(n, x, (int)activation);
        nn_fp_restore(fp);
    }
    return status;
}
