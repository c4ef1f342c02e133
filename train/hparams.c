#include "train/hparams.h"

#include <stddef.h>
#include <string.h>

#include "common/err.h"

#define ROW(n, t, f, d, lo, hi, o, r, h, om)                                                 \
    {.name = n, .type = t, .offset = offsetof(pg_hparams, f), .size = sizeof(((pg_hparams *)0)->f), \
     .def = d, .min = lo, .max = hi, .open = o, .readers = PG_READ_TRAIN | (r), .help = h,       \
     .omit_default = om}
#define PATH(n, f, d, r, h) ROW(n, PG_SET_PATH, f, d, 0, 0, 0, r, h, 0)
#define LONG(n, f, d, lo, hi, h) ROW(n, PG_SET_LONG, f, d, lo, hi, 0, 0, h, 0)
#define DBL(n, f, d, lo, hi, o, h) ROW(n, PG_SET_DOUBLE, f, d, lo, hi, o, 0, h, 0)
/* The April records' recipe, added after the baseline's files and hashes: left out of
 * JSON while at the default */
#define RLONG(n, f, d, lo, hi, h) ROW(n, PG_SET_LONG, f, d, lo, hi, 0, 0, h, 1)
#define RDBL(n, f, d, lo, hi, o, h) ROW(n, PG_SET_DOUBLE, f, d, lo, hi, o, 0, h, 1)
#define INF PG_SET_INF
static const pg_setting kRows[] = {
    PATH("DATA_PATH", data_path, "./data/datasets/fineweb10B_sp1024", PG_READ_RUN,
         "directory of the fineweb_train_*.bin and fineweb_val_*.bin shards"),
    PATH("TOKENIZER_PATH", tokenizer_path, "./data/tokenizers/fineweb_1024_bpe.model", PG_READ_RUN,
         "SentencePiece model (the bytes behind val_bpb)"),
    PATH("INIT_CHECKPOINT", init_checkpoint, "", 0,
         "start from these weights instead of a fresh init (empty: fresh)"),
    LONG("SEED", seed, "1337", 0, INF, "seed of the init and the data order (a run: RUN_SEEDS)"),
    LONG("ITERATIONS", iterations, "20000", 0, INF, "optimizer steps"),
    LONG("WARMDOWN_ITERS", warmdown_iters, "1200", 0, INF,
         "last steps over which the learning rates decay linearly to 0"),
    LONG("WARMUP_STEPS", warmup_steps, "20", -INF, INF,
         "the reference's compile warm-up steps (logged; no effect here)"),
    LONG("TRAIN_BATCH_TOKENS", train_batch_tokens, "524288", 1, INF,
         "tokens per step: WORLD_SIZE ranks x 8/WORLD_SIZE micro-steps of whole sequences"),
    LONG("VAL_LOSS_EVERY", val_loss_every, "1000", 0, INF,
         "steps between validation evals (0: only the final one)"),
    LONG("TRAIN_LOG_EVERY", train_log_every, "200", 0, INF,
         "steps between train_loss log lines (0: none)"),
    LONG("CHECKPOINT_EVERY", checkpoint_every, "0", 0, INF,
         "steps between state.ckpt saves (0: only at the end)"),
    LONG("WORLD_SIZE", world_size, "1", 1, 8, "ranks: emulated in one process, or the processes torchrun/mpirun start; divides 8"),
    LONG("MUON_BACKEND_STEPS", muon_backend_steps, "5", 0, 100,
         "Newton-Schulz iterations of each Muon update"),
    LONG("MUON_MOMENTUM_WARMUP_STEPS", muon_momentum_warmup_steps, "500", 0, INF,
         "steps over which Muon's momentum ramps up to MUON_MOMENTUM"),
    DBL("MAX_WALLCLOCK_SECONDS", max_wallclock_seconds, "600", 0, INF, 0,
        "stop after this many seconds, warmdown by time (0: no cap, bit-reproducible)"),
    DBL("TIED_EMBED_LR", tied_embed_lr, "0.05", 0, INF, 0, "Adam lr of the tied embedding"),
    DBL("MATRIX_LR", matrix_lr, "0.04", 0, INF, 0, "Muon lr of the block matrices"),
    DBL("SCALAR_LR", scalar_lr, "0.04", 0, INF, 0, "Adam lr of the vectors and scalars"),
    DBL("MUON_MOMENTUM", muon_momentum, "0.95", 0, 1, PG_SET_MAX_OPEN, "Muon's momentum"),
    DBL("MUON_MOMENTUM_WARMUP_START", muon_momentum_warmup_start, "0.85", 0, 1, PG_SET_MAX_OPEN,
        "Muon's momentum at step 0"),
    DBL("BETA1", beta1, "0.9", 0, 1, PG_SET_MAX_OPEN, "Adam beta1"),
    DBL("BETA2", beta2, "0.95", 0, 1, PG_SET_MAX_OPEN, "Adam beta2"),
    DBL("ADAM_EPS", adam_eps, "1e-8", 0, INF, 0, "Adam epsilon"),
    DBL("GRAD_CLIP_NORM", grad_clip_norm, "0", 0, INF, 0, "global gradient-norm clip (0: off)"),
    RDBL("WARMDOWN_FRAC", warmdown_frac, "0", 0, 1, 0,
         "the records' schedule: lr decays linearly to MIN_LR over the last fraction of "
         "training (of the wall clock, or of ITERATIONS without a cap; 0: WARMDOWN_ITERS)"),
    RDBL("MIN_LR", min_lr, "0", 0, 1, 0, "floor of the WARMDOWN_FRAC lr multiplier"),
    RDBL("ENABLE_LOOPING_AT", enable_looping_at, "0", 0, 1, 0,
         "fraction of training (as WARMDOWN_FRAC counts it) after which the NUM_LOOPS "
         "depth recurrence runs (0: from the start)"),
    RLONG("MUON_ROW_NORMALIZE", muon_row_normalize, "0", 0, 1,
          "1: Muon divides each row of its update by its L2 norm first (MuonEq-R)"),
    {.name = "MUON_NS_COEFFS", .type = PG_SET_ENUM, .offset = offsetof(pg_hparams, muon_ns_coeffs),
     .size = sizeof(int), .def = "classic", .choices = "classic|polar_express",
     .readers = PG_READ_TRAIN, .omit_default = 1,
     .help = "Newton-Schulz coefficients: the classic quintic, or Polar Express's per-iteration "
             "ones (at most 5 iterations)"},
    RDBL("MUON_WD", muon_wd, "0", 0, INF, 0, "Muon's decoupled weight decay"),
    RDBL("EMBED_WD", embed_wd, "0", 0, INF, 0, "the embedding's AdamW weight decay"),
    RDBL("ADAM_WD", adam_wd, "0", 0, INF, 0, "the scalar group's AdamW weight decay"),
    {.name = "TRAIN_LOADER", .type = PG_SET_ENUM, .offset = offsetof(pg_hparams, train_loader),
     .size = sizeof(int), .def = "sequential", .choices = "sequential|document_packing",
     .readers = PG_READ_TRAIN, .omit_default = 1,
     .help = "training data: the March reference's sequential stream of TRAIN_SEQ_LEN rows, or "
             "the records' document packing (one row per rank and micro-step from a shard's "
             "documents, attention cut at each BOS_ID and every TRAIN_SEQ_LEN tokens)"},
    RLONG("GPTQ_CALIBRATION_BATCHES", gptq_calibration_batches, "0", 0, INF,
          "after training, forward passes over this many batches of the train stream (rank 0's "
          "share of TRAIN_BATCH_TOKENS each) whose inputs give GPTQ's Hessians (hessians.bin; "
          "0: none)"),
    RDBL("GPTQ_RESERVE_SECONDS", gptq_reserve_seconds, "0", 0, INF, 0,
         "seconds of MAX_WALLCLOCK_SECONDS kept for the Hessians: training stops, and its "
         "fraction counts, against the cap less this"),
    RDBL("EMA_DECAY", ema_decay, "0", 0, 1, PG_SET_MAX_OPEN,
         "decay of the weights' EMA, updated every step and exported (0: no EMA)"),
};
#undef ROW
#undef PATH
#undef LONG
#undef DBL
#undef INF
#undef RLONG
#undef RDBL

