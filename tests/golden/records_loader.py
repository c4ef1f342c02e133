"""Independent reference of the April records' training data order, their document-packing
loader (DESIGN.md section 11), written from a reading of DocumentPackingLoader and
_build_cu_seqlens in openai/parameter-golf's records/track_10min_16mb/2026-04-27_*; no
code of theirs is used.

Shards are read in sorted order from each one's first BOS; a micro-step takes
(local + 1) * world tokens from the cursor when they fit in the shard, else moves to the
next shard's first BOS (wrapping around). Rank r's row is slice r: inputs its first
`local` tokens, targets its last `local`; its attention pieces start at 0, at every BOS of
the inputs and every max_len tokens into a document.
"""


class DocumentPacking:
    def __init__(self, shards, bos):
        self.shards, self.bos = shards, bos
        self.index = 0
        self.cursor = self.first_bos()

    def first_bos(self):
        toks = self.shards[self.index]
        return next((i for i, t in enumerate(toks) if t == self.bos), len(toks))

    def take(self, n):
        while self.cursor + n > len(self.shards[self.index]):
            self.index = (self.index + 1) % len(self.shards)
            self.cursor = self.first_bos()
        out = self.shards[self.index][self.cursor:self.cursor + n]
        self.cursor += n
        return out

    def micro_step(self, local, world):
        """[(inputs, targets)] of each rank."""
        chunk = self.take((local + 1) * world)
        rows = []
        for r in range(world):
            s = chunk[r * (local + 1):(r + 1) * (local + 1)]
            rows.append((s[:-1], s[1:]))
        return rows


def piece_bounds(inputs, bos, max_len):
    """A row's attention pieces as cumulative bounds (their cu_seqlens, unpadded)."""
    starts = [i for i, t in enumerate(inputs) if t == bos]
    if not starts or starts[0] != 0:
        starts = [0] + starts
    bounds = []
    for a, b in zip(starts, starts[1:] + [len(inputs)]):
        bounds.extend(range(a, b, max_len) if max_len > 0 else [a])
    return bounds + [len(inputs)]


def spans(inputs, bos, max_len):
    """Each position's piece start, from piece_bounds (pgolf's span form of a mask)."""
    b = piece_bounds(inputs, bos, max_len)
    out = []
    for a, e in zip(b, b[1:]):
        out.extend([a] * (e - a))
    return out
