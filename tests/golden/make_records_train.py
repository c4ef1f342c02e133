"""Golden values of the records' training recipe (tests/golden/records_optim.py), per piece
and as a short training trace.

usage: make_records_train.py INIT_CKPT TRAIN_SHARD OUT_PREFIX PACKING_DIR KEY=VALUE...

Pieces (OUT_PREFIX.json): one MuonEq-R / Polar Express step with weight decay on a tall and
a wide matrix, AdamW steps, one EMA update, the lr multiplier and the loop switch per
step, and the document-packing loader's rows and attention pieces over three small shards
it writes to PACKING_DIR (a shard without a BOS, micro-steps that move to the next shard,
the wrap to the first), and GPTQ's Hessians of INIT_CKPT over two calibration batches
(OUT_PREFIX_hessians.f32) and the records' export on them (OUT_PREFIX_export.f32). Trace: the records' model (records_model.py) trained ITERATIONS
steps from INIT_CKPT with the recipe on TRAIN_SHARD through the document-packing loader
(8 micro-steps of one row of TRAIN_BATCH_TOKENS / 8 tokens, attention cut at each BOS and
every TRAIN_SEQ_LEN tokens); rank 0's loss per step in the JSON, and OUT_PREFIX.f32
holding the final weights then their EMA (little-endian float32, the checkpoint's tensor
order).
"""
import hashlib
import json
import os
import struct
import sys

import torch

import records_gptq
import records_model
import records_optim as ro
from records_loader import DocumentPacking, piece_bounds, spans
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


def write_shard(path, toks):
    header = struct.pack("<3i", 20240520, 1, len(toks)) + bytes(4 * 253)
    with open(path, "wb") as f:
        f.write(header + struct.pack(f"<{len(toks)}H", *toks))


def loader_piece(folder):
    """Three shards of 64 ids (BOS 1): 150 tokens, 90 without a BOS, 200; 2 ranks of 23
    tokens (48 per micro-step), pieces of at most 8."""
    gen = torch.Generator().manual_seed(11)
    shards = []
    for n, with_bos in ((150, True), (90, False), (200, True)):
        toks = torch.randint(2, 64, (n,), generator=gen).tolist()
        if with_bos:
            toks[3] = 1
            for i in range(4, n):
                if torch.rand(1, generator=gen).item() < 0.07:
                    toks[i] = 1
        shards.append(toks)
    os.makedirs(folder, exist_ok=True)
    for i, toks in enumerate(shards):
        write_shard(os.path.join(folder, "fineweb_train_%06d.bin" % i), toks)
    loader, steps = DocumentPacking(shards, 1), []
    local, world, max_len = 23, 2, 8
    for _ in range(14):
        rows = loader.micro_step(local, world)
        steps.append({"shard": loader.index, "rows": [
            {"inputs": x, "targets": y, "bounds": piece_bounds(x, 1, max_len)} for x, y in rows]})
    return {"vocab": 64, "bos": 1, "local": local, "world": world, "max_len": max_len,
            "steps": steps}


def hessians_piece(ckpt, shard, s, path):
    """GPTQ's Hessians of INIT_CKPT over 2 calibration batches taken from the start of
    TRAIN_SHARD (each TRAIN_BATCH_TOKENS / 8 + 1 tokens, the inputs in rows of
    TRAIN_SEQ_LEN, plain causal), divided by the batches; written to `path` in the order
    of "names" (float32)."""
    cfg, w, _ = read_checkpoint(ckpt)
    seq, local, batches = int(s["TRAIN_SEQ_LEN"]), int(s["TRAIN_BATCH_TOKENS"]) // 8, 2
    stream, pos = read_shard(shard), 0
    records_model.HESSIANS = {}
    with torch.no_grad():
        for _ in range(batches):
            chunk = stream[pos:pos + local + 1]
            pos += local + 1
            forward(w, cfg, torch.tensor(chunk[:-1], dtype=torch.int64).reshape(-1, seq),
                    torch.tensor(chunk[1:], dtype=torch.int64).reshape(-1, seq))
    H, records_model.HESSIANS = records_model.HESSIANS, None
    names = [f"blocks.{l}.{n}.weight" for l in range(cfg["num_layers"])
             for n in ("attn.c_q", "attn.c_k", "attn.c_v", "attn.proj", "mlp.fc", "mlp.proj")]
    names.append("tok_emb.weight")
    with open(path, "wb") as f:
        for n in names:
            f.write((H[n] / batches).numpy().astype("<f4").tobytes())
    return {"batches": batches, "names": names}


