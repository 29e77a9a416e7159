/*
 * test_optimizer.c — optimizer steps against the formulas evaluated in double, schedules at
 * their breakpoints, names, and the rejection of bad settings.
 *
 * Each step test runs 3 updates of N parameters (N not a multiple of any vector width, so
 * the vectorized body and its tail both run) and compares with a double-precision
 * reference written from the formulas in optimizer.c's header comment.
 */
#include "../layers/internal.h"

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

enum { N = 37, STEPS = 3 };

/* Deterministic parameters and per-step gradients of mixed sign and size. */
static double param0(int i) { return 0.5 * sin(0.7 * i + 0.3) + 0.01 * i; }
static double grad_at(int step, int i) { return 0.3 * cos(1.3 * i + 0.9 * step) - 0.05 * step; }

typedef struct run {
    float p[N], g[N], state[2 * N];
} run;

static void run_init(run *r)
{
    memset(r, 0, sizeof *r);
    for (int i = 0; i < N; i++) r->p[i] = (float)param0(i);
}

static void set_grads(run *r, int step)
{
    for (int i = 0; i < N; i++) r->g[i] = (float)grad_at(step, i);
}

static void assert_close(const float *got, const double *want, const char *what, int step)
{
    for (int i = 0; i < N; i++) {
        double tol = 2e-6 * fmax(1.0, fabs(want[i]));
        cr_assert(fabs(got[i] - want[i]) <= tol, "%s, step %d, [%d]: %.9g, want %.9g", what,
                  step, i, got[i], want[i]);
    }
}

/* ---- SGD ---------------------------------------------------------------------------- */

/* The double reference of SGD: g = grad + wd p; v = mu v + g; update = nesterov ? g + mu v
 * : (mu > 0 ? v : g); p -= lr update. */
static void check_sgd(float lr, float mu, int nesterov, float wd, const char *what)
{
    nn_optimizer o = nn_sgd(lr);
    o.momentum = mu, o.nesterov = nesterov, o.weight_decay = wd;
    cr_assert(nn_optimizer_check(&o) == NN_OK, "%s: %s", what, nn_last_error());
    cr_assert(nn_optimizer_state_per_param(&o) == (mu > 0 ? 1 : 0), "%s: state size", what);
    run r;
    run_init(&r);
    double p[N], v[N] = {0};
    for (int i = 0; i < N; i++) p[i] = r.p[i];
    for (int t = 1; t <= STEPS; t++) {
        set_grads(&r, t);
        nn_optimizer_step(&o, lr, t, r.p, r.g, r.state, N);
        for (int i = 0; i < N; i++) {
            double g = grad_at(t, i) + (double)wd * p[i];
            v[i] = (double)mu * v[i] + g;
            double update = mu > 0 ? (nesterov ? g + (double)mu * v[i] : v[i]) : g;
            p[i] -= (double)lr * update;
        }
        assert_close(r.p, p, what, t);
        if (mu > 0) assert_close(r.state, v, "momentum buffer", t);
    }
}

Test(sgd, plain) { check_sgd(0.1f, 0.0f, 0, 0.0f, "plain sgd"); }
Test(sgd, momentum) { check_sgd(0.05f, 0.9f, 0, 0.0f, "momentum"); }
Test(sgd, nesterov) { check_sgd(0.05f, 0.9f, 1, 0.0f, "nesterov"); }
Test(sgd, weight_decay) { check_sgd(0.1f, 0.0f, 0, 0.01f, "sgd + weight decay"); }
Test(sgd, everything) { check_sgd(0.02f, 0.5f, 1, 0.05f, "nesterov + weight decay"); }

/* Two numbers by hand: p = 1, g = 0.5, lr 0.1, mu 0.9.
 * step 1: v = 0.5, p = 1 - 0.05 = 0.95; step 2 (g = 0.5): v = 0.95, p = 0.95 - 0.095 = 0.855.
 * Nesterov, step 1: v = 0.5, update = 0.5 + 0.45 = 0.95, p = 0.905. */
