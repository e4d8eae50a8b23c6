"""ModelMetas: OpenAI's embedding models, and any service listed in the models file.

OpenAI's models keep the names, revisions and metadata mteb gives them
(`mteb_compat.known_meta`); only the loader is ours. The name
identifies the model, not the client: results stay comparable with every published
MTEB result for these models, and `mteb run -m openai/text-embedding-3-small` gains the
retries and the per-request cache without needing the `openai` and `tiktoken` packages.
(Load only other plugins with XALIGN_PLUGINS to get mteb's own loader back.)
"""

from __future__ import annotations

from typing import Any

from xalign_openai.config import ServiceConfig, configured_services

# mteb's meta object name -> the service settings of our loader.
OPENAI_MODELS: dict[str, dict[str, Any]] = {
    "text_embedding_3_small": dict(model="text-embedding-3-small", embed_dim=1536),
    "text_embedding_3_large": dict(model="text-embedding-3-large", embed_dim=3072),
    "text_embedding_ada_002": dict(model="text-embedding-ada-002", embed_dim=1536),  # takes no "dimensions"
    "text_embedding_3_small_512": dict(model="text-embedding-3-small", dimensions=512, embed_dim=512),
    "text_embedding_3_large_512": dict(model="text-embedding-3-large", dimensions=512, embed_dim=512),
}


def load_encoder(model_name: str, revision: str | None = None, **kwargs: Any):
    """The ModelMeta loader: imports the encoder (and so mteb's model code) only when used."""
    from xalign_openai.encoder import OpenAIEncoder

    return OpenAIEncoder(model_name, revision, **kwargs)


def openai_metas() -> list:
    from mteb_xalign.mteb_compat import known_meta

    metas = []
    for service in OPENAI_MODELS.values():
        # mteb's names: "openai/<model>", with " (embed_dim=N)" for a shortened variant
        suffix = f" (embed_dim={service['dimensions']})" if "dimensions" in service else ""
        original = known_meta(f"openai/{service['model']}{suffix}")
        config = ServiceConfig(max_tokens=8191, tokenizer="cl100k_base", **service)
        metas.append(original.model_copy(update={
            "loader": load_encoder,
            "loader_kwargs": {**config.to_kwargs(), "env_base_url": True},
            "extra_requirements_groups": None,  # no openai/tiktoken packages needed
        }))
    return metas


def configured_metas() -> list:
    """Metas for the `adapter = "openai"` entries of the models files (XALIGN_MODELS_FILE).

    An entry named like a model mteb already knows (say openai/text-embedding-3-small
    behind an Azure or proxy URL) keeps mteb's metadata for every field it does not state.
    """
    from mteb.models.model_meta import ModelMeta

    from mteb_xalign.mteb_compat import known_meta

    metas = []
    for info, service in configured_services().values():
        stated = {k: getattr(info, k) for k in info.stated if k != "name"}
        loader = {"loader": load_encoder, "loader_kwargs": service.to_kwargs()}
        known = known_meta(info.name)
        if known is not None:
            metas.append(known.model_copy(update={
                **stated, **loader, "extra_requirements_groups": None,
                "max_tokens": service.max_tokens or known.max_tokens,
                "embed_dim": service.expected_dim or known.embed_dim,
            }))
            continue
        metas.append(ModelMeta(
            **loader,
            name=info.name,
            revision=info.revision,
            release_date=info.release_date,
            languages=info.languages,
            n_parameters=info.n_parameters,
            memory_usage_mb=None,
            max_tokens=service.max_tokens,
            embed_dim=service.expected_dim,
            license=info.license,
            open_weights=info.open_weights,
            public_training_code=None,
            public_training_data=None,
            framework=["API"],
            reference=info.reference,
            similarity_fn_name=info.similarity_fn_name,
            use_instructions=False,
            training_datasets=None,
        ))
    return metas
