"""Legal score-first TTT parity trace from the PyTorch reference: per-chunk loss sums of
the sample's val stream before TTT and with TTT (SGD momentum, cosine lr over chunks,
grad-norm clip, first blocks frozen), from a checkpoint written by `pgolf init`.

usage: make_ttt_trace.py CKPT VAL_SHARD OUT.json KEY=VALUE...
keys: TOKENS SEQ_LEN STRIDE CHUNK EPOCHS LR MOMENTUM BATCH CLIP FREEZE
"""
import hashlib
import json
import math
import sys

import torch

from reference_model import forward, read_checkpoint, read_shard


def windows(total, L, stride):
    """pgolf's sliding windows: (start, len, score_from), each target scored once."""
    out, ws = [], 0
    while ws < total:
        ln = min(L, total - ws)
        frm = 0 if ws == 0 else L - stride
        if frm >= ln:
            break
        out.append((ws, ln, frm))
        ws += stride
    return out


def score(w, cfg, stream, wins):
    """Per-target losses of the windows, in float64."""
    res = {}
    with torch.no_grad():
        for ws, ln, frm in wins:
            x = torch.tensor([stream[ws:ws + ln]], dtype=torch.int64)
            y = torch.tensor([stream[ws + 1:ws + ln + 1]], dtype=torch.int64)
            _, l = forward(w, cfg, x, y)
            for j in range(frm, ln):
                res[ws + j] = float(l[0, j])
    return res


def main():
    ckpt, shard, out = sys.argv[1:4]
    s = {k: float(v) for k, v in (kv.split("=", 1) for kv in sys.argv[4:])}
    L, stride, chunk = int(s["SEQ_LEN"]), int(s["STRIDE"]), int(s["CHUNK"])
    cfg, w0, meta = read_checkpoint(ckpt)
    payload = b"".join(w0[n].numpy().astype("<f4").tobytes() for n in w0)
    stream = read_shard(shard)[: int(s["TOKENS"])]
    total = ((len(stream) - 1) // L) * L
    wins = windows(total, L, stride)
    nchunks = (total + chunk - 1) // chunk
    by_chunk = [[x for x in wins if (x[0] + x[2]) // chunk == ci] for ci in range(nchunks)]
    pre = score(w0, cfg, stream, wins)
    w = {n: t.clone().requires_grad_(True) for n, t in w0.items()}
    frozen = {n for n in w if n.startswith("blocks.") and int(n.split(".")[1]) < int(s["FREEZE"])}
    train = [w[n] for n in w if n not in frozen]
    opt = torch.optim.SGD(train, lr=s["LR"], momentum=s["MOMENTUM"])
    post = {}
    for ci in range(nchunks):
        post.update(score(w, cfg, stream, by_chunk[ci]))
        if ci == nchunks - 1:
            continue
        cs, ce = ci * chunk, min((ci + 1) * chunk, total)
        nseq, B = (ce - cs) // L, int(s["BATCH"])
        for g in opt.param_groups:
            g["lr"] = s["LR"] * 0.5 * (1 + math.cos(math.pi * ci / max(nchunks - 1, 1)))
        for _ in range(int(s["EPOCHS"])):
            for bs in range(0, nseq, B):
                be = min(bs + B, nseq)
                a, b = cs + bs * L, cs + be * L + 1
                if b > len(stream):
                    continue
                seg = torch.tensor(stream[a:b], dtype=torch.int64)
                x, y = seg[:-1].reshape(-1, L), seg[1:].reshape(-1, L)
                opt.zero_grad()
                _, l = forward(w, cfg, x, y)
                l.mean().backward()
                torch.nn.utils.clip_grad_norm_(train, s["CLIP"])
                opt.step()
    sums = lambda d: [sum(v for k, v in d.items() if k // chunk == ci) for ci in range(nchunks)]
    with open(out, "w") as f:
        json.dump({"generator": "tests/golden/make_ttt_trace.py (torch %s)" % torch.__version__,
                   "settings": s, "init_seed": meta["seed"], "init": meta["init"],
                   "params_sha256": hashlib.sha256(payload).hexdigest(),
                   "pre_chunk_loss": sums(pre), "post_chunk_loss": sums(post)}, f, indent=1)
        f.write("\n")
    print(f"{out}: {nchunks} chunks, pre {sum(pre.values()) / total:.5f} post {sum(post.values()) / total:.5f}")


if __name__ == "__main__":
    main()
