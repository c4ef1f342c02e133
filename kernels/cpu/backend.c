/* The CPU reference backend: host memory and the ops of kernels/cpu/, filling the table
 * of kernels/backend.h. The wrappers here only adapt batch loops; the arithmetic is in
 * ops.c, elementwise.c and optim_ops.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "common/dist.h"
#include "common/err.h"
#include "kernels/backend.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/ops.h"

static void *cpu_alloc(size_t bytes)
{
    return calloc(1, bytes ? bytes : 1);
}

static void cpu_copy(void *dst, const void *src, size_t bytes)
{
    if (dst != src)
        memmove(dst, src, bytes);
}

static void cpu_zero(void *p, size_t bytes)
{
    memset(p, 0, bytes);
}

/* one sequence at a time: each has its own block of state (pg_attention_state_size) */
static void cpu_attention_fwd(pg_real *out, pg_real *state, const pg_real *q, const pg_real *k,
                              const pg_real *v, const int *span, int B, int T, int H, int KVH,
                              int hd)
{
    size_t D = (size_t)H * hd, kvd = (size_t)KVH * hd, per = pg_attention_state_size(T, H, hd);
    for (int b = 0; b < B; b++) {
        size_t row = (size_t)b * T;
        pg_attention_fwd(out + row * D, state + b * per, q + row * D, k + row * kvd,
                         v + row * kvd, span ? span + row : NULL, T, H, KVH, hd);
    }
}

static void cpu_attention_bwd(pg_real *dq, pg_real *dk, pg_real *dv, const pg_real *dout,
                              const pg_real *out, const pg_real *state, const pg_real *q,
                              const pg_real *k, const pg_real *v, const int *span, int B, int T,
                              int H, int KVH, int hd, pg_real *scratch)
{
    (void)out, (void)span; /* the probabilities (zero where masked) hold all it needs */
    size_t D = (size_t)H * hd, kvd = (size_t)KVH * hd, per = pg_attention_state_size(T, H, hd);
    for (int b = 0; b < B; b++) {
        size_t row = (size_t)b * T;
        pg_attention_bwd(dq + row * D, dk + row * kvd, dv + row * kvd, dout + row * D,
                         state + b * per, q + row * D, k + row * kvd, v + row * kvd, T, H, KVH,
                         hd, scratch);
    }
}

static size_t cpu_attention_state_size(int B, int T, int H, int hd)
{
    return (size_t)B * pg_attention_state_size(T, H, hd);
}

static size_t cpu_muon_scratch(int rows, int cols)
{
    return pg_muon_scratch(rows, cols);
}

/* Sums over the processes of a launched run (common/dist.h); alone, the value itself. */
static int cpu_all_reduce_sum(pg_real *x, size_t n)
{
    pg_dist *d = pg_dist_current();
    if (!d || d->world == 1)
        return 0;
#ifdef PG_REAL_DOUBLE
    (void)x;
    (void)n;
    return pg_fail("all-reduce: multi-process runs use float32 (this build computes in double)");
#else
    return pg_dist_all_reduce_sum(d, x, n);
#endif
}

static void cpu_describe(char *buf, size_t n)
{
#ifdef _OPENMP
    snprintf(buf, n, "the CPU (%d OpenMP threads, %s)", omp_get_max_threads(),
             pg_gemm_describe());
#else
    snprintf(buf, n, "the CPU (one thread, %s)", pg_gemm_describe());
#endif
}

static const pg_backend kCpu = {
    .name = "cpu",
    .host_memory = 1,
    .describe = cpu_describe,
    .alloc = cpu_alloc,
    .free = free,
    .to_device = cpu_copy,
    .to_host = cpu_copy,
    .copy = cpu_copy,
    .zero = cpu_zero,
    .linear_fwd = pg_linear_fwd,
    .linear_bwd = pg_linear_bwd,
    .rmsnorm_fwd = pg_rmsnorm_fwd,
    .rmsnorm_bwd = pg_rmsnorm_bwd,
    .rope_tables = pg_rope_tables,
    .rope_fwd = pg_rope_fwd,
    .rope_bwd = pg_rope_bwd,
    .attention_fwd = cpu_attention_fwd,
    .attention_bwd = cpu_attention_bwd,
    .attention_state_size = cpu_attention_state_size,
    .attention_bwd_scratch = pg_attention_bwd_scratch,
    .mlp_act_fwd = pg_mlp_act_fwd,
    .mlp_act_bwd = pg_mlp_act_bwd,
    .softcap_fwd = pg_softcap_fwd,
    .xent_fwd = pg_xent_fwd,
    .softcap_xent_bwd = pg_softcap_xent_bwd,
    .embedding_fwd = pg_embedding_fwd,
    .embedding_bwd = pg_embedding_bwd,
    .resid_mix_fwd = pg_resid_mix_fwd,
    .resid_mix_bwd = pg_resid_mix_bwd,
    .xsa_fwd = pg_xsa_fwd,
    .xsa_bwd = pg_xsa_bwd,
    .head_gate_fwd = pg_head_gate_fwd,
    .head_gate_bwd = pg_head_gate_bwd,
    .smear_fwd = pg_smear_fwd,
    .smear_bwd = pg_smear_bwd,
    .col_scale_fwd = pg_col_scale_fwd,
    .round_bf16 = pg_round_bf16,
    .skip_gate_fwd = pg_skip_gate_fwd,
    .skip_gate_bwd = pg_skip_gate_bwd,
    .lane_mix_fwd = pg_lane_mix_fwd,
    .lane_mix_bwd = pg_lane_mix_bwd,
    .scaled_add_fwd = pg_scaled_add_fwd,
    .scaled_add_bwd = pg_scaled_add_bwd,
    .skip_add_bwd = pg_skip_add_bwd,
    .add = pg_add,
    .q_gain_fwd = pg_q_gain_fwd,
    .q_gain_bwd = pg_q_gain_bwd,
    .sumsq = pg_sumsq,
    .scale = pg_scale,
    .sgd_update = pg_sgd_update,
    .adam_update = pg_adam_update,
    .muon_update = pg_muon_update,
    .muon_scratch = cpu_muon_scratch,
    .newton_schulz5 = pg_newton_schulz5,
    .ema_update = pg_ema_update,
    .all_reduce_sum = cpu_all_reduce_sum,
};

const pg_backend *pg_backend_cpu(void)
{
    return &kCpu;
}
