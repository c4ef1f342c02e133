"""PyTorch CPU (float32) training step of the latest record's core on the shape of
bench_recipe.c: one document-packed row of 2048 tokens (a BOS every 512), forward +
backward with autograd through tests/golden/records_model.py, then the records' optimizers
(tests/golden/records_optim.py). usage: bench_recipe.py CKPT (pgolf init --preset record)"""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "golden"))
from records_loader import spans  # noqa: E402
from records_model import forward  # noqa: E402
from records_optim import Recipe  # noqa: E402
from reference_model import read_checkpoint  # noqa: E402

RECIPE = dict(TIED_EMBED_LR=0.03, MATRIX_LR=0.026, SCALAR_LR=0.02, BETA1=0.9, BETA2=0.99,
              ADAM_EPS=1e-8, GRAD_CLIP_NORM=0.3, MUON_MOMENTUM=0.97,
              MUON_MOMENTUM_WARMUP_START=0.92, MUON_MOMENTUM_WARMUP_STEPS=1500,
              MUON_BACKEND_STEPS=5, MUON_WD=0.095, EMBED_WD=0.085, ADAM_WD=0.02,
              EMA_DECAY=0.9965)


def main():
    torch.set_num_threads(os.cpu_count())  # same cores as pgolf's OpenMP threads
    cfg, w, _ = read_checkpoint(sys.argv[1])
    T, V = cfg["seq_len"], cfg["vocab_size"]
    ids = [1 if i % 512 == 0 else 2 + (i * 7919) % (V - 2) for i in range(T)]
    x = torch.tensor([ids])
    y = torch.tensor([[(i * 104729 + 1) % V for i in range(T)]])
    span = torch.tensor([spans(ids, 1, T)])
    params = {k: v.clone().requires_grad_(True) for k, v in w.items()}
    best = best_opt = 1e30
    for _ in range(2):
        recipe = Recipe(params, RECIPE)
        for p in params.values():
            p.grad = None
        t0 = time.perf_counter()
        _, losses = forward(params, cfg, x, y, span=span)
        losses.mean().backward()
        t1 = time.perf_counter()
        recipe.step(0, 1.0)
        t2 = time.perf_counter()
        best, best_opt = min(best, t1 - t0), min(best_opt, t2 - t1)
    impl = f"torch-{torch.__version__}-threads{torch.get_num_threads()}"
    shape = "records_11x512"
    print(f"bench_train impl={impl} shape={shape} part=fwd_bwd B=1 T={T} best_s={best:.4f} "
          f"tokens_per_s={T / best:.0f}")
    print(f"bench_train impl={impl} shape={shape} part=optimizer recipe=records best_s={best_opt:.4f}")
    print(f"bench_train impl={impl} shape={shape} part=step B=1 T={T} best_s={best + best_opt:.4f} "
          f"tokens_per_s={T / (best + best_opt):.0f}")


if __name__ == "__main__":
    main()
