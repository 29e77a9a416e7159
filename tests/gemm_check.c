/*
 * tests/gemm_check.c — a standalone SGEMM checker that needs only <nn/engine.h> and
 * libm: no test framework, so it also runs where Criterion cannot (cross-built for
 * AArch64 under qemu-user, see scripts/test-aarch64.sh).
 *
 * For every kernel set the machine supports:
 *  - nn_sgemm against a double-precision reference with 1, 2 and 3 threads, all four
 *    transposes, M, N, K over awkward sizes and a few larger shapes, alpha and beta in
 *    {0, 1, -1.5}, padded leading dimensions whose padding (and guards around each
 *    matrix) must stay untouched, NaN in C whenever beta == 0;
 *  - the same bits whatever the threads, and for a block of C computed alone or as
 *    part of a larger product (operands read in place or packed);
 *  - the epilogue (bias + relu/sigmoid/tanh) against libm, same cases;
 *  - nn_vec_activate against libm and against the fused epilogue, bit for bit;
 *  - nn_maxpool2d_forward's and _backward's 2 x 2 kernels against the scalar set's, bit
 *    for bit, at every row length to 20 windows, with ties and NaNs and the folded ReLU
 *    (test_pool.c checks the scalar set against the rules themselves);
 *  - the three convolution passes on shapes that run by Winograd (3x3, stride 1, 16 or
 *    more channels) against a double direct convolution (test_conv.c does more shapes, on
 *    x86 only).
 * Per element: |C - ref| <= 2 (K + 2) FLT_EPSILON (|alpha| sum_k |a||b| + |beta||C0|),
 * plus 2e-6 (1 + |ref|) after an activation.
 *
 * Prints one line per failed case, then "N passed, N failed"; exits 1 on any failure.
 */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nn/engine.h>

enum { GUARD = 16 };                  /* sentinel floats before and after each matrix */
static const float sentinel = -777.25f;
static const float scalars[3] = {0.0f, 1.0f, -1.5f};
static const double act_tol = 2e-6;

static int passed, failed;
static char where[200]; /* the case under test, for failure lines */

static void report(int ok, const char *fmt, ...)
{
    if (ok) {
        passed++;
        return;
    }
    failed++;
    va_list args;
    va_start(args, fmt);
    printf("FAIL %s: ", where);
    vprintf(fmt, args);
    printf("\n");
    va_end(args);
}

static void *xmalloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "gemm_check: out of memory (%zu bytes)\n", bytes);
        exit(2);
    }
    return p;
}

/* splitmix64, uniform in [-1, 1) on a 2^-23 grid: every value exact in float. */
static uint64_t rng_state = 42;
static float uniform(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (float)((int32_t)(z >> 40) - (1 << 23)) / (float)(1 << 23);
}

static double act_ref(double x, nn_activation act)
{
    switch (act) {
    case NN_ACT_RELU: return x > 0 ? x : 0;
    case NN_ACT_SIGMOID: return 1 / (1 + exp(-x));
    case NN_ACT_TANH: return tanh(x);
    default: return x;
    }
}

static const char *act_name(nn_activation act)
{
    static const char *const names[] = {"none", "relu", "sigmoid", "tanh"};
    return names[act];
}

/* ---- A padded matrix: rows x ld floats between two guards, all sentinel outside
 * the rows x cols block. ------------------------------------------------------------ */

typedef struct matrix {
    int rows, cols, ld;
    float *base, *data; /* data = base + GUARD */
} matrix;

static size_t matrix_floats(const matrix *m) { return (size_t)m->rows * m->ld + 2 * GUARD; }

static matrix matrix_make(int rows, int cols, int pad)
{
    matrix m = {rows, cols, cols + pad > 1 ? cols + pad : 1, NULL, NULL};
    m.base = xmalloc(matrix_floats(&m) * sizeof(float));
    for (size_t i = 0; i < matrix_floats(&m); i++)
        m.base[i] = sentinel;
    m.data = m.base + GUARD;
    return m;
}

static float *at(const matrix *m, int i, int j) { return m->data + (ptrdiff_t)i * m->ld + j; }

