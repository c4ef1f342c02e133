"""Writes a records folder in the April records' artifact format from a pgolf checkpoint
of their model family, for pgolf's import and verify tests (tests/test_records_artifact.c).

usage: make_records_artifact.py CKPT VAL_SHARD LUT_JSON OUT_DIR SEQ PACK

Written from a reading of the records' serialization and dequantization (openai/
parameter-golf, records/track_10min_16mb/2026-04-27_*/train_gpt.py; no code of theirs):
  final_model.int6.raw  torch.save({"w": tensors, "m": kinds}) byte-shuffled behind a
                        BSHF header; make_golden.sh compresses it with brotli -q 11 into
                        final_model.int6.ptz. Kinds: tok_emb "gptq (int7)" (+lqer_asym),
                        block matrices "gptq (int6)" (two of them +lqer_asym, rank 4,
                        B groups of 64), the attention gates "gate_int8_row", the rest
                        "passthrough (float16)". The integers are rounded per row (the
                        records pick them by GPTQ; any integers in range read the same).
  train_seed7.log       the records' "Hyperparameters:" dump of the run constants, then
                        "diagnostic quantized val_loss:X val_bpb:Y": the document-packed
                        eval (PACK windows of SEQ per packed row, documents cut at BOS and
                        every SEQ tokens) of the dequantized model over VAL_SHARD, float32;
                        then "quantized_ttt_phased val_loss:X val_bpb:Y": the records' TTT
                        (tests/golden/records_ttt.py) with the dump's TTT constants.
  expected.json         the dequantized weights' SHA-256 in pgolf's tensor order, and
                        that evaluation's sums.
  bad_kind.pt           a {"w","m"} file whose one tensor has a meta kind no record writes.
  bad_range.pt          a gate's int8 rows holding -128, outside the records' [-127, 127].
  final_model.pgrp.ptz  the same {"w","m"} in the best record's per-group container: "PGRP",
                        u32 9, nine u32 lengths, then seven groups of int6/int7 matrices
                        (each one lrzip -z -L 9 stream of the layers' matrices, rows of
                        tok_emb, c_q and mlp.fc in a greedy L1 nearest-neighbour order,
                        each matrix transposed), the rest as brotli (-q 11 -w 24) of
                        torch.save({"r", "m", "s": shapes}), and brotli of the orders
                        (uint16). Needs the lrzip and brotli programs.
The dequantization follows the records (q * scale per row; W += (qA sA)(qB sB) with the
rank summed in order; the embedding rounded to bfloat16 last).
"""
import hashlib
import io
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

import torch

from records_model import doc_spans, forward
from records_ttt import evaluate
from reference_model import read_checkpoint, read_shard

MATRICES = ("attn.c_q.weight", "attn.c_k.weight", "attn.c_v.weight", "attn.proj.weight",
            "mlp.fc.weight", "mlp.proj.weight")
LQER_RANK, LQER_GROUP, LQER_TOP = 4, 64, 2


def records_names(w):
    """pgolf's tensors under the records' names and shapes (the lanes' [L][2][2])."""
    out = {}
    for name, t in w.items():
        out[name] = t.reshape(-1, 2, 2) if name == "parallel_post_lambdas" else t
    return out


def quant_rows(t, qmax):
    s = (t.abs().amax(dim=1).clamp_min(1e-10) / qmax).to(torch.float16)
    q = torch.clamp(torch.round(t / s.float()[:, None]), -qmax, qmax).to(torch.int8)
    return q, s


def lqer_asym(err):
    U, S, Vh = torch.linalg.svd(err, full_matrices=False)
    A, B = (U[:, :LQER_RANK] * S[:LQER_RANK]).contiguous(), Vh[:LQER_RANK].contiguous()
    sA = (A.abs().amax().clamp_min(1e-10) / 1.5).to(torch.float16)
    qA = torch.clamp(torch.round(A / sA.float()), -2, 1).to(torch.int8)
    Bg = B.reshape(-1, LQER_GROUP)
    sB = (Bg.abs().amax(dim=1).clamp_min(1e-10) / 7.5).to(torch.float16)
    qB = torch.clamp(torch.round(Bg / sB.float()[:, None]), -8, 7).to(torch.int8).reshape(B.shape)
    return qA, sA, qB, sB


