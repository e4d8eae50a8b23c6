"""The ModelMeta loader, kept apart from the encoder so registering a model imports no torch."""

from __future__ import annotations

from typing import Any


def load_decoder_embedder(model_name: str, revision: str | None = None, **kwargs: Any):
    """`mteb.get_model(name)` calls this with the meta's loader_kwargs (the LLMSettings)."""
    from xalign_decoder.encoder import LLMEmbedder

    return LLMEmbedder(model_name, revision=revision, **kwargs)