/* 1 if every float outside the rows x cols block still holds the sentinel. */
static int padding_intact(const matrix *m)
{
    for (size_t i = 0; i < matrix_floats(m); i++) {
        ptrdiff_t off = (ptrdiff_t)i - GUARD;
        int inside = off >= 0 && off < (ptrdiff_t)m->rows * m->ld && off % m->ld < m->cols;
        if (!inside && memcmp(&m->base[i], &sentinel, sizeof(float)) != 0)
            return 0;
    }
    return 1;
}

/* ---- One problem, its reference, and runs of it on the engine ---------------------- */

typedef struct problem {
    nn_trans ta, tb;
    int M, N, K;
    float alpha, beta;
    nn_gemm_epilogue ep;
    int has_ep;
    matrix A, B, C0; /* C0: C before the call (NaN in the block when beta == 0) */
    float *bias;
    double *want, *tol; /* M x N */
} problem;

static problem problem_make(nn_trans ta, nn_trans tb, int M, int N, int K, float alpha,
                            float beta, int pad, int has_ep, int with_bias, nn_activation act)
{
    problem p = {.ta = ta, .tb = tb, .M = M, .N = N, .K = K, .alpha = alpha, .beta = beta,
                 .has_ep = has_ep};
    p.A = ta == NN_TRANS ? matrix_make(K, M, pad) : matrix_make(M, K, pad);
    p.B = tb == NN_TRANS ? matrix_make(N, K, pad + 1) : matrix_make(K, N, pad + 1);
    p.C0 = matrix_make(M, N, pad + 2);
    for (int i = 0; i < p.A.rows; i++)
        for (int j = 0; j < p.A.cols; j++)
            *at(&p.A, i, j) = uniform();
    for (int i = 0; i < p.B.rows; i++)
        for (int j = 0; j < p.B.cols; j++)
            *at(&p.B, i, j) = uniform();
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
            *at(&p.C0, i, j) = beta == 0.0f ? NAN : uniform();
    p.bias = xmalloc((size_t)N * sizeof(float));
    for (int j = 0; j < N; j++)
        p.bias[j] = 2.0f * uniform();
    p.ep = (nn_gemm_epilogue){.bias = with_bias ? p.bias : NULL, .activation = act};

    p.want = xmalloc((size_t)M * N * sizeof(double));
    p.tol = xmalloc((size_t)M * N * sizeof(double));
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double sum = 0, abs_sum = 0;
            for (int k = 0; k < K; k++) {
                double a = ta == NN_TRANS ? *at(&p.A, k, i) : *at(&p.A, i, k);
                double b = tb == NN_TRANS ? *at(&p.B, j, k) : *at(&p.B, k, j);
                sum += a * b;
                abs_sum += fabs(a * b);
            }
            double c0 = beta == 0.0f ? 0.0 : *at(&p.C0, i, j);
            double want = alpha * sum + beta * c0;
            double tol = 2.0 * (K + 2) * FLT_EPSILON
                         * (fabs(alpha) * abs_sum + fabs(beta) * fabs(c0));
            if (has_ep) {
                want = act_ref(want + (with_bias ? p.bias[j] : 0.0f), act);
                tol += act_tol * (1 + fabs(want));
            }
            p.want[(size_t)i * N + j] = want;
            p.tol[(size_t)i * N + j] = tol;
        }
    }
    return p;
}

static void problem_free(problem *p)
{
    free(p->A.base), free(p->B.base), free(p->C0.base);
    free(p->bias), free(p->want), free(p->tol);
}

/* Runs the problem on the current ISA with `threads` threads and checks it; the
 * result's M x N block goes to out (for the thread-count comparison) if not NULL. */