EXPORT = {"MATRIX_BITS": 6, "EMBED_BITS": 8, "MATRIX_CLIP_SIGMAS": 12.85, "EMBED_CLIP_SIGMAS": 20.0,
          "MLP_CLIP_SIGMAS": 10.0, "ATTN_CLIP_SIGMAS": 13.0, "LQER_RANK": 4, "LQER_TOP_K": 3,
          "LQER_FACTOR_BITS": 4, "LQER_ASYM_GROUP": 64, "KEEP_FLOAT_MAX_NUMEL": 1000}


def export_piece(ckpt, hess_path, names, path):
    """The records' export of INIT_CKPT on the Hessians of hessians_piece (the records'
    code defaults, tensors of more than 1000 values quantized): the weights as their eval
    model loads them, in the checkpoint's order (`path`, float32), and each one's kind."""
    _, w, _ = read_checkpoint(ckpt)
    blob = open(hess_path, "rb").read()
    H, at = {}, 0
    for n in names:
        d = w[n].shape[1]
        H[n] = torch.frombuffer(bytearray(blob[at:at + 4 * d * d]), dtype=torch.float32).reshape(d, d)
        at += 4 * d * d
    out, kinds = records_gptq.mixed(w, H, EXPORT)
    with open(path, "wb") as f:
        for n in w:
            f.write(out[n].numpy().astype("<f4").tobytes())
    return {"settings": EXPORT, "kinds": kinds}


def trace(ckpt, shard, s):
    cfg, w, meta = read_checkpoint(ckpt)
    payload = b"".join(w[n].numpy().astype("<f4").tobytes() for n in w)
    params = {n: t.clone().requires_grad_(True) for n, t in w.items()}
    recipe = ro.Recipe(params, s)
    unlooped = dict(cfg, num_loops=0)
    iters, seq = int(s["ITERATIONS"]), int(s["TRAIN_SEQ_LEN"])
    accum = 8
    local = int(s["TRAIN_BATCH_TOKENS"]) // accum
    loader = DocumentPacking([read_shard(shard)], cfg.get("bos_id", 1))
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
            (xs, ys), = loader.micro_step(local, 1)
            x = torch.tensor([xs], dtype=torch.int64)
            y = torch.tensor([ys], dtype=torch.int64)
            span = torch.tensor([spans(xs, loader.bos, seq)], dtype=torch.int64)
            _, l = forward(params, cfg if looping else unlooped, x, y, span=span)
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
    ckpt, shard, prefix, packing = sys.argv[1:5]
    raw = dict(kv.split("=", 1) for kv in sys.argv[5:])
    s = {k: (v if k in ("MUON_NS_COEFFS", "TRAIN_LOADER") else float(v)) for k, v in raw.items()}
    record = {"generator": "tests/golden/make_records_train.py (torch %s)" % torch.__version__,
              "settings": raw}
    record["pieces"] = pieces(s)
    record["pieces"]["loader"] = loader_piece(packing)
    record["pieces"]["hessians"] = hessians_piece(ckpt, shard, s, prefix + "_hessians.f32")
    record["pieces"]["export"] = export_piece(ckpt, prefix + "_hessians.f32",
                                              record["pieces"]["hessians"]["names"],
                                              prefix + "_export.f32")
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