def quantize(sd):
    w, m, errs = {}, {}, {}
    for name, t in sd.items():
        if "attn_gate" in name:
            q, s = quant_rows(t, 127)
            w[name + ".gq"], w[name + ".gs"], m[name] = q, s, "gate_int8_row"
        elif name == "tok_emb.weight" or name.endswith(MATRICES):
            bits = 7 if name == "tok_emb.weight" else 6
            q, s = quant_rows(t, 2 ** (bits - 1) - 1)
            w[name + ".q"], w[name + ".scale"], m[name] = q, s, f"gptq (int{bits})"
            errs[name] = t - q.float() * s.float()[:, None]
        else:
            w[name], m[name] = t.to(torch.float16), "passthrough (float16)"
    top = sorted((n for n in errs if errs[n][0].numel() * LQER_RANK % LQER_GROUP == 0),
                 key=lambda n: -float(errs[n].norm()))[:LQER_TOP]
    for name in top:
        qA, sA, qB, sB = lqer_asym(errs[name])
        w[name + ".lqA_a"], w[name + ".lqAs_a"] = qA, sA
        w[name + ".lqB_a"], w[name + ".lqBs_a"] = qB, sB
        m[name] += "+lqer_asym"
    return w, m


GROUPS = ["_tok_emb.weight.q", "attn.c_k.weight.q", "attn.c_q.weight.q", "attn.c_v.weight.q",
          "attn.proj.weight.q", "mlp.fc.weight.q", "mlp.proj.weight.q"]
SORTED_GROUPS = {"_tok_emb.weight.q", "attn.c_q.weight.q", "mlp.fc.weight.q"}


def l1_order(a):
    """Rows in greedy nearest-neighbour order by L1 distance, from row 0."""
    a = a.float()
    order, left = [0], set(range(1, a.shape[0]))
    while left:
        cur = a[order[-1]]
        nxt = min(left, key=lambda j: (float((a[j] - cur).abs().sum()), j))
        order.append(nxt)
        left.remove(nxt)
    return order


def program(args, data):
    with tempfile.TemporaryDirectory() as d:
        src, dst = os.path.join(d, "in"), os.path.join(d, "out")
        open(src, "wb").write(data)
        subprocess.run(args(src, dst), check=True, capture_output=True)
        return open(dst, "rb").read()


def pergroup(w, m):
    groups, rest = {}, {}
    for name, t in sorted(w.items()):
        parts = name.split(".")
        key = ".".join(parts[2:]) if parts[0] == "blocks" and parts[1].isdigit() else "_" + name
        if t.dtype == torch.int8 and key in GROUPS:
            groups.setdefault(key, []).append((int(parts[1]) if key[0] != "_" else 0, t))
        else:
            rest[name] = t
    streams, orders, shapes = [], b"", {}
    for g in GROUPS:
        if g not in groups:
            streams.append(b"")
            continue
        blob = b""
        shapes[g] = []
        for _, t in sorted(groups[g], key=lambda it: it[0]):
            a = t
            if g in SORTED_GROUPS:
                order = l1_order(a)
                orders += struct.pack(f"<{len(order)}H", *order)
                a = a[order]
            blob += a.t().contiguous().numpy().tobytes()
            shapes[g].append(tuple(t.shape))
        streams.append(program(lambda s, d: ["lrzip", "-q", "-z", "-L", "9", "-o", d, s], blob))
    buf = io.BytesIO()
    torch.save({"r": rest, "m": m, "s": shapes}, buf)
    brotli = lambda s, d: ["brotli", "-q", "11", "-w", "24", "-o", d, s]
    streams.append(program(brotli, buf.getvalue()))
    streams.append(program(brotli, orders) if orders else b"")
    return (b"PGRP" + struct.pack("<I", len(streams)) +
            b"".join(struct.pack("<I", len(s)) for s in streams) + b"".join(streams))


def dequantize(w, m):
    out = {}
    for name, kind in m.items():
        if kind.startswith("passthrough"):
            W = w[name].float()
        elif kind == "gate_int8_row":
            W = w[name + ".gq"].float() * w[name + ".gs"].float()[:, None]
        else:
            W = w[name + ".q"].float() * w[name + ".scale"].float()[:, None]
            if kind.endswith("+lqer_asym"):
                A = w[name + ".lqA_a"].float() * w[name + ".lqAs_a"].float()
                qB = w[name + ".lqB_a"]
                B = (qB.reshape(-1, LQER_GROUP).float() * w[name + ".lqBs_a"].float()[:, None]).reshape(qB.shape)
                ab = A[:, 0:1] * B[0:1]
                for k in range(1, A.shape[1]):  # the rank in order, float32
                    ab = ab + A[:, k:k + 1] * B[k:k + 1]
                W = W + ab
        if name == "tok_emb.weight":
            W = W.to(torch.bfloat16).float()
        out[name] = W
    return out


