/*
 * test_rng_init.c — the SplitMix64 generator (rng.c) and the weight initializers (init.c).
 *
 * The reference SplitMix64 below is written from the published algorithm (Steele, Lea,
 * Flood 2014; Vigna's splitmix64.c): output k (from 1) of seed s mixes s + k * gamma.
 */
#include "../layers/internal.h"

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#define GOLDEN_GAMMA 0x9e3779b97f4a7c15ULL

/* Output k >= 1 of SplitMix64 seeded with s, computed without any state. */
static uint64_t splitmix_ref(uint64_t s, uint64_t k)
{
    uint64_t z = s + k * GOLDEN_GAMMA;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Mean and variance of n samples, in double. */
typedef struct moments { double mean, var; } moments;

static moments moments_of(const double *x, size_t n)
{
    double sum = 0.0, sq = 0.0;
    for (size_t i = 0; i < n; i++) sum += x[i];
    double mean = sum / (double)n;
    for (size_t i = 0; i < n; i++) sq += (x[i] - mean) * (x[i] - mean);
    return (moments){mean, sq / (double)(n - 1)};
}

enum { DRAWS = 100000 };
static double draws[DRAWS];

/* ---- SplitMix64 -------------------------------------------------------------------- */

Test(rng, splitmix_matches_reference)
{
    const uint64_t seeds[] = {0, 1, 42, 1234567, 0xffffffffffffffffULL};
    for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
        nn_rng rng;
        nn_rng_seed(&rng, seeds[s]);
        for (uint64_t k = 1; k <= 20; k++) {
            uint64_t got = nn_rng_next(&rng), want = splitmix_ref(seeds[s], k);
            cr_assert(got == want, "seed %llu output %llu: %016llx, want %016llx",
                      (unsigned long long)seeds[s], (unsigned long long)k,
                      (unsigned long long)got, (unsigned long long)want);
        }
    }
}

/* Published values: seed 0 starts e220a8397b1dcdaf (Vigna's splitmix64.c); seed 1234567
 * is the test vector of rand_xoshiro's SplitMix64. */
Test(rng, splitmix_published_values)
{
    nn_rng rng;
    nn_rng_seed(&rng, 0);
    cr_assert(nn_rng_next(&rng) == 0xe220a8397b1dcdafULL, "seed 0 first output wrong");
    const uint64_t want[] = {6457827717110365317ULL, 3203168211198807973ULL,
                             9817491932198370423ULL, 4593380528125082431ULL,
                             16408922859458223821ULL};
    nn_rng_seed(&rng, 1234567);
    for (int i = 0; i < 5; i++) {
        uint64_t got = nn_rng_next(&rng);
        cr_assert(got == want[i], "seed 1234567 output %d: %llu, want %llu", i + 1,
                  (unsigned long long)got, (unsigned long long)want[i]);
    }
}

Test(rng, uniform_is_top_53_bits)
{
    nn_rng a, b;
    nn_rng_seed(&a, 7);
    nn_rng_seed(&b, 7);
    for (int i = 0; i < 1000; i++) {
        double u = nn_rng_uniform(&a);
        double want = (double)(nn_rng_next(&b) >> 11) / 9007199254740992.0; /* 2^53 */
        cr_assert(u == want, "draw %d: %.17g, want %.17g", i, u, want);
        cr_assert(u >= 0.0 && u < 1.0, "draw %d = %.17g outside [0, 1)", i, u);
    }
}

Test(rng, uniform_moments)
{
    nn_rng rng;
    nn_rng_seed(&rng, 11);
    for (int i = 0; i < DRAWS; i++) draws[i] = nn_rng_uniform(&rng);
    moments m = moments_of(draws, DRAWS);
    /* standard error of the mean: sqrt(1/12 / 1e5) = 9e-4 */
    cr_assert(fabs(m.mean - 0.5) < 0.005, "uniform mean %g, want 0.5", m.mean);
    cr_assert(fabs(m.var - 1.0 / 12.0) < 0.002, "uniform variance %g, want 1/12", m.var);
}

Test(rng, normal_moments)
{
    nn_rng rng;
    nn_rng_seed(&rng, 12);
    int beyond_3 = 0;
    for (int i = 0; i < DRAWS; i++) {
        draws[i] = nn_rng_normal(&rng);
        cr_assert(isfinite(draws[i]), "normal draw %d is not finite", i);
        beyond_3 += fabs(draws[i]) > 3.0;
    }
    moments m = moments_of(draws, DRAWS);
    cr_assert(fabs(m.mean) < 0.015, "normal mean %g, want 0", m.mean);
    cr_assert(fabs(m.var - 1.0) < 0.02, "normal variance %g, want 1", m.var);
    /* P(|z| > 3) = 0.0027: 270 expected, sd ~16 */
    cr_assert(beyond_3 > 190 && beyond_3 < 350, "%d draws beyond 3 sigma, want ~270", beyond_3);
}

