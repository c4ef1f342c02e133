/* Deterministic random numbers for initialization: splitmix64 (Steele et al.), with
 * normals by Box-Muller in double precision. The same seed gives the same stream on
 * every platform. */
#ifndef PG_RNG_H
#define PG_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t state;
    int has_spare;
    double spare;
} pg_rng;

void pg_rng_seed(pg_rng *r, uint64_t seed);
uint64_t pg_rng_u64(pg_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double pg_rng_uniform(pg_rng *r);
double pg_rng_normal(pg_rng *r);

#endif