const pg_settings_table pg_train_settings = {"training (pgolf train, run)", kRows,
                                             sizeof kRows / sizeof kRows[0], 1};

/* The training rows, then the model's (the order of logs and JSON). */
static void bind(const pg_hparams *h, pg_settings_bind b[2])
{
    b[0] = (pg_settings_bind){&pg_train_settings, (void *)h};
    b[1] = (pg_settings_bind){&pg_model_settings, (void *)&h->model};
}

void pg_hparams_default(pg_hparams *h)
{
    memset(h, 0, sizeof *h);
    pg_settings_bind b[2];
    bind(h, b);
    pg_settings_defaults(b, 2);
}

void pg_hparams_tiny(pg_hparams *h, const char *repo_root)
{
    pg_hparams_default(h);
    h->model = pg_config_tiny();
    snprintf(h->data_path, sizeof h->data_path, "%s/data/sample", repo_root);
    snprintf(h->tokenizer_path, sizeof h->tokenizer_path, "%s/data/sample/sample_1024_bpe.model",
             repo_root);
    h->iterations = 200;
    h->warmdown_iters = 60;
    h->train_batch_tokens = 8 * 8 * 64; /* 8 micro-steps of 8 sequences of 64 */
    h->val_loss_every = 50;
    h->train_log_every = 25;
    h->max_wallclock_seconds = 0; /* iteration-based schedule: bit-reproducible */
    h->muon_momentum_warmup_steps = 50;
}

