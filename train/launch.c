#include "train/launch.h"

#include <stdlib.h>

#include "common/err.h"
#include "common/parse.h"

int pg_train_join_launch(const pg_backend *be, pg_dist *dist, int *joined)
{
    pg_dist_env env;
    int launched;
    *joined = 0;
    if (pg_dist_env_read(&env, &launched) != 0)
        return -1;
    if (!launched || env.world == 1)
        return 0;
    long timeout = 120;
    const char *ts = getenv("PGOLF_RENDEZVOUS_TIMEOUT");
    if (ts && *ts && pg_parse_long(ts, "PGOLF_RENDEZVOUS_TIMEOUT", 1, 86400, &timeout) != 0)
        return -1;
    /* the backend's group (NCCL on GPUs) takes its id from rank 0 through the rendezvous;
     * the CPU's group is the rendezvous itself */
    uint8_t id[PG_DIST_ID_LEN];
    int own_id = env.rank == 0 && be->group_id;
    if (own_id && be->group_id(id, sizeof id) != 0)
        return -1;
    if (pg_dist_connect(dist, &env, (double)timeout, own_id ? id : NULL) != 0)
        return -1;
    if (be->group_join &&
        be->group_join(dist->id, sizeof dist->id, env.rank, env.world, env.local_rank) != 0) {
        pg_dist_close(dist);
        return -1;
    }
    pg_dist_set_current(dist);
    *joined = 1;
    return 0;
}
