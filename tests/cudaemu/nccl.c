/* NCCL for the engine's one rank, built as the libnccl.so.2 that kernels/cuda/nccl.c loads
 * in the engine build (found first on that build's run path): a communicator of one rank
 * (an all-reduce over it is the identity, in place). A larger world is refused: the
 * engine runs one device in one process. */
#include <nccl.h>
#include <string.h>

static struct ncclComm *const ONE_RANK = (struct ncclComm *)&ONE_RANK;

ncclResult_t ncclGetUniqueId(ncclUniqueId *id)
{
    memset(id, 0, sizeof *id);
    memcpy(id->internal, "pgolf cudaemu", 13);
    return ncclSuccess;
}

ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank)
{
    (void)id;
    if (nranks != 1 || rank != 0)
        return ncclInvalidUsage;
    *comm = ONE_RANK;
    return ncclSuccess;
}

ncclResult_t ncclAllReduce(const void *send, void *recv, size_t count, ncclDataType_t type,
                           ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream)
{
    (void)count, (void)type, (void)op;
    return comm == ONE_RANK && send == recv && !stream ? ncclSuccess : ncclInvalidUsage;
}

const char *ncclGetErrorString(ncclResult_t r)
{
    return r == ncclSuccess ? "no error"
                            : "the CPU execution engine's NCCL has one rank and reduces in place";
}

ncclResult_t ncclGetVersion(int *version)
{
    *version = NCCL_VERSION_CODE;
    return ncclSuccess;
}
