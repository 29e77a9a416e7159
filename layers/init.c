/*
 * layers/init.c — weight initializers, drawn from the library's generator (rng.c).
 *
 *   he_normal       N(0, 2 / fan_in)                      (He et al. 2015, for ReLU)
 *   glorot_uniform  U(-l, l), l = sqrt(6 / (fan_in + fan_out))   (Glorot, Bengio 2010)
 *   glorot_normal   N(0, 2 / (fan_in + fan_out))
 *   lecun_normal    N(0, 1 / fan_in)                      (LeCun et al. 1998)
 *   zeros           0
 * Normals are not truncated.  The draws are made in double and rounded once to float, in
 * index order, so the same generator state gives the same weights bit for bit.
 */
#include "internal.h"

#include <math.h>
#include <string.h>

static const char *const init_names[] = {
    [NN_INIT_HE_NORMAL] = "he_normal",
    [NN_INIT_GLOROT_UNIFORM] = "glorot_uniform",
    [NN_INIT_GLOROT_NORMAL] = "glorot_normal",
    [NN_INIT_LECUN_NORMAL] = "lecun_normal",
    [NN_INIT_ZEROS] = "zeros",
};
enum { INIT_COUNT = (int)(sizeof init_names / sizeof init_names[0]) };

/* A fan below 1 (a misuse) counts as 1, so the scale stays finite. */
static double fan(int f) { return f < 1 ? 1.0 : (double)f; }

static void fill_normal(float *w, size_t count, double std, nn_rng *rng)
{
    for (size_t i = 0; i < count; i++)
        w[i] = (float)(std * nn_rng_normal(rng));
}

/* U(-limit, limit) as limit * (2u - 1), u in [0, 1). */
static void fill_uniform(float *w, size_t count, double limit, nn_rng *rng)
{
    for (size_t i = 0; i < count; i++)
        w[i] = (float)(limit * (2.0 * nn_rng_uniform(rng) - 1.0));
}

void nn_init_fill(nn_init init, float *w, size_t count, int fan_in, int fan_out, nn_rng *rng)
{
    double in = fan(fan_in), sum = fan(fan_in) + fan(fan_out);
    switch (init) {
    case NN_INIT_HE_NORMAL: fill_normal(w, count, sqrt(2.0 / in), rng); break;
    case NN_INIT_GLOROT_UNIFORM: fill_uniform(w, count, sqrt(6.0 / sum), rng); break;
    case NN_INIT_GLOROT_NORMAL: fill_normal(w, count, sqrt(2.0 / sum), rng); break;
    case NN_INIT_LECUN_NORMAL: fill_normal(w, count, sqrt(1.0 / in), rng); break;
    case NN_INIT_ZEROS:
    default: memset(w, 0, count * sizeof *w); break;
    }
}

const char *nn_init_name(nn_init init)
{
    if ((int)init < 0 || (int)init >= INIT_COUNT)
        return "unknown";
    return init_names[init];
}

nn_status nn_init_parse(const char *name, nn_init *init)
{
    if (!name || !init)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_init_parse: NULL name or result");
    for (int i = 0; i < INIT_COUNT; i++) {
        if (strcmp(name, init_names[i]) == 0) {
            *init = (nn_init)i;
            return NN_OK;
        }
    }
    return nn_fail(NN_ERR_INVALID_ARGUMENT,
                   "unknown initializer \"%s\" (expected he_normal, glorot_uniform, "
                   "glorot_normal, lecun_normal or zeros)", name);
}