def documents_eval(w, cfg, tokens, lut, seq, pack):
    """The records' diagnostic eval on one rank: the seq-windows of the stream, pack per
    packed row, the windows past the last whole pack left out (as the records' loop)."""
    total = (len(tokens) - 1) // seq // pack * pack * seq
    loss_sum, nbytes = 0.0, 0
    for start in range(0, total, seq * pack):
        n = seq * pack
        ids = tokens[start:start + n]
        tgt = tokens[start + 1:start + n + 1]
        span = torch.tensor([doc_spans(ids, cfg.get("bos_id", 1), seq)], dtype=torch.int64)
        with torch.no_grad():
            _, losses = forward(w, cfg, torch.tensor([ids]), torch.tensor([tgt]), span)
        loss_sum += float(losses.double().sum())
        for p in range(start, start + n):
            prev, t = tokens[p], tokens[p + 1]
            nbytes += lut["base_bytes"][t] + (1 if lut["has_leading_space"][t] and not lut["is_boundary"][prev] else 0)
    return {"loss_sum": loss_sum, "tokens": total, "bytes": nbytes, "val_loss": loss_sum / total,
            "val_bpb": loss_sum / total / math.log(2.0) * total / nbytes}


# The records' TTT constants as their dump prints them (TTT_LORA_ALPHA and TTT_WARM_START_A
# are not dumped: their code's defaults, 144 and 1, apply).
TTT_DUMP = {"ttt_enabled": "True", "ttt_lora_rank": 4, "ttt_lora_lr": 0.0001, "ttt_chunk_size": 32,
            "ttt_eval_seq_len": 128, "ttt_batch_size": 4, "ttt_grad_steps": 1,
            "ttt_weight_decay": 1.0, "ttt_beta1": 0.0, "ttt_beta2": 0.999, "ttt_k_lora": "True",
            "ttt_mlp_lora": "True", "ttt_o_lora": "True", "ttt_optimizer": "adam",
            "val_doc_fraction": 1.0, "phased_ttt_prefix_docs": 4, "phased_ttt_num_phases": 1,
            "global_ttt_lr": 0.001, "global_ttt_momentum": 0.9, "global_ttt_epochs": 1,
            "global_ttt_chunk_tokens": 1024, "global_ttt_batch_seqs": 2,
            "global_ttt_warmup_start_lr": 0.0, "global_ttt_warmup_chunks": 0,
            "global_ttt_grad_clip": 1.0, "global_ttt_respect_doc_boundaries": "True"}


