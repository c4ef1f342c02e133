/* pgolf: train, package, verify and judge Parameter Golf submissions. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"
#include "common/buildinfo.h"
#include "cli/commands.h"


static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

/* --backend, as train, eval, init and run take it */
#define BACKEND_HELP                                                                          \
    "--backend (or PGOLF_BACKEND) picks where the model computes: cpu (the reference, the\n"  \
    "default), cuda (one GPU; an error where there is none) or auto (cuda when usable, else\n" \
    "the CPU with a note).\n"

const pg_command pg_commands[] = {
    {"data", cmd_data, "validate token shards, write one from token ids, or make CaseOps data",
     "usage: pgolf data check DIR [--vocab N | --tokenizer MODEL] [--json]\n"
     "       pgolf data pack IDS.txt OUT.bin [--vocab N]\n"
     "       pgolf data caseops --docs DOCS.jsonl --tokenizer MODEL --out DIR\n"
     "                          [--val-docs N] [--shard-tokens N]\n"
     "\n"
     "check: validates every fineweb_{train,val}_*.bin in DIR (magic 20240520, version 1,\n"
     "  size = 1024 + 2*num_tokens, tokens < vocab) and reports files, tokens and documents\n"
     "  (BOS count) per split. Any bad shard is a one-line error naming the file.\n"
     "pack: writes the whitespace-separated token ids of IDS.txt ('-' for stdin) as one shard.\n"
     "caseops: the April records' data (their prepare_caseops_data.py): each line of DOCS\n"
     "  ({\"text\": ...} or a JSON string) CaseOps-transformed (capitals as TITLE, ALLCAPS,\n"
     "  CAPNEXT operators, U+E001..U+E003, operator characters escaped by U+E004), encoded\n"
     "  by MODEL (SentencePiece BPE, as the sentencepiece library encodes) behind a BOS; the\n"
     "  first --val-docs (10000) documents to fineweb_val_*.bin with fineweb_val_bytes_*.bin\n"
     "  (each token's original UTF-8 bytes, what val_bpb counts), the rest to\n"
     "  fineweb_train_*.bin, --shard-tokens (10000000) per shard. DIR must not exist; it\n"
     "  is built beside it and moved into place when complete.\n"},
    {"tokenizer", cmd_tokenizer, "inspect a SentencePiece model and its BPB byte table",
     "usage: pgolf tokenizer MODEL [--vocab N] [--json]\n"
     "\n"
     "Prints vocab size, model type, special ids and piece-type counts. --json adds the BPB\n"
     "byte table, one entry per id: base_bytes, has_leading_space, is_boundary. --vocab N\n"
     "pads the table to a model vocab larger than the tokenizer's.\n"},
    {"init", cmd_init, "write a freshly initialized model checkpoint",
     "usage: pgolf init --out FILE [--preset tiny|baseline|record] [--set NAME=VALUE]... [--seed N]\n"
     "                  [--init reference|dense] [--backend cpu|cuda|auto]\n"
     "\n"
     "Model shape comes from the preset (default baseline), then the reference's environment\n"
     "variables (VOCAB_SIZE, NUM_LAYERS, MODEL_DIM, NUM_HEADS, NUM_KV_HEADS, MLP_MULT,\n"
     "TRAIN_SEQ_LEN, ROPE_BASE, LOGIT_SOFTCAP, QK_GAIN_INIT, TIED_EMBED_INIT_STD, MLP_ACT),\n"
     "then --set flags. --init dense also randomizes the zero-initialized projections and\n"
     "the control tensors (for tests that must exercise every path). SEED env or --seed.\n"
     "The draw is on the host: every backend writes the same file.\n"
     BACKEND_HELP},
    {"run", cmd_run, "the whole pipeline: train seeds, evaluate, package, judge (cached, resumable)",
     "usage: pgolf run [--preset tiny|baseline] [--config FILE] [--seeds 42,1337,2025]\n"
     "                 [--set NAME=VALUE]... [--sota X|unigram|none] [--sota-record DIR]\n"
     "                 [--out RUN_DIR] [--refresh] [--force] [--backend cpu|cuda|auto]\n"
     "\n"
     "Stages: data (shards, tokenizer, byte table, unigram baseline) -> build (versions, the\n"
     "sources train_gpt.py carries) -> train/seedS -> quantize/seedS -> compress/seedS ->\n"
     "eval/seedS (the compressed artifact: standard, sliding, legal TTT as configured) ->\n"
     "package (the records folder RUN_DIR/records from the artifacts, the training logs and\n"
     "the eval results; its roundtrip lines are the standard eval's) -> stats\n"
     "(significance, the report).\n"
     "RUN_DIR/manifest.json records each stage's inputs, parameters, versions, outputs\n"
     "(SHA-256), times and status (docs/manifest.md). A stage whose inputs, parameters and\n"
     "versions hash as a completed entry is skipped (\"cached\"). Other settings than the run\n"
     "was made with are refused, naming them (its results would be replaced); --force\n"
     "re-runs the stages that depend on them and keeps the rest. After a kill, the same\n"
     "command resumes (training from its last checkpoint); Ctrl-C stops cleanly after the\n"
     "current step. Launched as W processes (torchrun --standalone --no-python\n"
     "--nproc_per_node=W ./pgolf run ..., or mpirun, as `pgolf train`), rank 0 runs the\n"
     "pipeline and the other ranks train each train stage beside it (WORLD_SIZE=W); the\n"
     "manifest records the ranks.\n"
     "Settings: the training names of `pgolf train`, TTT_* of `pgolf eval --ttt`, and RUN_SEEDS,\n"
     "RUN_QUANT (int8|mixed), RUN_SLIDING_STRIDE (0 = off), RUN_TTT (0|1), RUN_TTT_STRIDE\n"
     "(0 = standard windows), RUN_SOTA, RUN_SOTA_RECORD (a records folder or tree),\n"
     "RUN_THRESHOLD (0.005 nats), RUN_THRESHOLD_BPB, RUN_ALPHA (0.01), RUN_NAME, RUN_AUTHOR,\n"
     "RUN_GITHUB_ID, RUN_DATE, RUN_TRACK ('pgolf help settings' lists them all). Later wins:\n"
     "preset < --config FILE < environment < --set < --seeds/--sota/--sota-record.\n"
     "--preset tiny (the default) is the embedded run: the tiny model on data/sample, 40 steps\n"
     "of 2,048 tokens per seed, seeds 42,1337,2025, sliding stride 32, TTT (1 epoch, chunks of\n"
     "4,096, lr 0.03), tested against the sample's unigram baseline. --out defaults to\n"
     "runs/PRESET. A recorded input that changed, or an output modified outside pgolf, stops\n"
     "the run with nothing changed; --refresh accepts it and re-runs what depends on it.\n"
     BACKEND_HELP
     "Training and the evaluations run there; a backend other than the CPU is a parameter of\n"
     "those stages, and pgolf replay re-runs on the backend the run recorded.\n"},
    {"replay", cmd_replay, "re-run a run's stages in a scratch directory and compare hashes",
     "usage: pgolf replay RUN_DIR [--keep] [--json]\n"
     "\n"
     "Re-runs every stage of RUN_DIR with its recorded settings in a scratch directory\n"
     "($TMPDIR/pgolf-replay-*, removed unless --keep) and reports each output as identical or\n"
     "DIFFERS with both SHA-256 hashes. Logs, README.md and submission.json hold wall-clock\n"
     "times and are reported apart. The recorded inputs must be unchanged. Exit 1 when a\n"
     "reproducible output differs.\n"},
    {"status", cmd_status, "what a run has done, cached, and what is stale",
     "usage: pgolf status RUN_DIR [--json]\n"
     "\n"
     "Per stage: done (or cached in the last run), pending, interrupted, failed, stale (a\n"
     "recorded input changed or is missing) or modified (an output changed), with wall times.\n"},
    {"selftest", cmd_selftest, "a compute backend's ops and model against the CPU reference",
     "usage: pgolf selftest [--backend cuda|cpu|auto] [--tiny] [--json]\n"
     "\n"
     "Runs every op of the backend (default cuda) and of the CPU reference on the same random\n"
     "inputs, forward and backward (linear, rms_norm, RoPE, causal GQA attention, relu^2 and\n"
     "leaky relu^2, softcapped cross-entropy, embedding, residual mixes, query gain, norm,\n"
     "SGD, Adam, Muon and Newton-Schulz), on a tiny and a baseline-shaped case (--tiny: the\n"
     "first only), and prints per op the max absolute and relative difference against the\n"
     "tolerance it must meet: 1e-5 relative in float32 (TF32 off), 1e-4 after Newton-Schulz's\n"
     "iterations, 2e-2 for the linear layers in bf16. Then the whole model, with the same\n"
     "parameters and tokens on both sides (a 3-layer tiny model and, without --tiny, the\n"
     "9x512 baseline at sequence length 256): the loss, logits and gradient of one pass, the\n"
     "loss and parameters after 5 Muon/Adam steps, and the parameters and next loss after\n"
     "one legal-TTT chunk (1e-5 on the first loss and logits, 1e-4 on the rest; in bf16 2e-2\n"
     "on the loss and 5e-2 on the gradient). Exit 1 on any breach; exit 77 with one SKIP\n"
     "line when the backend cannot run here (no CUDA build, driver or device).\n"},
    {"train", cmd_train, "train the baseline model with the reference's loop",
     "usage: pgolf train [--out DIR] [--preset tiny|baseline|record] [--config FILE]\n"
     "                   [--set NAME=VALUE]... [--resume | --force] [--backend cpu|cuda|auto]\n"
     "\n"
     "Settings use the reference's environment names (ITERATIONS, WARMDOWN_ITERS,\n"
     "TRAIN_BATCH_TOKENS, TRAIN_SEQ_LEN, MAX_WALLCLOCK_SECONDS, MATRIX_LR, SCALAR_LR,\n"
     "TIED_EMBED_LR, MUON_MOMENTUM, SEED, DATA_PATH, TOKENIZER_PATH, VAL_LOSS_EVERY,\n"
     "TRAIN_LOG_EVERY, GRAD_CLIP_NORM, WORLD_SIZE, the model shape, ...) plus\n"
     "CHECKPOINT_EVERY ('pgolf help settings' lists them). Later sources win: preset <\n"
     "--config FILE (NAME=VALUE lines) < environment < --set. The resolved configuration\n"
     "opens DIR/train.log.\n"
     "Writes DIR/train.log (lines in the reference's shapes), DIR/state.ckpt (model,\n"
     "optimizer state and data position, atomically every CHECKPOINT_EVERY steps and at the\n"
     "end) and DIR/final.ckpt. --resume continues from DIR/state.ckpt and ends with the\n"
     "same bits as an uninterrupted run (with MAX_WALLCLOCK_SECONDS=0). A DIR holding an\n"
     "earlier run's files is refused, naming them, unless --resume or --force (start over,\n"
     "replacing them). Without --out, as train_gpt.py: logs/RUN_ID.txt with\n"
     "logs/RUN_ID_state.ckpt and logs/RUN_ID_final.ckpt beside it (RUN_ID from the\n"
     "environment, else a fresh UUID). Settings that make one step minutes of CPU work (the\n"
     "baseline's 524,288 tokens) print a warning first. WORLD_SIZE=W\n"
     "emulates W ranks' data slices (grad_accum = 8/W). Launched as W processes\n"
     "(torchrun --standalone --no-python --nproc_per_node=W ./pgolf train ..., or mpirun -np W\n"
     "with MASTER_ADDR/MASTER_PORT or PGOLF_RENDEZVOUS_FILE), each rank trains its slice,\n"
     "gradients are summed in rank order (the same bits as the emulation), and rank 0 logs,\n"
     "validates and writes the checkpoints; PGOLF_RENDEZVOUS_TIMEOUT (120 s) bounds the wait\n"
     "for the ranks. A non-finite loss stops training\n"
     "and keeps the last good checkpoint. --preset tiny trains on data/sample. --preset\n"
     "record is the latest record's configuration (the model family, MuonEq-R with Polar\n"
     "Express, AdamW decays, warmdown by fraction, the loop from 35%, the EMA, document\n"
     "packing, 16 GPTQ calibration batches) on its CaseOps data under the records' paths;\n"
     "then 'pgolf export --format records --hessians DIR/hessians.bin --preset record'.\n"
     BACKEND_HELP},
    {"eval", cmd_eval, "score a model (pgolf or PyTorch) on the validation shards (val_loss, val_bpb)",
     "usage: pgolf eval MODEL --data DIR --tokenizer MODEL\n"
     "                  [--mode standard|sliding|documents] [--stride N] [--pack N]\n"
     "                  [--ranks N] [--precision fp32|bf16]\n"
     "                  [--seq-len N] [--batch N] [--ttt [--ttt-set K=V]...]\n"
     "                  [--audit-causality] [--audit-documents] [--audit-order] [--at T]\n"
     "                  [--tag NAME] [--json] [--quiet]\n"
     "                  [--set NAME=VALUE]... [--log TRAIN_LOG] [--max-decoded-bytes N]\n"
     "                  [--backend cpu|cuda|auto]\n"
     "\n"
     "MODEL is a pgolf checkpoint or artifact, or a PyTorch file (final_model.pt,\n"
     "final_model.int8.ptz, the {\"w\",\"m\"} int6 layouts; see pgolf help import, whose\n"
     "--set and --log supply what the tensors cannot tell).\n"
     "Scores the validation split (all fineweb_val_*.bin in DIR, concatenated, truncated to\n"
     "((N-1)//seq_len)*seq_len+1 tokens). standard: non-overlapping windows of seq_len;\n"
     "sliding: windows every --stride tokens (default 64, at most seq_len), each token\n"
     "scored once with the most context; documents: the records' document-packed\n"
     "diagnostic eval, --pack N (1) windows in one sequence whose attention is masked to\n"
     "documents (cut at each BOS_ID and every seq_len tokens from a document's start),\n"
     "every token scored once. --precision bf16 rounds to bfloat16 where the records'\n"
     "autocast does (the parameters, each op's output; the cross-entropy in float32);\n"
     "fp32 (the default) is the reference. --ranks N scores as the records' loop over N ranks does (each\n"
     "rank's windows in whole packs only, the rest left out). --seq-len defaults to the\n"
     "checkpoint's TRAIN_SEQ_LEN.\n"
     "--ttt adds legal score-first test-time training over the mode's windows (sliding by\n"
     "default): chunks of TTT_CHUNK_TOKENS (32768) scored first, then trained on (not the\n"
     "last) for TTT_EPOCHS (3) with SGD momentum TTT_MOMENTUM (0.9), lr TTT_LR (0.002)\n"
     "cosine over chunks, TTT_BATCH_SEQS (32), TTT_GRAD_CLIP (1.0), the first\n"
     "TTT_FREEZE_BLOCKS (2) blocks frozen. Variants: TTT_OPTIMIZER=muon (LaCT),\n"
     "TTT_COSINE_EPOCHS=1, TTT_MLP_OUT_LR_MULT, TTT_IN_PROJ_LR_MULT; TTT_OPTIMIZER=lora\n"
     "(TTT_LORA_*). Settings from the environment, --ttt-set wins ('pgolf help settings'\n"
     "lists them). Prints ttt_chunk progress, the pre-TTT numbers and\n"
     "legal_ttt_exact val_loss:X val_bpb:Y; --json adds \"ttt\": the optimizer and the\n"
     "settings it read.\n"
     "TTT_OPTIMIZER=phased is the records' evaluation: per-document LoRA TTT on chunks of\n"
     "TTT_CHUNK_SIZE (48), each scored, then one AdamW step, and PHASED_TTT_NUM_PHASES\n"
     "global SGD phases on the first PHASED_TTT_PREFIX_DOCS scored documents, in pgolf's\n"
     "canonical schedule of TTT_RANKS (8) ranks (see the README); it prints\n"
     "ttt_phased_exact val_loss:X val_bpb:Y (--mode is the eval before it, standard by default).\n"
     "--audit-causality scores again after altering every token after T (default: half way)\n"
     "and checks every loss before T is bit-identical; exit 1 if not. With the phased TTT\n"
     "(which scores in its own order, keeping every BOS in place) the targets that must\n"
     "not change are those scored before an altered token could be seen.\n"
     "--audit-order alters the document at T and checks every target scored no later than\n"
     "it keeps its loss; later documents that changed are counted (a dependence on earlier\n"
     "documents, as warm-started adapters and phases make), not failed; exit 1 if not.\n"
     "--audit-documents alters the tokens inside the document at T (between its BOS and the\n"
     "next) and checks every other document's losses are bit-identical; exit 1 if not.\n"
     "--tag NAME names the result lines final_NAME / final_NAME_exact (default eval,\n"
     "sliding_window or documents). --json prints {\"val_loss\",\"val_bpb\",\"tokens\",\"bytes\",...}.\n"
     "Progress goes to stderr.\n"
     "Model files from outside decode to at most 64x their size and 1 GiB in all;\n"
     "--max-decoded-bytes N raises the second bound.\n"
     BACKEND_HELP},
    {"import", cmd_import, "read a PyTorch model file (state dict or int8/int6 artifact) as a checkpoint",
     "usage: pgolf import FILE --out CHECKPOINT [--set NAME=VALUE]... [--log TRAIN_LOG]\n"
     "                    [--max-decoded-bytes N]\n"
     "\n"
     "Reads torch.save files without Python (a restricted unpickler: only state-dict types;\n"
     "any other global or opcode is refused): a plain state dict (final_model.pt), the\n"
     "reference's int8_clean_per_row_v1 export (final_model.int8.ptz) and the later records'\n"
     "{\"w\",\"m\"} per-row int6/int8 layout, wrapped in zlib, xz/lzma, zstd or brotli and\n"
     "optionally a BSHF byte shuffle (detected by magic, not by name). Quantized tensors are\n"
     "dequantized as the reference does. The shape (layers, width, heads, KV heads, MLP,\n"
     "vocab) comes from the tensors; MLP_ACT, LOGIT_SOFTCAP, ROPE_BASE and TRAIN_SEQ_LEN from\n"
     "--log (its num_heads:8 / '  rope_base: 10000' lines), then --set, else the baseline's\n"
     "defaults. Unknown or missing tensors are an error listing them. pgolf eval and\n"
     "pgolf verify --rerun read these files directly.\n"
     "Model files from outside decode to at most 64x their size and 1 GiB in all;\n"
     "--max-decoded-bytes N raises the second bound.\n"},
    {"export", cmd_export, "write a model in the official or the April records' artifact format",
     "usage: pgolf export MODEL --format int8-ptz --out FILE [--max-decoded-bytes N]\n"
     "       pgolf export MODEL --format records --hessians FILE [--preset record]\n"
     "                    [--set NAME=VALUE]... --out FILE\n"
     "\n"
     "records: the April records' final_model.int6.ptz, which their train_gpt.py loads:\n"
     "torch.save({\"w\", \"m\"}) under their tensor names, byte-shuffled (BSHF) and\n"
     "brotli-11. Matrices of more than KEEP_FLOAT_MAX_NUMEL values are quantized by GPTQ with\n"
     "the SD clip on FILE, the hessians.bin of the training run (GPTQ_CALIBRATION_BATCHES),\n"
     "MATRIX_BITS / EMBED_BITS bits; LQER corrects the LQER_TOP_K largest errors; smaller\n"
     "tensors stay float16 (the gates int8 per row with GATED_ATTN_QUANT_GATE=1). Settings:\n"
     "the records' code defaults, --preset record the latest record's, then --set\n"
     "(MATRIX_BITS EMBED_BITS MATRIX/EMBED/MLP/ATTN_CLIP_SIGMAS LQER_ENABLED LQER_RANK\n"
     "LQER_TOP_K LQER_FACTOR_BITS LQER_ASYM_ENABLED LQER_ASYM_GROUP GATED_ATTN_QUANT_GATE\n"
     "KEEP_FLOAT_MAX_NUMEL). Prints their 'Quantized weights:' summary.\n"
     "\n"
     "int8-ptz: "
     "the reference's final_model.int8.ptz: quantize_state_dict_int8's dict (per-row\n"
     "int8 with fp16 scales above 65,536 elements, small tensors fp16, control tensors\n"
     "float32) pickled as torch.save does, zipped, zlib level 9. torch.load and the\n"
     "reference's dequantize_state_dict_int8 read it. MODEL is any file pgolf reads.\n"
     "Model files from outside decode to at most 64x their size and 1 GiB in all;\n"
     "--max-decoded-bytes N raises the second bound.\n"},
    {"pack", cmd_pack, "quantize and compress a checkpoint into an artifact",
     "usage: pgolf pack CHECKPOINT --out ARTIFACT [--scheme int8|mixed] [--group G=SCHEME]...\n"
     "                  [--code FILE] [--budget] [--json]\n"
     "\n"
     "Quantizes per tensor group (embed, attn, mlp, control) and compresses each group's\n"
     "block with the smallest of zstd-22 and brotli-11, with or without a byte shuffle.\n"
     "int8: the reference's export (int8 per row, clip at the 99.99984th percentile, fp16\n"
     "scales; tensors of <= 65,536 elements fp16; control tensors fp32). mixed: embed\n"
     "int8_row, attn int6_row, mlp int5_row (clip chosen per row by reconstruction error).\n"
     "--group overrides one group (schemes: fp32 fp16 int8_row int6_row int5_row). The\n"
     "format is in docs/artifact.md. Byte ledger: --code FILE counts the code bytes (stat);\n"
     "code + model over 16,000,000 is an error and nothing is written; the reference's\n"
     "size lines are printed; --budget shows the bytes left and the groups that cost most.\n"},
    {"unpack", cmd_unpack, "dequantize an artifact back into a checkpoint",
     "usage: pgolf unpack ARTIFACT --out CHECKPOINT [--max-decoded-bytes N]\n"
     "\n"
     "Validates the artifact (sizes, SHA-256, tables, bounded decoding) and writes the\n"
     "dequantized weights as a checkpoint, which pgolf eval scores.\n"
     "Model files from outside decode to at most 64x their size and 1 GiB in all;\n"
     "--max-decoded-bytes N raises the second bound.\n"},
    {"selfextract", cmd_selfextract, "write the self-extracting train_gpt.py of a submission",
     "usage: pgolf selfextract --out train_gpt.py [--set NAME=VALUE]... [--source DIR]\n"
     "       pgolf selfextract --list [--source DIR]\n"
     "\n"
     "Writes the submission script (docs/box.md): Python's standard library plus the\n"
     "sentencepiece module, carrying the box build's C sources from DIR (default:\n"
     "$PGOLF_ROOT or .), minified, with unused functions left out and the program's own\n"
     "names shortened, as raw LZMA2 in a latin-1 literal, with the script's body. Run with\n"
     "python3 or torchrun (every rank trains, rank 0 packs and scores), it unpacks them to a temporary directory (refusing unsafe paths,\n"
     "duplicate, oversize and truncated entries), compiles them with the C compiler alone\n"
     "(printing pgolf_build:), writes the tokenizer's pieces table, trains with the --set\n"
     "settings baked in as defaults (environment wins; PGOLF_PRESET picks the preset,\n"
     "PGOLF_OUT the run directory, DATA_PATH/TOKENIZER_PATH the data), packs the final model\n"
     "against the cap, runs the evaluations of RUN_SLIDING_STRIDE, RUN_TTT and TTT_* and\n"
     "prints the reference's log lines. Also prints what the sources weigh under xz, zstd\n"
     "and brotli. --list prints the files the archive is made from.\n"},
    {"package", cmd_package, "build a records folder from training runs or their logs",
     "usage: pgolf package RUN_DIR... --out OUT --data DIR --tokenizer MODEL\n"
     "                     [--scheme int8|mixed] [--source DIR] [--eval-set K=V]...\n"
     "                     [COMMON...]\n"
     "       pgolf package --logs LOG... --code train_gpt.py [--code FILE]... --name N\n"
     "                     --author A --github-id G [--score TAG] [--hardware H]\n"
     "                     [--with-artifacts ART]... [COMMON...]\n"
     "COMMON: [--date YYYY-MM-DD] [--track 10min_16mb|non-record|T] [--blurb TEXT]\n"
     "        [--sota X | --sota-record TREE | --leaderboard README.md] [--force]\n"
     "\n"
     "Writes the official layout OUT/track_<track>/<date>_<name>/ (an OUT whose last part\n"
     "already starts with YYYY-MM-DD_ is the folder itself): README.md (what changed, results\n"
     "per seed with the log file:line of each number, mean, std, bytes per seed split into\n"
     "code and model, the significance test against the SOTA, how to reproduce, loss.svg:\n"
     "every seed's train and val loss by step), submission.json (name, author, github_id,\n"
     "date, track, val_loss, val_bpb, val_bpb_std, bytes_total, bytes_code, seeds,\n"
     "seed_results{val_loss, val_bpb, artifact_bytes, steps, step_avg_ms, train_time_s,\n"
     "eval_time_s}, hardware, blurb), the logs and the code. The folder is built beside its\n"
     "place and moved there whole; one that already holds files is refused (naming them)\n"
     "unless --force, which replaces it.\n"
     "The SOTA to beat: --sota X (a val_bpb), --sota-record (a records folder, or a tree's\n"
     "best record of the track: Welch's test against its seeds too) or --leaderboard (the\n"
     "challenge README's best score of the track's table); without one the README says no\n"
     "test was run. The test: 0.005 nats at p < 0.01 (one-sided one-sample t-test; the\n"
     "threshold in BPB at the seeds' own tokens per byte).\n"
     "\n"
     "--logs: the logs of a train_gpt.py-style run, one per seed (copied as they are; a name\n"
     "that is not *.log or *.txt becomes train_seedS.log). Each needs a seed (seed:N, or\n"
     "seedN in its name), a final val_loss/val_bpb line (the last, or the last tagged --score\n"
     "TAG; every seed must report the same evaluation) and a \"Serialized model ...: N bytes\"\n"
     "line, or its model file given by --with-artifacts (one per log, in the logs' order;\n"
     "copied only then). bytes_code is the sum of the --code files; a seed whose code +\n"
     "model bytes exceed 16,000,000 is refused unless the track is a non-record one.\n"
     "--hardware defaults to \"8xH100 80GB SXM\".\n"
     "\n"
     "RUN_DIR...: pgolf train output directories (train.log + final.ckpt, one per seed):\n"
     "quantizes and compresses each final.ckpt with --scheme and scores the dequantized\n"
     "artifact on the validation shards of --data, tokenized by --tokenizer: the standard\n"
     "eval, then the evaluations that RUN_SLIDING_STRIDE, RUN_TTT, RUN_TTT_STRIDE and TTT_*\n"
     "name (environment, then --eval-set; 'pgolf help settings'). The last one is the claim.\n"
     "Each log gets the byte ledger, those settings as config: lines and every evaluation's\n"
     "score lines with its eval_time, as train_gpt.py prints them. Adds model_seedS.art and\n"
     "the self-extracting train_gpt.py (the sources in --source, default $PGOLF_ROOT or .)\n"
     "with the first run's resolved configuration and the evaluations' settings baked in,\n"
     "so that it runs and prints the evaluation the folder claims. The same inputs (and\n"
     "--date) give the same files but for the measured eval times. `pgolf run` packages its\n"
     "own runs the same way, from their eval results.\n"},
    {"verify", cmd_verify, "audit a records folder (files, claims vs logs, limits)",
     "usage: pgolf verify RECORD_DIR [--json] [--all] [--rerun --data DIR --tokenizer MODEL\n"
     "                    [--precision fp32|bf16]] [--rerun-logs DIR] [--max-decoded-bytes N]\n"
     "\n"
     "Audits any folder in the challenge's layout: README.md, submission.json (parses,\n"
     "required keys), train_gpt.py, every log parsed leniently (per-seed final val_loss and\n"
     "val_bpb, train time, steps, artifact bytes, eval time), the claims of submission.json\n"
     "(val_bpb, val_loss, val_bpb_std, bytes_total, seed_results) against the logs, and the\n"
     "limits (16,000,000 bytes, 600 s training, 600 s evaluation where logged, work after\n"
     "the cap: GPTQ calibration after the stop line, FORCE_STOP_STEP), impossible values in\n"
     "submission.json (negative sizes, val_bpb outside (0, 10], negative std) and non-finite\n"
     "scores in logs, and the README's val_bpb / val_loss / total bytes against\n"
     "submission.json. Each finding is PASS, FAIL, UNKNOWN or NOTE (shown with --all) with\n"
     "its evidence (file:line). Non-record tracks are not held to the record limits. --rerun re-evaluates the pgolf checkpoints (*.ckpt) and\n"
     "artifacts (*.art) found in the folder with the eval their log names and compares;\n"
     "a PyTorch final_model*.pt / *.ptz of the records' family (the April records: their\n"
     "{\"w\",\"m\"} kinds, constants from the log's hyperparameter dump) is re-scored as\n"
     "their diagnostic line (documents mode, the dump's pack and ranks), in float32 or\n"
     "--precision bf16: PASS within 1e-6 BPB, undecided within the 2e-3 precision gap,\n"
     "else FAIL; their quantized_ttt_phased line is re-run with the dump's TTT settings\n"
     "(value, logged value, difference, tolerance and its reason) and that TTT audited\n"
     "(future perturbation, document order). A byte sidecar (fineweb_val_bytes_*.bin) in\n"
     "DIR counts the bytes.\n"
     "--rerun-logs DIR judges re-runs of the folder's own code made elsewhere (pgolf rerun's\n"
     "seed_N.log, or any *.log / *.txt in DIR stating its seed): per claimed seed the\n"
     "claimed and re-run score, bytes and times, then reproduced or the difference with\n"
     "Welch's test and the 0.005-nat threshold (reproduce.* findings).\n"
     "Exit 1 when a check FAILs. --max-decoded-bytes N: as for pgolf eval.\n"},
    {"rerun", cmd_rerun, "re-run a records folder's own train_gpt.py per seed and judge reproduction",
     "usage: pgolf rerun RECORD_DIR --out DIR [--seeds S1,S2,..] [--launcher CMD]\n"
     "                   [--env NAME=VALUE]... [--timeout SECONDS] [--json]\n"
     "\n"
     "EXECUTES THE SUBMISSION'S OWN CODE: RECORD_DIR/train_gpt.py, once per seed (the seeds\n"
     "its val_bpb claim rests on, or --seeds), each in a scratch copy DIR/seed_N of the\n"
     "folder (the folder itself is never written), its output kept in DIR/seed_N.log. The\n"
     "command is `LAUNCHER train_gpt.py` (default: torchrun --standalone\n"
     "--nproc_per_node=N with N the logged world size when torchrun is on PATH, else\n"
     "python3) with the environment the README's run command and the seed's log give (its\n"
     "config: lines and hyperparameter dump, names upper-cased; paths, ranks and ids of the\n"
     "original machine left out), SEED, then --env (which wins); all of it is shown before\n"
     "anything runs. A seed past --timeout (3600 s) is killed with its process group and\n"
     "reported, as is a crash. Then the reproduction report (DIR/report.json, and printed):\n"
     "per seed the claimed and re-run score of the claimed evaluation, bytes, train and eval\n"
     "time; over the seeds: reproduced bit for bit, or the difference in nats and BPB with\n"
     "Welch's two-sided test and the 0.005-nat threshold. Exit 0 when reproduced, 1 when not.\n"
     "pgolf verify RECORD_DIR --rerun-logs DIR judges re-run logs made elsewhere.\n"},
    {"stats", cmd_stats, "significance of per-seed scores against the SOTA (0.005-nat rule)",
     "usage: pgolf stats SCORES|RECORD_DIR... [--losses L1,L2,..] [--sota X | --sota-scores A,B,..\n"
     "                   | --sota-record DIR] [--threshold 0.005] [--threshold-bpb]\n"
     "                   [--metric bpb|loss] [--alpha 0.01] [--power P] [--json]\n"
     "\n"
     "Scores are numbers (comma- or space-separated) or records folders / run folders whose\n"
     "logs give per-seed val_loss and val_bpb. With --losses the numbers are val_bpb and\n"
     "--metric picks which of the two is tested; without it they are in the --metric unit\n"
     "(as are --sota and --sota-scores). --sota-record takes a records folder or a records\n"
     "tree (its current SOTA: the best record-track claim its logs support). Tests: one-sided one-sample t-test of the\n"
     "scores against (SOTA - threshold), t = (target - mean)/(s/sqrt(n)), df = n-1, p = upper\n"
     "tail; and Welch's t-test against the SOTA's seeds when they are given. The threshold\n"
     "is in nats (0.005) and is converted to BPB with the submission's own tokens per byte\n"
     "(from its val_loss/val_bpb pairs: give --losses or a records folder); --threshold-bpb\n"
     "takes it as BPB, as early records did. The output says which was used. Verdict:\n"
     "record (p < alpha), not significant, or worse (mean not below the SOTA). Also the\n"
     "smallest number of seeds reaching p < alpha at the observed std and improvement, or\n"
     "with --power P the number for that power (noncentral t).\n"},
    {"records", cmd_records, "ingest a records tree: history, SOTA before each record, significance",
     "usage: pgolf records TREE [--leaderboard README.md] [--json] [--svg FILE] [--alpha 0.01]\n"
     "\n"
     "Reads TREE/track_*/<date>_<name>/ (submission.json, README.md and per-seed logs,\n"
     "parsed leniently). With --leaderboard, the challenge README's leaderboard tables give\n"
     "the order, dates and scores (a folder is matched by its Info link, else by score and\n"
     "date), and the SOTA before a record is the best earlier record-track row. Without it,\n"
     "records are ordered by date and the SOTA is the best earlier record-track claim its\n"
     "logs support. Per record: the SOTA it had to beat, the comparison its README states,\n"
     "and the one-sample and Welch tests of its seeds, both with the 0.005-nat threshold (in\n"
     "BPB at the record's own tokens/byte; not run, and said so, when that is unknown) and\n"
     "unshifted (as READMEs quote Welch's test). Non-record tracks are listed, not judged.\n"
     "Records whose claim is better than their logs support are flagged. --svg draws\n"
     "val_bpb over date with the SOTA line.\n"},
    {"help", cmd_help, "show commands, the help of one, or every setting",
     "usage: pgolf help [COMMAND | settings]\n"
     "\n"
     "settings: every NAME=VALUE setting (model, training, TTT_*, RUN_*) with its type,\n"
     "default, range, the stages that read it and what it does.\n"},
    {"version", cmd_version, "print the version", "usage: pgolf version\n"},
    {NULL, NULL, NULL, NULL},
};

