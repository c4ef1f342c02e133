"""Independent PyTorch reference of the April records' training recipe (DESIGN.md section
11): MuonEq-R with Polar Express Newton-Schulz, AdamW for the embedding and the scalar
group, decoupled weight decays, the warmdown-by-fraction schedule, the loop switched on at
a fraction of training, and the weights' EMA.

Written for Debian's python3-torch 1.13 (CPU, float32) from a reading of the records'
Muon, Optimizers, training_frac / lr_mul and EMA code (openai/parameter-golf,
records/track_10min_16mb/2026-04-27_* and 2026-04-29_*); no code of theirs is used. The
records orthogonalize in bfloat16 and keep Muon's momentum in bfloat16; this reference,
like pgolf, does both in float32.
"""
import torch

POLAR_EXPRESS = (
    (8.156554524902461, -22.48329292557795, 15.878769915207462),
    (4.042929935166739, -2.808917465908714, 0.5000178451051316),
    (3.8916678022926607, -2.772484153217685, 0.5060648178503393),
    (3.285753657755655, -2.3681294933425376, 0.46449024233003106),
    (2.3465413258596377, -1.7097828382687081, 0.42323551169305323),
)
CLASSIC = (3.4445, -4.7750, 2.0315)


def orthogonalize(g, steps, polar_express=True, eps=1e-7):
    """Newton-Schulz on a 2-D update: unit Frobenius norm, wide orientation, then per
    iteration X <- a X + (b A + c A A) X with A = X X^T."""
    coeffs = POLAR_EXPRESS[:steps] if polar_express else (CLASSIC,) * steps
    x = g / (g.norm() + eps)
    tall = g.size(0) > g.size(1)
    if tall:
        x = x.T
    for a, b, c in coeffs:
        A = x @ x.T
        x = a * x + (b * A + c * (A @ A)) @ x
    return x.T if tall else x


def muon_step(p, g, buf, lr, momentum, wd, steps=5, row_normalize=True, polar_express=True):
    """One Muon step on matrix p in place: decay, Nesterov momentum, rows normalized
    (MuonEq-R), orthogonalized, scaled by sqrt(max(1, rows / cols))."""
    if wd > 0:
        p.mul_(1.0 - lr * wd)
    buf.mul_(momentum).add_(g)
    u = g.add(buf, alpha=momentum)
    if row_normalize:
        u = u / u.norm(dim=-1, keepdim=True).clamp_min(1e-7)
    u = orthogonalize(u, steps, polar_express)
    p.add_(u, alpha=-lr * max(1.0, p.size(0) / p.size(1)) ** 0.5)


def train_frac(step, iterations, elapsed_ms=None, cap_ms=None):
    if cap_ms is None:
        return step / max(iterations, 1)
    return elapsed_ms / max(cap_ms, 1e-9)


def lr_mul(frac, warmdown_frac, min_lr):
    if warmdown_frac <= 0:
        return 1.0
    if frac >= 1.0 - warmdown_frac:
        return max((1.0 - frac) / warmdown_frac, min_lr)
    return 1.0


def muon_momentum(step, warmup_steps, start, end):
    frac = min(step / warmup_steps, 1.0) if warmup_steps > 0 else 1.0
    return (1 - frac) * start + frac * end


def ema_update(ema, p, decay):
    ema.mul_(decay).add_(p, alpha=1.0 - decay)


def groups(names):
    """pgolf's tensor groups, the records' routing: the block matrices to Muon (the gates
    excepted), the embedding and every other tensor to AdamW."""
    matrix = [n for n in names
              if n.startswith("blocks.") and n.endswith(".weight") and "attn_gate" not in n]
    scalar = [n for n in names if n not in matrix and n != "tok_emb.weight"]
    return matrix, scalar


class Recipe:
    """The records' optimizers over a dict of leaf tensors, stepped with their schedule."""

    def __init__(self, params, s):
        self.p, self.s = params, s
        self.matrix, scalar = groups(list(params))
        betas, eps = (s["BETA1"], s["BETA2"]), s["ADAM_EPS"]
        self.tok = torch.optim.AdamW([params["tok_emb.weight"]], lr=s["TIED_EMBED_LR"],
                                     betas=betas, eps=eps, weight_decay=s["EMBED_WD"])
        self.scalar = torch.optim.AdamW([params[n] for n in scalar], lr=s["SCALAR_LR"],
                                        betas=betas, eps=eps, weight_decay=s["ADAM_WD"])
        self.bufs = {n: torch.zeros_like(params[n]) for n in self.matrix}
        self.ema = {n: t.detach().clone() for n, t in params.items()}

    def step(self, step, scale):
        s = self.s
        torch.nn.utils.clip_grad_norm_(list(self.p.values()), s["GRAD_CLIP_NORM"])
        mom = muon_momentum(step, s["MUON_MOMENTUM_WARMUP_STEPS"],
                            s["MUON_MOMENTUM_WARMUP_START"], s["MUON_MOMENTUM"])
        for o, base in ((self.tok, s["TIED_EMBED_LR"]), (self.scalar, s["SCALAR_LR"])):
            for g in o.param_groups:
                g["lr"] = base * scale
        self.tok.step()
        self.scalar.step()
        with torch.no_grad():
            for n in self.matrix:
                muon_step(self.p[n], self.p[n].grad, self.bufs[n], s["MATRIX_LR"] * scale, mom,
                          s["MUON_WD"], int(s["MUON_BACKEND_STEPS"]))
            for n, t in self.p.items():
                ema_update(self.ema[n], t, s["EMA_DECAY"])
