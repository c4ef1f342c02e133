"""Writes the expected BPB byte table of a SentencePiece model, computed with the
`sentencepiece` Python module (independent of pgolf's protobuf reader).

usage: make_lut.py MODEL OUT.json
"""
import hashlib
import json
import sys

import sentencepiece as spm


def main():
    model, out = sys.argv[1:3]
    sp = spm.SentencePieceProcessor(model_file=model)
    n = sp.vocab_size()
    base, space, boundary = [0] * n, [0] * n, [1] * n
    for i in range(n):
        if sp.is_control(i) or sp.is_unknown(i) or sp.is_unused(i):
            continue
        boundary[i] = 0
        if sp.is_byte(i):
            base[i] = 1
            continue
        piece = sp.id_to_piece(i)
        if piece.startswith("\u2581"):
            space[i] = 1
            piece = piece[1:]
        base[i] = len(piece.encode("utf-8"))
    model_sha = hashlib.sha256(open(model, "rb").read()).hexdigest()
    with open(out, "w") as f:
        json.dump({"model_sha256": model_sha, "vocab_size": n, "base_bytes": base,
                   "has_leading_space": space, "is_boundary": boundary}, f)
        f.write("\n")
    print(f"{out}: {n} ids, {sum(base)} base bytes, {sum(space)} leading-space pieces")


if __name__ == "__main__":
    main()
