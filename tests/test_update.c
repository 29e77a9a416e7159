/*
 * test_update.c — the engine's optimizer updates, nn_sgd_update and nn_adam_update:
 * the same bits on every ISA and for any thread count, and the rejection of bad arguments.
 * The formulas themselves are checked against double precision in test_optimizer.c.
 *
 * Bits, not tolerances: every operation of an update is a correctly rounded float add,
 * multiply, divide or square root, none contracted into an FMA (simd/update.h), so a
 * vector lane, a scalar tail and every ISA compute the same value for an element.
 */
#include <nn/engine.h>

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { STEPS = 3 };

typedef struct update_case {
    const char *name;
    int adam;
    nn_sgd_args sgd;
    nn_adam_args adam_args; /* step is set per step */
} update_case;

static const update_case cases[] = {
    {.name = "sgd", .sgd = {.lr = 0.1f}},
    {.name = "sgd + weight decay", .sgd = {.lr = 0.1f, .weight_decay = 0.01f}},
    {.name = "momentum", .sgd = {.lr = 0.05f, .momentum = 0.9f}},
    {.name = "nesterov + weight decay",
     .sgd = {.lr = 0.02f, .momentum = 0.5f, .nesterov = 1, .weight_decay = 0.05f}},
    {.name = "adam + L2", .adam = 1,
     .adam_args = {.lr = 0.01f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                   .weight_decay = 0.01f}},
    {.name = "adamw", .adam = 1,
     .adam_args = {.lr = 0.01f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                   .weight_decay = 0.1f, .decoupled = 1}},
};
enum { CASES = (int)(sizeof cases / sizeof cases[0]) };

/* Parameters and the three state arrays of one run, each starting one float past a
 * cache line, so that vector loops peel and thread chunks start unaligned. */
typedef struct run {
    size_t n;
    float *base, *p, *g, *m, *v;
} run;

static run run_new(size_t n)
{
    run r = {.n = n, .base = calloc(4 * (n + 16), sizeof(float))};
    cr_assert(r.base, "out of memory");
    r.p = r.base + 1;
    r.g = r.p + n + 16;
    r.m = r.g + n + 16;
    r.v = r.m + n + 16;
    for (size_t i = 0; i < n; i++)
        r.p[i] = (float)(0.5 * sin(0.7 * (double)i + 0.3) + 1e-6 * (double)i);
    return r;
}

/* STEPS updates with gradients of mixed sign and size, on the current ISA and threads. */
static void run_steps(const update_case *c, run *r)
{
    for (int t = 1; t <= STEPS; t++) {
        for (size_t i = 0; i < r->n; i++)
            r->g[i] = (float)(0.3 * cos(1.3 * (double)i + 0.9 * t) - 0.05 * t);
        nn_adam_args a = c->adam_args;
        a.step = t;
        nn_status st = c->adam ? nn_adam_update(r->n, &a, r->p, r->g, r->m, r->v)
                               : nn_sgd_update(r->n, &c->sgd, r->p, r->g, r->m);
        cr_assert(st == NN_OK, "%s: %s", c->name, nn_last_error());
    }
}

/* The first index where two runs differ in p, m or v, or -1. */
static long first_difference(const run *a, const run *b)
{
    const float *x[] = {a->p, a->m, a->v}, *y[] = {b->p, b->m, b->v};
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < a->n; i++)
            if (memcmp(&x[k][i], &y[k][i], sizeof(float)) != 0)
                return (long)i;
    return -1;
}

Test(update, every_isa_gives_the_scalar_bits)
{
    const size_t n = 1003; /* not a multiple of any vector width */
    int compared = 0;
    for (int c = 0; c < CASES; c++) {
        cr_assert(nn_set_isa(NN_ISA_SCALAR) == NN_OK);
        run want = run_new(n);
        run_steps(&cases[c], &want);
        for (int isa = NN_ISA_SCALAR + 1; isa < NN_ISA_COUNT; isa++) {
            if (!nn_isa_supported((nn_isa)isa))
                continue;
            cr_assert(nn_set_isa((nn_isa)isa) == NN_OK);
            run got = run_new(n);
            run_steps(&cases[c], &got);
            long i = first_difference(&got, &want);
            cr_assert(i < 0, "%s on %s: element %ld differs from scalar (p %.9g, want %.9g)",
                      cases[c].name, nn_isa_name((nn_isa)isa), i, got.p[i < 0 ? 0 : i],
                      want.p[i < 0 ? 0 : i]);
            free(got.base);
            compared++;
        }
        free(want.base);
    }
    cr_log_info("%d ISA comparisons", compared);
}

