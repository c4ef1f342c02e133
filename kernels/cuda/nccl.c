/* The CUDA backend's process group: NCCL, loaded at run time (dlopen), so the same
 * ./pgolf runs where NCCL is absent (one GPU needs none) and can use the NCCL a PyTorch
 * wheel ships. PGOLF_NCCL names the library file; else libnccl.so.2 through the usual
 * search (the toolkit's library folder is on pgolf's run path).
 *
 * Rank 0 draws NCCL's unique id before the rendezvous (common/dist.c) hands it to every
 * rank; each rank then takes GPU LOCAL_RANK and opens its communicator. The all-reduce
 * runs on the default stream, ordered after the backward pass that wrote the gradient. */
#include <nccl.h>
#include <stdio.h>
#include <string.h>

#include "common/dl.h"
#include "common/err.h"
#include "kernels/cuda/backend_cuda.h"
#include "kernels/cuda/host.h"

_Static_assert(sizeof(ncclUniqueId) == NCCL_UNIQUE_ID_BYTES, "NCCL's id size");

static struct {
    ncclResult_t (*get_unique_id)(ncclUniqueId *id);
    ncclResult_t (*comm_init_rank)(ncclComm_t *comm, int world, ncclUniqueId id, int rank);
    ncclResult_t (*all_reduce)(const void *send, void *recv, size_t n, ncclDataType_t type,
                               ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream);
    const char *(*get_error_string)(ncclResult_t r);
    ncclResult_t (*get_version)(int *version);
} api;
static ncclComm_t g_comm;
static int g_world = 1;

/* Loads the library once; 0 or -1 (message). */
static int load(void)
{
    static int state; /* 0 untried, 1 loaded, -1 failed */
    static char why[600];
    static const char *const names[] = {"libnccl.so.2", NULL};
    if (state)
        return state > 0 ? 0 : pg_fail("%s", why);
    const pg_dl_sym syms[] = {{"ncclGetUniqueId", &api.get_unique_id},
                              {"ncclCommInitRank", &api.comm_init_rank},
                              {"ncclAllReduce", &api.all_reduce},
                              {"ncclGetErrorString", &api.get_error_string},
                              {"ncclGetVersion", &api.get_version}};
    void *lib = pg_dl_open("PGOLF_NCCL", names, "NCCL");
    state = lib && pg_dl_bind(lib, "NCCL", syms, sizeof syms / sizeof *syms) == 0 ? 1 : -1;
    snprintf(why, sizeof why, "%s", pg_errmsg());
    return state > 0 ? 0 : -1;
}

static int nccl_fail(ncclResult_t r, const char *what)
{
    return pg_fail("NCCL %s: %s", what, api.get_error_string(r));
}

int pg_cuda_group_id(uint8_t *id, size_t len)
{
    if (len != NCCL_UNIQUE_ID_BYTES)
        return pg_fail("NCCL's unique id is %d bytes, not %zu", NCCL_UNIQUE_ID_BYTES, len);
    if (load() != 0)
        return -1;
    ncclUniqueId u;
    ncclResult_t r = api.get_unique_id(&u);
    if (r != ncclSuccess)
        return nccl_fail(r, "ncclGetUniqueId");
    memcpy(id, u.internal, len);
    return 0;
}

int pg_cuda_group_join(const uint8_t *id, size_t len, int rank, int world, int local_rank)
{
    if (len != NCCL_UNIQUE_ID_BYTES)
        return pg_fail("NCCL's unique id is %d bytes, not %zu", NCCL_UNIQUE_ID_BYTES, len);
    /* GPU LOCAL_RANK; a launcher that shows each process only its own GPU leaves one */
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || (count > 1 && local_rank >= count)) {
        cudaGetLastError();
        return pg_fail("rank %d: LOCAL_RANK %d needs GPU %d, but this machine shows %d (NCCL "
                       "runs one rank per GPU)",
                       rank, local_rank, local_rank, count);
    }
    int device = count == 1 ? 0 : local_rank;
    cudaError_t e = cudaSetDevice(device);
    if (e != cudaSuccess) {
        cudaGetLastError();
        return pg_fail("rank %d: cannot use GPU %d: %s", rank, device, cudaGetErrorString(e));
    }
    if (load() != 0)
        return -1;
    ncclUniqueId u;
    memcpy(u.internal, id, len);
    ncclResult_t r = api.comm_init_rank(&g_comm, world, u, rank);
    if (r != ncclSuccess)
        return nccl_fail(r, "ncclCommInitRank");
    g_world = world;
    return 0;
}

int pg_cuda_all_reduce_sum(float *x, size_t n)
{
    if (g_world == 1 || n == 0)
        return 0;
    ncclResult_t r = api.all_reduce(x, x, n, ncclFloat32, ncclSum, g_comm, 0);
    return r == ncclSuccess ? 0 : nccl_fail(r, "ncclAllReduce");
}

void pg_cuda_nccl_describe(char *buf, size_t n)
{
    int v = 0;
    if (load() != 0 || api.get_version(&v) != ncclSuccess) {
        snprintf(buf, n, "NCCL not found");
        return;
    }
    /* NCCL_VERSION_CODE since 2.9: major * 10000 + minor * 100 + patch */
    snprintf(buf, n, "NCCL %d.%d.%d", v / 10000, v / 100 % 100, v % 100);
}
