/* pgolf import: a PyTorch model file (or any model file pgolf reads) as a checkpoint. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "common/decode_limit.h"
#include "common/err.h"
#include "common/sha256.h"
#include "kernels/checkpoint.h"
#include "cli/commands.h"
#include "packager/torchimport.h"

#define MAX_SETS 32

int cmd_import(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, 0, 'o'},
                                         {"set", required_argument, 0, 's'},
                                         {"log", required_argument, 0, 'l'},
                                         PG_CLI_DECODE_LIMIT_OPTION,
                                         {0, 0, 0, 0}};
    const char *out = NULL, *sets[MAX_SETS];
    pg_import_hints h = {.sets = sets};
    int c;
    optind = 1;
    while ((c = pg_cli_getopt(argc, argv, opts)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'l': h.log_path = optarg; break;
        case 'X':
            if (pg_decode_limit_set(optarg) != 0)
                return pg_cli_error();
            break;
        case 's':
            if (h.nsets == MAX_SETS)
                return pg_cli_usage_error("import", "too many --set flags");
            sets[h.nsets++] = optarg;
            break;
        default: return pg_cli_usage_error("import", "bad option");
        }
    }
    if (!out || optind + 1 != argc)
        return pg_cli_usage_error("import", "needs FILE and --out CHECKPOINT");
    const char *path = argv[optind];
    pg_model m;
    char what[96];
    if (pg_model_file_load(path, &h, &m, NULL, what, sizeof what) != 0)
        return pg_cli_error();
    char hex[65];
    int rc = pg_sha256_file(path, hex);
    json_t *meta = rc == 0 ? json_pack("{s:s, s:s, s:s, s:s}", "created_by", "pgolf import",
                                       "imported_from", path, "source_format", what,
                                       "source_sha256", hex)
                           : NULL;
    if (rc == 0 && !meta)
        rc = pg_fail("%s: out of memory", out);
    if (rc == 0)
        rc = pg_checkpoint_save(out, &m, meta, NULL, 0);
    json_decref(meta);
    if (rc == 0)
        printf("import %s: %s, %d layers x %d, %d/%d heads, MLP x%d, vocab %d, %zu params -> %s\n",
               path, what, m.cfg.num_layers, m.cfg.model_dim, m.cfg.num_heads,
               m.cfg.num_kv_heads, m.cfg.mlp_mult, m.cfg.vocab_size, m.num_params, out);
    pg_model_free(&m);
    return rc == 0 ? 0 : pg_cli_error();
}
