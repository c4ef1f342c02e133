/* Launches the kernels of head.cu: the MLP activation and the softcapped cross-entropy
 * head. The loss's total is summed on the host in row order: the CPU reference's order
 * and bits. */
#include <stdio.h>
#include <stdlib.h>

#include "kernels/config.h"
#include "kernels/cuda/host.h"

static float neg_slope(int act)
{
    return act == PG_MLP_LEAKY_RELU2 ? 0.5f : 0.0f;
}

void pg_cuda_mlp_act_fwd(float *out, const float *in, size_t n, int act)
{
    float slope = neg_slope(act);
    if (n)
        PG_LAUNCH_N(mlp_act_fwd, n, &out, &in, &n, &slope);
}

void pg_cuda_mlp_act_bwd(float *din, const float *dout, const float *in, size_t n, int act)
{
    float slope = neg_slope(act);
    if (n)
        PG_LAUNCH_N(mlp_act_bwd, n, &din, &dout, &in, &n, &slope);
}

void pg_cuda_softcap_fwd(float *x, size_t n, float cap)
{
    if (n)
        PG_LAUNCH_N(softcap_fwd, n, &x, &n, &cap);
}

double pg_cuda_xent_fwd(double *loss, const float *logits, const int *targets, int n, int vocab)
{
    if (n <= 0)
        return 0;
    PG_LAUNCH(xent_fwd, (unsigned)n, 1, 1, PG_CU_ROW_THREADS, &loss, &logits, &targets, &vocab);
    double *h = malloc((size_t)n * sizeof *h);
    if (!h) {
        fprintf(stderr, "pgolf: out of memory for %d losses\n", n);
        exit(1);
    }
    PG_CUDA(cudaMemcpy(h, loss, (size_t)n * sizeof *h, cudaMemcpyDeviceToHost));
    double total = 0;
    for (int r = 0; r < n; r++)
        total += h[r];
    free(h);
    return total;
}

void pg_cuda_softcap_xent_bwd(float *dlogits, const float *z, const int *targets, int n, int vocab,
                              float cap, double dloss)
{
    if (n > 0)
        PG_LAUNCH(softcap_xent_bwd, (unsigned)n, 1, 1, PG_CU_ROW_THREADS, &dlogits, &z, &targets,
                  &vocab, &cap, &dloss);
}
