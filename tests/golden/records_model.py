"""Independent PyTorch reference of the records' model family (DESIGN.md section 11).

Written for Debian's python3-torch 1.13 (CPU, float32) from a reading of the records'
train_gpt.py (openai/parameter-golf, records/track_10min_16mb/2026-04-*): no code of
theirs is used. It reads the weights of a pgolf checkpoint by name and the options from
its config (absent keys are the baseline's defaults), and computes the forward pass with
autograd, so gradients come from torch rather than from pgolf's backward.
"""
import math

import torch

from reference_model import rms_norm

# The bf16 variant (set_bf16): every op's output rounded to bfloat16 where the records'
# autocast leaves a bfloat16 tensor, the weights rounded by the caller; float32 otherwise.
BF16 = False


def set_bf16(on):
    global BF16
    BF16 = on


def rb(t):
    return t.to(torch.bfloat16).float() if BF16 else t


def opt(cfg, key, default=0):
    return cfg.get(key, default)


def layer_list(cfg):
    L, loops = cfg["num_layers"], opt(cfg, "num_loops")
    if loops <= 0:
        return list(range(L))
    a, b = opt(cfg, "loop_start"), opt(cfg, "loop_end")
    return list(range(a)) + list(range(a, b + 1)) * (loops + 1) + list(range(b + 1, L))


def partial_rope(x, base, rot):
    """x: [B, T, H, hd]; the leading rot dims rotate as pairs (i, i + rot/2)."""
    T = x.shape[1]
    inv_freq = 1.0 / (base ** (torch.arange(0, rot, 2, dtype=torch.float32) / rot))
    ang = torch.outer(torch.arange(T, dtype=torch.float32), inv_freq)
    cos, sin = rb(ang.cos())[None, :, None, :], rb(ang.sin())[None, :, None, :]
    half = rot // 2
    x1, x2, rest = x[..., :half], x[..., half:rot], x[..., rot:]
    return rb(torch.cat((x1 * cos + x2 * sin, -x1 * sin + x2 * cos, rest), dim=-1))


def output_gate(y, a, w, p, cfg):
    """y: [B, T, H, hd]; a: the block's normed attention input. The records' three gates."""
    win = opt(cfg, "gate_window", 12)
    if opt(cfg, "gated_attn_enabled"):
        g = torch.sigmoid(a @ w[p + "attn.attn_gate_w"].T)
    elif opt(cfg, "sparse_attn_gate_enabled"):
        scale = opt(cfg, "sparse_attn_gate_scale", 1.0)
        g = torch.sigmoid(scale * (a[..., :win] @ w[p + "attn.attn_gate_w"].T))
    elif opt(cfg, "attn_out_gate_enabled"):
        g = 2.0 * torch.sigmoid(a[..., :win] @ w[p + "attn.attn_gate_proj.weight"].T)
    else:
        return y
    return rb(y * g[..., None])


def smear(e, ids, w, cfg):
    """SmearGate on the raw embedding e [B, T, D]: each position past the first takes a
    gated share of the previous one, none onto BOS when the mask is on."""
    if not opt(cfg, "smear_gate_enabled"):
        return e
    win = opt(cfg, "gate_window", 12)
    g = w["smear_lambda"] * torch.sigmoid(e[:, 1:, :win] @ w["smear_gate.weight"].T)
    if opt(cfg, "smear_gate_bos_mask", 1):
        g = g * (ids[:, 1:] != opt(cfg, "bos_id", 1)).to(e.dtype).unsqueeze(-1)
    return rb(torch.cat([e[:, :1], e[:, 1:] + g * e[:, :-1]], dim=1))


def adapt(lo, name, slot, x):
    """The LoRA adapter `name` of virtual step `slot` on x (0 without one): the records'
    batched adapters, one per sequence of the batch (A [B, r, in], B [B, out, r])."""
    if lo is None or (name, slot) not in lo["ad"]:
        return 0
    A, B = lo["ad"][(name, slot)]
    return ((x @ A.transpose(1, 2)) @ B.transpose(1, 2)) * lo["scale"]


