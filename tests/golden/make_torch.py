"""Writes PyTorch model files in the formats real records ship, and the scores the PyTorch
reference model gives them, for pgolf's importer tests (tests/test_torch.c).

usage: make_torch.py write CKPT_SMALL CKPT_WIDE VAL_SHARD LUT_JSON OUT_DIR
       make_torch.py check-export EXPORTED.ptz CKPT

`write` reads two pgolf checkpoints (random dense weights) and writes, into OUT_DIR:
  raw.pt             torch.save of the small model's float32 state dict
  raw_bf16.pt        the same in bfloat16
  int8.ptz           the reference's int8_clean_per_row_v1 export of the wide model
                     (a re-implementation of quantize_state_dict_int8), zlib level 9
  w_m.xz             {"w", "m"} per-row int6 (and one int8 with a scalar scale), xz
  w_m_bshf.raw       the same pickle zip byte-shuffled behind a BSHF header; the shell
                     script compresses it with brotli -q 11 into w_m_bshf.br
  torch.json         per file: the dequantized weights' SHA-256 in pgolf's tensor order,
                     and val_loss, loss_sum, bytes and val_bpb of the reference model on
                     the first 8 windows of 64 tokens of VAL_SHARD
`check-export` loads a file written by `pgolf export --format int8-ptz` with torch.load,
re-quantizes CKPT with this script's int8 exporter and asserts both are bit-identical.
`check-official` does the same with the official train_gpt.py's own
quantize_state_dict_int8 / dequantize_state_dict_int8 (only those definitions are taken
from the script), and checks that dequantizing the export gives the weights of IMPORTED,
the checkpoint `pgolf import` made of it:
       make_torch.py check-official TRAIN_GPT_PY EXPORTED.ptz CKPT IMPORTED
"""
import collections
import hashlib
import io
import json
import lzma
import math
import sys
import zlib

import torch

from reference_model import forward, read_checkpoint, read_shard

KEEP_FLOAT_MAX_NUMEL = 65536
CONTROL = ("attn_scale", "mlp_scale", "resid_mix", "q_gain", "skip_weight")
CLIP_Q = 99.99984 / 100.0
SEQ, WINDOWS = 64, 8


def int8_export(sd):
    """The reference's int8_clean_per_row_v1 layout, written from its description."""
    quantized, scales, dtypes, passthrough, orig, qmeta = {}, {}, {}, {}, {}, {}
    for name, t in sd.items():
        if t.numel() <= KEEP_FLOAT_MAX_NUMEL:
            if any(p in name for p in CONTROL):
                passthrough[name] = t.float().contiguous()
            else:
                orig[name] = "float32"
                passthrough[name] = t.to(torch.float16).contiguous()
            continue
        t32 = t.float()
        if t32.ndim == 2:
            clip = torch.quantile(t32.abs(), CLIP_Q, dim=1)
            clipped = torch.maximum(torch.minimum(t32, clip[:, None]), -clip[:, None])
            scale = (clip / 127.0).clamp_min(1.0 / 127.0)
            q = torch.clamp(torch.round(clipped / scale[:, None]), -127, 127).to(torch.int8)
            scales[name] = scale.to(torch.float16).contiguous()
            qmeta[name] = {"scheme": "per_row", "axis": 0}
        else:
            clip = float(torch.quantile(t32.abs().flatten(), CLIP_Q).item())
            scale = torch.tensor(clip / 127.0 if clip > 0 else 1.0, dtype=torch.float32)
            q = torch.clamp(torch.round(torch.clamp(t32, -clip, clip) / scale), -127, 127).to(torch.int8)
            scales[name] = scale
        quantized[name] = q.contiguous()
        dtypes[name] = "float32"
    obj = {"__quant_format__": "int8_clean_per_row_v1", "quantized": quantized, "scales": scales,
           "dtypes": dtypes, "passthrough": passthrough}
    if qmeta:
        obj["qmeta"] = qmeta
    if orig:
        obj["passthrough_orig_dtypes"] = orig
    return obj


