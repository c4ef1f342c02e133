"""PyTorch baseline of `make bench-gpu`: the baseline GPT (DESIGN section 4) written as
competitors run it on a GPU (bf16 autocast, scaled_dot_product_attention, torch.compile
when it works, Muon for the block matrices and Adam for the rest), timed on the same
shapes and synthetic tokens as bench/bench_gpu.c; prints lines of the same form.

usage: bench_gpu.py [--device cuda|cpu] [--shape baseline|tiny] [--no-compile]
On the CPU (Debian's torch 1.13) it runs eagerly in float32: that only checks the script.
"""
import argparse
import math
import time

import torch
import torch.nn.functional as F

H100_BF16_PEAK_TFLOPS = 989.0


def rms_norm(x):
    return x * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + torch.finfo(torch.float32).eps).to(x.dtype)


def causal_attention(q, k, v):
    """q [B,H,T,hd], k v [B,KVH,T,hd]: GQA by repeating KV heads."""
    rep = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    T = q.shape[-2]
    s = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    s = s.masked_fill(~torch.ones(T, T, dtype=torch.bool, device=q.device).tril(), float("-inf"))
    return torch.softmax(s.float(), -1).to(v.dtype) @ v


class GPT(torch.nn.Module):
    def __init__(self, V, L, D, H, KVH, mult, T):
        super().__init__()
        self.L, self.D, self.H, self.KVH, self.hd = L, D, H, KVH, D // H
        kvd = KVH * self.hd
        self.emb = torch.nn.Parameter(torch.randn(V, D) * 0.005)
        lin = lambda o, i: torch.nn.Parameter((torch.rand(o, i) * 2 - 1) / i ** 0.5)
        self.q = torch.nn.ParameterList([lin(D, D) for _ in range(L)])
        self.k = torch.nn.ParameterList([lin(kvd, D) for _ in range(L)])
        self.v = torch.nn.ParameterList([lin(kvd, D) for _ in range(L)])
        self.o = torch.nn.ParameterList([lin(D, D) for _ in range(L)])
        self.fc = torch.nn.ParameterList([lin(mult * D, D) for _ in range(L)])
        self.proj = torch.nn.ParameterList([lin(D, mult * D) for _ in range(L)])
        self.q_gain = torch.nn.Parameter(torch.full((L, H), 1.5))
        self.attn_scale = torch.nn.Parameter(torch.ones(L, D))
        self.mlp_scale = torch.nn.Parameter(torch.ones(L, D))
        self.mix = torch.nn.Parameter(torch.stack([torch.ones(L, D), torch.zeros(L, D)], 1))
        self.skip_w = torch.nn.Parameter(torch.ones(L // 2, D))
        hd = self.hd
        inv = 1.0 / (10000.0 ** (torch.arange(0, hd, 2).float() / hd))
        f = torch.outer(torch.arange(T).float(), inv)
        self.register_buffer("cos", f.cos(), persistent=False)
        self.register_buffer("sin", f.sin(), persistent=False)

    def rope(self, x):
        T, h = x.shape[-2], x.shape[-1] // 2
        c, s = self.cos[:T].to(x.dtype), self.sin[:T].to(x.dtype)
        x1, x2 = x[..., :h], x[..., h:]
        return torch.cat((x1 * c + x2 * s, x2 * c - x1 * s), -1)

    def block(self, x, x0, i):
        B, T, D = x.shape
        x = self.mix[i, 0] * x + self.mix[i, 1] * x0
        n = rms_norm(x)
        q = (n @ self.q[i].T).view(B, T, self.H, self.hd).transpose(1, 2)
        k = (n @ self.k[i].T).view(B, T, self.KVH, self.hd).transpose(1, 2)
        v = (n @ self.v[i].T).view(B, T, self.KVH, self.hd).transpose(1, 2)
        q = self.rope(rms_norm(q)) * self.q_gain[i][None, :, None, None].to(q.dtype)
        k = self.rope(rms_norm(k))
        y = causal_attention(q, k, v).transpose(1, 2).reshape(B, T, D)
        x = x + self.attn_scale[i] * (y @ self.o[i].T)
        h = torch.relu(rms_norm(x) @ self.fc[i].T).square()
        return x + self.mlp_scale[i] * (h @ self.proj[i].T)

    def forward(self, ids, tgt):
        x = x0 = rms_norm(F.embedding(ids, self.emb))
        enc, skips = self.L // 2, []
        for i in range(self.L):
            if i >= enc and i - enc < len(self.skip_w):
                x = x + self.skip_w[i - enc] * skips.pop()
            x = self.block(x, x0, i)
            if i < enc:
                skips.append(x)
        logits = rms_norm(x) @ self.emb.T
        logits = 30.0 * torch.tanh(logits.float() / 30.0)
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), tgt.view(-1), reduction="none")


