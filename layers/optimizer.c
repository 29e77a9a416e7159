/*
 * layers/optimizer.c — SGD, Adam, AdamW and learning-rate schedules.
 *
 * One update of parameters p with gradients grad at learning rate lr (already scheduled),
 * elementwise, in float:
 *
 * SGD (PyTorch's convention), mu = momentum, wd = weight_decay:
 *     g = grad + wd p                       (L2 weight decay)
 *     mu = 0:  update = g
 *     mu > 0:  v = mu v + g                 (v starts at 0)
 *              update = nesterov ? g + mu v : v
 *     p -= lr update
 *
 * Adam (Kingma, Ba 2015), t = step counted from 1:
 *     g = grad + wd p                       (L2, like PyTorch's Adam; nn_adam sets wd = 0)
 *     m = b1 m + (1 - b1) g
 *     v = b2 v + (1 - b2) g^2
 *     mhat = m / (1 - b1^t),  vhat = v / (1 - b2^t)
 *     p -= lr mhat / (sqrt(vhat) + eps)     (eps outside the square root)
 *
 * AdamW (Loshchilov, Hutter 2019), decay decoupled from the gradient, applied first:
 *     p -= lr wd p
 *     then Adam with g = grad.
 *
 * State layout: SGD with momentum keeps v[n]; Adam/AdamW keep m[n] then v[n].
 * The loops are the engine's, vectorized per ISA and threaded (simd/update.h); bias
 * corrections are computed once per step, in double.
 */
#include "internal.h"

#include <math.h>
#include <string.h>

#define NN_PI 3.14159265358979323846264338327950

static const char *const optimizer_names[] = {
    [NN_OPT_SGD] = "sgd",
    [NN_OPT_ADAM] = "adam",
    [NN_OPT_ADAMW] = "adamw",
};
enum { OPT_COUNT = (int)(sizeof optimizer_names / sizeof optimizer_names[0]) };

/* ---- Constructors ------------------------------------------------------------------ */

nn_optimizer nn_sgd(float lr)
{
    return (nn_optimizer){.kind = NN_OPT_SGD, .lr = lr,
                          .schedule = {.kind = NN_SCHEDULE_CONSTANT}};
}

nn_optimizer nn_adam(float lr)
{
    return (nn_optimizer){.kind = NN_OPT_ADAM, .lr = lr, .beta1 = 0.9f, .beta2 = 0.999f,
                          .eps = 1e-8f, .schedule = {.kind = NN_SCHEDULE_CONSTANT}};
}

nn_optimizer nn_adamw(float lr, float weight_decay)
{
    nn_optimizer o = nn_adam(lr);
    o.kind = NN_OPT_ADAMW;
    o.weight_decay = weight_decay;
    return o;
}

/* ---- Schedules --------------------------------------------------------------------- */

/* step:   lr gamma^floor(floor(epoch) / step_epochs)
 * cosine: min_lr + (lr - min_lr) (1 + cos(pi min(epoch, epochs) / epochs)) / 2
 * A schedule that nn_optimizer_check would reject gives lr unchanged. */
float nn_schedule_lr(const nn_schedule *s, float lr, double epoch)
{
    if (!s)
        return lr;
    if (!(epoch > 0))
        epoch = 0;
    switch (s->kind) {
    case NN_SCHEDULE_STEP:
        if (s->step_epochs < 1)
            return lr;
        return (float)((double)lr * pow((double)s->gamma, floor(floor(epoch) / s->step_epochs)));
    case NN_SCHEDULE_COSINE: {
        if (s->epochs < 1)
            return lr;
        double e = epoch < s->epochs ? epoch : s->epochs;
        double c = (1.0 + cos(NN_PI * e / (double)s->epochs)) / 2.0;
        return (float)((double)s->min_lr + ((double)lr - (double)s->min_lr) * c);
    }
    case NN_SCHEDULE_CONSTANT:
    default:
        return lr;
    }
}

/* ---- Settings ---------------------------------------------------------------------- */

const char *nn_optimizer_name(nn_optimizer_kind kind)
{
    if ((int)kind < 0 || (int)kind >= OPT_COUNT)
        return "unknown";
    return optimizer_names[kind];
}

nn_status nn_optimizer_parse(const char *name, nn_optimizer_kind *kind)
{
    if (!name || !kind)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_optimizer_parse: NULL name or result");
    for (int i = 0; i < OPT_COUNT; i++) {
        if (strcmp(name, optimizer_names[i]) == 0) {
            *kind = (nn_optimizer_kind)i;
            return NN_OK;
        }
    }
    return nn_fail(NN_ERR_INVALID_ARGUMENT,
                   "unknown optimizer \"%s\" (expected sgd, adam or adamw)", name);
}

