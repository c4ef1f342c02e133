/* pgolf tokenizer: SentencePiece model summary and the BPB byte table. */
#include <getopt.h>
#include <stdio.h>

#include <jansson.h>

#include "common/err.h"
#include "common/parse.h"
#include "cli/commands.h"
#include "dataset/tokenizer.h"

int cmd_tokenizer(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, 0, 'j'},
                                         {"vocab", required_argument, 0, 'v'},
                                         {0, 0, 0, 0}};
    int as_json = 0, c;
    long vocab = 0;
    optind = 1;
    while ((c = pg_cli_getopt(argc, argv, opts)) != -1) {
        if (c == 'j')
            as_json = 1;
        else if (c == 'v' && pg_parse_long(optarg, "--vocab", 1, 65536, &vocab) != 0)
            return pg_cli_error();
        else if (c == '?')
            return pg_cli_usage_error("tokenizer", "bad option");
    }
    if (optind + 1 != argc)
        return pg_cli_usage_error("tokenizer", "needs exactly one MODEL");
    pg_tokenizer tok;
    pg_bpb_lut lut;
    if (pg_tokenizer_load(argv[optind], &tok) != 0)
        return pg_cli_error();
    if (pg_bpb_lut_build(&tok, (int)vocab, &lut) != 0) {
        pg_tokenizer_free(&tok);
        return pg_cli_error();
    }
    int counts[PG_PIECE_TYPE_MAX + 1] = {0};
    for (int i = 0; i < tok.vocab_size; i++)
        counts[tok.types[i]]++;
    int rc = 0;
    if (as_json) {
        json_t *types = json_object(), *bb = json_array(), *ls = json_array(), *bd = json_array();
        int ok = types && bb && ls && bd;
        for (int t = 1; ok && t <= PG_PIECE_TYPE_MAX; t++)
            ok = json_object_set_new(types, pg_piece_type_name(t), json_integer(counts[t])) == 0;
        for (int i = 0; ok && i < lut.size; i++)
            ok = json_array_append_new(bb, json_integer(lut.base_bytes[i])) == 0 &&
                 json_array_append_new(ls, json_boolean(lut.has_leading_space[i])) == 0 &&
                 json_array_append_new(bd, json_boolean(lut.is_boundary[i])) == 0;
        if (!ok) { /* the output's construction fails and says so */
            json_decref(types);
            types = NULL;
        }
        rc = pg_cli_print_json(json_pack(
            "{s:s, s:i, s:s, s:b, s:{s:i, s:i, s:i, s:i}, s:o, s:i, s:o, s:o, s:o}", "path",
            argv[optind], "vocab_size", tok.vocab_size, "model_type",
            pg_model_type_name(tok.model_type), "byte_fallback", tok.byte_fallback, "special_ids",
            "pad", tok.pad_id, "bos", tok.bos_id, "eos", tok.eos_id, "unk", tok.unk_id,
            "piece_types", types, "table_size", lut.size, "base_bytes", bb, "has_leading_space",
            ls, "is_boundary", bd));
    } else {
        long total_bytes = 0;
        for (int i = 0; i < lut.size; i++)
            total_bytes += lut.base_bytes[i];
        printf("%s\nvocab_size: %d\nmodel_type: %s\nbyte_fallback: %s\n", argv[optind],
               tok.vocab_size, pg_model_type_name(tok.model_type), tok.byte_fallback ? "yes" : "no");
        printf("special ids: pad=%d bos=%d eos=%d unk=%d\npiece types:", tok.pad_id, tok.bos_id,
               tok.eos_id, tok.unk_id);
        for (int t = 1; t <= PG_PIECE_TYPE_MAX; t++)
            printf(" %s=%d", pg_piece_type_name(t), counts[t]);
        printf("\nbpb table: %d ids, %ld base bytes in all\n", lut.size, total_bytes);
    }
    pg_bpb_lut_free(&lut);
    pg_tokenizer_free(&tok);
    return rc;
}
