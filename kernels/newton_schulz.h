/* The Newton-Schulz iteration behind Muon's orthogonalization: X <- a X + (b A + c A A) X
 * with A = X X^T, on X scaled to unit Frobenius norm. Two coefficient schedules: the
 * classic quintic (the same (a, b, c) every iteration), and Polar Express, whose
 * minimax coefficients change per iteration and which the April records run for 5
 * iterations (their list has 5 entries; asking for more runs those 5). Both the CPU
 * definition and the CUDA launcher take their coefficients from here. */
#ifndef PG_NEWTON_SCHULZ_H
#define PG_NEWTON_SCHULZ_H

enum { PG_NS_CLASSIC = 0, PG_NS_POLAR_EXPRESS = 1 };

#define PG_NS_POLAR_EXPRESS_STEPS 5

/* The iterations a schedule runs when `steps` are asked for. */
static inline int pg_ns_iterations(int coeffs, int steps)
{
    if (coeffs == PG_NS_POLAR_EXPRESS && steps > PG_NS_POLAR_EXPRESS_STEPS)
        return PG_NS_POLAR_EXPRESS_STEPS;
    return steps;
}

/* (a, b, c) of iteration `it` (0-based), rounded to float as torch rounds a Python float
 * multiplying a float32 tensor. */
static inline void pg_ns_coeffs(int coeffs, int it, float abc[3])
{
    static const double kPolarExpress[PG_NS_POLAR_EXPRESS_STEPS][3] = {
        {8.156554524902461, -22.48329292557795, 15.878769915207462},
        {4.042929935166739, -2.808917465908714, 0.5000178451051316},
        {3.8916678022926607, -2.772484153217685, 0.5060648178503393},
        {3.285753657755655, -2.3681294933425376, 0.46449024233003106},
        {2.3465413258596377, -1.7097828382687081, 0.42323551169305323},
    };
    static const double kClassic[3] = {3.4445, -4.7750, 2.0315};
    const double *k = coeffs == PG_NS_POLAR_EXPRESS ? kPolarExpress[it] : kClassic;
    for (int i = 0; i < 3; i++)
        abc[i] = (float)k[i];
}

#endif
