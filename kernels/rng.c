#include "kernels/rng.h"

#include <math.h>

void pg_rng_seed(pg_rng *r, uint64_t seed)
{
    r->state = seed;
    r->has_spare = 0;
    r->spare = 0;
}

uint64_t pg_rng_u64(pg_rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double pg_rng_uniform(pg_rng *r)
{
    return (double)(pg_rng_u64(r) >> 11) * 0x1.0p-53;
}

double pg_rng_normal(pg_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u1 = 1.0 - pg_rng_uniform(r); /* in (0, 1]: log is finite */
    double u2 = pg_rng_uniform(r);
    double rad = sqrt(-2.0 * log(u1));
    r->spare = rad * sin(2.0 * M_PI * u2);
    r->has_spare = 1;
    return rad * cos(2.0 * M_PI * u2);
}