static void problem_run(const problem *p, nn_isa isa, int threads, float *out)
{
    snprintf(where, sizeof where,
             "isa=%s threads=%d %c%c M=%d N=%d K=%d alpha=%g beta=%g ld=%d,%d,%d%s%s%s",
             nn_isa_name(isa), threads, p->ta ? 'T' : 'N', p->tb ? 'T' : 'N', p->M, p->N, p->K,
             p->alpha, p->beta, p->A.ld, p->B.ld, p->C0.ld, p->has_ep ? " act=" : "",
             p->has_ep ? act_name(p->ep.activation) : "", p->has_ep && p->ep.bias ? "+bias" : "");
    nn_set_num_threads(threads);
    matrix C = p->C0;
    C.base = xmalloc(matrix_floats(&C) * sizeof(float));
    memcpy(C.base, p->C0.base, matrix_floats(&C) * sizeof(float));
    C.data = C.base + GUARD;

    nn_status status = p->has_ep
        ? nn_sgemm_ex(p->ta, p->tb, p->M, p->N, p->K, p->alpha, p->A.data, p->A.ld, p->B.data,
                      p->B.ld, p->beta, C.data, C.ld, &p->ep)
        : nn_sgemm(p->ta, p->tb, p->M, p->N, p->K, p->alpha, p->A.data, p->A.ld, p->B.data,
                   p->B.ld, p->beta, C.data, C.ld);
    if (status != NN_OK) {
        report(0, "status %s: %s", nn_status_string(status), nn_last_error());
        free(C.base);
        return;
    }
    int bad = 0, bad_i = 0, bad_j = 0;
    for (int i = 0; i < p->M; i++) {
        for (int j = 0; j < p->N; j++) {
            double err = fabs(*at(&C, i, j) - p->want[(size_t)i * p->N + j]);
            if (!(err <= p->tol[(size_t)i * p->N + j]) && bad++ == 0)
                bad_i = i, bad_j = j;
            if (out)
                out[(size_t)i * p->N + j] = *at(&C, i, j);
        }
    }
    if (bad)
        report(0, "%d elements off, first C[%d][%d] = %.9g, want %.9g (tol %.3g)", bad, bad_i,
               bad_j, *at(&C, bad_i, bad_j), p->want[(size_t)bad_i * p->N + bad_j],
               p->tol[(size_t)bad_i * p->N + bad_j]);
    else
        report(padding_intact(&C), "wrote outside the M x N block of C (padding or guards)");
    free(C.base);
}

/* Runs a problem on every ISA and thread count; results must not depend on threads. */
static void run_everywhere(const problem *p, const nn_isa *isas, int n_isas)
{
    size_t floats = (size_t)p->M * p->N;
    float *first = xmalloc(floats * sizeof(float)), *out = xmalloc(floats * sizeof(float));
    for (int s = 0; s < n_isas; s++) {
        nn_set_isa(isas[s]);
        for (int threads = 1; threads <= 3; threads++) {
            problem_run(p, isas[s], threads, threads == 1 ? first : out);
            if (threads > 1)
                report(memcmp(first, out, floats * sizeof(float)) == 0,
                       "result differs from the 1-thread result");
        }
    }
    free(first), free(out);
}

/* ---- The cases ---------------------------------------------------------------------- */

static const int sizes[] = {0, 1, 2, 3, 7, 8, 11, 12, 13, 17, 31, 33};
enum { N_SIZES = sizeof sizes / sizeof sizes[0] };
static const int large[][3] = {{97, 61, 130}, {160, 150, 140}, {37, 45, 1030}};

static nn_trans trans_bit(int t, int bit) { return t & bit ? NN_TRANS : NN_NO_TRANS; }

/* Every M, N, K in `sizes` for each transpose pair; alpha, beta and the padding turn
 * with the case so that all nine (alpha, beta) pairs meet every transpose pair. */
static void check_gemm(const nn_isa *isas, int n_isas)
{
    int turn = 0;
    for (int t = 0; t < 4; t++) {
        nn_trans ta = trans_bit(t, 1), tb = trans_bit(t, 2);
        for (int im = 0; im < N_SIZES; im++)
            for (int in = 0; in < N_SIZES; in++)
                for (int ik = 0; ik < N_SIZES; ik++, turn++) {
                    problem p = problem_make(ta, tb, sizes[im], sizes[in], sizes[ik],
                                             scalars[turn % 3], scalars[turn / 3 % 3],
                                             turn % 2 ? 3 : 0, 0, 0, NN_ACT_NONE);
                    run_everywhere(&p, isas, n_isas);
                    problem_free(&p);
                }
        for (size_t s = 0; s < sizeof large / sizeof large[0]; s++)
            for (int ab = 0; ab < 9; ab += 4) { /* (0,0), (1,1), (-1.5,-1.5) */
                problem p = problem_make(ta, tb, large[s][0], large[s][1], large[s][2],
                                         scalars[ab % 3], scalars[ab / 3], 5, 0, 0, NN_ACT_NONE);
                run_everywhere(&p, isas, n_isas);
                problem_free(&p);
            }
    }
}

