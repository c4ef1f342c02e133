/* Multi-process runs: the launcher's environment, a rendezvous that gives every rank the
 * same id (the NCCL unique id on GPUs; a session id on the CPU), and a CPU all-reduce over
 * the rendezvous sockets.
 *
 *  environment  torchrun: RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT;
 *               mpirun: OMPI_COMM_WORLD_RANK/_SIZE/_LOCAL_RANK, or PMI_RANK/PMI_SIZE.
 *               Without a rank variable the process is alone (WORLD_SIZE then means the
 *               emulated ranks of one process, as before).
 *  rendezvous   rank 0 listens (on MASTER_PORT, or MASTER_PORT + 1 when torchrun's agent
 *               holds MASTER_PORT (TORCHELASTIC_USE_AGENT_STORE=True), or on a free port it writes with the id
 *               into PGOLF_RENDEZVOUS_FILE); every other rank connects and says its rank
 *               and world size; rank 0 refuses a wrong world size or a repeated rank, waits
 *               up to the timeout for all, then sends each the id. A rank that does not
 *               arrive is named in rank 0's error; a rank that cannot reach rank 0 says so.
 *  all-reduce   star over the same sockets: rank 0 sums 0 + x_0 + x_1 + ... in rank order
 *               (float, the order the one-process emulation adds in, so N processes give
 *               the emulation's bits) and sends the sum back. */
#ifndef PG_DIST_H
#define PG_DIST_H

#include <stddef.h>
#include <stdint.h>

#define PG_DIST_ID_LEN 128 /* NCCL_UNIQUE_ID_BYTES */
#define PG_DIST_MAX_WORLD 1024

typedef struct {
    int rank, world, local_rank;
    char addr[256];
    int port;          /* MASTER_PORT, 0 when not given */
    char file[512];    /* PGOLF_RENDEZVOUS_FILE, "" when not given */
    const char *source; /* "torchrun", "mpirun (OpenMPI)", "PMI" */
} pg_dist_env;

typedef struct {
    int rank, world;
    uint8_t id[PG_DIST_ID_LEN];
    int *fds; /* rank 0: fds[r] for r >= 1; other ranks: fds[0] is rank 0 */
} pg_dist;

/* *launched is 1 when a launcher's rank variables are set (then e is filled and checked:
 * ranks in range, a rendezvous address or file given), else 0. */
int pg_dist_env_read(pg_dist_env *e, int *launched);

/* Joins the group. id (PG_DIST_ID_LEN bytes) is rank 0's to hand out (NULL: random). */
int pg_dist_connect(pg_dist *d, const pg_dist_env *e, double timeout_s, const uint8_t *id);
void pg_dist_close(pg_dist *d);

/* Sums x over ranks in rank order; every rank gets the sum. */
int pg_dist_all_reduce_sum(pg_dist *d, float *x, size_t n);

/* Rank 0's n bytes in buf to every rank. */
int pg_dist_broadcast(pg_dist *d, void *buf, size_t n);

/* The group the CPU backend's all_reduce_sum uses (NULL: one process). */
void pg_dist_set_current(pg_dist *d);
pg_dist *pg_dist_current(void);

#endif
