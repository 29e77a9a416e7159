/* tests/consumer/cblas_demo.c — an existing CBLAS program, unchanged: it includes
 * <cblas.h> and calls cblas_sgemm, and links with -lnn_cblas instead of a BLAS.
 * <cblas.h> is either the system's (e.g. OpenBLAS or netlib) or nn's own
 * (-I<prefix>/include/nn).  Exits non-zero on a wrong result. */
#include <stdio.h>
#include <stdlib.h>

#include <cblas.h>

int main(void)
{
    /* The same product in both orders: A = [1 2 3; 4 5 6] (2x3), B = [1 0; 0 1; 1 1]
     * (3x2), C = A B = [4 5; 10 11]. */
    const float A_row[6] = { 1, 2, 3, 4, 5, 6 }, B_row[6] = { 1, 0, 0, 1, 1, 1 };
    const float A_col[6] = { 1, 4, 2, 5, 3, 6 }, B_col[6] = { 1, 0, 1, 0, 1, 1 };
    float C_row[4] = { 1, 1, 1, 1 }, C_col[4] = { 1, 1, 1, 1 };

    /* C = 1 * A B + 2 * C, so C_row/C_col start at 1 and end at A B + 2. */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 2, 2, 3, 1.0f, A_row, 3, B_row, 2,
                2.0f, C_row, 2);
    cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, 2, 2, 3, 1.0f, A_col, 2, B_col, 3,
                2.0f, C_col, 2);

    const float want_row[4] = { 6, 7, 12, 13 }, want_col[4] = { 6, 12, 7, 13 };
    int fails = 0;
    for (int i = 0; i < 4; i++)
        fails += C_row[i] != want_row[i] || C_col[i] != want_col[i];
    if (fails) {
        fprintf(stderr, "cblas_demo: FAILED: row %g %g %g %g, col %g %g %g %g\n", C_row[0],
                C_row[1], C_row[2], C_row[3], C_col[0], C_col[1], C_col[2], C_col[3]);
        return EXIT_FAILURE;
    }
    printf("cblas_demo: ok\n");
    return EXIT_SUCCESS;
}
