#!/bin/sh
# Rebuilds the seed corpora tests/fuzz/corpus/<harness>/ from data/sample and files made
# by pgolf (about a minute: one short `pgolf run`). The seeds are small on purpose (a few
# KB each): a 2-layer model of width 4, a tokenizer cut to 52 pieces, shard excerpts.
#   usage: tests/fuzz/make_corpus.sh PGOLF_BINARY
set -eu
pgolf=$1
cd "$(dirname "$0")/../.."
out=tests/fuzz/corpus
work=$(mktemp -d "${TMPDIR:-/tmp}/pgolf-corpus.XXXXXX")
trap 'rm -rf "$work"' EXIT
rm -rf "$out"
for h in shard tokenizer container checkpoint artifact sealed logparse record manifest leaderboard caseops; do
  mkdir -p "$out/$h"
done

# CaseOps text: capitals of every kind, the operators in the text, Unicode.
printf 'The NASA Launch, iPhone \356\200\201x\n\356\200\202nasa \356\200\204\356\200\201 caf\303\251' \
  >"$out/caseops/mixed.txt"
printf '\356\200\203a\356\200\203b\nALLCAPS Title\n  spaces\tand \360\237\230\200' >"$out/caseops/ops.txt"

# Models: checkpoints and artifacts of a tiny shape, and one of NUM_LAYERS=1.
small="--preset tiny --set VOCAB_SIZE=8 --set MODEL_DIM=4 --set NUM_HEADS=1 --set NUM_KV_HEADS=1 --set MLP_MULT=1"
"$pgolf" init $small --set NUM_LAYERS=2 --init dense --out "$work/l2.ckpt" >/dev/null
"$pgolf" init $small --set NUM_LAYERS=1 --set MLP_ACT=leaky_relu2 --out "$work/l1.ckpt" >/dev/null
"$pgolf" pack "$work/l2.ckpt" --out "$work/int8.art" >/dev/null
"$pgolf" pack "$work/l2.ckpt" --scheme mixed --out "$work/mixed.art" >/dev/null
"$pgolf" pack "$work/l2.ckpt" --group embed=int8_row --group control=fp16 --out "$work/rows.art" >/dev/null

# A pipeline run for a manifest, a records folder and a training log.
"$pgolf" run --preset tiny --seeds 42 --set ITERATIONS=2 --set RUN_TTT=0 \
  --set RUN_SLIDING_STRIDE=0 --sota none --out "$work/run" >/dev/null

python3 - "$work" "$out" <<'EOF'
import hashlib, json, struct, sys

work, out = sys.argv[1], sys.argv[2]

