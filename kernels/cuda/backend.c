/* The CUDA backend's table (kernels/backend.h), its memory functions and the device
 * probe, which loads the device module (module.c). */
#include <cublasLt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dist.h"
#include "common/err.h"
#include "kernels/cuda/backend_cuda.h"
#include "kernels/cuda/host.h"

void pg_cuda_die(cudaError_t e, const char *what, const char *file, int line)
{
    fprintf(stderr, "pgolf: CUDA error %s (%s) in %s at %s:%d\n", cudaGetErrorName(e),
            cudaGetErrorString(e), what, file, line);
    exit(1);
}

void *pg_cuda_workspace(size_t bytes)
{
    static void *buf;
    static size_t have;
    if (bytes > have) {
        if (buf)
            PG_CUDA(cudaFree(buf));
        size_t want = bytes > 2 * have ? bytes : 2 * have;
        PG_CUDA(cudaMalloc(&buf, want));
        have = want;
    }
    return buf;
}

static void *cuda_alloc(size_t bytes)
{
    void *p = NULL;
    if (cudaMalloc(&p, bytes ? bytes : 1) != cudaSuccess) {
        cudaGetLastError(); /* clear it: out of memory is the caller's to report */
        return NULL;
    }
    PG_CUDA(cudaMemset(p, 0, bytes ? bytes : 1));
    return p;
}

static void cuda_free(void *p)
{
    if (p)
        PG_CUDA(cudaFree(p));
}