/* The fused epilogue: every activation, with and without bias, against libm. */
static void check_epilogue(const nn_isa *isas, int n_isas)
{
    static const int ep_sizes[] = {1, 3, 8, 13, 33};
    int turn = 0;
    for (int t = 0; t < 4; t++)
        for (int im = 0; im < 5; im++)
            for (int in = 0; in < 5; in++)
                for (int ik = 0; ik < 5; ik++, turn++) {
                    problem p = problem_make(trans_bit(t, 1), trans_bit(t, 2), ep_sizes[im],
                                             ep_sizes[in], ep_sizes[ik], scalars[turn % 3],
                                             scalars[turn / 3 % 3], turn % 2 ? 2 : 0, 1,
                                             turn / 4 % 2, (nn_activation)(turn % 4));
                    run_everywhere(&p, isas, n_isas);
                    problem_free(&p);
                }
    for (int act = NN_ACT_NONE; act <= NN_ACT_TANH; act++) {
        problem p = problem_make(NN_NO_TRANS, NN_NO_TRANS, 97, 61, 130, -1.5f, 1.0f, 1, 1, 1,
                                 (nn_activation)act);
        run_everywhere(&p, isas, n_isas);
        problem_free(&p);
    }
}

/* The first M x N block of a problem, alone, on a fresh copy of its C0 (the caller frees). */
static float *run_block(const problem *p, int M, int N)
{
    float *c = xmalloc(matrix_floats(&p->C0) * sizeof(float));
    memcpy(c, p->C0.base, matrix_floats(&p->C0) * sizeof(float));
    nn_status status = nn_sgemm(p->ta, p->tb, M, N, p->K, p->alpha, p->A.data, p->A.ld,
                                p->B.data, p->B.ld, p->beta, c + GUARD, p->C0.ld);
    report(status == NN_OK, "status %s: %s", nn_status_string(status), nn_last_error());
    return c;
}

/* A block of C computed alone has the bits it has in the whole product.  The driver
 * reads A or B in place rather than packed when there are few tiles to share it, and
 * the kernels promise the same bits both ways. */
static void check_blocks(const nn_isa *isas, int n_isas)
{
    static const int blocks[][2] = {{5, 100}, {100, 7}, {5, 7}, {1, 1}};
    for (int t = 0; t < 4; t++) {
        problem p = problem_make(trans_bit(t, 1), trans_bit(t, 2), 100, 100, 37, -1.5f, 1.0f,
                                 3, 0, 0, NN_ACT_NONE);
        for (int s = 0; s < n_isas; s++) {
            nn_set_isa(isas[s]);
            nn_set_num_threads(1);
            float *whole = run_block(&p, p.M, p.N);
            for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
                int M = blocks[b][0], N = blocks[b][1], same = 1;
                snprintf(where, sizeof where, "isa=%s %c%c block %dx%d of 100x100 K=37",
                         nn_isa_name(isas[s]), t & 1 ? 'T' : 'N', t & 2 ? 'T' : 'N', M, N);
                float *part = run_block(&p, M, N);
                for (int i = 0; i < M; i++) {
                    size_t off = GUARD + (size_t)i * p.C0.ld;
                    same &= memcmp(part + off, whole + off, (size_t)N * sizeof(float)) == 0;
                }
                report(same, "differs from the same block of the whole product");
                free(part);
            }
            free(whole);
        }
        problem_free(&p);
    }
}

/* The epilogue fused into C = alpha * 1 * x + beta * C with (alpha, beta) = (1, 0): a
 * product, or (0, 1): C scaled only; then the same without it and nn_vec_activate after.
 * Returns the first index where the two differ (their values in got[2]), or n. */
