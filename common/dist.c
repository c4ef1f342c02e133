/* The launcher's environment, the TCP rendezvous and the CPU all-reduce (dist.h). */
#include "common/dist.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/parse.h"

#define MAGIC "PGRZ"
#define CHUNK_FLOATS ((size_t)1 << 18)

static pg_dist *g_current;

void pg_dist_set_current(pg_dist *d) { g_current = d; }
pg_dist *pg_dist_current(void) { return g_current; }

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int env_int(const char *name, long lo, long hi, long *out, int *present)
{
    const char *v = getenv(name);
    *present = v && *v;
    return *present ? pg_parse_long(v, name, lo, hi, out) : 0;
}

int pg_dist_env_read(pg_dist_env *e, int *launched)
{
    static const struct {
        const char *rank, *size, *local, *source;
    } kinds[] = {{"RANK", "WORLD_SIZE", "LOCAL_RANK", "torchrun"},
                 {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
                  "mpirun (OpenMPI)"},
                 {"PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "PMI"}};
    memset(e, 0, sizeof *e);
    *launched = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        long rank, world, local = 0;
        int has_rank, has_world, has_local;
        if (env_int(kinds[k].rank, 0, PG_DIST_MAX_WORLD - 1, &rank, &has_rank) != 0)
            return -1;
        if (!has_rank)
            continue;
        if (env_int(kinds[k].size, 1, PG_DIST_MAX_WORLD, &world, &has_world) != 0 ||
            env_int(kinds[k].local, 0, PG_DIST_MAX_WORLD - 1, &local, &has_local) != 0)
            return -1;
        if (!has_world)
            return pg_fail("%s=%ld is set but %s is not", kinds[k].rank, rank, kinds[k].size);
        if (rank >= world)
            return pg_fail("%s=%ld is not below %s=%ld", kinds[k].rank, rank, kinds[k].size, world);
        e->rank = (int)rank;
        e->world = (int)world;
        e->local_rank = (int)local;
        e->source = kinds[k].source;
        *launched = 1;
        break;
    }
    if (!*launched)
        return 0;
    const char *file = getenv("PGOLF_RENDEZVOUS_FILE"), *addr = getenv("MASTER_ADDR");
    long port = 0;
    int has_port;
    if (env_int("MASTER_PORT", 1, 65535, &port, &has_port) != 0)
        return -1;
    /* when torchrun's agent hosts its own store on MASTER_PORT, pgolf takes the next port */
    const char *agent_store = getenv("TORCHELASTIC_USE_AGENT_STORE");
    if (has_port && agent_store && (strcmp(agent_store, "True") == 0 || strcmp(agent_store, "1") == 0))
        port = port == 65535 ? 65534 : port + 1;
    if (file && *file) {
        snprintf(e->file, sizeof e->file, "%s", file);
        snprintf(e->addr, sizeof e->addr, "%s", addr && *addr ? addr : "127.0.0.1");
    } else if (addr && *addr && has_port) {
        snprintf(e->addr, sizeof e->addr, "%s", addr);
        e->port = (int)port;
    } else {
        return pg_fail("launched by %s as rank %d of %d, but neither MASTER_ADDR and MASTER_PORT "
                       "nor PGOLF_RENDEZVOUS_FILE says where rank 0 listens",
                       e->source, e->rank, e->world);
    }
    return 0;
}

/* ---- sockets ------------------------------------------------------------------------ */

static int io_all(int fd, void *buf, size_t n, int writing, double deadline)
{
    uint8_t *p = buf;
    while (n) {
        if (deadline > 0) {
            double left = deadline - now_s();
            struct pollfd pf = {fd, (short)(writing ? POLLOUT : POLLIN), 0};
            if (left <= 0 || poll(&pf, 1, (int)(left * 1000) + 1) <= 0)
                return -2; /* timed out */
        }
        ssize_t k = writing ? send(fd, p, n, MSG_NOSIGNAL) : recv(fd, p, n, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int lookup(const char *addr, int port, struct addrinfo **res, int passive)
{
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM,
                             .ai_flags = passive ? AI_PASSIVE : 0};
    int rc = getaddrinfo(addr, ps, &hints, res);
    return rc == 0 ? 0 : pg_fail("rendezvous: cannot resolve %s (%s)", addr, gai_strerror(rc));
}

static void nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Rank 0's listening socket; *port gets the port bound (a free one when 0 was asked). */
static int listen_on(const pg_dist_env *e, int *port)
{
    struct addrinfo *ai;
    if (lookup(e->addr, e->port, &ai, 1) != 0)
        return -1;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, PG_DIST_MAX_WORLD) != 0) {
        int err = errno;
        freeaddrinfo(ai);
        if (fd >= 0)
            close(fd);
        return pg_fail("rendezvous: rank 0 cannot listen on %s:%d (%s)", e->addr, e->port, strerror(err));
    }
    freeaddrinfo(ai);
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    *port = ntohs(sa.sin_port);
    return fd;
}

static int refuse(int fd, const char *why)
{
    uint8_t st = 1;
    uint16_t n = (uint16_t)strlen(why);
    io_all(fd, &st, 1, 1, 0);
    io_all(fd, &n, 2, 1, 0);
    io_all(fd, (void *)why, n, 1, 0);
    return close(fd);
}

static int serve(pg_dist *d, const pg_dist_env *e, int lfd, double deadline, double timeout_s,
                 int port)
{
    int arrived = 1;
    while (arrived < e->world) {
        double left = deadline - now_s();
        struct pollfd pf = {lfd, POLLIN, 0};
        if (left <= 0 || poll(&pf, 1, (int)(left * 1000) + 1) <= 0) {
            char missing[256] = "";
            int listed = 0;
            for (int r = 1; r < e->world; r++)
                if (d->fds[r] < 0 && listed++ < 16) {
                    size_t l = strlen(missing);
                    snprintf(missing + l, sizeof missing - l, "%s%d", l ? ", " : "", r);
                }
            return pg_fail("rendezvous on %s:%d: rank%s %s%s of %d did not arrive within %.0f s",
                           e->addr, port, listed > 1 ? "s" : "", missing, listed > 16 ? ", ..." : "",
                           e->world, timeout_s);
        }
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            continue;
        nodelay(fd);
        uint8_t hello[12];
        if (io_all(fd, hello, sizeof hello, 0, now_s() + 5) != 0 || memcmp(hello, MAGIC, 4) != 0) {
            close(fd); /* not a pgolf rank: ignore it */
            continue;
        }
        int32_t rank, world;
        memcpy(&rank, hello + 4, 4);
        memcpy(&world, hello + 8, 4);
        char why[160];
        if (world != e->world) {
            snprintf(why, sizeof why, "rank %d says WORLD_SIZE=%d but rank 0 has WORLD_SIZE=%d",
                     rank, world, e->world);
            refuse(fd, why);
            return pg_fail("rendezvous: %s", why);
        }
        if (rank < 1 || rank >= e->world || d->fds[rank] >= 0) {
            snprintf(why, sizeof why, "rank %d is out of range or already arrived", rank);
            refuse(fd, why);
            return pg_fail("rendezvous: %s", why);
        }
        d->fds[rank] = fd;
        arrived++;
    }
    for (int r = 1; r < e->world; r++) {
        uint8_t st = 0;
        if (io_all(d->fds[r], &st, 1, 1, deadline + 5) != 0 ||
            io_all(d->fds[r], d->id, PG_DIST_ID_LEN, 1, deadline + 5) != 0)
            return pg_fail("rendezvous: rank %d left before it got the id", r);
    }
    return 0;
}

/* Where rank 0 listens: from the file (written by rank 0) or the environment. */
static int target(const pg_dist_env *e, char *addr, size_t cap, int *port)
{
    if (!e->file[0]) {
        snprintf(addr, cap, "%s", e->addr);
        *port = e->port;
        return 0;
    }
    FILE *f = fopen(e->file, "r");
    if (!f)
        return -1;
    char line[320];
    int ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    char host[256];
    if (!ok || sscanf(line, MAGIC " %255s %d", host, port) != 2)
        return -1;
    snprintf(addr, cap, "%s", host);
    return 0;
}

static int join(pg_dist *d, const pg_dist_env *e, double deadline)
{
    char addr[256] = "";
    int port = 0;
    for (;;) {
        if (target(e, addr, sizeof addr, &port) == 0) {
            struct addrinfo *ai;
            if (lookup(addr, port, &ai, 0) != 0)
                return -1;
            int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
            int rc = fd >= 0 ? connect(fd, ai->ai_addr, ai->ai_addrlen) : -1;
            freeaddrinfo(ai);
            if (rc == 0) {
                nodelay(fd);
                d->fds[0] = fd;
                break;
            }
            if (fd >= 0)
                close(fd);
        }
        if (now_s() >= deadline)
            return pg_fail("rendezvous: rank %d could not reach rank 0 at %s within the timeout",
                           e->rank, e->file[0] ? e->file : addr);
        usleep(50000);
    }
    uint8_t hello[12];
    int32_t rank = e->rank, world = e->world;
    memcpy(hello, MAGIC, 4);
    memcpy(hello + 4, &rank, 4);
    memcpy(hello + 8, &world, 4);
    uint8_t st;
    if (io_all(d->fds[0], hello, sizeof hello, 1, deadline + 5) != 0 ||
        io_all(d->fds[0], &st, 1, 0, deadline + 5) != 0)
        return pg_fail("rendezvous: rank %d got no answer from rank 0 at %s:%d", e->rank, addr, port);
    if (st != 0) {
        uint16_t n = 0;
        char why[256] = "(no reason given)";
        if (io_all(d->fds[0], &n, 2, 0, now_s() + 5) == 0 && n < sizeof why &&
            io_all(d->fds[0], why, n, 0, now_s() + 5) == 0)
            why[n] = 0;
        return pg_fail("rendezvous: rank 0 refused rank %d: %s", e->rank, why);
    }
    if (io_all(d->fds[0], d->id, PG_DIST_ID_LEN, 0, deadline + 5) != 0)
        return pg_fail("rendezvous: rank %d: rank 0 closed before sending the id", e->rank);
    return 0;
}

int pg_dist_connect(pg_dist *d, const pg_dist_env *e, double timeout_s, const uint8_t *id)
{
    memset(d, 0, sizeof *d);
    d->rank = e->rank;
    d->world = e->world;
    d->fds = malloc((size_t)e->world * sizeof *d->fds);
    if (!d->fds)
        return pg_fail("rendezvous: out of memory");
    for (int r = 0; r < e->world; r++)
        d->fds[r] = -1;
    double deadline = now_s() + timeout_s;
    int rc;
    if (e->rank == 0) {
        if (id)
            memcpy(d->id, id, PG_DIST_ID_LEN);
        else if (pg_random_bytes(d->id, PG_DIST_ID_LEN) != 0) {
            pg_dist_close(d);
            return pg_fail("rendezvous: cannot read /dev/urandom");
        }
        int port = 0, lfd = listen_on(e, &port);
        if (lfd < 0) {
            pg_dist_close(d);
            return -1;
        }
        rc = 0;
        if (e->file[0]) {
            char line[320];
            int n = snprintf(line, sizeof line, MAGIC " %s %d\n", e->addr, port);
            rc = pg_write_file_atomic(e->file, line, (size_t)n);
        }
        if (rc == 0)
            rc = serve(d, e, lfd, deadline, timeout_s, port);
        close(lfd);
    } else {
        rc = join(d, e, deadline);
    }
    if (rc != 0)
        pg_dist_close(d);
    return rc;
}

void pg_dist_close(pg_dist *d)
{
    for (int r = 0; d->fds && r < d->world; r++)
        if (d->fds[r] >= 0)
            close(d->fds[r]);
    free(d->fds);
    d->fds = NULL;
    if (g_current == d)
        g_current = NULL;
}

int pg_dist_all_reduce_sum(pg_dist *d, float *x, size_t n)
{
    if (d->world == 1)
        return 0;
    if (d->rank != 0) {
        if (io_all(d->fds[0], x, n * sizeof *x, 1, 0) != 0 ||
            io_all(d->fds[0], x, n * sizeof *x, 0, 0) != 0)
            return pg_fail("all-reduce: rank %d lost its connection to rank 0", d->rank);
        return 0;
    }
    float *acc = malloc(n * sizeof *acc), *in = malloc(CHUNK_FLOATS * sizeof *in);
    if (!acc || !in) {
        free(acc);
        free(in);
        return pg_fail("all-reduce: out of memory for %zu floats", n);
    }
    for (size_t i = 0; i < n; i++) /* 0 + x_0, as the emulation starts from zeroed gradients */
        acc[i] = 0.0f + x[i];
    int rc = 0;
    for (int r = 1; r < d->world && rc == 0; r++)
        for (size_t at = 0; at < n && rc == 0; at += CHUNK_FLOATS) {
            size_t k = n - at < CHUNK_FLOATS ? n - at : CHUNK_FLOATS;
            if (io_all(d->fds[r], in, k * sizeof *in, 0, 0) != 0)
                rc = pg_fail("all-reduce: rank %d closed its connection", r);
            for (size_t i = 0; i < k && rc == 0; i++)
                acc[at + i] += in[i];
        }
    for (int r = 1; r < d->world && rc == 0; r++)
        if (io_all(d->fds[r], acc, n * sizeof *acc, 1, 0) != 0)
            rc = pg_fail("all-reduce: rank %d closed its connection", r);
    if (rc == 0)
        memcpy(x, acc, n * sizeof *x);
    free(acc);
    free(in);
    return rc;
}

int pg_dist_broadcast(pg_dist *d, void *buf, size_t n)
{
    if (d->rank != 0)
        return io_all(d->fds[0], buf, n, 0, 0) == 0
                   ? 0
                   : pg_fail("broadcast: rank %d lost its connection to rank 0", d->rank);
    for (int r = 1; r < d->world; r++)
        if (io_all(d->fds[r], buf, n, 1, 0) != 0)
            return pg_fail("broadcast: rank %d closed its connection", r);
    return 0;
}