Test(sgd, by_hand)
{
    nn_optimizer o = nn_sgd(0.1f);
    o.momentum = 0.9f;
    float p = 1.0f, g = 0.5f, v = 0.0f;
    nn_optimizer_step(&o, 0.1f, 1, &p, &g, &v, 1);
    cr_assert(fabsf(p - 0.95f) < 1e-6f && fabsf(v - 0.5f) < 1e-6f, "step 1: p %g v %g", p, v);
    nn_optimizer_step(&o, 0.1f, 2, &p, &g, &v, 1);
    cr_assert(fabsf(p - 0.855f) < 1e-6f && fabsf(v - 0.95f) < 1e-6f, "step 2: p %g v %g", p, v);
    o.nesterov = 1;
    p = 1.0f, v = 0.0f;
    nn_optimizer_step(&o, 0.1f, 1, &p, &g, &v, 1);
    cr_assert(fabsf(p - 0.905f) < 1e-6f, "nesterov step 1: p %g", p);
}

/* ---- Adam, AdamW ------------------------------------------------------------------ */

/* The double reference: AdamW first p -= lr wd p; Adam's g = grad + wd p (L2); then
 * m, v, mhat = m / (1 - b1^t), vhat = v / (1 - b2^t), p -= lr mhat / (sqrt(vhat) + eps). */
static void check_adam(nn_optimizer o, const char *what)
{
    cr_assert(nn_optimizer_check(&o) == NN_OK, "%s: %s", what, nn_last_error());
    cr_assert(nn_optimizer_state_per_param(&o) == 2, "%s: state size", what);
    double b1 = o.beta1, b2 = o.beta2, eps = o.eps, lr = o.lr, wd = o.weight_decay;
    int decoupled = o.kind == NN_OPT_ADAMW;
    run r;
    run_init(&r);
    double p[N], m[N] = {0}, v[N] = {0};
    for (int i = 0; i < N; i++) p[i] = r.p[i];
    for (int t = 1; t <= STEPS; t++) {
        set_grads(&r, t);
        nn_optimizer_step(&o, o.lr, t, r.p, r.g, r.state, N);
        for (int i = 0; i < N; i++) {
            if (decoupled) p[i] -= lr * wd * p[i];
            double g = grad_at(t, i) + (decoupled ? 0.0 : wd * p[i]);
            m[i] = b1 * m[i] + (1 - b1) * g;
            v[i] = b2 * v[i] + (1 - b2) * g * g;
            double mhat = m[i] / (1 - pow(b1, t)), vhat = v[i] / (1 - pow(b2, t));
            p[i] -= lr * mhat / (sqrt(vhat) + eps);
        }
        assert_close(r.p, p, what, t);
        assert_close(r.state, m, "first moment", t);
        assert_close(r.state + N, v, "second moment", t);
    }
}

Test(adam, defaults)
{
    nn_optimizer o = nn_adam(0.001f);
    cr_assert(o.kind == NN_OPT_ADAM && o.beta1 == 0.9f && o.beta2 == 0.999f && o.eps == 1e-8f &&
                  o.weight_decay == 0.0f && o.schedule.kind == NN_SCHEDULE_CONSTANT,
              "nn_adam defaults");
    check_adam(o, "adam");
}

Test(adam, other_betas)
{
    nn_optimizer o = nn_adam(0.01f);
    o.beta1 = 0.5f, o.beta2 = 0.9f, o.eps = 1e-3f;
    check_adam(o, "adam b1 .5 b2 .9 eps 1e-3");
}

Test(adam, l2_weight_decay) {
    nn_optimizer o = nn_adam(0.01f);
    o.weight_decay = 0.1f;
    check_adam(o, "adam + L2");
}

Test(adamw, decoupled_decay)
{
    nn_optimizer o = nn_adamw(0.01f, 0.1f);
    cr_assert(o.kind == NN_OPT_ADAMW && o.weight_decay == 0.1f && o.beta1 == 0.9f,
              "nn_adamw settings");
    check_adam(o, "adamw");
}