def int8_import(obj):
    out = {}
    for name, q in obj["quantized"].items():
        s = obj["scales"][name]
        if s.ndim > 0:
            out[name] = (q.float() * s.to(torch.float32).view(q.shape[0], *([1] * (q.ndim - 1))))
        else:
            out[name] = q.float() * float(s.item())
    for name, t in obj["passthrough"].items():
        out[name] = t.float() if name in obj.get("passthrough_orig_dtypes", {}) else t
    return out


def w_m_export(sd):
    """Later records' layout: NAME.q int8 holding int6 values with per-row fp16 scales;
    c_k of layer 0 as int8 with one scalar scale; control tensors float32, the rest fp16."""
    w, m = {}, {}
    for name, t in sd.items():
        if any(p in name for p in CONTROL):
            w[name], m[name] = t.float().contiguous(), "passthrough_ctrl"
        elif name == "blocks.0.attn.c_k.weight":
            s = (t.abs().max() / 127.0).float()
            w[name + ".q"] = torch.clamp(torch.round(t / s), -127, 127).to(torch.int8)
            w[name + ".scale"] = s
            m[name] = {"type": "int8"}
        elif t.ndim == 2 and t.numel() > 4096:
            s = (t.abs().amax(dim=1) / 31.0).clamp_min(1e-8).to(torch.float16)
            w[name + ".q"] = torch.clamp(torch.round(t / s.float()[:, None]), -31, 31).to(torch.int8)
            w[name + ".scale"] = s
            m[name] = {"type": "int6"}
        else:
            w[name], m[name] = t.to(torch.float16), "passthrough"
    return {"w": w, "m": m}


def w_m_import(obj):
    out = {}
    for name, info in obj["m"].items():
        if isinstance(info, str):
            out[name] = obj["w"][name].float()
            continue
        q, s = obj["w"][name + ".q"], obj["w"][name + ".scale"]
        if s.ndim > 0:
            out[name] = q.float() * s.float().view(q.shape[0], 1)
        else:
            out[name] = q.float() * float(s.item())
    return out


def saved(obj):
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def byte_shuffle(data, stride=2):
    return b"BSHF" + bytes([stride]) + b"".join(data[k::stride] for k in range(stride))


def weights_sha(w, order):
    return hashlib.sha256(b"".join(w[n].float().contiguous().numpy().astype("<f4").tobytes()
                                   for n in order)).hexdigest()


def score(w, cfg, tokens, lut):
    n = SEQ * WINDOWS
    ids = torch.tensor(tokens[:n], dtype=torch.int64).reshape(WINDOWS, SEQ)
    tgt = torch.tensor(tokens[1:n + 1], dtype=torch.int64).reshape(WINDOWS, SEQ)
    with torch.no_grad():
        _, losses = forward(w, cfg, ids, tgt)
    loss_sum = float(losses.double().sum())
    nbytes = 0
    for p in range(n):
        prev, t = tokens[p], tokens[p + 1]
        nbytes += lut["base_bytes"][t] + (1 if lut["has_leading_space"][t] and not lut["is_boundary"][prev] else 0)
    return {"val_loss": loss_sum / n, "loss_sum": loss_sum, "tokens": n, "bytes": nbytes,
            "val_bpb": loss_sum / n / math.log(2.0) * n / nbytes}


def write(small, wide, shard, lut_path, out):
    tokens = read_shard(shard)[: SEQ * WINDOWS + 1]
    lut = json.load(open(lut_path))
    record = {"generator": "tests/golden/make_torch.py (torch %s)" % torch.__version__,
              "seq_len": SEQ, "windows": WINDOWS, "files": {}}

    def add(fname, data, cfg, w, order, fmt, wrapper):
        if data is not None:
            open(f"{out}/{fname}", "wb").write(data)
        entry = {"format": fmt, "wrapper": wrapper, "config": cfg, "weights_sha256": weights_sha(w, order)}
        entry.update(score(w, cfg, tokens, lut))
        record["files"][fname] = entry
        print(f"{fname}: {fmt} {wrapper} val_loss {entry['val_loss']:.6f} val_bpb {entry['val_bpb']:.6f}")

    cfg, w, _ = read_checkpoint(small)
    add("raw.pt", saved(collections.OrderedDict(w)), cfg, w, list(w), "state_dict", "none")
    wb = collections.OrderedDict((k, v.to(torch.bfloat16)) for k, v in w.items())
    add("raw_bf16.pt", saved(wb), cfg, {k: v.float() for k, v in wb.items()}, list(w),
        "state_dict", "none")

    cfg, w, _ = read_checkpoint(wide)
    obj = int8_export(w)
    add("int8.ptz", zlib.compress(saved(obj), 9), cfg, int8_import(obj), list(w),
        "int8_clean_per_row_v1", "zlib")
    obj = w_m_export(w)
    data = saved(obj)
    add("w_m.xz", lzma.compress(data), cfg, w_m_import(obj), list(w), "w_m_per_row", "xz")
    open(f"{out}/w_m_bshf.raw", "wb").write(byte_shuffle(data))
    add("w_m_bshf.br", None, cfg, w_m_import(obj), list(w), "w_m_per_row", "brotli+bshf")
    with open(f"{out}/torch.json", "w") as f:
        json.dump(record, f, indent=1)
        f.write("\n")


