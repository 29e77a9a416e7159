/*
 * test_loss.c — nn_loss_compute: values, gradients, the fused softmax + cross-entropy,
 * and extreme inputs.
 *
 * Gradient checks: batch 3, width 5, random outputs; each output (or logit) v is moved by
 * +-h, h = 1e-3, and the central difference (L+ - L-) / (v+ - v-) is taken in double with
 * v+- the perturbed values as stored in float (an exact step).  The loss is accumulated in
 * double, so only truncation, h^2 |L'''| / 6 (< 2e-5 with outputs kept in [0.2, 1] for
 * cross-entropy on probabilities), and the float rounding of the gradient remain.  Bound:
 *     |analytic - numeric| <= GRAD_TOL * max(|analytic|, |numeric|, GRAD_FLOOR)
 * with GRAD_TOL = 1e-4 and GRAD_FLOOR = 1e-2.  The loss uses no ISA kernels today; the
 * checks still run under every ISA this machine supports so that a vectorized loss would
 * be covered.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "../layers/internal.h"

#define GRAD_H 1e-3
#define GRAD_TOL 1e-4
#define GRAD_FLOOR 1e-2
#define BATCH 3
#define WIDTH 5
#define N (BATCH * WIDTH)

/* One loss problem: outputs y, or logits z with y = softmax(z), and targets. */
typedef struct problem {
    nn_loss loss;
    int use_logits;
    float y[N], z[N], target[N];
    int32_t labels[BATCH];
    nn_targets t;
} problem;

/* y [batch x width] = softmax of each row of z, in double. */
static void softmax_rows(float *y, const float *z, int batch, int width)
{
    for (int r = 0; r < batch; r++) {
        const float *zr = z + r * width;
        double max = zr[0], sum = 0.0;
        for (int j = 1; j < width; j++)
            max = fmax(max, zr[j]);
        for (int j = 0; j < width; j++)
            sum += exp(zr[j] - max);
        for (int j = 0; j < width; j++)
            y[r * width + j] = (float)(exp(zr[j] - max) / sum);
    }
}

static double loss_of(problem *p, float *grad)
{
    if (p->use_logits)
        softmax_rows(p->y, p->z, BATCH, WIDTH);
    return nn_loss_compute(p->loss, p->y, p->use_logits ? p->z : NULL, p->t, BATCH, WIDTH, grad);
}

enum target_kind { LABELS, ONE_HOT, SOFT };

/* Outputs in [0.2, 1], logits in [-3, 3], labels r + 1 (one-hot or as labels), or soft
 * targets in [0, 1]. */
static void problem_make(problem *p, nn_loss loss, int use_logits, enum target_kind kind)
{
    nn_rng rng;
    nn_rng_seed(&rng, 0x1055);
    memset(p, 0, sizeof *p);
    p->loss = loss;
    p->use_logits = use_logits;
    for (int i = 0; i < N; i++) {
        p->y[i] = (float)(0.2 + 0.8 * nn_rng_uniform(&rng));
        p->z[i] = (float)(6 * nn_rng_uniform(&rng) - 3);
        p->target[i] = kind == SOFT ? (float)nn_rng_uniform(&rng) : 0.0f;
    }
    for (int r = 0; r < BATCH; r++) {
        p->labels[r] = r + 1;
        if (kind == ONE_HOT)
            p->target[r * WIDTH + r + 1] = 1.0f;
    }
    p->t = kind == LABELS ? (nn_targets){.labels = p->labels} : (nn_targets){.y = p->target};
}

static double numeric_derivative(problem *p, float *v)
{
    float saved = *v;
    *v = (float)(saved + GRAD_H);
    double plus = loss_of(p, NULL), step = *v;
    *v = (float)(saved - GRAD_H);
    double minus = loss_of(p, NULL);
    step -= *v;
    *v = saved;
    return (plus - minus) / step;
}