# GPTQ's calibration (the records' collect_hessians): when a dict, each quantized matrix's
# name maps to the sum of X^T X of the inputs it saw.
HESSIANS = None


def capture(name, x):
    if HESSIANS is not None:
        x = x.detach().reshape(-1, x.shape[-1]).float()
        HESSIANS[name] = HESSIANS.get(name, 0) + x.T @ x


def attention(a, w, p, cfg, xsa, span=None, lo=None, slot=None):
    B, T, D = a.shape
    H, KVH = cfg["num_heads"], cfg["num_kv_heads"]
    hd = D // H
    rot = opt(cfg, "rope_dims") or hd
    for n in ("c_q", "c_k", "c_v"):
        capture(p + f"attn.{n}.weight", a)
    q = rb(a @ w[p + "attn.c_q.weight"].T + adapt(lo, "q", slot, a)).reshape(B, T, H, hd)
    k = rb(a @ w[p + "attn.c_k.weight"].T + adapt(lo, "k", slot, a)).reshape(B, T, KVH, hd)
    v = rb(a @ w[p + "attn.c_v.weight"].T + adapt(lo, "v", slot, a)).reshape(B, T, KVH, hd)
    q = partial_rope(rb(rms_norm(q)), cfg["rope_base"], rot)
    k = partial_rope(rb(rms_norm(k)), cfg["rope_base"], rot)
    q = rb(q * w[p + "attn.q_gain"][None, None, :, None])
    g = H // KVH
    kk = k.repeat_interleave(g, dim=2).transpose(1, 2)
    vv = v.repeat_interleave(g, dim=2).transpose(1, 2)
    s = (q.transpose(1, 2) @ kk.transpose(-1, -2)) / math.sqrt(hd)
    allowed = torch.ones(T, T, dtype=torch.bool).tril()[None, None]
    if span is not None:  # documents packed in a row: key s >= the query's piece start
        allowed = allowed & (torch.arange(T)[None, None, None, :] >= span[:, None, :, None])
    s = s.masked_fill(~allowed, float("-inf"))
    y = rb((torch.softmax(s, dim=-1) @ vv).transpose(1, 2))  # [B, T, H, hd]
    if xsa:
        # each head loses its part along its KV head's unit value at the same position
        vn = v / v.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        vn = vn.repeat_interleave(g, dim=2)
        y = rb(y - (y * vn).sum(-1, keepdim=True) * vn)
    y = output_gate(y, a, w, p, cfg)
    capture(p + "attn.proj.weight", y.reshape(B, T, D))
    return rb(y.reshape(B, T, D) @ w[p + "attn.proj.weight"].T + adapt(lo, "o", slot, a))


def mlp(a, w, p, cfg, lo=None, slot=None):
    capture(p + "mlp.fc.weight", a)
    h = rb(a @ w[p + "mlp.fc.weight"].T)
    slope = 0.5 if cfg["mlp_act"] == "leaky_relu2" else 0.0
    h = rb(torch.where(h > 0, h, slope * h).square())
    capture(p + "mlp.proj.weight", h)
    return rb(h @ w[p + "mlp.proj.weight"].T + adapt(lo, "mlp", slot, a))


def norm_scaled(x, s):
    """The block's normed input times its LN scale, rounded at each step in bf16."""
    y = rb(rms_norm(x))
    return rb(y * s) if s != 1.0 else y


def ln_factor(cfg, i):
    return float(torch.tensor(1.0 / math.sqrt(i + 1), dtype=torch.float32)) if opt(cfg, "ln_scale") else 1.0


def uses_xsa(cfg, i):
    return i >= cfg["num_layers"] - opt(cfg, "xsa_last_n")


