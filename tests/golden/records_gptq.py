"""Independent PyTorch reference of the April records' export quantization (DESIGN.md
section 11): GPTQ with a per-row standard-deviation clip and LQER's low-rank correction of
the largest errors, written for Debian's python3-torch 1.13 (CPU, float32) from a reading
of gptq_quantize_weight, _lqer_pack, _lqer_pack_asym and gptq_mixed_quantize in
openai/parameter-golf's records/track_10min_16mb/2026-04-27_*; no code of theirs is used.

One convention is pgolf's own: a singular pair's sign (which the records leave to the
GPU's SVD) is chosen so that the right singular vector's largest-magnitude entry is
positive (its first such entry on a tie).
"""
import torch


def gptq(w, H, clip_sigmas, bits, block=128):
    """Quantizes w [rows][cols] to signed `bits`-bit integers with per-row float16 scales
    clip_sigmas * std(row) / (2^(bits-1) - 1), in the columns' order of decreasing
    Hessian diagonal, each column's rounding error pushed onto the later columns through
    the Cholesky factor of the damped inverse Hessian. Returns (q int8, scale float16)."""
    qmax = 2 ** (bits - 1) - 1
    w = w.float()
    rows, cols = w.shape
    H = H.float().clone()
    dead = torch.diag(H) == 0
    idx = torch.nonzero(dead).reshape(-1)
    H[idx, idx] = 1.0
    H.diagonal().add_(0.01 * H.diagonal().mean())
    order = torch.argsort(H.diagonal(), descending=True)
    back = torch.argsort(order)
    work = w[:, order].clone()
    work[:, dead[order]] = 0
    H = H[order][:, order]
    U = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(H)), upper=True)
    scale = (clip_sigmas * w.std(dim=1) / qmax).clamp_min(1e-10).to(torch.float16)
    sf = scale.float()
    q = torch.zeros(rows, cols, dtype=torch.int8)
    for a in range(0, cols, block):
        b = min(a + block, cols)
        blk = work[:, a:b].clone()
        err = torch.zeros(rows, b - a)
        for j in range(b - a):
            col = blk[:, j]
            qc = torch.clamp(torch.round(col / sf), -qmax, qmax)
            q[:, a + j] = qc.to(torch.int8)
            e = (col - qc * sf) / U[a + j, a + j]
            err[:, j] = e
            blk[:, j:] -= e.unsqueeze(1) * U[a + j, a:b][j:].unsqueeze(0)
        if b < cols:
            work[:, b:] -= err @ U[a:b, b:]
    return q[:, back], scale


def dequantize(q, scale):
    return q.float() * scale.float().reshape(-1, 1)


def low_rank(E, rank):
    """E ~ A B with A = U_r S_r [rows][r], B = V_r^T [r][cols], signs by pgolf's rule."""
    U, S, Vh = torch.linalg.svd(E, full_matrices=False)
    r = min(rank, S.numel())
    U, S, Vh = U[:, :r].clone(), S[:r], Vh[:r].clone()
    for i in range(r):
        k = int(torch.argmax(Vh[i].abs()))
        if Vh[i, k] < 0:
            Vh[i] = -Vh[i]
            U[:, i] = -U[:, i]
    return (U * S).contiguous(), Vh.contiguous()


def pack_sym(A, B, bits):
    """Both factors per-row symmetric at `bits` bits with float16 scales."""
    r = 2 ** (bits - 1) - 1
    out = []
    for M in (A, B):
        s = (M.abs().amax(dim=1).clamp_min(1e-10) / r).to(torch.float16)
        out += [torch.clamp(torch.round(M / s.float().reshape(-1, 1)), -r, r).to(torch.int8), s]
    return tuple(out)


def pack_asym(A, B, group):
    """A: one float16 scale |A|max / 1.5, values in [-2, 1]; B: groups of `group` of the
    flattened B, each with a float16 scale |group|max / 7.5, values in [-8, 7]."""
    sA = (A.abs().amax().clamp_min(1e-10) / 1.5).to(torch.float16)
    qA = torch.clamp(torch.round(A / sA.float()), -2, 1).to(torch.int8)
    G = B.reshape(-1, group)
    sB = (G.abs().amax(dim=1, keepdim=True).clamp_min(1e-10) / 7.5).to(torch.float16).reshape(-1)
    qB = torch.clamp(torch.round(G / sB.float().reshape(-1, 1)), -8, 7).to(torch.int8).reshape(B.shape)
    return qA, sA, qB, sB


def mixed(weights, hessians, s):
    """The records' gptq_mixed_quantize routing and LQER over a state dict (pgolf's names),
    then their dequantization as their eval model loads it (tok_emb in bfloat16). s: the
    settings (MATRIX_BITS, EMBED_BITS, *_CLIP_SIGMAS, LQER_*, KEEP_FLOAT_MAX_NUMEL).
    Returns ({name: float32 weights}, {name: kind})."""
    out, kinds, errors = {}, {}, {}
    for name, t in weights.items():
        if t.numel() <= s["KEEP_FLOAT_MAX_NUMEL"] or t.ndim != 2:
            out[name], kinds[name] = t.half().float(), "passthrough (float16)"
            continue
        embed = name == "tok_emb.weight"
        cs = (s["EMBED_CLIP_SIGMAS"] if embed else s["MLP_CLIP_SIGMAS"] if ".mlp." in name
              else s["ATTN_CLIP_SIGMAS"] if ".attn." in name else s["MATRIX_CLIP_SIGMAS"])
        bits = s["EMBED_BITS"] if embed else s["MATRIX_BITS"]
        q, scale = gptq(t, hessians[name], cs, bits)
        out[name] = dequantize(q, scale)
        kinds[name] = f"gptq (int{bits})"
        errors[name] = t - out[name]
    top = sorted(errors, key=lambda n: -float(errors[n].norm()))[:s["LQER_TOP_K"]]
    for name in top:
        A, B = low_rank(errors[name], s["LQER_RANK"])
        if B.numel() % s["LQER_ASYM_GROUP"] == 0:
            qA, sA, qB, sB = pack_asym(A, B, s["LQER_ASYM_GROUP"])
            g = s["LQER_ASYM_GROUP"]
            Ad = qA.float() * sA.float()
            Bd = (qB.reshape(-1, g).float() * sB.float().reshape(-1, 1)).reshape(qB.shape)
            kinds[name] += "+lqer_asym"
        else:
            qA, sA, qB, sB = pack_sym(A, B, s["LQER_FACTOR_BITS"])
            Ad = qA.float() * sA.float().reshape(-1, 1)
            Bd = qB.float() * sB.float().reshape(-1, 1)
            kinds[name] += "+lqer"
        out[name] = out[name] + Ad @ Bd
    if "tok_emb.weight" in out:
        out["tok_emb.weight"] = out["tok_emb.weight"].to(torch.bfloat16).float()
    return out, kinds
