"""`sentence_transformer_meta`: an mteb ModelMeta that runs a model through sentence-transformers,
with what can be read cheaply from local weights (no torch). Used by the plugin's hooks (__init__),
its models-file entries (config.py) and other plugins."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from mteb_xalign import weights


def load_sentence_transformer(model_name: str, revision: str | None = None, **kwargs: Any):
    """mteb loader: builds the encoder (imports torch) only when mteb.get_model is called."""
    from xalign_sentence_transformers.encoder import SentenceTransformerEncoder

    return SentenceTransformerEncoder(model_name, revision=revision, **kwargs)


def sentence_transformer_meta(
    name: str,
    *,
    sources: list[str] | None = None,
    prompts: dict[str, str] | None = None,
    pooling: str | None = None,
    max_seq_length: int | None = None,
    precision: str | None = None,
    trust_remote_code: bool = False,
    allow_download: bool | None = None,
    inherit_mteb_meta: bool = True,
    **meta_fields: Any,
):
    """An mteb.ModelMeta whose loader runs `name` through sentence-transformers.

    `sources` (see mteb_xalign.weights) default to the hub id `name`. Metadata not given
    in `meta_fields` comes from mteb's own ModelMeta of the same name if there is one
    (`inherit_mteb_meta`), else stays unknown (None) except for what can be read cheaply
    from local weights (the embedding dimension).
    """
    from mteb.models import ModelMeta

    base = _mteb_meta(name) if inherit_mteb_meta else None
    sources = list(sources or [f"hf:{name}"])
    if prompts is None and base is not None:
        # mteb's wrappers keep prompts in `model_prompts`; a meta of ours (registered
        # earlier in this process) keeps them in `prompts`.
        inherited = base.loader_kwargs.get("model_prompts") or base.loader_kwargs.get("prompts")
        prompts = dict(inherited) if inherited else None
    loader_kwargs = {"sources": sources}
    for key, value in (("prompts", prompts), ("pooling", pooling), ("max_seq_length", max_seq_length),
                       ("precision", precision), ("allow_download", allow_download)):
        if value is not None:
            loader_kwargs[key] = value
    if trust_remote_code:
        loader_kwargs["trust_remote_code"] = True

    hub_ids = [arg for kind, arg in map(weights.parse_source, sources) if kind == "hf"]
    defaults: dict[str, Any] = {
        "revision": None, "release_date": None, "languages": None, "n_parameters": None,
        "memory_usage_mb": None, "max_tokens": max_seq_length, "embed_dim": _peek_embed_dim(sources),
        "license": None, "open_weights": True, "public_training_code": None,
        "public_training_data": None, "framework": ["Sentence Transformers", "PyTorch"],
        "reference": f"https://huggingface.co/{hub_ids[0]}" if hub_ids else None,
        "similarity_fn_name": "cosine", "use_instructions": bool(prompts and any(prompts.values())),
        "training_datasets": None,
    }
    if base is not None:
        fields = base.model_dump(exclude={"loader", "loader_kwargs", "name"})
        if max_seq_length is not None:
            fields["max_tokens"] = max_seq_length
        if prompts is not None:
            fields["use_instructions"] = defaults["use_instructions"]
    else:
        fields = dict(defaults)
        # The revision keys the embedding cache: for local weights with no stated revision,
        # a fingerprint of the files, so replacing the weights never serves stale vectors.
        fields["revision"] = _local_fingerprint(sources)
        fields["n_parameters"], fields["memory_usage_mb"] = _peek_size(sources)
    fields.update(meta_fields)
    return ModelMeta(loader=load_sentence_transformer, loader_kwargs=loader_kwargs, name=name, **fields)


def _mteb_meta(name: str):
    """mteb's own ModelMeta for `name`, if mteb has one (never fetched from the hub)."""
    import mteb

    try:
        return mteb.get_model_meta(name)
    except KeyError:
        return None


def _local_root(source: str) -> Path | None:
    kind, arg = weights.parse_source(source)
    try:
        if kind == "path":
            return Path(arg).expanduser()
        if kind == "package":
            package, _, relative = arg.partition(":")
            return weights.package_resource(package, relative)
    except (ModuleNotFoundError, FileNotFoundError):
        pass
    return None


def _local_fingerprint(sources: list[str]) -> str | None:
    """'local-<hash>' of file names, sizes and mtimes under the first local source (cheap: stat only)."""
    for source in sources:
        root = _local_root(source)
        if root is None or not root.exists():
            continue
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        digest = hashlib.blake2b(digest_size=6)
        for path in files:
            stat = path.stat()
            digest.update(f"{path.relative_to(root) if path != root else path.name}|{stat.st_size}|"
                          f"{stat.st_mtime_ns}\n".encode())
        return f"local-{digest.hexdigest()}"
    return None


def _peek_size(sources: list[str]) -> tuple[int | None, float | None]:
    """(parameters, MB) counted from local safetensors headers (no torch), else unknown."""
    for source in sources:
        root = _local_root(source)
        if root is not None and root.exists():
            counted = weights.count_parameters(root)
            if counted is not None:
                return counted
    return None, None


def _peek_embed_dim(sources: list[str]) -> int | None:
    """The embedding dimension from local files (no torch), or None if not cheaply known."""
    for source in sources:
        root = _local_root(source)
        if root is None or not root.is_dir():
            continue
        for config_name, key in (("1_Pooling/config.json", "word_embedding_dimension"),
                                 ("1_Pooling/config.json", "embedding_dimension"),
                                 ("config.json", "hidden_size")):
            config_path = root / config_name
            if config_path.is_file():
                try:
                    value = json.loads(config_path.read_text(encoding="utf-8")).get(key)
                except (OSError, ValueError):
                    continue
                if isinstance(value, int):
                    return value
    return None