static void cuda_to_device(void *dst, const void *src, size_t bytes)
{
    PG_CUDA(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
}

static void cuda_to_host(void *dst, const void *src, size_t bytes)
{
    PG_CUDA(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}

static void cuda_copy(void *dst, const void *src, size_t bytes)
{
    if (dst != src)
        PG_CUDA(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice));
}

static void cuda_zero(void *p, size_t bytes)
{
    PG_CUDA(cudaMemset(p, 0, bytes));
}

static pg_backend make_table(void)
{
    pg_backend b;
    memset(&b, 0, sizeof b);
    b.name = "cuda";
    b.host_memory = 0;
    b.describe = pg_cuda_describe;
    b.linear_bf16 = pg_cuda_linear_bf16;
    b.prepare_head_dim = pg_cuda_prepare_head_dim;
    b.alloc = cuda_alloc;
    b.free = cuda_free;
    b.to_device = cuda_to_device;
    b.to_host = cuda_to_host;
    b.copy = cuda_copy;
    b.zero = cuda_zero;
    b.linear_fwd = pg_cuda_linear_fwd;
    b.linear_bwd = pg_cuda_linear_bwd;
    b.rmsnorm_fwd = pg_cuda_rmsnorm_fwd;
    b.rmsnorm_bwd = pg_cuda_rmsnorm_bwd;
    b.rope_tables = pg_cuda_rope_tables;
    b.rope_fwd = pg_cuda_rope_fwd;
    b.rope_bwd = pg_cuda_rope_bwd;
    b.attention_fwd = pg_cuda_attention_fwd;
    b.attention_bwd = pg_cuda_attention_bwd;
    b.attention_state_size = pg_cuda_attention_state_size;
    b.attention_bwd_scratch = pg_cuda_attention_bwd_scratch;
    b.mlp_act_fwd = pg_cuda_mlp_act_fwd;
    b.mlp_act_bwd = pg_cuda_mlp_act_bwd;
    b.softcap_fwd = pg_cuda_softcap_fwd;
    b.xent_fwd = pg_cuda_xent_fwd;
    b.softcap_xent_bwd = pg_cuda_softcap_xent_bwd;
    b.embedding_fwd = pg_cuda_embedding_fwd;
    b.embedding_bwd = pg_cuda_embedding_bwd;
    b.resid_mix_fwd = pg_cuda_resid_mix_fwd;
    b.resid_mix_bwd = pg_cuda_resid_mix_bwd;
    b.scaled_add_fwd = pg_cuda_scaled_add_fwd;
    b.scaled_add_bwd = pg_cuda_scaled_add_bwd;
    b.skip_add_bwd = pg_cuda_skip_add_bwd;
    b.add = pg_cuda_add;
    b.col_scale_fwd = pg_cuda_col_scale_fwd;
    b.round_bf16 = pg_cuda_round_bf16;
    b.skip_gate_fwd = pg_cuda_skip_gate_fwd;
    b.skip_gate_bwd = pg_cuda_skip_gate_bwd;
    b.lane_mix_fwd = pg_cuda_lane_mix_fwd;
    b.lane_mix_bwd = pg_cuda_lane_mix_bwd;
    b.xsa_fwd = pg_cuda_xsa_fwd;
    b.xsa_bwd = pg_cuda_xsa_bwd;
    b.head_gate_fwd = pg_cuda_head_gate_fwd;
    b.head_gate_bwd = pg_cuda_head_gate_bwd;
    b.smear_fwd = pg_cuda_smear_fwd;
    b.smear_bwd = pg_cuda_smear_bwd;
    b.q_gain_fwd = pg_cuda_q_gain_fwd;
    b.q_gain_bwd = pg_cuda_q_gain_bwd;
    b.sumsq = pg_cuda_sumsq;
    b.scale = pg_cuda_scale;
    b.sgd_update = pg_cuda_sgd_update;
    b.adam_update = pg_cuda_adam_update;
    b.muon_update = pg_cuda_muon_update;
    b.muon_scratch = pg_cuda_muon_scratch;
    b.newton_schulz5 = pg_cuda_newton_schulz5;
    b.ema_update = pg_cuda_ema_update;
    b.group_id = pg_cuda_group_id;
    b.group_join = pg_cuda_group_join;
    b.all_reduce_sum = pg_cuda_all_reduce_sum;
    return b;
}

const pg_backend *pg_backend_cuda(void)
{
    static pg_backend table;
    static int ready;
    if (ready)
        return &table;
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        cudaGetLastError();
        pg_fail("no usable CUDA device: %s (%s)", cudaGetErrorString(e), cudaGetErrorName(e));
        return NULL;
    }
    if (count == 0) {
        pg_fail("no CUDA device found");
        return NULL;
    }
    if (pg_cuda_linear_mode_from_env() < 0) {
        pg_fail("PGOLF_CUDA_LINEAR='%s': must be bf16 or fp32", getenv("PGOLF_CUDA_LINEAR"));
        return NULL;
    }
    /* a launched rank's GPU is its local rank's (nccl.c checks it), chosen before any
     * call makes a context on another */
    pg_dist_env env;
    int launched = 0;
    int dev = pg_dist_env_read(&env, &launched) == 0 && launched && count > 1 &&
                      env.local_rank < count
                  ? env.local_rank
                  : 0;
    struct cudaDeviceProp p;
    if (cudaSetDevice(dev) != cudaSuccess || cudaGetDeviceProperties(&p, dev) != cudaSuccess) {
        cudaGetLastError();
        pg_fail("cannot read the properties of CUDA device %d", dev);
        return NULL;
    }
    if (pg_cuda_module_load(p.major, p.minor) != 0)
        return NULL;
    table = make_table();
    ready = 1;
    return &table;
}

void pg_cuda_describe(char *buf, size_t n)
{
    int dev = 0, driver = 0, runtime = 0;
    struct cudaDeviceProp p;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaGetDeviceProperties(&p, dev) != cudaSuccess) {
        cudaGetLastError();
        snprintf(buf, n, "unknown CUDA device");
        return;
    }
    cudaDriverGetVersion(&driver);
    cudaRuntimeGetVersion(&runtime);
    size_t lt = cublasLtGetVersion(); /* major * 10000 + minor * 100 + patch */
    char nccl[64], module[200];
    pg_cuda_nccl_describe(nccl, sizeof nccl);
    pg_cuda_module_describe(module, sizeof module);
    snprintf(buf, n,
             "%s (sm_%d%d, %.0f GiB), CUDA driver %d.%d, runtime %d.%d, cuBLASLt %zu.%zu.%zu, %s, "
             "kernels %s, linear %s",
             p.name, p.major, p.minor, (double)p.totalGlobalMem / (1u << 30), driver / 1000,
             driver % 1000 / 10, runtime / 1000, runtime % 1000 / 10, lt / 10000, lt / 100 % 100,
             lt % 100, nccl, module, pg_cuda_linear_bf16(-1) ? "bf16" : "fp32");
}
