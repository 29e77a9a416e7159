/*
 * engine/gemm.c — the portable SGEMM driver: BLIS's five loops around a microkernel.
 *
 * The team splits C into one rectangle per thread (along N, along M, or both: see
 * split_team), and each thread runs the five loops on its rectangle alone, with its
 * own packing buffers in its own caches and no barrier:
 *
 *   for jc in N by NC:           B block  (KC x NC, packed)
 *     for pc in K by KC:
 *       for ic in M by MC:       A block  (MC x KC, packed)
 *         for each MR x NR tile, B panel outer (it stays in L1 while A panels pass):
 *           gemm_tile (microkernel), with the epilogue on the last pc step
 *
 * A rectangle packs only the rows of A and columns of B it uses, so splitting along N
 * packs A once per thread column: cheap next to the product (K*M against K*M*N/t).
 *
 * Determinism: KC depends on K and the kernel set only, and every element of C is
 * summed over k in the same order by exactly one thread, so the result is the same
 * bits whatever the number of threads.
 */
#define _POSIX_C_SOURCE 200809L
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "internal.h"

/* The whole product, as the caller gave it. */
typedef struct gemm_job {
    const nn_gemm_kernels *k;
    int M, N, K, kc;
    const nn_gemm_plan *plan;
    float alpha, beta;
    const float *A, *B;
    ptrdiff_t a_rs, a_cs, b_rs, b_cs; /* op(A)(i,k) = A[i*a_rs + k*a_cs], likewise B */
    float *C;
    ptrdiff_t ldc;
    const nn_gemm_epilogue *epilogue;
    int b_in_place; /* nn_sgemm_b_in_place: the tiles read B as stored, whatever its reuse */
} gemm_job;

/* One thread's rectangle of C and how it is blocked and fed. */
typedef struct gemm_rect {
    int m0, n0, M, N;           /* rows m0..m0+M-1, columns n0..n0+N-1 of C */
    int mc, nc;
    int a_in_place, b_in_place; /* tiles read A or B as stored, not packed */
    float *packed_a, *packed_b;
} gemm_rect;

/* Packing an operand pays when the tiles reuse it: A once per NR panel of the block,
 * B once per MR panel.  Below this many uses, an operand whose rows are contiguous
 * along the tile (A not transposed, B not transposed) is read in place. */
enum { MIN_REUSE_TO_PACK = 5 };

static int min_int(int a, int b) { return a < b ? a : b; }
static int ceil_div(int a, int b) { return (a + b - 1) / b; }
static int round_up(int a, int b) { return ceil_div(a, b) * b; }

/* Block sizes for this problem: the plan's, shrunk so the blocks are even (K = 784
 * with KC = 192 runs five blocks of 157, not four of 192 and one of 16). */
static int balanced_block(int extent, int block, int multiple)
{
    int blocks = ceil_div(extent, block);
    return round_up(ceil_div(extent, blocks), multiple);
}

/* The tiles of one packed MC x NC block (rows ic, columns jc of the rectangle). */
static void macro_kernel(const gemm_job *j, const gemm_rect *r, int ic, int jc, int pc,
                         int mc, int nc, int kc, float beta, int last_k)
{
    const nn_gemm_kernels *k = j->k;
    const float *bias = j->epilogue ? j->epilogue->bias : NULL;
    const float *row_bias = j->epilogue ? j->epilogue->row_bias : NULL;
    int row = r->m0 + ic, col = r->n0 + jc;
    /* In place: tiles read A from row `row`, column pc (B likewise); packed: panels. */
    ptrdiff_t lda = r->a_in_place ? j->a_rs : 0, ldb = r->b_in_place ? j->b_rs : 0;
    const float *a0 = r->a_in_place ? j->A + (ptrdiff_t)row * lda + pc : r->packed_a;
    const float *b0 = r->b_in_place ? j->B + (ptrdiff_t)pc * ldb + col : r->packed_b;
    for (int jr = 0; jr < nc; jr += k->nr) {
        int n = min_int(k->nr, nc - jr);
        const float *b = b0 + (ptrdiff_t)jr * (ldb ? 1 : kc);
        for (int ir = 0; ir < mc; ir += k->mr) {
            int m = min_int(k->mr, mc - ir);
            float *c = j->C + (ptrdiff_t)(row + ir) * j->ldc + col + jr;
            nn_tile_epilogue ep = {row_bias ? row_bias + row + ir : NULL,
                                   bias ? bias + col + jr : NULL,
                                   j->epilogue ? (int)j->epilogue->activation : 0};
            k->gemm_tile(m, n, kc, a0 + (ptrdiff_t)ir * (lda ? lda : kc), lda, b, ldb, c,
                         j->ldc, j->alpha, beta, last_k && j->epilogue ? &ep : NULL);
        }
    }
}