/* Box-Muller gives a pair from two uniforms: the second normal is the cached spare. */
Test(rng, normal_pairs_and_spare)
{
    nn_rng rng, u;
    nn_rng_seed(&rng, 5);
    nn_rng_seed(&u, 5);
    double z0 = nn_rng_normal(&rng);
    cr_assert(rng.state == 5 + 2 * GOLDEN_GAMMA, "one normal should consume two outputs");
    double z1 = nn_rng_normal(&rng);
    cr_assert(rng.state == 5 + 2 * GOLDEN_GAMMA, "the second normal should be the spare");
    double u1 = 1.0 - nn_rng_uniform(&u), u2 = nn_rng_uniform(&u);
    double r = sqrt(-2.0 * log(u1)), a = 2.0 * 3.14159265358979323846 * u2;
    cr_assert(fabs(z0 - r * cos(a)) < 1e-12 && fabs(z1 - r * sin(a)) < 1e-12,
              "normals (%g, %g), Box-Muller gives (%g, %g)", z0, z1, r * cos(a), r * sin(a));
    /* Reseeding forgets the spare. */
    nn_rng_seed(&rng, 5);
    (void)nn_rng_normal(&rng);
    nn_rng_seed(&rng, 5);
    cr_assert(nn_rng_normal(&rng) == z0, "reseeding kept a stale spare");
}

Test(rng, below_in_range)
{
    const uint32_t ns[] = {1, 2, 3, 7, 10, 1000, 0x80000001u, 0xffffffffu};
    nn_rng rng;
    nn_rng_seed(&rng, 3);
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++)
        for (int i = 0; i < 10000; i++) {
            uint32_t x = nn_rng_below(&rng, ns[k]);
            cr_assert(x < ns[k], "below(%u) gave %u", ns[k], x);
        }
}

Test(rng, below_roughly_uniform)
{
    enum { N = 10 };
    int64_t count[N] = {0};
    nn_rng rng;
    nn_rng_seed(&rng, 4);
    for (int i = 0; i < DRAWS; i++) count[nn_rng_below(&rng, N)]++;
    /* 10000 expected per value, sd ~95 */
    for (int j = 0; j < N; j++)
        cr_assert(count[j] > 9500 && count[j] < 10500, "value %d drawn %lld times of %d", j,
                  (long long)count[j], DRAWS);
}

/* n = 3 * 2^30: a plain 32-bit modulo would put half the draws below 2^30, not a third. */
Test(rng, below_unbiased_for_large_n)
{
    const uint32_t n = 0xc0000000u;
    int low = 0;
    nn_rng rng;
    nn_rng_seed(&rng, 9);
    for (int i = 0; i < DRAWS; i++) low += nn_rng_below(&rng, n) < 0x40000000u;
    double frac = (double)low / DRAWS;
    cr_assert(fabs(frac - 1.0 / 3.0) < 0.01, "fraction in the first third %g, want 1/3", frac);
}

/* ---- Initializers ------------------------------------------------------------------ */

enum { WEIGHTS = 100000 };
static float w_a[WEIGHTS], w_b[WEIGHTS];

static const nn_init all_inits[] = {NN_INIT_HE_NORMAL, NN_INIT_GLOROT_UNIFORM,
                                    NN_INIT_GLOROT_NORMAL, NN_INIT_LECUN_NORMAL, NN_INIT_ZEROS};
enum { INITS = sizeof all_inits / sizeof all_inits[0] };

static void fill(nn_init init, float *w, int fan_in, int fan_out, uint64_t seed)
{
    nn_rng rng;
    nn_rng_seed(&rng, seed);
    nn_init_fill(init, w, WEIGHTS, fan_in, fan_out, &rng);
}

static moments weight_moments(const float *w)
{
    for (int i = 0; i < WEIGHTS; i++) draws[i] = w[i];
    return moments_of(draws, WEIGHTS);
}

