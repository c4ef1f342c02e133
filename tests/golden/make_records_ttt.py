"""Writes tests/golden/records_ttt.json: the records' TTT (tests/golden/records_ttt.py) on
a tiny model of their family and a stream of short documents, in four settings: LoRA TTT
with A drawn afresh per batch, with A warm-started, and with one and three global phases.

Run through tests/golden/make_golden.sh: make_records_ttt.py CKPT OUT. The stream, the
byte rule of its targets and every setting (by its pgolf name) are in the output, with
each case's per-target losses, schedule places, val_loss and val_bpb.
"""
import hashlib
import json
import sys

import torch

from reference_model import read_checkpoint
from records_ttt import evaluate

# With beta1 = 0 AdamW's first steps move every element by about lr whatever its gradient's
# size, so float noise on a near-zero gradient can flip a whole step: a small lr (the
# records' is 0.0001) keeps both sides within 1e-5 while the adapters still move.
SEQ_LEN = 8  # the eval's seq_len: the stream's truncation and the phases' sequences
COMMON = {"TTT_OPTIMIZER": "phased", "TTT_LORA_RANK": "4", "TTT_LORA_LR": "0.003",
          "TTT_CHUNK_SIZE": "4", "TTT_EVAL_SEQ_LEN": "10", "TTT_BATCH_SIZE": "2",
          "TTT_WEIGHT_DECAY": "0.5", "TTT_BETA1": "0", "TTT_BETA2": "0.999",
          "TTT_LORA_ALPHA": "6", "TTT_RANKS": "2", "TTT_LORA_SEED": "7",
          "GLOBAL_TTT_LR": "0.02", "GLOBAL_TTT_MOMENTUM": "0.9", "GLOBAL_TTT_CHUNK_TOKENS": "24",
          "GLOBAL_TTT_BATCH_SEQS": "2", "GLOBAL_TTT_GRAD_CLIP": "1"}
CASES = {
    "lora_fresh": {"TTT_WARM_START_A": "0", "PHASED_TTT_PREFIX_DOCS": "0"},
    "lora_warm": {"TTT_WARM_START_A": "1", "PHASED_TTT_PREFIX_DOCS": "0", "TTT_O_LORA": "0"},
    "phased_1": {"TTT_WARM_START_A": "1", "PHASED_TTT_PREFIX_DOCS": "8",
                 "PHASED_TTT_NUM_PHASES": "1"},
    "phased_3": {"TTT_WARM_START_A": "1", "PHASED_TTT_PREFIX_DOCS": "9",
                 "PHASED_TTT_NUM_PHASES": "3", "TTT_GRAD_STEPS": "2", "TTT_K_LORA": "0",
                 "GLOBAL_TTT_WARMUP_CHUNKS": "2", "GLOBAL_TTT_WARMUP_START_LR": "0.005",
                 "GLOBAL_TTT_RESPECT_DOC_BOUNDARIES": "0"},
}
# content lengths of 21 documents (the last batch of TTT_BATCH_SIZE=2 holds one)
DOC_LENGTHS = [3, 9, 17, 5, 30, 12, 8, 21, 1, 14, 26, 6, 11, 19, 2, 23, 7, 15, 4, 10, 13]


def settings(s):
    g = lambda k, d: s.get(k, d)
    return {"rank": int(s["TTT_LORA_RANK"]), "lr": float(s["TTT_LORA_LR"]),
            "chunk": int(s["TTT_CHUNK_SIZE"]), "eval_seq_len": int(s["TTT_EVAL_SEQ_LEN"]),
            "batch": int(s["TTT_BATCH_SIZE"]), "grad_steps": int(g("TTT_GRAD_STEPS", "1")),
            "wd": float(s["TTT_WEIGHT_DECAY"]), "beta1": float(s["TTT_BETA1"]),
            "beta2": float(s["TTT_BETA2"]), "k": int(g("TTT_K_LORA", "1")),
            "o": int(g("TTT_O_LORA", "1")), "mlp": int(g("TTT_MLP_LORA", "1")),
            "alpha": float(s["TTT_LORA_ALPHA"]), "warm": int(s["TTT_WARM_START_A"]),
            "seed": int(s["TTT_LORA_SEED"]), "ranks": int(s["TTT_RANKS"]),
            "prefix_docs": int(s["PHASED_TTT_PREFIX_DOCS"]),
            "phases": int(g("PHASED_TTT_NUM_PHASES", "1")), "g_lr": float(s["GLOBAL_TTT_LR"]),
            "g_momentum": float(s["GLOBAL_TTT_MOMENTUM"]), "g_epochs": int(g("GLOBAL_TTT_EPOCHS", "1")),
            "g_chunk": int(s["GLOBAL_TTT_CHUNK_TOKENS"]), "g_batch_seqs": int(s["GLOBAL_TTT_BATCH_SEQS"]),
            "g_warmup_start_lr": float(g("GLOBAL_TTT_WARMUP_START_LR", "0")),
            "g_warmup_chunks": int(g("GLOBAL_TTT_WARMUP_CHUNKS", "0")),
            "g_clip": float(s["GLOBAL_TTT_GRAD_CLIP"]),
            "g_doc_masked": int(g("GLOBAL_TTT_RESPECT_DOC_BOUNDARIES", "1"))}


def token_bytes(prev, tgt):
    """The golden's byte rule (tests build the same table): base 1 + t % 3, a leading space
    on every fifth id unless the previous token is BOS (1) or 0."""
    return 1 + tgt % 3 + (tgt % 5 == 0 and prev not in (0, 1))


def main():
    ckpt, out = sys.argv[1:3]
    cfg, w0, meta = read_checkpoint(ckpt)
    payload = b"".join(w0[n].numpy().astype("<f4").tobytes() for n in w0)
    gen = torch.Generator().manual_seed(12)
    V, bos = cfg["vocab_size"], cfg.get("bos_id", 1)
    stream = [5, 9, 40]  # tokens before the first BOS are not scored
    for n in DOC_LENGTHS:
        stream += [bos] + torch.randint(2, V, (n,), generator=gen).tolist()
    while (len(stream) - 1) % SEQ_LEN:
        stream.append(int(torch.randint(2, V, (1,), generator=gen)))
    record = {"generator": "tests/golden/make_records_ttt.py (torch %s)" % torch.__version__,
              "config": cfg, "seed": meta["seed"], "init": meta["init"],
              "params_sha256": hashlib.sha256(payload).hexdigest(), "seq_len": SEQ_LEN,
              "stream": stream, "cases": {}}
    for name, extra in CASES.items():
        s = dict(COMMON, **extra)
        w = {n: t.clone() for n, t in w0.items()}
        per_token, order, loss, bpb = evaluate(w, cfg, settings(s), stream, token_bytes, SEQ_LEN)
        record["cases"][name] = {"settings": s, "per_token": per_token, "order": order,
                                 "val_loss": loss, "val_bpb": bpb}
        print(f"{name}: val_loss {loss:.8f} val_bpb {bpb:.8f}")
    with open(out, "w") as f:
        json.dump(record, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