def check_export(ptz, ckpt):
    obj = torch.load(io.BytesIO(zlib.decompress(open(ptz, "rb").read())))
    _, w, _ = read_checkpoint(ckpt)
    want = int8_export(w)
    assert obj["__quant_format__"] == want["__quant_format__"]
    for key in ("quantized", "scales", "passthrough"):
        assert list(obj[key]) == list(want[key]), key
        for name, t in want[key].items():
            got = obj[key][name]
            assert got.dtype == t.dtype and got.shape == t.shape, (key, name, got.dtype, got.shape)
            assert torch.equal(got, t), (key, name)
    for key in ("dtypes", "qmeta", "passthrough_orig_dtypes"):
        assert obj.get(key) == want.get(key), key
    print(f"{ptz}: torch.load reads it; {len(obj['quantized'])} quantized and "
          f"{len(obj['passthrough'])} passthrough tensors bit-identical to this script's export")


def official_functions(script):
    """The reference's quantizer and dequantizer, defined by running only their
    definitions (and the module-level constants they read) from the script."""
    import ast
    import os
    tree = ast.parse(open(script).read())
    keep = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom)) and
            all(a.name.split(".")[0] in ("torch", "os", "io", "zlib", "math") for a in n.names)]
    keep += [n for n in tree.body if isinstance(n, ast.Assign) and
             any(isinstance(t, ast.Name) and (t.id.startswith("INT8_") or t.id.startswith("CONTROL_"))
                 for t in n.targets)]
    keep += [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in (
        "tensor_nbytes", "keep_float_tensor", "quantize_float_tensor",
        "quantize_state_dict_int8", "dequantize_state_dict_int8")]
    env = {"os": os, "torch": torch, "Tensor": torch.Tensor}
    exec(compile(ast.Module(body=keep, type_ignores=[]), script, "exec"), env)
    return env["quantize_state_dict_int8"], env["dequantize_state_dict_int8"]


def check_official(script, ptz, ckpt, imported):
    quant, dequant = official_functions(script)
    obj = torch.load(io.BytesIO(zlib.decompress(open(ptz, "rb").read())))
    _, w, _ = read_checkpoint(ckpt)
    want, _ = quant(collections.OrderedDict(w))
    for key in ("quantized", "scales", "passthrough"):
        assert list(obj[key]) == list(want[key]), key
        for name, t in want[key].items():
            assert obj[key][name].dtype == t.dtype and torch.equal(obj[key][name], t), (key, name)
    for key in ("__quant_format__", "dtypes", "qmeta", "passthrough_orig_dtypes"):
        assert obj.get(key) == want.get(key), key
    _, back, _ = read_checkpoint(imported)
    deq = dequant(obj)
    for name, t in back.items():
        assert torch.equal(deq[name].float(), t), name
    print(f"{ptz}: equals the official quantize_state_dict_int8 of {ckpt} bit for bit; the "
          f"official dequantize_state_dict_int8 of it equals pgolf import's {len(back)} tensors")


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(*sys.argv[2:7])
    elif sys.argv[1] == "check-export":
        check_export(*sys.argv[2:4])
    else:
        check_official(*sys.argv[2:6])