/* The latest record's run (records/track_10min_16mb/2026-04-27_SP8192_LQER_SparseGate_
 * BOSSmearFix_9HpStack_1.0611, its logs' hyperparameter dump): the model family's options,
 * the recipe, the document-packing loader and GPTQ's calibration, on its CaseOps data. */
static const char *const kRecord[] = {
    "VOCAB_SIZE=8192", "NUM_LAYERS=11", "MODEL_DIM=512", "NUM_HEADS=8", "NUM_KV_HEADS=4",
    "MLP_MULT=4", "MLP_ACT=leaky_relu2", "TRAIN_SEQ_LEN=2048", "ROPE_BASE=10000",
    "ROPE_DIMS=16", "LN_SCALE=1", "QK_GAIN_INIT=5", "LOGIT_SOFTCAP=30",
    "TIED_EMBED_INIT_STD=0.005", "XSA_LAST_N=11", "NUM_LOOPS=2", "LOOP_START=3", "LOOP_END=5",
    "PARALLEL_START_LAYER=8", "PARALLEL_FINAL_LANE=mean", "SKIP_GATES_ENABLED=1",
    "GATE_WINDOW=12", "SPARSE_ATTN_GATE_ENABLED=1", "SPARSE_ATTN_GATE_SCALE=0.5",
    "SMEAR_GATE_ENABLED=1",
    "DATA_PATH=./data/datasets/fineweb10B_sp8192_lossless_caps_caseops_v1_reserved",
    "TOKENIZER_PATH=./data/tokenizers/fineweb_8192_bpe_lossless_caps_caseops_v1_reserved.model",
    "SEED=0", "ITERATIONS=20000", "TRAIN_BATCH_TOKENS=786432", "WORLD_SIZE=8",
    "MAX_WALLCLOCK_SECONDS=600", "WARMUP_STEPS=20", "VAL_LOSS_EVERY=0", "TRAIN_LOG_EVERY=500",
    "TIED_EMBED_LR=0.03", "MATRIX_LR=0.026", "SCALAR_LR=0.02", "MUON_MOMENTUM=0.97",
    "MUON_MOMENTUM_WARMUP_START=0.92", "MUON_MOMENTUM_WARMUP_STEPS=1500",
    "MUON_BACKEND_STEPS=5", "BETA1=0.9", "BETA2=0.99", "ADAM_EPS=1e-8", "GRAD_CLIP_NORM=0.3",
    "WARMDOWN_FRAC=0.85", "MIN_LR=0.1", "ENABLE_LOOPING_AT=0.35", "MUON_ROW_NORMALIZE=1",
    "MUON_NS_COEFFS=polar_express", "MUON_WD=0.095", "EMBED_WD=0.085", "ADAM_WD=0.02",
    "EMA_DECAY=0.9965", "TRAIN_LOADER=document_packing", "GPTQ_CALIBRATION_BATCHES=16",
    "GPTQ_RESERVE_SECONDS=0.5",
};