static void check_gradient(problem *p, const char *what)
{
    float grad[N];
    loss_of(p, grad);
    float *v = p->use_logits ? p->z : p->y;
    for (int i = 0; i < N; i++) {
        double a = grad[i], num = numeric_derivative(p, &v[i]);
        double tol = GRAD_TOL * fmax(fmax(fabs(a), fabs(num)), GRAD_FLOOR);
        cr_assert(fabs(a - num) <= tol, "%s on %s: d/d%s[%d] analytic %.8g, numeric %.8g", what,
                  nn_isa_name(nn_get_isa()), p->use_logits ? "z" : "y", i, a, num);
    }
}

static void check_on_every_isa(nn_loss loss, int use_logits, enum target_kind kind,
                               const char *what)
{
    for (int isa = 0; isa < NN_ISA_COUNT; isa++) {
        if (!nn_isa_supported((nn_isa)isa))
            continue;
        cr_assert(nn_set_isa((nn_isa)isa) == NN_OK, "%s", nn_last_error());
        problem p;
        problem_make(&p, loss, use_logits, kind);
        check_gradient(&p, what);
    }
}

Test(gradient, mse_targets) { check_on_every_isa(NN_LOSS_MSE, 0, SOFT, "mse"); }
Test(gradient, mse_labels) { check_on_every_isa(NN_LOSS_MSE, 0, LABELS, "mse labels"); }
Test(gradient, ce_labels) { check_on_every_isa(NN_LOSS_CROSS_ENTROPY, 0, LABELS, "ce labels"); }
Test(gradient, ce_one_hot) { check_on_every_isa(NN_LOSS_CROSS_ENTROPY, 0, ONE_HOT, "ce one-hot"); }
Test(gradient, ce_soft) { check_on_every_isa(NN_LOSS_CROSS_ENTROPY, 0, SOFT, "ce soft"); }
Test(gradient, softmax_ce_labels)
{
    check_on_every_isa(NN_LOSS_CROSS_ENTROPY, 1, LABELS, "softmax+ce labels");
}
Test(gradient, softmax_ce_one_hot)
{
    check_on_every_isa(NN_LOSS_CROSS_ENTROPY, 1, ONE_HOT, "softmax+ce one-hot");
}

/* ---- Values -------------------------------------------------------------------------------- */

Test(loss, mse_value)
{
    const float y[] = {1, 2, 0, 3}, t[] = {0, 0, 1, 1};
    float dy[4];
    /* rows: (1 + 4) / 2 = 2.5 and (1 + 4) / 2 = 2.5; mean 2.5 */
    double l = nn_loss_compute(NN_LOSS_MSE, y, NULL, (nn_targets){.y = t}, 2, 2, dy);
    cr_assert(l == 2.5, "mse = %.17g, want 2.5", l);
    const float want[] = {0.5f, 1.0f, -0.5f, 1.0f};
    cr_assert(memcmp(dy, want, sizeof want) == 0, "dy = %g %g %g %g", dy[0], dy[1], dy[2], dy[3]);
}

Test(loss, labels_equal_one_hot_and_null_dy_gives_the_same_loss)
{
    for (int logits = 0; logits < 2; logits++)
        for (nn_loss loss = NN_LOSS_MSE; loss <= NN_LOSS_CROSS_ENTROPY; loss++) {
            problem a, b;
            problem_make(&a, loss, logits, LABELS);
            problem_make(&b, loss, logits, ONE_HOT);
            float ga[N], gb[N];
            double la = loss_of(&a, ga), lb = loss_of(&b, gb), lnull = loss_of(&a, NULL);
            cr_assert(la == lb && la == lnull, "%s: labels %.17g, one-hot %.17g, no dy %.17g",
                      nn_loss_name(loss), la, lb, lnull);
            cr_assert(memcmp(ga, gb, sizeof ga) == 0, "%s: gradients differ", nn_loss_name(loss));
        }
}

/* The fused path gives the loss of cross-entropy on softmax(z). */
Test(loss, fused_equals_cross_entropy_of_softmax)
{
    problem fused, plain;
    problem_make(&fused, NN_LOSS_CROSS_ENTROPY, 1, LABELS);
    double lf = loss_of(&fused, NULL);
    problem_make(&plain, NN_LOSS_CROSS_ENTROPY, 0, LABELS);
    softmax_rows(plain.y, fused.z, BATCH, WIDTH);
    double lp = loss_of(&plain, NULL);
    cr_assert(fabs(lf - lp) <= 1e-6 * fabs(lf), "fused %.9g, plain %.9g", lf, lp);
}