static int first_difference(int n, const float *x, nn_activation act, float alpha, float beta,
                            float got[2])
{
    enum { MAX_N = 128 };
    float one = 1.0f, fused[MAX_N], separate[MAX_N];
    nn_gemm_epilogue ep = {.activation = act};
    memcpy(fused, x, (size_t)n * sizeof(float));
    memcpy(separate, x, (size_t)n * sizeof(float));
    if (nn_sgemm_ex(NN_NO_TRANS, NN_NO_TRANS, 1, n, 1, alpha, &one, 1, x, n, beta, fused, n,
                    &ep) != NN_OK
        || nn_sgemm(NN_NO_TRANS, NN_NO_TRANS, 1, n, 1, alpha, &one, 1, x, n, beta, separate,
                    n) != NN_OK
        || nn_vec_activate(act, (size_t)n, separate) != NN_OK)
        return 0;
    int j = 0;
    while (j < n && memcmp(&fused[j], &separate[j], sizeof(float)) == 0)
        j++;
    got[0] = fused[j < n ? j : 0], got[1] = separate[j < n ? j : 0];
    return j;
}

/* nn_vec_activate gives each element the same bits wherever it sits in the vector (tail
 * or body), the bits the fused epilogue gives it, and agrees with libm. */
static void check_vec_activate(const nn_isa *isas, int n_isas)
{
    enum { N = 67 };
    static const float special[] = {0.0f, -0.0f, 0.3f, -0.3f, 0.29999998f, 0.30000001f, 1e-20f,
                                    -1e-20f, 20.0f, -20.0f, 87.0f, -87.0f, 100.0f, -100.0f, 1e-39f};
    float x[N], whole[N];
    for (int j = 0; j < N; j++)
        x[j] = j < (int)(sizeof special / sizeof special[0]) ? special[j] : 12.0f * uniform();
    for (int s = 0; s < n_isas; s++) {
        nn_set_isa(isas[s]);
        nn_set_num_threads(1);
        for (int a = NN_ACT_NONE; a <= NN_ACT_TANH; a++) {
            nn_activation act = (nn_activation)a;
            snprintf(where, sizeof where, "isa=%s nn_vec_activate act=%s", nn_isa_name(isas[s]),
                     act_name(act));
            memcpy(whole, x, sizeof x);
            nn_status status = nn_vec_activate(act, N, whole);
            report(status == NN_OK, "status %s: %s", nn_status_string(status), nn_last_error());
            for (int j = 0; j < N; j++) {
                float alone = x[j];
                nn_vec_activate(act, 1, &alone);
                double want = act_ref(x[j], act);
                report(memcmp(&alone, &whole[j], sizeof alone) == 0,
                       "x=%.9g: %.9g at index %d, %.9g alone", x[j], whole[j], j, alone);
                report(fabs(whole[j] - want) <= act_tol * (1 + fabs(want)),
                       "x=%.9g: %.9g, libm %.9g", x[j], whole[j], want);
            }
            for (int n = 1; n <= N; n += n < 20 ? 1 : 23) { /* rows ending in every tail */
                float p[2] = {0}, q[2] = {0};
                int product = first_difference(n, x, act, 1.0f, 0.0f, p);
                int scale = first_difference(n, x, act, 0.0f, 1.0f, q);
                report(product == n, "epilogue on C = 1 * x (n=%d) at x=%.9g: %.9g fused, "
                       "%.9g separate", n, x[product < n ? product : 0], p[0], p[1]);
                report(scale == n, "epilogue on C = 0 * x + 1 * C (n=%d) at x=%.9g: %.9g fused, "
                       "%.9g separate", n, x[scale < n ? scale : 0], q[0], q[1]);
            }
        }
    }
}

/* Pools `planes` planes h x w on `isa`: out = y, then the winners, then dx of the
 * backward of dy = x's first outputs with the ReLU folded in. */
static void maxpool_on(nn_isa isa, int planes, int h, int w, const float *x, float *out)
{
    size_t ny = (size_t)planes * (size_t)(h / 2) * (size_t)(w / 2);
    nn_set_isa(isa);
    report(nn_maxpool2d_forward(planes, h, w, 2, 2, x, out, out + ny) == NN_OK, "status: %s",
           nn_last_error());
    report(nn_maxpool2d_backward(planes, h, w, 2, 2, x, out + ny, out, out + 2 * ny) == NN_OK,
           "status: %s", nn_last_error());
}

