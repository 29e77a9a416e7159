/* engine/cblas.c — cblas_sgemm on top of nn_sgemm, for programs written against CBLAS. */
#include <stdio.h>

#include <nn/cblas.h>
#include <nn/engine.h>

/* Reports a bad argument the way the reference CBLAS xerbla does, by its 1-based
 * position in the cblas_sgemm call; unlike the reference, it does not exit. */
static void xerbla(int param)
{
    fprintf(stderr, "Parameter %d to routine cblas_sgemm was incorrect\n", param);
}

static int max1(int x) { return x > 1 ? x : 1; }

/* NoTrans, Trans and ConjTrans (= Trans for real matrices); 0 for anything else. */
static int to_nn_trans(enum CBLAS_TRANSPOSE t, nn_trans *out)
{
    switch ((int)t) {
    case CblasNoTrans: *out = NN_NO_TRANS; return 1;
    case CblasTrans:
    case CblasConjTrans: *out = NN_TRANS; return 1;
    }
    return 0;
}

/* One operand of the product, with the caller's parameter numbers for its size
 * (the rows or columns of C it gives) and its leading dimension. */
struct operand {
    nn_trans trans;
    int dim, dim_param;
    const float *p;
    int ld, ld_param;
};

/* The 1-based number of the first bad parameter, in the reference's order, or 0.  On 0,
 * *a and *b hold the column-major form of the call (see below). */
static int check(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE trans_a,
                 enum CBLAS_TRANSPOSE trans_b, int K, int ldc, struct operand *a,
                 struct operand *b)
{
    if (order != CblasRowMajor && order != CblasColMajor)
        return 1;
    if (!to_nn_trans(trans_a, &a->trans))
        return 2;
    if (!to_nn_trans(trans_b, &b->trans))
        return 3;

    /* Put the call in column-major form, as the reference does before it hands it to the
     * Fortran SGEMM: a row-major C = op(A) op(B) is the same memory as the column-major
     * C^T = op(B)^T op(A)^T, so A and B (and M and N) trade places.  Checking in SGEMM's
     * order then names the same parameter as the reference when several are bad. */
    if (order == CblasRowMajor) {
        struct operand t = *a;
        *a = *b;
        *b = t;
    }
    /* Column-major: C (a->dim x b->dim) = op(a) (a->dim x K) * op(b) (K x b->dim). */
    if (a->dim < 0)
        return a->dim_param;
    if (b->dim < 0)
        return b->dim_param;
    if (K < 0)
        return 6;
    if (a->ld < max1(a->trans ? K : a->dim))
        return a->ld_param;
    if (b->ld < max1(b->trans ? b->dim : K))
        return b->ld_param;
    if (ldc < max1(a->dim))
        return 14;
    return 0;
}

void cblas_sgemm(const enum CBLAS_ORDER Order, const enum CBLAS_TRANSPOSE TransA,
                 const enum CBLAS_TRANSPOSE TransB, const int M, const int N, const int K,
                 const float alpha, const float *A, const int lda, const float *B,
                 const int ldb, const float beta, float *C, const int ldc)
{
    struct operand a = { NN_NO_TRANS, M, 4, A, lda, 9 }, b = { NN_NO_TRANS, N, 5, B, ldb, 11 };
    int bad = check(Order, TransA, TransB, K, ldc, &a, &b);
    if (bad) {
        xerbla(bad);
        return;
    }
    /* The column-major C read row-major is C^T (b.dim x a.dim) = op(b)^T op(a)^T: for a
     * row-major call that is nn_sgemm(A, B) itself, for a column-major one nn_sgemm(B, A). */
    nn_status st = nn_sgemm(b.trans, a.trans, b.dim, a.dim, K, alpha, b.p, b.ld, a.p, a.ld,
                            beta, C, ldc);
    /* Only what CBLAS does not check is left: NULL matrices, NN_ISA naming an unusable
     * kernel set, memory. */
    if (st != NN_OK)
        fprintf(stderr, "cblas_sgemm: %s\n", nn_last_error());
}
