"""Turn texts into embeddings through MTEB's batched encoding, each unique text once.

Every task calls `embed_texts`; it looks the texts up in the embedding cache and sends
only the missing ones to the model, through the same `create_dataloader` that mteb's own
tasks use, so a model sees exactly what it would see under plain mteb.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from mteb_xalign.cache import EmbeddingCache, make_key, shared_cache


def model_id(model: Any) -> str:
    """What identifies a model's embeddings: name, revision and any experiment settings."""
    meta = getattr(model, "mteb_model_meta", None)
    if meta is None:
        return f"{type(model).__module__}.{type(model).__qualname__}"
    parts = {
        "name": meta.name,
        "revision": meta.revision,
        "experiment": dict(meta.experiment_kwargs or {}),
        "embed_dim": meta.embed_dim,
    }
    return json.dumps(parts, sort_keys=True, default=str)


def cache_context(model: Any, task_metadata: Any, prompt_type: Any) -> str:
    """What, besides role and text, changes a model's embedding.

    Our adapters say it themselves (`cache_context`): for most models nothing (the role
    prompt is already in the key), for instruction models the instruction. For any other
    model we cannot know, so embeddings are not shared across tasks.
    """
    method = getattr(model, "cache_context", None)
    if callable(method):
        return method(task_metadata, prompt_type)
    return f"task={task_metadata.name}"


def embed_texts(
    model: Any,
    texts: Sequence[str],
    *,
    prompt_type: Any,
    task_metadata: Any,
    hf_split: str = "test",
    hf_subset: str = "default",
    encode_kwargs: dict[str, Any] | None = None,
    cache: EmbeddingCache | None = None,
) -> np.ndarray:
    """Embeddings (float32, one row per text, in order) for `texts`, encoding each new text once."""
    from datasets import Dataset
    from mteb._create_dataloaders import create_dataloader

    cache = cache if cache is not None else shared_cache()
    encode_kwargs = dict(encode_kwargs or {})
    role = prompt_type.value if prompt_type is not None else "none"
    mid = model_id(model)
    context = cache_context(model, task_metadata, prompt_type)
    if prompt_type is not None and prompt_type.value == "document":
        # mteb's corpus path strips documents before the model sees them (_corpus_to_dict);
        # key on what the model receives, so " x" and "x" are one text, encoded once.
        texts = [text.strip() for text in texts]
    keys = [make_key(mid, role, context, text) for text in texts]
    found = cache.get_many(list(dict.fromkeys(keys)))

    missing: dict[bytes, str] = {}
    for key, text in zip(keys, texts):
        if key not in found and key not in missing:
            missing[key] = text
    if missing:
        # Longest first: batches of similar length pad less (as sentence-transformers does).
        order = sorted(missing, key=lambda k: -len(missing[k]))
        batch_size = int(encode_kwargs.pop("batch_size", 32))
        loader = create_dataloader(
            # mteb's document path wants an "id" column; ids are positions in `order`.
            Dataset.from_dict({"id": [str(i) for i in range(len(order))], "text": [missing[k] for k in order]}),
            task_metadata=task_metadata,
            prompt_type=prompt_type,
            batch_size=batch_size,
        )
        vectors = model.encode(
            loader,
            task_metadata=task_metadata,
            hf_split=hf_split,
            hf_subset=hf_subset,
            prompt_type=prompt_type,
            batch_size=batch_size,
            **encode_kwargs,
        )
        vectors = _to_numpy(vectors)
        if vectors.ndim != 2 or vectors.shape[0] != len(order):
            raise ValueError(
                f"model {mid} returned embeddings of shape {vectors.shape} for {len(order)} texts"
            )
        cache.put_many(zip(order, vectors))
        found.update(zip(order, vectors))
    return np.stack([found[key] for key in keys]).astype(np.float32, copy=False) if keys else np.zeros((0, 0), np.float32)


def _to_numpy(vectors: Any) -> np.ndarray:
    if hasattr(vectors, "detach"):  # torch tensor, possibly bf16 on a GPU
        vectors = vectors.detach().float().cpu().numpy()
    return np.asarray(vectors, dtype=np.float32)