/* With zero gradients Adam's update is 0 / (0 + eps) = 0, so AdamW only decays:
 * p_t = p_0 (1 - lr wd)^t, and Adam leaves p alone. */
Test(adamw, zero_gradient_only_decays)
{
    float p[3] = {1.0f, -2.0f, 0.5f}, g[3] = {0}, state[6] = {0};
    nn_optimizer o = nn_adamw(0.1f, 0.5f);
    for (int t = 1; t <= 2; t++) nn_optimizer_step(&o, 0.1f, t, p, g, state, 3);
    const double k = (1 - 0.05) * (1 - 0.05);
    cr_assert(fabs(p[0] - k) < 1e-6 && fabs(p[1] + 2 * k) < 1e-6 && fabs(p[2] - 0.5 * k) < 1e-6,
              "adamw decay: %g %g %g", p[0], p[1], p[2]);
    nn_optimizer a = nn_adam(0.1f);
    float q = 1.5f, s[2] = {0};
    nn_optimizer_step(&a, 0.1f, 1, &q, g, s, 1);
    cr_assert(q == 1.5f, "adam moved a parameter with zero gradient: %g", q);
}

/* At t = 1 the bias corrections make mhat = g and vhat = g^2, so the step is
 * lr g / (|g| + eps) ~ lr sign(g).  Without them it would be 0.1 g / sqrt(0.001) g ~ 3.16 lr.
 * With g = 1e-4, eps inside the root would give g / sqrt(g^2 + eps) = 0.707 instead of
 * g / (|g| + eps) = 0.9999. */
Test(adam, bias_correction_and_eps_outside_sqrt)
{
    nn_optimizer o = nn_adam(0.01f);
    const float gs[] = {0.5f, -2.0f, 1e-4f};
    for (int k = 0; k < 3; k++) {
        float p = 1.0f, g = gs[k], s[2] = {0};
        nn_optimizer_step(&o, 0.01f, 1, &p, &g, s, 1);
        double want = 1.0 - 0.01 * g / (fabs(g) + 1e-8);
        cr_assert(fabs(p - want) < 1e-7, "g = %g: p %.9g, want %.9g", g, p, want);
    }
    /* Step 2 with the same gradient: mhat = g and vhat = g^2 again. */
    float p = 1.0f, g = 1e-4f, s[2] = {0};
    nn_optimizer_step(&o, 0.01f, 1, &p, &g, s, 1);
    nn_optimizer_step(&o, 0.01f, 2, &p, &g, s, 1);
    double want = 1.0 - 2 * 0.01 * 1e-4 / (1e-4 + 1e-8);
    cr_assert(fabs(p - want) < 1e-7, "step 2: p %.9g, want %.9g", p, want);
}

/* The step uses the lr it is given (the scheduled rate), not o->lr. */
Test(optimizer, uses_given_lr)
{
    nn_optimizer o = nn_sgd(1.0f);
    float p = 1.0f, g = 1.0f;
    nn_optimizer_step(&o, 0.25f, 1, &p, &g, NULL, 1);
    cr_assert(p == 0.75f, "p = %g, want 0.75", p);
}

Test(optimizer, state_per_param)
{
    nn_optimizer o = nn_sgd(0.1f);
    cr_assert(nn_optimizer_state_per_param(&o) == 0, "plain sgd");
    o.momentum = 0.9f;
    cr_assert(nn_optimizer_state_per_param(&o) == 1, "momentum");
    o = nn_adam(0.1f);
    cr_assert(nn_optimizer_state_per_param(&o) == 2, "adam");
    o = nn_adamw(0.1f, 0.01f);
    cr_assert(nn_optimizer_state_per_param(&o) == 2, "adamw");
}

/* ---- Schedules ---------------------------------------------------------------------- */

static void assert_lr(const nn_schedule *s, float lr, double epoch, double want)
{
    float got = nn_schedule_lr(s, lr, epoch);
    cr_assert(fabs(got - want) <= 1e-7 * fmax(1.0, want), "schedule %d, epoch %g: %.9g, want %.9g",
              s->kind, epoch, got, want);
}

