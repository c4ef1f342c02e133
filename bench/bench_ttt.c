/* CPU throughput of the records' phased TTT evaluation (TTT_OPTIMIZER=phased) on a tiny
 * model of their family over the sample's validation stream, beside the plain standard
 * eval of the same model and stream (what the TTT costs). The same shape, stream and
 * settings as bench_ttt.py (the PyTorch reference, tests/golden/records_ttt.py). One line
 * per evaluation:
 *   bench_ttt impl=<impl> shape=<name> part=<eval> tokens=<n> best_s=<s> tokens_per_s=<r> */
#include <stdio.h>
#include <stdlib.h>

#include "common/err.h"
#include "common/progress.h"
#include "dataset/shard.h"
#include "dataset/tokenizer.h"
#include "kernels/eval.h"
#include "kernels/ttt.h"

#define STREAM_TOKENS 8193 /* the sample's first 8192 targets */
#define SEQ_LEN 128

static void die(void)
{
    fprintf(stderr, "bench_ttt: %s\n", pg_errmsg());
    exit(1);
}

int main(void)
{
    const char *root = getenv("PGOLF_ROOT") ? getenv("PGOLF_ROOT") : ".";
    char data[1024], tok_path[1024];
    snprintf(data, sizeof data, "%s/data/sample", root);
    snprintf(tok_path, sizeof tok_path, "%s/data/sample/sample_1024_bpe.model", root);
    /* the records' core, small: loop, two lanes, XSA, gated skips, sparse gate, SmearGate */
    pg_model_config c = pg_config_tiny();
    c.vocab_size = 1024;
    c.num_layers = 5;
    c.model_dim = 64;
    c.num_heads = 4;
    c.num_kv_heads = 2;
    c.mlp_mult = 4;
    c.mlp_act = PG_MLP_LEAKY_RELU2;
    c.rope_dims = 8;
    c.ln_scale = 1;
    c.xsa_last_n = 5;
    c.num_loops = 1;
    c.loop_start = 1;
    c.loop_end = 2;
    c.parallel_start = 3;
    c.skip_gates = 1;
    c.sparse_gate = 1;
    c.sparse_gate_scale = 0.5f;
    c.smear_gate = 1;
    c.seq_len = SEQ_LEN;
    pg_model m;
    pg_tokenizer tok;
    pg_bpb_lut lut;
    uint16_t *val;
    size_t nval;
    if (pg_model_create(&m, &c) != 0 || pg_tokenizer_load(tok_path, &tok) != 0 ||
        pg_bpb_lut_build(&tok, c.vocab_size, &lut) != 0 ||
        pg_shards_load(data, "val", c.vocab_size, &val, &nval) != 0)
        die();
    pg_model_init(&m, 1, PG_INIT_DENSE);
    nval = nval < STREAM_TOKENS ? nval : STREAM_TOKENS;
    pg_ttt_opts o;
    pg_ttt_opts_default(&o);
    const char *sets[][2] = {{"TTT_OPTIMIZER", "phased"}, {"TTT_LORA_RANK", "8"},
                             {"TTT_LORA_LR", "0.0001"}, {"TTT_CHUNK_SIZE", "32"},
                             {"TTT_EVAL_SEQ_LEN", "256"}, {"TTT_BATCH_SIZE", "2"},
                             {"TTT_RANKS", "2"}, {"PHASED_TTT_PREFIX_DOCS", "2"},
                             {"GLOBAL_TTT_CHUNK_TOKENS", "1024"}, {"GLOBAL_TTT_BATCH_SEQS", "2"}};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        if (pg_ttt_set(&o, sets[i][0], sets[i][1]) != 0)
            die();
    pg_eval_opts eo = {.mode = PG_EVAL_STANDARD, .seq_len = SEQ_LEN, .batch = 4};
    for (int which = 0; which < 2; which++) {
        double best = 1e30;
        pg_eval_result r;
        for (int rep = 0; rep < 2; rep++) {
            pg_model copy;
            if (pg_model_clone(&copy, &m) != 0)
                die();
            double t0 = pg_now_seconds();
            int rc = which ? pg_ttt_phased_run(&copy, val, nval, &lut, &eo, &o, &r, NULL, NULL)
                           : pg_eval_run(&copy, val, nval, &lut, &eo, &r, NULL);
            double dt = pg_now_seconds() - t0;
            pg_model_free(&copy);
            if (rc != 0)
                die();
            best = dt < best ? dt : best;
        }
        printf("bench_ttt impl=pgolf-c shape=records_5x64 part=%s tokens=%.0f best_s=%.4f "
               "tokens_per_s=%.0f val_bpb=%.6f\n",
               which ? "phased_ttt" : "standard", r.tokens, best, r.tokens / best, r.val_bpb);
    }
    pg_bpb_lut_free(&lut);
    pg_tokenizer_free(&tok);
    free(val);
    pg_model_free(&m);
    return 0;
}
