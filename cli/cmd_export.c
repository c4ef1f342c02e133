/* pgolf export: a model in the official train_gpt.py artifact format. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/decode_limit.h"
#include "common/err.h"
#include "common/fileio.h"
#include "common/sha256.h"
#include "cli/commands.h"
#include "packager/torchexport.h"
#include "packager/torchimport.h"

int cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, 0, 'o'},
                                         {"format", required_argument, 0, 'f'},
                                         PG_CLI_DECODE_LIMIT_OPTION,
                                         {0, 0, 0, 0}};
    const char *out = NULL, *format = NULL;
    int c;
    optind = 1;
    while ((c = pg_cli_getopt(argc, argv, opts)) != -1) {
        if (c == 'o')
            out = optarg;
        else if (c == 'f')
            format = optarg;
        else if (c == 'X') {
            if (pg_decode_limit_set(optarg) != 0)
                return pg_cli_error();
        } else
            return pg_cli_usage_error("export", "bad option");
    }
    if (!out || !format || optind + 1 != argc)
        return pg_cli_usage_error("export", "needs MODEL, --format int8-ptz and --out FILE");
    if (strcmp(format, "int8-ptz") != 0)
        return pg_cli_usage_error("export", "unknown --format '%s' (int8-ptz)", format);
    pg_model m;
    if (pg_model_file_load(argv[optind], NULL, &m, NULL, NULL, 0) != 0)
        return pg_cli_error();
    uint8_t *buf = NULL;
    size_t n = 0;
    int rc = pg_torch_export_int8(&m, &buf, &n);
    pg_model_free(&m);
    if (rc == 0)
        rc = pg_write_file_atomic(out, buf, n);
    if (rc == 0) {
        uint8_t digest[PG_SHA256_LEN];
        char hex[PG_SHA256_HEX_LEN];
        pg_sha256(buf, n, digest);
        pg_sha256_hex(digest, hex);
        printf("export %s: int8_clean_per_row_v1 (torch.save zip, zlib 9) %zu bytes sha256 %s -> %s\n",
               argv[optind], n, hex, out);
    }
    free(buf);
    return rc == 0 ? 0 : pg_cli_error();
}