def newton_schulz5(g, steps=5):
    a, b, c = 3.4445, -4.7750, 2.0315
    x = g.bfloat16() if g.is_cuda else g.clone()
    x = x / (x.norm() + 1e-7)
    tall = x.shape[0] > x.shape[1]
    if tall:
        x = x.T
    for _ in range(steps):
        A = x @ x.T
        x = a * x + (b * A + c * A @ A) @ x
    return (x.T if tall else x).to(g.dtype)


class Muon:
    def __init__(self, params, lr=0.04, mu=0.95):
        self.params, self.lr, self.mu = list(params), lr, mu
        self.bufs = [torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def step(self):
        for p, buf in zip(self.params, self.bufs):
            buf.mul_(self.mu).add_(p.grad)
            u = newton_schulz5(p.grad.add(buf, alpha=self.mu))
            p.add_(u, alpha=-self.lr * max(1.0, p.shape[0] / p.shape[1]) ** 0.5)


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def report(impl, what, shape, tokens, best, fpt):
    rate = tokens / best
    print(f"bench_gpu impl={impl} what={what} shape={shape} tokens={tokens:.0f} best_s={best:.4f} "
          f"tokens_per_s={rate:.0f} mfu={rate * fpt / (H100_BF16_PEAK_TFLOPS * 1e12):.4f}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--shape", default="baseline")
    ap.add_argument("--no-compile", action="store_true")
    a = ap.parse_args()
    dev, tiny = a.device, a.shape == "tiny"
    L, D, H, KVH, V = (4, 64, 4, 2, 1024) if tiny else (9, 512, 8, 4, 1024)
    T, B_eval, B_train = (64, 4, 4) if tiny else (1024, 8, 16)
    torch.manual_seed(1)
    model = GPT(V, L, D, H, KVH, 2, T).to(dev)
    n_params = sum(p.numel() for p in model.parameters())
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if dev == "cuda" else torch.autocast("cpu", enabled=False)
    fwd, mode = model, "eager"
    if dev == "cuda" and not a.no_compile and hasattr(torch, "compile"):
        try:
            fwd, mode = torch.compile(model), "compile"
            with amp:
                fwd(torch.zeros(1, T, dtype=torch.long, device=dev), torch.zeros(1, T, dtype=torch.long, device=dev))
        except Exception as e:  # noqa: BLE001 - any compile failure falls back to eager
            print(f"torch.compile failed ({type(e).__name__}): eager", flush=True)
            fwd, mode = model, "eager"
    impl = f"torch-{torch.__version__.split('+')[0]}-{dev}-{mode}"
    n = (16 if tiny else 64) * T + 1
    idx = torch.arange(n, dtype=torch.int64)
    stream = (1 + ((idx * 2654435761) >> 7) % (V - 1)).to(dev)
    attn = 2.0 * L * T * D
    print(f"== bench_gpu.py: {impl}, {a.shape} {L}x{D}, seq {T}, {n_params} parameters ==", flush=True)

    def eval_pass(stride):
        # every target of the stream is scored once: windows every T (standard) or every
        # stride tokens (sliding, each a full forward of T positions)
        starts = list(range(0, n - 1 - T + 1, stride or T))
        best = 1e30
        for rep in range(3):
            sync(dev)
            t0 = time.perf_counter()
            with torch.no_grad(), amp:
                for s in range(0, len(starts), B_eval):
                    st = starts[s:s + B_eval]
                    ids = torch.stack([stream[p:p + T] for p in st])
                    tgt = torch.stack([stream[p + 1:p + T + 1] for p in st])
                    fwd(ids, tgt).sum().item()
            sync(dev)
            if rep:
                best = min(best, time.perf_counter() - t0)
        fpt = (2.0 * n_params + attn) * (T / stride if stride else 1.0)
        report(impl, f"eval_sliding{stride}" if stride else "eval_standard", a.shape, n - 1, best, fpt)

    eval_pass(0)
    eval_pass(16 if tiny else 64)

    mats = [p for name, p in model.named_parameters() if p.ndim == 2 and name != "emb" and not name.startswith("skip")]
    rest = [p for name, p in model.named_parameters() if not (p.ndim == 2 and name != "emb" and not name.startswith("skip"))]
    muon, adam = Muon(mats), torch.optim.Adam(rest, lr=0.04, betas=(0.9, 0.95), eps=1e-8)
    ids = (torch.arange(B_train * T, device=dev) * 7919 % V).view(B_train, T)
    tgt = ((torch.arange(B_train * T, device=dev) * 104729 + 1) % V).view(B_train, T)
    best = 1e30
    for rep in range(4):
        sync(dev)
        t0 = time.perf_counter()
        with amp:
            loss = fwd(ids, tgt).mean()
        loss.backward()
        muon.step()
        adam.step()
        model.zero_grad(set_to_none=True)
        sync(dev)
        if rep:
            best = min(best, time.perf_counter() - t0)
    report(impl, "train_step", a.shape, B_train * T, best, 3.0 * (2.0 * n_params + attn))


if __name__ == "__main__":
    main()
