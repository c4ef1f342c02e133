"""PyTorch CPU (float32) training-step throughput on the shapes of bench_train.c:
forward + backward with autograd, then Adam + Muon (Newton-Schulz-5) as the reference."""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "golden"))
from reference_model import forward  # noqa: E402
from bench_forward import make  # noqa: E402
from make_train_trace import newton_schulz5  # noqa: E402


def bench(name, cfg, B, T, reps):
    w = {k: v.requires_grad_(True) for k, v in make(cfg).items()}
    ids = torch.arange(B * T).reshape(B, T) * 7919 % cfg["vocab_size"]
    tgt = (torch.arange(B * T).reshape(B, T) * 104729 + 1) % cfg["vocab_size"]
    matrix = [k for k in w if k.startswith("blocks.") and k.endswith(".weight")]
    adam = torch.optim.Adam([w[k] for k in w if k not in matrix], lr=0.04, betas=(0.9, 0.95))
    best = best_opt = 1e30
    for _ in range(reps):
        for p in w.values():
            p.grad = None
        t0 = time.perf_counter()
        _, losses = forward(w, cfg, ids, tgt)
        losses.mean().backward()
        t1 = time.perf_counter()
        adam.step()
        with torch.no_grad():
            for k in matrix:
                w[k].add_(newton_schulz5(w[k].grad, 5), alpha=-0.04)
        t2 = time.perf_counter()
        best, best_opt = min(best, t1 - t0), min(best_opt, t2 - t1)
    impl = f"torch-{torch.__version__}-threads{torch.get_num_threads()}"
    print(f"bench_train impl={impl} shape={name} part=fwd_bwd B={B} T={T} best_s={best:.4f} "
          f"tokens_per_s={B * T / best:.0f}")
    print(f"bench_train impl={impl} shape={name} part=optimizer best_s={best_opt:.4f}")
    print(f"bench_train impl={impl} shape={name} part=step B={B} T={T} best_s={best + best_opt:.4f} "
          f"tokens_per_s={B * T / (best + best_opt):.0f}")


def main():
    torch.set_num_threads(os.cpu_count())  # same cores as pgolf's OpenMP threads
    common = dict(vocab_size=1024, mlp_mult=2, rope_base=10000.0, logit_softcap=30.0, mlp_act="relu2")
    bench("tiny", dict(common, num_layers=4, model_dim=64, num_heads=4, num_kv_heads=2), 8, 64, 5)
    bench("baseline_9x512", dict(common, num_layers=9, model_dim=512, num_heads=8, num_kv_heads=4), 1, 1024, 2)


if __name__ == "__main__":
    main()
