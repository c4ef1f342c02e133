/* pgolf eval: val_loss and val_bpb of a checkpoint on the validation shards. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"
#include "common/parse.h"
#include "kernels/checkpoint.h"
#include "pipeline/commands.h"
#include "pipeline/shard.h"
#include "verifier/eval.h"

int cmd_eval(int argc, char **argv)
{
    static const struct option opts[] = {{"data", required_argument, 0, 'd'},
                                         {"tokenizer", required_argument, 0, 't'},
                                         {"mode", required_argument, 0, 'm'},
                                         {"stride", required_argument, 0, 's'},
                                         {"seq-len", required_argument, 0, 'l'},
                                         {"batch", required_argument, 0, 'b'},
                                         {"json", no_argument, 0, 'j'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {0, 0, 0, 0}};
    const char *data = NULL, *tok_path = NULL;
    long stride = 64, seq_len = 0, batch = 4;
    int as_json = 0, quiet = 0, c;
    pg_eval_opts o = {.mode = PG_EVAL_STANDARD};
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'd': data = optarg; break;
        case 't': tok_path = optarg; break;
        case 'm':
            if (strcmp(optarg, "standard") == 0)
                o.mode = PG_EVAL_STANDARD;
            else if (strcmp(optarg, "sliding") == 0)
                o.mode = PG_EVAL_SLIDING;
            else
                return pg_cli_usage_error("eval", "--mode must be standard or sliding");
            break;
        case 's': bad = pg_parse_long(optarg, "--stride", 1, 1 << 20, &stride); break;
        case 'l': bad = pg_parse_long(optarg, "--seq-len", 1, 1 << 20, &seq_len); break;
        case 'b': bad = pg_parse_long(optarg, "--batch", 1, 1024, &batch); break;
        case 'j': as_json = 1; break;
        case 'q': quiet = 1; break;
        default: return pg_cli_usage_error("eval", "bad option");
        }
        if (bad)
            return pg_cli_error();
    }
    if (optind + 1 != argc || !data || !tok_path)
        return pg_cli_usage_error("eval", "needs CHECKPOINT, --data DIR and --tokenizer MODEL");
    const char *ckpt = argv[optind];
    pg_model m;
    pg_tokenizer tok;
    pg_bpb_lut lut;
    uint16_t *val = NULL;
    size_t nval = 0;
    if (pg_checkpoint_load(ckpt, &m, NULL) != 0)
        return pg_cli_error();
    int rc = 1;
    if (pg_tokenizer_load(tok_path, &tok) != 0) {
        pg_model_free(&m);
        return pg_cli_error();
    }
    if (tok.vocab_size > m.cfg.vocab_size) {
        pg_fail("%s: tokenizer vocab %d is larger than the checkpoint's vocab %d", tok_path,
                tok.vocab_size, m.cfg.vocab_size);
        goto done_tok;
    }
    if (pg_bpb_lut_build(&tok, m.cfg.vocab_size, &lut) != 0)
        goto done_tok;
    if (pg_shards_load(data, "val", m.cfg.vocab_size, &val, &nval) != 0)
        goto done_lut;
    o.seq_len = seq_len ? (int)seq_len : m.cfg.seq_len;
    o.stride = (int)stride;
    o.batch = (int)batch;
    o.progress = !quiet;
    pg_eval_result r;
    if (pg_eval_run(&m, val, nval, &lut, &o, &r, NULL) != 0) {
        pg_fail_prefix(data);
        goto done_val;
    }
    const char *mode = o.mode == PG_EVAL_SLIDING ? "sliding" : "standard";
    if (as_json) {
        json_t *j = json_pack("{s:f, s:f, s:I, s:I, s:f, s:s, s:i, s:I}", "val_loss", r.val_loss,
                              "val_bpb", r.val_bpb, "tokens", (json_int_t)r.tokens, "bytes",
                              (json_int_t)r.bytes, "loss_sum", r.loss_sum, "mode", mode,
                              "seq_len", o.seq_len, "windows", (json_int_t)r.windows);
        if (o.mode == PG_EVAL_SLIDING)
            json_object_set_new(j, "stride", json_integer(o.stride));
        pg_cli_print_json(j);
    } else {
        printf("eval mode:%s seq_len:%d windows:%zu tokens:%.0f bytes:%.0f\n", mode, o.seq_len,
               r.windows, r.tokens, r.bytes);
        if (o.mode == PG_EVAL_SLIDING)
            printf("final_sliding_window_exact stride:%d val_loss:%.8f val_bpb:%.8f\n", o.stride,
                   r.val_loss, r.val_bpb);
        else
            printf("final_eval_exact val_loss:%.8f val_bpb:%.8f\n", r.val_loss, r.val_bpb);
    }
    rc = 0;
done_val:
    free(val);
done_lut:
    pg_bpb_lut_free(&lut);
done_tok:
    pg_tokenizer_free(&tok);
    pg_model_free(&m);
    return rc == 0 ? 0 : pg_cli_error();
}
