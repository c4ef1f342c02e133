/* Student's t distribution: CDF, upper tail, quantile, and the upper tail of the
 * noncentral t (for power). Accurate to 1e-10 absolute (checked against scipy values
 * in tests/golden/tdist_scipy.json); df may be any real > 0 (Welch's df is not an
 * integer). */
#ifndef PG_TDIST_H
#define PG_TDIST_H

/* Regularized incomplete beta I_x(a, b). */
double pg_betainc(double x, double a, double b);

/* P(T <= t) and P(T > t) for T ~ t(df). */
double pg_t_cdf(double t, double df);
double pg_t_sf(double t, double df);

/* The t with P(T > t) = p, for p in (0, 1). */
double pg_t_isf(double p, double df);

/* P(T' > t) for T' ~ noncentral t(df, ncp), df >= 1 (NAN otherwise). */
double pg_nct_sf(double t, double df, double ncp);

#endif
