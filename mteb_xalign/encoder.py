"""Base class for model adapters: implement `embed(texts, prompt_type=...)`, get an mteb encoder.

It takes MTEB's batched DataLoader, hands each batch's texts to `embed`, and returns
L2-normalised float32 rows, which is what every metric here assumes (cosine = dot).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy as np
from mteb.models.abs_encoder import AbsEncoder
from mteb.types import PromptType


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    # A zero vector stays zero (its cosine with anything is 0) rather than becoming NaN.
    return vectors / np.where(norms == 0, 1, norms)


class TextEncoder(AbsEncoder):
    """Subclass, set `self.model`, implement `embed`. `prompt_type` is query, document or None."""

    def __init__(self, model_name: str, revision: str | None = None, device: str | None = None, **kwargs: Any):
        self.model_name = model_name
        self.revision = revision
        self.device = device

    @abstractmethod
    def embed(self, texts: list[str], *, prompt_type: PromptType | None) -> np.ndarray:
        """Embeddings for one batch of texts, shape (len(texts), dim)."""

    def cache_context(self, task_metadata: Any, prompt_type: PromptType | None) -> str:
        """What besides role and text changes an embedding; "" = nothing (override for instructions)."""
        return ""

    def encode(
        self,
        inputs: Any,
        *,
        task_metadata: Any,
        hf_split: str,
        hf_subset: str,
        prompt_type: PromptType | None = None,
        **kwargs: Any,
    ) -> np.ndarray:
        chunks = [self.embed(list(batch["text"]), prompt_type=prompt_type) for batch in inputs]
        if not chunks:
            return np.zeros((0, 0), dtype=np.float32)
        return l2_normalise(np.concatenate([np.asarray(c, dtype=np.float32) for c in chunks]))
