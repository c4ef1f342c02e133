"""Writes golden files of the records' model family (tests/golden/records_model.py).

Run through tests/golden/make_golden.sh: make_records_golden.py CKPT OUT BATCH SEQ SEED
[IDS_BELOW [bf16]]. Input: a checkpoint written by `pgolf init` with the family's settings.
With bf16: the reference's bf16 variant (weights and each op's output rounded to
bfloat16, records_model.set_bf16), <case>.f32 holding the logits only. Outputs <case>.json (config, seed, params SHA-256, ids,
targets, losses) and <case>.f32: little-endian float32 logits [T][V] of sequence 0, then
the gradient of the mean loss for every tensor in the checkpoint's order.
"""
import hashlib
import json
import sys

import torch

from records_model import forward, set_bf16
from reference_model import read_checkpoint


def main():
    ckpt, out_prefix, batch, seq, seed = sys.argv[1:6]
    batch, seq = int(batch), int(seq)
    cfg, w, meta = read_checkpoint(ckpt)
    payload = b"".join(w[name].numpy().astype("<f4").tobytes() for name in w)
    gen = torch.Generator().manual_seed(int(seed))
    # an optional sixth argument draws the ids from that many values (BOS often)
    V = int(sys.argv[6]) if len(sys.argv) > 6 and int(sys.argv[6]) > 0 else cfg["vocab_size"]
    bf16 = len(sys.argv) > 7 and sys.argv[7] == "bf16"
    toks = torch.randint(0, V, (batch, seq + 1), generator=gen, dtype=torch.int64)
    ids, tgt = toks[:, :-1].contiguous(), toks[:, 1:].contiguous()
    if bf16:
        set_bf16(True)
        w = {n: t.to(torch.bfloat16).float() for n, t in w.items()}
    for t in w.values():
        t.requires_grad_(not bf16)
    logits, losses = forward(w, cfg, ids, tgt)
    if not bf16:
        losses.mean().backward()
    record = {
        "generator": "tests/golden/make_records_golden.py (torch %s)" % torch.__version__,
        "config": cfg,
        "seed": meta["seed"],
        "init": meta["init"],
        "precision": "bf16" if bf16 else "fp32",
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
    with open(out_prefix + ".f32", "wb") as f:
        f.write(logits[0].detach().contiguous().numpy().astype("<f4").tobytes())
        for name in w if not bf16 else ():
            f.write(w[name].grad.contiguous().numpy().astype("<f4").tobytes())
    print(f"{out_prefix}: mean loss {losses.mean().item():.6f} over {losses.numel()} tokens")


if __name__ == "__main__":
    main()
