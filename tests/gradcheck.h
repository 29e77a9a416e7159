/*
 * tests/gradcheck.h — what the finite-difference gradient checks of test_layers.c and
 * test_conv_layers.c share: zeroed float buffers, the central difference, and the
 * comparison against the analytic gradient.  Each file keeps its own rig (what the
 * objective runs) and its own step and bounds, argued in its header comment.
 */
#ifndef NN_TESTS_GRADCHECK_H
#define NN_TESTS_GRADCHECK_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

/* floats zeroed floats (at least one, so the pointer is never NULL). */
static inline float *zalloc(size_t floats)
{
    float *p = calloc(floats ? floats : 1, sizeof(float));
    cr_assert(p != NULL, "out of memory");
    return p;
}

/* The objective L of a rig (run forward, reduce in double). */
typedef double (*gradcheck_objective)(void *rig);

/* dL/dv by the central difference (L+ - L-) / (v+ - v-), where v+- = v +- h as stored
 * in float, so the step itself carries no rounding error; v is restored. */
static inline double gradcheck_numeric(gradcheck_objective objective, void *rig, float *v,
                                       double h)
{
    float saved = *v;
    *v = (float)(saved + h);
    double plus = objective(rig), step = *v;
    *v = (float)(saved - h);
    double minus = objective(rig);
    step -= *v;
    *v = saved;
    return (plus - minus) / step;
}

/* A check's settings: the rig, its step, and |analytic - numeric| <= tol * max(|analytic|,
 * |numeric|, floor); `label` names the layers in a failure. */
typedef struct gradcheck {
    gradcheck_objective objective;
    void *rig;
    double h, tol, floor;
    const char *label;
} gradcheck;

/* Checks grad[i] = dL/dv[i] for i < n; `what` names the values ("params", "input"). */
static inline void gradcheck_values(const gradcheck *c, float *v, const float *grad, size_t n,
                                    const char *what)
{
    for (size_t i = 0; i < n; i++) {
        double a = grad[i], num = gradcheck_numeric(c->objective, c->rig, &v[i], c->h);
        double tol = c->tol * fmax(fmax(fabs(a), fabs(num)), c->floor);
        cr_assert(fabs(a - num) <= tol, "%s: %s[%zu] analytic %.8g, numeric %.8g", c->label,
                  what, i, a, num);
    }
}

#endif /* NN_TESTS_GRADCHECK_H */
