"""Independent PyTorch reference of the records' test-time training (DESIGN.md section 11)
in pgolf's canonical schedule (kernels/ttt.h): per-document LoRA TTT over chunks, scored
before each AdamW step, and global SGD phases on already-scored documents.

Written for Debian's python3-torch 1.13 (CPU, float32) from a reading of the records'
eval_val_ttt_phased and its helpers (openai/parameter-golf, records/track_10min_16mb/
2026-04-*); no code of theirs is used. Like the records, it runs a batch's documents
together (adapters batched [B, r, in], windows padded at their end), where pgolf runs
each document alone: agreement shows the two are the same computation.
"""
import math

import torch

from records_model import doc_spans, forward, layer_list

MASK64 = (1 << 64) - 1


class SplitMix64:
    """pgolf's generator (kernels/rng.c): splitmix64, uniforms from the top 53 bits."""

    def __init__(self, seed):
        self.state = seed & MASK64

    def u64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def uniform(self):
        return (self.u64() >> 11) * 2.0 ** -53


def a_seed(seed, kind, a, b, c):
    k = seed & MASK64
    for mul, add in ((31, kind), (1000003, a), (1000003, b), (1000003, c)):
        k = (k * mul + add) & MASK64
    return k


def draw_a(cfg, S, seed):
    """One document slot's A matrices, drawn as pgolf draws them: per step q and v
    interleaved, then k, o, mlp in full; the head's last; U(-1/sqrt(D), 1/sqrt(D))."""
    D, r = cfg["model_dim"], S["rank"]
    bound = 1.0 / math.sqrt(D)
    rng = SplitMix64(seed)
    draw = lambda: [bound * (2.0 * rng.uniform() - 1.0) for _ in range(r * D)]
    out = {}
    for step in range(len(layer_list(cfg))):
        qv = [bound * (2.0 * rng.uniform() - 1.0) for _ in range(2 * r * D)]
        out[("q", step)] = qv[0::2]
        out[("v", step)] = qv[1::2]
        for n in ("k", "o", "mlp"):
            if S[n]:
                out[(n, step)] = draw()
    out[("head", None)] = draw()
    return {key: torch.tensor(v, dtype=torch.float32).reshape(r, D) for key, v in out.items()}


def out_width(cfg, name):
    hd = cfg["model_dim"] // cfg["num_heads"]
    return {"k": cfg["num_kv_heads"] * hd, "v": cfg["num_kv_heads"] * hd,
            "head": cfg["vocab_size"]}.get(name, cfg["model_dim"])


def find_docs(stream, bos):
    """(start, length) from each BOS to the next BOS inclusive, or to the stream's end."""
    pos = [i for i, t in enumerate(stream) if t == bos]
    docs = []
    for j, s in enumerate(pos):
        e = pos[j + 1] + 1 if j + 1 < len(pos) else len(stream)
        if e - s >= 2:
            docs.append((s, e - s))
    return docs


def chunk_window(ci, pred_len, nchunks, C, L):
    end = pred_len if ci == nchunks - 1 else (ci + 1) * C
    start = max(0, end - L)
    return start, end - start, ci * C - start, end - ci * C


def phase_lr(S, ci, nchunks):
    wc = max(0, min(S["g_warmup_chunks"], nchunks - 1))
    if wc > 0 and ci < wc:
        return S["g_warmup_start_lr"] + (S["g_lr"] - S["g_warmup_start_lr"]) * ci / max(wc - 1, 1)
    return S["g_lr"] * 0.5 * (1.0 + math.cos(math.pi * max(ci - wc, 0) / max(nchunks - 1 - wc, 1)))


