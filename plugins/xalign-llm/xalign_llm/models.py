"""ModelMetas for llm's embedding models: only what llm tells, the rest said to be unknown.

llm's EmbeddingModel has a `model_id`, a `batch_size`, whether it takes text, and (some of
them) `dimensions`; nothing about languages, size or licence. So `languages` is None
(unknown, not "every language"), and `embed_dim` is the declared `dimensions` or None: the
harness then takes the dimension from the vectors themselves (and refuses a model whose
vectors change dimension). The revision, which keys the embedding cache and names result
folders, is the version of the distribution whose code defines the model class
("llm-sentence-transformers==0.3.2", "llm==0.36" for llm's own OpenAI models), or a digest
of that code's file when it belongs to no installed distribution. Weights a plugin fetches
by name are not fingerprinted: llm does not say which it uses.
"""

from __future__ import annotations

import hashlib
import inspect
from functools import cache
from importlib import metadata
from typing import Any

from xalign_llm.names import PREFIX, REFERENCE, model_id_of, xalign_name

__all__ = ["PREFIX", "REFERENCE", "model_id_of", "xalign_name"]  # re-exported: the names live in names.py


def installed_models() -> dict[str, Any]:
    """model_id -> llm EmbeddingModel, for every text embedding model llm knows, as llm resolves
    them (a later registration of an id wins, as in `llm.get_embedding_model`)."""
    import llm

    models = {}
    for entry in llm.get_embedding_models_with_aliases():
        if getattr(entry.model, "supports_text", True):  # binary-only models (images) have no place here
            models[entry.model.model_id] = entry.model
    return models


@cache
def _distributions() -> dict[str, list[str]]:
    return metadata.packages_distributions()


def code_revision(model: Any) -> str:
    """What identifies the code that computes `model`'s vectors (see the module docstring)."""
    cls = type(model)
    top = cls.__module__.split(".")[0]
    for dist in _distributions().get(top, []):
        try:
            return f"{dist}=={metadata.version(dist)}"
        except metadata.PackageNotFoundError:
            continue
    try:
        source = inspect.getsourcefile(cls)
        with open(source, "rb") as handle:
            return f"source-{hashlib.sha256(handle.read()).hexdigest()[:12]}"
    except (TypeError, OSError):
        return f"unversioned-{cls.__module__}.{cls.__qualname__}"


def declared_dim(model: Any) -> int | None:
    dim = getattr(model, "dimensions", None)
    return dim if isinstance(dim, int) and not isinstance(dim, bool) and dim > 0 else None


def meta_for(model: Any):
    from mteb.models import ModelMeta

    from xalign_llm.encoder import load_llm_model

    return ModelMeta(
        loader=load_llm_model, name=xalign_name(model.model_id), revision=code_revision(model),
        release_date=None, languages=None, n_parameters=None, memory_usage_mb=None, max_tokens=None,
        embed_dim=declared_dim(model), license=None, open_weights=None, public_training_code=None,
        public_training_data=None, framework=[], reference=REFERENCE, similarity_fn_name="cosine",
        use_instructions=False, training_datasets=None,
    )


def llm_metas() -> list:
    return [meta_for(model) for model in installed_models().values()]
