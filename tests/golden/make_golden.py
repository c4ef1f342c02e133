"""Writes the golden forward-pass files under tests/golden from the PyTorch reference.

Run through tests/golden/make_golden.sh (it builds pgolf and makes the checkpoints).
Inputs: a checkpoint written by `pgolf init` and the shipped sample val shard.
Outputs per case: <case>.json (config, seed, params SHA-256, ids, targets, losses)
and, where asked, <case>_logits.f32 (little-endian float32 [T][V] of sequence 0).
"""
import hashlib
import json
import struct
import sys

import torch

from reference_model import forward, read_checkpoint, read_shard


def main():
    ckpt, shard, out_prefix, batch, seq, with_logits = sys.argv[1:7]
    batch, seq, with_logits = int(batch), int(seq), with_logits == "1"
    cfg, w, meta = read_checkpoint(ckpt)
    payload = b"".join(w[name].numpy().astype("<f4").tobytes() for name in w)
    tokens = read_shard(shard)[: batch * seq + 1]
    ids = torch.tensor([tokens[b * seq:(b + 1) * seq] for b in range(batch)], dtype=torch.int64)
    tgt = torch.tensor([tokens[b * seq + 1:(b + 1) * seq + 1] for b in range(batch)], dtype=torch.int64)
    with torch.no_grad():
        logits, losses = forward(w, cfg, ids, tgt)
    record = {
        "generator": "tests/golden/make_golden.py (torch %s)" % torch.__version__,
        "config": cfg,
        "seed": meta["seed"],
        "init": meta["init"],
        "params_sha256": hashlib.sha256(payload).hexdigest(),
        "batch": batch,
        "seq": seq,
        "ids": ids.reshape(-1).tolist(),
        "targets": tgt.reshape(-1).tolist(),
        "losses": [float(x) for x in losses.reshape(-1).tolist()],
    }
    with open(out_prefix + ".json", "w") as f:
        json.dump(record, f, indent=1)
        f.write("\n")
    if with_logits:
        with open(out_prefix + "_logits.f32", "wb") as f:
            f.write(logits[0].contiguous().numpy().astype("<f4").tobytes())
    print(f"{out_prefix}: mean loss {losses.mean().item():.6f} over {losses.numel()} tokens")


if __name__ == "__main__":
    main()
