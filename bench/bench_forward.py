"""PyTorch CPU (float32) forward throughput of tests/golden/reference_model.py (and of
records_model.py for the records' core) on the same shapes as bench_forward.c; prints
lines of the same form."""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "golden"))
from reference_model import forward  # noqa: E402
import records_model  # noqa: E402


def make(cfg):
    D, H, KVH, F, V = cfg["model_dim"], cfg["num_heads"], cfg["num_kv_heads"], cfg["mlp_mult"] * cfg["model_dim"], cfg["vocab_size"]
    kvd = KVH * (D // H)
    w = {"tok_emb.weight": torch.randn(V, D) * 0.3}
    for i in range(cfg["num_layers"]):
        p = f"blocks.{i}."
        for name, shape in [("attn.c_q.weight", (D, D)), ("attn.c_k.weight", (kvd, D)), ("attn.c_v.weight", (kvd, D)),
                            ("attn.proj.weight", (D, D)), ("mlp.fc.weight", (F, D)), ("mlp.proj.weight", (D, F))]:
            w[p + name] = (torch.rand(shape) * 2 - 1) / shape[1] ** 0.5
        w[p + "attn.q_gain"] = torch.full((H,), 1.5)
        w[p + "attn_scale"] = torch.ones(D)
        w[p + "mlp_scale"] = torch.ones(D)
        w[p + "resid_mix"] = torch.stack([torch.ones(D), torch.zeros(D)])
    w["skip_weights"] = torch.ones(cfg["num_layers"] // 2, D)
    return w


def make_records(cfg):
    """The records' core: the baseline's tensors plus gates, lambdas and SmearGate."""
    w = make(cfg)
    L, D, H = cfg["num_layers"], cfg["model_dim"], cfg["num_heads"]
    nskip = len(records_model.layer_list(cfg)) // 2
    w["skip_weights"] = torch.ones(nskip, D)
    w["skip_gates"] = torch.zeros(nskip, D)
    w["parallel_post_lambdas"] = torch.ones(L, 4)
    w["parallel_resid_lambdas"] = torch.full((L, 2), 1.1)
    for i in range(L):
        w[f"blocks.{i}.attn.attn_gate_w"] = torch.randn(H, cfg["gate_window"]) * 0.1
    w["smear_gate.weight"] = torch.randn(1, cfg["gate_window"]) * 0.1
    w["smear_lambda"] = torch.full((1,), 0.1)
    return w


def bench(name, cfg, B, T, reps, records=False):
    w = make_records(cfg) if records else make(cfg)
    fwd = records_model.forward if records else forward
    n = sum(t.numel() for t in w.values())
    ids = torch.arange(B * T).reshape(B, T) * 7919 % cfg["vocab_size"]
    tgt = (torch.arange(B * T).reshape(B, T) * 104729 + 1) % cfg["vocab_size"]
    best = 1e30
    with torch.no_grad():
        for _ in range(reps):
            t0 = time.perf_counter()
            fwd(w, cfg, ids, tgt)
            best = min(best, time.perf_counter() - t0)
    print(f"bench_forward impl=torch-{torch.__version__}-threads{torch.get_num_threads()} shape={name} "
          f"B={B} T={T} params={n} best_s={best:.4f} tokens_per_s={B * T / best:.0f}")


def main():
    torch.set_num_threads(os.cpu_count())  # same cores as pgolf's OpenMP threads
    common = dict(vocab_size=1024, mlp_mult=2, rope_base=10000.0, logit_softcap=30.0, mlp_act="relu2")
    bench("tiny", dict(common, num_layers=4, model_dim=64, num_heads=4, num_kv_heads=2), 8, 64, 5)
    bench("baseline_9x512", dict(common, num_layers=9, model_dim=512, num_heads=8, num_kv_heads=4), 1, 1024, 2)
    rec = dict(common, vocab_size=8192, num_layers=11, model_dim=512, num_heads=8, num_kv_heads=4,
               mlp_mult=4, mlp_act="leaky_relu2", rope_dims=16, ln_scale=1, xsa_last_n=11,
               num_loops=2, loop_start=3, loop_end=5, parallel_start_layer=8,
               skip_gates_enabled=1, gate_window=12, sparse_attn_gate_enabled=1,
               sparse_attn_gate_scale=0.5, smear_gate_enabled=1)
    bench("records_11x512", rec, 1, 512, 2, records=True)


if __name__ == "__main__":
    main()
