/* pgolf pack / unpack / selfextract: checkpoint -> quantized, compressed artifact, and
 * back; the self-extracting train_gpt.py. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/decode_limit.h"
#include "common/err.h"
#include "kernels/checkpoint.h"
#include "common/fileio.h"
#include "packager/artifact.h"
#include "packager/pack.h"
#include "packager/selfextract.h"
#include "cli/commands.h"
#include "pipeline/runconfig.h"

#define MAX_GROUPS 8

int cmd_pack(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, 0, 'o'},
                                         {"scheme", required_argument, 0, 's'},
                                         {"group", required_argument, 0, 'g'},
                                         {"json", no_argument, 0, 'j'},
                                         {"code", required_argument, 0, 'c'},
                                         {"budget", no_argument, 0, 'b'},
                                         {0, 0, 0, 0}};
    const char *out = NULL, *scheme = "int8", *groups[MAX_GROUPS], *code = NULL;
    int ngroups = 0, as_json = 0, budget = 0, c;
    optind = 1;
    while ((c = pg_cli_getopt(argc, argv, opts)) != -1) {
        if (c == 'o')
            out = optarg;
        else if (c == 's')
            scheme = optarg;
        else if (c == 'g' && ngroups < MAX_GROUPS)
            groups[ngroups++] = optarg;
        else if (c == 'j')
            as_json = 1;
        else if (c == 'c')
            code = optarg;
        else if (c == 'b')
            budget = 1;
        else
            return pg_cli_usage_error("pack", "bad option");
    }
    if (!out || optind + 1 != argc)
        return pg_cli_usage_error("pack", "needs CHECKPOINT and --out ARTIFACT");
    pg_quant_plan plan;
    if (strcmp(scheme, "int8") == 0)
        pg_quant_plan_int8(&plan);
    else if (strcmp(scheme, "mixed") == 0)
        pg_quant_plan_mixed(&plan);
    else
        return pg_cli_usage_error("pack", "--scheme must be int8 or mixed");
    for (int i = 0; i < ngroups; i++)
        if (pg_quant_plan_set(&plan, groups[i]) != 0)
            return pg_cli_error();
    long long code_bytes = 0;
    if (code && pg_ledger_code_bytes(code, &code_bytes) != 0)
        return pg_cli_error();
    pg_model m;
    if (pg_checkpoint_load(argv[optind], &m, NULL) != 0)
        return pg_cli_error();
    /* the ledger is checked before anything is written */
    pg_pack_stats st;
    pg_ledger led;
    int rc = pg_pack_model(out, &m, &plan, code_bytes, &st, &led);
    pg_model_free(&m);
    if (budget && st.file_bytes)
        pg_ledger_print_budget(&led, &st, as_json ? stderr : stdout);
    if (rc != 0)
        return pg_cli_error();
    json_t *gj = json_object();
    int ok = gj != NULL;
    for (int g = 0; g < PG_NUM_QGROUPS; g++) {
        const char *cn = pg_codec_name(st.codec[g].id);
        ok = ok && json_object_set_new(gj, pg_qgroup_name((pg_qgroup)g),
                                       json_pack("{s:s, s:I, s:s, s:i, s:i, s:I}", "scheme",
                                                 pg_qscheme_name(plan.scheme[g]), "raw_bytes",
                                                 (json_int_t)st.raw[g], "codec", cn, "level",
                                                 st.codec[g].level, "shuffle",
                                                 st.codec[g].shuffle, "compressed_bytes",
                                                 (json_int_t)st.compressed[g])) == 0;
        if (!as_json)
            printf("group %-8s %-9s raw %9zu bytes -> %-6s-%d%s %9zu bytes\n",
                   pg_qgroup_name((pg_qgroup)g), pg_qscheme_name(plan.scheme[g]), st.raw[g], cn,
                   st.codec[g].level, st.codec[g].shuffle > 1 ? "+shuffle" : "", st.compressed[g]);
    }
    char tag[192];
    pg_pack_tag(scheme, &st, tag, sizeof tag);
    if (as_json) {
        if (!ok) { /* the output's construction fails and says so */
            json_decref(gj);
            gj = NULL;
        }
        return pg_cli_print_json(json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:o}", "artifact",
                                           out, "scheme", scheme, "bytes",
                                           (json_int_t)st.file_bytes, "code_bytes",
                                           (json_int_t)led.code_bytes, "total_bytes",
                                           (json_int_t)led.total, "remaining_bytes",
                                           (json_int_t)led.remaining, "groups", gj));
    }
    json_decref(gj);
    pg_ledger_print(&led, tag, stdout);
    return 0;
}