Test(schedule, constant)
{
    nn_schedule s = {.kind = NN_SCHEDULE_CONSTANT};
    for (int e = 0; e < 100; e += 7) assert_lr(&s, 0.04f, e, 0.04f);
    nn_optimizer o = nn_sgd(0.04f);
    assert_lr(&o.schedule, 0.04f, 1000, 0.04f);
}

/* lr gamma^floor(epoch / step_epochs), lr 0.1, gamma 0.5, every 3 epochs. */
Test(schedule, step_boundaries)
{
    nn_schedule s = {.kind = NN_SCHEDULE_STEP, .step_epochs = 3, .gamma = 0.5f};
    const int epochs[] = {0, 1, 2, 3, 5, 6, 8, 9, 30};
    const double factor[] = {1, 1, 1, 0.5, 0.5, 0.25, 0.25, 0.125, 1.0 / 1024}; /* 0.5^(e/3) */
    for (int k = 0; k < 9; k++) assert_lr(&s, 0.1f, epochs[k], (double)0.1f * factor[k]);
    assert_lr(&s, 0.1f, 2.99, (double)0.1f); /* within an epoch: whole epochs only */
    assert_lr(&s, 0.1f, 3.5, (double)0.1f * 0.5);
}

/* min_lr + (lr - min_lr) (1 + cos(pi min(epoch, epochs) / epochs)) / 2, lr 0.1, min 0.01. */
Test(schedule, cosine_breakpoints)
{
    nn_schedule s = {.kind = NN_SCHEDULE_COSINE, .epochs = 10, .min_lr = 0.01f};
    const double lr = (float)0.1, lo = (float)0.01;
    assert_lr(&s, 0.1f, 0, lr);
    assert_lr(&s, 0.1f, 5, (lr + lo) / 2);
    assert_lr(&s, 0.1f, 10, lo);
    assert_lr(&s, 0.1f, 11, lo);
    assert_lr(&s, 0.1f, 1000, lo);
    assert_lr(&s, 0.1f, 2, lo + (lr - lo) * (1 + cos(3.14159265358979323846 * 0.2)) / 2);
    /* monotone decreasing in between */
    for (int e = 1; e <= 10; e++)
        cr_assert(nn_schedule_lr(&s, 0.1f, e) < nn_schedule_lr(&s, 0.1f, e - 1),
                  "cosine rose at epoch %d", e);
    /* and continuous within an epoch (fit asks per step) */
    assert_lr(&s, 0.1f, 2.5, lo + (lr - lo) * (1 + cos(3.14159265358979323846 * 0.25)) / 2);
}

/* ---- Names and settings ------------------------------------------------------------- */

Test(optimizer, names_parse_back)
{
    const char *names[] = {"sgd", "adam", "adamw"};
    for (int k = 0; k < 3; k++) {
        cr_assert(strcmp(nn_optimizer_name((nn_optimizer_kind)k), names[k]) == 0, "kind %d: %s",
                  k, nn_optimizer_name((nn_optimizer_kind)k));
        nn_optimizer_kind kind = NN_OPT_SGD;
        cr_assert(nn_optimizer_parse(names[k], &kind) == NN_OK && kind == (nn_optimizer_kind)k,
                  "\"%s\" parsed to %d", names[k], kind);
    }
    nn_optimizer_kind kind;
    cr_assert(nn_optimizer_parse("rmsprop", &kind) == NN_ERR_INVALID_ARGUMENT, "rmsprop parsed");
    cr_assert(strstr(nn_last_error(), "rmsprop") != NULL, "message: %s", nn_last_error());
    cr_assert(nn_optimizer_parse(NULL, &kind) == NN_ERR_INVALID_ARGUMENT, "NULL parsed");
}

