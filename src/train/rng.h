/* Deterministic random numbers for training: xoshiro256** seeded through
 * splitmix64, so a (seed, stream) pair always yields the same sequence on
 * every platform. Used for weight init, shuffling, augmentation and
 * Dropout masks. */
#ifndef MN_TRAIN_RNG_H
#define MN_TRAIN_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct mn_rng {
    uint64_t s[4];
} mn_rng;

static inline uint64_t mn_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A stream derived from a seed and up to two counters (epoch, batch …). */
static inline void mn_rng_seed(mn_rng *r, uint64_t seed, uint64_t a,
                               uint64_t b)
{
    uint64_t x = seed ^ (a * 0xD1B54A32D192ED03ull) ^
                 (b * 0xABC98388FB8FAC03ull);
    for (int i = 0; i < 4; i++)
        r->s[i] = mn_splitmix64(&x);
}

static inline uint64_t mn_rng_next(mn_rng *r)
{
    uint64_t *s = r->s;
    uint64_t t = s[1] << 17, v = s[1] * 5;
    uint64_t res = ((v << 7) | (v >> 57)) * 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return res;
}

/* Uniform in [0, 1) with 24 bits. */
static inline float mn_rng_uniform(mn_rng *r)
{
    return (float)(mn_rng_next(r) >> 40) * (1.0f / 16777216.0f);
}

/* Uniform integer in [0, n) for 0 < n < 2^32 (multiply-shift; the bias
 * is below n / 2^32). */
static inline uint64_t mn_rng_below(mn_rng *r, uint64_t n)
{
    return ((mn_rng_next(r) >> 32) * n) >> 32;
}

/* Standard normal (Box–Muller, one value per call). */
static inline double mn_rng_normal(mn_rng *r)
{
    double u1 = ((double)(mn_rng_next(r) >> 11) + 1.0) * (1.0 / 9007199254740993.0);
    double u2 = (double)(mn_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

#endif
