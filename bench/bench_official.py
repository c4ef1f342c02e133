"""The official train_gpt.py (../shared/ref) as the third column of `make bench-gpu`: run
on this machine's one GPU for a few steps of the baseline on synthetic shards, its logged
step_avg turned into a training line of bench_gpu's form (tokens/s and MFU).

usage: bench_official.py TRAIN_GPT_PY TOKENIZER_MODEL [--iterations N]
The script runs in a scratch folder (it writes logs/ and its artifacts into the current
folder) with the reference's defaults (524,288 tokens a step, 8 micro-steps on one GPU),
no periodic validation and no wall-clock cap. Its own final evaluation reads a small
synthetic validation shard.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

H100_BF16_PEAK_TFLOPS = 989.0
SHARD_MAGIC, SHARD_VERSION = 20240520, 1
STEP_TOKENS, SEQ, VOCAB = 524288, 1024, 1024
# the baseline 9x512: parameters as the reference counts them (logged model_params)
BASELINE_LAYERS, BASELINE_DIM = 9, 512


def write_shard(path, n, seed):
    """A shard in the challenge's format: 256 int32 header (magic, version, count), uint16 tokens."""
    header = np.zeros(256, dtype="<i4")
    header[0], header[1], header[2] = SHARD_MAGIC, SHARD_VERSION, n
    idx = np.arange(n, dtype=np.uint64) + np.uint64(seed)
    tokens = (1 + ((idx * np.uint64(2654435761)) >> np.uint64(7)) % np.uint64(VOCAB - 1)).astype("<u2")
    with open(path, "wb") as f:
        f.write(header.tobytes())
        f.write(tokens.tobytes())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("script")
    ap.add_argument("tokenizer")
    ap.add_argument("--iterations", type=int, default=30)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="pgolf-official-") as work:
        data = os.path.join(work, "data")
        os.makedirs(data)
        write_shard(os.path.join(data, "fineweb_train_000000.bin"), (a.iterations + 2) * STEP_TOKENS + 1, 0)
        write_shard(os.path.join(data, "fineweb_val_000000.bin"), 128 * SEQ + 1, 7)
        env = dict(os.environ, DATA_PATH=data, TOKENIZER_PATH=os.path.abspath(a.tokenizer),
                   ITERATIONS=str(a.iterations), VAL_LOSS_EVERY="0", TRAIN_LOG_EVERY="1",
                   MAX_WALLCLOCK_SECONDS="0", RUN_ID="bench", WARMUP_STEPS="5")
        p = subprocess.run([sys.executable, os.path.abspath(a.script)], cwd=work, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        log = p.stdout
    if p.returncode != 0:
        tail = " | ".join(log.strip().splitlines()[-3:])
        print(f"official train_gpt.py failed (exit {p.returncode}): {tail}", flush=True)
        return 0
    avgs = re.findall(r"step:(\d+)/\d+ train_loss:\S+ train_time:\S+ step_avg:([0-9.]+)ms", log)
    params = re.search(r"model_params:(\d+)", log)
    if not avgs or not params:
        print("official train_gpt.py: no step_avg or model_params line in its log", flush=True)
        return 0
    step, avg_ms = avgs[-1]
    n_params = int(params.group(1))
    rate = STEP_TOKENS / (float(avg_ms) / 1e3)
    fpt = 3.0 * (2.0 * n_params + 2.0 * BASELINE_LAYERS * SEQ * BASELINE_DIM)
    print(f"bench_gpu impl=official-train_gpt.py what=train_step shape=baseline tokens={STEP_TOKENS} "
          f"best_s={float(avg_ms) / 1e3:.4f} tokens_per_s={rate:.0f} "
          f"mfu={rate * fpt / (H100_BF16_PEAK_TFLOPS * 1e12):.4f} (step_avg over {step} steps)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
