/*
 * simd/update.h — the optimizer update loops shared by the ISA files.
 *
 * Only static inline functions, like pack.h: each ISA file compiles its own copy with
 * its own target flags.  The loops are plain C with no branch in their bodies, so the
 * compiler vectorizes them for each ISA.  Every operation is a correctly rounded float
 * add, multiply, divide or square root, and the build contracts none of them into an
 * FMA (simd/CMakeLists.txt), so the vector body, the scalar tail and every ISA give the
 * same bits for an element: results depend neither on the ISA nor on where a thread's
 * chunk starts.
 *
 * The formulas (PyTorch's conventions), with wd = weight_decay, mu = momentum:
 *   SGD:   g = grad + wd p;  mu = 0: p -= lr g
 *          mu > 0: v = mu v + g;  p -= lr (nesterov ? g + mu v : v)
 *   Adam:  w = p - decay p                  (AdamW: decay = lr wd; Adam: 0)
 *          g = grad + l2 w                  (Adam: l2 = wd; AdamW: 0)
 *          m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 *          p = w - lr (m inv_bc1) / (sqrt(v inv_bc2) + eps)
 */
#ifndef NN_SIMD_UPDATE_H
#define NN_SIMD_UPDATE_H

#include <math.h>
#include <stddef.h>

#include "kernels.h"

/* p -= lr (grad + wd p) */
static inline void nn_sgd_plain(size_t n, float lr, float wd, float *restrict p,
                                const float *restrict grad)
{
    for (size_t i = 0; i < n; i++)
        p[i] -= lr * (grad[i] + wd * p[i]);
}

/* v = mu v + g; p -= lr v */
static inline void nn_sgd_momentum(size_t n, float lr, float wd, float mu, float *restrict p,
                                   const float *restrict grad, float *restrict v)
{
    for (size_t i = 0; i < n; i++) {
        float g = grad[i] + wd * p[i];
        v[i] = mu * v[i] + g;
        p[i] -= lr * v[i];
    }
}

/* v = mu v + g; p -= lr (g + mu v) */
static inline void nn_sgd_nesterov(size_t n, float lr, float wd, float mu, float *restrict p,
                                   const float *restrict grad, float *restrict v)
{
    for (size_t i = 0; i < n; i++) {
        float g = grad[i] + wd * p[i];
        v[i] = mu * v[i] + g;
        p[i] -= lr * (g + mu * v[i]);
    }
}

/* The kind of SGD is chosen here, once, so that each loop stays branch-free.
 * v is not touched unless momentum > 0 (a NaN momentum too: v may then be NULL). */
static inline void nn_sgd_update_loop(size_t n, const nn_update_args *a, float *p,
                                      const float *grad, float *v)
{
    if (!(a->momentum > 0.0f))
        nn_sgd_plain(n, a->lr, a->weight_decay, p, grad);
    else if (a->nesterov)
        nn_sgd_nesterov(n, a->lr, a->weight_decay, a->momentum, p, grad, v);
    else
        nn_sgd_momentum(n, a->lr, a->weight_decay, a->momentum, p, grad, v);
}

/* Adam's per-call constants: the loop reads locals, not the struct, so the compiler
 * can keep them in registers (the arrays are restrict, the struct is not). */
typedef struct nn_adam_consts {
    float lr, eps, l2, decay; /* one of l2, decay is 0 (see the header comment) */
    float b1, one_b1, b2, one_b2;
    float inv_bc1, inv_bc2;
} nn_adam_consts;

static inline nn_adam_consts nn_adam_consts_of(const nn_update_args *a)
{
    return (nn_adam_consts){
        .lr = a->lr,
        .eps = a->eps,
        .l2 = a->decoupled ? 0.0f : a->weight_decay,
        .decay = a->decoupled ? a->lr * a->weight_decay : 0.0f,
        .b1 = a->beta1,
        .one_b1 = (float)(1.0 - (double)a->beta1),
        .b2 = a->beta2,
        .one_b2 = (float)(1.0 - (double)a->beta2),
        .inv_bc1 = a->inv_bc1,
        .inv_bc2 = a->inv_bc2,
    };
}

/* Vectorizes (vsqrtps) only without errno for sqrtf: simd/ builds with -fno-math-errno;
 * v is never negative here, and the vector square root rounds like the scalar one. */
static inline void nn_adam_update_loop(size_t n, const nn_update_args *a, float *restrict p,
                                       const float *restrict grad, float *restrict m,
                                       float *restrict v)
{
    const nn_adam_consts k = nn_adam_consts_of(a);
    for (size_t i = 0; i < n; i++) {
        float w = p[i] - k.decay * p[i];
        float g = grad[i] + k.l2 * w;
        m[i] = k.b1 * m[i] + k.one_b1 * g;
        v[i] = k.b2 * v[i] + k.one_b2 * (g * g);
        float mhat = m[i] * k.inv_bc1, vhat = v[i] * k.inv_bc2;
        p[i] = w - k.lr * mhat / (sqrtf(vhat) + k.eps);
    }
}

#endif /* NN_SIMD_UPDATE_H */
