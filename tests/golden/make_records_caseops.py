"""Golden values of CaseOps (tests/golden/records_caseops.py): for each string its
transform, and for random cuts of the transform into pieces (as a tokenizer would cut it)
each piece's original UTF-8 bytes; plus malformed transforms that must be refused.

usage: make_records_caseops.py OUT.json
"""
import json
import random
import sys

import records_caseops as rc

STRINGS = [
    "the quick brown fox", "The NASA Launch", "iPhone and McDonald's HTTPServer",
    "A I a Z zZ Zz ZZ", "OK, 3 x 4 = TWELVE!", "caf\u00e9 \u00c9COLE na\u00efve Stra\u00dfe",
    "emoji \U0001F600 Smile", "ops \ue001\ue002\ue003\ue004 Inside", "sentinel \ue000 Stays",
    "Title\ue001Word", "x\ue004Y", "", "\n\tTabs And\nNewlines", "aBcDeF GhIjKl", "ABCdef",
    "MiXeD123CaSe_snake_CASE", "\u00c0la Mode", "ALLCAPS", "Lone A.",
]
BAD = ["\ue001", "\ue001 x", "a\ue001b", "\ue003\ue003a", "\ue004", "\ue002\ue004\ue001"]


def main():
    rng = random.Random(3)
    cases = []
    for s in STRINGS:
        enc = rc.encode(s)
        assert rc.decode(enc) == s
        cuts = sorted(rng.sample(range(1, len(enc)), min(len(enc) - 1, max(0, len(enc) // 3)))) if len(enc) > 1 else []
        pieces = [enc[a:b] for a, b in zip([0] + cuts, cuts + [len(enc)])] if enc else []
        counts = rc.piece_bytes(pieces)
        assert sum(counts) == len(s.encode("utf-8"))
        cases.append({"text": s, "encoded": enc, "pieces": pieces, "bytes": counts})
    for b in BAD:
        for f in (rc.decode, lambda t: rc.piece_bytes([t])):
            try:
                f(b)
            except ValueError:
                continue
            raise SystemExit(f"{b!r} was accepted")
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        json.dump({"generator": "tests/golden/make_records_caseops.py", "cases": cases,
                   "malformed": BAD}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{sys.argv[1]}: {len(cases)} strings, {len(BAD)} malformed transforms")


if __name__ == "__main__":
    main()
