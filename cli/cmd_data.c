/* pgolf data: validate token shards (check) and write one from token ids (pack). */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/err.h"
#include "common/parse.h"
#include "cli/commands.h"
#include "dataset/caseops_data.h"
#include "dataset/shard.h"
#include "dataset/tokenizer.h"

static int vocab_from_tokenizer(const char *path, long *vocab)
{
    pg_tokenizer tok;
    if (pg_tokenizer_load(path, &tok) != 0)
        return -1;
    *vocab = tok.vocab_size;
    pg_tokenizer_free(&tok);
    return 0;
}

static int data_check(int argc, char **argv)
{
    static const struct option opts[] = {{"vocab", required_argument, 0, 'v'},
                                         {"tokenizer", required_argument, 0, 't'},
                                         {"json", no_argument, 0, 'j'},
                                         {0, 0, 0, 0}};
    long vocab = 0;
    int as_json = 0, c;
    optind = 1;
    while ((c = pg_cli_getopt(argc, argv, opts)) != -1) {
        if (c == 'v' && pg_parse_long(optarg, "--vocab", 1, 65536, &vocab) != 0)
            return pg_cli_error();
        else if (c == 't' && vocab_from_tokenizer(optarg, &vocab) != 0)
            return pg_cli_error();
        else if (c == 'j')
            as_json = 1;
        else if (c == '?')
            return pg_cli_usage_error("data", "bad option");
    }
    if (optind + 1 != argc)
        return pg_cli_usage_error("data", "check needs exactly one DIR");
    const char *dir = argv[optind];
    char **paths;
    size_t count;
    if (pg_shard_list(dir, NULL, &paths, &count) != 0)
        return pg_cli_error();
    json_t *files = json_array();
    size_t tot[2] = {0, 0}, docs[2] = {0, 0}, nfiles[2] = {0, 0};
    int rc = 0, ok = files != NULL;
    for (size_t i = 0; i < count; i++) {
        uint16_t *t;
        size_t n;
        if (pg_shard_read(paths[i], (int)vocab, &t, &n) != 0) {
            rc = pg_cli_error();
            break;
        }
        int split = strstr(strrchr(paths[i], '/'), "fineweb_val_") != NULL;
        size_t d = pg_count_documents(t, n);
        free(t);
        tot[split] += n;
        docs[split] += d;
        nfiles[split]++;
        ok = ok && json_array_append_new(files, json_pack("{s:s, s:s, s:I, s:I}", "path",
                                                          paths[i], "split",
                                                          split ? "val" : "train", "tokens",
                                                          (json_int_t)n, "documents",
                                                          (json_int_t)d)) == 0;
        if (!as_json)
            printf("%-60s %-5s tokens:%zu documents:%zu\n", paths[i], split ? "val" : "train", n, d);
    }
    pg_shard_list_free(paths, count);
    if (rc != 0) {
        json_decref(files);
        return rc;
    }
    if (as_json) {
        if (!ok) {
            json_decref(files);
            files = NULL; /* the output's construction fails and says so */
        }
        return pg_cli_print_json(json_pack(
            "{s:s, s:I, s:o, s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I}}", "dir", dir, "vocab_checked",
            (json_int_t)vocab, "files", files, "train", "files", (json_int_t)nfiles[0],
            "tokens", (json_int_t)tot[0], "documents", (json_int_t)docs[0], "val", "files",
            (json_int_t)nfiles[1], "tokens", (json_int_t)tot[1], "documents",
            (json_int_t)docs[1]));
    } else {
        json_decref(files);
        printf("train: %zu files, %zu tokens, %zu documents\n", nfiles[0], tot[0], docs[0]);
        printf("val:   %zu files, %zu tokens, %zu documents\n", nfiles[1], tot[1], docs[1]);
        printf(vocab ? "all tokens < vocab %ld: ok\n" : "token range not checked (no --vocab)\n",
               vocab);
    }
    return 0;
}