int nn_optimizer_state_per_param(const nn_optimizer *o)
{
    if (o->kind == NN_OPT_ADAM || o->kind == NN_OPT_ADAMW)
        return 2;
    return o->momentum > 0.0f ? 1 : 0;
}

/* Written so that NaN fails every test (comparisons with NaN are false). */
static int in_unit_interval(float x) { return x >= 0.0f && x < 1.0f; } /* [0, 1) */

static nn_status check_schedule(const nn_schedule *s, float lr)
{
    switch (s->kind) {
    case NN_SCHEDULE_CONSTANT:
        return NN_OK;
    case NN_SCHEDULE_STEP:
        if (s->step_epochs < 1)
            return nn_fail(NN_ERR_INVALID_ARGUMENT,
                           "step schedule: step_epochs = %d, must be >= 1", s->step_epochs);
        if (!(s->gamma > 0.0f && s->gamma <= 1.0f))
            return nn_fail(NN_ERR_INVALID_ARGUMENT,
                           "step schedule: gamma = %g, must be in (0, 1]", (double)s->gamma);
        return NN_OK;
    case NN_SCHEDULE_COSINE:
        if (s->epochs < 1)
            return nn_fail(NN_ERR_INVALID_ARGUMENT,
                           "cosine schedule: epochs = %d, must be >= 1", s->epochs);
        if (!(s->min_lr >= 0.0f && s->min_lr <= lr))
            return nn_fail(NN_ERR_INVALID_ARGUMENT,
                           "cosine schedule: min_lr = %g, must be in [0, lr = %g]",
                           (double)s->min_lr, (double)lr);
        return NN_OK;
    }
    return nn_fail(NN_ERR_INVALID_ARGUMENT, "unknown schedule kind %d", (int)s->kind);
}

static nn_status check_sgd(const nn_optimizer *o)
{
    if (!in_unit_interval(o->momentum))
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "sgd: momentum = %g, must be in [0, 1)",
                       (double)o->momentum);
    if (o->nesterov && o->momentum == 0.0f)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "sgd: nesterov needs momentum > 0");
    return NN_OK;
}

static nn_status check_adam(const nn_optimizer *o)
{
    const char *name = nn_optimizer_name(o->kind);
    if (!in_unit_interval(o->beta1))
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: beta1 = %g, must be in [0, 1)", name,
                       (double)o->beta1);
    if (!in_unit_interval(o->beta2))
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: beta2 = %g, must be in [0, 1)", name,
                       (double)o->beta2);
    if (!(o->eps > 0.0f && isfinite(o->eps)))
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: eps = %g, must be finite and > 0", name,
                       (double)o->eps);
    return NN_OK;
}

nn_status nn_optimizer_check(const nn_optimizer *o)
{
    if (!o)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "no optimizer given");
    if ((int)o->kind < 0 || (int)o->kind >= OPT_COUNT)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "unknown optimizer kind %d", (int)o->kind);
    const char *name = nn_optimizer_name(o->kind);
    if (!(o->lr > 0.0f && isfinite(o->lr)))
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: lr = %g, must be finite and > 0", name,
                       (double)o->lr);
    if (!(o->weight_decay >= 0.0f && isfinite(o->weight_decay)))
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: weight_decay = %g, must be finite and >= 0",
                       name, (double)o->weight_decay);
    nn_status st = o->kind == NN_OPT_SGD ? check_sgd(o) : check_adam(o);
    if (st != NN_OK)
        return st;
    return check_schedule(&o->schedule, o->lr);
}

/* ---- The step ---------------------------------------------------------------------- */

/* The loops are the engine's (nn_sgd_update, nn_adam_update): vectorized for the CPU's
 * ISA and threaded; their status is passed on. */
nn_status nn_optimizer_step(const nn_optimizer *o, float lr, int64_t step, float *params,
                            const float *grads, float *state, size_t n)
{
    if (o->kind == NN_OPT_ADAM || o->kind == NN_OPT_ADAMW) {
        nn_adam_args a = {.lr = lr, .beta1 = o->beta1, .beta2 = o->beta2, .eps = o->eps,
                          .weight_decay = o->weight_decay, .decoupled = o->kind == NN_OPT_ADAMW,
                          .step = step < 1 ? 1 : step};
        return nn_adam_update(n, &a, params, grads, state, state ? state + n : NULL);
    } else {
        nn_sgd_args a = {.lr = lr, .momentum = o->momentum, .nesterov = o->nesterov,
                         .weight_decay = o->weight_decay};
        return nn_sgd_update(n, &a, params, grads, state);
    }
}
