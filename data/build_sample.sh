#!/bin/sh
# Rebuilds the shipped sample under data/sample/ from public-domain text.
#
# Source: the King James Version of the Bible (public domain; Debian packages
# bible-kjv + bible-kjv-text), Genesis 1 to Judges 21. One document per chapter.
# Every 20th chapter goes to the validation split, the rest to train.
# Tokenizer: SentencePiece BPE trained on the train split with the challenge's
# settings (byte_fallback, pad=0 bos=1 eos=2 unk=3, nmt_nfkc, no dummy prefix,
# split digits, character coverage 0.999), vocab 1024.
# Shards: the official format, written by `pgolf data pack`; each document starts
# with BOS (id 1), no EOS.
#
# Needs: bible-kjv, sentencepiece (spm_train, spm_encode) and a built ./pgolf.
set -eu
cd "$(dirname "$0")/.."
out=data/sample
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

command -v bible >/dev/null || { echo "build_sample: needs 'bible' (apt-get install bible-kjv)" >&2; exit 1; }
command -v spm_train >/dev/null || { echo "build_sample: needs spm_train (apt-get install sentencepiece)" >&2; exit 1; }
[ -x ./pgolf ] || { echo "build_sample: build ./pgolf first (make)" >&2; exit 1; }

# One chapter per line: verse numbers dropped, verses joined by spaces.
bible -l0 Gen1:1-Jdg21:25 | awk '
  /^$/ { next }
  /^[^ ].* [0-9]+$/ { if (doc != "") print doc; doc = ""; next }
  { sub(/^ +[0-9]+ /, ""); doc = (doc == "" ? $0 : doc " " $0) }
  END { if (doc != "") print doc }' > "$work/chapters.txt"
awk 'NR % 20 == 0' "$work/chapters.txt" > "$work/val.txt"
awk 'NR % 20 != 0' "$work/chapters.txt" > "$work/train.txt"

spm_train --input="$work/train.txt" --model_prefix="$work/sample_1024_bpe" \
  --model_type=bpe --vocab_size=1024 --byte_fallback=true \
  --pad_id=0 --bos_id=1 --eos_id=2 --unk_id=3 \
  --normalization_rule_name=nmt_nfkc --add_dummy_prefix=false --split_digits=true \
  --character_coverage=0.999 --num_threads=1 --minloglevel=2

mkdir -p "$out"
for split in train val; do
  spm_encode --model="$work/sample_1024_bpe.model" --output_format=id < "$work/$split.txt" \
    | sed 's/^/1 /' > "$work/$split.ids"
  ./pgolf data pack "$work/$split.ids" "$out/fineweb_${split}_000000.bin" --vocab 1024
done
cp "$work/sample_1024_bpe.model" "$out/sample_1024_bpe.model"
./pgolf data check "$out" --tokenizer "$out/sample_1024_bpe.model"