static int data_pack(int argc, char **argv)
{
    static const struct option opts[] = {{"vocab", required_argument, 0, 'v'}, {0, 0, 0, 0}};
    long vocab = 65536;
    int c;
    optind = 1;
    while ((c = pg_cli_getopt(argc, argv, opts)) != -1) {
        if (c == 'v' && pg_parse_long(optarg, "--vocab", 1, 65536, &vocab) != 0)
            return pg_cli_error();
        else if (c == '?')
            return pg_cli_usage_error("data", "bad option");
    }
    if (optind + 2 != argc)
        return pg_cli_usage_error("data", "pack needs IDS.txt and OUT.bin");
    const char *in = argv[optind], *out = argv[optind + 1];
    FILE *fp = strcmp(in, "-") == 0 ? stdin : fopen(in, "r");
    if (!fp) {
        pg_fail("%s: cannot open", in);
        return pg_cli_error();
    }
    uint16_t *ids = NULL;
    size_t n = 0, cap = 0;
    char word[32];
    int rc = 0;
    while (fscanf(fp, "%31s", word) == 1) {
        long v;
        char what[64];
        snprintf(what, sizeof what, "%s: token %zu", in, n);
        if (pg_parse_long(word, what, 0, vocab - 1, &v) != 0) {
            rc = pg_cli_error();
            break;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 4096;
            uint16_t *g = realloc(ids, cap * sizeof *ids);
            if (!g) {
                pg_fail("%s: out of memory", in);
                rc = pg_cli_error();
                break;
            }
            ids = g;
        }
        ids[n++] = (uint16_t)v;
    }
    if (fp != stdin)
        fclose(fp);
    if (rc == 0 && pg_shard_write(out, ids, n) != 0)
        rc = pg_cli_error();
    else if (rc == 0)
        printf("%s: %zu tokens, %zu documents\n", out, n, pg_count_documents(ids, n));
    free(ids);
    return rc;
}

/* pgolf data caseops --docs FILE --tokenizer MODEL --out DIR [--val-docs N] [--shard-tokens N] */
static int data_caseops(int argc, char **argv)
{
    static const struct option opts[] = {{"docs", required_argument, 0, 'd'},
                                         {"tokenizer", required_argument, 0, 't'},
                                         {"out", required_argument, 0, 'o'},
                                         {"val-docs", required_argument, 0, 'v'},
                                         {"shard-tokens", required_argument, 0, 's'},
                                         {0, 0, 0, 0}};
    pg_caseops_data_opts o = {NULL, NULL, NULL, 10000, 10000000, isatty(2)};
    int c;
    optind = 1;
    while ((c = pg_cli_getopt(argc, argv, opts)) != -1) {
        switch (c) {
        case 'd': o.docs = optarg; break;
        case 't': o.tokenizer = optarg; break;
        case 'o': o.out = optarg; break;
        case 'v':
            if (pg_parse_long(optarg, "--val-docs", 0, LONG_MAX, &o.val_docs) != 0)
                return pg_cli_error();
            break;
        case 's':
            if (pg_parse_long(optarg, "--shard-tokens", 1, LONG_MAX, &o.shard_tokens) != 0)
                return pg_cli_error();
            break;
        default: return pg_cli_usage_error("data", "bad option");
        }
    }
    if (!o.docs || !o.tokenizer || !o.out || optind != argc)
        return pg_cli_usage_error("data", "caseops needs --docs FILE --tokenizer MODEL --out DIR");
    pg_caseops_data_report r;
    if (pg_caseops_prepare(&o, &r) != 0)
        return pg_cli_error();
    printf("caseops %s: %ld documents (%ld val): val %zu tokens in %d shard(s) with %zu original "
           "bytes in the sidecar, train %zu tokens in %d shard(s) -> %s\n",
           o.docs, r.docs, r.val_docs, r.val_tokens, r.val_shards, r.val_bytes, r.train_tokens,
           r.train_shards, o.out);
    return 0;
}

int cmd_data(int argc, char **argv)
{
    if (argc < 2)
        return pg_cli_usage_error("data", "missing action (check, pack or caseops)");
    if (strcmp(argv[1], "check") == 0)
        return data_check(argc - 1, argv + 1);
    if (strcmp(argv[1], "pack") == 0)
        return data_pack(argc - 1, argv + 1);
    if (strcmp(argv[1], "caseops") == 0)
        return data_caseops(argc - 1, argv + 1);
    return pg_cli_usage_error("data", "unknown action '%s'", argv[1]);
}
