"""PyTorch CPU (float32) throughput of tests/golden/records_ttt.py, the reference of the
records' phased TTT (batched as the records run it), on the shape, stream and settings of
bench_ttt.c; prints a line of the same form."""
import json
import os
import sys
import time

import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests", "golden"))
sys.path.insert(0, here)
from bench_forward import make_records  # noqa: E402
from records_ttt import evaluate  # noqa: E402
from reference_model import read_shard  # noqa: E402


def main():
    torch.set_num_threads(os.cpu_count())  # same cores as pgolf's OpenMP threads
    root = os.environ.get("PGOLF_ROOT", os.path.join(here, ".."))
    cfg = dict(vocab_size=1024, num_layers=5, model_dim=64, num_heads=4, num_kv_heads=2, mlp_mult=4,
               mlp_act="leaky_relu2", rope_base=10000.0, logit_softcap=30.0, rope_dims=8, ln_scale=1,
               xsa_last_n=5, num_loops=1, loop_start=1, loop_end=2, parallel_start_layer=3,
               skip_gates_enabled=1, gate_window=12, sparse_attn_gate_enabled=1,
               sparse_attn_gate_scale=0.5, smear_gate_enabled=1)
    w = make_records(cfg)
    stream = read_shard(os.path.join(root, "data/sample/fineweb_val_000000.bin"))[:8193]
    lut = json.load(open(os.path.join(root, "tests/golden/sample_1024_lut.json")))
    nbytes = lambda p, t: lut["base_bytes"][t] + (1 if lut["has_leading_space"][t] and not lut["is_boundary"][p] else 0)
    S = {"rank": 8, "lr": 0.0001, "chunk": 32, "eval_seq_len": 256, "batch": 2, "grad_steps": 1,
         "wd": 1.0, "beta1": 0.0, "beta2": 0.999, "k": 1, "o": 1, "mlp": 1, "alpha": 144.0,
         "warm": 1, "seed": 0, "ranks": 2, "prefix_docs": 2, "phases": 1, "g_lr": 0.001,
         "g_momentum": 0.9, "g_epochs": 1, "g_chunk": 1024, "g_batch_seqs": 2,
         "g_warmup_start_lr": 0.0, "g_warmup_chunks": 0, "g_clip": 1.0, "g_doc_masked": 1}
    t0 = time.perf_counter()
    per_token, order, _, bpb = evaluate(w, cfg, S, stream, nbytes, 128)
    dt = time.perf_counter() - t0
    n = sum(1 for k in order if k >= 0)
    print(f"bench_ttt impl=torch-{torch.__version__}-threads{torch.get_num_threads()} shape=records_5x64 "
          f"part=phased_ttt tokens={n} best_s={dt:.4f} tokens_per_s={n / dt:.0f} val_bpb={bpb:.6f}")


if __name__ == "__main__":
    main()