/* The five loops over one rectangle. */
static void gemm_rectangle(const gemm_job *j, const gemm_rect *r)
{
    const nn_gemm_kernels *k = j->k;
    for (int jc = 0; jc < r->N; jc += r->nc) {
        int nc = min_int(r->nc, r->N - jc);
        for (int pc = 0; pc < j->K; pc += j->kc) {
            int kc = min_int(j->kc, j->K - pc);
            float beta = pc == 0 ? j->beta : 1.0f;
            if (!r->b_in_place)
                k->pack_b(kc, nc, j->B + (ptrdiff_t)pc * j->b_rs + (ptrdiff_t)(r->n0 + jc) * j->b_cs,
                          j->b_rs, j->b_cs, r->packed_b);
            for (int ic = 0; ic < r->M; ic += r->mc) {
                int mc = min_int(r->mc, r->M - ic);
                if (!r->a_in_place)
                    k->pack_a(mc, kc, j->A + (ptrdiff_t)(r->m0 + ic) * j->a_rs + (ptrdiff_t)pc * j->a_cs,
                              j->a_rs, j->a_cs, r->packed_a);
                macro_kernel(j, r, ic, jc, pc, mc, nc, kc, beta, pc + kc == j->K);
            }
        }
    }
}

/* ---- Workspace: per thread, grown when needed, freed when the thread ends. */

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

/* Blocks, in-place choices and buffers for rows [m0, m1) and columns [n0, n1).
 * @return 0 if the packing buffers cannot be allocated. */
static int plan_rectangle(const gemm_job *j, int m0, int m1, int n0, int n1, gemm_rect *r)
{
    const nn_gemm_kernels *k = j->k;
    *r = (gemm_rect){.m0 = m0, .n0 = n0, .M = m1 - m0, .N = n1 - n0};
    r->mc = balanced_block(r->M, j->plan->mc, k->mr);
    r->nc = balanced_block(r->N, r->M <= r->mc ? j->plan->nc_one_pass : j->plan->nc, k->nr);
    r->a_in_place = j->a_cs == 1 && ceil_div(r->nc, k->nr) < MIN_REUSE_TO_PACK;
    r->b_in_place = j->b_cs == 1 && (j->b_in_place || ceil_div(r->mc, k->mr) < MIN_REUSE_TO_PACK);
    /* Packed B starts on a cache line, so every NR-wide row of a B panel is aligned. */
    size_t a_floats = ((size_t)r->mc * j->kc + 15) / 16 * 16, b_floats = (size_t)r->nc * j->kc;
    r->packed_a = gemm_workspace(a_floats + b_floats);
    r->packed_b = r->packed_a ? r->packed_a + a_floats : NULL;
    return r->packed_a != NULL;
}

/*
 * How `threads` rectangles tile C: `rows` bands of M (cut between MR-row panels) times
 * `threads / rows` bands of N (cut between vectors, finer than NR panels, so that
 * N = 256 splits 128 + 128 and not 144 + 112).  The split whose slowest thread has the
 * least to do wins: its tile area plus its packing, K x (its rows + its columns), one
 * packed float costing about as much as 16 multiply-adds.
 */
typedef struct gemm_split {
    int rows, cols;         /* bands of M, bands of N */
    int units_m, units_n;   /* M in MR panels, N in vectors */
} gemm_split;

