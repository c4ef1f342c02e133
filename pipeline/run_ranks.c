/* A launched `pgolf run` (docs/manifest.md): rank 0 runs the pipeline; the other ranks
 * only train. Before each train stage that runs, rank 0 sends the others an order (the
 * stage's hyperparameters and folder) over the rendezvous sockets, and all ranks train
 * it together; at the end it sends "done". Only rank 0 writes files. */
#include <stdint.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"
#include "pipeline/run_stages.h"
#include "train/train.h"

enum { ORDER_TRAIN = 1, ORDER_DONE = 2 };

typedef struct {
    int32_t kind, resume, status, pad;
    pg_hparams h;
    char dir[PG_PATH_MAX];
} run_order;

int pg_run_order_train(pg_dist *d, const pg_hparams *h, const char *dir, int resume)
{
    run_order o;
    memset(&o, 0, sizeof o);
    o.kind = ORDER_TRAIN;
    o.resume = resume;
    o.h = *h;
    if (strlen(dir) >= sizeof o.dir)
        return pg_fail("%s: a train stage's folder path is too long to send to the ranks", dir);
    memcpy(o.dir, dir, strlen(dir) + 1);
    return pg_dist_broadcast(d, &o, sizeof o);
}

int pg_run_release(pg_dist *d, int status)
{
    run_order o;
    memset(&o, 0, sizeof o);
    o.kind = ORDER_DONE;
    o.status = status;
    return pg_dist_broadcast(d, &o, sizeof o);
}

int pg_run_follow(pg_dist *d, const struct pg_backend *be, volatile sig_atomic_t *stop)
{
    for (;;) {
        run_order o;
        if (pg_dist_broadcast(d, &o, sizeof o) != 0)
            return -1;
        if (o.kind == ORDER_DONE)
            return o.status == 0 ? 0 : pg_fail("rank 0's run failed (rank %d stops)", d->rank);
        if (o.kind != ORDER_TRAIN)
            return pg_fail("rank %d: unknown order %d from rank 0", d->rank, (int)o.kind);
        o.dir[sizeof o.dir - 1] = '\0';
        pg_train_opts t = {.out_dir = o.dir, .resume = o.resume, .quiet = 1, .backend = be,
                           .dist = d, .stop = stop};
        if (pg_train(&o.h, &t) != 0)
            return -1;
    }
}