static void check_maxpool(const nn_isa *isas, int n_isas)
{
    enum { PLANES = 2, MAX_H = 5, MAX_W = 41 };
    float x[PLANES * MAX_H * MAX_W], want[2 * PLANES * MAX_H * MAX_W], got[2 * PLANES * MAX_H * MAX_W];
    for (int h = 2; h <= MAX_H; h++)
        for (int w = 2; w <= MAX_W; w++) {
            size_t n = (size_t)PLANES * (size_t)h * (size_t)w;
            for (size_t i = 0; i < n; i++) /* five levels: ties; a NaN in about one in 9 */
                x[i] = (i * 7 + (size_t)w) % 9 == 0 ? NAN : (float)((int)(uniform() * 2.5f));
            size_t outputs = 2 * (size_t)PLANES * (size_t)(h / 2) * (size_t)(w / 2) + n;
            maxpool_on(NN_ISA_SCALAR, PLANES, h, w, x, want);
            for (int s = 0; s < n_isas; s++) {
                snprintf(where, sizeof where, "maxpool %s %dx%d", nn_isa_name(isas[s]), h, w);
                maxpool_on(isas[s], PLANES, h, w, x, got);
                report(memcmp(got, want, outputs * sizeof(float)) == 0,
                       "y, winners or dx differ from the scalar set's");
            }
        }
    nn_set_isa(isas[n_isas - 1]);
}

/* A 3x3 stride-1 convolution and its output size. */
typedef struct conv_case {
    nn_conv2d_desc d;
    int oh, ow;
} conv_case;

/* ref[k] and the sums of |terms| mag[k] for y (k = 0), dx (1) and dw (2) in double, from
 * each term y[n][o][i][j] += w[o][c][r][t] x[n][c][i + r - pad][j + t - pad]. */
static void conv_reference(const conv_case *cc, const float *x, const float *w, const float *dy,
                           double *ref[3], double *mag[3])
{
    const nn_conv2d_desc *d = &cc->d;
    for (int n = 0; n < d->batch; n++)
        for (int o = 0; o < d->out_channels; o++)
            for (int c = 0; c < d->in_channels; c++)
                for (int i = 0; i < cc->oh; i++)
                    for (int j = 0; j < cc->ow; j++)
                        for (int r = 0; r < 3; r++)
                            for (int t = 0; t < 3; t++) {
                                int yy = i + r - d->pad_h, xx = j + t - d->pad_w;
                                if (yy < 0 || yy >= d->height || xx < 0 || xx >= d->width)
                                    continue;
                                size_t xi = (((size_t)n * d->in_channels + c) * d->height + yy) * d->width + xx;
                                size_t wi = (((size_t)o * d->in_channels + c) * 3 + r) * 3 + t;
                                size_t yi = (((size_t)n * d->out_channels + o) * cc->oh + i) * cc->ow + j;
                                double terms[3] = {(double)w[wi] * x[xi], (double)w[wi] * dy[yi],
                                                   (double)dy[yi] * x[xi]};
                                size_t at[3] = {yi, xi, wi};
                                for (int k = 0; k < 3; k++) {
                                    ref[k][at[k]] += terms[k];
                                    mag[k][at[k]] += fabs(terms[k]);
                                }
                            }
}

