"""The reference's int8 per-row export on hand-made rows, computed with torch exactly as
train_gpt.py does (torch.quantile clip at 99.99984%, scale = clip/127 clamped to 1/127,
round half to even, fp16 scales). Writes tests/golden/int8_rows.json."""
import json
import sys

import torch


def main():
    out = sys.argv[1]
    g = torch.Generator().manual_seed(0)
    rows = [
        [0.0] * 16,                                        # all zero: scale 1/127, q = 0
        [float(i) for i in range(1, 17)],                  # ramp
        [0.01] * 15 + [100.0],                             # one outlier
        [-3.5, 2.25, 0.0, 1e-3, -1e-3, 7.75, -7.75, 0.5],  # ties and signs
        (torch.randn(300, generator=g) * 0.02).tolist(),  # a typical weight row
        [1e-6, -2e-6, 3e-6, 0.0],                          # tiny values: clamp to 1/127
    ]
    cases = []
    for r in rows:
        t = torch.tensor([r], dtype=torch.float32)
        clip = torch.quantile(t.abs(), 99.99984 / 100.0, dim=1)
        clipped = torch.maximum(torch.minimum(t, clip[:, None]), -clip[:, None])
        scale = (clip / 127.0).clamp_min(1.0 / 127.0)
        q = torch.clamp(torch.round(clipped / scale[:, None]), -127, 127).to(torch.int8)
        s16 = scale.to(torch.float16)
        cases.append({"row": [float(x) for x in t[0].tolist()], "q": q[0].tolist(),
                      "scale_f16_bits": int(s16.view(torch.int16).item()) & 0xFFFF,
                      "clip": float(clip.item())})
    with open(out, "w") as f:
        json.dump({"generator": "tests/golden/make_quant.py (torch %s)" % torch.__version__,
                   "cases": cases}, f)
        f.write("\n")
    print(f"{out}: {len(cases)} rows")


if __name__ == "__main__":
    main()
