/* pgolf init: write a freshly initialized checkpoint. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/parse.h"
#include "kernels/checkpoint.h"
#include "train/hparams.h"
#include "cli/commands.h"

#define MAX_SETS 64

static int set_config(void *cfg, const char *name, const char *value)
{
    return pg_config_set(cfg, name, value);
}

int cmd_init(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, 0, 'o'},
                                         {"preset", required_argument, 0, 'p'},
                                         {"set", required_argument, 0, 's'},
                                         {"seed", required_argument, 0, 'S'},
                                         {"init", required_argument, 0, 'i'},
                                         PG_CLI_BACKEND_OPTION,
                                         {0, 0, 0, 0}};
    const char *out = NULL, *preset = "baseline", *sets[MAX_SETS], *backend = NULL;
    int nsets = 0, mode = PG_INIT_REFERENCE, c;
    long seed = 1337;
    const char *env_seed = getenv("SEED");
    if (env_seed && *env_seed && pg_parse_long(env_seed, "SEED", 0, 0x7fffffffL, &seed) != 0)
        return pg_cli_error();
    optind = 1;
    while ((c = pg_cli_getopt(argc, argv, opts)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'p': preset = optarg; break;
        case 's':
            if (nsets == MAX_SETS)
                return pg_cli_usage_error("init", "too many --set flags");
            sets[nsets++] = optarg;
            break;
        case 'S':
            if (pg_parse_long(optarg, "--seed", 0, 0x7fffffffL, &seed) != 0)
                return pg_cli_error();
            break;
        case 'i':
            if (strcmp(optarg, "reference") == 0)
                mode = PG_INIT_REFERENCE;
            else if (strcmp(optarg, "dense") == 0)
                mode = PG_INIT_DENSE;
            else
                return pg_cli_usage_error("init", "--init must be reference or dense");
            break;
        case 'K': backend = optarg; break;
        default: return pg_cli_usage_error("init", "bad option");
        }
    }
    if (!out || optind != argc)
        return pg_cli_usage_error("init", "needs --out FILE and no other arguments");
    pg_model_config cfg;
    if (strcmp(preset, "baseline") == 0)
        cfg = pg_config_baseline();
    else if (strcmp(preset, "tiny") == 0)
        cfg = pg_config_tiny();
    else if (strcmp(preset, "record") == 0) {
        pg_hparams h;
        if (pg_hparams_record(&h) != 0)
            return pg_cli_error();
        cfg = h.model;
    } else
        return pg_cli_usage_error("init", "unknown preset '%s' (tiny, baseline or record)", preset);
    if (pg_config_from_env(&cfg) != 0)
        return pg_cli_error();
    int set_rc = pg_cli_apply_sets("init", "--set", sets, nsets, set_config, &cfg);
    if (set_rc != 0)
        return set_rc;
    const pg_backend *be;
    int brc = pg_cli_backend("init", backend, &be);
    if (brc != 0)
        return brc;
    /* the draw is on the host, so every backend writes the same file */
    pg_model m;
    if (pg_model_create_on(&m, &cfg, be) != 0)
        return pg_cli_error();
    if (pg_model_init(&m, (uint64_t)seed, mode) != 0) {
        pg_model_free(&m);
        return pg_cli_error();
    }
    json_t *meta = json_pack("{s:s, s:I, s:s}", "created_by", "pgolf init", "seed",
                             (json_int_t)seed, "init",
                             mode == PG_INIT_DENSE ? "dense" : "reference");
    int rc = meta ? pg_checkpoint_save(out, &m, meta, NULL, 0) : pg_fail("%s: out of memory", out);
    json_decref(meta);
    if (rc == 0)
        printf("%s: %d layers, d=%d, %d/%d heads, vocab %d, %zu parameters, seed %ld\n", out,
               cfg.num_layers, cfg.model_dim, cfg.num_heads, cfg.num_kv_heads, cfg.vocab_size,
               m.num_params, seed);
    pg_model_free(&m);
    return rc == 0 ? 0 : pg_cli_error();
}