int cmd_unpack(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, 0, 'o'},
                                         PG_CLI_DECODE_LIMIT_OPTION, {0, 0, 0, 0}};
    const char *out = NULL;
    int c;
    optind = 1;
    while ((c = pg_cli_getopt(argc, argv, opts)) != -1) {
        if (c == 'o')
            out = optarg;
        else if (c == 'X') {
            if (pg_decode_limit_set(optarg) != 0)
                return pg_cli_error();
        } else
            return pg_cli_usage_error("unpack", "bad option");
    }
    if (!out || optind + 1 != argc)
        return pg_cli_usage_error("unpack", "needs ARTIFACT and --out CHECKPOINT");
    pg_model m;
    if (pg_artifact_load(argv[optind], &m, NULL) != 0)
        return pg_cli_error();
    json_t *meta = json_pack("{s:s, s:s}", "created_by", "pgolf unpack", "artifact", argv[optind]);
    int rc = meta ? pg_checkpoint_save(out, &m, meta, NULL, 0) : pg_fail("%s: out of memory", out);
    json_decref(meta);
    size_t n = m.num_params;
    pg_model_free(&m);
    if (rc != 0)
        return pg_cli_error();
    printf("%s: dequantized %zu parameters\n", out, n);
    return 0;
}

/* PGOLF_* names are the script's own (PGOLF_PRESET); the rest are run settings. */
static int run_config_set(void *ctx, const char *name, const char *value)
{
    return strncmp(name, "PGOLF_", 6) == 0 ? 0 : pg_run_config_set(ctx, name, value);
}

/* The baked settings must be ones the script's run would accept (names, types, ranges). */
static int check_baked_settings(const char *root, const char *const *sets, int n)
{
    pg_run_config c;
    if (pg_run_config_preset(&c, "baseline", root) != 0)
        return pg_cli_error();
    int rc = pg_cli_apply_sets("selfextract", "--set", sets, n, run_config_set, &c);
    if (rc == 0 && pg_hparams_validate(&c.h) != 0)
        rc = pg_cli_error();
    return rc;
}

/* The files the archive is made from, one per line. */
static int list_sources(const char *root)
{
    char **files;
    size_t n;
    if (pg_source_list(root, &files, &n) != 0)
        return pg_cli_error();
    for (size_t i = 0; i < n; i++) {
        printf("%s\n", files[i]);
        free(files[i]);
    }
    free(files);
    return 0;
}

int cmd_selfextract(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, 0, 'o'},
                                         {"set", required_argument, 0, 's'},
                                         {"source", required_argument, 0, 'r'},
                                         {"list", no_argument, 0, 'l'},
                                         {0, 0, 0, 0}};
    const char *out = NULL, *sets[64];
    const char *root = NULL;
    char found[PATH_MAX];
    int nsets = 0, c, list = 0;
    optind = 1;
    while ((c = pg_cli_getopt(argc, argv, opts)) != -1) {
        if (c == 'o')
            out = optarg;
        else if (c == 's' && nsets < 64)
            sets[nsets++] = optarg;
        else if (c == 'r')
            root = optarg;
        else if (c == 'l')
            list = 1;
        else
            return pg_cli_usage_error("selfextract", "bad option");
    }
    if (!root) {
        if (pg_cli_root(found, sizeof found) != 0)
            return pg_cli_error();
        root = found;
    }
    if (list && !out && optind == argc)
        return list_sources(root);
    if (!out || optind != argc)
        return pg_cli_usage_error("selfextract", "needs --out FILE");
    int rc = check_baked_settings(root, sets, nsets);
    if (rc != 0)
        return rc;
    if (pg_selfextract_write(out, root, sets, nsets) != 0)
        return pg_cli_error();
    long long bytes;
    if (pg_ledger_code_bytes(out, &bytes) != 0)
        return pg_cli_error();
    pg_source_sizes z;
    if (pg_source_archive_report(root, &z) != 0)
        return pg_cli_error();
    printf("%s: self-extracting submission, Code size: %lld bytes\n", out, bytes);
    printf("sources: %zu files, %zu bytes, minified %zu; compressed: xz %zu (shipped), "
           "zstd-22 %zu, brotli-11 %zu\n", z.files, z.source_bytes, z.minified_bytes, z.xz_bytes,
           z.zstd_bytes, z.brotli_bytes);
    return 0;
}
