/* pgolf export: a model in the official train_gpt.py artifact format, or in the April
 * records' (GPTQ + LQER, {"w","m"}, BSHF + brotli) with the Hessians of its training. */
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
#include "packager/torchexport_records.h"
#include "packager/torchimport.h"

/* The records' artifact of m with the Hessians file and the --set values. */
static int export_records(const pg_model *m, const char *hessians, int record,
                          const char *const *sets, int nsets, uint8_t **buf, size_t *n)
{
    pg_records_quant q;
    if (record ? pg_records_quant_record(&q) != 0 : (pg_records_quant_default(&q), 0))
        return -1;
    pg_settings_bind b = {&pg_records_quant_settings, &q};
    for (int i = 0; i < nsets; i++) {
        const char *eq = strchr(sets[i], '=');
        char name[128];
        if (!eq || (size_t)(eq - sets[i]) >= sizeof name)
            return pg_fail("--set %s: expected NAME=VALUE", sets[i]);
        snprintf(name, sizeof name, "%.*s", (int)(eq - sets[i]), sets[i]);
        if (pg_settings_set(&b, 1, name, eq + 1) != 0)
            return -1;
    }
    pg_hessians hs;
    if (pg_hessians_load(&hs, hessians, m) != 0)
        return -1;
    int rc = pg_torch_export_records(m, &hs, &q, stdout, buf, n);
    pg_hessians_free(&hs);
    return rc;
}

int cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, 0, 'o'},
                                         {"format", required_argument, 0, 'f'},
                                         {"hessians", required_argument, 0, 'H'},
                                         {"set", required_argument, 0, 's'},
                                         {"preset", required_argument, 0, 'p'},
                                         PG_CLI_DECODE_LIMIT_OPTION,
                                         {0, 0, 0, 0}};
    const char *out = NULL, *format = NULL, *hessians = NULL, *preset = NULL, *sets[64];
    int c, nsets = 0;
    optind = 1;
    while ((c = pg_cli_getopt(argc, argv, opts)) != -1) {
        if (c == 'o')
            out = optarg;
        else if (c == 'f')
            format = optarg;
        else if (c == 'H')
            hessians = optarg;
        else if (c == 's' && nsets < 64)
            sets[nsets++] = optarg;
        else if (c == 'p')
            preset = optarg;
        else if (c == 'X') {
            if (pg_decode_limit_set(optarg) != 0)
                return pg_cli_error();
        } else
            return pg_cli_usage_error("export", "bad option");
    }
    if (!out || !format || optind + 1 != argc)
        return pg_cli_usage_error("export", "needs MODEL, --format int8-ptz|records and --out FILE");
    int records = strcmp(format, "records") == 0;
    if (!records && strcmp(format, "int8-ptz") != 0)
        return pg_cli_usage_error("export", "unknown --format '%s' (int8-ptz, records)", format);
    if (records != (hessians != NULL))
        return pg_cli_usage_error("export", records ? "--format records needs --hessians FILE "
                                                      "(hessians.bin of the training run)"
                                                    : "--hessians is for --format records");
    if (!records && (nsets || preset))
        return pg_cli_usage_error("export", "--set and --preset are for --format records");
    if (preset && strcmp(preset, "record") != 0)
        return pg_cli_usage_error("export", "unknown preset '%s' (record; without one, the "
                                            "records' code defaults)", preset);
    pg_model m;
    if (pg_model_file_load(argv[optind], NULL, &m, NULL, NULL, 0) != 0)
        return pg_cli_error();
    uint8_t *buf = NULL;
    size_t n = 0;
    int rc = records ? export_records(&m, hessians, preset != NULL, sets, nsets, &buf, &n)
                     : pg_torch_export_int8(&m, &buf, &n);
    pg_model_free(&m);
    if (rc == 0)
        rc = pg_write_file_atomic(out, buf, n);
    if (rc == 0) {
        uint8_t digest[PG_SHA256_LEN];
        char hex[PG_SHA256_HEX_LEN];
        pg_sha256(buf, n, digest);
        pg_sha256_hex(digest, hex);
        printf("export %s: %s %zu bytes sha256 %s -> %s\n", argv[optind],
               records ? "the records' {\"w\",\"m\"} (GPTQ + LQER, BSHF + brotli-11)"
                       : "int8_clean_per_row_v1 (torch.save zip, zlib 9)",
               n, hex, out);
    }
    free(buf);
    return rc == 0 ? 0 : pg_cli_error();
}
