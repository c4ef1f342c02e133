"""Training parity trace: the PyTorch reference (tests/golden/reference_model.py) trained
with the reference's full optimizer setup for 20 steps on the sample's train stream,
from a checkpoint written by `pgolf init`. Writes tests/golden/train_trace.json with the
settings, the init checkpoint's parameter SHA-256 and rank 0's train_loss per step.

usage: make_train_trace.py INIT_CKPT TRAIN_SHARD OUT.json KEY=VALUE...
"""
import hashlib
import json
import math
import sys

import torch

from reference_model import forward, read_checkpoint, read_shard


def newton_schulz5(g, steps, eps=1e-7):
    a, b, c = 3.4445, -4.7750, 2.0315
    x = g / (g.norm() + eps)
    transposed = g.size(0) > g.size(1)
    if transposed:
        x = x.T
    for _ in range(steps):
        A = x @ x.T
        B = b * A + c * A @ A
        x = a * x + B @ x
    return x.T if transposed else x


def main():
    ckpt, shard, out = sys.argv[1:4]
    s = dict(kv.split("=", 1) for kv in sys.argv[4:])
    iters, warmdown = int(s["ITERATIONS"]), int(s["WARMDOWN_ITERS"])
    batch, seq = int(s["TRAIN_BATCH_TOKENS"]), int(s["TRAIN_SEQ_LEN"])
    accum = 8  # grad_accum_steps = 8 / world_size, world_size 1
    local = batch // accum
    cfg, w, meta = read_checkpoint(ckpt)
    payload = b"".join(w[n].numpy().astype("<f4").tobytes() for n in w)
    params = {n: t.clone().requires_grad_(True) for n, t in w.items()}
    matrix = [n for n in params if n.startswith("blocks.") and n.endswith(".weight")]
    scalar = [n for n in params if n not in matrix and n != "tok_emb.weight"]
    opt_tok = torch.optim.Adam([params["tok_emb.weight"]], lr=float(s["TIED_EMBED_LR"]),
                               betas=(0.9, 0.95), eps=1e-8)
    opt_scalar = torch.optim.Adam([params[n] for n in scalar], lr=float(s["SCALAR_LR"]),
                                  betas=(0.9, 0.95), eps=1e-8)
    bufs = {n: torch.zeros_like(params[n]) for n in matrix}
    stream, pos = read_shard(shard), 0
    losses = []
    for step in range(iters):
        for p in params.values():
            p.grad = None
        train_loss = 0.0
        for _ in range(accum):
            # the reference takes (local + 1) * world_size tokens per micro-step
            chunk = stream[pos:pos + local + 1]
            pos += local + 1
            x = torch.tensor(chunk[:-1], dtype=torch.int64).reshape(-1, seq)
            y = torch.tensor(chunk[1:], dtype=torch.int64).reshape(-1, seq)
            _, l = forward(params, cfg, x, y)
            loss = l.mean()
            train_loss += loss.item() / accum
            (loss / accum).backward()
        losses.append(train_loss)
        scale = max((iters - step) / warmdown, 0.0) if step >= iters - warmdown else 1.0
        frac = min(step / int(s["MUON_MOMENTUM_WARMUP_STEPS"]), 1.0)
        momentum = (1 - frac) * float(s["MUON_MOMENTUM_WARMUP_START"]) + frac * float(s["MUON_MOMENTUM"])
        torch.nn.utils.clip_grad_norm_(list(params.values()), float(s["GRAD_CLIP_NORM"]))
        for o, base in ((opt_tok, float(s["TIED_EMBED_LR"])), (opt_scalar, float(s["SCALAR_LR"]))):
            for g in o.param_groups:
                g["lr"] = base * scale
        opt_tok.step()
        opt_scalar.step()
        with torch.no_grad():
            for n in matrix:
                p, g = params[n], params[n].grad
                bufs[n].mul_(momentum).add_(g)
                u = newton_schulz5(g.add(bufs[n], alpha=momentum), int(s["MUON_BACKEND_STEPS"]))
                u *= max(1, p.size(0) / p.size(1)) ** 0.5
                p.add_(u, alpha=-float(s["MATRIX_LR"]) * scale)
    with open(out, "w") as f:
        json.dump({"generator": "tests/golden/make_train_trace.py (torch %s)" % torch.__version__,
                   "settings": s, "init_seed": meta["seed"], "init": meta["init"],
                   "params_sha256": hashlib.sha256(payload).hexdigest(), "losses": losses}, f, indent=1)
        f.write("\n")
    print(f"{out}: {len(losses)} steps, loss {losses[0]:.5f} -> {losses[-1]:.5f}")


if __name__ == "__main__":
    main()