def global_phase(w, cfg, S, tokens, seq_len):
    """SGD of every weight on the concatenated documents, the gradient averaged over the
    emulated ranks' shares of each chunk's sequences; the last chunk is not trained."""
    params = list(w.values())
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.SGD(params, lr=S["g_lr"], momentum=S["g_momentum"])
    total, G, W, BS, L = len(tokens) - 1, S["g_chunk"], S["ranks"], S["g_batch_seqs"], seq_len
    nchunks = (total + G - 1) // G
    bos = cfg.get("bos_id", 1)
    for ci in range(nchunks - 1):
        cs, ce = ci * G, min((ci + 1) * G, total)
        seqs = (ce - cs) // L
        if seqs <= 0:
            continue
        for group in opt.param_groups:
            group["lr"] = phase_lr(S, ci, nchunks)
        shares = [(seqs * r // W, seqs * (r + 1) // W) for r in range(W)]
        longest = max(e - s for s, e in shares)
        for _ in range(S["g_epochs"]):
            for bs in range(0, longest, BS):
                opt.zero_grad()
                for s, e in shares:
                    if bs >= e - s:
                        continue
                    st, en = cs + (s + bs) * L, cs + (s + min(bs + BS, e - s)) * L + 1
                    if en > len(tokens):
                        continue
                    x = torch.tensor(tokens[st:en - 1], dtype=torch.int64)
                    y = torch.tensor(tokens[st + 1:en], dtype=torch.int64)
                    if S["g_doc_masked"]:
                        span = torch.tensor([doc_spans(x.tolist(), bos, L)], dtype=torch.int64)
                        loss = forward(w, cfg, x[None], y[None], span)[1].mean()
                    else:
                        loss = forward(w, cfg, x.reshape(-1, L), y.reshape(-1, L))[1].mean()
                    (loss / W).backward()
                if S["g_clip"] > 0:
                    torch.nn.utils.clip_grad_norm_(params, S["g_clip"])
                opt.step()
    for p in params:
        p.requires_grad_(False)


def evaluate(w, cfg, S, stream, token_bytes, seq_len):
    """The phased evaluation of `stream` (already truncated): per-target losses (0 where
    not scored), each target's place in the schedule (-1 where not scored), val_loss and
    val_bpb. token_bytes(prev, target) counts a target's bytes."""
    for p in w.values():
        p.requires_grad_(False)
    bos = cfg.get("bos_id", 1)
    total = len(stream) - 1
    C, L, BS, W = S["chunk"], S["eval_seq_len"], S["batch"], S["ranks"]
    docs = find_docs(stream, bos)
    by_len = sorted(range(len(docs)), key=lambda i: docs[i][1])
    batches = [by_len[i:i + BS] for i in range(0, len(by_len), BS)]
    queue = sorted(range(len(batches)), key=lambda b: -max(docs[d][1] for d in batches[b]))
    prefix = min(S["prefix_docs"], len(docs))
    phase, done, hit = 0, prefix == 0, False
    scored = []  # (batch in length order, slot, document)
    per_token, order = [0.0] * total, [-1] * total
    sums = {"loss": 0.0, "tokens": 0.0, "bytes": 0.0}
    warm = {}  # rank -> (phase, A of every slot)
    key = 0
    for q0 in range(0, len(queue), W):
        q1 = min(q0 + W, len(queue))
        for qi in range(q0, q1):
            b = batches[queue[qi]]
            rank, full = qi % W, len(b) == BS
            if S["warm"] and full:
                if rank not in warm or warm[rank][0] != phase:
                    warm[rank] = (phase, [draw_a(cfg, S, a_seed(S["seed"], 1, phase, rank, s))
                                          for s in range(BS)])
                slots_a = warm[rank][1]
            else:
                slots_a = [draw_a(cfg, S, a_seed(S["seed"], 2, qi, s, 0)) for s in range(len(b))]
            ad, params = {}, []
            for k_ in slots_a[0]:
                A = torch.stack([a[k_] for a in slots_a]).clone().requires_grad_(True)
                Bm = torch.zeros(len(b), out_width(cfg, k_[0]), S["rank"], requires_grad=True)
                ad[k_] = (A, Bm)
                params += [A, Bm]
            lo = {"ad": ad, "scale": S["alpha"] / S["rank"]}
            opt = torch.optim.AdamW(params, lr=S["lr"], betas=(S["beta1"], S["beta2"]), eps=1e-10,
                                    weight_decay=S["wd"])
            preds = [docs[d][1] - 1 for d in b]
            ncs = [(p + C - 1) // C for p in preds]
            maxc = max(ncs)
            for ci in range(maxc):
                ctx = min((ci + 1) * C, L)
                x = torch.zeros(len(b), ctx, dtype=torch.int64)
                y = torch.zeros(len(b), ctx, dtype=torch.int64)
                wins = []
                for j, d in enumerate(b):
                    if ci >= ncs[j]:
                        wins.append(None)
                        continue
                    ws, wl, off, cl = chunk_window(ci, preds[j], ncs[j], C, L)
                    s0 = docs[d][0] + ws
                    x[j, :wl] = torch.tensor(stream[s0:s0 + wl])
                    y[j, :wl] = torch.tensor(stream[s0 + 1:s0 + wl + 1])
                    wins.append((s0, off, cl))
                losses = forward(w, cfg, x, y, lo=lo)[1]
                for j, win in enumerate(wins):
                    if win is None:
                        continue
                    s0, off, cl = win
                    for t in range(off, off + cl):
                        p = s0 + t
                        l = float(losses[j, t])
                        per_token[p], order[p] = l, key + ci
                        sums["loss"] += l
                        sums["tokens"] += 1
                        sums["bytes"] += token_bytes(stream[p], stream[p + 1])
                if ci < maxc - 1:
                    mask = torch.tensor([float(ci < nc - 1) for nc in ncs])
                    off = ctx - C  # a trained chunk ends its window
                    for gi in range(S["grad_steps"]):
                        if gi > 0:
                            losses = forward(w, cfg, x, y, lo=lo)[1]
                        opt.zero_grad()
                        ((losses[:, off:off + C].mean(dim=-1)) * mask).sum().backward()
                        opt.step()
            if S["warm"] and full:
                warm[rank] = (phase, [{k_: ad[k_][0][s].detach().clone() for k_ in ad}
                                      for s in range(BS)])
            key += maxc
            if not done:
                scored += [(queue[qi], s, d) for s, d in enumerate(b)]
                hit = hit or len(scored) >= prefix * (phase + 1) // S["phases"]
        if hit and not done and q1 < len(queue):
            boundary = prefix * (phase + 1) // S["phases"]
            chosen = sorted(scored)[:boundary]
            tokens = []
            for _, _, d in chosen:
                s0, n = docs[d]
                tokens += stream[s0:s0 + n]
            global_phase(w, cfg, S, tokens, seq_len)
            phase += 1
            done, hit = phase >= S["phases"], False
    val_loss = sums["loss"] / sums["tokens"]
    val_bpb = val_loss / math.log(2.0) * sums["tokens"] / sums["bytes"]
    return per_token, order, val_loss, val_bpb