Test(update, same_bits_for_1_2_3_threads)
{
    const size_t n = 1000007; /* enough for 3 threads, not a multiple of 16 */
    for (int c = 0; c < CASES; c++) {
        cr_assert(nn_set_num_threads(1) == NN_OK);
        run want = run_new(n);
        run_steps(&cases[c], &want);
        for (int threads = 2; threads <= 3; threads++) {
            cr_assert(nn_set_num_threads(threads) == NN_OK);
            run got = run_new(n);
            run_steps(&cases[c], &got);
            long i = first_difference(&got, &want);
            cr_assert(i < 0, "%s, %d threads: element %ld differs from 1 thread", cases[c].name,
                      threads, i);
            free(got.base);
        }
        free(want.base);
    }
}

/* The update did run: plain SGD, p = 1 - 0.25 * 2 = 0.5, exactly. */
Test(update, sgd_by_hand_without_velocity)
{
    float p = 1.0f, g = 2.0f;
    nn_sgd_args a = {.lr = 0.25f};
    cr_assert(nn_sgd_update(1, &a, &p, &g, NULL) == NN_OK, "%s", nn_last_error());
    cr_assert(p == 0.5f, "p = %g, want 0.5", p);
    /* A NaN momentum is no momentum > 0: the NULL velocity must not be touched. */
    a.momentum = NAN;
    cr_assert(nn_sgd_update(1, &a, &p, &g, NULL) == NN_OK, "%s", nn_last_error());
}

static void expect_invalid(nn_status st, const char *what, float p)
{
    cr_assert(st == NN_ERR_INVALID_ARGUMENT, "%s: status %d", what, (int)st);
    cr_assert(strlen(nn_last_error()) > 0, "%s: no message", what);
    cr_assert(p == 1.0f, "%s: params changed by a rejected call", what);
}

Test(update, bad_arguments)
{
    float p = 1.0f, g = 0.5f, m = 0.0f, v = 0.0f;
    nn_sgd_args s = {.lr = 0.1f}, mom = {.lr = 0.1f, .momentum = 0.9f};
    nn_adam_args a = {.lr = 0.1f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .step = 1};
    expect_invalid(nn_sgd_update(1, NULL, &p, &g, &v), "sgd: NULL args", p);
    expect_invalid(nn_sgd_update(1, &s, NULL, &g, &v), "sgd: NULL params", p);
    expect_invalid(nn_sgd_update(1, &s, &p, NULL, &v), "sgd: NULL grads", p);
    expect_invalid(nn_sgd_update(1, &mom, &p, &g, NULL), "sgd: momentum, NULL velocity", p);
    expect_invalid(nn_adam_update(1, NULL, &p, &g, &m, &v), "adam: NULL args", p);
    expect_invalid(nn_adam_update(1, &a, NULL, &g, &m, &v), "adam: NULL params", p);
    expect_invalid(nn_adam_update(1, &a, &p, NULL, &m, &v), "adam: NULL grads", p);
    expect_invalid(nn_adam_update(1, &a, &p, &g, NULL, &v), "adam: NULL m", p);
    expect_invalid(nn_adam_update(1, &a, &p, &g, &m, NULL), "adam: NULL v", p);
    a.step = 0;
    expect_invalid(nn_adam_update(1, &a, &p, &g, &m, &v), "adam: step 0", p);
    cr_assert(strstr(nn_last_error(), "step") != NULL, "message: %s", nn_last_error());
    /* Nothing to update: NULL arrays are fine. */
    a.step = 1;
    cr_assert(nn_sgd_update(0, &mom, NULL, NULL, NULL) == NN_OK, "sgd, n = 0");
    cr_assert(nn_adam_update(0, &a, NULL, NULL, NULL, NULL) == NN_OK, "adam, n = 0");
}