int pg_hparams_record(pg_hparams *h)
{
    pg_hparams_default(h);
    for (size_t i = 0; i < sizeof kRecord / sizeof kRecord[0]; i++) {
        char name[64];
        const char *eq = strchr(kRecord[i], '=');
        snprintf(name, sizeof name, "%.*s", (int)(eq - kRecord[i]), kRecord[i]);
        if (pg_hparams_set(h, name, eq + 1) != 0)
            return -1;
    }
    return 0;
}

int pg_hparams_set(pg_hparams *h, const char *name, const char *value)
{
    pg_settings_bind b[2];
    bind(h, b);
    return pg_settings_set(b, 2, name, value);
}

int pg_hparams_load_file(pg_hparams *h, const char *path)
{
    pg_settings_bind b[2];
    bind(h, b);
    return pg_settings_load_file(b, 2, path);
}

int pg_hparams_from_env(pg_hparams *h)
{
    pg_settings_bind b[2];
    bind(h, b);
    return pg_settings_from_env(b, 2);
}

int pg_hparams_grad_accum(const pg_hparams *h)
{
    return h->world_size > 0 ? (int)(8 / h->world_size) : 0;
}

int pg_hparams_validate(const pg_hparams *h)
{
    if (pg_config_validate(&h->model) != 0 || pg_settings_check(&pg_train_settings, h) != 0)
        return -1;
    if (h->max_wallclock_seconds > 0 && h->gptq_reserve_seconds >= h->max_wallclock_seconds)
        return pg_fail("GPTQ_RESERVE_SECONDS=%g leaves no training time of MAX_WALLCLOCK_SECONDS=%g",
                       h->gptq_reserve_seconds, h->max_wallclock_seconds);
    if (8 % h->world_size != 0)
        return pg_fail("WORLD_SIZE=%ld must divide 8 so grad_accum_steps stays integral",
                       h->world_size);
    long per_micro = h->train_batch_tokens / (h->world_size * pg_hparams_grad_accum(h));
    if (per_micro * h->world_size * pg_hparams_grad_accum(h) != h->train_batch_tokens ||
        per_micro % h->model.seq_len != 0 || per_micro == 0)
        return pg_fail("TRAIN_BATCH_TOKENS=%ld must split into %d ranks x %d micro-steps of whole "
                       "TRAIN_SEQ_LEN=%d sequences",
                       h->train_batch_tokens, (int)h->world_size, pg_hparams_grad_accum(h),
                       h->model.seq_len);
    return 0;
}

void pg_hparams_optim(const pg_hparams *h, pg_optim_config *o)
{
    o->embed_lr = h->tied_embed_lr;
    o->matrix_lr = h->matrix_lr;
    o->scalar_lr = h->scalar_lr;
    o->beta1 = h->beta1;
    o->beta2 = h->beta2;
    o->adam_eps = h->adam_eps;
    o->ns = (pg_muon_ns){(int)h->muon_backend_steps, h->muon_ns_coeffs,
                         (int)h->muon_row_normalize};
    o->grad_clip = h->grad_clip_norm;
    o->embed_wd = h->embed_wd;
    o->muon_wd = h->muon_wd;
    o->adam_wd = h->adam_wd;
    o->ema_decay = h->ema_decay;
}

json_t *pg_hparams_to_json(const pg_hparams *h)
{
    json_t *o = pg_settings_to_json(&pg_train_settings, h);
    json_object_set_new(o, "MODEL", pg_config_to_json(&h->model));
    return o;
}

void pg_hparams_print(const pg_hparams *h, FILE *out, const char *prefix)
{
    pg_settings_bind b[2];
    bind(h, b);
    pg_settings_print(b, 2, out, prefix);
}