def put(harness, name, data):
    with open(f"{out}/{harness}/{name}", "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())

def read(path):
    with open(path, "rb") as f:
        return f.read()

# Shards: excerpts of the sample with the token count patched, and an empty one.
val = read("data/sample/fineweb_val_000000.bin")
for n in (0, 1, 200):
    put("shard", f"val_{n}.bin", val[:8] + struct.pack("<i", n) + val[12:1024] + val[1024:1024 + 2 * n])

# Tokenizer: the sample model cut to its control, unknown, first byte and some normal
# pieces, without the normalizer's character map.
def fields(buf):
    i = 0
    while i < len(buf):
        start = i
        key, i = varint(buf, i)
        wt = key & 7
        if wt == 0:
            _, i = varint(buf, i)
        elif wt == 1:
            i += 8
        elif wt == 5:
            i += 4
        else:
            n, i = varint(buf, i)
            i += n
        yield key >> 3, buf[start:i]

def varint(buf, i):
    v = shift = 0
    while True:
        b = buf[i]; i += 1
        v |= (b & 0x7f) << shift; shift += 7
        if b < 0x80:
            return v, i

def enc_varint(v):
    o = bytearray()
    while True:
        b = v & 0x7f; v >>= 7
        o.append(b | (0x80 if v else 0))
        if not v:
            return bytes(o)

def body(field):  # the payload of a length-delimited field
    _, i = varint(field, 0)
    _, j = varint(field, i)
    return field[j:]

def ld(num, payload):
    return enc_varint(num << 3 | 2) + enc_varint(len(payload)) + payload

model = read("data/sample/sample_1024_bpe.model")
pieces, rest = [], b""
for num, raw in fields(model):
    if num == 1:
        pieces.append(raw)
    elif num == 3:  # normalizer_spec: drop precompiled_charsmap (field 2)
        rest += ld(3, b"".join(r for n, r in fields(body(raw)) if n != 2))
    else:
        rest += raw
keep = pieces[:8] + pieces[259:303]
put("tokenizer", "sample_cut.model", b"".join(keep) + rest)
put("tokenizer", "pieces_only.model", b"".join(pieces[:4] + pieces[300:310]))

# Containers: magic | u32 version | u32 header_len | header | u64 payload_len | payload | sha256
def split(buf):
    hlen = struct.unpack("<I", buf[12:16])[0]
    return buf[:8], buf[16:16 + hlen], buf[24 + hlen:-32]

def seal(magic, header, payload):
    b = magic + struct.pack("<II", 1, len(header)) + header + struct.pack("<Q", len(payload)) + payload
    return b + hashlib.sha256(b).digest()

for name in ("l2.ckpt", "l1.ckpt"):
    buf = read(f"{work}/{name}")
    put("checkpoint", name, buf)
    put("container", name, buf)
    _, h, p = split(buf)
    put("sealed", name, b"C" + h + b"\0" + p)
# a training checkpoint: the optimizer state after the model's tensors
buf = read(f"{work}/l2.ckpt")
magic, h, p = split(buf)
hdr = json.loads(h)
n = len(p) // 4
for i, nm in enumerate(("optim.adam_m", "optim.adam_v", "optim.muon_buf")):
    hdr["tensors"].append({"name": nm, "shape": [n], "dtype": "f32", "offset": (i + 1) * 4 * n, "nbytes": 4 * n})
h = json.dumps(hdr, separators=(",", ":")).encode()
put("checkpoint", "state.ckpt", seal(magic, h, p * 4))
put("sealed", "state.ckpt", b"C" + h + b"\0" + p * 4)
# Artifacts of fp32 tensors in raw blocks, written here: pgolf pack writes compressed
# blocks only, and cannot pack a NUM_LAYERS=1 model (issue 15, item 1).
def group(name):
    if name == "tok_emb.weight":
        return "embed"
    for g in ("attn", "mlp"):
        if f".{g}." in name and name.endswith(".weight"):
            return g
    return "control"
for name in ("l1.ckpt", "l2.ckpt"):
    _, h, p = split(read(f"{work}/{name}"))
    hdr = json.loads(h)
    raw, tensors = {g: b"" for g in ("embed", "attn", "mlp", "control")}, []
    for t in hdr["tensors"]:
        g = group(t["name"])
        tensors.append({"name": t["name"], "shape": t["shape"], "scheme": "fp32", "group": g,
                        "offset": len(raw[g]), "nbytes": t["nbytes"]})
        raw[g] += p[t["offset"]:t["offset"] + t["nbytes"]]
    blocks, off = [], 0
    for g, b in raw.items():
        blocks.append({"group": g, "codec": "raw", "level": 0, "shuffle": 0, "raw_bytes": len(b),
                       "offset": off, "bytes": len(b)})
        off += len(b)
    art = {"format": "pgolf-artifact", "version": 1, "config": hdr["config"],
           "tensors": tensors, "blocks": blocks}
    a = json.dumps(art, separators=(",", ":")).encode()
    open(f"{work}/raw_{name[:2]}.art", "wb").write(seal(b"PGOLFART", a, b"".join(raw.values())))
for name in ("int8.art", "mixed.art", "rows.art", "raw_l1.art", "raw_l2.art"):
    buf = read(f"{work}/{name}")
    put("artifact", name, buf)
    put("container", name, buf)
    _, h, p = split(buf)
    put("sealed", name, b"A" + h + b"\0" + p)

# Logs: pgolf's, and the shapes of train_gpt.py and of a TTT record.
log = read(f"{work}/run/records/train_seed42.log")
put("logparse", "pgolf_train.log", log)
gpt = """seed:1337
model_params:17059912
step:0/20000 val_loss:6.9357 val_bpb:4.1077 train_time:0ms step_avg:0.02ms
step:1/20000 train_loss:6.9370 train_time:41ms step_avg:41.13ms
step:200/20000 train_loss:2.8760 train_time:8712ms step_avg:43.56ms
step:13780/20000 val_loss:2.0606 val_bpb:1.2172 train_time:600038ms step_avg:43.54ms
stopping_early: wallclock_cap train_time:600038ms step:13780/20000
Serialized model: 67224983 bytes
Code size: 47642 bytes
Serialized model int8+zlib: 15815847 bytes (payload:17178912 raw_torch:17224025 payload_ratio:3.91x)
Total submission size int8+zlib: 15,863,489 bytes
final_int8_zlib_roundtrip val_loss:2.0727 val_bpb:1.2244 eval_time:1401ms
final_int8_zlib_roundtrip_exact val_loss:2.07269931 val_bpb:1.22436570
"""
put("logparse", "train_gpt.log", gpt)
ttt = """  seed: 42
step 9000/9000 train_loss: 1.95 train_time: 590009ms
Total submission size: 15,990,123 bytes
quantized val_loss:1.9001 val_bpb:1.1253 eval_time:95.2s
quantized_ttt val_loss:1.8950 val_bpb:1.1223 eval_time:508.8s
total_eval_time:604.0s
"""
put("logparse", "ttt.log", ttt)

# Records folders: submission.json, then NUL, a log's name, a newline and its text.
sub = read(f"{work}/run/records/submission.json")
put("record", "pgolf_run", sub + b"\0train_seed42.log\n" + log)
challenge = {"author": "Fuzz", "github_id": "fuzz", "name": "Three seeds", "blurb": "x",
             "date": "2026-03-18T14:56:29Z", "track": "10min_16mb", "val_loss": 1.9,
             "val_bpb": 1.125, "val_bpb_std": 0.002, "bytes_total": 15990123,
             "bytes_code": 47642, "seeds": [42, 1337, 2025],
             "seed_results": {str(s): {"val_loss": 1.9, "val_bpb": 1.125, "artifact_bytes": 15990123,
                                       "steps": 9000, "eval_time_s": 508.8} for s in (42, 1337, 2025)}}
logs = b"".join(b"\0train_seed%d.log\n" % s + ttt.replace("seed: 42", f"seed: {s}").encode()
                for s in (42, 1337, 2025))
put("record", "three_seeds", json.dumps(challenge, indent=1).encode() + logs)
put("record", "claims_only", json.dumps(challenge).encode())
put("record", "gpt_log", json.dumps({"val_bpb": 1.2244, "val_loss": 2.0727}).encode() + b"\0train.log\n" + gpt.encode())

# Manifest: the run's, cut to three stages of a few files and without reals, its digest
# recomputed here with the canonical text of docs/manifest.md.
m = json.loads(read(f"{work}/run/manifest.json"))
m["settings"] = dict(list(m["settings"].items())[:4])
m["versions"] = {"pgolf": m["versions"]["pgolf"]}
m["host"] = {"name": "fuzz", "os": "Linux", "arch": "x86_64", "cpus": 2}
m["stages"] = m["stages"][:3]
for s in m["stages"]:
    s["versions"] = m["versions"]
    s["inputs"] = s["inputs"][:3]
    s["wall_s"] = 1
    s["started"] = s["ended"] = m["created"]
m.pop("digest")
canon = json.dumps(m, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
m["digest"] = hashlib.sha256(canon).hexdigest()
put("manifest", "cut.json", json.dumps(m, indent=1).encode())

# Leaderboard: a README with the challenge's two tables (record track, non-record).
row = "| {} | {} | {} | x | {} | [info](records/{}/README.md) |\n"
head = "| Run | Score | Author | Summary | Date | Info |\n|-----|------:|--------|---------|------|------|\n"
put("leaderboard", "readme.md",
    "# A challenge\n\nSome text before the tables.\n\n## Leaderboard\n\n" + head +
    "".join(row.format(*r) for r in [("Deeper model", "1.0811", "a", "2026-04-09", "a"),
                                     ("Wider model", "1.0902", "b", "2026-04-01", "b"),
                                     ("Naive", "1.2244", "c", "2026-03-18", "c")]) +
    "\n#### Unlimited Compute Leaderboard & Non-record Submissions\n\n" + head +
    row.format("Four hours", "1.2074", "d", "2026-03-18", "d"))
EOF
du -sh "$out"

# PyTorch files (pickle, torchfile): pgolf's export of a tiny model (zlib), the zip inside
# it, the zip behind xz and behind a BSHF shuffle, and its data.pkl alone.
mkdir -p "$out/pickle" "$out/torchfile"
"$pgolf" init $small --set NUM_LAYERS=1 --init dense --out "$work/t.ckpt" >/dev/null
"$pgolf" export "$work/t.ckpt" --format int8-ptz --out "$out/torchfile/int8.ptz" >/dev/null
python3 - "$out" <<'PY'
import io, lzma, sys, zipfile, zlib
out = sys.argv[1]
z = zlib.decompress(open(f"{out}/torchfile/int8.ptz", "rb").read())
open(f"{out}/torchfile/int8.zip", "wb").write(z)
open(f"{out}/torchfile/int8.xz", "wb").write(lzma.compress(z))
open(f"{out}/torchfile/int8.bshf", "wb").write(b"BSHF\x02" + z[0::2] + z[1::2])
open(f"{out}/pickle/int8.pkl", "wb").write(zipfile.ZipFile(io.BytesIO(z)).read("archive/data.pkl"))
PY
