/* pgolf train: CPU training with the reference's loop and log lines. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/parse.h"
#include "cli/commands.h"
#include "train/train.h"

#define MAX_SETS 128

static int set_hparam(void *h, const char *name, const char *value)
{
    return pg_hparams_set(h, name, value);
}

/* Resolves settings: preset, then --config file, then the environment, then --set. */
int pg_cli_resolve_hparams(int argc, char **argv, const char *cmd, pg_hparams *h,
                           const char **out_dir, int *resume)
{
    static const struct option opts[] = {{"preset", required_argument, 0, 'p'},
                                         {"config", required_argument, 0, 'c'},
                                         {"set", required_argument, 0, 's'},
                                         {"out", required_argument, 0, 'o'},
                                         {"resume", no_argument, 0, 'r'},
                                         {0, 0, 0, 0}};
    pg_cli_warn_env_settings(stderr);
    const char *preset = "baseline", *config = NULL, *sets[MAX_SETS];
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
        case 'o': *out_dir = optarg; break;
        case 'r':
            if (!resume)
                return pg_cli_usage_error(cmd, "--resume is not an option of this command");
            *resume = 1;
            break;
        default: return pg_cli_usage_error(cmd, "bad option");
        }
    }
    if (optind != argc)
        return pg_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (strcmp(preset, "baseline") == 0) {
        pg_hparams_default(h);
    } else if (strcmp(preset, "tiny") == 0) {
        const char *root = getenv("PGOLF_ROOT");
        pg_hparams_tiny(h, root && *root ? root : ".");
    } else {
        return pg_cli_usage_error(cmd, "unknown preset '%s' (tiny or baseline)", preset);
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

int cmd_train(int argc, char **argv)
{
    pg_hparams h;
    pg_train_opts o = {.out_dir = NULL, .resume = 0, .progress = 1};
    int rc = pg_cli_resolve_hparams(argc, argv, "train", &h, &o.out_dir, &o.resume);
    if (rc != 0)
        return rc;
    if (!o.out_dir)
        return pg_cli_usage_error("train", "needs --out DIR");
    /* under torchrun / mpirun: join the other ranks first */
    pg_dist_env env;
    pg_dist dist;
    int launched;
    if (pg_dist_env_read(&env, &launched) != 0)
        return pg_cli_error();
    if (launched && env.world > 1) {
        long timeout = 120;
        const char *ts = getenv("PGOLF_RENDEZVOUS_TIMEOUT");
        if (ts && *ts && pg_parse_long(ts, "PGOLF_RENDEZVOUS_TIMEOUT", 1, 86400, &timeout) != 0)
            return pg_cli_error();
        if (pg_dist_connect(&dist, &env, (double)timeout, NULL) != 0)
            return pg_cli_error();
        pg_dist_set_current(&dist);
        o.dist = &dist;
        if (env.rank != 0)
            o.quiet = 1;
    }
    rc = pg_train(&h, &o);
    if (o.dist)
        pg_dist_close(&dist);
    return rc != 0 ? pg_cli_error() : 0;
}