Test(init, same_seed_same_bits)
{
    for (int k = 0; k < INITS; k++) {
        fill(all_inits[k], w_a, 300, 100, 77);
        fill(all_inits[k], w_b, 300, 100, 77);
        cr_assert(memcmp(w_a, w_b, sizeof w_a) == 0, "%s: same seed, different weights",
                  nn_init_name(all_inits[k]));
        if (all_inits[k] == NN_INIT_ZEROS) continue;
        fill(all_inits[k], w_b, 300, 100, 78);
        cr_assert(memcmp(w_a, w_b, sizeof w_a) != 0, "%s: seeds 77 and 78 give the same weights",
                  nn_init_name(all_inits[k]));
    }
}

/* Weights are the generator's draws, scaled, in index order. */
Test(init, he_normal_is_scaled_draws)
{
    nn_rng rng;
    nn_rng_seed(&rng, 21);
    fill(NN_INIT_HE_NORMAL, w_a, 50, 10, 21);
    for (int i = 0; i < 1000; i++) {
        float want = (float)(sqrt(2.0 / 50.0) * nn_rng_normal(&rng));
        cr_assert(w_a[i] == want, "weight %d = %g, want %g", i, w_a[i], want);
    }
}

static void check_std(nn_init init, int fan_in, int fan_out, double want)
{
    fill(init, w_a, fan_in, fan_out, 1000 + (uint64_t)init);
    moments m = weight_moments(w_a);
    double std = sqrt(m.var);
    cr_assert(fabs(std / want - 1.0) < 0.02, "%s(%d, %d): std %g, want %g", nn_init_name(init),
              fan_in, fan_out, std, want);
    cr_assert(fabs(m.mean) < 0.02 * want, "%s: mean %g, want 0", nn_init_name(init), m.mean);
}

Test(init, empirical_std)
{
    check_std(NN_INIT_HE_NORMAL, 784, 256, sqrt(2.0 / 784.0));
    check_std(NN_INIT_GLOROT_NORMAL, 256, 10, sqrt(2.0 / 266.0));
    check_std(NN_INIT_LECUN_NORMAL, 100, 7, sqrt(1.0 / 100.0));
    /* U(-l, l) has std l / sqrt(3) = sqrt(2 / (fan_in + fan_out)) */
    check_std(NN_INIT_GLOROT_UNIFORM, 30, 20, sqrt(2.0 / 50.0));
}

Test(init, glorot_uniform_bounds)
{
    const float limit = (float)sqrt(6.0 / (784.0 + 256.0));
    fill(NN_INIT_GLOROT_UNIFORM, w_a, 784, 256, 5);
    float lo = 0.0f, hi = 0.0f;
    for (int i = 0; i < WEIGHTS; i++) {
        cr_assert(w_a[i] >= -limit && w_a[i] <= limit, "weight %d = %g outside +-%g", i,
                  w_a[i], limit);
        lo = fminf(lo, w_a[i]), hi = fmaxf(hi, w_a[i]);
    }
    cr_assert(lo < -0.999f * limit && hi > 0.999f * limit,
              "range [%g, %g] does not fill +-%g", lo, hi, limit);
}

Test(init, zeros)
{
    for (int i = 0; i < WEIGHTS; i++) w_a[i] = 1.0f;
    fill(NN_INIT_ZEROS, w_a, 10, 10, 1);
    for (int i = 0; i < WEIGHTS; i++) cr_assert(w_a[i] == 0.0f, "weight %d = %g", i, w_a[i]);
}

Test(init, names_parse_back)
{
    const char *names[] = {"he_normal", "glorot_uniform", "glorot_normal", "lecun_normal",
                           "zeros"};
    for (int k = 0; k < INITS; k++) {
        cr_assert(strcmp(nn_init_name(all_inits[k]), names[k]) == 0, "init %d is named %s", k,
                  nn_init_name(all_inits[k]));
        nn_init parsed = NN_INIT_ZEROS;
        cr_assert(nn_init_parse(names[k], &parsed) == NN_OK && parsed == all_inits[k],
                  "\"%s\" parsed to %d", names[k], parsed);
    }
    nn_init parsed;
    cr_assert(nn_init_parse("he_uniform", &parsed) == NN_ERR_INVALID_ARGUMENT, "bad name parsed");
    cr_assert(strstr(nn_last_error(), "he_uniform") != NULL, "message does not name the input: %s",
              nn_last_error());
    cr_assert(nn_init_parse("", &parsed) == NN_ERR_INVALID_ARGUMENT, "\"\" parsed");
    cr_assert(nn_init_parse(NULL, &parsed) == NN_ERR_INVALID_ARGUMENT, "NULL parsed");
}
