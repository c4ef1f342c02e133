#!/bin/sh
# Regenerates tests/golden/* with the PyTorch and sentencepiece Python references.
# Needs Debian's python3-torch and python3-sentencepiece, and a built ./pgolf.
set -eu
cd "$(dirname "$0")/../.."
py=/usr/bin/python3
g=tests/golden
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# Forward pass: tiny config with every tensor random (dense init), 3 layers so the
# U-Net has one skip and one decoder block without one; a wide embedding init makes the
# logits large enough to exercise the softcap.
./pgolf init --preset tiny --set NUM_LAYERS=3 --set TIED_EMBED_INIT_STD=0.3 --seed 7 --init dense --out "$tmp/tiny.ckpt" >/dev/null
$py $g/make_golden.py "$tmp/tiny.ckpt" data/sample/fineweb_val_000000.bin $g/tiny_forward 2 64 1
./pgolf init --preset tiny --set NUM_LAYERS=4 --set MLP_ACT=leaky_relu2 --set TIED_EMBED_INIT_STD=0.25 --seed 11 --init dense \
  --out "$tmp/leaky.ckpt" >/dev/null
$py $g/make_golden.py "$tmp/leaky.ckpt" data/sample/fineweb_val_000000.bin $g/tiny_forward_leaky 1 48 0

# The records' model family (DESIGN 11): the core (partial RoPE, LN scale, XSA, a loop,
# gated skips, two lanes ending as their mean) and a variant (no loop, plain skips, XSA on
# the last two layers, lanes ending as the MLP lane); logits, losses and every gradient.
REC="--set VOCAB_SIZE=96 --set NUM_LAYERS=5 --set MODEL_DIM=16 --set NUM_HEADS=2 --set NUM_KV_HEADS=1
  --set MLP_MULT=4 --set MLP_ACT=leaky_relu2 --set ROPE_DIMS=4 --set LN_SCALE=1 --set QK_GAIN_INIT=5
  --set TIED_EMBED_INIT_STD=0.3 --set TRAIN_SEQ_LEN=32 --set PARALLEL_START_LAYER=3"
./pgolf init --preset tiny $REC --set XSA_LAST_N=5 --set NUM_LOOPS=1 --set LOOP_START=1 --set LOOP_END=2 \
  --set SKIP_GATES_ENABLED=1 --seed 31 --init dense --out "$tmp/rec_core.ckpt" >/dev/null
$py $g/make_records_golden.py "$tmp/rec_core.ckpt" $g/records_core 2 24 5
./pgolf init --preset tiny $REC --set XSA_LAST_N=2 --set PARALLEL_FINAL_LANE=mlp --seed 32 --init dense \
  --out "$tmp/rec_var.ckpt" >/dev/null
$py $g/make_records_golden.py "$tmp/rec_var.ckpt" $g/records_variant 1 20 6
# Each gate kind and SmearGate with and without its BOS mask (ids drawn from 4 values, so
# BOS (1) occurs often).
./pgolf init --preset tiny $REC --set XSA_LAST_N=5 --set GATE_WINDOW=6 --set SPARSE_ATTN_GATE_ENABLED=1 \
  --set SPARSE_ATTN_GATE_SCALE=0.5 --set SMEAR_GATE_ENABLED=1 --seed 33 --init dense --out "$tmp/rec_sparse.ckpt" >/dev/null
$py $g/make_records_golden.py "$tmp/rec_sparse.ckpt" $g/records_sparse_smear 2 16 7 4
./pgolf init --preset tiny $REC --set GATED_ATTN_ENABLED=1 --set GATE_WINDOW=6 --set SMEAR_GATE_ENABLED=1 \
  --set SMEAR_GATE_BOS_MASK=0 --seed 34 --init dense --out "$tmp/rec_dense.ckpt" >/dev/null
$py $g/make_records_golden.py "$tmp/rec_dense.ckpt" $g/records_dense_smear_leak 2 16 8 4
./pgolf init --preset tiny $REC --set ATTN_OUT_GATE_ENABLED=1 --set GATE_WINDOW=6 --seed 35 --init dense \
  --out "$tmp/rec_outgate.ckpt" >/dev/null
$py $g/make_records_golden.py "$tmp/rec_outgate.ckpt" $g/records_attn_out_gate 1 16 9
# The bf16 mode against the reference's bf16 variant, on the core and on the gates' case.
$py $g/make_records_golden.py "$tmp/rec_core.ckpt" $g/records_core_bf16 2 24 5 0 bf16
$py $g/make_records_golden.py "$tmp/rec_sparse.ckpt" $g/records_sparse_smear_bf16 2 16 7 4 bf16

