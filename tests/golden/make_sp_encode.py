"""Golden encodings by Python's sentencepiece (the library that made the challenge's shards)
for dataset/sp_encode.c: per model, each text's ids and each id's surface.

usage: make_sp_encode.py OUT.json NAME=MODEL...
"""
import json
import sys

import sentencepiece as spm

TEXTS = [
    "Hello  World, naïve café!", "  leading and trailing  ", "tabs\tand\nnewlines\r\n",
    "ﬁne ﬂour Ｆｕｌｌｗｉｄｔｈ ① ㍻ e\u0301 Å", "emoji 😀🎉 and 中文字符 and עברית",
    "numbers 1234567890 3.14159 -42", "", "   ", "a", "The NASA Launch", "iPhone McDonald's",
    "\ue001the \ue002nasa \ue001launch \ue004\ue001 \ue003x", "x\u200by zero width",
    "control\u0007bell and \u00a0nbsp", "ALL CAPS TEXT WITH SOME Words", "snake_case-and.dots",
    "https://example.com/path?q=1&r=2", "end with space ",
]


def main():
    out = {"generator": "tests/golden/make_sp_encode.py (sentencepiece %s)" % spm.__version__,
           "texts": TEXTS, "models": {}}
    for arg in sys.argv[2:]:
        name, path = arg.split("=", 1)
        sp = spm.SentencePieceProcessor(model_file=path)
        rows = []
        for t in TEXTS:
            pieces = sp.encode_as_immutable_proto(t).pieces
            rows.append({"ids": [p.id for p in pieces], "surfaces": [p.surface for p in pieces]})
        out["models"][name] = rows
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