def ttt_eval(w, cfg, tokens, lut, seq):
    """The records' phased TTT (records_ttt.py) with the dump's constants, one rank."""
    d = TTT_DUMP
    S = {"rank": d["ttt_lora_rank"], "lr": d["ttt_lora_lr"], "chunk": d["ttt_chunk_size"],
         "eval_seq_len": d["ttt_eval_seq_len"], "batch": d["ttt_batch_size"],
         "grad_steps": d["ttt_grad_steps"], "wd": d["ttt_weight_decay"], "beta1": d["ttt_beta1"],
         "beta2": d["ttt_beta2"], "k": 1, "o": 1, "mlp": 1, "alpha": 144.0, "warm": 1, "seed": 0,
         "ranks": 1, "prefix_docs": d["phased_ttt_prefix_docs"],
         "phases": d["phased_ttt_num_phases"], "g_lr": d["global_ttt_lr"],
         "g_momentum": d["global_ttt_momentum"], "g_epochs": d["global_ttt_epochs"],
         "g_chunk": d["global_ttt_chunk_tokens"], "g_batch_seqs": d["global_ttt_batch_seqs"],
         "g_warmup_start_lr": d["global_ttt_warmup_start_lr"],
         "g_warmup_chunks": d["global_ttt_warmup_chunks"], "g_clip": d["global_ttt_grad_clip"],
         "g_doc_masked": 1}
    stream = tokens[:(len(tokens) - 1) // seq * seq + 1]
    nb = lambda prev, t: lut["base_bytes"][t] + (1 if lut["has_leading_space"][t] and not lut["is_boundary"][prev] else 0)
    w = {n: t.clone() for n, t in w.items()}
    _, _, loss, bpb = evaluate(w, cfg, S, stream, nb, seq)
    return loss, bpb


def hyperparameters(cfg, seq, pack):
    """The dump's lines for the constants the artifact does not carry (the records' keys
    and Python spellings)."""
    b = lambda key: "True" if cfg.get(key, 0) else "False"
    rows = [("vocab_size", cfg["vocab_size"]), ("num_layers", cfg["num_layers"]),
            ("model_dim", cfg["model_dim"]), ("num_heads", cfg["num_heads"]),
            ("num_kv_heads", cfg["num_kv_heads"]), ("mlp_mult", float(cfg["mlp_mult"])),
            ("rope_base", float(cfg["rope_base"])), ("rope_dims", cfg.get("rope_dims", 0)),
            ("rope_yarn", "False"), ("ln_scale", b("ln_scale")),
            ("logit_softcap", float(cfg["logit_softcap"])), ("qk_gain_init", float(cfg["qk_gain_init"])),
            ("xsa_last_n", cfg.get("xsa_last_n", 0)), ("num_loops", cfg.get("num_loops", 0)),
            ("loop_start", cfg.get("loop_start", 0)), ("loop_end", cfg.get("loop_end", 0)),
            ("parallel_start_layer", cfg.get("parallel_start_layer", 0)),
            ("parallel_final_lane", cfg.get("parallel_final_lane", "mean")),
            ("skip_gates_enabled", b("skip_gates_enabled")), ("gate_window", cfg.get("gate_window", 12)),
            ("sparse_attn_gate_enabled", b("sparse_attn_gate_enabled")),
            ("sparse_attn_gate_scale", float(cfg.get("sparse_attn_gate_scale", 1.0))),
            ("smear_gate_enabled", b("smear_gate_enabled")), ("tie_embeddings", "True"),
            ("train_seq_len", cfg["seq_len"]), ("eval_seq_len", seq),
            ("val_batch_tokens", seq * pack), ("world_size", 1), ("grad_accum_steps", 1),
            ("seed", 7)] + list(TTT_DUMP.items())
    return "Hyperparameters:\n" + "".join(f"  {k}: {v}\n" for k, v in sorted(rows))


def main():
    ckpt, shard, lut_path, out, seq, pack = sys.argv[1:7]
    seq, pack = int(seq), int(pack)
    cfg, w, _ = read_checkpoint(ckpt)
    order = list(w)
    w_rec, m_rec = quantize(records_names(w))
    buf = io.BytesIO()
    torch.save({"w": w_rec, "m": m_rec}, buf)
    data = buf.getvalue()
    os.makedirs(out, exist_ok=True)
    open(f"{out}/final_model.int6.raw", "wb").write(
        b"BSHF" + bytes([2]) + b"".join(data[k::2] for k in range(2)))
    open(f"{out}/final_model.pgrp.ptz", "wb").write(pergroup(w_rec, m_rec))
    deq = dequantize(w_rec, m_rec)
    deq = {n: (t.reshape(-1, 4) if n == "parallel_post_lambdas" else t) for n, t in deq.items()}
    sha = hashlib.sha256(b"".join(deq[n].contiguous().numpy().astype("<f4").tobytes()
                                  for n in order)).hexdigest()
    lut = json.load(open(lut_path))
    ev = documents_eval(deq, cfg, read_shard(shard), lut, seq, pack)
    tl, tb = ttt_eval(deq, cfg, read_shard(shard), lut, seq)
    with open(f"{out}/train_seed7.log", "w") as f:
        f.write(hyperparameters(cfg, seq, pack))
        f.write("diagnostic quantized val_loss:%.8f val_bpb:%.8f eval_time:1000ms\n"
                % (ev["val_loss"], ev["val_bpb"]))
        f.write("quantized_ttt_phased val_loss:%.8f val_bpb:%.8f eval_time:2000ms\n" % (tl, tb))
    bad = io.BytesIO()
    torch.save({"w": {"tok_emb.weight.q": torch.zeros(4, 2, dtype=torch.int8),
                      "tok_emb.weight.scale": torch.ones(4, dtype=torch.float16)},
                "m": {"tok_emb.weight": "gptq (int6)+awq"}}, bad)
    open(f"{out}/bad_kind.pt", "wb").write(bad.getvalue())
    bad = io.BytesIO()
    gq = torch.zeros(2, 4, dtype=torch.int8)
    gq[1, 2] = -128
    torch.save({"w": {"blocks.0.attn.attn_gate_w.gq": gq,
                      "blocks.0.attn.attn_gate_w.gs": torch.ones(2, dtype=torch.float16)},
                "m": {"blocks.0.attn.attn_gate_w": "gate_int8_row"}}, bad)
    open(f"{out}/bad_range.pt", "wb").write(bad.getvalue())
    with open(f"{out}/expected.json", "w") as f:
        json.dump({"generator": "tests/golden/make_records_artifact.py (torch %s)" % torch.__version__,
                   "dequantized_sha256": sha, "kinds": m_rec, "seq": seq, "pack": pack,
                   "ttt_val_loss": tl, "ttt_val_bpb": tb, **ev},
                  f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"{out}: diagnostic val_bpb {ev['val_bpb']:.8f} over {ev['tokens']} tokens, "
          f"phased TTT val_bpb {tb:.8f}")


if __name__ == "__main__":
    main()
