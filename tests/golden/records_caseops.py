"""Independent reference of the April records' CaseOps transform (lossless_caps_caseops_v1)
and its per-piece original byte counts, written from a reading of their lossless_caps.py
(openai/parameter-golf, records/track_10min_16mb/2026-04-27_*); no code of theirs is used.
Errors raise ValueError."""
TITLE, ALLCAPS, CAPNEXT, ESC = "\ue001", "\ue002", "\ue003", "\ue004"
OPS = {TITLE, ALLCAPS, CAPNEXT, ESC}


def alpha(c):
    return ("a" <= c <= "z") or ("A" <= c <= "Z")


def upper(c):
    return "A" <= c <= "Z"


def encode(text):
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if not alpha(c):
            out += [ESC, c] if c in OPS else [c]
            i += 1
            continue
        j = i
        while j < len(text) and alpha(text[j]):
            j += 1
        w = text[i:j]
        caps = sum(upper(x) for x in w)
        if caps == 0:
            out.append(w)
        elif len(w) >= 2 and caps == len(w):
            out += [ALLCAPS, w.lower()]
        elif upper(w[0]) and caps == 1:
            out += [TITLE, w.lower()]
        else:
            if upper(w[0]):
                out.append(TITLE)
            out.append(w[0].lower())
            for x in w[1:]:
                out += [CAPNEXT, x.lower()] if upper(x) else [x]
        i = j
    return "".join(out)


class State:
    """What the operators seen so far say about the next character."""

    def __init__(self):
        self.escape, self.mode, self.capnext, self.in_word, self.allcaps = False, None, False, False, False

    def feed(self, c):
        """(is text, as a capital) for c; raises on a misplaced operator."""
        if self.escape:
            if self.mode is not None and not alpha(c):
                raise ValueError("escaped character where a word begins")
            self.escape, self.in_word = False, alpha(c)
            if not alpha(c):
                self.allcaps = False
            return True, False
        if c == ESC:
            self.escape = True
            return False, False
        if c in (TITLE, ALLCAPS):
            if self.mode is not None or self.in_word or self.capnext:
                raise ValueError("misplaced word operator")
            self.mode = c
            return False, False
        if c == CAPNEXT:
            if self.capnext:
                raise ValueError("two CAPNEXT")
            self.capnext = True
            return False, False
        if alpha(c):
            if not self.in_word:
                up = self.mode is not None or self.capnext
                self.allcaps, self.in_word = self.mode == ALLCAPS, True
            else:
                if self.mode is not None:
                    raise ValueError("word operator inside a word")
                up = self.allcaps or self.capnext
            self.mode, self.capnext = None, False
            return True, up
        if self.mode is not None or self.capnext:
            raise ValueError("operator not followed by a letter")
        self.in_word = self.allcaps = False
        return True, False

    def finish(self):
        if self.escape or self.mode is not None or self.capnext:
            raise ValueError("dangling operator")


def decode(text):
    st, out = State(), []
    for c in text:
        is_text, up = st.feed(c)
        if is_text:
            out.append(c.upper() if up else c)
    st.finish()
    return "".join(out)


def piece_bytes(surfaces):
    st, counts = State(), []
    for s in surfaces:
        n = 0
        for c in s:
            is_text, _ = st.feed(c)
            if is_text:
                n += len(c.encode("utf-8"))
        counts.append(n)
    st.finish()
    return counts