static void check_conv_case(const nn_isa *isas, int n_isas, nn_conv2d_desc d)
{
    conv_case cc = {.d = d};
    nn_conv2d_output_size(&d, &cc.oh, &cc.ow);
    size_t n[3] = {(size_t)d.batch * d.out_channels * cc.oh * cc.ow,
                   (size_t)d.batch * d.in_channels * d.height * d.width,
                   (size_t)d.out_channels * d.in_channels * 9};
    double terms[3] = {9.0 * d.in_channels, 9.0 * d.out_channels, (double)d.batch * cc.oh * cc.ow};
    float *x = malloc(n[1] * sizeof *x), *w = malloc(n[2] * sizeof *w), *dy = malloc(n[0] * sizeof *dy);
    float *ws = malloc(nn_conv2d_workspace_floats(&d) * sizeof *ws), *got[3];
    double *ref[3], *mag[3];
    for (int k = 0; k < 3; k++) {
        got[k] = malloc(n[k] * sizeof *got[k]);
        ref[k] = calloc(n[k], sizeof *ref[k]);
        mag[k] = calloc(n[k], sizeof *mag[k]);
    }
    for (size_t i = 0; i < n[1]; i++) x[i] = uniform();
    for (size_t i = 0; i < n[2]; i++) w[i] = uniform();
    for (size_t i = 0; i < n[0]; i++) dy[i] = uniform();
    conv_reference(&cc, x, w, dy, ref, mag);
    static const char *const names[3] = {"y", "dx", "dw"};
    for (int s = 0; s < n_isas; s++) {
        nn_set_isa(isas[s]);
        snprintf(where, sizeof where, "winograd conv %s %dx%dx%dx%d -> %d pad %d",
                 nn_isa_name(isas[s]), d.batch, d.in_channels, d.height, d.width, d.out_channels,
                 d.pad_h);
        report(nn_conv2d_forward(&d, x, w, NULL, NN_ACT_NONE, got[0], ws) == NN_OK &&
                   nn_conv2d_backward_data(&d, dy, w, got[1], ws) == NN_OK &&
                   nn_conv2d_backward_weights(&d, x, dy, got[2], NULL, ws) == NN_OK,
               "status: %s", nn_last_error());
        for (int k = 0; k < 3; k++) {
            size_t bad = 0, first = 0;
            for (size_t i = 0; i < n[k]; i++)
                if (!(fabs(got[k][i] - ref[k][i]) <= 2 * (terms[k] + 2) * FLT_EPSILON * mag[k][i]) &&
                    bad++ == 0)
                    first = i;
            report(bad == 0, "%s: %zu of %zu outside the bound, first [%zu] = %.9g, want %.9g",
                   names[k], bad, n[k], first, got[k][first], ref[k][first]);
        }
    }
    for (int k = 0; k < 3; k++)
        free(got[k]), free(ref[k]), free(mag[k]);
    free(x), free(w), free(dy), free(ws);
    nn_set_isa(isas[n_isas - 1]);
}

static void check_winograd_conv(const nn_isa *isas, int n_isas)
{
    for (int pad = 0; pad <= 2; pad++)
        check_conv_case(isas, n_isas,
                        (nn_conv2d_desc){.batch = 11, .in_channels = 17 + 8 * pad, .height = 7 + pad,
                                         .width = 10, .out_channels = 17, .kernel_h = 3,
                                         .kernel_w = 3, .stride_h = 1, .stride_w = 1, .pad_h = pad,
                                         .pad_w = pad, .dilation_h = 1, .dilation_w = 1});
    /* Wide enough for each column-block width of AVX-512's small_gemm and its short row
     * tiles: 86 outputs (64 + 22, a short vector), 75 inputs. */
    check_conv_case(isas, n_isas,
                    (nn_conv2d_desc){.batch = 3, .in_channels = 75, .height = 9, .width = 6,
                                     .out_channels = 86, .kernel_h = 3, .kernel_w = 3,
                                     .stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1,
                                     .dilation_h = 1, .dilation_w = 1});
}

int main(void)
{
    char info[2048];
    nn_engine_describe(info, sizeof info);
    printf("%s", info);

    nn_isa isas[NN_ISA_COUNT];
    int n_isas = 0;
    for (int isa = 0; isa < NN_ISA_COUNT; isa++)
        if (nn_isa_supported((nn_isa)isa))
            isas[n_isas++] = (nn_isa)isa;
    printf("checking:");
    for (int s = 0; s < n_isas; s++)
        printf(" %s", nn_isa_name(isas[s]));
    printf(" with 1, 2 and 3 threads\n");
    fflush(stdout);

    check_gemm(isas, n_isas);
    check_epilogue(isas, n_isas);
    check_blocks(isas, n_isas);
    check_vec_activate(isas, n_isas);
    check_maxpool(isas, n_isas);
    check_winograd_conv(isas, n_isas);

    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
