/*
 * <nn/cblas.h> — the CBLAS interface to the engine's SGEMM, for programs written
 * against CBLAS.  Link with -lnn_cblas (it pulls in -lnn_engine).
 *
 * Only cblas_sgemm is provided.  The enums and the prototype are those of the reference
 * (netlib) and OpenBLAS cblas.h, so a program that includes <cblas.h> builds unchanged
 * against this header (-I<prefix>/include/nn) or against its own cblas.h, and links
 * with -lnn_cblas.  This header is self-contained: it needs nothing else from <nn/>.
 */
#ifndef NN_CBLAS_H
#define NN_CBLAS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Storage order of every matrix of a call.  CBLAS_LAYOUT is the newer netlib name. */
typedef enum CBLAS_ORDER { CblasRowMajor = 101, CblasColMajor = 102 } CBLAS_ORDER;
#define CBLAS_LAYOUT CBLAS_ORDER

/* op(X) = X, X^T, or X^H (the same as X^T for real matrices). */
typedef enum CBLAS_TRANSPOSE {
    CblasNoTrans = 111,
    CblasTrans = 112,
    CblasConjTrans = 113
} CBLAS_TRANSPOSE;

/*
 * C = alpha * op(A) * op(B) + beta * C, with op(A) M x K, op(B) K x N and C M x N,
 * every matrix stored in Order with its leading dimension (lda, ldb, ldc).
 *
 * Row-major calls go straight to nn_sgemm; column-major ones are computed as the
 * row-major C^T = op(B)^T op(A)^T, which is the same memory.  beta == 0 overwrites C
 * without reading it.  On an invalid argument it prints, like the reference xerbla,
 * "Parameter N to routine cblas_sgemm was incorrect" to stderr (N numbers the
 * parameters from 1 = Order to 14 = ldc) and returns with C untouched; it never exits.
 */
void cblas_sgemm(const enum CBLAS_ORDER Order, const enum CBLAS_TRANSPOSE TransA,
                 const enum CBLAS_TRANSPOSE TransB, const int M, const int N, const int K,
                 const float alpha, const float *A, const int lda, const float *B,
                 const int ldb, const float beta, float *C, const int ldc);

#ifdef __cplusplus
}
#endif

#endif /* NN_CBLAS_H */
