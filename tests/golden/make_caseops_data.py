"""Golden output of `pgolf data caseops` on the sample's tokenizer: a small documents file
(caseops_docs.jsonl: pieces of the sample's own training text, and strings with capitals
and operator characters) and what the records' preparation makes of it, written with
records_caseops.py and Python's sentencepiece as their prepare_caseops_data.py does it:
per document BOS + the transform's ids; the first VAL_DOCS documents to val with each
token's original bytes (BOS 0), the rest to train; SHARD shard size. OUT.json holds each
file's SHA-256 and the sizes.

usage: make_caseops_data.py SAMPLE_TRAIN_SHARD MODEL DOCS_OUT.jsonl OUT.json
"""
import hashlib
import json
import struct
import sys

import sentencepiece as spm

import records_caseops as rc

VAL_DOCS, SHARD = 6, 3000


def shard_bytes(toks):
    return struct.pack("<256i", 20240520, 1, len(toks), *([0] * 253)) + struct.pack(f"<{len(toks)}H", *toks)


def main():
    shard, model, docs_out, out = sys.argv[1:5]
    sp = spm.SentencePieceProcessor(model_file=model)
    raw = open(shard, "rb").read()
    n = struct.unpack_from("<3i", raw, 0)[2]
    toks = struct.unpack_from(f"<{n}H", raw, 1024)
    docs, cur = [], []
    for t in toks[:40000]:
        if t == 1 and cur:
            docs.append(sp.decode(cur)[:700])
            cur = []
        if t != 1:
            cur.append(t)
    docs += ["NASA's iPhone and McDonald's HTTPServer", "ops \ue001\ue002\ue003\ue004 Inside",
             "caf\u00e9 \u00c9COLE \U0001F600 ALLCAPS Title", "  spaces  AND\ttabs\n"]
    with open(docs_out, "w", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps({"text": d}) + "\n")
    splits = {"train": [], "val": [], "val_bytes": []}
    for i, d in enumerate(docs):
        enc = rc.encode(d)
        pieces = sp.encode_as_immutable_proto(enc).pieces
        ids = [1] + [p.id for p in pieces]
        if i < VAL_DOCS:
            splits["val"] += ids
            splits["val_bytes"] += [0] + rc.piece_bytes([p.surface for p in pieces])
        else:
            splits["train"] += ids
    files = {}
    for name, stream in splits.items():
        split = "val" if name.startswith("val") else "train"
        kind = "_bytes" if name == "val_bytes" else ""
        for k in range(0, len(stream), SHARD):
            body = shard_bytes(stream[k:k + SHARD])
            files[f"fineweb_{split}{kind}_{k // SHARD:06d}.bin"] = hashlib.sha256(body).hexdigest()
    with open(out, "w") as f:
        json.dump({"generator": "tests/golden/make_caseops_data.py (sentencepiece %s)" % spm.__version__,
                   "val_docs": VAL_DOCS, "shard_tokens": SHARD, "docs": len(docs),
                   "val_tokens": len(splits["val"]), "train_tokens": len(splits["train"]),
                   "val_bytes": sum(splits["val_bytes"]),
                   "val_text_bytes": sum(len(d.encode("utf-8")) for d in docs[:VAL_DOCS]),
                   "files": files}, f, indent=1)
        f.write("\n")
    print(f"{out}: {len(docs)} docs, {len(files)} files")


if __name__ == "__main__":
    main()
