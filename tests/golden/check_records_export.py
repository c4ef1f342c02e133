"""Checks that torch.load reads `pgolf export --format records` as the records' loader
does: brotli (the brotli program), the BSHF stride-2 unshuffle, torch.load of the
{"w","m"} dict, then their dequantization; the weights must equal records_gptq.mixed's on
the same checkpoint and Hessians (tests/golden/records_train.json's export piece).

usage: check_records_export.py check ARTIFACT INIT_CKPT RECORDS_TRAIN_PREFIX
       check_records_export.py hessians INIT_CKPT RECORDS_TRAIN_PREFIX OUT.bin
(the second writes the reference's Hessians as pgolf's hessians.bin for the export)
"""
import hashlib
import io
import json
import struct
import subprocess
import sys

import torch

import records_gptq
from reference_model import read_checkpoint


def load_records_artifact(path):
    raw = subprocess.run(["brotli", "-d", "-c", path], check=True, capture_output=True).stdout
    assert raw[:4] == b"BSHF", "no BSHF header"
    stride, body = raw[4], raw[5:]
    out, at = bytearray(len(body)), 0
    for k in range(stride):
        n = len(range(k, len(body), stride))
        out[k::stride] = body[at:at + n]
        at += n
    return torch.load(io.BytesIO(bytes(out)), map_location="cpu")


def dequantize(w, m):
    out = {}
    for name, kind in m.items():
        if kind.startswith("passthrough"):
            W = w[name].float()
        else:
            W = w[name + ".q"].float() * w[name + ".scale"].float()[:, None]
            if kind.endswith("+lqer_asym"):
                qB = w[name + ".lqB_a"]
                g = qB.numel() // w[name + ".lqBs_a"].numel()
                A = w[name + ".lqA_a"].float() * w[name + ".lqAs_a"].float()
                B = (qB.reshape(-1, g).float() * w[name + ".lqBs_a"].float()[:, None]).reshape(qB.shape)
                W = W + A @ B
            elif kind.endswith("+lqer"):
                A = w[name + ".lqA"].float() * w[name + ".lqAs"].float()[:, None]
                B = w[name + ".lqB"].float() * w[name + ".lqBs"].float()[:, None]
                W = W + A @ B
        out[name] = W.to(torch.bfloat16).float() if name == "tok_emb.weight" else W
    return out


def write_hessians(ckpt, prefix, out):
    """pgolf's Hessians file (kernels/hessian.h) holding the golden's floats."""
    cfg, _, _ = read_checkpoint(ckpt)
    piece = json.load(open(prefix + ".json"))["pieces"]["hessians"]
    blob = open(prefix + "_hessians.f32", "rb").read()
    D, F, at, mats = cfg["model_dim"], cfg["model_dim"] * cfg["mlp_mult"], 0, {}
    for name in piece["names"]:
        d = F if name.endswith("mlp.proj.weight") else D
        mats[name], at = blob[at:at + 4 * d * d], at + 4 * d * d
    payload = b""
    for l in range(cfg["num_layers"]):  # per layer: attn (c_q = c_k = c_v), proj, fc, down
        for n in ("attn.c_q", "attn.proj", "mlp.fc", "mlp.proj"):
            payload += mats[f"blocks.{l}.{n}.weight"]
    payload += mats["tok_emb.weight"]
    header = json.dumps({"layers": cfg["num_layers"], "model_dim": D, "mlp_dim": F,
                         "passes": piece["batches"]}).encode()
    body = (b"PGOLFHES" + struct.pack("<II", 1, len(header)) + header +
            struct.pack("<Q", len(payload)) + payload)
    open(out, "wb").write(body + hashlib.sha256(body).digest())


def main():
    if sys.argv[1] == "hessians":
        write_hessians(*sys.argv[2:5])
        return
    art, ckpt, prefix = sys.argv[2:5]
    obj = load_records_artifact(art)
    golden = json.load(open(prefix + ".json"))["pieces"]["export"]
    assert obj["m"] == golden["kinds"], "the kinds differ from the reference's"
    got = dequantize(obj["w"], obj["m"])
    _, w, _ = read_checkpoint(ckpt)
    blob, at, worst = open(prefix + "_export.f32", "rb").read(), 0, 0.0
    for name, t in w.items():
        n = t.numel()
        want = torch.frombuffer(bytearray(blob[at:at + 4 * n]), dtype=torch.float32)
        at += 4 * n
        worst = max(worst, float((got[name].reshape(-1) - want).abs().max()))
    assert worst <= 1e-6, f"weights differ by {worst}"
    print(f"{art}: torch.load reads it; {len(obj['m'])} tensors, kinds as the reference's, "
          f"weights within {worst:.1e}")


if __name__ == "__main__":
    main()
