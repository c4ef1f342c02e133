/* The TTT_* settings: the registry's rows of pg_ttt_opts. */
#include <stddef.h>
#include <string.h>

#include "kernels/ttt.h"

#define SGD_MUON "TTT_OPTIMIZER=sgd|muon"
#define LORA "TTT_OPTIMIZER=lora"
#define ANY_LORA "TTT_OPTIMIZER=lora|phased"
#define PHASED "TTT_OPTIMIZER=phased"
#define ROW(n, t, f, d, lo, hi, w, h)                                                         \
    {.name = n, .type = t, .offset = offsetof(pg_ttt_opts, f), .def = d, .min = lo, .max = hi, \
     .readers = PG_READ_TTT, .when = w, .help = h}
#define INT(n, f, d, lo, hi, w, h) ROW(n, PG_SET_INT, f, d, lo, hi, w, h)
#define DBL(n, f, d, lo, hi, w, h) ROW(n, PG_SET_DOUBLE, f, d, lo, hi, w, h)
/* the phased mode's rows came after files that lack them: omitted at their defaults */
#define PROW(n, t, f, d, lo, hi, h)                                                           \
    {.name = n, .type = t, .offset = offsetof(pg_ttt_opts, f), .def = d, .min = lo, .max = hi, \
     .readers = PG_READ_TTT, .when = PHASED, .help = h, .omit_default = 1}
#define PINT(n, f, d, lo, hi, h) PROW(n, PG_SET_INT, f, d, lo, hi, h)
#define PDBL(n, f, d, lo, hi, h) PROW(n, PG_SET_DOUBLE, f, d, lo, hi, h)
static const pg_setting kRows[] = {
    {.name = "TTT_OPTIMIZER", .type = PG_SET_ENUM, .offset = offsetof(pg_ttt_opts, optimizer),
     .def = "sgd", .choices = "sgd|muon|lora|phased", .readers = PG_READ_TTT,
     .help = "sgd (momentum), muon (LaCT: Newton-Schulz on block matrices), lora (adapters) "
             "or phased (the records' per-document LoRA TTT with global SGD phases)"},
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
    INT("TTT_LORA_RANK", lora_rank, "8", 1, 4096, ANY_LORA,
        "rank of the adapters (the records log 96)"),
    DBL("TTT_LORA_LR", lora_lr, "0.001", 0, 1e6, ANY_LORA,
        "Adam lr of the adapters (the records log 0.0001)"),
    DBL("TTT_LORA_BETA1", lora_beta1, "0.9", 0, 0.999999, LORA, "Adam beta1 of the adapters"),
    DBL("TTT_LORA_BETA2", lora_beta2, "0.999", 0, 0.999999, LORA, "Adam beta2 of the adapters"),
    DBL("TTT_LORA_EPS", lora_eps, "1e-8", 0, 1, LORA, "Adam epsilon of the adapters"),
    INT("TTT_LORA_CHUNK", lora_chunk, "256", 1, 1e9, LORA,
        "targets per piece: scored, then trained on; adapters reset at each document"),
    PINT("TTT_CHUNK_SIZE", chunk_size, "48", 1, 1e9, "targets per chunk: scored, then trained on"),
    PINT("TTT_EVAL_SEQ_LEN", eval_seq_len, "2048", 1, 1e9, "longest window a chunk is scored in"),
    PINT("TTT_BATCH_SIZE", batch_size, "64", 1, 1e6, "documents per batch"),
    PINT("TTT_GRAD_STEPS", grad_steps, "1", 1, 1000, "AdamW steps per chunk"),
    PDBL("TTT_WEIGHT_DECAY", weight_decay, "1", 0, 1e6, "AdamW decoupled weight decay"),
    PDBL("TTT_BETA1", beta1, "0", 0, 0.999999, "AdamW beta1 of the adapters"),
    PDBL("TTT_BETA2", beta2, "0.999", 0, 0.999999, "AdamW beta2 of the adapters"),
    PINT("TTT_K_LORA", k_lora, "1", 0, 1, "1: an adapter on c_k"),
    PINT("TTT_O_LORA", o_lora, "1", 0, 1, "1: an adapter on the attention output"),
    PINT("TTT_MLP_LORA", mlp_lora, "1", 0, 1, "1: a parallel adapter on the MLP"),
    PDBL("TTT_LORA_ALPHA", lora_alpha, "144", 0, 1e9, "adapters scaled by alpha / rank"),
    PINT("TTT_WARM_START_A", warm_start_a, "1", 0, 1, "1: a rank's slots keep A across batches"),
    PROW("TTT_LORA_SEED", PG_SET_LONG, lora_seed, "0", 0, 9.2e18, "seed of pgolf's draws of A"),
    PINT("TTT_RANKS", ranks, "8", 1, 1e6, "ranks the canonical schedule emulates"),
    PINT("PHASED_TTT_PREFIX_DOCS", prefix_docs, "2000", 0, 1e9,
         "documents the global phases train on (0: none)"),
    PINT("PHASED_TTT_NUM_PHASES", num_phases, "1", 1, 1000, "global SGD phases"),
    PDBL("GLOBAL_TTT_LR", global_lr, "0.001", 0, 1e6, "phase SGD peak lr (cosine over chunks)"),
    PDBL("GLOBAL_TTT_MOMENTUM", global_momentum, "0.9", 0, 0.999999, "phase SGD momentum"),
    PINT("GLOBAL_TTT_EPOCHS", global_epochs, "1", 0, 1000, "phase passes over each chunk"),
    PINT("GLOBAL_TTT_CHUNK_TOKENS", global_chunk_tokens, "32768", 1, 1e9,
         "phase chunk (the last is not trained on)"),
    PINT("GLOBAL_TTT_BATCH_SEQS", global_batch_seqs, "32", 1, 1e6, "phase sequences per rank step"),
    PDBL("GLOBAL_TTT_WARMUP_START_LR", global_warmup_start_lr, "0", 0, 1e6, "phase warmup start lr"),
    PINT("GLOBAL_TTT_WARMUP_CHUNKS", global_warmup_chunks, "0", 0, 1e9, "phase warmup chunks"),
    PDBL("GLOBAL_TTT_GRAD_CLIP", global_grad_clip, "1", 0, 1e9, "phase gradient-norm clip (0: off)"),
    PINT("GLOBAL_TTT_RESPECT_DOC_BOUNDARIES", global_doc_masked, "1", 0, 1,
         "1: phase attention masked to documents"),
};
#undef ROW
#undef INT
#undef DBL
#undef PROW
#undef PINT
#undef PDBL

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
