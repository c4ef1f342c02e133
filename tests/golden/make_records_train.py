"""Golden values of the records' training recipe (tests/golden/records_optim.py), per piece
and as a short training trace.

usage: make_records_train.py INIT_CKPT TRAIN_SHARD OUT_PREFIX KEY=VALUE...

Pieces (OUT_PREFIX.json): one MuonEq-R / Polar Express step with weight decay on a tall and
a wide matrix, one AdamW step, one EMA update, the lr multiplier and the loop switch per
step. Trace: the records' model (records_model.py) trained ITERATIONS steps from
INIT_CKPT with the recipe on the train stream, fed as pgolf's loader feeds it (8
micro-steps of TRAIN_BATCH_TOKENS / 8 tokens, each taking one more for the targets);
rank 0's loss per step in the JSON, and OUT_PREFIX.f32 holding the final weights then
their EMA (little-endian float32, the checkpoint's tensor order).
"""
import hashlib
import json
import sys

import torch

import records_optim as ro
from records_model import forward
from reference_model import read_checkpoint, read_shard


def rand(gen, *shape):
    return torch.randn(*shape, generator=gen, dtype=torch.float32)


def flat(t):
    return [float(x) for x in t.reshape(-1).tolist()]


def pieces(s):
    gen = torch.Generator().manual_seed(5)
    out = {"muon": [], "adamw": None, "ema": None, "schedule": []}
    for rows, cols in ((10, 6), (6, 10)):
        p, g, buf = rand(gen, rows, cols), rand(gen, rows, cols), rand(gen, rows, cols)
        case = {"rows": rows, "cols": cols, "p": flat(p), "g": flat(g), "buf": flat(buf),
                "lr": 0.026, "momentum": 0.97, "wd": 0.095}
        ro.muon_step(p, g, buf, case["lr"], case["momentum"], case["wd"])
        case.update({"p_out": flat(p), "buf_out": flat(buf)})
        out["muon"].append(case)
    p = rand(gen, 40).requires_grad_(True)
    case = {"p": flat(p.detach()), "lr": 0.03, "wd": 0.085, "betas": [0.9, 0.95], "eps": 1e-8,
            "steps": []}
    o = torch.optim.AdamW([p], lr=case["lr"], betas=(0.9, 0.95), eps=1e-8, weight_decay=case["wd"])
    for _ in range(3):
        g = rand(gen, 40)
        p.grad = g.clone()
        o.step()
        case["steps"].append({"g": flat(g), "p_out": flat(p.detach())})
    out["adamw"] = case
    ema, w = rand(gen, 40), rand(gen, 40)
    out["ema"] = {"ema": flat(ema), "p": flat(w), "decay": 0.9965}
    ro.ema_update(ema, w, 0.9965)
    out["ema"]["ema_out"] = flat(ema)
    iters = int(s["ITERATIONS"])
    for step in range(iters + 1):
        frac = ro.train_frac(step, iters)
        out["schedule"].append({"step": step,
                                "lr_mul": ro.lr_mul(frac, s["WARMDOWN_FRAC"], s["MIN_LR"]),
                                "loops": frac >= s["ENABLE_LOOPING_AT"]})
    return out


def trace(ckpt, shard, s):
    cfg, w, meta = read_checkpoint(ckpt)
    payload = b"".join(w[n].numpy().astype("<f4").tobytes() for n in w)
    params = {n: t.clone().requires_grad_(True) for n, t in w.items()}
    recipe = ro.Recipe(params, s)
    unlooped = dict(cfg, num_loops=0)
    iters, seq = int(s["ITERATIONS"]), int(s["TRAIN_SEQ_LEN"])
    accum = 8
    local = int(s["TRAIN_BATCH_TOKENS"]) // accum
    stream, pos = read_shard(shard), 0
    losses, loops_at = [], None
    for step in range(iters):
        frac = ro.train_frac(step, iters)
        looping = frac >= s["ENABLE_LOOPING_AT"]
        if looping and loops_at is None:
            loops_at = step
        for t in params.values():
            t.grad = None
        train_loss = 0.0
        for _ in range(accum):
            chunk = stream[pos:pos + local + 1]
            pos += local + 1
            x = torch.tensor(chunk[:-1], dtype=torch.int64).reshape(-1, seq)
            y = torch.tensor(chunk[1:], dtype=torch.int64).reshape(-1, seq)
            _, l = forward(params, cfg if looping else unlooped, x, y)
            loss = l.mean()
            train_loss += loss.item() / accum
            (loss / accum).backward()
        losses.append(train_loss)
        recipe.step(step, ro.lr_mul(frac, s["WARMDOWN_FRAC"], s["MIN_LR"]))
    weights = b"".join(params[n].detach().numpy().astype("<f4").tobytes() for n in params)
    ema = b"".join(recipe.ema[n].numpy().astype("<f4").tobytes() for n in params)
    return {"config": cfg, "init_seed": meta["seed"], "init": meta["init"],
            "params_sha256": hashlib.sha256(payload).hexdigest(), "losses": losses,
            "loops_enabled_at": loops_at}, weights + ema


def main():
    ckpt, shard, prefix = sys.argv[1:4]
    raw = dict(kv.split("=", 1) for kv in sys.argv[4:])
    s = {k: (v if k == "MUON_NS_COEFFS" else float(v)) for k, v in raw.items()}
    record = {"generator": "tests/golden/make_records_train.py (torch %s)" % torch.__version__,
              "settings": raw}
    record["pieces"] = pieces(s)
    record["trace"], blob = trace(ckpt, shard, s)
    with open(prefix + ".json", "w") as f:
        json.dump(record, f, indent=1)
        f.write("\n")
    with open(prefix + ".f32", "wb") as f:
        f.write(blob)
    l = record["trace"]["losses"]
    print(f"{prefix}: {len(l)} steps, loss {l[0]:.5f} -> {l[-1]:.5f}, "
          f"loops from step {record['trace']['loops_enabled_at']}")


if __name__ == "__main__":
    main()