Test(loss, large_logits_are_finite)
{
    /* Row 0's label has the largest logit (loss 0), row 1's the smallest (loss 2e4). */
    const float z[] = {1e4f, -1e4f, 0.0f, -1e4f, 1e4f, 1e4f};
    const int32_t labels[] = {0, 0};
    float y[6], dz[6];
    softmax_rows(y, z, 2, 3);
    double l = nn_loss_compute(NN_LOSS_CROSS_ENTROPY, y, z, (nn_targets){.labels = labels}, 2, 3,
                               dz);
    double want = (0.0 + (1e4 + 1e4 + log(2.0))) / 2;
    cr_assert(isfinite(l) && fabs(l - want) <= 1e-9 * want, "loss %.17g, want %.17g", l, want);
    const float want_dz[] = {0, 0, 0, -0.5f, 0.25f, 0.25f};
    for (int i = 0; i < 6; i++)
        cr_assert(isfinite(dz[i]) && fabs(dz[i] - want_dz[i]) <= 1e-7, "dz[%d] = %g, want %g", i,
                  dz[i], want_dz[i]);
}

Test(loss, zero_probability_is_guarded)
{
    const float y[] = {0.0f, 1.0f};
    const int32_t label = 0;
    float dy[2];
    double l = nn_loss_compute(NN_LOSS_CROSS_ENTROPY, y, NULL, (nn_targets){.labels = &label}, 1,
                               2, dy);
    cr_assert(isfinite(l) && l > 20.0, "loss %g for p = 0", l);
    cr_assert(isfinite(dy[0]) && dy[0] < 0.0f && dy[1] == 0.0f, "dy = %g %g", dy[0], dy[1]);
}

/* The cross-entropy guard must not hide a NaN output (fit stops on a NaN loss). */
Test(loss, nan_outputs_give_a_nan_loss)
{
    const float y[] = {NAN, 0.5f}, z[] = {0.5f, NAN};
    const int32_t label = 0;
    nn_targets t = {.labels = &label};
    cr_assert(isnan(nn_loss_compute(NN_LOSS_CROSS_ENTROPY, y, NULL, t, 1, 2, NULL)));
    cr_assert(isnan(nn_loss_compute(NN_LOSS_CROSS_ENTROPY, y, z, t, 1, 2, NULL)));
    cr_assert(isnan(nn_loss_compute(NN_LOSS_MSE, y, NULL, t, 1, 2, NULL)));
}

Test(loss, label_out_of_range_is_nan)
{
    const float y[] = {0.5f, 0.5f};
    const int32_t labels[] = {2, -1};
    for (int i = 0; i < 2; i++) {
        nn_targets t = {.labels = &labels[i]};
        cr_assert(isnan(nn_loss_compute(NN_LOSS_CROSS_ENTROPY, y, NULL, t, 1, 2, NULL)));
        cr_assert(isnan(nn_loss_compute(NN_LOSS_MSE, y, NULL, t, 1, 2, NULL)));
    }
}

Test(loss, names_parse_back)
{
    for (nn_loss loss = NN_LOSS_MSE; loss <= NN_LOSS_CROSS_ENTROPY; loss++) {
        nn_loss parsed;
        cr_assert(nn_loss_parse(nn_loss_name(loss), &parsed) == NN_OK && parsed == loss);
    }
    cr_assert_str_eq(nn_loss_name(NN_LOSS_MSE), "mse");
    cr_assert_str_eq(nn_loss_name(NN_LOSS_CROSS_ENTROPY), "cross_entropy");
    cr_assert_str_eq(nn_loss_name((nn_loss)7), "unknown");
    nn_loss parsed;
    cr_assert(nn_loss_parse("hinge", &parsed) == NN_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(nn_last_error(), "hinge") != NULL, "message: %s", nn_last_error());
    cr_assert(nn_loss_parse(NULL, &parsed) == NN_ERR_INVALID_ARGUMENT);
}
