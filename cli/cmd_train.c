/* pgolf train: CPU training with the reference's loop and log lines. */
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/sha256.h"
#include "cli/commands.h"
#include "kernels/config.h"
#include "train/launch.h"
#include "train/train.h"

#define MAX_SETS 128

static int set_hparam(void *h, const char *name, const char *value)
{
    return pg_hparams_set(h, name, value);
}

/* Resolves settings: preset, then --config file, then the environment, then --set; and
 * --out, --resume, --force, --backend. */
static int resolve_hparams(int argc, char **argv, const char *cmd, pg_hparams *h,
                           pg_train_opts *o)
{
    static const struct option opts[] = {{"preset", required_argument, 0, 'p'},
                                         {"config", required_argument, 0, 'c'},
                                         {"set", required_argument, 0, 's'},
                                         {"out", required_argument, 0, 'o'},
                                         {"resume", no_argument, 0, 'r'},
                                         {"force", no_argument, 0, 'F'},
                                         PG_CLI_BACKEND_OPTION,
                                         {0, 0, 0, 0}};
    pg_cli_warn_env_settings(stderr);
    const char *preset = "baseline", *config = NULL, *sets[MAX_SETS], *backend = NULL;
    int nsets = 0, c;
    optind = 1;
    while ((c = pg_cli_getopt(argc, argv, opts)) != -1) {
        switch (c) {
        case 'p': preset = optarg; break;
        case 'c': config = optarg; break;
        case 's':
            if (nsets == MAX_SETS)
                return pg_cli_usage_error(cmd, "too many --set flags");
            sets[nsets++] = optarg;
            break;
        case 'o': o->out_dir = optarg; break;
        case 'r': o->resume = 1; break;
        case 'F': o->force = 1; break;
        case 'K': backend = optarg; break;
        default: return pg_cli_usage_error(cmd, "bad option");
        }
    }
    if (optind != argc)
        return pg_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (o->resume && o->force)
        return pg_cli_usage_error(cmd, "--resume continues a run and --force replaces it: pass one");
    int brc = pg_cli_backend(cmd, backend, &o->backend);
    if (brc != 0)
        return brc;
    if (strcmp(preset, "baseline") == 0) {
        pg_hparams_default(h);
    } else if (strcmp(preset, "tiny") == 0) {
        char root[PATH_MAX];
        if (pg_cli_root(root, sizeof root) != 0)
            return pg_cli_error();
        pg_hparams_tiny(h, root);
    } else if (strcmp(preset, "record") == 0) {
        if (pg_hparams_record(h) != 0)
            return pg_cli_error();
    } else {
        return pg_cli_usage_error(cmd, "unknown preset '%s' (tiny, baseline or record)", preset);
    }
    if (config && pg_hparams_load_file(h, config) != 0)
        return pg_cli_error();
    if (pg_hparams_from_env(h) != 0)
        return pg_cli_error();
    int rc = pg_cli_apply_sets(cmd, "--set", sets, nsets, set_hparam, h);
    if (rc != 0)
        return rc;
    if (pg_hparams_validate(h) != 0)
        return pg_cli_error();
    return 0;
}

/* The reference's warning sign: settings under which one optimizer step is minutes of
 * work on the CPU backend (6 FLOPs per parameter per token, plus attention's). */
static void warn_slow_step(const pg_hparams *h)
{
    size_t params;
    if (pg_config_num_params(&h->model, &params) != 0)
        return;
    double tokens = (double)h->train_batch_tokens;
    double attn = 6.0 * h->model.num_layers * (double)h->model.seq_len * h->model.model_dim;
    double flops = tokens * (6.0 * (double)params + attn);
    /* about twice what 2 cores sustain over a whole 9x512 step with OpenBLAS (make bench) */
    const double cpu_flops_per_s = 1e11;
    if (flops / cpu_flops_per_s < 60)
        return;
    fprintf(stderr,
            "pgolf: warning: one training step is about %.1e FLOPs (TRAIN_BATCH_TOKENS=%ld, "
            "%zu parameters): %.0f minutes even at 100 GFLOP/s on the CPU backend; lower "
            "TRAIN_BATCH_TOKENS or use --preset tiny\n",
            flops, h->train_batch_tokens, params, flops / cpu_flops_per_s / 60);
}

/* A RUN_ID is a file name: the log is logs/RUN_ID.txt. */
static int check_run_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 128 || strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                         "0123456789-_.") != n || id[0] == '.')
        return pg_fail("RUN_ID '%.140s': must be 1-128 letters, digits, '-', '_' or '.' "
                       "(not starting with '.'): it names logs/RUN_ID.txt", id);
    return 0;
}

/* 16 bytes as a version-4 UUID (the reference's default RUN_ID). */
static void format_uuid4(const uint8_t b[16], char out[37])
{
    uint8_t u[16];
    memcpy(u, b, 16);
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        p += sprintf(p, "%02x", u[i]);
    }
}

int cmd_train(int argc, char **argv)
{
    pg_hparams h;
    pg_train_opts o = {.progress = 1};
    int rc = resolve_hparams(argc, argv, "train", &h, &o);
    if (rc != 0)
        return rc;
    if (o.backend->host_memory)
        warn_slow_step(&h);
    /* under torchrun / mpirun: join the other ranks first */
    pg_dist dist;
    int joined;
    if (pg_train_join_launch(o.backend, &dist, &joined) != 0)
        return pg_cli_error();
    if (joined) {
        o.dist = &dist;
        if (dist.rank != 0)
            o.quiet = 1;
    }
    /* without --out, the reference's layout: logs/RUN_ID.txt, RUN_ID from the environment
     * or fresh (every rank derives the same one from the rendezvous id) */
    char fresh_id[37];
    if (!o.out_dir) {
        const char *id = getenv("RUN_ID");
        if (id) {
            if (check_run_id(id) != 0) {
                if (o.dist)
                    pg_dist_close(&dist);
                return pg_cli_error();
            }
        } else {
            uint8_t bytes[PG_SHA256_LEN]; /* an NCCL id is partly an address: hash it */
            if (o.dist)
                pg_sha256(dist.id, sizeof dist.id, bytes);
            else if (pg_random_bytes(bytes, sizeof bytes) != 0) {
                pg_fail("/dev/urandom: cannot read a fresh RUN_ID");
                return pg_cli_error();
            }
            format_uuid4(bytes, fresh_id);
            id = fresh_id;
        }
        o.out_dir = "logs";
        o.run_id = id;
    }
    rc = pg_train(&h, &o);
    if (o.dist)
        pg_dist_close(&dist);
    return rc != 0 ? pg_cli_error() : 0;
}
