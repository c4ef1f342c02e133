/* Joining the other ranks of a launched run (torchrun / mpirun): for pgolf train, pgolf
 * run and the box build's program. */
#ifndef PG_TRAIN_LAUNCH_H
#define PG_TRAIN_LAUNCH_H

#include "common/dist.h"
#include "kernels/backend.h"

/* Under torchrun / mpirun (a launcher's rank variables, more than one rank): joins the
 * other ranks on be (common/dist.h's rendezvous, then the backend's group) and sets
 * *joined; alone, does nothing. PGOLF_RENDEZVOUS_TIMEOUT (seconds, default 120) bounds
 * the wait. Fails (message). */
int pg_train_join_launch(const pg_backend *be, pg_dist *dist, int *joined);

#endif
