/* The TTT_* settings: the registry's rows of pg_ttt_opts. */
#include <stddef.h>
#include <string.h>

#include "kernels/ttt.h"

#define SGD_MUON "TTT_OPTIMIZER=sgd|muon"
#define LORA "TTT_OPTIMIZER=lora"
#define ROW(n, t, f, d, lo, hi, w, h)                                                         \
    {.name = n, .type = t, .offset = offsetof(pg_ttt_opts, f), .def = d, .min = lo, .max = hi, \
     .readers = PG_READ_TTT, .when = w, .help = h}
#define INT(n, f, d, lo, hi, w, h) ROW(n, PG_SET_INT, f, d, lo, hi, w, h)
#define DBL(n, f, d, lo, hi, w, h) ROW(n, PG_SET_DOUBLE, f, d, lo, hi, w, h)
static const pg_setting kRows[] = {
    {.name = "TTT_OPTIMIZER", .type = PG_SET_ENUM, .offset = offsetof(pg_ttt_opts, optimizer),
     .def = "sgd", .choices = "sgd|muon|lora", .readers = PG_READ_TTT,
     .help = "sgd (momentum), muon (LaCT: Newton-Schulz on block matrices) or lora (adapters)"},
    INT("TTT_CHUNK_TOKENS", chunk_tokens, "32768", 1, 1e9, SGD_MUON,
        "targets per chunk: each chunk is scored, then trained on"),
    INT("TTT_EPOCHS", epochs, "3", 0, 1000, NULL, "passes over each chunk (lora: each piece)"),
    DBL("TTT_LR", lr, "0.002", 0, 1e6, SGD_MUON, "peak lr, cosine over the chunks"),
    DBL("TTT_MOMENTUM", momentum, "0.9", 0, 0.999999, SGD_MUON, "SGD momentum"),
    INT("TTT_BATCH_SEQS", batch_seqs, "32", 1, 1e6, SGD_MUON, "sequences per TTT step"),
    DBL("TTT_GRAD_CLIP", grad_clip, "1", 0, 1e9, SGD_MUON, "gradient-norm clip (0: off)"),
    INT("TTT_FREEZE_BLOCKS", freeze_blocks, "2", 0, 1e6, SGD_MUON, "first blocks left frozen"),
    INT("TTT_COSINE_EPOCHS", cosine_epochs, "0", 0, 1, SGD_MUON,
        "1: also decay the lr over a chunk's epochs"),
    DBL("TTT_MLP_OUT_LR_MULT", mlp_out_mult, "1", 0, 1e6, SGD_MUON, "lr x for mlp.proj.weight"),
    DBL("TTT_IN_PROJ_LR_MULT", in_proj_mult, "1", 0, 1e6, SGD_MUON,
        "lr x for c_q, c_k, c_v and fc"),
    INT("TTT_LORA_RANK", lora_rank, "8", 1, 4096, LORA, "rank of the Q and V adapters"),
    DBL("TTT_LORA_LR", lora_lr, "0.001", 0, 1e6, LORA, "Adam lr of the adapters"),
    DBL("TTT_LORA_BETA1", lora_beta1, "0.9", 0, 0.999999, LORA, "Adam beta1 of the adapters"),
    DBL("TTT_LORA_BETA2", lora_beta2, "0.999", 0, 0.999999, LORA, "Adam beta2 of the adapters"),
    DBL("TTT_LORA_EPS", lora_eps, "1e-8", 0, 1, LORA, "Adam epsilon of the adapters"),
    INT("TTT_LORA_CHUNK", lora_chunk, "256", 1, 1e9, LORA,
        "targets per piece: scored, then trained on; adapters reset at each document"),
};
#undef ROW
#undef INT
#undef DBL

const pg_settings_table pg_ttt_settings = {"test-time training (pgolf eval --ttt, run)", kRows,
                                           sizeof kRows / sizeof kRows[0], 0};

void pg_ttt_opts_default(pg_ttt_opts *o)
{
    memset(o, 0, sizeof *o);
    pg_settings_bind b = {&pg_ttt_settings, o};
    pg_settings_defaults(&b, 1);
}

int pg_ttt_set(pg_ttt_opts *o, const char *name, const char *value)
{
    pg_settings_bind b = {&pg_ttt_settings, o};
    return pg_settings_set(&b, 1, name, value);
}

int pg_ttt_from_env(pg_ttt_opts *o)
{
    pg_settings_bind b = {&pg_ttt_settings, o};
    return pg_settings_from_env(&b, 1);
}

json_t *pg_ttt_report(const pg_ttt_opts *o)
{
    pg_settings_bind b = {&pg_ttt_settings, (void *)o};
    return pg_settings_report(&b, 1);
}
