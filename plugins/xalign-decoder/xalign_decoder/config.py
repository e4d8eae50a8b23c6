"""LLM embedders declared in a models file: any local folder or hub id, no code needed.

The files every model plugin shares, read by `mteb_xalign.models_file` (which describes
where they are, their format and which entry wins); this plugin takes the entries with
`adapter = "decoder"`:

    [[model]]
    name = "me/qwen3-emb-local"           # what `mteb run -m` and result files call it
    adapter = "decoder"
    path = "/models/Qwen3-Embedding-0.6B"  # and/or hub = "Qwen/Qwen3-Embedding-0.6B",
                                          # sources = ["package:pkg:folder"] (mteb_xalign.weights)
    revision = "b22da49..."               # hub commit, when the weights come from the hub
    instruction_template = "Instruct: {instruction}\\nQuery:{text}"
    eos_token = "<|endoftext|>"
    max_length = 512
    pooling = "last"                      # or "mean"
    instructions = { LAReQA = "Given a question, retrieve the sentence that answers it" }
    languages = ["eng-Latn"]              # optional ModelMeta facts (license, n_parameters ...)

Every setting of `LLMSettings` may be given. A relative `path` is relative to the file.
The ModelMeta revision of a model with local weights is a fingerprint of its settings and
files (names, sizes, modification times), so changed weights or settings never meet
vectors cached from the old ones.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from pathlib import Path
from typing import Any

from mteb_xalign import models_file
from mteb_xalign.errors import DataError
from xalign_decoder.settings import LLMSettings

ADAPTER = "decoder"
#: This adapter's name until the plugin was renamed (it read as Simon Willison's `llm`).
OLD_ADAPTER = "llm"
#: ModelMeta facts an entry may state.
META_KEYS = {"release_date", "languages", "n_parameters", "n_embedding_parameters", "memory_usage_mb",
             "max_tokens", "license", "open_weights", "reference", "adapted_from", "citation",
             "training_datasets", "contacts"}
#: Where the weights are (turned into LLMSettings.sources) and what the entry is.
WEIGHT_KEYS = {"path", "hub", "sources", "revision"}
OTHER_KEYS = {"name", "adapter"}
SETTING_KEYS = LLMSettings.field_names() - {"sources", "model_revision"}
ALL_KEYS = META_KEYS | WEIGHT_KEYS | OTHER_KEYS | SETTING_KEYS


def settings_from_entry(entry: dict[str, Any], *, where: str, base_dir: Path) -> tuple[LLMSettings, dict]:
    """(settings, ModelMeta facts) for one "decoder" entry; errors say which entry and which key."""
    for key in entry:
        if key not in ALL_KEYS:
            close = difflib.get_close_matches(key, ALL_KEYS, n=1)
            raise ValueError(f"{where}: unknown key '{key}'" + (f"; did you mean '{close[0]}'?" if close else ""))
    name = entry.get("name")
    if not isinstance(name, str) or "/" not in name:
        raise ValueError(f"{where}: 'name' must look like 'organisation/model', got {name!r}")
    sources = []
    if entry.get("path"):
        path = Path(str(entry["path"])).expanduser()
        # A relative path means relative to the models file, not to wherever mteb runs.
        path = path if path.is_absolute() else (base_dir / path).resolve()
        if not path.is_dir() and not (entry.get("hub") or entry.get("sources")):
            raise ValueError(f"{where}: model folder {str(path)!r} does not exist")
        sources.append(f"path:{path}")
    extra = entry.get("sources", [])
    if not isinstance(extra, list) or not all(isinstance(x, str) for x in extra):
        raise ValueError(f"{where}: 'sources' must be a list of strings")
    sources += extra
    if entry.get("hub"):
        sources.append(f"hf:{entry['hub']}")
    if not sources:
        raise ValueError(f"{where}: say where the weights are: 'path', 'hub' or 'sources'")
    values = {k: v for k, v in entry.items() if k in SETTING_KEYS}
    try:
        settings = LLMSettings(sources=tuple(sources), model_revision=entry.get("revision"), **values)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from exc
    return settings, {k: v for k, v in entry.items() if k in META_KEYS}


def fingerprint(settings: LLMSettings) -> str:
    """Short hash of what makes the document vectors: settings (not the per-task instructions,
    which change queries only and are keyed by themselves) and the local weight files."""
    from mteb_xalign.weights import parse_source

    h = hashlib.sha256()
    kwargs = settings.as_kwargs()
    kwargs.pop("instructions")
    h.update(json.dumps(kwargs, sort_keys=True).encode())
    for kind, arg in map(parse_source, settings.sources):
        folder = Path(arg).expanduser()
        if kind == "path" and folder.is_dir():
            for file in sorted(p for p in folder.rglob("*") if p.is_file()):
                stat = file.stat()
                h.update(f"{file.relative_to(folder)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return h.hexdigest()[:12]


def hidden_size(settings: LLMSettings) -> int | None:
    """The embedding width from a local config.json (no torch), if there is one to read."""
    from mteb_xalign.weights import parse_source

    for kind, arg in map(parse_source, settings.sources):
        config = Path(arg).expanduser() / "config.json"
        if kind == "path" and config.is_file():
            try:
                value = json.loads(config.read_text(encoding="utf-8")).get("hidden_size")
            except (OSError, ValueError):
                continue
            if isinstance(value, int):
                return value
    return None


def meta_from_entry(entry: dict[str, Any], *, where: str, base_dir: Path = Path(".")):
    from mteb.models.model_meta import ModelMeta

    from xalign_decoder.loader import load_decoder_embedder

    settings, facts = settings_from_entry(entry, where=where, base_dir=base_dir)
    hub_ids = settings.hub_ids
    # A pinned hub commit names the weights; anything else is named by its fingerprint.
    revision = settings.model_revision if hub_ids and settings.model_revision else fingerprint(settings)
    fields: dict[str, Any] = dict(
        release_date=None, languages=None, n_parameters=None, memory_usage_mb=None,
        max_tokens=settings.max_length, license=None, open_weights=True, training_datasets=None,
        reference=f"https://huggingface.co/{hub_ids[0]}" if hub_ids else None,
    )
    fields.update(facts)
    try:
        return ModelMeta(
            loader=load_decoder_embedder,
            loader_kwargs=settings.as_kwargs(),
            name=entry["name"],
            revision=revision,
            embed_dim=settings.embed_dim or hidden_size(settings),
            public_training_code=None,
            public_training_data=None,
            framework=["PyTorch", "Transformers"],
            similarity_fn_name="cosine",
            use_instructions=True,
            **fields,
        )
    except ValueError as exc:  # pydantic: a bad language code, licence, date ...
        raise ValueError(f"{where}: {exc}") from exc


def configured_models() -> list:
    """ModelMetas for the "decoder" entries of every models file (a later file's entry replaces an
    earlier one of the same name). Bad files raise one DataError naming each file and entry."""

    def to_meta(entry: models_file.ModelEntry):
        return meta_from_entry(entry.fields, where=entry.where, base_dir=entry.path.parent)

    def renamed(entry: models_file.ModelEntry):
        raise ValueError(f'{entry.where}: adapter "{OLD_ADAPTER}" is now "{ADAPTER}" (plugin xalign-decoder); '
                         "an embedding model of the `llm` tool needs no entry: with xalign-llm it is llm/MODEL_ID")

    metas, errors = models_file.collect(ADAPTER, to_meta)
    errors += models_file.collect(OLD_ADAPTER, renamed)[1]
    if errors:
        raise DataError("; ".join(str(e) for e in errors))
    return list(metas.values())