static gemm_split split_team(const gemm_job *j, int threads)
{
    gemm_split best = {0, 0, ceil_div(j->M, j->k->mr), ceil_div(j->N, j->k->vl)};
    double best_cost = 0;
    for (int rows = 1; rows <= threads; rows++) {
        int cols = threads / rows;
        if (rows * cols != threads || rows > best.units_m || cols > best.units_n)
            continue;
        double m = (double)ceil_div(best.units_m, rows) * j->k->mr;
        double n = (double)ceil_div(best.units_n, cols) * j->k->vl;
        double cost = m * n + 16.0 * (m + n);
        if (!best.rows || cost < best_cost) {
            best.rows = rows;
            best.cols = cols;
            best_cost = cost;
        }
    }
    return best;
}

/* Computes band `band` of the split. @return 0 if out of memory. */
static int gemm_band(const gemm_job *j, const gemm_split *s, int band)
{
    int r = band / s->cols, c = band % s->cols;
    int m0 = (int)((int64_t)s->units_m * r / s->rows) * j->k->mr;
    int m1 = min_int((int)((int64_t)s->units_m * (r + 1) / s->rows) * j->k->mr, j->M);
    int n0 = (int)((int64_t)s->units_n * c / s->cols) * j->k->vl;
    int n1 = min_int((int)((int64_t)s->units_n * (c + 1) / s->cols) * j->k->vl, j->N);
    gemm_rect rect;
    if (!plan_rectangle(j, m0, m1, n0, n1, &rect))
        return 0;
    gemm_rectangle(j, &rect);
    return 1;
}

/* Runs the product on `threads` threads (fewer if the tiles do not go round); one
 * thread never enters the OpenMP runtime. */
static nn_status gemm_parallel(const gemm_job *j, int threads)
{
    gemm_split split;
    while (!(split = split_team(j, threads)).rows)
        threads--; /* e.g. 3 threads on a product of 2 x 1 tiles */
    atomic_int failed = 0;
    if (threads == 1) {
        unsigned fp = nn_fp_enter_ftz();
        failed = !gemm_band(j, &split, 0);
        nn_fp_restore(fp);
    } else {
#pragma omp parallel num_threads(threads)
        {
            unsigned fp = nn_fp_enter_ftz();
            /* The team may be smaller than asked; its threads then share the bands. */
            for (int band = omp_get_thread_num(); band < threads; band += omp_get_num_threads())
                if (!gemm_band(j, &split, band))
                    atomic_store(&failed, 1);
            nn_fp_restore(fp);
        }
    }
    if (atomic_load(&failed))
        return nn_fail(NN_ERR_OUT_OF_MEMORY,
                       "nn_sgemm: cannot allocate packing space (C is partly computed)");
    return NN_OK;
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
            k->epilogue(1, N, row, ldc, ep->row_bias ? ep->row_bias + i : NULL, ep->bias,
                        (int)ep->activation);
    }
}

/* nn_sgemm_ex, and with b_in_place the tiles read B (not transposed) as stored. */
static nn_status sgemm_run(nn_trans ta, nn_trans tb, int M, int N, int K, float alpha,
                           const float *A, int lda, const float *B, int ldb, float beta,
                           float *C, int ldc, const nn_gemm_epilogue *ep, int b_in_place)
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

    gemm_job j = {
        .k = plan->k, .plan = plan, .M = M, .N = N, .K = K,
        .kc = balanced_block(K, plan->kc, 1),
        .alpha = alpha, .beta = beta, .A = A, .B = B,
        .a_rs = ta == NN_TRANS ? 1 : lda, .a_cs = ta == NN_TRANS ? lda : 1,
        .b_rs = tb == NN_TRANS ? 1 : ldb, .b_cs = tb == NN_TRANS ? ldb : 1,
        .C = C, .ldc = ldc, .epilogue = ep, .b_in_place = b_in_place,
    };
    return gemm_parallel(&j, nn_threads_for(2.0 * M * N * K));
}

nn_status nn_sgemm_ex(nn_trans ta, nn_trans tb, int M, int N, int K, float alpha,
                      const float *A, int lda, const float *B, int ldb, float beta,
                      float *C, int ldc, const nn_gemm_epilogue *ep)
{
    return sgemm_run(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, ep, 0);
}

nn_status nn_sgemm_b_in_place(int M, int N, int K, const float *A, int lda, const float *B,
                              int ldb, float *C, int ldc, const nn_gemm_epilogue *ep)
{
    return sgemm_run(NN_NO_TRANS, NN_NO_TRANS, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, ldc, ep, 1);
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