def seq_block(x, x0, w, i, cfg, span, lo=None, slot=None):
    p, s = f"blocks.{i}.", ln_factor(cfg, i)
    mix = w[p + "resid_mix"]
    u = rb(mix[0] * x + mix[1] * x0)
    h = rb(u + w[p + "attn_scale"] * attention(norm_scaled(u, s), w, p, cfg, uses_xsa(cfg, i), span,
                                               lo, slot))
    return rb(h + w[p + "mlp_scale"] * mlp(norm_scaled(h, s), w, p, cfg, lo, slot))


def par_block(l0, l1, x0, w, i, cfg, span, lo=None, slot=None):
    p, s = f"blocks.{i}.", ln_factor(cfg, i)
    mix = w[p + "resid_mix"]
    A = rb(w[p + "attn_scale"] * attention(norm_scaled(rb(mix[0] * l0 + mix[1] * x0), s), w, p,
                                           cfg, uses_xsa(cfg, i), span, lo, slot))
    M = rb(w[p + "mlp_scale"] * mlp(norm_scaled(l1, s), w, p, cfg, lo, slot))
    post = w["parallel_post_lambdas"].reshape(-1, 2, 2)[i]  # [branch][lane]
    resid = w["parallel_resid_lambdas"].reshape(-1, 2)[i]
    return (rb(resid[0] * l0 + post[0, 0] * A + post[1, 0] * M),
            rb(resid[1] * l1 + post[0, 1] * A + post[1, 1] * M))


def hidden(w, cfg, ids, span=None, lo=None):
    x = rb(rms_norm(smear(w["tok_emb.weight"][ids], ids, w, cfg)))
    x0 = x
    steps = layer_list(cfg)
    enc = len(steps) // 2
    nskip = min(enc, len(steps) - enc)
    skips = []
    for slot, i in enumerate(steps[:enc]):
        x = seq_block(x, x0, w, i, cfg, span, lo, slot)
        skips.append(x)
    ps = opt(cfg, "parallel_start_layer")
    lanes = None
    for j, i in enumerate(steps[enc:]):
        par = ps > 0 and i >= ps
        if par and lanes is None:
            lanes = [x, x]
        cur = lanes[0] if par else x
        if j < nskip:
            sk = w["skip_weights"][j] * skips.pop()
            if "skip_gates" in w:
                cur = rb(torch.lerp(sk, cur, torch.sigmoid(w["skip_gates"][j])))
            else:
                cur = rb(cur + sk)
        if par:
            lanes = list(par_block(cur, lanes[1], x0, w, i, cfg, span, lo, enc + j))
        else:
            x = seq_block(cur, x0, w, i, cfg, span, lo, enc + j)
    if lanes is not None:
        final = opt(cfg, "parallel_final_lane", "mean")
        x = {"mean": rb(0.5 * (lanes[0] + lanes[1])), "attn": lanes[0], "mlp": lanes[1]}[final]
    x = rb(rms_norm(x))
    capture("tok_emb.weight", x)
    return x


def doc_spans(ids, bos, max_len):
    """The records' document pieces of one packed row (their cu_seqlens): a piece begins
    at 0, at every BOS and every max_len tokens into a document; each position's start."""
    span, start = [], 0
    for t, tok in enumerate(ids):
        if t > 0 and tok == bos:
            start = t
        elif t - start >= max_len:
            start += max_len
        span.append(start)
    return span


def forward(w, cfg, ids, targets, span=None, lo=None):
    """ids, targets: int64 [B, T]; span (optional, int64 [B, T]) masks attention to each
    position's document piece; lo (optional) the LoRA adapters ({"ad": {(name, step):
    (A, B)}, "scale": s}, names q k v o mlp and ("head", None)). Returns (softcapped
    logits, per-token losses)."""
    cap = cfg["logit_softcap"]
    h = hidden(w, cfg, ids, span, lo)
    logits = rb(cap * torch.tanh(rb(h @ w["tok_emb.weight"].T + adapt(lo, "head", None, h)) / cap))
    losses = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none"
    ).reshape(targets.shape)
    return logits, losses