# The records' TTT (per-document LoRA TTT, global phases) on the core's checkpoint.
$py $g/make_records_ttt.py "$tmp/rec_core.ckpt" $g/records_ttt.json

# A records folder in the April records' artifact format ({"w","m"} with gptq int6/int7,
# LQER-asym, int8 gate rows and fp16 passthrough, BSHF + brotli) and their hyperparameter
# dump, from a checkpoint of the family with every kind of tensor.
./pgolf init --preset tiny $REC --set XSA_LAST_N=5 --set NUM_LOOPS=1 --set LOOP_START=1 --set LOOP_END=2 \
  --set SKIP_GATES_ENABLED=1 --set GATE_WINDOW=8 --set SPARSE_ATTN_GATE_ENABLED=1 --set SPARSE_ATTN_GATE_SCALE=0.5 \
  --set SMEAR_GATE_ENABLED=1 --set VOCAB_SIZE=1024 --set TRAIN_SEQ_LEN=64 --seed 36 --init dense \
  --out "$tmp/rec_art.ckpt" >/dev/null
$py $g/make_records_artifact.py "$tmp/rec_art.ckpt" data/sample/fineweb_val_000000.bin $g/sample_1024_lut.json \
  $g/records_artifact 64 2
brotli -f -q 11 -o $g/records_artifact/final_model.int6.ptz $g/records_artifact/final_model.int6.raw
rm $g/records_artifact/final_model.int6.raw

# BPB byte tables.
$py $g/make_lut.py data/sample/sample_1024_bpe.model $g/sample_1024_lut.json
if [ -f ../shared/data/fineweb_8192_bpe.model ]; then
  $py $g/make_lut.py ../shared/data/fineweb_8192_bpe.model $g/fineweb_8192_lut.json
fi

# Student t distribution values for the stats tests.
$py $g/make_tdist.py $g/tdist_scipy.json

# Training parity: 20 steps of the full optimizer setup from a dense init.
TRACE_SETTINGS="VOCAB_SIZE=1024 NUM_LAYERS=3 MODEL_DIM=32 NUM_HEADS=4 NUM_KV_HEADS=2 MLP_MULT=2
  TRAIN_SEQ_LEN=32 TRAIN_BATCH_TOKENS=512 ITERATIONS=20 WARMDOWN_ITERS=8
  MUON_MOMENTUM_WARMUP_STEPS=10 MUON_MOMENTUM_WARMUP_START=0.85 MUON_MOMENTUM=0.95
  MUON_BACKEND_STEPS=5 TIED_EMBED_LR=0.05 MATRIX_LR=0.04 SCALAR_LR=0.04 GRAD_CLIP_NORM=1.0"
set_flags=""
for kv in $TRACE_SETTINGS; do
  case $kv in VOCAB_SIZE=*|NUM_LAYERS=*|MODEL_DIM=*|NUM_HEADS=*|NUM_KV_HEADS=*|MLP_MULT=*|TRAIN_SEQ_LEN=*)
    set_flags="$set_flags --set $kv";; esac
done
./pgolf init --preset tiny $set_flags --seed 3 --init dense --out "$tmp/trace.ckpt" >/dev/null
$py $g/make_train_trace.py "$tmp/trace.ckpt" data/sample/fineweb_train_000000.bin $g/train_trace.json $TRACE_SETTINGS

# The records' training recipe (MuonEq-R with Polar Express, AdamW groups with decoupled
# decays, clipping, warmdown by fraction to MIN_LR, the loop switched on at a fraction,
# the EMA, the document-packing loader): per-piece values and 12 steps of the records'
# core on the sample's train shard.
RECIPE="ITERATIONS=12 TRAIN_BATCH_TOKENS=512 TRAIN_SEQ_LEN=32 WARMDOWN_FRAC=0.5 MIN_LR=0.1
  ENABLE_LOOPING_AT=0.35 MUON_ROW_NORMALIZE=1 MUON_NS_COEFFS=polar_express MUON_BACKEND_STEPS=5
  MUON_MOMENTUM=0.97 MUON_MOMENTUM_WARMUP_START=0.92 MUON_MOMENTUM_WARMUP_STEPS=6
  TIED_EMBED_LR=0.03 MATRIX_LR=0.026 SCALAR_LR=0.02 BETA1=0.9 BETA2=0.95 ADAM_EPS=1e-8
  GRAD_CLIP_NORM=0.3 MUON_WD=0.095 EMBED_WD=0.085 ADAM_WD=0.02 EMA_DECAY=0.9"
./pgolf init --preset tiny $REC --set VOCAB_SIZE=1024 --set XSA_LAST_N=5 --set NUM_LOOPS=1 --set LOOP_START=1 \
  --set LOOP_END=2 --set SKIP_GATES_ENABLED=1 --seed 37 --init dense --out "$tmp/rec_train.ckpt" >/dev/null