Test(optimizer, good_settings_accepted)
{
    nn_optimizer good[6] = {nn_sgd(0.04f), nn_adam(1e-3f), nn_adamw(1e-3f, 0.01f), nn_sgd(0.1f),
                            nn_sgd(0.1f), nn_adam(0.1f)};
    good[3].momentum = 0.9f, good[3].nesterov = 1, good[3].weight_decay = 1e-4f;
    good[4].schedule = (nn_schedule){.kind = NN_SCHEDULE_STEP, .step_epochs = 1, .gamma = 1.0f};
    good[5].schedule = (nn_schedule){.kind = NN_SCHEDULE_COSINE, .epochs = 1, .min_lr = 0.1f};
    for (int k = 0; k < 6; k++)
        cr_assert(nn_optimizer_check(&good[k]) == NN_OK, "setting %d rejected: %s", k,
                  nn_last_error());
}

/* Each bad optimizer must be rejected with a message naming `field`. */
static void expect_rejected(nn_optimizer o, const char *field)
{
    cr_assert(nn_optimizer_check(&o) == NN_ERR_INVALID_ARGUMENT, "bad %s accepted", field);
    cr_assert(strstr(nn_last_error(), field) != NULL, "message for bad %s: %s", field,
              nn_last_error());
}

Test(optimizer, bad_settings_rejected)
{
    nn_optimizer o;
    const float bad_lr[] = {0.0f, -0.1f, NAN, INFINITY};
    for (int k = 0; k < 4; k++) { o = nn_sgd(bad_lr[k]); expect_rejected(o, "lr"); }
    const float bad_unit[] = {1.0f, -0.1f, NAN, 1.5f};
    for (int k = 0; k < 4; k++) {
        o = nn_sgd(0.1f), o.momentum = bad_unit[k], expect_rejected(o, "momentum");
        o = nn_adam(0.1f), o.beta1 = bad_unit[k], expect_rejected(o, "beta1");
        o = nn_adamw(0.1f, 0.0f), o.beta2 = bad_unit[k], expect_rejected(o, "beta2");
    }
    o = nn_sgd(0.1f), o.nesterov = 1, expect_rejected(o, "nesterov");
    o = nn_adam(0.1f), o.eps = 0.0f, expect_rejected(o, "eps");
    o = nn_adam(0.1f), o.eps = NAN, expect_rejected(o, "eps");
    o = nn_adamw(0.1f, -0.01f), expect_rejected(o, "weight_decay");
    o = nn_sgd(0.1f), o.weight_decay = NAN, expect_rejected(o, "weight_decay");
    o = nn_sgd(0.1f), o.kind = (nn_optimizer_kind)7, expect_rejected(o, "optimizer");
    cr_assert(nn_optimizer_check(NULL) == NN_ERR_INVALID_ARGUMENT, "NULL accepted");
}

Test(optimizer, bad_schedules_rejected)
{
    nn_optimizer o = nn_sgd(0.1f);
    o.schedule = (nn_schedule){.kind = NN_SCHEDULE_STEP, .step_epochs = 0, .gamma = 0.5f};
    expect_rejected(o, "step_epochs");
    const float bad_gamma[] = {0.0f, -0.5f, 1.5f, NAN};
    for (int k = 0; k < 4; k++) {
        o.schedule = (nn_schedule){.kind = NN_SCHEDULE_STEP, .step_epochs = 2, .gamma = bad_gamma[k]};
        expect_rejected(o, "gamma");
    }
    o.schedule = (nn_schedule){.kind = NN_SCHEDULE_COSINE, .epochs = 0, .min_lr = 0.0f};
    expect_rejected(o, "epochs");
    const float bad_min[] = {-0.01f, 0.2f, NAN};
    for (int k = 0; k < 3; k++) {
        o.schedule = (nn_schedule){.kind = NN_SCHEDULE_COSINE, .epochs = 5, .min_lr = bad_min[k]};
        expect_rejected(o, "min_lr");
    }
    o.schedule = (nn_schedule){.kind = (nn_schedule_kind)9};
    expect_rejected(o, "schedule");
}