int pg_cli_apply_sets(const char *cmd, const char *flag, const char *const *sets, int n,
                      int (*set)(void *ctx, const char *name, const char *value), void *ctx)
{
    for (int i = 0; i < n; i++) {
        char name[64];
        const char *eq = strchr(sets[i], '=');
        if (!eq || eq == sets[i] || (size_t)(eq - sets[i]) >= sizeof name)
            return pg_cli_usage_error(cmd, "%s needs NAME=VALUE, got '%s'", flag, sets[i]);
        snprintf(name, sizeof name, "%.*s", (int)(eq - sets[i]), sets[i]);
        if (set(ctx, name, eq + 1) != 0)
            return pg_cli_error();
    }
    return 0;
}

int pg_cli_error(void)
{
    fprintf(stderr, "pgolf: %s\n", pg_errmsg());
    return 1;
}

int pg_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "pgolf %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'pgolf help %s')\n", cmd);
    va_end(ap);
    return 2;
}

int pg_cli_print_json(void *json_value)
{
    json_t *j = json_value;
    int rc = j ? json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(17)) : -1;
    json_decref(j);
    if (rc != 0) {
        pg_fail(j ? "stdout: cannot write the JSON output" : "out of memory building the JSON output");
        return pg_cli_error();
    }
    fputc('\n', stdout);
    return 0;
}