$py $g/make_records_train.py "$tmp/rec_train.ckpt" data/sample/fineweb_train_000000.bin $g/records_train \
  $g/packing_shards $RECIPE TRAIN_LOADER=document_packing
# pgolf's records export of that checkpoint on the reference's Hessians, read by torch.load
# as the records' loader reads it
$py $g/check_records_export.py hessians "$tmp/rec_train.ckpt" $g/records_train "$tmp/ref_hessians.bin"
./pgolf export "$tmp/rec_train.ckpt" --format records --hessians "$tmp/ref_hessians.bin" \
  --set KEEP_FLOAT_MAX_NUMEL=1000 --out "$tmp/rec_train.ptz" >/dev/null
$py $g/check_records_export.py check "$tmp/rec_train.ptz" "$tmp/rec_train.ckpt" $g/records_train

# The records' export quantization: GPTQ with the SD clip and LQER on small matrices.
$py $g/make_records_gptq.py $g/records_gptq

# CaseOps: the transform and the byte counts of cut pieces on a handful of strings.
$py $g/make_records_caseops.py $g/records_caseops.json
# SentencePiece encoding (ids and surfaces) on the sample's, the challenge's SP8192 and
# (CASEOPS_MODEL, the records' tokenizer) the CaseOps model; and `pgolf data caseops`'s
# expected files on the sample's tokenizer.
models="sample_1024=data/sample/sample_1024_bpe.model"
[ -f ../shared/data/fineweb_8192_bpe.model ] && models="$models fineweb_8192=../shared/data/fineweb_8192_bpe.model"
[ -n "${CASEOPS_MODEL:-}" ] && models="$models caseops_8192=$CASEOPS_MODEL"
$py $g/make_sp_encode.py $g/sp_encode.json $models
$py $g/make_caseops_data.py data/sample/fineweb_train_000000.bin data/sample/sample_1024_bpe.model \
  $g/caseops_docs.jsonl $g/caseops_data.json

# TTT parity: per-chunk losses before and with legal score-first TTT.
./pgolf init --preset tiny --set NUM_LAYERS=3 --set MODEL_DIM=32 --set TRAIN_SEQ_LEN=32 \
  --set TIED_EMBED_INIT_STD=0.3 --seed 9 --init dense --out "$tmp/ttt.ckpt" >/dev/null
$py $g/make_ttt_trace.py "$tmp/ttt.ckpt" data/sample/fineweb_val_000000.bin $g/ttt_trace.json \
  TOKENS=1601 SEQ_LEN=32 STRIDE=16 CHUNK=256 EPOCHS=2 LR=0.05 MOMENTUM=0.9 BATCH=4 CLIP=1.0 FREEZE=1

# The reference's int8 export on hand-made rows.
$py $g/make_quant.py $g/int8_rows.json

# PyTorch model files in the formats real records ship (tests/test_torch.c), and a check
# that `pgolf export --format int8-ptz` is read by torch.load and equals the reference's
# quantization bit for bit.
mkdir -p $g/torchfiles
./pgolf init --preset tiny --set NUM_LAYERS=2 --set MODEL_DIM=32 --set TRAIN_SEQ_LEN=64 \
  --set TIED_EMBED_INIT_STD=0.3 --seed 21 --init dense --out "$tmp/small.ckpt" >/dev/null
./pgolf init --preset tiny --set NUM_LAYERS=2 --set MODEL_DIM=72 --set TRAIN_SEQ_LEN=64 \
  --set TIED_EMBED_INIT_STD=0.3 --seed 22 --init dense --out "$tmp/wide.ckpt" >/dev/null
$py $g/make_torch.py write "$tmp/small.ckpt" "$tmp/wide.ckpt" data/sample/fineweb_val_000000.bin \
  $g/sample_1024_lut.json $g/torchfiles
brotli -f -q 11 -o $g/torchfiles/w_m_bshf.br $g/torchfiles/w_m_bshf.raw
rm $g/torchfiles/w_m_bshf.raw
./pgolf export "$tmp/wide.ckpt" --format int8-ptz --out "$tmp/export.ptz" >/dev/null
$py $g/make_torch.py check-export "$tmp/export.ptz" "$tmp/wide.ckpt"
if [ -f ../shared/ref/train_gpt.py ]; then
  ./pgolf import "$tmp/export.ptz" --set TRAIN_SEQ_LEN=64 --out "$tmp/reimported.ckpt" >/dev/null
  $py $g/make_torch.py check-official ../shared/ref/train_gpt.py "$tmp/export.ptz" "$tmp/wide.ckpt" \
    "$tmp/reimported.ckpt"
fi
