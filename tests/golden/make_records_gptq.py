"""Golden values of the records' GPTQ with SD clip and LQER (tests/golden/records_gptq.py)
on small matrices: each case's weights and Hessian (X^T X of random inputs, one input
column dead), the quantized integers and float16 scales, the LQER factors of the error
and their packing (asymmetric when B's size is a multiple of the group, else symmetric,
as the records choose).

usage: make_records_gptq.py OUT_PREFIX  (OUT_PREFIX.json; OUT_PREFIX.f32 holds each case's
weights then Hessian, little-endian float32)
"""
import json
import sys

import torch

import records_gptq as rg

CASES = [  # name, rows, cols, bits, clip_sigmas: one block of columns, and two
    ("attn_int6", 24, 40, 6, 12.85),
    ("embed_int7", 48, 96, 7, 14.0),
    ("mlp_two_blocks", 16, 160, 6, 11.5),
]
RANK, GROUP, FACTOR_BITS = 4, 64, 4


def f16_bits(t):
    return [int(x) & 0xFFFF for x in t.view(torch.int16).reshape(-1).tolist()]


def flat(t):
    return [float(x) for x in t.reshape(-1).tolist()]


def main():
    gen = torch.Generator().manual_seed(41)
    out = {"generator": "tests/golden/make_records_gptq.py (torch %s)" % torch.__version__,
           "lqer": {"rank": RANK, "group": GROUP, "factor_bits": FACTOR_BITS}, "cases": []}
    blob = b""
    for name, rows, cols, bits, cs in CASES:
        w = torch.randn(rows, cols, generator=gen) * 0.02
        w[0, 3] = 0.3  # an outlier the SD clip cuts
        x = torch.randn(4 * cols, cols, generator=gen) * torch.linspace(0.2, 2.0, cols)
        x[:, 7] = 0  # a dead input
        H = x.T @ x
        q, s = rg.gptq(w, H, cs, bits)
        E = w - rg.dequantize(q, s)
        A, B = rg.low_rank(E, RANK)
        case = {"name": name, "rows": rows, "cols": cols, "bits": bits, "clip_sigmas": cs,
                "q": q.reshape(-1).tolist(), "scale": f16_bits(s),
                "A": flat(A), "B": flat(B)}
        if B.numel() % GROUP == 0:
            qA, sA, qB, sB = rg.pack_asym(A, B, GROUP)
            case["packing"] = "asym"
        else:
            qA, sA, qB, sB = rg.pack_sym(A, B, FACTOR_BITS)
            case["packing"] = "sym"
        case.update({"qA": qA.reshape(-1).tolist(), "sA": f16_bits(sA.reshape(-1)),
                     "qB": qB.reshape(-1).tolist(), "sB": f16_bits(sB)})
        out["cases"].append(case)
        blob += w.numpy().astype("<f4").tobytes() + H.numpy().astype("<f4").tobytes()
        err = (w - rg.dequantize(q, s)).norm() / w.norm()
        print(f"{name}: relative error {err:.4f}, {case['packing']} LQER")
    with open(sys.argv[1] + ".json", "w") as f:
        json.dump(out, f)
        f.write("\n")
    with open(sys.argv[1] + ".f32", "wb") as f:
        f.write(blob)


if __name__ == "__main__":
    main()
