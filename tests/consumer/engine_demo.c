/* tests/consumer/engine_demo.c — a program outside the tree that uses the engine's own
 * API (<nn/engine.h>, -lnn_engine).  Exits non-zero on a wrong result. */
#include <stdio.h>
#include <stdlib.h>

#include <nn/engine.h>

static int fails;

static void expect(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "engine_demo: FAILED: %s\n", what);
        fails++;
    }
}

int main(void)
{
    /* A small product with a transpose: A (2x3) times B^T, B stored 2x3. */
    const float A[6] = { 1, 2, 3, 4, 5, 6 }, B[6] = { 1, 0, 1, 0, 1, 0 };
    float C[4] = { -1, -1, -1, -1 };
    expect(nn_sgemm(NN_NO_TRANS, NN_TRANS, 2, 2, 3, 1.0f, A, 3, B, 3, 0.0f, C, 2) == NN_OK,
           "nn_sgemm returned an error");
    expect(C[0] == 4 && C[1] == 2 && C[2] == 10 && C[3] == 5, "C = A B^T is wrong");

    /* A product big enough to take the packed, threaded path: every C[i][j] is
     * K * 1 * 0.5 = 150, exact in float. */
    enum { n = 300 };
    float *X = nn_malloc(n * n * sizeof *X), *Y = nn_malloc(n * n * sizeof *Y),
          *Z = nn_malloc(n * n * sizeof *Z);
    expect(X && Y && Z, "nn_malloc failed");
    if (X && Y && Z) {
        for (int i = 0; i < n * n; i++) {
            X[i] = 1.0f;
            Y[i] = 0.5f;
        }
        expect(nn_sgemm(NN_NO_TRANS, NN_NO_TRANS, n, n, n, 1.0f, X, n, Y, n, 0.0f, Z, n) == NN_OK,
               "large nn_sgemm returned an error");
        int wrong = 0;
        for (int i = 0; i < n * n; i++)
            wrong += Z[i] != 150.0f;
        expect(wrong == 0, "large product is wrong");
    }
    nn_free(X);
    nn_free(Y);
    nn_free(Z);

    /* Bad input is a status and a message, never an exit. */
    expect(nn_sgemm(NN_NO_TRANS, NN_NO_TRANS, -1, 2, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2) ==
               NN_ERR_INVALID_ARGUMENT,
           "M = -1 was accepted");
    expect(nn_last_error()[0] != '\0', "no error message for M = -1");

    if (fails)
        return EXIT_FAILURE;
    printf("engine_demo: ok (%s kernels, %d threads)\n", nn_isa_name(nn_get_isa()),
           nn_get_num_threads());
    return EXIT_SUCCESS;
}