static const pg_command *find_command(const char *name)
{
    for (const pg_command *c = pg_commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

static void print_overview(FILE *out)
{
    fprintf(out, "pgolf %s: train, package, verify and judge Parameter Golf submissions\n\n"
                 "usage: pgolf COMMAND [ARGS]\n\ncommands:\n",
            pg_build_version());
    for (const pg_command *c = pg_commands; c->name; c++)
        fprintf(out, "  %-10s %s\n", c->name, c->summary);
    fprintf(out, "\nRun 'pgolf help COMMAND' for the options of one command, 'pgolf help settings'\n"
                 "for every NAME=VALUE setting.\n");
}

static int cmd_help(int argc, char **argv)
{
    if (argc < 2) {
        print_overview(stdout);
        return 0;
    }
    if (strcmp(argv[1], "settings") == 0) {
        pg_cli_help_settings(stdout);
        return 0;
    }
    const pg_command *c = find_command(argv[1]);
    if (!c) {
        fprintf(stderr, "pgolf help: unknown command '%s'\n", argv[1]);
        return 2;
    }
    printf("pgolf %s: %s\n\n%s", c->name, c->summary, c->usage);
    return 0;
}

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("pgolf %s\n", pg_build_version());
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_overview(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return cmd_help(1, argv + 1);
    if (strcmp(argv[1], "--version") == 0)
        return cmd_version(1, argv + 1);
    const pg_command *c = find_command(argv[1]);
    if (!c) {
        fprintf(stderr, "pgolf: unknown command '%s' (see 'pgolf help')\n", argv[1]);
        return 2;
    }
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            char *help_argv[] = {"help", argv[1], NULL};
            return cmd_help(2, help_argv);
        }
    return c->run(argc - 1, argv + 1);
}
