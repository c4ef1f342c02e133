"""Independent PyTorch reference of pgolf's baseline GPT (DESIGN.md section 4).

Written for Debian's python3-torch (1.13, CPU, float32): no F.rms_norm and no
enable_gqa in scaled_dot_product_attention, so both are spelled out here.
Also reads pgolf checkpoints (docs/checkpoint.md) without using pgolf's code.
"""
import hashlib
import json
import math
import struct

import torch

FLOAT32_EPS = torch.finfo(torch.float32).eps


def read_checkpoint(path):
    """Returns (config dict, {tensor name: float32 tensor}, meta dict)."""
    raw = open(path, "rb").read()
    if raw[:8] != b"PGOLFCKP":
        raise ValueError(f"{path}: bad magic")
    version, hlen = struct.unpack_from("<II", raw, 8)
    if version != 1:
        raise ValueError(f"{path}: version {version}")
    header = json.loads(raw[16:16 + hlen])
    (plen,) = struct.unpack_from("<Q", raw, 16 + hlen)
    start = 16 + hlen + 8
    payload = raw[start:start + plen]
    if hashlib.sha256(raw[:-32]).digest() != raw[-32:]:
        raise ValueError(f"{path}: checksum mismatch")
    tensors = {}
    for t in header["tensors"]:
        buf = payload[t["offset"]:t["offset"] + t["nbytes"]]
        tensors[t["name"]] = torch.frombuffer(bytearray(buf), dtype=torch.float32).reshape(t["shape"]).clone()
    return header["config"], tensors, header["meta"]


def rms_norm(x):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + FLOAT32_EPS)


def rope(x, base):
    """x: [B, H, T, hd]. Rotates halves by angle t * base^(-2i/hd)."""
    T, hd = x.shape[-2], x.shape[-1]
    inv_freq = 1.0 / (base ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
    freqs = torch.outer(torch.arange(T, dtype=torch.float32), inv_freq)
    cos, sin = freqs.cos(), freqs.sin()
    x1, x2 = x[..., : hd // 2], x[..., hd // 2:]
    return torch.cat((x1 * cos + x2 * sin, x1 * (-sin) + x2 * cos), dim=-1)


def attention(x, w, prefix, cfg):
    B, T, D = x.shape
    H, KVH = cfg["num_heads"], cfg["num_kv_heads"]
    hd = D // H
    q = (x @ w[prefix + "attn.c_q.weight"].T).reshape(B, T, H, hd).transpose(1, 2)
    k = (x @ w[prefix + "attn.c_k.weight"].T).reshape(B, T, KVH, hd).transpose(1, 2)
    v = (x @ w[prefix + "attn.c_v.weight"].T).reshape(B, T, KVH, hd).transpose(1, 2)
    q = rope(rms_norm(q), cfg["rope_base"])
    k = rope(rms_norm(k), cfg["rope_base"])
    q = q * w[prefix + "attn.q_gain"][None, :, None, None]
    # GQA: query head h reads KV head h // (H // KVH)
    k = k.repeat_interleave(H // KVH, dim=1)
    v = v.repeat_interleave(H // KVH, dim=1)
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    scores = scores.masked_fill(~mask, float("-inf"))
    y = torch.softmax(scores, dim=-1) @ v
    y = y.transpose(1, 2).reshape(B, T, D)
    return y @ w[prefix + "attn.proj.weight"].T


def mlp(x, w, prefix, cfg):
    h = x @ w[prefix + "mlp.fc.weight"].T
    slope = 0.5 if cfg["mlp_act"] == "leaky_relu2" else 0.0
    h = torch.where(h > 0, h, slope * h).square()
    return h @ w[prefix + "mlp.proj.weight"].T


def block(x, x0, w, i, cfg):
    p = f"blocks.{i}."
    mix = w[p + "resid_mix"]
    x = mix[0] * x + mix[1] * x0
    x = x + w[p + "attn_scale"] * attention(rms_norm(x), w, p, cfg)
    x = x + w[p + "mlp_scale"] * mlp(rms_norm(x), w, p, cfg)
    return x


def forward(w, cfg, ids, targets):
    """ids, targets: int64 [B, T]. Returns (softcapped logits [B, T, V], losses [B, T])."""
    x = rms_norm(w["tok_emb.weight"][ids])
    x0 = x
    L = cfg["num_layers"]
    enc, dec = L // 2, L - L // 2
    skips = []
    for i in range(enc):
        x = block(x, x0, w, i, cfg)
        skips.append(x)
    for i in range(dec):
        if skips:
            x = x + w["skip_weights"][i] * skips.pop()
        x = block(x, x0, w, enc + i, cfg)
    x = rms_norm(x)
    cap = cfg["logit_softcap"]
    logits = cap * torch.tanh((x @ w["tok_emb.weight"].T) / cap)
    losses = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none"
    ).reshape(targets.shape)
    return logits, losses


def read_shard(path):
    raw = open(path, "rb").read()
    magic, version, n = struct.unpack_from("<iii", raw, 0)
    assert magic == 20240520 and version == 1 and len(raw) == 1024 + 2 * n, path
    return list(struct.unpack_from(f"<{n}H", raw, 1024))
