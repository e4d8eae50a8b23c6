"""What a worker process needs to encode as the parent does: a model's identity and one feed.

`model_id` (what identifies a model's vectors: the embedding cache's key, and the check that
a worker loaded the parent's model) and `feed` (texts through mteb's DataLoader into
`model.encode`, as an mteb task feeds them). Both `encoding.embed_texts` (in this process) and
`encode_workers` (in its worker processes) call them, so neither needs the other's module.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import datasets
import numpy as np

from mteb_xalign.adapter import LANGUAGE_COLUMN, TextEncoder
from mteb_xalign.mteb_compat import make_loader


def model_id(model: Any) -> str:
    """What identifies a model's embeddings: name, revision and any experiment settings.

    A model whose vectors are determined by something other than its name says so with a
    `vector_identity` string (an aligned map: its artifact's digest, which covers the base model
    and revision): then two names for the same vectors share one set of cache rows.
    """
    meta = getattr(model, "mteb_model_meta", None)
    if meta is None:
        return f"{type(model).__module__}.{type(model).__qualname__}"
    identity = getattr(model, "vector_identity", None)
    parts = {
        "name": identity if isinstance(identity, str) else meta.name,
        "revision": meta.revision,
        "experiment": dict(meta.experiment_kwargs or {}),
        "embed_dim": meta.embed_dim,
    }
    return json.dumps(parts, sort_keys=True, default=str)


def model_name(model: Any) -> str:
    meta = getattr(model, "mteb_model_meta", None)
    return meta.name if meta is not None else f"{type(model).__module__}.{type(model).__qualname__}"


def feed(
    model: Any,
    texts: Sequence[str],
    *,
    task_metadata: Any,
    prompt_type: Any,
    batch_size: int = 32,
    languages: Sequence[str] | None = None,
    hf_split: str = "test",
    hf_subset: str = "default",
    on_batch: Callable[[int], None] | None = None,
    **encode_kwargs: Any,
) -> np.ndarray:
    """Texts through mteb's DataLoader into `model.encode`, as an mteb task feeds them.

    `languages` travel as a DataLoader column, to our adapters only (`TextEncoder.embed`
    receives them); a stock mteb model gets exactly the columns mteb's own tasks give it.
    `on_batch(n)` is told each batch of n texts our adapter has finished (progress); a stock
    model gets mteb's DataLoader itself, so it is not told.
    """
    columns = {LANGUAGE_COLUMN: list(languages)} if languages is not None and isinstance(model, TextEncoder) else None
    shown = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()  # mteb's per-call "Standardizing..." bars: ours count texts
    try:
        loader = make_loader(list(texts), task_metadata=task_metadata, prompt_type=prompt_type,
                             batch_size=batch_size, columns=columns)
    finally:
        if shown:
            datasets.enable_progress_bars()
    if on_batch is not None and isinstance(model, TextEncoder) and not model.plans_own_batches:
        loader = _Reporting(loader, on_batch)
    vectors = model.encode(loader, task_metadata=task_metadata, hf_split=hf_split, hf_subset=hf_subset,
                           prompt_type=prompt_type, batch_size=batch_size, **encode_kwargs)
    return _to_numpy(vectors)


class _Reporting:
    """A DataLoader that reports each batch once the adapter asks for the next (it is then done)."""

    def __init__(self, loader: Any, on_batch: Callable[[int], None]):
        self.loader, self.on_batch = loader, on_batch

    def __iter__(self):
        previous = 0
        for batch in self.loader:
            if previous:
                self.on_batch(previous)
            previous = len(batch["text"])
            yield batch
        if previous:
            self.on_batch(previous)


def _to_numpy(vectors: Any) -> np.ndarray:
    """The model's output as numpy, its dtype kept (check-plugin reports it); torch bf16 -> float32."""
    if hasattr(vectors, "detach"):  # torch tensor, possibly bf16 on a GPU
        vectors = vectors.detach().cpu()
        if not vectors.dtype.is_floating_point or vectors.dtype.itemsize < 4:
            vectors = vectors.float()
        return vectors.numpy()
    return np.asarray(vectors)
